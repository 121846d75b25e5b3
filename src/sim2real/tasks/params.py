"""Task-kind parameters: the spec's ``task:`` mapping checked against a kind's frozen config dataclass.

Each kind states its parameters as a frozen dataclass with a default and a docstring per field;
:func:`config_from_mapping` builds it from the YAML mapping: an unknown key, a wrong type or a
nested mapping with an unknown key is one :class:`~sim2real.errors.SpecError` naming the key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from sim2real.errors import SpecError


def _convert(value: Any, default: Any, where: str) -> Any:
    if dataclasses.is_dataclass(default):
        if not isinstance(value, Mapping):
            raise SpecError(f"{where} must be a mapping")
        return config_from_mapping(type(default), value, where, base=default)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SpecError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise SpecError(f"{where} must be a number, got {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and not isinstance(value, int):
            raise SpecError(f"{where} must be an integer, got {value!r}")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise SpecError(f"{where} must be a string, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise SpecError(f"{where} must be a list, got {value!r}")
        kind = type(default[0]) if default else str
        return tuple(_convert(v, kind(), f"{where}[{i}]") for i, v in enumerate(value))
    return value


def config_from_mapping(cls: type, raw: Mapping[str, Any], where: str = "task", base: Any = None) -> Any:
    """An instance of the frozen dataclass ``cls`` with the mapping's values over its defaults.

    Args:
        cls: The kind's config dataclass (every field has a default).
        raw: The YAML mapping.
        where: Prefix of error messages (``task``, ``task.weights``...).
        base: Instance whose values stand for missing keys (default: ``cls()``).

    Raises:
        SpecError: an unknown key or a value of the wrong type.
    """
    base = cls() if base is None else base
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}")
    values = {name: _convert(value, getattr(base, name), f"{where}.{name}") for name, value in raw.items()}
    return dataclasses.replace(base, **values)
