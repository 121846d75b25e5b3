"""The spec's list of distinct joint names (``action.hold``, ``safety.torque_above_model``): one
check, one set of errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sim2real.errors import SpecError
from sim2real.robots import DATA_DIR, load_spec
from sim2real.robots.parse_values import joint_names

JOINTS = ("hip", "knee", "ankle")


class TestJointNames:
    def test_keeps_the_list_order(self):
        assert joint_names(["knee", "hip"], JOINTS, "x") == ("knee", "hip")
        assert joint_names([], JOINTS, "x") == ()

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ("hip", "x must be a list of joint names"),
            ([1], "x must be a list of joint names"),
            (None, "x must be a list of joint names"),
            (["hip", "elbow"], "x: 'elbow' is not an actuated joint (hip, knee, ankle)"),
            (["hip", "knee", "hip"], "x lists 'hip' twice"),
        ],
    )
    def test_each_error_names_the_entry(self, raw, message):
        with pytest.raises(SpecError) as err:
            joint_names(raw, JOINTS, "x")
        assert str(err.value) == message


def _spec(tmp_path: Path, section: str, key: str, value) -> Path:
    """The embedded quadruped's spec with ``section.key: value``."""
    shutil.copy(DATA_DIR / "quadruped.xml", tmp_path / "quadruped.xml")
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw.setdefault(section, {})[key] = value
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(("section", "key"), [("action", "hold"), ("safety", "torque_above_model")])
class TestBothListsCheckTheSameWay:
    def test_a_joint_twice_is_named(self, tmp_path, section, key):
        with pytest.raises(SpecError, match=f"{section}.{key} lists 'FL_calf' twice"):
            load_spec(_spec(tmp_path, section, key, ["FL_calf", "FR_calf", "FL_calf"]))

    def test_an_unknown_joint_is_named_with_the_actuated_ones(self, tmp_path, section, key):
        with pytest.raises(SpecError, match=f"{section}.{key}: 'elbow' is not an actuated joint \\(FL_hip, "):
            load_spec(_spec(tmp_path, section, key, ["FL_calf", "elbow"]))
