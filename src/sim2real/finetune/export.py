"""Write an adapted policy (base + adapter) as ONE policy file, with provenance (needs ``train``).

The file goes through :func:`sim2real.policy.export.export_policy`: same graph contract (``obs``
(batch, n_obs) float32 -> ``action`` (batch, n_act) in [-1, 1]), same metadata, same parity check
(onnxruntime against PyTorch within 1e-5, on random observations and on observations from the
logs), so :class:`~sim2real.policy.runtime.PolicyRunner` and ``sim2real deploy`` take it unchanged.
The metadata's ``network`` entry describes the adapter, and ``training.finetune`` records::

    base_policy   {"path", "sha256", "spec_hash"}    the deployed file fine-tuning started from
    logs          [{"path", "data_sha256", "ticks", "return"}]   the runs it learnt from
    config        FinetuneConfig                      adapter, weights, epochs, ...
    stats         losses, weights and correction size of the run
    previous      the base file's own training.finetune, when it was already fine-tuned
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.finetune.adapter import AdaptedPolicy
from sim2real.finetune.base import LoadedPolicy
from sim2real.finetune.data import Episode
from sim2real.policy.export import ExportResult, export_policy
from sim2real.robots.spec import RobotSpec


def provenance(
    base: LoadedPolicy,
    episodes: Sequence[Episode],
    config: Mapping[str, Any],
    stats: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``training.finetune`` entry (see the module docstring)."""
    out: dict[str, Any] = {
        "base_policy": {
            "path": str(base.path.resolve()),
            "sha256": base.sha256,
            "spec_hash": base.metadata.spec_hash,
        },
        "logs": [
            {
                "path": e.source,
                "data_sha256": e.info.get("data_sha256"),
                "ticks": e.length,
                "return": e.episode_return,
            }
            for e in episodes
        ],
        "config": dict(config),
        "stats": dict(stats),
    }
    previous = base.metadata.training.get("finetune")
    if previous is not None:
        out["previous"] = previous
    out.update(extra or {})
    return out


def export_adapted(
    policy: AdaptedPolicy,
    spec: RobotSpec,
    base: LoadedPolicy,
    out: str | Path,
    finetune: Mapping[str, Any],
    recorded: np.ndarray | None = None,
    n_random: int = 10_000,
    seed: int = 0,
) -> ExportResult:
    """Export ``policy`` for ``spec`` with the base file's metadata and ``finetune`` provenance.

    Args:
        policy: The adapted policy.
        spec: The robot.
        base: The policy file fine-tuning started from (its task, action mapping, randomization
            and training facts carry over).
        out: Output ``.onnx`` path (written atomically, only when the parity check passes).
        finetune: The provenance entry (:func:`provenance`).
        recorded: Logged observations (B, n_obs) for the parity check (default: a simulated rollout).
        n_random: Random observations of the parity check.
        seed: Seed of the parity check.
    """
    meta = base.metadata
    training = {k: v for k, v in meta.training.items() if k != "finetune"}
    metadata = {
        **training,
        "spec_hash": meta.spec_hash,
        "task": meta.task,
        "action_scale": list(meta.action_scale),
        "action_filter": meta.action_filter,
        "randomization": meta.randomization,
        "finetune": dict(finetune),
    }
    return export_policy(
        policy, spec, out, metadata=metadata, recorded=recorded, n_random=n_random, seed=seed
    )
