"""The success gate (shared by `train` and `bench train`) and the training loop that stops at it."""

from __future__ import annotations

import dataclasses

import pytest

from sim2real.commands.train import _TrainProgress, train_loop, whole_rollouts
from sim2real.train.config import PPOConfig
from sim2real.train.gate import GateConfig, SuccessGate, gate_config
from sim2real.train.runner import Trainer

SMALL = PPOConfig(num_envs=16, steps_per_env=16, hidden=(32, 32), critic_hidden=(32, 32), learning_epochs=2)


class Scripted:
    """An evaluation whose success rates are given in advance (records the episodes asked for)."""

    def __init__(self, *rates: float) -> None:
        self.rates = list(rates)
        self.asked: list[int] = []

    def __call__(self, episodes: int) -> float:
        self.asked.append(episodes)
        return self.rates.pop(0)


class TestWholeRollouts:
    def test_a_budget_between_rollouts_rounds_up_so_progress_ends_at_100_percent(self):
        assert whole_rollouts(1000, 0, 256) == 1024  # the run stops after its 4th rollout
        assert whole_rollouts(1024, 0, 256) == 1024
        assert whole_rollouts(1000, 300, 256) == 1068  # counted from a resumed run's steps
        assert whole_rollouts(200, 300, 256) == 200  # already past: nothing to run

    def test_task_targets_and_cadence(self):
        assert (gate_config("furuta").target, gate_config("furuta").every_s) == (0.95, 10.0)
        assert (gate_config("quadruped").target, gate_config("quadruped").every_s) == (0.9, 60.0)
        assert gate_config("furuta", every_s=None, target=0.5).target == 0.5

    def test_a_quick_evaluation_below_the_gate_runs_no_full_one(self):
        evaluate = Scripted(0.5)
        gate = SuccessGate(GateConfig(), evaluate)
        assert not gate.check(1000)
        assert evaluate.asked == [16] and gate.last["episodes"] == 16 and gate.reached is None

    def test_the_target_is_met_by_the_full_evaluation_only(self):
        evaluate = Scripted(0.95, 0.9, 1.0, 0.97)
        gate = SuccessGate(GateConfig(), evaluate)
        assert not gate.check(1000)  # quick passes, full 0.9 < 0.95
        assert gate.check(2000)  # quick 1.0, full 0.97
        assert evaluate.asked == [16, 64, 16, 64]
        assert [e["success_rate"] for e in gate.evaluations] == [0.9, 0.97]
        assert gate.reached is not None and gate.evaluations[-1]["env_steps"] == 2000

    def test_evaluations_wait_for_their_period(self):
        gate = SuccessGate(GateConfig(every_s=3600.0), Scripted())
        assert not gate.due()
        assert SuccessGate(GateConfig(every_s=0.0), Scripted()).due()


class TestTrainLoop:
    @pytest.fixture
    def trainer(self):
        trainer = Trainer("pendulum", dataclasses.replace(SMALL, eval_every=0), seed=0)
        yield trainer
        trainer.close()

    def _gate(self, trainer, target: float) -> SuccessGate:
        rule = GateConfig(target=target, episodes=2, quick_episodes=1, gate=0.0, every_s=0.0)
        return SuccessGate(rule, lambda n: trainer.evaluate(n, seed=7)["success_rate"])

    def test_the_run_stops_when_the_gate_is_met(self, trainer, tmp_path):
        progress = _TrainProgress("pendulum", 10**6, 0, as_json=False, period=0.0)
        stats, reached = train_loop(
            trainer, 10**6, self._gate(trainer, 0.0), progress, tmp_path / "p.pt", 60.0
        )
        assert reached and stats.iteration == 1 and trainer.iteration == 1
        assert (
            trainer.last_evaluation["episodes"] == 2
        )  # the gate's full evaluation, under the run's randomization

    def test_steps_cap_the_run_and_no_gate_runs_it_out(self, trainer, tmp_path, capsys):
        total = 3 * trainer.steps_per_iteration
        progress = _TrainProgress("pendulum", total, 0, as_json=False, period=0.0)
        with progress:
            _, reached = train_loop(trainer, total, None, progress, tmp_path / "p.pt", 60.0)
        assert not reached and trainer.env_steps == total and trainer.last_evaluation is None
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pendulum: ")]
        assert len(lines) == 3 and "steps (" in lines[0]  # a progress line per update off a terminal

    def test_an_unmet_gate_lets_the_run_continue_to_its_cap(self, trainer, tmp_path):
        total = 2 * trainer.steps_per_iteration
        gate = self._gate(trainer, 1.01)  # unreachable
        progress = _TrainProgress("pendulum", total, 0, as_json=False, period=3600.0)
        _, reached = train_loop(trainer, total, gate, progress, tmp_path / "p.pt", 60.0)
        assert not reached and trainer.env_steps == total and len(gate.evaluations) == 2
