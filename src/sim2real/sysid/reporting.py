"""Stage 6 of :func:`~sim2real.sysid.identify.identify`: the :class:`Identification` of a fitted problem.

Every fitted parameter gets its value (the step-free estimate where the simulator's step was
measured), its interval clipped to its plausible range (the whole range for one held at its
start) and its verdict; every log its residuals and what stands out about it (an outlier's
weight, a command column with isolated spikes); values at their plausible bounds and parameters
the logs do not determine become warnings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sim2real.logs.trajectory import Trajectory
from sim2real.robots.spec import RobotSpec
from sim2real.sim.floating import base_joint
from sim2real.sysid.delay import DelayEstimate
from sim2real.sysid.intervals import BOUND_SHARE, bound_side
from sim2real.sysid.motor import fit_motor_models
from sim2real.sysid.problem import Coords, FitState, Problem, bounds_of, robust_sigma
from sim2real.sysid.result import Identification, LogReport, ParamEstimate

__all__ = ["report"]


def _estimates(
    problem: Problem,
    coords: Coords,
    fitted: list[str],
    half: np.ndarray,
    reasons: dict[int, str],
    bounds: Mapping[str, tuple] | None,
    statistical: np.ndarray,
) -> tuple[dict[str, ParamEstimate], list[str]]:
    """Estimate, interval and verdict of every fitted parameter, and warnings about them.
    ``half`` is each coordinate's half-width (scaled), ``statistical`` its part the logs' scatter
    gives (without the simulator's step error added to it): only that part reaching a bound says
    the data may want a value beyond it."""
    estimates: dict[str, ParamEstimate] = {}
    warnings: list[str] = []
    for name in fitted:
        info = problem.params.info(name)
        value = problem.values[name].copy()
        idx = [i for i, (n, _) in enumerate(coords.items) if n == name]
        why = [reasons[i] for i in idx if i in reasons]
        lo_b, hi_b = coords.lo[idx] * coords.scale[idx], coords.hi[idx] * coords.scale[idx]
        # the fit is bounded: so is the interval; a held coordinate's interval is its whole range
        width = np.where(np.isfinite(half[idx]), half[idx], np.inf) * coords.scale[idx]
        lo = np.maximum(value - width, lo_b)
        hi = np.minimum(value + width, hi_b)
        identifiable = not why
        estimates[name] = ParamEstimate(
            name,
            value,
            info.nominal.copy(),
            problem.start[name].copy(),
            lo,
            hi,
            info.unit,
            identifiable,
            "; ".join(dict.fromkeys(why)) or None,
        )
        if not identifiable:
            warnings.append(
                f"{name}: not identifiable from these logs ({estimates[name].reason}); held at "
                f"{', '.join(f'{x:.4g}' for x in value)} {info.unit}"
            )
            continue
        low, high = bounds_of(info, bounds)
        reach = np.where(np.isfinite(statistical[idx]), statistical[idx], np.inf) * coords.scale[idx]
        for c, i in enumerate(idx):
            if side := bound_side(value[c], low[c], high[c], reach[c]):
                bound = low[c] if side == "lower" else high[c]
                warnings.append(
                    f"{coords.label(i)} = {value[c]:.4g} {info.unit} is at its plausible {side} bound {bound:.4g} "
                    f"(within its interval or {100 * BOUND_SHARE:g} % of its range): the data may want a value "
                    "outside the spec's range"
                )
    return estimates, warnings


def _log_reports(
    problem: Problem,
    trajectories: Sequence[Trajectory],
    raw: np.ndarray,
    weights: np.ndarray,
    outlier_ratio: float,
) -> tuple[list[LogReport], list[str]]:
    """How each log fitted, and what is worth saying about it."""
    windows = problem.windows
    eval_log = windows.eval_log
    n_logs = len(windows.names)
    pos_err = problem.positions(raw)
    scales = np.array([robust_sigma(raw[eval_log == i].ravel()) for i in range(n_logs)])
    reports, warnings = [], []
    for i, traj in enumerate(trajectories):
        sel = eval_log == i
        others = np.delete(scales, i)
        outlier = bool(others.size and scales[i] > outlier_ratio * float(np.median(others)))
        spikes = _command_spikes(traj)
        notes = []
        if outlier:
            notes.append(
                f"residuals {scales[i] / float(np.median(others)):.1f}x those of the other logs: "
                f"weighted {weights[i] / float(np.median(np.delete(weights, i))):.2f}x the others in the fit"
            )
        if spikes > 4.0:
            notes.append(
                f"command column has isolated spikes up to {spikes:.0f}x its smooth level (noisy command "
                "signal); the robust loss limits their pull"
            )
        reports.append(
            LogReport(
                name=windows.names[i],
                windows=int(np.sum(windows.log == i)),
                samples=int(sel.sum()),
                residual_rms=float(np.sqrt(np.mean(raw[sel] ** 2))) if sel.any() else float("nan"),
                residual_scale=float(scales[i]),
                position_rmse=float(np.sqrt(np.mean(pos_err[sel] ** 2))) if sel.any() else float("nan"),
                weight=float(weights[i]),
                outlier=outlier,
                command_spikes=spikes,
                velocity_source=windows.velocity_source[i] if windows.velocity_source else "log",
                notes=tuple(notes),
            )
        )
        warnings += [f"log {windows.names[i]}: {note}" for note in notes]
    return reports, warnings


def _command_spikes(traj: Trajectory) -> float:
    """Largest isolated excursion of the command from its 5-sample running median, over its smooth level."""
    from scipy.signal import medfilt

    u = traj.command
    if u.shape[0] < 7:
        return 1.0
    worst = 0.0
    for c in range(u.shape[1]):
        smooth = medfilt(u[:, c], 5)
        spike = np.quantile(np.abs(u[:, c] - smooth), 0.999)
        level = np.quantile(np.abs(smooth - np.median(smooth)), 0.99)
        worst = max(worst, float(spike / level) if level > 0 else 0.0)
    return worst


def report(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    problem: Problem,
    coords: Coords,
    fitted: list[str],
    state: FitState,
    spread: tuple[np.ndarray, dict[int, str], np.ndarray | None],
    *,
    outlier_ratio: float,
    horizon: float,
    bounds: Mapping[str, tuple] | None,
    delay: DelayEstimate | None,
    seconds: float,
) -> Identification:
    """The :class:`Identification` of the fitted problem (at the step-free values, when measured)."""
    half, wide, correlation = spread
    step_shift = None
    if state.shift is not None:
        coords.put(np.clip(coords.get() + 2.0 * state.shift, coords.lo, coords.hi))
        step_shift = {n: np.zeros_like(problem.values[n]) for n in fitted}
        for i, (n, c) in enumerate(coords.items):
            step_shift[n][c] = state.shift[i] * coords.scale[i]
    statistical = half - sum(np.abs(x) for x in (state.shift, state.widen) if x is not None)
    reasons = {**wide, **state.held}
    estimates, warnings = _estimates(problem, coords, fitted, half, reasons, bounds, statistical)
    if state.widen is not None:
        i = int(np.argmax(state.widen))
        warnings.append(
            "the simulator's own step biases these values (a replay at half the step fits the logs "
            "better) and no step-free value could be extrapolated: the values are the fit at the "
            f"physics step and every interval is widened by 3x its half-step shift (largest: {coords.label(i)})"
        )
    raw = problem.raw_residuals([coords.row(coords.get())])[0]
    reports, log_warnings = _log_reports(problem, trajectories, raw, state.weights, outlier_ratio)
    q_fit, qd_fit = problem.predictions(raw)
    delays = {  # the drive delays of the calibrated model: the command in force at each reading
        a.joint: float(
            estimates[n].value[0] if n in estimates else problem.params.get(problem.model, n)[0]
        )
        for a in spec.actuators
        if (n := f"actuator.{a.actuator}.delay") in problem.params.names
    }
    return Identification(
        robot=spec.name,
        spec_hash=spec.hash,
        params=estimates,
        residual_rms=float(np.sqrt(np.mean(raw**2))),
        position_rmse=float(np.sqrt(np.mean(problem.positions(raw) ** 2))),
        seconds=seconds,
        logs=tuple(reports),
        warnings=tuple(log_warnings + warnings),
        delay_xcorr=None if delay is None else delay.delay,
        motor_models=fit_motor_models(spec, trajectories, model=problem.model, delays=delays),
        nfev=problem.nfev,
        physics_steps=problem.replayer.physics_steps,
        horizon=float(horizon),
        joints=tuple(spec.joints),
        replay=problem.windows,
        q_fit=q_fit,
        qd_fit=qd_fit,
        correlation=correlation,
        correlation_labels=tuple(coords.label(i) for i in state.active) if correlation is not None else (),
        fixed_base=base_joint(spec, problem.model) is None and spec.base_body is not None,
        step_shift=step_shift,
    )
