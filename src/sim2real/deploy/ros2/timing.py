"""Deadline bookkeeping of a periodic ROS 2 timer: rate, missed deadlines, latency percentiles."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LoopTiming"]


class LoopTiming:
    """Deadline bookkeeping of a periodic timer (drift-free releases ``first + k * period``).

    Latency of a tick: from its release to the end of its work (command published).  A tick misses
    its deadline when it ends more than one period after its release; a release that got no tick
    at all (the timer skipped it because the previous one ran late) counts as a missed deadline too.

    Args:
        period: Timer period [s].
        first_release: Time of the first release [s] (``time.monotonic`` clock).
        keep: Number of latencies kept for the percentiles.
    """

    def __init__(self, period: float, first_release: float, keep: int = 200_000) -> None:
        self.period = float(period)
        self.first_release = float(first_release)
        self.ticks = 0
        self.missed = 0
        self.skipped = 0
        self._last_k = -1
        self._lat = np.zeros(keep)
        self._compute = np.zeros(keep)
        self._keep = keep

    def record(self, start: float, end: float, release: float | None = None) -> float:
        """Account one tick; returns its latency [s].

        Args:
            start: When the tick's callback started [s].
            end: When it finished [s].
            release: The timer's scheduled time of this call, when the executor tells it (rclpy's
                EventsExecutor passes a TimerInfo); None: the latest release of the grid at or
                before ``start`` (a second tick in one period counts for that period).
        """
        if release is not None:
            if self.ticks == 0:
                self.first_release = float(release)
            k = round((release - self.first_release) / self.period)
        else:
            k = max(math.floor((start - self.first_release + 50e-6) / self.period), self._last_k, 0)
            release = self.first_release + k * self.period
        if self._last_k >= 0 and k > self._last_k + 1:
            self.skipped += k - self._last_k - 1
        self._last_k = max(self._last_k, k)
        latency = end - release
        if latency > self.period:
            self.missed += 1
        i = self.ticks % self._keep
        self._lat[i] = latency
        self._compute[i] = end - start
        self.ticks += 1
        return latency

    def summary(self, last: int | None = None) -> dict[str, float | int]:
        """``target_hz``, ``achieved_hz``, ``missed_deadlines`` (late + skipped), latency percentiles [µs].

        Args:
            last: Latency percentiles over the last ``last`` ticks only (cheap, for periodic
                diagnostics); None: over the whole run (up to ``keep`` ticks).
        """
        n = min(self.ticks, self._keep)
        if last is not None and n > last:
            end = self.ticks % self._keep if self.ticks > self._keep else n
            index = np.arange(end - last, end) % self._keep
            lat, comp = self._lat[index] * 1e6, self._compute[index] * 1e6
        else:
            lat, comp = self._lat[:n] * 1e6, self._compute[:n] * 1e6
        # ticks per second of the timer's releases the run covered (first release .. last tick's):
        # the target rate times the fraction of releases that got a tick
        releases = self._last_k + 1
        achieved = self.ticks / (releases * self.period) if releases > 0 else 0.0
        return {
            "target_hz": 1.0 / self.period,
            "achieved_hz": achieved,
            "ticks": self.ticks,
            "missed_deadlines": self.missed + self.skipped,
            "late_ticks": self.missed,
            "skipped_ticks": self.skipped,
            "p50_loop_latency_us": float(np.percentile(lat, 50)) if n else math.nan,
            "p99_loop_latency_us": float(np.percentile(lat, 99)) if n else math.nan,
            "max_loop_latency_us": float(lat.max()) if n else math.nan,
            "p99_tick_compute_us": float(np.percentile(comp, 99)) if n else math.nan,
        }
