"""The hard limits of the safety layer on commands, and the independent check of every output.

- :class:`ActuatorLimits`: the spec's limits and actuator constants per actuator, in actuator
  order, with named fields and units (frozen, read-only arrays).
- :class:`CommandWindow`: the commands each hard limit allows at one state (q, qd), one named
  row per limit: ``position`` (pd targets), ``torque`` (the torque a command implies, see
  :func:`~sim2real.robots.actuation.implied_torque`) and ``voltage`` (dc_motor supply).
- :func:`safe_mode_command`: the command equivalent of the spec's safe mode (for the log).
- :func:`assert_safe`: the final check of every command the monitor returns, written per
  actuator from the limits alone, sharing no code with the window the clamps use.

This module needs numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from sim2real.real.protocol import Reading
from sim2real.robots.actuation import ActuatorArrays, command_for_torque, implied_torque
from sim2real.robots.spec import RobotSpec

__all__ = [
    "LIMIT_ROWS",
    "TORQUE_RTOL",
    "ActuatorLimits",
    "CommandWindow",
    "assert_safe",
    "command_window",
    "safe_mode_command",
    "zero_torque_command",
]

TORQUE_RTOL = 1e-9
"""Relative tolerance of :func:`assert_safe` on implied torques and rate limits (rounding only)."""

LIMIT_ROWS: tuple[str, ...] = ("position limit", "torque limit", "voltage limit")
"""The rows of a :class:`CommandWindow`, in the order a tie names the binding limit."""


def _frozen(values: object, dtype: type = float) -> np.ndarray:
    out = np.array(values, dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class ActuatorLimits:
    """A robot's hard limits per actuator (``spec.actuators`` order); arrays of shape (n_act,).

    Build it with :meth:`from_spec`.
    """

    joints: tuple[str, ...]
    """Joint each actuator drives."""
    index: np.ndarray
    """Index of that joint in ``spec.joints`` (the reading's order)."""
    actuation: ActuatorArrays
    """Actuator models and nominal constants (kp, kd, R, kt, ke)."""
    position_low: np.ndarray
    """Lowest joint position [rad]."""
    position_high: np.ndarray
    """Highest joint position [rad]."""
    velocity: np.ndarray
    """Largest joint speed [rad/s]."""
    torque: np.ndarray
    """Largest joint torque [N m]."""
    voltage: np.ndarray
    """Largest supply voltage magnitude [V] of dc_motor actuators; inf for the other models."""
    command_rate: np.ndarray
    """Largest change of the command per second at full speed [command units/s]: the spec's
    ``command_rate``, or a pd joint's velocity limit when lower (a target moving faster than the
    joint may move would drive it past that limit)."""
    rate_is_velocity: np.ndarray
    """True where ``command_rate`` is the joint's velocity limit."""
    speed_units: tuple[str, ...] = ()
    """Unit of each actuated joint's speed (``rad/s``, ``m/s`` on a slide joint), for messages."""

    @classmethod
    def from_spec(cls, spec: RobotSpec) -> ActuatorLimits:
        """The limits of a robot (its ``safety`` section and actuator constants)."""
        acts = spec.actuators
        index = np.array([spec.joints.index(a.joint) for a in acts], dtype=np.int64)
        lim = spec.safety
        actuation = ActuatorArrays.from_spec(spec)
        velocity = np.asarray(lim.velocity, dtype=float)[index]
        rate = np.asarray(lim.command_rate, dtype=float)[index]
        rate_is_velocity = actuation.pd & (velocity < rate)
        return cls(
            joints=tuple(a.joint for a in acts),
            index=_frozen(index, np.int64),
            actuation=actuation,
            position_low=_frozen(np.asarray(lim.position_low, dtype=float)[index]),
            position_high=_frozen(np.asarray(lim.position_high, dtype=float)[index]),
            velocity=_frozen(velocity),
            torque=_frozen(np.asarray(lim.torque, dtype=float)[index]),
            voltage=_frozen([a.voltage_limit if a.model == "dc_motor" else math.inf for a in acts]),
            command_rate=_frozen(np.where(rate_is_velocity, velocity, rate)),
            rate_is_velocity=_frozen(rate_is_velocity, bool),
            speed_units=tuple(spec.units(a.joint)[1] for a in acts),
        )


@dataclass(frozen=True, eq=False)
class CommandWindow:
    """The commands each hard limit allows at one state; arrays of shape (n_act,), command units.

    A limit that does not apply to an actuator's model is (-inf, inf).  A window that no value
    satisfies (``low > high``, or NaN from a pathological spec) is empty: the monitor stops.
    """

    position_low: np.ndarray
    """pd targets: the joint's lowest position [rad]."""
    position_high: np.ndarray
    """pd targets: the joint's highest position [rad]."""
    torque_low: np.ndarray
    """The command implying ``-torque limit`` at (q, qd)."""
    torque_high: np.ndarray
    """The command implying ``+torque limit`` at (q, qd)."""
    voltage_low: np.ndarray
    """dc_motor voltages: ``-voltage limit`` [V]."""
    voltage_high: np.ndarray
    """dc_motor voltages: ``+voltage limit`` [V]."""

    def rows(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(name, low, high)`` of each limit, in :data:`LIMIT_ROWS` order."""
        yield LIMIT_ROWS[0], self.position_low, self.position_high
        yield LIMIT_ROWS[1], self.torque_low, self.torque_high
        yield LIMIT_ROWS[2], self.voltage_low, self.voltage_high

    @property
    def low(self) -> np.ndarray:
        """Lowest command every hard limit allows."""
        return np.maximum(np.maximum(self.position_low, self.torque_low), self.voltage_low)

    @property
    def high(self) -> np.ndarray:
        """Highest command every hard limit allows."""
        return np.minimum(np.minimum(self.position_high, self.torque_high), self.voltage_high)


def command_window(limits: ActuatorLimits, q: np.ndarray, qd: np.ndarray) -> CommandWindow:
    """The hard limits on each command value at the state (q, qd) of the actuated joints.

    Args:
        limits: The robot's limits.
        q: Shape (n_act,): position of each actuator's joint [rad].
        qd: Shape (n_act,): velocity of each actuator's joint [rad/s].
    """
    act = limits.actuation
    inf = np.full(len(limits.joints), math.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        torque_low = command_for_torque(act, -limits.torque, q, qd)
        torque_high = command_for_torque(act, limits.torque, q, qd)
    lows = np.stack([np.where(act.pd, limits.position_low, -inf), torque_low, -limits.voltage])
    highs = np.stack([np.where(act.pd, limits.position_high, inf), torque_high, limits.voltage])
    # NaN (only possible from inf - inf in a pathological spec) makes the window empty: fail safe
    lows = np.where(np.isnan(lows), math.inf, lows)
    highs = np.where(np.isnan(highs), -math.inf, highs)
    return CommandWindow(lows[0], highs[0], lows[1], highs[1], lows[2], highs[2])


def zero_torque_command(limits: ActuatorLimits, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """The command implying zero torque at (q, qd) of the actuated joints, shape (n_act,)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return command_for_torque(limits.actuation, np.zeros(len(limits.joints)), q, qd)


def safe_mode_command(spec: RobotSpec, limits: ActuatorLimits, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """The command equivalent of the spec's safe mode at (q, qd) of the actuated joints.

    The safe-mode torque (``-damping * qd`` or zero), within the torque limit, in actuator units;
    pd targets within the position limits where the torque limit allows (the torque limit wins)
    and voltages within the supply.  Finite: where the
    equation gives none, a pd joint holds where it is (its position; a target of 0 rad would pull
    it across its range) and others get 0; what a ROS 2 robot without a safe-mode topic is sent
    (others realize safe mode themselves).
    """
    safety = spec.safety
    n = len(limits.joints)
    tau = -np.asarray(safety.damping)[limits.index] * qd if safety.safe_mode == "damping" else np.zeros(n)
    tau = np.clip(tau, -limits.torque, limits.torque)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = command_for_torque(limits.actuation, tau, q, qd)
    act = limits.actuation
    values = np.where(act.pd, np.clip(values, limits.position_low, limits.position_high), values)
    # ... and the torque limit wins over the position limit: a target clipped to a position limit
    # the joint is still short of implies more than the damping (31 N m against a 20 N m limit)
    with np.errstate(divide="ignore", invalid="ignore"):
        ends = command_for_torque(act, -limits.torque, q, qd), command_for_torque(act, limits.torque, q, qd)
    values = np.where(act.pd, np.clip(values, np.minimum(*ends), np.maximum(*ends)), values)
    values = np.where(act.dc_motor, np.clip(values, -limits.voltage, limits.voltage), values)
    hold = np.where(act.pd, np.clip(np.asarray(q, dtype=float), limits.position_low, limits.position_high), 0.0)
    return np.where(np.isfinite(values), values, np.where(np.isfinite(hold), hold, 0.0))


def assert_safe(
    spec: RobotSpec,
    values: np.ndarray,
    reading: Reading,
    previous: np.ndarray | None = None,
    max_step: np.ndarray | None = None,
    *,
    actuators: ActuatorArrays | None = None,
) -> list[str]:
    """Re-check a command against the hard limits, independently of the clamping code.

    Written per actuator from the spec's limits and the forward actuator equation
    (:func:`~sim2real.robots.actuation.implied_torque`), deliberately sharing no code with the
    command window the clamps use (:func:`command_window` inverts the equation instead).

    Args:
        spec: The robot.
        values: Shape (n_actions,): the command, actuator units.
        reading: The state the command is checked against (q, qd of shape (n_joints,)).
        previous: Shape (n_actions,): the previous command, to check the rate; None to skip.
        max_step: Shape (n_actions,): largest allowed change from ``previous``.
        actuators: ``ActuatorArrays.from_spec(spec)``, when the caller keeps one (computed else).

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
    index = [spec.joints.index(act.joint) for act in spec.actuators]
    actuators = actuators if actuators is not None else ActuatorArrays.from_spec(spec)
    taus = implied_torque(actuators, u, q[index], qd[index])
    for i, act in enumerate(spec.actuators):
        j = index[i]
        value = float(u[i])
        limit = float(lim.torque[j])
        tau = float(taus[i])
        if act.model == "pd":
            lo, hi = float(lim.position_low[j]), float(lim.position_high[j])
            if not lo <= value <= hi:
                problems.append(f"{act.joint}: pd target {value} outside [{lo}, {hi}]")
            scale = limit + act.kp * (abs(value) + abs(q[j])) + act.kd * abs(qd[j])
        elif act.model == "torque":
            scale = limit
        else:
            if not abs(value) <= act.voltage_limit:
                problems.append(f"{act.joint}: voltage {value} beyond +-{act.voltage_limit}")
            scale = limit + act.kt * (abs(value) + act.ke * abs(qd[j])) / act.resistance
        if not abs(tau) <= limit + TORQUE_RTOL * scale:
            problems.append(f"{act.joint}: implied torque {tau} beyond +-{limit}")
        if previous is not None and max_step is not None:
            step = abs(value - float(previous[i]))
            allowed = float(max_step[i])
            if not step <= allowed + TORQUE_RTOL * (allowed + abs(value) + abs(float(previous[i]))):
                problems.append(f"{act.joint}: change {step} beyond the rate limit {allowed}")
    return problems
