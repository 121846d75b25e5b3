"""rsl_rl's PPO with the observation normalizers folded at every environment step.

rsl_rl up to 5.4 folded each step's observations into the actor's and the critic's running
mean/std as they were collected; 5.5 folds the whole rollout once, after the update (the policy
acts on the previous rollout's statistics, and the first rollout and update on none at all).
Measured on the demo's calibrated + randomized furuta training (seed 0, rsl-rl-lib 5.5.1): 11.1 M
steps to the success gate with the fold after the update, 5.94 M with the fold at every step; the
README loop's own training 5.98 M (benchmarks/BENCHMARKS.md).  :class:`StepNormalizedPPO` folds
at every step as 5.4 did, with 5.4's cost: actions are sampled under each step's statistics and
re-evaluated under the rollout's last ones, so the first updates start off-policy (their KL is
large until the statistics settle; the adaptive learning rate takes it down for an iteration).
In a multi-process run each fold merges all ranks' observations (both normalizers are collectives
there), so the ranks keep identical statistics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sim2real.errors import MissingExtraError
from sim2real.train.distributed import normalize_advantages
from sim2real.train.network import EmpiricalNormalizer

try:
    import torch
    from rsl_rl.algorithms import PPO
    from rsl_rl.modules import EmpiricalNormalization
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

__all__ = ["GlooPPO", "StepNormalizedPPO", "normalizers"]


def normalizers(*models: torch.nn.Module | None) -> list[torch.nn.Module]:
    """The running observation normalizers inside ``models`` (ours and rsl_rl's), in order."""
    kinds = (EmpiricalNormalizer, EmpiricalNormalization)
    return [m for model in models if model is not None for m in model.modules() if isinstance(m, kinds)]


@contextlib.contextmanager
def _folds_held(modules: list[torch.nn.Module]) -> Iterator[None]:
    """Within the block the normalizers ignore ``update`` (ours while ``frozen``, rsl_rl's in
    eval mode); each is restored as it was."""
    states = [(m, m.frozen if isinstance(m, EmpiricalNormalizer) else m.training) for m in modules]
    for m, _ in states:
        if isinstance(m, EmpiricalNormalizer):
            m.frozen = True
        else:
            m.train(False)
    try:
        yield
    finally:
        for m, state in states:
            if isinstance(m, EmpiricalNormalizer):
                m.frozen = state
            else:
                m.train(state)


class StepNormalizedPPO(PPO):
    """rsl_rl's PPO whose observation normalizers fold every step's observations.

    ``process_env_step`` folds the step's observations (num_envs, n_obs) into the actor's, the
    critic's (and RND's) normalizers before recording the step; ``update`` is rsl_rl's, with its
    fold of the whole rollout held (the rollout was folded already, step by step).
    """

    def process_env_step(self, obs: Any, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        # outside the rollout's inference mode: rsl_rl's normalizer rebinds its std buffer, which
        # would otherwise become an inference tensor that no state dict can be loaded into later
        with torch.inference_mode(False):
            self.actor.update_normalization(obs)
            self.critic.update_normalization(obs)
            if self.rnd:
                self.rnd.update_normalization(obs)
        super().process_env_step(obs, rewards, dones, extras)

    def update(self) -> dict[str, float]:
        rnd = self.rnd if self.rnd else None
        with _folds_held(normalizers(self.actor, self.critic, rnd)):
            return super().update()


class GlooPPO(StepNormalizedPPO):
    """rsl_rl's PPO with the advantages normalized over every rank's rollout.

    The multi-process runner (:class:`~sim2real.train.distributed.GlooOnPolicyRunner`) runs it.
    rsl_rl normalizes each process's advantages by that process's own mean and standard
    deviation, so N processes do not compute the update of one process on the same samples (each
    rank's half of a mini-batch is shifted and scaled differently); with the global moments and
    the averaged gradients they do (``tests/train/test_distributed.py`` checks it on identical data).
    """

    def compute_returns(self, obs: Any) -> None:
        super().compute_returns(obs)
        if self.is_multi_gpu and not self.normalize_advantage_per_mini_batch:
            st = self.storage
            st.advantages = normalize_advantages(st.returns - st.values)
