"""The state checks as pure functions: one word per state, nothing remembered between calls."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deploy_testdata import QUIET

from cartpole_testdata import cartpole_spec
from imu_mount_testdata import loose_imu_quadruped, turned_imu_quadruped
from sim2real.deploy.body_geometry import imu_to_base
from sim2real.deploy.monitor import deployment_monitor
from sim2real.deploy.safety import EventKind, SafetyMonitor, Severity, base_tilt
from sim2real.deploy.safety_state import check_reading
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


def good(spec, t=1.0, **changes):
    values = {
        "t": t,
        "q": np.asarray(spec.default_pose, dtype=float),
        "qd": np.zeros(spec.n_joints),
        "gyro": np.zeros(3),
        "accel": np.array([0.0, 0.0, 9.81]),
        "quat": np.array([1.0, 0.0, 0.0, 0.0]),
        "base_height": 0.5 * (spec.safety.base_height_low + spec.safety.base_height_high),
    }
    values.update(changes)
    return Reading(**values)


def check(spec, reading, now=1.0, **memory):
    defaults = {"last_now": None, "last_t": None, "watchdog_since": None, "estop_reason": None}
    return check_reading(spec, reading, now, **(defaults | memory))


class TestStateWords:
    def test_a_good_reading_is_ok(self, quadruped):
        assert check(quadruped, good(quadruped)) == ([], "ok")

    @pytest.mark.parametrize(
        ("reading", "memory"),
        [
            (None, {}),
            ("dropped", {}),
            ("future", {}),
            ("backwards", {"last_t": 1.0}),
        ],
    )
    def test_an_unusable_reading_is_hold(self, quadruped, reading, memory):
        if reading == "dropped":
            reading = Reading.dropped(1.0, quadruped.n_joints)
        elif reading == "future":
            reading = good(quadruped, t=1.5)
        elif reading == "backwards":
            reading = good(quadruped, t=0.99)
        events, state = check(quadruped, reading, **memory)
        assert state == "hold" and [str(e.severity) for e in events] == ["hold"]

    @pytest.mark.parametrize(
        ("reading", "memory", "kind"),
        [
            ("nan", {}, "nan_state"),
            ("stale", {}, "stale"),
            ("good", {"estop_reason": "button"}, "estop"),
            ("good", {"last_now": 2.0}, "stale"),
            (None, {"watchdog_since": 0.5}, "stale"),
        ],
    )
    def test_a_dangerous_state_is_safe_stop(self, quadruped, reading, memory, kind):
        if reading == "nan":
            q = np.asarray(quadruped.default_pose, dtype=float).copy()
            q[4] = math.nan
            reading = good(quadruped, q=q)
        elif reading == "stale":
            reading = good(quadruped, t=1.0 - 2 * quadruped.safety.stale_timeout)
        elif reading == "good":
            reading = good(quadruped)
        events, state = check(quadruped, reading, **memory)
        assert state == "safe_stop" and kind in [str(e.kind) for e in events]
        assert all(str(e.severity) in ("hold", "safe_stop") for e in events)


def test_the_checks_keep_no_memory(quadruped):
    """The same call gives the same answer: what to remember is the monitor's (passed in)."""
    reading = good(quadruped, t=0.99)
    after_a_newer_one = check(quadruped, reading, last_t=0.995)
    assert after_a_newer_one[1] == "hold"
    assert check(quadruped, reading) == ([], "ok")
    assert check(quadruped, reading, last_t=0.995) == after_a_newer_one


class TestTiltThroughTheImuMount:
    """A reading's quaternion is the IMU's orientation (the twin's site sensor, a ROS 2 Imu
    message); the tilt limit is the base's."""

    @pytest.mark.parametrize("base_roll_deg", [-75.0, 75.0, 40.0])
    def test_the_base_tilt_is_judged_not_the_imus(self, tmp_path, base_roll_deg):
        spec = turned_imu_quadruped(tmp_path, 30.0)
        robot = TwinRobot(spec, TwinConfig(effects=QUIET))
        half = math.radians(base_roll_deg) / 2
        robot.set_state(base_quat=np.array([math.cos(half), math.sin(half), 0.0, 0.0]), base_height=0.3)
        reading = robot.read()
        base = base_tilt(robot.base_state().quat)
        imu = base_tilt(reading.quat)
        assert abs(imu - base) > math.radians(20)  # the IMU's own tilt differs by its mount
        events = SafetyMonitor(spec).check_state(reading, reading.t)
        tilt_stops = [e for e in events if e.kind == EventKind.TILT and e.severity == Severity.SAFE_STOP]
        assert bool(tilt_stops) == (base > spec.safety.tilt)
        if tilt_stops:
            assert tilt_stops[0].value == pytest.approx(base, abs=1e-6)

    def test_a_square_imu_needs_no_turn(self, quadruped):
        assert imu_to_base(quadruped) is None

    def test_an_imu_that_moves_against_the_base_is_refused(self, tmp_path):
        with pytest.raises(Sim2RealError, match="moves against the base body"):
            SafetyMonitor(loose_imu_quadruped(tmp_path))


class TestQuaternionNorm:
    """An orientation is a unit quaternion: one far from it is no orientation (a broken estimator or
    a garbled message) and the tilt it gives is not trusted, whatever it says."""

    @pytest.mark.parametrize("norm", [100.0, 1e-8, 0.5, 1.2])
    def test_a_quaternion_far_from_unit_norm_stops(self, quadruped, norm):
        events, state = check(quadruped, good(quadruped, quat=np.array([norm, 0.0, 0.0, 0.0])))
        assert state == "safe_stop" and [e.kind for e in events] == [EventKind.NAN_STATE]
        assert events[0].value == pytest.approx(norm)

    def test_rounding_off_unit_norm_is_an_orientation(self, quadruped):
        quat = np.array([1.0, 0.01, 0.0, 0.0]) * 1.05  # upright within 1.2 degrees, norm 1.05
        assert check(quadruped, good(quadruped, quat=quat)) == ([], "ok")



class TestTorqueMeasuredAtSomeJoints:
    """Safety review 9 (finding 4): one actuated joint without an effort interface turned the
    measured-torque check off at every joint (the ROS 2 reader gave ``tau=None``); now the joints
    that measure are checked, the others are marked unmeasured (``Reading.tau_measured``)."""

    def partial(self, spec, value, at=11, **changes):
        tau = np.full(spec.n_joints, value)
        tau[at] = np.nan
        mask = np.ones(spec.n_joints, bool)
        mask[at] = False
        return good(spec, tau=tau, tau_measured=mask, **changes)

    def test_a_torque_beyond_the_limit_at_a_measured_joint_stops(self, quadruped):
        events, state = check(quadruped, self.partial(quadruped, 80.0))  # limits 23.7 / 45.4 N m
        assert state == "safe_stop"
        stopped = {e.joint for e in events if e.kind == EventKind.TORQUE_LIMIT}
        assert stopped == set(quadruped.joints[:11])
        assert not [e for e in events if e.kind == EventKind.NAN_STATE]  # the unmeasured joint is no fault

    def test_normal_torques_with_an_unmeasured_joint_pass(self, quadruped):
        assert check(quadruped, self.partial(quadruped, 1.0)) == ([], "ok")

    def test_nan_at_a_measured_joint_is_still_a_fault(self, quadruped):
        reading = self.partial(quadruped, 1.0)
        tau = reading.tau.copy()
        tau[0] = np.nan
        events, state = check(quadruped, good(quadruped, tau=tau, tau_measured=reading.tau_measured))
        assert state == "safe_stop"
        assert [e.joint for e in events if e.kind == EventKind.NAN_STATE] == [quadruped.joints[0]]

    def test_the_mask_is_checked_and_a_full_one_is_none(self, quadruped):
        n = quadruped.n_joints
        assert good(quadruped, tau=np.zeros(n), tau_measured=np.ones(n, bool)).tau_measured is None
        with pytest.raises(ValueError, match="tau_measured without tau"):
            good(quadruped, tau_measured=np.ones(n, bool))
        with pytest.raises(ValueError, match="shape"):
            good(quadruped, tau=np.zeros(n), tau_measured=np.ones(3, bool))
        partial = self.partial(quadruped, 1.0)
        assert partial.tau_complete is None and not partial.tau_measured.flags.writeable

    def test_the_collision_observer_takes_the_commands_torque_instead(self, quadruped):
        """A part-measured torque goes to the observer as none (it then takes the torque the command
        implies at every joint, as for a robot without efforts): NaN would blind it, a zero at the
        unmeasured joint would read as an external torque."""
        robot = TwinRobot(quadruped, TwinConfig(effects=QUIET), initial_qpos=np.asarray(quadruped.default_pose))
        monitor = deployment_monitor(quadruped)
        target = np.asarray(quadruped.default_pose, dtype=float)[monitor.limits.index]
        for _ in range(round(2.0 / quadruped.control_dt)):
            r = robot.read()
            tau = r.tau.copy() if r.tau is not None else np.zeros(quadruped.n_joints)
            tau[11] = np.nan
            mask = np.arange(quadruped.n_joints) != 11
            reading = Reading(
                t=r.t, q=r.q, qd=r.qd, tau=tau, tau_measured=mask, gyro=r.gyro, accel=r.accel, quat=r.quat,
                base_height=r.base_height,
            )
            decision = monitor.filter_command(target, reading, r.t)
            robot.write(decision.command)
        assert not monitor.latched and monitor.counters["collision"] == 0
        assert 0.0 < monitor.collision.peak < 1.0  # it ran on these readings (NaN would have blinded it)


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    return cartpole_spec(tmp_path_factory.mktemp("cartpole_units"))


class TestSlideJointUnits:
    """A slide joint's position, speed and force are printed in m, m/s and N (a cart-pole's cart read
    'slider: speed 1.182 rad/s above 1.0' before)."""

    def test_the_spec_knows_which_joints_slide(self, cartpole):
        assert cartpole.slide_joints == {"slider"}
        assert cartpole.units("slider") == ("m", "m/s", "N") and cartpole.units("hinge") == ("rad", "rad/s", "N m")

    def test_limit_messages_use_each_joints_units(self, cartpole):
        n = cartpole.n_joints
        far = np.array([5.0 if j == "slider" else 0.0 for j in cartpole.joints])
        fast = np.where(far > 0, 50.0, 0.0)
        tau = np.where(far > 0, 1e4, 0.0)
        reading = Reading(t=1.0, q=far, qd=fast, tau=tau, tau_measured=np.ones(n, dtype=bool))
        messages = [e.message for e in check(cartpole, reading)[0]]
        assert any(m.startswith("slider: position 5 m outside") for m in messages), messages
        assert any(m.startswith("slider: speed 50 m/s above") for m in messages), messages
        assert any(m.startswith("slider: measured force 1e+04 N above") for m in messages), messages
        hinge = Reading(t=1.0, q=np.where(far > 0, 0.0, 4.0), qd=np.zeros(n))
        assert any("position 4 rad outside" in e.message for e in check(cartpole, hinge)[0])

    def test_the_speed_governor_names_metres_per_second(self, cartpole):
        from sim2real.deploy.safety_limits import ActuatorLimits

        limits = ActuatorLimits.from_spec(cartpole)
        assert dict(zip(limits.joints, limits.speed_units, strict=True)) == {"slider": "m/s", "hinge": "rad/s"}
