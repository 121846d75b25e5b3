"""``sim2real train`` and ``sim2real evaluate``: PPO training runs and their evaluation."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any

import tyro

from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError

log = logging.getLogger(__name__)

SUCCESS_RULES = {
    "pendulum": "upright within 0.2 rad for the last 2 s of the episode",
    "furuta": "pendulum upright within 0.2 rad for the last 2 s of the episode",
    "quadruped": "no fall and mean velocity tracking error below 0.25 m/s over the episode",
}
"""The success definition of each built-in task, in words (the tasks' SuccessRule)."""


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def train(
    robot: str,
    out: str,
    steps: int | None = None,
    randomize: str | None = None,
    curriculum: str | None = None,
    calib: str | None = None,
    widen: float = 2.0,
    seed: int = 0,
    resume: bool = False,
    envs: int | None = None,
    eval_episodes: int = 32,
    save_every: float = 60.0,
    nproc: int = 1,
    json: bool = False,
) -> int:
    """Train a policy with PPO (rsl_rl) in the batched simulator.

    Writes RUN/policy.pt (networks, normalizer statistics, optimizer, counters and the metadata
    export needs) and TensorBoard logs in RUN.  The same seed gives the same run.

    Args:
        robot: Embedded robot name or spec YAML path.
        out: Run directory RUN.
        steps: Total environment steps of the run (default: the task's budget); with --resume the
            run continues until it has this many.
        randomize: Domain randomization config name (none, default, full) or YAML file.
        curriculum: Randomization curriculum name (e.g. ladder) or YAML file.
        calib: Calibration YAML (from `sim2real identify`): train on the calibrated model, with
            randomization centred on the identified values (WIDEN times their confidence
            intervals) over the --randomize config when one is given.  Recorded in the checkpoint
            and carried into the exported policy's randomization summary.
        widen: With --calib: range half-width in half-widths of each confidence interval.
        seed: Seed of the environments, the network initialization and PPO's sampling.
        resume: Continue the run in RUN from its checkpoint.
        envs: Number of parallel simulations (default: the task's preset).
        eval_episodes: Episodes of the final deterministic evaluation, under the run's own
            randomization (0: none).
        save_every: Seconds between checkpoints during training.
        nproc: Processes of data-parallel PPO on this machine (torch.distributed, gloo): each
            steps envs/nproc simulations with its own seed, gradients and normalizer statistics
            are averaged over them; one checkpoint.  For several machines launch with torchrun
            (docs/scale.md).
        json: Print a JSON summary on stdout.
    """
    if nproc > 1:
        options = {k: v for k, v in locals().items() if k != "nproc"}
        from sim2real.train.distributed import launch

        return launch(train, nproc, options)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from sim2real.train.config import default_steps
    from sim2real.train.distributed import is_main, join_world
    from sim2real.train.runner import make_trainer

    world_size = join_world()  # 1, or this process's rank of --nproc / torchrun

    run = Path(out)
    if not resume and (run / "policy.pt").exists():
        raise Sim2RealError(f"{run} already holds a run; continue it with --resume or choose another --out")
    model = rnd = record = None
    if calib is not None:
        if resume:
            raise Sim2RealError("--calib starts a run; a resumed run keeps the calibration it was trained on")
        if curriculum is not None:
            raise Sim2RealError(
                "--calib centres the randomization on the calibration; it takes no --curriculum"
            )
        from sim2real.pipeline.training import calibrated_setup
        from sim2real.robots import load_robot

        model, rnd, record = calibrated_setup(load_robot(robot), calib, widen, randomize)
    trainer = make_trainer(
        robot,
        run,
        seed,
        rnd if rnd is not None else randomize,
        curriculum,
        envs,
        resume,
        model=model,
        calibration=record,
    )
    # the quick evaluations build randomization hooks every few seconds: keep their notices quiet
    logging.getLogger("sim2real.randomize.hooks").setLevel(logging.WARNING)
    total = int(steps if steps is not None else default_steps(trainer.task))
    human(
        f"training {trainer.task.name} on '{trainer.spec.name}' (spec {trainer.spec.hash[:12]}): "
        f"{trainer.config.num_envs} envs, {total:,} steps, seed {trainer.seed}, "
        f"randomize {randomize or curriculum or 'none'}"
        + (f", calibrated by {calib} (x{widen:g} intervals)" if calib else "")
        + f" -> {run}",
        json,
    )
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
        TextColumn("return {task.fields[ret]}"),
        TextColumn("success {task.fields[success]}"),
        TextColumn("stage {task.fields[stage]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    stats = None
    last_save = time.perf_counter()
    try:
        with Progress(*columns, console=console, transient=json) as progress:
            bar = progress.add_task(
                trainer.task.name, total=total, completed=trainer.env_steps, ret="-", success="-", stage="-"
            )
            while trainer.env_steps < total:
                stats = trainer.iterate()
                progress.update(
                    bar,
                    completed=stats.env_steps,
                    ret=_fmt(stats.mean_return),
                    success=_fmt(stats.progress, ".2f"),
                    stage=stats.stage or "-",
                )
                if time.perf_counter() - last_save > save_every:
                    trainer.save(run / "policy.pt")
                    last_save = time.perf_counter()
    except KeyboardInterrupt:
        trainer.save(run / "policy.pt")
        trainer.close()
        human(f"interrupted: checkpoint at {run / 'policy.pt'} (continue with --resume)", json)
        raise
    evaluation: dict[str, Any] | None = None
    if eval_episodes > 0 and is_main():  # the networks are the same on every rank: rank 0 evaluates
        result = trainer.evaluate(eval_episodes)
        evaluation = {k: result[k] for k in ("success_rate", "mean_return", "episodes")}
    path = trainer.save(run / "policy.pt")
    trainer.close()
    summary = {
        "run": str(run),
        "checkpoint": str(path),
        "robot": trainer.spec.name,
        "task": trainer.task.name,
        "env_steps": trainer.env_steps,
        "iterations": trainer.iteration,
        "train_seconds": round(trainer.seconds, 2),
        "mean_return": stats.mean_return if stats else None,
        "success_rate": stats.progress if stats else None,
        "stage": trainer.randomization.stage,
        "randomize": randomize,
        "curriculum": curriculum,
        "calib": calib,
        "evaluation": evaluation,
        "world_size": world_size,
    }
    text = (
        f"{trainer.env_steps:,} steps in {trainer.seconds:.0f} s; training episodes: return "
        f"{_fmt(summary['mean_return'])}, success {_fmt(summary['success_rate'], '.2f')}"
        + (
            f"; evaluation ({evaluation['episodes']} episodes): success {evaluation['success_rate']:.2f}, "
            f"return {evaluation['mean_return']:.3g}"
            if evaluation
            else ""
        )
        + f"\ncheckpoint: {path}"
    )
    emit(summary, json, text)
    return 0


def evaluate(
    run: Annotated[str, tyro.conf.Positional],
    randomize: str | None = None,
    episodes: int = 64,
    seed: int = 1,
    json: bool = False,
) -> int:
    """Evaluate a trained policy: success rate and mean return over K episodes.

    Each episode starts from the task's reset distribution and runs the deterministic policy
    (the tanh mean, as exported) through the training simulator.  Success is the task's own rule:
    pendulum and furuta: upright within 0.2 rad for the last 2 s of the episode; quadruped: no
    fall and mean velocity tracking error below 0.25 m/s over the episode.

    Args:
        run: Training run directory (or its policy.pt).
        randomize: Domain randomization config name or YAML file to evaluate under.
        episodes: Number of episodes K.
        seed: Seed of the episodes' initial states, commands and randomization.
        json: Print {"success_rate", "mean_return", "episodes"} on stdout.
    """
    from sim2real.robots import load_robot
    from sim2real.tasks import get_task
    from sim2real.train.checkpoint import check_spec, load_policy, run_model
    from sim2real.train.evaluate import evaluate_policy
    from sim2real.train.randomization import resolve_randomization

    if episodes < 1:
        raise Sim2RealError(f"--episodes must be at least 1, got {episodes}")
    policy, meta = load_policy(run)
    robot_path = Path(meta.get("robot_path", ""))
    spec = load_robot(robot_path if robot_path.is_file() else meta["robot"])
    check_spec(meta, spec)
    task = get_task(spec)
    hooks = resolve_randomization(spec, randomize, None, seed).hooks
    human(f"evaluating {run} on {task.name} ({episodes} episodes, randomize {randomize or 'none'})", json)
    model = run_model(spec, meta)  # a --calib run is evaluated on its calibrated model
    result = evaluate_policy(policy, spec, task, episodes, seed=seed, hooks=hooks, model=model)
    summary = {
        "success_rate": result["success_rate"],
        "mean_return": result["mean_return"],
        "episodes": result["episodes"],
        "task": task.name,
        "randomize": randomize,
        "calibrated": model is not None,
        "success_rule": SUCCESS_RULES.get(task.name, task.success.kind),
    }
    text = (
        f"success {summary['success_rate']:.3f} ({summary['success_rule']}), mean return "
        f"{summary['mean_return']:.4g} over {episodes} episodes"
    )
    emit(summary, json, text)
    return 0
