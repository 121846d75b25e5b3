"""Matplotlib figures of the reports, each a pure function of arrays returning a Figure.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg backend (no pyplot state, no
window), so they are safe in worker threads and on machines without a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "correlation_figure",
    "error_growth_figure",
    "failure_figure",
    "heatmap_figure",
    "histogram_figure",
    "overlay_figure",
    "residual_figure",
]

SIM = "#d9480f"
"""Colour of simulated data."""
REAL = "#1c2530"
"""Colour of measured (robot) data."""
_WIDTH = 10.0
"""Figure width [in]."""
MAX_FAILURE_CHANNELS = 12
"""Channels a failed episode's figure plots at most: those with the largest error / threshold (a
29-joint humanoid's replay has 87 channels, whose legend would fill the figure)."""


def new_figure(width: float = _WIDTH, height: float = 4.0) -> Figure:
    """An empty figure on the Agg backend with constrained layout."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _segments(x: np.ndarray, y: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaN between consecutive groups so a line plot breaks there."""
    breaks = np.flatnonzero(np.diff(group) != 0) + 1
    return np.insert(x.astype(float), breaks, np.nan), np.insert(y.astype(float), breaks, np.nan)


def overlay_figure(
    t: np.ndarray,
    real: Mapping[str, np.ndarray],
    sim: Mapping[str, np.ndarray],
    window: np.ndarray | None = None,
    *,
    units: Mapping[str, str] | None = None,
    title: str = "Simulated and measured trajectories",
    starts: np.ndarray | None = None,
) -> Figure:
    """Measured and simulated channels over time, one panel per channel.

    Args:
        t: Sample times, shape (E,) [s].
        real: Channel label -> measured values, shape (E,).
        sim: Channel label -> simulated values, shape (E,) (same labels as ``real``).
        window: Replay window of each sample, shape (E,): the simulated line breaks between windows.
        units: Channel label -> unit for the y label.
        title: Figure title.
        starts: Window start times to mark [s].
    """
    labels = list(real)
    n = len(labels)
    cols = 2 if n > 3 else 1
    rows = int(np.ceil(n / cols))
    fig = new_figure(_WIDTH, max(2.4, 2.0 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, squeeze=False)).ravel()
    t = np.asarray(t, dtype=float)
    group = np.zeros(t.size, dtype=int) if window is None else np.asarray(window)
    for ax, label in zip(axes, labels, strict=False):
        ax.plot(t, real[label], color=REAL, lw=1.2, label="measured")
        ts, ys = _segments(t, np.asarray(sim[label]), group)
        ax.plot(ts, ys, color=SIM, lw=1.2, ls="--", label="simulated")
        if starts is not None and len(starts) <= 60:
            for s in starts:
                ax.axvline(s, color="#adb5bd", lw=0.5, zorder=0)
        unit = (units or {}).get(label)
        ax.set_ylabel(f"{label} [{unit}]" if unit else label)
        ax.grid(alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[max(0, n - cols) : n]:
        ax.set_xlabel("time [s]")
    axes[0].legend(loc="upper right", fontsize="small")
    fig.suptitle(title)
    return fig


def error_growth_figure(
    centres: np.ndarray,
    growth: np.ndarray,
    *,
    threshold: float,
    rate: float | None,
    divergence_time: float | None,
    tau: np.ndarray | None = None,
    error: np.ndarray | None = None,
    unit: str = "rad",
) -> Figure:
    """RMS position error against time since the window start, with threshold and exponential fit.

    Args:
        centres: Bin times since the window start, shape (B,) [s].
        growth: RMS error per bin, shape (B,).
        threshold: Divergence threshold (same unit as ``growth``).
        rate: Fitted divergence rate [1/s] (None/NaN: no fit drawn).
        divergence_time: Time the curve passes the threshold [s], or None.
        tau: Per-sample times since window start, shape (E,) [s] (scatter, optional).
        error: Per-sample error, shape (E,) (scatter, optional).
        unit: Unit of the error.
    """
    fig = new_figure(_WIDTH * 0.75, 3.8)
    ax: Axes = fig.subplots()
    if tau is not None and error is not None and len(tau):
        step = max(1, len(tau) // 4000)
        ax.scatter(tau[::step], error[::step], s=3, color="#adb5bd", alpha=0.5, label="samples", zorder=1)
    ax.plot(centres, growth, "o-", color=REAL, ms=4, label="RMS error per bin", zorder=3)
    if rate is not None and np.isfinite(rate):
        ok = (growth > 0) & (centres > 0)
        if ok.sum() >= 2:
            x = np.linspace(0.0, float(centres.max()), 200)[1:]
            shape = x if abs(rate) < 1e-9 else np.expm1(rate * x) / rate
            at = centres[ok] if abs(rate) < 1e-9 else np.expm1(rate * centres[ok]) / rate
            c = float(np.exp(np.mean(np.log(growth[ok]) - np.log(np.abs(at)))))
            ax.plot(x, c * shape, color=SIM, lw=1.5, label=f"exponential fit, λ = {rate:.3g} 1/s", zorder=2)
    ax.axhline(threshold, color="#868e96", ls=":", label=f"threshold {threshold:g} {unit}")
    if divergence_time is not None:
        ax.axvline(divergence_time, color=SIM, ls=":", lw=1)
        ax.annotate(
            f"passes at {divergence_time:.3g} s",
            (divergence_time, threshold),
            xytext=(6, 8),
            textcoords="offset points",
            fontsize="small",
            color=SIM,
        )
    top = max(float(np.nanmax(growth)) if len(growth) else 0.0, threshold) * 1.3
    ax.set_ylim(0, top)
    ax.set_xlabel("time since window start [s]")
    ax.set_ylabel(f"position error (2-norm over joints) [{unit}]")
    ax.set_title("Error growth")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    return fig


def histogram_figure(
    channels: Mapping[str, tuple[np.ndarray, np.ndarray]],
    distances: Mapping[str, Mapping[str, float]] | None = None,
    *,
    units: Mapping[str, str] | None = None,
    bins: int = 40,
    title: str = "Simulated and measured distributions",
) -> Figure:
    """Histograms of simulated and measured values per channel.

    Args:
        channels: Channel label -> (simulated values, measured values), each shape (E,).
        distances: Channel label -> {"wasserstein", "ks"} shown in each panel's title.
        units: Channel label -> unit for the x label.
        bins: Histogram bins.
        title: Figure title.
    """
    labels = list(channels)
    cols = min(3, max(1, len(labels)))
    rows = int(np.ceil(len(labels) / cols))
    fig = new_figure(_WIDTH, 2.5 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, label in zip(axes, labels, strict=False):
        s, r = (np.asarray(a, dtype=float) for a in channels[label])
        s, r = s[np.isfinite(s)], r[np.isfinite(r)]
        both = np.concatenate([s, r])
        if both.size == 0:
            ax.set_visible(False)
            continue
        lo, hi = np.percentile(both, [0.5, 99.5])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(r, bins=edges, density=True, color=REAL, alpha=0.45, label="measured")
        ax.hist(s, bins=edges, density=True, histtype="step", color=SIM, lw=1.6, label="simulated")
        d = (distances or {}).get(label)
        name = label
        if d:
            name += f"\nW = {d['wasserstein']:.3g}, KS = {d['ks']:.2f}"
        ax.set_title(name, fontsize="small")
        unit = (units or {}).get(label)
        ax.set_xlabel(f"value [{unit}]" if unit else "value")
        ax.set_yticks([])
    for ax in axes[len(labels) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize="x-small")
    fig.suptitle(title)
    return fig


def residual_figure(
    t: np.ndarray,
    residuals: Mapping[str, np.ndarray],
    group: np.ndarray | None = None,
    *,
    units: Mapping[str, str] | None = None,
    title: str = "Residuals over time",
) -> Figure:
    """Residuals (simulated minus measured) over time, one panel per channel, with a zero line.

    Args:
        t: Sample times, shape (E,) [s].
        residuals: Channel label -> residual, shape (E,).
        group: Log (or window) of each sample, shape (E,): lines break between groups.
        units: Channel label -> unit.
        title: Figure title.
    """
    labels = list(residuals)
    fig = new_figure(_WIDTH, 1.9 * len(labels) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(labels), 1, sharex=True, squeeze=False)).ravel()
    grp = np.zeros(len(t), dtype=int) if group is None else np.asarray(group)
    for ax, label in zip(axes, labels, strict=True):
        r = np.asarray(residuals[label], dtype=float)
        ts, rs = _segments(np.asarray(t), r, grp)
        ax.plot(ts, rs, color=SIM, lw=0.8)
        ax.axhline(0.0, color=REAL, lw=0.6)
        rms = float(np.sqrt(np.nanmean(r**2))) if r.size else float("nan")
        unit = (units or {}).get(label)
        ax.set_ylabel(f"{label}\n[{unit}]" if unit else label, fontsize="small")
        ax.text(0.99, 0.92, f"RMS {rms:.3g}", transform=ax.transAxes, ha="right", va="top", fontsize="small")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [s]")
    fig.suptitle(title)
    return fig


def correlation_figure(labels: Sequence[str], corr: np.ndarray) -> Figure:
    """Parameter correlation matrix as a diverging colour map with values in the cells.

    Args:
        labels: Parameter (coordinate) names, length p.
        corr: Correlation matrix, shape (p, p), entries in [-1, 1].
    """
    p = len(labels)
    size = min(9.0, 2.5 + 0.55 * p)
    fig = new_figure(size + 1.5, size)
    ax: Axes = fig.subplots()
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(p), labels, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(p), labels, fontsize="small")
    if p <= 14:
        for i in range(p):
            for j in range(p):
                v = corr[i, j]
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize="x-small",
                    color="white" if abs(v) > 0.6 else "black",
                )
    fig.colorbar(im, ax=ax, label="correlation", shrink=0.8)
    ax.set_title("Parameter correlation (from the fit's Jacobian)")
    return fig


def heatmap_figure(
    values: np.ndarray,
    axes: Sequence[tuple[str, np.ndarray, str]],
    *,
    title: str = "Success rate over the parameter grid",
    nominal: Mapping[str, float] | None = None,
) -> Figure:
    """Success rate per grid cell: a heat map (2 axes) or a bar chart with markers (1 axis).

    Args:
        values: Success rate per cell in [0, 1], shape (n1,) or (n1, n2).
        axes: Per grid axis (name, values, unit).
        title: Figure title.
        nominal: Axis name -> nominal value, marked on the plot.
    """
    values = np.asarray(values, dtype=float)
    nominal = nominal or {}

    def fmt(v: float) -> str:
        return f"{v:.3g}"

    def label(name: str, unit: str) -> str:
        return f"{name} [{unit}]" if unit else name

    if values.ndim == 1:
        (name, xs, unit) = axes[0]
        fig = new_figure(_WIDTH * 0.7, 3.6)
        ax: Axes = fig.subplots()
        pos = np.arange(len(xs))
        bars = ax.bar(pos, values, color=[_rate_colour(v) for v in values], edgecolor=REAL, lw=0.5)
        ax.bar_label(bars, [f"{v:.0%}" for v in values], fontsize="small")
        ax.set_xticks(pos, [fmt(x) for x in xs])
        ax.set_ylim(0, 1.12)
        ax.set_xlabel(label(name, unit))
        ax.set_ylabel("success rate")
        if name in nominal:
            ax.axvline(np.interp(nominal[name], xs, pos), color="#1f5fa8", ls="--", lw=1, label="nominal")
            ax.legend(fontsize="small")
        ax.set_title(title)
        return fig
    (yname, ys, yunit), (xname, xs, xunit) = axes[0], axes[1]
    fig = new_figure(_WIDTH * 0.75, 5.0)
    ax = fig.subplots()
    im = ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), [fmt(x) for x in xs])
    ax.set_yticks(range(len(ys)), [fmt(y) for y in ys])
    ax.set_xlabel(label(xname, xunit))
    ax.set_ylabel(label(yname, yunit))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                "–" if np.isnan(v) else f"{v:.0%}",
                ha="center",
                va="center",
                fontsize="small",
                color="white" if (v < 0.25 or v > 0.85) else "black",
            )
    if xname in nominal and yname in nominal:
        xn = np.interp(nominal[xname], xs, np.arange(len(xs)))
        yn = np.interp(nominal[yname], ys, np.arange(len(ys)))
        ax.plot([xn], [yn], marker="*", ms=16, color="#1f5fa8", mec="white", ls="none", label="nominal")
        ax.legend(fontsize="small", loc="upper right", framealpha=0.8)
    fig.colorbar(im, ax=ax, label="success rate", format=lambda v, _: f"{v:.0%}")
    ax.set_title(title)
    return fig


def _rate_colour(v: float) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    return colormaps["RdYlGn"](0.0 if np.isnan(v) else float(v))


def failure_figure(
    t: np.ndarray,
    errors: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    *,
    divergence_t: float | None,
    end_t: float | None = None,
    title: str = "Failed episode: channel errors",
) -> Figure:
    """Per-channel error, normalized by its threshold, over one episode: the
    :data:`MAX_FAILURE_CHANNELS` channels with the largest peak, largest first (the title says how
    many of how many when there are more).

    Args:
        t: Sample times, shape (E,) [s].
        errors: Channel -> absolute error (simulated minus measured), shape (E,).
        thresholds: Channel -> threshold (channel units); the plot shows error / threshold.
        divergence_t: Time of the divergence point [s] (marked).
        end_t: Time the episode failed [s] (marked).
        title: Figure title.
    """
    fig = new_figure(_WIDTH * 0.8, 3.6)
    ax: Axes = fig.subplots()
    normalized = {name: np.abs(e) / thresholds[name] for name, e in errors.items()}
    peak = {
        name: float(np.nanmax(v)) if v.size and np.isfinite(v).any() else 0.0
        for name, v in normalized.items()
    }
    shown = sorted(normalized, key=lambda name: -peak[name])[:MAX_FAILURE_CHANNELS]
    for name in shown:
        ax.plot(t, normalized[name], lw=1.1, label=name)
    ax.axhline(1.0, color="#868e96", ls=":", label="threshold")
    if divergence_t is not None:
        ax.axvline(divergence_t, color=SIM, ls="--", lw=1, label="divergence point")
    if end_t is not None:
        ax.axvline(end_t, color=REAL, ls="-.", lw=1, label="failure")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("|error| / threshold")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2, loc="upper left")
    if len(shown) < len(errors):
        title += f" ({len(shown)} of {len(errors)} channels, the largest errors)"
    ax.set_title(title)
    return fig
