"""TorchScript policies rebuilt as ONNX graphs (`sim2real.policy.imports.torchscript`).

The scripted modules are made here in the shapes the upstream exporters write: rsl_rl >= 4's
``as_jit()`` (with the rsl-rl-lib installed), Isaac Lab's ``_TorchPolicyExporter`` (children
``normalizer``, ``rnn``, ``actor``).  legged_gym's own format is covered by test_legged_gym.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from foreign_fixtures import legged_gym_config

from sim2real.errors import PolicyError
from sim2real.policy.imports.graph import graph_interface
from sim2real.policy.imports.legged_gym import import_legged_gym
from sim2real.policy.imports.torchscript import reference_function, torchscript_to_onnx
from sim2real.policy.metadata import INPUT_NAME
from sim2real.robots import DATA_DIR

torch = pytest.importorskip("torch", reason="TorchScript policies need torch")

MODEL = DATA_DIR / "quadruped.xml"


class IsaacLabJit(torch.nn.Module):
    """isaaclab_rl.rsl_rl.exporter._TorchPolicyExporter of a recurrent policy, as scripted into
    exported/policy.pt: ``normalizer`` -> ``rnn`` (state in buffers) -> ``actor``."""

    def __init__(self, n_obs: int, n_act: int = 12, hidden: int = 16) -> None:
        super().__init__()
        self.actor = torch.nn.Sequential(
            torch.nn.Linear(hidden, 32), torch.nn.ELU(), torch.nn.Linear(32, n_act)
        )
        self.rnn = torch.nn.LSTM(n_obs, hidden, 1)
        self.register_buffer("hidden_state", torch.zeros(1, 1, hidden))
        self.register_buffer("cell_state", torch.zeros(1, 1, hidden))
        self.normalizer = torch.nn.Identity()

    def forward(self, x):
        x = self.normalizer(x)
        x, (h, c) = self.rnn(x.unsqueeze(0), (self.hidden_state, self.cell_state))
        self.hidden_state[:] = h
        self.cell_state[:] = c
        return self.actor(x.squeeze(0))

    @torch.jit.export
    def reset(self):
        self.hidden_state[:] = 0.0
        self.cell_state[:] = 0.0


class WithCritic(torch.nn.Module):
    """An actor scripted together with a part that has weights and no role in acting."""

    def __init__(self) -> None:
        super().__init__()
        self.actor = torch.nn.Sequential(torch.nn.Linear(48, 12))
        self.critic = torch.nn.Sequential(torch.nn.Linear(48, 1))

    def forward(self, x):
        return self.actor(x)


class TwoMemories(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.actor = torch.nn.Sequential(torch.nn.Linear(8, 12))
        self.memory = torch.nn.GRU(48, 8, 1)
        self.rnn = torch.nn.GRU(48, 8, 1)

    def forward(self, x):
        return self.actor(self.memory(x.unsqueeze(0))[0].squeeze(0) + self.rnn(x.unsqueeze(0))[0].squeeze(0))


class LooseStd(torch.nn.Module):
    """A parameter of the top module itself (an action std, or a scale the forward uses)."""

    def __init__(self) -> None:
        super().__init__()
        self.actor = torch.nn.Sequential(torch.nn.Linear(48, 12))
        self.scale = torch.nn.Parameter(torch.full((12,), 2.0))

    def forward(self, x):
        return self.actor(x) * self.scale


def rsl_rl_jit(kind: str, distribution: str | None = "GaussianDistribution", n_obs: int = 48):
    """rsl_rl's ``policy.as_jit()`` scripted as OnPolicyRunner.export_policy_to_jit does, with a
    normalizer whose statistics are not the identity."""
    from tensordict import TensorDict

    torch.manual_seed(0)
    obs = TensorDict({"policy": torch.zeros(2, n_obs)}, batch_size=[2])
    dist = None if distribution is None else {"class_name": distribution}
    if distribution == "BetaDistribution":
        dist["action_range"] = (-0.5, 1.5)  # a scale and offset other than (-1, 1)'s
    elif distribution is not None:
        dist["init_std"] = 1.0
    if kind == "mlp":
        from rsl_rl.models import MLPModel

        model = MLPModel(
            obs, {"actor": ["policy"]}, "actor", 12, hidden_dims=[32, 32], obs_normalization=True,
            distribution_cfg=dist,
        )  # fmt: skip
    else:
        from rsl_rl.models import RNNModel

        model = RNNModel(
            obs, {"actor": ["policy"]}, "actor", 12, hidden_dims=[32], rnn_hidden_dim=16, rnn_type=kind,
            obs_normalization=True, distribution_cfg=dist,
        )  # fmt: skip
    with torch.no_grad():
        model.obs_normalizer._mean.normal_()
        model.obs_normalizer._std.uniform_(0.5, 2.0)
    return torch.jit.script(model.eval().as_jit())


def graph_actions(graph, recurrent, obs: np.ndarray) -> np.ndarray:
    """The converted graph on observations from a reset (T, n_obs) -> (T, n_act), state carried."""
    import onnxruntime as ort

    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    state = [np.zeros(r.shape, np.float32) for r in recurrent]
    actions = []
    for row in obs.astype(np.float32):
        action, *state = session.run(
            None, {INPUT_NAME: row[None], **{r.input: s for r, s in zip(recurrent, state, strict=True)}}
        )
        actions.append(action)
    return np.concatenate(actions)


class TestTorchScriptExports:
    @pytest.mark.parametrize("kind", ["mlp", "lstm"])
    def test_an_rsl_rl_as_jit_export_imports(self, tmp_path, kind):
        # rsl_rl >= 4 (the rsl-rl-lib this project installs, Isaac Lab's and mjlab's current runners):
        # OnPolicyRunner.export_policy_to_jit scripts policy.as_jit(): children obs_normalizer, mlp,
        # deterministic_output (and rnn).
        from tensordict import TensorDict

        torch.manual_seed(0)
        obs = TensorDict({"policy": torch.zeros(2, 48)}, batch_size=[2])
        if kind == "mlp":
            from rsl_rl.models import MLPModel

            model = MLPModel(
                obs, {"actor": ["policy"]}, "actor", 12, hidden_dims=[32, 32], obs_normalization=True,
                distribution_cfg={"class_name": "GaussianDistribution", "init_std": 1.0},
            )  # fmt: skip
        else:
            from rsl_rl.models import RNNModel

            model = RNNModel(obs, {"actor": ["policy"]}, "actor", 12, hidden_dims=[32], rnn_hidden_dim=16)
        path = tmp_path / "policy.pt"
        torch.jit.script(model.eval().as_jit()).save(str(path))
        result = import_legged_gym(
            path, legged_gym_config(tmp_path), MODEL, tmp_path / "out", torque_limit=23.7
        )
        assert result.max_abs_diff <= 1e-5
        assert bool(result.metadata.recurrent) == (kind == "lstm")

    def test_an_isaaclab_recurrent_jit_keeps_its_lstm(self):
        # Isaac Lab's recurrent export names the memory `rnn` (legged_gym's: `memory`); an actor
        # rebuilt alone would take the LSTM's 16 hidden values as its "observation".
        torch.manual_seed(0)
        module = torch.jit.script(IsaacLabJit(48, hidden=16))
        graph, recurrent, _ = torchscript_to_onnx(module)
        interface = graph_interface(graph, "policy.pt")
        assert interface.n_obs == 48, (
            f"the converted graph takes {interface.n_obs} inputs (the LSTM was dropped)"
        )
        assert len(recurrent) == 2


class TestRslRlParts:
    @pytest.mark.parametrize(
        ("kind", "distribution", "n_state"),
        [
            ("mlp", "GaussianDistribution", 0),  # learned std outside the export: the MLP gives the mean
            ("mlp", "HeteroscedasticGaussianDistribution", 0),  # (2, n) output: row 0 is the mean
            ("mlp", "BetaDistribution", 0),  # alpha, beta -> the Beta's mean in the action range
            ("mlp", None, 0),
            ("gru", "GaussianDistribution", 1),
            ("lstm", "HeteroscedasticGaussianDistribution", 2),
        ],
    )
    def test_normalizer_memory_mlp_and_deterministic_output_match_the_scripted_module(
        self, kind, distribution, n_state
    ):
        module = rsl_rl_jit(kind, distribution)
        graph, recurrent, network = torchscript_to_onnx(module)
        obs = np.random.default_rng(0).standard_normal((5, 48)).astype(np.float32)
        expected = reference_function(module)(obs)
        assert expected.shape == (5, 12) and len(recurrent) == n_state
        np.testing.assert_allclose(graph_actions(graph, recurrent, obs), expected, atol=1e-5)
        assert network["normalizer"] is True


class TestNothingIsDropped:
    @pytest.mark.parametrize(
        ("module", "message"),
        [
            (WithCritic, "has weights the rebuild would leave out: 'critic' (it rebuilds actor)"),
            (LooseStd, "has weights the rebuild would leave out: parameter 'scale'"),
            (TwoMemories, "has both 'memory' and 'rnn' as its memory"),
        ],
    )
    def test_a_part_with_weights_the_rebuild_does_not_use_is_one_clear_error(self, module, message):
        with pytest.raises(PolicyError) as raised:
            torchscript_to_onnx(torch.jit.script(module()))
        assert message in str(raised.value) and "\n" not in str(raised.value)
