"""Furuta pendulum swing-up and balance with voltage control.

Joints: ``arm`` (motor) and ``pendulum`` (passive, 0 = upright, as in the QUBE recordings).
Episodes start hanging (alpha = pi, small noise) and last 6 s; the policy commands motor voltage
scaled to the 10 V supply.  The arm is kept within +-2.3 rad (the real arm's cable).

The action low-pass filter (alpha 0.15 per 2 ms step) keeps the voltage command within the spec's
safety rate of 2000 V/s: the filtered command moves at most 0.15 * 20 V = 3 V per step (1500 V/s).

Success: pendulum upright within 0.2 rad for the last 2 s of the episode.

Training may start episodes elsewhere (:func:`reset_exploring`: hanging, anywhere, or near
upright) so that balancing is learnt from the start; evaluation always starts hanging.
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


def reset_exploring(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exploring starts for training, one third each:

    - hanging as :func:`reset_hanging`;
    - anywhere: pendulum ~ U(-pi, pi) rad, its velocity ~ U(-2, 2) rad/s;
    - near upright: pendulum ~ U(-0.3, 0.3) rad, its velocity ~ U(-1, 1) rad/s;

    the arm as in :func:`reset_hanging`.
    """
    q, qd = reset_hanging(env, ids, rng)
    kind = rng.integers(0, 3, ids.size)
    anywhere, upright = kind == 1, kind == 2
    q[anywhere, 1] = rng.uniform(-np.pi, np.pi, anywhere.sum())
    qd[anywhere, 1] = rng.uniform(-2.0, 2.0, anywhere.sum())
    q[upright, 1] = rng.uniform(-0.3, 0.3, upright.sum())
    qd[upright, 1] = rng.uniform(-1.0, 1.0, upright.sum())
    return q, qd


def make_task() -> TaskConfig:
    """The furuta task."""
    upright = {"joint": "pendulum", "upright": 0.0}
    return TaskConfig(
        name="furuta",
        episode_s=6.0,
        action_scale=(10.0,),  # V
        action_filter=0.15,  # 3 V per step at most: within the 2000 V/s safety rate
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
