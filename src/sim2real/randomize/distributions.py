"""Distributions of randomized values: uniform, log-uniform and normal clipped to a range.

A :class:`Distribution` draws arrays of shape (n, size) from an explicit ``numpy`` generator.
Bounds may be one number or one per component of a vector parameter (e.g. a centre-of-mass
shift with a wider range along x than along z).  Integer distributions (delays in steps) draw
whole numbers: ``uniform`` over ``{low, ..., high}``, ``normal`` rounded after clipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["uniform", "loguniform", "normal"]
KINDS: tuple[str, ...] = ("uniform", "loguniform", "normal")
"""Known distribution kinds."""


def _fmt(values: tuple[float, ...]) -> str:
    if len(values) == 1:
        return f"{values[0]:.6g}"
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"


@dataclass(frozen=True)
class Distribution:
    """A distribution of one randomized quantity (validated by the config loader)."""

    kind: Kind
    """``uniform``: U(low, high); ``loguniform``: exp(U(log low, log high)); ``normal``:
    N(mean, std) clipped to [low, high]."""
    low: tuple[float, ...]
    """Lower bound (clip bound of a normal): one value, or one per component."""
    high: tuple[float, ...]
    """Upper bound (clip bound of a normal): like ``low``."""
    mean: tuple[float, ...] = ()
    """Mean of a normal (empty otherwise)."""
    std: tuple[float, ...] = ()
    """Standard deviation of a normal (empty otherwise)."""
    integer: bool = False
    """Draw whole numbers (steps)."""

    @property
    def size(self) -> int:
        """Number of components the bounds state (1: the same for every component)."""
        return max(len(self.low), len(self.high), len(self.mean) or 1, len(self.std) or 1)

    def sample(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """Draw values of shape (n, size); bounds broadcast over the components."""
        low = np.broadcast_to(np.asarray(self.low, dtype=float), shape)
        high = np.broadcast_to(np.asarray(self.high, dtype=float), shape)
        if self.kind == "uniform":
            if self.integer:
                return rng.integers(low.astype(np.int64), high.astype(np.int64) + 1).astype(float)
            return rng.uniform(low, high)
        if self.kind == "loguniform":
            return np.exp(rng.uniform(np.log(low), np.log(high)))
        mean = np.broadcast_to(np.asarray(self.mean, dtype=float), shape)
        std = np.broadcast_to(np.asarray(self.std, dtype=float), shape)
        value = np.clip(rng.normal(mean, std), low, high)
        return np.rint(value) if self.integer else value

    def describe(self) -> str:
        """Compact notation, e.g. ``U(0.4, 1)``, ``logU(1e-4, 1e-2)``, ``N(0, 0.02) in [-0.05, 0.05]``."""
        if self.kind == "uniform":
            if self.integer:
                return f"U{{{_fmt(self.low)}..{_fmt(self.high)}}}"
            return f"U({_fmt(self.low)}, {_fmt(self.high)})"
        if self.kind == "loguniform":
            return f"logU({_fmt(self.low)}, {_fmt(self.high)})"
        rounded = " rounded" if self.integer else ""
        return f"N({_fmt(self.mean)}, {_fmt(self.std)}) clipped to [{_fmt(self.low)}, {_fmt(self.high)}]{rounded}"

    def as_dict(self) -> dict:
        """JSON-ready description."""

        def plain(v: tuple[float, ...]) -> float | list[float]:
            return v[0] if len(v) == 1 else list(v)

        out: dict = {"dist": self.kind, "low": plain(self.low), "high": plain(self.high)}
        if self.kind == "normal":
            out["mean"] = plain(self.mean)
            out["std"] = plain(self.std)
        if self.integer:
            out["integer"] = True
        out["text"] = self.describe()
        return out
