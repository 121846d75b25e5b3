"""The control loop: tick order, policy faults reaching the safety layer, latched safe stops, speed
progression, lockstep and paced timing, the run log, the deploy command, and no torch."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest
from deploy_testdata import (
    TWIN_YAML,
    CallLog,
    LoggingRobot,
    ScriptedPolicy,
    killed_before_closing,
    read_with_both_readers,
    run_until_ticks_then_kill,
    tiny_policy,
    twin,
)

from sim2real.cli import main
from sim2real.deploy.loop import ControlLoop, LoopConfig, parse_stage
from sim2real.deploy.loop_build import build_loop
from sim2real.deploy.loop_config import stages_slow_targets
from sim2real.deploy.safety import SafetyMonitor
from sim2real.deploy.speed import SpeedConfig
from sim2real.deploy.stage_speed import StageSpeedConfig
from sim2real.deploy.stand_in import StandInPolicy
from sim2real.errors import Sim2RealError
from sim2real.logs import read_bag
from sim2real.real.protocol import Reading
from sim2real.robots import load_robot


class LoggingMonitor(SafetyMonitor):
    def __init__(self, spec, log: CallLog) -> None:
        super().__init__(spec)
        self.log = log

    def check_state(self, reading, now):
        self.log.calls.append("check_state")
        return super().check_state(reading, now)

    def filter_command(self, command_values, reading, now):
        self.log.calls.append("filter_command")
        return super().filter_command(command_values, reading, now)


class TestTick:
    def test_each_tick_reads_checks_runs_the_policy_checks_and_writes(self, quadruped):
        log = CallLog()
        robot = LoggingRobot(twin(quadruped), log)
        policy = ScriptedPolicy(quadruped.default_pose, log)
        loop = ControlLoop(robot, policy, monitor=LoggingMonitor(quadruped, log))
        for _ in range(3):
            loop.tick()
        assert log.calls == ["read", "check_state", "policy", "filter_command", "write"] * 3

    def test_lockstep_run_and_summary(self, furuta):
        with ControlLoop(twin(furuta), StandInPolicy(furuta)) as loop:
            summary = loop.run(0.2)
        assert summary["ticks"] == 100
        assert summary["duration_s"] == pytest.approx(0.2)
        assert summary["mode"] == "lockstep" and summary["control_rate_hz"] == pytest.approx(500)
        assert summary["achieved_rate_hz"] > 0 and summary["bag"] is None
        assert summary["safety"]["state"] == "ok" and summary["safety"]["ticks_by_mode"]["normal"] == 100
        assert {"missed_deadlines", "stage", "speed_fraction", "episode_return", "policy"} <= set(summary)
        assert loop.robot.safe  # close() left the robot in safe mode

    def test_the_policy_does_not_run_on_an_unusable_reading(self, furuta):
        from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot

        robot = TwinRobot(furuta, TwinConfig(effects=TwinEffects(drop_probability=1.0)))
        policy = ScriptedPolicy([0.0])
        loop = ControlLoop(robot, policy)
        results = [loop.tick() for _ in range(4)]
        assert [r.policy_ran for r in results] == [True, False, False, False]
        assert [r.mode for r in results[1:]] == ["hold", "hold", "hold"]

    def test_policy_at_another_rate_is_refused(self, furuta):
        with pytest.raises(Sim2RealError, match="control period"):
            ControlLoop(twin(furuta), ScriptedPolicy([0.0], control_dt=0.01))


class TestPolicyFaultsReachTheSafetyLayer:
    def test_non_finite_policy_input_makes_the_monitor_hold(self, quadruped):
        loop = ControlLoop(twin(quadruped), StandInPolicy(quadruped))
        loop.tick()
        loop.set_velocity_command([math.nan, 0.0, 0.0])
        result = loop.tick()
        assert result.policy_ran and not result.policy_input_finite
        assert result.mode == "hold"
        assert [str(e.kind) for e in result.events] == ["nan_command"]
        assert loop.policy_invalid_inputs == 1
        loop.set_velocity_command([0.2, 0.0, 0.0])
        assert loop.tick().mode == "normal"

    def test_the_runners_nan_handling_reaches_the_monitor(self, quadruped):
        from sim2real.policy.runtime import PolicyRunner

        runner = PolicyRunner(tiny_policy("quadruped"), quadruped, providers="cpu")
        loop = ControlLoop(twin(quadruped), runner)
        assert loop.tick().mode == "normal"
        loop.set_velocity_command([0.0, math.inf, 0.0])
        result = loop.tick()
        assert runner.last_input_finite is False and runner.invalid_steps == 1
        assert result.mode == "hold" and any(str(e.kind) == "nan_command" for e in result.events)

    def test_a_raising_policy_holds_then_stops(self, furuta):
        class Broken(ScriptedPolicy):
            def step_reading(self, reading, velocity_command=None):
                raise RuntimeError("boom")

        loop = ControlLoop(twin(furuta), Broken([0.0]))
        loop.tick()
        modes = [loop.tick().mode for _ in range(10)]
        assert modes[0] == "hold" and modes[-1] == "safe"  # stale_timeout 10 ms = 5 ticks
        assert loop.policy_errors >= 5 and loop.monitor.latched

    def test_an_exception_from_the_robot_stops_it_and_propagates(self, furuta):
        robot = twin(furuta)

        class Failing(LoggingRobot):
            def write(self, command):
                raise OSError("bus error")

        loop = ControlLoop(Failing(robot, CallLog()), StandInPolicy(furuta))
        with pytest.raises(OSError, match="bus error"):
            loop.tick()
        assert robot.safe


class TestSafeStop:
    def test_a_safe_stop_is_latched_until_an_explicit_reset(self, quadruped, tmp_path):
        config = LoopConfig(speed=SpeedConfig(dwell_s=0.1, start_stage=2), restart_stage=0)
        loop = ControlLoop(
            twin(quadruped), StandInPolicy(quadruped), config=config, log_path=tmp_path / "bag"
        )
        with loop:
            loop.run(0.1)
            loop.request_estop("test")
            modes = [loop.tick().mode for _ in range(10)]  # the e-stop reason is gone, the latch stays
            assert modes == ["safe"] * 10 and loop.state == "safe_stop"
            result = loop.reset_safety()
            assert result.accepted
            # the quadruped tracks a velocity command: the stage slows the command, not the targets
            assert loop.speed.stage == 0 and loop.speed.fraction == pytest.approx(0.1)
            assert loop.monitor.speed_fraction == 1.0
            after = [loop.tick().mode for _ in range(5)]
        assert after == ["normal"] * 5
        kinds = [e.kind for e in read_bag(tmp_path / "bag").events]
        assert "estop_request" in kinds and "reset" in kinds and "mode" in kinds

    def test_a_reset_is_refused_while_the_state_fails_a_check(self, furuta):
        robot = twin(furuta)
        loop = ControlLoop(robot, StandInPolicy(furuta))
        loop.tick()
        robot.set_state(joint_pos={"arm": 2.7})
        assert loop.tick().mode == "safe"
        refused = loop.reset_safety()
        assert not refused.accepted and loop.monitor.latched
        assert any(str(p.kind) == "position_limit" for p in refused.problems)
        assert loop.tick().mode == "safe"


class TestSpeedProgression:
    def test_stages_advance_after_their_dwell_without_events(self, furuta, tmp_path):
        config = LoopConfig(speed=SpeedConfig(dwell_s=0.05))
        loop = ControlLoop(twin(furuta), StandInPolicy(furuta), config=config, log_path=tmp_path / "bag")
        with loop:
            assert loop.monitor.speed_fraction == pytest.approx(0.1)
            summary = loop.run(0.5)
        assert summary["stage"] == 4 and summary["stage_changes"] == 4
        assert loop.monitor.speed_fraction == pytest.approx(1.0)
        stages = [e.detail["stage"] for e in read_bag(tmp_path / "bag").events if e.kind == "stage"]
        assert stages == [1, 2, 3, 4]

    def test_a_safety_event_restarts_the_dwell(self, furuta):
        class Jumpy(ScriptedPolicy):  # a command jump every 10 ticks: rate-limit clamps
            n = 0

            def step_reading(self, reading, velocity_command=None):
                self.n += 1
                return np.array([6.0 if (self.n // 10) % 2 else -6.0])

        config = LoopConfig(speed=SpeedConfig(dwell_s=0.05))
        loop = ControlLoop(twin(furuta), Jumpy([0.0]), config=config)
        loop.run(0.3)
        assert loop.speed.stage == 0 and loop.stage_changes == 0

    def test_speed_option_starts_at_a_stage(self, furuta):
        assert [parse_stage(s) for s in ("0", "3", "50%", "0.75", None)] == [0, 3, 2, 3, None]
        for bad in ("7", "33%", "fast"):
            with pytest.raises(Sim2RealError, match="--speed"):
                parse_stage(bad)
        loop = ControlLoop(
            twin(furuta), StandInPolicy(furuta), config=LoopConfig(speed=SpeedConfig(start_stage=2))
        )
        assert loop.monitor.speed_fraction == pytest.approx(0.5)

    def test_the_velocity_command_is_scaled_by_the_stage(self, quadruped):
        policy = ScriptedPolicy(quadruped.default_pose)
        config = LoopConfig(velocity_command=(0.8, 0.0, 0.4), speed=SpeedConfig(start_stage=1))
        loop = ControlLoop(twin(quadruped), policy, config=config)
        loop.tick()
        np.testing.assert_allclose(policy.velocity_commands[-1], [0.2, 0.0, 0.1])
        # ... and not the joint targets: a walking robot keeps its full joint speed to balance
        assert not loop.speed_limits_targets and loop.monitor.speed_fraction == 1.0

    def test_speed_stages_slow_the_targets_when_asked_or_without_a_velocity_command(self, quadruped, furuta):
        config = LoopConfig(
            velocity_command=(0.8, 0.0, 0.4), speed=SpeedConfig(start_stage=1), speed_applies_to="joint_targets"
        )
        policy = ScriptedPolicy(quadruped.default_pose)
        loop = ControlLoop(twin(quadruped), policy, config=config)
        loop.tick()
        assert loop.speed_limits_targets and loop.monitor.speed_fraction == pytest.approx(0.25)
        np.testing.assert_allclose(policy.velocity_commands[-1], [0.2, 0.0, 0.1])
        loop = ControlLoop(twin(furuta), StandInPolicy(furuta), config=LoopConfig(speed=SpeedConfig(start_stage=1)))
        assert loop.speed_limits_targets and loop.monitor.speed_fraction == pytest.approx(0.25)
        with pytest.raises(Sim2RealError, match="speed_applies_to"):
            LoopConfig(speed_applies_to="everything")

    def test_without_a_stage_speed_guard_auto_slows_the_targets(self, quadruped, caplog):
        """Scaling the velocity command alone is safe only where the stage-speed guard stops a policy
        that ignores it; without the guard (a fixed base: a legged policy hung on a fixed-base model;
        or the guard off) the stages slowed nothing (speed fraction 1.0 at 10 %) and said nothing."""
        stages = SpeedConfig().stages
        assert stages_slow_targets(LoopConfig(), stages, True, guarded=False)
        assert not stages_slow_targets(LoopConfig(), stages, True, guarded=True)
        config = LoopConfig(
            velocity_command=(0.8, 0.0, 0.4), speed=SpeedConfig(start_stage=1), stage_speed=StageSpeedConfig(enabled=False)
        )
        loop = ControlLoop(twin(quadruped), ScriptedPolicy(quadruped.default_pose), config=config)
        assert loop.speed_limits_targets and loop.monitor.speed_fraction == pytest.approx(0.25)
        with caplog.at_level("WARNING"):
            stages_slow_targets(LoopConfig(speed_applies_to="velocity_command"), stages, True, guarded=False)
        assert "no stage-speed guard checks that the robot slows" in caplog.text

    def test_a_robot_without_base_velocity_gets_its_targets_slowed(self, quadruped, caplog):
        """A ROS 2 robot without an odometry topic gives no base velocity: the guard checked only the
        yaw rate, so a policy that ignores its command walked at full speed at 10 %."""

        robot = twin(quadruped)
        robot.gives_base_lin_vel = False  # as Ros2Robot says without odometry_topic
        config = LoopConfig(velocity_command=(0.8, 0.0, 0.4), speed=SpeedConfig(start_stage=1))
        with caplog.at_level("WARNING"):
            loop = ControlLoop(robot, ScriptedPolicy(quadruped.default_pose), config=config)
        assert loop.speed_limits_targets and loop.monitor.speed_fraction == pytest.approx(0.25)
        assert "gives no base velocity" in caplog.text


@pytest.mark.serial
class TestTiming:
    def test_paced_loop_keeps_the_control_rate(self, furuta):
        robot = twin(furuta, realtime=True)
        loop = ControlLoop(robot, StandInPolicy(furuta), config=LoopConfig(mode="paced"))
        start = time.perf_counter()
        summary = loop.run(0.1)
        assert time.perf_counter() - start >= 0.098
        assert summary["ticks"] == 50
        assert summary["achieved_rate_hz"] <= 1.05 * 500  # paced: never faster than the rate

    def test_missed_deadlines_are_counted_logged_and_periods_skipped(self, furuta, tmp_path, caplog):
        class Slow(ScriptedPolicy):
            def step_reading(self, reading, velocity_command=None):
                time.sleep(1.6 * furuta.control_dt)
                return super().step_reading(reading, velocity_command)

        loop = ControlLoop(
            twin(furuta), Slow([0.0]), config=LoopConfig(mode="paced"), log_path=tmp_path / "bag"
        )
        with caplog.at_level("WARNING", logger="sim2real.deploy.loop"), loop:
            summary = loop.run(max_ticks=6)
        assert summary["missed_deadlines"] == 6 and summary["skipped_periods"] >= 6
        assert "missed deadline" in caplog.text
        misses = [e for e in read_bag(tmp_path / "bag").events if e.kind == "deadline_miss"]
        assert [e.detail["total"] for e in misses] == [1, 2, 3, 4, 5]  # then throttled

    def test_ticks_driven_from_outside_count_late_starts(self, quadruped):
        loop = ControlLoop(twin(quadruped), StandInPolicy(quadruped), config=LoopConfig(mode="paced"))
        loop.tick()
        time.sleep(2 * quadruped.control_dt)  # a late timer
        assert loop.tick().deadline_missed and loop.missed_deadlines == 1

    def test_lockstep_deadline_is_the_controllers_own_time(self, furuta):
        class Slow(ScriptedPolicy):
            def step_reading(self, reading, velocity_command=None):
                time.sleep(1.5 * furuta.control_dt)
                return super().step_reading(reading, velocity_command)

        loop = ControlLoop(twin(furuta), Slow([0.0]))
        assert not loop.tick().deadline_missed  # the first tick pays one-time costs: not judged
        assert loop.tick().deadline_missed


class TestRunLog:
    def test_the_bag_holds_states_imu_commands_events_and_the_spec_hash(self, quadruped, tmp_path):
        with ControlLoop(twin(quadruped), StandInPolicy(quadruped), log_path=tmp_path / "run") as loop:
            loop.run(0.4)
        tr = read_bag(tmp_path / "run", expected_hash=quadruped.hash, require_commands=True)
        assert tr.meta["complete"] and tr.meta["robot"] == "quadruped"
        assert tr.meta["origin"] == "sim2real.deploy" and tr.meta["mode"] == "lockstep"
        assert tr.n_samples == 20 and len(tr.command_t) == 20 and tr.gyro.shape == (20, 3)
        assert tr.command_joints == quadruped.actuated_joints
        np.testing.assert_allclose(tr.command[-1], quadruped.default_pose, atol=1e-9)
        kinds = [e.kind for e in tr.events]
        assert kinds[0] == "start" and kinds[-1] == "end"
        assert tr.events[-1].detail["ticks"] == 20

    def test_safety_events_are_logged_with_their_detail(self, furuta, tmp_path):
        robot = twin(furuta)
        with ControlLoop(robot, StandInPolicy(furuta), log_path=tmp_path / "run") as loop:
            loop.run(0.02)
            robot.set_state(joint_pos={"arm": 2.6})
            loop.run(0.02)
        safety = [e for e in read_bag(tmp_path / "run").events if e.kind == "safety"]
        assert safety[0].detail["kind"] == "position_limit" and safety[0].detail["severity"] == "safe_stop"
        assert safety[0].detail["joint"] == "arm"


class TestEpisodeReturn:
    def test_the_task_reward_is_summed_from_measured_state(self, furuta):
        loop = ControlLoop(twin(furuta), ScriptedPolicy([0.0]))
        summary = loop.run(0.1)
        assert loop.reward_unavailable is None
        assert math.isfinite(summary["episode_return"])

    def test_rewards_needing_privileged_state_are_not_faked(self, quadruped):
        loop = ControlLoop(twin(quadruped), ScriptedPolicy(quadruped.default_pose))
        assert loop.run(0.04)["episode_return"] is None
        assert "does not measure" in loop.reward_unavailable


class TestDeployCommand:
    def test_deploy_furuta_on_the_twin_for_10_seconds(self, tmp_path, capsys):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        policy = tiny_policy("furuta")
        code = main(
            [
                "deploy",
                "--robot",
                "furuta",
                "--policy",
                str(policy),
                "--twin",
                str(tmp_path / "twin.yaml"),
                "--seconds",
                "10",
                "--out",
                str(tmp_path / "run"),
                "--json",
            ]
        )
        captured = capsys.readouterr()
        assert code == 0
        summary = json.loads(captured.out)  # stdout holds the JSON only
        assert summary["ticks"] == 5000 and summary["duration_s"] == pytest.approx(10.0)
        assert {"stage", "achieved_rate_hz", "safety", "missed_deadlines"} <= set(summary)
        assert "ticks done" in captured.err  # status lines on stderr
        tr = read_bag(tmp_path / "run", expected_hash=load_robot("furuta").hash)
        assert tr.meta["policy_file"] == str(policy) and tr.meta["twin"]["params"][
            "motor.motor.resistance"
        ] == [9.0]
        assert len(tr.command_t) == 5000 and tr.n_samples > 4900

    def test_deploy_prints_a_human_summary(self, tmp_path, capsys):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        code = main(
            [
                "deploy",
                "--robot",
                "furuta",
                "--policy",
                str(tiny_policy("furuta")),
                "--twin",
                str(tmp_path / "twin.yaml"),
                "--seconds",
                "0.2",
                "--out",
                str(tmp_path / "run"),
                "--speed",
                "50%",
            ]
        )
        out = capsys.readouterr().out
        assert code == 0
        assert "furuta: 100 ticks" in out and "speed stage 2 (50 %)" in out and "log: " in out

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            ([], "--twin PARAMS.yaml"),
            (["--twin", "TWIN", "--ros2"], "not both"),
            (["--twin", "TWIN", "--speed", "9"], "--speed 9"),
        ],
    )
    def test_bad_invocations_are_one_line_errors(self, tmp_path, capsys, extra, message):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        extra = [str(tmp_path / "twin.yaml") if x == "TWIN" else x for x in extra]
        code = main(["deploy", "--robot", "furuta", "--policy", str(tmp_path / "p.onnx"), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and message in err[0]

    def test_a_missing_or_foreign_policy_is_refused(self, tmp_path, capsys):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        for policy, message in (
            (tmp_path / "none.onnx", "policy file not found"),
            (tiny_policy("quadruped"), "robot spec"),
        ):
            code = main(
                [
                    "deploy",
                    "--robot",
                    "furuta",
                    "--policy",
                    str(policy),
                    "--twin",
                    str(tmp_path / "twin.yaml"),
                ]
            )
            err = capsys.readouterr().err
            assert code == 1 and message in err and "Traceback" not in err
        assert not (tmp_path / "runs").exists()

    def test_a_killed_deploy_leaves_a_bag_both_readers_read(self, tmp_path):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        bag = tmp_path / "run"
        ticks = run_until_ticks_then_kill(
            [
                "deploy",
                "--robot",
                "furuta",
                "--policy",
                str(tiny_policy("furuta")),
                "--twin",
                str(tmp_path / "twin.yaml"),
                "--seconds",
                "1000",
                "--out",
                str(bag),
                "--json",
            ],
            min_ticks=200,
            stderr_path=tmp_path / "stderr.txt",
        )
        assert ticks >= 200
        assert killed_before_closing(bag)
        tr = read_bag(bag, expected_hash=load_robot("furuta").hash, require_commands=True)
        assert tr.meta["complete"] is False and len(tr.command_t) >= ticks
        by_rosbags, by_mcap = read_with_both_readers(bag)
        for counts in (by_rosbags, by_mcap):
            assert counts["/joint_commands"] >= ticks and counts["/joint_states"] >= 0.95 * ticks
            assert counts["/sim2real/meta"] == 1 and counts["/sim2real/events"] >= 1


class TestBuildLoop:
    def test_build_loop_for_the_ros2_node(self, furuta, tmp_path):
        loop = build_loop(
            furuta, twin(furuta), tiny_policy("furuta"), log_path=tmp_path / "bag", speed_stage="25%"
        )
        assert loop.config.mode == "paced" and loop.speed.stage == 1
        assert callable(loop.tick) and callable(loop.reset) and loop.monitor is not None
        loop.tick()
        loop.close()
        assert read_bag(tmp_path / "bag").meta["policy_file"] == str(tiny_policy("furuta"))

    def test_without_a_log_path_nothing_is_logged(self, furuta, tmp_path):
        loop = build_loop(furuta, twin(furuta), tiny_policy("furuta"))
        assert loop.log_path is None
        loop.tick()
        assert loop.close()["bag"] is None

    def test_a_given_config_keeps_its_mode_and_the_speed_stage_is_applied(self, furuta):
        config = LoopConfig(mode="lockstep")
        loop = build_loop(furuta, twin(furuta), tiny_policy("furuta"), config=config, speed_stage="50%")
        assert loop.config.mode == "lockstep" and loop.speed.stage == 2
        assert loop.monitor.speed_fraction == 0.5
        loop.close()

    def test_a_robot_of_another_spec_is_refused(self, furuta, quadruped):
        with pytest.raises(Sim2RealError, match="spec"):
            build_loop(furuta, twin(quadruped), tiny_policy("furuta"))

    def test_an_observer_model_given_is_the_one_the_collision_observer_uses(self, furuta):
        # deploy --ros2 reads the policy's calibration once for its startup line and passes it here
        from sim2real.deploy.collision_model import ObserverModel

        observed = ObserverModel({}, "given by the caller")
        loop = build_loop(furuta, twin(furuta), tiny_policy("furuta"), observed=observed)
        assert loop.monitor.collision.observer.observed is observed
        default = build_loop(furuta, twin(furuta), tiny_policy("furuta"))
        assert default.monitor.collision.observer.observed is not observed
        loop.close()
        default.close()


def test_deploy_modules_do_not_import_torch(tmp_path):
    code = """
import sys
import numpy as np
import sim2real.deploy.loop, sim2real.deploy.faults, sim2real.deploy.record, sim2real.real.twin
import sim2real.commands.deploy, sim2real.commands.faults, sim2real.commands.record, sim2real.policy.runtime
from sim2real.deploy.stand_in import StandInPolicy
from sim2real.policy.linear import write_linear_policy
from sim2real.deploy.loop import ControlLoop
from sim2real.real.twin import TwinRobot
from sim2real.robots import load_robot
spec = load_robot("furuta")
loop = ControlLoop(TwinRobot(spec), StandInPolicy(spec))
loop.run(0.01)
write_linear_policy(spec, sys.argv[1])
assert "torch" not in sys.modules, "torch was imported"
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "linear.onnx")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert (tmp_path / "linear.onnx").is_file()


def test_readings_reaching_the_loop_keep_their_type(furuta):
    loop = ControlLoop(twin(furuta), StandInPolicy(furuta))
    assert isinstance(loop.tick().reading, Reading)
