"""Reward-weighted behaviour cloning of the residual adapter (needs the ``train`` extra).

Given the replay buffer's ticks ``(obs, a, r)`` (executed actions, see
:mod:`sim2real.finetune.data`), one fine-tuning run:

1. return-to-go ``G`` per tick (discount ``gamma = exp(-control_dt / horizon_s)``);
2. weights (:mod:`sim2real.finetune.weights`): ``awr`` fits a value baseline ``V(obs)`` (small MLP
   on the base's normalized observations, mean squared error on ``G``) and exponentiates the
   advantages ``G - V``; ``return_softmax`` weights whole episodes by their return;
3. trains the adapter only (the base is frozen), minimizing over minibatches::

       sum_i w_i |clip(a_base(o_i) + delta(o_i), -1, 1) - a_i|^2 / sum_i w_i
       + regularization * mean_i |delta(o_i) / scale|^2

   The second term keeps the correction small where the data do not ask for one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim2real.errors import MissingExtraError, Sim2RealError
from sim2real.finetune.adapter import AdaptedPolicy, AdapterConfig, adapted
from sim2real.finetune.data import ReplayBuffer
from sim2real.finetune.weights import WeightConfig, awr_weights, returns_to_go, softmax_weights
from sim2real.train.network import TransferPolicy, mlp

try:
    import torch
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneConfig:
    """A fine-tuning run."""

    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    """The adapter (ignored when the policy already has one: that one keeps training)."""
    weights: WeightConfig = field(default_factory=WeightConfig)
    """Sample weights."""
    epochs: int = 20
    """Passes over the buffer for the adapter."""
    batch_size: int = 2048
    """Minibatch size."""
    learning_rate: float = 1e-3
    """Adam step size of the adapter."""
    regularization: float = 0.05
    """Weight of the mean squared correction (in units of the adapter's scale)."""
    value_epochs: int = 10
    """Passes over the buffer for the value baseline (awr)."""
    value_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the value baseline."""
    seed: int = 0
    """Seed of the initialization and the minibatch order."""
    torch_threads: int = 1
    """Torch intra-op threads."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "value_epochs", "torch_threads"):
            if int(getattr(self, name)) < 1:
                raise Sim2RealError(f"FinetuneConfig.{name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0 or self.regularization < 0:
            raise Sim2RealError("FinetuneConfig: learning_rate must be positive, regularization >= 0")
        object.__setattr__(self, "value_hidden", tuple(int(h) for h in self.value_hidden))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON view (stored in the exported file's provenance)."""
        import dataclasses

        return dataclasses.asdict(self)


@dataclass(frozen=True, eq=False)
class FinetuneResult:
    """What :func:`finetune_policy` produced."""

    policy: AdaptedPolicy
    """The adapted policy (eval mode)."""
    stats: dict[str, Any]
    """Figures of the run (losses, weights, correction size, seconds)."""


def _fit_value(
    z: torch.Tensor, target: torch.Tensor, config: FinetuneConfig, gen: torch.Generator
) -> torch.Tensor:
    """Value baseline fitted on (z, target); returns its predictions on z, shape (N,)."""
    net = mlp(z.shape[1], 1, config.value_hidden)
    mean, std = target.mean(), target.std().clamp_min(1e-6)
    y = (target - mean) / std
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n = z.shape[0]
    for _ in range(config.value_epochs):
        order = torch.randperm(n, generator=gen)
        for lo in range(0, n, config.batch_size):
            idx = order[lo : lo + config.batch_size]
            loss = torch.mean((net(z[idx]).squeeze(-1) - y[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return net(z).squeeze(-1) * std + mean


def sample_weights(
    arrays: dict[str, np.ndarray],
    config: FinetuneConfig,
    control_dt: float,
    z: torch.Tensor,
    gen: torch.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-tick weights (N,) (mean 1 before clipping) and their figures."""
    wc = config.weights
    gamma = wc.gamma(control_dt)
    episode = arrays["episode"]
    if wc.scheme == "return_softmax":
        ids = np.unique(episode)
        returns = np.array([arrays["rewards"][episode == i].sum() for i in ids])
        per_episode = softmax_weights(returns, wc.temperature, wc.max_weight)
        w = per_episode[np.searchsorted(ids, episode)]
        extra: dict[str, Any] = {"episode_weights": per_episode.round(4).tolist()}
    else:
        g = returns_to_go(arrays["rewards"], episode, gamma)
        value = _fit_value(z, torch.from_numpy(g.astype(np.float32)), config, gen).numpy().astype(float)
        adv = g - value
        w = awr_weights(adv, wc.temperature, wc.max_weight)
        extra = {
            "advantage_std": float(adv.std()),
            "value_r2": float(1.0 - np.mean((g - value) ** 2) / max(np.var(g), 1e-12)),
        }
    ess = float(w.sum() ** 2 / np.sum(w**2)) / w.size
    return w, {"gamma": gamma, "effective_sample_fraction": ess, "max_weight": float(w.max()), **extra}


def finetune_policy(
    policy: TransferPolicy, buffer: ReplayBuffer, control_dt: float, config: FinetuneConfig | None = None
) -> FinetuneResult:
    """Train the adapter of ``policy`` (a new zero adapter for a plain TransferPolicy) on ``buffer``.

    Args:
        policy: The base policy, or an already adapted one (its adapter keeps training; the input
            is not modified).
        buffer: Logged episodes.
        control_dt: Control period [s] (for the discount).
        config: Settings.

    Returns:
        The adapted policy and the run's figures.
    """
    config = config or FinetuneConfig()
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    try:
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        model = adapted(policy, None if isinstance(policy, AdaptedPolicy) else config.adapter)
        arrays = buffer.arrays()
        obs = torch.from_numpy(arrays["obs"].astype(np.float32))
        target = torch.from_numpy(arrays["actions"].astype(np.float32))
        with torch.no_grad():
            z = model.normalizer(obs)
            base = model.base_action(obs)
        weights, wstats = sample_weights(arrays, config, control_dt, z, gen)
        w = torch.from_numpy(weights.astype(np.float32))
        scale = float(model.adapter_config.scale)
        opt = torch.optim.Adam(model.trainable_parameters(), lr=config.learning_rate)

        def objective(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            delta = model.adapter(z[idx])
            action = torch.clamp(base[idx] + delta, -1.0, 1.0)
            err = torch.sum((action - target[idx]) ** 2, dim=1)
            bc = torch.sum(w[idx] * err) / torch.sum(w[idx]).clamp_min(1e-12)
            reg = torch.mean(torch.sum((delta / scale) ** 2, dim=1))
            return bc, reg

        everything = torch.arange(z.shape[0])
        with torch.no_grad():
            bc0, _ = objective(everything)
        model.adapter.train()
        n = z.shape[0]
        for _ in range(config.epochs):
            order = torch.randperm(n, generator=gen)
            for lo in range(0, n, config.batch_size):
                bc, reg = objective(order[lo : lo + config.batch_size])
                loss = bc + config.regularization * reg
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            bc1, _ = objective(everything)
            delta = model.adapter(z)
        stats = {
            "ticks": int(n),
            "episodes": len(buffer),
            "bc_loss_before": float(bc0),
            "bc_loss_after": float(bc1),
            "correction_rms": float(torch.sqrt(torch.mean(delta**2))),
            "correction_max": float(delta.abs().max()),
            "weights": wstats,
            "seconds": round(time.perf_counter() - start, 3),
        }
        log.info(
            "fine-tuned the adapter on %d ticks of %d episodes: weighted BC loss %.4g -> %.4g, correction rms %.3g",
            n,
            len(buffer),
            stats["bc_loss_before"],
            stats["bc_loss_after"],
            stats["correction_rms"],
        )
        return FinetuneResult(policy=model, stats=stats)
    finally:
        torch.set_num_threads(threads)
