"""TorchScript policies (legged_gym, unitree_rl_gym, Isaac Lab's ``policy.pt``) as ONNX graphs (needs torch).

The exporters of these frameworks script a small module, read here by the names of its children:

- a plain actor (``nn.Sequential`` or rsl_rl's ``MLP`` of ``Linear`` and activation layers);
- legged_gym's ``PolicyExporterLSTM``: ``actor`` after a ``memory`` LSTM (or GRU);
- Isaac Lab's ``_TorchPolicyExporter``: ``normalizer`` -> (``rnn``) -> ``actor``;
- rsl_rl >= 4's ``as_jit()`` (``OnPolicyRunner.export_policy_to_jit``): ``obs_normalizer`` ->
  (``rnn``) -> ``mlp`` -> ``deterministic_output`` (the mean of the action distribution: the MLP's
  output for a Gaussian with learned std, the first of its (2, n) rows for a state-dependent std,
  ``alpha / (alpha + beta) * scale + offset`` for a Beta).

The normalizer is ``EmpiricalNormalization``: ``(x - mean) / (std + eps)``; a recurrent memory
keeps its hidden and cell state in the module's buffers and changes them at every call.
:func:`torchscript_to_onnx` rebuilds the same network from plain torch layers with the scripted
weights (layers it does not know are one clear error; so is a child or buffer with weights that
the rebuild would leave out) and exports it with the state as explicit inputs and outputs
(``state_<k>_in`` -> ``state_<k>_out``), so that sim2real's runtime carries it; the original
scripted module stays the reference of the import's parity check (:func:`reference_function`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import PolicyError
from sim2real.policy.metadata import INPUT_NAME, OUTPUT_NAME, RecurrentState

_ACTIVATIONS = (
    "ELU",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "LeakyReLU",
    "SELU",
    "SiLU",
    "GELU",
    "Softplus",
    "Mish",
    "Identity",
)
_PARTS = {  # the role of a child -> the names the exporters give it (module docstring), in data-flow order
    "normalizer": ("normalizer", "obs_normalizer"),
    "memory": ("memory", "rnn"),
    "actor": ("actor", "mlp"),
    "output": ("deterministic_output",),
}
_STATE = ("hidden_state", "cell_state")  # the buffers of a memory's state (zeroed by the reference)


def _torch() -> Any:
    from sim2real.train.network import torch  # a missing torch is a clear MissingExtraError (train extra)

    return torch


def load_torchscript(path: str | Path) -> Any:
    """The scripted module, on the CPU, in eval mode.

    Raises:
        PolicyError: missing file or not a TorchScript archive.
    """
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file not found: {path}")
    try:
        with warnings.catch_warnings():  # torch deprecates TorchScript; the files exist all the same
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError and friends for foreign archives
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PolicyError(f"{path.name}: not a TorchScript policy ({first[:200]})") from None
    return module.eval()


def _name(module: Any) -> str:
    return str(getattr(module, "original_name", type(module).__name__))


def _layer(module: Any, where: str) -> Any:
    nn = _torch().nn
    kind = _name(module)
    if kind == "Linear":
        params = dict(module.named_parameters())
        weight = params["weight"].detach().clone()
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in params)
        layer.weight.data.copy_(weight)
        if "bias" in params:
            layer.bias.data.copy_(params["bias"].detach())
        return layer
    if kind in ("Sequential", "MLP"):
        return _sequential(module, where)
    if kind == "ELU":
        return nn.ELU(alpha=float(module.alpha))
    if kind == "LeakyReLU":
        return nn.LeakyReLU(negative_slope=float(module.negative_slope))
    if kind == "Softplus":
        return nn.Softplus(beta=float(module.beta), threshold=float(module.threshold))
    if kind == "GELU":
        return nn.GELU(approximate=str(module.approximate))
    if kind == "Unflatten":  # rsl_rl's MLP with a (2, n) output: mean and std (or alpha and beta)
        return nn.Unflatten(int(module.dim), tuple(int(d) for d in module.unflattened_size))
    if kind in _ACTIVATIONS:
        return getattr(nn, kind)()
    raise PolicyError(
        f"the TorchScript policy has a layer '{kind}' at {where} that this importer does not rebuild "
        f"(it knows Linear, Sequential, Unflatten and {', '.join(_ACTIVATIONS)})"
    )


def _sequential(module: Any, where: str) -> Any:
    nn = _torch().nn
    return nn.Sequential(*(_layer(child, f"{where}.{key}") for key, child in module.named_children()))


def _rnn(module: Any) -> Any:
    nn = _torch().nn
    kind = _name(module)
    if kind not in ("LSTM", "GRU"):
        raise PolicyError(f"the policy's memory is a '{kind}'; this importer rebuilds LSTM and GRU memories")
    if bool(module.bidirectional) or bool(module.batch_first) or int(getattr(module, "proj_size", 0)):
        raise PolicyError(f"the policy's {kind} is bidirectional, batch-first or projected: not supported")
    cell = getattr(nn, kind)(
        int(module.input_size), int(module.hidden_size), int(module.num_layers), bias=bool(module.bias)
    )
    cell.load_state_dict({k: v.detach().clone() for k, v in module.state_dict().items()})
    return cell


def _normalizer(module: Any) -> tuple[Any, Any, float] | None:
    """(mean, std, eps) of an EmpiricalNormalization child; None for an identity."""
    buffers = dict(module.named_buffers())
    if _name(module) == "Identity" or not buffers:
        return None
    mean = buffers.get("_mean", buffers.get("mean"))
    std = buffers.get("_std", buffers.get("std"))
    if mean is None or std is None:
        raise PolicyError(
            f"the policy's normalizer '{_name(module)}' has no mean/std buffers this importer reads"
        )
    return (
        mean.detach().clone().reshape(-1),
        std.detach().clone().reshape(-1),
        float(getattr(module, "eps", 1e-2)),
    )


def _output(module: Any) -> tuple[str, float, float] | None:
    """rsl_rl's ``deterministic_output``: None for the identity (a Gaussian with learned std), else
    (kind, scale, offset): ``first`` keeps row 0 of a (2, n) output (the mean of a state-dependent
    std), ``beta`` the mean of a Beta, ``(a / (a + b)) * scale + offset`` with ``a, b = softplus + 1``."""
    kind = _name(module)
    if kind in ("Identity", "_IdentityDeterministicOutput"):
        return None
    if kind == "_FirstSliceDeterministicOutput":
        return ("first", 1.0, 0.0)
    if kind == "_BetaDeterministicOutput":
        return ("beta", float(module.range_scale), float(module.range_offset))
    raise PolicyError(
        f"the policy's deterministic output is a '{kind}'; this importer rebuilds rsl_rl's identity, "
        "first-slice (state-dependent std) and Beta outputs"
    )


def _has_weights(module: Any) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _parts(module: Any) -> dict[str, Any]:
    """The scripted children by role (``_PARTS``); one clear error for a structure it cannot rebuild
    whole: no actor, two children of one role, or weights in a child or buffer no role takes."""
    if _name(module) in ("Sequential", "MLP"):
        return {"actor": module}
    children = dict(module.named_children())
    parts: dict[str, Any] = {}
    for role, names in _PARTS.items():
        found = [name for name in names if name in children]
        if len(found) > 1:
            raise PolicyError(f"the TorchScript policy has both '{found[0]}' and '{found[1]}' as its {role}")
        if found:
            parts[role] = found[0]
    if "actor" not in parts:
        raise PolicyError(
            f"the TorchScript policy '{_name(module)}' has no 'actor' or 'mlp' "
            f"(modules: {', '.join(children) or 'none'}); this importer reads legged_gym / rsl_rl / Isaac Lab exports"
        )
    used = set(parts.values())
    left = [f"'{name}'" for name, child in children.items() if name not in used and _has_weights(child)]
    left += [f"parameter '{name}'" for name, _ in module.named_parameters(recurse=False)]
    left += [
        f"buffer '{name}'"
        for name, _ in module.named_buffers(recurse=False)
        if "memory" not in parts or name not in _STATE
    ]
    if left:
        raise PolicyError(
            f"the TorchScript policy '{_name(module)}' has weights the rebuild would leave out: {', '.join(left)} "
            f"(it rebuilds {' -> '.join(parts.values())})"
        )
    return {role: children[name] for role, name in parts.items()}


def torchscript_to_onnx(module: Any) -> tuple[Any, tuple[RecurrentState, ...], dict[str, Any]]:
    """The scripted policy as an ONNX graph with sim2real's names (module docstring).

    Returns:
        The ModelProto (``obs`` (1, n_obs) -> ``action`` (1, n_act), state pairs), its recurrent
        state, and a description of the network.

    Raises:
        PolicyError: a structure or layer the importer does not rebuild, or weights it would leave out.
    """
    parts = _parts(module)
    actor_src, memory_src, norm_src = parts["actor"], parts.get("memory"), parts.get("normalizer")
    head = None if "output" not in parts else _output(parts["output"])
    actor = _sequential(actor_src, "actor")
    memory = None if memory_src is None else _rnn(memory_src)
    norm = None if norm_src is None else _normalizer(norm_src)
    policy = rebuilt_policy(actor, memory, norm, head, "TorchScript policy")
    proto, recurrent = export_rebuilt(policy)
    return proto, recurrent, {"type": "imported TorchScript", **describe(policy)}


def rebuilt_policy(
    actor: Any, memory: Any, norm: tuple[Any, Any, float] | None, head: tuple[str, float, float] | None, what: str
) -> Any:
    """The deterministic policy from plain torch parts, in eval mode: ``obs`` (B, n_obs) ->
    normalizer ``(obs - mean) / (std + eps)`` -> memory (LSTM / GRU, one step, its state passed in and
    returned) -> ``actor`` (a Sequential) -> the output head (:func:`_output`) -> action (B, n_act).

    Args:
        actor: ``nn.Sequential`` of Linear, activation (and Unflatten) layers.
        memory: ``nn.LSTM`` / ``nn.GRU`` or None.
        norm: (mean (n_obs,), std (n_obs,), eps) or None.
        head: the deterministic output (:func:`_output`), None for the identity.
        what: the policy, for messages.

    Raises:
        PolicyError: the actor has no Linear layer.
    """
    torch = _torch()
    linears = [m for m in actor.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise PolicyError(f"the {what}'s actor has no Linear layer")
    lstm = isinstance(memory, torch.nn.LSTM)

    class Policy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.actor, self.memory = actor, memory
            self.n_obs = int(memory.input_size) if memory is not None else linears[0].in_features
            self.head = head
            if norm is not None:
                self.register_buffer("mean", norm[0])
                self.register_buffer("std", norm[1])
                self.eps = norm[2]
            self.normalized = norm is not None

        def output(self, out: Any) -> Any:
            """The actor's output -> the action (``_output``)."""
            if head is None:
                return out
            kind, scale, offset = head
            if kind == "first":
                return out[..., 0, :]
            alpha, beta = (torch.nn.functional.softplus(x) + 1.0 for x in torch.unbind(out, dim=-2))
            return alpha / (alpha + beta) * scale + offset

        def forward(self, obs: Any, *state: Any) -> Any:
            if norm is not None:
                obs = (obs - self.mean) / (self.std + self.eps)
            if self.memory is None:
                return self.output(self.actor(obs))
            if lstm:
                out, (h, c) = self.memory(obs.unsqueeze(0), (state[0], state[1]))
                return self.output(self.actor(out.squeeze(0))), h, c
            out, h = self.memory(obs.unsqueeze(0), state[0])
            return self.output(self.actor(out.squeeze(0))), h

    return Policy().eval()


def recurrent_state(policy: Any) -> tuple[RecurrentState, ...]:
    """The state pairs of a :func:`rebuilt_policy` (none without a memory; h, and c for an LSTM)."""
    memory = policy.memory
    if memory is None:
        return ()
    shape = (int(memory.num_layers), 1, int(memory.hidden_size))
    count = 2 if isinstance(memory, _torch().nn.LSTM) else 1
    return tuple(RecurrentState(f"state_{k}_in", f"state_{k}_out", shape) for k in range(count))


def export_rebuilt(policy: Any) -> tuple[Any, tuple[RecurrentState, ...]]:
    """A :func:`rebuilt_policy` as an ONNX graph: ``obs`` (batch, n_obs) -> ``action``, the recurrent
    state as ``state_<k>_in`` -> ``state_<k>_out`` (batch of one)."""
    torch = _torch()
    recurrent = recurrent_state(policy)
    example = (torch.zeros(1, policy.n_obs), *(torch.zeros(*r.shape) for r in recurrent))
    from sim2real.policy.export import onnx_graph

    inputs, outputs = [INPUT_NAME, *(r.input for r in recurrent)], [OUTPUT_NAME, *(r.output for r in recurrent)]
    batch = None if recurrent else {INPUT_NAME: "batch", OUTPUT_NAME: "batch"}
    return onnx_graph(policy, example, inputs, outputs, batch), recurrent


def describe(policy: Any) -> dict[str, Any]:
    """The layers, memory, normalizer and output head of a :func:`rebuilt_policy` (policy metadata)."""
    memory = policy.memory
    return {
        "layers": [type(m).__name__ for m in policy.actor],
        "memory": None
        if memory is None
        else {"cell": type(memory).__name__, "hidden": int(memory.hidden_size), "layers": int(memory.num_layers)},
        "normalizer": bool(policy.normalized),
        "output": "identity" if policy.head is None else policy.head[0],
    }


def rebuilt_reference(policy: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A :func:`rebuilt_policy` evaluated with torch as the parity reference: observations from a
    reset (T, n_obs) -> (T, n_act), the recurrent state carried from zeros row by row."""
    torch = _torch()
    recurrent = recurrent_state(policy)

    def run(obs: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32))
        with torch.no_grad():
            if not recurrent:
                return policy(x).numpy()
            state = [torch.zeros(*r.shape) for r in recurrent]
            rows = []
            for i in range(len(x)):
                action, *state = policy(x[i : i + 1], *state)
                rows.append(action.numpy())
        return np.concatenate(rows)

    return run


def reference_function(module: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The scripted module as the parity reference: observations from a reset (T, n_obs) -> (T, n_act),
    one call per row with its own state buffers cleared first (``reset_memory`` when it has one)."""
    torch = _torch()
    stateful = dict(module.named_buffers())

    def run(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            if hasattr(module, "reset_memory"):
                module.reset_memory()
            for name, buf in stateful.items():
                if name in _STATE:
                    buf.zero_()
            x = torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32))
            if not any(k in stateful for k in _STATE):
                return module(x).numpy()
            return np.concatenate([module(x[i : i + 1]).numpy() for i in range(len(x))])

    return run
