"""Torque samples of a robot's drives from its logs, and the models a network is compared with.

A drive's measured torque (the bag's ``/joint_states`` effort, or a current column times the
torque constant) is predicted three ways, on the same samples:

- **the network** (:mod:`sim2real.sim.net_actuator`), from the history of its inputs;
- **the identified drive model**: the spec's actuator equation (:func:`~sim2real.robots.actuation.implied_torque`:
  PD for position drives, the DC-motor equation for voltage drives) with the values of a model
  (nominal, or a calibration from ``identify``: gains, strength, offset, delay, torque limit);
- **the ridge motor model** ``tau = a u + b qd + c`` per joint (:func:`~sim2real.sysid.motor.ridge_motor_model`),
  where ``u`` is the drive's input: its command (torque or voltage), or for a position drive the
  position error ``target - q`` (a position target alone says nothing about the torque).

**Samples.**  Every joint-state sample at ``t`` whose history reaches back ``(history - 1) dt``
into the log.  The command in force at a reading is the last one sent strictly before it (a
control loop reads, then sends: the command stamped with the reading's own time was computed
from it).  History values at ``t - i dt`` are interpolated between joint-state samples (exact on
a log at the rate ``dt``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import LogError, SpecError
from sim2real.logs.trajectory import Trajectory
from sim2real.robots.actuation import ActuatorArrays, implied_torque
from sim2real.robots.spec import RobotSpec
from sim2real.sim.net_actuator import DRIVE_INPUTS, ActuatorNet
from sim2real.sysid.motor import MotorModel, command_before, ridge_motor_model

log = logging.getLogger(__name__)

__all__ = [
    "DriveModel",
    "TorqueSamples",
    "drive_from_dict",
    "drive_model",
    "drive_torque",
    "evaluate_net",
    "fit_ridge",
    "net_torque",
    "ridge_torque",
    "rmse",
    "sample_dt",
    "torque_samples",
]


def sample_dt(trajectories: Sequence[Trajectory]) -> float:
    """The logs' joint-state sample period [s] (median spacing over all of them)."""
    steps = np.concatenate([np.diff(tr.t) for tr in trajectories if tr.t.size > 1])
    steps = steps[steps > 0]
    if steps.size == 0:
        raise LogError("the logs have no two joint-state samples at different times")
    return float(np.median(steps))


@dataclass(frozen=True, eq=False)
class TorqueSamples:
    """Measured drive torques with every model's inputs.  ``S`` samples, ``m`` joints, ``H`` history."""

    joints: tuple[str, ...]
    """Actuated joints, in the spec's actuator order."""
    drive: str
    """Their drive model (pd, torque or dc_motor)."""
    history: int
    """History samples H."""
    dt: float
    """History spacing [s]."""
    log: np.ndarray
    """Log index of each sample, shape (S,)."""
    t: np.ndarray
    """Time of each sample on its log's clock, shape (S,) [s]."""
    x: np.ndarray
    """Network inputs, shape (S, m, 2, H): (position error or command, velocity), newest first."""
    tau: np.ndarray
    """Measured torque, shape (S, m) [N m]."""
    q: np.ndarray
    """Joint positions, shape (S, m) [rad]."""
    qd: np.ndarray
    """Joint velocities, shape (S, m) [rad/s]."""

    @property
    def n(self) -> int:
        """Number of samples S."""
        return int(self.t.size)

    def select(self, rows: np.ndarray) -> TorqueSamples:
        """The samples ``rows`` (an index or a mask)."""
        fields = ("log", "t", "x", "tau", "q", "qd")
        return TorqueSamples(
            self.joints, self.drive, self.history, self.dt, **{f: getattr(self, f)[rows] for f in fields}
        )


def _interp(t: np.ndarray, values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Columns of ``values`` (T, m) linearly interpolated at ``times`` (N,)."""
    return np.stack([np.interp(times, t, values[:, j]) for j in range(values.shape[1])], axis=1)


def torque_samples(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    history: int = 3,
    dt: float | None = None,
    joints: Sequence[str] | None = None,
    torque_constant: float | None = None,
) -> TorqueSamples:
    """The torque samples of some actuated joints (module docstring).

    Args:
        spec: The robot.
        trajectories: Logs with commands and measured efforts.
        history: Samples of each input H (>= 1).
        dt: Their spacing [s]; default the logs' sample period.
        joints: Actuated joints to sample (default all); their drives must share one model.
        torque_constant: The effort column holds motor current [A]; torque = this x current [N m/A].

    Raises:
        LogError: no measured effort (or an effort column that is the command column), logs too
            short for the history, or joints of several drive models.
    """
    if history < 1:
        raise LogError(f"history must be at least 1 sample, got {history}")
    joints = tuple(joints or spec.actuated_joints)
    drives = {spec.actuator(j).model for j in joints}
    if len(drives) != 1:
        raise LogError(
            f"joints {list(joints)} have drives of several models ({', '.join(sorted(drives))}); sample them apart"
        )
    dt = sample_dt(trajectories) if dt is None else float(dt)
    span = (history - 1) * dt
    drive = drives.pop()
    error_input = DRIVE_INPUTS[drive][0] == "position_error"
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("log", "t", "x", "tau", "q", "qd")}
    for li, traj in enumerate(trajectories):
        name = str(traj.meta.get("source", f"log {li}"))
        efforts = traj.efforts_of(joints)
        if efforts is None:
            lacking = [j for j in joints if j in traj.effort_missing()]
            raise LogError(
                f"{name}: no measured effort (joint_states effort)"
                + (f" of {', '.join(lacking)}" if lacking else "")
                + ": a drive's torque cannot be learned"
            )
        if not traj.has_commands:
            raise LogError(f"{name}: no commands")
        shared = {j: c for j, c in (traj.meta.get("effort_is_command") or {}).items() if j in joints}
        if shared:
            raise LogError(
                f"{name}: no measured torque separate from the command (effort and command of "
                f"{', '.join(shared)} are one column, {', '.join(sorted(set(shared.values())))}): a drive's "
                "torque cannot be learned; map a measured torque column as effort (--csv-map MAP.yaml)"
            )
        jcols = np.array([traj.joint_index(j) for j in joints])
        ccols = np.array([traj.command_joints.index(j) for j in joints])
        start = max(float(traj.t[0]), float(traj.command_t[0]) + 1e-9) + span
        keep = np.flatnonzero(traj.t >= start - 1e-12)
        if keep.size == 0:
            continue
        t = traj.t[keep]
        q_all, qd_all = traj.q[:, jcols], traj.qd[:, jcols]
        x = np.zeros((t.size, len(joints), 2, history))
        for i in range(history):
            ti = t - i * dt
            q_i = q_all[keep] if i == 0 else _interp(traj.t, q_all, ti)
            qd_i = qd_all[keep] if i == 0 else _interp(traj.t, qd_all, ti)
            u = command_before(traj, ti, ccols)
            x[:, :, 0, i] = u - q_i if error_input else u
            x[:, :, 1, i] = qd_i
        tau = efforts[keep] * (1.0 if torque_constant is None else float(torque_constant))
        for key, value in (("log", np.full(t.size, li)), ("t", t), ("x", x), ("tau", tau)):
            parts[key].append(value)
        parts["q"].append(q_all[keep])
        parts["qd"].append(qd_all[keep])
    if not parts["t"]:
        raise LogError(f"the logs are too short for a history of {history} samples {dt:g} s apart")
    return TorqueSamples(joints, drive, history, dt, **{k: np.concatenate(v) for k, v in parts.items()})


def joints_with_efforts(trajectories: Sequence[Trajectory], joints: Sequence[str]) -> tuple[str, ...]:
    """The ``joints`` every log measures the effort of, in their order; those some log measures for
    other joints but not for them (:attr:`~sim2real.logs.Trajectory.tau_partial`) are left out with
    one warning naming them and the logs.  A log measuring no effort at all leaves every joint in
    (:func:`torque_samples` refuses it).

    Raises:
        LogError: Every joint left out.
    """
    out: dict[str, list[str]] = {}
    for li, traj in enumerate(trajectories):
        for j in traj.effort_missing():
            if j in joints:
                out.setdefault(j, []).append(str(traj.meta.get("source", f"log {li}")))
    kept = tuple(j for j in joints if j not in out)
    if not out:
        return kept
    where = sorted({s for v in out.values() for s in v})
    if not kept:
        raise LogError(
            f"{', '.join(where)}: no measured effort of {', '.join(out)}: a drive's torque cannot be learned"
        )
    log.warning(
        "no measured effort of %s in %s: left out (the fit and its figures are of %s)",
        ", ".join(out), ", ".join(where), ", ".join(kept),
    )
    return kept


@dataclass(frozen=True, eq=False)
class DriveModel:
    """The actuator equation of some joints with a model's values (nominal or identified)."""

    actuation: ActuatorArrays
    """Gains or motor constants, strength, offset, per joint."""
    delay: np.ndarray
    """Actuator delay of each joint, shape (m,) [s]."""
    limit: np.ndarray
    """Torque limit of each joint, shape (m,) [N m]."""

    def take(self, cols: Sequence[int]) -> DriveModel:
        """The drive model of some of its joints (their indices)."""
        cols = list(cols)
        return DriveModel(self.actuation.take(cols), self.delay[cols], self.limit[cols])

    def as_dict(self, joints: Sequence[str]) -> dict[str, dict[str, float]]:
        """JSON-ready values per joint."""
        a = self.actuation
        names = ("kp", "kd", "resistance", "kt", "ke", "strength", "offset")
        out = {}
        for i, joint in enumerate(joints):
            row = {k: float(np.broadcast_to(getattr(a, k), self.delay.shape)[i]) for k in names}
            out[joint] = {**row, "delay": float(self.delay[i]), "torque_limit": float(self.limit[i])}
        return out


def drive_model(spec: RobotSpec, model: mujoco.MjModel, joints: Sequence[str]) -> DriveModel:
    """The drive model of some joints with the values of a compiled model: nominal
    (:func:`~sim2real.robots.model.build_model`) or identified (:func:`~sim2real.calibration.calibrated_model`)."""
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
    cols = [spec.actuated_joints.index(j) for j in joints]
    rows = np.array(ids)[cols]
    return DriveModel(
        ActuatorArrays.from_user(spec, model.actuator_user[ids]).take(cols),
        model.actuator_delay[rows].copy(),
        model.actuator_forcerange[rows, 1].copy(),
    )


def drive_torque(samples: TorqueSamples, trajectories: Sequence[Trajectory], drive: DriveModel) -> np.ndarray:
    """The drive model's torque at every sample [N m], shape (S, m): the command sent strictly before
    ``t - delay`` (per joint), at the sample's state, clipped to the torque limit."""
    out = np.zeros_like(samples.tau)
    for li, traj in enumerate(trajectories):
        rows = np.flatnonzero(samples.log == li)
        if rows.size == 0:
            continue
        t = samples.t[rows]
        ccols = np.array([traj.command_joints.index(j) for j in samples.joints])
        cmd = np.stack(
            [
                command_before(traj, t - drive.delay[k], ccols[k : k + 1])[:, 0]
                for k in range(len(samples.joints))
            ],
            axis=1,
        )
        out[rows] = implied_torque(drive.actuation, cmd, samples.q[rows], samples.qd[rows])
    return np.clip(out, -drive.limit, drive.limit)


def fit_ridge(samples: TorqueSamples) -> dict[str, MotorModel]:
    """The ridge motor model of each joint on these samples (input: the newest network input)."""
    return {
        j: ridge_motor_model(j, samples.x[:, k, 0, 0], samples.x[:, k, 1, 0], samples.tau[:, k])
        for k, j in enumerate(samples.joints)
    }


def ridge_torque(samples: TorqueSamples, models: dict[str, MotorModel]) -> np.ndarray:
    """The ridge models' torque at every sample [N m], shape (S, m)."""
    return np.stack(
        [
            models[j].predict(samples.x[:, k, 0, 0], samples.x[:, k, 1, 0])
            for k, j in enumerate(samples.joints)
        ],
        axis=1,
    )


def rmse(pred: np.ndarray, samples: TorqueSamples) -> dict[str, float]:
    """Torque RMSE per joint and ``overall`` (over every joint's samples) [N m]."""
    err = np.asarray(pred) - samples.tau
    out = {j: float(np.sqrt(np.mean(err[:, k] ** 2))) for k, j in enumerate(samples.joints)}
    out["overall"] = float(np.sqrt(np.mean(err**2)))
    return out


def drive_from_dict(
    spec: RobotSpec, joints: Sequence[str], values: dict[str, dict[str, float]]
) -> DriveModel:
    """A :class:`DriveModel` from :meth:`DriveModel.as_dict` (an actuator network's ``baselines``)."""
    nominal = ActuatorArrays.from_spec(spec).take([spec.actuated_joints.index(j) for j in joints])
    col = {k: np.array([float(values[j][k]) for j in joints]) for k in next(iter(values.values()))}
    actuation = ActuatorArrays(
        pd=nominal.pd,
        torque=nominal.torque,
        dc_motor=nominal.dc_motor,
        **{k: col[k] for k in ("kp", "kd", "resistance", "kt", "ke", "strength", "offset")},
    )
    return DriveModel(actuation, col["delay"], col["torque_limit"])


def net_torque(net: ActuatorNet, samples: TorqueSamples) -> np.ndarray:
    """An actuator network's torque at every sample [N m], shape (S, m) (a GRU runs over each log
    from a zero state; before strength and torque limit, as in the simulator)."""
    out = np.zeros_like(samples.tau)
    meta = net.meta
    for g, joints in meta.groups.items():
        cols = [samples.joints.index(j) for j in joints if j in samples.joints]
        if not cols:
            continue
        x = samples.x[:, cols]  # (S, k, 2, H)
        if meta.kind == "mlp":
            out[:, cols] = net.predict({g: x.reshape(-1, net.width)})[g].reshape(samples.n, len(cols))
            continue
        for li in np.unique(samples.log):
            rows = np.flatnonzero(samples.log == li)
            seq = x[rows].reshape(rows.size, len(cols), -1).transpose(1, 0, 2)  # (k, T, width)
            out[np.ix_(rows, cols)] = net.predict({g: seq})[g].T
    return out


def evaluate_net(
    spec: RobotSpec,
    net: ActuatorNet,
    trajectories: Sequence[Trajectory],
    drive: DriveModel | None = None,
    torque_constant: float | None = None,
) -> dict[str, dict[str, float]]:
    """``net_torque_rmse``, ``pd_torque_rmse`` and ``ridge_torque_rmse`` per joint and overall on logs.

    Args:
        spec: The robot of the logs.
        net: The network (its joints must be actuated joints of the robot).
        trajectories: Logs with measured effort.
        drive: The drive model to compare with (default: the one the network was compared with
            when fitted, from its metadata).
        torque_constant: The effort column is motor current [A] (torque = this x current).

    Raises:
        SpecError: the network models joints the robot lacks.
    """
    meta = net.meta
    missing = [j for j in meta.joints if j not in spec.actuated_joints]
    if missing:
        raise SpecError(f"{net.path.name} models joints {missing} that {spec.name} does not actuate")
    modelled = [j for j in spec.actuated_joints if j in meta.joints]
    joints = list(joints_with_efforts(trajectories, modelled))
    samples = torque_samples(spec, trajectories, meta.history, meta.dt, joints, torque_constant)
    baselines = meta.extra.get("baselines", {})
    if drive is None:
        drive = drive_from_dict(spec, joints, baselines["drive"])
    elif len(joints) < len(modelled):
        drive = drive.take([modelled.index(j) for j in joints])
    ridge = {
        j: MotorModel(j, v["a"], v["b"], v["c"], v["r2"], v["samples"]) for j, v in baselines["ridge"].items()
    }
    limit = drive.limit[None, :]
    return {
        "net_torque_rmse": rmse(np.clip(net_torque(net, samples), -limit, limit), samples),
        "pd_torque_rmse": rmse(drive_torque(samples, trajectories, drive), samples),
        "ridge_torque_rmse": rmse(ridge_torque(samples, ridge), samples),
        "samples": {"count": samples.n, "history": meta.history, "dt": meta.dt},
    }
