"""The CLI: JSON summaries, and one-line errors with a non-zero exit on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim2real.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim2real.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_robots_json_lists_embedded_robots(capsys):
    assert main(["robots", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in out["robots"]]
    assert names == ["pendulum", "furuta", "quadruped"]
    quad = out["robots"][2]
    assert (quad["nu"], quad["control_dt"]) == (12, 0.02)
    assert set(quad) >= {"name", "nq", "nv", "nu", "control_dt", "substeps"}


def test_params_json_has_nominal_bounds_and_units(capsys):
    assert main(["params", "--robot", "pendulum", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["params"]}
    mass = rows["body.pole.mass"]
    assert mass["nominal"] == pytest.approx(0.6755)
    assert (mass["low"], mass["high"], mass["unit"]) == (0.1, 1.2, "kg")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["params", "--robot", "no_such_robot"], "unknown robot 'no_such_robot'"),
        (["params", "--robot", "/nonexistent/robot.yaml"], "robot spec not found"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args, message):
    result = run_cli(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.parametrize(
    ("args", "filled"),
    [
        (["deploy", "--live"], ["deploy", "--live", "8765"]),
        (["deploy", "--live", "--json"], ["deploy", "--live", "8765", "--json"]),
        (["deploy", "--live", "0", "--json"], ["deploy", "--live", "0", "--json"]),
        (["deploy", "--json"], ["deploy", "--json"]),
    ],
)
def test_live_without_a_port_gets_the_default_port(args, filled):
    from sim2real.cli import _optional_values

    assert _optional_values(args) == filled
