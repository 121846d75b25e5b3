"""`sim2real import isaaclab` of Isaac Lab's IO descriptors (``export_io_descriptors``): the file
names the articulation's joints, their default pose, gains and armature, the action and the
observation terms.  A synthetic file in the exporter's shape (as Isaac Lab's documentation shows for
ANYmal-D and G1) on the embedded quadruped, checked against the format's semantics written out."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from test_isaaclab_humanoid import tiny_isaac_onnx

from sim2real.errors import PolicyError
from sim2real.policy.imports.isaaclab import import_isaaclab
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import DATA_DIR, load_robot

MODEL = DATA_DIR / "quadruped.xml"
LEGS = ("FR", "FL", "RR", "RL")
NAMES = [f"{leg}_{part}" for part in ("hip", "thigh", "calf") for leg in LEGS]
"""The articulation's order (right legs first): not the model's breadth first order, which the
import would otherwise take."""
TERMS = [  # function, frame size, scale overload (None: none)
    ("base_ang_vel", 3, 0.25),
    ("projected_gravity", 3, None),
    ("generated_commands", 3, None),
    ("joint_pos_rel", 12, None),
    ("joint_vel_rel", 12, 0.05),
    ("last_action", 12, None),
]
N_OBS = sum(size for _, size, _ in TERMS)


def io_descriptors(path, **changes):
    """An IO descriptors YAML of a velocity policy on the quadruped (``changes`` replace articulation keys)."""
    spec = load_robot("quadruped")
    default = [float(spec.default_pose[spec.joints.index(j)]) for j in NAMES]
    robot = {
        "joint_names": NAMES,
        "default_joint_pos": default,
        "default_joint_stiffness": [20.0 + i for i in range(12)],
        "default_joint_damping": [0.5 + 0.01 * i for i in range(12)],
        "default_joint_armature": [0.01 + 0.001 * i for i in range(12)],
        "default_joint_friction": [0.0] * 12,
    }
    robot.update(changes)
    observations = []
    for func, size, scale in TERMS:
        term = {
            "dtype": "torch.float32",
            "full_path": f"isaaclab.envs.mdp.observations.{func}",
            "mdp_type": "Observation",
            "name": func,
            "overloads": {"clip": None, "flatten_history_dim": True, "history_length": 0, "scale": scale},
            "shape": [size],
        }
        if func.startswith("joint_"):
            term["joint_names"] = NAMES
            key = "joint_pos_offsets" if func == "joint_pos_rel" else "joint_vel_offsets"
            term[key] = default if func == "joint_pos_rel" else [0.0] * 12
        observations.append(term)
    cfg = {
        "actions": [
            {
                "action_type": "JointAction",
                "clip": None,
                "dtype": "torch.float32",
                "full_path": "isaaclab.envs.mdp.actions.joint_actions.JointPositionAction",
                "joint_names": NAMES,
                "mdp_type": "Action",
                "name": "joint_position_action",
                "offset": default,
                "scale": 0.5,
                "shape": [12],
            }
        ],
        "articulations": {"robot": robot},
        "observations": {"policy": observations},
        "scene": {"decimation": 8, "dt": 0.02, "physics_dt": 0.0025},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class IoReference:
    """The IO descriptors' semantics: terms in order, each frame times its scale overload; joint terms
    over ``joint_names`` relative to their offsets; target = offset + scale * action."""

    def __init__(self, onnx_path, cfg):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.terms = cfg["observations"]["policy"]
        act = cfg["actions"][0]
        self.scale, self.offset = act["scale"], np.array(act["offset"])
        self.action = np.zeros(12)
        self.obs = None

    def step(self, q, qd, gyro, quat, cmd):
        w, x, y, z = quat / np.linalg.norm(quat)
        gravity = np.array([2 * (-z * x + w * y), -2 * (z * y + w * x), 1 - 2 * (w * w + z * z)])
        raw = {
            "base_ang_vel": gyro,
            "projected_gravity": gravity,
            "generated_commands": cmd,
            "joint_pos_rel": np.array([q[j] for j in NAMES]),
            "joint_vel_rel": np.array([qd[j] for j in NAMES]),
        }
        frames = []
        for term in self.terms:
            func = term["full_path"].rpartition(".")[2]
            value = self.action if func == "last_action" else raw[func]
            if func == "joint_pos_rel":
                value = value - np.array(term["joint_pos_offsets"])
            frames.append(value * (term["overloads"]["scale"] or 1.0))
        self.obs = np.concatenate(frames)
        self.action = self.session.run(None, {"obs": self.obs[None].astype(np.float32)})[0][0].astype(float)
        return dict(zip(NAMES, self.action * self.scale + self.offset, strict=True))


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("io")
    onnx_path = tiny_isaac_onnx(folder / "exported" / "policy.onnx", N_OBS, 12)
    descriptors = io_descriptors(folder / "params" / "isaac_velocity_flat_quadruped_v0_IO_descriptors.yaml")
    result = import_isaaclab(onnx_path, descriptors, MODEL, folder / "imported", torque_limit=23.7)
    return {"onnx": onnx_path, "descriptors": descriptors, "result": result}


class TestIoDescriptors:
    def test_the_files_joints_gains_armature_and_steps_are_imported(self, imported):
        # before: refused as a deploy.yaml "missing 'joint_ids_map'"
        spec = imported["result"].spec
        assert list(spec.joints) == NAMES
        for i, joint in enumerate(NAMES):
            assert (spec.actuator(joint).kp, spec.actuator(joint).kd) == pytest.approx(
                (20.0 + i, 0.5 + 0.01 * i)
            )
        assert imported["result"].metadata.control_dt == pytest.approx(0.02)
        assert spec.control_dt / spec.substeps == pytest.approx(0.0025)
        assumptions = imported["result"].metadata.imported["assumptions"]
        assert any("states no command ranges" in a for a in assumptions)

    def test_observation_and_targets_are_the_formats_for_the_same_state(self, imported):
        spec = imported["result"].spec
        runner = PolicyRunner(imported["result"].policy, spec, providers="cpu")
        reference = IoReference(imported["onnx"], yaml.safe_load(imported["descriptors"].read_text()))
        robot = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        command = np.array([1.4, 0.1, -0.2])  # beyond any training range: the file states none
        for _ in range(15):
            reading = robot.read()
            values = runner.step_reading(reading, command).copy()
            q = dict(zip(spec.joints, reading.q, strict=True))
            qd = dict(zip(spec.joints, reading.qd, strict=True))
            target = reference.step(q, qd, reading.gyro, reading.quat, command)
            np.testing.assert_allclose(runner.observation, reference.obs, rtol=0, atol=1e-5)
            np.testing.assert_allclose(values, [target[j] for j in spec.actuated_joints], rtol=0, atol=1e-5)
            robot.write(Command(reading.t, values))

    def test_joints_behind_an_actuator_network_are_one_clear_error(self, imported, tmp_path):
        # ANYmal-D's file: stiffness and damping 0 for every joint (its LSTM actuator network)
        path = io_descriptors(tmp_path / "anymal_IO_descriptors.yaml", default_joint_stiffness=[0.0] * 12)
        with pytest.raises(
            PolicyError, match="every joint's stiffness is 0: its actuators are not PD-driven"
        ):
            import_isaaclab(imported["onnx"], path, MODEL, tmp_path / "out")

    def test_a_relative_joint_position_action_is_refused(self, imported, tmp_path):
        # trained as target = current position + scale x action: not a target about the default pose
        path = io_descriptors(tmp_path / "rel_IO_descriptors.yaml")
        path.write_text(path.read_text().replace("joint_actions.JointPositionAction", "joint_actions.RelativeJointPositionAction"))
        with pytest.raises(PolicyError, match="RelativeJointPositionAction; sim2real imports one JointPositionAction"):
            import_isaaclab(imported["onnx"], path, MODEL, tmp_path / "out")


class TestBesideAnEnvYaml:
    def test_the_runs_io_descriptors_give_the_articulation_order_of_its_env_yaml(self, tmp_path):
        # Isaac Lab's train.py --export_io_descriptors writes RUN/IO_descriptors.yaml beside
        # RUN/params/env.yaml; the env.yaml import took the model's breadth first order (FL before
        # FR) for an articulation whose right legs come first: every left joint swapped with its
        # right one
        from foreign_fixtures import isaaclab_env_yaml

        spec = load_robot("quadruped")
        run = tmp_path / "run"
        env = isaaclab_env_yaml(spec, run / "params" / "env.yaml", history=1)
        onnx_path = tiny_isaac_onnx(run / "exported" / "policy.onnx", 45, 12)
        guessed = import_isaaclab(onnx_path, env, MODEL, tmp_path / "guessed", torque_limit=23.7)
        assert list(guessed.spec.joints)[:4] == ["FL_hip", "FR_hip", "RL_hip", "RR_hip"]
        io_descriptors(run / "IO_descriptors.yaml")
        result = import_isaaclab(onnx_path, env, MODEL, tmp_path / "named", torque_limit=23.7)
        assert list(result.spec.joints) == NAMES
        for joint in NAMES:  # the env.yaml's gains, by joint name
            assert result.spec.actuator(joint).kp == guessed.spec.actuator(joint).kp
        assert any("IO_descriptors.yaml names them" in a for a in result.metadata.imported["assumptions"])
