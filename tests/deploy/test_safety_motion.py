"""A joint stream that looks alive but is frozen: its position does not follow its velocity.

Safety review 9 (finding 2): a driver republishing its last JointState (q 0.4 rad, qd 3 rad/s)
after its bus went quiet gave readings with fresh times: a bare SafetyMonitor passed 147 normal
ticks in 1 s.  Normal motion, quantized encoders and velocities from differences stay far below
the tolerance (real recordings; the twin's long runs in test_collision's TestNoFalseAlarm and
TestTrotting run through the same monitor and end ``ok``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim2real.deploy.monitor import deployment_monitor
from sim2real.deploy.safety import EventKind, SafetyMonitor, Severity
from sim2real.deploy.safety_motion import POSITION_TOLERANCE, MotionCheck
from sim2real.logs import load_real_pendulum, load_real_qube
from sim2real.real.protocol import Reading
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def pendulum():
    return load_robot("pendulum")


def _run(spec, q_of, qd_of, ticks, monitor=None, start=0):
    """(monitor, decisions) of a monitor fed readings ``q_of(k)``, ``qd_of(k)`` at ticks start..start+ticks."""
    monitor = monitor or SafetyMonitor(spec)
    decisions = []
    for k in range(start, start + ticks):
        t = k * spec.control_dt
        reading = Reading(t=t, q=[q_of(k)], qd=[qd_of(k)], tau=[0.0])
        decisions.append(monitor.filter_command([0.0], reading, t))
    return monitor, decisions


def _modes(decisions):
    return [d.mode for d in decisions]


class TestFrozenStream:
    def test_a_republished_state_with_a_velocity_stops_naming_the_joint(self, pendulum):
        monitor, decisions = _run(pendulum, lambda k: 0.4, lambda k: 3.0, 200)
        modes = _modes(decisions)
        first = modes.index("safe")
        assert first * pendulum.control_dt <= 0.1 + 1e-9  # the window: before, 200 ticks were normal
        assert set(modes[first:]) == {"safe"} and monitor.latched
        (event,) = [e for e in decisions[first].events if e.kind == EventKind.SENSOR]
        assert event.severity == Severity.SAFE_STOP and event.joint == "hinge"
        assert event.value == pytest.approx(0.3) and event.value > event.limit  # 3 rad/s for 0.1 s, moved 0
        assert monitor.latch_reason.startswith(
            "hinge: position does not follow velocity (stale or frozen sensor)"
        )
        assert monitor.counters["sensor"] == 1

    def test_the_deployment_monitor_stops_it_before_the_collision_observer(self, pendulum):
        """Before, only the collision observer saw it, 0.5 s in."""
        _, decisions = _run(
            pendulum, lambda k: 0.4, lambda k: 3.0, 40, monitor=deployment_monitor(pendulum)
        )
        first = _modes(decisions).index("safe")
        assert first * pendulum.control_dt <= 0.1 + 1e-9
        assert [e.kind for e in decisions[first].events if e.severity == Severity.SAFE_STOP] == [
            EventKind.SENSOR
        ]

    def test_a_velocity_stuck_at_zero_while_the_position_moves_stops(self, pendulum):
        dt = pendulum.control_dt
        _, decisions = _run(pendulum, lambda k: 2.0 * k * dt, lambda k: 0.0, 60)  # 2 rad/s, qd reads 0
        modes = _modes(decisions)
        assert "safe" in modes and modes.index("safe") * dt <= 0.1 + 1e-9

    def test_a_stream_that_follows_itself_passes_at_any_speed(self, pendulum):
        dt = pendulum.control_dt
        # 15 rad/s swinging at 2 Hz: positions and velocities agree
        _, decisions = _run(
            pendulum, lambda k: 1.2 * math.sin(12.5 * k * dt), lambda k: 15.0 * math.cos(12.5 * k * dt), 400
        )
        assert set(_modes(decisions)) == {"normal"}

    def test_a_position_wrapped_into_one_turn_is_no_disagreement(self, pendulum):
        """A continuous joint (limits wider than a turn) whose driver wraps its angle into [-pi, pi)."""
        dt = pendulum.control_dt

        def wrapped(k):
            return (6.0 * k * dt + math.pi) % (2 * math.pi) - math.pi

        _, decisions = _run(pendulum, wrapped, lambda k: 6.0, 400)
        assert set(_modes(decisions)) == {"normal"}

    def test_a_reset_starts_a_new_window(self, pendulum):
        monitor, _ = _run(pendulum, lambda k: 0.4, lambda k: 3.0, 40)
        assert monitor.latched
        t = 40 * pendulum.control_dt
        assert monitor.reset(Reading(t=t, q=[0.4], qd=[0.0], tau=[0.0]), t)
        # the joint at rest now, reading the same: the frozen readings before the reset are forgotten
        _, decisions = _run(pendulum, lambda k: 0.4, lambda k: 0.0, 40, monitor=monitor, start=41)
        assert set(_modes(decisions)) == {"normal"} and not monitor.latched


class TestMotionCheck:
    def test_the_tolerance_counts_the_encoder_step_and_the_velocitys_lag(self):
        furuta = load_robot("furuta")  # 2048-count encoders
        check = MotionCheck(furuta)
        dt = furuta.control_dt
        result = None
        for k in range(round(check.window / dt) + 1):
            result = check.update(Reading(t=k * dt, q=[0.0, 0.0], qd=[0.0, 0.0]))
        assert result is not None and result.span >= check.window
        np.testing.assert_allclose(result.tolerance, POSITION_TOLERANCE + 2 * furuta.encoder.resolution)
        assert np.all(result.residual == 0.0)

    def test_a_gap_longer_than_the_stale_timeout_restarts_the_window(self, pendulum):
        check = MotionCheck(pendulum)
        dt = pendulum.control_dt
        for k in range(10):
            check.update(Reading(t=k * dt, q=[0.0], qd=[3.0]))  # frozen, but the window is not full
        # then a gap (the watchdog's business) and a joint at rest: the frozen part is forgotten
        start = 10 * dt + 2 * check.max_gap
        results = [check.update(Reading(t=start + k * dt, q=[0.0], qd=[0.0])) for k in range(40)]
        assert all(r is None or np.all(r.residual == 0.0) for r in results)
        assert results[-1] is not None


class TestFastSwings:
    """A leg striking the floor swings its velocity faster than 50 Hz readings resolve: pybullet's A1
    (kp 20, kd 0.5) under its legged_gym policy read its FR knee at +1.73 then -0.76 rad/s 20 ms apart,
    having gone -0.055 rad between; the trapezoids over the window missed 0.109 rad against a 0.106
    tolerance, and the motion check safe-stopped a healthy twin (walk11).  Both measures show the
    joint moving (0.14 rad step by step against 0.12 rad of velocity), so nothing is frozen."""

    KNEE_Q = (-1.5191, -1.5165, -1.5073, -1.4776, -1.4604, -1.4506, -1.5055)
    KNEE_QD = (0.1623, -0.2131, 0.9965, 1.8406, 2.0455, 1.7349, -0.7604)

    def test_a_knee_striking_the_floor_is_no_frozen_sensor(self):
        spec = load_robot("quadruped")
        check = MotionCheck(spec)
        dt, n, j = 0.02, spec.n_joints, 2
        events = []
        for k, (q, qd) in enumerate(zip(self.KNEE_Q, self.KNEE_QD, strict=True)):
            qs, qds = np.array(spec.default_pose, dtype=float), np.zeros(n)
            qs[j], qds[j] = q, qd
            events += check.check(Reading(t=k * dt, q=qs, qd=qds), k * dt)
        assert events == [], [e.message for e in events]

    def test_the_same_velocities_over_a_frozen_position_still_stop(self):
        spec = load_robot("quadruped")
        check = MotionCheck(spec)
        dt, n, j = 0.02, spec.n_joints, 2
        events = []
        for k, qd in enumerate(self.KNEE_QD * 2):
            qs, qds = np.array(spec.default_pose, dtype=float), np.zeros(n)
            qs[j], qds[j] = self.KNEE_Q[0], qd  # the position frozen at its first value
            events += check.check(Reading(t=k * dt, q=qs, qd=qds), k * dt)
        assert events and events[0].joint == spec.joints[j]


def _worst_ratio(spec, t, q, qd) -> float:
    check = MotionCheck(spec)
    worst = 0.0
    for k in range(len(t)):
        result = check.update(Reading(t=t[k], q=q[k], qd=qd[k]))
        if result is not None:
            worst = max(worst, float(result.ratio.max()))
    return worst


@pytest.mark.realdata
class TestRealRecordings:
    """The statistic on real hardware: at most 0.14 of the tolerance (pendulum, logged velocity),
    0.05 (qube, velocity from differences), 0.37 with a causal 10 ms low-pass on the velocity."""

    def test_the_pendulums_logged_velocities_follow_its_positions(self, real_data, pendulum):
        for name in ("pd_excitation", "energy_shaping"):
            log = load_real_pendulum(real_data / "pendulum" / f"{name}.csv")
            assert _worst_ratio(pendulum, log.t, log.q, log.qd) < 0.3, name

    def test_a_qube_velocity_from_differences_lagging_behind_a_low_pass_follows(self, real_data):
        furuta = load_robot("furuta")
        log = load_real_qube(sorted((real_data / "qube").glob("*.csv"))[0])
        t, q = log.t[:4000], log.q[:4000]  # 8 s at 500 Hz
        backward = np.vstack([np.zeros((1, 2)), np.diff(q, axis=0) / np.diff(t)[:, None]])
        low_pass = np.zeros_like(backward)  # what a driver filtering its differences publishes (10 ms)
        for k in range(1, len(t)):
            a = math.exp(-(t[k] - t[k - 1]) / 0.01)
            low_pass[k] = a * low_pass[k - 1] + (1 - a) * backward[k]
        assert _worst_ratio(furuta, t, q, backward) < 0.2
        assert _worst_ratio(furuta, t, q, low_pass) < 0.6
        # ... and the same recording frozen at its last sample with the velocity it had is caught
        frozen = np.vstack([q, np.repeat(q[-1:], 100, axis=0)])
        speed = np.vstack([low_pass, np.repeat([[2.0, -3.0]], 100, axis=0)])
        times = np.concatenate([t, t[-1] + furuta.control_dt * np.arange(1, 101)])
        assert _worst_ratio(furuta, times, frozen, speed) > 1.0


def test_a_state_set_from_outside_restarts_the_window(pendulum):
    """The demo's twin episodes put the twin at each episode's start without a monitor reset: the
    motion check took the jump for a frozen sensor (11 safe stops; twin success 0.10)."""
    def run(restart: bool) -> list[str]:
        monitor = SafetyMonitor(pendulum)
        kinds = []
        for k in range(40):
            t = 0.02 * k
            q = 0.1 if k < 20 else 0.5  # at rest, then put 0.4 rad away at rest
            if k == 20 and restart:
                monitor.state_was_set()
            reading = Reading(t=t, q=np.array([q]), qd=np.array([0.0]))
            kinds += [e.kind.value for e in monitor.check_state(reading, t + 0.001)]
        return kinds

    assert "sensor" in run(restart=False)
    assert "sensor" not in run(restart=True)
