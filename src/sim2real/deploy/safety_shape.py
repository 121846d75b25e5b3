"""The command path's shaping events: which limit bound each clamped value, the velocity governor,
the holds where the hard limits moved beyond the rate limit's reach.

Pure functions of the monitor's limits (:class:`~sim2real.deploy.safety_limits.ActuatorLimits`) and
its speed fraction; :class:`~sim2real.deploy.safety.SafetyMonitor` reports the events they return,
in order.  This module needs numpy only.
"""

from __future__ import annotations

import numpy as np

from sim2real.deploy.safety_events import EventKind, SafetyEvent, Severity, new_event
from sim2real.deploy.safety_limits import ActuatorLimits, CommandWindow, zero_torque_command

__all__ = ["clamp_events", "conflict_events", "governor", "parse_command"]


def parse_command(command_values: object, m: int) -> tuple[np.ndarray | None, str | None]:
    """The command as a float array of shape (m,) with finite values, or a problem."""
    try:
        u = np.array(command_values, dtype=float)
    except (TypeError, ValueError):
        return None, "not numbers"
    if u.shape != (m,):
        return None, f"shape {u.shape}, expected ({m},)"
    if not np.all(np.isfinite(u)):
        return None, f"non-finite values {u.tolist()}"
    return u, None


def clamp_events(
    limits: ActuatorLimits,
    speed: float,
    u: np.ndarray,
    out: np.ndarray,
    window: CommandWindow,
    rate_lo: np.ndarray,
    rate_hi: np.ndarray,
    now: float,
) -> list[SafetyEvent]:
    """One clamp event per modified value, naming the binding limit (the first of the window's
    rows, then the rate limit, when several bind alike).

    Args:
        limits: The hard limits per actuator.
        speed: The speed fraction in (0, 1].
        u: The command, shape (n_actions,), actuator units.
        out: The command clamped into the window and the rate limit, shape (n_actions,).
        window: The hard limits at the state.
        rate_lo: Lowest value the rate limit allows, shape (n_actions,).
        rate_hi: Highest value the rate limit allows, shape (n_actions,).
        now: Loop time [s].
    """
    names = limits.joints
    events = []
    for i in np.flatnonzero(out != u):
        rows = [(name, low[i], high[i]) for name, low, high in window.rows()]
        rows.append(("rate limit", rate_lo[i], rate_hi[i]))
        if out[i] > u[i]:  # raised to the highest lower bound
            row, bound, _ = max(rows, key=lambda r: r[1])
        else:  # lowered to the lowest upper bound
            row, _, bound = min(rows, key=lambda r: r[2])
        if row == "position limit":
            kind, what = EventKind.POSITION_LIMIT, row
        elif row in ("torque limit", "voltage limit"):
            kind, what = EventKind.TORQUE_LIMIT, row
        elif limits.rate_is_velocity[i]:
            kind, what = (
                EventKind.VELOCITY_LIMIT,
                f"target speed limit {limits.command_rate[i] * speed:.4g}/s",
            )
        else:
            kind, what = EventKind.RATE_LIMIT, f"rate limit {limits.command_rate[i] * speed:.4g}/s"
        events.append(
            new_event(
                now,
                kind,
                Severity.CLAMP,
                f"{names[i]}: command {u[i]:.6g} clamped to {out[i]:.6g} ({what})",
                joint=names[i],
                value=float(u[i]),
                limit=float(bound),
            )
        )
    return events


def conflict_events(
    limits: ActuatorLimits, u: np.ndarray, out: np.ndarray, step: np.ndarray, conflict: np.ndarray, now: float
) -> list[SafetyEvent]:
    """One hold event per value whose hard limits moved beyond the rate limit's reach.

    Args:
        limits: The hard limits per actuator.
        u: The command, shape (n_actions,), actuator units.
        out: The held command (the previous one projected into the hard limits), shape (n_actions,).
        step: Largest change the rate limit allows this tick, shape (n_actions,).
        conflict: Shape (n_actions,) bool: no value satisfies both the hard limits and the rate limit.
        now: Loop time [s].
    """
    names = limits.joints
    return [
        new_event(
            now,
            EventKind.RATE_LIMIT,
            Severity.HOLD,
            f"{names[i]}: the hard limits moved beyond the rate limit's reach "
            f"({step[i]:.4g} per tick): holding at the nearest allowed value {out[i]:.6g}",
            joint=names[i],
            value=float(u[i]),
            limit=float(step[i]),
        )
        for i in np.flatnonzero(conflict)
    ]


def governor(
    limits: ActuatorLimits,
    speed: float,
    out: np.ndarray,
    q: np.ndarray,
    qd: np.ndarray,
    w_lo: np.ndarray,
    w_hi: np.ndarray,
    now: float,
) -> tuple[np.ndarray, list[SafetyEvent]]:
    """Joints faster than velocity * speed_fraction may not be accelerated further.

    Args:
        limits: The hard limits per actuator.
        speed: The speed fraction in (0, 1].
        out: The clamped command, shape (n_actions,), actuator units.
        q: Position of each actuated joint [rad], shape (n_actions,).
        qd: Speed of each actuated joint [rad/s], shape (n_actions,).
        w_lo: Lowest allowed value (hard limits and rate limit), shape (n_actions,).
        w_hi: Highest allowed value, shape (n_actions,).
        now: Loop time [s].

    Returns:
        The governed command, shape (n_actions,), and one clamp event per value it changed.
    """
    velocity = limits.velocity
    over = np.abs(qd) > velocity * speed
    if not np.any(over):
        return out, []
    zero = zero_torque_command(limits, q, qd)
    governed = np.where(qd > 0, np.minimum(out, zero), np.maximum(out, zero))
    governed = np.where(over, np.clip(governed, w_lo, w_hi), out)
    names = limits.joints
    events = []
    for i in np.flatnonzero(governed != out):
        limit = float(velocity[i] * speed)
        events.append(
            new_event(
                now,
                EventKind.VELOCITY_LIMIT,
                Severity.CLAMP,
                f"{names[i]}: speed {abs(qd[i]):.4g} {limits.speed_units[i] if limits.speed_units else 'rad/s'} above {limit:.4g} "
                f"(speed fraction {speed}): command {out[i]:.6g} -> {governed[i]:.6g}",
                joint=names[i],
                value=float(qd[i]),
                limit=limit,
            )
        )
    return governed, events
