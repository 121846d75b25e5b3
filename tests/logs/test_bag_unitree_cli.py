"""``sim2real gap`` and ``identify`` on a Unitree recording, end to end: a hung quadruped twin run
re-written as unitree_go LowState / LowCmd in a Go2's motor order gives the gap and the
identification of the same run as a sim2real bag."""

from __future__ import annotations

import json

import pytest
import yaml
from rosbags.rosbag2 import StoragePlugin
from unitree_testdata import GO2_ORDER, float32, write_unitree

from sim2real.cli import main
from sim2real.logs import read_bag, write_bag

ORDER = ",".join(GO2_ORDER)
PARAMS = "joint.FL_calf.damping,joint.FR_calf.damping"


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    """(sim2real bag, Unitree MCAP bag, Unitree sqlite3 bag) of one hung twin run, values in float32."""
    folder = tmp_path_factory.mktemp("unitree")
    (folder / "twin.yaml").write_text(yaml.safe_dump({"params": {"joint.FL_calf.damping": 0.3}}))
    args = ["record", "--robot", "quadruped", "--twin", str(folder / "twin.yaml"), "--fixed-base"]
    assert main([*args, "--excite", "chirp", "--seconds", "4", "--out", str(folder / "rec"), "--json"]) == 0
    run = float32(read_bag(folder / "rec"))
    write_bag(folder / "ref", run)
    mcap = write_unitree(folder / "go_mcap", run, GO2_ORDER, start_ns=0)
    sqlite = write_unitree(folder / "go_db3", run, GO2_ORDER, start_ns=0, storage=StoragePlugin.SQLITE3)
    return folder / "ref", mcap, sqlite


def _json(capsys, args):
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


UNITREE = ["--fixed-base", "--motor-order", ORDER]


def test_gap_equals_the_joint_state_bags(bags, capsys):
    ref, mcap, sqlite = bags
    want = _json(capsys, ["gap", str(ref), "--robot", "quadruped"])
    spaced = ["--fixed-base", "--motor-order", *GO2_ORDER]  # as import's --motor-order J1 J2 ...
    for bag, options in ((mcap, UNITREE), (sqlite, spaced)):
        got = _json(capsys, ["gap", str(bag), "--robot", "quadruped", *options])
        assert got["samples"] == want["samples"] and got["fixed_base"]
        for key in ("position_rmse", "velocity_rmse"):
            assert got[key] == pytest.approx(want[key], rel=1e-9)
        for key in ("position_rmse_per_joint", "velocity_rmse_per_joint"):
            assert got[key] == pytest.approx(want[key], rel=1e-9)


def test_identify_equals_the_joint_state_bags(bags, capsys, tmp_path):
    ref, mcap, _ = bags
    args = ["--robot", "quadruped", "--params", PARAMS, "--horizon", "1.0"]
    want = _json(capsys, ["identify", str(ref), *args, "--out", str(tmp_path / "ref.yaml")])
    got = _json(capsys, ["identify", str(mcap), *args, *UNITREE, "--out", str(tmp_path / "u.yaml")])
    for name in PARAMS.split(","):
        w, g = want["params"][name], got["params"][name]
        assert g["identifiable"] == w["identifiable"]
        assert g["ci_high"] == pytest.approx(w["ci_high"], rel=1e-6)
        assert g["value"] == (None if w["value"] is None else pytest.approx(w["value"], rel=1e-6))
    assert got["params"]["joint.FL_calf.damping"]["identifiable"]
    assert (tmp_path / "u.yaml").is_file()


def test_without_the_motor_order_one_error_line(bags, capsys):
    _, mcap, _ = bags
    capsys.readouterr()
    assert main(["gap", str(mcap), "--robot", "quadruped", "--fixed-base"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("sim2real: error:") and "--motor-order J1,J2" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_a_specs_motor_order_checks_the_option_and_does_not_replace_it(bags, capsys, tmp_path):
    from importlib.resources import files

    _, mcap, _ = bags
    data = files("sim2real.robots") / "data"
    (tmp_path / "quadruped.xml").write_text((data / "quadruped.xml").read_text())
    text = (data / "quadruped.yaml").read_text() + f"\nmotor_order: [{', '.join(GO2_ORDER)}]\n"
    (tmp_path / "go2.yaml").write_text(text)
    go2 = ["gap", str(mcap), "--robot", str(tmp_path / "go2.yaml"), "--fixed-base"]
    want = _json(capsys, ["gap", str(mcap), "--robot", "quadruped", *UNITREE])
    got = _json(capsys, [*go2, "--motor-order", ORDER])
    assert got["position_rmse"] == pytest.approx(want["position_rmse"], rel=1e-9)
    capsys.readouterr()
    assert main([*go2, "--motor-order", ",".join(reversed(GO2_ORDER))]) != 0
    assert "in another order than the robot spec's motor_order" in capsys.readouterr().err
    assert main(go2) != 0  # the spec's order does not say which slot each motor has
    assert "--motor-order J1,J2" in capsys.readouterr().err
