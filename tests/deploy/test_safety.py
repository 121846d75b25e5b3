"""SafetyMonitor: every check fires with its severity, safe stops latch, and no output leaves the limits.

Specs: the embedded pendulum (torque), and synthetic robots written into a temporary folder: a
two-joint PD arm, a DC motor with a passive joint, and a floating base with tilt and height limits.
Time is passed explicitly (``now``); nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim2real.deploy import safety as safety_module
from sim2real.deploy.safety import (
    EventKind,
    SafetyConfigError,
    SafetyMonitor,
    Severity,
    assert_safe,
    base_tilt,
)
from sim2real.deploy.safety_limits import CommandWindow
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command, Reading, Robot
from sim2real.robots import RobotSpec, list_robots, load_robot, load_spec

# ----------------------------------------------------------------------------- synthetic robots

ARM_XML = """<mujoco model="arm2">
  <worldbody>
    <body name="upper">
      <joint name="shoulder" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/>
      <body name="lower" pos="0.3 0 0">
        <joint name="elbow" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="0.5"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="shoulder_motor" joint="shoulder"/>
    <motor name="elbow_motor" joint="elbow"/>
  </actuator>
</mujoco>
"""

ARM_YAML = """name: arm2
mjcf: arm2.xml
joints: [shoulder, elbow]
default_pose: {shoulder: 0.0, elbow: -0.5}
control: {dt: 0.01, substeps: 2}
actuators:
  shoulder: {actuator: shoulder_motor, model: pd, kp: 20.0, kd: 0.5, torque_limit: 10.0}
  elbow: {actuator: elbow_motor, model: pd, kp: 10.0, kd: 0.2, torque_limit: 6.0}
observation:
  - {name: joint_pos, size: 2, scale: 1.0}
safety:
  joint_position: {shoulder: [-1.5, 1.5], elbow: [-2.0, 0.5]}
  joint_velocity: {shoulder: 6.0, elbow: 8.0}
  joint_torque: {shoulder: 8.0, elbow: 5.0}
  command_rate: 7.0
  stale_timeout: 0.02
  safe_mode: damping
  damping: 0.5
"""

DC_XML = """<mujoco model="dcbench">
  <worldbody>
    <body name="rotor">
      <joint name="shaft" type="hinge" axis="0 0 1"/>
      <geom type="cylinder" size="0.03 0.01" mass="0.2"/>
      <body name="rod" pos="0.05 0 0">
        <joint name="pole" type="hinge" axis="1 0 0"/>
        <geom type="capsule" fromto="0 0 0 0 0 0.1" size="0.005" mass="0.02"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="shaft_motor" joint="shaft"/>
  </actuator>
</mujoco>
"""

DC_YAML = """name: dcbench
mjcf: dcbench.xml
joints: [shaft, pole]
default_pose: {shaft: 0.0, pole: 0.0}
control: {dt: 0.002, substeps: 1}
actuators:
  shaft: {actuator: shaft_motor, model: dc_motor, resistance: 2.0, kt: 0.05, ke: 0.05,
          voltage_limit: 9.0, torque_limit: 0.4}
observation:
  - {name: joint_pos, size: 2, scale: 1.0}
safety:
  joint_position: {shaft: [-3.0, 3.0], pole: [-20.0, 20.0]}
  joint_velocity: {shaft: 150.0, pole: 50.0}
  joint_torque: {shaft: 0.25}
  command_rate: 2000.0
  stale_timeout: 0.01
  safe_mode: zero_torque
"""

FLOAT_XML = """<mujoco model="hopper">
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="trunk" pos="0 0 0.5">
      <freejoint name="root"/>
      <geom type="box" size="0.1 0.1 0.05" mass="2"/>
      <body name="leg" pos="0 0 -0.05">
        <joint name="hip" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.3" size="0.02" mass="0.3"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="hip_motor" joint="hip"/>
  </actuator>
</mujoco>
"""

FLOAT_YAML = """name: hopper
mjcf: hopper.xml
joints: [hip]
default_pose: {hip: 0.0}
control: {dt: 0.02, substeps: 4}
base_body: trunk
actuators:
  hip: {actuator: hip_motor, model: pd, kp: 30.0, kd: 1.0, torque_limit: 20.0}
observation:
  - {name: joint_pos, size: 1, scale: 1.0}
safety:
  joint_position: {hip: [-1.0, 1.0]}
  joint_velocity: {hip: 10.0}
  joint_torque: {hip: 15.0}
  tilt: 0.5
  base_height: [0.2, 0.8]
  command_rate: 20.0
  stale_timeout: 0.05
  safe_mode: zero_torque
"""


def _write(folder: Path, stem: str, xml: str, yaml_text: str) -> RobotSpec:
    (folder / f"{stem}.xml").write_text(xml)
    (folder / f"{stem}.yaml").write_text(yaml_text)
    return load_spec(folder / f"{stem}.yaml")


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RobotSpec]:
    folder = tmp_path_factory.mktemp("robots")
    return {
        "pendulum": load_robot("pendulum"),
        "arm": _write(folder, "arm2", ARM_XML, ARM_YAML),
        "dc": _write(folder, "dcbench", DC_XML, DC_YAML),
        "float": _write(folder, "hopper", FLOAT_XML, FLOAT_YAML),
    }


@pytest.fixture
def pendulum(specs) -> RobotSpec:
    return specs["pendulum"]


@pytest.fixture
def arm(specs) -> RobotSpec:
    return specs["arm"]


@pytest.fixture
def dc(specs) -> RobotSpec:
    return specs["dc"]


@pytest.fixture
def floating(specs) -> RobotSpec:
    return specs["float"]


def make_reading(spec: RobotSpec, t: float, q=None, qd=None, **kw) -> Reading:
    """A reading inside every limit unless told otherwise (default pose, at rest, upright)."""
    q = np.array(spec.default_pose, dtype=float) if q is None else q
    qd = np.zeros(spec.n_joints) if qd is None else qd
    if spec.floating_base:
        kw.setdefault("quat", [1.0, 0.0, 0.0, 0.0])
        lim = spec.safety
        kw.setdefault("base_height", 0.5 * (lim.base_height_low + lim.base_height_high))
    return Reading(t=t, q=q, qd=qd, **kw)


def kinds(events, severity=None) -> list[str]:
    return [str(e.kind) for e in events if severity is None or e.severity == severity]


def warmed(spec: RobotSpec, values, fraction: float = 1.0, ticks: int = 200):
    """A monitor that has been sending ``values`` at rest long enough to reach them; returns (monitor, now)."""
    monitor = SafetyMonitor(spec, fraction)
    dt = spec.control_dt
    now = 0.0
    for k in range(ticks):
        now = k * dt
        monitor.filter_command(values, make_reading(spec, now), now)
    return monitor, now


# ----------------------------------------------------------------------------- protocol


class TestProtocol:
    def test_reading_stores_read_only_float_copies(self):
        q = [0.1, 0.2]
        reading = Reading(t=1, q=q, qd=[0, 0], tau=[1, 2])
        assert reading.q.dtype == float and reading.t == 1.0
        with pytest.raises(ValueError):
            reading.q[0] = 5.0
        q[0] = 9.0
        assert reading.q[0] == 0.1

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"qd": [0.0]},
            {"tau": [0.0, 0.0, 0.0]},
            {"gyro": [0.0, 0.0]},
            {"quat": [1.0, 0.0, 0.0]},
            {"q": [[0.0, 0.0]]},
        ],
    )
    def test_reading_rejects_inconsistent_shapes(self, kwargs):
        base = {"t": 0.0, "q": [0.0, 0.0], "qd": [0.0, 0.0]}
        with pytest.raises(ValueError):
            Reading(**{**base, **kwargs})

    def test_dropped_reading_is_invalid(self):
        reading = Reading.dropped(0.5, 3)
        assert not reading.valid and reading.n_joints == 3 and np.all(np.isnan(reading.q))

    def test_command_rejects_non_finite_values_unless_safe(self):
        with pytest.raises(ValueError):
            Command(t=0.0, values=[math.nan], mode="normal")
        with pytest.raises(ValueError):
            Command(t=0.0, values=[math.inf], mode="hold")
        assert Command(t=0.0, values=[math.nan], mode="safe").mode == "safe"

    def test_command_rejects_unknown_mode(self):
        with pytest.raises(ValueError):
            Command(t=0.0, values=[0.0], mode="fast")

    def test_robot_protocol_is_structural(self, pendulum):
        class FakeRobot:
            spec = pendulum

            def read(self):
                return make_reading(pendulum, 0.0)

            def write(self, command):
                pass

            def stop(self):
                pass

            def close(self):
                pass

        assert isinstance(FakeRobot(), Robot)
        assert not isinstance(object(), Robot)

    def test_real_and_deploy_do_not_import_torch(self):
        import subprocess
        import sys

        code = (
            "import sys; import sim2real.real.protocol, sim2real.deploy.safety, sim2real.deploy.speed; "
            "print('torch' in sys.modules)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- construction


class TestConstruction:
    @pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, math.nan, math.inf])
    def test_rejects_speed_fraction_outside_unit_interval(self, pendulum, fraction):
        with pytest.raises(SafetyConfigError):
            SafetyMonitor(pendulum, fraction)

    def test_config_error_is_a_package_error(self, pendulum):
        with pytest.raises(Sim2RealError):
            SafetyMonitor(pendulum).set_speed_fraction(2.0)

    def test_severity_table_documents_every_kind(self):
        doc = safety_module.__doc__
        for kind in EventKind:
            assert f"\n{kind.value} " in doc, kind

    def test_counters_start_at_zero_for_every_kind(self, pendulum):
        counters = SafetyMonitor(pendulum).counters
        assert set(counters) == {str(k) for k in EventKind}
        assert all(v == 0 for v in counters.values())


# ----------------------------------------------------------------------------- state checks


class TestStateChecks:
    def test_good_reading_has_no_events(self, floating):
        monitor = SafetyMonitor(floating)
        assert monitor.check_state(make_reading(floating, 0.0), 0.0) == []
        assert not monitor.latched

    @pytest.mark.parametrize(
        "field",
        ["q", "qd", "tau", "gyro", "accel", "quat", "base_height", "t"],
    )
    @pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
    def test_non_finite_state_is_safe_stop(self, floating, field, bad):
        kw = {"tau": [0.0], "gyro": [0.0, 0.0, 0.0], "accel": [0.0, 0.0, 9.81]}
        reading = make_reading(floating, 0.0, **kw)
        values = {
            f: getattr(reading, f) for f in ("t", "q", "qd", "tau", "gyro", "accel", "quat", "base_height")
        }
        if field in ("t", "base_height"):
            values[field] = bad
        else:
            arr = np.array(values[field], dtype=float)
            arr[-1] = bad
            values[field] = arr
        monitor = SafetyMonitor(floating)
        events = monitor.check_state(Reading(**values), 0.0)
        assert kinds(events, Severity.SAFE_STOP) == ["nan_state"]
        assert monitor.latched and monitor.counters["nan_state"] == 1

    def test_zero_quaternion_is_safe_stop(self, floating):
        monitor = SafetyMonitor(floating)
        events = monitor.check_state(make_reading(floating, 0.0, quat=[0.0, 0.0, 0.0, 0.0]), 0.0)
        assert kinds(events, Severity.SAFE_STOP) == ["nan_state"]

    @pytest.mark.parametrize("index,value", [(0, 1.51), (0, -1.6), (1, 0.6), (1, -2.5)])
    def test_position_beyond_limit_is_safe_stop(self, arm, index, value):
        q = np.array(arm.default_pose, dtype=float)
        q[index] = value
        monitor = SafetyMonitor(arm)
        events = monitor.check_state(make_reading(arm, 0.0, q=q), 0.0)
        assert kinds(events, Severity.SAFE_STOP) == ["position_limit"]
        assert events[0].joint == arm.joints[index] and events[0].value == value

    def test_position_on_the_limit_is_allowed(self, arm):
        monitor = SafetyMonitor(arm)
        assert monitor.check_state(make_reading(arm, 0.0, q=[1.5, -2.0]), 0.0) == []

    def test_velocity_beyond_limit_is_safe_stop(self, arm):
        monitor = SafetyMonitor(arm)
        events = monitor.check_state(make_reading(arm, 0.0, qd=[0.0, -8.01]), 0.0)
        assert kinds(events, Severity.SAFE_STOP) == ["velocity_limit"]
        assert events[0].joint == "elbow" and events[0].limit == 8.0

    def test_velocity_limit_is_not_scaled_by_speed_fraction(self, arm):
        monitor = SafetyMonitor(arm, speed_fraction=0.1)
        assert monitor.check_state(make_reading(arm, 0.0, qd=[5.9, 7.9]), 0.0) == []

    def test_measured_torque_beyond_limit_is_safe_stop(self, arm):
        monitor = SafetyMonitor(arm)
        events = monitor.check_state(make_reading(arm, 0.0, tau=[8.5, 0.0]), 0.0)
        assert kinds(events, Severity.SAFE_STOP) == ["torque_limit"]
        assert events[0].joint == "shoulder"

    def test_passive_joint_has_no_torque_limit(self, dc):
        monitor = SafetyMonitor(dc)
        assert monitor.check_state(make_reading(dc, 0.0, tau=[0.0, 100.0]), 0.0) == []

    @pytest.mark.parametrize("angle,fires", [(0.49, False), (0.51, True), (math.pi, True)])
    @pytest.mark.parametrize("axis", [(1.0, 0.0), (0.0, 1.0), (0.6, 0.8)])
    def test_tilt(self, floating, angle, fires, axis):
        quat = [math.cos(angle / 2), axis[0] * math.sin(angle / 2), axis[1] * math.sin(angle / 2), 0.0]
        monitor = SafetyMonitor(floating)
        events = monitor.check_state(make_reading(floating, 0.0, quat=quat), 0.0)
        assert kinds(events, Severity.SAFE_STOP) == (["tilt"] if fires else [])

    def test_yaw_is_not_tilt(self, floating):
        quat = [math.cos(1.5), 0.0, 0.0, math.sin(1.5)]  # 3 rad about z
        assert SafetyMonitor(floating).check_state(make_reading(floating, 0.0, quat=quat), 0.0) == []

    def test_base_tilt_matches_rotation_matrix(self, rng):
        for _ in range(100):
            quat = rng.normal(size=4)
            _, x, y, _ = quat / np.linalg.norm(quat)
            r_zz = 1.0 - 2.0 * (x * x + y * y)
            assert base_tilt(quat) == pytest.approx(math.acos(np.clip(r_zz, -1, 1)), abs=1e-7)

    def test_missing_orientation_is_safe_stop_when_tilt_is_limited(self, floating):
        monitor = SafetyMonitor(floating)
        events = monitor.check_state(make_reading(floating, 0.0, quat=None), 0.0)
        assert kinds(events, Severity.SAFE_STOP) == ["tilt"]

    @pytest.mark.parametrize("height", [0.19, 0.81, None])
    def test_height_outside_band_is_safe_stop(self, floating, height):
        monitor = SafetyMonitor(floating)
        reading = Reading(t=0.0, q=[0.0], qd=[0.0], quat=[1.0, 0.0, 0.0, 0.0], base_height=height)
        events = monitor.check_state(reading, 0.0)
        assert kinds(events, Severity.SAFE_STOP) == ["height"]

    def test_fixed_base_needs_no_orientation(self, arm):
        assert SafetyMonitor(arm).check_state(make_reading(arm, 0.0), 0.0) == []


class TestStaleness:
    def test_single_invalid_reading_holds_the_last_command(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        last = monitor.filter_command([0.2, -0.3], make_reading(arm, now + 0.01), now + 0.01)
        decision = monitor.filter_command([1.0, 0.0], Reading.dropped(now + 0.02, 2), now + 0.02)
        assert decision.mode == "hold" and decision.state == "hold"
        np.testing.assert_array_equal(decision.command.values, last.command.values)
        assert kinds(decision.events) == ["stale"] and decision.events[0].severity == Severity.HOLD
        assert not monitor.latched

    def test_missing_reading_holds(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        decision = monitor.filter_command([1.0, 0.0], None, now + 0.01)
        assert decision.mode == "hold" and kinds(decision.events, Severity.HOLD) == ["stale"]

    def test_reading_with_wrong_joint_count_holds(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        bad = Reading(t=now + 0.01, q=[0.0], qd=[0.0])
        decision = monitor.filter_command([0.2, -0.3], bad, now + 0.01)
        assert decision.mode == "hold" and kinds(decision.events, Severity.HOLD) == ["stale"]

    def test_reading_time_going_backwards_holds(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        decision = monitor.filter_command([0.2, -0.3], make_reading(arm, now - 0.005), now + 0.01)
        assert decision.mode == "hold" and "backwards" in decision.events[0].message

    def test_reading_from_the_future_holds(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        decision = monitor.filter_command([0.2, -0.3], make_reading(arm, now + 1.0), now + 0.01)
        assert decision.mode == "hold" and "ahead" in decision.events[0].message

    def test_reading_older_than_timeout_is_safe_stop(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        timeout = arm.safety.stale_timeout
        ok = monitor.filter_command([0.2, -0.3], make_reading(arm, now + 0.01), now + 0.01 + 0.99 * timeout)
        assert ok.mode == "normal"
        late = monitor.filter_command([0.2, -0.3], make_reading(arm, now + 0.02), now + 0.02 + 1.01 * timeout)
        assert late.mode == "safe" and kinds(late.events, Severity.SAFE_STOP) == ["stale"]
        assert monitor.latched

    def test_first_reading_older_than_timeout_is_safe_stop(self, arm):
        monitor = SafetyMonitor(arm)
        events = monitor.check_state(make_reading(arm, 0.0), 1.5 * arm.safety.stale_timeout)
        assert kinds(events, Severity.SAFE_STOP) == ["stale"] and monitor.latched

    def test_repeated_reading_becomes_stale(self, arm):
        monitor = SafetyMonitor(arm)
        reading = make_reading(arm, 0.0)
        modes = [monitor.filter_command([0.0, -0.5], reading, k * 0.005).mode for k in range(6)]
        assert modes == ["normal"] * 5 + ["safe"]

    def test_watchdog_fires_when_readings_stop(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        timeout = arm.safety.stale_timeout
        dt = 0.002
        modes = []
        t = now
        while t < now + 2 * timeout:
            t += dt
            modes.append(monitor.filter_command([0.2, -0.3], None, t).mode)
        first_safe = modes.index("safe")
        assert set(modes[:first_safe]) == {"hold"}
        assert set(modes[first_safe:]) == {"safe"}
        assert first_safe * dt + dt == pytest.approx(timeout, abs=dt + 1e-12)
        assert monitor.latched and "watchdog" in monitor.latch_reason

    def test_watchdog_fires_without_any_reading_from_the_start(self, arm):
        monitor = SafetyMonitor(arm)
        first = monitor.filter_command([0.0, -0.5], None, 10.0)
        assert first.mode == "safe" and first.state == "hold" and not monitor.latched
        later = monitor.filter_command([0.0, -0.5], None, 10.0 + 1.5 * arm.safety.stale_timeout)
        assert later.state == "safe_stop" and monitor.latched

    def test_watchdog_fires_on_a_stream_of_invalid_readings(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        t = now + 0.5 * arm.safety.stale_timeout
        assert monitor.filter_command([0.2, -0.3], Reading.dropped(t, 2), t).mode == "hold"
        t = now + 1.5 * arm.safety.stale_timeout
        assert monitor.filter_command([0.2, -0.3], Reading.dropped(t, 2), t).mode == "safe"

    def test_readings_beyond_a_limit_still_feed_the_watchdog(self, arm):
        """After a position-limit stop the readings keep coming: the stop is reported, not also a
        watchdog saying that no usable reading came (it counted from the last reading within limits)."""
        monitor, now = warmed(arm, [0.2, -0.3])
        beyond = np.array([1.6, -0.3])  # shoulder past its 1.5 rad limit
        reported = []
        for k in range(1, 40):
            t = now + k * arm.control_dt
            reported += monitor.filter_command([0.2, -0.3], make_reading(arm, t, q=beyond), t).events
        assert monitor.latched and "shoulder" in monitor.latch_reason
        assert kinds(reported, Severity.SAFE_STOP) == ["position_limit"]
        assert (39 - 1) * arm.control_dt > 2 * arm.safety.stale_timeout  # long enough for the watchdog

    def test_loop_clock_going_backwards_is_safe_stop(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        decision = monitor.filter_command([0.2, -0.3], make_reading(arm, now - 0.1), now - 0.05)
        assert decision.mode == "safe" and monitor.latched

    def test_non_finite_now_is_safe_stop(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        decision = monitor.filter_command([0.2, -0.3], make_reading(arm, now), math.nan)
        assert decision.mode == "safe" and monitor.latched


# ----------------------------------------------------------------------------- command clamps


def implied_torque(spec: RobotSpec, values, reading: Reading) -> np.ndarray:
    """Written here again from the actuator equations, not imported."""
    out = []
    for value, act in zip(values, spec.actuators, strict=True):
        j = spec.joints.index(act.joint)
        q, qd = reading.q[j], reading.qd[j]
        if act.model == "pd":
            out.append(act.kp * (value - q) - act.kd * qd)
        elif act.model == "torque":
            out.append(value)
        else:
            out.append(act.kt * (value - act.ke * qd) / act.resistance)
    return np.array(out)


class TestCommandClamps:
    def test_command_inside_every_limit_passes_unchanged(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        decision = monitor.filter_command([0.21, -0.31], make_reading(arm, now + 0.01), now + 0.01)
        assert decision.mode == "normal" and decision.events == ()
        np.testing.assert_array_equal(decision.command.values, [0.21, -0.31])

    def test_pd_target_is_clamped_into_position_limits(self, arm):
        q = [1.45, 0.45]
        monitor = SafetyMonitor(arm)
        values = [1.45, 0.45]
        now = 0.0
        for k in range(100):
            now = k * 0.01
            decision = monitor.filter_command(values, make_reading(arm, now, q=q), now)
            values = [5.0, 5.0]
        assert decision.mode == "normal"
        np.testing.assert_array_equal(decision.command.values, [1.5, 0.5])
        assert kinds(decision.events, Severity.CLAMP) == ["position_limit", "position_limit"]
        assert [e.limit for e in decision.events] == [1.5, 0.5]

    def test_pd_implied_torque_is_clamped_to_the_window(self, arm):
        # kp (target - q) - kd qd within +-tau_lim  <=>  target in q + (+-tau_lim + kd qd) / kp
        q, qd = np.array([0.0, -1.0]), np.array([2.0, -3.0])
        monitor = SafetyMonitor(arm)
        monitor.motion = None  # a constant position at a constant speed: a frozen sensor to that check
        now = 0.0
        for k in range(100):  # reach the window despite the rate limit
            now = k * 0.01
            decision = monitor.filter_command([-1.4, 0.4], make_reading(arm, now, q=q, qd=qd), now)
        expected_low = q[0] + (-8.0 + 0.5 * qd[0]) / 20.0
        expected_high = q[1] + (5.0 + 0.2 * qd[1]) / 10.0
        assert decision.command.values[0] == pytest.approx(expected_low, rel=1e-12)
        assert decision.command.values[1] == pytest.approx(expected_high, rel=1e-12)
        tau = implied_torque(arm, decision.command.values, decision.reading)
        np.testing.assert_allclose(tau, [-8.0, 5.0], rtol=1e-9)
        assert kinds(decision.events, Severity.CLAMP) == ["torque_limit", "torque_limit"]

    def test_torque_command_is_clipped(self, pendulum):
        monitor, now = warmed(pendulum, [-50.0])
        decision = monitor.filter_command([50.0], make_reading(pendulum, now + 0.005), now + 0.005)
        # one tick later the rate limit allows +1 N m from -2 N m
        np.testing.assert_allclose(decision.command.values, [-1.0])
        assert kinds(decision.events, Severity.CLAMP) == ["rate_limit"]
        monitor, now = warmed(pendulum, [50.0])
        decision = monitor.filter_command([50.0], make_reading(pendulum, now + 0.005), now + 0.005)
        np.testing.assert_array_equal(decision.command.values, [2.0])
        assert kinds(decision.events, Severity.CLAMP) == ["torque_limit"]

    @pytest.mark.parametrize(
        "qd,expected,binding",
        [(0.0, 9.0, "voltage limit"), (40.0, 9.0, "voltage limit"), (-60.0, 7.0, "torque limit")],
    )
    def test_dc_motor_voltage_window_upper(self, dc, qd, expected, binding):
        # kt (V - ke qd) / R within +-0.25  <=>  V in ke qd +- 0.25 * 2 / 0.05 = ke qd +- 10; and |V| <= 9
        monitor = SafetyMonitor(dc)
        monitor.motion = None  # a constant position at a constant speed: a frozen sensor to that check
        now = 0.0
        for k in range(200):
            now = k * 0.002
            decision = monitor.filter_command([100.0], make_reading(dc, now, qd=[qd, 0.0]), now)
        assert decision.command.values[0] == pytest.approx(expected, rel=1e-12)
        assert abs(implied_torque(dc, decision.command.values, decision.reading)[0]) <= 0.25 * (1 + 1e-9)
        assert kinds(decision.events, Severity.CLAMP) == ["torque_limit"]
        assert binding in decision.events[0].message

    @pytest.mark.parametrize(
        "qd,expected,binding",
        [(0.0, -9.0, "voltage limit"), (-60.0, -9.0, "voltage limit"), (60.0, -7.0, "torque limit")],
    )
    def test_dc_motor_voltage_window_lower(self, dc, qd, expected, binding):
        monitor = SafetyMonitor(dc)
        monitor.motion = None  # a constant position at a constant speed: a frozen sensor to that check
        now = 0.0
        for k in range(200):
            now = k * 0.002
            decision = monitor.filter_command([-100.0], make_reading(dc, now, qd=[qd, 0.0]), now)
        assert decision.command.values[0] == pytest.approx(expected, rel=1e-12)
        assert abs(implied_torque(dc, decision.command.values, decision.reading)[0]) <= 0.25 * (1 + 1e-9)
        assert binding in decision.events[0].message

    def test_rate_limit_clamps_and_scales_with_speed_fraction(self, pendulum):
        for fraction in (1.0, 0.25):
            monitor, now = warmed(pendulum, [0.0], fraction=fraction)
            dt = 0.005
            decision = monitor.filter_command([2.0], make_reading(pendulum, now + dt), now + dt)
            step = 200.0 * fraction * dt
            assert decision.command.values[0] == pytest.approx(step, rel=1e-12)
            assert kinds(decision.events, Severity.CLAMP) == ["rate_limit"]
            assert decision.events[0].limit == pytest.approx(step)

    def test_rate_limit_credits_at_most_max_command_dt(self, pendulum):
        monitor, now = warmed(pendulum, [0.0], fraction=0.1)
        later = now + 10.0
        decision = monitor.filter_command([2.0], make_reading(pendulum, later), later)
        assert monitor.max_command_dt == pytest.approx(0.05)
        assert decision.command.values[0] == pytest.approx(200.0 * 0.1 * 0.05)

    def test_pd_target_speed_is_limited_by_joint_velocity(self, arm):
        # shoulder: velocity 6 < command_rate 7 -> velocity_limit; elbow: rate 7 < velocity 8 -> rate_limit
        monitor, now = warmed(arm, [0.0, -0.5], fraction=0.5)
        decision = monitor.filter_command([1.0, 0.4], make_reading(arm, now + 0.01), now + 0.01)
        np.testing.assert_allclose(decision.command.values, [0.0 + 6 * 0.5 * 0.01, -0.5 + 7 * 0.5 * 0.01])
        assert kinds(decision.events, Severity.CLAMP) == ["velocity_limit", "rate_limit"]

    def test_first_command_ramps_from_zero_torque(self, pendulum):
        monitor = SafetyMonitor(pendulum)
        decision = monitor.filter_command([2.0], make_reading(pendulum, 0.0), 0.0)
        assert decision.command.values[0] == pytest.approx(200.0 * pendulum.control_dt)

    def test_governor_stops_accelerating_a_joint_above_the_scaled_speed(self, pendulum):
        # speed 10 rad/s is above 20 * 0.25: a torque pushing further is cut to zero, braking stays
        monitor, now = warmed(pendulum, [0.0], fraction=0.25)
        t = now + 0.005
        decision = monitor.filter_command([0.2], make_reading(pendulum, t, qd=[10.0]), t)
        assert decision.command.values[0] == 0.0
        assert kinds(decision.events, Severity.CLAMP) == ["velocity_limit"]
        t += 0.005
        decision = monitor.filter_command([-0.2], make_reading(pendulum, t, qd=[10.0]), t)
        assert decision.command.values[0] == pytest.approx(-0.2) and decision.events == ()
        t += 0.005
        decision = monitor.filter_command([-0.2], make_reading(pendulum, t, qd=[-10.0]), t)
        assert decision.command.values[0] == 0.0
        assert kinds(decision.events, Severity.CLAMP) == ["velocity_limit"]

    def test_governor_is_inactive_at_full_speed(self, pendulum):
        monitor, now = warmed(pendulum, [0.0])
        t = now + 0.005
        decision = monitor.filter_command([0.5], make_reading(pendulum, t, qd=[19.0]), t)
        assert decision.command.values[0] == pytest.approx(0.5) and decision.events == ()

    def test_speed_fraction_can_change_between_ticks(self, pendulum):
        monitor, now = warmed(pendulum, [0.0], fraction=0.1)
        monitor.set_speed_fraction(1.0)
        t = now + 0.005
        decision = monitor.filter_command([2.0], make_reading(pendulum, t), t)
        assert monitor.speed_fraction == 1.0
        assert decision.command.values[0] == pytest.approx(1.0)


class TestNanCommand:
    @pytest.mark.parametrize(
        "bad", [[math.nan, 0.0], [0.0, math.inf], [0.1], [0.1, 0.2, 0.3], ["a", "b"], None]
    )
    def test_unusable_command_holds_the_last_safe_command(self, arm, bad):
        monitor, now = warmed(arm, [0.2, -0.3])
        t = now + 0.01
        decision = monitor.filter_command(bad, make_reading(arm, t), t)
        assert decision.mode == "hold" and decision.state == "hold"
        np.testing.assert_allclose(decision.command.values, [0.2, -0.3])
        assert kinds(decision.events, Severity.HOLD) == ["nan_command"]
        assert monitor.counters["nan_command"] == 1 and not monitor.latched

    def test_hold_keeps_torque_within_limit_at_the_new_state(self, dc):
        monitor, now = warmed(dc, [9.0])
        t = now + 0.002
        # the shaft now spins at -40 rad/s: 9 V would imply (9 + 2) * 0.025 = 0.275 N m > 0.25
        decision = monitor.filter_command([math.nan], make_reading(dc, t, qd=[-40.0, 0.0]), t)
        assert decision.mode == "hold"
        assert decision.command.values[0] == pytest.approx(0.05 * -40.0 + 10.0)

    def test_persistent_nan_command_escalates_to_safe_stop(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        timeout = arm.safety.stale_timeout
        modes = []
        for k in range(1, 6):
            t = now + k * 0.008
            modes.append(monitor.filter_command([math.nan, math.nan], make_reading(arm, t), t).mode)
        # streak lengths 0, 0.008, 0.016, 0.024, ...: escalation once it exceeds the timeout (0.02 s)
        assert modes == ["hold", "hold", "hold", "safe", "safe"]
        assert monitor.latched and timeout == 0.02
        assert monitor.counters["nan_command"] == 4

    def test_finite_command_ends_the_nan_streak(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        for k in range(1, 20):
            t = now + k * 0.01
            values = [math.nan, 0.0] if k % 2 else [0.2, -0.3]
            assert monitor.filter_command(values, make_reading(arm, t), t).mode != "safe"


class TestHardConflicts:
    def test_hard_window_moving_beyond_rate_reach_holds(self, arm):
        # saturated at the upper torque edge, then the joint jumps: the window leaves the rate's reach
        monitor = SafetyMonitor(arm)
        monitor.motion = None  # a jump of 1 rad at rest: a broken sensor to that check
        now = 0.0
        for k in range(100):
            now = k * 0.01
            monitor.filter_command([1.4, 0.4], make_reading(arm, now), now)
        t = now + 0.01
        decision = monitor.filter_command([1.4, 0.4], make_reading(arm, t, q=[-1.0, -0.5]), t)
        assert decision.mode == "hold" and not monitor.latched
        assert "rate_limit" in kinds(decision.events, Severity.HOLD)
        tau = implied_torque(arm, decision.command.values, decision.reading)
        assert np.all(np.abs(tau) <= np.array([8.0, 5.0]) * (1 + 1e-9))

    def test_no_command_within_hard_limits_is_safe_stop(self, arm):
        stiff = dataclasses.replace(arm.actuators[0], kd=2.0)
        spec = dataclasses.replace(arm, actuators=(stiff, arm.actuators[1]))
        monitor = SafetyMonitor(spec)
        # target <= 1.5 implies kp (1.5 - 1.49) - 2 * 5.9 = -11.6 < -8 N m: no target is allowed
        decision = monitor.filter_command(
            [1.5, -0.5], make_reading(spec, 0.0, q=[1.49, -0.5], qd=[5.9, 0.0]), 0.0
        )
        assert decision.mode == "safe" and monitor.latched
        assert kinds(decision.events, Severity.SAFE_STOP) == ["position_limit"]

    def test_dc_motor_back_emf_beyond_supply_is_safe_stop(self, dc):
        act = dataclasses.replace(dc.actuators[0], ke=0.2)
        spec = dataclasses.replace(dc, actuators=(act,))
        monitor = SafetyMonitor(spec)
        decision = monitor.filter_command([0.0], make_reading(spec, 0.0, qd=[120.0, 0.0]), 0.0)
        assert decision.mode == "safe" and kinds(decision.events, Severity.SAFE_STOP) == ["torque_limit"]


# ----------------------------------------------------------------------------- latch, e-stop, reset


class TestLatchAndReset:
    def test_safe_stop_latches_until_reset(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        t = now + 0.01
        assert monitor.filter_command([0.2, -0.3], make_reading(arm, t, qd=[7.0, 0.0]), t).mode == "safe"
        for k in range(2, 30):
            t = now + k * 0.01
            decision = monitor.filter_command([0.2, -0.3], make_reading(arm, t), t)
            assert decision.mode == "safe" and decision.state == "safe_stop"
        assert monitor.latched
        assert monitor.reset(make_reading(arm, t), t)
        t += 0.01
        assert monitor.filter_command([0.2, -0.3], make_reading(arm, t), t).mode == "normal"

    def test_reset_is_refused_while_the_state_is_unsafe(self, arm):
        monitor = SafetyMonitor(arm)
        bad = make_reading(arm, 0.0, q=[1.6, -0.5])
        monitor.check_state(bad, 0.0)
        result = monitor.reset(make_reading(arm, 0.01, q=[1.6, -0.5]), 0.01)
        assert not result and monitor.latched
        assert result.event.kind == EventKind.RESET and result.event.severity == Severity.SAFE_STOP
        assert kinds(result.problems) == ["position_limit"]
        assert (
            monitor.filter_command([0.0, -0.5], make_reading(arm, 0.02, q=[1.6, -0.5]), 0.02).mode == "safe"
        )

    @pytest.mark.parametrize(
        "make_bad",
        [
            lambda spec, t: None,
            lambda spec, t: Reading.dropped(t, 2),
            lambda spec, t: make_reading(spec, t - 1.0),
            lambda spec, t: make_reading(spec, t, qd=[0.0, math.nan]),
        ],
    )
    def test_reset_is_refused_without_a_fresh_good_reading(self, arm, make_bad):
        monitor = SafetyMonitor(arm)
        monitor.request_estop("test")
        monitor.check_state(make_reading(arm, 0.0), 0.0)
        assert not monitor.reset(make_bad(arm, 0.01), 0.01)
        assert monitor.latched

    def test_reset_needs_to_be_explicit(self, arm):
        monitor = SafetyMonitor(arm)
        monitor.check_state(make_reading(arm, 0.0, qd=[9.0, 0.0]), 0.0)
        for k in range(1, 50):  # the state is fine again, but only reset() releases
            t = k * 0.01
            assert monitor.filter_command([0.0, -0.5], make_reading(arm, t), t).mode == "safe"

    def test_estop_is_latched_and_cleared_by_reset(self, arm):
        monitor, now = warmed(arm, [0.2, -0.3])
        monitor.request_estop("operator pressed the button")
        t = now + 0.01
        decision = monitor.filter_command([0.2, -0.3], make_reading(arm, t), t)
        assert decision.mode == "safe" and kinds(decision.events, Severity.SAFE_STOP) == ["estop"]
        assert "operator" in monitor.latch_reason
        t += 0.01
        assert monitor.filter_command([0.2, -0.3], make_reading(arm, t), t).mode == "safe"
        result = monitor.reset(make_reading(arm, t), t)
        assert result and result.event.severity == Severity.INFO
        t += 0.01
        assert monitor.filter_command([0.2, -0.3], make_reading(arm, t), t).mode == "normal"

    def test_events_are_not_repeated_every_tick_while_latched(self, arm):
        monitor = SafetyMonitor(arm)
        for k in range(20):
            monitor.check_state(make_reading(arm, k * 0.01, q=[1.6, -0.5]), k * 0.01)
        assert monitor.counters["position_limit"] == 1
        monitor.check_state(make_reading(arm, 0.3, q=[1.6, 0.6]), 0.3)  # a new joint is reported
        assert monitor.counters["position_limit"] == 2

    def test_after_reset_the_command_ramps_again(self, pendulum):
        monitor, now = warmed(pendulum, [2.0])
        monitor.request_estop()
        t = now + 0.005
        monitor.filter_command([2.0], make_reading(pendulum, t), t)
        assert monitor.reset(make_reading(pendulum, t), t)
        decision = monitor.filter_command([2.0], make_reading(pendulum, t), t)
        assert decision.command.values[0] == pytest.approx(1.0)

    def test_reset_counts_and_reports(self, arm):
        monitor = SafetyMonitor(arm)
        result = monitor.reset(make_reading(arm, 0.0), 0.0)
        assert result.accepted and monitor.counters["reset"] == 1


class TestSafeCommand:
    def test_damping_equivalent_for_torque(self, pendulum):
        command = SafetyMonitor(pendulum).safe_command(make_reading(pendulum, 1.0, qd=[3.0]))
        assert command.mode == "safe" and command.t == 1.0
        np.testing.assert_allclose(command.values, [-0.2 * 3.0])

    def test_damping_equivalent_for_pd(self, arm):
        command = SafetyMonitor(arm).safe_command(make_reading(arm, 0.0, q=[0.1, -0.2], qd=[1.0, -2.0]))
        tau = implied_torque(arm, command.values, make_reading(arm, 0.0, q=[0.1, -0.2], qd=[1.0, -2.0]))
        np.testing.assert_allclose(tau, [-0.5, 1.0])

    def test_zero_torque_equivalent_for_dc_motor(self, dc):
        reading = make_reading(dc, 0.0, qd=[30.0, 5.0])
        command = SafetyMonitor(dc).safe_command(reading)
        np.testing.assert_allclose(implied_torque(dc, command.values, reading), [0.0], atol=1e-15)

    def test_unusable_reading_gives_finite_values(self, arm):
        command = SafetyMonitor(arm).safe_command(Reading.dropped(0.0, 2), now=3.0)
        assert command.mode == "safe" and command.t == 3.0 and np.all(np.isfinite(command.values))
        # ... but no measured state stands behind them: a pd joint's value is the default pose, which a
        # robot sending safe values as targets must not send (safety review 7)
        assert not command.measured
        assert SafetyMonitor(arm).safe_command(make_reading(arm, 0.0), now=0.0).measured

    def test_a_reading_no_longer_current_is_not_damped_as_if_it_were(self, pendulum):
        # the joint moved at 5 rad/s when the readings stopped: damping that old speed would be a
        # constant torque for as long as the stop lasts (a robot without a safe-mode topic gets it)
        monitor = SafetyMonitor(pendulum)
        moving = make_reading(pendulum, 1.0, qd=[5.0])
        assert monitor.filter_command([0.0], moving, 1.0).command.mode == "normal"
        assert SafetyMonitor(pendulum).safe_command(moving, now=1.0).values[0] == pytest.approx(-1.0)
        for later in (Reading.dropped(1.5, 1), None):  # the newest good reading is the old one
            command = monitor.safe_command(later, now=1.5)
            np.testing.assert_array_equal(command.values, [0.0])
        stale = monitor.safe_command(moving, now=1.0 + 2 * pendulum.safety.stale_timeout)
        np.testing.assert_array_equal(stale.values, [0.0])

    def test_a_pd_joint_without_a_current_reading_is_held_where_it_was_last_measured(self, arm):
        monitor = SafetyMonitor(arm)
        last = make_reading(arm, 0.0, q=[0.1, -0.2], qd=[1.0, -2.0])
        monitor.filter_command([0.1, -0.2], last, 0.0)
        command = monitor.safe_command(None, now=1.0)
        assert command.measured
        tau = implied_torque(arm, command.values, make_reading(arm, 1.0, q=[0.1, -0.2], qd=[0.0, 0.0]))
        np.testing.assert_allclose(tau, [0.0, 0.0], atol=1e-12)


# ----------------------------------------------------------------------------- final invariant


class TestAssertSafe:
    def test_accepts_a_safe_command(self, arm):
        assert assert_safe(arm, np.array([0.1, -0.4]), make_reading(arm, 0.0)) == []

    @pytest.mark.parametrize(
        "values,fragment",
        [
            ([1.6, -0.5], "outside"),
            ([0.41, -0.5], "implied torque"),
            ([math.nan, -0.5], "non-finite"),
            ([0.1], "shape"),
        ],
    )
    def test_finds_each_violation(self, arm, values, fragment):
        problems = assert_safe(arm, np.array(values), make_reading(arm, 0.0))
        assert problems and fragment in problems[0]

    def test_finds_rate_violations(self, pendulum):
        reading = make_reading(pendulum, 0.0)
        assert assert_safe(pendulum, np.array([1.0]), reading, np.array([0.0]), np.array([1.0])) == []
        assert assert_safe(pendulum, np.array([1.01]), reading, np.array([0.0]), np.array([1.0]))

    def test_finds_voltage_violations(self, dc):
        problems = assert_safe(dc, np.array([12.5]), make_reading(dc, 0.0, qd=[200.0, 0.0]))
        assert any("voltage" in p for p in problems)

    def test_monitor_refuses_to_send_what_the_check_rejects(self, arm, monkeypatch):
        """A broken clamp (too wide a window) is caught by the final check: safe stop, not sent."""

        def broken(self, q, qd):
            wide = np.full(2, 1e3)
            return CommandWindow(-wide, wide, -wide, wide, -wide, wide)

        monkeypatch.setattr(SafetyMonitor, "_hard_window", broken)
        monitor = SafetyMonitor(arm)
        modes = []
        for k in range(30):  # the rate limit walks the target towards 1.4 rad, past the torque window
            now = k * 0.01
            decision = monitor.filter_command([1.4, -0.5], make_reading(arm, now), now)
            modes.append(decision.mode)
            if decision.mode == "normal":
                _hard_ok(arm, decision.command.values, decision.reading)
        assert "normal" in modes and modes[-1] == "safe" and monitor.latched
        assert monitor.counters["invariant"] == 1

    def test_monitor_uses_the_module_level_check(self, arm, monkeypatch):
        monkeypatch.setattr(safety_module, "assert_safe", lambda *a, **k: ["forced"])
        monitor = SafetyMonitor(arm)
        decision = monitor.filter_command([0.0, -0.5], make_reading(arm, 0.0), 0.0)
        assert decision.mode == "safe" and "forced" in decision.events[-1].message


# ----------------------------------------------------------------------------- embedded robots


@pytest.mark.parametrize("name", ["furuta", "quadruped"])
def test_embedded_robots_when_present(name):
    if name not in list_robots():
        pytest.skip(f"embedded robot {name} is not there yet")
    spec = load_robot(name)
    monitor = SafetyMonitor(spec, 0.25)
    neutral = [
        spec.default_pose[spec.joints.index(a.joint)] if a.model == "pd" else 0.0 for a in spec.actuators
    ]
    now = 0.0
    for k in range(50):
        now = k * spec.control_dt
        decision = monitor.filter_command(neutral, make_reading(spec, now), now)
        assert decision.mode == "normal", decision.events
    assert decision.command.values.shape == (spec.n_actions,)
    q = np.array(spec.default_pose, dtype=float)
    q[0] = spec.safety.position_high[0] + 0.01
    t = now + spec.control_dt
    assert monitor.filter_command(neutral, make_reading(spec, t, q=q), t).mode == "safe"


# ----------------------------------------------------------------------------- properties


SPEC_NAMES = ["pendulum", "arm", "dc", "float"]
WILD = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _uniform(draw, low, high):
    return draw(st.floats(min_value=float(low), max_value=float(high), allow_nan=False))


@st.composite
def readings(draw, spec: RobotSpec, now: float):
    """Mostly readings inside the limits; sometimes wild, invalid, missing, late or early ones."""
    lim = spec.safety
    n = spec.n_joints
    kind = draw(st.sampled_from(["good"] * 12 + ["edge", "wild", "invalid", "none", "late", "early"]))
    if kind == "none":
        return None
    if kind == "invalid":
        return Reading.dropped(now, n)
    age = _uniform(draw, 0.0, 0.9 * lim.stale_timeout)
    t = now - age
    if kind == "late":
        t = now - _uniform(draw, 0.0, 3.0 * lim.stale_timeout)
    elif kind == "early":
        t = now + _uniform(draw, 0.0, 1.0)
    q = [_uniform(draw, lo, hi) for lo, hi in zip(lim.position_low, lim.position_high, strict=True)]
    qd = [_uniform(draw, -v, v) for v in lim.velocity]
    tau = draw(st.one_of(st.none(), st.just([0.0] * n)))
    kw = {}
    if spec.floating_base:
        angle = _uniform(draw, 0.0, 1.2 * lim.tilt)
        heading = _uniform(draw, 0.0, 2 * math.pi)
        kw["quat"] = [
            math.cos(angle / 2),
            math.cos(heading) * math.sin(angle / 2),
            math.sin(heading) * math.sin(angle / 2),
            0.0,
        ]
        kw["base_height"] = _uniform(draw, lim.base_height_low - 0.05, lim.base_height_high + 0.05)
    if kind == "edge":  # slightly beyond a limit
        j = draw(st.integers(0, n - 1))
        if draw(st.booleans()):
            q[j] = lim.position_high[j] + 1e-6
        else:
            qd[j] = -lim.velocity[j] * (1 + 1e-6)
    if kind == "wild":
        j = draw(st.integers(0, n - 1))
        field = draw(
            st.sampled_from(["q", "qd", "t"] + (["quat", "base_height"] if spec.floating_base else []))
        )
        if field == "q":
            q[j] = draw(WILD)
        elif field == "qd":
            qd[j] = draw(WILD)
        elif field == "t":
            t = draw(WILD)
        elif field == "quat":
            kw["quat"][draw(st.integers(0, 3))] = draw(WILD)
        else:
            kw["base_height"] = draw(WILD)
    return Reading(t=t, q=q, qd=qd, tau=tau, **kw)


@st.composite
def commands(draw, spec: RobotSpec):
    """Commands around (and far beyond) each actuator's range; sometimes NaN/inf/huge or mis-sized."""
    if draw(st.integers(0, 30)) == 0:
        return [0.0] * (spec.n_actions + 1)
    values = []
    for act in spec.actuators:
        j = spec.joints.index(act.joint)
        if act.model == "pd":
            lo, hi = spec.safety.position_low[j], spec.safety.position_high[j]
            span = hi - lo
            near = st.floats(min_value=lo - span, max_value=hi + span)
        elif act.model == "torque":
            t = spec.safety.torque[j]
            near = st.floats(min_value=-3 * t, max_value=3 * t)
        else:
            near = st.floats(min_value=-2 * act.voltage_limit, max_value=2 * act.voltage_limit)
        values.append(draw(st.one_of(near, near, near, near, near, near, WILD)))
    return values


def _state_ok(spec: RobotSpec, reading: Reading, now: float) -> None:
    """Independent re-check that a reading the monitor acted on passes every state limit."""
    lim = spec.safety
    assert reading.valid
    assert 0.0 <= now - reading.t <= lim.stale_timeout
    for name in ("q", "qd", "tau", "gyro", "accel", "quat"):
        value = getattr(reading, name)
        assert value is None or np.all(np.isfinite(value))
    assert np.all(reading.q >= lim.position_low) and np.all(reading.q <= lim.position_high)
    assert np.all(np.abs(reading.qd) <= lim.velocity)
    if lim.tilt is not None:
        _, x, y, _ = reading.quat / np.linalg.norm(reading.quat)
        assert math.acos(min(1.0, max(-1.0, 1.0 - 2.0 * (x * x + y * y)))) <= lim.tilt + 1e-9
    if lim.base_height_low is not None:
        assert lim.base_height_low <= reading.base_height <= lim.base_height_high


def _hard_ok(spec: RobotSpec, values: np.ndarray, reading: Reading) -> None:
    """Independent re-check of the hard limits of a command at a reading."""
    assert values.shape == (spec.n_actions,) and np.all(np.isfinite(values))
    tau = implied_torque(spec, values, reading)
    for i, act in enumerate(spec.actuators):
        j = spec.joints.index(act.joint)
        limit = spec.safety.torque[j]
        q, qd = reading.q[j], reading.qd[j]
        if act.model == "pd":
            assert spec.safety.position_low[j] <= values[i] <= spec.safety.position_high[j]
            scale = limit + act.kp * (abs(values[i]) + abs(q)) + act.kd * abs(qd)
        elif act.model == "dc_motor":
            assert abs(values[i]) <= act.voltage_limit
            scale = limit + act.kt * (abs(values[i]) + act.ke * abs(qd)) / act.resistance
        else:
            scale = limit
        assert abs(tau[i]) <= limit + 1e-9 * scale, (act.joint, tau[i], limit)


def _rate_ok(spec, monitor, values, previous, dt) -> None:
    dt_eff = min(max(dt, 0.0), monitor.max_command_dt)
    for i, act in enumerate(spec.actuators):
        j = spec.joints.index(act.joint)
        rate = float(spec.safety.command_rate[j])
        if act.model == "pd":
            rate = min(rate, spec.safety.velocity[j])
        step = rate * monitor.speed_fraction * dt_eff
        change = abs(values[i] - previous[i])
        assert change <= step + 1e-9 * (step + abs(values[i]) + abs(previous[i])), (act.joint, change, step)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(SPEC_NAMES), fraction=st.sampled_from([1.0, 0.5, 0.1]))
def test_no_unsafe_output_for_any_input_sequence(specs, data, name, fraction):
    spec = specs[name]
    monitor = SafetyMonitor(spec, fraction)
    now = data.draw(st.floats(min_value=0.0, max_value=1e4))
    previous: tuple[np.ndarray, float] | None = None
    was_latched = False
    command = None
    reading = None
    for _ in range(data.draw(st.integers(1, 30))):
        dt = spec.control_dt
        now += data.draw(
            st.one_of(
                st.just(dt),
                st.just(dt),
                st.just(dt),
                st.floats(min_value=0.0, max_value=3 * dt),
                st.floats(min_value=0.0, max_value=3 * dt),
                st.sampled_from([0.0, 0.5]),
                st.integers(0, 30).map(lambda k, dt=dt: -0.001 if k == 0 else dt),  # rarely: clock backwards
            )
        )
        if isinstance(reading, Reading) and reading.valid and data.draw(st.booleans()):
            # the robot keeps its state: a fresh copy of the last reading, so commands can ramp up
            age = data.draw(st.floats(min_value=0.0, max_value=0.9 * spec.safety.stale_timeout))
            reading = dataclasses.replace(reading, t=now - age)
        else:
            reading = data.draw(readings(spec, now))
        if command is None or data.draw(st.integers(0, 3)) == 0:  # a policy that mostly repeats itself
            command = data.draw(commands(spec))
        decision = monitor.filter_command(command, reading, now)
        out = decision.command
        event(f"mode {out.mode}")
        for e in decision.events:
            event(f"{e.kind} {e.severity}")
        assert out.mode in ("normal", "hold", "safe")
        if was_latched:
            assert out.mode == "safe" and monitor.latched
        if out.mode == "normal":
            assert decision.reading is reading
            _state_ok(spec, reading, now)
            _hard_ok(spec, out.values, reading)
            if previous is not None:
                _rate_ok(spec, monitor, out.values, previous[0], now - previous[1])
        elif out.mode == "hold":
            assert decision.reading is not None
            _state_ok(spec, decision.reading, now)
            _hard_ok(spec, out.values, decision.reading)
        else:
            assert np.all(np.isfinite(out.values))
        previous = (out.values, now) if out.mode != "safe" else None
        was_latched = monitor.latched


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    data=st.data(),
    name=st.sampled_from(SPEC_NAMES),
    field=st.sampled_from(["q", "qd", "tau"]),
    bad=st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_any_non_finite_state_value_is_a_safe_stop(specs, data, name, field, bad):
    spec = specs[name]
    monitor = SafetyMonitor(spec)
    values = {
        "q": np.array(spec.default_pose, dtype=float),
        "qd": np.zeros(spec.n_joints),
        "tau": np.zeros(spec.n_joints),
    }
    values[field][data.draw(st.integers(0, spec.n_joints - 1))] = bad
    reading = make_reading(spec, 0.0, **values)
    decision = monitor.filter_command(data.draw(commands(spec)), reading, 0.0)
    assert decision.mode == "safe" and monitor.latched
    assert "nan_state" in kinds(decision.events, Severity.SAFE_STOP)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data(), name=st.sampled_from(SPEC_NAMES))
def test_any_measured_state_beyond_a_hard_limit_is_a_safe_stop(specs, data, name):
    spec = specs[name]
    lim = spec.safety
    j = data.draw(st.integers(0, spec.n_joints - 1))
    q = np.array(spec.default_pose, dtype=float)
    qd = np.zeros(spec.n_joints)
    which = data.draw(st.sampled_from(["q_high", "q_low", "qd"]))
    excess = data.draw(st.floats(min_value=1e-9, max_value=1e6))
    if which == "q_high":
        q[j] = lim.position_high[j] + excess
    elif which == "q_low":
        q[j] = lim.position_low[j] - excess
    else:
        qd[j] = (lim.velocity[j] + excess) * data.draw(st.sampled_from([-1.0, 1.0]))
    fraction = data.draw(st.sampled_from([1.0, 0.1]))
    monitor = SafetyMonitor(spec, fraction)
    decision = monitor.filter_command(data.draw(commands(spec)), make_reading(spec, 0.0, q=q, qd=qd), 0.0)
    expected = "velocity_limit" if which == "qd" else "position_limit"
    assert decision.mode == "safe" and expected in kinds(decision.events, Severity.SAFE_STOP)


def _expected_value(spec: RobotSpec, u: np.ndarray, reading: Reading, fraction: float) -> np.ndarray:
    """Where a constant command settles at a constant state: the nearest value inside the hard limits
    (position, implied torque, voltage), then the velocity governor of a joint above the scaled speed."""
    out = []
    for value, act in zip(u, spec.actuators, strict=True):
        j = spec.joints.index(act.joint)
        q, qd = reading.q[j], reading.qd[j]
        limit = spec.safety.torque[j]
        if act.model == "pd":
            low = max(spec.safety.position_low[j], q + (-limit + act.kd * qd) / act.kp)
            high = min(spec.safety.position_high[j], q + (limit + act.kd * qd) / act.kp)
            zero = q + act.kd * qd / act.kp
        elif act.model == "torque":
            low, high, zero = -limit, limit, 0.0
        else:
            half = limit * act.resistance / act.kt
            low = max(-act.voltage_limit, act.ke * qd - half)
            high = min(act.voltage_limit, act.ke * qd + half)
            zero = act.ke * qd
        x = min(max(value, low), high)
        if abs(qd) > spec.safety.velocity[j] * fraction:
            x = min(x, zero) if qd > 0 else max(x, zero)
            x = min(max(x, low), high)
        out.append(x)
    return np.array(out)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(data=st.data(), name=st.sampled_from(SPEC_NAMES), fraction=st.sampled_from([1.0, 0.3]))
def test_constant_command_settles_at_the_nearest_allowed_value(specs, data, name, fraction):
    """Not too little clamping either: at a constant good state, a constant command is followed
    (rate-limited) until it reaches exactly the nearest value the hard limits allow."""
    spec = specs[name]
    lim = spec.safety
    q = [
        data.draw(st.floats(float(lo), float(hi)))
        for lo, hi in zip(lim.position_low, lim.position_high, strict=True)
    ]
    qd = [data.draw(st.floats(-float(v), float(v))) for v in lim.velocity]
    big = st.floats(min_value=-1e300, max_value=1e300)
    u = np.array([data.draw(st.one_of(st.floats(-30.0, 30.0), big)) for _ in spec.actuators])
    monitor = SafetyMonitor(spec, fraction)
    monitor.motion = None  # a constant position at a constant speed: a frozen sensor to that check
    expected = None
    values = None
    for k in range(5000):
        now = k * spec.control_dt
        reading = make_reading(spec, now, q=q, qd=qd)
        expected = _expected_value(spec, u, reading, fraction)
        decision = monitor.filter_command(u, reading, now)
        assert decision.mode == "normal", decision.events
        _hard_ok(spec, decision.command.values, reading)
        if values is not None:
            _rate_ok(spec, monitor, decision.command.values, values, spec.control_dt)
        values = decision.command.values
        if np.allclose(values, expected, rtol=1e-12, atol=1e-12):
            break
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-12)


class TestEstopBeforeAReset:
    def test_an_estop_no_tick_has_seen_survives_a_reset(self, pendulum):
        """Safety review 10: an e-stop requested between two ticks and a reset before the next tick
        (an operator's reset service, a second console): the reset was accepted and cleared the e-stop,
        which never stopped the robot (every later tick normal)."""
        monitor, now = warmed(pendulum, [0.1])
        monitor.request_estop("operator pressed the button")
        assert monitor.reset(make_reading(pendulum, now), now)  # the state is fine: nothing was latched
        t = now + 0.005
        decision = monitor.filter_command([0.1], make_reading(pendulum, t), t)
        assert decision.mode == "safe" and kinds(decision.events, Severity.SAFE_STOP) == ["estop"]
        assert monitor.latched and "operator" in monitor.latch_reason

    def test_resets_with_nothing_latched_do_not_put_off_the_unusable_command_stop(self, pendulum):
        """Safety review 10: each accepted reset restarted the streak of unusable commands, so NaN
        commands with a reset every 4 ticks were held for 2 s (stale_timeout 0.05 s) and never stopped."""
        monitor = SafetyMonitor(pendulum)
        dt = pendulum.control_dt
        modes = []
        for k in range(100):
            t = k * dt
            if k % 4 == 0 and not monitor.latched:
                assert monitor.reset(make_reading(pendulum, t), t).accepted
            modes.append(monitor.filter_command([math.nan], make_reading(pendulum, t), t).mode)
        assert monitor.latched and "no usable command" in monitor.latch_reason
        assert modes.index("safe") * dt <= pendulum.safety.stale_timeout + 2 * dt
