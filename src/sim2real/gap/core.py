"""The reality gap of a robot log: replay it in simulation and measure how sim and robot differ.

:func:`measure_gap` replays a log (windowed or open loop, :mod:`sim2real.sim.replay`) with a model
(nominal or calibrated) and computes the metrics of :mod:`sim2real.gap.metrics`;
:func:`compare` computes the same metrics for predictions made any other way (e.g. a lab's
published model replayed by :func:`sim2real.gap.reference.replay_reference`), so that every model
is scored by the same protocol.  A floating base is replayed from its logged state and its
position and velocity errors are reported too; a log that carries both the on-board base
estimate and the twin's ground truth also gets the estimate's velocity error
(``base_velocity_estimate_rmse``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import mujoco
import numpy as np

from sim2real.gap.metrics import (
    distribution_distances,
    divergence_point,
    divergence_rate,
    divergence_time,
    error_growth,
    estimate_rmse,
    rmse,
    vector_rmse,
)
from sim2real.gap.result import DEFAULT_THRESHOLD, GapResult
from sim2real.logs.trajectory import Trajectory
from sim2real.robots.spec import RobotSpec
from sim2real.sim.divergence import refuse_diverged
from sim2real.sim.replay import Replayer, VelocitySource, Windows, build_windows

__all__ = [
    "DEFAULT_THRESHOLD",
    "GapResult",
    "base_estimate_error",
    "base_velocity_estimate_error",
    "compare",
    "measure_gap",
]

def compare(
    spec: RobotSpec,
    windows: Windows,
    q: np.ndarray,
    qd: np.ndarray,
    *,
    force: np.ndarray | None = None,
    base: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> GapResult:
    """Gap metrics of predictions at the windows' evaluation samples.

    Args:
        spec: The robot (joint names).
        windows: The replay windows.
        q: Predicted positions, shape (E, n) [rad].
        qd: Predicted velocities, shape (E, n) [rad/s].
        force: Predicted actuator efforts of the actuated joints, shape (E, m) [N m], or None.
        base: Floating base: predicted base states, shape (E, 13) (``sim2real.sim.replay.BASE_WIDTH``).
        threshold: Divergence threshold on the position error 2-norm [rad].
    """
    joints = spec.joints
    pos_j, pos = rmse(q, windows.q)
    vel_j, vel = rmse(qd, windows.qd)
    err = np.linalg.norm(q - windows.q, axis=1)
    centres, growth, counts = error_growth(windows.eval_tau, err)
    rate = divergence_rate(centres, growth, counts)
    t_div = divergence_time(centres, growth, threshold)
    point = divergence_point(windows.eval_window, windows.eval_tau, err, threshold)
    state = None
    if point is not None:
        i = point.index
        w = int(windows.eval_window[i])
        state = {
            "log": windows.names[int(windows.log[w])],
            "t": float(windows.t0[w] + windows.eval_tau[i]),
            "window_start": float(windows.t0[w]),
            "tau": point.tau,
            "q": windows.q[i].tolist(),
            "qd": windows.qd[i].tolist(),
            "q_sim": np.asarray(q[i]).tolist(),
            "qd_sim": np.asarray(qd[i]).tolist(),
        }
    channels: dict[str, dict[str, float]] = {}
    for j, name in enumerate(joints):
        channels[f"{name}.position"] = distribution_distances(q[:, j], windows.q[:, j])
        channels[f"{name}.velocity"] = distribution_distances(qd[:, j], windows.qd[:, j])
    if force is not None and windows.tau is not None:
        for a, name in enumerate(spec.actuated_joints):
            channels[f"{name}.torque"] = distribution_distances(force[:, a], windows.tau[:, a])
    per_log = {}
    for li, name in enumerate(windows.names):
        sel = windows.eval_log == li
        if sel.any():
            per_log[name] = {
                "position_rmse": rmse(q[sel], windows.q[sel])[1],
                "velocity_rmse": rmse(qd[sel], windows.qd[sel])[1],
                "samples": int(sel.sum()),
                "velocity_source": windows.velocity_source[li] if windows.velocity_source else "log",
            }
    return GapResult(
        horizon=windows.horizon,
        joints=tuple(joints),
        windows=windows.n_windows,
        samples=windows.n_eval,
        position_rmse=pos,
        velocity_rmse=vel,
        position_rmse_per_joint={n: float(x) for n, x in zip(joints, pos_j, strict=True)},
        velocity_rmse_per_joint={n: float(x) for n, x in zip(joints, vel_j, strict=True)},
        divergence_rate=rate,
        divergence_time_s=t_div,
        threshold=threshold,
        divergence_state=state,
        growth=(centres, growth),
        channels=channels,
        per_log=per_log,
        replay=windows,
        q_sim=np.asarray(q, dtype=float),
        qd_sim=np.asarray(qd, dtype=float),
        force_sim=None if force is None else np.asarray(force, dtype=float),
        base_position_rmse=None if base is None else vector_rmse(base[:, :3], windows.base[:, :3]),
        base_velocity_rmse=None if base is None else vector_rmse(base[:, 7:10], windows.base[:, 7:10]),
    )


def measure_gap(
    spec: RobotSpec,
    trajectories: Trajectory | Sequence[Trajectory],
    *,
    model: mujoco.MjModel | None = None,
    horizon: float | None = None,
    velocity: VelocitySource = "auto",
    threshold: float = DEFAULT_THRESHOLD,
    nthread: int = 0,
) -> GapResult:
    """Replay logs in simulation and measure the gap (see the module docstring).

    Args:
        spec: The robot.
        trajectories: One log or several (pooled).
        model: Model to replay with (e.g. ``sim2real.sysid.calibrated_model``); default nominal.
        horizon: Window length [s]; None for one open-loop replay per log.
        velocity: Initial window velocities: "auto", "log" or "fd" (see :func:`build_windows`).
        threshold: Divergence threshold [rad].
        nthread: MuJoCo worker threads (0: every CPU).
    """
    if isinstance(trajectories, Trajectory):
        trajectories = [trajectories]
    windows = build_windows(spec, trajectories, horizon, velocity=velocity, model=model)
    replayer = Replayer(spec, windows, model=model, nthread=nthread)
    pred = replayer.run(record_force=True)
    refuse_diverged(replayer.diverged, windows.t0, windows.n_windows, "no gap measured")
    result = compare(
        spec,
        windows,
        pred.q[0],
        pred.qd[0],
        force=pred.force[0],
        base=None if pred.base is None else pred.base[0],
        threshold=threshold,
    )
    return dataclasses.replace(result, base_velocity_estimate_rmse=base_estimate_error(trajectories))


def base_velocity_estimate_error(trajectory: Trajectory) -> float | None:
    """RMS norm of the logged base velocity estimate's error against the logged truth [m/s], or None."""
    truth, est = trajectory.base_truth, trajectory.base_estimate
    if truth is None or est is None:
        return None
    return estimate_rmse(est.t, est.lin_vel, truth.t, truth.lin_vel)


def base_estimate_error(trajectories: Sequence[Trajectory]) -> float | None:
    """:func:`base_velocity_estimate_error` pooled over logs (RMS over every compared sample), or None."""
    errors, counts = [], []
    for traj in trajectories:
        value = base_velocity_estimate_error(traj)
        if value is not None and np.isfinite(value):
            errors.append(value)
            counts.append(traj.base_estimate.n_samples)
    if not errors:
        return None
    return float(np.sqrt(np.average(np.square(errors), weights=counts)))
