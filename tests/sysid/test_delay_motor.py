"""Delay estimation by cross-correlation, and the motor model of torque-sensing robots."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sysid_testdata import FURUTA_TRUE, synthetic_log

from sim2real.logs import Trajectory
from sim2real.robots import load_robot
from sim2real.sysid import estimate_delay, fit_motor_models


class TestDelayEstimate:
    @pytest.mark.parametrize("delay", [0.0, 0.0035, 0.0075])
    def test_cross_correlation_finds_the_delay_to_the_log_resolution(self, furuta, delay):
        log = synthetic_log(
            "furuta", {**FURUTA_TRUE, "actuator.motor.delay": delay}, seconds=6.0, noisy=False
        )
        est = estimate_delay(furuta, [log], max_delay=0.01)
        # 2 ms log period; MuJoCo applies a delay of d as ceil(d / 1 ms) physics steps
        assert est.resolution == pytest.approx(furuta.control_dt)
        assert (
            abs(est.delay - np.ceil(delay / furuta.physics_dt - 1e-9) * furuta.physics_dt) <= est.resolution
        )
        assert est.peak > 0.5

    def test_the_estimate_is_pooled_over_logs(self, furuta):
        logs = [
            synthetic_log(
                "furuta", {**FURUTA_TRUE, "actuator.motor.delay": 0.0055}, seconds=4.0, seed=s, noisy=False
            )
            for s in (1, 2)
        ]
        est = estimate_delay(furuta, logs, max_delay=0.01)
        assert abs(est.delay - 0.006) <= est.resolution


class TestMotorModel:
    def test_ridge_regression_recovers_gain_velocity_term_and_offset(self, pendulum, rng):
        t = np.arange(3000) * 0.005
        u = rng.normal(0, 1, 3000)
        qd = rng.normal(0, 3, 3000)
        tau = 0.9 * u - 0.05 * qd + 0.02 + rng.normal(0, 1e-3, 3000)
        traj = Trajectory(
            spec_hash=None,
            joint_names=("hinge",),
            t=t,
            q=np.zeros((3000, 1)),
            qd=qd[:, None],
            tau=tau[:, None],
            command_t=t,
            command=u[:, None],
        )
        m = fit_motor_models(pendulum, [traj])["hinge"]
        assert (m.a, m.b, m.c) == pytest.approx((0.9, -0.05, 0.02), abs=2e-3)
        assert m.r2 > 0.999 and m.samples == 3000
        np.testing.assert_allclose(m.predict(u, qd), tau, atol=5e-3)

    def test_dc_motor_gain_and_back_emf_from_the_measured_effort(self, furuta):
        true = {**FURUTA_TRUE, "actuator.motor.delay": 0.0}
        log = synthetic_log("furuta", true, seconds=4.0, noisy=False)
        m = fit_motor_models(furuta, [log])["arm"]
        kt, ke, R = 0.042, 0.042, true["motor.motor.resistance"]
        # the log's effort is the force of the control period the command was sent in
        assert m.a == pytest.approx(kt / R, rel=0.05)
        assert m.b == pytest.approx(-kt * ke / R, rel=0.3)

    def test_an_effort_column_that_is_the_command_gives_no_model(self, pendulum):
        spec = load_robot("pendulum")
        log = synthetic_log("pendulum", {"joint.hinge.damping": 0.3}, seconds=2.0)
        echo = dataclasses.replace(log, tau=np.concatenate([log.command, log.command[-1:]]))
        assert fit_motor_models(spec, [echo]) == {}
        assert fit_motor_models(spec, [dataclasses.replace(log, tau=None)]) == {}
