"""Gap measurement: contract keys, divergence, reference models on the same windows, floating bases."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from gap_testdata import pendulum_log

from pendulum_testdata import TRUE, exact_log
from sim2real.cli import main
from sim2real.errors import SimulationError
from sim2real.gap import build_windows, measure_gap
from sim2real.gap.reference import PendulumFit, replay_reference
from sim2real.robots import load_robot
from sim2real.robots.model import build_model


@pytest.fixture(scope="module")
def spec():
    return load_robot("pendulum")


@pytest.fixture(scope="module")
def log(spec):
    return exact_log(spec)


class TestMeasureGap:
    def test_true_model_has_zero_gap_and_the_summary_has_the_contract_keys(self, spec, log):
        from sim2real.calibration import calibrated_model

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
        line = result.divergence_text()
        q, q_sim = result.divergence_state["q"][0], result.divergence_state["q_sim"][0]
        assert line == f"first at t={result.divergence_state['t']:.3f} s of {log.meta['source']}: q hinge {q:.4g} (sim {q_sim:.4g})"

    def test_the_divergence_point_is_printed_rounded_with_the_joints_farthest_apart(self, spec, log):
        """mjlab's G1: gap printed the 29 logged and simulated positions there in full, 16 digits each."""
        result = measure_gap(spec, log, horizon=None, threshold=0.02)
        state = {**result.divergence_state, "q": [0.1, 0.2, 0.30000000000000004, 0.4], "q_sim": [0.1, 0.5, 0.3, 0.41]}
        many = dataclasses.replace(result, joints=("a", "b", "c", "d"), divergence_state=state)
        assert many.divergence_text(shown=2).endswith(
            ": q b 0.2 (sim 0.5), d 0.4 (sim 0.41) (the 2 of 4 joints farthest apart)"
        )
        assert many.summary()["divergence_state"]["q"][2] == 0.30000000000000004  # JSON: full values
        assert dataclasses.replace(result, divergence_state=None).divergence_text() is None


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


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """3 s of the open-loop trot on a quadruped twin with no hidden parameter and no unmodeled effect."""
    path = tmp_path_factory.mktemp("walk") / "log"
    twin = tmp_path_factory.mktemp("twin") / "exact.yaml"
    twin.write_text(
        "effects: {substep_factor: 1, integrator: implicitfast, latency_jitter: 0.0, backlash: 0.0,\n"
        "          position_noise: 0.0, velocity_noise: 0.0, gyro_noise: 0.0, drop_probability: 0.0}\n"
    )
    args = ["record", "--robot", "quadruped", "--twin", str(twin), "--excite", "trot", "--seconds", "3"]
    assert main([*args, "--out", str(path), "--json"]) == 0
    return path


class TestFloatingBase:
    def test_an_exact_twin_replays_below_0_01_rad(self, capsys, walk):
        capsys.readouterr()
        assert main(["gap", str(walk), "--robot", "quadruped", "--horizon", "0.25", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["position_rmse"] < 0.01
        assert summary["base_position_rmse"] < 0.02 and summary["base_velocity_rmse"] < 0.2
        # the log carries the on-board estimate next to the twin's truth
        assert 0 < summary["base_velocity_estimate_rmse"] <= 0.1

    def test_a_fixed_base_robot_reports_no_base_figures(self, spec, log):
        summary = measure_gap(spec, log, horizon=0.25).summary()
        assert summary["base_position_rmse"] is None and summary["base_velocity_estimate_rmse"] is None


class TestDivergedReplay:
    def test_a_replay_mujoco_stops_as_diverged_is_one_clear_error(self):
        """Menagerie's go2_mjx (solver iterations 1) blew up in the replay: MuJoCo stopped the window
        and gap reported its frozen state as a 4 rad error with 'no divergence'."""
        spec = load_robot("pendulum")
        model = build_model(spec)
        model.jnt_stiffness[:] = 1e9  # a spring far too stiff for the 5 ms step
        with pytest.raises(SimulationError, match=r"no gap measured: the replay diverged in \d+ of \d+ windows .* unstable"):
            measure_gap(spec, pendulum_log(), model=model, horizon=0.25)
        assert measure_gap(spec, pendulum_log(), model=build_model(spec), horizon=0.25).position_rmse < 0.1
