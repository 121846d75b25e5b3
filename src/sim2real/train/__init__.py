"""Training: PPO through rsl_rl with the transferable policy network (needs the ``train`` extra).

================  ==================================================================================
module            owns
================  ==================================================================================
network           ``TransferPolicy``: normalizer + LayerNorm/ELU MLP + tanh, obs (N, n_obs) ->
                  action (N, n_act) in [-1, 1]
models            ``TransferActor``, the rsl_rl actor model around it
ppo               rsl_rl's PPO with the observation normalizers folded at every environment step
config            ``PPOConfig`` and the tuned preset of each task
runner            ``Trainer`` (rsl_rl ``OnPolicyRunner`` over ``RslVecEnv``)
distributed       data-parallel PPO across processes (torch.distributed, gloo, CPU): ranks and their
                  seeds
randomization     the bridge to :mod:`sim2real.randomize` (hooks, curriculum, summary for
                  checkpoints)
evaluate          success rate and mean return of a deterministic policy
gate              the success gate: when a run has learnt its task (``train``'s early stop, ``bench
                  train``'s time to success)
checkpoint        ``RUN/policy.pt`` and ``load_policy(run) -> (policy, metadata)``
sweep             hyperparameter sweeps: a YAML search space, one training run per grid point
                  (``sim2real sweep``)
================  ==================================================================================

Import what you need: this package imports nothing heavy by itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_policy"]


def __getattr__(name: str) -> Any:
    if name == "load_policy":
        from sim2real.train.checkpoint import load_policy

        return load_policy
    raise AttributeError(f"module 'sim2real.train' has no attribute '{name}'")
