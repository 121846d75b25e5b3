"""A CSV's fields written otherwise than as plain numbers, made plain numbers before they are parsed:
numbers with a decimal comma (a spreadsheet in a European locale, which then separates fields by
``;`` or tab) and a time column of ISO 8601 date-times (``2026-03-01T12:00:00.125Z``, also with a
space for the ``T``, an offset, or no zone).

Each is said in one warning; a time column mixing date-times with and without a zone, or
date-times with numbers, is one error line naming the line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sim2real.errors import LogError

log = logging.getLogger(__name__)

_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")
"""A number written with a decimal comma (one comma, digits after it)."""
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d")
"""The start of an ISO 8601 date-time with its time of day."""

Rows = list[tuple[int, list[str]]]
"""Data rows as (line number, fields)."""


def plain_numbers(path: Path, rows: Rows, wanted: Mapping[str, int], time_column: str) -> None:
    """Rewrite, in place, the ``wanted`` fields of ``rows`` that hold decimal-comma numbers, and the
    time column when it holds ISO 8601 date-times (as seconds since its first date-time).

    Args:
        path: The CSV file, for messages.
        rows: The data rows (a units row already taken out).
        wanted: Column name -> field index of the columns read.
        time_column: The time column's name (a key of ``wanted``).

    Raises:
        LogError: A time column mixing date-times and numbers, or date-times with and without a
            time zone (line named).
    """
    probe = [fields for _, fields in rows[:2]]  # a units row may come first
    commas = [
        (c, f[j].strip())
        for f in probe
        for c, j in wanted.items()
        if j < len(f) and _DECIMAL_COMMA.fullmatch(f[j].strip())
    ]
    if commas:
        for _, fields in rows:
            for j in wanted.values():
                if j < len(fields) and _DECIMAL_COMMA.fullmatch(text := fields[j].strip()):
                    fields[j] = text.replace(",", ".")
        log.warning(
            "%s: numbers written with a decimal comma (column %r: %r): read with a decimal point",
            path,
            *commas[0],
        )
    j = wanted[time_column]
    if any(j < len(f) and _DATE.match(f[j].strip()) for f in probe):
        _date_times_to_seconds(path, rows, j, time_column)


def _date_times_to_seconds(path: Path, rows: Rows, j: int, column: str) -> None:
    start: datetime | None = None
    for number, fields in rows:
        if j >= len(fields):
            continue  # a short (cut) row: the row parser names it
        text = fields[j].strip()
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            if number in (rows[0][0], rows[-1][0]):
                continue  # a units row, a cut last line: the units check and the row parser take them
            raise LogError(
                f"{path}:{number}: column {column!r}: {text!r} is not an ISO 8601 date-time as the lines before"
            ) from None
        if start is None:
            start = stamp
        elif (stamp.tzinfo is None) != (start.tzinfo is None):
            raise LogError(
                f"{path}:{number}: column {column!r}: {text!r} and the first date-time, {start.isoformat()!r}, "
                "differ in having a time zone: their difference cannot be told"
            )
        fields[j] = repr((stamp - start).total_seconds())
    if start is not None:
        log.warning(
            "%s: column %r holds ISO 8601 date-times: read as seconds since the first, %s",
            path,
            column,
            start.isoformat(),
        )
