"""`sim2real import isaaclab`: Isaac Lab and mjlab exports made from sim2real's own trained quadruped."""

from __future__ import annotations

import shutil

import numpy as np
import onnxruntime as ort
import pytest
import yaml
from foreign_fixtures import PERM, IsaacLabReference, isaaclab_env_yaml, isaaclab_export, mjlab_export

from sim2real.cli import main
from sim2real.errors import PolicyError
from sim2real.policy.imports.config_files import load_config
from sim2real.policy.imports.isaaclab import import_isaaclab, policy_joints
from sim2real.policy.metadata import read_metadata
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import DATA_DIR, load_robot

MODEL = DATA_DIR / "quadruped.xml"  # its motors state no effort limit: --torque-limit 23.7


@pytest.fixture(scope="module")
def isaac(trained, tmp_path_factory):
    """An Isaac Lab style export of the trained quadruped, imported."""
    folder = tmp_path_factory.mktemp("isaac")
    onnx_path, deploy = isaaclab_export(
        trained["quadruped"].policy, trained["quadruped"].spec, folder / "export"
    )
    result = import_isaaclab(onnx_path, deploy, MODEL, folder / "imported", torque_limit=23.7)
    return {"onnx": onnx_path, "deploy": deploy, "result": result, "folder": folder}


def rollout(spec, policy, reference=None, ticks=60, command=(0.6, 0.0, 0.3)):
    """Run the imported policy on a twin without effects; compare with the reference every tick."""
    runner = PolicyRunner(policy, spec, providers="cpu")
    robot = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
    motors = list(spec.motors)
    rows = []
    for _ in range(ticks):
        reading = robot.read()
        command_values = runner.step_reading(reading, np.array(command)).copy()
        rows.append((runner.observation.copy(), runner.action.copy()))
        if reference is not None:
            by_motor = [spec.joints.index(m) for m in motors]
            target = reference.step(
                reading.q[by_motor], reading.qd[by_motor], reading.gyro, reading.quat, np.array(command)
            )
            expected = np.array([target[motors.index(j)] for j in spec.actuated_joints])
            np.testing.assert_allclose(command_values, expected, rtol=0, atol=1e-5)
        robot.write(Command(t=reading.t, values=command_values))
    return rows


class TestIsaacLabExport:
    def test_the_imported_policy_commands_what_their_deploy_code_would(self, isaac):
        spec = isaac["result"].spec
        reference = IsaacLabReference(
            isaac["onnx"],
            yaml.safe_load(
                isaac["deploy"]
                .read_text()
                .replace("!!python/object/apply:builtins.slice [null, null, null]", "null")
            ),
        )
        rollout(spec, isaac["result"].policy, reference)

    def test_actions_equal_the_original_graph_on_recorded_observations(self, isaac):
        spec = isaac["result"].spec
        rows = rollout(spec, isaac["result"].policy)
        original = ort.InferenceSession(str(isaac["onnx"]), providers=["CPUExecutionProvider"])
        for obs, action in rows:
            theirs = original.run(None, {"obs": obs[None].astype(np.float32)})[0][0]
            np.testing.assert_allclose(action, theirs, rtol=0, atol=1e-5)
        assert isaac["result"].max_abs_diff <= 1e-5 and isaac["result"].n_recorded > 0

    def test_joint_ids_map_orders_the_policy_joints_and_gains_are_listed_by_motor(self, isaac):
        spec = isaac["result"].spec
        motors = list(load_robot("quadruped").joints)  # the model's joint order
        assert list(spec.joints) == [motors[i] for i in PERM]
        assert list(spec.motors) == motors
        for joint in spec.joints:
            m = motors.index(joint)
            assert spec.actuator(joint).kp == pytest.approx(20.0 + m)
            assert spec.actuator(joint).kd == pytest.approx(0.5 + 0.01 * m)

    def test_history_scales_and_command_ranges_become_spec_and_metadata(self, isaac):
        spec = isaac["result"].spec
        meta = read_metadata(isaac["result"].policy)
        assert [t.history for t in spec.observation] == [5] * 6
        assert [t.name for t in spec.observation] == [
            "base_ang_vel",
            "projected_gravity",
            "velocity_command",
            "joint_pos_rel",
            "joint_vel",
            "last_action",
        ]
        command = spec.observation[2]
        assert command.clip == ((-1.0, -0.5, -1.0), (1.0, 0.5, 1.0))
        assert [t.describe() for t in meta.observation] == [t.describe() for t in spec.observation]
        assert meta.n_obs == 225 and meta.action_limit is None
        assert meta.imported["framework"] == "isaaclab" and set(meta.imported["files"]) == {
            "policy",
            "model",
            "deploy",
        }

    def test_downstream_deploys_it_unchanged(self, isaac, tmp_path):
        result = isaac["result"]
        code = main(
            [
                "deploy",
                "--robot",
                str(result.spec.path),
                "--policy",
                str(result.policy),
                "--twin",
                str(self._twin(tmp_path)),
                "--seconds",
                "0.4",
                "--out",
                str(tmp_path / "log"),
                "--json",
            ]
        )
        assert code == 0 and (tmp_path / "log").is_dir()

    @staticmethod
    def _twin(tmp_path):
        path = tmp_path / "twin.yaml"
        path.write_text("params: {}\n")
        return path


class TestIsaacLabEnvYaml:
    def test_an_env_yaml_imports_like_the_deploy_yaml_it_implies(self, isaac, trained, tmp_path):
        env = isaaclab_env_yaml(trained["quadruped"].spec, tmp_path / "params" / "env.yaml")
        result = import_isaaclab(isaac["onnx"], env, MODEL, tmp_path / "imported")
        ours, theirs = result.spec, isaac["result"].spec
        assert ours.joints == theirs.joints
        np.testing.assert_allclose(ours.default_pose, theirs.default_pose)
        assert [a.kp for a in ours.actuators] == [a.kp for a in theirs.actuators]
        assert [a.kd for a in ours.actuators] == pytest.approx([a.kd for a in theirs.actuators])
        assert [t.describe() for t in ours.observation] == [t.describe() for t in theirs.observation]
        assert ours.control_dt == theirs.control_dt and ours.action_scale.tolist() == theirs.action_scale.tolist()
        # the model's motors state no effort limit: the actuator group's effort_limit is taken
        assert [a.torque_limit for a in ours.actuators] == [23.5] * 12
        for (_, a), (_, b) in zip(rollout(ours, result.policy), rollout(theirs, isaac["result"].policy), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)

    def test_the_env_yaml_effort_limit_wins_over_the_models_and_is_printed(self, isaac, trained, tmp_path):
        # Menagerie's Go2 states 23.7 / 45.43 N m; Isaac Lab's Go2 config trains with 23.5 on every joint
        text = MODEL.read_text().replace('<motor name="FL_calf"', '<motor forcerange="-45.43 45.43" name="FL_calf"')
        model = tmp_path / "quadruped.xml"
        model.write_text(text.replace("<motor name=", '<motor forcerange="-23.7 23.7" name='))
        env = isaaclab_env_yaml(trained["quadruped"].spec, tmp_path / "params" / "env.yaml")
        result = import_isaaclab(isaac["onnx"], env, model, tmp_path / "imported")
        assert [a.torque_limit for a in result.spec.actuators] == [23.5] * 12
        assert result.spec.safety.torque.max() == 23.5
        line = next(n for n in result.notes if n.startswith("torque limits from"))
        assert "the policy's env.yaml (effort_limit_sim)" in line
        assert "23.5 N m where the model states 23.7 (11 joints" in line and "states 45.43 (1 joint: FL_calf)" in line

    def test_the_env_yaml_next_to_an_export_is_found(self, isaac, trained, tmp_path):
        shutil.copytree(isaac["onnx"].parent, tmp_path / "run" / "exported")
        isaaclab_env_yaml(trained["quadruped"].spec, tmp_path / "run" / "params" / "env.yaml")
        result = import_isaaclab(tmp_path / "run" / "exported" / "policy.onnx", None, MODEL, tmp_path / "imported")
        assert result.spec.joints == isaac["result"].spec.joints
        assert any("env.yaml (found next to the export)" in a for a in result.metadata.imported["assumptions"])

    def test_what_the_env_yaml_does_not_state_is_one_clear_error(self, isaac, trained, tmp_path):
        env = isaaclab_env_yaml(trained["quadruped"].spec, tmp_path / "env.yaml")
        text = env.read_text()
        env.write_text(text.replace("JointPositionAction\n    asset_name", "JointVelocityAction\n    asset_name"))
        with pytest.raises(PolicyError, match="sim2real imports a JointPositionAction"):
            import_isaaclab(isaac["onnx"], env, MODEL, tmp_path / "a")
        # Isaac Lab trains a RelativeJointPositionAction as target = current position + scale x action:
        # imported as a JointPositionAction, it was a target about the default pose the policy never gave
        env.write_text(text.replace(":JointPositionAction\n", ":RelativeJointPositionAction\n"))
        assert ":RelativeJointPositionAction" in env.read_text()
        with pytest.raises(PolicyError, match="RelativeJointPositionAction; sim2real imports a JointPositionAction"):
            import_isaaclab(isaac["onnx"], env, MODEL, tmp_path / "r")
        env.write_text(text.replace("        stiffness: {", "        stiffness: null\n        unused: {"))
        with pytest.raises(PolicyError, match="no actuator group states the stiffness of joint"):
            import_isaaclab(isaac["onnx"], env, MODEL, tmp_path / "b")
        env.write_text(text.replace("    height_scan: null", "    height_scan: {func: isaaclab.envs.mdp:height_scan}"))
        with pytest.raises(PolicyError, match=r"observation 'height_scan': its ray caster .* is not in the env\.yaml's scene"):
            import_isaaclab(isaac["onnx"], env, MODEL, tmp_path / "c")


class TestMjlabExport:
    def test_an_onnx_with_mjlab_metadata_imports_on_its_own(self, trained, tmp_path):
        spec0 = trained["quadruped"].spec
        onnx_path = mjlab_export(trained["quadruped"].policy, spec0, tmp_path / "mjlab")
        result = import_isaaclab(onnx_path, None, MODEL, tmp_path / "imported", torque_limit=23.7)
        spec = result.spec
        assert list(spec.joints) == list(spec0.joints)
        assert {a.kp for a in spec.actuators} == {25.0} and spec.action_scale.tolist() == [0.5] * 12
        np.testing.assert_allclose(spec.default_pose, spec0.default_pose, atol=1e-3)
        assert [t.name for t in spec.observation] == [
            "base_ang_vel",
            "projected_gravity",
            "joint_pos_rel",
            "joint_vel",
            "last_action",
            "velocity_command",
        ]
        assert result.metadata.imported["framework"] == "mjlab"
        rows = rollout(spec, result.policy)
        original = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        for obs, action in rows:
            np.testing.assert_allclose(
                action, original.run(None, {"obs": obs[None]})[0][0], rtol=0, atol=1e-5
            )

    def test_observation_scales_stated_in_the_metadata_are_applied(self, trained, tmp_path):
        # the same policy twice: scales inside the network, or stated in the metadata (mjlab 1.6)
        spec0 = trained["quadruped"].spec
        inside = mjlab_export(trained["quadruped"].policy, spec0, tmp_path / "inside")
        stated = mjlab_export(trained["quadruped"].policy, spec0, tmp_path / "stated", scales_in_metadata=True)
        a = import_isaaclab(inside, None, MODEL, tmp_path / "a", torque_limit=23.7)
        b = import_isaaclab(stated, None, MODEL, tmp_path / "b", torque_limit=23.7)
        assert [t.scale for t in b.spec.observation][:3] == [0.25, 1.0, 1.0]
        assert b.spec.observation[3].scale == 0.05 and all(t.clip is None for t in b.spec.observation)
        assert not any("unscaled" in line for line in b.metadata.imported["assumptions"])
        assert any("unscaled" in line for line in a.metadata.imported["assumptions"])
        for (_, action_a), (_, action_b) in zip(rollout(a.spec, a.policy), rollout(b.spec, b.policy), strict=True):
            np.testing.assert_allclose(action_b, action_a, rtol=0, atol=1e-5)

    def test_metadata_lists_of_the_wrong_length_are_one_clear_error(self, trained, tmp_path):
        from onnx import load, save

        spec0 = trained["quadruped"].spec
        path = mjlab_export(trained["quadruped"].policy, spec0, tmp_path / "m", scales_in_metadata=True)
        model = load(str(path))
        for entry in model.metadata_props:
            if entry.key == "observation_terms_scale":
                entry.value = "0.250,1.000"
        save(model, str(path))
        with pytest.raises(PolicyError, match="'observation_terms_scale' has 2 entries for 6 observation terms"):
            import_isaaclab(path, None, MODEL, tmp_path / "x", torque_limit=23.7)


class TestConfigFiles:
    def test_python_tags_are_read_as_plain_data(self, tmp_path):
        path = tmp_path / "deploy.yaml"
        path.write_text(
            "a: !!python/tuple [1, 2]\n"
            "b: !!python/object/apply:builtins.slice [0, 12, null]\n"
            "c: !!python/object:isaaclab.utils.Foo {x: 1}\n"
        )
        assert load_config(path) == {"a": [1, 2], "b": {"slice": [0, 12, None]}, "c": {"x": 1}}

    def test_joint_ids_map_resolves_by_metadata_names_a_motor_order_or_the_tree(self):
        motors = [f"m{i}" for i in range(4)]
        joints, rank, order, assumed = policy_joints([0, 12, 5, 3], "deploy.yaml", motor_order=motors)
        assert joints == ["m0", "m3", "m2", "m1"] and rank == [0, 3, 2, 1]
        assert order == ["m0", "-", "-", "m1", "-", "m2", *["-"] * 6, "m3"]  # by slot: the map's gaps kept
        assert "by rank" in assumed[0] and "motor slot(s) 1, 2, 4, 6, 7, 8, 9, 10, 11 without" in assumed[1]
        joints, _, order, assumed = policy_joints([1, 0], "deploy.yaml", tree_order=["a", "b"])
        assert joints == ["a", "b"] and order == ["b", "a"] and "breadth first" in assumed[0]
        joints, _, order, _ = policy_joints([1, 0], "deploy.yaml", names=["x", "y"], tree_order=["a", "b"])
        assert joints == ["x", "y"] and order == ["y", "x"]
        with pytest.raises(PolicyError, match="not a permutation: motor 3 appears twice"):
            policy_joints([0, 3, 3, 1], "deploy.yaml", motor_order=motors)
        with pytest.raises(PolicyError, match="--joints or name the robot's motors with --motor-order"):
            policy_joints([0, 1, 2], "deploy.yaml", tree_order=["a", "b"])


class TestMotorOrderOtherThanTheModels:
    def test_a_robot_whose_motors_are_numbered_otherwise_gets_the_right_joints(self, trained, tmp_path):
        spec0 = trained["quadruped"].spec
        sdk = [f"{leg}_{part}" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf")]
        onnx_path, deploy = isaaclab_export(
            trained["quadruped"].policy, spec0, tmp_path / "export", motors=sdk
        )
        result = import_isaaclab(onnx_path, deploy, MODEL, tmp_path / "imported", torque_limit=23.7)
        spec = result.spec
        assert list(spec.joints) == [spec0.joints[i] for i in PERM] and list(spec.motors) == sdk
        assert all(spec.actuator(j).kp == pytest.approx(20.0 + sdk.index(j)) for j in spec.joints)
        text = deploy.read_text().replace("!!python/object/apply:builtins.slice [null, null, null]", "null")
        rollout(spec, result.policy, IsaacLabReference(onnx_path, yaml.safe_load(text)))


class TestBadImports:
    """Each mistake is one line on stderr and exit 1."""

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (
                ("default_joint_pos: [0.0, ", "default_joint_pos: ["),
                "default_joint_pos has 11 values for 12 policy joints",
            ),
            (("  last_action:\n", "  foot_clearance:\n"), "unknown observation term 'foot_clearance'"),
            (
                ("joint_ids_map: [0, 3,", "joint_ids_map: [3, 3,"),
                "joint_ids_map is not a permutation: motor 3 appears twice",
            ),
            (
                ("history_length: 5", "history_length: 4"),
                "the policy takes 225 observations, the observation layout has",
            ),
            (
                ("  last_action:\n", "  height_scan:\n"),
                "observation 'height_scan' is a terrain height scan whose grid deploy.yaml does not state",
            ),
        ],
    )
    def test_one_clear_error_line(self, isaac, tmp_path, capsys, edit, message):
        deploy = tmp_path / "deploy.yaml"
        text = isaac["deploy"].read_text()
        assert edit[0] in text
        deploy.write_text(text.replace(edit[0], edit[1], 1))
        code = main(
            [
                "import",
                "isaaclab",
                "--policy",
                str(isaac["onnx"]),
                "--deploy",
                str(deploy),
                "--model",
                str(MODEL),
                "--out",
                str(tmp_path / "out"),
                "--torque-limit",
                "23.7",
            ]
        )
        err = capsys.readouterr().err.strip().splitlines()
        errors = [line for line in err if line.startswith("sim2real: error:")]
        assert code == 1 and len(errors) == 1 and message in errors[0], err
        assert not (tmp_path / "out" / "policy.onnx").exists()

    def test_external_weights_that_are_not_there_are_named(self, isaac, tmp_path, capsys):
        import onnx

        model = onnx.load(str(isaac["onnx"]))
        onnx.save(
            model,
            str(tmp_path / "policy.onnx"),
            save_as_external_data=True,
            location="policy.onnx.data",
            size_threshold=0,
        )
        moved = tmp_path / "moved"
        moved.mkdir()
        shutil.move(tmp_path / "policy.onnx", moved / "policy.onnx")
        with pytest.raises(PolicyError, match=r"policy\.onnx\.data, which is not next to it"):
            import_isaaclab(
                moved / "policy.onnx", isaac["deploy"], MODEL, tmp_path / "out", torque_limit=23.7
            )
        shutil.move(tmp_path / "policy.onnx.data", moved / "policy.onnx.data")
        result = import_isaaclab(
            moved / "policy.onnx", isaac["deploy"], MODEL, tmp_path / "out", torque_limit=23.7
        )
        assert result.max_abs_diff <= 1e-5


class TestJointSelections:
    def test_a_term_over_every_joint_imports_and_a_subset_is_refused(self):
        from sim2real.policy.imports.isaaclab import observation_terms

        every = {"slice": [None, None, None]}
        terms = observation_terms(
            {"joint_pos_rel": {"params": {"asset_cfg": {"joint_ids": every}}}}, 12, {}, "d"
        )
        assert terms[0].name == "joint_pos_rel" and terms[0].size == 12
        with pytest.raises(PolicyError, match="selects joints"):
            observation_terms(
                {"joint_pos_rel": {"params": {"asset_cfg": {"joint_ids": {"slice": [0, 6, None]}}}}},
                12,
                {},
                "d",
            )
        with pytest.raises(PolicyError, match="selects joints"):
            observation_terms(
                {"joint_vel_rel": {"params": {"asset_cfg": {"joint_names": ["FL_.*"]}}}}, 12, {}, "d"
            )


class TestObservationTerms:
    def test_the_command_ranges_and_a_terms_own_clip_both_bound_the_velocity_command(self):
        # unitree_rl_lab variants clip every term to [-100, 100]: the ranges must still apply
        from sim2real.policy.imports.isaaclab import observation_terms

        ranges = {"vx": (-1.0, 1.0), "vy": (-0.4, 0.4), "yaw": (-1.0, 1.0)}
        term = {"params": {"command_name": "base_velocity"}, "clip": [-100, 100], "scale": [1.0] * 3}
        (ours,) = observation_terms({"velocity_commands": term}, 12, {"base_velocity": ranges}, "deploy.yaml")
        assert ours.clip == ((-1.0, -0.4, -1.0), (1.0, 0.4, 1.0))
        (ours,) = observation_terms({"velocity_commands": {**term, "clip": [-0.5, 0.8]}}, 12, {"base_velocity": ranges}, "deploy.yaml")
        assert ours.clip == ((-0.5, -0.4, -0.5), (0.8, 0.4, 0.8))
        with pytest.raises(PolicyError, match="leaves none of the command ranges"):
            observation_terms({"velocity_commands": {**term, "clip": [2.0, 3.0]}}, 12, {"base_velocity": ranges}, "deploy.yaml")

    def test_a_term_whose_params_name_a_velocity_command_is_the_velocity_command(self):
        # a unitree_rl_lab fork's keyboard_velocity_commands (params.command_name: base_velocity)
        from sim2real.policy.imports.isaaclab import observation_terms

        commands = {"base_velocity": {"vx": (-1.0, 1.0), "vy": (-0.4, 0.4), "yaw": (-1.0, 1.0)}}
        term = {"params": {"command_name": "base_velocity"}, "scale": [1.0] * 3}
        (ours,) = observation_terms({"keyboard_velocity_commands": term}, 12, commands, "deploy.yaml")
        assert ours.name == "velocity_command" and ours.clip == ((-1.0, -0.4, -1.0), (1.0, 0.4, 1.0))
        other = {"params": {"command_name": "motion"}, "scale": [1.0] * 3}  # not a velocity command
        with pytest.raises(PolicyError, match="unknown observation term 'keyboard_velocity_commands'"):
            observation_terms({"keyboard_velocity_commands": other}, 12, commands, "deploy.yaml")


class TestPerJointOptions:
    def test_torque_limit_and_armature_take_joint_regex_items_over_the_trained_values(self, isaac, trained, tmp_path, capsys):
        # a G1 has motors from 25 to 139 N m and four armatures: one number for every joint is not enough
        env = isaaclab_env_yaml(trained["quadruped"].spec, tmp_path / "params" / "env.yaml")
        args = ["import", "isaaclab", "--policy", str(isaac["onnx"]), "--deploy", str(env), "--model", str(MODEL)]
        code = main([
            *args, "--out", str(tmp_path / "out"),
            "--torque-limit", ".*_calf=30", "--armature", ".*=0.01", ".*_hip=0.005",
        ])  # fmt: skip
        assert code == 0
        spec = load_robot(tmp_path / "out" / "robot.yaml")
        limits = {a.joint: a.torque_limit for a in spec.actuators}
        assert {j: v for j, v in limits.items() if j.endswith("_calf")} == dict.fromkeys(("FL_calf", "FR_calf", "RL_calf", "RR_calf"), 30.0)
        assert {v for j, v in limits.items() if not j.endswith("_calf")} == {23.5}  # env.yaml's effort_limit_sim
        assert spec.armature == {j: 0.005 if j.endswith("_hip") else 0.01 for j in spec.joints}
        assert "--torque-limit replaces the effort limits the policy was trained with" in capsys.readouterr().err
        code = main([*args, "--out", str(tmp_path / "bad"), "--armature", "FL_knee=0.01"])
        assert code == 1 and "--armature: 'FL_knee' matches no policy joint" in capsys.readouterr().err
