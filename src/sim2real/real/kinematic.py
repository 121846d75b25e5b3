"""KinematicRobot: a Robot without physics, for benchmarks of the ROS 2 plumbing."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sim2real.real.protocol import Command, Reading
from sim2real.robots.spec import RobotSpec

__all__ = ["KinematicRobot"]


class KinematicRobot:
    """A Robot without physics, for benchmarks of the ROS 2 plumbing.

    pd joints are at their last targets at once; other joints stay where they are.  The base is
    upright at rest at the middle of the spec's base height range; the IMU has no accelerometer (a
    body held at rest with no torques is no physics: the collision observer would see the force
    that holds it, so it solves for the base's acceleration instead).
    """

    def __init__(self, spec: RobotSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._loop_clock = clock
        self._q = np.asarray(spec.default_pose, dtype=float).copy()
        self._index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._pd = np.array([a.model == "pd" for a in spec.actuators])
        self.safe = False
        lim = spec.safety
        self._height = (
            0.5 * (lim.base_height_low + lim.base_height_high)
            if lim.base_height_low is not None and lim.base_height_high is not None
            else None
        )

    def read(self) -> Reading:
        imu = self.spec.imu is not None
        return Reading(
            t=self._loop_clock(),
            q=self._q,
            qd=np.zeros_like(self._q),
            tau=np.zeros_like(self._q),
            gyro=np.zeros(3) if imu else None,
            accel=None,
            quat=np.array([1.0, 0.0, 0.0, 0.0]) if imu else None,
            base_height=self._height if self.spec.floating_base else None,
        )

    def write(self, command: Command) -> None:
        if command.mode == "safe":
            self.stop()
            return
        self.safe = False
        values = np.asarray(command.values, dtype=float)
        self._q[self._index[self._pd]] = values[self._pd]

    def stop(self) -> None:
        self.safe = True

    def close(self) -> None:
        self.stop()
