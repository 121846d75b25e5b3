"""System identification: named parameters fitted to robot logs by windowed trajectory matching.

:func:`identify` runs six stages, each a function of this module, in this order:

1. **load** (:func:`load_setup`): the model the logs are replayed on (nominal, a calibration to
   start from, or the robot hung by its base for legs-in-the-air logs,
   :func:`~sim2real.sim.floating.hung_model`) and the parameter names (:func:`default_params`);
2. **windows** (:func:`cut_windows`): the logs cut into replay windows started from logged states
   (multiple shooting, :mod:`sim2real.sim.replay`; a floating base starts from its logged pose
   and velocity), so a long log of an unstable system (a Furuta pendulum balancing upright)
   still fits, because no window runs long enough to fall over; evenly thinned to
   ``max_windows``;
3. **delay** (:func:`initial_delays`): a partial cross-correlation of command and acceleration
   (:mod:`sim2real.sysid.delay`, reported), then one batch that tries a common actuator delay of
   every whole physics step in the allowed range with the other parameters at their starting
   values; the best is where the fit starts.  Delays are continuous parameters of the fit (the
   replay applies sub-step delays exactly in the mean, see :mod:`sim2real.sim.replay`);
4. **fit** (:func:`fit`): bounded robust least squares (:mod:`sim2real.sysid.problem`: residuals,
   scaled coordinates, Jacobians in one batched rollout) from a start point: first on an evenly
   spread quarter of the windows, then per-log weights (the logs' median robust scale over each
   log's own, at most 1, so a log much noisier than the others, like a torque column full of
   spikes, cannot pull the fit, while a quiet log gains no weight; noisy logs are flagged), then
   on every window; parameters along
   near-singular directions are held at their start and the others refitted;
5. **intervals** (:func:`intervals`): a HAC sandwich over windows that holds under correlated
   residuals and model error (:mod:`sim2real.sysid.intervals`; none from no more windows than
   fitted values), and the identifiability verdicts;
6. **report** (:func:`~sim2real.sysid.reporting.report`): estimates with intervals, per-log
   residuals, warnings, motor models.

**Why not ``mujoco.sysid.optimize``.**  Its parameters are ``MjSpec`` modifiers: every residual
and every finite-difference column recompiles a model and rolls it out with ``mujoco.rollout``
over a list of models, comparing sensor time series resampled on the simulation grid.  Our
parameters are named fields written per simulation into one ``mujoco.batch.Batch``
(:class:`sim2real.params.Parameters`, including actuator coefficients derived from physical
values), our residuals compare at the log's irregular times inside windows that start from logged
states (floating bases included), and delays act on the logged commands.  So the Jacobian is
computed by forward differences in ONE ``Batch.rollout`` call per evaluation, grouped by
kinematic tree where the trees are independent.  ``mujoco.sysid.calculate_intervals`` is the
textbook interval, kept for comparison (``interval_method="gauss_newton"``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import ParameterError, Sim2RealError
from sim2real.logs.trajectory import Trajectory
from sim2real.parallel import Executor, SerialExecutor
from sim2real.params import Parameters, is_delay
from sim2real.robots.ground import is_static
from sim2real.robots.model import build_model, carrying_body
from sim2real.robots.spec import RobotSpec
from sim2real.sim.divergence import refuse_diverged
from sim2real.sim.floating import base_joint, hung_model
from sim2real.sim.replay import VelocitySource, Windows, build_windows
from sim2real.sysid.delay import DelayEstimate, estimate_delay
from sim2real.sysid.intervals import IntervalMethod, bound_reason, hac_spread, too_few_windows, unidentifiable
from sim2real.sysid.multistart import MultiStart, StartFit, StartJob, draw_starts, starts_report
from sim2real.sysid.problem import (
    Coords,
    FitState,
    Loss,
    Problem,
    ProblemSettings,
    jacobian_at,
    rho,
    rho1,
    robust_sigma,
    solve,
    weighted_jacobian,
)
from sim2real.sysid.reporting import report
from sim2real.sysid.resolution import StepShift, discretization_shift, held_shift
from sim2real.sysid.result import Identification, LogReport, ParamEstimate

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PARAMS",
    "Identification",
    "IdentifyConfig",
    "LogReport",
    "ParamEstimate",
    "build_problem",
    "cut_windows",
    "default_params",
    "fit",
    "fit_start",
    "identify",
    "initial_delays",
    "intervals",
    "load_setup",
    "precision_reason",
    "report",
    "step_free",
]

DEFAULT_PARAMS: dict[str, tuple[str, ...]] = {
    # torque-driven: absolute scale known from the commanded torque, so mass and armature separate
    "pendulum": (
        "body.pole.mass",
        "joint.hinge.damping",
        "joint.hinge.frictionloss",
        "joint.hinge.armature",
        "actuator.motor.delay",
    ),
    # voltage-driven: masses, damping and kt/R only matter through their ratios (scaling every
    # mass, inertia and damping by s and R by 1/s leaves the motion unchanged), so one of them
    # must be known: the arm mass (weighable) is held at its spec value
    "furuta": (
        "body.pendulum.mass",
        "joint.arm.damping",
        "joint.pendulum.damping",
        "motor.motor.resistance",
        "actuator.motor.delay",
    ),
}
"""Parameters fitted by default, per embedded robot (free setup)."""


def default_params(spec: RobotSpec, model: mujoco.MjModel | None = None) -> list[str]:
    """Parameter names fitted when none are given.

    - An embedded robot of :data:`DEFAULT_PARAMS`: its entry.
    - A legged robot hung by its base (``model`` from :func:`~sim2real.sim.floating.hung_model`):
      per actuated joint its armature, damping and Coulomb friction, per pd actuator its kp, kd
      and delay (per dc motor its delay and resistance).
    - A floating-base robot on the floor: the base's mass and centre of mass, and the friction of
      the floor (collidable geoms of the world body).
    - Any other robot: the damping, friction loss and armature of its actuated joints, its
      actuator delays, and (DC motors) the motor resistance.
    """
    model = model if model is not None else build_model(spec)
    params = Parameters(spec, model)
    hung = spec.base_body is not None and base_joint(spec, model) is None
    if spec.name in DEFAULT_PARAMS and not hung:
        return params.resolve(list(DEFAULT_PARAMS[spec.name]))
    if spec.base_body is not None and not hung:
        floors = [
            f"geom.{mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)}.friction"
            for g in range(model.ngeom)
            if is_static(model, g) and mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)
        ]
        carrier = model.body(carrying_body(model, model.body(spec.base_body).id)).name or spec.base_body
        base = [f"body.{carrier}.mass", f"body.{carrier}.com"]
        return params.resolve(base + floors, strict=False)
    patterns = []
    for act in spec.actuators:
        patterns += [f"joint.{act.joint}.{q}" for q in ("armature", "damping", "frictionloss")]
        if act.model == "pd" and hung:
            patterns += [f"actuator.{act.actuator}.kp", f"actuator.{act.actuator}.kd"]
        patterns.append(f"actuator.{act.actuator}.delay")
        if act.model == "dc_motor":
            patterns.append(f"motor.{act.actuator}.resistance")
    return params.resolve(patterns, strict=False)


PRECISION_FLOOR = 0.05
"""Half-widths below this share of the plausible range always count as determined (values near 0)."""


@dataclass(frozen=True)
class IdentifyConfig:
    """How :func:`identify` fits."""

    horizon: float = 0.25
    """Window length [s]."""
    stride: float | None = None
    """Time between window starts [s] (default: the horizon)."""
    velocity: VelocitySource = "auto"
    """Initial window velocities: "auto", "log" or "fd" (see ``sim2real.sim.replay.build_windows``)."""
    fd_half_width: float = 0.01
    """Half-width of that local fit [s]."""
    velocity_weight: float = 0.3
    """Weight of velocity residuals relative to position residuals (after normalization)."""
    torque_weight: float = 0.3
    """Weight of the measured efforts of pd-actuated joints (0: not used)."""
    loss: Loss = "soft_l1"
    """Robust loss of ``scipy.optimize.least_squares``."""
    f_scale: float | None = None
    """Inlier scale of the robust loss (normalized units); None: 1.5 robust sigmas of the residuals."""
    per_log_weights: bool = True
    """Weight each log's residuals in the final fit by the logs' median robust scale over its own,
    at most 1 (noisy logs are down-weighted; none is up-weighted)."""
    outlier_ratio: float = 2.0
    """A log whose residual scale exceeds this multiple of the other logs' median is flagged."""
    estimate_delay: bool = True
    """Start delays from a cross-correlation estimate and a scan of whole physics steps."""
    max_nfev: int = 40
    """Residual evaluations per least-squares solve."""
    fd_step: float = 1e-3
    """Finite-difference step, relative to each parameter's scale."""
    confidence: float = 0.95
    """Confidence level of the intervals."""
    precision: float = 0.5
    """A parameter whose interval's half-width exceeds this share of its value (and
    :data:`PRECISION_FLOOR` of its plausible range) is reported as not identified."""
    step_check: bool = True
    """Measure the simulator's discretization error (:mod:`sim2real.sysid.resolution`): report the
    step-free values and widen the intervals by it."""
    interval_method: IntervalMethod = "hac"
    """``hac`` (sandwich over windows, holds under model error) or ``gauss_newton`` (textbook)."""
    cond_limit: float = 1e3
    """Condition number of the column-normalized Jacobian above which a direction is unidentifiable."""
    coarse_windows: int = 8
    """With at least 4x this many windows, the fit starts on an evenly spread quarter of them."""
    max_windows: int | None = 400
    """Use at most this many windows (evenly spread over the logs) to bound time and memory
    (every window is one simulation per parameter variant); None: all."""
    max_sims: int = 2000
    """Most simulations allocated at once (windows x parameter variants; more are chunked)."""
    nthread: int = 0
    """MuJoCo worker threads (0: every CPU)."""
    start_tolerance: float = 0.01
    """Multi-start: a start converged to the best fit when each fitted value lies within this
    share of its plausible range of the best's (:mod:`sim2real.sysid.multistart`)."""


# ------------------------------------------------------------------------------ 1. load
def load_setup(
    spec: RobotSpec,
    params: Sequence[str] | str | None,
    model: mujoco.MjModel | None,
    fixed_base: bool,
) -> tuple[mujoco.MjModel, list[str]]:
    """The model to replay on and the names to fit (checked).

    Raises:
        ParameterError: unknown names, nothing to fit, or parameters not identified by trajectory
            matching (sensor noise and delay).
        Sim2RealError: ``fixed_base`` for a robot without a floating base, or with a free model.
    """
    if fixed_base:
        if spec.base_body is None:
            raise Sim2RealError(f"{spec.name} has no floating base: --fixed-base is for legged robots")
        model = model if model is not None else hung_model(spec)
        if base_joint(spec, model) is not None:
            raise Sim2RealError("fixed_base needs the hung model (sim2real.sim.floating.hung_model)")
    model = model if model is not None else build_model(spec)
    registry = Parameters(spec, model)
    fitted = default_params(spec, model) if params is None else registry.resolve(params)
    if not fitted:
        raise ParameterError("no parameters to identify")
    for name in fitted:
        info = registry.info(name)
        if info.group == "sensor" and info.quantity != "bias":
            raise ParameterError(f"{name}: sensor noise and delay are not identified by trajectory matching")
    return model, fitted


# ------------------------------------------------------------------------------ 2. windows
def cut_windows(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    model: mujoco.MjModel,
    config: IdentifyConfig,
    names: Sequence[str] | None = None,
) -> Windows:
    """Replay windows of the logs, at most ``config.max_windows`` of them (evenly spread)."""
    windows = build_windows(
        spec,
        trajectories,
        config.horizon,
        stride=config.stride,
        velocity=config.velocity,
        fd_half_width=config.fd_half_width,
        model=model,
        names=names,
    )
    if config.max_windows is not None and windows.n_windows > config.max_windows:
        keep = np.zeros(windows.n_windows, dtype=bool)
        keep[_evenly(windows.n_windows, config.max_windows)] = True
        windows = windows.select(keep)
    return windows


def _evenly(n: int, k: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


# ------------------------------------------------------------------------------ 3. delay
def _cost(problem: Problem, rows: list[dict[str, np.ndarray]], loss: str, f_scale: float) -> np.ndarray:
    """Robust cost of each parameter variant (chunked by the replayer's capacity)."""
    out = []
    chunk = problem.replayer.replicas
    for i in range(0, len(rows), chunk):
        r = problem.weighted(problem.raw_residuals(rows[i : i + chunk]))
        out.append(0.5 * f_scale**2 * rho((r / f_scale) ** 2, loss).sum(axis=1))
    return np.concatenate(out)


def initial_delays(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    problem: Problem,
    coords: Coords,
    config: IdentifyConfig,
    f_scale: float,
) -> DelayEstimate | None:
    """Start the fitted actuator delays at the best common whole-step delay (module docstring).

    Returns:
        The cross-correlation estimate (for the report), or None without delays to fit.
    """
    delays = [i for i, (n, _) in enumerate(coords.items) if is_delay(n)]
    if not delays or not config.estimate_delay:
        return None
    dt = problem.windows.dt
    cap = float(min(coords.hi[i] * coords.scale[i] for i in delays))
    k_max = int(np.floor(cap / dt + 1e-9))
    estimate = estimate_delay(spec, trajectories, max(dt, k_max * dt))
    log.info("cross-correlation delay estimate: %.4f s (correlation %.2f)", estimate.delay, estimate.peak)
    z = coords.get()
    rows = []
    for k in range(k_max + 1):
        zk = z.copy()
        zk[delays] = np.minimum(k * dt / coords.scale[delays], coords.hi[delays])
        rows.append(coords.row(zk))
    costs = _cost(problem, rows, config.loss, f_scale)
    best = int(np.argmin(costs))
    z[delays] = np.minimum(best * dt / coords.scale[delays], coords.hi[delays])
    coords.put(z)
    log.info("delay scan: %d physics steps (%.4f s) fits best", best, best * dt)
    return estimate


# ------------------------------------------------------------------------------ 4. fit
def fit(
    problem: Problem, coords: Coords, config: IdentifyConfig, start: np.ndarray | None = None
) -> FitState:
    """Robust least squares from ``start`` (scaled coordinates; default: the current values).

    A coarse solve on a quarter of the windows, per-log weights and the loss scale, the solve on
    every window, then the identifiability loop (hold the unidentifiable, refit the rest).
    """
    if start is not None:
        coords.put(np.clip(np.asarray(start, dtype=float), coords.lo, coords.hi))
    windows = problem.windows
    n_logs = len(windows.names)
    weights = np.ones(n_logs)
    coarse = windows.n_windows >= 4 * config.coarse_windows
    if coarse:
        problem.use_windows(_evenly(windows.n_windows, max(config.coarse_windows, windows.n_windows // 4)))
    raw = problem.raw_residuals([coords.row(coords.get())])[0]
    f_scale = config.f_scale or 1.5 * robust_sigma(raw)
    if coarse:
        solve(problem, coords, config.loss, f_scale, config.max_nfev, tol=1e-3)
    # per-log weights and the loss scale from the residuals there
    if config.per_log_weights and n_logs > 1:
        problem.use_windows(None)  # weights need every log's windows
    raw = problem.raw_residuals([coords.row(coords.get())])[0]
    sub_log = windows.eval_log[problem.eval_samples]
    problem.use_windows(None)
    if config.per_log_weights and n_logs > 1:
        scales = np.array(
            [
                robust_sigma(raw[sub_log == i].ravel()) if np.any(sub_log == i) else np.nan
                for i in range(n_logs)
            ]
        )
        ref = float(np.nanmedian(scales))
        # at most 1: a weight only down-weights a log noisier than the others (a short log at rest,
        # with residuals near zero, must not outweigh the informative ones)
        weights = np.clip(np.where(np.isfinite(scales), ref / np.maximum(scales, 1e-12), 1.0), 0.05, 1.0)
        problem.sample_weight = weights[windows.eval_log]
    if config.f_scale is None and coarse:
        f_scale = 1.5 * robust_sigma(raw * weights[sub_log][:, None])
    solve(problem, coords, config.loss, f_scale, config.max_nfev)
    if config.f_scale is None and not coarse:
        # the first solve started from far away: take the loss scale at its solution
        raw = problem.raw_residuals([coords.row(coords.get())])[0]
        new_scale = 1.5 * robust_sigma(problem.weighted(raw[None])[0])
        if abs(new_scale - f_scale) > 0.5 * f_scale:
            f_scale = new_scale
            solve(problem, coords, config.loss, f_scale, config.max_nfev)
    state = FitState(f_scale=f_scale, weights=weights, active=list(range(coords.size)))
    for _ in range(coords.size):
        if not state.active:
            break
        r_w, J = jacobian_at(problem, coords)
        Jw = weighted_jacobian(J, np.sqrt(rho1((r_w / f_scale) ** 2, config.loss)))
        new = unidentifiable(Jw, state.active, coords.label, config.cond_limit)
        if not new:
            break
        for i, reason in new.items():
            state.held[i] = reason
            n, c = coords.items[i]
            problem.values[n][c] = problem.start[n][c]
        state.active = [i for i in state.active if i not in state.held]
        solve(problem, coords.subset(state.active), config.loss, f_scale, config.max_nfev)
    return state


def step_free(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    problem: Problem,
    coords: Coords,
    state: FitState,
    config: IdentifyConfig,
    names: Sequence[str] | None = None,
) -> StepShift:
    """The discretization shift of the fitted coordinates (scaled; :mod:`sim2real.sysid.resolution`).
    The step-free estimate ``theta(h) + 2 delta`` is written to the model by :func:`report`."""
    _, J = jacobian_at(problem, coords)
    shift = discretization_shift(
        spec,
        trajectories,
        problem,
        coords,
        state.active,
        J,
        loss=config.loss,
        f_scale=state.f_scale,
        names=names,
        horizon=config.horizon,
        stride=config.stride,
        velocity=config.velocity,
        fd_half_width=config.fd_half_width,
        nthread=config.nthread,
    )
    return shift


# ------------------------------------------------------------------------------ 5. intervals
def intervals(
    problem: Problem, coords: Coords, state: FitState, config: IdentifyConfig
) -> tuple[np.ndarray, dict[int, str], np.ndarray | None]:
    """Half-width of every coordinate's interval (scaled; inf when held; the statistical part plus
    the discretization shift), the coordinates whose interval is wider than their plausible range
    or too wide for their value, and the estimate's correlation (active ones)."""
    half = np.full(coords.size, np.inf)
    correlation = None
    step = np.zeros(coords.size)
    few_windows = None
    if state.active:
        r_w, J = jacobian_at(problem, coords)
        sw = np.sqrt(rho1((r_w / state.f_scale) ** 2, config.loss))
        rows = np.repeat(problem.windows.eval_window[problem.eval_samples], problem.n_channels)
        jw = weighted_jacobian(J, sw, state.active)
        spread = hac_spread(jw, r_w * sw, rows, problem.windows.log, config.confidence, config.interval_method)
        half[state.active] = spread.half
        correlation = spread.correlation
        step[state.active] = spread.step
        if few_windows := too_few_windows(spread, config.horizon):
            half[state.active] = np.inf
    if state.shift is not None:
        half = half + np.abs(state.shift)  # what the step-free extrapolation may still miss
    if state.widen is not None:
        half = half + state.widen  # a step error that could not be removed (resolution module)
    z = coords.get() + (2.0 * state.shift if state.shift is not None else 0.0)
    wide = dict.fromkeys(state.active, few_windows) if few_windows else {}
    for i in [] if few_windows else state.active:
        span = coords.hi[i] - coords.lo[i]
        unit = problem.params.info(coords.items[i][0]).unit
        pinned = bound_reason(coords.get()[i] + step[i], coords.lo[i], coords.hi[i], half[i], coords.scale[i], unit)
        if pinned:
            # an interval around a value the bound stopped says nothing of where the truth is
            wide[i], half[i] = pinned, np.inf
        elif not np.isfinite(half[i]) or half[i] > span:
            wide[i] = (
                "its confidence interval is wider than its plausible range: the logs barely depend on it"
            )
        elif half[i] > max(config.precision * abs(z[i]), PRECISION_FLOOR * span):
            s = coords.scale[i]
            unit = problem.params.info(coords.items[i][0]).unit
            wide[i] = precision_reason(half[i] * s, z[i] * s, span * s, unit)
    return half, wide, correlation


def precision_reason(half: float, value: float, span: float, unit: str) -> str:
    """Why a parameter counts as not determined by the width of its interval: the half-width as a
    share of the value, or in the parameter's unit when the value is near zero (within
    :data:`PRECISION_FLOOR` of its plausible range ``span``), where a share says nothing."""
    if abs(value) < PRECISION_FLOOR * span:
        return f"the logs determine it only to +-{half:.3g} {unit} around {value:.3g} (95 % interval)"
    return f"the logs determine it only to +-{100 * half / abs(value):.0f} % (95 % interval)"


# ------------------------------------------------------------------------------ the pipeline
def identify(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    params: Sequence[str] | str | None = None,
    *,
    config: IdentifyConfig | None = None,
    model: mujoco.MjModel | None = None,
    names: Sequence[str] | None = None,
    bounds: Mapping[str, tuple] | None = None,
    fixed_base: bool = False,
    start: Mapping[str, object] | None = None,
    starts: int = 1,
    seed: int = 0,
    executor: Executor | None = None,
    step_shift: Mapping[str, np.ndarray] | None = None,
) -> Identification:
    """Fit named parameters of a robot to logs (the stages of the module docstring).

    Args:
        spec: The robot.
        trajectories: One or more logs (with commands) of it.
        params: Names or ``*`` patterns, a list or a comma-separated string; None for
            :func:`default_params`.
        config: Fit settings.
        model: Model to start from (e.g. a previous calibration); default: nominal (hung with
            ``fixed_base``).
        names: A name per log for the report (default: each log's source).
        bounds: Parameter name -> (low, high) replacing the spec's plausible bounds in this fit
            (physical limits still apply: masses positive, delays within the model's capacity).
        fixed_base: The logs were recorded with the robot hung by its base (legs in the air).
        start: Parameter name -> value to start the fit from (default: the model's values; the
            delay scan is skipped for delays given here).
        starts: Fits from this many start points: the nominal start (the model's values or
            ``start``, after the delay scan) and ``starts - 1`` points drawn uniformly inside the
            bounds; the best by a common robust cost is kept and the spread is reported in
            ``Identification.starts`` (:mod:`sim2real.sysid.multistart`).
        seed: Seed of the random start points.
        executor: Where the starts run (:mod:`sim2real.parallel`; default: this process); the
            result does not depend on it.
        step_shift: A fit's confirmed :attr:`Identification.step_shift`, applied instead of
            measuring one (a refit with one of its parameters held: :func:`~sim2real.sysid.resolution.held_shift`).

    Returns:
        Identified values with intervals, per-log residuals and warnings.

    Raises:
        ParameterError: unknown parameter names or patterns.
        LogError: logs that do not fit the robot (joints, commands, base state, setup, too short).
    """
    t_start = time.perf_counter()
    config = config or IdentifyConfig()
    if starts < 1:
        raise Sim2RealError(f"starts must be at least 1, got {starts}")
    model, fitted = load_setup(spec, params, model, fixed_base)
    problem, coords, bounds = build_problem(spec, trajectories, model, fitted, config, names, bounds)
    if start:
        for key, value in start.items():
            for name in problem.params.resolve([key]):
                if name not in problem.values:
                    raise ParameterError(f"start value for {name}, which is not fitted")
                problem.values[name] = np.broadcast_to(
                    np.asarray(value, float), problem.values[name].shape
                ).copy()
        problem.start = {n: v.copy() for n, v in problem.values.items()}
    raw0 = problem.raw_residuals([coords.row(coords.get())])[0]
    w = problem.windows
    refuse_diverged(problem.replayer.diverged, w.t0, w.n_windows, "nothing identified (at the starting values)")
    delay = None
    if not (start and any(is_delay(n) for n in start)):
        delay = initial_delays(
            spec, trajectories, problem, coords, config, config.f_scale or 1.5 * robust_sigma(raw0)
        )
    multi = None
    if starts == 1:
        state = fit(problem, coords, config)
    else:
        job = StartJob(spec, tuple(trajectories), model, tuple(fitted), config, names, bounds, problem.start)
        state, multi = _multistart(job, problem, coords, starts, seed, executor)
    if step_shift is not None:
        state.shift = held_shift(coords, state.active, step_shift).shift
    elif config.step_check:
        step = step_free(spec, trajectories, problem, coords, state, config, names)
        if step.extrapolated:
            state.shift = step.shift
        elif np.any(step.shift != 0):
            state.widen = 3.0 * np.abs(step.shift)
    spread = intervals(problem, coords, state, config)
    result = report(
        spec,
        trajectories,
        problem,
        coords,
        fitted,
        state,
        spread,
        outlier_ratio=config.outlier_ratio,
        horizon=config.horizon,
        bounds=bounds,
        delay=delay,
        seconds=time.perf_counter() - t_start,
    )
    return result if multi is None else dataclasses.replace(result, starts=multi)


def build_problem(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    model: mujoco.MjModel,
    fitted: list[str],
    config: IdentifyConfig,
    names: Sequence[str] | None,
    bounds: Mapping[str, tuple] | None,
) -> tuple[Problem, Coords, dict[str, tuple] | None]:
    """Stages 1-2 made ready to fit: the windows, the problem with its simulations allocated, its
    coordinates and the bounds by full parameter name (patterns resolved)."""
    windows = cut_windows(spec, trajectories, model, config, names)
    problem = Problem(
        spec,
        windows,
        model,
        fitted,
        ProblemSettings(config.velocity_weight, config.torque_weight, config.fd_step),
    )
    if bounds:
        problem.params.resolve(list(bounds))  # unknown names are an error
        bounds = {n: b for key, b in bounds.items() for n in problem.params.resolve([key])}
    caps = {n: _delay_capacity(problem, n) for n in fitted if is_delay(n)}
    coords = Coords(problem, fitted, bounds, caps)
    steps = max(caps.values(), default=0.0) / windows.dt
    problem.allocate(max(1 + len(coords.groups()), int(steps) + 1), config.max_sims, config.nthread)
    return problem, coords, dict(bounds) if bounds else None


# ------------------------------------------------------------------------------ multi-start
def fit_start(job: StartJob) -> StartFit:
    """One start of a multi-start identification: the problem rebuilt from the job, then
    :func:`fit` from ``job.start`` (a pure function of the job: any executor gives the same result)."""
    t0 = time.perf_counter()
    config = job.config
    problem, coords, _ = build_problem(
        job.spec, job.trajectories, job.model, list(job.fitted), config, job.names, job.bounds
    )
    problem.values = {n: np.array(v, dtype=float) for n, v in job.base.items()}
    problem.start = {n: v.copy() for n, v in problem.values.items()}
    state = fit(problem, coords, config, start=job.start)
    return StartFit(
        index=job.index,
        start=np.clip(np.asarray(job.start, dtype=float), coords.lo, coords.hi),
        x=coords.get(),
        values={n: v.copy() for n, v in problem.values.items()},
        f_scale=float(state.f_scale),
        weights=np.asarray(state.weights, dtype=float),
        held=dict(state.held),
        active=list(state.active),
        nfev=problem.nfev,
        seconds=time.perf_counter() - t0,
    )


def _multistart(
    job: StartJob,
    problem: Problem,
    coords: Coords,
    starts: int,
    seed: int,
    executor: Executor | None,
) -> tuple[FitState, MultiStart]:
    """Fit from every point on the executor, rank the fits by one common cost and write the best
    into ``problem`` (its values and log weights), like :func:`fit` leaves it."""
    executor = executor or SerialExecutor()
    points = draw_starts(coords, starts, seed)  # drawn here, not in the runs: every executor tries them
    jobs = [dataclasses.replace(job, index=i, start=z) for i, z in enumerate(points)]
    log.info("multi-start: %d starts on %s", len(jobs), executor.name)

    done = []

    def progress(i: int, f: StartFit) -> None:
        done.append(i)
        log.info("start %d done, %d of %d (%.1f s, %d rollouts)", i, len(done), len(jobs), f.seconds, f.nfev)

    fits: list[StartFit] = executor.map(fit_start, jobs, on_result=progress)
    # one loss scale and equal log weights for every start, on the caller's untouched problem
    f_common = float(np.median([f.f_scale for f in fits]))
    costs = _cost(
        problem, [{n: f.values[n] for n in problem.values} for f in fits], job.config.loss, f_common
    )
    fits = [dataclasses.replace(f, cost=float(c)) for f, c in zip(fits, costs, strict=True)]
    spread = starts_report(fits, coords, seed, job.config.start_tolerance)
    best = fits[spread.best]
    log.info(
        "multi-start: start %d fits best; %d of %d converged to it", best.index, spread.n_converged, starts
    )
    problem.values = {n: v.copy() for n, v in best.values.items()}
    problem.sample_weight = best.weights[problem.windows.eval_log]
    problem.nfev += sum(f.nfev for f in fits)
    state = FitState(
        f_scale=best.f_scale, weights=best.weights, held=dict(best.held), active=list(best.active)
    )
    return state, spread


def _delay_capacity(problem: Problem, name: str) -> float:
    """Longest delay of an actuator that both the replay and the model's delay buffer hold [s]."""
    if not name.startswith("actuator."):
        raise ParameterError(f"{name}: only actuator delays are identified")
    info = problem.params.info(name)
    buffer = float((problem.model.actuator_history[info.index, 0] - 2) * problem.model.opt.timestep)
    lead = (problem.windows.lead - 1) * problem.windows.dt
    return max(0.0, min(buffer, lead))
