"""The speed stages' cap on the robot's own speed: a velocity-tracking policy that does not slow
down with its scaled command is stopped below 100 %, on readings and on the quadruped twin."""

from __future__ import annotations

import logging
import math

import mujoco
import numpy as np
import pytest
from deploy_testdata import NO_DROPS, ScriptedPolicy

from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.safety import EventKind, SafetyMonitor, Severity
from sim2real.deploy.safety_events import SafetyConfigError
from sim2real.deploy.speed import SpeedConfig
from sim2real.deploy.stage_speed import (
    StageSpeedConfig,
    StageSpeedGuard,
    stage_caps,
    stage_command,
    stage_speed_guard,
)
from sim2real.logs.trajectory import rotate
from sim2real.real.protocol import Reading
from sim2real.real.rotations import quat_multiply
from sim2real.real.twin import TwinConfig, TwinRobot

DT = 1 / 32  # s: exact in binary, so the times compared with the timeout are exact


def reading(t: float, speed: float = 0.0, yaw: float = 0.0, *, lin_vel: bool = True, gyro=None) -> Reading:
    """A one-joint reading moving at ``speed`` along the base's x axis, turning at ``yaw``."""
    return Reading(
        t=t,
        q=np.zeros(1),
        qd=np.zeros(1),
        gyro=np.array([0.0, 0.0, yaw]) if gyro is None else np.asarray(gyro, float),
        base_lin_vel=np.array([speed, 0.0, 0.0]) if lin_vel else None,
    )


def guard(fraction=0.1, command=(0.5, 0.0, 0.0), **config) -> tuple[StageSpeedGuard, dict]:
    """A guard whose stage the test changes through the returned dict (unfiltered unless asked)."""
    stage = {"fraction": fraction, "command": np.array(command)}
    config.setdefault("filter_s", 0.0)
    g = StageSpeedGuard(
        StageSpeedConfig(**config), lambda: (stage["fraction"], stage["fraction"] * stage["command"])
    )
    return g, stage


def run(g: StageSpeedGuard, speeds, t0: float = 0.0, **kw) -> list[list]:
    """Events per reading of a speed sequence, one reading per control period."""
    return [g.check(reading(t0 + i * DT, s, **kw), t0 + i * DT) for i, s in enumerate(speeds)]


def stops(events: list[list]) -> list[int]:
    """The readings whose events hold a safe stop."""
    return [i for i, ev in enumerate(events) if any(e.severity == Severity.SAFE_STOP for e in ev)]


class TestCaps:
    def test_cap_is_the_stage_command_plus_the_margins(self):
        caps = stage_caps(
            StageSpeedConfig(speed_margin=0.3, yaw_margin=0.5), 0.25, 0.25 * np.array([0.6, 0.8, -2.0])
        )
        assert caps == pytest.approx((0.25 * 1.0 + 0.3, 0.25 * 2.0 + 0.5))

    @pytest.mark.parametrize(
        ("fraction", "command", "enabled"),
        [
            (1.0, (0.5, 0, 0), True),
            (0.1, None, True),
            (0.1, (0.5, 0, 0), False),
            (0.1, (math.nan, 0, 0), True),
        ],
    )
    def test_unchecked_at_full_speed_without_command_or_when_off(self, fraction, command, enabled):
        cmd = None if command is None else np.array(command, float)
        assert stage_caps(StageSpeedConfig(enabled=enabled), fraction, cmd) is None

    @pytest.mark.parametrize(
        "bad",
        [
            {"speed_margin": 0.0},
            {"yaw_margin": -1.0},
            {"timeout": math.inf},
            {"filter_s": -0.1},
            {"settle_s": math.nan},
        ],
    )
    def test_bad_settings_are_refused(self, bad):
        with pytest.raises(SafetyConfigError):
            StageSpeedConfig(**bad)


class TestStageCommand:
    def test_clipped_down_the_cap_takes_the_clip_clipped_up_the_stages_value(self):
        clip = ((0.5, -0.3, -1.0), (1.0, 0.3, 1.0))
        command, note = stage_command(np.array([2.0, 0.05, -3.0]), clip)  # all clipped down or inside
        assert command == pytest.approx([1.0, 0.05, -1.0]) and note is None
        command, note = stage_command(np.array([0.08, 0.0, -0.1]), clip)  # vx clipped up to 0.5
        assert command == pytest.approx([0.08, 0.0, -0.1]) and "vx 0.08 -> 0.5" in note and "vy" not in note
        command, note = stage_command(np.array([-0.2, 0.0, 0.0]), clip)  # backwards, clipped up to +0.5
        assert command == pytest.approx([-0.2, 0.0, 0.0]) and "vx -0.2 -> 0.5" in note
        assert stage_command(np.array([0.08, 0.0, 0.0]), None) == (pytest.approx([0.08, 0.0, 0.0]), None)
        assert stage_command(None, clip) == (None, None)


class TestGuard:
    def test_below_the_cap_nothing_happens(self):
        g, _ = guard()
        assert all(ev == [] for ev in run(g, [0.3] * 100))  # cap 0.05 + 0.3 = 0.35 m/s

    def test_above_the_cap_a_note_then_a_safe_stop_after_the_timeout(self):
        g, _ = guard(timeout=0.5)
        events = run(g, [0.0] + [0.6] * 40)
        kinds = [(i, e.kind, e.severity) for i, ev in enumerate(events) for e in ev]
        assert kinds[0] == (1, EventKind.STAGE_SPEED, Severity.INFO)
        stops = [i for i, _, s in kinds if s == Severity.SAFE_STOP]
        # over since reading 1 (t = 1/32 s): the stop comes 0.5 s later, at reading 17, not before
        assert stops and stops[0] == 17
        stop = next(e for e in events[17] if e.severity == Severity.SAFE_STOP)
        assert stop.value == pytest.approx(0.6) and stop.limit == pytest.approx(0.35)
        assert "does not slow down" in stop.message

    def test_slowing_down_in_time_restarts_the_timer(self):
        g, _ = guard(timeout=0.5)
        speeds = ([0.6] * 15 + [0.2]) * 4  # 0.44 s over, then under: never 0.5 s in a row
        assert not any(e.severity == Severity.SAFE_STOP for ev in run(g, speeds) for e in ev)
        infos = [e for ev in run(guard(timeout=0.5)[0], speeds) for e in ev]
        assert len(infos) == 4  # one note per excursion

    def test_at_full_speed_nothing_is_capped(self):
        g, _ = guard(fraction=1.0)
        assert all(ev == [] for ev in run(g, [3.0] * 60, yaw=5.0))
        assert g.caps is None

    def test_yaw_rate_is_capped_too(self):
        g, _ = guard(command=(0.0, 0.0, 1.0), timeout=0.2)  # cap 0.1 + 0.5 rad/s
        events = [e for ev in run(g, [0.0] * 20, yaw=-0.8) for e in ev]
        assert events[0].severity == Severity.INFO  # then a safe stop at every reading (the monitor latches)
        assert events[1:] and all(e.severity == Severity.SAFE_STOP for e in events[1:])
        assert "yaw rate" in events[-1].message and events[-1].limit == pytest.approx(0.6)

    def test_a_one_tick_spike_passes_the_filter(self):
        g, _ = guard(filter_s=0.1)
        assert all(ev == [] for ev in run(g, [0.0] * 10 + [1.0] + [0.0] * 10))
        unfiltered, _ = guard(filter_s=0.0)
        assert any(run(unfiltered, [0.0] * 10 + [1.0] + [0.0] * 10))

    def test_a_robot_without_base_velocity_says_so_once_and_keeps_the_yaw_check(self):
        g, _ = guard(timeout=0.1)
        events = [e for ev in run(g, [0.0] * 12, lin_vel=False, yaw=2.0) for e in ev]
        notes = [e for e in events if "no finite base velocity" in e.message]
        assert len(notes) == 1 and notes[0].severity == Severity.INFO
        assert any(e.severity == Severity.SAFE_STOP and "yaw rate" in e.message for e in events)

    def test_an_unchecked_cap_is_a_warning_on_the_console(self, caplog):
        # the monitor logs info events at debug level: the gap must not be seen only in the bag
        g, _ = guard()
        with caplog.at_level(logging.WARNING, logger="sim2real.deploy.stage_speed"):
            run(g, [0.0] * 5, lin_vel=False)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "speed cap is not checked" in warnings[0].getMessage()

    def test_an_estimate_gone_non_finite_is_not_judged_by_its_old_value(self):
        g, _ = guard(timeout=0.5)
        before = [e for ev in run(g, [0.2] * 5) for e in ev]
        assert before == [] and g.speeds["speed"] == pytest.approx(0.2)
        after = [g.check(reading((5 + i) * DT, math.nan), (5 + i) * DT) for i in range(10)]
        notes = [e for ev in after for e in ev]
        assert len(notes) == 1 and "speed cap is not checked" in notes[0].message
        assert "speed" not in g.speeds

    def test_an_estimate_that_drops_out_now_and_then_does_not_reset_the_timer(self):
        # the monitor does not judge base_lin_vel: one non-finite estimate in eight must not hide a
        # robot running at 1.5 m/s (cap 0.35) by restarting the timeout at every gap
        g, _ = guard(timeout=0.5)
        events = run(g, ([1.5] * 7 + [math.nan]) * 10)
        assert stops(events)[:1] == [16]
        assert any("speed cap is not checked" in e.message for e in events[7])  # the gap is still said

    def test_a_value_that_stays_missing_stops_for_its_absence_not_its_old_excess(self):
        g, _ = guard(timeout=0.5)
        events = run(g, [1.5] * 8 + [math.nan] * 40)
        first = stops(events)[0]
        assert first == 7 + math.ceil(0.5 / DT)  # the timeout counted from the last finite value (reading 7)
        (stop,) = [e for e in events[first] if e.severity == Severity.SAFE_STOP]
        assert "has given no finite value" in stop.message and "cannot be checked" in stop.message

    def test_an_estimator_gone_nan_stops_the_robot_it_let_run(self):
        """A base velocity estimate that turned NaN turned the guard off for the rest of the run: 3 m/s
        against a 0.35 m/s cap for 3 s, nothing latched (safety review 10)."""
        g, _ = guard(timeout=0.5)
        events = run(g, [3.0] * 4 + [math.nan] * 120)
        assert stops(events) and stops(events)[0] == 3 + math.ceil(0.5 / DT)

    def test_a_robot_that_never_gives_a_base_velocity_is_not_stopped_for_it(self):
        g, _ = guard(timeout=0.5)
        events = run(g, [0.0] * 120, lin_vel=False)
        assert stops(events) == []
        assert sum("speed cap is not checked" in e.message for ev in events for e in ev) == 1

    def test_after_a_restart_a_measure_once_given_is_still_required(self):
        g, _ = guard(timeout=0.5)
        run(g, [0.2] * 4)
        g.restart()  # an accepted reset after a latched stop
        events = run(g, [math.nan] * 40, t0=10 * DT)
        assert stops(events) and stops(events)[0] == math.ceil(0.5 / DT)  # the clock starts at the restart

    def test_a_lower_cap_gives_the_robot_time_to_slow_down(self):
        g, stage = guard(fraction=0.5, timeout=0.5, settle_s=1.0)  # cap 0.25 + 0.3 = 0.55 m/s
        assert all(ev == [] for ev in run(g, [0.5] * 10))
        stage["fraction"] = 0.1  # a stage down: cap 0.35 m/s; over it from t = 10 DT
        events = run(g, [0.5] * 100, t0=10 * DT)
        stops = [i for i, ev in enumerate(events) if any(e.severity == Severity.SAFE_STOP for e in ev)]
        # no stop before settle_s + timeout after the drop (1.5 s: reading 48)
        assert stops and stops[0] == 48

    def test_a_command_that_keeps_dropping_does_not_hold_off_the_stop(self):
        # a joystick jittering between 0.50 and 0.49 m/s: each small drop used to restart the grace
        g, stage = guard(fraction=0.5, timeout=0.5, settle_s=1.0)  # caps 0.55 / 0.545 m/s
        events = []
        for i in range(200):  # 6.25 s at 1.5 m/s, far above either cap
            stage["command"] = np.array([0.50 if i % 2 else 0.49, 0.0, 0.0])
            events.append(g.check(reading(i * DT, 1.5), i * DT))
        # over the higher cap from the first reading: stopped 0.5 s later, as without the jitter
        assert stops(events)[:1] == [16]

    def test_a_lower_cap_still_holds_the_robot_to_the_one_before(self):
        g, stage = guard(fraction=0.5, timeout=0.5, settle_s=1.0)  # cap 0.55 m/s
        assert all(ev == [] for ev in run(g, [0.5] * 10))
        stage["fraction"] = 0.1  # cap 0.35 m/s, but the robot speeds up past the old 0.55 at once
        events = run(g, [0.9] * 40, t0=10 * DT)
        assert stops(events)[:1] == [16]  # no second on top: it was over the cap it had
        stop = next(e for e in events[16] if e.severity == Severity.SAFE_STOP)
        assert stop.limit == pytest.approx(0.55) and "(now 0.35 m/s)" in stop.message

    def test_a_stage_down_from_full_speed_gives_the_robot_time_to_slow_down(self):
        g, stage = guard(fraction=1.0, timeout=0.5, settle_s=1.0)  # 100 %: unchecked
        assert all(ev == [] for ev in run(g, [1.0] * 10))
        stage["fraction"] = 0.1  # the ledger steps back to 10 %: cap 0.35 m/s
        events = run(g, [1.0] * 100, t0=10 * DT)
        assert stops(events)[:1] == [48]  # settle_s + timeout after the drop, as from a lower stage

    def test_a_command_gone_non_finite_now_and_then_does_not_reset_the_timer(self):
        g, stage = guard(fraction=0.1, timeout=0.5)  # cap 0.35 m/s
        events = []
        for i in range(40):  # every other command NaN (the policy holds on those ticks only)
            stage["command"] = np.array([math.nan if i % 2 else 0.5, 0.0, 0.0])
            events.append(g.check(reading(i * DT, 1.5), i * DT))
        assert stops(events)[:1] == [16]

    def test_the_first_stage_gets_no_grace(self):
        g, _ = guard(fraction=0.1, timeout=0.5, settle_s=1.0)
        assert stops(run(g, [1.0] * 40))[:1] == [16]

    def test_a_robot_clock_that_restarts_is_followed(self):
        # the monitor holds on time going back, then an accepted reset takes the new clock: the guard
        # ignored every reading until the robot's time passed the old one (here 100 s later)
        g, _ = guard(timeout=0.5)
        assert stops(run(g, [0.0] * 10, t0=100.0)) == []
        assert stops(run(g, [1.5] * 40))[:1] == [16]

    def test_the_same_reading_twice_counts_once(self):
        g, _ = guard(timeout=0.5)
        r = reading(0.0, 0.6)
        first = g.check(r, 0.0)
        assert len(first) == 1 and g.check(r, 0.02) == []

    def test_the_yaw_rate_is_read_through_a_rotated_imu(self):
        # IMU turned +90 deg about the base's x axis: its y axis is the base's z axis
        mount = np.array([math.cos(math.pi / 4), -math.sin(math.pi / 4), 0.0, 0.0])  # imu_to_base
        g = StageSpeedGuard(StageSpeedConfig(filter_s=0.0, timeout=0.1), lambda: (0.1, np.zeros(3)), mount)
        turning = [g.check(reading(i * DT, gyro=[0.0, 1.0, 0.0]), i * DT) for i in range(10)]
        assert any(e.severity == Severity.SAFE_STOP for ev in turning for e in ev)
        g2 = StageSpeedGuard(StageSpeedConfig(filter_s=0.0, timeout=0.1), lambda: (0.1, np.zeros(3)), mount)
        rolling = [g2.check(reading(i * DT, gyro=[0.0, 0.0, 1.0]), i * DT) for i in range(10)]
        assert all(ev == [] for ev in rolling)  # the IMU's z is the base's -y: a roll rate

    @pytest.mark.parametrize("turned", [False, True])
    def test_a_tilted_base_is_judged_in_the_world(self, turned):
        # pitched 1 rad (the tilt limit), moving 0.6 m/s across the floor and turning 1 rad/s about
        # the vertical: in its own frame the base shows 0.32 m/s and 0.54 rad/s, under the caps
        pitch = 1.0
        base = np.array([math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0])
        to_base = rotate(base * [1, -1, -1, -1], np.eye(3)).T  # world -> base
        v, w = to_base @ [0.6, 0.0, 0.0], to_base @ [0.0, 0.0, 1.0]
        mount, quat, gyro = None, base, w
        if turned:  # the IMU turned 90 deg about the base's x: its y axis is the base's z axis
            mount = np.array([math.cos(math.pi / 4), -math.sin(math.pi / 4), 0.0, 0.0])
            site = mount * [1, -1, -1, -1]
            quat, gyro = quat_multiply(base, site), rotate(mount, w)
        g = StageSpeedGuard(StageSpeedConfig(filter_s=0.0), lambda: (0.1, np.array([0.05, 0.0, 0.1])), mount)
        for i in range(3):
            g.check(
                Reading(t=i * DT, q=np.zeros(1), qd=np.zeros(1), gyro=gyro, quat=quat, base_lin_vel=v), i * DT
            )
        assert g.speeds["speed"] == pytest.approx(0.6) and g.speeds["yaw_rate"] == pytest.approx(1.0)
        assert g.caps == pytest.approx((0.35, 0.6))


    def test_a_restart_forgets_the_time_above_the_cap(self):
        g, _ = guard(timeout=0.5)
        run(g, [0.6] * 13)  # 0.375 s above the cap
        g.restart()  # an accepted safety reset
        events = run(g, [0.6] * 20, t0=13 * DT)
        stops = [i for i, ev in enumerate(events) if any(e.severity == Severity.SAFE_STOP for e in ev)]
        assert stops and stops[0] == 16  # a fresh 0.5 s, not the 0.125 s left


class TestInTheLoop:
    """The quadruped twin standing on a slippery floor (friction 0.1), turned or pushed by an outside
    force while the policy holds its default pose: what a policy that ignores its command does."""

    def loop(self, spec, stage: int, **config) -> tuple[ControlLoop, TwinRobot, int]:
        robot = TwinRobot(spec, TwinConfig(params={"geom.floor.friction": np.array(0.1)}, effects=NO_DROPS))
        loop = ControlLoop(
            robot,
            ScriptedPolicy(np.array(spec.default_pose)),
            monitor=SafetyMonitor(spec),  # no collision observer: the outside force is the test's
            config=LoopConfig(
                velocity_command=(0.5, 0.0, 0.0), speed=SpeedConfig(start_stage=stage), **config
            ),
        )
        return loop, robot, mujoco.mj_name2id(robot.model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)

    def turn(self, spec, stage: int, ticks: int = 150, **config) -> tuple[ControlLoop, list]:
        loop, robot, base = self.loop(spec, stage, **config)
        events = []
        for k in range(ticks):
            robot.data.xfrc_applied[base, 5] = 8.0 if k >= 25 else 0.0  # N m about z
            events += loop.tick().events
        return loop, events

    def test_once_another_stop_latched_the_policy_is_not_blamed(self, quadruped):
        """A G1 falling after a tilt stop was reported for 'a policy that does not slow down'."""
        loop, robot, base = self.loop(quadruped, 0)
        events = []
        for k in range(150):
            robot.data.xfrc_applied[base, 5] = 8.0
            if k == 20:  # turning fast already, before the guard's timeout
                loop.request_estop("operator")
            events += [(loop.monitor.latched, e) for e in loop.tick().events]
        assert loop.monitor.latched and "operator" in loop.monitor.latch_reason
        assert any(e.kind == EventKind.STAGE_SPEED for latched, e in events if not latched)  # it was over
        assert not [e for latched, e in events if latched and e.kind == EventKind.STAGE_SPEED]

    def test_turning_at_the_first_stage_is_stopped(self, quadruped):
        loop, events = self.turn(quadruped, 0)
        assert loop.monitor.latched and loop.monitor.latch_reason.startswith("base yaw rate")
        stop = next(e for e in events if e.severity == Severity.SAFE_STOP)
        assert stop.kind == EventKind.STAGE_SPEED and stop.limit == pytest.approx(0.5)
        assert loop.summary()["safety"]["counters"]["stage_speed"] >= 2  # the note, then the stop

    def test_resets_with_nothing_latched_do_not_put_the_stop_off(self, quadruped):
        """Safety review 10: an accepted reset restarted the guard's time above its cap even with
        nothing latched, so a reset every 0.3 s (under the 0.5 s timeout) kept a robot turning far
        over its stage's cap from ever being stopped."""
        loop, robot, base = self.loop(quadruped, 0)
        every = round(0.3 / quadruped.control_dt)
        for k in range(150):
            robot.data.xfrc_applied[base, 5] = 8.0 if k >= 25 else 0.0  # N m about z
            if k >= 25 and k % every == 0 and not loop.monitor.latched:
                assert loop.reset_safety().accepted
            loop.tick()
        assert loop.monitor.latched and loop.monitor.latch_reason.startswith("base yaw rate")

    def test_at_full_speed_or_switched_off_it_is_not(self, quadruped):
        for stage, config in ((4, {}), (0, {"stage_speed": StageSpeedConfig(enabled=False)})):
            loop, events = self.turn(quadruped, stage, **config)
            assert not loop.monitor.latched
            assert not any(e.kind == EventKind.STAGE_SPEED for e in events)

    def test_sliding_at_the_first_stage_is_stopped(self, quadruped):
        loop, robot, base = self.loop(quadruped, 0)
        mass = float(robot.model.body_subtreemass[base])
        for k in range(150):
            robot.data.xfrc_applied[base, 0] = 0.15 * 9.81 * mass if k >= 25 else 0.0
            loop.tick()
            if loop.monitor.latched:
                break
        assert loop.monitor.latch_reason.startswith("base speed")

    def test_a_policy_without_velocity_command_slows_its_joints_instead(self, furuta, quadruped):
        spec = quadruped
        loop = ControlLoop(
            TwinRobot(spec, TwinConfig(effects=NO_DROPS)),
            ScriptedPolicy(np.array(spec.default_pose)),
            config=LoopConfig(speed_applies_to="joint_targets", velocity_command=(0.5, 0.0, 0.0)),
        )
        assert loop.stage_speed is None and loop.monitor.speed_fraction == pytest.approx(0.1)
        assert stage_speed_guard(furuta, StageSpeedConfig(), lambda: (0.1, np.zeros(3))) is None  # fixed base

    def test_the_cap_follows_the_command_the_policy_sees_not_a_larger_one(self, quadruped):
        """An imported policy clips its velocity command to its training ranges: 5 m/s at 50 % gave a
        2.8 m/s cap to a policy that walks at 0.5 m/s at most."""
        import dataclasses

        clip = ((-0.5, -0.3, -1.0), (0.5, 0.3, 1.0))
        terms = tuple(
            dataclasses.replace(t, clip=clip) if t.name == "velocity_command" else t for t in quadruped.observation
        )
        for spec, cap in ((dataclasses.replace(quadruped, observation=terms), 0.5 + 0.3), (quadruped, 2.5 + 0.3)):
            loop = ControlLoop(
                TwinRobot(spec, TwinConfig(effects=NO_DROPS)),
                ScriptedPolicy(np.array(spec.default_pose)),
                config=LoopConfig(velocity_command=(5.0, 0.0, 0.0), speed=SpeedConfig(start_stage=2)),
            )
            loop.tick()
            assert loop.stage_speed.caps == pytest.approx((cap, 0.5))

    def test_a_command_the_policy_clips_up_keeps_the_stages_cap_and_is_said(self, quadruped, caplog):
        """A forward-only import (vx trained in [0.5, 1.0]) at the 10 % stage: 0.8 m/s scaled to 0.08
        is clipped UP to 0.5 by the policy's observation.  The cap was built from the 0.5 it sees
        (0.8 m/s: walking at 0.5 passed the first stage), in silence."""
        import dataclasses

        clip = ((0.5, -0.3, -1.0), (1.0, 0.3, 1.0))
        terms = tuple(
            dataclasses.replace(t, clip=clip) if t.name == "velocity_command" else t for t in quadruped.observation
        )
        spec = dataclasses.replace(quadruped, observation=terms)
        loop = ControlLoop(
            TwinRobot(spec, TwinConfig(effects=NO_DROPS)),
            ScriptedPolicy(np.array(spec.default_pose)),
            config=LoopConfig(velocity_command=(0.8, 0.0, 0.0), speed=SpeedConfig(start_stage=0)),
        )
        with caplog.at_level(logging.WARNING, logger="sim2real.deploy.loop"):
            loop.tick()
        assert loop.stage_speed.caps == pytest.approx((0.08 + 0.3, 0.5))  # the stage's own value
        (line,) = [r.getMessage() for r in caplog.records if "clips it up" in r.getMessage()]
        assert "vx 0.08 -> 0.5" in line and "speed stage 0" in line

    def test_the_run_log_states_the_caps(self, quadruped, tmp_path):
        loop, _, _ = self.loop(quadruped, 0)
        assert loop._start_detail()["stage_speed"]["speed_margin"] == pytest.approx(0.3)
