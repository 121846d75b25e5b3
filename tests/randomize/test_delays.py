"""A configured delay of k steps shows in the simulated response: native actuator delay (physics
steps), command delay (control steps) with jitter, and native sensor latency."""

from __future__ import annotations

import numpy as np
from randomize_helpers import get, make_env, still_task


def _steps(env, name):
    return np.rint(get(env, name)[:, 0] / env.spec.physics_dt).astype(int)


def test_native_actuator_delay_shifts_a_torque_step_by_k_physics_steps(specs):
    spec = specs["pendulum"]
    config = {
        "delays": [
            {
                "param": "actuator.motor.delay",
                "mode": "absolute",
                "unit": "physics_steps",
                "dist": "uniform",
                "low": 0,
                "high": 4,
            }
        ]
    }
    n = 24
    env, _ = make_env(spec, config, n, seed=1, task=still_task(spec))
    k = _steps(env, "actuator.motor.delay")
    assert set(k) == {0, 1, 2, 3, 4}
    force, q = [], []
    for i in range(40):
        env.sim.ctrl[:, 0] = 0.5 if i >= 10 else 0.0
        env.sim.batch.step(nstep=1)
        force.append(env.sim.batch.bind("actuator_force")[:, 0].copy())
        q.append(env.sim.qpos[:, 0].copy())
    force, q = np.array(force), np.array(q)
    onset = np.argmax(force != 0, axis=0)
    np.testing.assert_array_equal(onset, 10 + k)
    ref = int(np.flatnonzero(k == 0)[0])
    for i in range(n):  # the whole response is the undelayed one, k physics steps later
        np.testing.assert_allclose(q[k[i] :, i], q[: len(q) - k[i], ref], rtol=0, atol=1e-12)


def test_command_delay_shifts_the_response_by_k_control_steps(specs):
    spec = specs["pendulum"]
    n = 24
    env, randomizer = make_env(
        spec, {"action_delay": {"dist": "uniform", "low": 0, "high": 3}}, n, seed=2, task=still_task(spec)
    )
    d = randomizer.action_delay.copy()
    assert set(d) == {0, 1, 2, 3}
    commands, q = [], []
    for t in range(30):
        env.step(np.full((n, 1), 0.5 if t >= 5 else 0.0))
        commands.append(env.command_values[:, 0].copy())
        q.append(env.joint_pos[:, 0].copy())
    commands, q = np.array(commands), np.array(q)
    np.testing.assert_array_equal(np.argmax(commands != 0, axis=0), 5 + d)
    ref = int(np.flatnonzero(d == 0)[0])
    for i in range(n):
        np.testing.assert_allclose(q[d[i] :, i], q[: len(q) - d[i], ref], rtol=0, atol=1e-12)
        assert np.all(q[: 5 + d[i], i] == 0.0)  # nothing moves before the delayed command arrives


def test_command_delay_jitter_varies_per_step_and_never_reorders_commands(specs):
    spec = specs["pendulum"]
    n = 8
    env, _ = make_env(
        spec,
        {"action_delay": {"dist": "uniform", "low": 1, "high": 1, "jitter": 2}},
        n,
        seed=3,
        task=still_task(spec),
    )
    applied = []
    steps = 300
    for t in range(1, steps + 1):
        env.step(np.full((n, 1), t / 1000.0))  # the command carries its step number
        applied.append(np.rint(env.command_values[:, 0] * 1000).astype(int))
    applied = np.array(applied)
    t = np.arange(1, steps + 1)[:, None]
    lag = (t - applied)[10:]
    assert lag.min() >= 1 and lag.max() <= 3
    for i in range(n):
        assert set(lag[:, i]) == {1, 2, 3}  # the delay changes from step to step
    assert np.all(np.diff(applied, axis=0) >= 0)  # an older command never follows a newer one


def test_native_delay_jitter_is_redrawn_every_control_step(specs):
    spec = specs["pendulum"]
    config = {
        "delays": [
            {
                "param": "actuator.motor.delay",
                "mode": "absolute",
                "unit": "physics_steps",
                "dist": "uniform",
                "low": 1,
                "high": 1,
                "jitter": 2,
            }
        ]
    }
    env, _ = make_env(spec, config, 4, seed=4, task=still_task(spec))
    seen = []
    for _ in range(60):
        env.step(np.zeros((4, 1)))
        seen.append(np.rint(env.sim.batch.expanded("actuator_delay")[:, 0] / spec.physics_dt))
    seen = np.array(seen)
    assert set(np.unique(seen)) == {1, 2, 3}
    assert np.all(np.ptp(seen, axis=0) == 2)


def test_sensor_latency_delays_the_reading_by_k_physics_steps(specs):
    spec = specs["pendulum"]
    config = {
        "sensors": [
            {
                "param": "sensor.hinge_pos.delay",
                "mode": "absolute",
                "unit": "physics_steps",
                "dist": "uniform",
                "low": 0,
                "high": 6,
            }
        ]
    }
    n = 20
    env, _ = make_env(spec, config, n, seed=5, task=still_task(spec))
    k = _steps(env, "sensor.hinge_pos.delay")
    assert set(k) == set(range(7))
    env.sim.reset(qpos=np.full((n, 1), 1.0))  # swinging from 1 rad
    q, reading = [env.sim.qpos[:, 0].copy()], [env.sim.sensor("hinge_pos")[:, 0].copy()]
    for _ in range(30):
        env.sim.batch.step(nstep=1, stage=env.sim.stage)
        q.append(env.sim.qpos[:, 0].copy())
        reading.append(env.sim.sensor("hinge_pos")[:, 0].copy())
    q, reading = np.array(q), np.array(reading)
    for i in range(n):
        np.testing.assert_allclose(reading[k[i] :, i], q[: len(q) - k[i], i], rtol=0, atol=1e-12)
        # before the delay has elapsed the reading is the reset state, not zero
        np.testing.assert_allclose(reading[: k[i] + 1, i], 1.0)
