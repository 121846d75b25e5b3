"""Training for the pipeline: calibrated setups, and runs that keep their learning curves."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

__all__ = ["TrainedPolicy", "calibrated_setup", "train_policy"]


def calibrated_setup(
    spec: RobotSpec,
    calib: Any,
    widen: float = 2.0,
    base: Any = None,
    path: str | Path | None = None,
    *,
    allow_out_of_bounds: bool = False,
) -> tuple[Any, Any, dict[str, Any]]:
    """What training on a calibration needs: the calibrated model, the randomization centred on it,
    and the record stored in the checkpoint.

    Args:
        spec: The robot.
        calib: A :class:`~sim2real.calibration.Calibration` or a calibration file (its spec hash is checked).
        widen: Randomization half-width in half-widths of each confidence interval.
        base: Base randomization (name, file or mapping) whose other entries are kept, or None.
        path: Where the calibration came from (for the record; default: ``calib`` when a path).
        allow_out_of_bounds: Accept a calibration file's values outside the plausible bounds.

    Returns:
        ``(model, randomization, record)``; ``record`` holds ``path``, ``spec_hash``, ``created``,
        ``widen``, ``base`` and ``values`` (name -> value as a list).

    Raises:
        SpecMismatchError: the calibration was made for another robot spec (both hashes named).
    """
    from sim2real.calibration import Calibration, calibrated_model, load_calibration
    from sim2real.randomize import Randomization

    if not isinstance(calib, Calibration):
        path = calib if path is None else path
        calib = load_calibration(calib, spec, allow_out_of_bounds=allow_out_of_bounds)
    model = calibrated_model(spec, calib)
    rnd = Randomization.from_calibration(calib, widen, spec=spec, base=base)
    record = {
        "path": None if path is None else str(Path(path).resolve()),
        "spec_hash": calib.spec_hash,
        "created": calib.created,
        "widen": float(widen),
        "base": None if base is None else str(base),
        "values": {k: [float(x) for x in v] for k, v in calib.values().items()},
    }
    return model, rnd, record


@dataclass
class TrainedPolicy:
    """A finished training run and its learning curve."""

    run: Path
    """Run directory (``policy.pt`` inside)."""
    curve: list[dict[str, float | None]] = field(default_factory=list)
    """Per iteration: ``seconds``, ``env_steps``, ``mean_return``, ``success_rate``, and
    ``eval_success`` (the quick evaluation made at that iteration, else None)."""
    sim_success: float = 0.0
    """Success rate of the final deterministic evaluation under the run's own randomization."""
    seconds: float = 0.0
    """Training wall time [s]."""
    env_steps: int = 0
    """Environment steps trained."""
    actuator_coverage: list[str] = field(default_factory=list)
    """Actuator network inputs training drove outside their fit's data (one line each)."""


def train_policy(
    spec: RobotSpec,
    run: str | Path,
    steps: int,
    *,
    seed: int = 0,
    randomize: Any = None,
    model: Any = None,
    calibration: dict[str, Any] | None = None,
    num_envs: int | None = None,
    hidden: tuple[int, ...] | None = None,
    eval_episodes: int = 32,
    eval_every: int | None = None,
    stop_success: float | None = None,
    on_iteration: Callable[[Any], None] | None = None,
) -> TrainedPolicy:
    """Train the robot's task with PPO for ``steps`` environment steps and save ``run/policy.pt``.

    Args:
        spec: The robot.
        run: Run directory.
        steps: Environment step budget (at least one iteration runs).
        seed: Training seed.
        randomize: Randomization (name, file, mapping or loaded config), or None.
        model: Compiled model to train on (e.g. calibrated), or None for the nominal one.
        calibration: Record of the calibration ``model`` comes from (checkpoint metadata).
        num_envs: Parallel simulations (None: the preset's).
        hidden: Actor and critic widths (None: the preset's).
        eval_episodes: Episodes of the final evaluation (under the run's randomization).
        eval_every: Iterations between quick evaluations (None: the preset's).
        stop_success: Stop before ``steps`` once a quick evaluation reaches this success rate
            (None: always run ``steps``).
        on_iteration: Called with each iteration's ``IterationStats``.
    """
    from sim2real.train.config import default_config
    from sim2real.train.runner import Trainer

    config = default_config(spec)
    if num_envs is not None:
        config = dataclasses.replace(config, num_envs=num_envs)
    if hidden is not None:
        config = dataclasses.replace(config, hidden=hidden, critic_hidden=hidden)
    if eval_every is not None:
        config = dataclasses.replace(config, eval_every=eval_every)
    run = Path(run)
    trainer = Trainer(spec, config, seed, randomize, None, log_dir=None, model=model, calibration=calibration)
    result = TrainedPolicy(run)
    while True:
        stats = trainer.iterate()
        fresh = bool(config.eval_every) and stats.iteration % config.eval_every == 0
        result.curve.append(
            {
                "seconds": stats.seconds,
                "env_steps": float(stats.env_steps),
                "mean_return": stats.mean_return,
                "success_rate": stats.success_rate,
                "eval_success": stats.eval_success if fresh else None,
            }
        )
        if on_iteration is not None:
            on_iteration(stats)
        if trainer.env_steps >= steps:
            break
        if stop_success is not None and fresh and (stats.eval_success or 0.0) >= stop_success:
            log.info(
                "quick evaluation success %.2f after %d steps: done", stats.eval_success, stats.env_steps
            )
            break
    evaluation = trainer.evaluate(eval_episodes)
    result.sim_success = float(evaluation["success_rate"])
    result.seconds = trainer.seconds
    result.env_steps = trainer.env_steps
    result.actuator_coverage = trainer.actuator_coverage()
    trainer.save(run / "policy.pt")
    trainer.close()
    return result
