"""How commands speak: a JSON summary on stdout with ``--json`` (human text then on stderr)."""

from __future__ import annotations

import json
import sys
from pathlib import PurePath
from typing import Any

import numpy as np


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
        if text is None:
            text = "\n".join(f"{k}: {v}" for k, v in _plain(summary).items())
        print(text, flush=True)
