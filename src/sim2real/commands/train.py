"""``sim2real train`` and ``sim2real evaluate``: PPO training runs and their evaluation."""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import tyro

from sim2real.commands.arguments import Count, NonNegative, NonNegativeCount, Positive, Seed
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


class _TrainProgress:
    """Progress of a training run on stderr: a rich bar on a terminal, else a line every ``period`` s."""

    def __init__(self, label: str, total: int, completed: int, as_json: bool, period: float = 10.0) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.tty = self.console.is_terminal
        self.label = label
        self.total = total
        self.period = period
        self.as_json = as_json
        self._start = time.perf_counter()
        self._next = self._start + period
        self._bar: Any = None
        self._task: Any = None
        self._completed = completed

    def __enter__(self) -> _TrainProgress:
        if self.tty:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                TextColumn("return {task.fields[ret]}"),
                TextColumn("success {task.fields[success]}"),
                TextColumn("stage {task.fields[stage]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=self.as_json,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(
                self.label, total=self.total, completed=self._completed, ret="-", success="-", stage="-"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, stats: Any) -> None:
        ret, success = _fmt(stats.mean_return), _fmt(stats.progress, ".2f")
        if self._bar is not None:
            self._bar.update(
                self._task, completed=stats.env_steps, ret=ret, success=success, stage=stats.stage or "-"
            )
            return
        now = time.perf_counter()
        if now >= self._next:
            self._next = now + self.period
            self.line(
                f"{stats.env_steps:,}/{self.total:,} steps ({100 * stats.env_steps / self.total:.0f} %), "
                f"{now - self._start:.0f} s: training return {ret}, success {success}"
                + (f", stage {stats.stage}" if stats.stage else "")
            )

    def line(self, text: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        if self._bar is not None:
            self._bar.console.print(f"{self.label}: {text}", markup=False, highlight=False)
        else:
            print(f"{self.label}: {text}", file=sys.stderr, flush=True)


def _gate_due(trainer: Any, gate: Any) -> bool:
    """The gate applies at the final stage of a curriculum only (earlier stages are easier)."""
    cur = trainer.randomization.curriculum
    final = cur is None or cur.stage_index == len(cur.stages) - 1
    return final and gate.due()


def whole_rollouts(total: int, start: int, per_iteration: int) -> int:
    """The step budget ``total`` rounded up to whole PPO iterations of ``per_iteration`` environment
    steps counted from ``start`` (a resumed run's steps): a rollout is never cut short, so this is
    where the run really stops and what its progress is measured against."""
    if total <= start or per_iteration <= 0:
        return total
    return start + -(-(total - start) // per_iteration) * per_iteration


def train_loop(
    trainer: Any, total: int, gate: Any, progress: _TrainProgress, checkpoint: Path, save_every: float
) -> tuple[Any, bool]:
    """PPO iterations until ``total`` environment steps, or until ``gate`` (a
    :class:`~sim2real.train.gate.SuccessGate`, None: never) is met; a checkpoint every
    ``save_every`` seconds.  Returns the last iteration's stats and whether the gate was met.

    In a multi-process run rank 0 alone evaluates and decides, and every rank follows its decision."""
    from sim2real.train.distributed import from_main, is_main

    stats = None
    last_save = time.perf_counter()
    while trainer.env_steps < total:
        stats = trainer.iterate()
        progress.update(stats)
        if gate is not None:
            # rank 0 evaluates and decides (the others of a --nproc run would disagree on when the
            # gate is due); every rank stops at the same iteration
            reached = False
            if is_main() and _gate_due(trainer, gate):
                reached = gate.check(trainer.env_steps)
                last = gate.last
                assert last is not None
                progress.line(
                    f"evaluation after {trainer.env_steps:,} steps: success {last['success_rate']:.2f} "
                    f"over {last['episodes']} episodes"
                    + (f" >= {gate.config.target:.2f}: learnt" if reached else "")
                )
            if from_main(reached):
                return stats, True
        if time.perf_counter() - last_save > save_every:
            trainer.save(checkpoint)
            last_save = time.perf_counter()
    return stats, False


def train(
    robot: str,
    out: str,
    steps: Count | None = None,
    randomize: str | None = None,
    curriculum: str | None = None,
    calib: str | None = None,
    widen: NonNegative = 2.0,
    seed: Seed = 0,
    resume: bool = False,
    envs: Count | None = None,
    eval_episodes: NonNegativeCount = 32,
    early_stop: bool = True,
    save_every: Positive = 60.0,
    allow_out_of_bounds: bool = False,
    nproc: Count = 1,
    json: bool = False,
) -> int:
    """Train a policy with PPO (rsl_rl) in the batched simulator, until it has learnt the task.

    The run stops at the task's success gate (the rule `sim2real bench train` measures with):
    every 10 s of training (60 s for the quadruped) a quick deterministic evaluation of 16
    episodes runs under the run's own randomization, and when it reaches 0.9 a full one of 64
    episodes; the run stops when that reaches 0.95 (0.9 for the quadruped).  --steps caps the
    run; --no-early-stop runs the whole budget.  Writes RUN/policy.pt (networks, normalizer
    statistics, optimizer, counters and the metadata export needs) and TensorBoard logs in RUN.
    Progress goes to stderr: a bar on a terminal, a line every 10 s otherwise.

    Args:
        robot: Embedded robot name or spec YAML path.
        out: Run directory RUN.
        steps: Most environment steps of the run (default: the task's budget, e.g. 20 M for the
            furuta); with --resume the run continues until it has this many.
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
            randomization (0: none); a run stopped by the success gate reports the gate's
            evaluation instead.
        early_stop: Stop at the success gate; --no-early-stop trains for the whole --steps budget.
        save_every: Seconds between checkpoints during training.
        allow_out_of_bounds: Accept a calibration or randomization file whose values lie outside
            the robot's plausible parameter bounds.
        nproc: Processes of data-parallel PPO on this machine (torch.distributed, gloo): each
            steps envs/nproc simulations with its own seed, gradients and normalizer statistics
            are averaged over them; one checkpoint.  For several machines launch with torchrun
            (docs/scale.md).  The success gate is decided on rank 0 and applied by every rank.
        json: Print a JSON summary on stdout.
    """
    if nproc > 1:
        options = {k: v for k, v in locals().items() if k != "nproc"}
        _check_options(out, resume, robot, randomize, curriculum, allow_out_of_bounds)
        from sim2real.train.distributed import launch

        return launch(train, nproc, options)
    from sim2real.train.config import default_steps
    from sim2real.train.distributed import is_main, join_world
    from sim2real.train.gate import SuccessGate, gate_config
    from sim2real.train.runner import make_trainer

    world_size = join_world()  # 1, or this process's rank of --nproc / torchrun

    run = Path(out)
    _check_options(out, resume, robot, randomize, curriculum, allow_out_of_bounds)
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

        model, rnd, record = calibrated_setup(
            load_robot(robot), calib, widen, randomize, allow_out_of_bounds=allow_out_of_bounds
        )
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
    asked = int(steps if steps is not None else default_steps(trainer.task))
    total = whole_rollouts(asked, trainer.env_steps, trainer.steps_per_iteration)
    rule = gate_config(trainer.task)
    eval_seed = trainer.seed + 10_000
    gate = SuccessGate(rule, lambda n: trainer.evaluate(n, seed=eval_seed)["success_rate"])
    human(
        f"training {trainer.task.name} on '{trainer.spec.name}' (spec {trainer.spec.hash[:12]}): "
        f"{trainer.config.num_envs} envs, at most {total:,} steps"
        + (f" ({asked:,} asked, rounded up to whole rollouts of {trainer.steps_per_iteration:,})" if total != asked else "")
        + (f" (stops at {rule.target:.0%} success)" if early_stop else "")
        + f", seed {trainer.seed}, randomize {randomize or curriculum or 'none'}"
        + (f", calibrated by {calib} (x{widen:g} intervals)" if calib else "")
        + f" -> {run}",
        json,
    )
    progress = _TrainProgress(trainer.task.name, total, trainer.env_steps, json)
    try:
        with progress:
            stats, reached = train_loop(
                trainer, total, gate if early_stop else None, progress, run / "policy.pt", save_every
            )
    except KeyboardInterrupt:
        trainer.save(run / "policy.pt")
        trainer.close()
        human(f"interrupted: checkpoint at {run / 'policy.pt'} (continue with --resume)", json)
        raise
    evaluation: dict[str, Any] | None = None
    if reached:  # the gate's full evaluation (rank 0's: the other ranks of --nproc print nothing)
        if trainer.last_evaluation is not None:
            evaluation = {k: trainer.last_evaluation[k] for k in ("success_rate", "mean_return", "episodes")}
    elif eval_episodes > 0 and is_main():  # the networks are the same on every rank: rank 0 evaluates
        result = trainer.evaluate(eval_episodes)
        evaluation = {k: result[k] for k in ("success_rate", "mean_return", "episodes")}
    path = trainer.save(run / "policy.pt")
    trainer.close()
    stopped = "success gate" if reached else "step budget"
    summary = {
        "run": str(run),
        "checkpoint": str(path),
        "robot": trainer.spec.name,
        "task": trainer.task.name,
        "env_steps": trainer.env_steps,
        "iterations": trainer.iteration,
        "train_seconds": round(trainer.seconds, 2),
        "stopped_by": stopped,
        "success_gate": {**dataclasses.asdict(rule), "reached": reached, "evaluations": gate.evaluations},
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
        f"{trainer.env_steps:,} steps in {trainer.seconds:.0f} s of training, stopped by the {stopped}; "
        f"last training episodes' return {_fmt(summary['mean_return'])}"
        + (
            f"; deterministic evaluation ({evaluation['episodes']} episodes, the run's randomization): "
            f"success {evaluation['success_rate']:.2f}, return {evaluation['mean_return']:.3g}"
            if evaluation
            else ""
        )
        + f"\ncheckpoint: {path}"
    )
    emit(summary, json, text)
    return 0


def _check_options(
    out: str,
    resume: bool,
    robot: str,
    randomize: str | None,
    curriculum: str | None,
    allow_out_of_bounds: bool,
) -> None:
    """Refuse bad train options before any work (and before --nproc starts its processes)."""
    if not resume and (Path(out) / "policy.pt").exists():
        raise Sim2RealError(f"{out} already holds a run; continue it with --resume or choose another --out")
    if randomize is not None and not resume:
        _check_randomization(robot, randomize, allow_out_of_bounds)
    if curriculum is not None and not resume:
        _check_curriculum(robot, curriculum, allow_out_of_bounds)


def one_torch_thread() -> None:
    """Small networks run fastest on one thread: more only contend with each other and MuJoCo
    (measured: 64 furuta episodes take 10x longer with torch's default threads on a busy 2-core
    machine)."""
    import torch

    torch.set_num_threads(1)


def _check_randomization(robot: str, randomize: str, allow: bool) -> None:
    """A randomization file's ranges against the robot's stated bounds (built-in configs pass)."""
    from sim2real.randomize import load_randomization
    from sim2real.randomize.config import check_bounds
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    check_bounds(load_randomization(spec, randomize), spec, allow=allow)


def _check_curriculum(robot: str, curriculum: str, allow: bool) -> None:
    """Every stage of a curriculum file against the robot's stated bounds, as a randomization file."""
    from sim2real.randomize.config import check_bounds
    from sim2real.randomize.curriculum import load_stages
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    for stage in load_stages(spec, curriculum)[1]:
        check_bounds(stage.randomization, spec, allow=allow)


def evaluate(
    run: Annotated[str, tyro.conf.Positional],
    randomize: str | None = None,
    episodes: Count = 64,
    seed: Seed = 1,
    allow_out_of_bounds: bool = False,
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
        allow_out_of_bounds: Accept a randomization file whose ranges leave the robot's plausible
            parameter bounds.
        json: Print {"success_rate", "mean_return", "episodes"} on stdout.
    """
    from sim2real.robots import load_robot
    from sim2real.tasks import get_task
    from sim2real.train.checkpoint import check_spec, load_policy, run_model
    from sim2real.train.evaluate import evaluate_policy
    from sim2real.train.randomization import resolve_randomization

    one_torch_thread()
    policy, meta = load_policy(run)
    robot_path = Path(meta.get("robot_path", ""))
    spec = load_robot(robot_path if robot_path.is_file() else meta["robot"])
    check_spec(meta, spec)
    if randomize is not None:
        _check_randomization(str(spec.path), randomize, allow_out_of_bounds)
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
