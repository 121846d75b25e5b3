"""Freshly trained tiny policies for every embedded robot, and their exported files.

Each policy comes from a real (tiny) PPO run of ``sim2real.train``: 16 simulations x 16 steps x 3
iterations with a (32, 32) network, so the observation normalizer holds statistics of simulated
rollouts and the weights have been through PPO updates.  It is read back with
``sim2real.train.checkpoint.load_policy`` exactly as ``sim2real export`` reads a run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sim2real.robots import EMBEDDED, RobotSpec, load_robot


@dataclass
class TrainedRun:
    spec: RobotSpec
    run_dir: Path
    policy: Any
    metadata: dict


@dataclass
class Exported:
    spec: RobotSpec
    run: TrainedRun
    path: Path
    result: Any


def train_tiny(name: str, run_dir: Path, seed: int = 0) -> TrainedRun:
    pytest.importorskip("torch", reason="training and export need the train extra (torch)")
    from sim2real.train.checkpoint import load_policy
    from sim2real.train.config import default_config
    from sim2real.train.runner import Trainer

    config = dataclasses.replace(
        default_config(name),
        num_envs=16,
        steps_per_env=16,
        hidden=(32, 32),
        critic_hidden=(32, 32),
        torch_threads=1,
    )
    trainer = Trainer(name, config, seed=seed, nthread=1)
    for _ in range(3):
        trainer.iterate()
    trainer.save(run_dir / "policy.pt")
    trainer.close()
    policy, metadata = load_policy(run_dir)
    return TrainedRun(spec=load_robot(name), run_dir=run_dir, policy=policy, metadata=metadata)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedRun]:
    """name -> a freshly trained tiny run of that robot."""
    return {name: train_tiny(name, tmp_path_factory.mktemp(f"run_{name}")) for name in EMBEDDED}


@pytest.fixture(scope="session")
def exported(trained: dict[str, TrainedRun], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    """name -> the run's policy exported with export_policy (full parity check)."""
    from sim2real.policy.export import export_policy

    out = {}
    folder = tmp_path_factory.mktemp("exported")
    for name, run in trained.items():
        path = folder / f"{name}.onnx"
        result = export_policy(run.policy, run.spec, path, metadata=run.metadata, seed=1)
        out[name] = Exported(spec=run.spec, run=run, path=path, result=result)
    return out
