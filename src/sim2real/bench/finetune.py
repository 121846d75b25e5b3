"""``sim2real bench finetune``: what a few real (twin) episodes of fine-tuning buy.

Setup, measured in one run:

1. a base policy is trained WITHOUT randomization (nominal model only, the task's PPO preset)
   until it succeeds in simulation (64 deterministic episodes, success rate >= 0.95), exported;
2. "reality" is a twin with a hidden parameter the base never saw (the furuta: pendulum joint
   damping 1.5e-4 N m s/rad, within the spec's plausible range [0, 2e-4]: the swing-up loses
   energy, the base swings up late or not at all in some episodes) plus the twin's unmodeled
   effects (RK4 at a 4x finer step, actuator latency jitter, backlash, encoder quantization and
   noise); dropped readings are off so that the safety events counted are the policy's own;
3. per seed, :func:`sim2real.finetune.iterate.iterate` runs ``rounds`` rounds of
   ``episodes_per_round`` logged twin episodes (exploration noise, safety layer on) and
   fine-tunes a residual adapter after each (at most 20 episodes in all);
4. base and fine-tuned policy each run ``eval_episodes`` FRESH twin episodes (start states and
   twin seeds not used for data), without exploration noise.

Figures: ``return_before`` / ``return_after`` (mean episode return over seeds), ``improvement``
(relative gain ``(after - before) / |before|`` per seed, averaged over seeds), ``real_episodes``
(episodes fine-tuning learnt from, per seed), ``safety_events_before`` / ``_after`` (safety
monitor events over all evaluation episodes: clamps, holds, safe stops),
``collection_safety_events`` (the same over the data-collection episodes, exploration included),
and the machine.
Nothing is cached: the base is trained in a temporary directory, removed at the end.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.bench.timing import machine
from sim2real.errors import Sim2RealError
from sim2real.real.twin import TwinConfig, TwinEffects
from sim2real.robots import load_robot

log = logging.getLogger(__name__)

HIDDEN: dict[str, dict[str, float]] = {"furuta": {"joint.pendulum.damping": 1.5e-4}}
"""The twin's hidden parameters per robot (the rest stay nominal)."""


def _train_base(
    robot: str, folder: Path, seed: int, max_iterations: int, eval_every: int = 20
) -> tuple[Path, dict[str, Any]]:
    """Train without randomization until a deterministic evaluation succeeds; export the policy.

    The evaluation runs every ``eval_every`` PPO iterations (not every n seconds), so the base
    policy depends on the seed only, not on the machine's load: 16 episodes, then (at >= 0.9
    success) 64 episodes that must reach 0.95.
    """
    from sim2real.policy.export import export_policy
    from sim2real.tasks import get_task
    from sim2real.train.config import default_config
    from sim2real.train.evaluate import evaluate_policy
    from sim2real.train.runner import Trainer

    spec = load_robot(robot)
    task = get_task(spec)
    start = time.perf_counter()
    config = dataclasses.replace(default_config(spec), eval_every=0)
    trainer = Trainer(spec, config, seed=seed, randomize=None, nthread=1)
    success = 0.0
    try:
        while trainer.iteration < max_iterations:
            trainer.iterate()
            if trainer.iteration % eval_every:
                continue
            success = evaluate_policy(trainer.policy, spec, task, 16, seed + 1, nthread=1)["success_rate"]
            if success >= 0.9:
                success = evaluate_policy(trainer.policy, spec, task, 64, seed + 1, nthread=1)["success_rate"]
                log.info("base policy: iteration %d, success %.3f", trainer.iteration, success)
                if success >= 0.95:
                    break
        path = folder / "base.onnx"
        policy = trainer.policy
        policy.eval()
        export_policy(policy, spec, path, metadata=trainer.metadata(), seed=seed)
    finally:
        trainer.close()
    return path, {
        "iterations": trainer.iteration,
        "env_steps": trainer.env_steps,
        "sim_success_rate": success,
        "train_seconds": round(time.perf_counter() - start, 1),
    }


def run(
    robot: str = "furuta",
    seeds: int = 3,
    rounds: int = 2,
    episodes_per_round: int = 8,
    eval_episodes: int = 6,
    base_seed: int = 0,
    base_max_iterations: int = 1500,
) -> dict[str, Any]:
    """Measure the figures (see the module docstring).

    Args:
        robot: Embedded robot with a benchmark twin (furuta).
        seeds: Fine-tuning seeds averaged over.
        rounds: Deploy -> fine-tune rounds per seed.
        episodes_per_round: Logged twin episodes per round (rounds x this <= 20).
        eval_episodes: Fresh evaluation episodes per policy and seed.
        base_seed: Seed of the base policy's training.
        base_max_iterations: Most PPO iterations of the base policy's training.
    """
    from sim2real.finetune.explore import ExplorationConfig
    from sim2real.finetune.iterate import IterateConfig, evaluate_on_twin, iterate

    spec = load_robot(robot)
    if spec.name not in HIDDEN:
        raise Sim2RealError(f"bench finetune has a twin for {', '.join(HIDDEN)}, not {spec.name}")
    if rounds * episodes_per_round > 20:
        raise Sim2RealError("bench finetune learns from at most 20 twin episodes")
    start = time.perf_counter()
    twin = TwinConfig(
        params={k: np.atleast_1d(v) for k, v in HIDDEN[spec.name].items()},
        effects=TwinEffects(drop_probability=0.0),
    )
    per_seed = []
    with tempfile.TemporaryDirectory(prefix="sim2real_bench_finetune_") as tmp:
        folder = Path(tmp)
        base, base_info = _train_base(spec.name, folder, base_seed, base_max_iterations)
        log.info("base policy trained without randomization: %s", base_info)
        for s in range(seeds):
            t0 = time.perf_counter()
            config = IterateConfig(
                rounds=rounds,
                episodes_per_round=episodes_per_round,
                exploration=ExplorationConfig(std=0.05, correlation_s=0.05),
                seed=s,
            )
            result = iterate(base, spec, twin, folder / f"seed{s}", config)
            fresh = [1_000_000 + 1000 * s + i for i in range(eval_episodes)]
            before = evaluate_on_twin(base, spec, twin, fresh)
            after = evaluate_on_twin(result["policy"], spec, twin, fresh)
            gain = (after["mean_return"] - before["mean_return"]) / max(abs(before["mean_return"]), 1e-9)
            per_seed.append(
                {
                    "seed": s,
                    "return_before": before["mean_return"],
                    "return_after": after["mean_return"],
                    "improvement": gain,
                    "returns_before": before["returns"],
                    "returns_after": after["returns"],
                    "safety_events_before": before["safety_events"],
                    "safety_events_after": after["safety_events"],
                    "safe_stops_before": before["safe_stops"],
                    "safe_stops_after": after["safe_stops"],
                    "logged_mean_return_per_round": [r["logged_mean_return"] for r in result["rounds"]],
                    "collection_safety_events": sum(r["collection_safety_events"] for r in result["rounds"]),
                    "real_episodes": result["real_episodes"],
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
            log.info(
                "seed %d: return %.3f -> %.3f (%+.1f %%), safety events %d -> %d",
                s,
                before["mean_return"],
                after["mean_return"],
                100 * gain,
                before["safety_events"],
                after["safety_events"],
            )
    return {
        "robot": spec.name,
        "return_before": float(np.mean([p["return_before"] for p in per_seed])),
        "return_after": float(np.mean([p["return_after"] for p in per_seed])),
        "improvement": float(np.mean([p["improvement"] for p in per_seed])),
        "real_episodes": rounds * episodes_per_round,
        "safety_events_before": int(sum(p["safety_events_before"] for p in per_seed)),
        "safety_events_after": int(sum(p["safety_events_after"] for p in per_seed)),
        "collection_safety_events": int(sum(p["collection_safety_events"] for p in per_seed)),
        "seeds": seeds,
        "eval_episodes_per_seed": eval_episodes,
        "twin_hidden_params": HIDDEN[spec.name],
        "base": base_info,
        "per_seed": per_seed,
        "seconds": round(time.perf_counter() - start, 1),
        "machine": machine(),
    }
