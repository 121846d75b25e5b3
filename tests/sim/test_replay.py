"""Windowed replay: the protocol (windows, initial states, command hold, delays, interpolation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim2real.errors import LogError, Sim2RealError, SpecMismatchError
from sim2real.gap import measure_gap
from sim2real.gap.reference import PendulumFit, replay_reference
from sim2real.robots import load_robot
from sim2real.sim.replay import Replayer, build_windows, local_slope
from sim2real.sysid.synthetic import excitation_commands, simulate_log

LOG_TRUE = {
    "body.pole.mass": 0.75,
    "joint.hinge.damping": 0.3,
    "joint.hinge.frictionloss": 0.05,
    "actuator.motor.delay": 0.0069,  # MuJoCo's native delay (the synthetic log) rounds up: 7 steps
}
TRUE = {**LOG_TRUE, "actuator.motor.delay": 0.007}
"""The log's parameters as the replay states them: its delays are continuous, 7 steps are 7 ms."""


@pytest.fixture(scope="module")
def spec():
    return load_robot("pendulum")


@pytest.fixture(scope="module")
def log(spec):
    t = spec.control_dt * np.arange(int(4.0 / spec.control_dt))
    u = excitation_commands(spec, t, 3.0, seed=2)
    u[t < 0.1] = 0.0
    return simulate_log(spec, LOG_TRUE, u)


def _replay_error(spec, traj, values, **kwargs) -> np.ndarray:
    windows = build_windows(spec, [traj], **kwargs)
    pred = Replayer(spec, windows).run(values)
    return np.abs(pred.q[0] - windows.q).max(axis=1), windows


class TestExactReplay:
    def test_true_parameters_reproduce_the_log_in_every_window(self, spec, log):
        err, windows = _replay_error(spec, log, TRUE, horizon=0.25)
        assert windows.n_windows == 16
        assert err.max() < 1e-9  # delayed commands come from the history filled before each window

    def test_wrong_delay_is_visible(self, spec, log):
        err, _ = _replay_error(spec, log, {**TRUE, "actuator.motor.delay": 0.0035}, horizon=0.25)
        assert err.max() > 1e-3

    def test_open_loop_replay_is_one_window_per_log(self, spec, log):
        err, windows = _replay_error(spec, log, TRUE, horizon=None)
        assert windows.n_windows == 1 and windows.n_eval == log.n_samples - 1
        assert err.max() < 1e-9

    def test_log_times_off_the_control_grid_are_compared_by_interpolation(self, spec, log):
        rng = np.random.default_rng(0)
        keep = np.sort(rng.choice(log.n_samples, size=log.n_samples // 3, replace=False))
        keep[0] = 0
        sparse = dataclasses.replace(log, t=log.t[keep], q=log.q[keep], qd=log.qd[keep], tau=log.tau[keep])
        err, _ = _replay_error(spec, sparse, TRUE, horizon=0.25)
        assert err.max() < 1e-9  # samples still on the physics grid: exact
        shifted = dataclasses.replace(sparse, t=sparse.t + 0.0004)  # off the physics grid
        shifted = dataclasses.replace(shifted, command_t=log.command_t + 0.0004)
        err, _ = _replay_error(spec, shifted, TRUE, horizon=0.25)
        assert err.max() < 1e-9

    def test_commands_logged_slower_than_the_control_rate_are_held(self, spec):
        t = spec.control_dt * np.arange(800)
        u = excitation_commands(spec, t, 3.0, seed=4)
        u[t < 0.1] = 0.0
        u = u[(np.arange(800) // 4) * 4]  # a new command every 20 ms
        traj = simulate_log(spec, LOG_TRUE, u)
        slow = dataclasses.replace(traj, command_t=traj.command_t[::4], command=traj.command[::4])
        err, _ = _replay_error(spec, slow, TRUE, horizon=0.25)
        assert err.max() < 1e-9

    def test_position_sensor_bias_shifts_the_state_and_the_predictions(self, spec, log):
        biased = dataclasses.replace(log, q=log.q + 0.05)
        err, _ = _replay_error(spec, biased, {**TRUE, "sensor.hinge_pos.bias": 0.05}, horizon=0.25)
        assert err.max() < 1e-9
        err, _ = _replay_error(spec, biased, {**TRUE, "sensor.hinge_pos.bias": 0.0}, horizon=0.25)
        assert err.max() > 1e-3  # gravity acts on the true angle


class TestWindows:
    def test_windows_start_at_the_first_sample_at_or_after_each_stride(self, spec, log):
        windows = build_windows(spec, [log], 0.3, stride=0.5)
        np.testing.assert_allclose(windows.t0, log.t[0] + 0.5 * np.arange(windows.n_windows), atol=1e-9)
        assert np.all(windows.eval_tau > 0) and np.all(windows.eval_tau <= 0.3 + 1e-9)

    def test_velocity_auto_uses_positions_when_the_velocity_column_is_noisy(self, spec, log):
        assert build_windows(spec, [log], 0.25).velocity_source == ("log",)
        rng = np.random.default_rng(1)
        noisy = dataclasses.replace(log, qd=log.qd + rng.normal(0.0, 1.0, log.qd.shape))
        windows = build_windows(spec, [noisy], 0.25)
        assert windows.velocity_source == ("fd",)
        true_qd = log.qd[windows.start]
        assert np.abs(windows.qd0 - true_qd).max() < 0.1

    def test_local_slope_is_exact_for_a_quadratic_on_irregular_times(self, rng):
        t = np.sort(rng.uniform(0, 1, 200))
        q = np.stack([1 + 2 * t - 3 * t**2, -(t**2)], axis=1)
        idx = np.array([0, 50, 199])
        np.testing.assert_allclose(
            local_slope(t, q, idx, 0.02), np.stack([2 - 6 * t[idx], -2 * t[idx]], 1), atol=1e-8
        )

    def test_a_log_of_another_robot_is_refused_by_spec_hash_or_joint_names(self, log):
        with pytest.raises(SpecMismatchError):
            build_windows(load_robot("furuta"), [log], 0.25)
        with pytest.raises(LogError, match="another robot"):  # a CSV import carries no hash
            build_windows(load_robot("furuta"), [dataclasses.replace(log, spec_hash=None)], 0.25)

    def test_a_log_without_commands_is_refused(self, spec, log):
        bare = dataclasses.replace(log, command_t=np.zeros(0), command=None)
        with pytest.raises(LogError, match="no commands"):
            build_windows(spec, [bare], 0.25)

    @pytest.mark.parametrize("horizon", [0.0, -1.0, float("nan")])
    def test_a_bad_horizon_is_refused(self, spec, log, horizon):
        with pytest.raises(Sim2RealError, match="horizon"):
            build_windows(spec, [log], horizon)


class TestMeasureGap:
    def test_true_model_has_zero_gap_and_the_summary_has_the_contract_keys(self, spec, log):
        from sim2real.sysid import calibrated_model

        result = measure_gap(spec, log, model=calibrated_model(spec, TRUE), horizon=0.25)
        summary = result.summary()
        assert {"position_rmse", "velocity_rmse", "divergence_rate", "divergence_time_s", "channels"} <= set(
            summary
        )
        assert summary["position_rmse"] < 1e-9 and summary["divergence_time_s"] is None
        assert set(summary["channels"]) == {"hinge.position", "hinge.velocity", "hinge.torque"}
        assert summary["channels"]["hinge.position"]["wasserstein"] < 1e-9

    def test_nominal_model_diverges_and_reports_where(self, spec, log):
        result = measure_gap(spec, log, horizon=None, threshold=0.02)
        assert result.position_rmse > 0.02
        assert result.divergence_time_s is not None and result.divergence_state is not None
        assert result.divergence_state["tau"] >= 0


class TestReference:
    def test_published_fit_is_parsed_from_the_labs_text_format(self):
        text = "J          = +6.259e-02\nm*cx       = +1.022e-01\nFv         = +4.707e-02\n"
        text += "Fc         = +1.839e-01\noffset     = -7.586e-02\ntau = J * qdotdot + Fc * atan(100*qdot)\n"
        fit = PendulumFit.from_text(text)
        assert (fit.J, fit.mcx, fit.Fv, fit.Fc, fit.offset, fit.k) == (
            0.06259,
            0.1022,
            0.04707,
            0.1839,
            -0.07586,
            100.0,
        )

    def test_ode_replay_uses_the_same_windows_and_is_exact_for_constant_acceleration(self, spec, log):
        windows = build_windows(spec, [log], 0.25)
        q, qd = replay_reference(windows, lambda q, v, u: np.full_like(q, 2.0))
        tau = windows.eval_tau[:, None]
        w = windows.eval_window
        np.testing.assert_allclose(q, windows.q0[w] + windows.qd0[w] * tau + tau**2, atol=1e-9)
        np.testing.assert_allclose(qd, windows.qd0[w] + 2.0 * tau, atol=1e-9)
