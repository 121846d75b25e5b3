"""Batched simulator: per-simulation fields, actuator equations, native delays, resets."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim2real.params import Parameters
from sim2real.robots import load_robot
from sim2real.robots.actuation import dc_motor_torque, pd_torque
from sim2real.robots.model import build_model, default_qpos
from sim2real.sim.batch import BatchSim, batch_bytes


@pytest.mark.parametrize("robot", ["pendulum", "furuta", "quadruped"])
def test_each_robot_steps_and_stays_finite(robot):
    spec = load_robot(robot)
    sim = BatchSim(spec, 4, nthread=2)
    for _ in range(200):
        sim.step()
    assert sim.check_finite().size == 0
    assert np.allclose(sim.time, 200 * spec.control_dt)


class TestPerSimulationFields:
    def test_two_masses_give_two_different_falls_matching_single_models(self):
        spec = load_robot("pendulum")
        sim = BatchSim(spec, 2, nthread=2)
        masses = np.array([[0.3], [1.2]])
        sim.params.set(sim.batch, {"body.pole.mass": masses, "joint.hinge.damping": 0.05})
        sim.reset(qpos=np.array([[1.0], [1.0]]))
        for _ in range(100):
            sim.step(np.zeros((2, 1)))
        batched = sim.joint_pos[:, 0]
        assert abs(batched[0] - batched[1]) > 1e-3

        # each simulation equals a plain MjModel with that mass
        for i, mass in enumerate(masses[:, 0]):
            model = build_model(spec)
            Parameters(spec, model).set(model, {"body.pole.mass": mass, "joint.hinge.damping": 0.05})
            data = mujoco.MjData(model)
            data.qpos[0] = 1.0
            for _ in range(100 * spec.substeps):
                mujoco.mj_step(model, data)
            assert data.qpos[0] == pytest.approx(batched[i], abs=1e-9)

    def test_reset_only_touches_chosen_simulations(self):
        spec = load_robot("pendulum")
        sim = BatchSim(spec, 3, nthread=2)
        sim.reset(qpos=np.array([[0.5], [0.5], [0.5]]))
        for _ in range(10):
            sim.step(np.zeros((3, 1)))
        moved = sim.joint_pos.copy()
        sim.reset(ids=np.array([1]))
        assert sim.joint_pos[1, 0] == 0.0
        assert sim.time[1] == 0.0
        np.testing.assert_array_equal(sim.joint_pos[[0, 2]], moved[[0, 2]])

    def test_reset_noise_needs_a_generator_and_is_seeded(self):
        spec = load_robot("quadruped")
        a = BatchSim(spec, 2, nthread=1)
        b = BatchSim(spec, 2, nthread=1)
        a.reset(noise=0.1, rng=np.random.default_rng(3))
        b.reset(noise=0.1, rng=np.random.default_rng(3))
        np.testing.assert_array_equal(a.joint_pos, b.joint_pos)
        assert np.all(np.abs(a.joint_pos - spec.default_pose) <= 0.1)
        assert np.any(a.joint_pos != spec.default_pose)


def _one_step_force(spec, values, qpos, qvel, ctrl):
    """Actuator force MuJoCo computes for one physics step from a given state."""
    model = build_model(spec)
    Parameters(spec, model).set(model, values)
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    data.qvel[:] = qvel
    data.ctrl[:] = ctrl
    mujoco.mj_step(model, data)
    return model, data


class TestActuatorModels:
    def test_pd_matches_its_equation(self, rng):
        spec = load_robot("quadruped")
        model = build_model(spec)
        qpos = default_qpos(spec, model) + np.r_[np.zeros(7), rng.uniform(-0.2, 0.2, 12)]
        qvel = rng.uniform(-2, 2, model.nv)
        target = spec.default_pose + rng.uniform(-0.3, 0.3, 12)
        values = {"actuator.*.strength": 0.9, "actuator.*.offset": 0.02, "actuator.*.kp": 30.0, "actuator.*.kd": 0.7}
        model, data = _one_step_force(spec, values, qpos, qvel, target)
        q = qpos[7:]
        qd = qvel[6:]
        limits = np.array([a.torque_limit for a in spec.actuators])
        expected = pd_torque(target, q, qd, 30.0, 0.7, 0.9, 0.02, limits)
        np.testing.assert_allclose(data.actuator_force, expected, rtol=0, atol=1e-9)

    def test_torque_matches_its_equation_and_clips(self):
        spec = load_robot("pendulum")
        for command, strength in [(0.7, 1.0), (-0.4, 1.3), (50.0, 1.0)]:
            _, data = _one_step_force(spec, {"actuator.motor.strength": strength}, [0.3], [1.0], [command])
            expected = np.clip(strength * command, -12.0, 12.0)
            assert data.actuator_force[0] == pytest.approx(expected, abs=1e-9)

    def test_dc_motor_matches_its_equation(self):
        spec = load_robot("furuta")
        values = {"motor.motor.resistance": 7.5, "motor.motor.kt": 0.04, "motor.motor.ke": 0.045}
        for voltage, qd in [(3.0, 5.0), (-6.0, -20.0), (10.0, 0.0)]:
            _, data = _one_step_force(spec, values, [0.1, 0.2], [qd, 0.0], [voltage])
            limit = spec.actuator("arm").torque_limit
            expected = dc_motor_torque(voltage, qd, 7.5, 0.04, 0.045, 1.0, limit)
            assert data.actuator_force[0] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_native_delay_of_k_steps_shifts_a_step_response_by_exactly_k(k):
    spec = load_robot("pendulum")
    dt = spec.physics_dt

    def forces(delay: float) -> np.ndarray:
        model = build_model(spec)
        Parameters(spec, model).set(model, {"actuator.motor.delay": delay})
        data = mujoco.MjData(model)
        out = []
        for i in range(30):
            data.ctrl[0] = 0.5 if i >= 5 else 0.0
            mujoco.mj_step(model, data)
            out.append(data.actuator_force[0])
        return np.array(out)

    undelayed = forces(0.0)
    delayed = forces(k * dt)
    first = int(np.argmax(undelayed != 0))
    assert int(np.argmax(delayed != 0)) == first + k
    np.testing.assert_array_equal(delayed[k:], undelayed[:-k])


def test_sensor_readings_follow_bias_noise_and_quantization(rng):
    from sim2real.sim.sensors import SensorReader, quantize

    spec = load_robot("pendulum")
    sim = BatchSim(spec, 2000, nthread=2)
    sim.params.set(sim.batch, {"sensor.hinge_pos.bias": 0.05, "sensor.hinge_pos.noise": 0.01})
    q, _ = SensorReader(sim, rng).joints()
    assert q.mean() == pytest.approx(0.05, abs=0.002)
    assert q.std() == pytest.approx(0.01, rel=0.1)
    np.testing.assert_allclose(quantize(np.array([0.26, -0.26]), 0.1), [0.3, -0.3])


def test_more_simulations_than_the_memory_holds_are_refused_before_allocating():
    """--envs 1000000 grew to 18 GB in 30 s; now one line naming the need and what is available."""
    from sim2real.errors import SimulationError

    with pytest.raises(SimulationError, match=r"1,000,000,000 simulations need about .* GB .* available: use fewer"):
        BatchSim(load_robot("pendulum"), 10**9)


def test_the_model_a_batch_shares_is_counted_once():
    """mjlab's G1 (71 MB of meshes in its model buffer): `train` refused its 1,024 simulations as
    72.8 GB, counting the model once per simulation; they take about 0.9 GB (measured 0.88 MB each)."""
    terrain = mujoco.MjModel.from_xml_string(
        '<mujoco><asset><hfield name="h" nrow="1500" ncol="1500" size="5 5 0.1 0.1"/></asset><worldbody>'
        '<geom type="hfield" hfield="h"/><body pos="0 0 1"><freejoint/><geom size="0.1"/></body></worldbody></mujoco>'
    )
    assert terrain.nbuffer > 8e6  # 9 MB of height field
    one, per_sim = batch_bytes(terrain, 1)
    thousand, _ = batch_bytes(terrain, 1000)
    assert one >= terrain.nbuffer and per_sim < 0.05 * terrain.nbuffer
    assert thousand - one == 999 * per_sim < 1e9
