"""Actuation delay from logs, by cross-correlation of commands with the response they cause.

The response of an actuated joint to its command is its acceleration.  Accelerations are
differentiated from positions (Savitzky-Golay on a uniform resampling at the log's median
period ``h``); the part of the acceleration explained by the state (gravity ``sin q``, ``cos q``,
velocity and Coulomb-like ``tanh`` terms of every joint) and the part of the command explained by
the same regressors are removed, and the correlation of the two remainders is computed for lags
``L = 0 .. max_delay / h`` (a *partial* cross-correlation: in closed-loop logs the command is
itself a function of the state, and a raw correlation would mostly measure the controller).
Both remainders are prewhitened by first differences: what the regressors miss (coupling and
centrifugal terms of other joints) is smooth and correlates with past commands at every lag,
while a change of command shows in the acceleration exactly one delay later.
The lag of the largest positive correlation, pooled over logs and actuated joints, is the
estimate, at the log's resolution ``h``; :func:`sim2real.sysid.identify.identify` then refines it
on the physics-step grid by simulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter

from sim2real.logs.trajectory import Trajectory
from sim2real.robots.spec import RobotSpec

__all__ = ["DelayEstimate", "estimate_delay"]


@dataclass(frozen=True)
class DelayEstimate:
    """Result of :func:`estimate_delay`."""

    delay: float
    """Estimated delay [s] (a multiple of ``resolution``)."""
    resolution: float
    """Lag step of the correlation [s] (the logs' median sample period)."""
    correlation: np.ndarray
    """Pooled partial correlation at each lag ``k * resolution``, shape (L,)."""
    peak: float
    """Correlation at the estimated delay (near 0: the logs say little about the delay)."""


def _uniform(traj: Trajectory, h: float, joints: Sequence[int], cmd_cols: Sequence[int]):
    grid = traj.t[0] + h * np.arange(int(np.floor(traj.duration / h)) + 1)
    q = np.stack([np.interp(grid, traj.t, traj.q[:, j]) for j in joints], axis=1)
    u = traj.command_at(grid, before_first=0.0)[:, cmd_cols] if traj.has_commands else None
    return grid, q, u


def estimate_delay(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    max_delay: float,
    *,
    smooth: float = 0.02,
) -> DelayEstimate:
    """Estimate the actuation delay of a robot from logs (see the module docstring).

    Args:
        spec: The robot.
        trajectories: Logs with commands.
        max_delay: Largest delay considered [s].
        smooth: Savitzky-Golay window for the accelerations [s].
    """
    periods = [float(np.median(np.diff(tr.t))) for tr in trajectories if tr.n_samples > 2]
    h = float(np.median(periods)) if periods else spec.control_dt
    n_lag = max(1, int(np.floor(max_delay / h + 1e-9)) + 1)
    num = np.zeros(n_lag)
    den_a = np.zeros(n_lag)
    den_u = np.zeros(n_lag)
    for traj in trajectories:
        joints = [traj.joint_index(j) for j in spec.joints]
        act = [spec.joints.index(j) for j in spec.actuated_joints]
        cmd_cols = [traj.command_joints.index(j) for j in spec.actuated_joints]
        _, q, u = _uniform(traj, h, joints, cmd_cols)
        win = max(5, round(smooth / h) | 1)
        if q.shape[0] < win + n_lag + 10:
            continue
        qd = savgol_filter(q, win, 3, deriv=1, delta=h, axis=0)
        qdd = savgol_filter(q, win, 3, deriv=2, delta=h, axis=0)
        scale = np.maximum(np.std(qd, axis=0), 1e-6)
        X = np.concatenate(
            [np.sin(q), np.cos(q), qd, np.tanh(qd / (0.05 * scale)), np.ones((q.shape[0], 1))], axis=1
        )
        # the same smoothing on the command, so both sides see the same filter delay
        u_s = savgol_filter(u, win, 3, axis=0)
        T = q.shape[0]
        rows = slice(n_lag - 1, T)
        Xr = X[rows]
        pinv = np.linalg.pinv(Xr)
        for a_i, c_i in zip(act, range(len(cmd_cols)), strict=True):
            acc = qdd[rows, a_i]
            ra = np.diff(acc - Xr @ (pinv @ acc))  # prewhitened: differences
            for lag in range(n_lag):
                ul = u_s[n_lag - 1 - lag : T - lag, c_i]
                ru = np.diff(ul - Xr @ (pinv @ ul))
                num[lag] += float(ra @ ru)
                den_a[lag] += float(ra @ ra)
                den_u[lag] += float(ru @ ru)
    corr = num / np.sqrt(np.maximum(den_a * den_u, 1e-300))
    best = int(np.argmax(corr))
    return DelayEstimate(delay=best * h, resolution=h, correlation=corr, peak=float(corr[best]))
