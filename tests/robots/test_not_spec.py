"""A file given where a robot spec belongs: one line saying what it is and what to do.

``sim2sim --robot r.urdf`` said "the spec file must be a mapping, got str".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim2real.cli import main
from sim2real.errors import SpecError
from sim2real.robots import DATA_DIR, load_robot

URDF = '<?xml version="1.0"?>\n<robot name="r">\n  <link name="base"/>\n</robot>\n'


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> Path:
    """One file or folder of each kind a user may give in a spec's place."""
    d = tmp_path_factory.mktemp("kinds")
    (d / "r.urdf").write_text(URDF)
    (d / "r_urdf.xml").write_text(URDF)
    shutil.copy(DATA_DIR / "pendulum.xml", d / "pendulum.xml")
    (d / "model").mkdir()
    shutil.copy(DATA_DIR / "pendulum.xml", d / "model" / "scene.xml")
    (d / "specs").mkdir()
    shutil.copy(DATA_DIR / "pendulum.yaml", d / "specs" / "pendulum.yaml")
    shutil.copy(DATA_DIR / "pendulum.xml", d / "specs" / "pendulum.xml")
    (d / "specs" / "notes.yaml").write_text("a: 1\n")
    (d / "bag").mkdir()
    (d / "bag" / "metadata.yaml").write_text("rosbag2_bagfile_information:\n  version: 8\n")
    (d / "run").mkdir()
    (d / "run" / "policy.pt").write_bytes(b"PK\x03\x04")
    (d / "log.mcap").write_bytes(b"\x89MCAP0\r\n" + bytes(64))
    (d / "log.csv").write_text("t,q\n0,0\n")
    (d / "p.onnx").write_bytes(b"\x08\x07\x12\x07pytorch")
    (d / "twin.yaml").write_text("params:\n  body.pendulum.mass: 0.03\neffects:\n  seed: 1\n")
    (d / "calib.yaml").write_text("robot: pendulum\nspec_hash: abc\nparams: {}\n")
    (d / "notes.txt").write_text("just words\n")
    return d


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("r.urdf", ("r.urdf is a URDF model", "`sim2real robot init", "r.urdf --out robot.yaml`")),
        ("r_urdf.xml", ("r_urdf.xml is a URDF model", "robot init")),
        ("pendulum.xml", ("pendulum.xml is an MJCF model", "robot init")),
        ("model", ("is a folder holding an MJCF model", "scene.xml --out robot.yaml")),
        ("specs", ("is a folder: give the robot spec file in it (pendulum.yaml)",)),
        ("bag", ("is a rosbag2 log", "the one the log was recorded with")),
        ("run", ("is a training run", "sim2real export")),
        ("log.mcap", ("log.mcap is an MCAP log",)),
        ("log.csv", ("log.csv is a CSV log",)),
        ("p.onnx", ("p.onnx is an ONNX policy", "--policy")),
        ("twin.yaml", ("twin.yaml is a twin file", "--twin")),
        ("calib.yaml", ("calib.yaml is a calibration", "--calib")),
        ("notes.txt", ("notes.txt is not a robot spec", "its YAML is plain text")),
    ],
)
def test_what_the_file_is_and_what_to_do(kinds, given, words):
    with pytest.raises(SpecError) as caught:
        load_robot(kinds / given)
    line = str(caught.value)
    assert "\n" not in line and "must be a mapping" not in line, line
    assert "not a robot spec" in line or "give the robot spec file" in line, line
    for word in words:
        assert word in line, (word, line)


def test_a_spec_among_them_still_loads(kinds):
    spec = load_robot(kinds / "specs" / "pendulum.yaml")
    assert spec.name == "pendulum" and spec.hash == load_robot("pendulum").hash


def test_a_missing_model_path_is_not_found_not_an_unknown_robot(kinds):
    with pytest.raises(SpecError, match=r"robot spec not found: .*missing\.urdf"):
        load_robot(kinds / "missing.urdf")


def test_sim2sim_given_a_urdf_as_robot_is_one_line_exit_1(kinds, capsys):
    code = main(["sim2sim", "--robot", str(kinds / "r.urdf"), "--policy", str(kinds / "p.onnx")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("sim2real: error: r.urdf is a URDF model"), err
