"""Residual adapter beside a frozen base policy (needs the ``train`` extra).

::

    obs (N, n_obs) -> base normalizer (frozen) -> z
    base:     z -> frozen MLP -> tanh                       -> a_base (N, n_act) in [-1, 1]
    adapter:  z -> [Linear -> ELU] x len(hidden) -> Linear  -> tanh * scale = delta (N, n_act)
    action  = clip(a_base + delta, -1, 1)

The adapter's last layer starts at zero (weights and bias), so ``delta`` is exactly 0 and the
adapted policy reproduces the base policy bit for bit until it is trained; ``|delta| <= scale``
always bounds how far the adapted action can move from the base action.

:class:`AdaptedPolicy` is a :class:`~sim2real.train.network.TransferPolicy` (same normalizer,
same ``body``), so :func:`sim2real.policy.export.export_policy` writes it as one ONNX file with
the usual metadata and parity check; :meth:`AdaptedPolicy.describe_network` states the adapter
in the file's ``network`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim2real.errors import MissingExtraError, Sim2RealError
from sim2real.train.network import TransferPolicy  # a missing torch is a clear MissingExtraError here

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None


@dataclass(frozen=True)
class AdapterConfig:
    """Shape and bound of a residual adapter."""

    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the adapter MLP."""
    scale: float = 0.25
    """Largest correction per action, in normalized action units (actions live in [-1, 1])."""

    def __post_init__(self) -> None:
        if not 0.0 < self.scale <= 2.0:
            raise Sim2RealError(f"adapter scale must be in (0, 2], got {self.scale}")
        if any(int(h) < 1 for h in self.hidden):
            raise Sim2RealError(f"adapter hidden widths must be positive, got {self.hidden}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))


class ResidualAdapter(nn.Module):
    """Bounded correction ``scale * tanh(mlp(z))`` from normalized observations ``z`` (N, n_obs).

    The output layer is zero-initialised: a fresh adapter outputs exactly 0.

    Args:
        n_obs: Observation length.
        n_act: Number of actions.
        config: Widths and bound.
    """

    def __init__(self, n_obs: int, n_act: int, config: AdapterConfig | None = None) -> None:
        super().__init__()
        self.config = config or AdapterConfig()
        layers: list[nn.Module] = []
        width = n_obs
        for h in self.config.hidden:
            layers += [nn.Linear(width, h), nn.ELU()]
            width = h
        last = nn.Linear(width, n_act)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.net = nn.Sequential(*layers)
        self.register_buffer("scale", torch.tensor(float(self.config.scale)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Correction (N, n_act), each entry in [-scale, scale]."""
        return self.scale * torch.tanh(self.net(z))


class AdaptedPolicy(TransferPolicy):
    """A frozen :class:`TransferPolicy` plus a :class:`ResidualAdapter` (see the module docstring).

    Args:
        base: The base policy; its weights and normalizer are copied and frozen.
        config: The adapter.
    """

    def __init__(self, base: TransferPolicy, config: AdapterConfig | None = None) -> None:
        super().__init__(base.n_obs, base.n_act, base.hidden)
        self.normalizer.eps = base.normalizer.eps
        self.normalizer.clip = base.normalizer.clip
        self.load_state_dict(base.state_dict())
        self.normalizer.frozen = True
        for p in self.body.parameters():
            p.requires_grad_(False)
        self.adapter = ResidualAdapter(base.n_obs, base.n_act, config)

    @property
    def adapter_config(self) -> AdapterConfig:
        """The adapter's widths and bound."""
        return self.adapter.config

    def base_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The frozen base policy's action (N, n_act) in [-1, 1]."""
        return torch.tanh(self.body(self.normalizer(obs)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Adapted action (N, n_act) in [-1, 1] from observations (N, n_obs)."""
        z = self.normalizer(obs)
        return torch.clamp(torch.tanh(self.body(z)) + self.adapter(z), -1.0, 1.0)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The adapter's parameters (the base stays frozen)."""
        return list(self.adapter.parameters())

    def describe_network(self) -> dict[str, Any]:
        """The ``network`` metadata entry of the exported file."""
        return {
            "type": "AdaptedPolicy",
            "hidden": list(self.hidden),
            "layer": "Linear-LayerNorm-ELU",
            "output": "tanh",
            "normalizer": {"eps": self.normalizer.eps, "clip": self.normalizer.clip},
            "adapter": {
                "hidden": list(self.adapter_config.hidden),
                "layer": "Linear-ELU",
                "input": "normalized observation",
                "output": "scale * tanh, last layer zero-initialised",
                "scale": self.adapter_config.scale,
                "combine": "clip(base + correction, -1, 1)",
            },
        }


def adapted(base: TransferPolicy | AdaptedPolicy, config: AdapterConfig | None = None) -> AdaptedPolicy:
    """An adapted policy of ``base``: a new zero adapter, or (base already adapted) a copy that
    keeps training its adapter (``config`` must then be None or the same)."""
    if isinstance(base, AdaptedPolicy):
        if config is not None and config != base.adapter_config:
            raise Sim2RealError(
                f"the policy already has an adapter {base.adapter_config}; cannot change it to {config}"
            )
        copy = AdaptedPolicy(_plain_base(base), base.adapter_config)
        copy.adapter.load_state_dict(base.adapter.state_dict())
        return copy
    return AdaptedPolicy(base, config)


def _plain_base(policy: AdaptedPolicy) -> TransferPolicy:
    base = TransferPolicy(policy.n_obs, policy.n_act, policy.hidden)
    base.normalizer.eps, base.normalizer.clip = policy.normalizer.eps, policy.normalizer.clip
    state = {k: v for k, v in policy.state_dict().items() if not k.startswith("adapter.")}
    base.load_state_dict(state)
    base.normalizer.frozen = True
    return base.eval()
