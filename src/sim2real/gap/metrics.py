"""Reality-gap metrics over replayed windows: prediction errors, divergence, distribution distances.

All functions take plain arrays, so they are tested on constructed signals with known answers:

- **RMSE** per joint and overall (all joints and samples pooled), positions [rad] and velocities
  [rad/s];
- **error growth**: the RMS position error (2-norm over joints) in bins of time since the window
  start, pooled over windows;
- **divergence rate** ``lambda`` [1/s]: the exponential fit of the error growth, which starts
  from zero at the window start: ``e(tau) = c * (exp(lambda * tau) - 1) / lambda`` (fitted to
  ``log e``); positive when sim and robot drift apart exponentially, about 0 for linear drift,
  negative when the error saturates;
- **divergence time** [s]: the first time since the window start at which the error growth curve
  passes a threshold (linear interpolation between bin centres; None if it never does), and the
  logged and simulated state where a window's error first passed it (the earliest such window);
- **distribution distances** per channel: the 1-Wasserstein distance (channel units) and the
  two-sample Kolmogorov-Smirnov statistic between simulated and logged values;
- **vector RMSE** (floating bases): the RMS of the error's Euclidean norm (base position [m],
  velocity [m/s]), and the same between a state estimate and the ground truth of one log.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp, wasserstein_distance

__all__ = [
    "DivergencePoint",
    "distribution_distances",
    "divergence_point",
    "divergence_rate",
    "divergence_time",
    "error_growth",
    "estimate_rmse",
    "rmse",
    "vector_rmse",
]


def rmse(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, float]:
    """Root-mean-square error per column and overall.

    Args:
        predicted: Shape (E, n).
        actual: Shape (E, n).

    Returns:
        (per column, shape (n,); overall over every entry).
    """
    err = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    if err.size == 0:
        return np.full(err.shape[-1] if err.ndim else 0, np.nan), float("nan")
    return np.sqrt(np.mean(err**2, axis=0)), float(np.sqrt(np.mean(err**2)))


def error_growth(
    tau: np.ndarray, error: np.ndarray, bins: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RMS error in bins of time since the window start.

    Args:
        tau: Time of each sample since its window start, shape (E,) [s].
        error: Error magnitude of each sample, shape (E,).
        bins: Number of equal bins over (0, max tau]; default min(20, E // 5) (at least 2).

    Returns:
        (mean time of the samples in each bin [s], RMS error per bin, samples per bin); empty
        bins are dropped.
    """
    tau = np.asarray(tau, dtype=float)
    error = np.asarray(error, dtype=float)
    if tau.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    bins = bins or int(np.clip(tau.size // 5, 2, 20))
    edges = np.linspace(0.0, float(tau.max()), bins + 1)
    which = np.clip(np.searchsorted(edges, tau, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    sq = np.bincount(which, weights=error**2, minlength=bins)
    at = np.bincount(which, weights=tau, minlength=bins)
    keep = count > 0
    return at[keep] / count[keep], np.sqrt(sq[keep] / count[keep]), count[keep]


def divergence_rate(centres: np.ndarray, growth: np.ndarray, counts: np.ndarray | None = None) -> float:
    """Exponential rate ``lambda`` [1/s] of an error growth curve.

    A replay starts from the logged state, so its error starts at zero and grows under a model
    error ``c``: ``de/dtau = lambda * e + c``, i.e. ``e(tau) = c * (exp(lambda * tau) - 1) / lambda``
    (linear growth ``c * tau`` when ``lambda = 0``; saturating when ``lambda < 0``).  ``c`` and
    ``lambda`` are fitted to ``log(error)`` by least squares, bins weighted by their sample
    counts; bins with zero error are left out.  NaN when fewer than 2 bins remain.
    """
    from scipy.optimize import least_squares

    centres = np.asarray(centres, dtype=float)
    growth = np.asarray(growth, dtype=float)
    w = np.ones_like(centres) if counts is None else np.asarray(counts, dtype=float)
    ok = (growth > 0) & np.isfinite(growth) & (centres > 0)
    if ok.sum() < 2:
        return float("nan")
    x, y, sw = centres[ok], np.log(growth[ok]), np.sqrt(w[ok] / w[ok].mean())
    span = float(x.max())

    def model(p: np.ndarray) -> np.ndarray:
        log_c, lam = p
        z = lam * x
        # log((exp(z) - 1) / lam) computed stably, including lam -> 0
        small = np.abs(z) < 1e-6
        g = np.where(
            small,
            np.log(x) + 0.5 * z,
            np.log(np.abs(np.expm1(np.where(small, 1.0, z))) / np.maximum(np.abs(lam), 1e-300)),
        )
        return log_c + g

    def residual(p: np.ndarray) -> np.ndarray:
        return sw * (model(p) - y)

    slope = np.polyfit(x, y, 1)[0] if x.size > 1 else 0.0
    best = None
    for lam0 in (0.0, float(slope), 5.0 / span):
        p0 = np.array([float(np.mean(y - model(np.array([0.0, lam0])))), lam0])
        fit = least_squares(residual, p0, bounds=([-np.inf, -50.0 / span], [np.inf, 50.0 / span]))
        if best is None or fit.cost < best.cost:
            best = fit
    return float(best.x[1])


def divergence_time(centres: np.ndarray, growth: np.ndarray, threshold: float) -> float | None:
    """First time [s] at which the error growth curve passes ``threshold`` (None if never).

    Linear interpolation between bin centres; the curve is taken as 0 at time 0.
    """
    x = np.concatenate([[0.0], np.asarray(centres, dtype=float)])
    y = np.concatenate([[0.0], np.asarray(growth, dtype=float)])
    above = np.flatnonzero(y > threshold)
    if above.size == 0:
        return None
    i = int(above[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0)) if y1 != y0 else float(x1)


@dataclass(frozen=True)
class DivergencePoint:
    """Where one window's error first passed the threshold (the earliest over windows)."""

    index: int
    """Evaluation sample index."""
    tau: float
    """Time since its window start [s]."""


def divergence_point(
    window: np.ndarray, tau: np.ndarray, error: np.ndarray, threshold: float
) -> DivergencePoint | None:
    """The sample where a window's error first passes the threshold, earliest in window time.

    Args:
        window: Window of each sample, shape (E,).
        tau: Time since the window start, shape (E,) [s].
        error: Error magnitude, shape (E,).
        threshold: Error threshold.
    """
    above = np.flatnonzero(np.asarray(error) > threshold)
    if above.size == 0:
        return None
    # first crossing per window, then the earliest of those in window time
    first = {}
    for i in above:
        w = int(window[i])
        if w not in first or tau[i] < tau[first[w]]:
            first[w] = int(i)
    best = min(first.values(), key=lambda i: (tau[i], i))
    return DivergencePoint(index=best, tau=float(tau[best]))


def distribution_distances(simulated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """1-Wasserstein distance and two-sample KS statistic between two samples of one channel."""
    simulated = np.asarray(simulated, dtype=float).ravel()
    real = np.asarray(real, dtype=float).ravel()
    if simulated.size == 0 or real.size == 0:
        return {"wasserstein": float("nan"), "ks": float("nan")}
    with warnings.catch_warnings():  # large samples: scipy falls back to the asymptotic method
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = float(ks_2samp(simulated, real).statistic)
    return {"wasserstein": float(wasserstein_distance(simulated, real)), "ks": ks}


def vector_rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """RMS of the Euclidean norm of the error of vectors, shapes (E, k) -> float (NaN when empty)."""
    err = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    if err.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean(np.sum(err**2, axis=-1))))


def estimate_rmse(
    t_estimate: np.ndarray, estimate: np.ndarray, t_truth: np.ndarray, truth: np.ndarray
) -> float:
    """Vector RMSE of an estimated signal against the truth interpolated at the estimate's times.

    Only estimate samples within the truth's time span count.

    Args:
        t_estimate: Estimate times, shape (K,) [s].
        estimate: Estimated vectors, shape (K, k).
        t_truth: Truth times, shape (T,) [s], increasing.
        truth: True vectors, shape (T, k).
    """
    t_estimate = np.asarray(t_estimate, dtype=float)
    inside = (t_estimate >= t_truth[0] - 1e-9) & (t_estimate <= t_truth[-1] + 1e-9)
    if not inside.any():
        return float("nan")
    ref = np.stack(
        [np.interp(t_estimate[inside], t_truth, col) for col in np.asarray(truth, dtype=float).T], axis=1
    )
    return vector_rmse(np.asarray(estimate, dtype=float)[inside], ref)
