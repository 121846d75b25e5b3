"""`sim2real import isaaclab` of ``joint_ids_map`` as Isaac Lab's exporters define it: the slot of
each policy joint in the robot's SDK joint list (unitree_rl_lab's ``joint_sdk_names``), which may
hold slots without a joint (an H1's motor 9, a 23-joint G1's waist and wrist slots), and a
deploy.yaml's own ``joint_names`` (forks of the exporter write the SDK list there, ``""`` for an
empty slot).  Each test builds a small synthetic export in the shape those exporters write."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from foreign_fixtures import RANGES, TERMS
from test_isaaclab_humanoid import tiny_isaac_onnx

from sim2real.errors import PolicyError
from sim2real.policy.imports.isaaclab import import_isaaclab
from sim2real.policy.imports.joint_order import policy_joints
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import DATA_DIR, load_robot

MODEL = DATA_DIR / "quadruped.xml"
LEGS = ("FR", "FL", "RR", "RL")
SDK = [f"{leg}_{part}" for leg in LEGS for part in ("hip", "thigh", "calf")]
SDK = [*SDK[:6], "", *SDK[6:]]  # a slot without a joint, as an H1's motor 9
POLICY = [f"{leg}_{part}" for part in ("hip", "thigh", "calf") for leg in LEGS]
"""The articulation's order of a robot description whose right legs come first: not the model's
breadth first order (FL, FR, RL, RR), which the hips' symmetric default pose cannot tell from it."""
N_OBS = sum(size for _, size, _ in TERMS)


def fork_deploy_yaml(path, *, joint_names=True, physics_dt=0.0025):
    """A unitree_rl_lab fork's ``format_version: 2`` deploy.yaml: ``joint_names`` the SDK list,
    ``physics_dt`` the simulation step, stiffness and damping by SDK slot (zero at the empty one)."""
    spec = load_robot("quadruped")
    default = [float(spec.default_pose[spec.joints.index(j)]) for j in POLICY]
    ids = [SDK.index(j) for j in POLICY]
    kp = [0.0 if not j else 20.0 + s for s, j in enumerate(SDK)]
    kd = [0.0 if not j else 0.5 + 0.01 * s for s, j in enumerate(SDK)]
    lines = [
        "format_version: 2",
        *([f"joint_names: {SDK}"] if joint_names else []),
        f"joint_ids_map: {ids}",
        *([f"physics_dt: {physics_dt}"] if physics_dt is not None else []),
        f"step_dt: {spec.control_dt}",
        "policy_action_clip: null",
        f"stiffness: {kp}",
        f"damping: {kd}",
        f"default_joint_pos: {default}",
        "commands:",
        "  base_velocity:",
        "    ranges:",
        *(f"      {k}: {v}" for k, v in RANGES.items()),
        "actions:",
        "  JointPositionAction:",
        "    clip: null",
        "    joint_names: ['.*']",
        f"    scale: {[0.25] * 12}",
        f"    offset: {default}",
        "    joint_ids: null",
        "observations:",
    ]
    for name, size, scale in TERMS:
        params = "{command_name: base_velocity}" if name == "velocity_commands" else "{}"
        lines += [
            f"  {name}:",
            f"    params: {params}",
            "    clip: null",
            f"    scale: {[scale] * size}",
            "    history_length: 1",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


class SlotReference:
    """unitree_rl_lab's deploy code over SDK slots: policy joint i reads and commands
    ``motor_state[joint_ids_map[i]]``, motor slot s gets ``stiffness[s]``; readings and targets here
    by joint name."""

    def __init__(self, onnx_path, cfg):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.cfg, self.ids = cfg, cfg["joint_ids_map"]
        self.default = np.array(cfg["default_joint_pos"])
        act = cfg["actions"]["JointPositionAction"]
        self.scale, self.offset = np.array(act["scale"]), np.array(act["offset"])
        self.action = np.zeros(len(self.ids))
        self.obs = None

    def step(self, q, qd, gyro, quat, cmd):
        """``q``, ``qd``: joint name -> value; returns joint name -> position target."""
        slot_q = np.array([q.get(j, 0.0) for j in SDK])
        slot_qd = np.array([qd.get(j, 0.0) for j in SDK])
        w, x, y, z = quat / np.linalg.norm(quat)
        gravity = np.array([2 * (-z * x + w * y), -2 * (z * y + w * x), 1 - 2 * (w * w + z * z)])
        ranges = self.cfg["commands"]["base_velocity"]["ranges"]
        raw = {
            "base_ang_vel": gyro,
            "projected_gravity": gravity,
            "velocity_commands": np.clip(cmd, [ranges[k][0] for k in RANGES], [ranges[k][1] for k in RANGES]),
            "joint_pos_rel": slot_q[self.ids] - self.default,
            "joint_vel_rel": slot_qd[self.ids],
            "last_action": self.action,
        }
        self.obs = np.concatenate(
            [raw[n] * np.array(t["scale"]) for n, t in self.cfg["observations"].items()]
        )
        self.action = self.session.run(None, {"obs": self.obs[None].astype(np.float32)})[0][0].astype(float)
        slot_target = np.zeros(len(SDK))
        slot_target[self.ids] = self.action * self.scale + self.offset
        return {j: slot_target[s] for s, j in enumerate(SDK) if j}


class TestJointIdsMapHoldsSlots:
    def test_a_motor_order_with_an_empty_slot_is_read_by_slot(self):
        slots = [j or "-" for j in SDK]
        joints, rank, motors, assumed = policy_joints(
            [SDK.index(j) for j in POLICY], "deploy.yaml", motor_order=slots
        )
        assert joints == POLICY and motors == slots  # the empty slot kept: before, dropped, RR_hip took slot 6
        assert rank[POLICY.index("RR_hip")] == 6  # the seventh motor, in slot 7
        assert len(assumed) == 1 and "motor slot(s) 6 without a policy joint" in assumed[0]

    def test_a_given_orders_trailing_empty_slots_are_kept(self):
        """They were dropped: a 12-value array passed for a driver that reads 14 slots."""
        slots = [*(j or "-" for j in SDK), "-", "-"]
        _, _, motors, _ = policy_joints([SDK.index(j) for j in POLICY], "deploy.yaml", motor_order=slots)
        assert motors == slots

    def test_a_motor_order_of_exactly_the_policys_joints_skips_the_maps_gaps_by_rank(self):
        joints, _, _, assumed = policy_joints(
            [SDK.index(j) for j in POLICY], "deploy.yaml", motor_order=[j for j in SDK if j]
        )
        assert joints == POLICY and "slots the map skips taken as the ones without a joint" in assumed[0]

    def test_slots_beyond_a_motor_order_naming_other_joints_too_are_refused_not_matched_by_rank(self):
        # the map uses slots up to 13 (two without a joint); the robot's motor order names 13
        # joints, one not the policy's: which slots it skips is unknown.  By rank FL's hip (the
        # fourth motor) was given 'arm_1', the joint listed after FR's calf
        slots = [*SDK[:9], "", *SDK[9:]]
        motors = [j for j in SDK[:3]] + ["arm_1"] + [j for j in SDK[3:] if j]
        with pytest.raises(
            PolicyError, match=r"uses motor slot 13, the motor order lists 13 slots .* \(- for one without"
        ):
            policy_joints([slots.index(j) for j in POLICY], "deploy.yaml", motor_order=motors)

    def test_a_policy_joint_on_a_slot_without_a_joint_is_refused(self):
        slots = [j or "-" for j in SDK]
        with pytest.raises(
            PolicyError, match="gives policy joint 0 motor 6, a slot the motor order marks as without a joint"
        ):
            policy_joints([6, 0, 1], "deploy.yaml", motor_order=slots)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fork")
    onnx_path = tiny_isaac_onnx(folder / "exported" / "policy.onnx", N_OBS, 12)
    deploy = fork_deploy_yaml(folder / "params" / "deploy.yaml")
    result = import_isaaclab(onnx_path, deploy, MODEL, folder / "imported", torque_limit=23.7)
    return {"onnx": onnx_path, "deploy": deploy, "result": result}


class TestDeployYamlJointNames:
    def test_the_files_joint_names_give_the_policy_joints_gains_and_physics_step(self, imported):
        # before: joint_names was ignored and the model's breadth first order (FL before FR) taken,
        # every left leg's joint swapped with its right one; physics_dt ignored for step_dt / 4
        spec = imported["result"].spec
        assert list(spec.joints) == POLICY
        assert list(spec.motors) == [j for j in SDK if j]
        assert list(spec.motor_order) == [j or "-" for j in SDK] and spec.empty_slots == (6,)
        for joint in POLICY:
            s = SDK.index(joint)
            assert (spec.actuator(joint).kp, spec.actuator(joint).kd) == pytest.approx(
                (20.0 + s, 0.5 + 0.01 * s)
            )
        assert spec.control_dt / spec.substeps == pytest.approx(0.0025)

    def test_observation_and_targets_are_the_deploy_codes_for_the_same_state(self, imported):
        spec = imported["result"].spec
        runner = PolicyRunner(imported["result"].policy, spec, providers="cpu")
        reference = SlotReference(imported["onnx"], yaml.safe_load(imported["deploy"].read_text()))
        robot = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        command = np.array([0.4, 0.1, -0.2])
        for _ in range(15):
            reading = robot.read()
            values = runner.step_reading(reading, command).copy()
            q = dict(zip(spec.joints, reading.q, strict=True))
            qd = dict(zip(spec.joints, reading.qd, strict=True))
            target = reference.step(q, qd, reading.gyro, reading.quat, command)
            np.testing.assert_allclose(runner.observation, reference.obs, rtol=0, atol=1e-5)
            np.testing.assert_allclose(values, [target[j] for j in spec.actuated_joints], rtol=0, atol=1e-5)
            robot.write(Command(reading.t, values))

    def test_a_motor_order_that_disagrees_with_the_files_joint_names_is_refused(self, imported, tmp_path):
        wrong = tuple(j or "-" for j in SDK[3:6] + SDK[:3] + SDK[6:])  # FL's motors named FR's
        with pytest.raises(
            PolicyError,
            match=r"--motor-order makes policy joint 0 'FL_hip', deploy\.yaml's joint_names 'FR_hip'",
        ):
            import_isaaclab(imported["onnx"], imported["deploy"], MODEL, tmp_path / "out", motor_order=wrong)

    def test_joint_names_the_model_lacks_are_recorded_and_not_used(self, imported, tmp_path):
        deploy = tmp_path / "deploy.yaml"
        deploy.write_text(imported["deploy"].read_text().replace("'FR_hip'", "'FR_hip_joint'", 1))
        result = import_isaaclab(imported["onnx"], deploy, MODEL, tmp_path / "out", torque_limit=23.7)
        assert any(
            "joint_names name 'FR_hip_joint', not one of the model's chosen joints" in a
            for a in result.metadata.imported["assumptions"]
        )


class TestEmptySlotsReachTheCommandMessage:
    """The import dropped the empty slot: the spec's motor order had 12 entries, and a driver reading
    a Float64MultiArray by motor slot set RR_hip's motor (slot 7) from RR_thigh's target, and so on
    to the last motor, which got nothing."""

    def test_the_default_array_layout_is_refused_naming_the_slot(self, imported):
        from sim2real.real.ros2.config import Ros2Config, Ros2ConfigError

        spec = imported["result"].spec
        with pytest.raises(Ros2ConfigError, match=r"leaves motor slot\(s\) 6 without a joint.*command_joints"):
            Ros2Config().check(spec)
        Ros2Config(command_type="sensor_msgs/msg/JointState").check(spec)  # named: no layout to state

    def test_a_stated_layout_puts_each_target_in_its_motors_slot(self, imported):
        from sim2real.real.ros2.config import Ros2Config

        spec = imported["result"].spec
        config = Ros2Config(command_joints=tuple(j or "-" for j in SDK))
        config.check(spec)
        order = config.command_order(spec)
        assert len(order) == len(SDK) and order[6] == -1
        assert [spec.actuators[i].joint for i in order if i >= 0] == [j for j in SDK if j]


def test_a_real_robots_preflight_refuses_a_joint_order_chosen_from_evidence(tmp_path):
    """No file names the joints (an upstream unitree_rl_lab deploy.yaml): the import takes the
    model's order from evidence, which cannot tell a model whose right legs come first in the
    training asset (a mirrored policy).  A twin's contract item passes and says so; a real robot's
    fails until --motor-order states the order."""
    from sim2real.deploy.preflight import check_contract

    onnx_path = tiny_isaac_onnx(tmp_path / "exported" / "policy.onnx", N_OBS, 12)
    deploy = fork_deploy_yaml(tmp_path / "params" / "deploy.yaml", joint_names=False)
    guessed = import_isaaclab(onnx_path, deploy, MODEL, tmp_path / "guessed", torque_limit=23.7)
    item, _ = check_contract(guessed.spec, guessed.policy, "twin")
    assert item.status == "pass" and "joint order chosen at import from evidence" in item.evidence
    item, _ = check_contract(guessed.spec, guessed.policy, "robot")
    assert item.status == "fail" and "import it again with --motor-order" in item.evidence
    stated = import_isaaclab(
        onnx_path, deploy, MODEL, tmp_path / "stated", torque_limit=23.7, motor_order=[j or "-" for j in SDK]
    )
    assert check_contract(stated.spec, stated.policy, "robot")[0].status == "pass"

