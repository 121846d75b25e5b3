"""Task kind ``locomotion``: velocity tracking on flat ground for any legged robot.

Everything robot-specific comes from the spec: the feet (``feet``: bodies whose lowest collision
geom touches the floor), the terminations (``safety.tilt`` and the minimum of
``safety.base_height``), the per-joint action scale (``action``), any number of joints, quadrupeds
and bipeds alike.  The task's own parameters (:class:`LocomotionConfig`) have defaults that learn
to walk on the embedded quadruped.

Commands: forward velocity vx ~ U(-1, 1) m/s, lateral vy ~ U(-0.5, 0.5) m/s, yaw rate
~ U(-1, 1) rad/s, resampled every 10 s of a 20 s episode.  Observations are the spec's; the critic
also sees the base linear velocity and height (privileged).  Reward weights follow the Isaac Lab
Go2 flat-ground task.

Success: no fall (termination) and a mean velocity tracking error |v_cmd - v| below 0.25 m/s over
the episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.geom_extent import sole_geoms
from sim2real.robots.spec import RobotSpec
from sim2real.tasks import terms
from sim2real.tasks.base import CommandConfig, SuccessRule, TaskConfig, Term


@dataclass(frozen=True)
class LocomotionWeights:
    """Reward weights (0 drops a term); penalties are negative."""

    track_lin_vel_xy: float = 1.5
    """exp(-|v_xy,cmd - v_xy|^2 / std^2)."""
    track_ang_vel_z: float = 0.75
    """exp(-(yaw_cmd - yaw rate)^2 / std^2)."""
    lin_vel_z: float = -2.0
    """Squared vertical base velocity [m^2/s^2]."""
    ang_vel_xy: float = -0.05
    """Squared roll and pitch rates [rad^2/s^2]."""
    torques: float = -2e-4
    """Sum of squared actuator torques [N^2 m^2]."""
    action_rate: float = -0.01
    """Sum of squared action changes between steps."""
    feet_air_time: float = 0.25
    """Air time beyond ``air_time_threshold`` of feet when they land (needs ``feet`` in the spec)."""
    flat_orientation: float = -2.5
    """Squared horizontal components of gravity in the base frame."""
    joint_limits: float = -1.0
    """Distance beyond the safety joint position limits [rad]."""


@dataclass(frozen=True)
class LocomotionConfig:
    """Parameters of the ``locomotion`` kind (the spec's ``task:`` keys besides ``kind``)."""

    episode_s: float = 20.0
    """Episode length [s]."""
    commands: CommandConfig = field(default_factory=CommandConfig)
    """Velocity command ranges and resampling."""
    weights: LocomotionWeights = field(default_factory=LocomotionWeights)
    """Reward weights."""
    tracking_std: float = 0.5
    """Tolerance of the velocity tracking rewards [m/s, rad/s]."""
    air_time_threshold: float = 0.5
    """Swing time a foot must exceed to earn the air-time reward [s]."""
    contact_height: float = 0.01
    """A foot touches the floor when its geom is less than this above standing contact [m]."""
    reset_pose_spread: float = 0.1
    """Reset joint positions: the default pose times U(1 - spread, 1 + spread), per joint."""
    success_error: float = 0.25
    """Success: mean velocity tracking error below this [m/s]."""


class FeetTracker:
    """Foot contact and air-time bookkeeping (a step hook), from foot heights above the floor.

    Each foot body's sole in the standing pose (its collision geoms within
    :data:`~sim2real.robots.geom_extent.SOLE_SPREAD` of its lowest: one sphere on a quadruped's
    shin, the four corner spheres of Menagerie's G1 foot) are its contact geoms, and a foot touches
    while any of them does: a foot rolling onto its toes stays on the floor.  A geom's clearance
    (the height of its centre when it touches the floor) is the radius of a sphere, else the
    centre's height in the standing pose.  Implements
    :class:`~sim2real.tasks.state.FootContacts`: ``contact``, ``first_contact`` (bool),
    ``air_time``, ``last_air_time`` [s], shape (N, n_feet).
    """

    def __init__(self, env: Any, contact_height: float = 0.01) -> None:
        self.geom_ids, self.clearance = foot_geoms(env.spec, env.sim.model, env.sim.default_qpos)
        self.contact_height = contact_height
        n, k = env.num_envs, len(self.geom_ids)
        self.contact = np.ones((n, k), dtype=bool)
        self.air_time = np.zeros((n, k))
        self.last_air_time = np.zeros((n, k))
        self.first_contact = np.zeros((n, k), dtype=bool)
        self._xpos = env.sim.batch.bind("geom_xpos")
        env.feet = self

    def on_reset(self, env: Any, ids: np.ndarray) -> None:
        self.contact[ids] = True
        self.air_time[ids] = 0.0
        self.last_air_time[ids] = 0.0
        self.first_contact[ids] = False

    def post_physics(self, env: Any) -> None:
        height = self._xpos[:, self.geom_ids, 2] - self.clearance  # (N, n_feet, geoms per foot)
        contact = (height < self.contact_height).any(axis=2)
        self.first_contact = contact & ~self.contact
        self.last_air_time = np.where(self.first_contact, self.air_time + env.control_dt, self.last_air_time)
        self.air_time = np.where(contact, 0.0, self.air_time + env.control_dt)
        self.contact = contact


def foot_geoms(spec: RobotSpec, model: mujoco.MjModel, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contact geoms of each foot body and their clearances [m] (see :class:`FeetTracker`), both
    shape (n_feet, m): m is the most geoms a sole has; a sole of fewer repeats its lowest geom.

    Args:
        spec: The robot (``feet``).
        model: Its compiled model.
        qpos: A standing configuration (nq,).

    Raises:
        SpecError: a foot body has no collision geom.
    """
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    soles = []
    for foot in spec.feet:
        try:
            soles.append(sole_geoms(model, data, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, foot)))
        except ValueError as exc:
            raise SpecError(f"foot {foot!r}: {exc}") from None
    width = max(len(s) for s in soles)
    ids = np.array([list(s) + [s[0]] * (width - len(s)) for s in soles], dtype=np.int64)
    sphere = model.geom_type[ids] == int(mujoco.mjtGeom.mjGEOM_SPHERE)
    clearance = np.where(sphere, model.geom_size[ids, 0], data.geom_xpos[ids, 2])
    return ids, clearance


def reset_standing(spread: float):
    """Reset: the default pose scaled by U(1 - spread, 1 + spread) per joint, within the safety limits
    (a pose near a limit, scaled, started past it: G1's thumb), zero velocity."""

    def reset(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = ids.size
        q = env.spec.default_pose * rng.uniform(1.0 - spread, 1.0 + spread, (n, env.spec.n_joints))
        q = np.clip(q, env.spec.safety.position_low, env.spec.safety.position_high)
        return q, np.zeros((n, env.spec.n_joints))

    reset.__doc__ = (
        f"Default pose scaled by U({1 - spread:g}, {1 + spread:g}) per joint, within the safety limits, zero velocity."
    )
    return reset


def make(spec: RobotSpec, cfg: LocomotionConfig) -> TaskConfig:
    """The locomotion task of a legged robot.

    Raises:
        SpecError: the robot has no floating base.
    """
    if not spec.floating_base:
        raise SpecError("task kind locomotion needs a floating-base robot (base_body)")
    w, std = cfg.weights, {"std": cfg.tracking_std}
    rewards = {
        "track_lin_vel_xy": Term(terms.track_lin_vel_xy_exp, w.track_lin_vel_xy, std),
        "track_ang_vel_z": Term(terms.track_ang_vel_z_exp, w.track_ang_vel_z, std),
        "lin_vel_z": Term(terms.lin_vel_z_l2, w.lin_vel_z),
        "ang_vel_xy": Term(terms.ang_vel_xy_l2, w.ang_vel_xy),
        "torques": Term(terms.joint_torque_l2, w.torques),
        "action_rate": Term(terms.action_rate_l2, w.action_rate),
        "feet_air_time": Term(terms.feet_air_time, w.feet_air_time, {"threshold": cfg.air_time_threshold}),
        "flat_orientation": Term(terms.flat_orientation_l2, w.flat_orientation),
        "joint_limits": Term(terms.joint_pos_limits, w.joint_limits),
    }
    if not spec.feet:
        del rewards["feet_air_time"]
    rewards = {k: v for k, v in rewards.items() if v.weight != 0.0}
    terminations = {}
    if spec.safety.base_height_low is not None:
        terminations["base_low"] = Term(terms.base_too_low, params={"height": spec.safety.base_height_low})
    if spec.safety.tilt is not None:
        terminations["tilted"] = Term(terms.base_tilted, params={"max_tilt": spec.safety.tilt})
    hooks = ()
    if spec.feet:

        def feet(env: Any) -> FeetTracker:
            return FeetTracker(env, cfg.contact_height)

        hooks = (feet,)
    return TaskConfig(
        name=spec.name,
        kind="locomotion",
        episode_s=cfg.episode_s,
        action_scale=tuple(float(x) for x in spec.action_scale),
        action_filter=spec.action_filter,
        rewards=rewards,
        terminations=terminations,
        reset=reset_standing(cfg.reset_pose_spread),
        success=SuccessRule("mean_below", Term(terms.velocity_tracking_error), threshold=cfg.success_error),
        commands=cfg.commands,
        critic_terms=("base_lin_vel", "base_height"),
        env_hooks=hooks,
    )
