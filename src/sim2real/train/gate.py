"""The success gate: when a training run has learnt its task.

One rule, used by ``sim2real train`` (to stop early) and by ``sim2real bench train`` (to measure the
time to success): at most every ``every_s`` seconds of wall time, a quick deterministic evaluation
of ``quick_episodes`` episodes runs; when its success rate reaches ``gate``, a full evaluation of
``episodes`` episodes follows, and the task counts as learnt when that one reaches ``target``
(0.95 for the swing-ups, 0.9 for the quadruped).  Evaluations cost a few seconds each; the quick
one keeps that cost low while the policy is still far from the target.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim2real.train.config import preset_key

__all__ = ["GateConfig", "SuccessGate", "gate_config"]

_TARGET = {"quadruped": 0.9}
"""Success rate that counts as learnt, per task (default 0.95)."""
_EVERY_S = {"quadruped": 60.0}
"""Least seconds between evaluations per task (default 10 s): a quadruped evaluation runs 20 s
episodes."""


@dataclass(frozen=True)
class GateConfig:
    """When a run counts as having learnt its task."""

    target: float = 0.95
    """Success rate of the full evaluation that counts as learnt."""
    episodes: int = 64
    """Episodes of the full evaluation."""
    quick_episodes: int = 16
    """Episodes of the quick evaluation that decides whether a full one runs."""
    gate: float = 0.9
    """Quick-evaluation success rate that earns a full evaluation."""
    every_s: float = 10.0
    """Least wall time between evaluations [s]."""


def gate_config(task: Any, **overrides: Any) -> GateConfig:
    """The gate of a task (a preset name, TaskConfig or RobotSpec: target and cadence by its
    training preset, so a legged robot of one's own has the quadruped's), with ``overrides``
    (None values ignored)."""
    key = preset_key(task)
    base = GateConfig(target=_TARGET.get(key, 0.95), every_s=_EVERY_S.get(key, 10.0))
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


class SuccessGate:
    """Applies a :class:`GateConfig` with an evaluation function.

    Args:
        config: The rule.
        evaluate: ``evaluate(episodes) -> success rate`` of the current deterministic policy.
        start: Wall-clock origin of the ``seconds`` of the records (``time.perf_counter``).
    """

    def __init__(
        self, config: GateConfig, evaluate: Callable[[int], float], start: float | None = None
    ) -> None:
        self.config = config
        self.evaluate = evaluate
        self.start = time.perf_counter() if start is None else start
        self._last = self.start
        self.evaluations: list[dict[str, Any]] = []
        """Per evaluation: ``seconds`` (since start), ``env_steps``, ``episodes``, ``success_rate``."""
        self.reached: float | None = None
        """Seconds since start at which the target was reached (None: not yet)."""

    def due(self) -> bool:
        """Whether ``every_s`` has passed since the last evaluation (or the start)."""
        return time.perf_counter() - self._last >= self.config.every_s

    def check(self, env_steps: int) -> bool:
        """Evaluate now (quick, then full when the quick one passes); True when the target is met."""
        c = self.config
        rate = self.evaluate(c.quick_episodes)
        full = rate >= c.gate
        if full:
            rate = self.evaluate(c.episodes)
        self._last = time.perf_counter()
        now = round(self._last - self.start, 2)
        self.evaluations.append(
            {
                "seconds": now,
                "env_steps": int(env_steps),
                "episodes": c.episodes if full else c.quick_episodes,
                "success_rate": float(rate),
            }
        )
        if full and rate >= c.target:
            self.reached = now
            return True
        return False

    @property
    def last(self) -> dict[str, Any] | None:
        """The latest evaluation record."""
        return self.evaluations[-1] if self.evaluations else None
