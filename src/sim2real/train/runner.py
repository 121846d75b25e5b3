"""PPO training through rsl_rl's ``OnPolicyRunner`` and ``PPO`` over our ``RslVecEnv``.

A :class:`Trainer` owns one run: the batched environment (with randomization hooks), the rsl_rl
runner whose actor is :class:`~sim2real.train.models.TransferActor`, TensorBoard logging, periodic
evaluation and checkpoints.  It drives the runner one iteration at a time (``learn(1)``) so that
callers can show progress, step a curriculum, evaluate and stop early between iterations.

    trainer = Trainer("furuta", seed=0, log_dir="runs/furuta")
    while trainer.env_steps < 5_000_000:
        stats = trainer.iterate()
    trainer.save("runs/furuta/policy.pt")
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.envs.core import TaskEnv
from sim2real.errors import MissingExtraError, Sim2RealError
from sim2real.robots import load_robot
from sim2real.robots.spec import RobotSpec
from sim2real.tasks import TaskConfig, get_task
from sim2real.train.checkpoint import check_spec, load_checkpoint, run_model, save_checkpoint
from sim2real.train.config import PPOConfig, default_config
from sim2real.train.distributed import (
    GlooOnPolicyRunner,
    from_main,
    is_main,
    local_envs,
    rank_seed,
    rank_threads,
    seed_rank,
    window_mean,
    world,
)
from sim2real.train.evaluate import evaluate_policy
from sim2real.train.network import TransferPolicy
from sim2real.train.randomization import Randomization, resolve_randomization

try:
    import torch
    from rsl_rl.runners import OnPolicyRunner

    from sim2real.envs.rsl import RslVecEnv
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

log = logging.getLogger(__name__)

AS_TRAINED = "as-trained"
"""``Trainer.evaluate(randomize=AS_TRAINED)``: evaluate under the run's own randomization."""


@dataclass
class IterationStats:
    """Figures of one PPO iteration (returned by :meth:`Trainer.iterate`)."""

    iteration: int
    """Iterations done, this one included."""
    env_steps: int
    """Environment steps done (all simulations)."""
    seconds: float
    """Wall time spent in iterations so far (this process) [s]."""
    collect_seconds: float
    """Rollout time of this iteration [s]."""
    learn_seconds: float
    """Update time of this iteration [s]."""
    losses: dict[str, float]
    """Mean PPO losses (value, surrogate, entropy)."""
    learning_rate: float
    """Learning rate after the KL adaptation."""
    action_std: float
    """Mean exploration standard deviation."""
    mean_return: float | None
    """Mean return of the last training episodes (stochastic policy); None before any ended."""
    success_rate: float | None
    """Success rate of the last training episodes; None before any ended."""
    mean_step_reward: float
    """Mean reward per step of this iteration's rollout."""
    eval_success: float | None = None
    """Success rate of the last quick deterministic evaluation on the task (None before one)."""
    progress: float | None = None
    """The run's progress metric: ``eval_success`` when training episodes differ from the task's
    (exploring starts), else ``success_rate``."""
    stage: str | None = None
    """Curriculum stage."""
    extra: dict[str, Any] = field(default_factory=dict)


class _IterationRecorder:
    """Takes the place of rsl_rl's console/TensorBoard ``Logger`` inside ``OnPolicyRunner.learn``.

    rsl_rl's logger prints a report to stdout every iteration (which would corrupt ``--json``
    output); this one only keeps the figures for :class:`Trainer`, which writes TensorBoard itself.
    With ``writer = None`` the runner also skips its own checkpointing.
    """

    writer = None
    log_dir = None

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}
        self.reward_sum = 0.0
        self.reward_count = 0

    def init_logging_writer(self) -> None:
        pass

    def process_env_step(self, rewards: torch.Tensor, dones: torch.Tensor, extras: dict, *args: Any) -> None:
        self.reward_sum += float(rewards.sum())
        self.reward_count += rewards.numel()

    def log(self, **figures: Any) -> None:
        self.figures = figures

    def save_model(self, *args: Any) -> None:
        pass

    def stop_logging_writer(self) -> None:
        pass


class _TrainVecEnv(RslVecEnv):
    """RslVecEnv for training: optional action repeat, and windows of the returns and successes of
    finished episodes.

    With ``repeat`` k > 1 each policy decision is held for k control steps (the step rewards are
    summed; a simulation whose episode ends within the k steps keeps only the rewards of its
    ending episode and reports the end).  The trained policy is still a per-control-step state
    feedback: evaluation and deployment query it at every control step.
    """

    def __init__(self, env: TaskEnv, repeat: int = 1, window: int = 100) -> None:
        super().__init__(env)
        self.repeat = int(repeat)
        self.max_episode_length = -(-env.max_episode_steps // self.repeat)
        self.returns: deque[float] = deque(maxlen=window)
        self.success: deque[float] = deque(maxlen=window)

    @property
    def episode_length_buf(self) -> torch.Tensor:
        """Policy decisions since each episode started, (N,)."""
        return torch.from_numpy(self.env.episode_step // self.repeat)

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.env.start_episodes_at(np.asarray(value.cpu().numpy(), dtype=np.int64) * self.repeat)

    def step(self, actions: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor, dict[str, Any]]:
        if self.repeat == 1:
            obs, reward, done, extras = super().step(actions)
            self._record(self.last_judged)
            return obs, reward, done, extras
        action = actions.detach().cpu().numpy()
        n = self.num_envs
        reward = np.zeros(n)
        done = np.zeros(n, dtype=bool)
        time_out = np.zeros(n, dtype=bool)
        for _ in range(self.repeat):
            result = self.env.step(action)
            reward += np.where(done, 0.0, result.reward)
            time_out |= result.time_out & ~done
            done |= result.done
            self._record(self.collect(result.info))
        self._obs, self._critic = result.obs, result.critic_obs
        extras: dict[str, Any] = {"time_outs": torch.from_numpy(time_out.astype(np.float32))}
        return (
            self._pack(),
            torch.from_numpy(reward.astype(np.float32)),
            torch.from_numpy(done.astype(np.float32)),
            extras,
        )

    def _record(self, k: int) -> None:
        k = min(k, len(self.recent_returns))
        if k:
            self.returns.extend(self.recent_returns[-k:])
            self.success.extend(self.recent_success[-k:])


def training_task(task: TaskConfig, config: PPOConfig) -> TaskConfig:
    """The task as trained: the same rewards and terms, with the config's exploring starts and
    training episode length.

    Raises:
        Sim2RealError: exploring starts asked for a task that defines none.
    """
    changes: dict[str, Any] = {}
    if config.exploring_starts:
        if task.exploring_reset is None:
            raise Sim2RealError(f"task {task.name} ({task.kind or 'custom'}) has no exploring starts")
        changes["reset"] = task.exploring_reset
    if config.train_episode_s is not None:
        changes["episode_s"] = config.train_episode_s
    return dataclasses.replace(task, **changes) if changes else task


def update_threads(config: PPOConfig) -> int:
    """Torch threads of the PPO update of a run: ``config.update_threads``, or for 0 this process's
    share of the CPUs (the ranks of ``train --nproc`` on one machine split them)."""
    return config.update_threads or rank_threads(0) or (os.cpu_count() or 1)


def _update_with_threads(alg: Any, owner: Any) -> None:
    """Make ``alg.update`` run with ``owner.update_threads`` torch threads and restore the
    collection's count after it (rsl_rl's runner calls collection and update in one ``learn``)."""
    update = alg.update

    def threaded_update(*args: Any, **kwargs: Any) -> Any:
        before = torch.get_num_threads()
        torch.set_num_threads(owner.update_threads)
        try:
            return update(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    alg.update = threaded_update


def _silently(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` with its stdout captured (rsl_rl prints model summaries) and logged at debug level."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = func(*args, **kwargs)
    if buffer.getvalue().strip():
        log.debug("%s", buffer.getvalue().strip())
    return result


class Trainer:
    """One PPO training run.

    Args:
        robot: Embedded robot name, spec YAML path, or a loaded spec.
        config: PPO settings (default: the task's tuned preset).
        seed: Seed of the environment, the networks' initialization and PPO's sampling.
        randomize: Randomization config name or file (``sim2real.randomize``).
        curriculum: Curriculum name (``sim2real.randomize.Curriculum``).
        log_dir: TensorBoard directory (None: no logs).
        nthread: MuJoCo threads (0: every CPU).
        task: A task variant to train on (default: the robot's registered task).
        model: Compiled model to train (and evaluate) on instead of the nominal one, e.g.
            ``sim2real.sysid.calibrated_model``; its values are the nominal values randomization
            scales.
        calibration: Description of the calibration ``model`` comes from (JSON-ready: ``path``,
            ``spec_hash``, ``values``...), stored in the checkpoint metadata and in the
            randomization record that export copies into the policy file.
    """

    def __init__(
        self,
        robot: str | Path | RobotSpec,
        config: PPOConfig | None = None,
        seed: int = 0,
        randomize: Any = None,
        curriculum: str | None = None,
        log_dir: str | Path | None = None,
        nthread: int = 0,
        task: TaskConfig | None = None,
        model: Any = None,
        calibration: dict[str, Any] | None = None,
    ) -> None:
        self.spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
        self.task = task or get_task(self.spec)
        self.config = config or default_config(self.task)
        self.seed = int(seed)
        self.model = model
        self.calibration = calibration
        torch.set_num_threads(self.config.torch_threads)
        torch.manual_seed(self.seed)
        # several processes (train --nproc): each steps its share of the envs with its own seed
        self.randomization: Randomization = resolve_randomization(
            self.spec, randomize, curriculum, rank_seed(seed)
        )
        self.train_task = training_task(self.task, self.config)
        self.env = TaskEnv(
            self.spec,
            self.train_task,
            local_envs(self.config.num_envs),
            seed=rank_seed(seed),
            nthread=rank_threads(nthread),
            hooks=self.randomization.hooks,
            model=model,
        )
        self.vec_env = _TrainVecEnv(self.env, self.config.action_repeat)
        self.vec_env.cfg = {"task": self.task.name, "robot": self.spec.name, "seed": self.seed}
        self.runner: OnPolicyRunner = _silently(
            GlooOnPolicyRunner, self.vec_env, self.config.runner_cfg(), None, "cpu"
        )
        seed_rank(self.seed)
        self.update_threads = update_threads(self.config)
        _update_with_threads(self.runner.alg, self)
        self._recorder = _IterationRecorder()
        self.runner.logger = self._recorder  # type: ignore[assignment]
        self.iteration = 0
        self.env_steps = 0
        self.seconds = 0.0
        self.last_evaluation: dict[str, Any] | None = None
        self.eval_success: float | None = None
        self._first = True
        self.writer = None
        if log_dir is not None and is_main():
            from torch.utils.tensorboard import SummaryWriter

            Path(log_dir).mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(log_dir=str(log_dir), flush_secs=10)

    # ------------------------------------------------------------------ access
    @property
    def actor(self) -> Any:
        """The rsl_rl actor (:class:`~sim2real.train.models.TransferActor`)."""
        return self.runner.alg.get_policy()

    @property
    def policy(self) -> TransferPolicy:
        """The live deterministic policy (shares its weights with the actor)."""
        return self.actor.policy

    @property
    def steps_per_iteration(self) -> int:
        """Environment (control) steps per PPO iteration."""
        return self.config.num_envs * self.config.steps_per_env * self.config.action_repeat

    # ---------------------------------------------------------------- training
    def iterate(self) -> IterationStats:
        """Run one PPO iteration (rollout + update) and return its figures."""
        rec = self._recorder
        rec.reward_sum, rec.reward_count = 0.0, 0
        start = time.perf_counter()
        self.runner.current_learning_iteration = self.iteration
        self.runner.learn(1, init_at_random_ep_len=self._first and self.config.random_episode_start)
        self._first = False
        self.iteration += 1
        self.env_steps += self.steps_per_iteration
        fig = rec.figures
        vec = self.vec_env
        success = window_mean(vec.success)  # over every process's recent episodes
        every = self.config.eval_every
        if every and self.iteration % every == 0:
            self.eval_success = from_main(self._quick_evaluation() if is_main() else None)
        progress = self.eval_success if self.train_task is not self.task else success
        self.randomization.update(self.env_steps, progress)
        self.seconds += time.perf_counter() - start
        stats = IterationStats(
            iteration=self.iteration,
            env_steps=self.env_steps,
            seconds=self.seconds,
            collect_seconds=float(fig.get("collect_time", 0.0)),
            learn_seconds=float(fig.get("learn_time", 0.0)),
            losses={k: float(v) for k, v in fig.get("loss_dict", {}).items()},
            learning_rate=float(fig.get("learning_rate", 0.0)),
            action_std=float(self.actor.std.mean()),
            mean_return=window_mean(vec.returns),
            success_rate=success,
            mean_step_reward=rec.reward_sum / max(rec.reward_count, 1),
            eval_success=self.eval_success,
            progress=progress,
            stage=self.randomization.stage,
        )
        self._log(stats)
        return stats

    def _quick_evaluation(self) -> float:
        """Success rate of a quick deterministic evaluation (rank 0 runs it for every rank: the
        networks are the same on all of them)."""
        seed = self.seed + 20_000 + self.iteration
        hooks = self.randomization.eval_hooks(self.spec, seed)
        result = evaluate_policy(
            self.policy, self.spec, self.task, self.config.eval_episodes, seed, hooks, model=self.model
        )
        if self.writer is not None:
            self.writer.add_scalar("Eval/quick_success_rate", result["success_rate"], self.iteration)
            self.writer.add_scalar("Eval/quick_mean_return", result["mean_return"], self.iteration)
        return float(result["success_rate"])

    def _log(self, s: IterationStats) -> None:
        if self.writer is None:
            return
        w, it = self.writer, s.iteration
        for key, value in s.losses.items():
            w.add_scalar(f"Loss/{key}", value, it)
        w.add_scalar("Loss/learning_rate", s.learning_rate, it)
        w.add_scalar("Policy/mean_std", s.action_std, it)
        w.add_scalar(
            "Perf/steps_per_s", self.steps_per_iteration / max(s.collect_seconds + s.learn_seconds, 1e-9), it
        )
        w.add_scalar("Perf/collection_time", s.collect_seconds, it)
        w.add_scalar("Perf/learning_time", s.learn_seconds, it)
        w.add_scalar("Train/mean_step_reward", s.mean_step_reward, it)
        w.add_scalar("Train/env_steps", s.env_steps, it)
        if s.mean_return is not None:
            w.add_scalar("Train/mean_return", s.mean_return, it)
        if s.success_rate is not None:
            w.add_scalar("Train/success_rate", s.success_rate, it)
        if s.progress is not None:
            w.add_scalar("Train/progress", s.progress, it)
        if self.randomization.curriculum is not None:
            w.add_scalar("Curriculum/stage_index", self.randomization.curriculum.stage_index, it)

    def evaluate(
        self,
        episodes: int = 64,
        randomize: str | None = AS_TRAINED,
        seed: int | None = None,
        nthread: int = 0,
    ) -> dict[str, Any]:
        """Evaluate the current deterministic policy on the task (see :mod:`sim2real.train.evaluate`).

        Args:
            episodes: Number of episodes.
            randomize: Randomization to evaluate under: ``AS_TRAINED`` (the run's randomization,
                the current stage of a curriculum), None (nominal simulator), or a config name/file.
            seed: Environment seed (default: a seed distinct from the training seed).
            nthread: MuJoCo threads.
        """
        seed = self.seed + 10_000 if seed is None else seed
        if randomize == AS_TRAINED:
            hooks = self.randomization.eval_hooks(self.spec, seed)
            given = self.randomization.randomize
            label = (
                given if isinstance(given, str) else getattr(given, "name", None)
            ) or self.randomization.stage
        else:
            hooks = resolve_randomization(self.spec, randomize, None, seed).hooks
            label = randomize
        result = evaluate_policy(
            self.policy, self.spec, self.task, episodes, seed, hooks, nthread, model=self.model
        )
        self.last_evaluation = {
            "success_rate": result["success_rate"],
            "mean_return": result["mean_return"],
            "episodes": result["episodes"],
            "randomize": label,
            "env_steps": self.env_steps,
        }
        if self.writer is not None:
            self.writer.add_scalar("Eval/success_rate", result["success_rate"], self.iteration)
            self.writer.add_scalar("Eval/mean_return", result["mean_return"], self.iteration)
        return result

    # -------------------------------------------------------------- checkpoints
    def metadata(self) -> dict[str, Any]:
        """Everything about the run but the tensors (the checkpoint's ``metadata``)."""
        spec, task = self.spec, self.task
        randomization = self.randomization.record()
        if self.calibration is not None:
            randomization["calibration"] = self.calibration
        return {
            "robot": spec.name,
            "robot_path": str(spec.path),
            "spec_hash": spec.hash,
            "task": task.name,
            "n_obs": int(self.actor.obs_dim),
            "n_act": int(spec.n_actions),
            "hidden": list(self.config.hidden),
            "n_critic_obs": int(self.runner.alg.critic.obs_dim),
            "critic_hidden": list(self.config.critic_hidden),
            "joints": list(spec.joints),
            "observation": [{"name": t.name, "size": t.size, "scale": t.scale} for t in spec.observation],
            "default_pose": [float(x) for x in spec.default_pose],
            "control_dt": float(spec.control_dt),
            "action_scale": [float(x) for x in task.action_scale],
            "action_filter": float(task.action_filter),
            "ppo": self.config.to_dict(),
            "seed": self.seed,
            "world_size": world()[1],
            "randomization": randomization,
            "calibration": self.calibration,
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "train_seconds": self.seconds,
            "evaluation": self.last_evaluation,
            "exploration_std": [float(x) for x in self.actor.std],
        }

    def state(self) -> dict[str, Any]:
        """The checkpoint payload."""
        alg = self.runner.alg
        saved = alg.save()
        return {
            "policy_state_dict": self.policy.state_dict(),
            "actor_state_dict": saved["actor_state_dict"],
            "critic_state_dict": saved["critic_state_dict"],
            "optimizer_state_dict": saved["optimizer_state_dict"],
            "learning_rate": float(alg.learning_rate),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "torch_rng_state": torch.get_rng_state(),
            "metadata": self.metadata(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint (atomically); in a multi-process run only rank 0 writes it (every
        rank holds the same networks)."""
        if not is_main():
            return Path(path)
        return save_checkpoint(path, self.state())

    def load_state(self, data: dict[str, Any]) -> None:
        """Restore networks, optimizer, counters and torch's generator from a checkpoint dict."""
        check_spec(data["metadata"], self.spec)
        alg = self.runner.alg
        alg.load(data, {"actor": True, "critic": True, "optimizer": True}, strict=True)
        alg.learning_rate = float(data.get("learning_rate", alg.learning_rate))
        for group in alg.optimizer.param_groups:
            group["lr"] = alg.learning_rate
        self.iteration = int(data["iteration"])
        self.env_steps = int(data["env_steps"])
        self.seconds = float(data["metadata"].get("train_seconds", 0.0))
        self.last_evaluation = data["metadata"].get("evaluation")
        if "torch_rng_state" in data:
            torch.set_rng_state(data["torch_rng_state"])

    @classmethod
    def resume(cls, run: str | Path, log_dir: str | Path | None = None, nthread: int = 0) -> Trainer:
        """Continue a run from its checkpoint with the run's own robot, config, seed and randomization.

        Raises:
            SpecMismatchError: the robot spec changed since the checkpoint was written.
        """
        data = load_checkpoint(run)
        meta = data["metadata"]
        robot_path = Path(meta.get("robot_path", ""))
        spec = load_robot(robot_path if robot_path.is_file() else meta["robot"])
        check_spec(meta, spec)
        rnd = meta.get("randomization") or {}
        calibration = meta.get("calibration")
        model = run_model(spec, meta)
        trainer = cls(
            spec,
            PPOConfig.from_dict(meta["ppo"]),
            seed=int(meta["seed"]),
            randomize=rnd.get("config") or rnd.get("randomize"),
            curriculum=rnd.get("curriculum"),
            log_dir=log_dir,
            nthread=nthread,
            model=model,
            calibration=calibration,
        )
        trainer.load_state(data)
        trainer.randomization.restore(rnd, trainer.env_steps)
        trainer._first = False
        return trainer

    def actuator_coverage(self) -> list[str]:
        """Inputs of the robot's actuator networks that training drove outside the data they were
        fitted on, one line each (:meth:`sim2real.sim.drives.Drives.coverage`)."""
        return self.env.sim.drives.coverage()

    def close(self) -> None:
        """Warn about actuator networks driven outside their data; flush and close the TensorBoard writer."""
        for line in self.actuator_coverage():
            log.warning("%s", line)
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def make_trainer(
    robot: str | Path | RobotSpec,
    out: str | Path | None = None,
    seed: int = 0,
    randomize: Any = None,
    curriculum: str | None = None,
    envs: int | None = None,
    resume: bool = False,
    nthread: int = 0,
    config: PPOConfig | None = None,
    model: Any = None,
    calibration: dict[str, Any] | None = None,
) -> Trainer:
    """A new trainer, or one resumed from ``out/policy.pt`` when ``resume``.

    ``model`` and ``calibration`` train on a calibrated model (see :class:`Trainer`).

    Raises:
        Sim2RealError: resuming a run that has no checkpoint, or with options that contradict it.
    """
    if resume:
        if out is None:
            raise Sim2RealError("--resume needs --out RUN (the run to continue)")
        trainer = Trainer.resume(out, log_dir=out, nthread=nthread)
        spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
        if spec.name != trainer.spec.name:
            raise Sim2RealError(f"run {out} trained '{trainer.spec.name}', not '{spec.name}'")
        if envs is not None and envs != trainer.config.num_envs:
            raise Sim2RealError(f"run {out} uses {trainer.config.num_envs} envs; resume without --envs")
        return trainer
    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    cfg = config or default_config(spec)
    if envs is not None:
        cfg = dataclasses.replace(cfg, num_envs=envs)
    return Trainer(
        spec,
        cfg,
        seed,
        randomize,
        curriculum,
        log_dir=out,
        nthread=nthread,
        model=model,
        calibration=calibration,
    )
