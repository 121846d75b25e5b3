"""A :class:`~sim2real.logs.csv_import.ColumnMap` written by the user as a YAML file.

The file holds the fields of :class:`~sim2real.logs.csv_import.ColumnMap` (``docs/real_data.md``)::

    time: t_ms
    position: {hinge: pos}          # joint -> column
    velocity: {hinge: vel}          # optional: differentiated from positions when absent
    effort: {hinge: tau_measured}   # optional
    command: {hinge: tau_desired}   # optional: actuated joint -> column
    scale: {t_ms: 0.001}            # optional: column -> factor to SI (-1 flips a sign)
    offset: {pos: 3.141593}         # optional: column -> value added after scaling (the angle's zero)
    velocity_smoothing: 1           # optional
    delimiter: ";"                  # optional: sniffed from the header when absent
    unwrap: true                    # optional: unwrap angles that wrap at +-pi (default true)

A legged robot's map may add IMU columns and a floating-base track
(:mod:`~sim2real.logs.csv_floating_base`), each vector component by component::

    gyro: {x: gx, y: gy, z: gz}                 # [rad/s], IMU frame; needs accel
    accel: {x: ax, y: ay, z: az}                # [m/s^2], IMU frame
    quat: {w: qw, x: qx, y: qy, z: qz}          # optional: IMU orientation, any column order
    base_position: {x: px, y: py, z: pz}        # [m], world frame
    base_quat: {w: bw, x: bx, y: by, z: bz}
    base_lin_vel: {x: vx, y: vy, z: vz}         # [m/s]
    base_lin_vel_frame: world                   # base | world: the frame base_lin_vel is in
    base_ang_vel: {x: wx, y: wy, z: wz}         # optional: the derivative of base_quat when absent
    base_ang_vel_frame: base                    # with base_ang_vel
    base_source: truth                          # optional: estimate (default) | truth

Every problem is one :class:`~sim2real.errors.LogError` line that names the file and the key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sim2real.errors import LogError
from sim2real.logs.csv_floating_base import BASE_SOURCES, FRAMES, VECTOR_KEYS
from sim2real.logs.csv_import import ColumnMap
from sim2real.text import read_text

__all__ = ["MAP_KEYS", "check_map_joints", "load_column_map"]

MAP_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ColumnMap))
"""Keys a column map file may hold (the fields of :class:`ColumnMap`)."""

_JOINT_ROLES = ("position", "velocity", "effort", "command")


def load_column_map(path: str | Path) -> ColumnMap:
    """Read and check a column map file.

    Raises:
        LogError: a missing or unreadable file, YAML that is not a mapping, an unknown key, no
            ``time`` or ``position``, a value of the wrong type (each one line naming the key).
    """
    path = Path(path)
    if not path.is_file():
        raise LogError(f"{path}: no such column map file (a YAML file, see docs/real_data.md)")
    try:
        raw = yaml.safe_load(read_text(path, LogError, "column map"))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LogError(f"{path}: not a readable YAML column map ({first})") from None
    if not isinstance(raw, dict):
        raise LogError(f"{path}: a column map file holds a mapping of keys ({', '.join(MAP_KEYS)})")
    unknown = [str(k) for k in raw if k not in MAP_KEYS]
    if unknown:
        raise LogError(f"{path}: unknown key(s) {unknown} (a column map has {', '.join(MAP_KEYS)})")
    for key in ("time", "position"):
        if raw.get(key) is None:
            raise LogError(f"{path}: '{key}' is missing: name the {key} column ({_hint(key)})")
    fields: dict[str, Any] = {}
    if not isinstance(raw["time"], str) or not raw["time"].strip():
        raise LogError(f"{path}: 'time' must be a column name, got {raw['time']!r}")
    fields["time"] = raw["time"].strip()
    for role in _JOINT_ROLES:
        if raw.get(role) is not None:
            fields[role] = _joint_columns(path, role, raw[role])
    if raw.get("scale") is not None:
        fields["scale"] = _scales(path, raw["scale"])
    if raw.get("offset") is not None:
        fields["offset"] = _scales(path, raw["offset"], "offset")
    if raw.get("velocity_smoothing") is not None:
        value = raw["velocity_smoothing"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise LogError(
                f"{path}: 'velocity_smoothing' must be an odd whole number of samples, got {value!r}"
            )
        fields["velocity_smoothing"] = value
    if raw.get("delimiter") is not None:
        value = raw["delimiter"]
        if not isinstance(value, str) or len(value) != 1:
            raise LogError(f"{path}: 'delimiter' must be one character (',' ';' or a tab), got {value!r}")
        fields["delimiter"] = value
    if raw.get("unwrap") is not None:
        if not isinstance(raw["unwrap"], bool):
            raise LogError(f"{path}: 'unwrap' must be true or false, got {raw['unwrap']!r}")
        fields["unwrap"] = raw["unwrap"]
    fields |= _floating_base(path, raw)
    try:
        column_map = ColumnMap(**fields)
    except LogError as exc:
        raise LogError(f"{path}: {exc}") from None
    for key in ("scale", "offset"):
        unused = [c for c in getattr(column_map, key) if c not in column_map.columns()]
        if unused:
            raise LogError(
                f"{path}: {key}: column(s) {unused} are not mapped to time, a joint, the IMU or the base"
            )
    return column_map


def check_map_joints(
    column_map: ColumnMap, joints: Sequence[str], actuated: Sequence[str], robot: str, source: str
) -> None:
    """Check a map against a robot: every joint it names is the robot's, positions (and velocities
    when mapped) cover them all, commands go to actuated joints.  Efforts may leave joints out (a
    joint without a torque sensor: :func:`~.csv_import.read_csv`).

    Raises:
        LogError: one line naming the map, the role and the joint.
    """
    for role in _JOINT_ROLES:
        for joint in getattr(column_map, role) or {}:
            if joint not in joints:
                raise LogError(
                    f"{source}: {role}: '{joint}' is not a joint of robot '{robot}' (its joints: {', '.join(joints)})"
                )
    for role in ("position", "velocity"):  # a column for every joint, or (not position) none
        mapping = getattr(column_map, role)
        missing = [j for j in joints if mapping is not None and j not in mapping]
        if missing:
            raise LogError(
                f"{source}: {role}: no column for joint(s) {missing} of robot '{robot}'"
                + ("" if role == "position" else f" (map every joint's {role}, or leave '{role}' out)")
            )
    passive = [j for j in column_map.command or {} if j not in actuated]
    if passive:
        raise LogError(
            f"{source}: command: joint(s) {passive} have no actuator on robot '{robot}' "
            f"(actuated: {', '.join(actuated)})"
        )


def _hint(key: str) -> str:
    return "e.g. 'time: t'" if key == "time" else "e.g. 'position: {hinge: pos}', joint -> column"


def _floating_base(path: Path, raw: dict) -> dict[str, Any]:
    """The IMU and base keys of a map file, type-checked (the components are checked by ColumnMap)."""
    fields: dict[str, Any] = {}
    for key, axes in VECTOR_KEYS.items():
        value = raw.get(key)
        if value is None:
            continue
        example = ", ".join(f"{a}: {key}_{a}" for a in axes)
        fields[key] = _columns(path, key, value, "components", "component", example)
    for key in ("base_lin_vel_frame", "base_ang_vel_frame"):
        if raw.get(key) is not None:
            if raw[key] not in FRAMES:
                raise LogError(f"{path}: '{key}' must be one of {', '.join(FRAMES)}, got {raw[key]!r}")
            fields[key] = raw[key]
    if raw.get("base_source") is not None:
        if raw["base_source"] not in BASE_SOURCES:
            raise LogError(
                f"{path}: 'base_source' must be one of {', '.join(BASE_SOURCES)}, got {raw['base_source']!r}"
            )
        if raw.get("base_position") is None:
            raise LogError(
                f"{path}: 'base_source' is given but no base track (base_position and base_quat)"
            )
        fields["base_source"] = raw["base_source"]
    return fields


def _joint_columns(path: Path, role: str, value: object) -> dict[str, str]:
    return _columns(path, role, value, "joint names", "joint", "hinge: pos")


def _columns(path: Path, key: str, value: object, keys: str, one: str, example: str) -> dict[str, str]:
    """A map's ``key``: a mapping of ``keys`` (joint names, a vector's components) to column names."""
    if not isinstance(value, dict) or not value:
        raise LogError(f"{path}: '{key}' must map {keys} to column names, e.g. {{{example}}}, got {value!r}")
    for name, column in value.items():
        if not isinstance(column, str) or not column.strip():
            raise LogError(f"{path}: {key}: the column of {one} '{name}' must be a column name, got {column!r}")
    return {str(n): c.strip() for n, c in value.items()}


def _scales(path: Path, value: object, key: str = "scale") -> dict[str, float]:
    """``scale`` (column -> factor) or ``offset`` (column -> value added) of a map file."""
    example = "{t_ms: 0.001}" if key == "scale" else "{alpha: 3.141593}"
    if not isinstance(value, dict):
        raise LogError(f"{path}: '{key}' must map column names to numbers, e.g. {example}, got {value!r}")
    out = {}
    for column, factor in value.items():
        if isinstance(factor, str):  # YAML 1.1 reads 1e-9 (no dot) as a string
            with contextlib.suppress(ValueError):
                factor = float(factor)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor):
            raise LogError(
                f"{path}: {key}: the value of column '{column}' must be a finite number, got {factor!r}"
            )
        out[str(column)] = float(factor)
    return out
