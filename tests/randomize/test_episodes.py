"""Per-episode draws hold for the whole episode and change across episodes; dropped readings
repeat the previous reading; pushes arrive at the configured intervals and magnitudes."""

from __future__ import annotations

import numpy as np
import pytest
from randomize_helpers import get, make_env, still_task
from scipy import stats

BIAS = {
    "sensors": [
        {"param": "sensor.hinge_pos.bias", "mode": "absolute", "dist": "uniform", "low": -0.05, "high": 0.05},
    ],
    "physics": [{"param": "body.pole.mass", "mode": "scale", "dist": "uniform", "low": 0.8, "high": 1.2}],
}


class TestPerEpisode:
    def test_encoder_bias_is_constant_within_an_episode_and_changes_across(self, specs):
        spec = specs["pendulum"]
        env, _ = make_env(spec, BIAS, 8, seed=2, task=still_task(spec))
        ids = np.arange(8)
        episodes = []
        for _ in range(3):
            seen = []
            for _ in range(20):
                env.step(np.zeros((8, 1)))
                reading, _ = env.sensors.joints()  # no noise: reading = true angle + bias
                seen.append(reading[:, 0] - env.joint_pos[:, 0])
            seen = np.array(seen)
            np.testing.assert_allclose(seen, np.broadcast_to(seen[0], seen.shape), atol=1e-12)
            np.testing.assert_allclose(seen[0], get(env, "sensor.hinge_pos.bias")[:, 0], atol=1e-12)
            episodes.append(seen[0])
            mass = get(env, "body.pole.mass").copy()
            env.reset(ids)  # the same path as an episode that ends
            assert np.all(get(env, "body.pole.mass") != mass)
        assert np.all(np.abs(episodes[0] - episodes[1]) > 0) and np.all(np.abs(episodes[1] - episodes[2]) > 0)

    def test_imu_bias_rides_on_the_gyro_reading_per_episode(self, specs):
        spec = specs["quadruped"]
        config = {
            "sensors": [
                {
                    "param": "sensor.imu_gyro.bias",
                    "mode": "absolute",
                    "dist": "normal",
                    "mean": 0.0,
                    "std": 0.02,
                    "low": -0.05,
                    "high": 0.05,
                }
            ]
        }
        env, _ = make_env(spec, config, 4, seed=3, task=still_task(spec))
        first = None
        for episode in range(2):
            offsets = []
            for _ in range(5):
                env.step(np.zeros((4, 12)))
                offsets.append(env.sensors.read("imu_gyro") - env.sim.sensor("imu_gyro"))
            offsets = np.array(offsets)
            np.testing.assert_allclose(offsets, np.broadcast_to(offsets[0], offsets.shape), atol=1e-12)
            assert np.abs(offsets[0]).max() > 0
            if episode == 0:
                first = offsets[0]
            env.reset()
        assert np.all(offsets[0] != first)


class TestDroppedReadings:
    def test_a_dropped_reading_repeats_the_previous_one_at_the_drawn_rate(self, specs):
        spec = specs["pendulum"]
        config = {
            "dropout": {"dist": "uniform", "low": 0.0, "high": 0.5},
            "sensors": [
                {
                    "param": "sensor.hinge_pos.noise",
                    "mode": "absolute",
                    "dist": "uniform",
                    "low": 0.01,
                    "high": 0.02,
                }
            ],
        }
        env, _ = make_env(spec, config, 64, seed=4, task=still_task(spec))
        prob = env.sensors.drop_prob.copy()
        assert prob.min() >= 0 and prob.max() <= 0.5 and np.unique(prob).size == 64
        readings = []
        for _ in range(400):  # the observation of each step is built from one reading of the encoders
            readings.append(env.step(np.zeros((64, 1))).obs[:, :3])
        readings = np.array(readings)
        # with noise, equal consecutive readings are drops
        held = np.all(readings[1:] == readings[:-1], axis=2)
        rate = held.mean(axis=0)
        assert stats.pearsonr(rate, prob).statistic > 0.95
        np.testing.assert_allclose(rate, prob, atol=0.1)
        # the next episode starts with a fresh reading
        last = env.sensors.joints()[0][:, 0].copy()
        env.reset()
        assert np.all(env.sensors.joints()[0][:, 0] != last)


class TestPushes:
    def test_pushes_arrive_at_the_configured_intervals_with_the_configured_magnitudes(self, specs):
        spec = specs["pendulum"]
        config = {"pushes": {"body": "pole", "force": [1.0, 3.0], "duration": 0.05, "interval": [0.5, 1.0]}}
        n = 16
        env, randomizer = make_env(spec, config, n, seed=5, task=still_task(spec))
        body = randomizer.pushes.body_id
        dt = spec.control_dt
        forces = []
        for _ in range(round(6.0 / dt)):  # 6 s, inside one 10 s episode
            env.step(np.zeros((n, 1)))
            forces.append(env.sim.xfrc_applied[:, body, :3].copy())
        forces = np.array(forces)  # (T, n, 3): the force applied during each step
        on = np.linalg.norm(forces, axis=2) > 0
        assert np.all(forces[..., 2] == 0)  # horizontal
        magnitudes, gaps, lengths = [], [], []
        for i in range(n):
            starts = np.flatnonzero(on[1:, i] & ~on[:-1, i]) + 1
            if on[0, i]:
                starts = np.r_[0, starts]
            assert starts.size >= 5
            gaps.extend(np.diff(starts) * dt)
            for s in starts:
                end = s
                while end < len(on) and on[end, i]:
                    end += 1
                if end < len(on):  # not cut off by the end of the recording
                    lengths.append((end - s) * dt)
                magnitudes.append(np.linalg.norm(forces[s, i]))
                np.testing.assert_allclose(forces[s:end, i], np.broadcast_to(forces[s, i], (end - s, 3)))
            # the first push comes one interval after the episode start
            assert 0.5 - dt <= (starts[0] + 1) * dt <= 1.0 + dt
        gaps, magnitudes = np.array(gaps), np.array(magnitudes)
        assert gaps.min() >= 0.5 - dt and gaps.max() <= 1.0 + dt
        np.testing.assert_allclose(lengths, 0.05, atol=dt + 1e-9)
        assert magnitudes.min() >= 1.0 and magnitudes.max() <= 3.0
        assert stats.kstest(magnitudes, stats.uniform(1.0, 2.0).cdf).pvalue > 0.001
        # start times are on the control-step grid: compare with the interval distribution rounded up to it
        grid = np.ceil(stats.uniform(0.5, 0.5).rvs(200000, random_state=0) / dt) * dt
        assert stats.ks_2samp(gaps, grid).pvalue > 0.001
        assert stats.ks_2samp(gaps, grid + 0.1).pvalue < 1e-3  # the test has power

    def test_a_push_moves_the_robot(self, specs):
        spec = specs["pendulum"]
        config = {"pushes": {"body": "pole", "force": [3.0, 3.0], "duration": 0.1, "interval": [0.2, 0.2]}}
        env, _ = make_env(spec, config, 2, seed=6, task=still_task(spec))
        for _ in range(round(0.4 / spec.control_dt)):
            env.step(np.zeros((2, 1)))
        assert np.all(np.abs(env.joint_pos[:, 0]) > 0.01)


@pytest.mark.parametrize("robot", ["pendulum", "furuta", "quadruped"])
def test_full_randomization_keeps_every_observation_finite(specs, robot):
    spec = specs[robot]
    env, _ = make_env(spec, "full", 8, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        result = env.step(rng.uniform(-1, 1, (8, spec.n_actions)))
        assert np.all(np.isfinite(result.obs)) and np.all(np.isfinite(result.critic_obs))
    env.reset()
    assert np.all(np.isfinite(env.observe()[0]))
