"""Calibration files: identified parameter values with intervals, bound to a robot spec hash.

Format (YAML; ``sim2real.param_files.load_values`` reads it as a parameter file too)::

    format: sim2real.calibration/1
    robot: pendulum
    spec_hash: 291002dc0ac3...            # the full sha256 of the robot spec
    created: '2025-01-01T12:00:00+00:00'
    logs: [pd_excitation.csv, energy_shaping.csv]
    residual_rms: 0.041
    params:
      body.pole.mass: {value: 0.21, ci_low: 0.205, ci_high: 0.215, nominal: 0.6755, unit: kg}
      joint.hinge.armature:                # not determined by the logs: held at its nominal value
        {value: 0.0, ci_low: 0.0, ci_high: 0.05, nominal: 0.0, unit: kg m^2,
         identifiable: false, reason: '...'}

Every ``value`` is a number (or a list for vector parameters), so that the file always describes
one consistent model; a parameter the logs could not determine carries ``identifiable: false``,
its reason, and the interval the logs leave open (its plausible range when nothing narrows it; null
in files of older versions), and its value is the one the fit held it at.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import yaml

from sim2real.errors import ParameterError, SpecMismatchError
from sim2real.params import Parameters
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec
from sim2real.text import read_text

FORMAT = "sim2real.calibration/1"
"""Value of ``format`` in calibration files."""

__all__ = [
    "FORMAT",
    "CalibratedParam",
    "Calibration",
    "calibrated_model",
    "load_calibration",
    "save_calibration",
]


@dataclass(frozen=True, eq=False)
class CalibratedParam:
    """One calibrated parameter (arrays of the parameter's size)."""

    value: np.ndarray
    """Value used by the calibrated model (SI)."""
    nominal: np.ndarray
    """Nominal value of the robot spec."""
    ci_low: np.ndarray | None = None
    """Lower end of the confidence interval (for a parameter the logs do not determine: of the range
    they leave open), or None when there is none."""
    ci_high: np.ndarray | None = None
    """Upper end of that interval, or None."""
    unit: str = ""
    """SI unit."""
    identifiable: bool = True
    """Whether the logs determined it."""
    reason: str | None = None
    """Why it is not identifiable (None when it is)."""


@dataclass(frozen=True, eq=False)
class Calibration:
    """A robot's identified parameters, bound to its spec hash."""

    robot: str
    """Robot name."""
    spec_hash: str
    """Hash of the robot spec the calibration was made for."""
    params: Mapping[str, CalibratedParam]
    """Parameter name -> calibrated value and interval."""
    residual_rms: float | None = None
    """RMS of the normalized fit residuals."""
    logs: tuple[str, ...] = ()
    """The logs it was identified from."""
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    """Creation time (ISO 8601, UTC)."""
    spec_files: Mapping[str, str] = field(default_factory=dict)
    """File -> sha256 of every file the spec hash covers (names the file that changed on a mismatch)."""

    def values(self) -> dict[str, np.ndarray]:
        """Name -> value of every parameter, for ``Parameters.set``."""
        return {name: p.value.copy() for name, p in self.params.items()}


def _plain(a: np.ndarray | None) -> float | list[float] | None:
    if a is None:
        return None
    a = np.atleast_1d(np.asarray(a, dtype=float))
    return float(a[0]) if a.size == 1 else [float(x) for x in a]


def save_calibration(path: str | Path, calib: Calibration, spec: RobotSpec | None = None) -> None:
    """Write a calibration YAML file (see the module docstring); with the robot's ``spec`` (of the
    calibration's hash), the digest of every file its hash covers is stored too."""
    if spec is not None and spec.hash == calib.spec_hash and not calib.spec_files:
        calib = dataclasses.replace(calib, spec_files=dict(spec.files))
    params = {}
    for name, p in calib.params.items():
        entry: dict = {
            "value": _plain(p.value),
            "ci_low": _plain(p.ci_low),
            "ci_high": _plain(p.ci_high),
            "nominal": _plain(p.nominal),
            "unit": p.unit,
        }
        if not p.identifiable:
            entry["identifiable"] = False
            entry["reason"] = p.reason or "not determined by the logs"
        params[name] = entry
    doc = {
        "format": FORMAT,
        "robot": calib.robot,
        "spec_hash": calib.spec_hash,
        "created": calib.created,
        "logs": list(calib.logs),
        "residual_rms": None if calib.residual_rms is None else float(calib.residual_rms),
        "params": params,
    }
    if calib.spec_files:
        doc["spec_files"] = dict(calib.spec_files)
    header = f"# sim2real calibration of robot '{calib.robot}' (spec {calib.spec_hash[:12]})\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(header + yaml.safe_dump(doc, sort_keys=False, width=110))


def _array(value: object, where: str) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: {value!r} is not a number or list of numbers") from None
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{where}: must be finite, got {value!r}")
    return arr


def _interval(value: np.ndarray, entry: dict, where: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The confidence interval ``(ci_low, ci_high)`` of an entry (None where absent), checked: as many
    components as the value, low end not above the high end (an inverted interval would make an
    inverted randomization range when training is centred on the calibration)."""
    low = _array(entry.get("ci_low"), f"{where}.ci_low")
    high = _array(entry.get("ci_high"), f"{where}.ci_high")
    for end, key in ((low, "ci_low"), (high, "ci_high")):
        if end is not None and end.size not in (1, value.size):
            raise ParameterError(f"{where}.{key}: {end.size} components, but the value has {value.size}")
    if low is not None and high is not None and np.any(low > high):
        raise ParameterError(
            f"{where}: the interval is inverted (ci_low {low.tolist()} > ci_high {high.tolist()}); "
            "fix the file or identify again"
        )
    return low, high


def load_calibration(
    path: str | Path, spec: RobotSpec | None = None, *, allow_out_of_bounds: bool = False
) -> Calibration:
    """Read a calibration file; with ``spec``, check that it was made for that robot (name and
    spec hash) and that its values lie within the robot's plausible bounds.

    Args:
        path: The calibration YAML.
        spec: The robot it must belong to, or None (no check).
        allow_out_of_bounds: Accept values outside the plausible bounds (a warning).

    Raises:
        ParameterError: missing file, not YAML, not a calibration file, malformed entries, unknown
            parameters, values outside the bounds.
        SpecMismatchError: the file's robot name or spec hash is not the robot's.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"calibration file not found: {path}")
    try:
        raw = yaml.safe_load(read_text(path, ParameterError, "calibration file"))
    except yaml.YAMLError:
        raise ParameterError(f"{path}: not valid YAML") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("params"), dict) or not raw.get("spec_hash"):
        raise ParameterError(f"{path}: not a calibration file (needs 'spec_hash' and a 'params' map)")
    if not raw["params"]:
        raise ParameterError(f"{path}: the calibration names no parameter; identify again (sim2real identify)")
    found = str(raw["spec_hash"])
    robot = str(raw.get("robot") or "")
    recorded = raw.get("spec_files") if isinstance(raw.get("spec_files"), dict) else {}
    if spec is not None and (found != spec.hash or (robot and robot != spec.name)):
        from sim2real.robots.files import changed_files

        raise SpecMismatchError(
            f"calibration {path}",
            spec.hash,
            found,
            changed_files(recorded, spec.files) if robot in ("", spec.name) else (),
            expected_robot=spec.name,
            found_robot=robot or "?",
            detail="identify it again from this robot's logs",
        )
    params: dict[str, CalibratedParam] = {}
    for name, entry in raw["params"].items():
        where = f"{path}: params.{name}"
        if not isinstance(entry, dict) or "value" not in entry:
            raise ParameterError(f"{where}: needs a 'value'")
        value = _array(entry["value"], f"{where}.value")
        if value is None:
            raise ParameterError(f"{where}.value: give a number or a list of numbers")
        ci_low, ci_high = _interval(value, entry, where)
        params[str(name)] = CalibratedParam(
            value=value,
            nominal=_array(entry.get("nominal"), f"{where}.nominal")
            if entry.get("nominal") is not None
            else value,
            ci_low=ci_low,
            ci_high=ci_high,
            unit=str(entry.get("unit", "")),
            identifiable=bool(entry.get("identifiable", True)),
            reason=entry.get("reason"),
        )
    if spec is not None:
        known = Parameters(spec, build_model(spec))
        for name in params:
            try:
                known.info(name)
            except ParameterError as exc:
                raise ParameterError(f"{path}: {exc}") from None
        known.check_bounds(
            {n: p.value for n, p in params.items()}, f"calibration {path}", allow=allow_out_of_bounds
        )
    return Calibration(
        robot=robot,
        spec_hash=found,
        params=params,
        residual_rms=raw.get("residual_rms"),
        logs=tuple(str(x) for x in raw.get("logs") or ()),
        created=str(raw.get("created", "")),
        spec_files={str(k): str(v) for k, v in recorded.items()},
    )


def calibrated_model(
    spec: RobotSpec,
    calib: Calibration | str | Path | Mapping[str, object] | None,
    model: mujoco.MjModel | None = None,
    *,
    allow_out_of_bounds: bool = False,
) -> mujoco.MjModel:
    """The robot's compiled model with calibrated parameter values (nominal when ``calib`` is None).

    Args:
        spec: The robot.
        calib: A :class:`Calibration`, a calibration file path (robot, spec hash and bounds are
            checked, see :func:`load_calibration`), or a plain map from parameter name to value.
        model: The compiled model to write the values into (e.g. the robot hung by its base);
            default: a fresh nominal model.
        allow_out_of_bounds: Accept a calibration file's values outside the plausible bounds.
    """
    model = model if model is not None else build_model(spec)
    if calib is None:
        return model
    if isinstance(calib, str | Path):
        calib = load_calibration(calib, spec, allow_out_of_bounds=allow_out_of_bounds)
    if isinstance(calib, Calibration):
        if calib.spec_hash != spec.hash or (calib.robot and calib.robot != spec.name):
            from sim2real.robots.files import changed_files

            changed = changed_files(calib.spec_files, spec.files) if calib.robot in ("", spec.name) else ()
            raise SpecMismatchError(
                "calibration",
                spec.hash,
                calib.spec_hash,
                changed,
                expected_robot=spec.name,
                found_robot=calib.robot,
            )
        values = calib.values()
    else:
        values = dict(calib)
    Parameters(spec, model).set(model, values)
    return model
