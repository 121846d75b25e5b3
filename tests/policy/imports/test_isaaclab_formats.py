"""`sim2real import isaaclab` on export formats a review found mis-read or refused: Isaac Lab's
``params/env.yaml`` (function names, joint selections, preserve_order, make_quat_unique),
``agent.yaml``'s ``clip_actions``, unitree_rl_lab's curriculum command ranges, ``exported/policy.pt``
and float64 graphs.  Each test builds a small synthetic export in the shape the upstream exporters
write; each failed on the code before its fix (a silent mis-import or a refusal of a valid export).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from foreign_fixtures import RANGES, isaaclab_env_yaml
from onnx import TensorProto, helper, numpy_helper

from sim2real.errors import PolicyError
from sim2real.policy.imports.isaaclab import import_isaaclab, observation_terms
from sim2real.policy.runtime import PolicyRunner
from sim2real.robots import DATA_DIR, load_robot

MODEL = DATA_DIR / "quadruped.xml"
N_OBS = 45  # the fixture's env.yaml with history 1: 3 + 3 + 3 + 12 + 12 + 12


@pytest.fixture(scope="module")
def spec():
    return load_robot("quadruped")


def tiny_onnx(path, n_obs=N_OBS, n_act=12, *, elem=TensorProto.FLOAT, bias=0.0, gain=1.0, batch=True, opset=17):
    """An Isaac Lab style export (``obs`` (1, n_obs) -> ``actions`` (1, n_act); without ``batch``
    (n_obs,) -> (n_act,)): gain * tanh(obs @ W) + bias, in float32 (or ``elem``)."""
    dtype = np.float32 if elem == TensorProto.FLOAT else np.float64
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array((0.05 * rng.standard_normal((n_obs, n_act))).astype(dtype), "W"),
        numpy_helper.from_array(np.array(gain, dtype=dtype), "g"),
        numpy_helper.from_array(np.array(bias, dtype=dtype), "b"),
    ]
    nodes = [
        helper.make_node("MatMul", ["obs", "W"], ["h"]),
        helper.make_node("Tanh", ["h"], ["t"]),
        helper.make_node("Mul", ["t", "g"], ["s"]),
        helper.make_node("Add", ["s", "b"], ["actions"]),
    ]
    graph = helper.make_graph(
        nodes,
        "policy",
        [helper.make_tensor_value_info("obs", elem, [1, n_obs] if batch else [n_obs])],
        [helper.make_tensor_value_info("actions", elem, [1, n_act] if batch else [n_act])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def env_yaml(spec, path, replace: tuple[tuple[str, str], ...] = ()):
    """The test suite's Isaac Lab env.yaml (history 1), edited; every edit must apply."""
    path = isaaclab_env_yaml(spec, path, history=1)
    text = path.read_text()
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# Isaac Lab env.yaml
# ---------------------------------------------------------------------------------------------
class TestIsaacLabEnvYamlReview:
    def test_curriculum_limit_ranges_bound_the_velocity_command_not_the_initial_ranges(self, spec, tmp_path):
        # unitree_rl_lab's velocity tasks (UniformLevelVelocityCommandCfg): `ranges` is the first
        # curriculum level (+-0.1 m/s), `limit_ranges` what the policy was finally trained on; their
        # own export_deploy_cfg writes limit_ranges into deploy.yaml.  The env.yaml import clips the
        # deployed command to +-0.1 m/s: the policy never sees a walking command.
        level = (
            "UniformLevelVelocityCommand\n    ranges:\n"
            "      lin_vel_x: !!python/tuple [-0.1, 0.1]\n"
            "      lin_vel_y: !!python/tuple [-0.1, 0.1]\n"
            "      ang_vel_z: !!python/tuple [-0.1, 0.1]\n"
            "      heading: null\n"
            "    limit_ranges:"
        )
        env = env_yaml(
            spec, tmp_path / "params" / "env.yaml", (("UniformVelocityCommand\n    ranges:", level),)
        )
        result = import_isaaclab(
            tiny_onnx(tmp_path / "exported" / "policy.onnx"), env, MODEL, tmp_path / "out"
        )
        command = next(t for t in result.spec.observation if t.name == "velocity_command")
        high = [RANGES[k][1] for k in ("lin_vel_x", "lin_vel_y", "ang_vel_z")]
        assert command.clip is not None
        assert np.broadcast_to(command.clip[1], (3,)).tolist() == high, (
            f"velocity command clipped to {command.clip} (the first curriculum level)"
        )
        runner = PolicyRunner(result.policy, result.spec, providers="cpu")
        q = np.asarray(result.spec.default_pose)
        runner.step(q, np.zeros(12), np.zeros(3), np.array([1.0, 0, 0, 0]), np.array([0.8, 0.0, 0.0]))
        assert runner.observation[6] == pytest.approx(0.8), "a 0.8 m/s command reaches the policy as 0.1"

    def test_an_absolute_joint_pos_function_is_not_imported_as_relative(self, spec, tmp_path):
        # key `joint_pos` with func isaaclab.envs.mdp.observations:joint_pos (absolute positions):
        # the importer maps the *key* to joint_pos_rel and the policy sees q - default instead of q.
        env = env_yaml(
            spec,
            tmp_path / "params" / "env.yaml",
            (("observations:joint_pos_rel", "observations:joint_pos"),),
        )
        result = import_isaaclab(
            tiny_onnx(tmp_path / "exported" / "policy.onnx"), env, MODEL, tmp_path / "out"
        )
        names = [t.name for t in result.spec.observation]
        assert names[3] == "joint_pos", f"mdp.joint_pos (absolute) imported as {names[3]}"

    def test_an_action_in_its_own_order_beside_joint_terms_in_articulation_order_is_refused(
        self, spec, tmp_path
    ):
        # actions.joint_pos: joint_names listed leg by leg with preserve_order: true (SDK order, as
        # many G1/H1 configs do).  Isaac Lab's last_action follows that order, but joint_pos_rel /
        # joint_vel_rel (default asset_cfg) observe every joint in *articulation* order (breadth
        # first: hips, thighs, calves); the importer had put every per-joint term in the action's order.
        sdk = list(spec.joints)  # FL_hip, FL_thigh, FL_calf, FR_hip, ...: leg by leg
        env = env_yaml(
            spec,
            tmp_path / "params" / "env.yaml",
            (
                (
                    "    joint_names: ['.*']\n    scale: 0.5\n    offset: 0.0\n    preserve_order: false",
                    f"    joint_names: {sdk}\n    scale: 0.5\n    offset: 0.0\n    preserve_order: true",
                ),
            ),
        )
        # sim2real keeps one joint order for every per-joint term: the mixed orders are refused
        with pytest.raises(PolicyError, match="preserve_order"):
            import_isaaclab(tiny_onnx(tmp_path / "exported" / "policy.onnx"), env, MODEL, tmp_path / "out")
        # the same action in articulation order imports
        env = env_yaml(spec, tmp_path / "params2" / "env.yaml")
        import_isaaclab(tiny_onnx(tmp_path / "exported2" / "policy.onnx"), env, MODEL, tmp_path / "out2")

    def test_a_joint_selection_equal_to_the_policy_joints_is_imported(self, spec, tmp_path):
        # observations select the joints by name (asset_cfg.joint_names), the same joints the action
        # drives (a legs-only humanoid policy does this); the importer refused any joint_names but '.*'.
        names = ["FL_hip", "FR_hip", "RL_hip", "RR_hip", "FL_thigh", "FR_thigh", "RL_thigh", "RR_thigh",
                 "FL_calf", "FR_calf", "RL_calf", "RR_calf"]  # fmt: skip
        asset = "{asset_cfg: {name: robot, joint_names: null, joint_ids: !!python/object/apply:builtins.slice [null, null, null]}}"
        chosen = f"{{asset_cfg: {{name: robot, joint_names: {names}, preserve_order: false}}}}"
        env = env_yaml(spec, tmp_path / "params" / "env.yaml", ((asset, chosen), (asset, chosen)))
        result = import_isaaclab(
            tiny_onnx(tmp_path / "exported" / "policy.onnx"), env, MODEL, tmp_path / "out"
        )
        assert result.metadata.n_obs == N_OBS

    def test_root_quat_w_keeps_make_quat_unique(self):
        # mdp.root_quat_w(make_quat_unique=True): w >= 0 in training; the import drops the parameter
        (term,) = observation_terms(
            {"root_quat_w": {"params": {"make_quat_unique": True}}}, 12, {}, "env.yaml"
        )
        assert term.name == "base_quat"
        assert dict(term.params).get("unique") is True, (
            f"make_quat_unique dropped: params {dict(term.params)}"
        )


# ---------------------------------------------------------------------------------------------
# Isaac Lab agent.yaml (rsl_rl runner config)
# ---------------------------------------------------------------------------------------------
class TestAgentYaml:
    def test_clip_actions_of_the_runner_bounds_the_action(self, spec, tmp_path):
        # RslRlVecEnvWrapper(env, clip_actions=agent_cfg.clip_actions) clamps the network's action
        # before env.step: the PD target and the observed last_action both see the clipped value.
        # params/agent.yaml is never read: the imported policy commands unclipped actions.
        run = tmp_path / "run"
        env_yaml(spec, run / "params" / "env.yaml")
        (run / "params" / "agent.yaml").write_text(
            yaml.safe_dump({"seed": 42, "clip_actions": 1.0, "empirical_normalization": False})
        )
        policy = tiny_onnx(run / "exported" / "policy.onnx", bias=2.0)  # its actions exceed 1
        result = import_isaaclab(policy, None, MODEL, tmp_path / "out")
        runner = PolicyRunner(result.policy, result.spec, providers="cpu")
        q = np.asarray(result.spec.default_pose)
        runner.step(q, np.zeros(12), np.zeros(3), np.array([1.0, 0, 0, 0]), np.zeros(3))
        assert np.abs(runner.action).max() <= 1.0 + 1e-6, (
            f"agent.yaml clip_actions 1.0 ignored: action {np.abs(runner.action).max():.2f}, "
            f"metadata action_limit {result.metadata.action_limit}"
        )


# ---------------------------------------------------------------------------------------------
# TorchScript exports: Isaac Lab's export_policy_as_jit and rsl_rl's as_jit()
# ---------------------------------------------------------------------------------------------
torch = pytest.importorskip("torch", reason="TorchScript policies need torch")


class IsaacLabJit(torch.nn.Module):
    """isaaclab_rl.rsl_rl.exporter._TorchPolicyExporter, as scripted into exported/policy.pt
    (children ``actor``, ``normalizer``; a recurrent policy adds ``rnn`` with the state in buffers)."""

    def __init__(self, n_obs: int, n_act: int = 12, recurrent: bool = False, hidden: int = 16) -> None:
        super().__init__()
        self.is_recurrent = recurrent
        self.actor = torch.nn.Sequential(
            torch.nn.Linear(hidden if recurrent else n_obs, 32), torch.nn.ELU(), torch.nn.Linear(32, n_act)
        )
        if recurrent:
            self.rnn = torch.nn.LSTM(n_obs, hidden, 1)
            self.register_buffer("hidden_state", torch.zeros(1, 1, hidden))
            self.register_buffer("cell_state", torch.zeros(1, 1, hidden))
            self.forward = self.forward_lstm
        self.normalizer = torch.nn.Identity()

    def forward_lstm(self, x):
        x = self.normalizer(x)
        x, (h, c) = self.rnn(x.unsqueeze(0), (self.hidden_state, self.cell_state))
        self.hidden_state[:] = h
        self.cell_state[:] = c
        return self.actor(x.squeeze(0))

    def forward(self, x):
        return self.actor(self.normalizer(x))

    @torch.jit.export
    def reset(self):
        pass

    def reset_memory(self):
        self.hidden_state[:] = 0.0
        self.cell_state[:] = 0.0


class TestTorchScriptExports:
    def test_isaaclab_policy_pt_with_its_env_yaml_imports(self, spec, tmp_path):
        # Isaac Lab's play.py writes exported/policy.pt (export_policy_as_jit) next to policy.onnx;
        # `import isaaclab` reads only ONNX, `import legged-gym` only a legged_gym deploy config.
        torch.manual_seed(0)
        run = tmp_path / "run"
        env = env_yaml(spec, run / "params" / "env.yaml")
        (run / "exported").mkdir(parents=True)
        torch.jit.script(IsaacLabJit(N_OBS)).save(str(run / "exported" / "policy.pt"))
        result = import_isaaclab(run / "exported" / "policy.pt", env, MODEL, tmp_path / "out")
        assert result.metadata.n_obs == N_OBS and result.max_abs_diff <= 1e-5


class TestOnnxGraphs:
    def test_a_float64_policy_imports(self, spec, tmp_path):
        # a policy exported from a float64 torch module (obs/actions tensor(double)); the import
        # stops at sim2real's own float32 I/O check instead of casting at the graph's edges.
        env = env_yaml(spec, tmp_path / "params" / "env.yaml")
        policy = tiny_onnx(tmp_path / "exported" / "policy.onnx", elem=TensorProto.DOUBLE)
        result = import_isaaclab(policy, env, MODEL, tmp_path / "out")
        assert result.max_abs_diff <= 1e-5

    @pytest.mark.parametrize("opset", [11, 17])
    def test_a_policy_exported_without_a_batch_axis_imports(self, spec, tmp_path, opset):
        # torch.onnx.export(policy, torch.zeros(n_obs)): obs (n_obs,) -> actions (n_act,)
        env = env_yaml(spec, tmp_path / "params" / "env.yaml")
        policy = tiny_onnx(tmp_path / "exported" / "policy.onnx", batch=False, opset=opset, bias=0.1)
        import_isaaclab(policy, env, MODEL, tmp_path / "out")
        obs = np.random.default_rng(1).standard_normal(N_OBS).astype(np.float32)
        raw = ort.InferenceSession(str(policy), providers=["CPUExecutionProvider"])
        ours = ort.InferenceSession(str(tmp_path / "out" / "policy.onnx"), providers=["CPUExecutionProvider"])
        expected = raw.run(None, {"obs": obs})[0]
        got = ours.run(["action"], {"obs": obs[None]})[0]
        assert expected.shape == (12,) and got.shape == (1, 12)
        np.testing.assert_allclose(got[0], expected, atol=1e-6)


class TestActionScaleMap:
    def test_a_scale_map_leaves_the_joints_it_does_not_match_at_one(self, spec, tmp_path):
        # Isaac Lab's JointAction starts from ones and sets the joints a scale map matches
        env = env_yaml(
            spec,
            tmp_path / "params" / "env.yaml",
            (("    joint_names: ['.*']\n    scale: 0.5", "    joint_names: ['.*']\n    scale: {'.*_hip': 0.25}"),),
        )
        result = import_isaaclab(tiny_onnx(tmp_path / "exported" / "policy.onnx"), env, MODEL, tmp_path / "out")
        scale = result.spec.action_scale
        hips = [j for j in result.spec.joints if j.endswith("_hip")]
        assert hips and all(scale[result.spec.joints.index(j)] == 0.25 for j in hips)
        assert all(scale[i] == 1.0 for i, j in enumerate(result.spec.joints) if j not in hips)

    def test_an_actuator_network_group_is_refused_for_what_it_is(self, spec, tmp_path):
        # ANYmal-style configs: ActuatorNetMLP groups state no stiffness or damping
        env = env_yaml(spec, tmp_path / "params" / "env.yaml", (
            ("class_type: isaaclab.actuators.actuator_pd:DCMotor", "class_type: isaaclab.actuators.actuator_net:ActuatorNetMLP"),
        ))
        text = env.read_text()
        lines = [("        stiffness: null" if ln.startswith("        stiffness: {") else ln) for ln in text.splitlines()]
        env.write_text("\n".join(lines) + "\n")
        with pytest.raises(PolicyError, match=r"trained behind an actuator network \(ActuatorNetMLP\)"):
            import_isaaclab(tiny_onnx(tmp_path / "exported" / "policy.onnx"), env, MODEL, tmp_path / "out")
