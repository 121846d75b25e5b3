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
I/O excluded) exceeds the period, i.e. it could not keep the rate on a robot (the first tick, which
pays one-time costs, is not judged).  Misses are counted, logged (throttled; warnings when paced,
INFO in lockstep, where they only say the machine was busy) and written to the events topic.

**Speed progression.** A :class:`~sim2real.deploy.speed.SpeedProgression` (10/25/50/75/100 % by
default) slows the robot down: for a velocity-tracking policy the velocity command is scaled by
the stage's fraction (10 % of the commanded speed) while the monitor shapes joint targets at full
speed (a walking robot needs its full joint speed to balance at any pace); for other policies the
monitor's speed fraction (command rate, pd target speed, velocity governor) follows the stage
(``LoopConfig.speed_applies_to`` chooses explicitly).  Below 100 %, a velocity-tracking robot whose
base speed or yaw rate stays above its stage's command plus a margin is safe-stopped
(:mod:`sim2real.deploy.stage_speed`: a policy that ignores its command does not run fast).  A stage
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
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.loop_config import LoopConfig, Policy, TickResult, stages_slow_targets
from sim2real.deploy.loop_log import (
    EVENT_DEADLINE,
    EVENT_ERROR,
    EVENT_ESTOP,
    EVENT_POLICY,
    EVENT_RESET,
    EVENT_START,
    EVENT_VELOCITY,
    HOLD_OR_SAFE_STOP,
    LoopLog,
    describe_policy,
    finite,
)
from sim2real.deploy.reward import _RewardMeter
from sim2real.deploy.safety import ResetResult, SafetyMonitor, Severity
from sim2real.deploy.speed import SpeedProgression, parse_stage
from sim2real.deploy.stage_speed import stage_command, stage_speed_guard
from sim2real.errors import Sim2RealError
from sim2real.real.odometry import base_state_log
from sim2real.real.protocol import Reading, Robot

__all__ = [
    "ControlLoop",
    "LoopConfig",
    "Policy",
    "TickResult",
    "parse_stage",
]

log = logging.getLogger(__name__)


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
        monitor: The safety monitor; default: a new one for ``robot.spec`` with its collision
            detection (:func:`~sim2real.deploy.monitor.deployment_monitor`) observing the model the
            policy was trained on (its metadata's calibration, else the nominal model).
        speed: The speed progression; default: from ``config.speed``.
        log_path: Bag directory to write (must not exist); None: no log.
        log_meta: Extra JSON-serializable description stored in the bag's metadata.
        on_tick: Called with every :class:`TickResult` (after logging); e.g. a live display.
        clock: The loop clock ``now()`` [s]; default: see the module docstring.
        live: A live view (:class:`~sim2real.deploy.live.LiveTelemetry`) that gets what the log
            gets, and a status per tick; its owner opens and closes it.

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
        live: Any = None,
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
        if monitor is None:  # with the spec's collision detection (numpy + MuJoCo), on the policy's training model
            from sim2real.deploy.collision_model import ObserverModel
            from sim2real.deploy.monitor import deployment_monitor

            monitor = deployment_monitor(self.spec, observed=ObserverModel.of_policy(policy, self.spec))
        self.monitor = monitor
        self.speed = speed if speed is not None else SpeedProgression.from_config(self.config.speed)
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
        self._vc_changed = True  # the velocity command was set since the log said it
        self._vc_fraction = math.nan  # the speed fraction when the log last said it
        self.speed_limits_targets = stages_slow_targets(
            self.config,
            self.speed.config.stages,
            self._velocity_command is not None,
            guarded=self._velocity_command is not None and self._stage_speed_measured(),
        )
        """Whether speed stages slow the joint targets (the monitor's speed fraction) or only the velocity command."""
        self._set_speed(self.speed.fraction)
        self._vc_clip = clip = next((t.clip for t in self.spec.observation if t.name == "velocity_command"), None)
        self.stage_speed = None if self.speed_limits_targets else stage_speed_guard(
            self.spec, self.config.stage_speed, lambda: (self.speed.fraction, self._commanded(clip))
        )
        """The cap the stages put on the robot's own speed (a velocity-tracking floating base), or None."""
        if self.stage_speed is not None:
            self.monitor.add_state_check(self.stage_speed.check)
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
        self._log = LoopLog(self.spec, self.config.log_imu, live)
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
        self._state = "ok"
        self._first_now: float | None = None
        self._last_now: float | None = None
        self._last_reading: Reading | None = None
        self._wall_first: float | None = None
        self._wall_last: float | None = None
        self._prev_wall: float | None = None
        self._tick_s_sum = 0.0
        self._tick_s_max = 0.0
        self._compute_s_max = 0.0
        self._policy_error_logged = False
        self._handled_exc: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle


    def _stage_speed_measured(self) -> bool:
        """Whether a stage-speed guard can check that the robot slows with its velocity command: a
        floating base, the guard on, and a robot that gives its base's velocity (a ROS 2 robot
        without an odometry topic gives only the yaw rate, and a policy that ignores its command
        would walk at full speed at 10 %); otherwise the stages slow the joint targets (said)."""
        if not (self.spec.floating_base and self.config.stage_speed.enabled):
            return False
        if getattr(self.robot, "gives_base_lin_vel", True) is False:
            log.warning(
                "the robot gives no base velocity (ros2: odometry_topic), so no stage-speed guard can check that it "
                "slows with its velocity command: speed stages slow the joint targets instead"
            )
            return False
        return True
    def _tick_clock(self) -> float:
        return self.ticks * self.dt

    def open(self) -> ControlLoop:
        """Open the bag (when logging).  Called by every :meth:`tick` (nothing to do once open).

        Raises:
            Sim2RealError: the loop is closed.
        """
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
                "policy": describe_policy(self.policy),
                **self.log_meta,
            }
            # a robot hung by its base has no base state to log
            base = None if self.log_meta.get("fixed_base") else base_state_log(self.spec, self.robot)
            self._log.open(self.log_path, meta, self.config.flush_period, base_log=base)
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
            self.stop_robot(self._last_now)
        finally:
            t = self._last_now if self._last_now is not None and self._last_now >= 0 else 0.0
            self._log.close(t, summary)
        return summary

    def stop_robot(self, now: float | None = None) -> None:
        """Put the robot in safe mode now, outside a tick (the end of a run, an e-stop, an error).

        ``robot.stop()``; a robot whose safe mode is values on its command topic
        (``sends_safe_values``: a ROS 2 driver without a safe-mode topic) is written the monitor's
        safe command at the newest reading instead, else it would keep the last normal command."""
        if getattr(self.robot, "sends_safe_values", False):
            self.robot.write(self.monitor.safe_command(self._last_reading, now))
        else:
            self.robot.stop()

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
        self._vc_changed = True

    @property
    def velocity_command(self) -> np.ndarray | None:
        """The velocity command before speed scaling, or None for policies without one."""
        return None if self._velocity_command is None else self._velocity_command.copy()

    def reset_safety(self) -> ResetResult:
        """Release a latched safe stop explicitly, if a fresh reading passes every check.

        On success the policy's state is cleared and the speed progression starts again at
        ``config.restart_stage`` or the stage it was at, the lower; after a latched stop the next command
        ramps from the zero-torque command.  With nothing latched, a hold and the checks' clocks go on (``SafetyMonitor.reset``).
        """
        self.open()  # a closed loop refuses: close() put the robot in safe mode
        reading = self.robot.read()
        now = float(self._clock())
        latched = self.monitor.latched
        result = self.monitor.reset(reading, now)
        self.resets += 1
        detail: dict[str, Any] = {"accepted": result.accepted, "message": result.event.message}
        if result.accepted:
            if self.stage_speed is not None and latched:  # unlatched, its time above a cap goes on
                self.stage_speed.restart()
            self.policy.reset()
            self.speed.start_at(min(self.config.restart_stage, self.speed.stage))  # never a faster stage
            self._set_speed(self.speed.fraction)
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

    def _set_speed(self, fraction: float) -> None:
        """Apply a stage's fraction: to the monitor when the stages slow the joint targets, else
        (the velocity command alone) the monitor stays at full speed."""
        self.monitor.set_speed_fraction(fraction if self.speed_limits_targets else 1.0)

    def _commanded(self, clip: tuple[Any, Any] | None) -> np.ndarray | None:
        """The command the stage's speed cap is built from (:func:`stage_command`)."""
        return stage_command(self._effective_velocity_command(), clip)[0]

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
            u = np.array(out, dtype=float)  # an output that is no numbers is the policy's failure too
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
        if u.shape == (self._n_act,) and np.all(np.isfinite(u)):
            self._last_u = u
        return u, True

    def tick(self, *, _slot: float | None = None) -> TickResult:
        """One control step: read, check, policy, check, write, log.  Never sleeps.

        Returns:
            What the tick did.
        """
        self.open()  # a closed loop refuses: close() put the robot in safe mode, no command may follow
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
                and not any(e.severity in HOLD_OR_SAFE_STOP for e in events)
            )
            policy_ran, input_finite = False, True
            changed, self._vc_changed = self._vc_changed, False  # cleared before the read: a change after it stays
            velocity_command = self._effective_velocity_command()
            if velocity_command is not None and (changed or self.speed.fraction != self._vc_fraction):
                self._vc_fraction = self.speed.fraction
                self._write_event(now, EVENT_VELOCITY, {"velocity_command": velocity_command.tolist()})
                if (note := stage_command(velocity_command, self._vc_clip)[1]) and self.speed.fraction < 1.0:
                    log.warning("speed stage %d (%g): %s", self.speed.stage, self.speed.fraction, note)
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
                self._set_speed(change.fraction)
                self.stage_changes += 1
                log.info("%s at t=%.3f s", change.message, now)
        reward = None
        if (
            self._reward is not None
            and isinstance(reading, Reading)
            and reading.valid
            and finite(reading.q, reading.qd)
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
        else:  # the first tick pays one-time costs (first inference, caches): not a deadline
            missed = self.ticks > 0 and (t_decided - t_read) > self.dt
            overrun = (t_decided - t_read) - self.dt
        self._prev_wall = wall_start

        # ---- log
        self._log.tick(reading, now, decision.command, events, change, mode, self._last_now)
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
        self._log.status(result, self.missed_deadlines, self._events)
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
            self.stop_robot(now if math.isfinite(now) else None)
        except Exception:  # the original error is the one to report
            log.exception("stopping the robot failed after an error in the control loop")
        t = now if math.isfinite(now) else (self._last_now or 0.0)
        try:
            self._write_event(t, EVENT_ERROR, {"what": "robot stopped", "error": repr(exc)})
        except Exception:
            log.exception("could not log the error event")

    def _missed(self, now: float, overrun: float) -> None:
        self.missed_deadlines += 1
        n = self.missed_deadlines
        if n <= self.config.deadline_log_first or n % self.config.deadline_log_every == 0:
            # lockstep: a simulation, where a miss only says the machine was busy (counted in the summary)
            log.log(
                logging.WARNING if self.config.mode == "paced" else logging.INFO,
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

    def _start_detail(self) -> dict[str, Any]:
        return {
            "mode": self.config.mode,
            "control_dt": self.dt,
            "stage": self.speed.stage,
            "fraction": self.speed.fraction,
            "velocity_command": None if self._velocity_command is None else self._velocity_command.tolist(),
            "stage_speed": None if self.stage_speed is None else dataclasses.asdict(self.stage_speed.config),
            "policy": describe_policy(self.policy),
        }

    def _write_event(self, t: float, kind: str, detail: Mapping[str, Any]) -> None:
        self._log.event(t, kind, detail, self._last_now)

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
