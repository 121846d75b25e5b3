"""The CLI: JSON summaries, and one-line errors with a non-zero exit on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim2real.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim2real.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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


class TestCommandTable:
    def test_every_command_of_the_table_is_listed_in_help(self, capsys):
        from sim2real.cli import COMMANDS

        with pytest.raises(SystemExit) as info:
            main(["--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        for name, _, _ in COMMANDS:
            assert name in out, name

    def test_a_command_whose_import_fails_is_an_error_not_a_missing_command(self, monkeypatch, capsys):
        monkeypatch.setitem(sys.modules, "sim2real.commands.gap", None)  # import of it fails
        assert main(["robots"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "command 'gap' cannot be loaded" in err[0] and "reinstall" in err[0], err


class TestGlobalOptions:
    def test_version_prints_the_package_version(self, capsys):
        from importlib.metadata import version

        assert main(["--version"]) == 0
        assert capsys.readouterr().out.strip() == f"sim2real {version('sim2real')}"

    def test_logging_is_warnings_by_default_info_with_v_debug_with_vv(self, capsys):
        import logging

        for args, level in (
            (["robots"], logging.WARNING),
            (["-v", "robots"], logging.INFO),
            (["robots", "-vv"], logging.DEBUG),
        ):
            assert main(args) == 0
            assert logging.getLogger("sim2real").level == level
            assert logging.getLogger().level == logging.WARNING  # other libraries stay quiet
        capsys.readouterr()

    def test_no_info_lines_by_default(self):
        result = run_cli("params", "--robot", "furuta")
        assert result.returncode == 0 and "INFO" not in result.stderr, result.stderr
        assert result.stdout.splitlines()[1].startswith("parameter")


class TestOutput:
    def test_people_read_rounded_numbers_json_keeps_full_precision(self):
        from sim2real.commands.output import key_lines, rounded

        assert rounded(0.9261707548056405) == 0.9262
        assert rounded({"a": [1.23456789, 2, None, "x"]}) == {"a": [1.235, 2, None, "x"]}
        assert rounded(12345678.9) == 12345679
        assert (
            key_lines({"rate": 0.9261707548056405, "nested": {"t": 1.0 / 3}})
            == "rate: 0.9262\nnested:\n  t: 0.3333"
        )

    def test_bench_style_output_is_rounded(self, capsys):
        from sim2real.commands.output import emit

        emit({"speedup": 10.123456789, "steps": 1_660_000}, False)
        assert capsys.readouterr().out == "speedup: 10.12\nsteps: 1660000\n"
        emit({"speedup": 10.123456789}, True)
        assert json.loads(capsys.readouterr().out) == {"speedup": 10.123456789}


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
