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
  the hard limits of the newest good reading), the command's mode is ``hold``.
- ``safe_stop``: the robot is sent to safe mode (command mode ``safe``).  LATCHED: every later
  tick returns a safe command until :meth:`SafetyMonitor.reset` is called explicitly AND the state
  passes every check again.
- ``info``: bookkeeping (an accepted reset).

================  ============================================================  ================
kind              check                                                         severity
================  ============================================================  ================
nan_state         NaN/inf in the reading (t, q, qd, tau, gyro, accel, quat,     safe_stop
                  base_height) or a zero quaternion
stale             one unusable reading: valid=False, missing (None), wrong      hold
                  number of joints, time going backwards, time ahead of now
stale             newest reading older than stale_timeout; no usable reading    safe_stop
                  for longer than stale_timeout (watchdog); loop time now
                  going backwards or not finite
position_limit    measured joint position outside [low, high]                   safe_stop
velocity_limit    measured joint speed above its limit (not scaled by the       safe_stop
                  speed fraction)
torque_limit      measured joint torque above its limit                         safe_stop
tilt              base tilt above safety.tilt, or no quaternion although the    safe_stop
                  spec limits tilt
height            base height outside safety.base_height, or no height          safe_stop
                  although the spec limits it
estop             request_estop() was called                                    safe_stop
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
(counters count what is reported).  This module needs numpy only.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command, Reading
from sim2real.robots.spec import RobotSpec

__all__ = [
    "EventKind",
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

TORQUE_RTOL = 1e-9
"""Relative tolerance of :func:`assert_safe` on implied torques and rate limits (rounding only)."""


class SafetyConfigError(Sim2RealError, ValueError):
    """A safety or speed setting is out of range (e.g. a speed fraction outside (0, 1])."""


class EventKind(StrEnum):
    """What a :class:`SafetyEvent` is about (a ``str``: compares equal to its value)."""

    NAN_STATE = "nan_state"
    NAN_COMMAND = "nan_command"
    STALE = "stale"
    POSITION_LIMIT = "position_limit"
    VELOCITY_LIMIT = "velocity_limit"
    TORQUE_LIMIT = "torque_limit"
    RATE_LIMIT = "rate_limit"
    TILT = "tilt"
    HEIGHT = "height"
    ESTOP = "estop"
    RESET = "reset"
    INVARIANT = "invariant"


class Severity(StrEnum):
    """How bad a :class:`SafetyEvent` is, in increasing order (a ``str``)."""

    INFO = "info"
    CLAMP = "clamp"
    HOLD = "hold"
    SAFE_STOP = "safe_stop"


_RANK = {Severity.INFO: 0, Severity.CLAMP: 1, Severity.HOLD: 2, Severity.SAFE_STOP: 3}

MonitorState = Literal["ok", "hold", "safe_stop"]


@dataclass(frozen=True)
class SafetyEvent:
    """One thing the safety monitor noticed."""

    t: float
    """Loop time ``now`` of the tick [s]."""
    kind: EventKind
    """What was checked (see :class:`EventKind`)."""
    severity: Severity
    """clamp, hold, safe_stop or info."""
    joint: str | None
    """Joint concerned, or None for whole-robot events."""
    value: float
    """Offending value (measured or commanded, in its units), NaN when not applicable."""
    limit: float
    """The limit it was compared with, NaN when not applicable."""
    message: str
    """One human-readable line."""

    def as_dict(self) -> dict:
        """Plain JSON-friendly mapping (for logs and the events topic)."""
        return {
            "t": self.t,
            "kind": str(self.kind),
            "severity": str(self.severity),
            "joint": self.joint,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
        }


@dataclass(frozen=True, eq=False)
class SafetyDecision:
    """Result of one :meth:`SafetyMonitor.filter_command`."""

    command: Command
    """The command that may be sent to the robot."""
    events: tuple[SafetyEvent, ...]
    """Events reported during this call (state checks included when this call ran them)."""
    state: MonitorState
    """``ok`` (normal command, possibly clamped), ``hold`` or ``safe_stop``."""
    reading: Reading | None
    """The reading the command was checked against (the newest good one), or None."""

    @property
    def mode(self) -> str:
        """The command's mode: normal, hold or safe."""
        return self.command.mode

    @property
    def worst(self) -> Severity | None:
        """Highest severity among the events, or None without events."""
        if not self.events:
            return None
        return max((e.severity for e in self.events), key=_RANK.__getitem__)


@dataclass(frozen=True)
class ResetResult:
    """Outcome of :meth:`SafetyMonitor.reset`; true when the reset was accepted."""

    accepted: bool
    """Whether the latch was released."""
    event: SafetyEvent
    """The ``reset`` event (severity info when accepted, safe_stop when refused)."""
    problems: tuple[SafetyEvent, ...]
    """The checks that failed, when refused."""

    def __bool__(self) -> bool:
        return self.accepted


def base_tilt(quat: np.ndarray) -> float:
    """Angle between the base z axis and the world z axis [rad], from a (w, x, y, z) quaternion.

    The quaternion need not be normalized; NaN for a zero or non-finite quaternion.
    """
    w, x, y, z = (float(v) for v in quat)
    if not all(math.isfinite(v) for v in (w, x, y, z)) or w * w + x * x + y * y + z * z < 1e-18:
        return math.nan
    # R_zz = (w^2 + z^2) - (x^2 + y^2) = cos(tilt) for a unit quaternion.
    return 2.0 * math.atan2(math.hypot(x, y), math.hypot(w, z))


def _gains(spec: RobotSpec) -> dict[str, np.ndarray]:
    """Per-actuator arrays, in ``spec.actuators`` order."""
    acts = spec.actuators
    index = np.array([spec.joints.index(a.joint) for a in acts], dtype=np.int64)
    lim = spec.safety

    def col(name: str) -> np.ndarray:
        return np.array([float(getattr(a, name)) for a in acts])

    return {
        "index": index,
        "pd": np.array([a.model == "pd" for a in acts]),
        "torque": np.array([a.model == "torque" for a in acts]),
        "dc": np.array([a.model == "dc_motor" for a in acts]),
        "kp": col("kp"),
        "kd": col("kd"),
        "R": col("resistance"),
        "kt": col("kt"),
        "ke": col("ke"),
        "vmax": col("voltage_limit"),
        "T": np.asarray(lim.torque, dtype=float)[index],
        "lo": np.asarray(lim.position_low, dtype=float)[index],
        "hi": np.asarray(lim.position_high, dtype=float)[index],
        "vel": np.asarray(lim.velocity, dtype=float)[index],
    }


def _implied_torque(spec: RobotSpec, values: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """Joint torque each actuator command implies at the state (q, qd) of its joint [N m]."""
    out = np.empty(len(spec.actuators))
    for i, act in enumerate(spec.actuators):
        if act.model == "pd":
            out[i] = act.kp * (values[i] - q[i]) - act.kd * qd[i]
        elif act.model == "torque":
            out[i] = values[i]
        else:
            out[i] = act.kt * (values[i] - act.ke * qd[i]) / act.resistance
    return out


def assert_safe(
    spec: RobotSpec,
    values: np.ndarray,
    reading: Reading,
    previous: np.ndarray | None = None,
    max_step: np.ndarray | None = None,
) -> list[str]:
    """Re-check a command against the hard limits, independently of the clamping code.

    Written per actuator from the equations of :mod:`sim2real.robots.actuation`, deliberately
    sharing no code with the monitor's clamps.

    Args:
        spec: The robot.
        values: Shape (n_actions,): the command, actuator units.
        reading: The state the command is checked against (q, qd of shape (n_joints,)).
        previous: Shape (n_actions,): the previous command, to check the rate; None to skip.
        max_step: Shape (n_actions,): largest allowed change from ``previous``.

    Returns:
        One line per violation; empty when the command is safe to send.
    """
    problems: list[str] = []
    n_act = len(spec.actuators)
    try:
        u = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return ["command values are not numbers"]
    if u.shape != (n_act,):
        return [f"command has shape {u.shape}, expected ({n_act},)"]
    if not np.all(np.isfinite(u)):
        return ["command has non-finite values"]
    n = spec.n_joints
    q, qd = reading.q, reading.qd
    if q.shape != (n,) or qd.shape != (n,) or not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd))):
        return ["the reading cannot verify the command (wrong shape or non-finite)"]
    lim = spec.safety
    for i, act in enumerate(spec.actuators):
        j = spec.joints.index(act.joint)
        value = float(u[i])
        limit = float(lim.torque[j])
        if act.model == "pd":
            lo, hi = float(lim.position_low[j]), float(lim.position_high[j])
            if not lo <= value <= hi:
                problems.append(f"{act.joint}: pd target {value} outside [{lo}, {hi}]")
            tau = act.kp * (value - q[j]) - act.kd * qd[j]
            scale = limit + act.kp * (abs(value) + abs(q[j])) + act.kd * abs(qd[j])
        elif act.model == "torque":
            tau = value
            scale = limit
        else:
            if not abs(value) <= act.voltage_limit:
                problems.append(f"{act.joint}: voltage {value} beyond +-{act.voltage_limit}")
            tau = act.kt * (value - act.ke * qd[j]) / act.resistance
            scale = limit + act.kt * (abs(value) + act.ke * abs(qd[j])) / act.resistance
        if not abs(tau) <= limit + TORQUE_RTOL * scale:
            problems.append(f"{act.joint}: implied torque {tau} beyond +-{limit}")
        if previous is not None and max_step is not None:
            step = abs(value - float(previous[i]))
            allowed = float(max_step[i])
            if not step <= allowed + TORQUE_RTOL * (allowed + abs(value) + abs(float(previous[i]))):
                problems.append(f"{act.joint}: change {step} beyond the rate limit {allowed}")
    return problems


class SafetyMonitor:
    """Checks readings and clamps commands against a robot's safety limits (see module docstring).

    Args:
        spec: The robot; its ``safety`` limits and actuator gains are enforced.
        speed_fraction: In (0, 1]: scales the command rate, pd target speed and velocity governor.

    Raises:
        SafetyConfigError: if ``speed_fraction`` is outside (0, 1].
    """

    def __init__(self, spec: RobotSpec, speed_fraction: float = 1.0) -> None:
        self.spec = spec
        self._g = _gains(spec)
        self._n = spec.n_joints
        self._m = len(spec.actuators)
        self._joint_names = tuple(a.joint for a in spec.actuators)
        lim = spec.safety
        rate = np.full(self._m, float(lim.command_rate))
        # A pd target moving faster than the joint may move drives it past its velocity limit.
        self._rate_is_velocity = self._g["pd"] & (self._g["vel"] < rate)
        self._rate = np.where(self._rate_is_velocity, self._g["vel"], rate)
        self.max_command_dt = max(float(lim.stale_timeout), 2.0 * float(spec.control_dt))
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
        self._prev: np.ndarray | None = None
        self._prev_now: float = math.nan
        self._bad_command_since: float | None = None
        self._checked: tuple[Reading | None, float] | None = None
        self._tick_status: str = "hold"

    # ------------------------------------------------------------------ configuration and status

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
        dt_eff = min(max(float(dt), 0.0), self.max_command_dt) if math.isfinite(dt) else 0.0
        with np.errstate(invalid="ignore"):
            step = self._rate * self._speed * dt_eff
        return np.where(np.isinf(self._rate), np.where(dt_eff > 0, np.inf, 0.0), step)

    def request_estop(self, reason: str = "e-stop requested") -> None:
        """Request an emergency stop: the next check latches a safe stop.  Safe to call from
        another thread; only :meth:`reset` clears it."""
        with self._estop_lock:
            if self._estop_reason is None:
                self._estop_reason = str(reason) or "e-stop requested"

    # ------------------------------------------------------------------ state checks

    def _event(
        self,
        now: float,
        kind: EventKind,
        severity: Severity,
        message: str,
        joint: str | None = None,
        value: float = math.nan,
        limit: float = math.nan,
    ) -> SafetyEvent:
        return SafetyEvent(
            t=float(now),
            kind=kind,
            severity=severity,
            joint=joint,
            value=float(value),
            limit=float(limit),
            message=message,
        )

    def _evaluate(
        self, reading: Reading | None, now: float, *, ignore_estop: bool = False
    ) -> tuple[list[SafetyEvent], str]:
        """State events of one tick and the tick's status ('ok', 'hold', 'stop'); no side effects."""
        ev: list[SafetyEvent] = []
        stop, hold = Severity.SAFE_STOP, Severity.HOLD
        lim = self.spec.safety
        timeout = float(lim.stale_timeout)
        if not math.isfinite(now):
            ev.append(self._event(now, EventKind.STALE, stop, f"loop time now={now} is not finite"))
            return ev, "stop"
        if self._last_now is not None and now < self._last_now:
            ev.append(
                self._event(
                    now,
                    EventKind.STALE,
                    stop,
                    f"loop clock went backwards: now={now} after {self._last_now}",
                    value=now,
                    limit=self._last_now,
                )
            )
        if self._estop_reason is not None and not ignore_estop:
            ev.append(self._event(now, EventKind.ESTOP, stop, f"e-stop: {self._estop_reason}"))

        usable = False
        n = self._n
        if reading is None:
            ev.append(self._event(now, EventKind.STALE, hold, "no reading this tick"))
        elif not isinstance(reading, Reading):
            ev.append(self._event(now, EventKind.STALE, hold, f"not a Reading: {type(reading).__name__}"))
        elif not reading.valid:
            ev.append(
                self._event(now, EventKind.STALE, hold, "reading marked invalid (dropped or incomplete)")
            )
        elif (
            reading.q.shape != (n,)
            or reading.qd.shape != (n,)
            or (reading.tau is not None and reading.tau.shape != (n,))
        ):
            ev.append(
                self._event(
                    now, EventKind.STALE, hold, f"reading has {reading.q.shape[0]} joints, the spec has {n}"
                )
            )
        elif not math.isfinite(reading.t):
            ev.append(
                self._event(now, EventKind.NAN_STATE, stop, f"reading time t={reading.t} is not finite")
            )
        elif reading.t > now:
            ev.append(
                self._event(
                    now,
                    EventKind.STALE,
                    hold,
                    f"reading time {reading.t} is ahead of now={now}: clocks disagree",
                    value=reading.t,
                    limit=now,
                )
            )
        elif self._last_t is not None and reading.t < self._last_t:
            ev.append(
                self._event(
                    now,
                    EventKind.STALE,
                    hold,
                    f"reading time went backwards: {reading.t} after {self._last_t}",
                    value=reading.t,
                    limit=self._last_t,
                )
            )
        else:
            age = now - reading.t
            content = self._check_content(reading, now)
            ev.extend(content)
            if age > timeout:
                ev.append(
                    self._event(
                        now,
                        EventKind.STALE,
                        stop,
                        f"reading is {age:.4g} s old (stale_timeout {timeout} s)",
                        value=age,
                        limit=timeout,
                    )
                )
            usable = not content and age <= timeout

        if not usable and not any(e.kind == EventKind.STALE and e.severity == stop for e in ev):
            ref = self._last_good.t if self._last_good is not None else self._start_now
            if ref is None:
                ref = now
            gap = now - ref
            if gap > timeout:
                ev.append(
                    self._event(
                        now,
                        EventKind.STALE,
                        stop,
                        f"watchdog: no usable reading for {gap:.4g} s (stale_timeout {timeout} s)",
                        value=gap,
                        limit=timeout,
                    )
                )
        if any(e.severity == stop for e in ev):
            return ev, "stop"
        if not usable:
            return ev, "hold"
        return ev, "ok"

    def _check_content(self, reading: Reading, now: float) -> list[SafetyEvent]:
        """NaN and limit checks of a timely reading of the right shape (all safe_stop)."""
        ev: list[SafetyEvent] = []
        stop = Severity.SAFE_STOP
        lim = self.spec.safety
        joints = self.spec.joints
        per_joint = {"q": reading.q, "qd": reading.qd, "tau": reading.tau}
        for name, arr in per_joint.items():
            if arr is not None and not np.all(np.isfinite(arr)):
                bad = [joints[i] for i in np.flatnonzero(~np.isfinite(arr))]
                ev.append(
                    self._event(
                        now,
                        EventKind.NAN_STATE,
                        stop,
                        f"non-finite {name} at joint(s) {', '.join(bad)}",
                        joint=bad[0],
                    )
                )
        for name in ("gyro", "accel", "quat"):
            arr = getattr(reading, name)
            if arr is not None and not np.all(np.isfinite(arr)):
                ev.append(self._event(now, EventKind.NAN_STATE, stop, f"non-finite {name}: {arr.tolist()}"))
        if reading.base_height is not None and not math.isfinite(reading.base_height):
            ev.append(
                self._event(now, EventKind.NAN_STATE, stop, f"non-finite base_height {reading.base_height}")
            )

        with np.errstate(invalid="ignore"):
            # NaN compares False here: non-finite values were reported above
            suspect = (
                (reading.q < lim.position_low)
                | (reading.q > lim.position_high)
                | (np.abs(reading.qd) > lim.velocity)
            )
            if reading.tau is not None:
                suspect |= np.abs(reading.tau) > lim.torque
            for i in np.flatnonzero(suspect):
                j = joints[i]
                qi = float(reading.q[i])
                lo, hi = float(lim.position_low[i]), float(lim.position_high[i])
                if math.isfinite(qi) and not lo <= qi <= hi:
                    bound = lo if qi < lo else hi
                    ev.append(
                        self._event(
                            now,
                            EventKind.POSITION_LIMIT,
                            stop,
                            f"{j}: position {qi:.4g} rad outside [{lo}, {hi}]",
                            joint=j,
                            value=qi,
                            limit=bound,
                        )
                    )
                vi = float(reading.qd[i])
                vmax = float(lim.velocity[i])
                if math.isfinite(vi) and abs(vi) > vmax:
                    ev.append(
                        self._event(
                            now,
                            EventKind.VELOCITY_LIMIT,
                            stop,
                            f"{j}: speed {abs(vi):.4g} rad/s above {vmax}",
                            joint=j,
                            value=vi,
                            limit=vmax,
                        )
                    )
                if reading.tau is not None:
                    ti = float(reading.tau[i])
                    tmax = float(lim.torque[i])
                    if math.isfinite(ti) and abs(ti) > tmax:
                        ev.append(
                            self._event(
                                now,
                                EventKind.TORQUE_LIMIT,
                                stop,
                                f"{j}: measured torque {abs(ti):.4g} N m above {tmax}",
                                joint=j,
                                value=ti,
                                limit=tmax,
                            )
                        )
        if lim.tilt is not None:
            if reading.quat is None:
                ev.append(
                    self._event(
                        now,
                        EventKind.TILT,
                        stop,
                        "the reading has no base orientation but the spec limits tilt",
                        limit=lim.tilt,
                    )
                )
            elif np.all(np.isfinite(reading.quat)):
                tilt = base_tilt(reading.quat)
                if math.isnan(tilt):
                    ev.append(self._event(now, EventKind.NAN_STATE, stop, "base quaternion has zero norm"))
                elif tilt > lim.tilt:
                    ev.append(
                        self._event(
                            now,
                            EventKind.TILT,
                            stop,
                            f"base tilt {tilt:.4g} rad above {lim.tilt}",
                            value=tilt,
                            limit=lim.tilt,
                        )
                    )
        if lim.base_height_low is not None and lim.base_height_high is not None:
            h = reading.base_height
            lo, hi = lim.base_height_low, lim.base_height_high
            if h is None:
                ev.append(
                    self._event(
                        now, EventKind.HEIGHT, stop, "the reading has no base height but the spec limits it"
                    )
                )
            elif math.isfinite(h) and not lo <= h <= hi:
                ev.append(
                    self._event(
                        now,
                        EventKind.HEIGHT,
                        stop,
                        f"base height {h:.4g} m outside [{lo}, {hi}]",
                        value=h,
                        limit=lo if h < lo else hi,
                    )
                )
        return ev

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
        stops = [e for e in events if e.severity == Severity.SAFE_STOP]
        if stops and not self._latched:
            self._latched = True
            self._latch_reason = stops[0].message
            self._prev = None
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
        events, status = self._evaluate(reading, now)
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
        if status == "ok":
            self._last_good = reading
        reported = self._report(events)
        self._latch(events)
        self._tick_status = status
        self._checked = (reading, now)
        return reported

    # ------------------------------------------------------------------ commands

    def _hard_window(self, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hard limits on each command value at state (q, qd) of the actuated joints.

        Returns:
            lows, highs: Shape (3, n_actions): rows position, torque, voltage.
            messages: Shape (3,): what each row is.
        """
        g = self._g
        m = self._m
        inf = np.full(m, math.inf)
        T = g["T"]
        pos_lo = np.where(g["pd"], g["lo"], -inf)
        pos_hi = np.where(g["pd"], g["hi"], inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            kp = np.where(g["pd"], g["kp"], 1.0)
            pd_lo = q + (-T + g["kd"] * qd) / kp
            pd_hi = q + (T + g["kd"] * qd) / kp
            kt = np.where(g["dc"], g["kt"], 1.0)
            R = np.where(g["dc"], g["R"], 1.0)
            dc_lo = g["ke"] * qd - T * R / kt
            dc_hi = g["ke"] * qd + T * R / kt
        trq_lo = np.where(g["pd"], pd_lo, np.where(g["dc"], dc_lo, -T))
        trq_hi = np.where(g["pd"], pd_hi, np.where(g["dc"], dc_hi, T))
        v_lo = np.where(g["dc"], -g["vmax"], -inf)
        v_hi = np.where(g["dc"], g["vmax"], inf)
        lows = np.stack([pos_lo, trq_lo, v_lo])
        highs = np.stack([pos_hi, trq_hi, v_hi])
        # NaN (only possible from inf - inf in a pathological spec) makes the window empty: fail safe.
        lows = np.where(np.isnan(lows), math.inf, lows)
        highs = np.where(np.isnan(highs), -math.inf, highs)
        return lows, highs, np.array(["position limit", "torque limit", "voltage limit"])

    def _zero_torque_command(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """Command value giving zero implied torque at (q, qd) of the actuated joints."""
        g = self._g
        with np.errstate(divide="ignore", invalid="ignore"):
            pd = q + g["kd"] * qd / np.where(g["pd"], g["kp"], 1.0)
        return np.where(g["pd"], pd, np.where(g["dc"], g["ke"] * qd, 0.0))

    def safe_command(self, reading: Reading | None, now: float | None = None) -> Command:
        """A ``safe`` command: the robot enters the spec's safe mode.

        Its values are the equivalent of the safe-mode torque (``-damping * qd`` or zero) in actuator
        units at the given reading, else the newest good reading, else the default pose at rest; they
        are for logging only (a robot realizes safe mode itself).
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
        idx = self._g["index"]
        if source is None:
            q = np.asarray(self.spec.default_pose, dtype=float)[idx]
            qd = np.zeros(self._m)
        else:
            q, qd = source.q[idx], source.qd[idx]
        g = self._g
        lim = self.spec.safety
        tau = -float(lim.damping) * qd if lim.safe_mode == "damping" else np.zeros(self._m)
        tau = np.clip(tau, -g["T"], g["T"])
        with np.errstate(divide="ignore", invalid="ignore"):
            pd = np.clip(q + (tau + g["kd"] * qd) / np.where(g["pd"], g["kp"], 1.0), g["lo"], g["hi"])
            dc = np.clip(
                g["ke"] * qd + tau * np.where(g["dc"], g["R"], 1.0) / np.where(g["dc"], g["kt"], 1.0),
                -g["vmax"],
                g["vmax"],
            )
        values = np.where(g["pd"], pd, np.where(g["dc"], dc, tau))
        values = np.where(np.isfinite(values), values, 0.0)
        if now is None:
            now = source.t if source is not None else (self._last_now if self._last_now is not None else 0.0)
        return Command(t=float(now), values=values, mode="safe")

    def _stop(self, reading: Reading | None, now: float, events: list[SafetyEvent]) -> SafetyDecision:
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
            return self._stop(reading, now, events)

        u, problem = self._parse_command(command_values)
        if problem is None:
            self._bad_command_since = None
        elif self._bad_command_since is None:
            self._bad_command_since = now

        if self._tick_status == "ok":
            state = reading
        else:
            state = self._last_good
            if state is None:  # nothing to hold yet: safe mode, not latched
                return SafetyDecision(self.safe_command(None, now), tuple(events), "hold", None)
        assert isinstance(state, Reading)

        if self._tick_status == "ok" and problem is not None:
            timeout = float(self.spec.safety.stale_timeout)
            assert self._bad_command_since is not None
            streak = now - self._bad_command_since
            if not streak <= timeout:
                self._latch_now(
                    self._event(
                        now,
                        EventKind.NAN_COMMAND,
                        Severity.SAFE_STOP,
                        f"no usable command for {streak:.4g} s (stale_timeout {timeout} s): {problem}",
                        value=streak,
                        limit=timeout,
                    ),
                    events,
                )
                return self._stop(reading, now, events)
            events.extend(
                self._report(
                    [
                        self._event(
                            now,
                            EventKind.NAN_COMMAND,
                            Severity.HOLD,
                            f"unusable command ({problem}): holding",
                        )
                    ]
                )
            )
        if self._tick_status != "ok" or problem is not None:
            u = None
        return self._shape(u, state, reading, now, events)

    def _parse_command(self, command_values: object) -> tuple[np.ndarray | None, str | None]:
        """The command as a float array of the right length with finite values, or a problem."""
        try:
            u = np.array(command_values, dtype=float)
        except (TypeError, ValueError):
            return None, "not numbers"
        if u.shape != (self._m,):
            return None, f"shape {u.shape}, expected ({self._m},)"
        if not np.all(np.isfinite(u)):
            return None, f"non-finite values {u.tolist()}"
        return u, None

    def _shape(
        self,
        u: np.ndarray | None,
        state: Reading,
        reading: Reading | None,
        now: float,
        events: list[SafetyEvent],
    ) -> SafetyDecision:
        """Clamp ``u`` (or hold when None) at ``state``; run the final invariant check."""
        g = self._g
        idx = g["index"]
        q, qd = state.q[idx], state.qd[idx]
        names = self._joint_names
        lows, highs, row_names = self._hard_window(q, qd)
        h_lo, h_hi = lows.max(axis=0), highs.min(axis=0)
        empty = ~(h_lo <= h_hi)
        if np.any(empty):
            i = int(np.flatnonzero(empty)[0])
            kind = EventKind.POSITION_LIMIT if g["pd"][i] else EventKind.TORQUE_LIMIT
            self._latch_now(
                self._event(
                    now,
                    kind,
                    Severity.SAFE_STOP,
                    f"{names[i]}: no command keeps {' and '.join(row_names)} at q={q[i]:.4g}, qd={qd[i]:.4g}",
                    joint=names[i],
                    value=float(qd[i]),
                    limit=float(g["T"][i]),
                ),
                events,
            )
            return self._stop(reading, now, events)

        if self._prev is None:
            prev = np.clip(self._zero_torque_command(q, qd), h_lo, h_hi)
            dt = float(self.spec.control_dt)
        else:
            prev = self._prev
            dt = now - self._prev_now
        step = self.max_step(dt)
        r_lo, r_hi = prev - step, prev + step
        w_lo, w_hi = np.maximum(h_lo, r_lo), np.minimum(h_hi, r_hi)
        conflict = ~(w_lo <= w_hi)

        if u is None or np.any(conflict):
            out = np.clip(prev, h_lo, h_hi)
            mode = "hold"
            for i in np.flatnonzero(conflict) if u is not None else ():
                events.extend(
                    self._report(
                        [
                            self._event(
                                now,
                                EventKind.RATE_LIMIT,
                                Severity.HOLD,
                                f"{names[i]}: the hard limits moved beyond the rate limit's reach "
                                f"({step[i]:.4g} per tick): holding at the nearest allowed value {out[i]:.6g}",
                                joint=names[i],
                                value=float(u[i]),
                                limit=float(step[i]),
                            )
                        ]
                    )
                )
            check_prev = None
        else:
            mode = "normal"
            out = np.clip(u, w_lo, w_hi)
            self._clamp_events(u, out, lows, highs, r_lo, r_hi, row_names, now, events)
            out = self._governor(out, q, qd, w_lo, w_hi, now, events)
            check_prev = prev

        problems = assert_safe(self.spec, out, state, check_prev, step if check_prev is not None else None)
        if problems:
            self._latch_now(
                self._event(
                    now,
                    EventKind.INVARIANT,
                    Severity.SAFE_STOP,
                    "output invariant violated, not sent: " + "; ".join(problems),
                ),
                events,
            )
            return self._stop(reading, now, events)
        self._prev = out.copy()
        self._prev_now = now
        state_name: MonitorState = "ok" if mode == "normal" else "hold"
        return SafetyDecision(Command(t=now, values=out, mode=mode), tuple(events), state_name, state)

    def _clamp_events(self, u, out, lows, highs, r_lo, r_hi, row_names, now, events) -> None:
        """One clamp event per modified value, naming the binding limit."""
        names = self._joint_names
        all_lo = np.vstack([lows, r_lo[None, :]])
        all_hi = np.vstack([highs, r_hi[None, :]])
        for i in np.flatnonzero(out != u):
            if out[i] > u[i]:
                row = int(np.argmax(all_lo[:, i]))
                bound = float(all_lo[row, i])
            else:
                row = int(np.argmin(all_hi[:, i]))
                bound = float(all_hi[row, i])
            if row == 0:
                kind, what = EventKind.POSITION_LIMIT, "position limit"
            elif row in (1, 2):
                kind, what = EventKind.TORQUE_LIMIT, str(row_names[row])
            elif self._rate_is_velocity[i]:
                kind, what = (
                    EventKind.VELOCITY_LIMIT,
                    f"target speed limit {self._rate[i] * self._speed:.4g}/s",
                )
            else:
                kind, what = EventKind.RATE_LIMIT, f"rate limit {self._rate[i] * self._speed:.4g}/s"
            events.extend(
                self._report(
                    [
                        self._event(
                            now,
                            kind,
                            Severity.CLAMP,
                            f"{names[i]}: command {u[i]:.6g} clamped to {out[i]:.6g} ({what})",
                            joint=names[i],
                            value=float(u[i]),
                            limit=bound,
                        )
                    ]
                )
            )

    def _governor(self, out, q, qd, w_lo, w_hi, now, events) -> np.ndarray:
        """Joints faster than velocity * speed_fraction may not be accelerated further."""
        g = self._g
        over = np.abs(qd) > g["vel"] * self._speed
        if not np.any(over):
            return out
        zero = self._zero_torque_command(q, qd)
        governed = np.where(qd > 0, np.minimum(out, zero), np.maximum(out, zero))
        governed = np.where(over, np.clip(governed, w_lo, w_hi), out)
        for i in np.flatnonzero(governed != out):
            limit = float(g["vel"][i] * self._speed)
            events.extend(
                self._report(
                    [
                        self._event(
                            now,
                            EventKind.VELOCITY_LIMIT,
                            Severity.CLAMP,
                            f"{self._joint_names[i]}: speed {abs(qd[i]):.4g} rad/s above {limit:.4g} "
                            f"(speed fraction {self._speed}): command {out[i]:.6g} -> {governed[i]:.6g}",
                            joint=self._joint_names[i],
                            value=float(qd[i]),
                            limit=limit,
                        )
                    ]
                )
            )
        return governed

    # ------------------------------------------------------------------ reset

    def reset(self, reading: Reading | None, now: float) -> ResetResult:
        """Release a latched safe stop (and an e-stop request), if the state passes every check.

        The next command ramps from the zero-torque command at the reading (rate limited).

        Args:
            reading: A fresh reading to verify the state with.
            now: Loop time [s].

        Returns:
            The result; false (and still latched) when any state check fails.
        """
        now = float(now)
        with self._estop_lock:
            estop_seen = self._estop_reason
        problems, status = self._evaluate(reading, now, ignore_estop=True)
        if status != "ok":
            event = self._event(
                now,
                EventKind.RESET,
                Severity.SAFE_STOP,
                "reset refused: " + "; ".join(e.message for e in problems),
            )
            self._counters[str(EventKind.RESET)] += 1
            logger.warning("safety: %s", event.message)
            return ResetResult(False, event, tuple(problems))
        assert isinstance(reading, Reading)
        was = self._latch_reason
        self._latched = False
        self._latch_reason = None
        with self._estop_lock:  # an e-stop requested while resetting is kept
            if self._estop_reason == estop_seen:
                self._estop_reason = None
        self._reported_while_latched.clear()
        self._prev = None
        self._last_good = reading
        self._last_t = reading.t
        self._last_now = now if self._last_now is None else max(self._last_now, now)
        self._bad_command_since = None
        self._tick_status = "ok"
        self._checked = (reading, now)
        event = self._event(
            now, EventKind.RESET, Severity.INFO, f"reset accepted (was: {was})" if was else "reset accepted"
        )
        self._counters[str(EventKind.RESET)] += 1
        logger.info("safety: %s", event.message)
        return ResetResult(True, event, ())
