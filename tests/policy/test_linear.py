"""Hand-made linear policies: a regular sim2real policy file without training or torch, stamped
by the same function as an export."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from sim2real.errors import PolicyError, Sim2RealError
from sim2real.policy.linear import write_linear_policy
from sim2real.policy.metadata import CHECKSUM_KEY, load_policy_file, read_metadata, stamp_metadata
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Reading
from sim2real.robots import load_robot


class TestLinearPolicy:
    def test_the_runner_computes_tanh_of_the_affine_map(self, tmp_path):
        spec = load_robot("pendulum")
        gain = np.linspace(0.5, -0.5, spec.n_obs)[None, :]
        path = write_linear_policy(spec, tmp_path / "p.onnx", gain, np.array([0.1]))
        runner = PolicyRunner(path, spec, providers="cpu")
        obs = np.linspace(-1.0, 1.0, spec.n_obs, dtype=np.float32)[None, :]
        action = runner.session.run(None, {"obs": obs})[0]
        np.testing.assert_allclose(action, np.tanh(obs @ gain.T + 0.1), rtol=1e-6)

    def test_metadata_and_checksum_are_an_exports(self, tmp_path):
        spec = load_robot("quadruped")
        path = write_linear_policy(spec, tmp_path / "hold.onnx")
        meta, _ = load_policy_file(path)
        assert meta.spec_hash == spec.hash and meta.network == {"type": "linear", "output": "tanh"}
        model = onnx.load(str(path))
        keys = [p.key for p in model.metadata_props]
        assert keys[-1] == CHECKSUM_KEY and len(keys) == len(set(keys))
        assert model.producer_name == "sim2real" and spec.name in model.doc_string

    def test_a_wrong_shape_is_one_clear_error(self, tmp_path):
        with pytest.raises(Sim2RealError, match="gain must be"):
            write_linear_policy(load_robot("furuta"), tmp_path / "p.onnx", np.zeros((2, 2)))

    def test_the_zero_policy_holds_the_default_pose(self, tmp_path):
        spec = load_robot("quadruped")
        runner = PolicyRunner(write_linear_policy(spec, tmp_path / "hold.onnx"), spec, providers="cpu")
        reading = Reading(
            t=0.0,
            q=spec.default_pose,
            qd=np.zeros(spec.n_joints),
            gyro=np.zeros(3),
            accel=np.array([0.0, 0.0, 9.81]),
            quat=np.array([1.0, 0.0, 0.0, 0.0]),
        )
        np.testing.assert_allclose(runner.step_reading(reading, np.zeros(3)), spec.default_pose, atol=1e-6)


class TestStampMetadata:
    def test_restamping_replaces_every_entry(self, tmp_path):
        spec = load_robot("furuta")
        path = write_linear_policy(spec, tmp_path / "p.onnx")
        model = onnx.load(str(path))
        meta = read_metadata(path)
        again = tmp_path / "again.onnx"
        again.write_bytes(stamp_metadata(model, meta))
        assert read_metadata(again).spec_hash == spec.hash
        assert len(onnx.load(str(again)).metadata_props) == len(onnx.load(str(path)).metadata_props)

    def test_an_entry_changed_after_stamping_fails_the_checksum(self, tmp_path):
        path = write_linear_policy(load_robot("furuta"), tmp_path / "p.onnx")
        model = onnx.load(str(path))
        for entry in model.metadata_props:
            if entry.key == "action_filter":
                entry.value = json.dumps(0.5)
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(model.SerializeToString())
        with pytest.raises(PolicyError, match="checksum"):
            load_policy_file(bad)
