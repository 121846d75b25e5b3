"""rsl_rl model classes built on the transferable network (needs the ``train`` extra).

rsl_rl 5.x builds its actor and critic from ``cfg["actor"]["class_name"]`` and calls them as
``model(obs: TensorDict, masks=None, hidden_state=None, stochastic_output=False)``.  Its own
``MLPModel`` has neither LayerNorm nor a tanh-bounded mean, so the actor here is our own class:

    obs["policy"] (N, n_obs) -> TransferPolicy (normalizer -> LayerNorm/ELU MLP -> tanh) -> mean (N, n_act)
    action = mean + std * eps,  std learnable (state independent, log-parametrized)

The environment clips actions to [-1, 1]; the deterministic action is the tanh mean, which is
exactly what :class:`~sim2real.train.network.TransferPolicy` (and so the exported ONNX graph)
computes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim2real.errors import MissingExtraError
from sim2real.train.network import TransferPolicy

try:
    import torch
    from rsl_rl.modules.distribution import GaussianDistribution
    from tensordict import TensorDict
    from torch import nn
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None


class TransferActor(nn.Module):
    """Stochastic actor for rsl_rl's PPO around a :class:`TransferPolicy`.

    Args:
        obs: Example observations (TensorDict of (N, size) groups).
        obs_groups: Observation sets to groups, e.g. ``{"actor": ["policy"], "critic": ["critic"]}``.
        obs_set: Which set feeds this model (``"actor"``).
        output_dim: Number of actions.
        hidden_dims: Hidden layer widths of the policy MLP.
        init_std: Initial exploration standard deviation (in action units, actions in [-1, 1]).
        std_range: Clamp of the standard deviation (min, max).
        output_gain: Scale of the initial output layer weights (1: PyTorch's default initialization;
            a small gain starts near a zero action but learns high-gain feedback, such as balancing,
            far slower).

    Attributes:
        policy: The deterministic :class:`TransferPolicy` (its ``normalizer`` and ``body``).
        distribution: rsl_rl's Gaussian over actions with a learnable log standard deviation.
    """

    is_recurrent: bool = False

    def __init__(
        self,
        obs: TensorDict,
        obs_groups: dict[str, list[str]],
        obs_set: str,
        output_dim: int,
        hidden_dims: Sequence[int] = (64, 64),
        init_std: float = 0.5,
        std_range: Sequence[float] = (0.02, 2.0),
        output_gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.obs_groups = list(obs_groups[obs_set])
        n_obs = 0
        for group in self.obs_groups:
            if obs[group].dim() != 2:
                raise ValueError(
                    f"observation group '{group}' must be (N, size), got {tuple(obs[group].shape)}"
                )
            n_obs += obs[group].shape[-1]
        self.obs_dim = n_obs
        self.policy = TransferPolicy(n_obs, output_dim, hidden_dims)
        last = self.policy.body[-1]
        with torch.no_grad():
            last.weight.mul_(output_gain)
            last.bias.zero_()
        self.distribution = GaussianDistribution(
            output_dim, init_std=init_std, std_range=tuple(std_range), std_type="log"
        )

    # ------------------------------------------------------------------ rsl_rl model API
    def _cat(self, obs: TensorDict) -> torch.Tensor:
        if len(self.obs_groups) == 1:
            return obs[self.obs_groups[0]]
        return torch.cat([obs[g] for g in self.obs_groups], dim=-1)

    def forward(
        self,
        obs: TensorDict,
        masks: torch.Tensor | None = None,
        hidden_state: object = None,
        stochastic_output: bool = False,
    ) -> torch.Tensor:
        """Actions (N, n_act): the tanh mean, or a Gaussian sample around it when ``stochastic_output``."""
        mean = self.policy(self._cat(obs))
        if not stochastic_output:
            return mean
        self.distribution.update(mean)
        return self.distribution.sample()

    def reset(self, dones: torch.Tensor | None = None, hidden_state: object = None) -> None:
        """No recurrent state."""

    def get_hidden_state(self) -> None:
        return None

    def detach_hidden_state(self, dones: torch.Tensor | None = None) -> None:
        """No recurrent state."""

    @property
    def output_mean(self) -> torch.Tensor:
        return self.distribution.mean

    @property
    def output_std(self) -> torch.Tensor:
        """Current exploration standard deviation, shape (n_act,) (or (N, n_act) after a forward)."""
        if self.distribution._distribution is None:
            return torch.exp(self.distribution.log_std_param.detach())
        return self.distribution.std

    @property
    def output_entropy(self) -> torch.Tensor:
        return self.distribution.entropy

    @property
    def output_distribution_params(self) -> tuple[torch.Tensor, ...]:
        return self.distribution.params

    def get_output_log_prob(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.distribution.log_prob(outputs)

    def get_kl_divergence(
        self, old_params: tuple[torch.Tensor, ...], new_params: tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        return self.distribution.kl_divergence(old_params, new_params)

    def update_normalization(self, obs: TensorDict) -> None:
        """Fold a batch of observations (B, n_obs) into the policy's normalizer."""
        self.policy.normalizer.update(self._cat(obs))

    @property
    def std(self) -> torch.Tensor:
        """Exploration standard deviation per action, shape (n_act,)."""
        lo, hi = self.distribution.log_std_range
        return torch.exp(self.distribution.log_std_param.detach().clamp(lo, hi))
