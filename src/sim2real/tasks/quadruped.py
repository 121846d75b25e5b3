"""Quadruped velocity tracking on flat ground.

Commands: forward velocity vx ~ U(-1, 1) m/s, lateral vy ~ U(-0.5, 0.5) m/s, yaw rate
~ U(-1, 1) rad/s, resampled every 10 s of a 20 s episode.  Observations (spec): base angular
velocity, projected gravity, command, joint positions relative to default, joint velocities,
previous action; the critic also sees the base linear velocity and height (privileged).
Reward weights follow the Isaac Lab Go2 flat-ground task.  Its action scale (0.25 rad) applies to
unbounded Gaussian actions that often reach 2-3; our policy's actions are tanh-bounded to [-1, 1],
so the scale here is 0.5 rad to leave the gait a similar range of joint targets.

Success: no fall (termination) and a mean velocity tracking error |v_cmd - v| below 0.25 m/s
over the episode.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from sim2real.tasks import terms
from sim2real.tasks.base import CommandConfig, SuccessRule, TaskConfig, Term

FEET = ("FL_foot", "FR_foot", "RL_foot", "RR_foot")


class FeetTracker:
    """Foot contact and air-time bookkeeping (a step hook), from foot heights above the floor.

    Attributes (N, 4): ``contact`` (bool), ``air_time`` [s], ``last_air_time`` [s] (air time of the
    swing that just ended), ``first_contact`` (bool: landed this step).
    """

    def __init__(self, env: Any) -> None:
        model = env.sim.model
        self.geom_ids = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f) for f in FEET])
        if np.any(self.geom_ids < 0):
            raise ValueError(f"quadruped task needs foot geoms {FEET}")
        self.radius = model.geom_size[self.geom_ids, 0]
        n = env.num_envs
        self.contact = np.ones((n, 4), dtype=bool)
        self.air_time = np.zeros((n, 4))
        self.last_air_time = np.zeros((n, 4))
        self.first_contact = np.zeros((n, 4), dtype=bool)
        self._xpos = env.sim.batch.bind("geom_xpos")
        env.feet = self

    def on_reset(self, env: Any, ids: np.ndarray) -> None:
        self.contact[ids] = True
        self.air_time[ids] = 0.0
        self.last_air_time[ids] = 0.0
        self.first_contact[ids] = False

    def post_physics(self, env: Any) -> None:
        height = self._xpos[:, self.geom_ids, 2] - self.radius
        contact = height < 0.01
        self.first_contact = contact & ~self.contact
        self.last_air_time = np.where(self.first_contact, self.air_time + env.control_dt, self.last_air_time)
        self.air_time = np.where(contact, 0.0, self.air_time + env.control_dt)
        self.contact = contact


def reset_standing(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Default pose scaled by U(0.9, 1.1) per joint, zero velocity."""
    n = ids.size
    q = env.spec.default_pose * rng.uniform(0.9, 1.1, (n, env.spec.n_joints))
    return q, np.zeros((n, env.spec.n_joints))


def make_task() -> TaskConfig:
    """The quadruped task."""
    return TaskConfig(
        name="quadruped",
        episode_s=20.0,
        action_scale=(0.5,) * 12,  # rad around the default pose (the tanh-bounded action's full range)
        action_filter=1.0,
        rewards={
            "track_lin_vel_xy": Term(terms.track_lin_vel_xy_exp, 1.5, {"std": 0.5}),
            "track_ang_vel_z": Term(terms.track_ang_vel_z_exp, 0.75, {"std": 0.5}),
            "lin_vel_z": Term(terms.lin_vel_z_l2, -2.0),
            "ang_vel_xy": Term(terms.ang_vel_xy_l2, -0.05),
            "torques": Term(terms.joint_torque_l2, -2e-4),
            "action_rate": Term(terms.action_rate_l2, -0.01),
            "feet_air_time": Term(terms.feet_air_time, 0.25, {"threshold": 0.5}),
            "flat_orientation": Term(terms.flat_orientation_l2, -2.5),
            "joint_limits": Term(terms.joint_pos_limits, -1.0),
        },
        terminations={
            "base_low": Term(terms.base_too_low, params={"height": 0.15}),
            "tilted": Term(terms.base_tilted, params={"max_tilt": 1.0}),
        },
        reset=reset_standing,
        success=SuccessRule("mean_below", Term(terms.velocity_tracking_error), threshold=0.25),
        commands=CommandConfig(),
        critic_terms=("base_lin_vel", "base_height"),
        env_hooks=(FeetTracker,),
    )
