"""The control loop: a policy drives a robot behind the safety monitor, at a fixed rate, logged.

One tick::

    reading = robot.read()                                   the newest sample (never blocks long)
    monitor.check_state(reading, now)                        NaN, limits, tilt, height, staleness, e-stop
    command = policy.step_reading(reading, velocity_cmd)     observation (training term functions) -> ONNX
                                                             -> filter -> actuator units
    decision = monitor.filter_command(command, reading, now) clamp / hold / safe stop (latched)
    robot.write(decision.command)
    log: /joint_states, /imu/data, /joint_commands, /sim2real/events (safety, stage, mode, deadline),
         and for a floating base /odom (on-board estimate) and /ground_truth/odom (a twin's truth)

The policy runs only on a usable reading (no hold or safe-stop event this tick, monitor not
latched); otherwise the monitor holds or stops on its own.  When the policy reports non-finite
input (``last_input_finite`` False, e.g. a NaN velocity command), or raises, the loop hands the
monitor a NaN command, so that the safety layer decides (hold, then safe stop after
``stale_timeout``): no policy fault bypasses it.

**Modes.** ``lockstep``: no sleeping; each ``write`` advances a simulated robot (the twin) one
control period, so a run goes as fast as it computes.  ``paced``: ticks start on a fixed grid of
``control_dt`` on the monotonic clock (for a real robot or a realtime twin); a tick that ends after
its period is a missed deadline, and the periods it overran are skipped, keeping the grid.

**Clock.** ``now`` (the time the monitor checks readings against) is ``robot.now()`` when the robot
has one (the twin does; it must be the clock its ``Reading.t`` stamps are on), else
``time.monotonic()`` (paced; the clock of :class:`~sim2real.real.ros2.Ros2Robot` readings) or
``tick * control_dt`` (lockstep).

**Deadlines.** Paced: a tick misses its deadline when it ends after the end of its period, or (when
driven from outside, e.g. a ROS timer calling :meth:`ControlLoop.tick`) starts more than half a
period late.  Lockstep: when the controller's own time (safety checks, observation, policy; robot
I/O excluded) exceeds the period, i.e. it could not keep the rate on a robot.  Misses are counted,
logged (throttled) and written to the events topic.

**Speed progression.** The monitor's speed fraction (command rate, pd target speed, velocity
governor) follows a :class:`~sim2real.deploy.speed.SpeedProgression` (10/25/50/75/100 % by default);
the velocity command of a velocity-tracking policy is scaled by the same fraction.  A stage
advances after ``dwell_s`` without a safety event (clamps included).  A safe stop is latched until
:meth:`ControlLoop.reset_safety` is called explicitly and the state passes every check; the
progression then starts again at ``LoopConfig.restart_stage``.

This module needs numpy, rosbags and the numpy-only parts of sim2real (no torch); the episode
return imports the robot's task terms (MuJoCo) lazily.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from sim2real.deploy.safety import ResetResult, SafetyEvent, SafetyMonitor, Severity
from sim2real.deploy.speed import SpeedConfig, SpeedProgression, StageChange
from sim2real.errors import Sim2RealError
from sim2real.logs.bag import BagWriter
from sim2real.real.odometry import BaseStateLog, base_state_log
from sim2real.real.protocol import Command, Reading, Robot

__all__ = [
    "EVENT_DEADLINE",
    "EVENT_END",
    "EVENT_ERROR",
    "EVENT_ESTOP",
    "EVENT_MODE",
    "EVENT_POLICY",
    "EVENT_RESET",
    "EVENT_SAFETY",
    "EVENT_STAGE",
    "EVENT_START",
    "ControlLoop",
    "LoopConfig",
    "Policy",
    "TickResult",
    "build_loop",
    "parse_stage",
]

log = logging.getLogger(__name__)

LoopMode = Literal["lockstep", "paced"]

# kinds of the /sim2real/events messages the loop writes
EVENT_START = "start"
"""First event of a run: loop settings."""
EVENT_SAFETY = "safety"
"""A :class:`~sim2real.deploy.safety.SafetyEvent` (detail: its ``as_dict``)."""
EVENT_STAGE = "stage"
"""A speed stage change (detail: previous_stage, stage, fraction, reason)."""
EVENT_MODE = "mode"
"""The command mode changed (normal / hold / safe)."""
EVENT_DEADLINE = "deadline_miss"
"""A missed deadline (detail: tick, overrun_ms, total)."""
EVENT_POLICY = "policy"
"""The policy reported non-finite input or raised (detail: what)."""
EVENT_RESET = "reset"
"""An explicit safety reset, accepted or refused."""
EVENT_ESTOP = "estop_request"
"""An e-stop was requested (detail: reason)."""
EVENT_ERROR = "error"
"""An exception inside the loop (or an interrupt): the robot was put in safe mode."""
EVENT_END = "end"
"""Last event of a run: the summary."""

_BAD = (Severity.HOLD, Severity.SAFE_STOP)


@runtime_checkable
class Policy(Protocol):
    """What the loop needs from a policy: :class:`~sim2real.policy.runtime.PolicyRunner`'s interface.

    Optional attributes the loop uses when present: ``filtered_action`` (n_act,) for the episode
    return, ``control_dt`` [s] (checked against the spec), ``path`` and ``metadata`` (logged).
    """

    last_input_finite: bool
    """False when the last step's inputs held NaN or inf (it then returned its previous command)."""

    def step_reading(self, reading: Any, velocity_command: np.ndarray | None = None) -> np.ndarray:
        """Actuator commands (n_act,) in actuator units from a reading (and a velocity command)."""
        ...

    def reset(self) -> None:
        """Clear the policy's internal state (action filter)."""
        ...


@dataclass(frozen=True)
class LoopConfig:
    """How the control loop runs."""

    mode: LoopMode = "lockstep"
    """``lockstep`` (no sleeping; for the twin) or ``paced`` (fixed rate on the monotonic clock)."""
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    """Speed stages, dwell time and first stage (``--speed STAGE``)."""
    velocity_command: tuple[float, float, float] | None = None
    """(vx [m/s], vy [m/s], yaw rate [rad/s]) for velocity-tracking policies; None: zero when the
    observation has a velocity command, else none."""
    scale_velocity_command: bool = True
    """Scale the velocity command by the speed stage's fraction."""
    restart_stage: int = 0
    """Stage the progression restarts at after an accepted safety reset."""
    log_imu: bool = True
    """Write ``/imu/data`` for robots with an IMU."""
    flush_period: float = 0.0
    """BagWriter flush period [s]; 0 writes every message to the file at once (crash-safe)."""
    episode_return: bool = True
    """Sum the task's reward when it can be computed from measured quantities alone."""
    deadline_log_first: int = 5
    """Missed deadlines logged one by one before throttling."""
    deadline_log_every: int = 100
    """After the first ones, log (and write to the bag) every n-th missed deadline."""

    def __post_init__(self) -> None:
        if self.mode not in ("lockstep", "paced"):
            raise Sim2RealError(f"loop mode must be lockstep or paced, got {self.mode!r}")
        if self.velocity_command is not None and len(self.velocity_command) != 3:
            raise Sim2RealError("velocity_command must be (vx, vy, yaw_rate)")
        if not 0 <= self.restart_stage < len(self.speed.stages):
            raise Sim2RealError(
                f"restart_stage {self.restart_stage} is not a stage of {list(self.speed.stages)}"
            )


@dataclass(frozen=True, eq=False)
class TickResult:
    """What one :meth:`ControlLoop.tick` did."""

    index: int
    """Tick number, from 0."""
    now: float
    """Loop time of the tick [s]."""
    reading: Reading | None
    """The reading of the tick, as the robot returned it."""
    command: Command
    """The command written to the robot."""
    state: str
    """Monitor state after the tick: ``ok``, ``hold`` or ``safe_stop``."""
    events: tuple[SafetyEvent, ...]
    """Safety events reported this tick (state checks and command checks)."""
    stage: int
    """Speed stage index after the tick."""
    fraction: float
    """Speed fraction after the tick."""
    stage_change: StageChange | None
    """The stage change of this tick, if any."""
    policy_ran: bool
    """Whether the policy was stepped (only on a usable reading while not latched)."""
    policy_input_finite: bool
    """False when the policy reported non-finite input (the monitor got a NaN command)."""
    compute_s: float
    """Controller time: from the reading's arrival to the write call [s]."""
    tick_s: float
    """Whole tick, robot I/O and logging included [s]."""
    deadline_missed: bool
    """Whether this tick missed its deadline (see the module docstring)."""
    reward: float | None
    """Task reward of the tick (already times control_dt), or None."""

    @property
    def mode(self) -> str:
        """Mode of the command written: normal, hold or safe."""
        return self.command.mode


def _json_safe(value: Any) -> Any:
    """JSON-friendly copy: non-finite floats become None, numpy values plain Python."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _finite(*arrays: np.ndarray | None) -> bool:
    return all(a is None or bool(np.all(np.isfinite(a))) for a in arrays)


class _RewardMeter:
    """The task's step reward from what the robot measures (no privileged state).

    Raises:
        Sim2RealError: when the robot has no task, or a reward term needs something a robot does not
            measure (e.g. the base linear velocity); the message says which.
    """

    def __init__(self, spec: Any) -> None:
        from sim2real.tasks import get_task  # lazily: the task modules import MuJoCo

        self.task = get_task(spec.name)
        self.spec = spec
        self.control_dt = float(spec.control_dt)
        self.num_envs = 1
        n, m = spec.n_joints, spec.n_actions
        self.joint_pos = np.zeros((1, n))
        self.joint_vel = np.zeros((1, n))
        self.filtered_action = np.zeros((1, m))
        self.prev_action = np.zeros((1, m))
        self.velocity_command = np.zeros((1, 3))
        for name, term in self.task.rewards.items():
            try:
                value = np.asarray(term(self), dtype=float)
            except (AttributeError, KeyError, TypeError, IndexError, ValueError) as exc:
                raise Sim2RealError(
                    f"reward term '{name}' needs what a robot does not measure ({exc})"
                ) from None
            if value.shape != (1,):
                raise Sim2RealError(f"reward term '{name}' has shape {value.shape}")

    def step(
        self, reading: Reading, filtered_action: np.ndarray, velocity_command: np.ndarray | None
    ) -> float:
        self.prev_action[:] = self.filtered_action
        self.joint_pos[0] = reading.q
        self.joint_vel[0] = reading.qd
        self.filtered_action[0] = filtered_action
        if velocity_command is not None:
            self.velocity_command[0] = velocity_command
        total = 0.0
        for term in self.task.rewards.values():
            total += term.weight * float(np.asarray(term(self), dtype=float)[0])
        return total * self.control_dt


class ControlLoop:
    """Runs a policy on a robot behind a :class:`~sim2real.deploy.safety.SafetyMonitor` (see module doc).

    Use it as a context manager, or call :meth:`open` / :meth:`close`::

        with ControlLoop(robot, runner, config=LoopConfig(), log_path="runs/deploy1") as loop:
            summary = loop.run(10.0)

    A ROS 2 node calls :meth:`tick` from its timer instead of :meth:`run` (with ``mode="paced"``;
    :meth:`tick` never sleeps).  :meth:`request_stop`, :meth:`request_estop` and
    :meth:`set_velocity_command` may be called from another thread.

    Args:
        robot: The robot (``Robot`` protocol); ``robot.spec`` is the spec enforced.
        policy: The policy (``PolicyRunner`` or anything with its interface, see :class:`Policy`).
        config: Loop settings.
        monitor: The safety monitor; default: a new one for ``robot.spec``.
        speed: The speed progression; default: from ``config.speed``.
        log_path: Bag directory to write (must not exist); None: no log.
        log_meta: Extra JSON-serializable description stored in the bag's metadata.
        on_tick: Called with every :class:`TickResult` (after logging); e.g. a live display.
        clock: The loop clock ``now()`` [s]; default: see the module docstring.

    Raises:
        Sim2RealError: inconsistent settings (e.g. the policy's control period is not the spec's).
    """

    def __init__(
        self,
        robot: Robot,
        policy: Policy,
        *,
        config: LoopConfig | None = None,
        monitor: SafetyMonitor | None = None,
        speed: SpeedProgression | None = None,
        log_path: str | Path | None = None,
        log_meta: Mapping[str, Any] | None = None,
        on_tick: Callable[[TickResult], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.robot = robot
        self.spec = robot.spec
        self.policy = policy
        self.config = config or LoopConfig()
        self.dt = float(self.spec.control_dt)
        policy_dt = getattr(policy, "control_dt", None)
        if policy_dt is not None and not math.isclose(float(policy_dt), self.dt, rel_tol=1e-9):
            raise Sim2RealError(
                f"the policy runs at {policy_dt} s, the robot's control period is {self.dt} s"
            )
        self.monitor = monitor if monitor is not None else SafetyMonitor(self.spec)
        self.speed = speed if speed is not None else SpeedProgression.from_config(self.config.speed)
        self.monitor.set_speed_fraction(self.speed.fraction)
        self.log_path = Path(log_path) if log_path is not None else None
        self.log_meta = dict(log_meta or {})
        self.on_tick = on_tick
        if clock is None:
            robot_now = getattr(robot, "now", None)
            if callable(robot_now):
                clock = robot_now
            elif self.config.mode == "paced":
                clock = time.monotonic
            else:
                clock = self._tick_clock
        self._clock = clock
        self._n_act = self.spec.n_actions
        self._nan = np.full(self._n_act, math.nan)
        self._last_u = np.zeros(self._n_act)
        names = [t.name for t in self.spec.observation]
        if self.config.velocity_command is not None:
            self._velocity_command: np.ndarray | None = np.array(self.config.velocity_command, dtype=float)
        elif "velocity_command" in names:
            self._velocity_command = np.zeros(3)
        else:
            self._velocity_command = None
        self._reward: _RewardMeter | None = None
        self.reward_unavailable: str | None = None
        """Why the episode return is not computed (None when it is)."""
        if self.config.episode_return:
            if getattr(policy, "filtered_action", None) is None:
                self.reward_unavailable = "the policy exposes no filtered_action"
            else:
                try:
                    self._reward = _RewardMeter(self.spec)
                except Sim2RealError as exc:
                    self.reward_unavailable = str(exc)
        else:
            self.reward_unavailable = "disabled"
        self._bag: BagWriter | None = None
        self._base_log: BaseStateLog | None = None
        self._opened = False
        self._closed = False
        self._stop_requested = False
        self._estop_pending: list[str] = []
        # counters
        self.ticks = 0
        self.missed_deadlines = 0
        self.skipped_periods = 0
        self.policy_invalid_inputs = 0
        self.policy_errors = 0
        self.stage_changes = 0
        self.resets = 0
        self.episode_return = 0.0
        self._mode_ticks = {"normal": 0, "hold": 0, "safe": 0}
        self._events = 0
        self._mode: str | None = None
        self._state = "ok"
        self._first_now: float | None = None
        self._last_now: float | None = None
        self._last_reading: Reading | None = None
        self._last_logged_t: float | None = None
        self._wall_first: float | None = None
        self._wall_last: float | None = None
        self._prev_wall: float | None = None
        self._tick_s_sum = 0.0
        self._tick_s_max = 0.0
        self._compute_s_max = 0.0
        self._policy_error_logged = False
        self._handled_exc: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle

    def _tick_clock(self) -> float:
        return self.ticks * self.dt

    def open(self) -> ControlLoop:
        """Open the bag (when logging).  Called by the first :meth:`tick` when not called before."""
        if self._closed:
            raise Sim2RealError("this control loop is closed")
        if self._opened:
            return self
        if self.log_path is not None:
            meta = {
                "source": "sim2real.deploy",
                "mode": self.config.mode,
                "control_dt": self.dt,
                "speed": {
                    "stages": list(self.speed.config.stages),
                    "dwell_s": self.speed.config.dwell_s,
                    "start_stage": self.speed.stage,
                },
                "policy": self._describe_policy(),
                **self.log_meta,
            }
            self._bag = BagWriter(
                self.log_path,
                self.spec.hash,
                self.spec.joints,
                robot=self.spec.name,
                command_joints=self.spec.actuated_joints,
                meta=_json_safe(meta),
                flush_period=self.config.flush_period,
            ).open()
            if not self.log_meta.get("fixed_base"):  # a robot hung by its base: nothing to estimate
                self._base_log = base_state_log(self.spec, self.robot)
        self._opened = True
        return self

    def close(self) -> dict[str, Any]:
        """Put the robot in safe mode (``robot.stop()``), end the log, and return the summary.

        The robot itself is not closed (its owner does that).  Calling it twice is harmless.
        """
        summary = self.summary()
        if self._closed:
            return summary
        self._closed = True
        try:
            self.robot.stop()
        finally:
            bag, self._bag = self._bag, None
            if bag is not None:
                try:
                    t = self._last_now if self._last_now is not None and self._last_now >= 0 else 0.0
                    bag.write_event(t, EVENT_END, _json_safe(summary))
                finally:
                    bag.close()
        return summary

    def __enter__(self) -> ControlLoop:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ control from outside

    def request_stop(self) -> None:
        """Make :meth:`run` return after the current tick (thread-safe)."""
        self._stop_requested = True

    def request_estop(self, reason: str = "e-stop requested") -> None:
        """E-stop: the next tick latches a safe stop (thread-safe); only :meth:`reset_safety` clears it."""
        self.monitor.request_estop(reason)
        self._estop_pending.append(str(reason))

    def set_velocity_command(self, command: Any) -> None:
        """Set the (vx [m/s], vy [m/s], yaw rate [rad/s]) command of a velocity-tracking policy.

        Non-finite values are passed on: the policy reports them and the safety layer holds.
        """
        value = np.array(command, dtype=float).reshape(-1)
        if value.shape != (3,):
            raise Sim2RealError(f"velocity command must have 3 values, got {value.shape[0]}")
        self._velocity_command = value

    @property
    def velocity_command(self) -> np.ndarray | None:
        """The velocity command before speed scaling, or None for policies without one."""
        return None if self._velocity_command is None else self._velocity_command.copy()

    def reset_safety(self) -> ResetResult:
        """Release a latched safe stop explicitly, if a fresh reading passes every check.

        On success the policy's state is cleared and the speed progression starts again at
        ``config.restart_stage``; the next command ramps from the zero-torque command (rate limited).
        """
        if not self._opened:
            self.open()
        reading = self.robot.read()
        now = float(self._clock())
        result = self.monitor.reset(reading, now)
        self.resets += 1
        detail: dict[str, Any] = {"accepted": result.accepted, "message": result.event.message}
        if result.accepted:
            self.policy.reset()
            self.speed.start_at(self.config.restart_stage)
            self.monitor.set_speed_fraction(self.speed.fraction)
            self._state = "ok"
            detail["stage"] = self.speed.stage
            log.info("safety reset accepted; speed stage %d (%g)", self.speed.stage, self.speed.fraction)
        else:
            detail["problems"] = [p.message for p in result.problems]
            log.warning("safety reset refused: %s", result.event.message)
        self._write_event(now, EVENT_RESET, detail)
        return result

    def reset(self) -> ResetResult:
        """Same as :meth:`reset_safety` (what the ROS 2 node's reset service calls)."""
        return self.reset_safety()

    # ------------------------------------------------------------------ the tick

    def _effective_velocity_command(self) -> np.ndarray | None:
        if self._velocity_command is None:
            return None
        if self.config.scale_velocity_command:
            return self._velocity_command * self.speed.fraction
        return self._velocity_command

    def _run_policy(
        self, reading: Reading, velocity_command: np.ndarray | None, now: float
    ) -> tuple[np.ndarray, bool]:
        """The policy's command, or NaN (for the monitor to react) on non-finite input or an error."""
        try:
            out = self.policy.step_reading(reading, velocity_command)
        except Exception as exc:  # a policy failure must reach the safety layer, not stop the loop
            self.policy_errors += 1
            if not self._policy_error_logged:
                log.exception("policy raised; the safety layer holds (and stops after stale_timeout)")
                self._policy_error_logged = True
            self._write_event(now, EVENT_POLICY, {"what": "error", "error": repr(exc)})
            return self._nan, True
        if not bool(getattr(self.policy, "last_input_finite", True)):
            self.policy_invalid_inputs += 1
            return self._nan, False
        u = np.array(out, dtype=float)
        if u.shape == (self._n_act,) and np.all(np.isfinite(u)):
            self._last_u = u
        return u, True

    def tick(self, *, _slot: float | None = None) -> TickResult:
        """One control step: read, check, policy, check, write, log.  Never sleeps.

        Returns:
            What the tick did.
        """
        if not self._opened:
            self.open()
        wall_start = time.perf_counter()
        now = math.nan
        try:
            reading = self.robot.read()
            now = float(self._clock())
            t_read = time.perf_counter()
            if self._first_now is None:
                self._first_now = now
                self._wall_first = wall_start
                self._write_event(now, EVENT_START, self._start_detail())
            for reason in self._drain_estop():
                self._write_event(now, EVENT_ESTOP, {"reason": reason})
            events = list(self.monitor.check_state(reading, now))
            usable = (
                not self.monitor.latched
                and isinstance(reading, Reading)
                and reading.valid
                and not any(e.severity in _BAD for e in events)
            )
            policy_ran, input_finite = False, True
            velocity_command = self._effective_velocity_command()
            if usable:
                assert isinstance(reading, Reading)
                u, input_finite = self._run_policy(reading, velocity_command, now)
                policy_ran = True
                if not input_finite:
                    self._write_event(now, EVENT_POLICY, {"what": "non-finite input", "tick": self.ticks})
            else:
                u = self._last_u  # ignored by the monitor (it holds or stops)
            decision = self.monitor.filter_command(u, reading, now)
            events.extend(decision.events)
            t_decided = time.perf_counter()
            self.robot.write(decision.command)
        except BaseException as exc:
            self._emergency_stop(now, exc)
            raise
        t_written = time.perf_counter()

        # ---- bookkeeping
        self._last_now = now
        if isinstance(reading, Reading):
            self._last_reading = reading
        mode = decision.command.mode
        self._mode_ticks[mode] += 1
        self._state = decision.state
        self._events += len(events)
        change = None
        if not self.monitor.latched:
            had_event = any(e.severity != Severity.INFO for e in events)
            change = self.speed.update(now, had_event)
            if change is not None:
                self.monitor.set_speed_fraction(change.fraction)
                self.stage_changes += 1
                log.info("%s at t=%.3f s", change.message, now)
        reward = None
        if (
            self._reward is not None
            and isinstance(reading, Reading)
            and reading.valid
            and _finite(reading.q, reading.qd)
        ):
            reward = self._reward.step(reading, np.asarray(self.policy.filtered_action), velocity_command)  # type: ignore[attr-defined]
            self.episode_return += reward

        # ---- deadline accounting
        if self.config.mode == "paced":
            slot = _slot if _slot is not None else wall_start
            missed = t_written > slot + self.dt
            if _slot is None and self._prev_wall is not None and wall_start - self._prev_wall > 1.5 * self.dt:
                missed = True  # driven from outside: the tick started late
            overrun = max(
                t_written - (slot + self.dt), wall_start - (self._prev_wall or wall_start) - self.dt
            )
        else:
            missed = (t_decided - t_read) > self.dt
            overrun = (t_decided - t_read) - self.dt
        self._prev_wall = wall_start

        # ---- log
        self._log_tick(reading, now, decision.command, events, change, mode)
        if missed:
            self._missed(now, overrun)
        tick_s = time.perf_counter() - wall_start
        self._tick_s_sum += tick_s
        self._tick_s_max = max(self._tick_s_max, tick_s)
        self._compute_s_max = max(self._compute_s_max, t_decided - t_read)
        self._wall_last = time.perf_counter()
        result = TickResult(
            index=self.ticks,
            now=now,
            reading=reading if isinstance(reading, Reading) else None,
            command=decision.command,
            state=decision.state,
            events=tuple(events),
            stage=self.speed.stage,
            fraction=self.speed.fraction,
            stage_change=change,
            policy_ran=policy_ran,
            policy_input_finite=input_finite,
            compute_s=t_decided - t_read,
            tick_s=tick_s,
            deadline_missed=missed,
            reward=reward,
        )
        self.ticks += 1
        if self.on_tick is not None:
            self.on_tick(result)
        return result

    def _drain_estop(self) -> list[str]:
        pending, self._estop_pending = self._estop_pending, []
        return pending

    def _emergency_stop(self, now: float, exc: BaseException) -> None:
        """Something raised (or an interrupt): put the robot in safe mode before the error propagates."""
        if exc is self._handled_exc:
            return
        self._handled_exc = exc
        try:
            self.robot.stop()
        except Exception:  # the original error is the one to report
            log.exception("robot.stop() failed after an error in the control loop")
        t = now if math.isfinite(now) else (self._last_now or 0.0)
        try:
            self._write_event(t, EVENT_ERROR, {"what": "robot stopped", "error": repr(exc)})
        except Exception:
            log.exception("could not log the error event")

    def _missed(self, now: float, overrun: float) -> None:
        self.missed_deadlines += 1
        n = self.missed_deadlines
        if n <= self.config.deadline_log_first or n % self.config.deadline_log_every == 0:
            log.warning(
                "missed deadline at tick %d (%.3f ms over the %.3f ms period); %d missed so far",
                self.ticks,
                1e3 * overrun,
                1e3 * self.dt,
                n,
            )
            self._write_event(
                now, EVENT_DEADLINE, {"tick": self.ticks, "overrun_ms": 1e3 * overrun, "total": n}
            )

    # ------------------------------------------------------------------ logging

    def _describe_policy(self) -> dict[str, Any]:
        policy = self.policy
        out: dict[str, Any] = {"type": type(policy).__name__}
        path = getattr(policy, "path", None)
        if path is not None:
            out["path"] = str(path)
        meta = getattr(policy, "metadata", None)
        if meta is not None and hasattr(meta, "spec_hash"):
            out["spec_hash"] = meta.spec_hash
            out["task"] = getattr(meta, "task", "")
        describe = getattr(policy, "describe", None)
        if callable(describe):
            out.update(describe())
        return out

    def _start_detail(self) -> dict[str, Any]:
        return {
            "mode": self.config.mode,
            "control_dt": self.dt,
            "stage": self.speed.stage,
            "fraction": self.speed.fraction,
            "velocity_command": None if self._velocity_command is None else self._velocity_command.tolist(),
            "policy": self._describe_policy(),
        }

    def _write_event(self, t: float, kind: str, detail: Mapping[str, Any]) -> None:
        if self._bag is None:
            return
        if not (math.isfinite(t) and t >= 0):
            t = self._last_now if self._last_now is not None and math.isfinite(self._last_now) else 0.0
            t = max(t, 0.0)
        self._bag.write_event(t, kind, _json_safe(detail))

    def _log_tick(
        self,
        reading: Any,
        now: float,
        command: Command,
        events: list[SafetyEvent],
        change: StageChange | None,
        mode: str,
    ) -> None:
        bag = self._bag
        if mode != self._mode:
            if self._mode is not None or mode != "normal":
                reason = next((e.message for e in events if e.severity in _BAD), None)
                # a held tick (one dropped reading) is routine and the monitor logs its event: debug only
                log.log(
                    logging.WARNING if mode == "safe" else logging.DEBUG,
                    "command mode %s -> %s at t=%.3f s%s",
                    self._mode,
                    mode,
                    now,
                    f": {reason}" if reason else "",
                )
                self._write_event(now, EVENT_MODE, {"from": self._mode, "to": mode, "reason": reason})
            self._mode = mode
        if bag is None:
            return
        if (
            isinstance(reading, Reading)
            and reading.valid
            and math.isfinite(reading.t)
            and reading.t >= 0
            and (self._last_logged_t is None or reading.t > self._last_logged_t)
            and _finite(reading.q, reading.qd)
        ):
            tau = reading.tau if reading.tau is not None and _finite(reading.tau) else None
            bag.write_state(reading.t, reading.q, reading.qd, tau)
            if (
                self.config.log_imu
                and reading.gyro is not None
                and reading.accel is not None
                and _finite(reading.gyro, reading.accel, reading.quat)
            ):
                bag.write_imu(reading.t, reading.gyro, reading.accel, reading.quat)
            if self._base_log is not None:
                self._base_log.write(bag, reading)
            self._last_logged_t = reading.t
        for event in events:
            self._write_event(now, EVENT_SAFETY, event.as_dict())
        if change is not None:
            self._write_event(
                now,
                EVENT_STAGE,
                {
                    "previous_stage": change.previous_stage,
                    "stage": change.stage,
                    "fraction": change.fraction,
                    "message": change.message,
                },
            )
        t = now if math.isfinite(now) and now >= 0 else (self._last_now or 0.0)
        bag.write_command(t, command.values)

    # ------------------------------------------------------------------ running

    def run(self, seconds: float | None = None, *, max_ticks: int | None = None) -> dict[str, Any]:
        """Run ticks for ``seconds`` of loop time (``round(seconds / control_dt)`` ticks), or until
        :meth:`request_stop` when None; paced mode sleeps between ticks, lockstep does not.

        The robot stays as the last command left it; :meth:`close` puts it in safe mode.  On an
        exception (KeyboardInterrupt included) the robot is put in safe mode first.

        Returns:
            :meth:`summary`.
        """
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise Sim2RealError(f"seconds must be a positive number, got {seconds!r}")
        n = None if seconds is None else max(1, round(seconds / self.dt))
        if max_ticks is not None:
            n = max_ticks if n is None else min(n, max_ticks)
        self.open()
        self._stop_requested = False
        paced = self.config.mode == "paced"
        next_slot = time.perf_counter()
        done = 0
        try:
            while (n is None or done < n) and not self._stop_requested:
                slot = None
                if paced:
                    _sleep_until(next_slot)
                    slot = next_slot
                self.tick(_slot=slot)
                done += 1
                if paced:
                    assert slot is not None
                    behind = time.perf_counter() - slot
                    periods = max(1, math.ceil(behind / self.dt - 1e-9))
                    self.skipped_periods += periods - 1
                    next_slot = slot + periods * self.dt
        except BaseException as exc:
            self._emergency_stop(self._last_now if self._last_now is not None else math.nan, exc)
            raise
        return self.summary()

    # ------------------------------------------------------------------ results

    @property
    def state(self) -> str:
        """Monitor state after the last tick: ok, hold or safe_stop."""
        return "safe_stop" if self.monitor.latched else self._state

    @property
    def last_reading(self) -> Reading | None:
        """The reading of the last tick."""
        return self._last_reading

    def summary(self) -> dict[str, Any]:
        """Figures of the run so far (JSON-friendly)."""
        wall = (
            (self._wall_last - self._wall_first) if self._wall_first is not None and self._wall_last else 0.0
        )
        duration = self.ticks * self.dt
        counters = self.monitor.counters
        return {
            "robot": self.spec.name,
            "spec_hash": self.spec.hash,
            "mode": self.config.mode,
            "ticks": self.ticks,
            "duration_s": duration,
            "wall_s": wall,
            "control_rate_hz": 1.0 / self.dt,
            "achieved_rate_hz": (self.ticks - 1) / wall if wall > 0 and self.ticks > 1 else None,
            "realtime_factor": duration / wall if wall > 0 else None,
            "missed_deadlines": self.missed_deadlines,
            "skipped_periods": self.skipped_periods,
            "mean_tick_ms": 1e3 * self._tick_s_sum / self.ticks if self.ticks else None,
            "max_tick_ms": 1e3 * self._tick_s_max,
            "max_compute_ms": 1e3 * self._compute_s_max,
            "safety": {
                "state": self.state,
                "latched": self.monitor.latched,
                "latch_reason": self.monitor.latch_reason,
                "events": self._events,
                "counters": {k: v for k, v in counters.items() if v},
                "ticks_by_mode": dict(self._mode_ticks),
                "resets": self.resets,
            },
            "policy": {
                "invalid_inputs": self.policy_invalid_inputs,
                "errors": self.policy_errors,
            },
            "stage": self.speed.stage,
            "speed_fraction": self.speed.fraction,
            "stage_changes": self.stage_changes,
            "episode_return": self.episode_return if self._reward is not None else None,
            "bag": str(self.log_path) if self.log_path is not None else None,
        }


def _sleep_until(deadline: float) -> None:
    """Sleep until ``deadline`` (perf_counter clock): coarse sleep, then a short spin for precision."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return
        if remaining > 0.0005:
            time.sleep(remaining - 0.0003)


def parse_stage(stage: str | int | float | None, stages: tuple[float, ...] | None = None) -> int | None:
    """A speed stage index from ``--speed``: an index (``2``), a percentage (``50%``) or a fraction (``0.5``).

    Raises:
        Sim2RealError: when it names no stage.
    """
    stages = tuple(stages if stages is not None else SpeedConfig().stages)
    if stage is None:
        return None
    if isinstance(stage, bool):
        raise Sim2RealError(f"--speed: {stage!r} is not a stage")
    text = str(stage).strip()
    try:
        if text.endswith("%"):
            value: int | float = float(text[:-1]) / 100.0
        elif text.lstrip("+-").isdigit():
            value = int(text)
        else:
            value = float(text)
    except ValueError:
        raise Sim2RealError(
            f"--speed {stage!r}: give a stage index 0..{len(stages) - 1}, a percentage (50%) or a fraction (0.5)"
        ) from None
    if isinstance(value, int):
        if not 0 <= value < len(stages):
            raise Sim2RealError(f"--speed {value}: stages are 0..{len(stages) - 1} ({_percent(stages)})")
        return value
    matches = [i for i, s in enumerate(stages) if abs(s - value) <= 1e-9]
    if not matches:
        raise Sim2RealError(f"--speed {stage}: not a stage; stages are {_percent(stages)}")
    return matches[0]


def _percent(stages: tuple[float, ...]) -> str:
    return ", ".join(f"{100 * s:g}%" for s in stages)


def build_loop(
    spec: Any,
    robot: Robot,
    policy_path: str | Path,
    *,
    log_path: str | Path | None = None,
    speed_stage: int | float | str | None = None,
    meta: Mapping[str, Any] | None = None,
    log_meta: Mapping[str, Any] | None = None,
    config: LoopConfig | None = None,
    on_tick: Callable[[TickResult], None] | None = None,
) -> ControlLoop:
    """The deployment loop of a policy file on a robot (the ROS 2 deploy node builds its loop here).

    Loads the policy with :class:`~sim2real.policy.runtime.PolicyRunner` (CPU provider: the lowest
    latency for one robot), paced mode unless ``config`` says otherwise, the speed progression
    starting at ``speed_stage`` (index, fraction or percentage), and a bag at ``log_path`` (default
    ``runs/<robot>_deploy_<date>_<time>``).  ``meta`` and ``log_meta`` (the same thing, merged) go
    to the bag's metadata.

    Raises:
        PolicyError / SpecMismatchError: the policy cannot be loaded or is for another spec.
    """
    from sim2real.policy.runtime import PolicyRunner

    if robot.spec.hash != spec.hash:
        raise Sim2RealError(
            f"the robot's spec {robot.spec.hash[:12]} is not the deployment's {spec.hash[:12]}"
        )
    runner = PolicyRunner(policy_path, spec, providers="cpu")
    if config is None:
        config = LoopConfig(mode="paced")
    index = parse_stage(speed_stage, config.speed.stages)
    if index is not None:
        config = dataclasses.replace(config, speed=dataclasses.replace(config.speed, start_stage=index))
    if log_path is None:
        log_path = Path("runs") / time.strftime(f"{spec.name}_deploy_%Y%m%d_%H%M%S")
    return ControlLoop(
        robot,
        runner,
        config=config,
        log_path=log_path,
        log_meta={"policy_file": str(policy_path), **dict(meta or {}), **dict(log_meta or {})},
        on_tick=on_tick,
    )
