"""Parameter files: a YAML map from parameter name (:mod:`sim2real.params`) to value.

The format ``sim2real randomize``/``params`` users write by hand, and that a calibration file
(:mod:`sim2real.calibration`, whose ``params`` section holds ``{value, ci_low, ci_high}``) also is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml

from sim2real.errors import ParameterError
from sim2real.text import read_text


def load_values(path: str | Path) -> dict[str, np.ndarray]:
    """Read a parameter file: a YAML map from name to value (number or list).

    A calibration file (with a ``params`` section of ``{value, ci_low, ci_high}``) is accepted too.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"parameter file not found: {path}")
    try:
        raw = yaml.safe_load(read_text(path, ParameterError, "parameter file"))
    except yaml.YAMLError:
        raise ParameterError(f"{path}: not valid YAML") from None
    if isinstance(raw, dict) and isinstance(raw.get("params"), dict):
        raw = {k: (v["value"] if isinstance(v, dict) else v) for k, v in raw["params"].items()}
    if not isinstance(raw, dict):
        raise ParameterError(f"{path}: a parameter file is a map from parameter name to value")
    out = {}
    for name, value in raw.items():
        try:
            arr = np.atleast_1d(np.asarray(value, dtype=float))
        except (TypeError, ValueError):
            raise ParameterError(
                f"{path}: {name}: value {value!r} is not a number or list of numbers"
            ) from None
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"{path}: {name}: value must be finite")
        out[str(name)] = arr
    return out


def save_values(path: str | Path, values: Mapping[str, np.ndarray], header: str = "") -> None:
    """Write a parameter file (YAML map from name to value)."""
    plain = {}
    for name, value in values.items():
        arr = np.atleast_1d(np.asarray(value, dtype=float))
        plain[name] = float(arr[0]) if arr.size == 1 else [float(x) for x in arr]
    text = yaml.safe_dump(plain, sort_keys=False)
    Path(path).write_text((f"# {header}\n" if header else "") + text)
