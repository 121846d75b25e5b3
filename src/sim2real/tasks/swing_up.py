"""Task kind ``swing_up``: swing a passive or actuated pole joint from hanging to upright and
balance it there (the embedded pendulum and the Furuta pendulum).

Parameters (:class:`SwingUpConfig`): the pole ``joint``, its ``upright`` and ``hanging`` angles,
the reset noise, joints kept ``centre``d (their episode ends ``limit_margin`` inside the spec's
safety position range), the reward weights and the episode length.  The action scale and filter
are the spec's (``action``).

Rewards, in this order: ``upright`` (1 + cos(q - upright)) / 2; ``balanced`` 1 within
``tolerance`` of upright; ``<joint>_centred`` q^2 of each centred joint; ``velocity`` sum of
squared joint velocities; ``action`` sum of squared actions.

Success: the pole within ``tolerance`` of upright for the last ``success_window_s`` of the episode.

Evaluation starts hanging (:func:`reset_hanging`); training may use exploring starts
(:func:`reset_exploring`: hanging, anywhere, or near upright) so that balancing is learnt at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.spec import RobotSpec
from sim2real.tasks import terms
from sim2real.tasks.base import SuccessRule, TaskConfig, Term


@dataclass(frozen=True)
class SwingUpWeights:
    """Reward weights (0 drops a term)."""

    upright: float = 1.0
    """(1 + cos(q - upright)) / 2."""
    balanced: float = 1.0
    """1 within ``tolerance`` of upright."""
    centre: float = 0.0
    """q^2 of each centred joint [rad^2] (a penalty: negative)."""
    velocity: float = -0.005
    """Sum of squared joint velocities [rad^2/s^2]."""
    action: float = -0.05
    """Sum of squared actions."""


@dataclass(frozen=True)
class SwingUpConfig:
    """Parameters of the ``swing_up`` kind (the spec's ``task:`` keys besides ``kind``)."""

    joint: str = ""
    """The pole joint (required)."""
    upright: float = float(np.pi)
    """Pole angle when upright [rad]."""
    hanging: float = 0.0
    """Pole angle when hanging [rad] (where episodes start)."""
    tolerance: float = 0.2
    """Balanced: |wrap(q - upright)| below this [rad]."""
    episode_s: float = 10.0
    """Episode length [s]."""
    reset_position_noise: float = 0.2
    """Start positions: hanging pose (other joints: default pose) + U(-x, x) per joint [rad]."""
    reset_velocity_noise: float = 0.5
    """Start velocities: U(-x, x) per joint [rad/s]."""
    centre: tuple[str, ...] = ()
    """Joints kept near 0 (penalized by ``weights.centre``, episode ends near their safety limits)."""
    limit_margin: float = 0.2
    """A centred joint's episode ends this far inside its safety position range [rad]."""
    weights: SwingUpWeights = field(default_factory=SwingUpWeights)
    """Reward weights."""
    success_window_s: float = 2.0
    """Success: balanced for this long at the end of the episode [s]."""


def reset_hanging(spec: RobotSpec, cfg: SwingUpConfig):
    """Start near hanging: each joint's start (the pole hanging, others at the default pose)
    + U(-reset_position_noise, +) [rad], drawn joint by joint; velocities U(-reset_velocity_noise, +)
    [rad/s], drawn as one (n, n_joints) array."""
    start = np.array(spec.default_pose, dtype=float)
    pole = spec.joints.index(cfg.joint)
    start[pole] = cfg.hanging
    pn, vn = cfg.reset_position_noise, cfg.reset_velocity_noise

    def reset(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = ids.size
        q = np.stack([x + rng.uniform(-pn, pn, n) for x in start], axis=1)
        return q, rng.uniform(-vn, vn, (n, start.size))

    reset.__doc__ = reset_hanging.__doc__
    return reset


def reset_exploring(spec: RobotSpec, cfg: SwingUpConfig):
    """Exploring starts for training, one third each: hanging as :func:`reset_hanging`; anywhere
    (pole ~ U(-pi, pi) rad, its velocity ~ U(-2, 2) rad/s); near upright (pole ~ upright
    + U(-0.3, 0.3) rad, its velocity ~ U(-1, 1) rad/s); other joints as when hanging."""
    hanging = reset_hanging(spec, cfg)
    pole = spec.joints.index(cfg.joint)

    def reset(env: Any, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        q, qd = hanging(env, ids, rng)
        kind = rng.integers(0, 3, ids.size)
        anywhere, upright = kind == 1, kind == 2
        q[anywhere, pole] = rng.uniform(-np.pi, np.pi, anywhere.sum())
        qd[anywhere, pole] = rng.uniform(-2.0, 2.0, anywhere.sum())
        q[upright, pole] = cfg.upright + rng.uniform(-0.3, 0.3, upright.sum())
        qd[upright, pole] = rng.uniform(-1.0, 1.0, upright.sum())
        return q, qd

    reset.__doc__ = reset_exploring.__doc__
    return reset


def make(spec: RobotSpec, cfg: SwingUpConfig) -> TaskConfig:
    """The swing-up task of a robot.

    Raises:
        SpecError: the pole joint or a centred joint is not a joint of the robot.
    """
    for joint in (cfg.joint, *cfg.centre):
        if joint not in spec.joints:
            raise SpecError(f"task: joint '{joint}' is not a joint of the robot ({', '.join(spec.joints)})")
    w = cfg.weights
    pole = {"joint": cfg.joint, "upright": cfg.upright}
    near = Term(terms.near_upright, 1.0, {**pole, "tolerance": cfg.tolerance})
    rewards = {
        "upright": Term(terms.upright_cos, w.upright, pole),
        "balanced": Term(terms.near_upright, w.balanced, {**pole, "tolerance": cfg.tolerance}),
    }
    terminations = {}
    safety = spec.safety
    for joint in cfg.centre:
        i = spec.joints.index(joint)
        rewards[f"{joint}_centred"] = Term(terms.joint_pos_l2, w.centre, {"joint": joint})
        low, high = safety.position_low[i] + cfg.limit_margin, safety.position_high[i] - cfg.limit_margin
        terminations[f"{joint}_limit"] = Term(
            terms.joint_outside, params={"joint": joint, "low": float(low), "high": float(high)}
        )
    rewards["velocity"] = Term(terms.joint_vel_l2, w.velocity)
    rewards["action"] = Term(terms.action_l2, w.action)
    rewards = {k: v for k, v in rewards.items() if v.weight != 0.0}
    return TaskConfig(
        name=spec.name,
        kind="swing_up",
        episode_s=cfg.episode_s,
        action_scale=tuple(float(x) for x in spec.action_scale),
        action_filter=spec.action_filter,
        rewards=rewards,
        terminations=terminations,
        reset=reset_hanging(spec, cfg),
        exploring_reset=reset_exploring(spec, cfg),
        success=SuccessRule("hold_last", near, window_s=cfg.success_window_s),
    )
