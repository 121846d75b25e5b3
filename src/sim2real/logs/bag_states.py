"""Joint states of a rosbag2 bag as time-ordered arrays: clocks, order, duplicates, command joints
(and ``--command-order``, which states them where the bag does not).

Used by :mod:`sim2real.logs.bag` when reading. A bag holds two clocks: the header stamp of each
sensor message (the sender's clock: wall time, a robot's boot clock, or zero) and the recording
time (the recorder's clock, the only time a command message has).  sim2real's own bags write both
from one clock and keep the header stamps.  A bag from another recorder (no sim2real metadata)
gets its stamped messages moved onto the recording clock: stamps keep their spacing and are
shifted by the median of (recording time - stamp), so states and commands share one clock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim2real.errors import LogError
from sim2real.logs.bag_topics import TOPIC_JOINT_STATES

log = logging.getLogger(__name__)


CLOCK_STEP_NS = 100_000_000
"""Smallest change of (recording time - header stamp) taken for a step of the sender's clock [ns],
when the control period is shorter."""
CLOCK_STEP_RUN = 5
"""Messages a new (recording time - stamp) offset must hold for to be a clock step, not a late message."""
CLOCK_STEP_WINDOW_NS = 2_000_000_000
"""Recording time on either side of a candidate step over which the floor of (recording time -
stamp) is compared [ns]: longer than a recorder's stall takes to drain."""
FILL_SHARE = 0.1
"""Largest share of messages that may lack an optional JointState field (velocity, effort) for it
to be filled in rather than not taken."""
FILL_RUN = 5
"""Most messages in a row that may lack an effort and still be filled by interpolation."""
TAIL_STEP_NS = 10_000_000_000
"""A jump up of (recording time - stamp) this large [ns] is a step of the sender's clock even near
the bag's end, where what follows cannot tell it from a stall."""


def on_recording_clock(
    where: str, stamp_ns: Sequence[int], recv_ns: Sequence[int], period_ns: float | None
) -> np.ndarray:
    """Sample times [ns] on the recording clock, shape (N,): stamps shifted by the median offset.

    A sender whose clock steps during the recording (a robot computer's clock set by NTP after
    boot, a driver restarted on another clock) shifts the offset (recording time - stamp) for good
    from one message on: each stretch between such steps gets its own median offset (one warning
    line per step), so that the stamps keep their spacing within a stretch and the stretches stay in
    recording order.  A single late message (the recorder stalled) is no step.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        stamp_ns: Header stamps [ns] in recording order; 0 = none (the recording time is used).
        recv_ns: Recording times [ns], same length.
        period_ns: Control period [ns]; an offset larger than this is reported (one warning).
    """
    stamp = np.asarray(stamp_ns, dtype=np.int64)
    recv = np.asarray(recv_ns, dtype=np.int64)
    stamped = np.flatnonzero(stamp != 0)
    if not stamped.size:
        return recv
    delta = recv[stamped] - stamp[stamped]
    spacing = median_step(recv[stamped])
    window = max(CLOCK_STEP_RUN, int(np.ceil(CLOCK_STEP_WINDOW_NS / spacing))) if spacing else CLOCK_STEP_RUN
    starts = _clock_steps(delta, max(CLOCK_STEP_NS, 2 * (period_ns or 0)), window)
    offsets = np.empty(delta.size, dtype=np.int64)
    for a, b in zip(starts, [*starts[1:], delta.size], strict=True):
        offsets[a:b] = int(np.median(delta[a:b]))
    for a in starts[1:]:
        log.warning(
            "%s: header stamps jump by %+.6g s %.3f s into the recording (the sender's clock stepped?); "
            "the messages on either side are timed on the recording clock by their own offsets",
            where,
            (offsets[a - 1] - offsets[a]) / 1e9,
            (recv[stamped[a]] - recv[0]) / 1e9,
        )
    longest = max(zip(starts, [*starts[1:], delta.size], strict=True), key=lambda ab: ab[1] - ab[0])
    offset = int(offsets[longest[0]])  # of the longest stretch (reported below)
    if period_ns is not None and abs(offset) > period_ns:
        log.warning(
            "%s: header stamps are %.6g s %s the recording times (more than the %.3g s control period: "
            "another clock?); samples are timed on the recording clock, as the commands are",
            where,
            abs(offset) / 1e9,
            "behind" if offset > 0 else "ahead of",
            period_ns / 1e9,
        )
    out = recv.copy()
    out[stamped] = stamp[stamped] + offsets
    return out


def _clock_steps(delta: np.ndarray, tolerance: float, window: int) -> list[int]:
    """Indices where a stretch of one sender clock starts in ``delta`` (recording time - stamp),
    0 first.

    Delay only adds to ``delta``: a recorder that stalls and delivers a backlog raises it for a
    while, but not its floor (its minimum over the ``window`` messages that follow); a step of the
    sender's clock moves the floor for good.  A stretch starts at message ``i`` when ``delta`` jumps
    there by more than ``tolerance`` and the floor after ``i`` differs from the floor before it (in
    the current stretch) by more than ``tolerance``, the same way.  Within ``window`` messages of
    the end, where a stall may not have drained, a jump up is a step when the messages after it
    (at least :data:`CLOCK_STEP_RUN`) keep the raised offset rather than drain, or when it exceeds
    :data:`TAIL_STEP_NS`; a stall cannot lower the floor, so a jump down is judged as anywhere.
    One vectorised pass finds the jumps; only those are looked at.
    """
    jumps = np.diff(delta)
    starts = [0]
    for i in (np.flatnonzero(np.abs(jumps) > tolerance) + 1).tolist():
        if i <= starts[-1]:
            continue
        up = jumps[i - 1] > 0
        after = delta[i : i + window]
        before = delta[max(starts[-1], i - window) : i]
        change = float(after.min() - before.min())
        step = abs(change) > tolerance
        if step and up and after.size < window:  # near the end a stall may not have drained yet:
            # a step keeps its raised offset, a backlog drains (each message less late than the last)
            flat = after.size >= CLOCK_STEP_RUN and after[0] - after[-1] <= tolerance / 2
            step = flat or abs(jumps[i - 1]) > TAIL_STEP_NS
        if step and (change > 0) == up:
            starts.append(i)
    return starts


def median_step(ns: Sequence[int]) -> float | None:
    """Median positive spacing of the times ``ns`` [ns], or None with fewer than two distinct times."""
    steps = np.diff(np.asarray(ns, dtype=np.int64))
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else None


def retime_repeated_stamps(
    where: str,
    t_ns: np.ndarray,
    recv_ns: Sequence[int],
    names: Sequence[tuple[str, ...]],
    fields: Sequence[Sequence[np.ndarray]],
) -> np.ndarray:
    """Times [ns] of messages on the recording clock, shape (N,), with stale stamps replaced.

    Two messages of the same joints with the same time but other values cannot both have been
    measured then: a driver that published new values under the stamp of its last message.  Of
    each such group the message whose recording time fits its stamp best keeps it; the others are
    timed by their recording time (less the median latency), one warning line counting them.
    Exact duplicates are left to :func:`order_and_dedup`.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        t_ns: Message times on the recording clock [ns] (:func:`on_recording_clock`), shape (N,).
        recv_ns: Recording times [ns], shape (N,).
        names: Joint names per message.
        fields: Per-message value arrays, e.g. (positions, velocities, efforts).
    """
    t_ns = np.array(t_ns, dtype=np.int64)
    recv = np.asarray(recv_ns, dtype=np.int64)
    if t_ns.size < 2:
        return t_ns
    latency = recv - t_ns
    typical = int(np.median(latency))
    order = np.argsort(t_ns, kind="stable")
    same_time = np.flatnonzero(np.diff(t_ns[order]) == 0)
    groups: dict[int, list[int]] = {}
    for k in same_time.tolist():
        groups.setdefault(int(t_ns[order[k]]), []).extend((int(order[k]), int(order[k + 1])))
    retimed = 0
    for members in groups.values():
        members = list(dict.fromkeys(members))
        best = min(members, key=lambda i: abs(int(latency[i]) - typical))
        for i in members:
            if i != best and names[i] == names[best] and not _same(i, best, names, fields):
                t_ns[i] = recv[i] - typical
                retimed += 1
    if retimed:
        log.warning(
            "%s: %d messages repeat the header stamp of another message with other values (a stale "
            "stamp); they are timed by their recording time",
            where,
            retimed,
        )
    return t_ns


def order_and_dedup(
    where: str,
    t_ns: np.ndarray,
    names: Sequence[tuple[str, ...]],
    fields: Sequence[Sequence[np.ndarray]],
) -> np.ndarray:
    """Indices of the messages to keep, in time order: sorted (stably), exact duplicates dropped.

    A duplicate has the same time, names and values as a kept message (a message published or
    recorded twice); each fix is reported in one warning line with its count.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        t_ns: Message times [ns], shape (N,).
        names: Joint names per message.
        fields: Per-message value arrays, e.g. (positions, velocities, efforts).
    """
    t_ns = np.asarray(t_ns, dtype=np.int64)
    late = int(np.sum(t_ns[1:] < np.maximum.accumulate(t_ns)[:-1])) if t_ns.size > 1 else 0
    order = np.argsort(t_ns, kind="stable")
    if late:
        log.warning("%s: %d messages arrived out of time order; sorted by time", where, late)
    keep: list[int] = []
    group: list[int] = []  # kept indices with the current time
    dropped = 0
    for i in order.tolist():
        if group and t_ns[group[0]] != t_ns[i]:
            group = []
        if any(_same(j, i, names, fields) for j in group):
            dropped += 1
            continue
        group.append(i)
        keep.append(i)
    if dropped:
        log.warning("%s: %d exact duplicate messages (same time and values) dropped", where, dropped)
    return np.array(keep, dtype=np.int64)


def _same(a: int, b: int, names: Sequence[tuple[str, ...]], fields: Sequence[Sequence[np.ndarray]]) -> bool:
    return names[a] == names[b] and all(np.array_equal(f[a], f[b]) for f in fields)


COMMAND_ORDERS = ("auto", "robot", "states")
"""The named values of ``--command-order`` (else a comma-separated joint list)."""


@dataclass(frozen=True)
class CommandOrder:
    """Which joint each value of a command that names no joints drives (``--command-order``).

    A bag from another recorder (``ros2 bag record``) stores ros2_control's commands as a bare
    ``Float64MultiArray``: the order of its values is the controller's joint list, which the bag does
    not record.  ``auto`` tells it where the bag leaves no doubt (:func:`command_joints_for`);
    the user states it otherwise.
    """

    kind: Literal["auto", "robot", "states", "joints"] = "auto"
    """auto: as the bag allows; robot: the robot's actuator order; states: the order of the bag's
    ``/joint_states`` names; joints: :attr:`joints`."""
    joints: tuple[str, ...] = ()
    """kind joints: the commanded joints, in the order of the command values."""

    def __str__(self) -> str:
        return ",".join(self.joints) if self.kind == "joints" else self.kind


AUTO = CommandOrder()
"""The default order: as the bag allows (:func:`command_joints_for`)."""


def parse_command_order(value: str | CommandOrder) -> CommandOrder:
    """``--command-order`` text (``auto``, ``robot``, ``states`` or ``J1,J2,...``) -> the order.

    Raises:
        LogError: An empty item of a joint list, or a joint listed twice.
    """
    if isinstance(value, CommandOrder):
        return value
    text = str(value).strip()
    if text in COMMAND_ORDERS:
        return CommandOrder(text)  # type: ignore[arg-type]
    joints = tuple(j.strip() for j in text.split(","))
    if not text or not all(joints):
        raise LogError(
            f"--command-order {value!r}: expected {', '.join(COMMAND_ORDERS)} or a comma-separated joint list"
        )
    if twice := sorted({j for j in joints if joints.count(j) > 1}):
        raise LogError(f"--command-order lists {twice} more than once")
    return CommandOrder("joints", joints)


_HOW = (
    f"state it with --command-order states (the {TOPIC_JOINT_STATES} order), robot (the actuator order) "
    "or J1,J2,... (or record with sim2real, whose bags name the command joints)"
)
_ROBOT_OR_JOINTS = (
    "--command-order robot (the actuator order) or J1,J2,... (or record with sim2real, whose bags name the command "
    "joints)"
)
_NO_STATE_ORDER = "different orders or subsets from one message to the next"
"""How joint states name their joints when they have no one order (split over several messages)."""


def command_joints_for(
    where: str,
    names: tuple[str, ...],
    width: int,
    actuated: Sequence[str] | None,
    order: CommandOrder = AUTO,
    named: Sequence[str] = (),
    one_state_order: bool = True,
) -> tuple[str, ...]:
    """Joints the values of a bag's commands drive, in their order.

    Commands that name their joints (sim2real's metadata, a trajectory's or joint state's names:
    ``named``) drive those; an ``order`` other than auto must give the same, else this raises.
    Otherwise ``order`` decides (:class:`CommandOrder`); ``auto`` takes commands as wide as the
    robot's actuated joints (``actuated``, its actuator order) but not as the bag's joints in the
    actuator order (with a warning), and commands as wide as the bag's joints in the
    ``/joint_states`` order, unless that order, restricted to the actuated joints, differs from the
    actuator order: then which joint gets which value is ambiguous and this raises.

    Args:
        where: The bag's path, for messages.
        names: The bag's joints, in the ``/joint_states`` order.
        width: Values per command.
        actuated: The robot's actuated joints in actuator order, or None (not known).
        order: How the user stated the order.
        named: The joints the bag names for its commands, or () when it names none.
        one_state_order: Whether every ``/joint_states`` message names its joints in one order.  When
            they do not (joints split over several messages per sample, one order per message),
            ``names`` is only the order of first appearance, not an order a controller was configured
            with: ``states`` is refused, and not offered.

    Raises:
        LogError: The joints cannot be told, or the stated order does not fit the bag (one line
            saying how to state them).
    """
    if named:
        if order.kind != "auto":
            stated = _stated(where, names, len(named), actuated, order, one_state_order)
            if stated != tuple(named):
                raise LogError(
                    f"{where}: the bag names its command joints {list(named)}, but --command-order {order} "
                    f"gives {list(stated)}: leave the option out for this bag"
                )
        return tuple(named)
    if order.kind != "auto":
        return _stated(where, names, width, actuated, order, one_state_order)
    if actuated is not None and width != len(names) and width == len(actuated):
        log.warning(
            "%s: commands taken in the robot's actuator order (the bag does not name their joints; "
            "another order: --command-order %s)",
            where,
            "states|J1,J2,..." if one_state_order else "J1,J2,...",
        )
        return _robot_order(where, names, width, actuated)
    if width != len(names):
        raise LogError(
            f"{where}: commands have {width} values but the bag does not say which joints they drive "
            "(name them with --command-order J1,J2,...)"
        )
    in_actuator_order = actuated is not None and [n for n in names if n in actuated] == list(actuated)
    if not one_state_order and not in_actuator_order:
        raise LogError(
            f"{where}: commands have {width} values and name no joints, and the {TOPIC_JOINT_STATES} messages "
            f"name their joints in {_NO_STATE_ORDER}, so which value drives which joint is "
            f"ambiguous: state it with {_ROBOT_OR_JOINTS}"
        )
    if actuated is not None and all(j in names for j in actuated):
        state_order = [n for n in names if n in actuated]
        if state_order != list(actuated):
            raise LogError(
                f"{where}: commands have {width} values and name no joints, and the {TOPIC_JOINT_STATES} order "
                f"{state_order} differs from the robot's actuator order {list(actuated)}, so which "
                f"value drives which joint is ambiguous: {_HOW}"
            )
    return names


def _stated(
    where: str,
    names: tuple[str, ...],
    width: int,
    actuated: Sequence[str] | None,
    order: CommandOrder,
    one_state_order: bool = True,
) -> tuple[str, ...]:
    """The command joints an order other than auto gives (see :func:`command_joints_for`)."""
    if order.kind == "states" and not one_state_order:
        raise LogError(
            f"{where}: --command-order states: the {TOPIC_JOINT_STATES} messages name their joints in "
            f"{_NO_STATE_ORDER}, so they have no one order to give: use {_ROBOT_OR_JOINTS}"
        )
    if order.kind == "robot":
        if actuated is None:
            raise LogError(f"{where}: --command-order robot needs the robot's actuated joints")
        return _robot_order(where, names, width, actuated)
    if order.kind == "states":
        if width == len(names):
            return names
        if actuated is not None and width == len(actuated):
            if missing := [j for j in actuated if j not in names]:
                raise LogError(f"{where}: commanded joints {missing} have no {TOPIC_JOINT_STATES} data")
            return tuple(n for n in names if n in actuated)
        counts = f"the bag's {len(names)} joints" + ("" if actuated is None else f" nor the robot's {len(actuated)} actuated joints")
        raise LogError(
            f"{where}: commands have {width} values, neither {counts}, so --command-order states cannot tell "
            "which joints they drive: name them with --command-order J1,J2,..."
        )
    if len(order.joints) != width:
        raise LogError(
            f"{where}: commands have {width} values but --command-order names {len(order.joints)} "
            f"joint{'s' if len(order.joints) != 1 else ''}"
        )
    if unknown := [j for j in order.joints if j not in names]:
        raise LogError(
            f"{where}: --command-order names joints {unknown} that {TOPIC_JOINT_STATES} lacks (its joints: "
            f"{', '.join(names)})"
        )
    return order.joints


def _robot_order(where: str, names: tuple[str, ...], width: int, actuated: Sequence[str]) -> tuple[str, ...]:
    """The robot's actuator order for commands of ``width`` values."""
    if width != len(actuated):
        raise LogError(
            f"{where}: commands have {width} values but the robot has {len(actuated)} actuated joints, so they "
            "are not in its actuator order (--command-order robot): name them with --command-order J1,J2,..."
        )
    if missing := [j for j in actuated if j not in names]:
        raise LogError(f"{where}: commanded joints {missing} have no {TOPIC_JOINT_STATES} data")
    return tuple(actuated)


def joint_columns(
    where: str,
    names: tuple[str, ...],
    msg_names: Sequence[tuple[str, ...]],
    rows: Sequence[np.ndarray],
    field: str,
    optional: bool = False,
    partial: bool = False,
) -> np.ndarray | None:
    """Stack one JointState field into shape (T, n) in ``names`` order; None if absent everywhere.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        names: Joints wanted, in output order.
        msg_names: Joint names of each message.
        rows: The field's values of each message.
        field: Field name, for messages.
        optional: Return None (instead of failing) when some message lacks this field (a warning
            when others have it).
        partial: With ``optional``: when at most :data:`FILL_SHARE` of the messages lack the field
            (sim2real's own log of the tick a torque sensor failed, a driver that skipped a beat),
            return it with NaN rows there, for the caller to fill (:func:`fill_gaps`).
    """
    lengths = {len(r) for r in rows}
    if optional and lengths == {0}:
        return None
    empty = np.array([len(r) == 0 for r in rows])
    given = int(np.count_nonzero(~empty))
    if optional and empty.any() and not (partial and empty.mean() <= FILL_SHARE and given >= 2):
        then = "velocities differentiated from the positions" if field == "velocity" else f"no {field} read"
        log.warning("%s: only %d of %d messages carry %s values: %s", where, given, len(rows), field, then)
        return None
    out = np.full((len(rows), len(names)), np.nan)
    orders: dict[tuple[str, ...], np.ndarray] = {}
    for i, (row, mnames) in enumerate(zip(rows, msg_names, strict=True)):
        if optional and empty[i]:
            continue
        if len(row) != len(mnames):
            raise LogError(f"{where}: message {i} has {len(mnames)} names but {len(row)} {field} values")
        if mnames == names:
            out[i] = row
            continue
        order = orders.get(mnames)
        if order is None:
            missing = [n for n in names if n not in mnames]
            if missing:
                raise LogError(f"{where}: message {i} lacks joints {missing}")
            order = orders[mnames] = np.array([mnames.index(n) for n in names])
        out[i] = np.asarray(row)[order]
    return out


def fill_gaps(where: str, field: str, t_ns: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """``values`` (T, n) with its missing rows (all NaN, from :func:`joint_columns` with ``partial``)
    filled by linear interpolation between the messages on either side, when every run of missing
    rows has a message on both sides and is at most :data:`FILL_RUN` long; else None (the field is
    not taken).  One warning either way.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        field: Field name, for messages.
        t_ns: Message times [ns], shape (T,).
        values: The field, shape (T, n).
    """
    missing = np.all(np.isnan(values), axis=1)
    if not missing.any():
        return values
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    n = int(np.count_nonzero(missing))
    if starts[0] == 0 or ends[-1] == missing.size or int(np.max(ends - starts)) > FILL_RUN:
        log.warning(
            "%s: %d of %d messages carry no %s values, at an end of the log or more than %d in a row: no %s read",
            where, n, missing.size, field, FILL_RUN, field,
        )
        return None
    t = np.asarray(t_ns, dtype=float)
    out = values.copy()
    for k in range(out.shape[1]):
        out[missing, k] = np.interp(t[missing], t[~missing], out[~missing, k])
    log.warning(
        "%s: %d of %d messages carry no %s values: filled by linear interpolation between the messages "
        "on either side", where, n, missing.size, field,
    )
    return out


def all_joint_names(msg_names: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """Every joint named in any message, in order of first appearance."""
    return tuple(dict.fromkeys(n for names in msg_names for n in names))


def merge_joints(
    where: str,
    names: tuple[str, ...],
    t_ns: np.ndarray,
    msg_names: Sequence[tuple[str, ...]],
    fields: dict[str, Sequence[np.ndarray]],
) -> tuple[np.ndarray, dict[str, np.ndarray | None]]:
    """Per-joint series from messages that each carry some joints (several publishers on
    ``/joint_states``, or one message per joint), on one time grid.

    The grid is the sample times of the joint with the most samples (the first such in ``names``),
    cut to the span every joint covers (one warning line counting the samples cut); every other
    joint is interpolated linearly onto it (exact where its times coincide with the grid's).

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        names: All joints, in output order.
        t_ns: Message times [ns], shape (N,), non-decreasing.
        msg_names: Joint names of each message.
        fields: Field name ("position", "velocity", "effort") -> values of each message; a field
            becomes None unless every message naming a joint gives it (velocities are then
            differentiated), except that a joint none of whose messages gives it (a gripper's driver
            without efforts beside the arm's) has NaN there when other joints have it (for
            :mod:`~.bag_values` to judge).

    Returns:
        The grid [ns], shape (T,), and field name -> values, shape (T, n), or None.

    Raises:
        LogError: A joint with two different samples at one time.
    """
    series: dict[str, list[tuple[int, int]]] = {n: [] for n in names}  # joint -> (message, column)
    for i, mnames in enumerate(msg_names):
        for k, n in enumerate(mnames):
            series[n].append((i, k))
    lead = max(names, key=lambda n: len(series[n]))
    grid = t_ns[[i for i, _ in series[lead]]]
    lo = max(t_ns[series[n][0][0]] for n in names)
    hi = min(t_ns[series[n][-1][0]] for n in names)
    inside = (grid >= lo) & (grid <= hi)
    if not inside.all():
        log.warning(
            "%s: joints come in separate messages; %d of %s's %d samples lie outside the span every "
            "joint covers and are cut",
            where,
            int(np.sum(~inside)),
            lead,
            grid.size,
        )
    grid = grid[inside]
    out: dict[str, np.ndarray | None] = {}
    for field, rows in fields.items():
        values = np.empty((grid.size, len(names)))
        given = {n: [len(rows[i]) == len(msg_names[i]) for i, _ in series[n]] for n in names}
        for j, n in enumerate(names):
            idx = series[n]
            if field != "position" and not any(given[n]) and any(any(g) for g in given.values()):
                values[:, j] = np.nan
                continue
            if not all(given[n]):
                if field == "position":
                    raise LogError(f"{where}: messages naming {n!r} lack its positions")
                values = None
                break
            times = t_ns[[i for i, _ in idx]]
            if np.any(np.diff(times) <= 0):
                raise LogError(f"{where}: joint {n!r} has two samples at one time in different messages")
            values[:, j] = np.interp(grid - t_ns[0], times - t_ns[0], [rows[i][k] for i, k in idx])
        out[field] = values
    return grid, out
