"""Failure analysis: for the failed episodes of a log, where simulation and robot part ways first.

A log is cut into episodes at its ``start``, ``episode`` and accepted ``reset`` events (the
deployment loop's ``/sim2real/events``); a log without them is one episode.  An episode failed
when it contains a safety stop (a ``safe_stop`` safety event), when one of the task's termination
terms fires on the logged joint states, or when the task's success rule does not hold at its end
(``hold_last``: the metric held for the last ``window_s`` of the episode; ``mean_below``: the
episode mean below the threshold).

For a failed episode, with the replayed predictions of :func:`sim2real.gap.measure_gap`:

- the **divergence point**: the first sample whose position error (2-norm over joints) passes the
  gap threshold, with the logged and simulated state there;
- the **first diverged channels**: every channel (``<joint>.position`` [rad], ``<joint>.velocity``
  [rad/s], ``<joint>.torque`` [N m]) ranked by the time its absolute error first passes the
  channel's threshold (channels that never pass it are left out).

With a windowed replay (``--horizon``) the errors restart from zero at every window start, so the
times are those of the first window in the episode where the error passes the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim2real.gap.result import ChannelCrossing, FailureAnalysis, GapResult

if TYPE_CHECKING:
    from sim2real.logs.trajectory import Trajectory
    from sim2real.tasks.base import TaskConfig

__all__ = [
    "ChannelCrossing",
    "FailureAnalysis",
    "FailureConfig",
    "analyze_episode",
    "analyze_failures",
    "episode_spans",
    "first_crossings",
    "judge_episode",
]

EPISODE_EVENTS = ("start", "episode")
"""Event kinds that start an episode (besides accepted resets)."""


@dataclass(frozen=True)
class FailureConfig:
    """Channel thresholds of the failure analysis."""

    position_threshold: float | None = None
    """Position error that counts as diverged [rad]; None: the gap result's threshold."""
    velocity_threshold: float = 1.0
    """Velocity error that counts as diverged [rad/s]."""
    torque_threshold: float = 0.5
    """Torque error that counts as diverged [N m]."""
    max_failures: int = 20
    """Most failed episodes analysed per call (the earliest)."""


# ------------------------------------------------------------------------------ pure functions
def first_crossings(
    t: np.ndarray, errors: Mapping[str, np.ndarray], thresholds: Mapping[str, float]
) -> list[ChannelCrossing]:
    """Channels ranked by the first time their absolute error passes their threshold.

    Args:
        t: Sample times, shape (E,) [s], increasing.
        errors: Channel -> error, shape (E,) (channel units).
        thresholds: Channel -> threshold (channel units, > 0).

    Returns:
        One :class:`ChannelCrossing` per channel that passes its threshold, earliest first (ties:
        the larger error relative to its threshold first); channels that never pass are left out.
    """
    t = np.asarray(t, dtype=float)
    out = []
    for name, e in errors.items():
        a = np.abs(np.asarray(e, dtype=float))
        above = np.flatnonzero(a > thresholds[name])
        if above.size:
            i = int(above[0])
            out.append(ChannelCrossing(name, float(t[i]), float(thresholds[name]), float(a[i])))
    return sorted(out, key=lambda c: (c.t, -c.error / c.threshold))


def episode_spans(trajectory: Trajectory) -> list[tuple[float, float]]:
    """(start, end) times [s] of the episodes of a log (see the module docstring)."""
    t0, t1 = float(trajectory.t[0]), float(trajectory.t[-1])
    starts = [t0]
    for ev in trajectory.events:
        begins = ev.kind in EPISODE_EVENTS or (ev.kind == "reset" and bool(ev.detail.get("accepted")))
        if begins and t0 < ev.t < t1 and ev.t - starts[-1] > 1e-9:
            starts.append(float(ev.t))
    ends = [*starts[1:], t1]
    return list(zip(starts, ends, strict=True))


def judge_episode(
    trajectory: Trajectory, span: tuple[float, float], task: TaskConfig | None, spec: Any = None
) -> tuple[str | None, float]:
    """Why an episode failed (None: it did not) and when it ended [s].

    Args:
        trajectory: The log.
        span: (start, end) of the episode [s].
        task: The task (success rule, terminations); None: only safety stops count.
        spec: The robot (for the task terms).
    """
    lo, hi = span
    for ev in trajectory.events:
        if ev.kind == "safety" and lo <= ev.t <= hi and ev.detail.get("severity") == "safe_stop":
            return f"safety stop: {ev.detail.get('message', '')}".rstrip(": "), float(ev.t)
        if ev.kind in ("error", "estop_request") and lo <= ev.t <= hi:
            what = ev.detail.get("reason") or ev.detail.get("what") or ev.detail.get("message") or ev.kind
            return f"safety stop: {what}", float(ev.t)
    if task is None:
        return None, hi
    sel = (trajectory.t >= lo) & (trajectory.t <= hi)
    if sel.sum() < 2:
        return None, hi
    t = trajectory.t[sel]
    dt = float(np.median(np.diff(t)))
    from sim2real.tasks.state import MeasuredState

    state = MeasuredState(spec, control_dt=dt, joint_pos=trajectory.q[sel], joint_vel=trajectory.qd[sel])
    try:
        for name, term in task.terminations.items():
            hit = np.flatnonzero(np.asarray(term(state)) > 0.5)
            if hit.size:
                return f"terminated: {name}", float(t[hit[0]])
        metric = np.asarray(task.success.metric(state), dtype=float)
    except AttributeError:
        return None, hi  # the task is judged on state the log does not carry
    rule = task.success
    if rule.kind == "hold_last":
        ok = bool(np.all(metric[t >= t[-1] - rule.window_s + 1e-9] > 0.5))
    else:
        ok = float(metric.mean()) < rule.threshold
    return (None if ok else "success rule not met"), hi


def analyze_episode(
    t: np.ndarray,
    errors: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    position_error: np.ndarray,
    position_threshold: float,
) -> tuple[int | None, list[ChannelCrossing]]:
    """Divergence point and first-diverged channels of one episode's samples.

    Args:
        t: Sample times, shape (E,) [s], increasing.
        errors: Channel -> error, shape (E,).
        thresholds: Channel -> threshold.
        position_error: 2-norm of the joint position error, shape (E,) [rad].
        position_threshold: Divergence threshold on it [rad].

    Returns:
        (index of the divergence point or None, ranked crossings).
    """
    above = np.flatnonzero(np.asarray(position_error) > position_threshold)
    return (int(above[0]) if above.size else None), first_crossings(t, errors, thresholds)


# ------------------------------------------------------------------------------ on gap results
def analyze_failures(
    spec: Any,
    trajectories: Trajectory | Sequence[Trajectory],
    result: GapResult,
    *,
    task: TaskConfig | None = None,
    config: FailureConfig | None = None,
) -> tuple[FailureAnalysis, ...]:
    """Failed episodes of logs and where their replay diverged (see the module docstring).

    Args:
        spec: The robot.
        trajectories: The logs the gap result was measured on (same order).
        result: From :func:`sim2real.gap.measure_gap` (carries the replay and predictions).
        task: The task judging success; None: only safety stops count as failures.
        config: Channel thresholds.

    Returns:
        The failed episodes, in log and time order.
    """
    from sim2real.logs.trajectory import Trajectory

    config = config or FailureConfig()
    if isinstance(trajectories, Trajectory):
        trajectories = [trajectories]
    w, q_sim, qd_sim = result.replay, result.q_sim, result.qd_sim
    if w is None or q_sim is None or qd_sim is None:
        return ()
    p_thr = config.position_threshold or result.threshold
    out: list[FailureAnalysis] = []
    t_eval = w.t0[w.eval_window] + w.eval_tau
    for li, traj in enumerate(trajectories):
        for k, span in enumerate(episode_spans(traj)):
            reason, t_end = judge_episode(traj, span, task, spec)
            if reason is None:
                continue
            sel = np.flatnonzero((w.eval_log == li) & (t_eval >= span[0]) & (t_eval <= span[1] + 1e-9))
            sel = sel[np.argsort(t_eval[sel], kind="stable")]
            t = t_eval[sel]
            errors: dict[str, np.ndarray] = {}
            thresholds: dict[str, float] = {}
            for j, joint in enumerate(result.joints):
                errors[f"{joint}.position"] = q_sim[sel, j] - w.q[sel, j]
                thresholds[f"{joint}.position"] = p_thr
                errors[f"{joint}.velocity"] = qd_sim[sel, j] - w.qd[sel, j]
                thresholds[f"{joint}.velocity"] = config.velocity_threshold
            if result.force_sim is not None and w.tau is not None:
                for a, joint in enumerate(spec.actuated_joints):
                    errors[f"{joint}.torque"] = result.force_sim[sel, a] - w.tau[sel, a]
                    thresholds[f"{joint}.torque"] = config.torque_threshold
            pos_err = np.linalg.norm(q_sim[sel] - w.q[sel], axis=1)
            point, ranked = analyze_episode(t, errors, thresholds, pos_err, p_thr)
            state = None
            if point is not None:
                i = sel[point]
                state = {
                    "t": float(t[point]),
                    "q": w.q[i].tolist(),
                    "q_sim": q_sim[i].tolist(),
                    "qd": w.qd[i].tolist(),
                    "qd_sim": qd_sim[i].tolist(),
                }
            out.append(
                FailureAnalysis(
                    log=w.names[li],
                    episode=k,
                    t_start=float(span[0]),
                    t_end=float(t_end),
                    reason=reason,
                    divergence_t=None if point is None else float(t[point]),
                    divergence_state=state,
                    first_channels=tuple(ranked),
                    t=t,
                    errors=errors,
                    thresholds=thresholds,
                )
            )
            if len(out) >= config.max_failures:
                return tuple(out)
    return tuple(out)
