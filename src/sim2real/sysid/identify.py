"""System identification: named parameters fitted to robot logs by windowed trajectory matching.

**Method.** The logs are cut into short windows started from logged states (multiple shooting,
see :mod:`sim2real.sim.replay`): each window replays the logged commands for ``horizon`` seconds,
so a long log of an unstable system (a Furuta pendulum balancing upright) still fits, because no
window runs long enough to fall over.  The residual is the difference between the simulated and
the logged joint positions and velocities at the log's own sample times, per channel divided by
how much that channel moves within a window (RMS of ``q - q_start``), velocities weighted by
``velocity_weight``.  The fit is bounded nonlinear least squares (``scipy.optimize.least_squares``,
trust-region reflective) in parameters scaled by their nominal size, with a robust loss
(``soft_l1`` by default) and then per-log weights (each log's residuals divided by its own
robust scale, so a log whose data are much noisier than the others, like a torque column full of
spikes, cannot pull the fit; such logs are flagged as outliers in the result, and isolated spikes
of a command column are reported).  From the starting values, the first iterations run on an
evenly spread quarter of the windows (``coarse_windows``); the fit then continues on all of them.

**Delays** are estimated first by a partial cross-correlation of command and acceleration
(:mod:`sim2real.sysid.delay`), then fitted on the physics-step grid: candidate delays (the whole
allowed range once, then +-2 steps around the current value) are simulated as one batch with the
other parameters at their current values, the best is kept, and the continuous parameters are
refitted until the delay stays put; its interval is the set of grid delays whose cost stays within
the chi-square threshold of the best.  MuJoCo's native delay reads the history sample at or before ``t - delay``; a delay of
exactly ``k`` steps flips between ``k`` and ``k + 1`` as time accumulates round-off, so ``k`` steps
are written as ``(k - 0.001) * dt``.

**Confidence intervals** come from the Gauss-Newton covariance at the solution (robust-loss
weighted Jacobian, residual variance ``s^2``, ``mujoco.sysid.calculate_intervals``), widened by the
lag-1 autocorrelation of the residuals (``(1 + rho) / (1 - rho)``, since samples of one window are
not independent).  **Unidentifiable** parameters are reported as such instead of a number: a
parameter without effect on the logged motion, one along a near-singular direction of the
column-normalized Jacobian (condition number above ``cond_limit``, e.g. all masses and the motor
resistance of a voltage-driven robot, which only the data's torque-to-inertia ratio determines),
or one whose interval is wider than its plausible range.  Parameters along near-singular
directions are held at their starting value and the others refitted, so the calibrated model
stays consistent; a parameter with a too-wide interval keeps its best-fit value in the model (it
is consistent with the others) but is reported without a number.

**Why not ``mujoco.sysid.optimize``.**  Its parameters are ``MjSpec`` modifiers: every residual
and every finite-difference column recompiles a model and rolls it out with ``mujoco.rollout``
over a list of models, comparing sensor time series resampled on the simulation grid.  Our
parameters are named fields written per simulation into one ``mujoco.batch.Batch``
(:class:`sim2real.params.Parameters`, including actuator coefficients derived from physical
values and native delays), our residuals compare at the log's irregular times inside windows that
start from logged states with actuator history buffers filled from past commands.  So the
Jacobian is computed here by forward differences in ONE ``Batch.rollout`` call (``1 + P``
parameter variants x ``W`` windows as simulations), and ``mujoco.sysid`` supplies the confidence
intervals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import mujoco
import numpy as np
from scipy.optimize import least_squares
from scipy.stats import chi2

from sim2real.calibration import CalibratedParam, Calibration
from sim2real.errors import ParameterError, Sim2RealError
from sim2real.logs.trajectory import Trajectory
from sim2real.params import Parameters, is_delay
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec
from sim2real.sim.replay import Replayer, VelocitySource, Windows, build_windows
from sim2real.sysid.delay import DelayEstimate, estimate_delay
from sim2real.sysid.motor import MotorModel, fit_motor_models

log = logging.getLogger(__name__)

Loss = Literal["linear", "soft_l1", "huber", "cauchy"]

__all__ = [
    "DEFAULT_PARAMS",
    "Identification",
    "IdentifyConfig",
    "LogReport",
    "ParamEstimate",
    "default_params",
    "identify",
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
"""Parameters fitted by default, per embedded robot."""


def default_params(spec: RobotSpec) -> list[str]:
    """Parameter names fitted when none are given (see :data:`DEFAULT_PARAMS`).

    A robot without a table entry gets the damping, friction loss and armature of its actuated
    joints, its actuator delays, and (DC motors) the motor resistance.
    """
    params = Parameters(spec, build_model(spec))
    if spec.name in DEFAULT_PARAMS:
        return params.resolve(list(DEFAULT_PARAMS[spec.name]))
    patterns = []
    for act in spec.actuators:
        patterns += [
            f"joint.{act.joint}.damping",
            f"joint.{act.joint}.frictionloss",
            f"joint.{act.joint}.armature",
        ]
        patterns.append(f"actuator.{act.actuator}.delay")
        if act.model == "dc_motor":
            patterns.append(f"motor.{act.actuator}.resistance")
    return params.resolve(patterns, strict=False)


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
    loss: Loss = "soft_l1"
    """Robust loss of ``scipy.optimize.least_squares``."""
    f_scale: float | None = None
    """Inlier scale of the robust loss (normalized units); None: 1.5 robust sigmas of the residuals."""
    per_log_weights: bool = True
    """Divide each log's residuals by its own robust scale in the final fit."""
    outlier_ratio: float = 2.0
    """A log whose residual scale exceeds this multiple of the other logs' median is flagged."""
    estimate_delay: bool = True
    """Estimate delays by cross-correlation before the fit."""
    delay_span: int | None = None
    """Physics steps searched either side of the delay estimate (default: from the log period)."""
    max_nfev: int = 40
    """Residual evaluations per least-squares solve."""
    fd_step: float = 1e-3
    """Finite-difference step, relative to each parameter's scale."""
    confidence: float = 0.95
    """Confidence level of the intervals."""
    cond_limit: float = 1e3
    """Condition number of the column-normalized Jacobian above which a direction is unidentifiable."""
    coarse_windows: int = 8
    """With at least 4x this many windows, the fit starts on an evenly spread quarter of them."""
    max_windows: int | None = 400
    """Use at most this many windows (evenly spread over the logs) to bound time and memory
    (every window is one simulation per parameter variant); None: all."""
    nthread: int = 0
    """MuJoCo worker threads (0: every CPU)."""


@dataclass(frozen=True, eq=False)
class ParamEstimate:
    """One identified parameter."""

    name: str
    """Parameter name."""
    value: np.ndarray
    """Value of the calibrated model, shape (size,) (the held value when not identifiable)."""
    nominal: np.ndarray
    """Nominal value, shape (size,)."""
    start: np.ndarray
    """Starting value of the fit, shape (size,)."""
    ci_low: np.ndarray | None
    """Lower end of the confidence interval (None when not identifiable)."""
    ci_high: np.ndarray | None
    """Upper end of the confidence interval (None when not identifiable)."""
    unit: str
    """SI unit."""
    identifiable: bool = True
    """Whether the logs determine it."""
    reason: str | None = None
    """Why not (None when identifiable)."""

    def as_dict(self) -> dict:
        """JSON-ready: ``value`` is null when the logs do not determine the parameter."""

        def plain(a: np.ndarray | None):
            if a is None:
                return None
            a = np.atleast_1d(a)
            return float(a[0]) if a.size == 1 else [float(x) for x in a]

        out = {
            "value": plain(self.value) if self.identifiable else None,
            "ci_low": plain(self.ci_low),
            "ci_high": plain(self.ci_high),
            "nominal": plain(self.nominal),
            "unit": self.unit,
        }
        if not self.identifiable:
            out["identifiable"] = False
            out["reason"] = self.reason
            out["held_at"] = plain(self.value)
        return out


@dataclass(frozen=True)
class LogReport:
    """How one log fitted."""

    name: str
    """The log's source."""
    windows: int
    """Windows cut from it."""
    samples: int
    """Samples compared."""
    residual_rms: float
    """RMS of its normalized residuals at the solution (before per-log weighting)."""
    residual_scale: float
    """Robust scale (1.4826 MAD) of those residuals."""
    position_rmse: float
    """RMS position error over all joints at the solution [rad]."""
    weight: float
    """Weight of its residuals in the final fit."""
    outlier: bool
    """Whether its residuals are far above the other logs'."""
    command_spikes: float
    """Largest isolated command excursion over the command's smooth level (~1 for clean logs)."""
    velocity_source: str = "log"
    """Where its windows' initial velocities came from: "log" (its column) or "fd" (positions)."""
    notes: tuple[str, ...] = ()
    """What was noticed about it."""

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "name": self.name,
            "windows": self.windows,
            "samples": self.samples,
            "residual_rms": self.residual_rms,
            "residual_scale": self.residual_scale,
            "position_rmse": self.position_rmse,
            "weight": self.weight,
            "outlier": self.outlier,
            "command_spikes": self.command_spikes,
            "velocity_source": self.velocity_source,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, eq=False)
class Identification:
    """Result of :func:`identify`."""

    robot: str
    """Robot name."""
    spec_hash: str
    """Robot spec hash."""
    params: dict[str, ParamEstimate]
    """Identified parameters by name."""
    residual_rms: float
    """RMS of the normalized residuals over all logs at the solution (unweighted)."""
    position_rmse: float
    """RMS position error at the solution, all logs and joints [rad]."""
    seconds: float
    """Wall time of the identification [s]."""
    logs: tuple[LogReport, ...]
    """Per-log fit report."""
    warnings: tuple[str, ...]
    """What the user should know (outlier logs, parameters at bounds, unidentifiable ones)."""
    delay_xcorr: float | None = None
    """Cross-correlation delay estimate [s] (None when no delay was fitted)."""
    motor_models: dict[str, MotorModel] = field(default_factory=dict)
    """Motor models of torque-sensing actuators."""
    nfev: int = 0
    """Batched rollouts (each simulates some windows for one or more parameter variants)."""
    physics_steps: int = 0
    """Physics steps simulated in total."""
    horizon: float = 0.0
    """Window length used [s]."""
    joints: tuple[str, ...] = ()
    """Joint names, in the column order of ``q_fit`` and ``qd_fit``."""
    replay: Windows | None = None
    """The fit's windows with the logged data at their evaluation samples (for reports), or None."""
    q_fit: np.ndarray | None = None
    """Positions predicted by the calibrated model at the evaluation samples, shape (E, n) [rad]."""
    qd_fit: np.ndarray | None = None
    """Velocities predicted by the calibrated model at the evaluation samples, shape (E, n) [rad/s]."""
    correlation: np.ndarray | None = None
    """Correlation of the fitted coordinates from the Gauss-Newton covariance, shape (p, p), or None."""
    correlation_labels: tuple[str, ...] = ()
    """Name of each coordinate of ``correlation`` (length p)."""

    def values(self) -> dict[str, np.ndarray]:
        """Name -> value of every identified parameter (held values included)."""
        return {n: p.value.copy() for n, p in self.params.items()}

    def calibration(self) -> Calibration:
        """The calibration file content."""
        return Calibration(
            robot=self.robot,
            spec_hash=self.spec_hash,
            params={
                n: CalibratedParam(
                    value=p.value,
                    nominal=p.nominal,
                    ci_low=p.ci_low,
                    ci_high=p.ci_high,
                    unit=p.unit,
                    identifiable=p.identifiable,
                    reason=p.reason,
                )
                for n, p in self.params.items()
            },
            residual_rms=self.residual_rms,
            logs=tuple(r.name for r in self.logs),
        )

    def summary(self) -> dict:
        """JSON summary: params, residual_rms, seconds, and the per-log report."""
        return {
            "robot": self.robot,
            "params": {n: p.as_dict() for n, p in self.params.items()},
            "residual_rms": self.residual_rms,
            "position_rmse": self.position_rmse,
            "seconds": self.seconds,
            "logs": [r.as_dict() for r in self.logs],
            "warnings": list(self.warnings),
            "delay_xcorr": self.delay_xcorr,
            "motor_models": {j: m.as_dict() for j, m in self.motor_models.items()},
            "nfev": self.nfev,
            "physics_steps": self.physics_steps,
            "horizon": self.horizon,
        }


# --------------------------------------------------------------------------- robust losses
def _rho(z: np.ndarray, loss: str) -> np.ndarray:
    """scipy's loss functions of z = (r / f_scale)^2."""
    if loss == "linear":
        return z
    if loss == "soft_l1":
        return 2.0 * (np.sqrt(1.0 + z) - 1.0)
    if loss == "huber":
        return np.where(z <= 1.0, z, 2.0 * np.sqrt(z) - 1.0)
    if loss == "cauchy":
        return np.log1p(z)
    raise Sim2RealError(f"unknown loss '{loss}' (linear, soft_l1, huber, cauchy)")


def _rho1(z: np.ndarray, loss: str) -> np.ndarray:
    """Derivative of the loss, the IRLS weight of each residual."""
    if loss == "linear":
        return np.ones_like(z)
    if loss == "soft_l1":
        return 1.0 / np.sqrt(1.0 + z)
    if loss == "huber":
        return np.where(z <= 1.0, 1.0, 1.0 / np.sqrt(np.maximum(z, 1.0)))
    if loss == "cauchy":
        return 1.0 / (1.0 + z)
    raise Sim2RealError(f"unknown loss '{loss}'")


def _robust_sigma(r: np.ndarray) -> float:
    r = r[np.isfinite(r)]
    if r.size == 0:
        return 1.0
    s = 1.4826 * float(np.median(np.abs(r)))
    return s if s > 0 else float(np.sqrt(np.mean(r**2))) or 1.0


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


# ------------------------------------------------------------------------------ the problem
class _Problem:
    """Windows, the batched replayer, residual definition and parameter bookkeeping."""

    def __init__(
        self,
        spec: RobotSpec,
        windows: Windows,
        model: mujoco.MjModel,
        names: list[str],
        config: IdentifyConfig,
        replicas: int,
    ) -> None:
        self.spec = spec
        self.windows = windows
        self.config = config
        self.params = Parameters(spec, model)
        self.replayer = Replayer(spec, windows, model=model, replicas=replicas, nthread=config.nthread)
        self.values: dict[str, np.ndarray] = {n: self.params.get(model, n) for n in names}
        self.start = {n: v.copy() for n, v in self.values.items()}
        # channel scales: how much each channel moves within a window
        w = windows
        q_start = w.q0[w.eval_window]
        qd_start = w.qd0[w.eval_window]
        floor_q, floor_v = 1e-4, 1e-3
        self.s_q = np.maximum(np.sqrt(np.mean((w.q - q_start) ** 2, axis=0)), floor_q)
        self.s_v = np.maximum(np.sqrt(np.mean((w.qd - qd_start) ** 2, axis=0)), floor_v)
        self.sample_weight = np.ones(w.n_eval)
        self.nfev = 0
        self.subset: np.ndarray | None = None
        self._ev = np.arange(w.n_eval)
        self.last_jacobian: tuple | None = None
        """(coordinates, scaled point, weighted residuals, Jacobian, window subset) of the last fit."""

    def use_windows(self, subset: np.ndarray | None) -> None:
        """Fit on some windows only (None: all)."""
        self.subset = None if subset is None else np.asarray(subset, dtype=np.int64)
        if self.subset is None:
            self._ev = np.arange(self.windows.n_eval)
        else:
            mask = np.zeros(self.windows.n_windows, dtype=bool)
            mask[self.subset] = True
            self._ev = np.flatnonzero(mask[self.windows.eval_window])

    @property
    def n_channels(self) -> int:
        return 2 * self.spec.n_joints

    def raw_residuals(self, rows: list[dict[str, np.ndarray]]) -> np.ndarray:
        """Unweighted normalized residuals of each parameter variant, shape (R, E, 2n)."""
        R = len(rows)
        values = {n: np.stack([row[n] for row in rows]) for n in rows[0]}
        pred = self.replayer.run(values, replicas=R, windows=self.subset)
        self.nfev += 1
        w = self.windows
        ev = self._ev
        rq = (pred.q - w.q[ev][None]) / self.s_q
        rv = self.config.velocity_weight * (pred.qd - w.qd[ev][None]) / self.s_v
        r = np.concatenate([rq, rv], axis=2)
        return np.nan_to_num(r, nan=1e6, posinf=1e6, neginf=-1e6)

    def weighted(self, raw: np.ndarray) -> np.ndarray:
        """Apply the per-sample (per-log) weights and flatten, shape (R, E * 2n)."""
        return (raw * self.sample_weight[self._ev][None, :, None]).reshape(raw.shape[0], -1)


class _Coords:
    """The continuous unknowns: components of the fitted non-delay parameters, scaled."""

    def __init__(
        self, problem: _Problem, names: list[str], bounds: Mapping[str, tuple] | None = None
    ) -> None:
        self.problem = problem
        self.items: list[tuple[str, int]] = []
        scale, lo, hi = [], [], []
        for name in names:
            info = problem.params.info(name)
            low, high = _bounds_of(info, bounds)
            for c in range(info.size):
                self.items.append((name, c))
                span = float(high[c] - low[c])
                scale.append(max(abs(float(info.nominal[c])), 0.1 * span, 1e-12))
                lo.append(float(low[c]))
                hi.append(float(high[c]))
        self.scale = np.array(scale)
        self.lo = np.array(lo) / self.scale
        self.hi = np.array(hi) / self.scale

    @property
    def size(self) -> int:
        return len(self.items)

    def get(self) -> np.ndarray:
        return np.array([self.problem.values[n][c] for n, c in self.items]) / self.scale

    def row(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """All current values with the coordinates replaced by ``z`` (scaled)."""
        out = {n: v.copy() for n, v in self.problem.values.items()}
        for (n, c), zi, s in zip(self.items, z, self.scale, strict=True):
            out[n][c] = zi * s
        return out

    def put(self, z: np.ndarray) -> None:
        for (n, c), zi, s in zip(self.items, z, self.scale, strict=True):
            self.problem.values[n][c] = zi * s

    def label(self, i: int) -> str:
        n, c = self.items[i]
        return n if self.problem.params.info(n).size == 1 else f"{n}[{c}]"


def _bounds_of(info, bounds: Mapping[str, tuple] | None) -> tuple[np.ndarray, np.ndarray]:
    """A parameter's (low, high): the spec's plausible bounds unless overridden."""
    if bounds and info.name in bounds:
        low, high = bounds[info.name]
        low = np.broadcast_to(np.asarray(low, dtype=float), (info.size,))
        high = np.broadcast_to(np.asarray(high, dtype=float), (info.size,))
        if np.any(low > high):
            raise ParameterError(f"{info.name}: bound low {low.tolist()} is above high {high.tolist()}")
        return low, high
    return info.low, info.high


def _fit(problem: _Problem, coords: _Coords, loss: str, f_scale: float, max_nfev: int, tol: float = 1e-4):
    """One bounded robust least-squares solve; returns the scipy result."""
    if coords.size == 0:
        return None
    h = problem.config.fd_step
    cache: dict[bytes, np.ndarray] = {}

    def fun(z: np.ndarray) -> np.ndarray:
        key = z.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = problem.weighted(problem.raw_residuals([coords.row(z)]))[0]
        return cache[key]

    def jac(z: np.ndarray) -> np.ndarray:
        steps = np.where(z + h <= coords.hi, h, -h)
        rows = [coords.row(z)]
        for i in range(coords.size):
            zi = z.copy()
            zi[i] += steps[i]
            rows.append(coords.row(zi))
        r = problem.weighted(problem.raw_residuals(rows))
        cache.clear()
        cache[z.tobytes()] = r[0]
        J = ((r[1:] - r[0][None]) / steps[:, None]).T
        problem.last_jacobian = (coords.items, z.copy(), r[0], J, problem.subset)
        return J

    z0 = np.clip(coords.get(), coords.lo, coords.hi)
    margin = 1e-3 * (coords.hi - coords.lo)
    z0 = np.clip(z0, coords.lo + margin, coords.hi - margin)
    result = least_squares(
        fun,
        z0,
        jac=jac,
        bounds=(coords.lo, coords.hi),
        loss=loss,
        f_scale=f_scale,
        max_nfev=max_nfev,
        method="trf",
        x_scale=1.0,
        xtol=tol,
        ftol=tol,
        gtol=1e-8,
    )
    coords.put(result.x)
    log.debug(
        "least squares: %d residual and %d Jacobian evaluations, cost %.4g (%s)",
        result.nfev,
        result.njev,
        result.cost,
        result.message,
    )
    return result


def _delay_value(k: int, dt: float) -> float:
    """Parameter value that makes MuJoCo's native delay exactly k physics steps (see module docstring)."""
    return 0.0 if k <= 0 else (k - 1e-3) * dt


def _scan_delay(
    problem: _Problem, name: str, center: int, span: int, k_max: int, loss: str, f_scale: float
) -> tuple[int, np.ndarray, np.ndarray]:
    """Robust cost of every delay k in center +- span (one batch); returns (best k, ks, costs)."""
    ks = np.arange(max(0, center - span), min(k_max, center + span) + 1)
    dt = problem.windows.dt
    rows = []
    for k in ks:
        row = {n: v.copy() for n, v in problem.values.items()}
        row[name] = np.array([_delay_value(int(k), dt)])
        rows.append(row)
    costs = np.empty(ks.size)
    chunk = problem.replayer.replicas
    for i in range(0, ks.size, chunk):
        r = problem.weighted(problem.raw_residuals(rows[i : i + chunk]))
        z = (r / f_scale) ** 2
        costs[i : i + chunk] = 0.5 * f_scale**2 * _rho(z, loss).sum(axis=1)
    best = int(ks[int(np.argmin(costs))])
    problem.values[name] = np.array([_delay_value(best, dt)])
    return best, ks, costs


def _jacobian_at(problem: _Problem, coords: _Coords) -> tuple[np.ndarray, np.ndarray]:
    """Weighted residuals and their Jacobian (scaled coordinates) at the current values."""
    z = coords.get()
    last = problem.last_jacobian
    if last is not None and last[0] == coords.items and last[4] is None and np.array_equal(last[1], z):
        return last[2], last[3]  # the least-squares solve ended where it last took a Jacobian
    h = problem.config.fd_step
    steps = np.where(z + h <= coords.hi, h, -h)
    rows = [coords.row(z)]
    for i in range(coords.size):
        zi = z.copy()
        zi[i] += steps[i]
        rows.append(coords.row(zi))
    out = []
    chunk = problem.replayer.replicas
    for i in range(0, len(rows), chunk):
        out.append(problem.weighted(problem.raw_residuals(rows[i : i + chunk])))
    r = np.concatenate(out)
    return r[0], ((r[1:] - r[0][None]) / steps[:, None]).T


def _lag1(raw: np.ndarray, windows: Windows) -> float:
    """Lag-1 autocorrelation of residuals within windows (pooled over channels), clipped to [0, 0.99]."""
    same = windows.eval_window[1:] == windows.eval_window[:-1]
    a, b = raw[:-1][same], raw[1:][same]
    den = float(np.sum(a * a))
    rho = float(np.sum(a * b)) / den if den > 0 else 0.0
    return float(np.clip(rho, 0.0, 0.99))


def _sysid_intervals():
    """``mujoco.sysid.calculate_intervals``; without the extra the module imports empty."""
    import mujoco.sysid

    if not hasattr(mujoco.sysid, "calculate_intervals"):
        raise Sim2RealError(
            "mujoco.sysid is empty: MuJoCo's 'sysid' extra is not installed (pip install 'mujoco[sysid]')"
        )
    return mujoco.sysid.calculate_intervals


def _evenly(n: int, k: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


def identify(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    params: Sequence[str] | str | None = None,
    *,
    config: IdentifyConfig | None = None,
    model: mujoco.MjModel | None = None,
    names: Sequence[str] | None = None,
    bounds: Mapping[str, tuple] | None = None,
) -> Identification:
    """Fit named parameters of a robot to logs (see the module docstring for the method).

    Args:
        spec: The robot.
        trajectories: One or more logs (with commands) of it.
        params: Names or ``*`` patterns, a list or a comma-separated string; None for
            :func:`default_params`.
        config: Fit settings.
        model: Model to start from (e.g. a previous calibration); default: nominal.
        names: A name per log for the report (default: each log's source).
        bounds: Parameter name -> (low, high) replacing the spec's plausible bounds in this fit
            (physical limits still apply: masses positive, delays within the model's capacity).

    Returns:
        Identified values with intervals, per-log residuals and warnings.

    Raises:
        ParameterError: unknown parameter names or patterns.
        LogError: logs that do not fit the robot (joints, commands, too short).
    """
    t_start = time.perf_counter()
    config = config or IdentifyConfig()
    model = model if model is not None else build_model(spec)
    registry = Parameters(spec, model)
    fitted = default_params(spec) if params is None else registry.resolve(params)
    if not fitted:
        raise ParameterError("no parameters to identify")
    if spec.floating_base:
        raise Sim2RealError(
            f"{spec.name}: identification of floating-base robots needs the base state, which joint-state "
            "logs do not carry (not supported yet)"
        )
    for name in fitted:
        if registry.info(name).group == "sensor" and registry.info(name).quantity != "bias":
            raise ParameterError(f"{name}: sensor noise and delay are not identified by trajectory matching")
    delays = [n for n in fitted if is_delay(n)]
    sensor_delay = [n for n in delays if not n.startswith("actuator.")]
    if sensor_delay:
        raise ParameterError(f"{sensor_delay[0]}: only actuator delays are identified")
    continuous = [n for n in fitted if not is_delay(n)]

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
    n_coords = sum(registry.info(n).size for n in continuous)
    dt = windows.dt
    periods = [float(np.median(np.diff(tr.t))) for tr in trajectories]
    span = config.delay_span or max(3, int(np.ceil(max(periods) / dt)) + 1)
    replicas = max(1 + n_coords, 2 * span + 1)
    problem = _Problem(spec, windows, model, fitted, config, replicas)
    if bounds:
        registry.resolve(list(bounds))  # unknown names are an error
        bounds = {n: b for key, b in bounds.items() for n in registry.resolve([key])}
    coords = _Coords(problem, continuous, bounds)
    warnings: list[str] = []

    # ---------------------------------------------------------------- delay: cross-correlation
    delay_est: DelayEstimate | None = None
    k_max = {}
    for name in delays:
        info = registry.info(name)
        capacity = (model.actuator_history[info.index, 0] - 2) * dt
        k_max[name] = int(np.floor(min(float(_bounds_of(info, bounds)[1][0]), capacity) / dt + 1e-9))
    if delays and config.estimate_delay:
        delay_est = estimate_delay(spec, trajectories, max(dt, max(k_max.values()) * dt))
        for name in delays:
            k0 = min(k_max[name], round(delay_est.delay / dt))
            problem.values[name] = np.array([_delay_value(k0, dt)])
        log.info(
            "cross-correlation delay estimate: %.4f s (correlation %.2f)", delay_est.delay, delay_est.peak
        )

    def current_k(name: str) -> int:
        return round(float(problem.values[name][0]) / dt)

    # ------------------------------------------------ coarse stage: a quarter of the windows
    # From the starting values most iterations are far from the optimum: they run on an evenly
    # spread subset of the windows, and the delay is searched over its whole range there.
    eval_log = windows.eval_log
    n_logs = len(windows.names)
    weights = np.ones(n_logs)
    coarse = windows.n_windows >= 4 * config.coarse_windows
    if coarse:
        problem.use_windows(_evenly(windows.n_windows, max(config.coarse_windows, windows.n_windows // 4)))
    raw0 = problem.raw_residuals([coords.row(coords.get())])[0]
    f_scale = config.f_scale or 1.5 * _robust_sigma(raw0)
    if coarse:
        _fit(problem, coords, config.loss, f_scale, config.max_nfev, tol=1e-3)
        for name in delays:
            _scan_delay(problem, name, current_k(name), k_max[name], k_max[name], config.loss, f_scale)

    # ----------- per-log weights and loss scale from the residuals there (the coarse windows if any)
    if config.per_log_weights and n_logs > 1:
        problem.use_windows(None)  # weights need every log's windows
    raw = problem.raw_residuals([coords.row(coords.get())])[0]
    sub_log = eval_log[problem._ev]
    problem.use_windows(None)
    if config.per_log_weights and n_logs > 1:
        scales = np.array(
            [
                _robust_sigma(raw[sub_log == i].ravel()) if np.any(sub_log == i) else np.nan
                for i in range(n_logs)
            ]
        )
        ref = float(np.nanmedian(scales))
        weights = np.clip(np.where(np.isfinite(scales), ref / np.maximum(scales, 1e-12), 1.0), 0.05, 20.0)
        problem.sample_weight = weights[eval_log]
    if config.f_scale is None and (coarse or delays):
        f_scale = 1.5 * _robust_sigma(raw * weights[sub_log][:, None])

    # ---------------------------------------------------- all windows: fit, delay grid, repeat
    for round_ in range(6):
        _fit(problem, coords, config.loss, f_scale, config.max_nfev)
        changed = False
        for name in delays:
            before = current_k(name)
            # without a coarse stage the first search spans the whole range, then it refines
            reach = k_max[name] if round_ == 0 and not coarse else 2
            _scan_delay(problem, name, before, reach, k_max[name], config.loss, f_scale)
            changed |= current_k(name) != before
        if round_ == 0 and config.f_scale is None and not coarse:
            # the first fit started from far away: take the loss scale at its solution
            raw = problem.raw_residuals([coords.row(coords.get())])[0]
            new_scale = 1.5 * _robust_sigma(problem.weighted(raw[None])[0])
            changed |= abs(new_scale - f_scale) > 0.5 * f_scale
            f_scale = new_scale
        if not changed:
            break
    else:
        _fit(problem, coords, config.loss, f_scale, config.max_nfev)

    # ---------------------------------------------------------------- identifiability
    held: dict[int, str] = {}
    active = list(range(coords.size))
    current: tuple[np.ndarray, np.ndarray] | None = None  # (residuals, Jacobian) at the solution
    for _ in range(coords.size):
        if not active:
            break
        r_w, J = _jacobian_at(problem, coords)
        current = (r_w, J)
        z = (r_w / f_scale) ** 2
        sw = np.sqrt(_rho1(z, config.loss))
        Jw = J * sw[:, None]
        new = _unidentifiable(Jw, active, coords, config.cond_limit)
        if not new:
            break
        for i, reason in new.items():
            held[i] = reason
            n, c = coords.items[i]
            problem.values[n][c] = problem.start[n][c]
        active = [i for i in active if i not in held]
        sub = _Subset(coords, active)
        _fit(problem, sub, config.loss, f_scale, config.max_nfev)
        current = None

    # ---------------------------------------------------------------- intervals
    calculate_intervals = _sysid_intervals()

    r_w, J = current if current is not None else _jacobian_at(problem, coords)
    z = (r_w / f_scale) ** 2
    sw = np.sqrt(_rho1(z, config.loss))
    raw = r_w.reshape(windows.n_eval, -1) / problem.sample_weight[:, None]
    rho = _lag1(raw * problem.sample_weight[:, None], windows)
    inflation = (1.0 + rho) / (1.0 - rho)
    half = np.full(coords.size, np.inf)
    correlation = None
    if active:
        Jw = (J * sw[:, None])[:, active]
        _, hw = calculate_intervals([r_w * sw], Jw, alpha=1.0 - config.confidence)
        half[active] = np.asarray(hw) * np.sqrt(inflation)
        correlation = _correlation(Jw)
    # an interval wider than the plausible range: the logs do not determine the value, but the
    # estimate is still the best fit (and consistent with the others), so it stays in the model
    wide = {
        i: "its confidence interval is wider than its plausible range: the logs barely depend on it"
        for i in active
        if not np.isfinite(half[i]) or half[i] > (coords.hi[i] - coords.lo[i])
    }

    # delay intervals: profile of the robust cost over the grid
    delay_ci: dict[str, tuple[float, float] | None] = {}
    if delays:
        dof = max(1, r_w.size - len(active))
        s2 = float(np.sum((r_w * sw) ** 2)) / dof * inflation
        threshold = chi2.ppf(config.confidence, 1)
        for name in delays:
            _, ks, costs = _scan_delay(
                problem, name, current_k(name), span, k_max[name], config.loss, f_scale
            )
            inside = ks[2.0 * (costs - costs.min()) / max(s2, 1e-300) <= threshold]
            edge_hit = (inside.min() == ks.min() and ks.min() > 0) or (
                inside.max() == ks.max() and ks.max() < k_max[name]
            )
            if inside.size == ks.size and ks.size > 2:
                delay_ci[name] = None
            else:
                delay_ci[name] = (max(0.0, (inside.min() - 0.5) * dt), (inside.max() + 0.5) * dt)
                if edge_hit:
                    warnings.append(f"{name}: the delay interval reaches the edge of the searched range")

    # ---------------------------------------------------------------- report
    if delays:  # the profile scan may have moved a delay
        raw = problem.raw_residuals([coords.row(coords.get())])[0]
    estimates: dict[str, ParamEstimate] = {}
    for name in fitted:
        info = registry.info(name)
        value = problem.values[name].copy()
        if is_delay(name):
            ci = delay_ci.get(name)
            identifiable = not (name in delay_ci and ci is None)
            reason = None if identifiable else "every delay in the searched range fits equally well"
            if not identifiable:
                value = problem.start[name].copy()
            elif current_k(name) >= k_max[name] and k_max[name] > 0:
                warnings.append(
                    f"{name} = {value[0]:.4g} s sits at the largest delay allowed "
                    f"({k_max[name] * dt:.4g} s): the data may want a longer one"
                )
            estimates[name] = ParamEstimate(
                name,
                value,
                info.nominal.copy(),
                problem.start[name].copy(),
                None if ci is None else np.array([ci[0]]),
                None if ci is None else np.array([ci[1]]),
                info.unit,
                identifiable,
                reason,
            )
            continue
        idx = [i for i, (n, _) in enumerate(coords.items) if n == name]
        reasons = [held[i] for i in idx if i in held] + [wide[i] for i in idx if i in wide]
        # the fit is bounded: so is the interval
        lo = np.array(
            [
                max(value[c] - half[i] * coords.scale[i], coords.lo[i] * coords.scale[i])
                for c, i in enumerate(idx)
            ]
        )
        hi = np.array(
            [
                min(value[c] + half[i] * coords.scale[i], coords.hi[i] * coords.scale[i])
                for c, i in enumerate(idx)
            ]
        )
        identifiable = not reasons
        estimates[name] = ParamEstimate(
            name,
            value,
            info.nominal.copy(),
            problem.start[name].copy(),
            lo if identifiable else None,
            hi if identifiable else None,
            info.unit,
            identifiable,
            "; ".join(dict.fromkeys(reasons)) or None,
        )
        if identifiable:
            low, high = _bounds_of(info, bounds)
            for c, i in enumerate(idx):
                at_low = value[c] <= low[c] + 1e-6 * (high[c] - low[c])
                at_high = value[c] >= high[c] - 1e-6 * (high[c] - low[c])
                if at_low or at_high:
                    warnings.append(
                        f"{coords.label(i)} = {value[c]:.4g} {info.unit} sits at its plausible "
                        f"{'lower' if at_low else 'upper'} bound: the data may want a value outside the spec's range"
                    )
    for name, est in estimates.items():
        if not est.identifiable:
            warnings.append(
                f"{name}: not identifiable from these logs ({est.reason}); held at {est.value.tolist()}"
            )

    # per-log report
    reports = []
    pos_err = raw[:, : spec.n_joints] * problem.s_q  # [rad]
    scales = np.array([_robust_sigma(raw[eval_log == i].ravel()) for i in range(n_logs)])
    for i, traj in enumerate(trajectories):
        sel = eval_log == i
        others = np.delete(scales, i)
        outlier = bool(others.size and scales[i] > config.outlier_ratio * float(np.median(others)))
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
        for note in notes:
            warnings.append(f"log {windows.names[i]}: {note}")

    motors = fit_motor_models(spec, trajectories)
    n = spec.n_joints
    fit_raw = np.where(np.abs(raw) >= 1e6, np.nan, raw)  # failed rollouts: no prediction
    q_fit = windows.q + fit_raw[:, :n] * problem.s_q
    qd_fit = windows.qd + fit_raw[:, n:] * problem.s_v / config.velocity_weight
    seconds = time.perf_counter() - t_start
    return Identification(
        robot=spec.name,
        spec_hash=spec.hash,
        params=estimates,
        residual_rms=float(np.sqrt(np.mean(raw**2))),
        position_rmse=float(np.sqrt(np.mean(pos_err**2))),
        seconds=seconds,
        logs=tuple(reports),
        warnings=tuple(warnings),
        delay_xcorr=None if delay_est is None else delay_est.delay,
        motor_models=motors,
        nfev=problem.nfev,
        physics_steps=problem.replayer.physics_steps,
        horizon=float(config.horizon),
        joints=tuple(spec.joints),
        replay=windows,
        q_fit=q_fit,
        qd_fit=qd_fit,
        correlation=correlation,
        correlation_labels=tuple(coords.label(i) for i in active) if correlation is not None else (),
    )


def _correlation(Jw: np.ndarray) -> np.ndarray:
    """Correlation matrix of the Gauss-Newton covariance ``(Jw^T Jw)^-1``, shape (p, p)."""
    cov = np.linalg.pinv(Jw.T @ Jw)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-300))
    return np.clip(cov / np.outer(sd, sd), -1.0, 1.0)


class _Subset(_Coords):
    """A view of some coordinates of a :class:`_Coords` (the others held)."""

    def __init__(self, parent: _Coords, active: list[int]) -> None:
        self.problem = parent.problem
        self.items = [parent.items[i] for i in active]
        self.scale = parent.scale[active]
        self.lo = parent.lo[active]
        self.hi = parent.hi[active]


def _unidentifiable(Jw: np.ndarray, active: list[int], coords: _Coords, cond_limit: float) -> dict[int, str]:
    """Coordinates to hold: no effect, or the largest member of a near-singular direction."""
    sub = Jw[:, active]
    norms = np.linalg.norm(sub, axis=0)
    top = float(norms.max()) if norms.size else 0.0
    dead = [active[k] for k in range(len(active)) if norms[k] <= 1e-9 * max(top, 1e-300)]
    if dead:
        return {i: "it has no measurable effect on the logged motion" for i in dead}
    if len(active) < 2:
        return {}
    unit = sub / norms
    _, s, vt = np.linalg.svd(unit, full_matrices=False)
    if s[0] / max(s[-1], 1e-300) <= cond_limit:
        return {}
    v = vt[-1]
    k = int(np.argmax(np.abs(v)))
    partners = [coords.label(active[j]) for j in np.argsort(-np.abs(v)) if j != k and abs(v[j]) > 0.2]
    with_ = ", ".join(partners) if partners else "the other parameters"
    return {
        active[k]: f"only its combination with {with_} is determined by the data "
        f"(condition number {s[0] / max(s[-1], 1e-300):.0e})"
    }
