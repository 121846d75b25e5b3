"""Two publishers of the same joints on one ``/joint_states`` topic, as another recorder's bag holds
them: the robot's driver and, say, a ``joint_state_publisher`` left running (its GUI's sliders, or
the default pose), their messages interleaved on one channel (rosbag2 records no publisher id).

Read as one stream, the second publisher's messages are samples of the robot jumping to another
pose and back: a replay would compare the simulator with a robot that never moved so.  They show
as *jumps*: a message whose positions lie far from both neighbours' in most joints while the
neighbours agree with each other (:func:`jumps`).  Where the jumping messages carry fields of
another shape than the rest (no velocities or efforts, as ``joint_state_publisher`` sends), they
are one publisher's: dropped, with a warning counting them.  Otherwise, when they come between the
others' regular samples, which messages are the robot's cannot be told: one error line; when they
take the place of samples (a driver's dropouts read as zeros), they are read as recorded, with a
warning.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

import numpy as np

from sim2real.errors import LogError

__all__ = ["JUMP_RATIO", "MIN_JUMPS", "jumps", "one_publisher"]

log = logging.getLogger(__name__)

JUMP_RATIO = 4.0
"""A message jumps in a joint when it lies further than this many times the joint's typical step
(and half its neighbours' distance) from its neighbours' midpoint: the turning point of an
oscillation sampled even at 4 samples a period lies about 0.8 typical steps from it."""
JUMP_FLOOR = 0.01
"""... and further than this from it [rad or m]: an encoder's blip is no second publisher."""
MIN_JUMPS = 3
"""Fewer jumping messages than this are glitches of one sender, not a second publisher."""


def jumps(q: np.ndarray) -> np.ndarray:
    """Which messages jump away from both neighbours and back in more than half of the joints.

    A joint's typical step is the median of half its neighbours' distances (messages k-1 to k+1),
    which a second publisher's messages hardly change, even one sending every other message.

    Args:
        q: Positions, shape (T, n) [rad or m], in recording order.

    Returns:
        Shape (T,) bool (the first and last message never jump).
    """
    out = np.zeros(len(q), dtype=bool)
    if len(q) < 3:
        return out
    half_across = np.abs(q[2:] - q[:-2]) / 2  # (T-2, n)
    typical = np.median(half_across, axis=0)
    off = np.abs(q[1:-1] - (q[2:] + q[:-2]) / 2)
    jumped = (off > np.maximum(JUMP_RATIO * np.maximum(typical, half_across), JUMP_FLOOR)).sum(axis=1)
    out[1:-1] = jumped * 2 > q.shape[1]
    return out


def _one_pose(q: np.ndarray, jumping: np.ndarray) -> bool:
    """Whether the jumping messages keep to one pose, or change it slowly, as a publisher does
    (positions jumping at random, as noise does, do not): each lies nearer the one before it (or the
    one before that: two publishers taking turns) than :data:`JUMP_RATIO` times less than it
    lies from its neighbours, at the median."""
    idx = np.flatnonzero(jumping)
    away = np.abs(q[idx] - (q[idx - 1] + q[idx + 1]) / 2)  # (J, n)
    lag1 = np.abs(np.diff(q[idx], axis=0))
    lag2 = np.abs(q[idx][2:] - q[idx][:-2]) if idx.size > 2 else lag1
    moved = min(float(np.median(lag1)), float(np.median(lag2)))
    return moved * JUMP_RATIO < float(np.median(away))


def _extra_in_time(t: np.ndarray, jumping: np.ndarray) -> bool:
    """Whether the jumping messages come between the others' regular samples (a second publisher's:
    the neighbours of each lie one of the rest's steps apart) rather than in the place of samples
    (a driver's glitch: its neighbours two steps apart), at the median."""
    rest = t[~jumping]
    if rest.size < 3:
        return True
    step = float(np.median(np.diff(rest)))
    idx = np.flatnonzero(jumping)
    idx = idx[(idx > 0) & (idx < len(t) - 1)]
    around = float(np.median(t[idx + 1] - t[idx - 1])) if idx.size else step
    return around < 1.5 * step


def one_publisher(where: str, t: np.ndarray, q: np.ndarray, kinds: Sequence[Hashable]) -> np.ndarray:
    """The messages of the robot's own publisher, as a mask over the messages.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        t: Sample times, shape (T,) [s].
        q: Positions, shape (T, n), in recording order.
        kinds: What each message carries besides positions (e.g. whether it has velocities and
            efforts), shape (T,): a second publisher's messages differ in it.

    Raises:
        LogError: At least :data:`MIN_JUMPS` messages jump, and no kind of message accounts for them.
    """
    keep = np.ones(len(q), dtype=bool)
    jumping = jumps(q)
    if np.count_nonzero(jumping) < MIN_JUMPS or not _one_pose(q, jumping):
        return keep
    kinds = list(kinds)
    for kind in sorted(set(kinds), key=lambda k: -sum(1 for i in np.flatnonzero(jumping) if kinds[i] == k)):
        other = np.array([k != kind for k in kinds])
        if np.count_nonzero(other) * 2 < len(q) or np.count_nonzero(jumps(q[other])) >= MIN_JUMPS:
            continue
        log.warning(
            "%s: %d of %d messages jump to another pose and back (a second publisher on the topic, such as "
            "joint_state_publisher?); they carry other fields than the rest: dropped, the other %d read",
            where,
            len(q) - int(np.count_nonzero(other)),
            len(q),
            int(np.count_nonzero(other)),
        )
        return other
    first = int(np.flatnonzero(jumping)[0])
    if not _extra_in_time(t, jumping):
        log.warning(
            "%s: %d of %d messages jump to another pose in most joints and back (first %.3f s in), in the place of "
            "samples rather than between them: a driver's glitches (dropouts read as zeros?), read as recorded",
            where, int(np.count_nonzero(jumping)), len(q), t[first] - t[0],
        )
        return keep
    raise LogError(
        f"{where}: {int(np.count_nonzero(jumping))} of {len(q)} messages jump to another pose in most joints and "
        f"back (first {t[first] - t[0]:.3f} s in): two publishers on the topic (the driver and a "
        "joint_state_publisher?) whose messages cannot be told apart; record the robot's joint states alone "
        "(or filter the bag) and read that"
    )
