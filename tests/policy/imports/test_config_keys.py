"""Keys of other frameworks' configs that the importers ignored and so misread (review round 3):
Isaac Lab's ``use_default_offset`` beside a configured offset of 0.0 in a deploy.yaml, and in a
unitree_rl_gym / legged_gym deploy config the gait clock's ``cycle_time``, ``clip_observations``,
``clip_actions`` and the real robot's ``leg_joint2motor_idx``.  Each test failed on the code before
its fix (a policy imported with another meaning than it was trained with, without a word)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from foreign_fixtures import RANGES, TERMS, legged_gym_config
from test_isaaclab_formats import tiny_onnx
from test_isaaclab_humanoid import mjlab_metadata, mjlab_onnx

from sim2real.errors import PolicyError
from sim2real.policy.imports.isaaclab import import_isaaclab
from sim2real.policy.imports.legged_gym import import_legged_gym, motor_slots
from sim2real.policy.runtime import PolicyRunner
from sim2real.robots import DATA_DIR, load_robot
from sim2real.robots.spec import NO_JOINT

torch = pytest.importorskip("torch", reason="importing TorchScript policies needs the train extra (torch)")

MODEL = DATA_DIR / "quadruped.xml"  # its motors state no effort limit: --torque-limit 23.7
UPRIGHT = np.array([1.0, 0.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def spec():
    return load_robot("quadruped")


# ------------------------------------------------------------------------- Isaac Lab deploy.yaml
def deploy_yaml(spec, path, **action):
    """A unitree_rl_lab style deploy.yaml of the quadruped (motors and policy joints in model order)
    whose ``actions.JointPositionAction`` has ``action``'s keys."""
    cfg = {
        "joint_ids_map": list(range(12)),
        "step_dt": spec.control_dt,
        "stiffness": [25.0] * 12,
        "damping": [0.5] * 12,
        "default_joint_pos": [float(x) for x in spec.default_pose],
        "commands": {"base_velocity": {"ranges": RANGES}},
        "actions": {"JointPositionAction": {"clip": None, "joint_names": [".*"], "scale": 0.25, **action}},
        "observations": {
            name: {
                "params": {"command_name": "base_velocity"} if name == "velocity_commands" else {},
                "clip": None,
                "scale": [scale] * size,
                "history_length": 1,
            }
            for name, size, scale in TERMS
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


class TestUseDefaultOffset:
    def test_use_default_offset_makes_the_default_pose_the_offset_not_the_configured_zero(
        self, spec, tmp_path
    ):
        # Isaac Lab's JointPositionAction replaces cfg.offset (0.0 unless set) by the default pose when
        # use_default_offset is true; a deploy.yaml that keeps both (a hand-made one, a fork's exporter)
        # was imported with offset 0: every PD target about 0 rad, legs stretched out
        deploy = deploy_yaml(spec, tmp_path / "params" / "deploy.yaml", offset=0.0, use_default_offset=True)
        result = import_isaaclab(
            tiny_onnx(tmp_path / "exported" / "policy.onnx"),
            deploy,
            MODEL,
            tmp_path / "out",
            motor_order=tuple(spec.joints),
            torque_limit=23.7,
        )
        np.testing.assert_allclose(
            result.metadata.command_offset, spec.default_pose, atol=1e-9, err_msg="offset taken as absolute"
        )

    def test_use_default_offset_false_keeps_the_stated_offset(self, spec, tmp_path):
        offset = [0.1] * 12
        deploy = deploy_yaml(spec, tmp_path / "deploy.yaml", offset=offset, use_default_offset=False)
        result = import_isaaclab(
            tiny_onnx(tmp_path / "policy.onnx"),
            deploy,
            MODEL,
            tmp_path / "out",
            motor_order=tuple(spec.joints),
            torque_limit=23.7,
        )
        np.testing.assert_allclose(result.metadata.command_offset, offset, atol=1e-9)

    def test_use_default_offset_beside_another_offset_is_one_error_line(self, spec, tmp_path):
        offset = [float(x) for x in spec.default_pose]
        offset[4] += 0.3
        deploy = deploy_yaml(spec, tmp_path / "deploy.yaml", offset=offset, use_default_offset=True)
        with pytest.raises(PolicyError, match=r"use_default_offset is true .* offset value 5 is 1\.1"):
            import_isaaclab(
                tiny_onnx(tmp_path / "policy.onnx"),
                deploy,
                MODEL,
                tmp_path / "out",
                motor_order=tuple(spec.joints),
            )
        assert not (tmp_path / "out").exists()


class TestActionClipOfADeployYaml:
    def test_a_forks_top_level_policy_action_clip_bounds_the_action(self, spec, tmp_path):
        # a fork's exporter writes the action bound into the deploy.yaml; it was read as no bound
        deploy = yaml.safe_load(deploy_yaml(spec, tmp_path / "deploy.yaml").read_text())
        (tmp_path / "deploy.yaml").write_text(yaml.safe_dump({**deploy, "policy_action_clip": 0.5}))
        result = import_isaaclab(
            tiny_onnx(tmp_path / "policy.onnx"),
            tmp_path / "deploy.yaml",
            MODEL,
            tmp_path / "out",
            motor_order=tuple(spec.joints),
            torque_limit=23.7,
        )
        assert result.metadata.action_limit == 0.5, "policy_action_clip ignored"

    def test_a_top_level_clip_it_does_not_know_is_one_error_line(self, spec, tmp_path):
        deploy = yaml.safe_load(deploy_yaml(spec, tmp_path / "deploy.yaml").read_text())
        (tmp_path / "deploy.yaml").write_text(yaml.safe_dump({**deploy, "obs_clip": 5.0}))
        with pytest.raises(PolicyError, match=r"deploy\.yaml: 'obs_clip' is a clip this importer does not know"):
            import_isaaclab(
                tiny_onnx(tmp_path / "policy.onnx"),
                tmp_path / "deploy.yaml",
                MODEL,
                tmp_path / "out",
                motor_order=tuple(spec.joints),
            )


class TestGainsBySlot:
    def test_one_gain_per_policy_joint_beside_a_map_with_empty_slots_is_one_error_line(self, spec, tmp_path):
        # joint_ids_map skips slot 6 (an H1's motor 9): 12 stiffness values are either by motor with the
        # gap closed or by policy joint; they were read by motor, giving the rear legs their neighbours'
        deploy = yaml.safe_load(deploy_yaml(spec, tmp_path / "deploy.yaml").read_text())
        deploy["joint_ids_map"] = [*range(6), *range(7, 13)]
        deploy["stiffness"] = [20.0 + k for k in range(12)]
        (tmp_path / "deploy.yaml").write_text(yaml.safe_dump(deploy))
        slots = (*spec.joints[:6], NO_JOINT, *spec.joints[6:])
        with pytest.raises(
            PolicyError,
            match=r"stiffness has 12 values, one per policy joint, while joint_ids_map uses motor slots up to 12",
        ):
            import_isaaclab(
                tiny_onnx(tmp_path / "policy.onnx"),
                tmp_path / "deploy.yaml",
                MODEL,
                tmp_path / "out",
                motor_order=slots,
            )


class TestMjlabMetadataBesideADeployYaml:
    """unitree_rl_mjlab ships both: the ONNX names the joints, the deploy.yaml states the rest."""

    def test_agreeing_files_import(self, spec, tmp_path):
        policy = mjlab_onnx(tmp_path / "policy.onnx", mjlab_metadata(spec), n_obs=45, n_act=12)
        deploy = deploy_yaml(spec, tmp_path / "deploy.yaml", offset=[float(x) for x in spec.default_pose])
        result = import_isaaclab(policy, deploy, MODEL, tmp_path / "out", torque_limit=23.7)
        assert list(result.spec.joints) == list(spec.joints)

    def test_a_default_pose_in_another_order_than_the_metadata_is_one_error_line(self, spec, tmp_path):
        # the deploy.yaml's values were taken per policy joint in the metadata's order without a
        # look at the metadata's own: front and rear legs swapped, FL_thigh got the rear's 1.0 rad
        policy = mjlab_onnx(tmp_path / "policy.onnx", mjlab_metadata(spec), n_obs=45, n_act=12)
        swapped = [float(x) for x in (*spec.default_pose[6:], *spec.default_pose[:6])]
        deploy = yaml.safe_load(deploy_yaml(spec, tmp_path / "deploy.yaml", offset=swapped).read_text())
        deploy["default_joint_pos"] = swapped
        (tmp_path / "deploy.yaml").write_text(yaml.safe_dump(deploy))
        with pytest.raises(
            PolicyError, match=r"metadata's default_joint_pos of 'FL_thigh' is 0\.8, deploy\.yaml says 1"
        ):
            import_isaaclab(policy, tmp_path / "deploy.yaml", MODEL, tmp_path / "out", torque_limit=23.7)


# ------------------------------------------------------------------------ legged_gym deploy config
def scripted(tmp_path, n_obs, bias=0.0):
    """A scripted legged_gym MLP (``policy_1.pt``) whose action is shifted by ``bias``."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(n_obs, 16), torch.nn.ELU(), torch.nn.Linear(16, 12))
    with torch.no_grad():
        net[2].bias.add_(bias)
    path = tmp_path / "policy_1.pt"
    torch.jit.script(net).save(str(path))
    return path


def import_lg(tmp_path, n_obs=48, bias=0.0, drop=(), **config):
    """Import a scripted policy with the suite's deploy config changed by ``config`` (``drop``: keys
    removed)."""
    path = legged_gym_config(tmp_path, num_obs=n_obs, **config)
    values = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({k: v for k, v in values.items() if k not in drop}))
    return import_legged_gym(
        scripted(tmp_path, n_obs, bias), path, MODEL, tmp_path / "out", torque_limit=23.7
    )


LEGS = [3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8]
"""unitree_rl_gym's Go2 real-robot leg_joint2motor_idx: the robot's motors are right leg first."""


@pytest.fixture(scope="module")
def humanoid_style(tmp_path_factory):
    """A gait-clock policy (47 = 3 x 12 + 11) whose config states every key these tests read, its
    period as unitree_rl_gym's real-robot configs state it (``control_dt``, no physics step)."""
    return import_lg(
        tmp_path_factory.mktemp("legged_gym"),
        n_obs=47,
        bias=3.0,
        drop=("simulation_dt", "control_decimation"),
        control_dt=0.02,
        cycle_time=0.64,
        clip_observations=2.0,
        clip_actions=0.5,
        leg_joint2motor_idx=LEGS,
        arm_waist_joint2motor_idx=[12],
    )


def step(result, qd):
    """One step of the imported policy from the default pose (joint velocities ``qd``)."""
    runner = PolicyRunner(result.policy, result.spec, providers="cpu")
    runner.step(np.asarray(result.spec.default_pose), qd, np.zeros(3), UPRIGHT, np.array([0.5, 0.0, 0.0]))
    return runner


class TestLeggedGymConfigKeys:
    def test_cycle_time_is_the_gait_clock_period(self, humanoid_style):
        # the name some forks give the clock's period; the importer took unitree_rl_gym's 0.8 s
        (phase,) = [t for t in humanoid_style.spec.observation if t.name == "gait_phase"]
        assert phase.params["period"] == pytest.approx(0.64), f"clock period {phase.params['period']}"

    def test_two_periods_that_differ_are_one_error_line(self, tmp_path):
        with pytest.raises(
            PolicyError, match=r"period is stated twice and differs \(period 0\.8, cycle_time 0\.64\)"
        ):
            import_lg(tmp_path, n_obs=47, period=0.8, cycle_time=0.64)

    def test_clip_observations_bounds_every_scaled_value(self, humanoid_style):
        # legged_gym clips the whole scaled observation to +-clip_observations: 100 rad/s x 0.05 = 5 -> 2
        runner = step(humanoid_style, qd=np.full(12, 100.0))
        velocities = runner.observation[21:33]  # angular velocity, gravity, command 3 each, joints 12
        np.testing.assert_allclose(velocities, 2.0, atol=1e-6, err_msg="clip_observations ignored")
        assert np.abs(runner.observation).max() <= 2.0 + 1e-6

    def test_clip_actions_bounds_the_action_and_the_action_observed(self, humanoid_style):
        assert humanoid_style.metadata.action_limit == 0.5, "clip_actions ignored"
        runner = step(humanoid_style, qd=np.zeros(12))  # the network's action is about 3
        np.testing.assert_allclose(np.abs(runner.filtered_action), 0.5)
        runner.step(
            np.asarray(humanoid_style.spec.default_pose), np.zeros(12), np.zeros(3), UPRIGHT, np.zeros(3)
        )
        np.testing.assert_allclose(
            np.abs(runner.observation[33:45]), 0.5, err_msg="the action observed is not the clipped one"
        )
        np.testing.assert_allclose(
            runner.command,
            np.asarray(humanoid_style.spec.default_pose) + 0.25 * runner.filtered_action,
            atol=1e-9,
        )

    def test_leg_joint2motor_idx_states_the_robots_motor_order(self, humanoid_style):
        # unitree_rl_gym's real-robot configs: policy joint i is motor leg_joint2motor_idx[i]; it was
        # ignored, and a command array by motor sent each leg's targets to another leg's motors
        joints = list(humanoid_style.spec.joints)
        expected = [joints[LEGS.index(slot)] for slot in range(12)] + [NO_JOINT]
        assert list(humanoid_style.spec.motor_order) == expected

    def test_a_clip_that_is_not_a_positive_number_is_one_error_line(self, tmp_path):
        with pytest.raises(PolicyError, match="'clip_actions' must be a positive number"):
            import_lg(tmp_path, clip_actions=0)

    def test_a_real_robot_configs_control_dt_is_the_policy_period(self, humanoid_style):
        # deploy_real's configs state control_dt instead of simulation_dt x control_decimation: refused
        # with "missing 'control_decimation'" though they state everything the policy needs
        assert humanoid_style.metadata.control_dt == pytest.approx(0.02)
        assumed = humanoid_style.metadata.imported["assumptions"]
        assert any("physics timestep 0.005 s, a quarter of control_dt" in a for a in assumed), assumed

    def test_a_control_dt_that_disagrees_with_the_physics_steps_is_one_error_line(self, tmp_path):
        with pytest.raises(
            PolicyError, match=r"control_dt 0\.025 s is not simulation_dt x control_decimation \(0\.02 s\)"
        ):
            import_lg(tmp_path, control_dt=0.025)

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"num_actions": "twelve"}, "'num_actions' must be a whole number of at least 1, got 'twelve'"),
            (
                {"control_decimation": 2.5},
                "'control_decimation' must be a whole number of at least 1, got 2.5",
            ),
            ({"cycle_time": "fast"}, "'cycle_time' must be a finite number, got 'fast'"),
        ],
    )
    def test_a_value_that_is_not_a_number_is_one_error_line(self, tmp_path, change, message):
        # int("twelve") and float("fast") were tracebacks; int(2.5) took 2 physics steps per policy step
        with pytest.raises(PolicyError, match=re.escape(message)):
            import_lg(tmp_path, n_obs=47, **change)

    def test_joint2motor_idx_of_a_policy_of_every_joint_beside_a_leg_list(self):
        # a real-robot config of a 29-joint G1 policy keeps the 12-leg leg_joint2motor_idx beside its
        # joint2motor_idx of every joint: the list of the policy's joints is the one that fits
        joints = [f"j{k}" for k in range(4)]
        cfg = {"leg_joint2motor_idx": [0, 1], "joint2motor_idx": [1, 0, 3, 2]}
        assert motor_slots(cfg, joints, "g1.yaml", []) == ("j1", "j0", "j3", "j2")
        cfg["leg_joint2motor_idx"] = [0, 1, 2, 3]
        with pytest.raises(
            PolicyError,
            match="leg_joint2motor_idx and joint2motor_idx give the 4 policy joints different motors",
        ):
            motor_slots(cfg, joints, "g1.yaml", [])

    def test_a_leg_index_that_is_not_a_permutation_is_one_error_line(self, tmp_path):
        with pytest.raises(PolicyError, match="leg_joint2motor_idx must list 12 distinct motor indices"):
            import_lg(tmp_path, leg_joint2motor_idx=[0] * 12)
