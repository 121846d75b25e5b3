"""`sim2real import isaaclab` of a policy that drives some joints and observes all of them: a
unitree_rl_lab ``params/deploy.yaml`` whose action ``joint_ids`` name the legs' hips and thighs of
the embedded quadruped while its joint terms cover all twelve joints (the calves held, as a G1's
waist and wrists are), with a seeded random network exported to ONNX as Isaac Lab does."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest
import yaml
from foreign_fixtures import PERM, RANGES, _export
from test_isaaclab_humanoid import mjlab_metadata, mjlab_onnx, tiny_isaac_onnx

from sim2real.cli import main
from sim2real.deploy.safety import SafetyMonitor
from sim2real.errors import PolicyError
from sim2real.logs.bag import read_bag
from sim2real.policy.imports.isaaclab import import_isaaclab
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import DATA_DIR, load_robot, load_spec

MODEL = DATA_DIR / "quadruped.xml"
MOTORS = list(load_robot("quadruped").joints)  # motor order: the model's joint order
POLICY = [MOTORS[i] for i in PERM]  # Isaac Lab's articulation order: hips, thighs, calves
DRIVEN = list(range(8))  # the action's joint_ids: the hips and thighs
HELD = POLICY[8:]
HISTORY = 2
TERMS = [  # name, frame size, scale
    ("base_ang_vel", 3, 0.25),
    ("projected_gravity", 3, 1.0),
    ("velocity_commands", 3, 1.0),
    ("joint_pos_rel", 12, 1.0),
    ("joint_vel_rel", 12, 0.05),
    ("last_action", 8, 1.0),
]
N_OBS = sum(size for _, size, _ in TERMS) * HISTORY


def deploy_yaml(path, joint_ids=DRIVEN):
    """unitree_rl_lab's deploy.yaml of a policy driving ``joint_ids`` of the 12 policy joints."""
    spec = load_robot("quadruped")
    default = [float(spec.default_pose[MOTORS.index(j)]) for j in POLICY]
    lines = [
        f"joint_ids_map: {[MOTORS.index(j) for j in POLICY]}",
        f"step_dt: {spec.control_dt}",
        f"stiffness: {[20.0 + m for m in range(12)]}",
        f"damping: {[0.5 + 0.01 * m for m in range(12)]}",
        f"default_joint_pos: {default}",
        "commands:",
        "  base_velocity:",
        "    ranges:",
        *(f"      {k}: {v}" for k, v in RANGES.items()),
        "actions:",
        "  JointPositionAction:",
        "    clip: null",
        "    joint_names: ['.*_hip', '.*_thigh']",
        f"    scale: {[0.25] * len(joint_ids)}",
        f"    offset: {[default[i] for i in joint_ids]}",
        f"    joint_ids: {joint_ids}",
        "observations:",
    ]
    for name, size, scale in TERMS:
        lines += [f"  {name}:"]
        lines += (
            ["    params: {command_name: base_velocity}"]
            if name == "velocity_commands"
            else ["    params: {}"]
        )
        lines += ["    clip: null", f"    scale: {[scale] * size}", f"    history_length: {HISTORY}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def random_policy(path):
    """A seeded random MLP (obs -> 8 actions) exported to ONNX as Isaac Lab's exporter names it."""
    import torch

    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(N_OBS, 32), torch.nn.ELU(), torch.nn.Linear(32, len(DRIVEN)))
    with torch.no_grad():
        net[2].weight.mul_(0.3)
    return _export(net, N_OBS, path)


class Reference:
    """The deploy.yaml's semantics written out (unitree_rl_lab's deploy code): the observation of
    motor-order readings, and the motor targets: the action's joints at offset + scale * a, every
    other motor at its default_joint_pos (its PD gains from stiffness/damping)."""

    def __init__(self, onnx_path, cfg):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.cfg = cfg
        self.ids = cfg["joint_ids_map"]
        self.default = np.array(cfg["default_joint_pos"])
        act = cfg["actions"]["JointPositionAction"]
        self.driven = act["joint_ids"]
        self.scale, self.offset = np.array(act["scale"]), np.array(act["offset"])
        self.action = np.zeros(len(self.driven))
        self.history = {}
        self.obs = None

    def step(self, q, qd, gyro, quat, cmd):
        w, x, y, z = quat / np.linalg.norm(quat)
        gravity = np.array([2 * (-z * x + w * y), -2 * (z * y + w * x), 1 - 2 * (w * w + z * z)])
        ranges = self.cfg["commands"]["base_velocity"]["ranges"]
        raw = {
            "base_ang_vel": gyro,
            "projected_gravity": gravity,
            "velocity_commands": np.clip(cmd, [ranges[k][0] for k in RANGES], [ranges[k][1] for k in RANGES]),
            "joint_pos_rel": q[self.ids] - self.default,  # every joint, in articulation order
            "joint_vel_rel": qd[self.ids],
            "last_action": self.action,  # the action's joints only
        }
        obs = []
        for name, term in self.cfg["observations"].items():
            frame = raw[name] * np.array(term["scale"])
            frames = self.history.setdefault(name, [frame] * term["history_length"])
            frames.append(frame)
            del frames[0]
            obs.extend(np.concatenate(frames))
        self.obs = np.array(obs)
        self.action = self.session.run(None, {"obs": self.obs[None].astype(np.float32)})[0][0].astype(float)
        target = np.zeros(len(q))
        target[self.ids] = self.default  # policy joint i is motor ids[i]
        target[[self.ids[i] for i in self.driven]] = self.action * self.scale + self.offset
        return target


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    folder = tmp_path_factory.mktemp("held")
    onnx_path = random_policy(folder / "exported" / "policy.onnx")
    deploy = deploy_yaml(folder / "params" / "deploy.yaml")
    result = import_isaaclab(onnx_path, deploy, MODEL, folder / "imported", torque_limit=23.7)
    return {"onnx": onnx_path, "deploy": deploy, "result": result}


class TestDrivesSomeObservesAll:
    def test_it_imports_with_the_undriven_joints_held_by_the_deploy_yamls_gains(self, held):
        spec = held["result"].spec
        assert list(spec.joints) == POLICY and spec.held == tuple(HELD)
        assert [t.size for t in spec.observation] == [3, 3, 3, 12, 12, 8]
        for joint in HELD:  # stiffness and damping are listed by motor
            m = MOTORS.index(joint)
            assert spec.actuator(joint).model == "pd"
            assert (spec.actuator(joint).kp, spec.actuator(joint).kd) == pytest.approx(
                (20.0 + m, 0.5 + 0.01 * m)
            )
        assert not spec.locked_joints
        assert held["result"].max_abs_diff <= 1e-5 and held["result"].n_recorded > 0  # training's simulator

    def test_observation_and_commands_are_the_frameworks_for_a_known_state(self, held):
        spec = held["result"].spec
        runner = PolicyRunner(held["result"].policy, spec, providers="cpu")
        reference = Reference(held["onnx"], yaml.safe_load(held["deploy"].read_text()))
        robot = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        monitor = SafetyMonitor(spec)
        by_motor = [spec.joints.index(m) for m in spec.motors]
        command = np.array([0.5, 0.0, 0.2])
        for _ in range(40):
            reading = robot.read()
            values = runner.step_reading(reading, command).copy()
            target = reference.step(
                reading.q[by_motor], reading.qd[by_motor], reading.gyro, reading.quat, command
            )
            np.testing.assert_allclose(runner.observation, reference.obs, rtol=0, atol=1e-5)
            expected = np.array([target[spec.motors.index(j)] for j in spec.actuated_joints])
            np.testing.assert_allclose(values, expected, rtol=0, atol=1e-5)
            decision = monitor.filter_command(values, reading, reading.t)
            assert decision.mode == "normal" and not decision.events  # the hold targets pass the checks
            np.testing.assert_array_equal(decision.command.values, values)
            robot.write(decision.command)
        held_cols = [spec.actuated_joints.index(j) for j in HELD]
        np.testing.assert_allclose(values[held_cols], [spec.default_pose[spec.joints.index(j)] for j in HELD])

    def test_a_hold_target_beyond_a_joint_limit_is_clamped_like_any_command(self, held):
        spec = held["result"].spec
        robot = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        monitor = SafetyMonitor(spec)
        reading = robot.read()
        values = np.array([spec.action_offset[i] for i in range(spec.n_actions)])
        k = spec.actuated_joints.index(HELD[0])
        values[k] = spec.safety.position_low[spec.joints.index(HELD[0])] - 1.0
        decision = monitor.filter_command(values, reading, reading.t)
        assert decision.events and decision.command.values[k] > values[k]

    def test_sim2sim_and_a_twin_deployment_run_and_the_log_records_the_held_joints(self, held, tmp_path):
        result = held["result"]
        robot, policy = str(result.spec.path), str(result.policy)
        assert main(["sim2sim", "--robot", robot, "--policy", policy, "--seconds", "1", "--json"]) == 0
        twin = tmp_path / "twin.yaml"
        twin.write_text("params: {}\n")
        log = tmp_path / "log"
        code = main(["deploy", "--robot", robot, "--policy", policy, "--twin", str(twin), "--seconds", "3",
                     "--out", str(log), "--json"])  # fmt: skip
        assert code == 0
        traj = read_bag(log, expected_hash=result.spec.hash)
        spec = result.spec
        assert set(HELD) <= set(traj.joint_names) and set(HELD) <= set(traj.command_joints)
        cols = [list(traj.command_joints).index(j) for j in HELD]
        default = [spec.default_pose[spec.joints.index(j)] for j in HELD]
        np.testing.assert_allclose(traj.command[:, cols], np.broadcast_to(default, (len(traj.command), 4)))


class TestWhatCannotBeExpressed:
    def test_a_deploy_yaml_without_the_undriven_joints_gains_says_what_to_give(self, held, tmp_path):
        # joint_ids_map lists the 8 driven joints only: no default position or gains for the 4 observed others
        text = deploy_yaml(tmp_path / "full.yaml").read_text()
        order = [MOTORS.index(j) for j in POLICY]
        spec = load_robot("quadruped")
        default = [float(spec.default_pose[MOTORS.index(j)]) for j in POLICY[:8]]
        for old, new in (
            (f"joint_ids_map: {order}", f"joint_ids_map: {order[:8]}"),
            (
                f"default_joint_pos: {[float(spec.default_pose[MOTORS.index(j)]) for j in POLICY]}",
                f"default_joint_pos: {default}",
            ),
            (f"    joint_ids: {DRIVEN}", "    joint_ids: null"),
        ):
            assert old in text, old
            text = text.replace(old, new)
        deploy = tmp_path / "deploy.yaml"
        deploy.write_text(text)
        with pytest.raises(
            PolicyError,
            match="has 12 scales for the 8 joints of joint_ids_map: it observes joints the file does not list",
        ):
            import_isaaclab(
                held["onnx"], deploy, MODEL, tmp_path / "out", motor_order=tuple(MOTORS), torque_limit=23.7
            )

    def test_an_action_in_its_own_joint_order_is_refused(self, held, tmp_path):
        deploy = deploy_yaml(tmp_path / "deploy.yaml", joint_ids=[4, 5, 6, 7, 0, 1, 2, 3])
        with pytest.raises(PolicyError, match=r"the action lists its joints in its own order \(joint_ids"):
            import_isaaclab(held["onnx"], deploy, MODEL, tmp_path / "out", torque_limit=23.7)

    def test_mjlab_metadata_that_does_not_name_the_driven_joints_is_refused(self, tmp_path):
        spec = load_robot("quadruped")
        meta = mjlab_metadata(spec, action_scale="0.250")
        path = mjlab_onnx(tmp_path / "policy.onnx", meta, n_obs=3 + 3 + 12 + 12 + 8 + 3, n_act=8)
        with pytest.raises(
            PolicyError, match=r"does not say which joints the action drives: give its params/deploy\.yaml"
        ):
            import_isaaclab(path, None, MODEL, tmp_path / "out", torque_limit=23.7)

    def test_mjlab_metadata_with_a_scale_per_driven_joint_says_to_name_the_driven_joints(self, tmp_path):
        # mjlab writes action_scale per joint the action drives (its _scale tensor: a legs-only G1 lists
        # 12 scales beside 29 joint_names); the import said only "action_scale has 8 values for 12
        # policy joints", not that the metadata does not name the driven joints (--action-joints)
        spec = load_robot("quadruped")
        meta = mjlab_metadata(spec, action_scale=",".join(["0.250"] * 8))
        path = mjlab_onnx(tmp_path / "policy.onnx", meta, n_obs=3 + 3 + 12 + 12 + 8 + 3, n_act=8)
        with pytest.raises(
            PolicyError, match=r"does not say which joints the action drives: .* --action-joints"
        ):
            import_isaaclab(path, None, MODEL, tmp_path / "out", torque_limit=23.7)

    def test_action_joints_matching_another_number_of_joints_than_the_actions_says_so(self, tmp_path):
        # --action-joints given, matching 4 joints for 8 actions: the import told the user to give
        # --action-joints (the message for metadata that names no driven joints)
        spec = load_robot("quadruped")
        meta = mjlab_metadata(spec, action_scale="0.250")
        path = mjlab_onnx(tmp_path / "policy.onnx", meta, n_obs=3 + 3 + 12 + 12 + 4 + 3, n_act=8)
        with pytest.raises(
            PolicyError, match=r"--action-joints '\.\*_hip' matches 4 joints; the policy gives 8 actions"
        ):
            import_isaaclab(path, None, MODEL, tmp_path / "out", action_joints=".*_hip", torque_limit=23.7)


class TestMjlabMetadataWithActionJoints:
    def test_action_joints_name_the_driven_joints_and_the_metadata_gives_the_held_ones_gains(
        self, tmp_path, capsys
    ):
        spec = load_robot("quadruped")
        stiffness = ",".join(f"{20.0 + m:.3f}" for m in range(12))  # by joint, in joint_names' order
        meta = mjlab_metadata(spec, joint_stiffness=stiffness, action_scale="0.250")
        n_obs = (
            3 + 3 + 12 + 12 + 8 + 3
        )  # base_ang_vel, projected_gravity, joint_pos, joint_vel, actions, command
        path = mjlab_onnx(tmp_path / "policy.onnx", meta, n_obs=n_obs, n_act=8)
        out = tmp_path / "out"
        argv = ["import", "isaaclab", "--policy", str(path), "--model", str(MODEL), "--out", str(out)]
        assert main([*argv, "--torque-limit", "23.7", "--action-joints", ".*_(hip|thigh)"]) == 0
        capsys.readouterr()
        robot = load_spec(out / "robot.yaml")
        calves = [j for j in spec.joints if j.endswith("_calf")]
        assert list(robot.joints) == list(spec.joints) and robot.held == tuple(calves)
        assert [robot.actuator(j).kp for j in calves] == [20.0 + spec.joints.index(j) for j in calves]
        # mjlab's observation for a known state: joint terms over all 12, the last action over the 8 driven
        runner = PolicyRunner(out / "policy.onnx", robot, providers="cpu")
        twin = TwinRobot(robot, TwinConfig(effects=TwinEffects.none()))
        original = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        last = np.zeros(8)
        for _ in range(3):
            reading = twin.read()
            values = runner.step_reading(reading, np.array([0.3, 0.0, 0.0])).copy()
            w, x, y, z = reading.quat / np.linalg.norm(reading.quat)
            gravity = [2 * (-z * x + w * y), -2 * (z * y + w * x), 1 - 2 * (w * w + z * z)]
            expected = np.concatenate(
                [reading.gyro, gravity, reading.q - robot.default_pose, reading.qd, last, [0.3, 0.0, 0.0]]
            )
            np.testing.assert_allclose(runner.observation, expected, rtol=0, atol=1e-5)
            last = original.run(None, {"obs": expected[None].astype(np.float32)})[0][0].astype(float)
            held_cols = [robot.actuated_joints.index(j) for j in calves]
            np.testing.assert_allclose(
                values[held_cols], robot.default_pose[[robot.joints.index(j) for j in calves]]
            )
            twin.write(Command(t=reading.t, values=values))


class TestHeldArmIsNotCalledDriven:
    def test_an_arm_the_policy_holds_is_not_said_to_be_driven_by_it(self, tmp_path, capsys):
        """A legs-only mjlab policy on a quadruped with an arm on its trunk (Gymnasium's humanoid with
        its arms held, in the review): the import held the arm (action.hold) and robot init's check
        still said the walking policy drives it and to give --hold."""
        xml = MODEL.read_text()
        xml = xml.replace(
            '<site name="imu"',
            '<body name="arm_link" pos="0.1 0 0.06"><joint name="arm" axis="0 1 0" range="-1 1"/>'
            '<inertial pos="0 0 0.05" mass="0.2" diaginertia="1e-4 1e-4 1e-4"/></body><site name="imu"',
        )
        xml = xml.replace('<motor name="RR_calf" joint="RR_calf"/>', '<motor name="RR_calf" joint="RR_calf"/><motor name="arm" joint="arm"/>')
        xml = xml.replace("0 1.0 -1.5  0 1.0 -1.5\"\n", "0 1.0 -1.5  0 1.0 -1.5 0\"\n")
        model = tmp_path / "arm_dog.xml"
        model.write_text(xml)
        spec = load_robot("quadruped")
        joints = SimpleNamespace(joints=[*spec.joints, "arm"], default_pose=[*spec.default_pose, 0.0])
        meta = mjlab_metadata(joints, action_scale="0.250")
        n_obs = 3 + 3 + 13 + 13 + 12 + 3  # base_ang_vel, projected_gravity, joint_pos, joint_vel, actions, command
        path = mjlab_onnx(tmp_path / "policy.onnx", meta, n_obs=n_obs, n_act=12)
        out = tmp_path / "out"
        argv = ["import", "isaaclab", "--policy", str(path), "--model", str(model), "--out", str(out)]
        assert main([*argv, "--torque-limit", "23.7", "--action-joints", "(FL|FR|RL|RR)_.*"]) == 0
        printed = capsys.readouterr().out + capsys.readouterr().err
        assert load_spec(out / "robot.yaml").held == ("arm",)
        written = (out / "robot.yaml").read_text()
        assert "not on a leg" not in written and "not on a leg" not in printed
        assert "give an expression that matches only" not in written


class TestEnvYaml:
    def test_a_per_joint_scale_over_the_whole_articulation_beside_a_legs_only_action_imports(self, tmp_path):
        # Isaac Lab dumps a per-joint scale as a tuple over the articulation's joints: 12 values beside
        # an action over 8; read as the action's joints the scale did not fit and the import stopped
        from foreign_fixtures import isaaclab_env_yaml

        env = isaaclab_env_yaml(load_robot("quadruped"), tmp_path / "params" / "env.yaml", history=1)
        text = env.read_text()
        old = "    joint_names: ['.*']\n    scale: 0.5"
        assert old in text and "!!python/tuple " + str([0.05] * 12) in text
        env.write_text(text.replace(old, "    joint_names: ['.*_hip', '.*_thigh']\n    scale: 0.5"))
        onnx_path = tiny_isaac_onnx(tmp_path / "exported" / "policy.onnx", 3 + 3 + 3 + 12 + 12 + 8, 8)
        result = import_isaaclab(onnx_path, env, MODEL, tmp_path / "out")
        assert list(result.spec.joints) == POLICY and result.spec.held == tuple(HELD)
        assert result.spec.observation[4].scale == 0.05 and result.max_abs_diff <= 1e-5
