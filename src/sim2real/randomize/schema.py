"""The data types of a randomization config (:mod:`sim2real.randomize.config` has the format).

Constants of the format (:data:`SECTIONS`, :data:`OTHER_KEYS`, :data:`MODES`), its error type,
and the frozen parts of a resolved config: :class:`ParamEntry` (one parameter entry),
:class:`TerrainConfig`, :class:`ActionDelayConfig`, :class:`PushesConfig` and
:class:`ResolvedParam` (a concrete parameter's resulting range).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.randomize.distributions import Distribution

__all__ = [
    "MODES",
    "OTHER_KEYS",
    "SECTIONS",
    "ActionDelayConfig",
    "Mode",
    "ParamEntry",
    "PushesConfig",
    "RandomizationError",
    "ResolvedParam",
    "TerrainConfig",
]

Mode = Literal["scale", "absolute", "additive"]
MODES: tuple[str, ...] = ("scale", "absolute", "additive")

SECTIONS: dict[str, tuple[str, ...]] = {
    "physics": ("body", "geom", "joint", "world", "link"),
    "motors": ("actuator", "motor"),
    "delays": ("actuator",),
    "sensors": ("sensor",),
}
"""Parameter sections and the parameter groups each accepts."""

OTHER_KEYS: tuple[str, ...] = ("slope", "terrain", "action_delay", "dropout", "pushes")
"""Randomizations that are not named parameters."""


class RandomizationError(Sim2RealError):
    """A randomization config is malformed or does not fit the robot; the message names the entry."""


@dataclass(frozen=True)
class ParamEntry:
    """One randomized parameter (or pattern) of a config."""

    where: str
    """Position in the config, e.g. ``physics[2]``, for messages."""
    section: str
    """physics, motors, delays or sensors."""
    param: str
    """Parameter name or pattern as written."""
    names: tuple[str, ...]
    """Concrete names it matched, in registry order."""
    mode: Mode
    """``scale`` (x nominal), ``absolute`` or ``additive`` (+ nominal)."""
    dist: Distribution
    """Distribution of the drawn number (a factor, a value or an offset, by mode)."""
    shared: bool = False
    """One draw per simulation for every matched name, instead of one each."""
    unit: Literal["si", "physics_steps"] = "si"
    """Unit of the drawn number: the parameter's SI unit, or whole physics steps (delays)."""
    jitter: int = 0
    """Extra delay U{0..jitter} physics steps drawn anew every control step (actuator delays)."""

    @property
    def label(self) -> str:
        """``physics[2] 'body.*.mass'``."""
        return f"{self.where} '{self.param}'"


@dataclass(frozen=True)
class TerrainConfig:
    """Uneven ground under a floating-base robot: a heightfield, placed per simulation per episode.

    One heightfield of ``2 size`` x ``2 size`` m is generated once (seeded) with flat spawn pads on
    a grid; each episode a simulation stands on a random pad, with the field turned by a random
    quarter turn and sunk into the floor so that its tallest bumps rise ``height`` above it.
    """

    kind: Literal["rough", "steps"]
    """``rough``: smooth random bumps; ``steps``: square cells of random heights (stepping stones)."""
    height: Distribution
    """Height of the tallest bumps or steps above the floor [m], drawn per simulation per episode."""
    size: float = 8.0
    """Half-width of the terrain [m]."""
    resolution: float = 0.05
    """Grid spacing of the heightfield [m]."""
    feature: float = 0.3
    """Width of a bump (rough) or of a cell (steps) [m]."""
    pad_radius: float = 0.6
    """Radius of the flat spawn pads [m]."""
    pad_spacing: float = 2.5
    """Distance between spawn pads [m]; pads cover the inner half of the terrain."""


@dataclass(frozen=True)
class ActionDelayConfig:
    """Delay of the commands in whole control steps (a ring buffer before the physics)."""

    delay: Distribution
    """Delay [control steps] drawn per simulation per episode (integers)."""
    jitter: int = 0
    """Extra delay U{0..jitter} control steps drawn anew at every step; a command never
    overtakes a newer one (the newest arrived command is held)."""


@dataclass(frozen=True)
class PushesConfig:
    """External pushes (see :class:`sim2real.sim.disturbances.PushConfig`)."""

    body: str
    """Body pushed at its centre of mass."""
    force_low: float
    """Smallest force magnitude [N]."""
    force_high: float
    """Largest force magnitude [N] (uniform in between, random horizontal direction)."""
    duration: float
    """How long each push lasts [s]."""
    interval_low: float
    """Shortest time between push starts [s]."""
    interval_high: float
    """Longest time between push starts [s] (uniform in between)."""


@dataclass(frozen=True, eq=False)
class ResolvedParam:
    """What happens to one concrete parameter (for summaries)."""

    name: str
    """Concrete name (may be a ``link.*.length`` or ``*.noise_density`` name)."""
    unit: str
    """Unit of the value."""
    nominal: np.ndarray
    """Nominal value, shape (size,)."""
    entries: tuple[ParamEntry, ...]
    """Entries applied, in order."""
    low: np.ndarray
    """Lowest value the entries can produce, shape (size,)."""
    high: np.ndarray
    """Highest value, shape (size,)."""
