"""Where a log's joint positions jump: a replay window must not span one.

A log of several episodes holds a jump at every reset (a robot put back by hand, a twin set to
its next start state), and a log whose angles wrap at +-pi holds one at every wrap.  A window
replayed across it starts the simulation from the state before the jump and compares it with
the states after: an error of radians that no parameter can explain, and that least squares
fits anyway (identification on 16 furuta episodes drove every parameter to a bound).

A jump between samples ``k`` and ``k + 1`` is a change of some joint's position larger than its
motion can explain: more than :data:`JUMP_MARGIN`, plus twice the distance the larger logged
velocity covers in that interval, plus twice the larger neighbouring change (the motion itself,
should the velocity column be missing or wrong).  A pause of the log (:func:`pauses`: samples
:data:`PAUSE_FACTOR` median spacings apart) breaks a replay the same way: the commands and motion
in between are not in the log.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["JUMP_MARGIN", "PAUSE_FACTOR", "clear_windows", "pauses", "position_jumps"]

JUMP_MARGIN = 0.1
"""Change of a joint position beyond its motion that counts as a jump [rad]."""
PAUSE_FACTOR = 10.0
"""Spacing of two samples, in median sample spacings, beyond which the log paused between them
(a recorder paused or stalled, messages lost for a while): what the robot was commanded and did
meanwhile is not in the log, so a replay cannot bridge it either."""


def position_jumps(t: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """Sample indices ``k`` where the positions jump between samples ``k`` and ``k + 1``.

    Args:
        t: Sample times, shape (T,) [s].
        q: Joint positions, shape (T, n) [rad].
        qd: Logged joint velocities, shape (T, n) [rad/s] (may be noisy or zero).

    Returns:
        Sorted indices, shape (J,).
    """
    q, qd = np.asarray(q, dtype=float), np.asarray(qd, dtype=float)
    if q.shape[0] < 2:
        return np.zeros(0, dtype=np.int64)
    step = np.abs(np.diff(q, axis=0))  # (T-1, n)
    dt = np.diff(np.asarray(t, dtype=float))[:, None]
    speed = np.maximum(np.abs(qd[:-1]), np.abs(qd[1:]))
    before = np.vstack([np.zeros((1, step.shape[1])), step[:-1]])
    after = np.vstack([step[1:], np.zeros((1, step.shape[1]))])
    allowed = JUMP_MARGIN + 2.0 * dt * speed + 2.0 * np.maximum(before, after)
    return np.flatnonzero(np.any(step > allowed, axis=1)).astype(np.int64)


def pauses(t: np.ndarray) -> np.ndarray:
    """Sample indices ``k`` where the log pauses between samples ``k`` and ``k + 1``
    (:data:`PAUSE_FACTOR`), sorted, shape (P,)."""
    dt = np.diff(np.asarray(t, dtype=float))
    positive = dt[dt > 0]
    if not positive.size:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(dt > PAUSE_FACTOR * float(np.median(positive))).astype(np.int64)


def clear_windows(
    t: np.ndarray,
    q: np.ndarray,
    qd: np.ndarray,
    starts: np.ndarray,
    length: float,
    before: float,
    name: str,
    windowed: bool = True,
) -> np.ndarray:
    """Which replay windows of a log span no jump and no pause, shape (W,) bool.

    Args:
        t, q, qd: The log's samples (as :func:`position_jumps`).
        starts: First sample of each window, shape (W,).
        length: Window length [s].
        before: Time before a window's start that must be free of jumps too [s] (its initial
            velocity's fit).
        name: The log's name, for the warning.
        windowed: False: one replay of the whole log, which cannot skip a jump (every window is
            kept, with a warning when the log jumps).
    """
    jumps = position_jumps(t, q, qd)
    paused = pauses(t)
    if paused.size:
        longest = int(paused[np.argmax(np.diff(np.asarray(t, dtype=float))[paused])])
        log.warning(
            "%s: the log pauses %d time%s (samples more than %g median spacings apart; the longest %.3g s, "
            "%.3f s in): what happened meanwhile is not in it; %s",
            name,
            paused.size,
            "" if paused.size == 1 else "s",
            PAUSE_FACTOR,
            float(t[longest + 1] - t[longest]),
            float(t[longest] - t[0]),
            "replay windows across a pause are left out" if windowed else "a replay of the whole log spans "
            "them (replay windows, a horizon, skip them)",
        )
        jumps = np.union1d(jumps, paused).astype(np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    if not windowed or jumps.size == 0:
        if jumps.size > paused.size:
            log.warning(
                "%s: the joint positions jump at %d instants (episode resets?): a replay of the whole "
                "log spans them; replay windows (a horizon) skip them",
                name,
                jumps.size - paused.size,
            )
        return np.ones(starts.size, dtype=bool)
    t = np.asarray(t, dtype=float)
    first = np.searchsorted(t, t[starts] - before - 1e-12, side="left")
    last = np.searchsorted(t, t[starts] + length + 1e-9, side="right") - 1  # last sample compared
    # no jump k (between samples k and k + 1) with first <= k < last
    clear = np.searchsorted(jumps, last) == np.searchsorted(jumps, first)
    if not clear.all():
        log.warning(
            "%s: %d of %d replay windows span one of the %d jumps of the joint positions (episode "
            "resets, or angles wrapped at +-pi?) or pauses of the log and are left out",
            name,
            int(np.sum(~clear)),
            clear.size,
            jumps.size,
        )
    return clear
