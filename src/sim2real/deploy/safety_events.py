"""The vocabulary of the safety layer: event kinds, severities, events, decisions, reset results.

:class:`EventKind` names what was checked, :class:`Severity` how bad it is (``info`` < ``clamp`` <
``hold`` < ``safe_stop``); the monitor's state after a tick is one word of :data:`MonitorState`
(``ok``, ``hold`` or ``safe_stop``).  The checks that raise each kind are indexed in the docstring of
:mod:`sim2real.deploy.safety`.  This module needs numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command, Reading

__all__ = [
    "EventKind",
    "MonitorState",
    "ResetResult",
    "SafetyConfigError",
    "SafetyDecision",
    "SafetyEvent",
    "Severity",
    "new_event",
]


class SafetyConfigError(Sim2RealError, ValueError):
    """A safety or speed setting is out of range (e.g. a speed fraction outside (0, 1])."""


class EventKind(StrEnum):
    """What a :class:`SafetyEvent` is about (a ``str``: compares equal to its value)."""

    NAN_STATE = "nan_state"
    NAN_COMMAND = "nan_command"
    STALE = "stale"
    POSITION_LIMIT = "position_limit"
    VELOCITY_LIMIT = "velocity_limit"
    TORQUE_LIMIT = "torque_limit"
    RATE_LIMIT = "rate_limit"
    TILT = "tilt"
    HEIGHT = "height"
    ESTOP = "estop"
    RESET = "reset"
    INVARIANT = "invariant"
    COLLISION = "collision"
    STAGE_SPEED = "stage_speed"
    SENSOR = "sensor"


class Severity(StrEnum):
    """How bad a :class:`SafetyEvent` is, in increasing order (a ``str``)."""

    INFO = "info"
    CLAMP = "clamp"
    HOLD = "hold"
    SAFE_STOP = "safe_stop"


RANK = {Severity.INFO: 0, Severity.CLAMP: 1, Severity.HOLD: 2, Severity.SAFE_STOP: 3}
"""Order of the severities (higher is worse)."""

MonitorState = Literal["ok", "hold", "safe_stop"]
"""The monitor's state after a tick: ``ok`` (a normal command, possibly clamped), ``hold`` (the
last safe command is repeated) or ``safe_stop`` (safe mode; latched when it came from a check)."""


@dataclass(frozen=True)
class SafetyEvent:
    """One thing the safety monitor noticed."""

    t: float
    """Loop time ``now`` of the tick [s]."""
    kind: EventKind
    """What was checked (see :class:`EventKind`)."""
    severity: Severity
    """clamp, hold, safe_stop or info."""
    joint: str | None
    """Joint concerned, or None for whole-robot events."""
    value: float
    """Offending value (measured or commanded, in its units), NaN when not applicable."""
    limit: float
    """The limit it was compared with, NaN when not applicable."""
    message: str
    """One human-readable line."""

    def as_dict(self) -> dict:
        """Plain JSON-friendly mapping (for logs and the events topic)."""
        return {
            "t": self.t,
            "kind": str(self.kind),
            "severity": str(self.severity),
            "joint": self.joint,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
        }


def new_event(
    now: float,
    kind: EventKind,
    severity: Severity,
    message: str,
    joint: str | None = None,
    value: float = math.nan,
    limit: float = math.nan,
) -> SafetyEvent:
    """A :class:`SafetyEvent` at loop time ``now`` (values as floats; NaN when not applicable)."""
    return SafetyEvent(
        t=float(now),
        kind=kind,
        severity=severity,
        joint=joint,
        value=float(value),
        limit=float(limit),
        message=message,
    )


@dataclass(frozen=True, eq=False)
class SafetyDecision:
    """Result of one :meth:`~sim2real.deploy.safety.SafetyMonitor.filter_command`."""

    command: Command
    """The command that may be sent to the robot."""
    events: tuple[SafetyEvent, ...]
    """Events reported during this call (state checks included when this call ran them)."""
    state: MonitorState
    """``ok`` (normal command, possibly clamped), ``hold`` or ``safe_stop``."""
    reading: Reading | None
    """The reading the command was checked against (the newest good one), or None."""

    @property
    def mode(self) -> str:
        """The command's mode: normal, hold or safe."""
        return self.command.mode

    @property
    def worst(self) -> Severity | None:
        """Highest severity among the events, or None without events."""
        if not self.events:
            return None
        return max((e.severity for e in self.events), key=RANK.__getitem__)


@dataclass(frozen=True)
class ResetResult:
    """Outcome of :meth:`~sim2real.deploy.safety.SafetyMonitor.reset`; true when accepted."""

    accepted: bool
    """Whether the latch was released."""
    event: SafetyEvent
    """The ``reset`` event (severity info when accepted, safe_stop when refused)."""
    problems: tuple[SafetyEvent, ...]
    """The checks that failed, when refused."""

    def __bool__(self) -> bool:
        return self.accepted
