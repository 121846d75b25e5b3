"""SafetyMonitor: every command to a robot passes through here.

Once per control tick the loop calls :meth:`SafetyMonitor.filter_command` with the policy's command
(actuator units: rad target for ``pd``, N m for ``torque``, V for ``dc_motor``), the newest
:class:`~sim2real.real.protocol.Reading` and the loop time ``now`` (same clock as ``Reading.t``).
It checks the reading, clamps the command into the spec's limits and returns a
:class:`SafetyDecision`: the :class:`~sim2real.real.protocol.Command` that may be sent, the events
of this tick, and the monitor's state.  :meth:`SafetyMonitor.check_state` runs the state checks
alone (``filter_command`` runs them itself unless they already ran for the same reading and
``now``).

Severities and reactions
------------------------

- ``clamp``: the command was modified to satisfy a limit; the loop continues.
- ``hold``: this tick's input cannot be used; the last safe command is repeated (projected into
  the hard limits of the newest good reading; with ``hold_gains`` a torque joint instead holds the
  pose the hold began at, fed back from fresh readings only, :mod:`~sim2real.deploy.torque_hold`),
  the command's mode is ``hold``.
- ``safe_stop``: the robot is sent to safe mode (command mode ``safe``).  LATCHED: every later
  tick returns a safe command until :meth:`SafetyMonitor.reset` is called explicitly AND the state
  passes every check again.
- ``info``: bookkeeping (an accepted reset).

================  ============================================================  ================
kind              check                                                         severity
================  ============================================================  ================
nan_state         NaN/inf in the reading (t, q, qd, tau where measured, gyro,   safe_stop
                  accel, quat, base_height) or a zero quaternion
stale             one unusable reading: valid=False, missing (None), wrong      hold
                  number of joints, time going backwards, time ahead of now
stale             newest reading older than stale_timeout; no usable reading    safe_stop
                  for longer than stale_timeout (watchdog); loop time now
                  going backwards or not finite
position_limit    measured joint position outside [low, high]                   safe_stop
velocity_limit    measured joint speed above its limit (not scaled by the       safe_stop
                  speed fraction)
torque_limit      measured joint torque above its limit (at the joints that     safe_stop
                  measure it: ``Reading.tau_measured``)
tilt              base tilt above safety.tilt, or no quaternion although the    safe_stop
                  spec limits tilt
height            base height outside safety.base_height, or no height          safe_stop
                  although the spec limits it
estop             request_estop() was called                                    safe_stop
collision         unexplained external torque above its threshold (the          hold or
                  momentum observer, :mod:`sim2real.deploy.collision`), and     safe_stop
                  until it stayed below for the release time;
                  held longer than hold_timeout                                 safe_stop
sensor            a joint's position not following its velocity over 0.1 s      safe_stop
                  (a frozen or stale stream republished with fresh stamps,
                  :mod:`sim2real.deploy.safety_motion`)
stage_speed       base speed or yaw rate above the speed stage's cap (a velocity    info, then
                  policy below 100 %, :mod:`sim2real.deploy.stage_speed`)       safe_stop
position_limit    pd target outside the position limits: clamped                clamp
torque_limit      torque the command implies above the limit (pd: kp (target -  clamp
                  q) - kd qd; torque: the value; dc_motor: kt (V - ke qd) /
                  R), or a dc_motor voltage beyond +-voltage_limit: clamped
rate_limit        command value changing faster than command_rate *             clamp
                  speed_fraction: clamped
velocity_limit    pd target moving faster than velocity * speed_fraction; or a  clamp
                  command that would accelerate a joint already faster than
                  velocity * speed_fraction (governor): clamped
rate_limit        the hard limits moved beyond the rate limit's reach (no       hold
                  value satisfies both): hold, projected into the hard limits
nan_command       NaN/inf, non-numbers or wrong length in the command           hold
nan_command       ... for longer than stale_timeout in a row                    safe_stop
torque_limit or   no command satisfies the hard limits at this state (e.g. a    safe_stop
position_limit    pd joint racing towards its position limit, a dc_motor back-
                  EMF beyond the supply)
invariant         the final check (assert_safe) found the output outside a      safe_stop
                  limit: it is not sent
reset             reset() accepted / refused                                    info / safe_stop
================  ============================================================  ================

The speed fraction (0, 1] scales the limits used to shape commands (command rate, pd target
speed, velocity governor), never the hard state limits.  Whatever happens, a command of mode
``normal`` has finite values, pd targets inside the position limits, an implied torque inside the
torque limit, dc_motor voltages inside +-voltage_limit, and changes within the rate limits:
:func:`assert_safe` re-checks each output independently of the clamping code before it is
returned.

While latched, an event of the same kind, severity and joint is reported once, not every tick
(counters count what is reported).

Where each check lives and which tests pin it: the table in ``docs/safety.md`` (*Where each check
lives*).

Limits are named fields with units (:class:`~sim2real.deploy.safety_limits.ActuatorLimits`), the
torque a command implies is computed by one function
(:func:`~sim2real.robots.actuation.implied_torque`, inverted by ``command_for_torque`` for the
window), and the vocabulary (kinds, severities, events) is in :mod:`sim2real.deploy.safety_events`.
This module needs numpy only.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from sim2real.deploy.body_geometry import imu_to_base
from sim2real.deploy.safety_events import (
    EventKind,
    MonitorState,
    ResetResult,
    SafetyConfigError,
    SafetyDecision,
    SafetyEvent,
    Severity,
    new_event,
)
from sim2real.deploy.safety_limits import (
    TORQUE_RTOL,
    ActuatorLimits,
    CommandWindow,
    assert_safe,
    command_window,
    safe_mode_command,
    zero_torque_command,
)
from sim2real.deploy.safety_motion import MotionCheck
from sim2real.deploy.safety_shape import clamp_events, conflict_events, governor, parse_command
from sim2real.deploy.safety_state import base_tilt, check_reading
from sim2real.deploy.torque_hold import HoldGains, hold_command
from sim2real.real.protocol import Command, Reading
from sim2real.robots.spec import RobotSpec

if TYPE_CHECKING:
    from sim2real.deploy.collision import CollisionDetector

StateCheck = Callable[[Reading | None, float], list[SafetyEvent]]
"""A check the monitor runs on every reading after its own: (reading, now) -> events."""

__all__ = [
    "TORQUE_RTOL",
    "EventKind",
    "MonitorState",
    "ResetResult",
    "SafetyConfigError",
    "SafetyDecision",
    "SafetyEvent",
    "SafetyMonitor",
    "Severity",
    "assert_safe",
    "base_tilt",
]

logger = logging.getLogger(__name__)


def _whole_tau(reading: Reading | None) -> Reading | None:
    """The reading as the collision observer takes it: a torque measured at some joints only is
    none (the observer then takes the torque the command implies at every joint)."""
    if isinstance(reading, Reading) and reading.tau is not None and reading.tau_complete is None:
        return dataclasses.replace(reading, tau=None, tau_measured=None)
    return reading


class SafetyMonitor:
    """Checks readings and clamps commands against a robot's safety limits (see module docstring).

    Args:
        spec: The robot; its ``safety`` limits and actuator gains are enforced.
        speed_fraction: In (0, 1]: scales the command rate, pd target speed and velocity governor.
        collision: The collision detector (:mod:`sim2real.deploy.collision`) run after the state
            checks of every reading; None: no collision detection.

    Raises:
        SafetyConfigError: if ``speed_fraction`` is outside (0, 1].
    """

    def __init__(
        self,
        spec: RobotSpec,
        speed_fraction: float = 1.0,
        collision: CollisionDetector | None = None,
        hold_gains: HoldGains | None = None,
    ) -> None:
        self.spec = spec
        self.collision = collision
        """The collision detector, or None."""
        self.hold_gains = hold_gains
        """Feedback of a hold at torque actuators (:mod:`~sim2real.deploy.torque_hold`;
        :func:`~sim2real.deploy.monitor.deployment_monitor` gives it), or None: a hold repeats the last
        command, a frozen torque."""
        self._hold_from: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None
        """The hold under way: (the last command before it, the actuated joints' pose at its first
        tick, every joint's pose then), or None."""
        self._fed_t: float | None = None
        """Time of the reading the previous command was computed from (a hold feeds back only a newer one)."""
        self.limits = ActuatorLimits.from_spec(spec)
        """The hard limits per actuator."""
        self._imu_to_base = imu_to_base(spec) if spec.safety.tilt is not None else None
        self._n = spec.n_joints
        self._m = len(spec.actuators)
        self.max_command_dt = max(float(spec.safety.stale_timeout), 2.0 * float(spec.control_dt))
        """Longest interval [s] the rate limit credits between two commands (longer gaps count as this)."""
        self._speed = 1.0
        self.set_speed_fraction(speed_fraction)
        self._counters: dict[str, int] = {str(k): 0 for k in EventKind}
        self._estop_reason: str | None = None
        self._estop_lock = threading.Lock()
        self._latched = False
        self._latch_reason: str | None = None
        self._reported_while_latched: set[tuple[str, str, str | None]] = set()
        self._start_now: float | None = None
        self._last_now: float | None = None
        self._last_t: float | None = None
        self._last_good: Reading | None = None
        self._last_fresh: float | None = None  # time of the newest timely, finite reading (the watchdog's)
        self._prev: np.ndarray | None = None
        self._prev_now: float = math.nan
        self._bad_command_since: float | None = None
        self._checked: tuple[Reading | None, float] | None = None
        self._tick_state: MonitorState = "hold"
        self._state_checks: list[StateCheck] = []
        self.motion: MotionCheck | None = MotionCheck(spec)
        """The check that each joint's position follows its velocity (:mod:`~.safety_motion`); None:
        off (only tests of the clamps at a constant state with a velocity, which no sensor gives)."""

    # ------------------------------------------------------------------ configuration and status

    def state_was_set(self) -> None:
        """The robot's state was set from outside (a simulated episode's start: the twin put at its
        initial state): the motion check's window restarts at the next reading, which would otherwise
        take the jump for a sensor whose position does not follow its velocity."""
        if self.motion is not None:
            self.motion.reset()

    @property
    def speed_fraction(self) -> float:
        """Current speed fraction in (0, 1]."""
        return self._speed

    def set_speed_fraction(self, fraction: float) -> None:
        """Change the speed fraction (e.g. on a speed-progression stage change).

        Raises:
            SafetyConfigError: if ``fraction`` is not in (0, 1].
        """
        f = float(fraction)
        if not (math.isfinite(f) and 0.0 < f <= 1.0):
            raise SafetyConfigError(f"speed fraction must be in (0, 1], got {fraction!r}")
        self._speed = f

    @property
    def latched(self) -> bool:
        """Whether a safe stop is latched (only :meth:`reset` releases it)."""
        return self._latched

    @property
    def latch_reason(self) -> str | None:
        """Message of the event that latched the safe stop, or None."""
        return self._latch_reason

    @property
    def counters(self) -> dict[str, int]:
        """Number of reported events per kind (a copy)."""
        return dict(self._counters)

    def max_step(self, dt: float) -> np.ndarray:
        """Largest allowed change of each command value over ``dt`` seconds, shape (n_actions,)."""
        rate = self.limits.command_rate
        dt_eff = min(max(float(dt), 0.0), self.max_command_dt) if math.isfinite(dt) else 0.0
        with np.errstate(invalid="ignore"):
            step = rate * self._speed * dt_eff
        return np.where(np.isinf(rate), np.where(dt_eff > 0, np.inf, 0.0), step)

    @property
    def estop_requested(self) -> bool:
        """Whether an e-stop was requested and not yet cleared by an accepted :meth:`reset` (it
        latches a safe stop at the next check)."""
        with self._estop_lock:
            return self._estop_reason is not None

    def request_estop(self, reason: str = "e-stop requested") -> None:
        """Request an emergency stop: the next check latches a safe stop.  Safe to call from
        another thread; only :meth:`reset` clears it."""
        with self._estop_lock:
            if self._estop_reason is None:
                self._estop_reason = str(reason) or "e-stop requested"

    def add_state_check(self, check: StateCheck) -> None:
        """Run ``check(reading, now) -> events`` after every reading's own checks while no safe stop
        is latched (the speed stages' :class:`~.stage_speed.StageSpeedGuard`); its safe_stop latches."""
        self._state_checks.append(check)

    # ------------------------------------------------------------------ state checks

    def _evaluate(
        self, reading: Reading | None, now: float, *, ignore_estop: bool = False
    ) -> tuple[list[SafetyEvent], MonitorState]:
        """State events of one tick and the state they call for; no side effects."""
        return check_reading(
            self.spec,
            reading,
            now,
            last_now=self._last_now,
            last_t=self._last_t,
            watchdog_since=self._last_fresh if self._last_fresh is not None else self._start_now,
            estop_reason=None if ignore_estop else self._estop_reason,
            imu_to_base=self._imu_to_base,
        )

    def _report(self, events: Sequence[SafetyEvent]) -> list[SafetyEvent]:
        """Count and log events; while latched, each (kind, severity, joint) is reported once."""
        out = []
        for e in events:
            if self._latched:
                key = (str(e.kind), str(e.severity), e.joint)
                if key in self._reported_while_latched:
                    continue
                self._reported_while_latched.add(key)
            self._counters[str(e.kind)] = self._counters.get(str(e.kind), 0) + 1
            level = {Severity.SAFE_STOP: logging.WARNING, Severity.HOLD: logging.INFO}.get(
                e.severity, logging.DEBUG
            )
            logger.log(level, "safety %s (%s): %s", e.kind, e.severity, e.message)
            out.append(e)
        return out

    def _latch(self, events: Sequence[SafetyEvent]) -> None:
        safe_stops = [e for e in events if e.severity == Severity.SAFE_STOP]
        if safe_stops and not self._latched:
            self._latched = True
            self._latch_reason = safe_stops[0].message
            self._prev = self._hold_from = None
            # what latched it is already reported: report it only once while latched
            self._reported_while_latched.update((str(e.kind), str(e.severity), e.joint) for e in events)
            logger.error("safety: safe stop latched: %s", self._latch_reason)

    def check_state(self, reading: Reading | None, now: float) -> list[SafetyEvent]:
        """Run the state checks of one tick (pass ``reading=None`` when no reading arrived).

        Args:
            reading: The newest reading, or None.
            now: Loop time [s], on the same clock as ``reading.t``.

        Returns:
            The events reported (a safe_stop among them latches the monitor).
        """
        now = float(now)
        events, state = self._evaluate(reading, now)
        if state == "ok" and self.motion is not None:  # a usable reading: does q follow qd?
            assert isinstance(reading, Reading)
            frozen = self.motion.check(reading, now)
            events += frozen
            state = "safe_stop" if frozen else state
        if state == "ok":  # a usable reading, whatever the collision observer finds in it
            self._last_good = reading
        if self.collision is not None:  # the command applied since the last reading: None when safe
            hits = self.collision.check(_whole_tau(reading), now, None if self._latched else self._prev)
            events += hits
            if hits and state != "safe_stop":
                state = "safe_stop" if hits[0].severity == Severity.SAFE_STOP else "hold"
        for check in () if self._latched else self._state_checks:  # latched: the policy has no control
            hits = check(reading, now)
            events += hits
            state = "safe_stop" if any(e.severity == Severity.SAFE_STOP for e in hits) else state
        if math.isfinite(now):
            if self._start_now is None:
                self._start_now = now
            if self._last_now is None or now > self._last_now:
                self._last_now = now
        if (
            isinstance(reading, Reading)
            and reading.valid
            and reading.q.shape == (self._n,)
            and math.isfinite(reading.t)
            and math.isfinite(now)
            and reading.t <= now
            and (self._last_t is None or reading.t >= self._last_t)
        ):
            self._last_t = reading.t
            # timely and finite, even if beyond a limit or held for a collision: the watchdog counts
            # from here (a limit stop is no reason to also report that readings stopped)
            if now - reading.t <= float(self.spec.safety.stale_timeout) and not any(
                e.kind == EventKind.NAN_STATE for e in events
            ):
                self._last_fresh = reading.t
        reported = self._report(events)
        self._latch(events)
        self._tick_state = state
        self._checked = (reading, now)
        return reported

    # ------------------------------------------------------------------ commands

    def _hard_window(self, q: np.ndarray, qd: np.ndarray) -> CommandWindow:
        """Hard limits on each command value at state (q, qd) of the actuated joints."""
        return command_window(self.limits, q, qd)

    def safe_command(self, reading: Reading | None, now: float | None = None) -> Command:
        """A ``safe`` command: the robot enters the spec's safe mode.

        Its values are the equivalent of the safe-mode torque (``-damping * qd`` or zero) in actuator
        units at the given reading, else at the newest good reading's position at rest (its speed is not
        current: damping it would be a constant torque), else at the default pose at rest.
        """
        source = None
        for candidate in (reading, self._last_good):
            if (
                isinstance(candidate, Reading)
                and candidate.valid
                and candidate.q.shape == (self._n,)
                and candidate.qd.shape == (self._n,)
                and np.all(np.isfinite(candidate.q))
                and np.all(np.isfinite(candidate.qd))
            ):
                source = candidate
                break
        index = self.limits.index
        if source is None:
            q = np.asarray(self.spec.default_pose, dtype=float)[index]
            qd = np.zeros(self._m)
        else:
            fresh = source is reading and (now is None or now - source.t <= self.spec.safety.stale_timeout)
            q, qd = source.q[index], (source.qd[index] if fresh else np.zeros(self._m))
        values = safe_mode_command(self.spec, self.limits, q, qd)
        if now is None:
            now = source.t if source is not None else (self._last_now if self._last_now is not None else 0.0)
        return Command(t=float(now), values=values, mode="safe", measured=source is not None)

    def _safe_stop(self, reading: Reading | None, now: float, events: list[SafetyEvent]) -> SafetyDecision:
        return SafetyDecision(
            command=self.safe_command(reading, now if math.isfinite(now) else None),
            events=tuple(events),
            state="safe_stop",
            reading=None,
        )

    def _latch_now(self, event: SafetyEvent, events: list[SafetyEvent]) -> None:
        """Report one safe_stop event of the command path and latch."""
        events.extend(self._report([event]))
        self._latch([event])

    def filter_command(self, command_values: object, reading: Reading | None, now: float) -> SafetyDecision:
        """Check the state and turn the policy's command into one that may be sent.

        Args:
            command_values: Shape (n_actions,): the policy's command in actuator units, in
                ``spec.actuators`` order.
            reading: The newest reading (None when none arrived this tick).
            now: Loop time [s], same clock as ``reading.t``.

        Returns:
            The decision: its command is ``normal`` (possibly clamped), ``hold`` or ``safe``.
        """
        now = float(now)
        events: list[SafetyEvent] = []
        if self._checked is None or self._checked[0] is not reading or self._checked[1] != now:
            events.extend(self.check_state(reading, now))
        if self._latched:
            return self._safe_stop(reading, now, events)

        u, problem = parse_command(command_values, self._m)
        if problem is None:
            if self._tick_state == "ok":  # a command used ends a streak; one passed on a hold tick does not
                self._bad_command_since = None
        elif self._bad_command_since is None:
            self._bad_command_since = now

        if self._tick_state == "ok":
            state = reading
        else:
            state = self._last_good
            if state is None:  # nothing to hold yet: safe mode, not latched
                return SafetyDecision(self.safe_command(None, now), tuple(events), "hold", None)
        assert isinstance(state, Reading)

        if self._tick_state == "ok" and problem is not None:
            timeout = float(self.spec.safety.stale_timeout)
            assert self._bad_command_since is not None
            streak = now - self._bad_command_since
            if not streak <= timeout:
                self._latch_now(
                    new_event(
                        now,
                        EventKind.NAN_COMMAND,
                        Severity.SAFE_STOP,
                        f"no usable command for {streak:.4g} s (stale_timeout {timeout} s): {problem}",
                        value=streak,
                        limit=timeout,
                    ),
                    events,
                )
                return self._safe_stop(reading, now, events)
            events.extend(
                self._report(
                    [new_event(now, EventKind.NAN_COMMAND, Severity.HOLD, f"unusable command ({problem}): holding")]
                )
            )
        if self._tick_state != "ok" or problem is not None:
            u = None
        return self._shape(u, state, reading, now, events)

    def _shape(
        self,
        u: np.ndarray | None,
        state: Reading,
        reading: Reading | None,
        now: float,
        events: list[SafetyEvent],
    ) -> SafetyDecision:
        """Clamp ``u`` (or hold when None) at ``state``; run the final invariant check."""
        limits = self.limits
        q, qd = state.q[limits.index], state.qd[limits.index]
        names = limits.joints
        window = self._hard_window(q, qd)
        h_lo, h_hi = window.low, window.high
        empty = ~(h_lo <= h_hi)
        if np.any(empty):
            i = int(np.flatnonzero(empty)[0])
            kind = EventKind.POSITION_LIMIT if limits.actuation.pd[i] else EventKind.TORQUE_LIMIT
            rows = " and ".join(name for name, _, _ in window.rows())
            self._latch_now(
                new_event(
                    now,
                    kind,
                    Severity.SAFE_STOP,
                    f"{names[i]}: no command keeps {rows} at q={q[i]:.4g}, qd={qd[i]:.4g}",
                    joint=names[i],
                    value=float(qd[i]),
                    limit=float(limits.torque[i]),
                ),
                events,
            )
            return self._safe_stop(reading, now, events)

        if self._prev is None:
            prev = np.clip(zero_torque_command(limits, q, qd), h_lo, h_hi)
            dt = float(self.spec.control_dt)
        else:
            prev = self._prev
            dt = now - self._prev_now
        step = self.max_step(dt)
        rate_lo, rate_hi = prev - step, prev + step
        w_lo, w_hi = np.maximum(h_lo, rate_lo), np.minimum(h_hi, rate_hi)
        conflict = ~(w_lo <= w_hi)

        if np.any(conflict):  # the hard limits moved beyond the rate limit's reach
            out = np.clip(prev, h_lo, h_hi)
            mode = "hold"
            if u is not None:
                events.extend(self._report(conflict_events(limits, u, out, step, conflict, now)))
            check_prev = None
        elif u is None:  # a hold: torque joints hold their pose with feedback, PD joints their target
            if self._hold_from is None:
                self._hold_from = prev.copy(), (q.copy() if np.all(np.isfinite(q)) else None), state.q.copy()
            u_hold, q_hold, pose = self._hold_from
            fresh = state is reading and (self._fed_t is None or state.t > self._fed_t)  # no stale speed damped
            load = self.hold_gains.load_change(state.q, pose) if fresh and self.hold_gains is not None else None
            out = hold_command(self.hold_gains, prev, u_hold, q_hold, q, qd, fresh=fresh, load=load)
            out = np.clip(out, w_lo, w_hi)
            out, governed = governor(limits, self._speed, out, q, qd, w_lo, w_hi, now)  # never faster
            events.extend(self._report(governed))
            mode = "hold"
            check_prev = None
        else:
            self._hold_from = None
            mode = "normal"
            out = np.clip(u, w_lo, w_hi)
            events.extend(self._report(clamp_events(limits, self._speed, u, out, window, rate_lo, rate_hi, now)))
            out, governed = governor(limits, self._speed, out, q, qd, w_lo, w_hi, now)
            events.extend(self._report(governed))
            check_prev = prev

        problems = assert_safe(
            self.spec,
            out,
            state,
            check_prev,
            step if check_prev is not None else None,
            actuators=limits.actuation,
        )
        if problems:
            self._latch_now(
                new_event(
                    now,
                    EventKind.INVARIANT,
                    Severity.SAFE_STOP,
                    "output invariant violated, not sent: " + "; ".join(problems),
                ),
                events,
            )
            return self._safe_stop(reading, now, events)
        self._prev = out.copy()
        self._prev_now = now
        self._fed_t = state.t
        state_name: MonitorState = "ok" if mode == "normal" else "hold"
        return SafetyDecision(Command(t=now, values=out, mode=mode), tuple(events), state_name, state)

    # ------------------------------------------------------------------ reset

    def reset(self, reading: Reading | None, now: float) -> ResetResult:
        """Release a latched safe stop (and an e-stop request it latched on), if the state passes every
        check.  An e-stop requested since the last check stays pending: the next check stops the robot.
        With nothing latched, the collision observer, the motion check and a hold under way go on as
        they were (a reset is no way out of a contact's hold, nor of its ``hold_timeout``).

        After a latched stop, the next command ramps from the zero-torque command at the reading
        (rate limited).

        Args:
            reading: A fresh reading to verify the state with.
            now: Loop time [s].

        Returns:
            The result; false (and still latched) when any state check fails.
        """
        now = float(now)
        with self._estop_lock:
            estop_seen = self._estop_reason
        problems, state = self._evaluate(reading, now, ignore_estop=True)
        if state != "ok":
            event = new_event(
                now,
                EventKind.RESET,
                Severity.SAFE_STOP,
                "reset refused: " + "; ".join(e.message for e in problems),
            )
            self._counters[str(EventKind.RESET)] += 1
            logger.warning("safety: %s", event.message)
            return ResetResult(False, event, tuple(problems))
        assert isinstance(reading, Reading)
        was, latched = self._latch_reason, self._latched
        self._latched = False
        self._latch_reason = None
        with self._estop_lock:  # an e-stop requested while resetting is kept, and so is one no tick has
            if latched and self._estop_reason == estop_seen:  # latched yet: it must stop the robot first
                self._estop_reason = None
        self._reported_while_latched.clear()
        if latched:  # nothing latched: a hold under way (a contact, unusable commands) and its clocks go on
            self._prev = self._hold_from = self._fed_t = self._bad_command_since = None
            if self.collision is not None:
                self.collision.reset()
            if self.motion is not None:
                self.motion.reset()
        self._last_good = reading
        self._last_t = reading.t
        self._last_fresh = reading.t
        self._last_now = now if self._last_now is None else max(self._last_now, now)
        self._tick_state = "ok"
        self._checked = (reading, now)
        event = new_event(
            now, EventKind.RESET, Severity.INFO, f"reset accepted (was: {was})" if was else "reset accepted"
        )
        self._counters[str(EventKind.RESET)] += 1
        logger.info("safety: %s", event.message)
        return ResetResult(True, event, ())
