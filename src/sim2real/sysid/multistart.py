"""Multi-start identification: the fit from several start points, the best kept, the spread told.

A least-squares fit finds the minimum its start point leads to.  ``identify(..., starts=N)`` fits
from the nominal start (the model's values after the delay scan, or the user's ``start``) and from
N - 1 points drawn uniformly inside the parameters' plausible bounds by a generator seeded with
``seed`` (drawn before any run, so every executor tries the same points).  Each start is one run,
:func:`~sim2real.sysid.identify.fit_start`, a pure function of its :class:`StartJob` that may run
in this process, in worker processes or on a Ray cluster (:mod:`sim2real.parallel`) with identical
results.  The starts are then ranked by one common robust cost (the same loss scale and equal log
weights for all, so a start cannot look better by down-weighting the logs it fits badly), the best
is kept, and the spread is reported: how many starts converged to the best (every fitted value
within ``tolerance`` of its plausible range).  All of them converging is a sign of a well-posed
problem; several distinct minima of similar cost mean the logs do not pin the parameters down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.logs.trajectory import Trajectory
from sim2real.robots.spec import RobotSpec
from sim2real.sysid.problem import Coords

__all__ = ["MultiStart", "StartFit", "StartJob", "converged_to", "draw_starts", "starts_report"]


@dataclass(frozen=True, eq=False)
class StartJob:
    """Everything one start's fit needs (picklable: it travels to worker processes and Ray nodes)."""

    spec: RobotSpec
    """The robot."""
    trajectories: tuple[Trajectory, ...]
    """The logs."""
    model: mujoco.MjModel
    """The compiled model the logs are replayed on (no model file is read where the run executes)."""
    fitted: tuple[str, ...]
    """Full names of the fitted parameters."""
    config: Any
    """The :class:`~sim2real.sysid.identify.IdentifyConfig`."""
    names: Sequence[str] | None
    """A name per log."""
    bounds: Mapping[str, tuple] | None
    """Bounds by full parameter name replacing the spec's."""
    base: Mapping[str, np.ndarray]
    """Values the fit holds unidentifiable parameters at (the nominal start), by name."""
    index: int = 0
    """Which start (0: the nominal start)."""
    start: np.ndarray | None = None
    """Start point in scaled coordinates, shape (P,)."""


@dataclass(frozen=True, eq=False)
class StartFit:
    """The result of one start's fit."""

    index: int
    """Which start (0: the nominal start)."""
    start: np.ndarray
    """Start point, scaled coordinates, shape (P,)."""
    x: np.ndarray
    """Fitted point, scaled coordinates, shape (P,)."""
    values: dict[str, np.ndarray]
    """Fitted values by parameter name (held ones at their base value)."""
    f_scale: float
    """Inlier scale of the robust loss this fit settled on."""
    weights: np.ndarray
    """Per-log weights of this fit, shape (n_logs,)."""
    held: dict[int, str]
    """Coordinates held as unidentifiable -> reason."""
    active: list[int]
    """Coordinates fitted."""
    nfev: int
    """Batched rollouts of this run."""
    seconds: float
    """Wall time of this run [s]."""
    cost: float = float("nan")
    """Common robust cost (set by the caller for every start with the same loss scale)."""


@dataclass(frozen=True, eq=False)
class MultiStart:
    """What ``identify(..., starts=N)`` reports about its starts."""

    seed: int
    """Seed of the random start points."""
    tolerance: float
    """A start converged to the best when every fitted value lies within this share of its
    plausible range of the best's."""
    best: int
    """Index of the start kept."""
    converged: tuple[bool, ...]
    """Per start: whether it converged to the best (the best included)."""
    fits: tuple[StartFit, ...] = field(default=())
    """Every start's fit, by index."""
    labels: tuple[str, ...] = ()
    """Name of each scaled coordinate."""
    scale: np.ndarray | None = None
    """Scale of each coordinate (value = scaled coordinate x scale), shape (P,)."""

    @property
    def n(self) -> int:
        """Number of starts."""
        return len(self.fits)

    @property
    def n_converged(self) -> int:
        """Starts that converged to the best (the best included)."""
        return int(sum(self.converged))

    def as_dict(self) -> dict:
        """JSON-ready: counts, and per start its start point, fitted values, cost and verdict."""
        scale = self.scale if self.scale is not None else np.ones(len(self.labels))

        def named(z: np.ndarray) -> dict[str, float]:
            return {label: float(v) for label, v in zip(self.labels, z * scale, strict=True)}

        best_cost = self.fits[self.best].cost
        return {
            "n": self.n,
            "seed": self.seed,
            "best": self.best,
            "converged": self.n_converged,
            "tolerance": self.tolerance,
            "runs": [
                {
                    "index": f.index,
                    "start": named(f.start),
                    "values": named(f.x),
                    "cost": f.cost,
                    "cost_ratio": f.cost / best_cost if best_cost > 0 else None,
                    "converged": bool(self.converged[f.index]),
                    "held": [self.labels[i] for i in sorted(f.held)],
                    "nfev": f.nfev,
                    "seconds": round(f.seconds, 3),
                }
                for f in self.fits
            ],
        }


def draw_starts(coords: Coords, n: int, seed: int) -> list[np.ndarray]:
    """The start points: the current values (the nominal start), then ``n - 1`` points drawn
    uniformly inside the coordinates' bounds by ``np.random.default_rng(seed)``.

    Returns:
        ``n`` points in scaled coordinates, each shape (P,).
    """
    if n < 1:
        raise Sim2RealError(f"starts must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    points = [coords.get()]
    for _ in range(n - 1):
        points.append(coords.lo + rng.uniform(size=coords.size) * (coords.hi - coords.lo))
    return points


def converged_to(fit: StartFit, best: StartFit, coords: Coords, tolerance: float) -> bool:
    """Whether ``fit`` ended within ``tolerance`` of each coordinate's plausible range of ``best``
    (on every coordinate the best fitted; held ones sit at the same base value in both)."""
    span = coords.hi - coords.lo
    active = np.asarray(best.active, dtype=int)
    if active.size == 0:
        return True
    return bool(np.all(np.abs(fit.x[active] - best.x[active]) <= tolerance * span[active] + 1e-12))


def starts_report(fits: Sequence[StartFit], coords: Coords, seed: int, tolerance: float) -> MultiStart:
    """Rank the starts by their common cost (ties: the lower index) and tell which converged to the best."""
    costs = np.array([f.cost for f in fits])
    best = int(np.argmin(np.where(np.isfinite(costs), costs, np.inf)))
    return MultiStart(
        seed=int(seed),
        tolerance=float(tolerance),
        best=best,
        converged=tuple(converged_to(f, fits[best], coords, tolerance) for f in fits),
        fits=tuple(fits),
        labels=tuple(coords.label(i) for i in range(coords.size)),
        scale=coords.scale.copy(),
    )
