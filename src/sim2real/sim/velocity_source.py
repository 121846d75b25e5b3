"""Where a replay window's initial velocities come from: a log's velocity column or its positions.

A log's velocity column and the slope of its positions are two measurements of the same velocity,
each with its own error.  Real velocity columns can be far noisier than the positions (the DFKI
pendulum's differ from the positions' slope by 0.45 rad/s RMS in ``energy_shaping.csv`` and
2 rad/s in ``pd_excitation.csv``); real positions can be far noisier than a drive's velocity
(a coarse encoder, a noisy ADC) while the drive filters its velocity estimate.  ``"auto"`` picks
the better one from the log itself:

- the disagreement ``d`` (RMS of column minus slope) holds both errors: ``d^2 = e_col^2 + e_fit^2``
  when they are independent;
- the slope's own error ``e_fit`` follows from the scatter of the positions about their local
  quadratic fit (least squares: the slope's variance is ``sigma^2 [(A^T A)^-1]_11``);
- so the column's error is ``e_col = sqrt(d^2 - e_fit^2)``, and the windows start from the slope
  only when the column is the worse of the two and off by more than :data:`AUTO_TOLERANCE` of the
  motion (an absolute figure when the positions barely move).

Where the fit has no samples to spare (a log at three samples per fit window) the slope's error is
unknown and taken as zero: the column is then judged by the disagreement alone.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

AUTO_TOLERANCE = 0.1
"""velocity="auto" keeps a log's velocity column unless its own error (module docstring) exceeds
this share of the positions' slope RMS, and the slope's error."""

_MAX_JUDGED = 20_000
"""Samples the decision looks at (evenly spread over the log): the fit costs memory per sample."""

__all__ = ["AUTO_TOLERANCE", "choose_velocity_source", "local_fit", "local_slope"]


def local_fit(
    t: np.ndarray, q: np.ndarray, index: np.ndarray, half_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Slope at ``t[i]`` of a quadratic least-squares fit to ``q`` over the samples within about
    +-``half_width`` seconds (the same number of samples either side, at least one; shifted
    inwards at the ends of the log), and that slope's standard error, for every ``i`` in ``index``.

    Args:
        t: Sample times, shape (T,) [s].
        q: Samples, shape (T, n).
        index: Samples to estimate the slope at, shape (K,).
        half_width: Half-width of the fit [s].

    Returns:
        Slopes, shape (K, n) [unit of q / s], and their standard errors from the fit's residuals,
        shape (K, n) (zero where the fit has no residual degrees of freedom: three samples).
    """
    index = np.asarray(index, dtype=np.int64)
    T = t.size
    if T < 3:
        slope = np.repeat(((q[-1] - q[0]) / max(t[-1] - t[0], 1e-12))[None], index.size, axis=0)
        return slope, np.zeros_like(slope)
    h = float(np.median(np.diff(t)))
    k = int(np.clip(round(half_width / h) if h > 0 else 1, 1, (T - 1) // 2))
    lo = np.clip(index - k, 0, T - 2 * k - 1)
    rows = lo[:, None] + np.arange(2 * k + 1)[None, :]
    x = t[rows] - t[index][:, None]
    A = np.stack([np.ones_like(x), x, x * x], axis=2)  # (K, S, 3)
    AtA = np.einsum("ksi,ksj->kij", A, A) + 1e-18 * np.eye(3)
    qs = q[rows]  # (K, S, n)
    coef = np.linalg.solve(AtA, np.einsum("ksi,ksn->kin", A, qs))
    dof = rows.shape[1] - 3
    if dof <= 0:
        return coef[:, 1, :], np.zeros_like(coef[:, 1, :])
    resid = qs - np.einsum("ksi,kin->ksn", A, coef)
    sigma2 = np.sum(resid**2, axis=1) / dof  # (K, n)
    inv11 = np.linalg.inv(AtA)[:, 1, 1]  # (K,)
    return coef[:, 1, :], np.sqrt(np.maximum(sigma2 * inv11[:, None], 0.0))


def local_slope(t: np.ndarray, q: np.ndarray, index: np.ndarray, half_width: float) -> np.ndarray:
    """The slope of :func:`local_fit` alone, shape (K, n)."""
    return local_fit(t, q, index, half_width)[0]


def choose_velocity_source(
    t: np.ndarray, q: np.ndarray, qd: np.ndarray, velocity: str, half_width: float, name: str
) -> str:
    """Where a log's window velocities come from, ``"log"`` or ``"fd"``, deciding ``"auto"``.

    Args:
        t: Sample times, shape (T,) [s].
        q: Joint positions, shape (T, n) [rad or m].
        qd: The log's velocity column, shape (T, n) [rad/s or m/s].
        velocity: "auto", "log" or "fd"; the last two are returned as they are.
        half_width: Half-width of the local fit [s].
        name: The log's name, for the INFO line that reports a decision for the slope.
    """
    if velocity != "auto":
        return velocity
    index = np.unique(np.linspace(0, t.size - 1, min(t.size, _MAX_JUDGED)).astype(np.int64))
    slope, err = local_fit(t, q, index, half_width)
    diff, size, fit = (float(np.sqrt(np.mean(x**2))) for x in (qd[index] - slope, slope, err))
    column = float(np.sqrt(max(diff**2 - fit**2, 0.0)))
    if column > max(AUTO_TOLERANCE * max(size, 1e-9), fit):
        by = (
            f"{100 * diff / size:.0f}% RMS"
            if size > 0.05
            else f"{diff:.3g} rad/s RMS (the positions barely move)"
        )
        log.info(
            "%s: velocity column differs from the positions' slope by %s (the slope's own error: %.3g): "
            "windows start from the slope",
            name,
            by,
            fit,
        )
        return "fd"
    if diff > AUTO_TOLERANCE * max(size, 1e-9):
        log.info(
            "%s: velocity column differs from the positions' slope by %.3g RMS, no more than the slope's "
            "own error (%.3g, noisy positions): windows start from the column",
            name,
            diff,
            fit,
        )
    return "log"
