"""Hyperparameter sweeps over PPO settings: a YAML search space, one training run per grid point.

    robot: furuta               # embedded robot name or spec YAML path
    steps: 2000000              # environment steps of every trial
    randomize: default          # optional: randomization config name or file
    eval_episodes: 32           # episodes of each trial's final evaluation
    seeds: [0, 1]               # or a count: 2 -> seeds 0, 1
    space:                      # PPOConfig fields: a list is an axis of the grid, a scalar is fixed
      learning_rate: [3.0e-4, 1.0e-3]
      entropy_coef: [0.0, 0.005]
      num_envs: 128
      hidden: [[64, 64], [128, 128]]   # a list-valued setting: a list of lists is its axis

The grid is every combination of the listed values and the seeds; each point trains a fresh run
of the task's preset with the point's values (:func:`run_trial`) and reports its deterministic
evaluation.  A trial is a pure function of its settings, so trials run anywhere (this process or
Ray Tune, see :mod:`sim2real.parallel.tune`) with the same results.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim2real.errors import Sim2RealError
from sim2real.text import read_text
from sim2real.train.config import PPOConfig, default_config

__all__ = ["METRICS", "SweepSpace", "load_space", "run_trial", "summarize"]

METRICS = ("success_rate", "mean_return", "train_success", "env_steps", "train_seconds")
"""What every trial reports."""
_KEYS = {"robot", "steps", "randomize", "eval_episodes", "seeds", "space"}


@dataclass(frozen=True)
class SweepSpace:
    """A sweep's search space (see the module docstring for the YAML)."""

    robot: str
    """Embedded robot name or spec YAML path."""
    steps: int
    """Environment steps of every trial."""
    axes: dict[str, list[Any]]
    """PPOConfig field -> values of the grid (``seed`` last)."""
    fixed: dict[str, Any] = field(default_factory=dict)
    """PPOConfig fields every trial shares."""
    randomize: str | None = None
    """Randomization config name or file of training and evaluation."""
    eval_episodes: int = 32
    """Episodes of each trial's final deterministic evaluation."""

    def settings(self) -> dict[str, Any]:
        """What every trial shares (the trial function's fixed settings)."""
        return {
            "robot": self.robot,
            "steps": self.steps,
            "randomize": self.randomize,
            "eval_episodes": self.eval_episodes,
            **self.fixed,
        }


def load_space(path: str | Path) -> SweepSpace:
    """Read and check a sweep's YAML (every value is validated by building its PPOConfig).

    Raises:
        Sim2RealError: a missing file, an unknown key or PPO field, a bad value.
    """
    p = Path(path)
    if not p.is_file():
        raise Sim2RealError(f"sweep space file not found: {p}")
    try:
        data = yaml.safe_load(read_text(p, Sim2RealError, "sweep space file")) or {}
    except yaml.YAMLError as exc:
        raise Sim2RealError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise Sim2RealError(f"{p}: expected a mapping with robot, steps, space, ...")
    unknown = set(data) - _KEYS
    if unknown:
        raise Sim2RealError(
            f"{p}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(_KEYS))})"
        )
    for key in ("robot", "steps"):
        if key not in data:
            raise Sim2RealError(f"{p}: '{key}' is required")
    steps = data["steps"]
    if not isinstance(steps, int) or steps < 1:
        raise Sim2RealError(f"{p}: steps must be a positive integer, got {steps!r}")
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int):
        seeds = list(range(seeds))
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds)
    ):
        raise Sim2RealError(f"{p}: seeds must be a count or a list of integers in 0 .. 2^32-1, got {seeds!r}")
    space = data.get("space")
    space = {} if space is None else space
    if not isinstance(space, dict):
        raise Sim2RealError(f"{p}: space must map PPO settings to values")
    fields = {f.name for f in dataclasses.fields(PPOConfig)}
    axes: dict[str, list[Any]] = {}
    fixed: dict[str, Any] = {}
    for name, values in space.items():
        if name not in fields:
            raise Sim2RealError(f"{p}: '{name}' is not a PPO setting (settings: {', '.join(sorted(fields))})")
        sequence = isinstance(getattr(PPOConfig(), name), tuple)  # e.g. hidden: [64, 64] is one value
        if isinstance(values, list) and (not sequence or all(isinstance(v, list) for v in values)):
            if not values:
                raise Sim2RealError(f"{p}: space.{name} has no values")
            axes[name] = values
        else:
            fixed[name] = values
    axes["seed"] = seeds
    eval_episodes = data.get("eval_episodes", 32)
    if not isinstance(eval_episodes, int) or eval_episodes < 1:
        raise Sim2RealError(f"{p}: eval_episodes must be a positive integer, got {eval_episodes!r}")
    from sim2real.parallel.tune import grid_points
    from sim2real.robots import load_robot

    robot, randomize = _absolute(data["robot"], p.parent), _absolute(data.get("randomize"), p.parent)
    task = load_robot(robot).name
    for point in grid_points({k: v for k, v in axes.items() if k != "seed"}):
        try:
            _config(task, {**fixed, **point})  # every point is a valid PPOConfig
        except Sim2RealError as exc:
            raise Sim2RealError(f"{p}: {exc}") from None
    return SweepSpace(robot, steps, axes, fixed, randomize, eval_episodes)


def _absolute(value: Any, folder: Path) -> Any:
    """A file named in the space YAML as an absolute path: relative to the working directory, else
    to the YAML's folder (Ray Tune runs each trial in a folder of its own); names (an embedded
    robot, a randomization preset) as they are."""
    if value is None:
        return None
    for candidate in (Path(str(value)), folder / str(value)):
        if candidate.is_file():
            return str(candidate.resolve())
    return str(value)


def _config(task: str, values: dict[str, Any]) -> PPOConfig:
    ppo = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return dataclasses.replace(default_config(task), **ppo)
    except TypeError as exc:
        raise Sim2RealError(f"bad sweep values {values}: {exc}") from None


def run_trial(settings: dict[str, Any]) -> dict[str, Any]:
    """Train one grid point and evaluate it: ``settings`` holds robot, steps, randomize,
    eval_episodes, seed and the PPOConfig fields of the point.

    Returns:
        :data:`METRICS`: evaluation success rate and mean return, the training episodes' success
        (last window), environment steps and training time [s].
    """
    from sim2real.robots import load_robot
    from sim2real.train.runner import Trainer

    settings = dict(settings)
    robot, steps = settings.pop("robot"), int(settings.pop("steps"))
    randomize, episodes = settings.pop("randomize", None), int(settings.pop("eval_episodes"))
    seed = int(settings.pop("seed"))
    spec = load_robot(robot)
    trainer = Trainer(spec, _config(spec.name, settings), seed=seed, randomize=randomize)
    stats = None
    while trainer.env_steps < steps:
        stats = trainer.iterate()
    evaluation = trainer.evaluate(episodes)
    trainer.close()
    return {
        "success_rate": float(evaluation["success_rate"]),
        "mean_return": float(evaluation["mean_return"]),
        "train_success": None if stats is None or stats.progress is None else float(stats.progress),
        "env_steps": int(trainer.env_steps),
        "train_seconds": round(float(trainer.seconds), 2),
    }


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list | tuple) else value


def summarize(rows: list[dict[str, Any]], axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Per setting (a grid point without its seed): mean evaluation success and return over its
    seeds, best first."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    names = [k for k in axes if k != "seed"]
    for row in rows:
        key = tuple((n, _hashable(row["settings"][n])) for n in names)  # hidden: [64, 64] is one value
        groups.setdefault(key, []).append(row["metrics"])
    out = []
    for key, metrics in groups.items():
        out.append(
            {
                **{n: list(v) if isinstance(v, tuple) else v for n, v in key},
                "seeds": len(metrics),
                "success_rate": sum(m["success_rate"] for m in metrics) / len(metrics),
                "mean_return": sum(m["mean_return"] for m in metrics) / len(metrics),
            }
        )
    out.sort(key=lambda r: (-r["success_rate"], -r["mean_return"] if math.isfinite(r["mean_return"]) else 0))
    return out
