"""Training: PPO through rsl_rl with the transferable policy network (needs the ``train`` extra).

Modules (import what you need; this package imports nothing heavy by itself):

- :mod:`~sim2real.train.network`: ``TransferPolicy`` (normalizer + LayerNorm/ELU MLP + tanh);
- :mod:`~sim2real.train.models`: ``TransferActor``, the rsl_rl actor model around it;
- :mod:`~sim2real.train.config`: ``PPOConfig`` and the tuned preset of each task;
- :mod:`~sim2real.train.runner`: ``Trainer`` (rsl_rl ``OnPolicyRunner`` over ``RslVecEnv``);
- :mod:`~sim2real.train.evaluate`: success rate and mean return of a deterministic policy;
- :mod:`~sim2real.train.checkpoint`: ``RUN/policy.pt`` and ``load_policy(run) -> (policy, metadata)``;
- :mod:`~sim2real.train.randomization`: the bridge to :mod:`sim2real.randomize` (hooks, curriculum,
  summary for checkpoints).
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_policy"]


def __getattr__(name: str) -> Any:
    if name == "load_policy":
        from sim2real.train.checkpoint import load_policy

        return load_policy
    raise AttributeError(f"module 'sim2real.train' has no attribute '{name}'")
