"""Policies "from elsewhere" made by the tests from sim2real's own trained quadruped policy.

- :func:`isaaclab_export`: an Isaac Lab style ``exported/policy.onnx`` (``obs`` -> ``actions``,
  batch of one) and ``params/deploy.yaml`` with a permuted ``joint_ids_map``, every observation
  term with ``history_length: 5``, gains listed by motor and a Python-tagged entry; the network
  is the trained policy on the newest frame plus a term of the oldest frame, so that the history
  order matters.
- :func:`isaaclab_env_yaml`: the Isaac Lab ``params/env.yaml`` that implies that deploy.yaml (Python
  tags, actuator groups with per-joint maps, a removed term set to null).
- :func:`mjlab_export`: an mjlab style ONNX with its metadata (comma-separated joint names,
  gains, default pose, action scale, observation names) and no deploy.yaml.
- :class:`IsaacLabReference`: the deploy.yaml semantics written out independently (what
  unitree_rl_lab's deploy code does), to check the imported policy against.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

PERM = [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]
"""Policy joint i of the Isaac-style fixture is motor PERM[i] (hips, thighs, calves: Isaac Lab's order)."""
HISTORY = 5
TERMS = [  # Isaac Lab name, frame size (12: per joint), scale
    ("base_ang_vel", 3, 0.25),
    ("projected_gravity", 3, 1.0),
    ("velocity_commands", 3, 1.0),
    ("joint_pos_rel", 12, 1.0),
    ("joint_vel_rel", 12, 0.05),
    ("last_action", 12, 1.0),
]
RANGES = {"lin_vel_x": [-1.0, 1.0], "lin_vel_y": [-0.5, 0.5], "ang_vel_z": [-1.0, 1.0]}


def _export(module: Any, n_obs: int, path: Path, metadata: dict[str, str] | None = None) -> Path:
    import onnx
    import torch

    from sim2real.policy.export import _quiet_exporter

    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module.eval(),
            (torch.zeros(1, n_obs),),
            None,
            input_names=["obs"],
            output_names=["actions"],
            dynamo=True,
            verbose=False,
        )
    model = program.model_proto
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def isaaclab_export(
    trained_policy: Any, spec: Any, folder: Path, history: int = HISTORY, motors: list[str] | None = None
) -> tuple[Path, Path]:
    """(policy.onnx, deploy.yaml) of an Isaac Lab style export of the trained quadruped policy.

    The policy joints are the model's joints breadth first (hips, thighs, calves: Isaac Lab's
    articulation order); ``motors`` is the robot's motor order that ``joint_ids_map`` indexes and
    the gains are listed by (default: the model's joint order)."""
    import torch

    base = trained_policy
    inv = [PERM.index(j) for j in range(12)]  # our joint j is policy joint inv[j]

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, obs: Any) -> Any:
            col, newest, oldest = 0, [], {}
            for name, size, _ in TERMS:
                block = obs[:, col : col + size * history]
                frame = block[:, -size:]
                oldest[name] = block[:, :size]
                if size == 12:
                    frame = frame[:, inv]  # policy order -> our order
                newest.append(frame)
                col += size * history
            action = self.base(torch.cat(newest, dim=1))[:, PERM]  # our order -> policy order
            return action + 0.05 * torch.tanh(oldest["joint_vel_rel"])

    n_obs = sum(size for _, size, _ in TERMS) * history
    onnx_path = _export(Wrapped(), n_obs, folder / "exported" / "policy.onnx")
    motors = list(motors or spec.joints)
    policy_joints = [spec.joints[j] for j in PERM]
    default = [float(spec.default_pose[j]) for j in PERM]
    lines = [
        f"joint_ids_map: {[motors.index(j) for j in policy_joints]}",
        f"step_dt: {spec.control_dt}",
        f"stiffness: {[20.0 + m for m in range(len(motors))]}",
        f"damping: {[0.5 + 0.01 * m for m in range(len(motors))]}",
        f"default_joint_pos: {default}",
        "commands:",
        "  base_velocity:",
        "    ranges:",
        *(f"      {k}: {v}" for k, v in RANGES.items()),
        "      heading: null",
        "actions:",
        "  JointPositionAction:",
        "    clip: null",
        "    joint_names: [.*]",
        f"    scale: {[0.5] * 12}",
        f"    offset: {default}",
        "    joint_ids: null",
        "observations:",
    ]
    for name, size, scale in TERMS:
        lines += [
            f"  {name}:",
            "    params:" + (" {command_name: base_velocity}" if name == "velocity_commands" else ""),
        ]
        if name != "velocity_commands":
            lines += [
                "      asset_cfg:",
                "        joint_ids: !!python/object/apply:builtins.slice [null, null, null]",
            ]
        lines += [
            "    clip: null",
            f"    scale: {[scale] * size}",
            f"    history_length: {history}",
        ]
    deploy = folder / "params" / "deploy.yaml"
    deploy.parent.mkdir(parents=True, exist_ok=True)
    deploy.write_text("\n".join(lines) + "\n")
    return onnx_path, deploy


def _isaac_scale(scale: float, size: int) -> str:
    """How Isaac Lab's dump writes a term's scale: null for none, a per-value tuple for a frame of
    joints (as configs that scale each joint write it), else the number."""
    if scale == 1.0:
        return "null"
    return f"!!python/tuple {[scale] * size}" if size == 12 else str(scale)


def isaaclab_env_yaml(spec: Any, path: Path, history: int = HISTORY) -> Path:
    """Isaac Lab's ``env.yaml`` of :func:`isaaclab_export`'s policy (motors in the model's order)."""
    policy_joints = [spec.joints[j] for j in PERM]
    gains = {j: (20.0 + m, 0.5 + 0.01 * m) for m, j in enumerate(spec.joints)}
    tup = "!!python/tuple"
    lines = [
        f"viewer: {{eye: {tup} [7.5, 7.5, 7.5], origin_type: world}}",
        f"sim: {{dt: {spec.control_dt / 4}, render_interval: 4, physx: {{solver_type: 1}}}}",
        "decimation: 4",
        "seed: 42",
        "scene:",
        "  num_envs: 4096",
        "  robot:",
        "    class_type: isaaclab.assets.articulation.articulation:Articulation",
        "    init_state:",
        f"      pos: {tup} [0.0, 0.0, 0.4]",
        "      joint_pos: {" + ", ".join(f"{j}: {float(spec.default_pose[spec.joints.index(j)])}" for j in policy_joints) + "}",
        "      joint_vel: {'.*': 0.0}",
        "    actuators:",
        "      base_legs:",
        "        class_type: isaaclab.actuators.actuator_pd:DCMotor",
        "        joint_names_expr: ['.*_hip', '.*_thigh', '.*_calf']",
        "        effort_limit: null",
        "        effort_limit_sim: 23.5",
        "        stiffness: {" + ", ".join(f"{j}: {kp}" for j, (kp, _) in gains.items()) + "}",
        "        damping: {" + ", ".join(f"{j}: {kd}" for j, (_, kd) in gains.items()) + "}",
        "        armature: null",
        "  height_scanner: null",
        "observations:",
        "  policy:",
        "    concatenate_terms: true",
        "    concatenate_dim: -1",
        "    enable_corruption: true",
        f"    history_length: {history}",
        "    flatten_history_dim: true",
    ]
    isaac_keys = {"joint_pos_rel": "joint_pos", "joint_vel_rel": "joint_vel", "last_action": "actions"}
    func = {"velocity_commands": "generated_commands"}
    for name, size, scale in TERMS:
        params = "{command_name: base_velocity}" if name == "velocity_commands" else "{}"
        if name in ("joint_pos_rel", "joint_vel_rel"):
            params = "{asset_cfg: {name: robot, joint_names: null, joint_ids: !!python/object/apply:builtins.slice [null, null, null]}}"
        lines += [
            f"    {isaac_keys.get(name, name)}:",
            f"      func: isaaclab.envs.mdp.observations:{func.get(name, name)}",
            f"      params: {params}",
            "      modifiers: null",
            "      noise: !!python/object:isaaclab.utils.noise.noise_cfg.UniformNoiseCfg {n_min: -0.1, n_max: 0.1}",
            "      clip: null",
            f"      scale: {_isaac_scale(scale, size)}",
            "      history_length: 0",
            "      flatten_history_dim: true",
        ]
    lines += [
        "    height_scan: null",
        "  critic: null",
        "actions:",
        "  joint_pos:",
        "    class_type: isaaclab.envs.mdp.actions.joint_actions:JointPositionAction",
        "    asset_name: robot",
        "    joint_names: ['.*']",
        "    scale: 0.5",
        "    offset: 0.0",
        "    preserve_order: false",
        "    use_default_offset: true",
        "    clip: null",
        "commands:",
        "  base_velocity:",
        "    class_type: isaaclab.envs.mdp.commands.velocity_command:UniformVelocityCommand",
        "    ranges:",
        *(f"      {k}: {tup} {v}" for k, v in RANGES.items()),
        f"      heading: {tup} [-3.14159, 3.14159]",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def mjlab_export(trained_policy: Any, spec: Any, folder: Path, scales_in_metadata: bool = False) -> Path:
    """An mjlab style ONNX of the trained quadruped policy, its facts in the ONNX metadata only.

    mjlab's velocity task observes (unscaled) base_ang_vel, projected_gravity, joint_pos (relative),
    joint_vel, actions, command: the network applies the trained policy's scales itself.  With
    ``scales_in_metadata`` the observation scales are the task's instead, stated as mjlab 1.6 writes
    them (``observation_terms_scale``, a per-value scale joined by ';', ``observation_terms_clip``,
    numbers with three decimals, booleans as 1.000), and the network takes the scaled values.
    """
    import torch

    base = trained_policy

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, obs: Any) -> Any:
            ang, grav, q, qd, act, cmd = torch.split(obs, [3, 3, 12, 12, 12, 3], dim=1)
            if scales_in_metadata:
                return self.base(torch.cat([ang, grav, cmd, q, qd, act], dim=1))
            return self.base(torch.cat([0.25 * ang, grav, cmd, q, 0.05 * qd, act], dim=1))

    def csv(values: list[Any]) -> str:
        return ",".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in values)

    metadata = {
        "run_path": "local",
        "joint_names": csv(list(spec.joints)),
        "joint_stiffness": csv([25.0] * 12),
        "joint_damping": csv([0.5] * 12),
        "default_joint_pos": csv([float(x) for x in spec.default_pose]),
        "command_names": "twist",
        "observation_names": "base_ang_vel,projected_gravity,joint_pos,joint_vel,actions,command",
        "action_scale": "0.5",
    }
    if scales_in_metadata:
        metadata["observation_terms_scale"] = "0.250,1.000,1.000," + ";".join(["0.050"] * 12) + ",1.000,1.000"
        metadata["observation_terms_clip"] = ",".join(["-inf;inf"] * 6)
        metadata["observation_terms_history_length"] = ",".join(["0.000"] * 6)
        metadata["observation_terms_flatten_history_dim"] = ",".join(["1.000"] * 6)
    return _export(Wrapped(), 45, folder / "policy.onnx", metadata)


class IsaacLabReference:
    """What unitree_rl_lab's deploy code does with a deploy.yaml and its ONNX, written out by hand.

    ``step`` takes motor-order readings and returns the motor targets.
    """

    def __init__(self, onnx_path: Path, deploy: dict[str, Any]) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.cfg = deploy
        self.ids = deploy["joint_ids_map"]
        self.default = np.array(deploy["default_joint_pos"])
        self.history: dict[str, list[np.ndarray]] = {}
        self.action = np.zeros(len(self.ids))
        act = deploy["actions"]["JointPositionAction"]
        self.scale, self.offset = np.array(act["scale"]), np.array(act["offset"])

    def step(
        self, q: np.ndarray, qd: np.ndarray, gyro: np.ndarray, quat: np.ndarray, cmd: np.ndarray
    ) -> np.ndarray:
        w, x, y, z = quat / np.linalg.norm(quat)
        gravity = np.array([2 * (-z * x + w * y), -2 * (z * y + w * x), 1 - 2 * (w * w + z * z)])
        ranges = self.cfg["commands"]["base_velocity"]["ranges"]
        clipped = np.clip(cmd, [ranges[k][0] for k in RANGES], [ranges[k][1] for k in RANGES])
        raw = {
            "base_ang_vel": gyro,
            "projected_gravity": gravity,
            "velocity_commands": clipped,
            "joint_pos_rel": q[self.ids] - self.default,
            "joint_vel_rel": qd[self.ids],
            "last_action": self.action,
        }
        obs = []
        for name, term in self.cfg["observations"].items():
            frame = raw[name] * np.array(term["scale"])
            frames = self.history.setdefault(name, [frame] * term["history_length"])
            frames.append(frame)
            del frames[0]
            obs.extend(np.concatenate(frames))
        self.action = self.session.run(None, {"obs": np.array([obs], dtype=np.float32)})[0][0].astype(float)
        target = np.zeros(len(q))
        target[self.ids] = self.action * self.scale + self.offset
        return target


def quat_about_z(angle: float) -> np.ndarray:
    """A (w, x, y, z) quaternion of a rotation about z."""
    return np.array([math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2)])


def legged_gym_config(tmp_path: Path, **changes: Any) -> Path:
    """A unitree_rl_gym MuJoCo deploy config (its go2.yaml's keys: 48 observations, base velocity first)."""
    values = {
        "simulation_dt": 0.005,
        "control_decimation": 4,
        "kps": [25.0] * 12,
        "kds": [0.5] * 12,
        "default_angles": [0.0, 0.8, -1.5] * 4,
        "lin_vel_scale": 2.0,
        "ang_vel_scale": 0.25,
        "dof_pos_scale": 1.0,
        "dof_vel_scale": 0.05,
        "action_scale": 0.25,
        "cmd_scale": [2.0, 2.0, 0.25],
        "num_actions": 12,
        "num_obs": 48,
        "cmd_init": [0.5, 0, 0],
    }
    values.update(changes)
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(values))
    return path
