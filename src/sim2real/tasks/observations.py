"""Observation terms: pure functions of what the robot's sensors report, batched.

Training builds observations from simulated sensor readings and deployment builds them from a
robot's readings with these same functions (``build_observation``), so the two can never drift
apart.  Every term takes an :class:`ObsInputs` and returns shape (N, size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.robots.spec import OBSERVATION_SIZES, ObservationTerm


@dataclass(frozen=True, eq=False)
class ObsInputs:
    """What observation terms may read.  Batched over N robots; absent sensors are None."""

    joint_pos: np.ndarray
    """Measured joint positions, shape (N, n_joints) [rad]."""
    joint_vel: np.ndarray
    """Measured joint velocities, shape (N, n_joints) [rad/s]."""
    default_pose: np.ndarray
    """Default joint positions, shape (n_joints,) [rad]."""
    last_action: np.ndarray
    """Previous (filtered) policy action, shape (N, n_actions), in [-1, 1]."""
    base_ang_vel: np.ndarray | None = None
    """Gyro reading in the base frame, shape (N, 3) [rad/s]."""
    base_quat: np.ndarray | None = None
    """Base orientation (w, x, y, z), shape (N, 4)."""
    velocity_command: np.ndarray | None = None
    """Commanded base velocity (vx [m/s], vy [m/s], yaw rate [rad/s]), shape (N, 3)."""


def _need(value: np.ndarray | None, what: str) -> np.ndarray:
    if value is None:
        raise Sim2RealError(f"observation term needs {what}, which this robot does not provide")
    return value


def joint_pos(inp: ObsInputs) -> np.ndarray:
    """Joint positions [rad], (N, n)."""
    return inp.joint_pos


def joint_pos_rel(inp: ObsInputs) -> np.ndarray:
    """Joint positions relative to the default pose [rad], (N, n)."""
    return inp.joint_pos - inp.default_pose


def joint_pos_sincos(inp: ObsInputs) -> np.ndarray:
    """sin and cos of each joint angle, (N, 2n): [sin q_0, cos q_0, sin q_1, cos q_1, ...]."""
    q = inp.joint_pos
    out = np.empty((q.shape[0], 2 * q.shape[1]))
    out[:, 0::2] = np.sin(q)
    out[:, 1::2] = np.cos(q)
    return out


def joint_vel(inp: ObsInputs) -> np.ndarray:
    """Joint velocities [rad/s], (N, n)."""
    return inp.joint_vel


def last_action(inp: ObsInputs) -> np.ndarray:
    """Previous policy action, (N, n_actions)."""
    return inp.last_action


def base_ang_vel(inp: ObsInputs) -> np.ndarray:
    """Base angular velocity from the gyro [rad/s], (N, 3)."""
    return _need(inp.base_ang_vel, "an IMU gyro")


def quat_rotate_inverse(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate world vectors into the body frame: R(q)^T v.  quat (N, 4) w-first, vec (N, 3) or (3,)."""
    w = quat[:, 0:1]
    xyz = quat[:, 1:4]
    vec = np.broadcast_to(vec, xyz.shape)
    t = 2.0 * np.cross(xyz, vec)
    return vec - w * t + np.cross(xyz, t)


def projected_gravity(inp: ObsInputs) -> np.ndarray:
    """Unit gravity direction in the base frame, (N, 3); (0, 0, -1) when upright."""
    quat = _need(inp.base_quat, "a base orientation (IMU)")
    return quat_rotate_inverse(quat, np.array([0.0, 0.0, -1.0]))


def velocity_command(inp: ObsInputs) -> np.ndarray:
    """Commanded base velocity (vx, vy, yaw rate), (N, 3)."""
    return _need(inp.velocity_command, "a velocity command")


OBSERVATION_TERMS: dict[str, Callable[[ObsInputs], np.ndarray]] = {
    "joint_pos": joint_pos,
    "joint_pos_rel": joint_pos_rel,
    "joint_pos_sincos": joint_pos_sincos,
    "joint_vel": joint_vel,
    "last_action": last_action,
    "base_ang_vel": base_ang_vel,
    "projected_gravity": projected_gravity,
    "velocity_command": velocity_command,
}
"""Every observation term by the name used in robot specs and policy metadata (their sizes on a
robot: :data:`sim2real.robots.spec.OBSERVATION_SIZES`, checked when a spec loads)."""

if set(OBSERVATION_TERMS) != set(OBSERVATION_SIZES):  # a term added in one place only
    raise ImportError(
        "observation terms and their sizes disagree: "
        f"{sorted(set(OBSERVATION_TERMS) ^ set(OBSERVATION_SIZES))} (sim2real.robots.spec.OBSERVATION_SIZES)"
    )


def check_layout(layout: Sequence[ObservationTerm]) -> None:
    """Raise when a layout names a term that does not exist."""
    for term in layout:
        if term.name not in OBSERVATION_TERMS:
            raise Sim2RealError(
                f"unknown observation term '{term.name}' (known: {', '.join(OBSERVATION_TERMS)})"
            )


def build_observation(
    layout: Sequence[ObservationTerm], inp: ObsInputs, out: np.ndarray | None = None
) -> np.ndarray:
    """Concatenate the scaled terms of a layout.

    Args:
        layout: Ordered terms (name, size, scale), as in the spec and the policy metadata.
        inp: Sensor-derived inputs, batched over N.
        out: Optional preallocated (N, n_obs) array to fill.

    Returns:
        Shape (N, n_obs).

    Raises:
        Sim2RealError: a term returns another size than the layout states.
    """
    n = inp.joint_pos.shape[0]
    total = sum(t.size for t in layout)
    if out is None:
        out = np.empty((n, total))
    col = 0
    for term in layout:
        try:
            value = OBSERVATION_TERMS[term.name](inp)
        except KeyError:
            check_layout(layout)
            raise
        if value.shape[1] != term.size:
            raise Sim2RealError(
                f"observation term '{term.name}' has size {value.shape[1]}, layout says {term.size}"
            )
        np.multiply(value, term.scale, out=out[:, col : col + term.size])
        col += term.size
    return out
