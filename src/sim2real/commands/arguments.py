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
    "DomainId",
    "Finite",
    "Finites",
    "Fraction",
    "NonNegative",
    "NonNegativeCount",
    "Port",
    "Positive",
    "Positives",
    "RtPriority",
    "Seed",
    "VelocityCommand",
]

RANGE_ERROR = re.compile(r"(?:^|\]: )(\S+ is (?:out of range|not an? (?:integer|number))\b.*)$")
"""The line a type below raises for a bad value (``'x' is not a number (...)``, ``-1 is out of range:
...``), as it ends tyro's failure text: the CLI finds it there (``group(1)``) to print it in one line."""

SEED_MAX = 2**32 - 1
"""Largest seed: numpy's and torch's generators and MuJoCo's noise all take a 32-bit seed."""

DOMAIN_ID_MAX = 232
"""Largest ROS_DOMAIN_ID: DDS derives UDP ports from it (7400 + 250 x id must stay below 65536)."""


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


def _float(text: str, low: float, inclusive: bool, meaning: str, high: float = math.inf) -> float:
    """``text`` as a finite number ``> low`` (``>= low`` when ``inclusive``; -inf: any finite) and
    ``< high`` (inf: no upper end)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number ({meaning})") from None
    if not math.isfinite(value) or value < low or (value == low and not inclusive) or value >= high:
        raise ValueError(f"{text} is out of range: {meaning}")
    return value


def _float_above(low: float, inclusive: bool, meaning: str, high: float = math.inf) -> PrimitiveConstructorSpec:
    """A finite ``float`` argument ``> low`` (``>= low`` when ``inclusive``; -inf: any finite) and
    ``< high``."""

    def parse(args: list[str]) -> float:
        (text,) = args
        return _float(text, low, inclusive, meaning, high)

    return PrimitiveConstructorSpec(
        nargs=1,
        metavar="FLOAT",
        instance_from_str=parse,
        is_instance=lambda x: isinstance(x, int | float) and not isinstance(x, bool),
        str_from_instance=lambda x: [str(x)],
    )


def _floats(low: float, inclusive: bool, meaning: str) -> PrimitiveConstructorSpec:
    """Any number of finite floats, each as :func:`_float_above` checks it (tyro's tuple of a typed
    float reports a bad one only as an invalid value)."""

    def parse(args: list[str]) -> tuple[float, ...]:
        return tuple(_float(text, low, inclusive, meaning) for text in args)

    return PrimitiveConstructorSpec(
        nargs="*",
        metavar="FLOAT [FLOAT ...]",
        instance_from_str=parse,
        is_instance=lambda x: isinstance(x, tuple),
        str_from_instance=lambda x: [str(v) for v in x],
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

Fraction = Annotated[float, _float_above(0.0, False, "give a number above 0 and below 1", high=1.0)]
"""A share of something, strictly between 0 and 1."""

Finites = Annotated[tuple[float, ...], _floats(-math.inf, False, "give finite numbers")]
"""Finite numbers, one per item (a joint pose [rad])."""

Positives = Annotated[tuple[float, ...], _floats(0.0, False, "give finite numbers above 0")]
"""Finite numbers above 0, one per item (rates [Hz])."""

Port = Annotated[int, _int_in(0, 65535, "a TCP port is 0 to 65535 (0 picks a free one)")]
"""A TCP port to listen on: 0 to 65535, 0 picking a free one."""

RtPriority = Annotated[int, _int_in(1, 99, "a SCHED_FIFO priority is 1 to 99")]
"""A real-time (SCHED_FIFO) priority: 1 to 99."""

DomainId = Annotated[int, _int_in(0, DOMAIN_ID_MAX, f"a ROS_DOMAIN_ID is 0 to {DOMAIN_ID_MAX}")]
"""A ROS 2 domain id: 0 to 232."""


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
