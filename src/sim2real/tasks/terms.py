"""Reward, termination and success terms: pure functions ``(env, **params) -> (num_envs,)``.

``env`` is a :class:`sim2real.tasks.state.TermEnv`: the training environment
(:class:`sim2real.envs.core.TaskEnv`) or a :class:`sim2real.tasks.state.MeasuredState`.
Positive reward terms are given positive weights and penalties negative weights in the task
configs; the functions themselves return magnitudes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (np.asarray(x) + np.pi) % (2 * np.pi) - np.pi


def _joint(env: Any, joint: str) -> int:
    return env.spec.joints.index(joint)


# ------------------------------------------------------------------ rewards
def upright_cos(env: Any, joint: str, upright: float) -> np.ndarray:
    """(1 + cos(q - upright)) / 2: 1 when the joint is at ``upright`` [rad], 0 opposite."""
    q = env.joint_pos[:, _joint(env, joint)]
    return 0.5 * (1.0 + np.cos(q - upright))


def near_upright(env: Any, joint: str, upright: float, tolerance: float) -> np.ndarray:
    """1 when |wrap(q - upright)| < tolerance [rad], else 0."""
    q = env.joint_pos[:, _joint(env, joint)]
    return (np.abs(wrap_angle(q - upright)) < tolerance).astype(float)


def joint_pos_l2(env: Any, joint: str) -> np.ndarray:
    """q^2 of one joint [rad^2]."""
    return env.joint_pos[:, _joint(env, joint)] ** 2


def joint_vel_l2(env: Any) -> np.ndarray:
    """Sum of squared joint velocities [rad^2/s^2]."""
    return np.sum(env.joint_vel**2, axis=1)


def action_l2(env: Any) -> np.ndarray:
    """Sum of squared (filtered) actions."""
    return np.sum(env.filtered_action**2, axis=1)


def action_rate_l2(env: Any) -> np.ndarray:
    """Sum of squared changes of the filtered action between steps."""
    return np.sum((env.filtered_action - env.prev_action) ** 2, axis=1)


def joint_torque_l2(env: Any) -> np.ndarray:
    """Sum of squared actuator torques [N^2 m^2]."""
    return np.sum(env.joint_torque**2, axis=1)


def track_lin_vel_xy_exp(env: Any, std: float) -> np.ndarray:
    """exp(-|v_xy,cmd - v_xy|^2 / std^2), base frame."""
    err = np.sum((env.velocity_command[:, :2] - env.base_lin_vel[:, :2]) ** 2, axis=1)
    return np.exp(-err / std**2)


def track_ang_vel_z_exp(env: Any, std: float) -> np.ndarray:
    """exp(-(yaw_cmd - yaw rate)^2 / std^2)."""
    err = (env.velocity_command[:, 2] - env.base_ang_vel[:, 2]) ** 2
    return np.exp(-err / std**2)


def lin_vel_z_l2(env: Any) -> np.ndarray:
    """Squared vertical base velocity [m^2/s^2]."""
    return env.base_lin_vel[:, 2] ** 2


def ang_vel_xy_l2(env: Any) -> np.ndarray:
    """Squared roll and pitch rates [rad^2/s^2]."""
    return np.sum(env.base_ang_vel[:, :2] ** 2, axis=1)


def flat_orientation_l2(env: Any) -> np.ndarray:
    """Squared horizontal components of gravity in the base frame (0 when level)."""
    return np.sum(env.projected_gravity[:, :2] ** 2, axis=1)


def joint_pos_limits(env: Any, margin: float = 0.0) -> np.ndarray:
    """How far joints are beyond their safety position limits (less a margin) [rad]."""
    s = env.spec.safety
    q = env.joint_pos
    over = np.maximum(q - (s.position_high - margin), 0) + np.maximum((s.position_low + margin) - q, 0)
    return np.sum(over, axis=1)


def feet_air_time(env: Any, threshold: float) -> np.ndarray:
    """Rewards steps of feet that stayed in the air longer than ``threshold`` [s] when they land,
    only while a non-zero velocity is commanded (needs an env with ``feet`` bookkeeping)."""
    first = env.feet.first_contact
    reward = np.sum((env.feet.last_air_time - threshold) * first, axis=1)
    moving = np.linalg.norm(env.velocity_command[:, :2], axis=1) > 0.1
    return reward * moving


# -------------------------------------------------------------- terminations
def joint_beyond(env: Any, joint: str, limit: float) -> np.ndarray:
    """|q| > limit [rad]."""
    return np.abs(env.joint_pos[:, _joint(env, joint)]) > limit


def joint_outside(env: Any, joint: str, low: float, high: float) -> np.ndarray:
    """q < low or q > high [rad]."""
    q = env.joint_pos[:, _joint(env, joint)]
    return (q < low) | (q > high)


def base_too_low(env: Any, height: float) -> np.ndarray:
    """Base height below ``height`` [m]."""
    return env.base_height < height


def base_tilted(env: Any, max_tilt: float) -> np.ndarray:
    """Base tilted more than ``max_tilt`` [rad] from upright."""
    cos_tilt = -env.projected_gravity[:, 2]
    return cos_tilt < np.cos(max_tilt)


# ------------------------------------------------------------------- success
def velocity_tracking_error(env: Any) -> np.ndarray:
    """Per-step error of the base velocity [m/s]: |v_xy,cmd - v_xy| (base frame)."""
    return np.linalg.norm(env.velocity_command[:, :2] - env.base_lin_vel[:, :2], axis=1)
