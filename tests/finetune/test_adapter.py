"""Residual adapter: zero start reproduces the base exactly (PyTorch and ONNX), the correction is bounded."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.errors import Sim2RealError

torch = pytest.importorskip("torch")

from sim2real.finetune.adapter import AdaptedPolicy, AdapterConfig, adapted  # noqa: E402
from sim2real.finetune.base import load_base  # noqa: E402
from sim2real.policy.export import export_policy, random_observations  # noqa: E402
from sim2real.policy.runtime import PolicyRunner  # noqa: E402


def _obs(policy, n=4000, seed=3):
    return torch.from_numpy(random_observations(policy, n, seed))


class TestZeroInit:
    def test_adapted_policy_equals_base_bit_for_bit_in_torch(self, base):
        model = AdaptedPolicy(base.policy, AdapterConfig(hidden=(16,), scale=0.5))
        obs = _obs(base.policy)
        with torch.no_grad():
            assert torch.equal(model(obs), base.policy(obs))
            assert torch.count_nonzero(model.adapter(model.normalizer(obs))) == 0

    def test_exported_zero_adapter_reproduces_the_base_file_exactly(self, base, tmp_path):
        loaded = load_base(base.path, base.spec)
        model = AdaptedPolicy(loaded.policy)
        out = tmp_path / "zero.onnx"
        export_policy(model, base.spec, out, metadata={"task": "furuta"}, n_random=500, n_recorded=100)
        obs = random_observations(base.policy, 3000, seed=5)
        plain = PolicyRunner(base.path, base.spec, providers="cpu").infer(obs)
        adapted_out = PolicyRunner(out, base.spec, providers="cpu").infer(obs)
        assert np.array_equal(plain, adapted_out)

    def test_base_weights_are_frozen_and_adapter_trainable(self, base):
        model = AdaptedPolicy(base.policy)
        trainable = {id(p) for p in model.parameters() if p.requires_grad}
        assert trainable == {id(p) for p in model.adapter.parameters()}


class TestBound:
    @pytest.mark.parametrize("scale", [0.05, 0.25, 1.0])
    def test_correction_never_exceeds_scale_and_action_stays_in_range(self, base, scale):
        model = AdaptedPolicy(base.policy, AdapterConfig(hidden=(16,), scale=scale))
        with torch.no_grad():
            for p in model.adapter.parameters():
                p.copy_(torch.randn_like(p) * 50.0)  # a wildly saturated adapter
            obs = _obs(base.policy)
            a = model(obs)
            b = base.policy(obs)
        assert float((a - b).abs().max()) <= scale + 1e-6
        assert float((a - b).abs().max()) > 0.5 * min(scale, 0.5)  # it does move when trained
        assert float(a.abs().max()) <= 1.0

    @pytest.mark.parametrize("bad", [0.0, -0.1, 3.0])
    def test_invalid_scale_is_refused(self, bad):
        with pytest.raises(Sim2RealError, match="scale"):
            AdapterConfig(scale=bad)

    def test_continuing_an_adapter_keeps_it_and_refuses_another_shape(self, base):
        model = AdaptedPolicy(base.policy, AdapterConfig(hidden=(8,), scale=0.3))
        with torch.no_grad():
            model.adapter.net[-1].bias.fill_(0.7)
        again = adapted(model)
        obs = _obs(base.policy, 100)
        with torch.no_grad():
            assert torch.equal(again(obs), model(obs))
        with pytest.raises(Sim2RealError, match="already has an adapter"):
            adapted(model, AdapterConfig(hidden=(8,), scale=0.1))
