"""rsl_rl training checkpoints made by the tests, and their actors computed with numpy.

- :func:`v1_checkpoint`: the dict rsl_rl 1.x (legged_gym), 2.x or 3.x (Isaac Lab) ``OnPolicyRunner.save``
  writes, built with torch in their exact key layouts from seeded random weights: ``model_state_dict``
  (``actor.{i}``, ``critic.{i}``, ``std`` / ``log_std``, ``memory_a.rnn`` / ``memory_c.rnn``, 3.x's
  ``actor_obs_normalizer`` / ``critic_obs_normalizer``), 2.x's ``obs_norm_state_dict`` /
  ``critic_obs_norm_state_dict``, ``optimizer_state_dict``, ``iter``, ``infos``;
- :func:`v5_checkpoint`: a checkpoint of the installed rsl-rl-lib (5.x), written by its own
  ``OnPolicyRunner.save`` after two PPO iterations on :func:`tiny_env`;
- :func:`numpy_actor`: the deterministic actor of such a checkpoint written out with numpy from the
  file's weights (normalizer, LSTM/GRU cell equations, MLP, distribution mean), independently of the
  importer's torch rebuild.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SELU = (1.0507009873554805, 1.6732632423543772)
ACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: SELU[0] * np.where(x > 0, x, SELU[1] * np.expm1(np.minimum(x, 0))),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


# ----------------------------------------------------------------------------- numpy actor
def numpy_actor(
    weights: dict[str, Any],
    *,
    mlp: str,
    activation: str,
    normalizer: dict[str, Any] | None = None,
    memory: str | None = None,
    head: tuple[str, float, float] | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """The actor as numpy: observations from a reset (T, n_obs) -> actions (T, n_act).

    Args:
        weights: The actor's state dict (tensors or arrays) with its prefixes.
        mlp: Prefix of the Linear layers (``actor.``, ``mlp.``).
        activation: rsl_rl's name (:data:`ACT`).
        normalizer: ``_mean``, ``_std`` of EmpiricalNormalization (eps 0.01), or None.
        memory: Prefix of the LSTM / GRU (``memory_a.rnn.``, ``rnn.rnn.``), or None.
        head: None (the output), ``("first", ...)`` (row 0 of (2, n)), ``("beta", scale, offset)``.
    """
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    layers = sorted(
        int(k[len(mlp) :].split(".")[0]) for k in w if k.startswith(mlp) and k.endswith(".weight")
    )
    act = ACT[activation]

    def dense(x: np.ndarray) -> np.ndarray:
        for n, i in enumerate(layers):
            x = x @ w[f"{mlp}{i}.weight"].T + w[f"{mlp}{i}.bias"]
            if n < len(layers) - 1:
                x = act(x)
        return x

    def cell(x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = lambda name: w[f"{memory}{name}_l0"]  # noqa: E731
        gi = x @ g("weight_ih").T + g("bias_ih")
        gh = h @ g("weight_hh").T + g("bias_hh")
        n = h.shape[-1]
        if gi.shape[-1] == 4 * n:  # LSTM: input, forget, cell, output gates
            i, f, gg, o = (gi + gh)[:n], (gi + gh)[n : 2 * n], (gi + gh)[2 * n : 3 * n], (gi + gh)[3 * n :]
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(gg)
            return _sigmoid(o) * np.tanh(c), c
        r = _sigmoid(gi[:n] + gh[:n])  # GRU: reset, update, new
        z = _sigmoid(gi[n : 2 * n] + gh[n : 2 * n])
        new = np.tanh(gi[2 * n :] + r * gh[2 * n :])
        return (1 - z) * new + z * h, c

    def run(obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float64)
        if normalizer is not None:
            mean = np.asarray(normalizer["_mean"], dtype=np.float64).reshape(-1)
            std = np.asarray(normalizer["_std"], dtype=np.float64).reshape(-1)
            x = (x - mean) / (std + 0.01)
        if memory is not None:
            n = w[f"{memory}weight_hh_l0"].shape[1]
            h, c, rows = np.zeros(n), np.zeros(n), []
            for row in x:
                h, c = cell(row, h, c)
                rows.append(h)
            x = np.array(rows)
        y = dense(x)
        if head is None:
            return y
        half = y.shape[-1] // 2
        if head[0] == "first":
            return y[:, :half]
        alpha, beta = _softplus(y[:, :half]) + 1.0, _softplus(y[:, half:]) + 1.0
        return alpha / (alpha + beta) * head[1] + head[2]

    return run


def onnx_actions(path: Path, obs: np.ndarray) -> np.ndarray:
    """The imported policy.onnx in onnxruntime, row by row from a reset, its state carried."""
    import onnxruntime as ort

    from sim2real.policy.metadata import read_metadata

    meta = read_metadata(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    state = {r.input: np.zeros(r.shape, np.float32) for r in meta.recurrent}
    rows = []
    for row in np.asarray(obs, dtype=np.float32):
        out = session.run(["action", *(r.output for r in meta.recurrent)], {"obs": row[None], **state})
        rows.append(out[0][0])
        state = {r.input: v for r, v in zip(meta.recurrent, out[1:], strict=True)}
    return np.array(rows, dtype=np.float64)


# ------------------------------------------------------------------------- rsl_rl 1.x - 3.x
def _linear(torch: Any, gen: Any, n_in: int, n_out: int) -> tuple[Any, Any]:
    weight = torch.randn(n_out, n_in, generator=gen) / n_in**0.5
    return weight, 0.1 * torch.randn(n_out, generator=gen)


def _mlp(torch: Any, gen: Any, prefix: str, sizes: list[int]) -> dict[str, Any]:
    out = {}
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        out[f"{prefix}{2 * k}.weight"], out[f"{prefix}{2 * k}.bias"] = _linear(torch, gen, n_in, n_out)
    return out


def _rnn(torch: Any, gen: Any, prefix: str, kind: str, n_in: int, hidden: int) -> dict[str, Any]:
    gates = {"lstm": 4, "gru": 3}[kind] * hidden
    return {
        f"{prefix}weight_ih_l0": torch.randn(gates, n_in, generator=gen) / n_in**0.5,
        f"{prefix}weight_hh_l0": torch.randn(gates, hidden, generator=gen) / hidden**0.5,
        f"{prefix}bias_ih_l0": 0.1 * torch.randn(gates, generator=gen),
        f"{prefix}bias_hh_l0": 0.1 * torch.randn(gates, generator=gen),
    }


def normalizer_state(torch: Any, gen: Any, n: int, count: bool = True) -> dict[str, Any]:
    """EmpiricalNormalization's buffers with statistics far from the identity."""
    std = 0.5 + 1.5 * torch.rand(1, n, generator=gen)
    out = {"_mean": torch.randn(1, n, generator=gen), "_var": std**2, "_std": std}
    if count:
        out["count"] = torch.tensor(4096, dtype=torch.long)
    return out


def v1_checkpoint(
    version: str,
    n_obs: int,
    n_act: int,
    hidden: list[int],
    *,
    seed: int = 0,
    memory: tuple[str, int] | None = None,
    state_dependent_std: bool = False,
) -> dict[str, Any]:
    """What rsl_rl ``version`` ("1", "2" or "3") saves for an ActorCritic(Recurrent).

    ``memory``: (``lstm`` | ``gru``, hidden size) for ActorCriticRecurrent; 2.x has the runner's
    empirical normalization (``obs_norm_state_dict``), 3.x the actor's (in the model) and, with
    ``state_dependent_std``, a (2, n) actor output and no ``std``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    n_mlp = memory[1] if memory else n_obs
    out_dim = 2 * n_act if state_dependent_std else n_act
    state = _mlp(torch, gen, "actor.", [n_mlp, *hidden, out_dim])
    state.update(_mlp(torch, gen, "critic.", [n_mlp, *hidden, 1]))
    if not state_dependent_std:
        state["std" if version != "3" else "log_std"] = torch.full((n_act,), 0.8)
    if memory:
        state.update(_rnn(torch, gen, "memory_a.rnn.", memory[0], n_obs, memory[1]))
        state.update(_rnn(torch, gen, "memory_c.rnn.", memory[0], n_obs, memory[1]))
    data: dict[str, Any] = {}
    if version == "2":
        data["obs_norm_state_dict"] = normalizer_state(torch, gen, n_obs, count=False)
        data["critic_obs_norm_state_dict"] = normalizer_state(torch, gen, n_obs, count=False)
    if version == "3":
        state.update({f"actor_obs_normalizer.{k}": v for k, v in normalizer_state(torch, gen, n_obs).items()})
        state.update(
            {f"critic_obs_normalizer.{k}": v for k, v in normalizer_state(torch, gen, n_obs).items()}
        )
    params = list(range(len(state)))
    data.update(
        {
            "model_state_dict": state,
            "optimizer_state_dict": {
                "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(3)}},
                "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "params": params}],
            },
            "iter": 1500,
            "infos": None,
        }
    )
    return data


# ------------------------------------------------------------------------------ rsl_rl 5.x
def v5_checkpoint(
    path: Path, n_obs: int, n_act: int, actor: dict[str, Any], *, seed: int = 0
) -> tuple[dict[str, Any], Any]:
    """A checkpoint of the installed rsl-rl-lib, written by its OnPolicyRunner.save after two PPO
    iterations on :func:`tiny_env` (``actor``: the runner's actor config).

    Returns:
        The saved dict (read back with torch.load) and the runner's actor in eval mode.
    """
    import torch
    from rsl_rl.runners import OnPolicyRunner

    torch.manual_seed(seed)
    cfg = {
        "num_steps_per_env": 8,
        "save_interval": 100,
        "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
        "actor": actor,
        "critic": {"class_name": "rsl_rl.models:MLPModel", "hidden_dims": [16], "activation": "elu"},
        "algorithm": {"class_name": "PPO", "num_learning_epochs": 1, "num_mini_batches": 1},
    }
    runner = OnPolicyRunner(tiny_env(n_obs, n_act, seed=seed), cfg, log_dir=None, device="cpu")
    runner.learn(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    runner.save(str(path))
    return torch.load(str(path), weights_only=True), runner.alg.actor.eval()


def _tiny_env_class() -> Any:
    import torch
    from rsl_rl.env import VecEnv
    from tensordict import TensorDict

    class _TinyEnv(VecEnv):
        """8 environments whose observations are seeded noise around 1.5 (so that the normalizer
        learns statistics), reward -|a|^2, episodes of 10 steps."""

        def __init__(self, n_obs: int, n_act: int, num_envs: int = 8, seed: int = 0) -> None:
            self.num_envs, self.num_actions, self.n_obs = num_envs, n_act, n_obs
            self.max_episode_length = 10
            self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long)
            self.device, self.cfg = "cpu", {}
            self.gen = torch.Generator().manual_seed(seed)
            self.obs = self._sample()

        def _sample(self) -> Any:
            x = 1.5 + 2.0 * torch.randn(self.num_envs, self.n_obs, generator=self.gen)
            return TensorDict({"policy": x}, batch_size=[self.num_envs])

        def get_observations(self) -> Any:
            return self.obs

        def step(self, actions: Any) -> tuple[Any, Any, Any, dict]:
            self.episode_length_buf += 1
            dones = self.episode_length_buf >= self.max_episode_length
            self.episode_length_buf[dones] = 0
            self.obs = self._sample()
            return self.obs, -actions.pow(2).sum(-1), dones.long(), {"time_outs": torch.zeros(self.num_envs)}

    return _TinyEnv


def tiny_env(n_obs: int, n_act: int, num_envs: int = 8, seed: int = 0) -> Any:
    """A tiny rsl_rl VecEnv (built on first use: rsl_rl is imported only by tests that need it)."""
    return _tiny_env_class()(n_obs, n_act, num_envs, seed)


def rsl_rl_actions(actor: Any, obs: np.ndarray) -> np.ndarray:
    """rsl_rl's own deterministic output of its actor model, row by row from a reset."""
    import torch
    from tensordict import TensorDict

    actor.reset()
    rows = []
    with torch.no_grad():
        for row in np.asarray(obs, dtype=np.float32):
            x = TensorDict({"policy": torch.from_numpy(row[None])}, batch_size=[1])
            rows.append(actor(x).numpy()[0])
    return np.array(rows, dtype=np.float64)


def save(data: dict[str, Any], path: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, str(path))
    return path
