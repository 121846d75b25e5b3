"""Per-simulation draws: in range and distributed as configured (Kolmogorov-Smirnov at fixed seeds),
composed as stated, resampled on reset for the resetting simulations only, reproducible by seed."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from randomize_helpers import get, make_env
from scipy import stats

from sim2real.randomize.links import scale_link
from sim2real.robots.model import build_mjspec

P = 0.001  # at these fixed seeds no test rejects the configured distribution (about 40 tests: a family-wise 4 %)


def assert_clipped_normal(values, mean, std, low, high):
    """N(mean, std) clipped to [low, high]: the bounds carry the tail masses (binomial tests),
    the values between follow the truncated normal (KS)."""
    values = np.asarray(values, dtype=float).ravel()
    assert values.min() >= low - 1e-12 and values.max() <= high + 1e-12
    n = values.size
    at_low, at_high = (
        np.isclose(values, low, rtol=0, atol=1e-12),
        np.isclose(values, high, rtol=0, atol=1e-12),
    )
    for count, mass in (
        (at_low.sum(), stats.norm.cdf(low, mean, std)),
        (at_high.sum(), stats.norm.sf(high, mean, std)),
    ):
        if mass > 1e-4:
            assert stats.binomtest(int(count), n, mass).pvalue > P
        else:
            assert count == 0
    inside = values[~at_low & ~at_high]
    a, b = (low - mean) / std, (high - mean) / std
    assert stats.kstest(inside, stats.truncnorm(a, b, loc=mean, scale=std).cdf).pvalue > P


def assert_uniform_steps(values, low, high):
    """Whole numbers in [low, high], equally frequent (chi-square)."""
    values = np.asarray(values).ravel()
    assert np.all(values == np.round(values))
    counts = np.array([(values == k).sum() for k in range(low, high + 1)])
    assert counts.sum() == values.size
    assert stats.chisquare(counts).pvalue > P


PENDULUM = {
    "physics": [
        {"param": "body.pole.mass", "mode": "scale", "dist": "uniform", "low": 0.8, "high": 1.2},
        {
            "param": "body.pole.com",
            "mode": "additive",
            "dist": "uniform",
            "low": [-0.01, -0.02, -0.04],
            "high": [0.01, 0.02, 0.04],
        },
        {"param": "joint.hinge.damping", "mode": "scale", "dist": "loguniform", "low": 0.3, "high": 3.0},
        {
            "param": "joint.hinge.frictionloss",
            "mode": "absolute",
            "dist": "normal",
            "mean": 0.05,
            "std": 0.02,
            "low": 0.0,
            "high": 0.08,
        },
        {"param": "joint.hinge.armature", "mode": "absolute", "dist": "uniform", "low": 0.0, "high": 0.005},
    ],
    "slope": {"dist": "uniform", "low": 0.0, "high": 0.1},
    "motors": [
        {"param": "actuator.motor.strength", "mode": "scale", "dist": "uniform", "low": 0.8, "high": 1.2},
        {"param": "actuator.motor.torque_limit", "mode": "scale", "dist": "uniform", "low": 0.5, "high": 1.0},
    ],
    "delays": [
        {
            "param": "actuator.motor.delay",
            "mode": "absolute",
            "unit": "physics_steps",
            "dist": "uniform",
            "low": 0,
            "high": 4,
        }
    ],
    "sensors": [
        {
            "param": "sensor.hinge_pos.bias",
            "mode": "absolute",
            "dist": "normal",
            "mean": 0.0,
            "std": 0.01,
            "low": -0.02,
            "high": 0.02,
        },
        {"param": "sensor.hinge_vel.noise", "mode": "absolute", "dist": "uniform", "low": 0.0, "high": 0.05},
        {
            "param": "sensor.hinge_*.delay",
            "mode": "absolute",
            "unit": "physics_steps",
            "dist": "uniform",
            "low": 0,
            "high": 3,
            "shared": True,
        },
    ],
    "action_delay": {"dist": "uniform", "low": 0, "high": 2},
    "dropout": {"dist": "uniform", "low": 0.0, "high": 0.1},
}
N = 2000


@pytest.fixture(scope="module")
def pendulum(specs):
    return make_env(specs["pendulum"], PENDULUM, N, seed=7)


class TestDistributions:
    def test_scale_uniform_mass_and_inertia_follow(self, pendulum, specs):
        env, _ = pendulum
        nominal = env.sim.model.body_mass[1]
        factor = get(env, "body.pole.mass")[:, 0] / nominal
        assert factor.min() >= 0.8 and factor.max() <= 1.2
        assert stats.kstest(factor, stats.uniform(0.8, 0.4).cdf).pvalue > P
        assert stats.kstest(factor, stats.uniform(0.85, 0.4).cdf).pvalue < 1e-6  # the test has power
        inertia = get(env, "body.pole.inertia")
        np.testing.assert_allclose(
            inertia / factor[:, None], np.tile(env.sim.model.body_inertia[1], (N, 1)), rtol=1e-9
        )

    def test_additive_uniform_per_component(self, pendulum):
        env, _ = pendulum
        shift = get(env, "body.pole.com") - env.sim.model.body_ipos[1]
        for axis, half in enumerate((0.01, 0.02, 0.04)):
            assert np.all(np.abs(shift[:, axis]) <= half)
            assert stats.kstest(shift[:, axis], stats.uniform(-half, 2 * half).cdf).pvalue > P

    def test_loguniform_scale(self, pendulum):
        env, _ = pendulum
        factor = get(env, "joint.hinge.damping")[:, 0] / 0.35
        assert factor.min() >= 0.3 and factor.max() <= 3.0
        assert stats.kstest(factor, stats.loguniform(0.3, 3.0).cdf).pvalue > P
        assert stats.kstest(factor, stats.uniform(0.3, 2.7).cdf).pvalue < 1e-6

    def test_clipped_normal_absolute(self, pendulum):
        env, _ = pendulum
        value = get(env, "joint.hinge.frictionloss")[:, 0]
        assert np.any(value == 0.08)  # clipping, not resampling: mass at the bound
        assert_clipped_normal(value, 0.05, 0.02, 0.0, 0.08)
        assert_clipped_normal(get(env, "sensor.hinge_pos.bias")[:, 0], 0.0, 0.01, -0.02, 0.02)
        with pytest.raises(AssertionError):  # the test has power: a shifted mean is rejected
            assert_clipped_normal(value, 0.045, 0.02, 0.0, 0.08)

    def test_motor_strength_and_torque_limit(self, pendulum):
        env, _ = pendulum
        strength = get(env, "actuator.motor.strength")[:, 0]
        assert stats.kstest(strength, stats.uniform(0.8, 0.4).cdf).pvalue > P
        # strength lives in the affine gain MuJoCo applies (torque actuator: gain = strength)
        np.testing.assert_allclose(env.sim.batch.expanded("actuator_gainprm")[:, 0, 0], strength)
        limit = env.sim.batch.expanded("actuator_forcerange")[:, 0]
        np.testing.assert_allclose(limit[:, 0], -limit[:, 1])
        assert stats.kstest(limit[:, 1] / 12.0, stats.uniform(0.5, 0.5).cdf).pvalue > P

    def test_delays_in_whole_physics_steps(self, pendulum, specs):
        env, _ = pendulum
        dt = specs["pendulum"].physics_dt
        assert_uniform_steps(get(env, "actuator.motor.delay")[:, 0] / dt, 0, 4)
        pos, vel = get(env, "sensor.hinge_pos.delay")[:, 0], get(env, "sensor.hinge_vel.delay")[:, 0]
        np.testing.assert_array_equal(pos, vel)  # shared: one latency per robot
        assert_uniform_steps(np.round(pos / dt, 9), 0, 3)

    def test_sensor_noise_command_delay_and_dropout(self, pendulum):
        env, randomizer = pendulum
        noise = get(env, "sensor.hinge_vel.noise")[:, 0]
        assert stats.kstest(noise, stats.uniform(0, 0.05).cdf).pvalue > P
        assert_uniform_steps(randomizer.action_delay, 0, 2)
        drop = env.sensors.drop_prob
        assert stats.kstest(drop, stats.uniform(0, 0.1).cdf).pvalue > P

    def test_slope_tilts_gravity_in_a_random_direction(self, pendulum):
        env, _ = pendulum
        g = get(env, "world.gravity")
        np.testing.assert_allclose(np.linalg.norm(g, axis=1), 9.81)
        tilt = np.arccos(-g[:, 2] / 9.81)
        assert stats.kstest(tilt, stats.uniform(0, 0.1).cdf).pvalue > P
        azimuth = np.mod(np.arctan2(g[:, 1], g[:, 0]), 2 * np.pi)
        assert stats.kstest(azimuth, stats.uniform(0, 2 * np.pi).cdf).pvalue > P


class TestDcMotorAndLegs:
    def test_dc_motor_constants(self, specs):
        config = {
            "motors": [
                {
                    "param": "motor.motor.resistance",
                    "mode": "scale",
                    "dist": "uniform",
                    "low": 0.8,
                    "high": 1.3,
                },
                {
                    "param": "motor.motor.kt",
                    "mode": "absolute",
                    "dist": "uniform",
                    "low": 0.035,
                    "high": 0.05,
                },
                {
                    "param": "motor.motor.ke",
                    "mode": "additive",
                    "dist": "normal",
                    "mean": 0.0,
                    "std": 0.002,
                    "low": -0.005,
                    "high": 0.005,
                },
            ]
        }
        env, _ = make_env(specs["furuta"], config, 1000, seed=3)
        r = get(env, "motor.motor.resistance")[:, 0]
        kt = get(env, "motor.motor.kt")[:, 0]
        ke = get(env, "motor.motor.ke")[:, 0]
        assert stats.kstest(r / 8.4, stats.uniform(0.8, 0.5).cdf).pvalue > P
        assert stats.kstest(kt, stats.uniform(0.035, 0.015).cdf).pvalue > P
        assert_clipped_normal(ke - 0.042, 0.0, 0.002, -0.005, 0.005)
        # the affine coefficients MuJoCo steps with follow: gain = kt / R, velocity bias = -kt ke / R
        np.testing.assert_allclose(env.sim.batch.expanded("actuator_gainprm")[:, 0, 0], kt / r)
        np.testing.assert_allclose(env.sim.batch.expanded("actuator_biasprm")[:, 0, 2], -kt * ke / r)

    def test_quadruped_gains_offsets_imu_and_friction(self, specs):
        spec = specs["quadruped"]
        config = {
            "physics": [
                {
                    "param": "geom.floor.friction",
                    "mode": "absolute",
                    "dist": "uniform",
                    "low": 0.4,
                    "high": 1.0,
                },
                {"param": "body.*.mass", "mode": "scale", "dist": "uniform", "low": 0.9, "high": 1.1},
                {"param": "body.base.mass", "mode": "additive", "dist": "uniform", "low": -1.0, "high": 3.0},
                {"param": "body.*.inertia", "mode": "scale", "dist": "uniform", "low": 0.9, "high": 1.1},
            ],
            "motors": [
                {"param": "actuator.*.kp", "mode": "scale", "dist": "uniform", "low": 0.8, "high": 1.2},
                {
                    "param": "actuator.*.offset",
                    "mode": "absolute",
                    "dist": "normal",
                    "mean": 0.0,
                    "std": 0.02,
                    "low": -0.05,
                    "high": 0.05,
                },
            ],
            "sensors": [
                {
                    "param": "sensor.imu_gyro.noise_density",
                    "mode": "absolute",
                    "dist": "loguniform",
                    "low": 1e-4,
                    "high": 2e-3,
                },
                {
                    "param": "sensor.imu_gyro.bias",
                    "mode": "absolute",
                    "dist": "normal",
                    "mean": 0.0,
                    "std": 0.02,
                    "low": -0.05,
                    "high": 0.05,
                },
            ],
        }
        n = 300
        env, _ = make_env(spec, config, n, seed=11)
        friction = get(env, "geom.floor.friction")[:, 0]
        assert stats.kstest(friction, stats.uniform(0.4, 0.6).cdf).pvalue > P
        kp = np.hstack([get(env, f"actuator.{a.actuator}.kp") for a in spec.actuators]) / 25.0
        assert kp.shape == (n, 12) and np.unique(kp).size == kp.size  # one draw per joint
        assert stats.kstest(kp.ravel(), stats.uniform(0.8, 0.4).cdf).pvalue > P
        offset = np.hstack([get(env, f"actuator.{a.actuator}.offset") for a in spec.actuators])
        assert_clipped_normal(offset, 0.0, 0.02, -0.05, 0.05)
        # noise density -> per-reading standard deviation density / sqrt(control_dt)
        sigma = get(env, "sensor.imu_gyro.noise")[:, 0]
        density = sigma * math.sqrt(spec.control_dt)
        assert stats.kstest(density, stats.loguniform(1e-4, 2e-3).cdf).pvalue > P
        bias = get(env, "sensor.imu_gyro.bias")
        assert bias.shape == (n, 3)
        assert_clipped_normal(bias, 0.0, 0.02, -0.05, 0.05)
        # composition: base mass = nominal x U(0.9, 1.1) + U(-1, 3); inertia = nominal x mass ratio x U(0.9, 1.1)
        base = get(env, "body.base.mass")[:, 0]
        assert base.min() >= 6.921 * 0.9 - 1.0 and base.max() <= 6.921 * 1.1 + 3.0
        # a sum of two uniforms, not a uniform
        assert stats.kstest(base, stats.uniform(6.921 - 0.6921 - 1.0, 1.3842 + 4.0).cdf).pvalue < 1e-3
        assert np.mean(base) == pytest.approx(6.921 + 1.0, abs=0.1)
        ratio = get(env, "body.base.inertia") / env.sim.model.body_inertia[1] / (base / 6.921)[:, None]
        assert ratio.min() >= 0.9 - 1e-9 and ratio.max() <= 1.1 + 1e-9
        np.testing.assert_allclose(ratio, ratio[:, :1].repeat(3, axis=1))  # one scale for the three moments
        assert stats.kstest(ratio[:, 0], stats.uniform(0.9, 0.2).cdf).pvalue > P


class TestLinkLengths:
    def test_pool_scales_and_per_simulation_geometry(self, specs):
        spec = specs["pendulum"]
        config = {
            "physics": [
                {"param": "link.pole.length", "mode": "scale", "dist": "uniform", "low": 0.9, "high": 1.1}
            ],
            "link_pool": 64,
        }
        env, randomizer = make_env(spec, config, 200, seed=5)
        pool = randomizer.pool
        scales = pool.scales[:, 0]
        assert scales.min() >= 0.9 and scales.max() <= 1.1
        assert stats.kstest(scales, stats.uniform(0.9, 0.2).cdf).pvalue > P
        s = scales[randomizer.variant]
        assert np.unique(randomizer.variant).size > 40  # the simulations spread over the pool
        bob = mujoco.mj_name2id(env.sim.model, mujoco.mjtObj.mjOBJ_GEOM, "bob")
        rod = mujoco.mj_name2id(env.sim.model, mujoco.mjtObj.mjOBJ_GEOM, "rod")
        np.testing.assert_allclose(env.sim.batch.expanded("geom_pos")[:, bob, 2], -0.5 * s)
        np.testing.assert_allclose(env.sim.batch.expanded("geom_size")[:, rod, 1], 0.25 * s)
        np.testing.assert_allclose(get(env, "body.pole.com"), np.outer(s, env.sim.model.body_ipos[1]))
        # what set_const derives from the geometry matches a model compiled at that length
        i = int(np.argmax(s))
        mjspec = build_mjspec(spec)
        scale_link(mjspec, "pole", float(s[i]))
        compiled = mjspec.compile()
        np.testing.assert_allclose(env.sim.batch.expanded("geom_rbound")[i], compiled.geom_rbound)
        np.testing.assert_allclose(env.sim.batch.expanded("geom_aabb")[i], compiled.geom_aabb)


class TestResampling:
    def test_only_the_resetting_simulations_draw_again(self, specs):
        env, randomizer = make_env(specs["pendulum"], PENDULUM, 16, seed=1)
        names = [t.name for t in randomizer.targets]
        before = {n: get(env, n).copy() for n in names}
        ids = np.array([3, 9])
        env.reset(ids)
        others = np.setdiff1d(np.arange(16), ids)
        for n in names:
            after = get(env, n)
            np.testing.assert_array_equal(after[others], before[n][others])
        changed = [n for n in names if not np.array_equal(get(env, n)[ids], before[n][ids])]
        assert "body.pole.mass" in changed and "sensor.hinge_pos.bias" in changed

    def test_same_seed_same_samples_other_seed_other_samples(self, specs):
        spec = specs["furuta"]
        a, ra = make_env(spec, "full", 32, seed=4)
        b, _ = make_env(spec, "full", 32, seed=4)
        c, _ = make_env(spec, "full", 32, seed=5)
        for _ in range(3):
            a.reset(np.array([1, 2]))
            b.reset(np.array([1, 2]))
        names = [t.name for t in ra.targets] + ["world.gravity"]
        for n in names:
            np.testing.assert_array_equal(get(a, n), get(b, n))
        assert not np.array_equal(get(a, "body.arm.mass"), get(c, "body.arm.mass"))
        np.testing.assert_array_equal(a.sim.batch.expanded("geom_size"), b.sim.batch.expanded("geom_size"))
        np.testing.assert_array_equal(a.sensors.drop_prob, b.sensors.drop_prob)
