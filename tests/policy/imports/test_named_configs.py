"""legged_gym / unitree_rl_gym configs that name joints, hold the joints the policy does not drive,
clip under a fork's key, or stack humanoid-gym frames (review round 4).  Each test failed on the
code before its fix: a named config was refused ("missing 'kps'"), the held joints sat at the
model's keyframe with their gains dropped, a fork's clip key was read as no clip, and a
humanoid-gym layout was refused as an unknown count or misread as unitree_rl_gym's clock layout (it is
now imported with its frames stacked)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import model_joints
from sim2real.policy.imports.config_joints import config_joints
from sim2real.policy.imports.legged_gym import frame_stack, import_legged_gym, layout
from sim2real.robots import DATA_DIR

torch = pytest.importorskip("torch", reason="importing TorchScript policies needs the train extra (torch)")

MODEL = DATA_DIR / "quadruped.xml"  # joints FL_*, FR_*, RL_*, RR_* (hip, thigh, calf); no effort limits
FRONT = [
    "FR_hip",
    "FR_thigh",
    "FR_calf",
    "FL_hip",
    "FL_thigh",
    "FL_calf",
]  # a policy order other than the model's
REAR = ["RL_hip", "RL_thigh", "RL_calf", "RR_hip", "RR_thigh", "RR_calf"]  # model order
N_OBS = 3 * 6 + 9


def scripted(path, n_obs=N_OBS, n_act=6, bias=0.0):
    """A scripted legged_gym MLP whose action is shifted by ``bias``."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(n_obs, 16), torch.nn.ELU(), torch.nn.Linear(16, n_act))
    with torch.no_grad():
        net[2].bias.add_(bias)
    torch.jit.script(net).save(str(path))
    return path


def config(path, **values):
    """A deploy config of a six-action policy on the quadruped, with ``values`` (None removes a key)."""
    cfg = {
        "simulation_dt": 0.005,
        "control_decimation": 4,
        "ang_vel_scale": 0.25,
        "dof_pos_scale": 1.0,
        "dof_vel_scale": 0.05,
        "action_scale": 0.25,
        "cmd_scale": [2.0, 2.0, 0.25],
        "num_actions": 6,
        "num_obs": N_OBS,
    }
    cfg.update(values)
    path.write_text(yaml.safe_dump({k: v for k, v in cfg.items() if v is not None}, sort_keys=False))
    return path


NAMED = {
    "joint_names": FRONT,
    # legged_gym's init_state.default_joint_angles: every joint of the robot, by name
    "default_joint_angles": {
        **{f"{leg}_hip": 0.1 for leg in ("FL", "FR", "RL", "RR")},
        **{f"{leg}_thigh": 0.8 for leg in ("FL", "FR")},
        **{f"{leg}_thigh": 1.0 for leg in ("RL", "RR")},
        **{f"{leg}_calf": -1.5 for leg in ("FL", "FR", "RL", "RR")},
    },
    # legged_gym's control.stiffness / damping: keys are parts of joint names
    "stiffness": {"hip": 20.0, "thigh": 25.0, "calf": 30.0},
    "damping": {"_hip": 0.4, "thigh": 0.5, "calf": 0.6},
}
REAL = {
    # unitree_rl_gym's deploy_real keys: the policy's joints by motor, the others held by its loop
    "simulation_dt": None,
    "control_decimation": None,
    "control_dt": 0.02,
    "kps": [20.0] * 6,
    "kds": [0.5] * 6,
    "default_angles": [0.0, 0.8, -1.5] * 2,
    "leg_joint2motor_idx": list(range(6)),
    "arm_waist_joint2motor_idx": list(range(6, 12)),
    "arm_waist_target": [0.05, 0.9, -1.6, -0.05, 0.9, -1.6],
    "arm_waist_kps": [40.0, 40.0, 60.0, 40.0, 40.0, 60.0],
    "arm_waist_kds": [1.0, 1.0, 1.5, 1.0, 1.0, 1.5],
    "policy_action_clip": 0.5,
    "max_cmd": [0.8, 0.5, 1.57],
}


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("named")
    return import_legged_gym(
        scripted(tmp / "policy.pt"),
        config(tmp / "named.yaml", **NAMED),
        MODEL,
        tmp / "out",
        torque_limit=23.7,
    )


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    return import_legged_gym(
        scripted(tmp / "policy.pt", bias=3.0),
        config(tmp / "g1.yaml", **REAL),
        MODEL,
        tmp / "out",
        torque_limit=23.7,
    )


class TestNamedJoints:
    def test_joint_names_give_the_policy_joints_in_their_order(self, named):
        assert list(named.spec.joints) == FRONT

    def test_default_angles_are_looked_up_by_name(self, named):
        np.testing.assert_allclose(named.spec.default_pose, [0.1, 0.8, -1.5] * 2)
        np.testing.assert_allclose(named.metadata.command_offset, [0.1, 0.8, -1.5] * 2)

    def test_gains_keyed_by_parts_of_names_as_legged_gym_matches_them(self, named):
        kp = {a.joint: a.kp for a in named.spec.actuators}
        kd = {a.joint: a.kd for a in named.spec.actuators}
        assert [kp[j] for j in FRONT] == [20.0, 25.0, 30.0] * 2
        assert [kd[j] for j in FRONT] == [0.4, 0.5, 0.6] * 2

    def test_the_joints_it_does_not_drive_are_held_at_the_named_default_pose_with_their_gains(self, named):
        assert list(named.spec.locked_joints) == REAR
        np.testing.assert_allclose(list(named.spec.locked_joints.values()), [0.1, 1.0, -1.5] * 2)
        held = named.metadata.imported["held_joints"]
        assert held["RL_calf"] == {"position": -1.5, "kp": 30.0, "kd": 0.6}


class TestHeldJointsOfARealRobotConfig:
    def test_held_joints_take_the_configs_targets_not_the_models_keyframe(self, real):
        # the keyframe holds the rear legs at 0, 1.0, -1.5; the config's own loop holds them elsewhere
        assert list(real.spec.locked_joints) == REAR
        np.testing.assert_allclose(list(real.spec.locked_joints.values()), REAL["arm_waist_target"])

    def test_their_gains_are_recorded_in_the_metadata(self, real):
        held = real.metadata.imported["held_joints"]
        assert [held[j]["kp"] for j in REAR] == REAL["arm_waist_kps"]
        assert [held[j]["kd"] for j in REAR] == REAL["arm_waist_kds"]
        assert [held[j]["position"] for j in REAR] == pytest.approx(REAL["arm_waist_target"])

    def test_a_ros2_deployment_sends_the_held_joints_their_targets_in_their_motor_slots(self, real):
        # the spec's motor order left the held joints' slots empty, and a ROS 2 deployment refused it
        # until the user wrote a command layout naming them by hand
        pytest.importorskip("rclpy", reason="the ROS 2 config needs the ros2 extra")
        from sim2real.real.ros2.config import Ros2Config

        ros2 = Ros2Config.from_spec(real.spec)
        ros2.check(real.spec)
        assert list(ros2.command_joints) == [*real.spec.joints, *REAR]
        fixed = ros2.command_order(real.spec) == -1
        np.testing.assert_allclose(ros2.fixed_values(real.spec)[fixed], REAL["arm_waist_target"])
        assert [real.metadata.imported["held_joints"][j]["motor"] for j in REAR] == list(range(6, 12))

    def test_max_cmd_gives_the_command_ranges(self, real):
        # its deploy loop commands joystick x max_cmd: the policy never saw a faster command
        (term,) = [t for t in real.spec.observation if t.name == "velocity_command"]
        assert term.clip == ((-0.8, -0.5, -1.57), (0.8, 0.5, 1.57))
        assert dict(real.spec.task.params["commands"]) == {
            "vx": [-0.8, 0.8],
            "vy": [-0.5, 0.5],
            "yaw": [-1.57, 1.57],
        }

    def test_a_model_without_the_held_joints_leaves_them_to_the_robot(self):
        # unitree_rl_gym's H1 MJCF has its torso and arms rigid: the arm_waist values are for the robot's loop
        cfg = {
            **REAL,
            "num_actions": 12,
            "kps": [20.0] * 12,
            "kds": [0.5] * 12,
            "default_angles": [0.0, 0.8, -1.5] * 4,
        }
        facts = config_joints(cfg, "h1.yaml", 12, MODEL, model_joints(MODEL))
        assert facts.held == {} and facts.held_gains == {}
        assert any("holds motors the model has no joints for" in note for note in facts.notes), facts.notes

    def test_a_forks_policy_action_clip_bounds_the_action(self, real):
        assert real.metadata.action_limit == 0.5, "policy_action_clip ignored"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"stiffness": {"hip": 20.0, "thigh": 25.0}},
            "no key of stiffness (hip, thigh) is found in policy joint 'FR_calf'",
        ),
        (
            {"damping": {"hip": 0.4, "FR_hip": 0.3, "thigh": 0.5, "calf": 0.6}},
            "damping keys 'hip' 0.4, 'FR_hip' 0.3 all match joint 'FR_hip' with different values",
        ),
        ({"joint_names": [*FRONT[:5], "FL_knee"]}, "joint_names names 'FL_knee', not a joint of the model"),
        ({"joint_names": [*FRONT[:5], "FR_hip"]}, "'joint_names' names 'FR_hip' 2 times"),
        (
            {"default_joint_angles": {j: 0.0 for j in FRONT[:5]}},
            "default_joint_angles has no angle for policy joint 'FL_calf'",
        ),
        (
            {"default_joint_angles": {**NAMED["default_joint_angles"], "RR_calf": 1.0}},
            "the default angle 1 of 'RR_calf', a joint the policy does not drive and holds there, is outside its "
            "range [-2.7227, -0.8378]",
        ),
        ({"stiffness": None}, "missing 'kps' or 'stiffness'"),
        ({"kps": [20.0, 25.0, 31.0] * 2}, "kps and stiffness differ for policy joint 'FR_calf' (31, 30)"),
    ],
)
def test_a_name_that_matches_nothing_or_two_things_is_one_error_line(tmp_path, change, message):
    path = config(tmp_path / "named.yaml", **{**NAMED, **change})
    with pytest.raises(PolicyError, match=re.escape(message)):
        import_legged_gym(scripted(tmp_path / "policy.pt"), path, MODEL, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_names_of_joints_the_model_lacks_are_one_note_and_not_used():
    # legged_gym passes by map keys none of its dofs has (the training asset's joints the model lacks)
    cfg = {
        **NAMED,
        "default_joint_angles": {**NAMED["default_joint_angles"], "FL_foot": 0.0},
        "stiffness": {**NAMED["stiffness"], "knee": 30.0},
    }
    facts = config_joints(cfg, "named.yaml", 6, MODEL, model_joints(MODEL))
    assert list(facts.joints) == FRONT and facts.kp == (20.0, 25.0, 30.0) * 2
    (note,) = [n for n in facts.notes if "match no joint of the model" in n]
    assert "default_joint_angles FL_foot" in note and "stiffness keys knee" in note


def test_unitree_rl_gyms_h1_config_on_its_mjcf_whose_torso_and_arms_are_rigid(h1_dir):
    # H1RoughCfg names 19 joints and gains for the torso, shoulders and elbows; the MJCF has 10 joints
    legs = {"hip_yaw": 0.0, "hip_roll": 0.0, "hip_pitch": -0.1, "knee": 0.3, "ankle": -0.2}
    upper = ["torso_joint"] + [
        f"{s}_{p}_joint"
        for s in ("left", "right")
        for p in ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow")
    ]
    cfg = {
        "num_actions": 10,
        "default_joint_angles": {
            **{f"{side}_{j}_joint": q for side in ("left", "right") for j, q in legs.items()},
            **dict.fromkeys(upper, 0.0),
        },
        "stiffness": {
            "hip_yaw": 150,
            "hip_roll": 150,
            "hip_pitch": 150,
            "knee": 200,
            "ankle": 40,
            "torso": 300,
            "shoulder": 150,
            "elbow": 100,
        },
        "damping": {
            "hip_yaw": 2,
            "hip_roll": 2,
            "hip_pitch": 2,
            "knee": 4,
            "ankle": 2,
            "torso": 6,
            "shoulder": 2,
            "elbow": 2,
        },
    }
    model = h1_dir / "scene.xml"
    facts = config_joints(cfg, "h1_config.yaml", 10, model, model_joints(model))
    assert list(facts.joints) == model_joints(model) and facts.held == {}
    assert facts.kp == (150.0, 150.0, 150.0, 200.0, 40.0) * 2 and facts.kd == (2.0, 2.0, 2.0, 4.0, 2.0) * 2
    assert facts.default == (0.0, 0.0, -0.1, 0.3, -0.2) * 2


def test_held_targets_of_another_count_than_the_held_joints_is_one_error_line(tmp_path):
    path = config(tmp_path / "g1.yaml", **{**REAL, "arm_waist_target": [0.0] * 5})
    with pytest.raises(
        PolicyError, match=r"arm_waist_target has 5 values, the model has 6 joints the policy does not drive"
    ):
        import_legged_gym(scripted(tmp_path / "policy.pt"), path, MODEL, tmp_path / "out")


def test_a_clip_key_it_does_not_know_is_one_error_line(tmp_path):
    path = config(tmp_path / "g1.yaml", **{**REAL, "policy_action_clip": None, "actions_clip_value": 0.5})
    with pytest.raises(PolicyError, match=r"'actions_clip_value' is a clip this importer does not know"):
        import_legged_gym(scripted(tmp_path / "policy.pt"), path, MODEL, tmp_path / "out")


class TestHumanoidGym:
    """humanoid-gym's XBot: 47 values a frame for 12 actions (clock first, Euler angles last), 15 frames."""

    def cfg(self, tmp_path, **values):
        base = {**NAMED, "joint_names": None, "default_joint_angles": None, "default_angles": [0.0, 0.8, -1.5] * 4}
        return config(tmp_path / "xbot.yaml", **{**base, "num_actions": 12, **values})

    def test_a_single_frame_is_humanoid_gyms_clock_first_and_euler_angles_last(self, tmp_path):
        # a single frame (frame_stack 1) has unitree_rl_gym's clock-layout count, 3 x 12 + 11 = 47, in
        # another order: it was imported as that layout, then refused
        cfg = yaml.safe_load(self.cfg(tmp_path, num_obs=47, frame_stack=1, num_single_obs=47).read_text())
        terms, assumed = layout(cfg, "xbot.yaml")
        assert frame_stack(cfg, "xbot.yaml") == 1
        assert [t.name for t in terms] == HUMANOID_GYM_FRAME and sum(t.size for t in terms) == 47
        assert dict(terms[0].params) == {"period": 0.64}  # XBotLCfg's cycle_time, assumed
        assert any("gait clock period 0.64 s (humanoid-gym's" in a for a in assumed)
        assert any("Euler angle scale 1 (humanoid-gym's" in a for a in assumed)

    @pytest.mark.parametrize(
        ("values", "message"),
        [
            ({"num_obs": 705}, r"num_obs 705 = 15 frames of 3 x 12 \+ 11\? State env\.frame_stack and env\.num_single_obs"),
            ({"num_obs": 735, "frame_stack": 15, "num_single_obs": 49}, r"a frame of 49 values for 12 actions"),
            ({"num_obs": 700, "frame_stack": 15, "num_single_obs": 47}, r"num_obs 700 is not frame_stack x num_single_obs"),
            (
                {"num_obs": 705, "frame_stack": 15, "use_ref_actions": True},
                r"use_ref_actions adds a reference gait computed from the phase",
            ),
        ],
    )
    def test_what_cannot_be_built_is_one_error_line(self, tmp_path, values, message):
        path = self.cfg(tmp_path, **values)
        policy = scripted(tmp_path / "policy.pt", values["num_obs"], 12)
        with pytest.raises(PolicyError, match=message):
            import_legged_gym(policy, path, MODEL, tmp_path / "out")
        assert not (tmp_path / "out").exists()


HUMANOID_GYM_FRAME = [
    "gait_phase",
    "velocity_command",
    "joint_pos_rel",
    "joint_vel",
    "last_action",
    "base_ang_vel",
    "base_euler",
]
"""The terms of one humanoid-gym frame, in its order."""


LEGGED_GYM_CFG = {
    # legged_gym's LeggedRobotCfg of a Go2-like robot as class_to_dict writes it out (its sections)
    "env": {"num_envs": 4096, "num_observations": 48, "num_actions": 12, "episode_length_s": 20},
    "init_state": {
        "pos": [0.0, 0.0, 0.42],
        "default_joint_angles": {
            **{f"{leg}_hip": 0.1 for leg in ("FL", "RL")},
            **{f"{leg}_hip": -0.1 for leg in ("FR", "RR")},
            **{f"{leg}_thigh": 0.8 for leg in ("FL", "FR")},
            **{f"{leg}_thigh": 1.0 for leg in ("RL", "RR")},
            **{f"{leg}_calf": -1.5 for leg in ("FL", "FR", "RL", "RR")},
        },
    },
    "control": {
        "control_type": "P",
        "stiffness": {"hip": 20.0, "thigh": 20.0, "calf": 25.0},
        "damping": {"_": 0.5},
        "action_scale": 0.25,
        "decimation": 4,
    },
    "commands": {
        "curriculum": False,
        "heading_command": True,
        "ranges": {"lin_vel_x": [-1.0, 1.0], "lin_vel_y": [-0.6, 0.6], "ang_vel_yaw": [-2.0, 2.0]},
    },
    "terrain": {
        "mesh_type": "plane",
        "measure_heights": False,
        "measured_points_x": [0.0],
        "measured_points_y": [0.0],
    },
    "normalization": {
        "obs_scales": {
            "lin_vel": 2.0,
            "ang_vel": 0.25,
            "dof_pos": 1.0,
            "dof_vel": 0.05,
            "height_measurements": 5.0,
        },
        "clip_observations": 100.0,
        "clip_actions": 100.0,
    },
    "sim": {"dt": 0.005, "substeps": 1},
    "algorithm": {"clip_param": 0.2},
}


class TestLeggedGymsOwnConfig:
    @pytest.fixture(scope="class")
    @classmethod
    def imported(cls, tmp_path_factory):
        tmp = tmp_path_factory.mktemp("legged_gym_cfg")
        path = tmp / "go2_config.yaml"
        path.write_text(yaml.safe_dump(LEGGED_GYM_CFG))
        policy = scripted(tmp / "policy.pt", n_obs=48, n_act=12)
        return import_legged_gym(policy, path, MODEL, tmp / "out", torque_limit=23.7)

    def test_its_sections_import_as_legged_gym_reads_them(self, imported):
        # the sectioned form was refused: "missing 'ang_vel_scale'"
        spec, meta = imported.spec, imported.metadata
        assert list(spec.joints) == list(model_joints(MODEL))  # every dof, in the asset's order
        assert spec.default_pose[:3].tolist() == [0.1, 0.8, -1.5] and spec.default_pose[3] == -0.1
        assert [a.kp for a in spec.actuators][:3] == [20.0, 20.0, 25.0] and {
            a.kd for a in spec.actuators
        } == {0.5}
        assert meta.control_dt == pytest.approx(0.02) and meta.action_limit == 100.0
        names = [t.name for t in spec.observation]
        assert names[:3] == ["base_lin_vel", "base_ang_vel", "projected_gravity"]
        (command,) = [t for t in spec.observation if t.name == "velocity_command"]
        assert tuple(command.scale) == (2.0, 2.0, 0.25)

    def test_its_command_ranges_bound_the_command(self, imported):
        # heading_command: the yaw rate legged_gym commands is the heading error's, clipped to [-1, 1]
        (command,) = [t for t in imported.spec.observation if t.name == "velocity_command"]
        assert command.clip == ((-1.0, -0.6, -1.0), (1.0, 0.6, 1.0))

    def test_a_torque_or_velocity_control_type_is_one_error_line(self, tmp_path):
        path = tmp_path / "cfg.yaml"
        path.write_text(
            yaml.safe_dump({**LEGGED_GYM_CFG, "control": {**LEGGED_GYM_CFG["control"], "control_type": "T"}})
        )
        with pytest.raises(
            PolicyError,
            match=r"control\.control_type is 'T'; sim2real imports policies that command position",
        ):
            import_legged_gym(scripted(tmp_path / "policy.pt", 48, 12), path, MODEL, tmp_path / "out")


def test_humanoid_gyms_own_sectioned_config_imports_with_its_frames_stacked(tmp_path):
    # XBotLCfg's sections (its obs_scales.quat, rewards.cycle_time, clip 18) on the quadruped's 12 joints:
    # it was refused ("frame_stack 15, num_single_obs 47: humanoid-gym's observation ... cannot be imported")
    normalization = LEGGED_GYM_CFG["normalization"]
    cfg = {
        **LEGGED_GYM_CFG,
        "env": {
            "frame_stack": 15,
            "c_frame_stack": 3,
            "num_single_obs": 47,
            "num_observations": 705,
            "num_actions": 12,
            "use_ref_actions": False,
        },
        "rewards": {"cycle_time": 0.64, "only_positive_rewards": True},
        "normalization": {
            "obs_scales": {**normalization["obs_scales"], "ang_vel": 1.0, "quat": 0.5},
            "clip_observations": 18.0,
            "clip_actions": 18.0,
        },
    }
    path = tmp_path / "xbot.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = import_legged_gym(
        scripted(tmp_path / "policy.pt", 705, 12), path, MODEL, tmp_path / "out", torque_limit=23.7
    )
    spec, meta = result.spec, result.metadata
    assert spec.frame_stack == meta.frame_stack == 15 and meta.n_obs == 705 == spec.n_obs
    assert [t.name for t in meta.observation] == HUMANOID_GYM_FRAME
    terms = {t.name: t for t in meta.observation}
    assert dict(terms["gait_phase"].params)["period"] == 0.64
    assert terms["base_euler"].scale == 0.5 and terms["base_euler"].clip == (-36.0, 36.0)  # +-18 after scaling
    assert terms["velocity_command"].scale == (2.0, 2.0, 1.0)
    assert meta.action_limit == 18.0 and result.max_abs_diff <= 1e-5 and result.n_recorded > 0
    assert "frame_stack: 15" in spec.path.read_text()
