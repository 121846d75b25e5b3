"""Typed numbers of the command line: a value outside its range is a usage error when parsed.

``--seed -1`` reached ``numpy.random.default_rng`` and ended in a traceback; ``--seconds nan`` ran
nothing and wrote an empty log.  Each type below checks its range while tyro parses the command
line, so the command never starts and the user reads one line naming the option and the range
(exit 2, like any malformed argument).  A check that needs another option or the robot (``--steps``
against ``--resume``, a speed stage) stays in the command.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from tyro.constructors import PrimitiveConstructorSpec

__all__ = [
    "RANGE_ERROR",
    "Count",
    "Finite",
    "NonNegative",
    "NonNegativeCount",
    "Positive",
    "Seed",
    "VelocityCommand",
]

RANGE_ERROR = re.compile(r"(?:^|\]: )(\S+ is (?:out of range|not an? (?:integer|number))\b.*)$")
"""The line a type below raises for a bad value (``'x' is not a number (...)``, ``-1 is out of range:
...``), as it ends tyro's failure text: the CLI finds it there (``group(1)``) to print it in one line."""

SEED_MAX = 2**32 - 1
"""Largest seed: numpy's and torch's generators and MuJoCo's noise all take a 32-bit seed."""


def _int_in(low: int, high: int | None, meaning: str) -> PrimitiveConstructorSpec:
    """An ``int`` argument in ``[low, high]`` (``high`` None: no upper end)."""

    def parse(args: list[str]) -> int:
        (text,) = args
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"'{text}' is not an integer ({meaning})") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"{value} is out of range: {meaning}")
        return value

    return PrimitiveConstructorSpec(
        nargs=1,
        metavar="INT",
        instance_from_str=parse,
        is_instance=lambda x: isinstance(x, int) and not isinstance(x, bool),
        str_from_instance=lambda x: [str(x)],
    )


def _float(text: str, low: float, inclusive: bool, meaning: str) -> float:
    """``text`` as a finite number ``> low`` (``>= low`` when ``inclusive``; -inf: any finite)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number ({meaning})") from None
    if not math.isfinite(value) or value < low or (value == low and not inclusive):
        raise ValueError(f"{text} is out of range: {meaning}")
    return value


def _float_above(low: float, inclusive: bool, meaning: str) -> PrimitiveConstructorSpec:
    """A finite ``float`` argument ``> low`` (``>= low`` when ``inclusive``; -inf: any finite)."""

    def parse(args: list[str]) -> float:
        (text,) = args
        return _float(text, low, inclusive, meaning)

    return PrimitiveConstructorSpec(
        nargs=1,
        metavar="FLOAT",
        instance_from_str=parse,
        is_instance=lambda x: isinstance(x, int | float) and not isinstance(x, bool),
        str_from_instance=lambda x: [str(x)],
    )


Seed = Annotated[int, _int_in(0, SEED_MAX, f"a seed is an integer from 0 to {SEED_MAX}")]
"""A random seed: an integer from 0 to 2**32 - 1."""

Count = Annotated[int, _int_in(1, None, "give a whole number of at least 1")]
"""A number of things (environments, episodes, epochs, windows...): at least 1."""

NonNegativeCount = Annotated[int, _int_in(0, None, "give a whole number of 0 or more")]
"""A number of things where 0 means none (or a default stated in the option's help)."""

Positive = Annotated[float, _float_above(0.0, False, "give a finite number above 0")]
"""A length of time [s], a rate, a scale: finite and above 0."""

NonNegative = Annotated[float, _float_above(0.0, True, "give a finite number of 0 or more")]
"""A finite number of 0 or more (a threshold, a width, a delay [s])."""

Finite = Annotated[float, _float_above(-math.inf, False, "give a finite number")]
"""Any finite number (a velocity command's component)."""


def _velocity_command() -> PrimitiveConstructorSpec:
    """Three finite numbers: tyro's tuple of :data:`Finite` reports a bad one only as an invalid value."""
    meaning = "give three finite numbers: vx [m/s], vy [m/s], yaw rate [rad/s]"

    def parse(args: list[str]) -> tuple[float, float, float]:
        vx, vy, wz = (_float(text, -math.inf, False, meaning) for text in args)
        return vx, vy, wz

    return PrimitiveConstructorSpec(
        nargs=3,
        metavar="FLOAT FLOAT FLOAT",
        instance_from_str=parse,
        is_instance=lambda x: isinstance(x, tuple) and len(x) == 3,
        str_from_instance=lambda x: [str(v) for v in x],
    )


VelocityCommand = Annotated[tuple[float, float, float], _velocity_command()]
"""A velocity command (vx [m/s], vy [m/s], yaw rate [rad/s]): three finite numbers."""
