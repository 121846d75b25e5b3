"""Windowed replay: the protocol (windows, initial states, command hold, delays, interpolation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pendulum_testdata import LOG_TRUE, TRUE, exact_log
from sim2real.errors import LogError, Sim2RealError, SpecMismatchError
from sim2real.robots import load_robot
from sim2real.sim.replay import Replayer, build_windows, delayed_commands
from sim2real.sysid.synthetic import excitation_commands, simulate_log


@pytest.fixture(scope="module")
def spec():
    return load_robot("pendulum")


@pytest.fixture(scope="module")
def log(spec):
    return exact_log(spec)


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

    def test_a_window_that_spans_a_jump_of_the_log_is_left_out(self, spec, log):
        # an episode reset inside the log: from 2.1 s on the positions are 1 rad further
        jumped = dataclasses.replace(log, q=log.q + np.where(log.t[:, None] >= 2.1, 1.0, 0.0))
        windows = build_windows(spec, [jumped], horizon=0.25)
        assert windows.n_windows == 15
        assert not np.any((windows.t0 < 2.1) & (windows.t0 + 0.25 >= 2.1))

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

    def test_a_stride_below_the_sample_period_starts_a_window_at_every_sample(self, spec, log):
        """--stride 1e-9 made 10^9 window targets (identify ran until killed); now one per sample."""
        windows = build_windows(spec, [log], 0.05, stride=1e-9)
        np.testing.assert_allclose(windows.t0, log.t[: windows.n_windows], atol=1e-12)
        assert windows.n_windows == log.t.size - 1

    def test_velocity_auto_uses_positions_when_the_velocity_column_is_noisy(self, spec, log):
        assert build_windows(spec, [log], 0.25).velocity_source == ("log",)
        rng = np.random.default_rng(1)
        noisy = dataclasses.replace(log, qd=log.qd + rng.normal(0.0, 1.0, log.qd.shape))
        windows = build_windows(spec, [noisy], 0.25)
        assert windows.velocity_source == ("fd",)
        true_qd = log.qd[windows.start]
        assert np.abs(windows.qd0 - true_qd).max() < 0.1

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


class TestDelays:
    def test_a_delay_between_steps_is_the_mean_of_the_commands_it_straddles(self):
        u = np.arange(10, dtype=float)[None, :, None]  # one command per step, lead 4
        out = delayed_commands(u, np.array([[0.0025]]), 0.001, 4)  # 2.5 steps
        np.testing.assert_allclose(out[0, :, 0], 0.5 * (np.arange(4, 10) - 2) + 0.5 * (np.arange(4, 10) - 3))

    def test_whole_steps_replay_exactly_and_the_delay_is_continuous(self, spec, log):
        windows = build_windows(spec, [log], 0.25)
        replayer = Replayer(spec, windows, replicas=3)
        delays = np.array([[0.007], [0.0072], [0.0074]])
        pred = replayer.run({**TRUE, "actuator.motor.delay": delays}, replicas=3)
        err = np.abs(pred.q - windows.q[None]).max(axis=(1, 2))
        assert err[0] < 1e-9 and 0 < err[1] < err[2]  # the error grows smoothly away from 7 steps

    def test_a_delay_past_the_replays_capacity_is_refused(self, spec, log):
        replayer = Replayer(spec, build_windows(spec, [log], 0.25))
        with pytest.raises(Sim2RealError, match="outside what the replay holds"):
            replayer.run({"actuator.motor.delay": replayer.max_delay + 0.01})


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


@pytest.fixture(scope="module")
def walk(quadruped, tmp_path_factory):
    from sim2real.deploy.record import TrotGait, record
    from sim2real.logs import read_bag
    from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot

    exact = TwinEffects(
        substep_factor=1,
        integrator="implicitfast",
        latency_jitter=0.0,
        backlash=0.0,
        position_noise=0.0,
        velocity_noise=0.0,
        gyro_noise=0.0,
        drop_probability=0.0,
    )
    path = tmp_path_factory.mktemp("walk") / "log"
    record(TwinRobot(quadruped, TwinConfig(effects=exact)), TrotGait(quadruped), 3.0, path)
    return read_bag(path)


class TestFloatingBase:
    def test_windows_start_from_the_logged_base_state(self, quadruped, walk):
        windows = build_windows(quadruped, [walk], 0.25)
        assert windows.floating and windows.base_source == ("ground_truth",)
        truth = walk.base_truth
        k = np.searchsorted(truth.t, windows.t0)
        np.testing.assert_allclose(windows.base0[:, :3], truth.position[k], atol=1e-12)
        pred = Replayer(quadruped, windows).run()
        err = np.linalg.norm(pred.base[0][:, :3] - windows.base[:, :3], axis=1)
        assert err.max() < 0.02  # the base follows the log from the logged state on

    def test_a_log_without_base_state_is_refused(self, quadruped, walk):
        bare = dataclasses.replace(walk, base_truth=None, base_estimate=None)
        with pytest.raises(LogError, match="no base state"):
            build_windows(quadruped, [bare], 0.25)

    def test_hung_and_free_logs_only_fit_their_setup(self, quadruped, walk):
        from sim2real.sim.floating import hung_model

        with pytest.raises(LogError, match="free robot"):
            build_windows(quadruped, [walk], 0.25, model=hung_model(quadruped))
        hung = dataclasses.replace(walk, meta={**walk.meta, "fixed_base": True})
        with pytest.raises(LogError, match="hung by its base"):
            build_windows(quadruped, [hung], 0.25)


def test_a_noisy_velocity_column_of_a_log_at_rest_is_reported_in_rad_per_s(spec, caplog):
    # the positions barely move: their slope is ~0, and a share of it (9822177508 %) says nothing
    rng = np.random.default_rng(4)
    still = simulate_log(spec, {}, np.zeros((200, 1)), seed=2)
    n = still.t.size
    still = dataclasses.replace(still, q=np.full((n, 1), 1e-3), qd=0.1 * rng.standard_normal((n, 1)))
    caplog.set_level("INFO", logger="sim2real.sim.velocity_source")
    build_windows(spec, [still], 0.25, names=["still"])
    line = next(r.getMessage() for r in caplog.records if "differs from the positions' slope" in r.getMessage())
    assert "rad/s RMS (the positions barely move)" in line and "%" not in line
