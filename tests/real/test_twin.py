"""TwinRobot: hidden parameters, latency, quantization, dropped readings, safe mode, clock and pacing."""

from __future__ import annotations

import dataclasses
import math
import time

import mujoco
import numpy as np
import pytest

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command, Reading, Robot
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot

QUIET = TwinEffects(
    latency_jitter=0.0,
    backlash=0.0,
    position_noise=0.0,
    velocity_noise=0.0,
    gyro_noise=0.0,
    drop_probability=0.0,
)
"""No random effect: readings are the true state (encoder quantization aside)."""


def run(twin: TwinRobot, values, ticks: int, mode: str = "normal") -> list[Reading]:
    out = []
    for _ in range(ticks):
        twin.write(Command(t=twin.now(), values=np.atleast_1d(np.asarray(values, dtype=float)), mode=mode))
        out.append(twin.read())
    return out


class TestProtocol:
    def test_twin_is_a_robot(self, pendulum):
        assert isinstance(TwinRobot(pendulum), Robot)

    def test_lockstep_write_advances_one_control_period(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(effects=QUIET))
        t0 = twin.read().t
        readings = run(twin, [0.0], 10)
        np.testing.assert_allclose(
            [r.t - t0 for r in readings], furuta.control_dt * np.arange(1, 11), atol=1e-9
        )
        assert twin.now() == readings[-1].t

    def test_wrong_command_size_is_an_error(self, furuta):
        twin = TwinRobot(furuta)
        with pytest.raises(Sim2RealError, match="actuators"):
            twin.write(Command(t=0.0, values=[0.0, 1.0]))

    def test_seeded_twins_are_identical(self, furuta):
        a, b = (TwinRobot(furuta, TwinConfig(effects=TwinEffects(seed=4))) for _ in range(2))
        ra, rb = run(a, [2.0], 50), run(b, [2.0], 50)
        np.testing.assert_array_equal([r.q for r in ra], [r.q for r in rb])
        assert [r.valid for r in ra] == [r.valid for r in rb]


class TestHiddenParameters:
    def test_parameter_values_reach_the_twin_model(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(params={"body.pendulum.mass": np.array([0.031])}))
        nominal = TwinRobot(furuta)
        assert twin.params.get(twin.model, "body.pendulum.mass")[0] == pytest.approx(0.031)
        assert nominal.params.get(nominal.model, "body.pendulum.mass")[0] != pytest.approx(0.031)

    def test_hidden_damping_changes_the_free_swing(self, pendulum):
        def swing(params):
            twin = TwinRobot(pendulum, TwinConfig(params=params, effects=QUIET), initial_qpos=np.array([1.0]))
            return np.array([r.q[0] for r in run(twin, [0.0], 400)])

        free = swing({})
        damped = swing({"joint.hinge.damping": np.array([0.5])})
        assert np.abs(free[-100:]).max() > 0.1
        assert np.abs(damped[-100:]).max() < 0.5 * np.abs(free[-100:]).max()

    def test_hidden_motor_resistance_scales_the_torque(self, furuta):
        def torque(params):
            twin = TwinRobot(furuta, TwinConfig(params=params, effects=QUIET))
            return run(twin, [2.0], 3)[-1].tau[0]

        nominal = torque({})
        assert torque({"motor.motor.resistance": np.array([2 * 8.4])}) == pytest.approx(nominal / 2, rel=0.05)

    def test_unknown_parameter_is_a_clear_error(self, furuta):
        with pytest.raises(Sim2RealError, match="twin parameters"):
            TwinRobot(furuta, TwinConfig(params={"body.nope.mass": np.array([1.0])}))


def onset(spec, params: dict, effects: TwinEffects, value: float) -> float:
    """Time after a command step at which the first actuated joint starts to move [s]."""
    twin = TwinRobot(spec, TwinConfig(params=params, effects=effects))
    t0 = twin.now()
    for r in run(twin, [value], 40):
        if abs(r.qd[0]) > 1e-3:
            return r.t - t0
    raise AssertionError("the joint never moved")


class TestLatency:
    def test_actuator_delay_shifts_the_response(self, pendulum):
        dt = pendulum.control_dt
        base = onset(pendulum, {}, QUIET, 1.0)
        delayed = onset(pendulum, {"actuator.motor.delay": np.array([0.02])}, QUIET, 1.0)
        assert base <= dt + 1e-9
        assert delayed - base == pytest.approx(0.02, abs=dt + 1e-9)

    def test_jitter_spreads_the_delay_within_its_band(self, furuta):
        dt, delay, jitter = furuta.control_dt, 0.006, 0.003
        params = {"actuator.motor.delay": np.array([delay])}
        onsets = [
            onset(furuta, params, dataclasses.replace(QUIET, latency_jitter=jitter, seed=seed), 5.0)
            for seed in range(8)
        ]
        assert len(set(np.round(onsets, 6))) > 1
        assert all(delay - jitter <= t <= delay + jitter + dt + 1e-9 for t in onsets)

    def test_latency_between_fine_steps_acts_for_its_share_of_the_step(self, quadruped):
        # fine steps of 1.25 ms: a latency of 4.0 or 4.5 ms falls inside the same step, and still moves
        # the response by its share of that step (a real drive has no grid)
        def hip_after(delay: float) -> float:
            params = {f"actuator.{a.actuator}.delay": np.array([delay]) for a in quadruped.actuators}
            twin = TwinRobot(quadruped, TwinConfig(params=params, effects=QUIET), fixed_base=True)
            target = np.asarray(quadruped.default_pose) + 0.3
            twin.write(Command(t=twin.now(), values=target))
            return float(twin.read().q[0])

        early, middle, late = hip_after(0.0039), hip_after(0.0042), hip_after(0.0045)
        assert early > middle > late  # later commands have moved the joint less by the reading


class TestFixedBase:
    def test_the_hung_robot_swings_its_legs_without_touching_anything(self, quadruped):
        twin = TwinRobot(quadruped, TwinConfig(effects=QUIET), fixed_base=True)
        pose = np.asarray(quadruped.default_pose)
        readings = []
        for k in range(100):
            target = pose + 0.3 * np.sin(2 * np.pi * 2.0 * k * quadruped.control_dt)
            twin.write(Command(t=twin.now(), values=target))
            readings.append(twin.read())
            assert twin.data.ncon == 0  # legs in the air: no floor, no self contact
        q = np.array([r.q for r in readings])
        assert np.ptp(q, axis=0).min() > 0.2  # every joint swings
        assert readings[-1].base_height is None and twin.read_base is None
        with pytest.raises(Sim2RealError, match="hung"):
            twin.base_state()

    def test_a_fixed_base_robot_cannot_be_hung(self, pendulum):
        with pytest.raises(Sim2RealError, match="no floating base"):
            TwinRobot(pendulum, fixed_base=True)

    def test_a_floating_twin_keeps_the_truth_of_each_reading(self, quadruped):
        twin = TwinRobot(quadruped, TwinConfig(effects=QUIET))
        reading = twin.read()
        assert twin.read_base.t == reading.t
        assert twin.read_base.position[2] == pytest.approx(reading.base_height)


class TestSensors:
    def test_encoder_readings_are_quantized(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(effects=QUIET), initial_qpos=np.array([0.3, 2.0]))
        res = furuta.encoder.resolution
        for r in run(twin, [1.0], 20):
            np.testing.assert_allclose(r.q / res, np.round(r.q / res), atol=1e-6)

    def test_bias_and_noise_are_added(self, furuta):
        fx = dataclasses.replace(QUIET, position_bias=0.1, position_noise=0.01, encoder_resolution=1e-9)
        twin = TwinRobot(furuta, TwinConfig(effects=fx))
        q = np.array([twin.read().q for _ in range(400)])
        assert q.mean() == pytest.approx(0.1, abs=0.003)
        assert q.std() == pytest.approx(0.01, rel=0.2)

    def test_dropped_readings_are_flagged_and_repeat_the_last_one(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(effects=dataclasses.replace(QUIET, drop_probability=1.0)))
        first = twin.read()
        assert first.valid  # nothing to repeat yet
        later = run(twin, [3.0], 5)
        assert not any(r.valid for r in later)
        assert all(r.t == first.t and np.array_equal(r.q, first.q) for r in later)

    def test_drop_rate_follows_the_probability(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(effects=dataclasses.replace(QUIET, drop_probability=0.2, seed=7)))
        valid = [twin.read().valid for _ in range(3000)]
        assert 1 - np.mean(valid) == pytest.approx(0.2, abs=0.03)

    def test_floating_base_readings_carry_imu_and_height(self, quadruped):
        r = TwinRobot(quadruped).read()
        assert r.gyro.shape == (3,) and r.quat.shape == (4,) and r.accel.shape == (3,)
        assert 0.25 < r.base_height < 0.4

    def test_the_accelerometer_reads_gravity_before_the_first_step(self, quadruped):
        """The base is put a few mm above the floor: mj_forward gave free fall (|accel| about 1e-15)
        for every reading before the first command, which the twin node publishes while it waits."""
        twin = TwinRobot(quadruped, TwinConfig(effects=QUIET))
        for _ in range(2):  # the first reading, and one after a reset to a tilted base
            r = twin.read()
            up = np.zeros(3)
            inverse = np.array([r.quat[0], -r.quat[1], -r.quat[2], -r.quat[3]])
            mujoco.mju_rotVecQuat(up, np.array([0.0, 0.0, 9.81]), inverse)  # the world's up, in the IMU's frame
            np.testing.assert_allclose(r.accel, up, atol=1e-9)
            twin.reset()
            twin.set_state(base_quat=np.array([math.cos(0.1), math.sin(0.1), 0.0, 0.0]))
        assert abs(twin.read().accel[1]) > 1.0  # tilted 0.2 rad about x: gravity has a y component
        twin.reset()
        twin.write(Command(t=0.0, values=np.asarray(quadruped.default_pose)))
        stepped = twin.read()  # after a step: the sensor's own value (falling the last mm: about 0)
        np.testing.assert_array_equal(stepped.accel, twin.data.sensordata[twin._accel])
        assert np.linalg.norm(stepped.accel) < 1.0


class TestSafeMode:
    def test_damping_safe_mode(self, pendulum):
        twin = TwinRobot(pendulum, TwinConfig(effects=QUIET))
        twin.set_state(joint_vel={"hinge": 5.0})
        twin.stop()
        assert twin.safe
        r = run(twin, [0.0], 1, mode="safe")[-1]
        assert pendulum.safety.safe_mode == "damping"
        assert r.tau[0] == pytest.approx(-pendulum.safety.damping * r.qd[0], rel=0.02)

    def test_damping_safe_mode_brakes_every_quadruped_joint(self, quadruped):
        twin = TwinRobot(quadruped, TwinConfig(effects=QUIET))
        twin.set_state(joint_vel={name: 6.0 for name in quadruped.joints})
        twin.stop()
        r = run(twin, np.zeros(12), 1, mode="safe")[-1]
        moving = np.abs(r.qd) > 0.3
        assert moving.sum() >= 6
        assert np.all(np.sign(r.tau[moving]) == -np.sign(r.qd[moving]))

    def test_zero_torque_safe_mode(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(effects=QUIET))
        run(twin, [5.0], 5)
        assert abs(twin.read().tau[0]) > 0.01
        twin.stop()
        r = run(twin, [0.0], 3, mode="safe")[-1]
        assert r.tau[0] == 0.0

    def test_safe_mode_lasts_until_the_next_command_takes_effect(self, furuta):
        """A command after a stop arrives after the actuator latency; until then the twin stays safe
        (it never re-applies the target it had before the stop)."""
        params = {"actuator.motor.delay": np.array([0.01])}
        twin = TwinRobot(furuta, TwinConfig(params=params, effects=QUIET))
        run(twin, [8.0], 10)
        twin.stop()
        states = []
        for _ in range(8):
            twin.write(Command(t=twin.now(), values=[0.0]))
            states.append((twin.safe, twin.read().tau[0]))
        assert [s for s, _ in states[:4]] == [True] * 4  # 10 ms latency = 5 ticks of 2 ms
        assert all(tau == 0.0 for _, tau in states[:4])
        assert states[-1][0] is False

    def test_hold_commands_are_applied_like_normal_ones(self, furuta):
        def arm_speed(mode: str) -> float:
            twin = TwinRobot(furuta, TwinConfig(effects=QUIET))
            return run(twin, [5.0], 20, mode=mode)[-1].qd[0]

        assert arm_speed("hold") == pytest.approx(arm_speed("normal"))
        assert arm_speed("hold") > 1.0


@pytest.mark.serial
class TestClock:
    def test_realtime_twin_follows_the_wall_clock_without_blocking(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(effects=QUIET), realtime=True)
        start = time.perf_counter()
        run(twin, [0.0], 50)  # writes queue commands, they do not wait for the period to pass
        assert time.perf_counter() - start < 0.1
        time.sleep(0.03)
        before = twin.now()
        t = twin.read().t  # the simulation caught up with the wall clock while reading
        assert before - 1e-3 <= t <= twin.now()
        assert before >= 0.03

    def test_realtime_twin_keeps_moving_while_its_controller_stalls(self, furuta):
        twin = TwinRobot(furuta, TwinConfig(effects=QUIET), realtime=True)
        run(twin, [4.0], 5)
        time.sleep(0.05)  # the controller stalls: the robot keeps executing its last command
        before = twin.now()
        r = twin.read()
        assert r.t >= before - 0.001  # a fresh reading, not a 50 ms old one
        assert r.t > 0.05

    def test_set_state_is_visible_in_the_next_reading(self, quadruped):
        twin = TwinRobot(quadruped, TwinConfig(effects=QUIET))
        twin.set_state(
            joint_pos={"FL_hip": 0.7}, base_height=0.45, base_quat=[math.cos(0.3), math.sin(0.3), 0, 0]
        )
        r = twin.read()
        assert r.q[0] == pytest.approx(0.7)
        assert r.base_height == pytest.approx(0.45)
        assert 2 * math.atan2(math.hypot(*r.quat[1:3]), math.hypot(r.quat[0], r.quat[3])) == pytest.approx(
            0.6, abs=1e-6
        )

    def test_fixed_base_has_no_base_to_push(self, furuta):
        with pytest.raises(Sim2RealError, match="floating base"):
            TwinRobot(furuta).set_state(base_height=0.3)


class TestTwinFile:
    def test_round_trip(self, tmp_path):
        config = TwinConfig(
            params={"body.pendulum.mass": np.array([0.03]), "body.pendulum.com": np.array([0.0, 0.0, 0.07])},
            effects=TwinEffects(seed=5, no_load_speed=80.0),
        )
        config.save(tmp_path / "twin.yaml")
        back = TwinConfig.load(tmp_path / "twin.yaml")
        assert back.effects == config.effects
        assert set(back.params) == set(config.params)
        np.testing.assert_allclose(back.params["body.pendulum.com"], [0.0, 0.0, 0.07])

    def test_a_plain_parameter_file_is_accepted(self, tmp_path):
        (tmp_path / "p.yaml").write_text("joint.arm.damping: 0.001\n")
        assert TwinConfig.load(tmp_path / "p.yaml").params["joint.arm.damping"][0] == pytest.approx(0.001)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("params: {}\nextra: 1\n", "unknown key"),
            ("effects: {warp_drive: 1}\n", "unknown effect"),
            ("params: {joint.arm.damping: abc}\n", "not a number"),
            ("[1, 2\n", "not valid YAML"),
            ("params: [joint.arm.damping]\n", "'params' must be a map"),
            ("effects: {latency_jitter: .inf}\n", "latency_jitter must be a finite number"),
        ],
    )
    def test_bad_files_are_one_line_errors(self, tmp_path, text, message):
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(Sim2RealError, match=message):
            TwinConfig.load(tmp_path / "bad.yaml")

    def test_missing_file(self, tmp_path, furuta):
        with pytest.raises(Sim2RealError, match="not found"):
            TwinConfig.load(tmp_path / "none.yaml")
        with pytest.raises(Sim2RealError, match=r"make one with `sim2real twin init --robot furuta --out "):
            TwinConfig.load(tmp_path / "none.yaml", spec=furuta)

    def test_a_twin_of_another_robot_says_so(self, tmp_path, furuta):
        (tmp_path / "t.yaml").write_text("params: {body.trunk.mass: 5.0}\n")
        with pytest.raises(Sim2RealError, match=r"a twin of another robot\? `sim2real twin init --robot furuta`"):
            TwinConfig.load(tmp_path / "t.yaml", spec=furuta)


class TestNominalSimulator:
    """TwinEffects.none(): the training simulator itself (sim2sim's nominal run)."""

    def test_it_steps_exactly_like_the_training_model(self, quadruped):
        import mujoco

        from sim2real.robots.model import actuator_indices, build_model, default_qpos

        twin = TwinRobot(quadruped, TwinConfig(effects=TwinEffects.none()))
        model = build_model(quadruped)
        data = mujoco.MjData(model)
        data.qpos[:] = default_qpos(quadruped, model)
        mujoco.mj_forward(model, data)
        target = np.asarray(quadruped.default_pose) + 0.2
        for _ in range(20):
            twin.write(Command(t=twin.now(), values=target))
            data.ctrl[actuator_indices(quadruped, model)] = target
            for _ in range(quadruped.substeps):
                mujoco.mj_step(model, data)
        np.testing.assert_allclose(twin.data.qpos, data.qpos, rtol=0, atol=1e-9)

    def test_safe_mode_damps_and_a_later_command_drives_the_models_own_actuators_again(self, quadruped):
        twin = TwinRobot(quadruped, TwinConfig(effects=TwinEffects.none()))
        twin.set_state(joint_vel={"FL_hip": 2.0})
        twin.stop()
        dof = twin._dof_idx[0]
        # the torque of a step is computed at the predicted velocity of the step's middle
        h = float(twin.model.opt.timestep)
        mid = float(twin.data.qvel[dof] + 0.5 * h * twin.data.qacc[dof])
        twin._fine_step()
        _, qd, tau = twin.joint_state()
        assert tau[0] == pytest.approx(-quadruped.safety.damping * mid, rel=1e-9) and abs(qd[0]) < 2.0
        twin.write(Command(t=twin.now(), values=np.asarray(quadruped.default_pose)))
        assert not twin.safe and twin._coefficients == "own"

    def test_readings_carry_the_base_velocity_in_the_base_frame(self, quadruped):
        twin = TwinRobot(quadruped, TwinConfig(effects=TwinEffects.none()))
        run(twin, np.asarray(quadruped.default_pose) + 0.3, 10)
        np.testing.assert_allclose(twin.read().base_lin_vel, twin.base_state().lin_vel, atol=1e-12)


class TestFrictionAndNetworks:
    def test_hidden_stribeck_friction_acts_as_in_the_training_simulator(self, pendulum):
        from sim2real.sim.batch import BatchSim

        hidden = {"joint.hinge.stribeck": np.array([0.3]), "joint.hinge.stribeck_velocity": np.array([2.0])}

        def swing(params):
            twin = TwinRobot(pendulum, TwinConfig(params=params, effects=QUIET), initial_qpos=np.array([1.0]))
            return np.array([r.q[0] for r in run(twin, [0.0], 400)])

        sim = BatchSim(pendulum, 1, nthread=1)
        sim.params.set(sim.batch, hidden)
        sim.reset(qpos=np.array([[1.0]]))
        trained = []
        for _ in range(400):
            sim.step(np.zeros((1, 1)))
            trained.append(sim.joint_pos[0, 0])
        twin, free = swing(hidden), swing({})
        assert np.max(np.abs(twin - np.array(trained))) < 0.01  # RK4 on a 4x finer step vs implicitfast
        assert np.max(np.abs(twin - free)) > 0.1

    @pytest.mark.parametrize("explicit", [True, False], ids=["explicit_actuators", "model_actuators"])
    def test_a_network_actuator_twin_drives_with_its_network(self, quadruped, tmp_path, explicit):
        # with the model's own actuators (sim2sim's nominal twin) the network's torque is the
        # control of its torque motor; the command itself (a position target) must never be
        from net_testdata import linear_net
        from sim2real.sim.net_actuator import with_actuator_net

        kp = quadruped.actuators[0].kp
        path = linear_net(tmp_path / "pd.onnx", {"g": quadruped.actuated_joints}, [kp, 0.0], dt=quadruped.control_dt)
        target = quadruped.default_pose + 0.2
        quiet = dataclasses.replace(QUIET, latency_jitter=0.0, explicit_actuators=explicit)
        pd = TwinRobot(quadruped, TwinConfig({"actuator.*.kd": np.array([0.0])}, quiet), fixed_base=True)
        net = TwinRobot(with_actuator_net(quadruped, path), TwinConfig({}, quiet), fixed_base=True)
        a, b = run(pd, target, 25)[-1], run(net, target, 25)[-1]
        assert np.max(np.abs(a.q - b.q)) < 0.02
        assert np.max(np.abs(a.q - quadruped.default_pose)) > 0.05

    def test_a_network_actuator_twin_never_imports_torch(self, quadruped, tmp_path):
        import subprocess
        import sys

        from net_testdata import linear_net

        path = linear_net(tmp_path / "pd.onnx", {"g": quadruped.actuated_joints}, [25.0, -0.5], dt=0.02)
        code = f"""
import sys
import numpy as np
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinRobot
from sim2real.robots import load_robot
from sim2real.sim.net_actuator import with_actuator_net
spec = with_actuator_net(load_robot("quadruped"), {str(path)!r})
twin = TwinRobot(spec, fixed_base=True)
for _ in range(5):
    twin.write(Command(t=twin.now(), values=spec.default_pose, mode="normal"))
    assert np.isfinite(twin.read().tau).all()
assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
print("ok")
"""
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().endswith("ok")
