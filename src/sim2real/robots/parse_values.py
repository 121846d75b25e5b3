"""Checks of spec YAML values shared by the spec's parsers (:mod:`~.parse`, :mod:`~.parse_action`):
each raises :class:`~sim2real.errors.SpecError` naming where the value sits."""

from __future__ import annotations

import math
from typing import Any

from sim2real.errors import SpecError

__all__ = ["check_keys", "joint_names", "number", "require_mapping"]


def require_mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def number(
    value: Any, where: str, *, positive: bool = False, nonnegative: bool = False, finite: bool = False
) -> float:
    """``value`` as a float (NaN refused; ``finite``: inf too, for gains and damping, where inf
    times a speed of 0 is NaN: a safe command of the NaN became a target of 0 rad)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{where} must be a number, got {value!r}")
    x = float(value)
    if math.isnan(x):
        raise SpecError(f"{where} is NaN")
    if finite and not math.isfinite(x):
        raise SpecError(f"{where} must be finite, got {x}")
    if positive and not x > 0:
        raise SpecError(f"{where} must be positive, got {x}")
    if nonnegative and x < 0:
        raise SpecError(f"{where} must not be negative, got {x}")
    return x


def check_keys(mapping: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def joint_names(raw: Any, joints: tuple[str, ...], where: str, what: str = "joint names") -> tuple[str, ...]:
    """A list of distinct names, each one of ``joints`` (the actuated joints), in the list's order.

    Args:
        raw: The YAML value.
        joints: The names it may hold.
        where: Where it sits in the spec (``action.hold``).
        what: What the list holds, for the error of a value that is not a list of names.
    """
    if not isinstance(raw, list | tuple) or not all(isinstance(j, str) for j in raw):
        raise SpecError(f"{where} must be a list of {what}")
    if unknown := [j for j in raw if j not in joints]:
        raise SpecError(f"{where}: {unknown[0]!r} is not an actuated joint ({', '.join(joints)})")
    if twice := [j for i, j in enumerate(raw) if j in raw[:i]]:
        raise SpecError(f"{where} lists {twice[0]!r} twice")
    return tuple(raw)
