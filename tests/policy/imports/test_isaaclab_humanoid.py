"""`sim2real import isaaclab` on what a humanoid review found: mjlab exports' metadata read
strictly where a silent default would command the wrong joint targets.  Each test builds a small
synthetic export in the shape the upstream exporter writes (no training, no network).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sim2real.errors import PolicyError
from sim2real.policy.imports.isaaclab import import_isaaclab
from sim2real.robots import DATA_DIR, load_robot

MODEL = DATA_DIR / "quadruped.xml"
TERMS = (
    ("base_ang_vel", 3),
    ("projected_gravity", 3),
    ("joint_pos", 12),
    ("joint_vel", 12),
    ("actions", 12),
    ("command", 3),
)


def mjlab_onnx(path, metadata, n_obs=45, n_act=12):
    """An mjlab style ONNX (``obs`` (1, n_obs) -> ``actions`` (1, n_act), a seeded linear map) with
    ``metadata`` as mjlab's ``attach_metadata_to_onnx`` writes it (comma-separated text)."""
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array((0.05 * rng.standard_normal((n_obs, n_act))).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["obs", "W"], ["actions"])],
        "policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, n_obs])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, n_act])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def mjlab_metadata(spec, **changes):
    """mjlab 1.6's metadata of a velocity policy on ``spec``'s joints (``None`` removes a key)."""
    n = len(spec.joints)
    meta = {
        "run_path": "local",
        "joint_names": ",".join(spec.joints),
        "joint_stiffness": ",".join(["25.000"] * n),
        "joint_damping": ",".join(["0.500"] * n),
        "default_joint_pos": ",".join(f"{float(q):.3f}" for q in spec.default_pose),
        "command_names": "twist",
        "observation_names": ",".join(name for name, _ in TERMS),
        "observation_terms_scale": ",".join(["1.000"] * len(TERMS)),
        "observation_terms_flatten_history_dim": ",".join(["1.000"] * len(TERMS)),
        "observation_terms_history_length": ",".join(["0.000"] * len(TERMS)),
        "observation_terms_clip": ",".join(["-inf;inf"] * len(TERMS)),
        "action_scale": ",".join(["0.250"] * n),
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not None}


class TestMjlabMetadata:
    def test_the_exporters_metadata_imports_with_its_action_scale(self, tmp_path):
        spec = load_robot("quadruped")
        path = mjlab_onnx(tmp_path / "policy.onnx", mjlab_metadata(spec))
        result = import_isaaclab(path, None, MODEL, tmp_path / "out", torque_limit=23.7)
        assert result.spec.action_scale.tolist() == [0.25] * 12

    def test_a_missing_action_scale_is_one_clear_error_not_a_scale_of_one(self, tmp_path):
        # mjlab always writes action_scale (G1: 0.07..0.55 rad); read as 1 it commanded the
        # joints two to fourteen times as far as trained
        spec = load_robot("quadruped")
        path = mjlab_onnx(tmp_path / "policy.onnx", mjlab_metadata(spec, action_scale=None))
        with pytest.raises(PolicyError, match="the ONNX metadata has joint_names but no action_scale"):
            import_isaaclab(path, None, MODEL, tmp_path / "out", torque_limit=23.7)
        assert not (tmp_path / "out" / "policy.onnx").exists()

    def test_metadata_written_as_json_lists_imports_as_the_text_form_does(self, tmp_path):
        # exporters that json.dumps each value write '["FL_hip", ...]': read as text, the first
        # joint was '["FL_hip"', not a joint of the model
        spec = load_robot("quadruped")
        n = len(spec.joints)
        as_json = {
            "run_path": json.dumps("local"),
            "joint_names": json.dumps(list(spec.joints)),
            "joint_stiffness": json.dumps([25.0] * n),
            "joint_damping": json.dumps([0.5] * n),
            "default_joint_pos": json.dumps([float(q) for q in spec.default_pose]),
            "command_names": json.dumps(["twist"]),
            "observation_names": json.dumps([name for name, _ in TERMS]),
            "observation_terms_scale": json.dumps([0.25, 1.0, 1.0, [0.05] * 12, 1.0, 1.0]),
            "observation_terms_flatten_history_dim": json.dumps([True] * len(TERMS)),
            "observation_terms_history_length": json.dumps([0] * len(TERMS)),
            "observation_terms_clip": json.dumps([[-float("inf"), float("inf")]] * 5 + [[-1.0, 1.0]]),
            "action_scale": json.dumps([0.25] * n),
        }
        text = mjlab_metadata(
            spec,
            observation_terms_scale="0.250,1.000,1.000," + ";".join(["0.050"] * 12) + ",1.000,1.000",
            observation_terms_clip=",".join(["-inf;inf"] * 5 + ["-1.000;1.000"]),
        )
        ours = [
            import_isaaclab(mjlab_onnx(tmp_path / f"{k}.onnx", meta), None, MODEL, tmp_path / k, torque_limit=23.7)
            for k, meta in (("json", as_json), ("text", text))
        ]
        for result in ours:
            assert list(result.spec.joints) == list(spec.joints)
            assert result.spec.action_scale.tolist() == [0.25] * n
        assert ours[0].metadata.observation == ours[1].metadata.observation
        assert ours[0].metadata.observation[-1].clip is not None


def tiny_isaac_onnx(path, n_obs, n_act):
    """An Isaac Lab style export of ``n_obs`` -> ``n_act`` (a seeded linear map, no metadata)."""
    return mjlab_onnx(path, {}, n_obs=n_obs, n_act=n_act)


def legs_only_env_yaml(tmp_path):
    """The suite's Isaac Lab env.yaml (history 1) whose action drives the hips and thighs only, the
    joint velocity scaled by one number (as the G1's ``scale: 0.05``)."""
    from foreign_fixtures import isaaclab_env_yaml

    env = isaaclab_env_yaml(load_robot("quadruped"), tmp_path / "params" / "env.yaml", history=1)
    text = env.read_text()
    for old, new in (
        (
            "    joint_names: ['.*']\n    scale: 0.5",
            "    joint_names: ['.*_hip', '.*_thigh']\n    scale: 0.5",
        ),
        ("      scale: !!python/tuple " + str([0.05] * 12), "      scale: 0.05"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    env.write_text(text)
    return env


class TestSubsetAction:
    def test_a_subset_action_observing_every_joint_imports_with_the_rest_held_by_their_pd(self, tmp_path):
        # Isaac Lab's joint_pos_rel / joint_vel_rel cover the whole articulation unless asset_cfg
        # selects joints: a legs-only G1 policy observes its 29 joints and drives 12 (here: 8 of 12);
        # the import refused it, now the undriven joints are spec joints held by their PD (action.hold)
        env = legs_only_env_yaml(tmp_path)
        onnx_path = tiny_isaac_onnx(tmp_path / "exported" / "policy.onnx", 3 + 3 + 3 + 12 + 12 + 8, 8)
        result = import_isaaclab(onnx_path, env, MODEL, tmp_path / "out")
        assert len(result.spec.joints) == 12 and result.spec.held == tuple(
            j for j in result.spec.joints if j.endswith("_calf")
        )
        assert [t.size for t in result.spec.observation][-3:] == [12, 12, 8] and not result.spec.locked_joints

    def test_a_subset_action_observing_its_own_joints_imports_with_the_rest_held(self, tmp_path):
        env = legs_only_env_yaml(tmp_path)
        onnx_path = tiny_isaac_onnx(tmp_path / "exported" / "policy.onnx", 3 + 3 + 3 + 8 + 8 + 8, 8)
        result = import_isaaclab(onnx_path, env, MODEL, tmp_path / "out")
        assert len(result.spec.joints) == 8 and not any(j.endswith("_calf") for j in result.spec.joints)
