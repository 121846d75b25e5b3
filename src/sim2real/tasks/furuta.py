"""Furuta pendulum swing-up and balance with voltage control.

Joints: ``arm`` (motor) and ``pendulum`` (passive, 0 = upright, as in the QUBE recordings).
Episodes start hanging (alpha = pi, small noise) and last 6 s; the policy commands motor voltage
scaled to the 10 V supply.  The arm is kept within +-2.3 rad (the real arm's cable).

Success: pendulum upright within 0.2 rad for the last 2 s of the episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim2real.tasks import terms
from sim2real.tasks.base import SuccessRule, TaskConfig, Term


def reset_hanging(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """arm ~ U(-0.1, 0.1) rad; pendulum ~ pi + U(-0.1, 0.1) rad; velocities ~ U(-0.2, 0.2) rad/s."""
    n = ids.size
    q = np.stack([rng.uniform(-0.1, 0.1, n), np.pi + rng.uniform(-0.1, 0.1, n)], axis=1)
    return q, rng.uniform(-0.2, 0.2, (n, 2))


def make_task() -> TaskConfig:
    """The furuta task."""
    upright = {"joint": "pendulum", "upright": 0.0}
    return TaskConfig(
        name="furuta",
        episode_s=6.0,
        action_scale=(10.0,),  # V
        action_filter=0.8,
        rewards={
            "upright": Term(terms.upright_cos, 1.0, upright),
            "balanced": Term(terms.near_upright, 1.0, {**upright, "tolerance": 0.2}),
            "arm_centred": Term(terms.joint_pos_l2, -0.1, {"joint": "arm"}),
            "velocity": Term(terms.joint_vel_l2, -0.0005),
            "action": Term(terms.action_l2, -0.02),
        },
        terminations={"arm_limit": Term(terms.joint_beyond, params={"joint": "arm", "limit": 2.3})},
        reset=reset_hanging,
        success=SuccessRule("hold_last", Term(terms.near_upright, 1.0, {**upright, "tolerance": 0.2})),
    )
