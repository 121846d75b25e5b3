"""Report sections of the analysis results: reality gap, identification, transfer envelope.

Each ``add_*`` function appends one section (heading, text, tables, figures) to a
:class:`~sim2real.report.html.Report`.  They read the result objects only; figures they need data
for that a result does not carry (e.g. a result built by hand) are left out with a note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim2real.report import figures

if TYPE_CHECKING:
    from sim2real.gap.envelope import EnvelopeResult
    from sim2real.gap.result import FailureAnalysis, GapResult
    from sim2real.report.html import Report
    from sim2real.sim.replay import Windows
    from sim2real.sysid.identify import Identification

__all__ = ["add_envelope", "add_failures", "add_gap", "add_identification"]

OVERLAY_SECONDS = 40.0
"""Longest stretch of a log drawn in a trajectory overlay [s]."""
MAX_FAILURE_FIGURES = 3
"""Failed episodes drawn (all are listed in the table)."""


def _first_log(w: Windows) -> tuple[np.ndarray, str]:
    """Evaluation samples of the first log within its first ``OVERLAY_SECONDS``, sorted by time."""
    sel = np.flatnonzero(w.eval_log == 0)
    t = w.t0[w.eval_window[sel]] + w.eval_tau[sel]
    keep = t <= t.min() + OVERLAY_SECONDS if t.size else np.zeros(0, dtype=bool)
    sel = sel[keep]
    order = np.lexsort((w.eval_tau[sel], w.eval_window[sel]))
    return sel[order], w.names[0]


def _overlay(
    rep: Report, w: Windows, q_sim: np.ndarray, qd_sim: np.ndarray, joints: tuple[str, ...], what: str
) -> None:
    idx, name = _first_log(w)
    if idx.size == 0:
        return
    t = w.t0[w.eval_window[idx]] + w.eval_tau[idx]
    real: dict[str, np.ndarray] = {}
    sim: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for j, joint in enumerate(joints):
        real[f"{joint} position"], sim[f"{joint} position"] = w.q[idx, j], q_sim[idx, j]
        real[f"{joint} velocity"], sim[f"{joint} velocity"] = w.qd[idx, j], qd_sim[idx, j]
        units[f"{joint} position"], units[f"{joint} velocity"] = "rad", "rad/s"
    mode = (
        "one open-loop replay" if w.horizon is None else f"windows of {w.horizon:g} s from the logged state"
    )
    starts = None if w.horizon is None else np.unique(w.t0[w.eval_window[idx]])
    fig = figures.overlay_figure(
        t, real, sim, w.eval_window[idx], units=units, starts=starts, title=f"{what}: {name}"
    )
    span = float(t.max() - t.min())
    rep.figure(
        fig,
        f"Measured (solid) and simulated (dashed) joint positions and velocities of {name} "
        f"({mode}; {span:.1f} s shown" + (", grey lines: window starts)" if starts is not None else ")"),
    )


def divergence_text(rate: float) -> str:
    """The fitted divergence rate in words: a rate for growing errors, none for shrinking ones."""
    if not np.isfinite(rate):
        return ""
    if rate > 0:
        return f"divergence rate {rate:.3g} 1/s"
    return (
        f"no divergence: the error does not grow within a replay (fitted rate {rate:.3g} 1/s; an error present "
        "from a window's start, e.g. its initial velocity, is no growth)"
    )


def add_gap(rep: Report, result: GapResult, label: str = "") -> None:
    """Reality-gap section: metrics tables, trajectory overlays, error growth, distributions.

    Args:
        rep: The report.
        result: From :func:`sim2real.gap.measure_gap` (or :func:`~sim2real.gap.compare`).
        label: Names the model or stage, e.g. "before calibration"; part of the heading.
    """
    heading = "Reality gap" + (f" — {label}" if label else "")
    mode = "open-loop replay" if result.horizon is None else f"replay in windows of {result.horizon:g} s"
    rate = result.divergence_rate
    growth = divergence_text(rate)
    div = (
        f"the position error stays below {result.threshold:g} rad"
        if result.divergence_time_s is None
        else f"the position error passes {result.threshold:g} rad after {result.divergence_time_s:.3g} s"
    )
    rep.section(
        heading,
        f"Logged commands replayed in simulation ({mode}; {result.windows} window(s), {result.samples} "
        f"samples) and compared with the log at its own sample times. Position RMSE "
        f"{result.position_rmse:.4g} rad, velocity RMSE {result.velocity_rmse:.4g} rad/s; "
        + (f"{growth}; " if growth else "")
        + f"{div}.",
    )
    rows: list[dict[str, object]] = [
        {
            "joint": j,
            "position RMSE [rad]": result.position_rmse_per_joint[j],
            "velocity RMSE [rad/s]": result.velocity_rmse_per_joint[j],
        }
        for j in result.joints
    ]
    rows.append(
        {
            "joint": "all",
            "position RMSE [rad]": result.position_rmse,
            "velocity RMSE [rad/s]": result.velocity_rmse,
        }
    )
    rep.table(rows, "Prediction errors per joint and overall.")
    rep.table(
        [
            {
                "metric": "divergence rate λ [1/s]",
                "value": (rate if rate > 0 else f"none: the error does not grow (fit {rate:.3g})")
                if np.isfinite(rate)
                else None,
            },
            {"metric": "divergence time [s]", "value": result.divergence_time_s},
            {"metric": "threshold [rad]", "value": result.threshold},
            {"metric": "windows", "value": result.windows},
            {"metric": "samples", "value": result.samples},
        ],
        "Divergence: λ is the exponential rate fitted to the growth of the error within a replay; "
        "a fit below zero means the error shrinks (simulation and log converge, e.g. as damping pulls "
        "both to rest), so there is no divergence to speak of. The time is when the binned RMS error "
        "first passes the threshold (– : never).",
    )
    s = result.divergence_state
    if s:
        rep.table(
            [
                {
                    "joint": j,
                    "logged q [rad]": s["q"][i],
                    "simulated q [rad]": s["q_sim"][i],
                    "logged q̇ [rad/s]": s["qd"][i],
                    "simulated q̇ [rad/s]": s["qd_sim"][i],
                }
                for i, j in enumerate(result.joints)
            ],
            f"State where a window first passed the threshold: t = {s['t']:.3f} s of {s['log']} "
            f"({s['tau']:.3f} s after its window start at {s['window_start']:.3f} s).",
        )
    if len(result.per_log) > 1:
        rep.table([{"log": n} | d for n, d in result.per_log.items()], "Per log.")

    w = result.replay
    if w is None or result.q_sim is None or result.qd_sim is None:
        rep.text("(The result carries no replay data: trajectory and distribution figures are left out.)")
    else:
        _overlay(rep, w, result.q_sim, result.qd_sim, result.joints, "Replay")
    centres, growth = result.growth
    err = None
    if w is not None and result.q_sim is not None:
        err = np.linalg.norm(result.q_sim - w.q, axis=1)
    rep.figure(
        figures.error_growth_figure(
            np.asarray(centres),
            np.asarray(growth),
            threshold=result.threshold,
            rate=rate,
            divergence_time=result.divergence_time_s,
            tau=None if err is None else w.eval_tau,
            error=err,
        ),
        "Position error (2-norm over joints) against time since the window start: grey dots are "
        "samples, black the RMS per time bin, orange the exponential fit.",
    )
    if w is not None and result.q_sim is not None and result.qd_sim is not None:
        channels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        units: dict[str, str] = {}
        for j, joint in enumerate(result.joints):
            channels[f"{joint}.position"] = (result.q_sim[:, j], w.q[:, j])
            channels[f"{joint}.velocity"] = (result.qd_sim[:, j], w.qd[:, j])
            units[f"{joint}.position"], units[f"{joint}.velocity"] = "rad", "rad/s"
        torque = [c for c in result.channels if c.endswith(".torque")]
        if result.force_sim is not None and w.tau is not None:
            for a, c in enumerate(torque):
                channels[c] = (result.force_sim[:, a], w.tau[:, a])
                units[c] = "N m"
        rep.figure(
            figures.histogram_figure(channels, result.channels, units=units),
            "Distributions of simulated (orange outline) and measured (grey) values per channel, with "
            "the 1-Wasserstein distance W (channel units) and the Kolmogorov-Smirnov statistic.",
        )
    rep.table(
        [{"channel": c, "Wasserstein": d["wasserstein"], "KS": d["ks"]} for c, d in result.channels.items()],
        "Distribution distances between simulated and measured values per channel.",
    )
    if result.failures:
        add_failures(rep, result.failures, sub=True)


def add_failures(rep: Report, failures: tuple[FailureAnalysis, ...] | list, *, sub: bool = False) -> None:
    """Failed episodes: a table of divergence points and first-diverging channels, and figures.

    Args:
        rep: The report.
        failures: From :func:`sim2real.gap.failure.analyze_failures`.
        sub: Continue the current section instead of starting one.
    """
    intro = (
        f"{len(failures)} failed episode(s). For each: where the simulated replay first departs from "
        "the log (position error past the threshold) and which channels departed first, ranked by the "
        "time each channel's error first passed its own threshold."
    )
    if sub:
        rep.text(intro)
    else:
        rep.section("Failure analysis", intro)
    rows = []
    for f in failures:
        first = ", ".join(f"{c.channel} ({c.t - f.t_start:.2f} s)" for c in f.first_channels[:3])
        rows.append(
            {
                "log": f.log,
                "episode": f.episode,
                "start [s]": f.t_start,
                "end [s]": f.t_end,
                "failure": f.reason,
                "divergence after [s]": None if f.divergence_t is None else f.divergence_t - f.t_start,
                "first diverged": first or "none",
            }
        )
    rep.table(rows, "Failed episodes (times on the log's clock; divergence time from episode start).")
    for f in failures[:MAX_FAILURE_FIGURES]:
        if f.t.size == 0:
            continue
        rep.figure(
            figures.failure_figure(
                f.t,
                f.errors,
                f.thresholds,
                divergence_t=f.divergence_t,
                end_t=f.t_end,
                title=f"{f.log}, episode {f.episode}: {f.reason}",
            ),
            "Per-channel |simulated − measured| divided by the channel's threshold (log scale above 1); "
            "a channel has diverged where its curve passes 1.",
        )


def add_identification(rep: Report, result: Identification) -> None:
    """Identification section: identified vs nominal table with intervals, fit overlays, parameter
    correlation, residuals over time, per-log fit and warnings."""
    n_logs = len(result.logs)
    rep.section(
        f"System identification — {result.robot}",
        f"{len(result.params)} parameter(s) fitted by trajectory-matching least squares over {n_logs} "
        f"log(s) in windows of {result.horizon:g} s ({result.nfev} batched rollouts, "
        f"{result.seconds:.1f} s). Position RMSE at the solution {result.position_rmse:.4g} rad; "
        f"normalized residual RMS {result.residual_rms:.3g}.",
    )
    rows = []
    for name, p in result.params.items():
        value, nominal = np.atleast_1d(p.value), np.atleast_1d(p.nominal)
        lo = None if p.ci_low is None else np.atleast_1d(p.ci_low)
        hi = None if p.ci_high is None else np.atleast_1d(p.ci_high)
        for c in range(value.size):
            suffix = f"[{'xyz'[c] if value.size == 3 else c}]" if value.size > 1 else ""
            change = (value[c] - nominal[c]) / abs(nominal[c]) if nominal[c] != 0 else None
            rows.append(
                {
                    "parameter": name + suffix,
                    "unit": p.unit,
                    "nominal": float(nominal[c]),
                    "identified": float(value[c]) if p.identifiable else None,
                    "CI low": None if lo is None else float(lo[c]),
                    "CI high": None if hi is None else float(hi[c]),
                    "change": "–" if change is None or not p.identifiable else f"{change:+.1%}",
                    "note": "" if p.identifiable else f"not identifiable: {p.reason}",
                }
            )
    rep.table(rows, "Identified against nominal values, with confidence intervals (– : not determined).")
    if result.delay_xcorr is not None:
        fitted = [
            f"{name} {1e3 * float(np.atleast_1d(p.value)[0]):.1f} ms"
            for name, p in result.params.items()
            if name.endswith(".delay") and p.identifiable
        ]
        rep.text(
            f"Cross-correlation delay estimate before the fit: {result.delay_xcorr * 1e3:.1f} ms. It is "
            "only the fit's starting value: the lag at which command changes best correlate with the "
            "accelerations they cause, at the log's sample period, which the plant's own lag (motor "
            "dynamics, filtering of the measured motion) blurs. The delay in the table"
            + (f" ({', '.join(fitted)})" if fitted else "")
            + " comes from matching simulated to logged trajectories on the physics-step grid and is the "
            "one the calibration uses; where the two differ, trust the fit."
        )
    if result.motor_models:
        rep.table(
            [
                {"joint": j, "model": m.describe()} | {k: v for k, v in m.as_dict().items() if k != "meaning"}
                for j, m in result.motor_models.items()
            ],
            "Motor models tau_actual = a·u + b·q̇ + c of torque-sensing actuators, u the drive's input "
            "(a pd drive's position error target - q, else its command), read as the drive model's constants.",
        )
    rep.table([r.as_dict() | {"notes": "; ".join(r.notes)} for r in result.logs], "Fit per log.")
    for warning in result.warnings:
        rep.text(f"⚠ {warning}")

    w, q, qd = result.replay, result.q_fit, result.qd_fit
    if w is None or q is None or qd is None:
        rep.text("(The result carries no fitted trajectories: overlay and residual figures are left out.)")
    else:
        joints = result.joints
        _overlay(rep, w, q, qd, joints, "Fit")
        t = w.t0[w.eval_window] + w.eval_tau
        order = np.lexsort((t, w.eval_log))
        residuals = {f"{j} position": (q - w.q)[order, i] for i, j in enumerate(joints)}
        residuals |= {f"{j} velocity": (qd - w.qd)[order, i] for i, j in enumerate(joints)}
        units = {k: ("rad" if k.endswith("position") else "rad/s") for k in residuals}
        rep.figure(
            figures.residual_figure(
                t[order], residuals, w.eval_log[order] * 100000 + w.eval_window[order], units=units
            ),
            "Residuals (calibrated simulation minus measurement) over each log's time"
            + (", logs one after another" if n_logs > 1 else "")
            + "; structure left in them is what the model still misses.",
        )
    if result.correlation is not None and len(result.correlation_labels) >= 2:
        rep.figure(
            figures.correlation_figure(result.correlation_labels, result.correlation),
            "Correlation of the fitted parameters from the Gauss-Newton covariance (JᵀJ)⁻¹ at the "
            "solution: values near ±1 mean the logs trade one parameter for another.",
        )


def _envelope_command(result: EnvelopeResult) -> str:
    """The envelope's velocity command in a sentence ("" when the task takes none)."""
    if result.velocity_command is None:
        return ""
    vx, vy, yaw = result.velocity_command
    return (
        f" Every episode runs at full speed with the fixed velocity command vx {vx:g} m/s, "
        f"vy {vy:g} m/s, yaw rate {yaw:g} rad/s."
    )


def add_envelope(rep: Report, result: EnvelopeResult) -> None:
    """Transfer-envelope section: success rate per grid cell as a heat map (or bars) and a table."""
    names = " × ".join(a.name for a in result.axes)
    rep.section(
        "Transfer envelope",
        f"Success rate of policy {result.policy} on the twin over a grid of {names} "
        f"({result.episodes} episode(s) per cell, task rule: {result.rule}). Every other parameter "
        f"keeps its {'twin' if result.twin else 'nominal'} value." + _envelope_command(result),
    )
    fig_axes = [(a.name, np.asarray(a.values), a.unit) for a in result.axes]
    rate = np.asarray(result.success_rate, dtype=float)
    rep.figure(
        figures.heatmap_figure(rate, fig_axes, nominal=result.nominal),
        "Success rate per cell (green: transfers, red: fails); the star marks the nominal values."
        if rate.ndim == 2
        else "Success rate per grid value; the dashed line marks the nominal value.",
    )
    rows = []
    for idx in np.ndindex(rate.shape):
        row: dict[str, object] = {}
        for k, a in zip(idx, result.axes, strict=True):
            row[f"{a.name} [{a.unit}]" if a.unit else a.name] = float(a.values[k])
        row["success rate"] = f"{rate[idx]:.0%}"
        row["episodes"] = result.episodes
        rows.append(row)
    rep.table(rows, "Success rate per grid cell.")
