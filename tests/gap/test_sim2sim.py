"""sim2sim: a policy through the deploy loop in MuJoCo, its figures from the true state, and the gate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim2real.cli import main
from sim2real.gap.sim2sim import Sim2SimGate, heading_velocity, run_sim2sim, sim2sim_check
from sim2real.policy.linear import write_linear_policy
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


@pytest.fixture(scope="module")
def standing(quadruped, tmp_path_factory):
    """A policy that holds the default pose (zero action)."""
    return write_linear_policy(quadruped, tmp_path_factory.mktemp("standing") / "policy.onnx")


@pytest.fixture(scope="module")
def collapsing(quadruped, tmp_path_factory):
    """A policy that folds every knee as far as it goes: the trunk drops onto the floor."""
    bias = np.array([0.0, 1.0, 1.0] * 4) * 3.0  # atanh-free: tanh(3) ~ 1, thighs and calves driven hard
    return write_linear_policy(quadruped, tmp_path_factory.mktemp("collapsing") / "policy.onnx", bias=bias)


class TestFigures:
    def test_heading_velocity_rotates_by_the_yaw_and_gives_the_world_yaw_rate(self):
        yaw = 0.7
        quat = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
        world = np.array([math.cos(yaw), math.sin(yaw), 0.0]) * 0.5  # 0.5 m/s straight ahead
        np.testing.assert_allclose(
            heading_velocity(quat, world, np.array([0.0, 0.0, 0.3])), [0.5, 0.0, 0.3], atol=1e-12
        )

    def test_a_standing_policy_neither_falls_nor_moves(self, quadruped, standing):
        result = run_sim2sim(quadruped, standing, velocity_command=(0.0, 0.0, 0.0), seconds=2.0)
        assert not result["fell"] and result["ticks"] == 100
        assert np.abs(result["mean_base_velocity"]).max() < 0.05
        assert result["tracking_error"]["linear"] < 0.05
        assert (
            0.0 < result["torque_margin"]["min_fraction"] <= 1.0
            and result["joint_limit_margin"]["min_rad"] > 0
        )
        assert result["simulator"]["actuators"] == "the model's own (implicit PD)"
        assert not result["safety"]["latched"]

    def test_a_collapse_is_a_fall(self, quadruped, collapsing):
        result = run_sim2sim(quadruped, collapsing, velocity_command=(0.0, 0.0, 0.0), seconds=2.0)
        assert result["fell"] and result["fell_at_s"] is not None and result["fell_at_s"] < 2.0


class TestGate:
    def test_the_check_runs_a_different_simulator_and_reports_what_moved(self, quadruped, standing):
        result = sim2sim_check(quadruped, standing, velocity_command=(0.0, 0.0, 0.0), seconds=1.0)
        assert result["check"]["simulator"]["integrator"] == "RK4"
        assert result["check"]["simulator"]["actuators"] == "explicit, each fine step"
        assert result["check"]["simulator"]["timestep"] == pytest.approx(quadruped.physics_dt / 4)
        assert result["gate"]["passed"], result["gate"]
        assert set(result["changes"]) >= {
            "mean_base_velocity",
            "tracking_error.linear",
            "torque_margin.min_fraction",
        }

    def test_the_gate_fails_on_a_fall_or_a_moved_velocity(self, quadruped, collapsing):
        result = sim2sim_check(quadruped, collapsing, velocity_command=(0.0, 0.0, 0.0), seconds=1.5)
        assert not result["gate"]["passed"] and any("fell" in r for r in result["gate"]["reasons"])
        tight = Sim2SimGate(velocity=0.0, yaw_rate=0.0, relative=0.0)
        assert "0 m/s" in tight.describe()

    def test_the_command_exits_1_when_the_gate_fails_and_prints_json(self, collapsing, standing, capsys):
        code = main(
            [
                "sim2sim",
                "--robot",
                "quadruped",
                "--policy",
                str(collapsing),
                "--seconds",
                "1",
                "--check",
                "--json",
            ]
        )
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert code == 1 and not result["gate"]["passed"]
        code = main(
            ["sim2sim", "--robot", "quadruped", "--policy", str(standing), "--seconds", "1", "--json"]
        )
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert code == 0 and result["fell"] is False and len(result["mean_base_velocity"]) == 3

    def test_a_command_outside_the_trained_ranges_is_a_one_line_warning(self, standing, capsys):
        args = ["sim2sim", "--robot", "quadruped", "--policy", str(standing), "--seconds", "0.1", "--json"]
        assert main([*args, "--velocity-command", "0", "0", "9"]) == 0
        warnings = [x for x in capsys.readouterr().err.splitlines() if "outside the command ranges" in x]
        assert len(warnings) == 1 and "yaw rate 9 rad/s not in" in warnings[0]
        assert main([*args, "--velocity-command", "0.5", "0", "0"]) == 0
        assert "outside the command ranges" not in capsys.readouterr().err
