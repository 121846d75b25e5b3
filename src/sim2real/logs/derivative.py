"""Velocities from sampled positions, for logs that record angles only.

Method (stated in a trajectory's ``meta["qd_source"]`` whenever it is used): second-order central
differences on the actual, possibly irregular, timestamps (``numpy.gradient(q, t)``; one-sided
first-order differences at the two ends), optionally followed by a centered moving average over
an odd number of samples. The moving average has no phase lag but, at window ``w`` and sample
period ``h``, attenuates content above roughly ``1 / (w h)`` Hz; encoder quantization noise in a
raw central difference is about ``resolution / (2 h)``.
"""

from __future__ import annotations

import numpy as np

from sim2real.errors import LogError

__all__ = ["central_difference", "describe_method"]


def central_difference(t: np.ndarray, q: np.ndarray, smooth_window: int = 1) -> np.ndarray:
    """Time derivative of ``q`` by central differences, optionally smoothed.

    Args:
        t: Sample times, shape (T,) [s], strictly increasing.
        q: Samples, shape (T, n) (e.g. [rad]).
        smooth_window: Odd width (in samples) of the centered moving average applied to the
            differences; 1 means no smoothing. Near the ends the window shrinks symmetrically.

    Returns:
        Derivative, shape (T, n) (e.g. [rad/s]).
    """
    t = np.asarray(t, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2 or t.shape != (q.shape[0],):
        raise LogError(f"central_difference: need t (T,) and q (T, n), got {t.shape} and {q.shape}")
    if smooth_window < 1 or smooth_window % 2 == 0:
        raise LogError(
            f"central_difference: smooth_window must be a positive odd number, got {smooth_window}"
        )
    if t.size < 2:
        raise LogError(f"central_difference: need at least 2 samples to differentiate, got {t.size}")
    steps = np.diff(t)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise LogError(
            f"central_difference: times must be strictly increasing to differentiate, but "
            f"t[{i}]={float(t[i])!r} and t[{i + 1}]={float(t[i + 1])!r}"
        )
    qd = np.gradient(q, t, axis=0, edge_order=1)
    if smooth_window > 1:
        qd = _centered_mean(qd, smooth_window)
    return qd


def _centered_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Centered moving average along axis 0; the window shrinks symmetrically at the ends."""
    n = x.shape[0]
    half = window // 2
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    idx = np.arange(n)
    radius = np.minimum(np.minimum(idx, n - 1 - idx), half)
    lo, hi = idx - radius, idx + radius + 1
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def describe_method(smooth_window: int) -> str:
    """One-line description of :func:`central_difference` with this window, for ``meta``."""
    text = "central differences on the timestamps (numpy.gradient, one-sided at the ends)"
    if smooth_window > 1:
        text += f", then a centered moving average over {smooth_window} samples"
    return text
