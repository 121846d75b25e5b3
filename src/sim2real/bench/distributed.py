"""``sim2real bench distributed``: data-parallel PPO over processes against one process, same
total samples.

For each seed and each process count (1, then ``nproc``), ``sim2real train --robot R --steps S
--randomize CFG --nproc N --eval-episodes E --json`` runs as a subprocess (so both pay the same
start-up: interpreter, imports, process spawn), and the figures are its wall time, training time
(iterations only) and the deterministic evaluation's success rate under the run's own
randomization.  ``speedup`` = wall time of one process / wall time of N.  The machine's load
average is reported: other processes slow both.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from sim2real.bench.timing import machine

log = logging.getLogger(__name__)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def train_once(
    robot: str, steps: int, randomize: str, nproc: int, seed: int, eval_episodes: int
) -> dict[str, Any]:
    """One ``sim2real train`` subprocess; its JSON summary plus the wall time [s]."""
    with tempfile.TemporaryDirectory(prefix="sim2real-bench-dist-") as tmp:
        cmd = [
            sys.executable, "-m", "sim2real.cli", "train", "--robot", robot, "--out", os.path.join(tmp, "run"),
            "--steps", str(steps), "--randomize", randomize, "--seed", str(seed), "--nproc", str(nproc),
            "--eval-episodes", str(eval_episodes), "--json",
        ]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"train --nproc {nproc} failed: {proc.stderr.strip().splitlines()[-1:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    log.info(
        "nproc %d seed %d: %.1f s wall, success %.3f",
        nproc,
        seed,
        wall,
        summary["evaluation"]["success_rate"],
    )
    return {
        "nproc": nproc,
        "seed": seed,
        "world_size": summary["world_size"],
        "wall_seconds": round(wall, 2),
        "train_seconds": summary["train_seconds"],
        "env_steps": summary["env_steps"],
        "success_rate": summary["evaluation"]["success_rate"],
    }


def run(
    robot: str = "furuta",
    randomize: str | None = None,
    seeds: int = 2,
    steps: int = 3_000_000,
    nproc: int = 2,
    eval_episodes: int = 64,
) -> dict[str, Any]:
    """Measure and return the figures (see the module docstring).

    Args:
        robot: Embedded robot name.
        randomize: Randomization of training and evaluation (default ``default``).
        seeds: Seeds 0..seeds-1, each trained with 1 and with ``nproc`` processes.
        steps: Total environment steps of every run (all processes together).
        nproc: Processes of the parallel runs.
        eval_episodes: Episodes of each final evaluation.
    """
    randomize = randomize or "default"
    load_before = _load()
    runs = [
        train_once(robot, steps, randomize, n, seed, eval_episodes)
        for seed in range(seeds)
        for n in (1, nproc)
    ]

    def mean(n: int, key: str) -> float:
        values = [r[key] for r in runs if r["nproc"] == n]
        return round(sum(values) / len(values), 3)

    return {
        "robot": robot,
        "randomize": randomize,
        "steps": steps,
        "nproc": nproc,
        "wall_seconds_1": mean(1, "wall_seconds"),
        f"wall_seconds_{nproc}": mean(nproc, "wall_seconds"),
        "speedup": round(mean(1, "wall_seconds") / mean(nproc, "wall_seconds"), 2),
        "success_rate_1": mean(1, "success_rate"),
        f"success_rate_{nproc}": mean(nproc, "success_rate"),
        "runs": runs,
        "load_average": {"before": load_before, "after": _load()},
        "machine": machine(),
    }
