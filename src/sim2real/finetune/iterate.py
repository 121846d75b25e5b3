"""Iterative fine-tuning on the twin: deploy -> log -> fine-tune -> deploy, for N rounds (needs ``train``).

Every episode is a :class:`~sim2real.deploy.loop.ControlLoop` run on a fresh
:class:`~sim2real.real.twin.TwinRobot` (hidden parameters and effects of the twin file; the
effects' seed varies per episode), from the task's start state, behind the safety monitor, logged
as a rosbag2 directory.  Data-collection episodes run the current policy with exploration noise
(:class:`~sim2real.finetune.explore.NoisyPolicy`); each round fine-tunes a fresh adapter on the
base policy from every episode so far and exports ``round<k>.onnx``, which the next round deploys.

The speed progression starts at its last stage (100 %): a task episode (e.g. the furuta's 6 s
swing-up) cannot wait for the stages; every hard limit of the safety monitor stays enforced.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.record import initial_state
from sim2real.deploy.speed import SpeedConfig
from sim2real.errors import Sim2RealError
from sim2real.finetune.base import load_base
from sim2real.finetune.data import (
    ReplayBuffer,
    check_observation_from_logs,
    check_rewards_from_logs,
    load_episodes,
)
from sim2real.finetune.explore import ExplorationConfig, NoisyPolicy
from sim2real.finetune.pipeline import finetune_episodes
from sim2real.finetune.trainer import FinetuneConfig
from sim2real.policy.metadata import read_metadata
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IterateConfig:
    """Iterative fine-tuning on the twin."""

    rounds: int = 2
    """Deploy -> fine-tune rounds."""
    episodes_per_round: int = 10
    """Logged twin episodes per round."""
    episode_s: float | None = None
    """Length of an episode [s] (None: the task's episode length)."""
    exploration: ExplorationConfig = field(default_factory=ExplorationConfig)
    """Exploration noise of the data-collection episodes."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    """Each round's fine-tuning."""
    seed: int = 0
    """Seed of the start states, twin effects and exploration noise."""

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.episodes_per_round < 1:
            raise Sim2RealError("rounds and episodes per round must be at least 1")
        if self.episode_s is not None and not self.episode_s > 0:
            raise Sim2RealError(f"episode length must be positive, got {self.episode_s}")


def episode_seconds(spec: RobotSpec, seconds: float | None = None) -> float:
    """``seconds``, else the length of the robot's task episode [s]."""
    if seconds is not None:
        return float(seconds)
    from sim2real.tasks import get_task

    return float(get_task(spec).episode_s)


def twin_episode(
    policy: str | Path,
    spec: RobotSpec,
    twin: TwinConfig,
    seed: int,
    *,
    seconds: float | None = None,
    log_path: str | Path | None = None,
    exploration: ExplorationConfig | None = None,
) -> dict[str, Any]:
    """One episode of a policy file on a fresh twin, behind the safety monitor.

    Args:
        policy: The ``.onnx`` policy file.
        spec: The robot.
        twin: Hidden parameters and effects (the effects' seed is replaced by ``seed``).
        seed: Seed of the start state, the twin's random effects and the exploration noise.
        seconds: Episode length [s] (default: the task's).
        log_path: Bag directory to write (None: no log).
        exploration: Exploration noise (None or std 0: the plain PolicyRunner).

    Returns:
        The loop summary (``episode_return``, ``safety`` ...) plus ``safety_events``: monitor
        events (clamps, holds, stops) of the episode.
    """
    q0, qd0 = initial_state(spec, seed)
    config = dataclasses.replace(twin, effects=dataclasses.replace(twin.effects, seed=int(seed)))
    robot = TwinRobot(spec, config, initial_qpos=q0)
    robot.reset(q0, qd0)
    if exploration is not None and exploration.std > 0:
        runner: Any = NoisyPolicy(policy, spec, dataclasses.replace(exploration, seed=int(seed)))
    else:
        runner = PolicyRunner(policy, spec, providers="cpu")
    last = len(SpeedConfig().stages) - 1
    loop = ControlLoop(
        robot,
        runner,
        config=LoopConfig(speed=SpeedConfig(start_stage=last)),
        log_path=log_path,
        log_meta={
            "source": "sim2real.finetune",
            "policy_file": str(Path(policy).resolve()),
            "seed": int(seed),
        },
    )
    with loop:
        loop.run(episode_seconds(spec, seconds))
    summary = loop.close()
    robot.close()
    summary["safety_events"] = int(summary["safety"]["events"])
    return summary


def evaluate_on_twin(
    policy: str | Path, spec: RobotSpec, twin: TwinConfig, seeds: list[int], seconds: float | None = None
) -> dict[str, Any]:
    """Mean return and safety events of a policy (no exploration) over one twin episode per seed."""
    runs = [twin_episode(policy, spec, twin, s, seconds=seconds) for s in seeds]
    returns = [float(r["episode_return"]) for r in runs]
    return {
        "mean_return": float(np.mean(returns)),
        "returns": returns,
        "safety_events": int(sum(r["safety_events"] for r in runs)),
        "safe_stops": int(sum(bool(r["safety"]["latched"]) for r in runs)),
        "episodes": len(runs),
    }


def iterate(
    policy: str | Path,
    spec: RobotSpec,
    twin: TwinConfig,
    out_dir: str | Path,
    config: IterateConfig | None = None,
) -> dict[str, Any]:
    """Deploy -> log -> fine-tune -> deploy on the twin for ``config.rounds`` rounds.

    Writes ``out_dir/round<k>/ep<i>`` (logs) and ``out_dir/round<k>.onnx`` (the adapted policy of
    round k; the last one is the result).

    Returns:
        Per round: logged returns, safety events of the collection episodes, fine-tuning figures,
        and the policy file; ``policy``: the final file; ``real_episodes``: episodes used.
    """
    config = config or IterateConfig()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise Sim2RealError(f"{out_dir} exists and is not empty; fine-tuning never overwrites logs")
    meta = read_metadata(policy)
    check_observation_from_logs(meta, Path(policy).name)  # before any twin episode
    check_rewards_from_logs(spec)  # a walking task's rewards: before a twin episode, not after
    if any(t.name == "velocity_command" for t in meta.observation):
        log.warning(
            "%s observes a velocity command: the twin episodes run at velocity command 0 (standing), so "
            "fine-tuning learns from standing only",
            Path(policy).name,
        )
    base = load_base(policy, spec)
    buffer = ReplayBuffer()
    current = Path(policy)
    rounds = []
    for k in range(config.rounds):
        logs, returns, events = [], [], 0
        for i in range(config.episodes_per_round):
            seed = config.seed * 100_003 + k * 1000 + i
            path = out_dir / f"round{k}" / f"ep{i:03d}"
            summary = twin_episode(
                current,
                spec,
                twin,
                seed,
                seconds=config.episode_s,
                log_path=path,
                exploration=config.exploration,
            )
            logs.append(path)
            returns.append(float(summary["episode_return"]))
            events += summary["safety_events"]
        buffer.add(load_episodes(logs, spec, base.metadata))
        target = out_dir / f"round{k}.onnx"
        finetune_config = dataclasses.replace(config.finetune, seed=config.finetune.seed + k)
        result = finetune_episodes(
            base,
            spec,
            buffer,
            target,
            finetune_config,
            extra={"iterative": {"round": k, "of": config.rounds}},
        )
        log.info(
            "round %d: %d episodes, logged mean return %.3f, %d safety events; wrote %s",
            k,
            len(logs),
            float(np.mean(returns)),
            events,
            target,
        )
        rounds.append(
            {
                "round": k,
                "policy": str(target),
                "logged_returns": returns,
                "logged_mean_return": float(np.mean(returns)),
                "collection_safety_events": events,
                "finetune": result.stats,
            }
        )
        current = target
    return {
        "policy": str(current),
        "rounds": rounds,
        "real_episodes": config.rounds * config.episodes_per_round,
    }
