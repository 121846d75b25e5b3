"""Task configuration: reward, termination, reset, command and success terms listed with weights.

A term is a pure function ``(env, **params) -> array[num_envs]``.  Its parameters are checked
against the function's signature when the term is built, so a typo fails at construction, not
in the middle of training.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from sim2real.errors import Sim2RealError


@dataclass(frozen=True)
class Term:
    """One weighted term."""

    func: Callable[..., np.ndarray]
    """Pure function ``(env, **params) -> (num_envs,)``."""
    weight: float = 1.0
    """Multiplier (rewards); ignored by terminations."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Keyword parameters passed to ``func``; checked against its signature."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        try:
            inspect.signature(self.func).bind(None, **self.params)
        except TypeError as exc:
            raise Sim2RealError(
                f"term {self.func.__name__}: bad parameters {dict(self.params)} ({exc})"
            ) from None

    def __call__(self, env: Any) -> np.ndarray:
        return self.func(env, **self.params)


@dataclass(frozen=True)
class SuccessRule:
    """How an episode is judged a success (documented per task)."""

    kind: Literal["hold_last", "mean_below"]
    """``hold_last``: the condition held for the last ``window_s`` of an episode that ran to its time
    limit; ``mean_below``: no early termination and the episode mean of the metric below ``threshold``."""
    metric: Term
    """Per-step condition (bool) for ``hold_last``, per-step error for ``mean_below``."""
    window_s: float = 2.0
    """Hold window [s] (hold_last)."""
    threshold: float = 0.0
    """Threshold of the episode mean (mean_below)."""


@dataclass(frozen=True)
class CommandConfig:
    """Velocity commands (vx [m/s], vy [m/s], yaw rate [rad/s]) resampled at random times."""

    vx: tuple[float, float] = (-1.0, 1.0)
    """Forward velocity range [m/s]."""
    vy: tuple[float, float] = (-0.5, 0.5)
    """Lateral velocity range [m/s]."""
    yaw: tuple[float, float] = (-1.0, 1.0)
    """Yaw rate range [rad/s]."""
    resample_s: float = 10.0
    """Time between command resamples [s]."""
    standing_fraction: float = 0.02
    """Fraction of commands that are zero (stand still)."""


@dataclass(frozen=True)
class TaskConfig:
    """A task: what the policy must do on a robot."""

    name: str
    """Task name: the name of the robot whose spec it was built from."""
    episode_s: float
    """Episode length [s]."""
    action_scale: tuple[float, ...]
    """Per actuator: command = offset + scale * action (the spec's ``action.scale``)."""
    action_filter: float
    """The spec's ``action.filter``: coefficient alpha of the first-order low-pass on actions: a_f = alpha a + (1 - alpha) a_f_prev."""
    rewards: Mapping[str, Term]
    """Reward terms by name; the step reward is sum(weight * term) * control_dt."""
    terminations: Mapping[str, Term]
    """Termination terms by name (bool per env)."""
    reset: Callable[[Any, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    """``(env, ids, rng) -> (joint_pos (n, n_joints), joint_vel (n, n_joints))`` for reset episodes."""
    success: SuccessRule
    """Episode success rule."""
    commands: CommandConfig | None = None
    """Velocity commands, or None."""
    critic_terms: tuple[str, ...] = ()
    """Privileged observations for the critic (names of env properties, e.g. base_lin_vel)."""
    env_hooks: tuple[Callable[[Any], Any], ...] = ()
    """Factories ``env -> hook`` of task bookkeeping (e.g. foot contacts) run every step."""
    kind: str = ""
    """Task kind it was built from (``locomotion``, ``swing_up``...)."""
    exploring_reset: Callable[[Any, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None
    """Training-only start distribution (exploring starts), like ``reset``; None: the task has none."""

    def __post_init__(self) -> None:
        if not 0 < self.action_filter <= 1:
            raise Sim2RealError(f"{self.name}: action_filter must be in (0, 1], got {self.action_filter}")
        object.__setattr__(self, "rewards", MappingProxyType(dict(self.rewards)))
        object.__setattr__(self, "terminations", MappingProxyType(dict(self.terminations)))
