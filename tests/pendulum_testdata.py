"""A noise-free pendulum log with known parameters, shared by the replay (sim) and gap tests: the
model with :data:`TRUE` reproduces it exactly."""

from __future__ import annotations

import numpy as np

from sim2real.robots import RobotSpec
from sim2real.sysid.synthetic import excitation_commands, simulate_log

LOG_TRUE = {
    "body.pole.mass": 0.75,
    "joint.hinge.damping": 0.3,
    "joint.hinge.frictionloss": 0.05,
    "actuator.motor.delay": 0.0069,  # MuJoCo's native delay (the synthetic log) rounds up: 7 steps
}
"""Parameters the log is simulated with."""
TRUE = {**LOG_TRUE, "actuator.motor.delay": 0.007}
"""The log's parameters as the replay states them: its delays are continuous, 7 steps are 7 ms."""


def exact_log(spec: RobotSpec, seconds: float = 4.0, seed: int = 2):
    """A 3 Hz excitation of the pendulum ``spec`` simulated with :data:`LOG_TRUE` (commands zero for
    the first 0.1 s), without noise."""
    t = spec.control_dt * np.arange(int(seconds / spec.control_dt))
    u = excitation_commands(spec, t, 3.0, seed=seed)
    u[t < 0.1] = 0.0
    return simulate_log(spec, LOG_TRUE, u)
