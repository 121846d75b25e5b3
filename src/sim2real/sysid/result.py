"""What an identification returns: parameter estimates with intervals, per-log reports, the result.

A parameter the logs determine has a value and a confidence interval; one they do not determine
has ``identifiable: false``, the reason, the value the fit held it at (so the calibrated model
stays consistent) and still an interval: the range the data leave open (its plausible range when
nothing narrows it), which holds the true value (see :mod:`sim2real.sysid.intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim2real.calibration import CalibratedParam, Calibration
from sim2real.sim.replay import Windows
from sim2real.sysid.motor import MotorModel
from sim2real.sysid.multistart import MultiStart

__all__ = ["Identification", "LogReport", "ParamEstimate"]


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
    """Lower end of the confidence interval; for a parameter the logs do not determine, of the
    range they leave open (None only when no interval can be given)."""
    ci_high: np.ndarray | None
    """Upper end of that interval."""
    unit: str
    """SI unit."""
    identifiable: bool = True
    """Whether the logs determine it."""
    reason: str | None = None
    """Why not (None when identifiable)."""

    def as_dict(self) -> dict:
        """JSON-ready: ``value`` is null when the logs do not determine the parameter (``identifiable``
        false, with ``reason``, ``held_at`` and the open interval)."""

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
            "identifiable": bool(self.identifiable),
            "reason": self.reason,
        }
        if not self.identifiable:
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
    """Correlation of the fitted coordinates (the intervals' covariance), shape (p, p), or None."""
    correlation_labels: tuple[str, ...] = ()
    """Name of each coordinate of ``correlation`` (length p)."""
    fixed_base: bool = False
    """Whether the logs were replayed with the robot hung by its base (legs in the air)."""
    starts: MultiStart | None = None
    """The starts of a multi-start identification and their spread (None: one start)."""
    step_shift: dict[str, np.ndarray] | None = None
    """The half-step shift ``delta`` of every fitted parameter (shape (size,), its units; 0 where
    nothing moved) when the values are the step-free ``theta(h) + 2 delta``
    (:mod:`sim2real.sysid.resolution`); None when no step-free value was extrapolated."""

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
            "fixed_base": self.fixed_base,
            "starts": None if self.starts is None else self.starts.as_dict(),
        }
