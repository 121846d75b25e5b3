"""``sim2real identify`` and ``sim2real gap``: JSON contracts, calibration files, one-line errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sysid_testdata import FURUTA_TRUE, synthetic_log

from sim2real.cli import main
from sim2real.logs import write_bag
from sim2real.sysid import load_calibration

TRUE = {"body.pole.mass": 0.72, "joint.hinge.damping": 0.28}


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "run"
    write_bag(path, synthetic_log("pendulum", TRUE, seconds=4.0))
    return path


def _run(capsys, *args: str) -> tuple[int, str, list[str]]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]


def test_identify_json_and_calibration_file_then_gap_with_it(capsys, tmp_path, bag, pendulum):
    calib = tmp_path / "calib.yaml"
    code, out, _ = _run(
        capsys,
        "identify",
        str(bag),
        "--robot",
        "pendulum",
        "--params",
        "body.pole.mass,joint.hinge.damping",
        "--out",
        str(calib),
        "--json",
    )
    assert code == 0
    summary = json.loads(out)
    assert {"params", "residual_rms", "seconds"} <= set(summary)
    assert summary["intervals_assume"] == "the parameters outside --params are right"  # a restricted fit says so
    for name, value in TRUE.items():
        p = summary["params"][name]
        assert set(p) >= {"value", "ci_low", "ci_high", "nominal", "identifiable", "reason"}
        assert p["identifiable"] is True and p["reason"] is None
        assert p["value"] == pytest.approx(value, rel=0.05)
        assert p["ci_low"] <= p["value"] <= p["ci_high"]
    assert load_calibration(calib, pendulum).params["body.pole.mass"].value[0] == pytest.approx(
        0.72, rel=0.05
    )

    code, out, _ = _run(capsys, "gap", str(bag), "--robot", "pendulum", "--horizon", "0.25", "--json")
    nominal = json.loads(out)
    code, out, _ = _run(
        capsys, "gap", str(bag), "--robot", "pendulum", "--horizon", "0.25", "--calib", str(calib), "--json"
    )
    calibrated = json.loads(out)
    assert code == 0
    assert {"position_rmse", "velocity_rmse", "divergence_rate", "divergence_time_s", "channels"} <= set(
        calibrated
    )
    assert calibrated["position_rmse"] < 0.5 * nominal["position_rmse"]


def test_gap_open_loop_on_a_csv_with_a_named_column_map(capsys, real_data):
    code, out, _ = _run(
        capsys,
        "gap",
        str(real_data / "pendulum" / "energy_shaping.csv"),
        "--robot",
        "pendulum",
        "--csv-map",
        "pendulum",
        "--json",
    )
    summary = json.loads(out)
    assert code == 0 and summary["horizon"] is None and summary["windows"] == 1


def _bad_inputs(tmp_path, bag):
    other = tmp_path / "furuta_run"
    write_bag(other, synthetic_log("furuta", FURUTA_TRUE, seconds=1.0))
    silent = tmp_path / "no_commands"
    log = synthetic_log("pendulum", TRUE, seconds=1.0)
    write_bag(silent, dataclasses.replace(log, command_t=np.zeros(0), command=None))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    cut = tmp_path / "cut.csv"
    cut.write_text("time,position,velocity,torque\n0.0,0.1,0.0")
    pend_csv = tmp_path / "pend.csv"
    pend_csv.write_text(
        "time,position,velocity,torque\n" + "\n".join(f"{i * 0.005},0,0,0" for i in range(50))
    )
    return [
        ([str(other), "--robot", "pendulum"], "was made for robot spec"),
        ([str(silent), "--robot", "pendulum"], "/joint_commands"),
        ([str(empty), "--robot", "pendulum", "--csv-map", "pendulum"], "empty CSV"),
        ([str(cut), "--robot", "pendulum", "--csv-map", "pendulum"], "expected 4 fields"),
        ([str(pend_csv), "--robot", "pendulum", "--csv-map", "qube"], "column 't'"),
        ([str(pend_csv), "--robot", "pendulum"], "needs a column map"),
        ([str(pend_csv), "--robot", "furuta", "--csv-map", "pendulum"], "another robot"),
        ([str(tmp_path / "missing"), "--robot", "pendulum"], "no such log"),
        ([str(bag), "--robot", "pendulum", "--params", "body.nothing.mass"], "matches no parameter"),
        ([str(bag), "--robot", "pendulum", "--fixed-base"], "no floating base"),
    ]


@pytest.mark.parametrize("command", ["identify", "gap"])
def test_bad_input_is_one_clear_error_line(capsys, tmp_path, bag, command):
    for args, message in _bad_inputs(tmp_path / command, bag):
        if command == "gap" and "--params" in args:
            continue
        code, _, err = _run(capsys, command, *args)
        assert code == 1, (args, err)
        assert len(err) == 1 and message in err[0] and err[0].startswith("sim2real: error:"), (args, err)


class TestMultiStart:
    # the starts on a Ray cluster, compared with this serial run: tests/parallel/test_ray_cluster.py
    # (TestIdentifyOnACluster), on that module's cluster
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--ray", "local"], "add --starts N"),
            (["--workers", "2"], "--workers"),
        ],
    )
    def test_bad_start_options_are_one_error_line(self, capsys, bag, args, message):
        code, _, err = _run(capsys, "identify", str(bag), "--robot", "pendulum", *args)
        assert code == 1 and len(err) == 1 and message in err[0] and err[0].startswith("sim2real: error:")


def test_identify_refuses_a_log_whose_replay_diverges(pendulum, bag):
    """A log recorded from a twin that diverged (Menagerie's Kinova Gen3 without armature) was
    fitted anyway: 4,134 MuJoCo warnings, a position RMSE of 59 rad and a calibration written."""
    from sim2real.errors import SimulationError
    from sim2real.logs import read_bag
    from sim2real.robots.model import build_model
    from sim2real.sysid import identify

    model = build_model(pendulum)
    model.jnt_stiffness[:] = 1e9  # a spring far too stiff for the 5 ms step
    with pytest.raises(SimulationError, match=r"nothing identified \(at the starting values\): the replay diverged in \d+ of \d+ windows"):
        identify(pendulum, [read_bag(bag)], ["body.pole.mass"], model=model)
