"""The units of a CSV log: a units row under the header, checked against the column map's scales,
and a time column that cannot be in seconds.

A column map states units by its ``scale`` factors; nothing is converted by what a file says.  A
file that says it too (a second header line of units: ``s, rad, rad/s, N m``, as loggers and
spreadsheet exports write) is read past that line, and each unit it names is checked against the
map: a column in ``ms`` or ``deg`` that the map does not scale to SI is one error line giving the
factor, since read as SI it would stretch the run or its angles silently.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

from sim2real.errors import LogError

__all__ = ["MAX_SPACING_S", "TIME_UNITS", "check_time_unit", "check_units", "units_row"]

log = logging.getLogger(__name__)

TIME_UNITS = (("milliseconds", 1e-3), ("microseconds", 1e-6), ("nanoseconds", 1e-9))
"""Units a time column is written in besides seconds, with the factor to seconds."""
MAX_SPACING_S = 60.0
"""Median sample spacing [s] beyond which a time column cannot be seconds of a robot's log (a
replay over such a run would step through years)."""
TYPICAL_SPACING_S = 0.01
"""The sample spacing [s] a unit is guessed towards (robot logs sample at 1 ms - 100 ms)."""

_SI = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 1e-3, "msec": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "usec": 1e-6, "ns": 1e-9, "nsec": 1e-9,
    "rad": 1.0, "radian": 1.0, "radians": 1.0, "deg": math.pi / 180, "degree": math.pi / 180,
    "degrees": math.pi / 180, "°": math.pi / 180, "mrad": 1e-3,
    "rad/s": 1.0, "deg/s": math.pi / 180, "°/s": math.pi / 180, "rpm": 2 * math.pi / 60,
    "nm": 1.0, "n*m": 1.0, "n.m": 1.0, "n m": 1.0, "n·m": 1.0, "nmm": 1e-3, "n*mm": 1e-3,
    "v": 1.0, "mv": 1e-3, "a": 1.0, "ma": 1e-3, "m": 1.0, "mm": 1e-3, "m/s": 1.0, "m/s^2": 1.0, "m/s2": 1.0,
}  # fmt: skip
"""Unit names (lower case) -> factor to SI (s, rad, rad/s, N m, V, A, m, m/s, m/s^2)."""


def units_row(fields: Sequence[str], columns: Mapping[str, int]) -> bool:
    """Whether a CSV's first data row is a row of units: none of the mapped ``columns`` (name ->
    index) holds a number, and at least one holds text."""
    values = [fields[j].strip() for j in columns.values() if j < len(fields)]
    if len(values) != len(columns) or not any(values):
        return False
    for value in values:
        try:
            float(value)
        except ValueError:
            continue
        return False
    return True


def _unit(text: str) -> str:
    """A unit as written, without brackets and case: ``[rad/s]`` -> ``rad/s``."""
    return text.strip().strip("[]()").strip().lower()


def check_units(where: str, units: Mapping[str, str], scale: Mapping[str, float]) -> None:
    """Check the units row's ``units`` (column -> unit text) against the map's ``scale`` (column ->
    factor to SI; 1 when absent).  Units it does not know are reported in one warning.

    Args:
        where: ``PATH:LINE`` of the units row.

    Raises:
        LogError: A unit not in SI (ms, deg) whose column the map leaves unscaled (one line); a map that
            scales it by another factor than the unit's converts it itself (a gear, a torque constant).
    """
    unknown = []
    for column, text in units.items():
        factor = _SI.get(_unit(text))
        if factor is None:
            if _unit(text):
                unknown.append(f"{column} {text.strip()!r}")
            continue
        given = float(scale.get(column, 1.0))
        if math.isclose(abs(given), factor, rel_tol=1e-4):
            continue
        if not math.isclose(abs(given), 1.0, rel_tol=1e-4):  # the map's own conversion (a gear ratio, kt)
            log.info(
                "%s: column %r is in %r (%g to SI) and the column map scales it by %g: taken as the map's "
                "own conversion (a gear, a torque constant)",
                where, column, text.strip(), factor, given,
            )
            continue
        if factor != 1.0:  # the map leaves a column in ms or deg unscaled
            raise LogError(
                f"{where}: the units row gives column {column!r} in {text.strip()!r} ({factor:g} to SI), but the "
                f"column map scales it by {given:g}: set scale: {{{column}: {factor:g}}} in the column map file"
            )
    if unknown:
        log.warning("%s: units row: units not checked (unknown to sim2real): %s", where, ", ".join(unknown))


def check_time_unit(where: str, column: str, t: np.ndarray) -> None:
    """Refuse times (already scaled) that cannot be seconds: samples a median over
    :data:`MAX_SPACING_S` apart.

    Args:
        where: The file, for the message.
        column: The time column's name.
        t: Sample times, shape (T,), non-decreasing [s, as scaled].

    Raises:
        LogError: One line naming the spacing, the likely unit and the scale to give.
    """
    if t.size < 2:
        return
    spacing = float(np.median(np.diff(t)))
    if spacing <= MAX_SPACING_S:
        return
    unit, factor = min(TIME_UNITS, key=lambda u: abs(math.log(spacing * u[1] / TYPICAL_SPACING_S)))
    raise LogError(
        f"{where}: column {column!r}: samples a median {spacing:.6g} s apart (a {float(t[-1] - t[0]):.6g} s run) "
        f"cannot be seconds; in {unit}? scale it in a column map file (scale: {{{column}: {factor:g}}}, "
        "docs/real_data.md)"
    )
