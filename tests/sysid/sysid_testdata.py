"""Synthetic identification logs shared by the sysid tests (cached per session; imported by name,
not through conftest, so that other test folders' conftest modules cannot shadow it)."""

from __future__ import annotations

from functools import cache

import numpy as np

from sim2real.robots import load_robot
from sim2real.sysid.synthetic import excitation_commands, simulate_log

PENDULUM_TRUE = {
    "body.pole.mass": 0.75,  # nominal 0.6755
    "joint.hinge.damping": 0.3,  # nominal 0.35
    "joint.hinge.frictionloss": 0.2,  # nominal 0
    "joint.hinge.armature": 0.02,  # nominal 0
    "actuator.motor.delay": 0.0075,  # nominal 0; MuJoCo rounds it up to 8 physics steps
}
FURUTA_TRUE = {
    "body.pendulum.mass": 0.027,  # nominal 0.024
    "joint.arm.damping": 8.0e-4,  # nominal 5e-4
    "joint.pendulum.damping": 2.0e-5,  # nominal 1e-5
    "motor.motor.resistance": 9.3,  # nominal 8.4
    "actuator.motor.delay": 0.0035,  # nominal 0; 4 physics steps
}
NOISE = {"position_noise": 5e-4, "velocity_noise": 0.01}
"""Encoder noise of the twin (TwinEffects defaults): 0.5 mrad, 0.01 rad/s."""


@cache
def _log(robot: str, true: tuple, seconds: float, seed: int, noisy: bool):
    spec = load_robot(robot)
    t = spec.control_dt * np.arange(round(seconds / spec.control_dt))
    u = excitation_commands(spec, t, 3.0, seed=seed)
    u[t < 0.1] = 0.0  # at rest before the excitation
    start = [0.0, np.pi] if robot == "furuta" else None  # the furuta hangs
    return simulate_log(spec, dict(true), u, seed=seed + 100, initial_qpos=start, **(NOISE if noisy else {}))


def synthetic_log(robot: str, true: dict, seconds: float = 10.0, seed: int = 1, noisy: bool = True):
    """A chirp + PRBS run of the robot with parameters ``true``, read by noisy encoders."""
    return _log(robot, tuple(sorted(true.items())), seconds, seed, noisy)
