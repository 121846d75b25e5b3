"""Fault injection: the safety layer of the control loop against faults, on the twin.

Each case runs a fresh :class:`~sim2real.deploy.loop.ControlLoop` on a :class:`~sim2real.real.twin.TwinRobot`
(lockstep, no random drops, at the last speed stage unless told otherwise): a short fault-free warm-up,
then the fault is injected, at the robot (pushed twin state), in the readings, in the policy or at
the loop (e-stop), for a number of ticks or until the end of the case.  It checks:

- **detected**: the monitor reported an event of the fault's kind once the fault became observable;
- **reaction**: what happened to the command in that tick (``clamp``: a normal command modified,
  ``hold``, ``safe_stop``), at least the severity the fault calls for, and the escalation it calls
  for by the end of the case (e.g. a dropout longer than ``stale_timeout`` ends in a safe stop);
- **reaction within one control period**: the reacting command is the one computed in the tick whose
  reading (or policy output) first shows the fault (``reaction_periods == 0``), i.e. it is written in
  that control period.  ``reaction_ms`` adds the loop time between the two ticks (0 then) and the
  reacting tick's controller time on this host (``compute_ms``, typically 0.1-0.5 ms; a loaded
  host can stretch one tick beyond the period, which the loop counts as a missed deadline);
- **no unsafe command reached the robot**: :class:`AuditedRobot` re-checks every command written,
  independently of the monitor, against the spec's hard limits: a ``normal`` or ``hold`` command with
  a non-finite value, a pd target outside the position limits, a dc voltage beyond its limit, an
  implied torque beyond the torque limit at the newest valid reading, or a change faster than the
  command rate (``safety.command_rate``) counts as unsafe.  ``safe`` commands are the robot's own
  safe mode and are not audited;
- for safe stops, that the stop stayed **latched** after the fault went away.

"Observable" is when the fault first shows in what the loop sees: at injection for most faults; for
a frozen (stale) reading, once its age exceeds ``stale_timeout``; for a torque command, in the tick
the requested command first implies a torque (or voltage) beyond the limit.

The policy is a stand-in (:class:`StandInPolicy`: PD to the default pose, with the PolicyRunner's
interface and non-finite input handling), so the suite needs no trained network; a real
:class:`~sim2real.policy.runtime.PolicyRunner` can be given instead.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.loop import ControlLoop, LoopConfig, Policy, TickResult
from sim2real.deploy.record import CenteringPD, initial_state
from sim2real.deploy.safety import SafetyMonitor, Severity
from sim2real.deploy.speed import SpeedConfig
from sim2real.errors import PolicyError
from sim2real.real.protocol import Command, Reading
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots.spec import RobotSpec

__all__ = [
    "FAULTS",
    "AuditedRobot",
    "CaseResult",
    "Fault",
    "StandInPolicy",
    "audit_command",
    "run_case",
    "run_policy_missing_case",
    "run_suite",
]

log = logging.getLogger(__name__)

_RANK = {"none": -1, "clamp": 1, "hold": 2, "safe_stop": 3, "refused_start": 3}
_TOL = 1e-9


# ------------------------------------------------------------------------------------------ audit


def audit_command(
    spec: RobotSpec,
    command: Command,
    reference: Reading | None,
    previous: Command | None,
) -> list[str]:
    """Why a command written to the robot is unsafe (empty when it is safe).

    Deliberately independent of the monitor's code: per actuator, from the spec's limits.

    Args:
        spec: The robot.
        command: The command written.
        reference: The newest valid, finite reading (the state the implied torque is computed at).
        previous: The previous ``normal``/``hold`` command, unless a ``safe`` one came in between.
    """
    if command.mode == "safe":
        return []
    u = np.asarray(command.values, dtype=float)
    if u.shape != (spec.n_actions,):
        return [f"{u.shape[0]} values for {spec.n_actions} actuators"]
    if not np.all(np.isfinite(u)):
        return [f"non-finite values {u.tolist()}"]
    lim = spec.safety
    problems: list[str] = []
    for i, act in enumerate(spec.actuators):
        j = spec.joints.index(act.joint)
        limit = float(lim.torque[j])
        value = float(u[i])
        tau = None
        if act.model == "pd":
            lo, hi = float(lim.position_low[j]), float(lim.position_high[j])
            if not lo - _TOL <= value <= hi + _TOL:
                problems.append(f"{act.joint}: target {value:.6g} outside [{lo}, {hi}]")
            if reference is not None:
                tau = act.kp * (value - reference.q[j]) - act.kd * reference.qd[j]
        elif act.model == "torque":
            tau = value
        else:
            if abs(value) > act.voltage_limit * (1 + _TOL):
                problems.append(f"{act.joint}: voltage {value:.6g} beyond +-{act.voltage_limit}")
            if reference is not None:
                tau = act.kt * (value - act.ke * reference.qd[j]) / act.resistance
        if tau is None:
            problems.append(f"{act.joint}: a {command.mode} command without any valid reading to verify it")
        elif abs(tau) > limit * (1 + 1e-6) + _TOL:
            problems.append(f"{act.joint}: implied torque {tau:.6g} beyond +-{limit}")
        if previous is not None:
            dt = max(command.t - previous.t, 0.0)
            step = abs(value - float(previous.values[i]))
            allowed = float(lim.command_rate) * dt
            if step > allowed * (1 + 1e-6) + _TOL:
                problems.append(
                    f"{act.joint}: change {step:.6g} in {dt:.4g} s beyond the rate {lim.command_rate}/s"
                )
    return problems


class RobotWrapper:
    """A Robot that passes every call to ``inner``; subclasses override what they change."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spec: RobotSpec = inner.spec

    def now(self) -> float:
        """The inner robot's clock."""
        return float(self.inner.now())

    def read(self) -> Reading:
        return self.inner.read()

    def write(self, command: Command) -> None:
        self.inner.write(command)

    def stop(self) -> None:
        self.inner.stop()

    def close(self) -> None:
        self.inner.close()


class AuditedRobot(RobotWrapper):
    """A robot wrapper that audits every command written (see :func:`audit_command`).

    Attributes:
        unsafe: ``(t, problems)`` of every unsafe command that reached the inner robot.
        written: Commands written.
    """

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.unsafe: list[tuple[float, list[str]]] = []
        self.written = 0
        self._reference: Reading | None = None
        self._previous: Command | None = None

    def read(self) -> Reading:
        reading = self.inner.read()
        n = self.spec.n_joints
        if (
            isinstance(reading, Reading)
            and reading.valid
            and reading.q.shape == (n,)
            and reading.qd.shape == (n,)
            and math.isfinite(reading.t)
            and np.all(np.isfinite(reading.q))
            and np.all(np.isfinite(reading.qd))
            and (self._reference is None or reading.t >= self._reference.t)
        ):
            self._reference = reading
        return reading

    def write(self, command: Command) -> None:
        problems = audit_command(self.spec, command, self._reference, self._previous)
        if problems:
            self.unsafe.append((command.t, problems))
            log.error("UNSAFE command reached the robot at t=%.4f: %s", command.t, "; ".join(problems))
        self._previous = None if command.mode == "safe" else command
        self.written += 1
        self.inner.write(command)


# --------------------------------------------------------------------------------- stand-in policy


class StandInPolicy:
    """PD to the default pose with :class:`~sim2real.policy.runtime.PolicyRunner`'s interface.

    pd actuators get the default pose as target; torque and dc_motor actuators a
    :class:`~sim2real.deploy.record.CenteringPD` (half the torque limit at 0.3 of the half range).
    Non-finite input (readings or velocity command) returns the previous command and sets
    ``last_input_finite`` False, as the runner does.
    """

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        self.control_dt = float(spec.control_dt)
        index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._pd = np.array([a.model == "pd" for a in spec.actuators])
        self._default = np.asarray(spec.default_pose, dtype=float)[index]
        limits = np.asarray(spec.safety.torque, dtype=float)[index]
        self._centering = CenteringPD(spec, 0.5 * limits) if not np.all(self._pd) else None
        self._low = np.array([a.command_low for a in spec.actuators])
        self._high = np.array([a.command_high for a in spec.actuators])
        self.command = np.where(self._pd, self._default, 0.0)
        self.last_input_finite = True
        self.invalid_steps = 0

    def reset(self) -> None:
        self.command = np.where(self._pd, self._default, 0.0)
        self.last_input_finite = True

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        inputs = [reading.q, reading.qd] + (
            [np.asarray(velocity_command)] if velocity_command is not None else []
        )
        if not all(np.all(np.isfinite(x)) for x in inputs):
            self.last_input_finite = False
            self.invalid_steps += 1
            return self.command
        self.last_input_finite = True
        u = np.where(self._pd, self._default, 0.0)
        if self._centering is not None:
            u = u + self._centering.to_command(self._centering.torque(reading))
        self.command = np.clip(u, self._low, self._high)
        return self.command

    def describe(self) -> dict[str, Any]:
        return {"stand_in": "PD to the default pose"}


# ------------------------------------------------------------------------------------------ faults


@dataclass
class _Context:
    """What a fault can touch."""

    spec: RobotSpec
    twin: TwinRobot
    loop: ControlLoop
    monitor: SafetyMonitor
    rng: np.random.Generator


class Fault:
    """One injected fault.  Subclasses override the hooks they need."""

    name = ""
    description = ""
    reaction = "safe_stop"
    """Least severe acceptable first reaction: clamp, hold or safe_stop."""
    escalation: str | None = None
    """Reaction the case must have reached by its end (e.g. a dropout beyond stale_timeout: safe_stop)."""
    kinds: tuple[str, ...] = ()
    """Event kinds that count as detecting it."""
    duration: int | None = None
    """Ticks the fault lasts (None: until the end of the case)."""
    floating_base_only = False
    needs_velocity_command = False

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.active = False
        self.ticks_active = 0

    @classmethod
    def applies(cls, spec: RobotSpec) -> bool:
        if cls.floating_base_only and not spec.floating_base:
            return False
        return not (
            cls.needs_velocity_command and "velocity_command" not in [t.name for t in spec.observation]
        )

    def duration_ticks(self) -> int | None:
        return self.duration

    def inject(self) -> None:
        """Called before the read of the injection tick."""
        self.active = True

    def read(self) -> Reading:
        """The reading the loop gets while active (default: the twin's)."""
        return self.ctx.twin.read()

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        """The policy output the loop gets while active (default: unchanged)."""
        return u

    def observable(self, result: TickResult) -> bool:
        """Whether the fault shows in what the loop saw in this tick (it must react in it)."""
        return True

    def clear(self) -> None:
        """Called when the fault's duration is over."""
        self.active = False


def _stale_ticks(spec: RobotSpec) -> int:
    """Ticks of a dropout that stays below stale_timeout."""
    return max(1, math.floor(spec.safety.stale_timeout / spec.control_dt - 0.5))


def _joint_index(spec: RobotSpec, actuator: int) -> int:
    return spec.joints.index(spec.actuators[actuator].joint)


def _widest_actuator(spec: RobotSpec) -> int:
    """The actuator whose joint has the widest position range (room for command faults)."""
    idx = [_joint_index(spec, i) for i in range(spec.n_actions)]
    width = np.asarray(spec.safety.position_high)[idx] - np.asarray(spec.safety.position_low)[idx]
    return int(np.argmax(width))


def _replace(reading: Reading, **changes: Any) -> Reading:
    values = {f.name: getattr(reading, f.name) for f in dataclasses.fields(Reading)}
    values.update(changes)
    return Reading(**values)


class NanReading(Fault):
    name = "nan_reading"
    description = "NaN in the first joint position of the readings for 2 ticks"
    reaction = "safe_stop"
    kinds = ("nan_state",)
    duration = 2

    def read(self) -> Reading:
        r = self.ctx.twin.read()
        q = r.q.copy()
        q[0] = math.nan
        return _replace(r, q=q)


class NanPolicyOutput(Fault):
    name = "nan_policy_output"
    description = "the policy outputs NaN from now on (held, then a safe stop after stale_timeout)"
    reaction = "hold"
    escalation = "safe_stop"
    kinds = ("nan_command",)

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        return np.full_like(np.asarray(u, dtype=float), math.nan)


class InfPolicyOutput(Fault):
    name = "inf_policy_output"
    description = "the policy outputs +inf on one actuator for one tick (held, then resumes)"
    reaction = "hold"
    kinds = ("nan_command",)
    duration = 1

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        out = np.array(u, dtype=float)
        out[0] = math.inf
        return out


class NanPolicyInput(Fault):
    name = "nan_policy_input"
    description = "NaN velocity command for 2 ticks: the policy reports non-finite input, the monitor holds"
    reaction = "hold"
    kinds = ("nan_command",)
    duration = 2
    needs_velocity_command = True

    def inject(self) -> None:
        super().inject()
        self._saved = self.ctx.loop.velocity_command
        self.ctx.loop.set_velocity_command([math.nan, 0.0, 0.0])

    def clear(self) -> None:
        super().clear()
        self.ctx.loop.set_velocity_command(self._saved if self._saved is not None else np.zeros(3))


class StaleReading(Fault):
    name = "stale_reading"
    description = (
        "the readings stop updating (the last sample repeats): a safe stop once older than stale_timeout"
    )
    reaction = "safe_stop"
    kinds = ("stale",)

    def inject(self) -> None:
        super().inject()
        self.frozen = self.ctx.twin.read()

    def read(self) -> Reading:
        return self.frozen

    def observable(self, result: TickResult) -> bool:
        return result.now - self.frozen.t > self.ctx.spec.safety.stale_timeout


class DroppedBurst(Fault):
    name = "dropped_burst"
    description = "a burst of dropped readings shorter than stale_timeout: held, then resumes"
    reaction = "hold"
    kinds = ("stale",)

    def duration_ticks(self) -> int | None:
        return _stale_ticks(self.ctx.spec)

    def read(self) -> Reading:
        return Reading.dropped(self.ctx.twin.now(), self.ctx.spec.n_joints)


class SensorDropout(DroppedBurst):
    name = "sensor_dropout"
    description = "the readings stay dropped: held, then a safe stop by the watchdog after stale_timeout"
    escalation = "safe_stop"

    def duration_ticks(self) -> int | None:
        return None


class LatencySpike(Fault):
    name = "latency_spike"
    description = "the readings arrive 3 x stale_timeout late: held at once, then a safe stop by the watchdog"
    reaction = "hold"
    escalation = "safe_stop"
    kinds = ("stale",)

    def __init__(self, ctx: _Context) -> None:
        super().__init__(ctx)
        self.history: deque[Reading] = deque(maxlen=10_000)
        self.lag = 3.0 * ctx.spec.safety.stale_timeout

    def record(self, reading: Reading) -> None:
        self.history.append(reading)

    def read(self) -> Reading:
        fresh = self.ctx.twin.read()
        self.history.append(fresh)
        late = [r for r in self.history if r.t <= fresh.t - self.lag]
        return late[-1] if late else self.history[0]


class PositionLimit(Fault):
    name = "position_limit"
    description = "the twin's first actuated joint pushed 0.03 rad beyond its upper position limit"
    reaction = "safe_stop"
    kinds = ("position_limit",)
    duration = 1

    def inject(self) -> None:
        super().inject()
        spec = self.ctx.spec
        j = _joint_index(spec, 0)
        self.ctx.twin.set_state(joint_pos={spec.joints[j]: float(spec.safety.position_high[j]) + 0.03})


class VelocityLimit(Fault):
    name = "velocity_limit"
    description = "the twin's first actuated joint pushed to 1.25 x its velocity limit"
    reaction = "safe_stop"
    kinds = ("velocity_limit",)
    duration = 1

    def inject(self) -> None:
        super().inject()
        spec = self.ctx.spec
        j = _joint_index(spec, 0)
        self.ctx.twin.set_state(joint_vel={spec.joints[j]: 1.25 * float(spec.safety.velocity[j])})


class MeasuredTorque(Fault):
    name = "measured_torque"
    description = "the first actuated joint reports 1.5 x its torque limit for one tick"
    reaction = "safe_stop"
    kinds = ("torque_limit",)
    duration = 1

    def read(self) -> Reading:
        r = self.ctx.twin.read()
        spec = self.ctx.spec
        j = _joint_index(spec, 0)
        tau = np.zeros(spec.n_joints) if r.tau is None else r.tau.copy()
        tau[j] = 1.5 * float(spec.safety.torque[j])
        return _replace(r, tau=tau)


class TorqueCommand(Fault):
    name = "torque_command"
    description = (
        "the policy ramps one actuator's command (at 0.9 x the rate limit, so the rate limit never binds) "
        "to 1.5 x the command its torque limit allows: clamped at the torque limit"
    )
    reaction = "clamp"
    kinds = ("torque_limit",)

    def inject(self) -> None:
        super().inject()
        self.i = _widest_actuator(self.ctx.spec)
        self.request: float | None = None
        self.beyond = False
        self.first_beyond_tick: int | None = None

    def _beyond(self, value: float, reading: Reading) -> bool:
        spec = self.ctx.spec
        act = spec.actuators[self.i]
        j = _joint_index(spec, self.i)
        limit = float(spec.safety.torque[j])
        if act.model == "pd":
            tau = act.kp * (value - reading.q[j]) - act.kd * reading.qd[j]
            return (
                abs(tau) > limit or not spec.safety.position_low[j] <= value <= spec.safety.position_high[j]
            )
        if act.model == "torque":
            return abs(value) > limit
        tau = act.kt * (value - act.ke * reading.qd[j]) / act.resistance
        return abs(tau) > limit or abs(value) > act.voltage_limit

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        spec = self.ctx.spec
        act = spec.actuators[self.i]
        j = _joint_index(spec, self.i)
        out = np.array(u, dtype=float)
        if self.request is None:  # start from the policy's command; the goal is fixed from here
            self.request = float(out[self.i])
            limit = float(spec.safety.torque[j])
            if act.model == "pd":
                self.goal = float(reading.q[j]) + 1.5 * limit / act.kp
            elif act.model == "torque":
                self.goal = 1.5 * limit
            else:
                self.goal = 1.5 * max(act.voltage_limit, limit * act.resistance / act.kt)
        step = 0.9 * float(self.ctx.monitor.max_step(spec.control_dt)[self.i])
        self.request = min(self.request + step, self.goal)
        out[self.i] = self.request
        if self._beyond(self.request, reading):
            self.beyond = True
        return out

    def observable(self, result: TickResult) -> bool:
        return self.beyond


class RateSpike(Fault):
    name = "rate_spike"
    description = "the policy's command of one actuator jumps by 2 x the rate limit's step for one tick"
    reaction = "clamp"
    kinds = ("rate_limit", "velocity_limit")
    duration = 1

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        spec = self.ctx.spec
        i = _widest_actuator(spec)
        out = np.array(u, dtype=float)
        jump = 2.0 * float(self.ctx.monitor.max_step(spec.control_dt)[i])
        act = spec.actuators[i]
        j = _joint_index(spec, i)
        high = float(spec.safety.position_high[j]) if act.model == "pd" else act.command_high
        out[i] = out[i] + jump if out[i] + jump <= high else out[i] - jump
        return out


class Tilt(Fault):
    name = "tilt"
    description = (
        "the twin's base tilted 1.2 x the tilt limit about x (lifted to 0.5 m so no leg enters the floor)"
    )
    reaction = "safe_stop"
    kinds = ("tilt",)
    duration = 1
    floating_base_only = True

    def inject(self) -> None:
        super().inject()
        limit = float(self.ctx.spec.safety.tilt or 0.5)
        angle = 1.2 * limit
        quat = np.array([math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0])
        low, high = self.ctx.spec.safety.base_height_low, self.ctx.spec.safety.base_height_high
        height = 0.5 if low is None or high is None else min(0.5, 0.5 * (low + high))
        self.ctx.twin.set_state(base_height=height, base_quat=quat)


class Height(Fault):
    name = "height"
    description = "the twin's base pushed below its height limit (legs folded, base 5 mm under the limit)"
    reaction = "safe_stop"
    kinds = ("height",)
    duration = 1
    floating_base_only = True

    @classmethod
    def applies(cls, spec: RobotSpec) -> bool:
        return super().applies(spec) and spec.safety.base_height_low is not None

    def inject(self) -> None:
        super().inject()
        spec = self.ctx.spec
        twin = self.ctx.twin
        folded: dict[str, float] = {}
        for j, name in enumerate(spec.joints):  # fold the legs: each joint to 90 % of the way to a limit
            lo, hi = float(spec.safety.position_low[j]), float(spec.safety.position_high[j])
            q = float(spec.default_pose[j])
            far = hi if hi - q > q - lo else lo
            folded[name] = q + 0.9 * (far - q) if "hip" not in name else q
        height = float(spec.safety.base_height_low) - 0.005
        twin.set_state(joint_pos=folded, base_height=height, base_quat=np.array([1.0, 0.0, 0.0, 0.0]))


class Estop(Fault):
    name = "estop"
    description = "an e-stop request"
    reaction = "safe_stop"
    kinds = ("estop",)
    duration = 1

    def inject(self) -> None:
        super().inject()
        self.ctx.loop.request_estop("fault-injection e-stop")


FAULTS: tuple[type[Fault], ...] = (
    NanReading,
    NanPolicyOutput,
    InfPolicyOutput,
    NanPolicyInput,
    StaleReading,
    DroppedBurst,
    SensorDropout,
    LatencySpike,
    PositionLimit,
    VelocityLimit,
    MeasuredTorque,
    TorqueCommand,
    RateSpike,
    Tilt,
    Height,
    Estop,
)
"""Every fault of the suite (``policy_missing`` is run separately: it happens before the loop)."""


# ------------------------------------------------------------------------------------------ running


class _FaultyRobot(RobotWrapper):
    """The twin, with the active fault's readings."""

    def __init__(self, twin: TwinRobot) -> None:
        super().__init__(twin)
        self.fault: Fault | None = None

    def read(self) -> Reading:
        fault = self.fault
        if fault is not None and fault.active:
            return fault.read()
        reading = self.inner.read()
        if isinstance(fault, LatencySpike):
            fault.record(reading)
        return reading


class _FaultyPolicy:
    """The policy, with the active fault's outputs."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.control_dt = getattr(inner, "control_dt", None)
        self.fault: Fault | None = None

    @property
    def last_input_finite(self) -> bool:
        return bool(self.inner.last_input_finite)

    def reset(self) -> None:
        self.inner.reset()

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        out = np.array(self.inner.step_reading(reading, velocity_command), dtype=float)
        if self.fault is not None and self.fault.active:
            out = self.fault.command(out, reading)
        return out


@dataclass
class CaseResult:
    """Outcome of one fault case."""

    name: str
    description: str
    detected: bool
    reaction: str
    """First reaction: clamp, hold, safe_stop (refused_start for a missing policy), or none."""
    expected: str
    worst: str
    """Most severe reaction during the case."""
    escalation: str | None
    reaction_periods: int | None
    """Control periods from the tick the fault became observable to the reacting tick (0: same tick)."""
    reaction_ms: float | None
    """Loop time from the tick the fault became observable to the reacting command, plus that tick's
    controller (host compute) time [ms]."""
    compute_ms: float | None
    """Controller time of the reacting tick [ms] (host load shows here; the loop counts overruns)."""
    unsafe_commands: int
    latched: bool | None
    """For safe stops: whether every later command stayed safe (no reset is made)."""
    recovered: bool | None
    """For holds and clamps of a fault that ends: whether normal commands resumed."""
    false_alarms: int
    """Hold and safe-stop events during the fault-free warm-up (clamps are routine shaping)."""
    control_dt: float
    events: list[str] = field(default_factory=list)
    """kind/severity of the events after the injection (first few)."""
    unsafe: list[str] = field(default_factory=list)

    @property
    def within_one_period(self) -> bool:
        """The reacting command is the one computed from the first reading (or policy output) that
        shows the fault, i.e. it is written in the same control period."""
        return self.reaction_periods == 0

    @property
    def passed(self) -> bool:
        """Detected, reaction as severe as expected (and escalated when expected), within one control
        period, no unsafe command, latched safe stops, resumed after transient faults."""
        ok = (
            self.detected
            and _RANK[self.reaction] >= _RANK[self.expected]
            and self.within_one_period
            and self.unsafe_commands == 0
            and self.false_alarms == 0
        )
        if self.escalation is not None:
            ok = ok and _RANK[self.worst] >= _RANK[self.escalation]
        if self.latched is not None:
            ok = ok and self.latched
        if self.recovered is not None:
            ok = ok and self.recovered
        return bool(ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fault": self.description,
            "detected": self.detected,
            "reaction": self.reaction,
            "expected": self.expected,
            "worst": self.worst,
            "reaction_periods": self.reaction_periods,
            "reaction_ms": self.reaction_ms,
            "compute_ms": self.compute_ms,
            "within_one_period": self.within_one_period,
            "unsafe_commands": self.unsafe_commands,
            "latched": self.latched,
            "recovered": self.recovered,
            "false_alarms": self.false_alarms,
            "passed": self.passed,
            "events": self.events,
            "unsafe": self.unsafe,
        }


def _reaction(result: TickResult, kinds: Sequence[str]) -> str:
    if result.command.mode == "safe":
        return "safe_stop"
    if result.command.mode == "hold":
        return "hold"
    if any(str(e.kind) in kinds and e.severity == Severity.CLAMP for e in result.events):
        return "clamp"
    return "none"


def run_case(
    spec: RobotSpec,
    fault_type: type[Fault],
    *,
    policy_factory: Callable[[RobotSpec], Policy] | None = None,
    monitor_factory: Callable[[RobotSpec], SafetyMonitor] | None = None,
    stage: int | None = None,
    seed: int = 0,
) -> CaseResult:
    """Run one fault case on a fresh twin and loop (see the module docstring).

    Args:
        spec: The robot.
        fault_type: The fault.
        policy_factory: Builds the policy (default :class:`StandInPolicy`).
        monitor_factory: Builds the safety monitor (default :class:`SafetyMonitor`; tests pass a
            broken one to show the audit catches what it lets through).
        stage: Speed stage index (default: the last, 100 %).
        seed: Seed of the twin and the start state.
    """
    speed = SpeedConfig()
    stage = len(speed.stages) - 1 if stage is None else stage
    q0, qd0 = initial_state(spec, seed)
    effects = dataclasses.replace(TwinEffects(), drop_probability=0.0, seed=seed)
    twin = TwinRobot(spec, TwinConfig(effects=effects), initial_qpos=q0)
    twin.reset(q0, qd0)
    faulty = _FaultyRobot(twin)
    robot = AuditedRobot(faulty)
    policy = _FaultyPolicy((policy_factory or StandInPolicy)(spec))
    monitor = (monitor_factory or SafetyMonitor)(spec)
    loop = ControlLoop(
        robot,
        policy,  # type: ignore[arg-type]
        config=LoopConfig(speed=dataclasses.replace(speed, start_stage=stage), episode_return=False),
        monitor=monitor,
    )
    ctx = _Context(spec=spec, twin=twin, loop=loop, monitor=monitor, rng=np.random.default_rng(seed))
    fault = fault_type(ctx)
    faulty.fault = fault
    policy.fault = fault

    dt = spec.control_dt
    warmup = max(10, round(0.1 / dt))
    duration = fault.duration_ticks()
    tail = max(10, math.ceil(3 * spec.safety.stale_timeout / dt))
    total = warmup + (duration or 0) + tail

    results: list[TickResult] = []
    onset: int | None = None
    for k in range(total):
        if k == warmup:
            fault.inject()
        if duration is not None and fault.active and k == warmup + duration:
            fault.clear()
        result = loop.tick()
        if fault.active:
            fault.ticks_active += 1
        results.append(result)
        if k >= warmup and onset is None and fault.observable(result):
            onset = k
    loop.close()

    false_alarms = sum(
        1 for r in results[:warmup] for e in r.events if e.severity in (Severity.HOLD, Severity.SAFE_STOP)
    )
    detected_at: int | None = None
    if onset is not None:
        for k in range(onset, total):
            if any(str(e.kind) in fault.kinds and e.severity != Severity.INFO for e in results[k].events):
                detected_at = k
                break
    reaction = "none"
    reaction_periods = reaction_ms = compute_ms = None
    if detected_at is not None and onset is not None:
        reaction = _reaction(results[detected_at], fault.kinds)
        reaction_periods = detected_at - onset
        compute_ms = 1e3 * results[detected_at].compute_s
        reaction_ms = 1e3 * (results[detected_at].now - results[onset].now) + compute_ms
    after = results[warmup:]
    worst = max((_reaction(r, fault.kinds) for r in after), key=_RANK.__getitem__, default="none")
    latched = None
    first_safe = next((k for k, r in enumerate(after) if r.command.mode == "safe"), None)
    if first_safe is not None and _RANK[fault.escalation or fault.reaction] >= _RANK["safe_stop"]:
        latched = all(r.command.mode == "safe" for r in after[first_safe:])
    recovered = None
    if duration is not None and fault.reaction != "safe_stop":
        recovered = results[-1].command.mode == "normal" and not loop.monitor.latched
    events = [f"{e.kind}/{e.severity}" for r in after for e in r.events][:8]
    return CaseResult(
        name=fault.name,
        description=fault.description,
        detected=detected_at is not None,
        reaction=reaction,
        expected=fault.reaction,
        worst=worst,
        escalation=fault.escalation,
        reaction_periods=reaction_periods,
        reaction_ms=reaction_ms,
        compute_ms=compute_ms,
        unsafe_commands=len(robot.unsafe),
        latched=latched,
        recovered=recovered,
        false_alarms=false_alarms,
        control_dt=dt,
        events=events,
        unsafe=["; ".join(p) for _, p in robot.unsafe[:5]],
    )


def run_policy_missing_case(spec: RobotSpec, load_policy: Callable[[Path, RobotSpec], Any]) -> CaseResult:
    """The policy file is missing at start: loading must fail before any command reaches the robot,
    and the robot is left in safe mode."""
    effects = dataclasses.replace(TwinEffects(), drop_probability=0.0)
    twin = TwinRobot(spec, TwinConfig(effects=effects))
    robot = AuditedRobot(_FaultyRobot(twin))
    detected = False
    message = ""
    try:
        load_policy(Path("/nonexistent/sim2real/policy.onnx"), spec)
    except PolicyError as exc:
        detected = True
        message = str(exc)
        robot.stop()
    return CaseResult(
        name="policy_missing",
        description="the policy file is missing at start: refuse to start, robot in safe mode, nothing written",
        detected=detected and robot.written == 0 and twin.safe,
        reaction="refused_start" if detected else "none",
        expected="refused_start",
        worst="refused_start" if detected else "none",
        escalation=None,
        reaction_periods=0 if detected else None,
        reaction_ms=0.0 if detected else None,
        compute_ms=None,
        unsafe_commands=len(robot.unsafe),
        latched=None,
        recovered=None,
        false_alarms=0,
        control_dt=spec.control_dt,
        events=[message[:200]] if message else [],
    )


def _load_runner(path: Path, spec: RobotSpec) -> Any:
    from sim2real.policy.runtime import PolicyRunner

    return PolicyRunner(path, spec, providers="cpu")


def run_suite(
    spec: RobotSpec,
    *,
    policy_factory: Callable[[RobotSpec], Policy] | None = None,
    stage: int | None = None,
    seed: int = 0,
    faults: Sequence[type[Fault]] = FAULTS,
    on_case: Callable[[CaseResult], None] | None = None,
) -> dict[str, Any]:
    """Every applicable fault case on the robot.

    Returns:
        ``{"robot", "cases": [CaseResult.as_dict()...], "skipped", "unsafe_commands_total",
        "all_detected", "all_within_one_period", "all_passed"}``.
    """
    cases: list[CaseResult] = []
    skipped: list[str] = []
    for fault_type in faults:
        if not fault_type.applies(spec):
            skipped.append(fault_type.name)
            continue
        result = run_case(spec, fault_type, policy_factory=policy_factory, stage=stage, seed=seed)
        cases.append(result)
        if on_case is not None:
            on_case(result)
    missing = run_policy_missing_case(spec, _load_runner)
    cases.append(missing)
    if on_case is not None:
        on_case(missing)
    within = [c.within_one_period for c in cases]
    return {
        "robot": spec.name,
        "spec_hash": spec.hash,
        "control_dt": spec.control_dt,
        "cases": [c.as_dict() for c in cases],
        "skipped": skipped,
        "unsafe_commands_total": sum(c.unsafe_commands for c in cases),
        "all_detected": all(c.detected for c in cases),
        "all_within_one_period": all(within),
        "all_passed": all(c.passed for c in cases),
    }
