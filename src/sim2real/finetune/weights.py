"""Sample weights of reward-weighted behaviour cloning (numpy only).

Two schemes, both normalized to mean 1 over the samples and clipped:

- ``awr`` (advantage-weighted regression): ``w = min(exp(A / (temperature * std(A))), max_weight)``
  per tick, with the advantage ``A = G - V(obs)`` of the discounted return-to-go ``G`` over a
  learned baseline ``V``;
- ``return_softmax``: one weight per episode, ``softmax(R / (temperature * std(R)))`` of the
  episode returns ``R`` times the number of episodes, clipped at ``max_weight``.

Dividing by the spread makes ``temperature`` unitless: 1 means one standard deviation of advantage
(or return) multiplies the weight by e.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim2real.errors import Sim2RealError

Scheme = Literal["awr", "return_softmax"]


@dataclass(frozen=True)
class WeightConfig:
    """How samples are weighted."""

    scheme: Scheme = "awr"
    """``awr`` (per-tick exponentiated advantages) or ``return_softmax`` (per-episode softmax)."""
    temperature: float = 1.0
    """Temperature, in units of the standard deviation of the advantages (or returns)."""
    max_weight: float = 20.0
    """Largest weight (after normalization to mean 1 before clipping)."""
    horizon_s: float = 0.5
    """Discount horizon of the return-to-go [s]: gamma = exp(-control_dt / horizon_s) per tick."""

    def __post_init__(self) -> None:
        if self.scheme not in ("awr", "return_softmax"):
            raise Sim2RealError(f"weight scheme must be awr or return_softmax, got {self.scheme!r}")
        for name in ("temperature", "max_weight", "horizon_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise Sim2RealError(f"WeightConfig.{name} must be positive, got {value}")

    def gamma(self, control_dt: float) -> float:
        """Discount per control step."""
        return math.exp(-control_dt / self.horizon_s)


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Return-to-go ``G[t] = r[t] + gamma G[t+1]`` of one episode, shape (T,) like ``rewards``."""
    r = np.asarray(rewards, dtype=float)
    out = np.empty_like(r)
    acc = 0.0
    for t in range(r.size - 1, -1, -1):
        acc = r[t] + gamma * acc
        out[t] = acc
    return out


def returns_to_go(rewards: np.ndarray, episode: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted return-to-go per tick over concatenated episodes (``episode``: (N,) episode ids,
    rows of one episode contiguous and in time order), shape (N,)."""
    rewards = np.asarray(rewards, dtype=float)
    out = np.empty_like(rewards)
    bounds = np.flatnonzero(np.diff(episode)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, rewards.size], strict=True):
        out[lo:hi] = discounted_returns(rewards[lo:hi], gamma)
    return out


def _normalize_clip(w: np.ndarray, max_weight: float) -> np.ndarray:
    w = w / w.mean()
    return np.minimum(w, max_weight)


def awr_weights(advantages: np.ndarray, temperature: float = 1.0, max_weight: float = 20.0) -> np.ndarray:
    """Exponentiated advantages ``exp(A / (temperature std(A)))``, mean 1, clipped; shape (N,).

    Monotone: a higher advantage never gets a lower weight.  All equal when the advantages are.
    """
    a = np.asarray(advantages, dtype=float)
    if a.size == 0:
        return a.copy()
    spread = float(a.std())
    if not spread > 1e-12:
        return np.ones_like(a)
    z = (a - a.max()) / (temperature * spread)  # <= 0: no overflow
    return _normalize_clip(np.exp(z), max_weight)


def softmax_weights(
    returns: Sequence[float], temperature: float = 1.0, max_weight: float = 20.0
) -> np.ndarray:
    """Per-episode weights ``n softmax(R / (temperature std(R)))``, clipped; shape (n_episodes,)."""
    r = np.asarray(returns, dtype=float)
    if r.size == 0:
        return r.copy()
    spread = float(r.std())
    if not spread > 1e-12:
        return np.ones_like(r)
    z = (r - r.max()) / (temperature * spread)
    return _normalize_clip(np.exp(z), max_weight)
