"""Data-parallel PPO over processes (torch.distributed, gloo, CPU): the mechanics, with a tiny
budget.  Every test launches real processes that form a real gloo process group on loopback."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sim2real.cli import main
from sim2real.errors import Sim2RealError
from sim2real.train.config import PPOConfig
from sim2real.train.distributed import (
    from_main,
    launch,
    local_envs,
    merge_moments,
    normalize_advantages,
    window_mean,
    world,
)
from sim2real.train.network import EmpiricalNormalizer

TINY = PPOConfig(
    num_envs=8,
    steps_per_env=4,
    hidden=(16, 16),
    critic_hidden=(16, 16),
    learning_epochs=2,
    eval_every=2,
    eval_episodes=2,
)


def _batches(rank: int) -> list[torch.Tensor]:
    """Two batches of 5-dim observations, different on every rank (and of different scales)."""
    g = torch.Generator().manual_seed(100 + rank)
    return [torch.randn(6, 5, generator=g) * (1 + rank) + rank for _ in range(2)]


def _rank_trains(out: str) -> int:
    """One rank: a tiny Trainer, two PPO iterations, then what the test compares."""
    from sim2real.train.distributed import join_world
    from sim2real.train.runner import Trainer

    join_world()
    rank, size = world()
    norm = EmpiricalNormalizer(5)
    for x in _batches(rank):
        norm.update(x)
    trainer = Trainer("furuta", TINY, seed=3)
    initial = {k: v.clone() for k, v in trainer.policy.state_dict().items()}
    for _ in range(2):
        trainer.iterate()
    trainer.save(Path(out) / f"policy_rank{rank}.pt")
    torch.save(
        {
            "initial": initial,
            "final": trainer.policy.state_dict(),
            "critic": trainer.runner.alg.critic.state_dict(),
            "norm": (norm.mean, norm.var, norm.count),
            "envs": trainer.env.num_envs,
            "first_obs": torch.as_tensor(np.asarray(trainer.vec_env._obs[:1])),
            "world_size": size,
            "success_window": window_mean([float(rank)]),
            "from_main": (from_main(10.0 + rank), from_main(None if rank == 0 else 1.0)),
            "eval_success": trainer.eval_success,
        },
        Path(out) / f"rank{rank}.pt",
    )
    return 0


def _rank_stops_at_the_gate(out: str) -> int:
    """One rank: PPO iterations under the success gate; rank 0's gate is met at its first check,
    rank 1's own gate would never even be due (it must follow rank 0, or hang in the next update)."""
    from sim2real.commands.train import _TrainProgress, train_loop
    from sim2real.train.distributed import join_world
    from sim2real.train.gate import GateConfig, SuccessGate
    from sim2real.train.runner import Trainer

    join_world()
    rank, _ = world()
    trainer = Trainer("furuta", TINY, seed=3)
    every_s = 0.0 if rank == 0 else 1e9
    rule = GateConfig(target=0.0, episodes=2, quick_episodes=2, gate=0.0, every_s=every_s)
    gate = SuccessGate(rule, lambda n: trainer.evaluate(n, seed=11)["success_rate"])
    total = 50 * trainer.steps_per_iteration
    with _TrainProgress("furuta", total, 0, as_json=True) as progress:
        _, reached = train_loop(trainer, total, gate, progress, Path(out) / "policy.pt", save_every=1e9)
    (Path(out) / f"gate{rank}.json").write_text(
        json.dumps({"reached": reached, "iteration": trainer.iteration, "evaluations": len(gate.evaluations)})
    )
    return 0


def _rank_trains_gates_and_updates(out: str, rollout: str) -> int:
    """One rank: :func:`_rank_trains`, then :func:`_rank_stops_at_the_gate` and
    :func:`_rank_updates`, each with a fresh Trainer of its own, in the same process group: one
    launch of two processes serves the three test classes (a launch costs seconds: two fresh
    interpreters importing torch and joining a gloo group).  The update runs last: it replaces
    ``torch.randperm`` in the rank's process."""
    _rank_trains(out)
    _rank_stops_at_the_gate(out)
    return _rank_updates(rollout)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, reference):
    out = tmp_path_factory.mktemp("ranks")
    *_, rollout = reference
    assert launch(_rank_trains_gates_and_updates, 2, {"out": str(out), "rollout": str(rollout)}) == 0
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


@pytest.mark.slow(seconds=25)
class TestTwoProcesses:
    def test_gradients_are_averaged_so_the_networks_stay_identical(self, two_ranks):
        _, (r0, r1) = two_ranks
        for key, value in r0["final"].items():
            torch.testing.assert_close(value, r1["final"][key], rtol=0, atol=0, msg=key)
        for key, value in r0["critic"].items():
            torch.testing.assert_close(value, r1["critic"][key], rtol=0, atol=0, msg=key)
        changed = [
            k for k in r0["final"] if "body" in k and not torch.equal(r0["final"][k], r0["initial"][k])
        ]
        assert changed  # the updates did move the weights

    def test_each_process_steps_its_share_of_the_envs_with_its_own_seed(self, two_ranks):
        _, (r0, r1) = two_ranks
        assert r0["envs"] == r1["envs"] == TINY.num_envs // 2
        assert not torch.equal(r0["first_obs"], r1["first_obs"])

    def test_the_policy_normalizer_counts_every_ranks_samples(self, two_ranks):
        _, (r0, r1) = two_ranks
        count = r0["final"]["normalizer.count"]
        # 2 iterations x steps_per_env x all envs of both ranks
        assert float(count) == 2 * TINY.steps_per_env * TINY.num_envs
        assert torch.equal(count, r1["final"]["normalizer.count"])

    def test_normalizer_merge_equals_one_normalizer_over_all_batches(self, two_ranks):
        _, ranks = two_ranks
        reference = EmpiricalNormalizer(5)
        for b0, b1 in zip(_batches(0), _batches(1), strict=True):
            reference.update(torch.cat([b0, b1]))
        for r in ranks:
            mean, var, count = r["norm"]
            torch.testing.assert_close(mean, reference.mean, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(var, reference.var, rtol=1e-5, atol=1e-6)
            assert float(count) == float(reference.count) == 24

    def test_window_figures_are_averaged_over_ranks(self, two_ranks):
        _, (r0, r1) = two_ranks
        assert r0["success_window"] == r1["success_window"] == 0.5

    def test_what_rank_zero_alone_computed_reaches_every_rank(self, two_ranks):
        _, (r0, r1) = two_ranks
        assert r0["from_main"] == r1["from_main"] == (10.0, None)
        # the quick evaluation after iteration 2 ran on rank 0 and reached rank 1
        assert r0["eval_success"] is not None and r1["eval_success"] == r0["eval_success"]

    def test_only_rank_zero_writes_the_checkpoint(self, two_ranks):
        out, _ = two_ranks
        assert (out / "policy_rank0.pt").is_file()
        assert not (out / "policy_rank1.pt").exists()
        meta = torch.load(out / "policy_rank0.pt", weights_only=False)["metadata"]
        assert meta["world_size"] == 2


class TestSuccessGate:
    def test_every_rank_stops_at_the_iteration_rank_zero_decides(self, two_ranks):
        out, _ = two_ranks  # the ranks ran _rank_stops_at_the_gate after _rank_trains
        r0, r1 = (json.loads((out / f"gate{r}.json").read_text()) for r in range(2))
        assert r0 == {"reached": True, "iteration": 1, "evaluations": 1}
        assert r1 == {"reached": True, "iteration": 1, "evaluations": 0}  # rank 0 evaluated and decided


# ------------------------------------------------------ the same update as one process (identical data)
SAME = dataclasses.replace(TINY, num_envs=16, steps_per_env=8, mini_batches=2, eval_every=0)
STORED = ("actions", "rewards", "dones", "values", "actions_log_prob")


def _in_order(n: int, **_: object) -> torch.Tensor:
    """``torch.randperm`` replaced by the identity: mini-batch i of every rank is then the same
    block of rollout steps, so the union of the ranks' mini-batches is one process's mini-batch."""
    return torch.arange(n)


def _collect(trainer) -> dict:
    """One rollout of the trainer's policy (no update), as stored for PPO, and the last observation."""
    alg, env = trainer.runner.alg, trainer.vec_env
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in range(SAME.steps_per_env):
            obs, reward, done, extras = env.step(alg.act(obs))
            alg.process_env_step(obs, reward, done, extras)
    st = alg.storage
    data = {k: getattr(st, k).clone() for k in STORED}
    data["observations"] = st.observations.clone()
    data["distribution_params"] = tuple(p.clone() for p in st.distribution_params)
    data["last_obs"] = obs.clone()
    st.clear()
    return data


def _update(trainer, data: dict, envs: slice) -> dict:
    """PPO's update (returns, advantages, epochs of mini-batches) on the given envs of the rollout."""
    alg = trainer.runner.alg
    st = alg.storage
    for k in STORED:
        getattr(st, k).copy_(data[k][:, envs])
    st.observations = data["observations"][:, envs].clone()
    st.distribution_params = tuple(p[:, envs].clone() for p in data["distribution_params"])
    st.step = SAME.steps_per_env
    with torch.inference_mode():
        alg.compute_returns(data["last_obs"][envs])
    alg.update()
    return {"actor": alg.actor.state_dict(), "critic": alg.critic.state_dict(), "lr": alg.learning_rate}


def _rank_updates(path: str) -> int:
    """One rank: the reference's networks and optimizer, then the update on its half of the envs."""
    from sim2real.train.distributed import join_world
    from sim2real.train.runner import Trainer

    join_world()
    rank, size = world()
    torch.randperm = _in_order
    ref = torch.load(path, weights_only=False)
    trainer = Trainer("furuta", SAME, seed=5)
    alg = trainer.runner.alg
    alg.actor.load_state_dict(ref["actor"])
    alg.critic.load_state_dict(ref["critic"])
    alg.optimizer.load_state_dict(ref["optimizer"])
    alg.learning_rate = ref["lr"]
    n = SAME.num_envs // size
    torch.save(_update(trainer, ref["data"], slice(rank * n, (rank + 1) * n)), f"{path}.rank{rank}")
    return 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process's trainer after an iteration, its next rollout (not updated on yet), and the
    networks, optimizer and learning rate before that update, saved for the ranks (``rollout.pt``)."""
    from sim2real.train.runner import Trainer

    trainer = Trainer("furuta", SAME, seed=5)
    trainer.iterate()  # away from the initial normalizer, optimizer moments and learning rate
    alg = trainer.runner.alg
    data = _collect(trainer)  # folds the rollout into the normalizers, step by step
    before = {
        "actor": {k: v.clone() for k, v in alg.actor.state_dict().items()},
        "critic": {k: v.clone() for k, v in alg.critic.state_dict().items()},
        "optimizer": copy.deepcopy(alg.optimizer.state_dict()),
        "lr": alg.learning_rate,
    }
    path = tmp_path_factory.mktemp("rollout") / "rollout.pt"
    torch.save({**before, "data": data}, path)
    return trainer, data, before, path


class TestSameUpdateAsOneProcess:
    def test_two_ranks_on_the_halves_of_a_rollout_update_like_one_process_on_all_of_it(
        self, reference, two_ranks, monkeypatch
    ):
        trainer, data, before, path = reference  # the ranks updated on its halves (two_ranks)
        monkeypatch.setattr(torch, "randperm", _in_order)
        one = _update(trainer, data, slice(None))
        monkeypatch.undo()
        ranks = [torch.load(f"{path}.rank{r}", weights_only=False) for r in range(2)]
        moved = max(float((one["actor"][k] - before["actor"][k]).abs().max()) for k in one["actor"])
        assert moved > 1e-3  # the update did something to compare
        for two in ranks:
            assert two["lr"] == pytest.approx(one["lr"], rel=1e-6)
            for part in ("actor", "critic"):
                for key, value in one[part].items():
                    torch.testing.assert_close(two[part][key], value, rtol=1e-5, atol=1e-6, msg=key)

    def test_advantages_are_normalized_over_every_ranks_rollout(self):
        a = torch.randn(8, 4, 1, generator=torch.Generator().manual_seed(0)) * 3 + 1
        expected = (a - a.mean()) / (a.std() + 1e-8)  # rsl_rl's normalization in one process
        torch.testing.assert_close(normalize_advantages(a), expected)


class TestSingleProcess:
    def test_helpers_are_the_identity(self):
        assert world() == (0, 1) and local_envs(128) == 128
        mean, var = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.25])
        assert merge_moments(4.0, mean, var) == (4.0, mean, var)
        assert from_main(0.25) == 0.25 and from_main(None) is None
        assert window_mean([1.0, 0.0, 1.0]) == pytest.approx(2 / 3) and window_mean([]) is None
        assert from_main(True) is True and from_main(False) is False


def _fails(message: str) -> int:
    raise Sim2RealError(message)


class TestLaunch:
    def test_a_failing_rank_is_one_error(self):
        with pytest.raises(Sim2RealError, match="bad option"):
            launch(_fails, 2, {"message": "bad option"})


class TestCommand:
    def test_train_nproc_reports_world_size_and_writes_one_checkpoint(self, tmp_path, capfd):
        run = tmp_path / "run"
        steps = 2 * 128 * 32 * 5  # two iterations of the furuta preset (128 envs, 64 per process)
        code = main(
            ["train", "--robot", "furuta", "--out", str(run), "--steps", str(steps), "--nproc", "2",
             "--eval-episodes", "2", "--json"]
        )  # fmt: skip
        assert code == 0
        summary = json.loads(capfd.readouterr().out.strip().splitlines()[-1])  # rank 0 prints it
        assert summary["world_size"] == 2 and summary["env_steps"] == steps
        assert sorted(p.name for p in run.iterdir() if p.suffix == ".pt") == ["policy.pt"]
        assert np.isfinite(summary["evaluation"]["mean_return"])
