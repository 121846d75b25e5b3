"""Transfer envelope: a policy's success rate on the twin over a grid of parameter values.

For every cell of a 1- or 2-axis grid (``"actuator.*.delay=0:0.03:4,geom.floor.friction=0.3:1.5:4"``,
each axis ``name=lo:hi:n`` with ``n`` evenly spaced values, names or ``*`` patterns of
:mod:`sim2real.params`), a :class:`~sim2real.real.twin.TwinRobot` is built with the cell's values
on top of the twin's own (or nominal) parameters, and ``K`` episodes run through the deployment
:class:`~sim2real.deploy.loop.ControlLoop` (the ONNX policy in
:class:`~sim2real.policy.runtime.PolicyRunner` behind the :class:`~sim2real.deploy.safety.SafetyMonitor`,
lockstep, full speed, no log).  An episode starts from the task's own reset distribution and is
judged by the task's own :class:`~sim2real.tasks.base.SuccessRule` and termination terms: joint
terms on the robot's readings, base terms of a floating-base robot (height, tilt, base velocity) on
the twin's true base state (:meth:`~sim2real.real.twin.TwinRobot.base_state`, which the twin knows
as a simulation and a real robot does not report).  An early termination (a task termination term)
or a safety stop is a failure.  A velocity-tracking task gets one fixed velocity command for every
episode (``EnvelopeConfig.velocity_command``, default :data:`DEFAULT_VELOCITY_COMMAND`), given to
the policy through the loop at the full speed stage and to the task's terms alike.  Episode ``k`` uses the
same initial state and twin noise seed in every cell (common random numbers), so cells differ by
their parameters only.

Cells run in parallel worker processes when ``workers`` > 1 (each episode is a single-robot
simulation stepped at the control rate, so threads would serialize on the interpreter), or as
tasks on a Ray cluster with a :mod:`sim2real.parallel` executor; every cell is a pure function of
its job, so any executor gives the serial run's map.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import ParameterError, PolicyError, Sim2RealError
from sim2real.parallel import SerialExecutor, make_executor
from sim2real.robots.spec import RobotSpec
from sim2real.tasks.base import TaskConfig
from sim2real.tasks.state import MeasuredState

__all__ = [
    "DEFAULT_VELOCITY_COMMAND",
    "EnvelopeConfig",
    "EnvelopeResult",
    "EpisodeOutcome",
    "GridAxis",
    "command_text",
    "evaluate_envelope",
    "parse_grid",
    "resolve_axes",
    "resolve_velocity_command",
    "run_episode",
]

log = logging.getLogger(__name__)

MAX_AXES = 2
"""Grid dimensions supported (a heat map has two)."""
MAX_POINTS = 64
"""Most values on one axis."""

_AXIS = re.compile(r"^\s*([^=\s]+)\s*=\s*([^:]+):([^:]+):([^:]+)\s*$")


@dataclass(frozen=True, eq=False)
class GridAxis:
    """One axis of the grid."""

    name: str
    """Parameter name or ``*`` pattern as given."""
    values: np.ndarray
    """Values along the axis, shape (n,), absolute SI values."""
    params: tuple[str, ...] = ()
    """Concrete parameter names the axis sets (every match of the pattern gets the same value)."""
    unit: str = ""
    """SI unit of the values."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: name, values, params, unit."""
        return {
            "name": self.name,
            "values": [float(v) for v in self.values],
            "params": list(self.params),
            "unit": self.unit,
        }


@dataclass(frozen=True)
class EnvelopeConfig:
    """How the envelope is evaluated."""

    episodes: int = 4
    """Episodes per cell K."""
    seed: int = 0
    """Seed of the initial states and of the twin's random effects (episode k: the same in every cell)."""
    workers: int = 1
    """Worker processes running cells in parallel (1: in this process; 0: one per CPU)."""
    episode_s: float | None = None
    """Episode length [s]; None: the task's."""
    velocity_command: tuple[float, float, float] | None = None
    """Fixed (vx [m/s], vy [m/s], yaw rate [rad/s]) of every episode of a velocity-tracking task;
    None: :data:`DEFAULT_VELOCITY_COMMAND` for such a task, none for any other."""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise Sim2RealError(f"episodes must be at least 1, got {self.episodes}")
        if self.workers < 0:
            raise Sim2RealError(f"workers must be 0 (auto) or positive, got {self.workers}")
        if self.episode_s is not None and not self.episode_s > 0:
            raise Sim2RealError(f"episode length must be positive, got {self.episode_s}")
        if self.velocity_command is not None:
            values = tuple(float(v) for v in self.velocity_command)
            if len(values) != 3 or not all(math.isfinite(v) for v in values):
                raise Sim2RealError(
                    f"velocity command must be three finite numbers vx vy yaw, got {list(values)}"
                )
            object.__setattr__(self, "velocity_command", values)


@dataclass(frozen=True)
class EpisodeOutcome:
    """How one episode ended."""

    success: bool
    """Whether the task's success rule holds."""
    reason: str
    """``success``, ``rule not met``, ``terminated: <term>`` or ``safety stop: <message>``."""
    seconds: float
    """Episode time simulated [s]."""


@dataclass(frozen=True, eq=False)
class EnvelopeResult:
    """Success rate of a policy per grid cell."""

    robot: str
    """Robot name."""
    policy: str
    """Policy file."""
    axes: tuple[GridAxis, ...]
    """The grid axes (1 or 2)."""
    success_rate: np.ndarray
    """Success rate per cell in [0, 1], shape (n1,) or (n1, n2)."""
    successes: np.ndarray
    """Success of every episode, shape (*cells, K)."""
    reasons: np.ndarray
    """How every episode ended, shape (*cells, K) (strings, see :class:`EpisodeOutcome`)."""
    episodes: int
    """Episodes per cell K."""
    rule: str
    """The task's success rule, in words."""
    nominal: dict[str, float] = field(default_factory=dict)
    """Axis name -> the value the parameter has outside the grid (twin or nominal)."""
    twin: str | None = None
    """Twin file whose parameters and effects the cells start from (None: nominal, default effects)."""
    velocity_command: tuple[float, float, float] | None = None
    """Fixed (vx [m/s], vy [m/s], yaw rate [rad/s]) of every episode; None: the task takes none."""
    seconds: float = 0.0
    """Wall time [s]."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready: ``{"axes": [{"name", "values", ...}], "success_rate": [[...]], "episodes"}`` + details."""
        return {
            "axes": [a.as_dict() for a in self.axes],
            "success_rate": self.success_rate.tolist(),
            "episodes": self.episodes,
            "robot": self.robot,
            "policy": self.policy,
            "rule": self.rule,
            "nominal": self.nominal,
            "twin": self.twin,
            "velocity_command": None if self.velocity_command is None else list(self.velocity_command),
            "seconds": self.seconds,
        }


# ------------------------------------------------------------------------------------- grid
def parse_grid(text: str) -> list[tuple[str, np.ndarray]]:
    """Parse ``"name=lo:hi:n[,name=lo:hi:n]"`` into (name, values) axes.

    Values are ``numpy.linspace(lo, hi, n)``; ``n`` is an integer from 1 to :data:`MAX_POINTS`,
    ``lo <= hi`` finite numbers.

    Raises:
        Sim2RealError: a malformed grid (one line naming the bad part).
    """
    parts = [p for p in (text or "").split(",") if p.strip()]
    if not parts:
        raise Sim2RealError("empty --grid: expected name=lo:hi:n[,name=lo:hi:n]")
    if len(parts) > MAX_AXES:
        raise Sim2RealError(f"--grid has {len(parts)} axes; at most {MAX_AXES} are supported")
    axes: list[tuple[str, np.ndarray]] = []
    for part in parts:
        m = _AXIS.match(part)
        if not m:
            raise Sim2RealError(
                f"bad grid axis {part.strip()!r}: expected name=lo:hi:n, e.g. geom.floor.friction=0.3:1.5:4"
            )
        name, lo_s, hi_s, n_s = m.groups()
        try:
            lo, hi = float(lo_s), float(hi_s)
        except ValueError:
            raise Sim2RealError(f"bad grid axis {part.strip()!r}: lo and hi must be numbers") from None
        try:
            n = int(n_s)
        except ValueError:
            raise Sim2RealError(
                f"bad grid axis {part.strip()!r}: n must be an integer, got {n_s.strip()!r}"
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise Sim2RealError(f"bad grid axis {part.strip()!r}: need finite lo <= hi")
        if not 1 <= n <= MAX_POINTS:
            raise Sim2RealError(f"bad grid axis {part.strip()!r}: n must be in 1..{MAX_POINTS}")
        if n > 1 and lo == hi:
            raise Sim2RealError(f"bad grid axis {part.strip()!r}: lo == hi with {n} points")
        if any(name == a for a, _ in axes):
            raise Sim2RealError(f"grid axis {name} is given twice")
        axes.append((name, np.linspace(lo, hi, n)))
    return axes


def resolve_axes(spec: RobotSpec, grid: str | Sequence[tuple[str, np.ndarray]]) -> tuple[GridAxis, ...]:
    """Grid axes with their concrete parameter names and units.

    Raises:
        ParameterError: an unknown name, a pattern matching nothing, a parameter with several
            values (e.g. ``body.x.com``), or two axes setting the same parameter.
    """
    from sim2real.params import Parameters
    from sim2real.robots.model import build_model

    axes = parse_grid(grid) if isinstance(grid, str) else list(grid)
    registry = Parameters(spec, build_model(spec))
    out: list[GridAxis] = []
    seen: dict[str, str] = {}
    for name, values in axes:
        params = registry.resolve([name])
        units = set()
        for p in params:
            info = registry.info(p)
            if info.size != 1:
                raise ParameterError(
                    f"grid axis {name}: {p} has {info.size} values; only scalar parameters can be gridded"
                )
            if p in seen:
                raise ParameterError(f"{p} is set by two grid axes ({seen[p]} and {name})")
            seen[p] = name
            units.add(info.unit)
        out.append(GridAxis(name, np.asarray(values, dtype=float), tuple(params), "/".join(sorted(units))))
    return tuple(out)


# ------------------------------------------------------------------------------------- episodes
def _episode_state(spec: RobotSpec, velocity_command: np.ndarray | None = None) -> MeasuredState:
    """The task terms' view of one robot during an envelope episode (a batch of one): joint states
    from the robot's readings; a floating base adds the twin's true base state (what the training
    environment's terms read); a velocity-tracking task adds the command.  A term reading anything
    else fails with one clear error."""
    n = spec.n_joints
    state = MeasuredState(spec, joint_pos=np.zeros((1, n)), joint_vel=np.zeros((1, n)))
    if spec.floating_base:
        state.update(base_height=0.0, base_quat=[1.0, 0.0, 0.0, 0.0], base_lin_vel=np.zeros(3), base_ang_vel=np.zeros(3))
    if velocity_command is not None:
        state.update(velocity_command=velocity_command)
    return state


def _update_state(state: MeasuredState, q: np.ndarray, qd: np.ndarray, base: Any = None) -> None:
    """Joint positions and velocities (n_joints,) from a reading, and the base's
    :class:`~sim2real.real.base_state.BaseState` (floating base)."""
    state.update(joint_pos=q, joint_vel=qd)
    if base is not None:
        state.update(base_height=base.height, base_quat=base.quat, base_lin_vel=base.lin_vel, base_ang_vel=base.ang_vel)


def _term_value(task: TaskConfig, what: str, term: Any, state: MeasuredState) -> float:
    try:
        return float(np.asarray(term(state)).reshape(-1)[0])
    except AttributeError as exc:
        raise Sim2RealError(
            f"task {task.name}: its {what} needs {exc.name or 'state'}, which an envelope episode does "
            "not provide (it gives joint states, the twin's true base state and the velocity command)"
        ) from None


DEFAULT_VELOCITY_COMMAND = (0.5, 0.0, 0.0)
"""Velocity command of a velocity-tracking task when none is given: walk forward at 0.5 m/s."""


def resolve_velocity_command(
    task: TaskConfig, command: Sequence[float] | None
) -> tuple[float, float, float] | None:
    """The fixed velocity command of every episode (vx [m/s], vy [m/s], yaw rate [rad/s]).

    A velocity-tracking task (``task.commands`` set) gets ``command`` or
    :data:`DEFAULT_VELOCITY_COMMAND`; any other task gets None.

    Raises:
        Sim2RealError: a command for a task that takes none, or not three finite numbers.
    """
    if task.commands is None:
        if command is not None:
            raise Sim2RealError(f"task {task.name} takes no velocity command")
        return None
    if command is None:
        return DEFAULT_VELOCITY_COMMAND
    values = tuple(float(v) for v in command)
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise Sim2RealError(f"velocity command must be three finite numbers vx vy yaw, got {list(command)}")
    return values  # type: ignore[return-value]


def command_text(command: Sequence[float] | None) -> str:
    """A velocity command in words, e.g. ``vx 0.5 m/s, vy 0 m/s, yaw rate 0 rad/s``."""
    if command is None:
        return "none"
    vx, vy, yaw = command
    return f"vx {vx:g} m/s, vy {vy:g} m/s, yaw rate {yaw:g} rad/s"


def rule_text(task: TaskConfig, episode_s: float | None = None) -> str:
    """The task's success rule in words, for episodes of ``episode_s`` [s] (None: the task's)."""
    rule = task.success
    fn = rule.metric.func.__name__
    args = ", ".join(f"{k}={v}" for k, v in rule.metric.params.items())
    length = episode_s or task.episode_s
    span = (  # a deploy run judged as one episode, of its own length
        f"a full {length:g} s episode"
        if episode_s is None or math.isclose(episode_s, task.episode_s)
        else f"the whole {length:g} s run (the task's episodes last {task.episode_s:g} s)"
    )
    if rule.kind == "hold_last":
        return f"{fn}({args}) held for the last {rule.window_s:g} s of {span}"
    return f"mean {fn}({args}) below {rule.threshold:g} over {span}"


class EpisodeJudge:
    """The task's terminations and success rule, tick by tick, on what the robot measures.

    Joint states come from the readings; a floating base needs the twin's true base state
    (``base``) at the moment of each tick's reading.  The first termination or safety stop ends the
    judgement (a failure); otherwise :meth:`outcome` applies the success rule: ``hold_last``, the
    metric held for the last ``window_s`` (or the whole run when shorter); else the mean metric
    below the rule's threshold.

    Args:
        spec: The robot.
        task: Its task.
        velocity_command: The fixed (vx, vy, yaw rate) command of a velocity-tracking task at the
            full speed stage, or None.
    """

    def __init__(
        self, spec: RobotSpec, task: TaskConfig, velocity_command: Sequence[float] | None = None
    ) -> None:
        self.spec = spec
        self.task = task
        self.velocity_command = (
            None if velocity_command is None else np.asarray(velocity_command, dtype=float)
        )
        self.state = _episode_state(spec, None if velocity_command is None else np.zeros(3))
        self.ticks = 0
        self.streak = 0.0
        self.total = 0.0
        self.still_total = 0.0
        """Sum of the success metric a base standing still would have scored (velocity tracking)."""
        self.failure: EpisodeOutcome | None = None

    @property
    def seconds(self) -> float:
        """Time judged so far [s]."""
        return self.ticks * self.spec.control_dt

    def observe(self, tick: Any, base: Any = None, fraction: float = 1.0) -> EpisodeOutcome | None:
        """Judge one tick (a :class:`~sim2real.deploy.loop.TickResult`) given the base state at its
        reading and the speed fraction of its command; returns the failure that ended the episode
        (now or earlier), else None."""
        if self.failure is not None:
            return self.failure
        self.ticks += 1
        task, state, t = self.task, self.state, self.seconds
        if tick.state == "safe_stop":
            msg = next((e.message for e in tick.events if e.severity == "safe_stop"), "")
            self.failure = EpisodeOutcome(False, f"safety stop: {msg}".rstrip(": "), t)
            return self.failure
        if tick.reading is None or not tick.reading.valid:
            return None
        _update_state(state, tick.reading.q, tick.reading.qd, base)
        if self.velocity_command is not None:  # what the policy was given this tick
            state.update(velocity_command=self.velocity_command * fraction)
        for name, term in task.terminations.items():
            if _term_value(task, f"termination {name}", term, state) > 0.5:
                self.failure = EpisodeOutcome(False, f"terminated: {name}", t)
                return self.failure
        metric = _term_value(task, "success metric", task.success.metric, state)
        self.streak = self.streak + self.spec.control_dt if metric > 0.5 else 0.0
        self.total += metric
        if self.velocity_command is not None and base is not None:  # the same tick, the base held still
            moving = state.base_lin_vel, state.base_ang_vel
            state.update(base_lin_vel=np.zeros(3), base_ang_vel=np.zeros(3))
            self.still_total += _term_value(task, "success metric", task.success.metric, state)
            state.update(base_lin_vel=moving[0], base_ang_vel=moving[1])
        return None

    def standing_still_passes(self) -> bool:
        """Whether a base standing still would meet the success rule on the commands given so far
        (a mean-below rule of velocity tracking with commands within its threshold, e.g. 0.05 m/s
        at a 10 % speed stage against a 0.25 m/s tolerance): the rule then cannot tell a policy
        that walks from one that stands."""
        if self.velocity_command is None or self.task.success.kind == "hold_last" or self.ticks == 0:
            return False
        return self.still_total / self.ticks < self.task.success.threshold

    def outcome(self) -> EpisodeOutcome:
        """How the episode ended (the failure, or the success rule applied to the ticks so far)."""
        if self.failure is not None:
            return self.failure
        rule, t = self.task.success, self.seconds
        if rule.kind == "hold_last":
            ok = self.streak >= min(rule.window_s, t) - 1e-9
        else:
            ok = self.total / max(self.ticks, 1) < rule.threshold
        return EpisodeOutcome(bool(ok), "success" if ok else "rule not met", t)


def run_episode(
    spec: RobotSpec,
    task: TaskConfig,
    runner: Any,
    twin_config: Any,
    initial: tuple[np.ndarray, np.ndarray],
    episode_s: float | None = None,
    velocity_command: Sequence[float] | None = None,
) -> EpisodeOutcome:
    """One episode of a policy on a twin through the control loop, judged by the task's rule.

    Args:
        spec: The robot.
        task: Its task (success rule, terminations, episode length).
        runner: The policy (:class:`~sim2real.policy.runtime.PolicyRunner`); reset here.
        twin_config: :class:`~sim2real.real.twin.TwinConfig` of this episode (params, effects, seed).
        initial: Initial joint positions (n,) [rad] and velocities (n,) [rad/s].
        episode_s: Episode length [s]; None: the task's.
        velocity_command: Fixed (vx [m/s], vy [m/s], yaw rate [rad/s]) given to the policy (at the
            full speed stage) and to the task's terms; None: none (or zero, when the policy's
            observation has a command).

    A floating base is judged on the twin's true base state (:meth:`TwinRobot.base_state
    <sim2real.real.twin.TwinRobot.base_state>`), joints on the readings (:class:`EpisodeJudge`).
    """
    from sim2real.deploy.loop import ControlLoop, LoopConfig
    from sim2real.deploy.speed import SpeedConfig
    from sim2real.real.twin import TwinRobot

    stages = SpeedConfig().stages
    config = LoopConfig(
        mode="lockstep",
        speed=SpeedConfig(stages=stages, start_stage=len(stages) - 1),
        episode_return=False,
        log_imu=False,
        velocity_command=None if velocity_command is None else tuple(float(v) for v in velocity_command),
    )
    twin = TwinRobot(spec, twin_config, realtime=False, initial_qpos=initial[0])
    twin.reset(initial[0], initial[1])
    runner.reset()
    floating = spec.floating_base
    judge = EpisodeJudge(spec, task, velocity_command)
    steps = round((episode_s or task.episode_s) / spec.control_dt)
    with ControlLoop(twin, runner, config=config) as loop:
        for _ in range(steps):
            # the true base state and the command of this tick: the tick reads the robot first, so
            # both belong to the moment of its reading
            base = twin.base_state() if floating else None
            fraction = loop.speed.fraction
            if judge.observe(loop.tick(), base, fraction) is not None:
                break
    return judge.outcome()


def _initial_states(
    spec: RobotSpec, task: TaskConfig, episodes: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The task's reset distribution, drawn once: the same initial states in every cell."""
    rng = np.random.default_rng(seed)
    ids = np.arange(episodes)
    try:
        q, qd = task.reset(MeasuredState(spec), ids, rng)
    except AttributeError as exc:
        raise Sim2RealError(
            f"task {task.name}: its reset needs {exc.name or 'state'} of a batched environment"
        ) from None
    q = np.asarray(q, dtype=float).reshape(episodes, spec.n_joints)
    qd = np.asarray(qd, dtype=float).reshape(episodes, spec.n_joints)
    return [(q[k], qd[k]) for k in range(episodes)]


@contextlib.contextmanager
def _quiet_loop() -> Iterator[None]:
    """Hold the deployment loop's per-tick log lines (dropped readings, deadline misses in lockstep)
    to errors while envelope episodes run: the outcome of each episode is what is reported."""
    names = ("sim2real.deploy", "sim2real.policy.runtime")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _run_cell(job: tuple) -> tuple[tuple[int, ...], list[EpisodeOutcome]]:
    """Worker: every episode of one cell (module-level so that process pools can pickle it)."""
    robot, policy, index, base_params, effects, cell, initial, seed, task, episode_s, command = job
    from sim2real.policy.runtime import PolicyRunner
    from sim2real.real.twin import TwinConfig
    from sim2real.robots import load_robot
    from sim2real.tasks import get_task

    spec = load_robot(robot) if isinstance(robot, str) else robot
    task = get_task(spec) if isinstance(task, str) else task  # a worker: the robot's own task
    runner = PolicyRunner(policy, spec, providers="cpu")
    params = {**base_params, **{k: np.atleast_1d(float(v)) for k, v in cell.items()}}
    out = []
    with _quiet_loop():
        for k, init in enumerate(initial):
            cfg = TwinConfig(params=params, effects=dataclasses.replace(effects, seed=seed + 1000 * k))
            out.append(run_episode(spec, task, runner, cfg, init, episode_s, command))
    return index, out


def evaluate_envelope(
    spec: RobotSpec,
    policy: str | Path,
    grid: str | Sequence[tuple[str, np.ndarray]],
    *,
    config: EnvelopeConfig | None = None,
    twin: str | Path | None = None,
    robot_ref: str | None = None,
    task: TaskConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    executor: Any = None,
) -> EnvelopeResult:
    """Success rate of a policy on the twin over a parameter grid (see the module docstring).

    Args:
        spec: The robot.
        policy: ONNX policy file (checked against the spec before anything runs).
        grid: ``"name=lo:hi:n[,name=lo:hi:n]"`` or parsed (name, values) axes.
        config: Episodes per cell, seed, workers.
        twin: Twin file (parameters and effects) the cells start from; None: nominal, default effects.
        robot_ref: How worker processes load the robot (embedded name or spec path); default the
            spec's name.
        task: The task judging the episodes; default the policy's training task.  A task that is
            not in the registry runs in this process (``workers`` ignored).
        progress: Called as ``progress(cells_done, cells_total)``.
        executor: A :class:`sim2real.parallel.Executor` running the cells (e.g. on Ray); default
            this process or ``config.workers`` worker processes.

    Raises:
        ParameterError: unknown grid parameters.  PolicyError: a missing or mismatched policy.
    """
    from sim2real.params import Parameters
    from sim2real.policy.runtime import PolicyRunner
    from sim2real.real.twin import TwinConfig
    from sim2real.robots.model import build_model
    from sim2real.tasks import get_task

    t0 = time.perf_counter()
    config = config or EnvelopeConfig()
    axes = resolve_axes(spec, grid)
    if not Path(policy).is_file():
        raise PolicyError(f"policy file not found: {policy}")
    PolicyRunner(policy, spec, providers="cpu")  # validates file, metadata and spec hash
    custom = task is not None
    task = task if task is not None else get_task(spec)
    command = resolve_velocity_command(task, config.velocity_command)
    twin_config = TwinConfig.load(twin) if twin is not None else TwinConfig()
    base_params = dict(twin_config.params)
    registry = Parameters(spec, build_model(spec))
    nominal: dict[str, float] = {}
    for a in axes:
        p = a.params[0]
        nominal[a.name] = float(np.atleast_1d(base_params.get(p, registry.info(p).nominal))[0])
    initial = _initial_states(spec, task, config.episodes, config.seed)
    shape = tuple(a.values.size for a in axes)
    if executor is None:
        workers = config.workers or (os.cpu_count() or 1)
        workers = 1 if custom else max(1, min(workers, int(np.prod(shape))))
        executor = make_executor(workers=workers)
    elif custom and not executor.ships_objects:
        executor = SerialExecutor()
    # objects travel where the executor ships them; worker processes load the robot by its spec
    # path (or name) and the robot's own task
    robot_arg = spec if executor.ships_objects else (robot_ref or str(spec.path))
    task_arg = task if executor.ships_objects else task.name
    jobs = []
    for index in np.ndindex(shape):
        cell = {p: a.values[i] for i, a in zip(index, axes, strict=True) for p in a.params}
        jobs.append(
            (
                robot_arg,
                str(Path(policy).resolve()),  # a Ray worker may run in another folder
                index,
                base_params,
                twin_config.effects,
                cell,
                initial,
                config.seed,
                task_arg,
                config.episode_s,
                command,
            )
        )
    successes = np.zeros((*shape, config.episodes), dtype=bool)
    reasons = np.empty((*shape, config.episodes), dtype=object)
    done = 0

    def collect(_: int, cell: tuple[tuple[int, ...], Sequence[EpisodeOutcome]]) -> None:
        nonlocal done
        index, outcomes = cell
        successes[index] = [o.success for o in outcomes]
        reasons[index] = [o.reason for o in outcomes]
        done += 1
        if progress is not None:
            progress(done, len(jobs))

    log.info(
        "envelope: %d cells x %d episodes (%s), velocity command: %s",
        len(jobs),
        config.episodes,
        executor.name,
        command_text(command),
    )
    executor.map(_run_cell, jobs, collect)
    return EnvelopeResult(
        robot=spec.name,
        policy=str(policy),
        axes=axes,
        success_rate=successes.mean(axis=-1),
        successes=successes,
        reasons=reasons,
        episodes=config.episodes,
        rule=rule_text(task, config.episode_s),
        nominal=nominal,
        twin=None if twin is None else str(twin),
        velocity_command=command,
        seconds=time.perf_counter() - t0,
    )


def failure_reasons(result: EnvelopeResult) -> Mapping[str, int]:
    """How many episodes ended each way over the whole grid."""
    kinds: dict[str, int] = {}
    for r in result.reasons.ravel():
        key = str(r).split(":")[0]
        kinds[key] = kinds.get(key, 0) + 1
    return kinds
