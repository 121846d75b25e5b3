"""The transferable policy network (needs the ``train`` extra).

    obs (N, n_obs) -> normalize (running mean/std, frozen at export, clipped) ->
    [Linear -> LayerNorm -> ELU] x len(hidden) -> Linear -> tanh -> action (N, n_act) in [-1, 1]

The action low-pass filter is not part of the network: its coefficient travels in the policy
metadata and the runtime applies it (``a_f = alpha a + (1 - alpha) a_f_prev``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sim2real.errors import MissingExtraError

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None


class EmpiricalNormalizer(nn.Module):
    """Running mean and standard deviation of observations (batched Welford/Chan updates).

    Args:
        size: Observation length.
        eps: Floor of the standard deviation.
        clip: Normalized values are clipped to [-clip, clip].
    """

    def __init__(self, size: int, eps: float = 1e-2, clip: float = 10.0) -> None:
        super().__init__()
        self.eps = eps
        self.clip = clip
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.frozen = False

    @property
    def std(self) -> torch.Tensor:
        """Standard deviation, floored at eps, shape (size,)."""
        return torch.sqrt(self.var).clamp_min(self.eps)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch (B, size) into the statistics (no-op when frozen); in a multi-process run,
        the batches of every process (a collective: all ranks call it together)."""
        if self.frozen or x.shape[0] == 0:
            return
        # in a multi-process run every rank folds the moments of all ranks' batches; imported here:
        # train/distributed imports rsl_rl's trainer (6 s), which loading or exporting a policy never needs
        from sim2real.train.distributed import merge_moments

        b, batch_mean, batch_var = merge_moments(float(x.shape[0]), x.mean(0), x.var(0, unbiased=False))
        total = self.count.item() + b
        delta = batch_mean - self.mean
        self.mean += delta * (b / total)
        m2 = self.var * self.count.item() + batch_var * b + delta**2 * (self.count.item() * b / total)
        self.var.copy_(m2 / total)
        self.count.fill_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp((x - self.mean) / self.std, -self.clip, self.clip)


def mlp(n_in: int, n_out: int, hidden: Sequence[int]) -> nn.Sequential:
    """[Linear -> LayerNorm -> ELU] per hidden layer, then a Linear output layer."""
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.ELU()]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class TransferPolicy(nn.Module):
    """Deterministic actor: normalizer + LayerNorm/ELU MLP + tanh.

    Args:
        n_obs: Observation length.
        n_act: Number of actions.
        hidden: Hidden layer widths.
    """

    def __init__(self, n_obs: int, n_act: int, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        self.n_obs = n_obs
        self.n_act = n_act
        self.hidden = tuple(int(h) for h in hidden)
        self.normalizer = EmpiricalNormalizer(n_obs)
        self.body = mlp(n_obs, n_act, self.hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions in [-1, 1], shape (N, n_act), from observations (N, n_obs)."""
        return torch.tanh(self.body(self.normalizer(obs)))
