"""A fault case's outcome (:class:`CaseResult`) and the rules it is judged by: the reaction a tick
shows, their order of severity, and whether a transient fault's hold resumed
(:func:`transient_recovered`).  The suite that runs the cases is :mod:`sim2real.deploy.faults`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim2real.deploy.loop_config import TickResult
from sim2real.deploy.safety_events import Severity
from sim2real.deploy.safety_state import base_tilt

__all__ = [
    "AFTERMATH_S",
    "REACTION_RANK",
    "CaseResult",
    "stopping_kinds",
    "tick_reaction",
    "tipped_note",
    "transient_recovered",
    "unrecovered_note",
]

REACTION_RANK = {"none": -1, "clamp": 1, "hold": 2, "safe_stop": 3, "refused_start": 3}
"""The reactions in order of severity (a missing policy's refused start ranks as a safe stop)."""


@dataclass
class CaseResult:
    """Outcome of one fault case."""

    name: str
    description: str
    detected: bool
    reaction: str
    """First reaction: clamp, hold, safe_stop (refused_start for a missing policy), or none."""
    expected: str
    worst: str
    """Most severe reaction during the case."""
    escalation: str | None
    reaction_periods: int | None
    """Control periods from the tick the fault became observable to the reacting tick (0: same tick)."""
    reaction_ms: float | None
    """Loop time from the tick the fault became observable to the reacting command, plus that tick's
    controller (host compute) time [ms]."""
    compute_ms: float | None
    """Controller time of the reacting tick [ms] (host load shows here; the loop counts overruns)."""
    unsafe_commands: int
    latched: bool | None
    """For safe stops: whether every later command stayed safe (no reset is made)."""
    recovered: bool | None
    """For holds and clamps of a fault that ends: whether normal commands resumed (see
    :func:`transient_recovered`); None also when another check's safe stop came while the fault
    still acted, so the resume could not be tried (``note`` says which)."""
    false_alarms: int
    """Hold and safe-stop events during the fault-free warm-up (clamps are routine shaping)."""
    control_dt: float
    deadline_ms: float | None = None
    """For faults with a deadline (a collision, a speed over the stage's cap): the reacting tick must
    come within this loop time of the fault's start, instead of within one control period.  The
    host's compute time is reported (``compute_ms``) but not judged: the suite runs unpaced on a
    shared host, where one tick's compute is noise (a loaded 2-core machine stretched a 3 ms tick past
    40 ms); a controller too slow for its period shows as the loop's missed deadlines and in ``bench
    infer``, not here."""
    events: list[str] = field(default_factory=list)
    """kind/severity of the events after the injection (first few)."""
    unsafe: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    """kind/severity of the false alarms (first few)."""
    note: str = ""
    """What the case could not try, and why (e.g. a push that tipped the robot over)."""
    first_stop: str = ""
    """The line of the first hold or safe stop of the run (warm-up included), or empty: what stopped a
    run that should have been quiet (:func:`~sim2real.deploy.faults.check_quiet`)."""
    first_stop_tick: int | None = None
    """Index of the tick of ``first_stop`` in the run (warm-up included), or None."""
    ticks: int = 0
    """Ticks the case ran."""

    @property
    def within_one_period(self) -> bool:
        """The reacting command is the one computed from the first reading (or policy output) that
        shows the fault, i.e. it is written in the same control period."""
        return self.reaction_periods == 0

    @property
    def loop_ms(self) -> float | None:
        """Loop time from the fault's start to the reacting tick [ms]: ``reaction_ms`` without the
        host's compute time."""
        if self.reaction_ms is None:
            return None
        return self.reaction_ms - (self.compute_ms or 0.0)

    @property
    def in_time(self) -> bool:
        """Within one control period, or within the fault's deadline when it has one."""
        if self.deadline_ms is not None:
            return self.loop_ms is not None and self.loop_ms <= self.deadline_ms
        return self.within_one_period

    @property
    def passed(self) -> bool:
        """Detected, reaction as severe as expected (and escalated when expected), within one control
        period, no unsafe command, latched safe stops, resumed after transient faults."""
        ok = (
            self.detected
            and REACTION_RANK[self.reaction] >= REACTION_RANK[self.expected]
            and self.in_time
            and self.unsafe_commands == 0
            and self.false_alarms == 0
        )
        if self.escalation is not None:
            ok = ok and REACTION_RANK[self.worst] >= REACTION_RANK[self.escalation]
        if self.latched is not None:
            ok = ok and self.latched
        if self.recovered is not None:
            ok = ok and self.recovered
        return bool(ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fault": self.description,
            "detected": self.detected,
            "reaction": self.reaction,
            "expected": self.expected,
            "worst": self.worst,
            "reaction_periods": self.reaction_periods,
            "reaction_ms": self.reaction_ms,
            "compute_ms": self.compute_ms,
            "within_one_period": self.within_one_period,
            "deadline_ms": self.deadline_ms,
            "loop_ms": self.loop_ms,
            "in_time": self.in_time,
            "unsafe_commands": self.unsafe_commands,
            "latched": self.latched,
            "recovered": self.recovered,
            "false_alarms": self.false_alarms,
            "passed": self.passed,
            "events": self.events,
            "unsafe": self.unsafe,
            "note": self.note,
        }


def tick_reaction(result: TickResult, kinds: Sequence[str]) -> str:
    if result.command.mode == "safe":
        return "safe_stop"
    if result.command.mode == "hold":
        return "hold"
    if any(str(e.kind) in kinds and e.severity == Severity.CLAMP for e in result.events):
        return "clamp"
    return "none"


def stopping_kinds(result: TickResult) -> set[str]:
    """Kinds of a tick's events; of a safe tick only those of its safe-stop events."""
    safe = result.command.mode == "safe"
    return {str(e.kind) for e in result.events if not safe or e.severity == Severity.SAFE_STOP}


AFTERMATH_S = 0.1
"""After a transient fault ends, how long another check's stop before any resume still counts as
the fault's consequence (the fall a push started) [s]: :func:`transient_recovered`."""


def transient_recovered(
    ticks: Sequence[tuple[str, Collection[str]]],
    *,
    injected: int,
    reacted: int,
    kinds: Collection[str],
    cleared: int | None = None,
    aftermath: int = 0,
) -> bool | None:
    """The resume rule of a transient fault (one that ends and calls for less than a safe stop).

    The case resumed when normal commands come back from the reacting tick on, no safe stop of
    the fault's own kinds follows the injection, and the last tick is not still held by it.  A
    later safe stop by another check (e.g. the policy driving a joint to its limit after the
    disturbance) is the safety layer working, not a failure to resume.  When such a stop comes
    before any normal command, while the fault still acts or within ``aftermath`` ticks after it
    ended (a push that drives a joint into its limit during the hold, or tips the robot over), the
    resume cannot be tried: None.  A hold that outlasts that and ends in another check's stop, or
    that still holds at the end, is a failure.

    Args:
        ticks: Per tick of the case: the mode of the command written (normal, hold or safe) and the
            kinds of the safety events reported in that tick.
        injected: Index of the tick the fault was injected in.
        reacted: Index of the reacting tick (the fault's end when it was not detected).
        kinds: The fault's own event kinds.
        cleared: Index of the first tick after the fault ended (None: not known).
        aftermath: Ticks after ``cleared`` in which another check's stop still leaves the resume
            untried (the fall a push started).
    """
    if not ticks:
        return False
    own = set(kinds)
    resumed = any(mode == "normal" for mode, _ in ticks[reacted:])
    own_stop = any(mode == "safe" and own & set(seen) for mode, seen in ticks[injected:])
    stop = next((k for k in range(reacted, len(ticks)) if ticks[k][0] == "safe"), None)
    during = not own_stop and stop is not None and cleared is not None and stop < cleared + aftermath
    if during and not any(mode == "normal" for mode, _ in ticks[reacted:stop]):
        return None
    last_mode, last_seen = ticks[-1]
    still_held = last_mode == "hold" and bool(own & set(last_seen))
    return resumed and not own_stop and not still_held


def unrecovered_note(
    results: Sequence[TickResult],
    *,
    injected: int,
    reacted: int,
    cleared: int,
    kinds: Collection[str],
    tilt_limit: float | None = None,
) -> str:
    """Why a transient fault's case did not resume (:func:`transient_recovered` false), in one line:
    its own check stopped the robot, the hold never released (still held at the end, or ended by
    another check's stop), or the robot resumed and was held again at the end; with the base's tilt
    at the end when beyond :data:`TIPPED` x ``tilt_limit`` [rad] (a push that tips the robot over
    ends held by the contact of its fall, or stopped by the tilt check).  Indices as
    :func:`transient_recovered`'s; ``cleared`` is the first tick after the fault ended."""
    own = set(kinds)
    dt = (results[-1].now - results[0].now) / max(len(results) - 1, 1) if results else 0.0

    def when(k: int) -> str:
        ms = 1e3 * (k - cleared) * dt
        return f"{ms:.0f} ms after the fault ended" if ms >= 0 else f"{-ms:.0f} ms before the fault ended"

    def cause(k: int, stop: bool = False) -> str:  # the fault's own event, or the safe stop's
        events = results[k].events
        return next((e.message for e in events if (e.severity == Severity.SAFE_STOP if stop else str(e.kind) in own)), "")

    def own_stop(k: int) -> bool:
        return any(str(e.kind) in own and e.severity == Severity.SAFE_STOP for e in results[k].events)

    last = len(results) - 1
    stop = next((k for k in range(injected, len(results)) if own_stop(k)), None)
    resumed = next((k for k in range(reacted, len(results)) if results[k].command.mode == "normal"), None)
    other = next((k for k in range(reacted, len(results)) if results[k].command.mode == "safe"), None)
    if stop is not None:
        note = f"its own check stopped the robot {when(stop)}: {cause(stop)}"
    elif resumed is None and other is not None:
        note = f"the hold never released; another check stopped the robot {when(other)}: {cause(other, stop=True)}"
    elif resumed is None:
        note = f"the hold never released: still held {when(last)}: {cause(last)}"
    else:
        held = last
        while held > resumed and results[held - 1].command.mode != "normal":
            held -= 1
        note = f"resumed {when(resumed)}, then held again from {when(held)} to the end: {cause(held)}"
    tilt = _final_tilt(results)
    if tilt is not None and tilt_limit is not None and tilt > TIPPED * tilt_limit:
        note += f"; base tilt {math.degrees(tilt):.0f} degrees at the end (a push that tips the robot over ends in the contact of its fall or a tilt stop)"
    return note


def _final_tilt(results: Sequence[TickResult]) -> float | None:
    """The base tilt of the last reading [rad], or None (no quaternion)."""
    quat = getattr(results[-1].reading, "quat", None) if results else None
    tilt = base_tilt(quat) if quat is not None else math.nan
    return tilt if math.isfinite(tilt) else None


TIPPED = 0.5
"""A case whose base ends tilted beyond this fraction of the tilt limit gets a note."""


def tipped_note(results: Sequence[TickResult], tilt_limit: float | None) -> str:
    """A note when the base ends tilted beyond :data:`TIPPED` x ``tilt_limit`` [rad] and still
    tilting further (the fault tipped the robot over; a resume judged before the fall ended says
    little), else empty."""
    tilt = _final_tilt(results)
    before = _final_tilt(results[:-1])
    if tilt_limit is None or tilt is None or before is None or not (tilt > TIPPED * tilt_limit and tilt > before):
        return ""
    return (
        f"the base ends tilted {math.degrees(tilt):.0f} degrees and still tipping (limit {math.degrees(tilt_limit):.0f}): "
        "the disturbance tipped the robot over; the resume was judged before the fall ended"
    )
