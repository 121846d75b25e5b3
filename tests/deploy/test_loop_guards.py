"""The control loop's guards around the safety monitor: no command after close, the restart stage
after a reset, speed stages that always slow something, a dead policy stopped through dropped
readings (each found by an adversarial review: the code before let the unsafe case through)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deploy_testdata import CallLog, LoggingRobot, ScriptedPolicy, twin

from sim2real.deploy.audit import RobotWrapper
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.speed import SpeedConfig, SpeedProgression
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def pendulum():
    return load_robot("pendulum")


def test_a_closed_loop_writes_nothing_more(pendulum):
    calls = CallLog()
    robot = LoggingRobot(twin(pendulum), calls)
    loop = ControlLoop(robot, ScriptedPolicy([0.5]), config=LoopConfig(episode_return=False))
    for _ in range(5):
        loop.tick()
    loop.close()
    assert calls.calls[-1] == "stop"
    written = len(robot.commands)
    with pytest.raises(Sim2RealError, match="closed"):
        loop.tick()
    with pytest.raises(Sim2RealError, match="closed"):
        loop.reset_safety()
    assert len(robot.commands) == written and calls.calls[-1] == "stop"


class TestRestartStage:
    def test_a_numpy_integer_is_a_stage_index_not_a_fraction(self, pendulum):
        config = LoopConfig(speed=SpeedConfig(start_stage=2), restart_stage=np.int64(1), episode_return=False)
        assert type(config.restart_stage) is int
        loop = ControlLoop(twin(pendulum), ScriptedPolicy([0.0]), config=config)
        assert loop.monitor.speed_fraction == pytest.approx(0.50)
        for _ in range(3):
            loop.tick()
        loop.request_estop("test")
        loop.tick()
        assert loop.monitor.latched
        for _ in range(3):
            loop.tick()
        assert loop.reset_safety().accepted
        # stage 1 is 25 %; np.int64(1) taken as the fraction 1.0 restarted at 100 %
        assert loop.speed.stage == 1 and loop.monitor.speed_fraction == pytest.approx(0.25)

    @pytest.mark.parametrize(("start", "restart", "after"), [(0, 4, 0), (1, 3, 1), (3, 1, 1)])
    def test_a_reset_never_raises_the_speed_stage(self, pendulum, start, restart, after):
        """restart_stage 4 from stage 0 restarted a latched run at 100 % (set in code, the twin)."""
        config = LoopConfig(speed=SpeedConfig(start_stage=start), restart_stage=restart, episode_return=False)
        loop = ControlLoop(twin(pendulum), ScriptedPolicy([0.0]), config=config)
        loop.tick()
        loop.request_estop("test")
        loop.tick()
        assert loop.monitor.latched
        loop.tick()
        assert loop.reset_safety().accepted
        assert loop.speed.stage == after
        assert loop.monitor.speed_fraction == pytest.approx(SpeedConfig().stages[after])

    @pytest.mark.parametrize("stage", [1.0, True, "1"])
    def test_a_stage_that_is_no_integer_is_refused(self, stage):
        with pytest.raises(Sim2RealError, match="restart_stage must be a stage index"):
            LoopConfig(restart_stage=stage)

    def test_a_stage_the_loops_own_progression_lacks_is_refused_up_front(self, pendulum):
        short = SpeedProgression.from_config(SpeedConfig(stages=(0.1, 0.5), start_stage=0))
        with pytest.raises(Sim2RealError, match="restart_stage 3 is not a stage of"):
            ControlLoop(twin(pendulum), ScriptedPolicy([0.0]), config=LoopConfig(restart_stage=3), speed=short)

    def test_start_at_takes_numpy_integers_as_indices(self):
        progression = SpeedProgression.from_config(SpeedConfig())
        assert progression.start_at(np.int32(1)) == pytest.approx(0.25)
        assert progression.start_at(1.0) == pytest.approx(1.0)


class TestSpeedStagesSlowSomething:
    def test_velocity_command_mode_without_a_command_is_refused(self, pendulum):
        config = LoopConfig(speed_applies_to="velocity_command", speed=SpeedConfig(start_stage=0))
        with pytest.raises(Sim2RealError, match="has no velocity command"):
            ControlLoop(twin(pendulum), ScriptedPolicy([0.0]), config=config)

    def test_velocity_command_mode_with_an_unscaled_command_is_refused(self):
        quadruped = load_robot("quadruped")
        config = LoopConfig(
            velocity_command=(0.8, 0.0, 0.4), scale_velocity_command=False, speed_applies_to="velocity_command"
        )
        with pytest.raises(Sim2RealError, match="is not scaled"):
            ControlLoop(twin(quadruped), ScriptedPolicy(quadruped.default_pose), config=config)

    @pytest.mark.parametrize("scaled", [True, False])
    def test_auto_slows_the_joint_targets_when_the_command_is_not_scaled(self, scaled):
        quadruped = load_robot("quadruped")
        config = LoopConfig(
            velocity_command=(0.8, 0.0, 0.4), scale_velocity_command=scaled, speed=SpeedConfig(start_stage=0)
        )
        policy = ScriptedPolicy(quadruped.default_pose)
        loop = ControlLoop(twin(quadruped), policy, config=config)
        loop.tick()
        assert loop.speed.fraction == pytest.approx(0.10)
        if scaled:  # the command carries the stage; the joint targets move at full speed
            np.testing.assert_allclose(policy.velocity_commands[-1], [0.08, 0.0, 0.04])
            assert loop.monitor.speed_fraction == 1.0
        else:  # the full command: the stage slows the joint targets
            np.testing.assert_allclose(policy.velocity_commands[-1], [0.8, 0.0, 0.4])
            assert loop.monitor.speed_fraction == pytest.approx(0.10)


class _DropsEveryNth(RobotWrapper):
    """A robot whose every ``n``-th reading arrives marked invalid (a flaky link)."""

    def __init__(self, inner, n: int) -> None:
        super().__init__(inner)
        self.n, self.k = n, 0

    def read(self) -> Reading:
        r = self.inner.read()
        self.k += 1
        if self.k % self.n == 0:
            return Reading(t=r.t, q=r.q, qd=r.qd, tau=r.tau, valid=False)
        return r


def test_a_dead_policy_is_stopped_although_readings_drop_now_and_then(pendulum):
    # on a dropped reading the loop hands the monitor its last finite command, unused: that must
    # not end the streak of unusable commands
    robot = _DropsEveryNth(twin(pendulum), 5)
    loop = ControlLoop(robot, ScriptedPolicy([math.nan]), config=LoopConfig(episode_return=False))
    timeout = pendulum.safety.stale_timeout
    ticks = round(4 * timeout / pendulum.control_dt)
    results = [loop.tick() for _ in range(ticks)]
    assert not any(r.command.mode == "normal" for r in results)
    assert loop.monitor.latched
    first_safe = next(i for i, r in enumerate(results) if r.command.mode == "safe")
    assert first_safe * pendulum.control_dt <= timeout + 3 * pendulum.control_dt


class _WordsPolicy(ScriptedPolicy):
    """A policy whose output is no numbers (a broken wrapper returning labels)."""

    def step_reading(self, reading, velocity_command=None):
        super().step_reading(reading, velocity_command)
        return ["a"] * len(self.values)


def test_a_policy_output_that_is_no_numbers_is_a_policy_failure_the_monitor_answers(pendulum):
    loop = ControlLoop(twin(pendulum), _WordsPolicy([0.0]), config=LoopConfig(episode_return=False))
    ticks = round(4 * pendulum.safety.stale_timeout / pendulum.control_dt)
    results = [loop.tick() for _ in range(ticks)]  # no exception out of the tick
    assert loop.policy_errors >= round(pendulum.safety.stale_timeout / pendulum.control_dt)  # each until the stop
    assert not any(r.command.mode == "normal" for r in results) and loop.monitor.latched

