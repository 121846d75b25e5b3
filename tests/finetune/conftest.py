"""A freshly trained tiny furuta policy, exported, and short logged twin episodes of it.

The policy comes from a real (tiny) PPO run (16 simulations x 16 steps x 3 iterations, (32, 32)
network), exported with :func:`sim2real.policy.export.export_policy` exactly as ``sim2real export``
does: fine-tuning starts from that ONNX file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from finetune_testdata import EPISODE_S, twin_config

from sim2real.robots import RobotSpec, load_robot

pytest.importorskip("torch", reason="fine-tuning needs the train extra (torch)")


@dataclass
class Base:
    spec: RobotSpec
    path: Path
    policy: Any
    metadata: dict


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    from sim2real.policy.export import export_policy
    from sim2real.train.checkpoint import load_policy
    from sim2real.train.config import default_config
    from sim2real.train.runner import Trainer

    run_dir = tmp_path_factory.mktemp("finetune_base")
    config = dataclasses.replace(
        default_config("furuta"),
        num_envs=16,
        steps_per_env=16,
        hidden=(32, 32),
        critic_hidden=(32, 32),
        torch_threads=1,
    )
    trainer = Trainer("furuta", config, seed=0, nthread=1)
    for _ in range(3):
        trainer.iterate()
    trainer.save(run_dir / "policy.pt")
    trainer.close()
    policy, metadata = load_policy(run_dir)
    spec = load_robot("furuta")
    path = run_dir / "policy.onnx"
    export_policy(policy, spec, path, metadata=metadata, n_random=2000, n_recorded=200, seed=0)
    return Base(spec=spec, path=path, policy=policy, metadata=metadata)


@pytest.fixture(scope="session")
def logs(base: Base, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three short logged twin episodes of the base policy with exploration noise."""
    from sim2real.finetune.explore import ExplorationConfig
    from sim2real.finetune.iterate import twin_episode

    folder = tmp_path_factory.mktemp("finetune_logs")
    paths = []
    for seed in range(3):
        path = folder / f"ep{seed}"
        twin_episode(
            base.path,
            base.spec,
            twin_config(),
            seed,
            seconds=EPISODE_S,
            log_path=path,
            exploration=ExplorationConfig(std=0.2, correlation_s=0.02),
        )
        paths.append(path)
    return paths
