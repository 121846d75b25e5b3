"""How commands speak: a JSON summary on stdout with ``--json`` (human text then on stderr).

Numbers a person reads are rounded (:func:`rounded`, :func:`key_lines`); JSON keeps full precision.
An output file named by the user is checked before the work that fills it (:func:`output_file`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from sim2real.errors import Sim2RealError


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def rounded(value: Any, digits: int = 4) -> Any:
    """``value`` with every float rounded to ``digits`` significant digits (for people; JSON keeps
    full precision).  Ints, strings and None pass through; containers are rounded inside."""
    value = _plain(value)
    if isinstance(value, float):
        if abs(value) >= 10**digits:  # large figures keep their whole units
            return round(value)
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def key_lines(summary: dict[str, Any], digits: int = 4) -> str:
    """A summary as ``key: value`` lines with rounded numbers (nested maps indented)."""
    lines: list[str] = []

    def walk(mapping: dict[str, Any], indent: str) -> None:
        for key, value in mapping.items():
            if isinstance(value, dict) and value:
                lines.append(f"{indent}{key}:")
                walk(value, indent + "  ")
            else:
                lines.append(f"{indent}{key}: {rounded(value, digits)}")

    walk(_plain(summary), "")
    return "\n".join(lines)


def human(text: str, as_json: bool) -> None:
    """Human-readable text: stdout normally, stderr when stdout carries JSON."""
    print(text, file=sys.stderr if as_json else sys.stdout, flush=True)


def emit(summary: dict[str, Any], as_json: bool, text: str | None = None) -> None:
    """Print a command's result: JSON on stdout with --json, else the human text (or a key list)."""
    if as_json:
        if text:
            print(text, file=sys.stderr, flush=True)
        print(json.dumps(_plain(summary), indent=None), flush=True)
    else:
        print(key_lines(summary) if text is None else text, flush=True)


def output_file(path: str | Path, option: str) -> Path:
    """The file a command will write (``--out``, ``--report``), checked before the work that fills
    it: not an existing folder, not under a file; a missing folder on the way is made later.

    Raises:
        Sim2RealError: one line naming the path and the option.
    """
    path = Path(path)
    if path.is_dir():
        raise Sim2RealError(f"{option} {path} is a folder; give the path of a file to write")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise Sim2RealError(f"{option} {path}: {parent} is a file, not a folder; give another path")
            break
    return path
