"""Import CSV logs from other labs through an explicit column map.

A :class:`ColumnMap` says which column holds time and which hold each joint's position, velocity,
effort and command, with optional unit scales; nothing is guessed from column names. A legged
robot's log may add IMU columns and a floating-base track (:mod:`sim2real.logs.csv_floating_base`).
Sampling may be irregular. Missing velocities are differentiated (see
:mod:`sim2real.logs.derivative`) and the trajectory's ``meta["qd_source"]`` says so.

Angles a logger wrapped at +-pi are unwrapped (:func:`unwrap_wrapped`, with a warning): replay
windows would otherwise see a jump at every wrap and be dropped.

Fields are read by the :mod:`csv` module: quoted names and values (``"Time","angle"``) lose their
quotes, and the separator is sniffed from the header line (``,`` ``;`` tab ``|``) unless the map
gives it.  Tolerated: spaces around names and values (``t, theta, alpha``), a byte-order mark,
``#`` comment lines, blank lines, a last line cut short by a writer that died (dropped with a warning),
a units row under the header (checked against the map's scales, :mod:`~.csv_units`) and rows that
repeat the row before them exactly (dropped with a warning).  Anything else that is not a finite
number is an error naming the line and the column; so is a row at the time of the row before it
with other values, and a time column that cannot be in seconds (samples a minute apart and more:
nanoseconds read as seconds).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from sim2real.errors import LogError
from sim2real.logs.csv_fields import plain_numbers
from sim2real.logs.csv_floating_base import (
    VECTOR_KEYS,
    check_floating_base,
    floating_base_columns,
    floating_base_fields,
)
from sim2real.logs.csv_units import check_time_unit, check_units, units_row
from sim2real.logs.derivative import central_difference, describe_method
from sim2real.logs.trajectory import Trajectory
from sim2real.text import read_text

__all__ = [
    "PENDULUM_CSV",
    "QUBE_CSV",
    "ColumnMap",
    "load_real_pendulum",
    "load_real_qube",
    "read_csv",
    "unwrap_wrapped",
]

log = logging.getLogger(__name__)


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else MappingProxyType(dict(value))


@dataclass(frozen=True)
class ColumnMap:
    """Where each quantity of a CSV log is, and in which unit. Mappings are copied read-only."""

    time: str
    """Name of the time column (scaled to [s] by ``scale``)."""
    position: Mapping[str, str]
    """Joint name -> column of its position (scaled to [rad])."""
    velocity: Mapping[str, str] | None = None
    """Joint name -> column of its velocity [rad/s], for every joint; None: differentiate positions."""
    effort: Mapping[str, str] | None = None
    """Joint name -> column of its measured or commanded effort [N m], for every joint; None: none."""
    command: Mapping[str, str] | None = None
    """Actuated joint name -> column of its command (actuator units: rad, N m or V), in command
    column order; None: no commands. The joints listed become ``Trajectory.command_joints``."""
    scale: Mapping[str, float] = field(default_factory=dict)
    """Column name -> factor from file units to SI (e.g. ``{"time_ms": 1e-3, "angle_deg": pi/180}``);
    unlisted columns are already SI."""
    offset: Mapping[str, float] = field(default_factory=dict)
    """Column name -> value added after scaling, in SI (e.g. ``{"alpha": 3.141593}`` for a logger whose
    angle 0 is the model's pi: the zero of a hanging vs an upright pendulum; ``scale: -1`` flips a
    sign); unlisted columns are unchanged."""
    velocity_smoothing: int = 1
    """Odd moving-average window [samples] applied to differentiated velocities; 1 = none."""
    delimiter: str | None = None
    """Field separator; None: the one of ``,`` ``;`` tab ``|`` the header line holds most of."""
    unwrap: bool = True
    """Unwrap joint positions that wrap at +-pi (a step of about 2 pi between two samples, as
    loggers that wrap angles write; see :func:`unwrap_wrapped`)."""
    gyro: Mapping[str, str] | None = None
    """IMU angular velocity in the IMU frame [rad/s]: component (``x``, ``y``, ``z``) -> column;
    None: no IMU. Needs ``accel`` too; the samples become ``Trajectory.imu_t`` / ``gyro``."""
    accel: Mapping[str, str] | None = None
    """IMU linear acceleration (specific force: +9.81 up at rest) in the IMU frame [m/s^2]:
    component (``x``, ``y``, ``z``) -> column."""
    quat: Mapping[str, str] | None = None
    """IMU orientation in the world frame: component (``w``, ``x``, ``y``, ``z``) -> column
    (whatever order the file writes them in); normalised. None: the IMU gives none."""
    base_position: Mapping[str, str] | None = None
    """Floating-base position in the world frame [m] (z: height above the floor): component
    (``x``, ``y``, ``z``) -> column; None: no base track. Needs ``base_quat`` (the velocities are
    optional: differentiated when absent)."""
    base_quat: Mapping[str, str] | None = None
    """Base orientation in the world frame: component (``w``, ``x``, ``y``, ``z``) -> column; normalised."""
    base_lin_vel: Mapping[str, str] | None = None
    """Base linear velocity [m/s] in the frame ``base_lin_vel_frame`` says: component -> column."""
    base_lin_vel_frame: str | None = None
    """``base`` (the base frame, as the BaseTrack and nav_msgs/Odometry hold it) or ``world``
    (rotated into the base frame by ``base_quat``); required with ``base_lin_vel``."""
    base_ang_vel: Mapping[str, str] | None = None
    """Base angular velocity [rad/s] in ``base_ang_vel_frame``: component -> column; None: the
    derivative of ``base_quat`` (smoothed over ``velocity_smoothing`` samples)."""
    base_ang_vel_frame: str | None = None
    """``base`` or ``world``; required with ``base_ang_vel``."""
    base_source: str = "estimate"
    """The base track is an on-board estimate (``estimate``: ``Trajectory.base_estimate``) or
    the truth (``truth``, motion capture or a simulator: ``Trajectory.base_truth``)."""

    def __post_init__(self) -> None:
        for name in ("position", "velocity", "effort", "command", "scale", "offset", *VECTOR_KEYS):
            object.__setattr__(self, name, _frozen_map(getattr(self, name)))
        if not self.position:
            raise LogError("ColumnMap.position: map at least one joint to a column")
        for column, factor in self.scale.items():
            if not np.isfinite(factor) or factor == 0:
                raise LogError(
                    f"ColumnMap.scale: factor for {column!r} must be finite and non-zero, got {factor!r}"
                )
        if self.velocity_smoothing < 1 or self.velocity_smoothing % 2 == 0:
            raise LogError(
                f"ColumnMap.velocity_smoothing: must be a positive odd number, got {self.velocity_smoothing}"
            )
        check_floating_base(partial(getattr, self))

    def columns(self) -> dict[str, str]:
        """Every column the map needs, with the role it plays (for error messages)."""
        needed = {self.time: "time"}
        for role in ("position", "velocity", "effort", "command"):
            for joint, column in (getattr(self, role) or {}).items():
                needed.setdefault(column, f"{role} of {joint}")
        for column, role in floating_base_columns(partial(getattr, self)).items():
            needed.setdefault(column, role)
        return needed


PENDULUM_CSV = ColumnMap(
    time="time",
    position={"hinge": "position"},
    velocity={"hinge": "velocity"},
    effort={"hinge": "torque"},
    command={"hinge": "torque"},
)
"""DFKI torque-limited simple pendulum (``../shared/data/real/pendulum``): the ``torque`` column is
the commanded joint torque [N m], so it is both the effort and the command of joint ``hinge``."""

QUBE_CSV = ColumnMap(
    time="t",
    position={"arm": "theta", "pendulum": "alpha"},
    command={"arm": "plant_input"},
    velocity_smoothing=5,
)
"""Quanser QUBE-Servo 2 (``../shared/data/real/qube``): arm angle ``theta`` and pendulum angle
``alpha`` (0 = upright) [rad]; the arm motor's saturated voltage ``plant_input`` [V] is the only
command (the pendulum is unactuated). No velocity columns: velocities are central differences
smoothed over 5 samples (10 ms at 500 Hz)."""


def read_csv(
    path: str | Path,
    column_map: ColumnMap,
    joint_names: Sequence[str] | None = None,
    spec_hash: str | None = None,
    *,
    meta: Mapping[str, Any] | None = None,
) -> Trajectory:
    """Read a CSV log into a :class:`Trajectory`.

    Args:
        path: CSV file with one header line of column names.
        column_map: Where each quantity is (joints; for a legged robot also the IMU and the base
            state, :mod:`sim2real.logs.csv_floating_base`).
        joint_names: Joint order of the trajectory; default: the order of ``column_map.position``.
        spec_hash: Robot spec hash to attach (CSV files carry none).
        meta: Extra entries for ``Trajectory.meta`` (e.g. ``{"robot": "pendulum"}``).

    Raises:
        LogError: Missing or empty file, a mapped column absent from the header (the message lists
            the available columns), a non-numeric or non-finite value (line and column named),
            times going backwards, a map that does not cover ``joint_names``, a zero quaternion
            in the IMU or base columns (line named).
    """
    path = Path(path)
    joints = tuple(column_map.position) if joint_names is None else tuple(joint_names)
    _check_map_covers(column_map, joints)
    header, rows = _read_rows(path, column_map.delimiter)

    index = {name: i for i, name in enumerate(header)}
    needed = column_map.columns()
    for column, role in needed.items():
        if column not in index:
            raise LogError(
                f"{path}: column {column!r} ({role}) is not in the file; available columns: {header}; "
                "name the file's own columns in a column map file (--csv-map MAP.yaml, docs/real_data.md)"
            )
    wanted = {c: index[c] for c in needed}
    plain_numbers(path, rows, wanted, column_map.time)
    if units_row(rows[0][1], wanted):  # a second header line: the columns' units
        number, fields = rows.pop(0)
        if not rows:
            raise LogError(f"{path}: CSV file has a header and a units row but no data rows")
        check_units(f"{path}:{number}", {c: fields[j] for c, j in wanted.items()}, column_map.scale)
        log.info("%s:%d: a units row, checked against the column map's scales", path, number)
    values, line_numbers = _parse_columns(path, header, rows, wanted)
    for column, factor in column_map.scale.items():
        if column in values:
            values[column] = values[column] * factor
    for column, shift in column_map.offset.items():
        if column in values:
            values[column] = values[column] + shift

    t = values[column_map.time]
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise LogError(
            f"{path}:{line_numbers[i]}: time {float(t[i])!r} goes back from {float(t[i - 1])!r} "
            f"(column {column_map.time!r})"
        )
    values, line_numbers = _without_repeats(path, column_map.time, values, line_numbers)
    t = values[column_map.time]
    check_time_unit(str(path), column_map.time, t)

    def stack(role: Mapping[str, str], names: Sequence[str]) -> np.ndarray:
        return np.stack([values[role[j]] for j in names], axis=1)

    q = stack(column_map.position, joints)
    info: dict[str, Any] = {"source": str(path), "format": "csv", "columns": dict(needed)}
    if column_map.unwrap:
        moved = None
        if column_map.velocity is not None:  # recorded speed x time since the previous sample [rad]
            moved = stack(column_map.velocity, joints) * np.diff(values[column_map.time], prepend=np.nan)[:, None]
        q, wraps = unwrap_wrapped(q, moved)
        for j, n in zip(joints, wraps, strict=True):
            if n:
                log.warning("%s: the positions of %s wrap at +-pi (%d times): unwrapped", path, j, n)
        info["unwrapped"] = [j for j, n in zip(joints, wraps, strict=True) if n]
    if column_map.velocity is not None:
        qd = stack(column_map.velocity, joints)
        info["qd_source"] = "recorded"
    else:
        try:
            qd = central_difference(t, q, column_map.velocity_smoothing)
        except LogError as exc:
            raise LogError(f"{path}: cannot compute velocities: {exc}") from None
        info["qd_source"] = describe_method(column_map.velocity_smoothing)
    tau, tau_partial = _efforts(path, column_map, joints, values)
    shared = {j: c for j, c in (column_map.effort or {}).items() if (column_map.command or {}).get(j) == c}
    if shared:  # the effort is the command, not a measurement (actuator networks need one)
        info["effort_is_command"] = shared
    cjoints = tuple(column_map.command or ())
    floating, floating_info = floating_base_fields(
        path, partial(getattr, column_map), t, values, line_numbers, column_map.velocity_smoothing
    )
    info |= floating_info
    try:
        return Trajectory(
            spec_hash=spec_hash,
            joint_names=joints,
            t=t,
            q=q,
            qd=qd,
            tau=tau,
            tau_partial=tau_partial,
            command_t=t if cjoints else np.zeros(0),
            command=stack(column_map.command, cjoints) if cjoints else None,
            command_joints=cjoints or None,
            meta={**info, **dict(meta or {})},
            **floating,
        )
    except LogError as exc:  # the samples make no trajectory (times that do not advance...)
        raise LogError(f"{path}: {exc} (column '{column_map.time}')") from None


def _without_repeats(
    path: Path, time: str, values: dict[str, np.ndarray], line_numbers: list[int]
) -> tuple[dict[str, np.ndarray], list[int]]:
    """The columns without rows that repeat the previous row exactly (a logger writing a sample
    twice: dropped, one warning counting them).

    Raises:
        LogError: A row at the previous row's time with other values (two samples at one time: which
            is right cannot be told; line and column named).
    """
    same = np.flatnonzero(np.diff(values[time]) == 0) + 1
    if not same.size:
        return values, line_numbers
    for i in same:
        differs = next((c for c, v in values.items() if v[i] != v[i - 1]), None)
        if differs is not None:
            raise LogError(
                f"{path}:{line_numbers[i]}: time {float(values[time][i])!r} repeats line {line_numbers[i - 1]}'s "
                f"with another {differs!r} ({float(values[differs][i]):g}, was {float(values[differs][i - 1]):g}): "
                "two samples at one time; remove one, or record distinct times"
            )
    log.warning("%s: %d rows repeat the row before them exactly (first line %d): dropped", path, same.size, line_numbers[same[0]])
    keep = np.ones(values[time].size, dtype=bool)
    keep[same] = False
    return {c: v[keep] for c, v in values.items()}, [n for n, k in zip(line_numbers, keep, strict=True) if k]


WRAP_TOLERANCE = np.pi / 4
"""A step between two samples of ``2 pi k`` (k != 0) +- this [rad] is a wrap of the angle."""


def unwrap_wrapped(q: np.ndarray, moved: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """Unwrap the joints whose positions wrap: a step between consecutive samples of a multiple of
    2 pi within :data:`WRAP_TOLERANCE` (a wrapped angle crossing +-pi) is taken out, unless the
    recorded velocity explains the step (a wheel turning 6 rad between samples of a slow log).

    Args:
        q: Positions, shape (T, n) [rad].
        moved: Recorded velocity x the time since the previous sample, shape (T, n) [rad] (row 0
            unused), or None when the log has no velocity column.

    Returns:
        The positions with wraps removed, shape (T, n), and the number of wraps per joint.
    """
    q = np.array(q, dtype=float)
    step = np.diff(q, axis=0)
    turns = np.round(step / (2 * np.pi))
    wraps = (turns != 0) & (np.abs(step - 2 * np.pi * turns) < WRAP_TOLERANCE)
    if moved is not None:  # a step the joint's own speed explains is motion, not a wrap
        by_speed = np.abs(step - np.asarray(moved, dtype=float)[1:])
        wraps &= ~(by_speed < np.abs(step - 2 * np.pi * turns) + WRAP_TOLERANCE)  # NaN compares False
    if wraps.any():
        q[1:] -= 2 * np.pi * np.cumsum(np.where(wraps, turns, 0.0), axis=0)
    return q, [int(n) for n in wraps.sum(axis=0)]


def _efforts(
    path: Path, column_map: ColumnMap, joints: tuple[str, ...], values: Mapping[str, np.ndarray]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``tau`` and ``tau_partial`` (:class:`~.trajectory.Trajectory`) of a map whose efforts leave some
    joints out: a joint no command drives has none to read (0); a commanded one makes ``tau`` None and
    its column NaN in ``tau_partial``.  One warning naming the joints."""
    if column_map.effort is None:
        return None, None
    tau = np.stack([values[column_map.effort[j]] if j in column_map.effort else np.full(len(values[column_map.time]), np.nan) for j in joints], axis=1)
    unmapped = [j for j in joints if j not in column_map.effort]
    if not unmapped:
        return tau, None
    commanded = set(column_map.command or ())
    lost = [j for j in unmapped if j in commanded]
    for j in unmapped:
        if j not in commanded:
            tau[:, joints.index(j)] = 0.0
    if not lost:
        log.warning("%s: no effort column for %s, which no command drives: read as 0", path, ", ".join(unmapped))
        return tau, None
    log.warning(
        "%s: no effort column for commanded joint(s) %s: no effort read (actuator networks and motor models fit "
        "the joints that have one)",
        path,
        ", ".join(lost),
    )
    return None, tau


def _check_map_covers(column_map: ColumnMap, joints: tuple[str, ...]) -> None:
    for role in ("position", "velocity", "effort"):
        mapping = getattr(column_map, role)
        if mapping is None:
            continue
        missing = [j for j in joints if j not in mapping] if role != "effort" else []  # efforts: some may lack
        extra = [j for j in mapping if j not in joints]
        if missing or extra:
            raise LogError(
                f"ColumnMap.{role}: must map exactly the joints {list(joints)} "
                f"(missing {missing}, unknown {extra})"
            )
    unknown = [j for j in (column_map.command or {}) if j not in joints]
    if unknown:
        raise LogError(f"ColumnMap.command: joints {unknown} are not among {list(joints)}")


DELIMITERS = (",", ";", "\t", "|")
"""Field separators a header line is sniffed for (the most frequent wins; ``,`` when none occurs)."""


def _read_rows(path: Path, delimiter: str | None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header names and data rows as (line number, fields), parsed by the csv module (quotes removed,
    fields stripped); the delimiter sniffed from the header line when None."""
    if not path.is_file():
        raise LogError(f"{path}: no such CSV file")
    text = read_text(path, LogError, "CSV file")
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise LogError(f"{path}: empty CSV file (no header line)")
    if delimiter is None:
        delimiter = max(DELIMITERS, key=lines[0][1].count)
    header, rows = [], []
    for number, line in lines:  # one line, one row: a quoted line break is no row of numbers
        try:
            (row,) = csv.reader([line], delimiter=delimiter, skipinitialspace=True)
        except (csv.Error, ValueError):
            raise LogError(f"{path}:{number}: not a CSV line (unbalanced quotes?)") from None
        if not header:
            header = [name.strip() for name in row]
        else:
            rows.append((number, row))
    if not rows:
        raise LogError(f"{path}: CSV file has a header but no data rows")
    return header, rows


def _parse_columns(
    path: Path,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    wanted: dict[str, int],
) -> tuple[dict[str, np.ndarray], list[int]]:
    """Float columns by name and the line number of each row kept.

    A malformed last row (cut by a crash) is dropped with a warning.
    """

    def problem(number: int, fields: list[str]) -> str | None:
        if len(fields) != len(header):
            return f"{path}:{number}: expected {len(header)} fields, found {len(fields)}"
        for column, j in wanted.items():
            try:
                value = float(fields[j])
            except ValueError:
                return f"{path}:{number}: column {column!r}: {fields[j].strip()!r} is not a number"
            if not np.isfinite(value):
                return f"{path}:{number}: column {column!r}: non-finite value {fields[j].strip()!r}"
        return None

    last_problem = problem(*rows[-1])
    if last_problem is not None:
        rows = rows[:-1]
        if not rows:
            raise LogError(f"{last_problem} (the only data row)")
        log.warning("%s; dropping the last line as truncated", last_problem)
    try:
        if any(len(fields) != len(header) for _, fields in rows):
            raise ValueError
        values = {c: np.array([fields[j] for _, fields in rows], dtype=np.float64) for c, j in wanted.items()}
        if all(np.all(np.isfinite(v)) for v in values.values()):
            return values, [number for number, _ in rows]
    except ValueError:
        pass
    for number, fields in rows:  # slow path: find and name the first bad value
        message = problem(number, fields)
        if message is not None:
            raise LogError(message)
    raise AssertionError("unreachable: a bad value was detected but not located")


def load_real_pendulum(path: str | Path) -> Trajectory:
    """A DFKI simple-pendulum recording (``pendulum/*.csv``) with joint ``hinge``."""
    return read_csv(
        path,
        PENDULUM_CSV,
        ("hinge",),
        meta={
            "robot": "pendulum",
            "hardware": "DFKI torque-limited simple pendulum",
            "lab": "DFKI RIC Underactuated Lab",
        },
    )


def load_real_qube(path: str | Path) -> Trajectory:
    """A Quanser QUBE-Servo 2 recording (``qube/*.csv``) with joints ``arm`` and ``pendulum``.

    ``meta["robot"]`` is ``"furuta"``, the embedded robot modelling this hardware.
    """
    return read_csv(
        path,
        QUBE_CSV,
        ("arm", "pendulum"),
        meta={"robot": "furuta", "hardware": "Quanser QUBE-Servo 2", "lab": "DECAR group"},
    )
