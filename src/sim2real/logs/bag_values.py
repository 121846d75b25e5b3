"""Joint-state and command values published as not-a-number: a joint without a velocity or effort
interface (a gripper, a wheel, a passive joint), a sensor that drops out, a controller's "no new
command" for a joint, while the positions and the other joints are measured.

Velocities are then differentiated from the positions where they are missing; efforts are filled
where a short run is missing, taken as 0 for a joint no command drives that gives none at all, and
otherwise not read; a command holds the joint's previous one.  Each case is one warning naming the
joints (or counting the commands).  (Messages with empty arrays are :mod:`~.bag_states`'
:func:`~.bag_states.joint_columns` and :func:`~.bag_states.fill_gaps`.)
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import numpy as np

from sim2real.errors import LogError
from sim2real.logs.bag_states import FILL_RUN
from sim2real.logs.bag_topics import short_list
from sim2real.logs.derivative import central_difference

log = logging.getLogger(__name__)


def finite_velocities(
    where: str, t: np.ndarray, q: np.ndarray, qd: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """``qd`` with its non-finite entries replaced by central differences of ``q`` (one warning).

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        t: Sample times [s], shape (T,).
        q: Joint positions [rad], shape (T, n), finite.
        qd: Joint velocities [rad/s], shape (T, n).
        names: The n joint names.

    Raises:
        LogError: Velocities to differentiate and samples at one time.
    """
    bad = ~np.isfinite(qd)
    if not bad.any():
        return qd
    try:
        slope = central_difference(t, q)
    except LogError as exc:
        raise LogError(f"{where}: {exc}; some velocity values are not finite") from None
    out = qd.copy()
    out[bad] = slope[bad]
    joints = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
    log.warning(
        "%s: the velocity of %s is not a number in %d of %d messages: differentiated from the positions there",
        where,
        short_list(joints),
        int(np.count_nonzero(bad.any(axis=1))),
        len(t),
    )
    return out


def finite_efforts(
    where: str, t_ns: np.ndarray, tau: np.ndarray | None, names: Sequence[str], commanded: Collection[str]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``tau`` without non-finite entries, joint by joint, and None; or, when a commanded joint's are
    lost, None and the efforts with that joint's column NaN (``Trajectory.tau_partial``).

    A joint missing at most :data:`~.bag_states.FILL_RUN` samples in a row, each run between two
    measured ones, is filled by linear interpolation; a joint that no command drives and that gives
    no effort at all has no actuator torque to read: 0; any other joint with missing efforts makes
    the effort field unread as a whole (no made-up torques for a joint a fit or an actuator network
    learns from), its column NaN in the partial efforts the fits that can leave a joint out read.
    One warning per case, naming the joints.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        t_ns: Sample times [ns], shape (T,).
        tau: Joint efforts [N m], shape (T, n), or None.
        names: The n joint names.
        commanded: The joints commands drive (the robot's actuated joints).
    """
    if tau is None:
        return None, None
    bad = ~np.isfinite(tau)
    if not bad.any():
        return tau, None
    out = tau.copy()
    rel = np.asarray(t_ns - t_ns[0], dtype=float)  # not Unix seconds: 0.2 us steps
    filled: list[str] = []
    zeroed: list[str] = []
    lost: list[str] = []
    for j in np.flatnonzero(bad.any(axis=0)):
        missing = bad[:, j]
        if missing.all() and names[j] not in commanded:
            out[:, j] = 0.0
            zeroed.append(names[j])
        elif _inner_short_runs(missing):
            out[missing, j] = np.interp(rel[missing], rel[~missing], out[~missing, j])
            filled.append(names[j])
        else:
            lost.append(names[j])
    if filled:
        log.warning(
            "%s: the effort of %s is not a number in a few messages: filled by linear interpolation between "
            "the messages on either side",
            where,
            short_list(filled),
        )
    if zeroed:
        log.warning(
            "%s: no effort from %s (not a number throughout), which no command drives: read as 0",
            where,
            short_list(zeroed),
        )
    if lost:
        measured = len(lost) < len(names)
        log.warning(
            "%s: the effort of %s is not a number in %d of %d messages, at an end of the log or more than %d "
            "in a row: no effort read%s",
            where,
            short_list(lost),
            int(np.count_nonzero(bad.any(axis=1))),
            len(t_ns),
            FILL_RUN,
            " (actuator networks and motor models fit the joints that have one)" if measured else "",
        )
        if not measured:
            return None, None
        out[:, [names.index(n) for n in lost]] = np.nan
        return None, out
    return out, None


def _inner_short_runs(missing: np.ndarray) -> bool:
    """Whether every run of True in ``missing`` (T,) is at most FILL_RUN long with a False on both sides."""
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return bool(starts[0] > 0 and ends[-1] < missing.size and np.max(ends - starts) <= FILL_RUN)


def finite_commands(
    where: str, command_ns: list[int], command: np.ndarray | None
) -> tuple[list[int], np.ndarray | None]:
    """Commands without values that are not a number: a controller's NaN for a joint is no new
    command for it, so the joint's previous command is held there; commands before a joint's
    first number are dropped (one warning counting both).

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        command_ns: Command times [ns], one per row.
        command: Command values, shape (C, m), or None.

    Returns:
        The times and values kept.
    """
    if command is None or command.ndim != 2 or np.isfinite(command).all():
        return command_ns, command
    bad = ~np.isfinite(command)
    rows = int(np.count_nonzero(bad.any(axis=1)))
    out = command.copy()
    for j in range(out.shape[1]):
        idx = np.where(bad[:, j], 0, np.arange(len(out)))
        np.maximum.accumulate(idx, out=idx)
        out[:, j] = out[idx, j]
    keep = np.isfinite(out).all(axis=1)
    log.warning(
        "%s: %d of %d commands hold values that are not a number (no new command for a joint): the joint's previous "
        "command held there%s",
        where,
        rows,
        len(out),
        "" if keep.all() else f"; the first {int(np.count_nonzero(~keep))}, before one, dropped",
    )
    return [ns for ns, k in zip(command_ns, keep, strict=True) if k], out[keep]
