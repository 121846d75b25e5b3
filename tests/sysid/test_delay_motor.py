"""Delay estimation by cross-correlation, and the motor model of torque-sensing robots."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sysid_testdata import FURUTA_TRUE, synthetic_log

from sim2real.logs import Trajectory
from sim2real.robots import load_robot
from sim2real.sysid import estimate_delay, fit_motor_models
from sim2real.sysid.motor import ridge_motor_model


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


def _effort_log(joint, t, q, qd, tau, command):
    """A log of one joint whose command k is sent at t[k], right after the reading at t[k]."""
    return Trajectory(
        spec_hash=None,
        joint_names=(joint,),
        t=t,
        q=q[:, None],
        qd=qd[:, None],
        tau=tau[:, None],
        command_t=t,
        command=command[:, None],
    )


def _sent_before(u, periods):
    """The command in force at each reading: the one sent ``periods`` readings earlier (the first
    before it)."""
    return np.concatenate([np.full(periods, u[0]), u[:-periods]])


class TestMotorModel:
    def test_ridge_regression_recovers_gain_velocity_term_and_offset(self, pendulum, rng):
        t = np.arange(3000) * 0.005
        u = rng.normal(0, 1, 3000)
        qd = rng.normal(0, 3, 3000)
        # a reading's effort comes from the command sent before it (the one stamped with the
        # reading's own time is computed from it)
        tau = 0.9 * _sent_before(u, 1) - 0.05 * qd + 0.02 + rng.normal(0, 1e-3, 3000)
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
        assert m.r2 > 0.999 and m.samples == 3000 and m.drive == "torque"
        np.testing.assert_allclose(m.predict(_sent_before(u, 1), qd), tau, atol=5e-3)
        assert m.describe().startswith("tau = 0.9") and "* command" in m.describe()
        assert m.meaning() == pytest.approx({"strength": 0.9, "viscous": 0.05, "offset": 0.02}, abs=2e-3)

    def test_a_pd_drive_is_fitted_on_its_position_error_and_read_as_its_gains(self, rng):
        """mjlab's G1 waist_pitch (kp 28.5, kd 1.81): fitted on its target alone, 'tau = -193 x
        command' (R^2 0.3); the torque of a PD drive is s kp (target + offset - q) - s kd qd."""
        spec = load_robot("quadruped")
        act = spec.actuator("FL_calf")
        n, kp, kd, offset = 3000, act.kp, act.kd, 0.01
        t = np.arange(n) * spec.control_dt
        target = 0.3 * np.sin(2 * np.pi * 0.7 * t) + rng.normal(0, 0.05, n)
        q = 0.25 * np.sin(2 * np.pi * 0.7 * t - 0.4) + rng.normal(0, 0.05, n)
        qd = rng.normal(0, 2.0, n)
        tau = kp * (_sent_before(target, 1) + offset - q) - kd * qd + rng.normal(0, 1e-3, n)
        m = fit_motor_models(spec, [_effort_log(act.joint, t, q, qd, tau, target)])[act.joint]
        assert m.drive == "pd" and m.r2 > 0.999
        assert m.meaning() == pytest.approx({"stiffness": kp, "damping": kd, "offset": offset}, rel=1e-2)
        line = m.describe()
        assert "* (target - q)" in line and f"stiffness s*kp {kp:.4g} N m/rad" in line, line
        assert m.as_dict()["input"] == "position_error"
        assert m.implausible() is None and "implausible" not in line

    def test_a_negative_stiffness_is_called_implausible(self, rng):
        """Gymnasium's humanoid, a chirp safe-stopped after 0.28 s (14 samples): right_hip_z was
        printed as 'stiffness s*kp -16.19 N m/rad' (R^2 0.989) with nothing said of it."""
        u, v = rng.normal(0, 0.02, 14), rng.normal(0, 1.0, 14)
        m = dataclasses.replace(ridge_motor_model("hip", u, v, -16.0 * u + 4.0 * v), drive="pd")
        assert m.r2 > 0.99 and m.a < 0
        assert "implausible: a pd drive's stiffness is positive; 14 samples" in m.describe()
        assert m.as_dict()["implausible"] == m.implausible()
        weak = dataclasses.replace(m, drive="torque")
        assert "torque drive's strength is positive" in weak.describe()

    def test_samples_at_the_torque_limit_are_left_out(self, rng):
        # a PD drive pushed past its limit delivers the limit, not kp * error: those samples would
        # pull the fitted stiffness down
        spec = load_robot("quadruped")
        act = spec.actuator("FL_calf")
        n, limit = 3000, act.torque_limit
        t = np.arange(n) * spec.control_dt
        error, qd = rng.normal(0, 1.5, n), rng.normal(0, 2.0, n)
        tau = np.clip(act.kp * _sent_before(error, 1) - act.kd * qd, -limit, limit)
        assert 0.1 < np.mean(np.abs(tau) >= limit) < 0.5
        m = fit_motor_models(spec, [_effort_log(act.joint, t, np.zeros(n), qd, tau, error)])[act.joint]
        assert (m.a, -m.b) == pytest.approx((act.kp, act.kd), rel=1e-4)
        assert m.samples == int(np.sum(np.abs(tau) < 0.98 * limit))

    def test_the_command_in_force_is_the_one_sent_before_the_drives_delay(self, pendulum, rng):
        # a 12 ms delay at a 5 ms log period: the command sent three readings before acts
        n = 3000
        t = np.arange(n) * 0.005
        u, qd = rng.normal(0, 1, n), rng.normal(0, 3, n)
        tau = 0.9 * _sent_before(u, 3) - 0.05 * qd
        log = _effort_log("hinge", t, np.zeros(n), qd, tau, u)
        late = fit_motor_models(pendulum, [log], delays={"hinge": 0.012})["hinge"]
        assert (late.a, late.b, late.r2) == pytest.approx((0.9, -0.05, 1.0), abs=1e-6)
        assert fit_motor_models(pendulum, [log])["hinge"].r2 < 0.5  # the delay left out

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
