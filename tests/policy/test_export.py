"""Export: ONNX graph with the normalizer inside, parity with PyTorch, failures, the CLI."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest

from sim2real.cli import main
from sim2real.errors import PolicyError, SpecMismatchError
from sim2real.policy.metadata import read_metadata
from sim2real.policy.runtime import PolicyRunner
from sim2real.robots import EMBEDDED

torch = pytest.importorskip("torch", reason="export needs the train extra (torch)")

from sim2real.policy import export as export_module  # noqa: E402
from sim2real.policy.export import export_policy, parity, random_observations  # noqa: E402
from sim2real.train.network import TransferPolicy  # noqa: E402


def torch_actions(policy, obs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return policy.eval()(torch.from_numpy(np.asarray(obs, dtype=np.float32))).numpy()


class TestParity:
    @pytest.mark.parametrize("name", EMBEDDED)
    def test_export_checks_10000_random_and_1000_recorded_observations(self, exported, name):
        result = exported[name].result
        assert (result.n_random, result.n_recorded) == (10_000, 1_000)
        assert result.max_abs_diff <= 1e-5
        check = read_metadata(exported[name].path).export_check
        assert check["max_abs_diff_recorded"] == pytest.approx(result.max_abs_diff_recorded)
        assert check["n_random"] == 10_000 and check["tolerance"] == 1e-5

    @pytest.mark.parametrize("name", EMBEDDED)
    def test_runtime_matches_torch_on_fresh_observations(self, exported, name):
        item = exported[name]
        policy = item.run.policy
        rng = np.random.default_rng(7)
        mean, std = policy.normalizer.mean.numpy(), policy.normalizer.std.numpy()
        obs = (mean + 3.0 * std * rng.standard_normal((2000, item.spec.n_obs))).astype(np.float32)
        runner = PolicyRunner(item.path, item.spec, providers="cpu")
        diff = np.abs(runner.infer(obs) - torch_actions(policy, obs)).max()
        assert diff <= 1e-5

    def test_trained_policies_are_not_trivial(self, trained):
        for run in trained.values():
            assert float(run.policy.normalizer.count) > 0
            assert float(run.policy.normalizer.mean.abs().max()) > 0.0

    def test_normalizer_is_inside_the_graph(self, exported):
        item = exported["quadruped"]
        policy = item.run.policy
        rng = np.random.default_rng(3)
        mean, std = policy.normalizer.mean.numpy(), policy.normalizer.std.numpy()
        obs = (mean + std * rng.standard_normal((500, item.spec.n_obs))).astype(np.float32)
        onnx_out = PolicyRunner(item.path, item.spec).infer(obs)
        with torch.no_grad():
            without_normalizer = torch.tanh(policy.body(torch.from_numpy(obs))).numpy()
        assert np.abs(onnx_out - torch_actions(policy, obs)).max() <= 1e-5
        assert np.abs(onnx_out - without_normalizer).max() > 1e-2

    def test_parity_check_detects_another_network(self, exported):
        item = exported["pendulum"]
        policy = item.run.policy
        obs = random_observations(policy, 500, seed=2)
        assert parity(item.path, policy, obs) <= 1e-5
        perturbed = copy.deepcopy(policy)
        with torch.no_grad():
            perturbed.body[-1].bias += 1e-3  # (a shift before a LayerNorm would cancel out)
        assert parity(item.path, perturbed, obs) > 1e-5

    def test_failed_parity_fails_the_export_and_leaves_no_file(self, trained, tmp_path, monkeypatch):
        run = trained["pendulum"]
        monkeypatch.setattr(export_module, "parity", lambda *args, **kwargs: 2e-5)
        out = tmp_path / "p.onnx"
        with pytest.raises(PolicyError, match=r"parity check failed: .* 2e-05 > 1e-05"):
            export_policy(run.policy, run.spec, out, metadata=run.metadata, n_random=100, n_recorded=50)
        assert not out.exists()
        assert list(tmp_path.iterdir()) == []


class TestGraph:
    @pytest.mark.parametrize("name", ["pendulum", "quadruped"])
    def test_input_obs_and_output_action_with_a_dynamic_batch(self, exported, name):
        import onnx

        item = exported[name]
        model = onnx.load(str(item.path))
        onnx.checker.check_model(model)
        (inp,), (out,) = model.graph.input, model.graph.output
        assert (inp.name, out.name) == ("obs", "action")
        assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        in_dims, out_dims = inp.type.tensor_type.shape.dim, out.type.tensor_type.shape.dim
        assert in_dims[0].dim_param and not in_dims[0].dim_value  # symbolic batch axis
        assert (in_dims[1].dim_value, out_dims[1].dim_value) == (item.spec.n_obs, item.spec.n_actions)
        runner = PolicyRunner(item.path, item.spec)
        for batch in (1, 7):
            obs = np.zeros((batch, item.spec.n_obs), dtype=np.float32)
            assert runner.infer(obs).shape == (batch, item.spec.n_actions)

    def test_graph_holds_the_normalizer_statistics(self, exported):
        import onnx
        from onnx import numpy_helper

        item = exported["furuta"]
        mean = item.run.policy.normalizer.mean.numpy()
        arrays = [numpy_helper.to_array(t) for t in onnx.load(str(item.path)).graph.initializer]
        assert any(a.shape == mean.shape and np.array_equal(a, mean) for a in arrays)


class TestExportErrors:
    def test_network_of_the_wrong_size_is_refused(self, trained, tmp_path):
        spec = trained["pendulum"].spec
        with pytest.raises(PolicyError, match="observations"):
            export_policy(TransferPolicy(spec.n_obs + 1, 1, (8,)), spec, tmp_path / "p.onnx")
        assert not (tmp_path / "p.onnx").exists()

    def test_network_with_nan_weights_fails_the_parity_check(self, trained, tmp_path):
        run = trained["pendulum"]
        broken = copy.deepcopy(run.policy)
        with torch.no_grad():
            broken.normalizer.mean[0] = float("nan")
        recorded = np.zeros((10, run.spec.n_obs), dtype=np.float32)
        with pytest.raises(PolicyError, match=r"parity check failed: .* = inf"):
            export_policy(broken, run.spec, tmp_path / "p.onnx", recorded=recorded, n_random=50)
        assert not (tmp_path / "p.onnx").exists()

    def test_run_trained_for_another_spec_is_refused(self, trained, tmp_path):
        run = trained["pendulum"]
        metadata = {**run.metadata, "spec_hash": "f" * 64}
        with pytest.raises(SpecMismatchError, match="ffffffffffff"):
            export_policy(run.policy, run.spec, tmp_path / "p.onnx", metadata=metadata)


class TestCli:
    def test_export_command_writes_a_runnable_policy(self, trained, tmp_path, capsys):
        run = trained["furuta"]
        run_dir = tmp_path / "run"
        shutil.copytree(run.run_dir, run_dir)
        assert main(["export", str(run_dir), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        path = run_dir / "policy.onnx"
        assert summary["path"] == str(path) and summary["max_abs_diff"] <= 1e-5
        assert (summary["n_random"], summary["n_recorded"]) == (10_000, 1_000)
        meta = read_metadata(path)
        assert meta.randomization == run.metadata["randomization"]
        assert meta.training["iteration"] == 3 and meta.training["ppo"] == run.metadata["ppo"]
        command = PolicyRunner(path, run.spec).step(np.zeros(2), np.zeros(2))
        assert command.shape == (1,) and np.all(np.abs(command) <= 10.0)

    def test_missing_run_is_one_clear_line(self, tmp_path, capsys):
        assert main(["export", str(tmp_path / "no_such_run")]) != 0
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "no checkpoint" in lines[0] and "Traceback" not in err

    def test_without_load_policy_the_error_says_so(self, trained, tmp_path, capsys, monkeypatch):
        import sim2real.train
        import sim2real.train.checkpoint

        def no_such_attribute(name):
            raise AttributeError(name)

        # the package may offer load_policy lazily (module __getattr__) or as an attribute
        monkeypatch.setattr(sim2real.train, "__getattr__", no_such_attribute, raising=False)
        if "load_policy" in vars(sim2real.train):
            monkeypatch.delattr(sim2real.train, "load_policy")
        monkeypatch.delattr(sim2real.train.checkpoint, "load_policy")
        assert main(["export", str(trained["furuta"].run_dir), "--out", str(tmp_path / "p.onnx")]) != 0
        err = capsys.readouterr().err
        assert "cannot read training runs" in err and "Traceback" not in err
        assert not (tmp_path / "p.onnx").exists()
