"""Policy file + deploy logs -> fine-tuned policy file: what ``sim2real finetune`` does (needs ``train``).

::

    load_base(P)  ->  load_episodes(LOG...)  ->  ReplayBuffer  ->  finetune_policy  ->  export_adapted(P2)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.finetune.base import LoadedPolicy, load_base
from sim2real.finetune.data import Episode, ReplayBuffer, check_observation_from_logs, load_episodes
from sim2real.finetune.export import export_adapted, provenance
from sim2real.finetune.trainer import FinetuneConfig, finetune_policy
from sim2real.policy.export import ExportResult
from sim2real.policy.metadata import read_metadata
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

PARITY_OBSERVATIONS = 1000
"""Logged observations used in the export's parity check."""


@dataclass(frozen=True, eq=False)
class FinetuneOutput:
    """What :func:`finetune_files` did."""

    export: ExportResult
    """The written file and its parity figures."""
    stats: dict[str, Any]
    """Figures of the fine-tuning run."""
    episodes: tuple[Episode, ...]
    """The episodes learnt from."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        returns = [e.episode_return for e in self.episodes]
        return {
            "path": str(self.export.path),
            "robot": self.export.metadata.robot,
            "spec_hash": self.export.metadata.spec_hash,
            "episodes": len(self.episodes),
            "ticks": int(sum(e.length for e in self.episodes)),
            "mean_logged_return": float(np.mean(returns)) if returns else None,
            "max_abs_diff": self.export.max_abs_diff,
            **{k: v for k, v in self.stats.items() if k not in ("ticks", "episodes")},
        }


def logged_observations(
    episodes: Sequence[Episode], n: int = PARITY_OBSERVATIONS, seed: int = 0
) -> np.ndarray:
    """Up to ``n`` observations drawn from the episodes, (n, n_obs) float32."""
    obs = np.concatenate([e.obs for e in episodes])
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(obs), size=min(n, len(obs)), replace=False)
    return obs[np.sort(pick)]


def finetune_episodes(
    base: LoadedPolicy,
    spec: RobotSpec,
    buffer: ReplayBuffer,
    out: str | Path,
    config: FinetuneConfig | None = None,
    extra: dict[str, Any] | None = None,
) -> FinetuneOutput:
    """Fine-tune ``base`` on the buffer's episodes and write the adapted policy to ``out``."""
    config = config or FinetuneConfig()
    result = finetune_policy(base.policy, buffer, base.metadata.control_dt, config)
    episodes = tuple(buffer.episodes)
    record = provenance(base, episodes, config.to_dict(), result.stats, extra)
    exported = export_adapted(
        result.policy,
        spec,
        base,
        out,
        record,
        recorded=logged_observations(episodes, seed=config.seed),
        seed=config.seed,
    )
    return FinetuneOutput(export=exported, stats=result.stats, episodes=episodes)


def finetune_files(
    policy: str | Path,
    logs: Sequence[str | Path],
    spec: RobotSpec,
    out: str | Path,
    config: FinetuneConfig | None = None,
    command_order: str = "auto",
    motor_order: str | Sequence[str] | None = None,
) -> FinetuneOutput:
    """Fine-tune the policy file ``policy`` from deploy ``logs``; write the adapted file to ``out``
    (``command_order``: of bags whose commands name no joints; ``motor_order``: of Unitree bags;
    :func:`~.data.load_episodes`).

    Raises:
        PolicyError: the policy file is missing, corrupted or cannot be rebuilt.
        SpecMismatchError: the policy or a log was made for another spec.
        LogError / Sim2RealError: no logs, or a log without usable ticks.
    """
    meta = read_metadata(policy)
    meta.check_spec(spec, f"policy {policy}")
    check_observation_from_logs(meta, Path(policy).name)  # named here: load_episodes knows no file
    episodes = load_episodes(logs, spec, meta, command_order=command_order, motor_order=motor_order)  # the logs first: cheap, and the usual mistake
    base = load_base(policy, spec)
    buffer = ReplayBuffer()
    buffer.add(episodes)
    return finetune_episodes(base, spec, buffer, out, config)
