"""The efforts of a ``sensor_msgs/JointState``, as the measured-torque check may take them.

Efforts are optional: an empty ``effort`` array gives ``Reading.tau = None`` (said once: the
measured-torque check is then off), and so does one that is NaN at actuated joints that have
never given a finite effort (what ros2_control's joint_state_broadcaster publishes for joints
without an effort interface), until every actuated joint has given one.  Once a joint has given
a finite effort, its NaN, a message without efforts or one with an array of another length than
the names is a sensor fault, passed on as NaN for the safety monitor to stop on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim2real.robots.spec import RobotSpec

__all__ = ["EffortReader"]


class EffortReader:
    """The spec joints' efforts of a robot's JointState messages, message after message."""

    def __init__(self, spec: RobotSpec, warn_once: Callable[[str, str], None]) -> None:
        self.spec = spec
        self._warn_once = warn_once
        self._effort_seen = np.zeros(spec.n_joints, dtype=bool)  # joints that gave a finite effort
        self._passive = np.array(
            [j not in spec.actuated_joints for j in spec.joints]
        )  # no torque limit to check

    def read(self, effort: Any, index: np.ndarray, n_names: int) -> np.ndarray | None:
        """The spec joints' efforts of a JointState (module docstring), or None: not measured.

        Once a joint has given a finite effort, its NaN (or a message without efforts, or with an
        array of another length) is a fault passed on as NaN for the monitor to stop on: the torque
        check must not go quiet when a driver stops sending them.  An unactuated joint that never
        gave one reads 0 (a passive pendulum has no effort interface and no torque limit).
        """
        if len(effort) == n_names:
            tau = np.frombuffer(effort, dtype=np.float64)[index]
        else:
            if len(effort):
                self._warn_once(
                    "effort length",
                    f"JointState has {n_names} names and {len(effort)} efforts: efforts not read",
                )
            if not self._effort_seen.any():
                self._warn_once(
                    "no effort",
                    "JointState carries no efforts: the measured-torque check is off (commands are still "
                    "limited to the torque limits through the spec's gains)",
                )
                return None
            tau = np.full(self.spec.n_joints, np.nan)  # measured before: their absence is a fault
        finite = np.isfinite(tau)
        fault = self._effort_seen & ~finite
        self._effort_seen |= finite
        tau = np.where(self._passive & ~self._effort_seen, 0.0, tau)
        if fault.any() or (self._effort_seen | self._passive).all():
            return tau
        never = [self.spec.joints[i] for i in np.flatnonzero(~(self._effort_seen | self._passive))]
        self._warn_once(
            "effort",
            f"JointState effort is NaN at {', '.join(never[:4])}{' ...' if len(never) > 4 else ''}: "
            "efforts taken as not measured until every actuated joint has given one",
        )
        return None
