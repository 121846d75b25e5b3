"""Pendulum swing-up and balance under the real torque limit.

The hinge angle is 0 hanging down and pi upright.  Episodes start hanging (small noise) and last
10 s; the policy commands joint torque scaled to the lab's 1.0 N m controller limit.

Success: upright within 0.2 rad (|wrap(q - pi)| < 0.2) for the last 2 s of the episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim2real.tasks import terms
from sim2real.tasks.base import SuccessRule, TaskConfig, Term

UPRIGHT = float(np.pi)


def reset_hanging(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Start near hanging: q ~ U(-0.2, 0.2) rad, qd ~ U(-0.5, 0.5) rad/s."""
    n = ids.size
    return rng.uniform(-0.2, 0.2, (n, 1)), rng.uniform(-0.5, 0.5, (n, 1))


def make_task() -> TaskConfig:
    """The pendulum task."""
    return TaskConfig(
        name="pendulum",
        episode_s=10.0,
        action_scale=(1.0,),  # N m: the torque limit the lab's controllers run with
        action_filter=0.8,
        rewards={
            "upright": Term(terms.upright_cos, 1.0, {"joint": "hinge", "upright": UPRIGHT}),
            "balanced": Term(
                terms.near_upright, 1.0, {"joint": "hinge", "upright": UPRIGHT, "tolerance": 0.2}
            ),
            "velocity": Term(terms.joint_vel_l2, -0.005),
            "action": Term(terms.action_l2, -0.05),
        },
        terminations={},
        reset=reset_hanging,
        success=SuccessRule(
            "hold_last",
            Term(terms.near_upright, 1.0, {"joint": "hinge", "upright": UPRIGHT, "tolerance": 0.2}),
        ),
    )
