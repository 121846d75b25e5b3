"""Speed progression: run a new policy slowly first, and speed up only while nothing happens.

A :class:`SpeedProgression` walks through increasing speed fractions (by default 10 %, 25 %, 50 %,
75 %, 100 %).  A stage advances only after it ran for ``dwell_s`` seconds without a safety event;
any event restarts the dwell timer of the current stage.  Stages never go down on their own: the
loop decides what to do after a safe stop (e.g. :meth:`SpeedProgression.start_at` stage 0).  The
fraction is given to :meth:`sim2real.deploy.safety.SafetyMonitor.set_speed_fraction`.

``sim2real deploy --speed STAGE`` maps to :meth:`SpeedProgression.start_at`.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass

from sim2real.deploy.safety_events import SafetyConfigError
from sim2real.errors import Sim2RealError

__all__ = ["DEFAULT_STAGES", "SpeedConfig", "SpeedProgression", "StageChange", "parse_stage"]

DEFAULT_STAGES: tuple[float, ...] = (0.10, 0.25, 0.50, 0.75, 1.00)
"""Default speed fractions, slowest first."""


@dataclass(frozen=True)
class SpeedConfig:
    """How the speed progression runs.

    Raises:
        SafetyConfigError: at construction, when a field is out of range.
    """

    stages: tuple[float, ...] = DEFAULT_STAGES
    """Speed fractions, strictly increasing, each in (0, 1]."""
    dwell_s: float = 10.0
    """Time a stage must run without a safety event before the next one starts [s]; positive."""
    start_stage: int = 0
    """Index into ``stages`` of the first stage (``--speed STAGE``)."""

    def __post_init__(self) -> None:
        stages = tuple(float(s) for s in self.stages)
        if not stages:
            raise SafetyConfigError("speed stages: at least one stage is needed")
        for s in stages:
            if not (math.isfinite(s) and 0.0 < s <= 1.0):
                raise SafetyConfigError(f"speed stage {s} is outside (0, 1]")
        if any(b <= a for a, b in itertools.pairwise(stages)):
            raise SafetyConfigError(f"speed stages must increase strictly, got {list(stages)}")
        object.__setattr__(self, "stages", stages)
        dwell = float(self.dwell_s)
        if not (math.isfinite(dwell) and dwell > 0):
            raise SafetyConfigError(
                f"speed dwell_s must be a positive number of seconds, got {self.dwell_s!r}"
            )
        object.__setattr__(self, "dwell_s", dwell)
        start = self.start_stage
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < len(stages):
            raise SafetyConfigError(
                f"speed start_stage must be an index in 0..{len(stages) - 1}, got {start!r}"
            )


@dataclass(frozen=True)
class StageChange:
    """A stage advance, returned by :meth:`SpeedProgression.update`."""

    t: float
    """Time of the change [s]."""
    previous_stage: int
    """Index of the stage that ended."""
    stage: int
    """Index of the new stage."""
    fraction: float
    """Speed fraction of the new stage."""

    @property
    def message(self) -> str:
        """One human-readable line (for the events log)."""
        return f"speed stage {self.previous_stage} -> {self.stage}: fraction {self.fraction:g}"


class SpeedProgression:
    """Current speed stage, advanced by eventless dwell time.

    Args:
        stages: Speed fractions, strictly increasing, in (0, 1].
        dwell_s: Eventless time a stage needs before the next one [s].
        start_stage: Index of the first stage.

    Raises:
        SafetyConfigError: for out-of-range settings.
    """

    def __init__(
        self, stages: tuple[float, ...] = DEFAULT_STAGES, dwell_s: float = 10.0, start_stage: int = 0
    ) -> None:
        self._config = SpeedConfig(stages=tuple(stages), dwell_s=dwell_s, start_stage=start_stage)
        self._stage = self._config.start_stage
        self._dwell_start: float | None = None

    @classmethod
    def from_config(cls, config: SpeedConfig) -> SpeedProgression:
        """A progression from a :class:`SpeedConfig`."""
        return cls(stages=config.stages, dwell_s=config.dwell_s, start_stage=config.start_stage)

    @property
    def config(self) -> SpeedConfig:
        """The settings (start_stage as constructed)."""
        return self._config

    @property
    def stage(self) -> int:
        """Index of the current stage."""
        return self._stage

    @property
    def fraction(self) -> float:
        """Speed fraction of the current stage."""
        return self._config.stages[self._stage]

    @property
    def finished(self) -> bool:
        """Whether the last stage is reached."""
        return self._stage == len(self._config.stages) - 1

    def start_at(self, stage: int | float) -> float:
        """Jump to a stage and restart its dwell timer (``--speed STAGE``).

        Args:
            stage: A stage index (int), or a speed fraction (float) equal to one of the stages.

        Returns:
            The speed fraction of that stage.

        Raises:
            SafetyConfigError: when ``stage`` names no stage.
        """
        stages = self._config.stages
        if isinstance(stage, bool):
            raise SafetyConfigError(f"speed stage must be an index or a fraction, got {stage!r}")
        if isinstance(stage, numbers.Integral):  # a numpy integer too: an index, never a fraction
            stage = int(stage)
            if not 0 <= stage < len(stages):
                raise SafetyConfigError(
                    f"speed stage {stage} does not exist: stages are 0..{len(stages) - 1}"
                )
            index = stage
        else:
            if not isinstance(stage, numbers.Real):
                raise SafetyConfigError(f"speed stage must be an index or a fraction, got {stage!r}")
            matches = [i for i, s in enumerate(stages) if abs(s - float(stage)) <= 1e-9]
            if not matches:
                listed = ", ".join(f"{s:g}" for s in stages)
                raise SafetyConfigError(f"speed fraction {stage} is not a stage; stages are {listed}")
            index = matches[0]
        self._stage = index
        self._dwell_start = None
        return self.fraction

    def update(self, now: float, had_event: bool) -> StageChange | None:
        """Advance the stage when it has run ``dwell_s`` without a safety event.

        The first call starts the dwell timer.  An event restarts it, and so does a ``now`` earlier
        than the timer's start; a non-finite ``now`` changes nothing.

        Args:
            now: Loop time [s].
            had_event: Whether a safety event happened since the previous call.

        Returns:
            The stage change, or None.
        """
        now = float(now)
        if not math.isfinite(now):
            return None
        if had_event or self._dwell_start is None or now < self._dwell_start:
            self._dwell_start = now
            return None
        if self.finished or now - self._dwell_start < self._config.dwell_s:
            return None
        previous = self._stage
        self._stage += 1
        self._dwell_start = now
        return StageChange(t=now, previous_stage=previous, stage=self._stage, fraction=self.fraction)


def parse_stage(stage: str | int | float | None, stages: tuple[float, ...] | None = None) -> int | None:
    """A speed stage index from ``--speed``: an index (``2``), a percentage (``50%``) or a fraction (``0.5``).

    Raises:
        Sim2RealError: when it names no stage.
    """
    stages = tuple(stages if stages is not None else SpeedConfig().stages)
    if stage is None:
        return None
    if isinstance(stage, bool):
        raise Sim2RealError(f"--speed: {stage!r} is not a stage")
    text = str(stage).strip()
    try:
        if text.endswith("%"):
            value: int | float = float(text[:-1]) / 100.0
        elif text.lstrip("+-").isdigit():
            value = int(text)
        else:
            value = float(text)
    except ValueError:
        raise Sim2RealError(
            f"--speed {stage!r}: give a stage index 0..{len(stages) - 1}, a percentage (50%) or a fraction (0.5)"
        ) from None
    if isinstance(value, int):
        if not 0 <= value < len(stages):
            raise Sim2RealError(f"--speed {value}: stages are 0..{len(stages) - 1} ({_percent(stages)})")
        return value
    matches = [i for i, s in enumerate(stages) if abs(s - value) <= 1e-9]
    if not matches:
        raise Sim2RealError(f"--speed {stage}: not a stage; stages are {_percent(stages)}")
    return matches[0]


def _percent(stages: tuple[float, ...]) -> str:
    return ", ".join(f"{100 * s:g}%" for s in stages)
