"""The deployed policy file back in PyTorch: the base of a fine-tuning run (needs ``train``).

What is deployed is an ONNX file (:mod:`sim2real.policy.export`), so fine-tuning starts from it,
not from a training checkpoint.  Its metadata's ``network`` entry says the layout
(``TransferPolicy``: hidden widths, normalizer eps/clip; ``AdaptedPolicy``: the same plus an
adapter); the weights are the graph's initializers, named after the PyTorch parameters
(``body.0.weight``, ``adapter.net.0.weight``...).  The normalizer's standard deviation is stored
folded (``max(sqrt(var), eps)``, the divisor of the graph's ``Div`` node); it is read from there.

The rebuilt network is checked against the file with onnxruntime on 2,000 observations around
the normalizer statistics (beyond the clip included): a difference above 1e-5 is a PolicyError,
so an unfamiliar graph can never be fine-tuned silently wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import MissingExtraError, PolicyError
from sim2real.finetune.adapter import AdaptedPolicy, AdapterConfig
from sim2real.policy.export import parity, random_observations
from sim2real.policy.metadata import INPUT_NAME, PolicyMetadata, load_policy_file
from sim2real.robots.spec import RobotSpec
from sim2real.train.network import TransferPolicy

try:
    import torch
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

TOLERANCE = 1e-5
"""Largest accepted |onnxruntime(file) - PyTorch(rebuilt)|."""


@dataclass(frozen=True, eq=False)
class LoadedPolicy:
    """A policy file rebuilt in PyTorch."""

    policy: TransferPolicy
    """The network (an :class:`AdaptedPolicy` when the file holds an adapter), eval mode, frozen normalizer."""
    metadata: PolicyMetadata
    """The file's metadata."""
    path: Path
    """The file."""
    sha256: str
    """sha256 of the file's bytes."""
    max_abs_diff: float
    """Largest |onnxruntime - PyTorch| of the rebuild check."""


def _initializers(model: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}


def _normalizer_std(model: Any, inits: dict[str, np.ndarray], source: str) -> np.ndarray:
    """The divisor of ``(obs - mean) / std`` in the graph."""
    if "normalizer.var" in inits:
        return np.sqrt(inits["normalizer.var"])
    produced = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        if node.op_type != "Div" or node.input[1] not in inits:
            continue
        sub = produced.get(node.input[0])
        if sub is not None and sub.op_type == "Sub" and list(sub.input) == [INPUT_NAME, "normalizer.mean"]:
            return inits[node.input[1]]
    raise PolicyError(f"{source}: cannot find the observation normalizer in the graph")


def _tensor(inits: dict[str, np.ndarray], name: str, source: str) -> torch.Tensor:
    if name not in inits:
        raise PolicyError(
            f"{source}: the graph has no weight '{name}' (not a sim2real TransferPolicy graph?)"
        )
    return torch.from_numpy(np.array(inits[name], dtype=np.float32))


def load_base(path: str | Path, spec: RobotSpec) -> LoadedPolicy:
    """Rebuild a policy file in PyTorch and check it against onnxruntime.

    Raises:
        PolicyError: missing or corrupted file, an unknown network layout, or a rebuild that does
            not reproduce the file.
        SpecMismatchError: the policy was made for another spec.
    """
    import onnx

    path = Path(path)
    source = f"policy {path}"
    meta, data = load_policy_file(path)
    meta.check_spec(spec, source)
    network = dict(meta.network)
    kind = network.get("type")
    if kind not in ("TransferPolicy", "AdaptedPolicy"):
        raise PolicyError(
            f"{source}: network type {kind!r} cannot be fine-tuned (TransferPolicy or AdaptedPolicy)"
        )
    try:
        hidden = tuple(int(h) for h in network["hidden"])
        eps = float(network["normalizer"]["eps"])
        clip = float(network["normalizer"]["clip"])
    except (KeyError, TypeError, ValueError):
        raise PolicyError(f"{source}: the metadata's network entry does not describe the layout") from None
    model = onnx.load_from_string(data)
    inits = _initializers(model)

    base = TransferPolicy(meta.n_obs, meta.n_act, hidden)
    base.normalizer.eps, base.normalizer.clip = eps, clip
    state = {k: v for k, v in base.state_dict().items()}
    for name in state:
        if name.startswith("body."):
            state[name] = _tensor(inits, name, source)
    std = np.asarray(_normalizer_std(model, inits, source), dtype=np.float64)
    state["normalizer.mean"] = _tensor(inits, "normalizer.mean", source)
    state["normalizer.var"] = torch.from_numpy((std * std).astype(np.float32))
    state["normalizer.count"] = torch.tensor(1.0, dtype=torch.float64)
    try:
        base.load_state_dict(state)
    except RuntimeError as exc:
        raise PolicyError(f"{source}: weights do not fit the metadata's layout ({str(exc)[:200]})") from None
    base.normalizer.frozen = True
    policy: TransferPolicy = base
    if kind == "AdaptedPolicy":
        spec_ = network.get("adapter") or {}
        try:
            config = AdapterConfig(hidden=tuple(spec_["hidden"]), scale=float(spec_["scale"]))
        except (KeyError, TypeError, ValueError):
            raise PolicyError(f"{source}: the metadata's adapter entry is incomplete") from None
        adapted = AdaptedPolicy(base, config)
        a_state = adapted.adapter.state_dict()
        for name in a_state:
            if name != "scale":
                a_state[name] = _tensor(inits, f"adapter.{name}", source)
        adapted.adapter.load_state_dict(a_state)
        policy = adapted
    policy.eval()
    observations = random_observations(policy, 2000, seed=0)
    diff = parity(data, policy, observations, row_by_row=False)
    if not diff <= TOLERANCE:
        raise PolicyError(
            f"{source}: the network rebuilt in PyTorch differs from the file by {diff:.3g} (> {TOLERANCE:g})"
        )
    return LoadedPolicy(
        policy=policy,
        metadata=meta,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        max_abs_diff=diff,
    )
