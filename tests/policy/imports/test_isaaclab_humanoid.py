"""`sim2real import isaaclab` on what a humanoid review found: mjlab exports' metadata read
strictly where a silent default would command the wrong joint targets.  Each test builds a small
synthetic export in the shape the upstream exporter writes (no training, no network).
"""

from __future__ import annotations

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
