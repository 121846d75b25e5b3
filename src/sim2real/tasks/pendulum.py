"""Pendulum swing-up and balance under the real torque limit.

The hinge angle is 0 hanging down and pi upright.  Episodes start hanging (small noise) and last
15 s; the policy commands joint torque scaled to 2.0 N m, the spec's safety torque limit.

Why not the lab's 1.0 N m: the embedded model (pole m * l_c of about 0.33 kg m, hinge damping
0.35 N m s/rad) cannot be swung up with 1.0 N m: even bang-bang pumping (torque = limit *
sign(velocity), the most power a limited torque can put in) settles at a 0.87 rad swing.  With
2.0 N m it reaches upright after about 8.4 s (hence the 15 s episodes); the lab's own identified
model (m * c_x = 0.10 kg m, viscous friction 0.047 N m s/rad) is far lighter, so this is a gap
between the embedded model and the real pendulum for identification to close.  The action filter
(0.2 per 5 ms step) keeps the command within the spec's safety rate of 200 N m/s.

Success: upright within 0.2 rad (|wrap(q - pi)| < 0.2) for the last 2 s of the episode.

Training may start episodes elsewhere (:func:`reset_exploring`); evaluation always starts hanging.
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


def reset_exploring(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exploring starts for training, one third each: hanging as :func:`reset_hanging`; anywhere
    (q ~ U(-pi, pi) rad, qd ~ U(-2, 2) rad/s); near upright (q ~ pi + U(-0.3, 0.3) rad,
    qd ~ U(-1, 1) rad/s)."""
    q, qd = reset_hanging(env, ids, rng)
    kind = rng.integers(0, 3, ids.size)
    anywhere, upright = kind == 1, kind == 2
    q[anywhere, 0] = rng.uniform(-np.pi, np.pi, anywhere.sum())
    qd[anywhere, 0] = rng.uniform(-2.0, 2.0, anywhere.sum())
    q[upright, 0] = UPRIGHT + rng.uniform(-0.3, 0.3, upright.sum())
    qd[upright, 0] = rng.uniform(-1.0, 1.0, upright.sum())
    return q, qd


def make_task() -> TaskConfig:
    """The pendulum task."""
    return TaskConfig(
        name="pendulum",
        episode_s=15.0,
        action_scale=(2.0,),  # N m: the spec's safety torque limit (1.0 N m cannot swing the model up)
        action_filter=0.2,  # at most 0.8 N m per 5 ms step: within the 200 N m/s safety rate
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
