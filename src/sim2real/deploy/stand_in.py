"""The fault suite's stand-in policy: PD to the default pose, so the suite needs no trained network
(:mod:`sim2real.deploy.faults`).  Numpy only."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim2real.deploy.record import CenteringPD
from sim2real.real.protocol import Reading
from sim2real.robots.spec import RobotSpec

__all__ = ["STAND_IN_TORQUE_STEP", "StandInPolicy"]

STAND_IN_TORQUE_STEP = 0.05
"""The stand-in's largest change of a pd target per tick, as the torque it adds at a fixed reading,
in units of the joint's torque limit (a quarter of the collision observer's default threshold)."""


# --------------------------------------------------------------------------------- stand-in policy


class StandInPolicy:
    """PD to the default pose with :class:`~sim2real.policy.runtime.PolicyRunner`'s interface.

    pd actuators get a target that starts at the first reading's position and moves to the default
    pose by at most :data:`STAND_IN_TORQUE_STEP` x torque limit / kp per tick; torque and dc_motor
    actuators a :class:`~sim2real.deploy.record.CenteringPD` (half the torque limit at 0.3 of the
    half range).  Non-finite input (readings or velocity command) returns the previous command and
    sets ``last_input_finite`` False, as the runner does.

    The slew keeps each tick's torque step small against the collision observer's thresholds
    (0.2 x the torque limit by default): a stiff joint with a small limit (Talos's grippers, 1 N m
    at kp 300: a 3 mm window) commanded straight to a default pose a few mm away was clamped at the
    torque limit tick after tick, and the observer, which sees the torque within a tick as linear,
    read the steps on its light link as a push before any fault.
    """

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        self.control_dt = float(spec.control_dt)
        index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._pd = np.array([a.model == "pd" for a in spec.actuators])
        self._index = index
        self._default = np.asarray(spec.default_pose, dtype=float)[index]
        limits = np.asarray(spec.safety.torque, dtype=float)[index]
        kp = np.array([a.kp if a.model == "pd" and a.kp else 0.0 for a in spec.actuators], dtype=float)
        # [rad] per tick: the target's largest move (inf: no finite limit or no stiffness)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = STAND_IN_TORQUE_STEP * limits / kp
        self._max_step = np.where(self._pd & (kp > 0) & np.isfinite(step), step, np.inf)
        self._target: np.ndarray | None = None
        self._centering = CenteringPD(spec, 0.5 * limits) if not np.all(self._pd) else None
        self._low = np.array([a.command_low for a in spec.actuators])
        self._high = np.array([a.command_high for a in spec.actuators])
        self.command = np.where(self._pd, self._default, 0.0)
        self.last_input_finite = True
        self.invalid_steps = 0

    def reset(self) -> None:
        self.command = np.where(self._pd, self._default, 0.0)
        self._target = None
        self.last_input_finite = True

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        inputs = [reading.q, reading.qd] + (
            [np.asarray(velocity_command)] if velocity_command is not None else []
        )
        if not all(np.all(np.isfinite(x)) for x in inputs):
            self.last_input_finite = False
            self.invalid_steps += 1
            return self.command
        self.last_input_finite = True
        start = np.asarray(reading.q, dtype=float)[self._index] if self._target is None else self._target
        self._target = np.clip(self._default, start - self._max_step, start + self._max_step)
        u = np.where(self._pd, self._target, 0.0)
        if self._centering is not None:
            u = u + self._centering.to_command(self._centering.torque(reading))
        self.command = np.clip(u, self._low, self._high)
        return self.command

    def describe(self) -> dict[str, Any]:
        return {"stand_in": "PD to the default pose"}
