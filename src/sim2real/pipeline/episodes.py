"""Episodes of an exported policy on a robot through the real control loop (safety, speed stages).

One :class:`~sim2real.deploy.loop.ControlLoop` runs all K episodes, so the speed progression and the
safety monitor carry over from one episode to the next as they would on a robot.  Each episode
starts from the task's own start state (the furuta hanging, drawn from the task's reset
distribution): the twin is put there with ``set_state`` (its clock keeps running, as a robot's
does when a person resets it by hand), the policy's action filter is cleared, and the loop ticks
for the task's episode length.  A safe stop ends the episode as a failure; the next episode asks
for an explicit safety reset (which restarts the speed progression at its first stage).

Success is the task's own rule judged on what the robot measures: for ``hold_last`` tasks
(pendulum, furuta) the rule's metric must hold over the last ``window_s`` seconds, and no
termination term (e.g. the furuta's arm beyond 2.3 rad) may fire during the episode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.loop import ControlLoop, LoopConfig, TickResult
from sim2real.deploy.speed import SpeedConfig
from sim2real.errors import Sim2RealError
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots.spec import RobotSpec
from sim2real.tasks.state import MeasuredState

log = logging.getLogger(__name__)

__all__ = ["DeployResult", "EpisodeTrace", "run_episodes_on_twin"]


@dataclass
class EpisodeTrace:
    """What one episode on the robot measured (arrays over the episode's ticks)."""

    t: np.ndarray
    """Loop time of each tick [s], shape (T,)."""
    q: np.ndarray
    """Measured joint positions [rad], shape (T, n_joints) (NaN where a reading was unusable)."""
    command: np.ndarray
    """Command written to the robot (actuator units, e.g. V), shape (T, n_act)."""
    stage: np.ndarray
    """Speed stage index after each tick, shape (T,)."""
    mode: list[str]
    """Command mode of each tick: normal, hold or safe."""
    events: list[tuple[float, str, str]]
    """(time [s], kind, severity) of the safety events of the episode."""
    stage_changes: list[tuple[float, int]]
    """(time [s], new stage) of the speed stage changes of the episode."""
    success: bool = False
    """The task's success rule held."""
    safety_stop: bool = False
    """The episode ended in a (latched) safe stop."""


@dataclass
class DeployResult:
    """K episodes of a policy on the robot."""

    episodes: list[EpisodeTrace] = field(default_factory=list)
    """Every episode, in order."""
    summary: dict[str, Any] = field(default_factory=dict)
    """The control loop's summary (``ControlLoop.summary``)."""

    @property
    def success_rate(self) -> float:
        """Fraction of successful episodes."""
        return float(np.mean([e.success for e in self.episodes])) if self.episodes else 0.0

    @property
    def safety_stops(self) -> int:
        """Episodes that ended in a safe stop."""
        return int(sum(e.safety_stop for e in self.episodes))


class _Judge:
    """The task's success rule and terminations on measured joint positions (one simulation)."""

    def __init__(self, spec: RobotSpec) -> None:
        from sim2real.tasks import get_task

        self.task = get_task(spec)
        if self.task.success.kind != "hold_last":
            raise Sim2RealError(f"task {self.task.name}: deployment episodes judge hold_last tasks only")
        self.spec = spec
        self.window = float(self.task.success.window_s)

    def _state(self, q: np.ndarray) -> MeasuredState:
        n = self.spec.n_joints
        return MeasuredState(self.spec, joint_pos=q.reshape(1, n), joint_vel=np.zeros((1, n)))

    def terminated(self, q: np.ndarray) -> bool:
        env = self._state(q)
        return any(bool(np.asarray(term(env))[0]) for term in self.task.terminations.values())

    def holds(self, q: np.ndarray) -> bool:
        return bool(np.asarray(self.task.success.metric(self._state(q)), dtype=float)[0] > 0.5)


def run_episodes_on_twin(
    spec: RobotSpec,
    policy_path: str | Path,
    twin: TwinConfig,
    episodes: int,
    *,
    seed: int = 0,
    log_path: str | Path | None = None,
    speed: SpeedConfig | None = None,
    on_tick: Callable[[TickResult], None] | None = None,
    meta: dict[str, Any] | None = None,
    twin_spec: RobotSpec | None = None,
) -> DeployResult:
    """Run K episodes of an exported policy on the twin through the control loop (lockstep).

    Args:
        spec: The robot.
        policy_path: Exported policy (.onnx).
        twin: Hidden parameters and unmodeled effects of the twin.
        episodes: Number of episodes K.
        seed: Seed of the start states.
        log_path: Bag of the whole run (must not exist); None: no log.
        speed: Speed progression (default: 10/25/50/75/100 % with the default dwell).
        on_tick: Called with every tick.
        meta: Extra bag metadata.
        twin_spec: The twin's own spec (default ``spec``): e.g. the robot without the actuator
            networks its policy was trained with, so that the twin runs the real drive.

    Returns:
        The episodes with their traces, success and safety stops, and the loop summary.
    """
    from sim2real.policy.runtime import PolicyRunner
    from sim2real.tasks import get_task

    if episodes < 1:
        raise Sim2RealError(f"episodes must be at least 1, got {episodes}")
    task = get_task(spec)
    judge = _Judge(spec)
    runner = PolicyRunner(policy_path, spec, providers="cpu")
    rng = np.random.default_rng(seed)
    q0, qd0 = task.reset(MeasuredState(spec), np.arange(episodes), rng)
    robot = TwinRobot(twin_spec or spec, twin, initial_qpos=np.asarray(q0[0], dtype=float))
    robot.reset(np.asarray(q0[0], dtype=float), np.asarray(qd0[0], dtype=float))
    config = LoopConfig(mode="lockstep", speed=speed or SpeedConfig())
    loop = ControlLoop(
        robot,
        runner,
        config=config,
        log_path=log_path,
        log_meta={"source": "sim2real.pipeline", "policy_file": str(policy_path), **(meta or {})},
        on_tick=on_tick,
    )
    ticks = round(task.episode_s / spec.control_dt)
    hold_ticks = round(judge.window / spec.control_dt)
    result = DeployResult()
    with loop:
        for k in range(episodes):
            robot.set_state(
                joint_pos=dict(zip(spec.joints, map(float, q0[k]), strict=True)),
                joint_vel=dict(zip(spec.joints, map(float, qd0[k]), strict=True)),
            )
            loop.monitor.state_was_set()  # the jump to the episode's start is no sensor fault
            runner.reset()
            if loop.monitor.latched:
                loop.reset_safety()
            trace = _episode(loop, spec, judge, ticks, hold_ticks)
            result.episodes.append(trace)
            log.info(
                "episode %d/%d: %s%s (speed stage %d)",
                k + 1,
                episodes,
                "success" if trace.success else "failure",
                ", safe stop" if trace.safety_stop else "",
                int(trace.stage[-1]),
            )
        result.summary = loop.close()
    robot.close()
    return result


def _episode(loop: ControlLoop, spec: RobotSpec, judge: _Judge, ticks: int, hold_ticks: int) -> EpisodeTrace:
    n, m = spec.n_joints, spec.n_actions
    t = np.zeros(ticks)
    q = np.full((ticks, n), np.nan)
    command = np.zeros((ticks, m))
    stage = np.zeros(ticks, dtype=np.int64)
    modes: list[str] = []
    events: list[tuple[float, str, str]] = []
    changes: list[tuple[float, int]] = []
    held = np.zeros(ticks, dtype=bool)
    terminated = False
    for i in range(ticks):
        r = loop.tick()
        t[i] = r.now
        command[i] = r.command.values
        stage[i] = r.stage
        modes.append(r.mode)
        events.extend((r.now, str(e.kind), str(e.severity)) for e in r.events)
        if r.stage_change is not None:
            changes.append((r.now, r.stage_change.stage))
        if r.reading is not None and r.reading.valid and np.all(np.isfinite(r.reading.q)):
            q[i] = r.reading.q
            held[i] = judge.holds(q[i])
            terminated |= judge.terminated(q[i])
        elif i > 0:
            q[i], held[i] = q[i - 1], held[i - 1]  # a dropped reading: the previous one stands
    stopped = loop.monitor.latched
    success = not terminated and not stopped and bool(held[-hold_ticks:].all())
    return EpisodeTrace(t, q, command, stage, modes, events, changes, success, stopped)
