"""``sim2real bench train``: wall-clock time until a policy succeeds, ours against Stable-Baselines3.

Figures:

- ``seconds_to_success``: wall time from the start of training (environment construction
  included) until a deterministic evaluation of ``eval_episodes`` episodes under the ``default``
  randomization reaches a success rate of at least ``target`` (0.95 for the swing-ups; 0.9 for
  the quadruped, as its issue sets): the success gate of :mod:`sim2real.train.gate`, the rule
  ``sim2real train`` stops at.  Training runs under the same randomization with the task's PPO
  preset; evaluations are part of the measured time.  An evaluation runs at most every
  ``eval_every_s`` seconds, the full one only once a quick one succeeds at least ``gate`` of the
  time (it costs a few seconds).
- ``success_rate``: the success rate of the last evaluation.
- ``sb3_seconds_to_success``: the same for Stable-Baselines3 PPO with its default settings
  (``PPO("MlpPolicy", env)``: one environment, 2048 steps per update, 10 epochs, 64x64 tanh
  MLP) on our Gymnasium environment, evaluated the same way; capped at ``sb3_cap`` (10) times
  our time.  A capped baseline reports the cap (``sb3_capped: true``).
- ``speedup_vs_sb3`` = sb3_seconds_to_success / seconds_to_success (a lower bound when capped).

Both runs use one torch thread (the networks are small; more threads only contend with
MuJoCo's).  The machine's load average is reported: other processes slow both runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.bench.timing import machine
from sim2real.errors import MissingExtraError
from sim2real.robots import load_robot
from sim2real.tasks import get_task
from sim2real.train.config import preset_key
from sim2real.train.evaluate import run_episodes
from sim2real.train.gate import GateConfig, SuccessGate, gate_config
from sim2real.train.randomization import randomization_available, resolve_randomization

log = logging.getLogger(__name__)

_MAX_SECONDS = {"pendulum": 600.0, "furuta": 600.0, "quadruped": 1800.0}


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - platform without getloadavg
        return []


def _evaluator(act_factory: Any, robot: str, randomize: str | None, seed: int) -> Any:
    """``evaluate(episodes) -> success rate`` of a policy under the benchmark's randomization."""
    spec = load_robot(robot)
    task = get_task(spec)

    def evaluate(episodes: int) -> float:
        hooks = resolve_randomization(spec, randomize, None, seed).hooks
        return run_episodes(act_factory(), spec, task, episodes, seed, hooks)["success_rate"]

    return evaluate


def _checked(gate: SuccessGate, env_steps: int, who: str) -> bool:
    reached = gate.check(env_steps)
    last = gate.last
    assert last is not None
    log.info(
        "%s: %.0f s, %d steps: %s evaluation success %.3f",
        who,
        last["seconds"],
        env_steps,
        "full" if last["episodes"] == gate.config.episodes else "quick",
        last["success_rate"],
    )
    return reached


def train_until_success(
    robot: str,
    randomize: str | None,
    seed: int = 0,
    target: float = 0.95,
    eval_episodes: int = 64,
    eval_every_s: float = 10.0,
    quick_episodes: int = 16,
    gate: float = 0.9,
    max_seconds: float = 600.0,
    out: str | None = None,
) -> dict[str, Any]:
    """Train with our PPO until the evaluation success rate reaches ``target`` (or time runs out)."""
    from sim2real.train.config import default_config
    from sim2real.train.evaluate import torch_actor
    from sim2real.train.runner import Trainer

    start = time.perf_counter()
    spec = load_robot(robot)
    # the robot's preset, else its task kind's (a Go2 made by robot init walks with the quadruped's)
    config = dataclasses.replace(default_config(spec), eval_every=0)  # the benchmark evaluates
    trainer = Trainer(spec, config, seed=seed, randomize=randomize, log_dir=out)
    rule = GateConfig(target, eval_episodes, quick_episodes, gate, eval_every_s)
    success = SuccessGate(
        rule, _evaluator(lambda: torch_actor(trainer.policy), robot, randomize, seed + 1), start
    )
    while time.perf_counter() - start < max_seconds:
        stats = trainer.iterate()
        if stats.iteration % 50 == 0:
            log.info(
                "ours: %.0f s, %d steps: training return %s, success %s, step reward %.4f, std %.3f",
                time.perf_counter() - start,
                stats.env_steps,
                "-" if stats.mean_return is None else f"{stats.mean_return:.3f}",
                "-" if stats.success_rate is None else f"{stats.success_rate:.2f}",
                stats.mean_step_reward,
                stats.action_std,
            )
        if success.due():
            trainer.policy.eval()
            reached = _checked(success, trainer.env_steps, "ours")
            trainer.policy.train()
            if reached:
                break
    evals = success.evaluations
    if out is not None:
        trainer.save(os.path.join(out, "policy.pt"))
    trainer.close()
    return {
        "seconds_to_success": success.reached,
        "success_rate": evals[-1]["success_rate"] if evals else 0.0,
        "env_steps": trainer.env_steps,
        "train_seconds": round(trainer.seconds, 2),
        "seconds": round(time.perf_counter() - start, 2),
        "evaluations": evals,
        "config": trainer.config.to_dict(),
    }


def sb3_until_success(
    robot: str,
    randomize: str | None,
    cap_seconds: float,
    seed: int = 0,
    target: float = 0.95,
    eval_episodes: int = 64,
    eval_every_s: float = 10.0,
    quick_episodes: int = 16,
    gate: float = 0.9,
) -> dict[str, Any]:
    """Stable-Baselines3 PPO with its defaults on our Gymnasium env, until success or the cap."""
    import torch

    try:
        from stable_baselines3 import PPO
        from stable_baselines3.common.callbacks import BaseCallback
    except ModuleNotFoundError as exc:
        if exc.name != "stable_baselines3":
            raise
        raise MissingExtraError("bench", "stable-baselines3") from None

    from sim2real.envs.gym import GymEnv

    torch.set_num_threads(1)
    spec = load_robot(robot)
    task = get_task(spec)
    start = time.perf_counter()
    env = GymEnv(spec, task, seed=seed, hooks=resolve_randomization(spec, randomize, None, seed).hooks)
    model = PPO("MlpPolicy", env, seed=seed, verbose=0, device="cpu")

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=True)
        return np.asarray(action, dtype=float).reshape(obs.shape[0], -1)

    rule = GateConfig(target, eval_episodes, quick_episodes, gate, eval_every_s)
    success = SuccessGate(rule, _evaluator(lambda: act, robot, randomize, seed + 1), start)

    class Until(BaseCallback):
        def _on_step(self) -> bool:
            if self.n_calls % 500:
                return True
            if time.perf_counter() - start > cap_seconds:
                return False
            if not success.due():
                return True
            return not _checked(success, self.num_timesteps, "sb3")

    model.learn(total_timesteps=10**12, callback=Until())
    elapsed = time.perf_counter() - start
    evals = success.evaluations
    return {
        "seconds_to_success": success.reached,
        "success_rate": evals[-1]["success_rate"] if evals else 0.0,
        "env_steps": int(model.num_timesteps),
        "seconds": round(elapsed, 2),
        "evaluations": evals,
    }


def update_threads_ratio(robot: str = "quadruped", pairs: int = 4, threads: int = 0, seed: int = 0) -> dict[str, Any]:
    """Throughput of the PPO update with ``threads`` torch threads (0: every CPU) against one, in one
    run: the same trainer alternates the two settings over ``2 * pairs`` iterations (ABBA order),
    so that load changes touch both alike.

    Returns:
        Per setting the mean collection and update seconds per iteration; ``update_speedup`` and
        ``iteration_speedup`` (one thread's time over ``threads``'s), and the load average.
    """
    from sim2real.train.config import default_config
    from sim2real.train.runner import Trainer, update_threads

    spec = load_robot(robot)
    config = dataclasses.replace(default_config(spec), eval_every=0)
    trainer = Trainer(spec, config, seed=seed, randomize="default")
    many = update_threads(dataclasses.replace(config, update_threads=threads))
    load_before = _load()
    trainer.iterate()  # warm-up
    times: dict[int, list[tuple[float, float]]] = {1: [], many: []}
    for i in range(pairs):
        for n in (1, many) if i % 2 == 0 else (many, 1):
            trainer.update_threads = n
            stats = trainer.iterate()
            times[n].append((stats.collect_seconds, stats.learn_seconds))
    trainer.close()
    mean = {n: np.mean(np.array(t), axis=0) for n, t in times.items()}
    return {
        "robot": spec.name,
        "threads": many,
        "iterations_each": pairs,
        "one_thread": {"collect_s": round(float(mean[1][0]), 4), "update_s": round(float(mean[1][1]), 4)},
        "threads_setting": {"collect_s": round(float(mean[many][0]), 4), "update_s": round(float(mean[many][1]), 4)},
        "update_speedup": round(float(mean[1][1] / mean[many][1]), 3),
        "iteration_speedup": round(float(mean[1].sum() / mean[many].sum()), 3),
        "load_average": {"before": load_before, "after": _load()},
    }


def _one_seed(job: tuple) -> dict[str, Any]:
    """Ours (and the baseline when asked) for one seed: the figures of the module docstring."""
    robot, use, seed, target, eval_episodes, eval_every_s, budget, sb3, sb3_cap, out = job
    logging.getLogger("sim2real.randomize.hooks").setLevel(logging.WARNING)
    load_before = _load()
    ours = train_until_success(
        robot, use, seed, target, eval_episodes, eval_every_s, max_seconds=budget, out=out
    )
    result: dict[str, Any] = {
        "seed": seed,
        "seconds_to_success": ours["seconds_to_success"],
        "success_rate": ours["success_rate"],
        "env_steps": ours["env_steps"],
        "env_steps_per_s": round(ours["env_steps"] / ours["seconds"]),
        "evaluations": ours["evaluations"],
        "load_average": {"before": load_before, "after": _load()},
    }
    if sb3:
        our_time = ours["seconds_to_success"] or budget
        cap = sb3_cap * our_time
        base = sb3_until_success(robot, use, cap, seed, target, eval_episodes, eval_every_s)
        capped = base["seconds_to_success"] is None
        sb3_time = cap if capped else base["seconds_to_success"]
        result.update(
            {
                "sb3_seconds_to_success": round(sb3_time, 2),
                "sb3_capped": capped,
                "sb3_success_rate": base["success_rate"],
                "sb3_env_steps": base["env_steps"],
                "speedup_vs_sb3": round(sb3_time / our_time, 2) if ours["seconds_to_success"] else None,
            }
        )
    result["config"] = ours["config"]
    return result


def _over_seeds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures over seeds: how many solved, the median time of the solved ones, mean success."""
    times = sorted(r["seconds_to_success"] for r in runs if r["seconds_to_success"] is not None)
    out: dict[str, Any] = {
        "solved": len(times),
        "seconds_to_success_median": float(np.median(times)) if times else None,
        "success_rate_mean": round(float(np.mean([r["success_rate"] for r in runs])), 4),
    }
    speedups = [r["speedup_vs_sb3"] for r in runs if r.get("speedup_vs_sb3") is not None]
    if speedups:
        out["speedup_vs_sb3_median"] = float(np.median(speedups))
    return out


def run(
    robot: str = "furuta",
    randomize: str | None = None,
    seed: int = 0,
    sb3: bool | None = None,
    sb3_cap: float = 10.0,
    target: float | None = None,
    eval_episodes: int = 64,
    eval_every_s: float | None = None,
    max_seconds: float | None = None,
    out: str | None = None,
    seeds: int = 1,
    ray: str | None = None,
) -> dict[str, Any]:
    """Measure and return the figures (see the module docstring).

    Args:
        robot: Embedded robot name or spec YAML path (a legged robot of your own: the quadruped's target).
        randomize: Randomization to train and evaluate under (None: ``default``; ``none``: nominal).
        seed: Seed of both runs (the first seed with ``seeds`` > 1).
        sb3: Run the Stable-Baselines3 baseline (None: for the swing-up tasks, not the quadruped).
        sb3_cap: The baseline stops at this multiple of our time.
        target: Success rate that counts as solved (default: 0.95; 0.9 for the quadruped).
        eval_episodes: Episodes per evaluation.
        eval_every_s: Least wall time between evaluations [s] (default: 10 s; 60 s for the quadruped).
        max_seconds: Our time budget (default: 600 s; 1800 s for the quadruped).
        out: Save our run (checkpoint and TensorBoard logs) here (one seed only).
        seeds: Independent runs with seeds ``seed .. seed + seeds - 1``; their figures are under
            ``runs`` and summarized (solved count, median time, mean success).
        ray: Run the seeds as tasks on a Ray cluster (address, or ``local``); each seed's times
            are then measured on whichever node ran it, alongside the other runs there.
    """
    from sim2real.errors import Sim2RealError
    from sim2real.parallel import make_executor

    if seeds < 1:
        raise Sim2RealError(f"--seeds must be at least 1, got {seeds}")
    if out is not None and seeds > 1:
        raise Sim2RealError("out saves one run; it takes a single seed")
    spec = load_robot(robot)
    name = spec.name
    # a robot without figures of its own takes those of its kind's embedded robot (any legged robot: the quadruped's)
    key = preset_key(spec)
    if randomize is None:
        randomize = "default"
    available = randomization_available()
    use = None if randomize == "none" or not available else randomize
    label = use or (
        "none" if randomize == "none" else f"none ({randomize} requested; sim2real.randomize unavailable)"
    )
    rule = gate_config(key, target=target, every_s=eval_every_s)
    target, eval_every_s = rule.target, rule.every_s
    budget = max_seconds if max_seconds is not None else _MAX_SECONDS.get(key, 600.0)
    if sb3 is None:
        sb3 = key != "quadruped"
    load_before = _load()
    # files by absolute path: a Ray worker may run in another folder (on a cluster with a shared one)
    robot, use = (str(Path(f).resolve()) if f is not None and Path(f).is_file() else f for f in (robot, use))
    out = str(Path(out).resolve()) if out is not None else None
    jobs = [
        (robot, use, s, target, eval_episodes, eval_every_s, budget, sb3, sb3_cap, out)
        for s in range(seed, seed + seeds)
    ]
    with make_executor(ray) as executor:
        runs = executor.map(_one_seed, jobs)
    result: dict[str, Any] = {"robot": name, "randomize": label, "target_success_rate": target}
    if seeds == 1:
        result.update(runs[0])
        del result["seed"]
    else:
        result.update(_over_seeds(runs))
        result["seeds"] = list(range(seed, seed + seeds))
        result["executor"] = executor.name
        result["runs"] = runs
    result["load_average"] = {"before": load_before, "after": _load()}
    result["machine"] = machine()
    return result
