"""Transfer envelope: grid parsing, parameter resolution, success rates on the twin, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gap_testdata import balance_policy, balance_task

from sim2real.cli import main
from sim2real.errors import ParameterError, PolicyError, Sim2RealError
from sim2real.gap.envelope import EnvelopeConfig, evaluate_envelope, parse_grid, resolve_axes
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def spec():
    return load_robot("pendulum")


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return balance_policy(tmp_path_factory.mktemp("envelope") / "balance.onnx")


class TestParseGrid:
    def test_two_axes_are_linspaces(self):
        axes = parse_grid("actuator.*.delay=0:0.03:4, geom.floor.friction=0.3:1.5:4")
        assert [a for a, _ in axes] == ["actuator.*.delay", "geom.floor.friction"]
        np.testing.assert_allclose(axes[0][1], [0.0, 0.01, 0.02, 0.03])
        np.testing.assert_allclose(axes[1][1], [0.3, 0.7, 1.1, 1.5])

    def test_a_single_point_axis(self):
        ((name, values),) = parse_grid("body.pole.mass=0.7:0.7:1")
        assert name == "body.pole.mass" and values.tolist() == [0.7]

    @pytest.mark.parametrize(
        "grid",
        [
            "",
            "body.pole.mass",
            "body.pole.mass=0.1:1",
            "body.pole.mass=a:1:3",
            "body.pole.mass=0.1:1:2.5",
            "body.pole.mass=1:0.1:3",
            "body.pole.mass=0.1:1:0",
            "body.pole.mass=0.5:0.5:3",
            "body.pole.mass=0.1:1:2,body.pole.mass=0.1:1:2",
            "a.b.c=0:1:2,d.e.f=0:1:2,g.h.i=0:1:2",
        ],
    )
    def test_bad_grids_are_one_clear_error(self, grid):
        with pytest.raises(Sim2RealError, match="grid"):
            parse_grid(grid)


class TestResolveAxes:
    def test_patterns_resolve_to_the_robots_parameters_with_units(self, spec):
        (axis,) = resolve_axes(spec, "actuator.*.delay=0:0.03:2")
        assert axis.params == ("actuator.motor.delay",) and axis.unit == "s"

    def test_unknown_parameter(self, spec):
        with pytest.raises(ParameterError):
            resolve_axes(spec, "geom.floor.friction=0.3:1.5:2")

    def test_vector_parameters_cannot_be_gridded(self, spec):
        with pytest.raises(ParameterError, match="scalar"):
            resolve_axes(spec, "body.pole.com=0:1:2")


class TestEvaluate:
    def test_success_rate_has_the_grid_shape_and_a_hopeless_cell_fails(self, spec, policy):
        result = evaluate_envelope(
            spec,
            policy,
            "actuator.motor.strength=0.01:1:2,joint.hinge.damping=0.1:0.35:2",
            config=EnvelopeConfig(episodes=2, seed=1),
            task=balance_task(1.5),
        )
        assert result.success_rate.shape == (2, 2)
        assert result.successes.shape == (2, 2, 2)
        # with 1 % of its motor the pendulum falls; with all of it the controller holds it up
        np.testing.assert_array_equal(result.success_rate[0], [0.0, 0.0])
        np.testing.assert_array_equal(result.success_rate[1], [1.0, 1.0])
        assert result.nominal == {"actuator.motor.strength": 1.0, "joint.hinge.damping": pytest.approx(0.35)}
        s = result.summary()
        assert [a["name"] for a in s["axes"]] == ["actuator.motor.strength", "joint.hinge.damping"]
        assert s["episodes"] == 2 and np.asarray(s["success_rate"]).shape == (2, 2)

    def test_missing_policy(self, spec, tmp_path):
        with pytest.raises(PolicyError, match="not found"):
            evaluate_envelope(spec, tmp_path / "none.onnx", "body.pole.mass=0.5:1:2")


class TestCommand:
    def _run(self, capsys, *args):
        code = main(["envelope", "--robot", "pendulum", *args])
        out, err = capsys.readouterr()
        return code, out, err

    def test_json_and_report(self, capsys, policy, tmp_path):
        report = tmp_path / "out" / "env.html"
        args = [
            "--policy",
            str(policy),
            "--grid",
            "actuator.*.delay=0:0.02:2",
            "--episodes",
            "1",
            "--episode-s",
            "0.5",
        ]
        code, out, _ = self._run(capsys, *args, "--workers", "1", "--report", str(report), "--json")
        assert code == 0
        summary = json.loads(out)
        assert summary["axes"][0]["name"] == "actuator.*.delay"
        assert summary["axes"][0]["values"] == [0.0, 0.02]
        assert len(summary["success_rate"]) == 2 and summary["episodes"] == 1
        assert summary["report"] == str(report) and report.is_file()

    @pytest.mark.parametrize(
        ("grid", "policy_name", "message"),
        [
            ("actuator.*.delay=0:0.03", "ok", "bad grid axis"),
            ("joint.nope.damping=0:1:2", "ok", "no parameter|matches nothing|unknown"),
            ("actuator.*.delay=0:0.03:2", "missing", "policy file not found"),
        ],
    )
    def test_bad_input_is_one_error_line(self, capsys, policy, tmp_path, grid, policy_name, message):
        path = str(policy) if policy_name == "ok" else str(tmp_path / "missing.onnx")
        code, out, err = self._run(capsys, "--policy", path, "--grid", grid)
        assert code == 1 and out == ""
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("sim2real: error:")
        assert any(m in lines[0] for m in message.split("|"))
