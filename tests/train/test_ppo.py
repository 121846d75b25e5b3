"""StepNormalizedPPO: the observation normalizers fold every step, the update leaves them be."""

from __future__ import annotations

import torch

from sim2real.train.config import PPOConfig
from sim2real.train.network import EmpiricalNormalizer
from sim2real.train.ppo import StepNormalizedPPO, normalizers
from sim2real.train.runner import Trainer

TINY = PPOConfig(num_envs=8, steps_per_env=6, hidden=(16, 16), critic_hidden=(16, 16), learning_epochs=1)


def _stats(modules) -> list[tuple[torch.Tensor, ...]]:
    out = []
    for m in modules:
        if isinstance(m, EmpiricalNormalizer):
            out.append((m.mean.clone(), m.var.clone(), m.count.clone()))
        else:
            out.append((m._mean.clone(), m._var.clone(), m.count.clone()))
    return out


def _rollout(trainer: Trainer) -> tuple[list[list[float]], object]:
    """One rollout as rsl_rl's runner makes it; the normalizers' counts after each step."""
    alg, env = trainer.runner.alg, trainer.vec_env
    alg.train_mode()
    obs = env.get_observations()
    counts = []
    with torch.inference_mode():
        for _ in range(TINY.steps_per_env):
            obs, rewards, dones, extras = env.step(alg.act(obs))
            alg.process_env_step(obs, rewards, dones, extras)
            counts.append([float(m.count) for m in normalizers(alg.actor, alg.critic)])
        alg.compute_returns(obs)
    return counts, obs


class TestStepNormalizedPPO:
    def test_training_runs_it(self):
        trainer = Trainer("pendulum", TINY, seed=0)
        assert type(trainer.runner.alg) is StepNormalizedPPO
        assert len(normalizers(trainer.runner.alg.actor, trainer.runner.alg.critic)) == 2

    def test_each_step_is_folded_into_both_normalizers_as_it_is_collected(self):
        trainer = Trainer("pendulum", TINY, seed=0)
        counts, _ = _rollout(trainer)
        n = TINY.num_envs
        assert counts == [[float((k + 1) * n)] * 2 for k in range(TINY.steps_per_env)]

    def test_the_update_trains_without_folding_the_rollout_again(self):
        trainer = Trainer("pendulum", TINY, seed=0)
        alg = trainer.runner.alg
        _rollout(trainer)
        modules = normalizers(alg.actor, alg.critic)
        before = _stats(modules)
        weights = [p.detach().clone() for p in trainer.policy.body.parameters()]
        alg.update()
        for old, new in zip(before, _stats(modules), strict=True):
            for a, b in zip(old, new, strict=True):
                assert torch.equal(a, b)
        assert any(
            not torch.equal(w, p) for w, p in zip(weights, trainer.policy.body.parameters(), strict=True)
        )
        # the hold is released: the next rollout folds again
        assert not modules[0].frozen and modules[1].training
        counts, _ = _rollout(trainer)
        assert counts[0] == [float((TINY.steps_per_env + 1) * TINY.num_envs)] * 2

    def test_a_frozen_normalizer_stays_frozen_after_an_update(self):
        trainer = Trainer("pendulum", TINY, seed=0)
        alg = trainer.runner.alg
        _rollout(trainer)
        trainer.policy.normalizer.frozen = True
        alg.update()
        assert trainer.policy.normalizer.frozen

    def test_a_trained_runner_takes_a_checkpoint_again(self):
        """The folds ran inside the rollout's inference mode, where rsl_rl's critic normalizer
        rebinds its std buffer: loading a state into a runner that had trained then failed
        ("Inplace update to inference tensor outside InferenceMode")."""
        trainer = Trainer("pendulum", TINY, seed=0)
        trainer.iterate()
        state = trainer.state()
        (critic_norm,) = [m for m in normalizers(trainer.runner.alg.critic)]
        assert not critic_norm._std.is_inference()
        trainer.load_state(state)
        trainer.iterate()
