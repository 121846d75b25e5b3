"""Joint states published on several topics (one driver per leg or per bus:
``/left_leg/joint_states`` and ``/right_leg/joint_states``, ``/arm/joint_states`` and
``/gripper/joint_states``) joined into one stream: each joint read from the topic that carries it.

A joint carried by two topics is read from sim2real's ``/joint_states`` when that is one of them
(a ``joint_state_publisher`` merging its sources republishes them there), else from the first topic
when both carry the same values (a relay), else the log is refused in one line naming the joint,
the topics and how far apart they are, and the ``--topic`` that chooses.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from sim2real.errors import LogError

log = logging.getLogger(__name__)

SAME_VALUE = 1e-6
"""Largest difference of two topics' positions of one joint at one header stamp for them to be
the same measurement (a relay republishing it) [rad or m]."""


def joint_owners(
    where: str,
    standard: str,
    sources: Sequence[str],
    t_ns: np.ndarray,
    names: Sequence[tuple[str, ...]],
    positions: Sequence[np.ndarray],
) -> dict[str, str]:
    """Joint -> the topic it is read from.

    Args:
        where: The bag's path, for messages.
        standard: sim2real's joint-state topic (``/joint_states``): preferred for a joint on it.
        sources: The topic of each message.
        t_ns: Message times [ns], shape (N,), each topic on the recording clock.
        names: The joints each message names.
        positions: Each message's positions, shape (n_k,).

    Raises:
        LogError: A joint carried by two topics, neither the standard one, with different values.
    """
    topics = list(dict.fromkeys(sources))
    if standard in topics:
        topics.remove(standard)
        topics.insert(0, standard)
    carriers: dict[str, list[str]] = {}
    for src, joints in zip(sources, names, strict=True):
        for j in joints:
            if src not in carriers.setdefault(j, []):
                carriers[j].append(src)
    owners: dict[str, str] = {}
    shared: dict[tuple[str, ...], list[str]] = {}
    for joint, on in carriers.items():
        on = sorted(on, key=topics.index)
        owners[joint] = on[0]
        if len(on) == 1:
            continue
        if on[0] != standard:
            series = [_series(joint, src, sources, t_ns, names, positions) for src in on]
            for src, other in zip(on[1:], series[1:], strict=True):
                gap = _apart(series[0], other)
                if gap > SAME_VALUE:
                    raise LogError(
                        f"{where}: joint {joint!r} is on {on[0]} and on {src} with other values (up to {gap:.3g} "
                        f"apart): which is the robot's, the bag does not say; name the topics to read with "
                        f"--topic joint_states=T1,T2,... (its joint-state topics: {', '.join(topics)})"
                    )
        shared.setdefault(tuple(on), []).append(joint)
    for on, joints in shared.items():
        log.info("%s: joints %s are on %s: read from %s", where, ", ".join(joints), " and ".join(on), on[0])
    return owners


def _series(
    joint: str,
    topic: str,
    sources: Sequence[str],
    t_ns: np.ndarray,
    names: Sequence[tuple[str, ...]],
    positions: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Times [ns] and positions of ``joint`` on ``topic``, in time order."""
    rows = [
        (int(t_ns[i]), float(positions[i][names[i].index(joint)]))
        for i, src in enumerate(sources)
        if src == topic and joint in names[i] and len(positions[i]) == len(names[i])
    ]
    rows.sort()
    return np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows])


def _apart(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """How far apart two series of one joint are: at the times both have, else ``b`` interpolated at
    ``a``'s times within both spans, less how far ``b`` moves around each time (its steps there: a
    local allowance; one jump anywhere, a wrap or a re-homing, allowed any difference
    everywhere); 0 when no time overlaps, inf when no value to compare is a number."""
    (ta, qa), (tb, qb) = a, b
    if not ta.size or not tb.size:
        return 0.0
    common, ia, ib = np.intersect1d(ta, tb, return_indices=True)
    if common.size:
        diff = np.abs(qa[ia] - qb[ib])
    else:
        inside = (ta >= tb[0]) & (ta <= tb[-1])
        if not inside.any():
            return 0.0
        steps = np.abs(np.diff(qb)) if tb.size > 1 else np.zeros(1)
        k = np.clip(np.searchsorted(tb, ta[inside]) - 1, 0, steps.size - 1)  # the step around each time
        # ... and its neighbours': at a turning point the two samples around it are alike, and the
        # path between them rises above both by a fraction of the next step
        local = np.maximum(steps[k], np.maximum(steps[np.maximum(k - 1, 0)], steps[np.minimum(k + 1, steps.size - 1)]))
        diff = np.abs(qa[inside] - np.interp(ta[inside], tb, qb)) - local
    if not np.isfinite(diff).any():
        return math.inf
    return max(0.0, float(np.nanmax(diff)))


def keep_owned(
    owners: dict[str, str],
    sources: Sequence[str],
    names: list[tuple[str, ...]],
    fields: Sequence[list[np.ndarray]],
) -> list[int]:
    """Restrict each message to the joints read from its topic (in place: ``names`` and each of
    ``fields``, lists of per-message arrays); returns the indices of the messages left with a joint.

    A field a message does not fill (an empty array) stays empty.
    """
    kept = []
    for i, src in enumerate(sources):
        cols = [k for k, j in enumerate(names[i]) if owners.get(j) == src]
        if len(cols) == len(names[i]):
            kept.append(i)
            continue
        for rows in fields:
            if len(rows[i]) == len(names[i]):
                rows[i] = np.asarray(rows[i])[cols]
        names[i] = tuple(names[i][k] for k in cols)
        if cols:
            kept.append(i)
    return kept
