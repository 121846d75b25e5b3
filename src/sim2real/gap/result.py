"""What a gap measurement returns: :class:`GapResult` (metrics of logs under one model) and the
failed episodes it may carry (:class:`FailureAnalysis`, :class:`ChannelCrossing`).

Produced by :mod:`sim2real.gap.core` (measurement) and :mod:`sim2real.gap.failure` (failure
analysis); read by reports and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim2real.sim.replay import Windows

__all__ = ["DEFAULT_THRESHOLD", "ChannelCrossing", "FailureAnalysis", "GapResult"]

DEFAULT_THRESHOLD = 0.1
"""Position error [rad] (2-norm over joints) that counts as diverged."""


@dataclass(frozen=True)
class ChannelCrossing:
    """When one channel's error first passed its threshold."""

    channel: str
    """Channel name, e.g. ``hinge.position``."""
    t: float
    """Time of the first sample past the threshold [s] (log clock)."""
    threshold: float
    """The channel's threshold (channel units)."""
    error: float
    """Absolute error at that sample (channel units)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"channel": self.channel, "t": self.t, "threshold": self.threshold, "error": self.error}


@dataclass(frozen=True, eq=False)
class FailureAnalysis:
    """One failed episode."""

    log: str
    """The log's name."""
    episode: int
    """Episode index in the log, from 0."""
    t_start: float
    """Episode start [s] (log clock)."""
    t_end: float
    """Episode end [s] (log clock): the safety stop, termination, or last sample."""
    reason: str
    """Why it failed: ``safety stop: ...``, ``terminated: <term>`` or ``success rule not met``."""
    divergence_t: float | None
    """Time the position error (2-norm) first passed the threshold [s] (log clock), or None."""
    divergence_state: dict[str, Any] | None
    """Logged and simulated joint state there (``q``, ``q_sim``, ``qd``, ``qd_sim``), or None."""
    first_channels: tuple[ChannelCrossing, ...]
    """Channels that passed their threshold, earliest first."""
    t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Compared sample times within the episode, shape (E,) [s]."""
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    """Channel -> simulated minus logged value at ``t``, shape (E,)."""
    thresholds: dict[str, float] = field(default_factory=dict)
    """Channel -> threshold (channel units)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (without the time series)."""
        return {
            "log": self.log,
            "episode": self.episode,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "reason": self.reason,
            "divergence_t": self.divergence_t,
            "divergence_after_s": None if self.divergence_t is None else self.divergence_t - self.t_start,
            "divergence_state": self.divergence_state,
            "first_diverged": [c.as_dict() for c in self.first_channels],
        }


@dataclass(frozen=True, eq=False)
class GapResult:
    """Gap metrics of one or more logs under one model."""

    horizon: float | None
    """Window length [s] (None: open-loop replay)."""
    joints: tuple[str, ...]
    """Joint names, in the order of the per-joint figures."""
    windows: int
    """Number of windows replayed."""
    samples: int
    """Number of log samples compared."""
    position_rmse: float
    """RMS position error over all joints and samples [rad]."""
    velocity_rmse: float
    """RMS velocity error over all joints and samples [rad/s]."""
    position_rmse_per_joint: dict[str, float]
    """RMS position error per joint [rad]."""
    velocity_rmse_per_joint: dict[str, float]
    """RMS velocity error per joint [rad/s]."""
    divergence_rate: float
    """Exponential rate of the error growth [1/s] (NaN if undefined)."""
    divergence_time_s: float | None
    """Time since window start at which the error growth passes the threshold [s] (None: never)."""
    threshold: float
    """Divergence threshold [rad]."""
    divergence_state: dict | None
    """Log, time, logged and simulated state where a window first passed the threshold."""
    growth: tuple[np.ndarray, np.ndarray]
    """(time since window start [s], RMS position error [rad]) per bin."""
    channels: dict[str, dict[str, float]]
    """Channel name -> {"wasserstein", "ks"} between simulated and logged values."""
    per_log: dict[str, dict] = field(default_factory=dict)
    """Log name -> {"position_rmse", "velocity_rmse", "samples", "velocity_source"}."""
    replay: Windows | None = None
    """The replay windows with the logged data at the evaluation samples (for figures), or None."""
    q_sim: np.ndarray | None = None
    """Simulated positions at the evaluation samples, shape (E, n) [rad], or None."""
    qd_sim: np.ndarray | None = None
    """Simulated velocities at the evaluation samples, shape (E, n) [rad/s], or None."""
    force_sim: np.ndarray | None = None
    """Simulated efforts of the actuated joints at the evaluation samples, shape (E, m) [N m], or None."""
    failures: tuple[FailureAnalysis, ...] = ()
    """Failed episodes of the log(s) with their divergence points (see :mod:`sim2real.gap.failure`)."""
    base_position_rmse: float | None = None
    """Floating base: RMS norm of the replayed base position's error [m] (None: fixed base)."""
    base_velocity_rmse: float | None = None
    """Floating base: RMS norm of the replayed base linear velocity's error [m/s] (None: fixed base)."""
    base_velocity_estimate_rmse: float | None = None
    """RMS norm of the error of the logged base velocity estimate against the logged ground truth
    [m/s] (base frame; None unless the log has both)."""

    def divergence_text(self, shown: int = 3) -> str | None:
        """Where a window first passed the threshold, for people: its time and log, and the logged
        and simulated positions of the ``shown`` joints farthest apart there, rounded (the JSON
        summary keeps every joint at full precision); None when no window passed it."""
        s = self.divergence_state
        if not s:
            return None
        q, q_sim = np.asarray(s["q"], dtype=float), np.asarray(s["q_sim"], dtype=float)
        apart = np.argsort(-np.abs(q_sim - q), kind="stable")[:shown]
        joints = ", ".join(f"{self.joints[k]} {q[k]:.4g} (sim {q_sim[k]:.4g})" for k in apart)
        which = f" (the {len(apart)} of {q.size} joints farthest apart)" if q.size > len(apart) else ""
        return f"first at t={s['t']:.3f} s of {s['log']}: q {joints}{which}"

    def summary(self) -> dict:
        """JSON-ready: position_rmse, velocity_rmse, divergence_rate, divergence_time_s, channels, ..."""
        rate = self.divergence_rate
        return {
            "position_rmse": self.position_rmse,
            "velocity_rmse": self.velocity_rmse,
            "divergence_rate": None if not np.isfinite(rate) else rate,
            "divergence_time_s": self.divergence_time_s,
            "channels": self.channels,
            "position_rmse_per_joint": self.position_rmse_per_joint,
            "velocity_rmse_per_joint": self.velocity_rmse_per_joint,
            "threshold": self.threshold,
            "divergence_state": self.divergence_state,
            "horizon": self.horizon,
            "windows": self.windows,
            "samples": self.samples,
            "per_log": self.per_log,
            "failures": [f.as_dict() for f in self.failures],
            "base_position_rmse": self.base_position_rmse,
            "base_velocity_rmse": self.base_velocity_rmse,
            "base_velocity_estimate_rmse": self.base_velocity_estimate_rmse,
        }
