"""Replay logged commands in simulation, in windows started from logged states.

Protocol (the one every prediction-error figure of sim2real uses):

- **Windows.** With a horizon ``H``, windows start every ``stride`` seconds (default ``H``) at the
  first log sample at or after ``t[0] + j * stride``; a window is replayed for ``H`` seconds.
  Without a horizon there is one window per log, from its first sample to its last (open loop).
- **Initial state.** Positions from the log; velocities from the log (``velocity="log"``) or from
  the slope of a local quadratic fit to the logged positions within +-``fd_half_width`` seconds
  of the start (``velocity="fd"``), or ``"auto"`` (the default): the log's column unless it
  disagrees with that slope by more than 10 % RMS.  Real velocity columns can be far noisier than
  the positions (the DFKI pendulum's differ from the positions' slope by 0.45 rad/s RMS in
  ``energy_shaping.csv`` and 2 rad/s in ``pd_excitation.csv``), and a window started from a
  velocity off by 2 rad/s is 0.5 rad off after 0.25 s whatever the model.  Position-sensor
  biases (``sensor.<joint>_pos.bias``) are subtracted from the logged positions to get the
  simulator's state, and added back to its predictions.
- **Commands.** The simulation steps on the robot's physics grid (``spec.physics_dt``); the
  logged command in force at the start of each physics step is held for that step (zero-order
  hold, so the log's own rate does not matter).  MuJoCo's native actuator delay acts on them:
  the actuator history buffer of every window is filled with the commands logged *before* the
  window start, so a delayed actuator sees the right past commands from the first step on.
- **Comparison.** Predictions are compared with the log at the log's own (irregular) sample
  times inside each window (after the start sample): the simulated trajectory, recorded after
  every physics step, is linearly interpolated at those times.

All windows (times ``replicas`` parameter variants, for finite-difference Jacobians and delay
scans) are simulations of ONE :class:`~sim2real.sim.batch.BatchSim`, run by one
``mujoco.batch.Batch.rollout`` call on MuJoCo's thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import mujoco
import numpy as np

from sim2real.errors import LogError, Sim2RealError, SpecMismatchError
from sim2real.logs.trajectory import Trajectory
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec
from sim2real.sim.batch import BatchSim

log = logging.getLogger(__name__)

VelocitySource = Literal["auto", "log", "fd"]

AUTO_TOLERANCE = 0.1
"""velocity="auto" uses a log's velocity column unless its RMS difference from the positions' local
slope exceeds this share of the slope's RMS."""

__all__ = ["Prediction", "Replayer", "VelocitySource", "Windows", "build_windows", "check_log_fits"]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Windows:
    """Replay windows over one or more logs.

    ``W`` windows, ``E`` evaluation samples (over all windows), ``n`` policy joints, ``m``
    actuators, ``nstep`` physics steps per window.  Arrays are read-only.
    """

    horizon: float | None
    """Window length [s]; None for one open-loop replay per log."""
    dt: float
    """Physics step [s]."""
    nstep: int
    """Physics steps simulated per window."""
    names: tuple[str, ...]
    """A name for each log (its source file, or ``log<i>``)."""
    log: np.ndarray
    """Log index of each window, shape (W,)."""
    start: np.ndarray
    """Index of the log sample each window starts from, shape (W,)."""
    t0: np.ndarray
    """Start time of each window on its log's clock, shape (W,) [s]."""
    q0: np.ndarray
    """Logged joint positions at each start, shape (W, n) [rad]."""
    qd0: np.ndarray
    """Initial joint velocities, shape (W, n) [rad/s] (from the log or a local fit)."""
    command: np.ndarray
    """Command held during each physics step, shape (W, nstep, m), in the spec's actuator order."""
    past: np.ndarray
    """Commands logged before each window start, at the history times ``past_t``, shape (W, m, h)."""
    past_t: np.ndarray
    """Times of the actuator history samples relative to the window start, shape (h,) [s] (< 0)."""
    eval_window: np.ndarray
    """Window of each evaluation sample, shape (E,)."""
    eval_sample: np.ndarray
    """Index of each evaluation sample in its log, shape (E,)."""
    eval_tau: np.ndarray
    """Time of each evaluation sample since its window start, shape (E,) [s] (> 0)."""
    q: np.ndarray
    """Logged joint positions at the evaluation samples, shape (E, n) [rad]."""
    qd: np.ndarray
    """Logged joint velocities at the evaluation samples, shape (E, n) [rad/s]."""
    tau: np.ndarray | None
    """Logged efforts of the actuated joints at the evaluation samples, shape (E, m) [N m], or None."""
    velocity_source: tuple[str, ...] = ()
    """Where each log's initial window velocities came from: "log" (its column) or "fd" (local fit)."""

    @property
    def n_windows(self) -> int:
        """Number of windows W."""
        return int(self.t0.size)

    @property
    def n_eval(self) -> int:
        """Number of evaluation samples E."""
        return int(self.eval_tau.size)

    @property
    def eval_log(self) -> np.ndarray:
        """Log index of each evaluation sample, shape (E,)."""
        return self.log[self.eval_window]

    def select(self, keep: np.ndarray) -> Windows:
        """The windows whose mask ``keep`` (W,) is True, with their evaluation samples."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1
        ev = keep[self.eval_window]
        return Windows(
            horizon=self.horizon,
            dt=self.dt,
            nstep=self.nstep,
            names=self.names,
            log=_frozen(self.log[keep]),
            start=_frozen(self.start[keep]),
            t0=_frozen(self.t0[keep]),
            q0=_frozen(self.q0[keep]),
            qd0=_frozen(self.qd0[keep]),
            command=_frozen(self.command[keep]),
            past=_frozen(self.past[keep]),
            past_t=self.past_t,
            eval_window=_frozen(new_index[self.eval_window[ev]]),
            eval_sample=_frozen(self.eval_sample[ev]),
            eval_tau=_frozen(self.eval_tau[ev]),
            q=_frozen(self.q[ev]),
            qd=_frozen(self.qd[ev]),
            tau=None if self.tau is None else _frozen(self.tau[ev]),
            velocity_source=self.velocity_source,
        )


def check_log_fits(spec: RobotSpec, traj: Trajectory, name: str = "log") -> None:
    """Raise a one-line error unless a log can be replayed on this robot.

    Raises:
        SpecMismatchError: the log records another robot spec's hash.
        LogError: joints or actuated joints missing, no commands, fewer than 2 samples.
    """
    if traj.spec_hash is not None and traj.spec_hash != spec.hash:
        raise SpecMismatchError(f"log {name}", spec.hash, traj.spec_hash)
    missing = [j for j in spec.joints if j not in traj.joint_names]
    if missing:
        raise LogError(
            f"{name}: joints {list(traj.joint_names)} do not include {missing} of robot '{spec.name}' "
            f"(joints {list(spec.joints)}); is this a log of another robot?"
        )
    if not traj.has_commands:
        raise LogError(f"{name}: the log has no commands; replay and identification need the commands sent")
    cmd_missing = [j for j in spec.actuated_joints if j not in (traj.command_joints or ())]
    if cmd_missing:
        raise LogError(
            f"{name}: no command column for actuated joint(s) {cmd_missing} "
            f"(the log commands {list(traj.command_joints or ())})"
        )
    if traj.n_samples < 2 or traj.duration <= 0:
        raise LogError(f"{name}: need at least 2 joint-state samples spanning some time")


def _history_times(model: mujoco.MjModel, act_ids: np.ndarray) -> np.ndarray:
    """Times (relative to a window start) of the actuator history samples, shape (h,)."""
    sizes = {int(model.actuator_history[a, 0]) for a in act_ids}
    if len(sizes) != 1:
        raise Sim2RealError(f"actuators have different delay buffer sizes {sorted(sizes)}")
    h = sizes.pop()
    return -model.opt.timestep * np.arange(h, 0, -1, dtype=float)


def local_slope(t: np.ndarray, q: np.ndarray, index: np.ndarray, half_width: float) -> np.ndarray:
    """Slope at ``t[i]`` of a quadratic least-squares fit to ``q`` over the samples within about
    +-``half_width`` seconds (the same number of samples either side, at least one; shifted
    inwards at the ends of the log), for every ``i`` in ``index``.

    Args:
        t: Sample times, shape (T,) [s].
        q: Samples, shape (T, n).
        index: Samples to estimate the slope at, shape (K,).
        half_width: Half-width of the fit [s].

    Returns:
        Slopes, shape (K, n).
    """
    index = np.asarray(index, dtype=np.int64)
    T = t.size
    if T < 3:
        return np.repeat(((q[-1] - q[0]) / max(t[-1] - t[0], 1e-12))[None], index.size, axis=0)
    h = float(np.median(np.diff(t)))
    k = int(np.clip(round(half_width / h) if h > 0 else 1, 1, (T - 1) // 2))
    lo = np.clip(index - k, 0, T - 2 * k - 1)
    rows = lo[:, None] + np.arange(2 * k + 1)[None, :]
    x = t[rows] - t[index][:, None]
    A = np.stack([np.ones_like(x), x, x * x], axis=2)  # (K, S, 3)
    AtA = np.einsum("ksi,ksj->kij", A, A)
    Atq = np.einsum("ksi,ksn->kin", A, q[rows])
    AtA += 1e-18 * np.eye(3)
    coef = np.linalg.solve(AtA, Atq)
    return coef[:, 1, :]


def build_windows(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    horizon: float | None = None,
    *,
    stride: float | None = None,
    velocity: VelocitySource = "auto",
    fd_half_width: float = 0.01,
    model: mujoco.MjModel | None = None,
    names: Sequence[str] | None = None,
) -> Windows:
    """Cut logs into replay windows (see the module docstring for the protocol).

    Args:
        spec: The robot.
        trajectories: One or more logs of it.
        horizon: Window length [s]; None for one open-loop replay per log.
        stride: Time between window starts [s] (default: the horizon).
        velocity: Initial velocities from the log's velocity column ("log"), from the slope of a
            local quadratic fit to positions ("fd"), or "auto": the column unless it disagrees
            with that slope by more than :data:`AUTO_TOLERANCE` (RMS, relative), as noisy
            velocity columns of real logs do.
        fd_half_width: Half-width of the local fit [s] (velocity="fd").
        model: Compiled model (for the actuator history size); default: the nominal model.
        names: A name per log for reports (default: ``meta["source"]`` or ``log<i>``).

    Raises:
        LogError: a log that does not fit the robot, or no window with samples to compare.
        Sim2RealError: a non-positive horizon or stride.
    """
    if not trajectories:
        raise LogError("no logs given")
    if horizon is not None and not (np.isfinite(horizon) and horizon > 0):
        raise Sim2RealError(f"horizon must be a positive number of seconds, got {horizon!r}")
    if stride is not None and not (np.isfinite(stride) and stride > 0):
        raise Sim2RealError(f"stride must be a positive number of seconds, got {stride!r}")
    if velocity not in ("auto", "log", "fd"):
        raise Sim2RealError(f"velocity must be 'auto', 'log' or 'fd', got {velocity!r}")
    model = model if model is not None else build_model(spec)
    dt = float(model.opt.timestep)
    act_ids = np.array(
        [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
    )
    past_t = _history_times(model, act_ids)
    if names is None:
        names = [str(tr.meta.get("source", f"log{i}")) for i, tr in enumerate(trajectories)]
    names = tuple(names)

    per_log = []
    sources: list[str] = []
    for li, traj in enumerate(trajectories):
        check_log_fits(spec, traj, names[li])
        t = traj.t
        jcols = np.array([traj.joint_index(j) for j in spec.joints])
        ccols = np.array([traj.command_joints.index(j) for j in spec.actuated_joints])
        acols = np.array([traj.joint_index(j) for j in spec.actuated_joints])
        if horizon is None:
            starts = np.array([0])
            length = float(t[-1] - t[0])
        else:
            step = horizon if stride is None else stride
            targets = t[0] + step * np.arange(int(np.floor((t[-1] - t[0]) / step + 1e-9)) + 1)
            starts = np.unique(np.searchsorted(t, targets - 1e-9, side="left"))
            starts = starts[starts < t.size - 1]
            length = float(horizon)
        qd_all = traj.qd[:, jcols]
        q_all = traj.q[:, jcols]
        source = velocity
        if velocity == "auto":
            slope = local_slope(t, q_all, np.arange(t.size), fd_half_width)
            disagreement = float(
                np.sqrt(np.mean((qd_all - slope) ** 2)) / max(np.sqrt(np.mean(slope**2)), 1e-9)
            )
            source = "fd" if disagreement > AUTO_TOLERANCE else "log"
            if source == "fd":
                log.info(
                    "%s: velocity column differs from the positions' slope by %.0f%% RMS: "
                    "windows start from the slope",
                    names[li],
                    100 * disagreement,
                )
        sources.append(source)
        qd0 = local_slope(t, q_all, starts, fd_half_width) if source == "fd" else qd_all[starts]
        per_log.append((li, traj, starts, length, q_all, qd_all, qd0, ccols, acols))

    longest = max(p[3] for p in per_log)
    nstep = max(1, int(np.ceil(longest / dt - 1e-9)))
    logs, starts_all, t0s, q0s, qd0s, cmds, pasts = [], [], [], [], [], [], []
    ev_w, ev_s, ev_tau, ev_q, ev_qd, ev_tau_log = [], [], [], [], [], []
    have_tau = all(p[1].tau is not None for p in per_log)
    w_offset = 0
    for li, traj, starts, length, q_all, qd_all, qd0, ccols, acols in per_log:
        t = traj.t
        t0 = t[starts]
        grid = t0[:, None] + dt * np.arange(nstep)[None, :]
        first = traj.command[0]
        cmd = _command_at(traj, grid.ravel(), first)[:, ccols].reshape(starts.size, nstep, -1)
        past_times = t0[:, None] + past_t[None, :]
        past = _command_at(traj, past_times.ravel(), first)[:, ccols].reshape(starts.size, past_t.size, -1)
        keep = []
        for k, (s, start_t) in enumerate(zip(starts, t0, strict=True)):
            hi = int(np.searchsorted(t, start_t + length + 1e-9, side="right"))
            idx = np.arange(s + 1, hi)
            idx = idx[t[idx] > start_t]
            if idx.size == 0:
                continue
            keep.append(k)
            wid = w_offset + len(keep) - 1
            ev_w.append(np.full(idx.size, wid))
            ev_s.append(idx)
            ev_tau.append(np.minimum(t[idx] - start_t, nstep * dt))
            ev_q.append(q_all[idx])
            ev_qd.append(qd_all[idx])
            if have_tau:
                ev_tau_log.append(traj.tau[idx][:, acols])
        keep = np.array(keep, dtype=int)
        w_offset += keep.size
        logs.append(np.full(keep.size, li))
        starts_all.append(starts[keep])
        t0s.append(t0[keep])
        q0s.append(q_all[starts[keep]])
        qd0s.append(qd0[keep])
        cmds.append(cmd[keep])
        pasts.append(np.moveaxis(past[keep], 1, 2))
    if w_offset == 0:
        raise LogError("the logs give no window with samples to compare (too short for the horizon?)")
    return Windows(
        horizon=horizon,
        dt=dt,
        nstep=nstep,
        names=names,
        log=_frozen(np.concatenate(logs)),
        start=_frozen(np.concatenate(starts_all)),
        t0=_frozen(np.concatenate(t0s)),
        q0=_frozen(np.concatenate(q0s)),
        qd0=_frozen(np.concatenate(qd0s)),
        command=_frozen(np.concatenate(cmds)),
        past=_frozen(np.concatenate(pasts)),
        past_t=_frozen(past_t),
        eval_window=_frozen(np.concatenate(ev_w)),
        eval_sample=_frozen(np.concatenate(ev_s)),
        eval_tau=_frozen(np.concatenate(ev_tau)),
        q=_frozen(np.concatenate(ev_q)),
        qd=_frozen(np.concatenate(ev_qd)),
        tau=_frozen(np.concatenate(ev_tau_log)) if have_tau else None,
        velocity_source=tuple(sources),
    )


def _command_at(traj: Trajectory, times: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Zero-order hold of the logged commands; before the first command, the first one.

    A command logged within 1 ns after a query time counts as in force (float round-off of grids).
    """
    idx = np.searchsorted(traj.command_t, times + 1e-9, side="right") - 1
    out = traj.command[np.maximum(idx, 0)].copy()
    out[idx < 0] = first
    return out


@dataclass(frozen=True, eq=False)
class Prediction:
    """Simulated values at the evaluation samples of some windows, for ``R`` parameter variants."""

    q: np.ndarray
    """Joint positions as the position sensors would read them, shape (R, E, n) [rad]."""
    qd: np.ndarray
    """Joint velocities, shape (R, E, n) [rad/s]."""
    force: np.ndarray | None
    """Actuator forces of the actuated joints, shape (R, E, m) [N m] (when recorded)."""


class Replayer:
    """Runs replay windows as simulations of one :class:`BatchSim`, for parameter variants.

    Simulation ``r * W + w`` replays window ``w`` with parameter variant ``r``.

    Args:
        spec: The robot.
        windows: From :func:`build_windows` (with the same model's history size).
        model: Compiled model to start from (e.g. a calibrated one); default: nominal.
        replicas: Largest number of parameter variants one :meth:`run` will ask for.
        nthread: MuJoCo worker threads (0: every CPU).
    """

    def __init__(
        self,
        spec: RobotSpec,
        windows: Windows,
        *,
        model: mujoco.MjModel | None = None,
        replicas: int = 1,
        nthread: int = 0,
    ) -> None:
        if replicas < 1:
            raise Sim2RealError(f"replicas must be at least 1, got {replicas}")
        self.spec = spec
        self.windows = windows
        self.replicas = replicas
        self.physics_steps = 0
        """Physics steps simulated so far (all simulations)."""
        self.sim = BatchSim(spec, windows.n_windows * replicas, nthread=nthread, model=model)
        model = self.sim.model
        self.params = self.sim.params
        W, nstep = windows.n_windows, windows.nstep
        if abs(model.opt.timestep - windows.dt) > 1e-15:
            raise Sim2RealError(f"windows were cut for dt={windows.dt}, the model steps {model.opt.timestep}")
        act_ids = np.array(
            [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
        )
        if not np.allclose(_history_times(model, act_ids), windows.past_t):
            raise Sim2RealError("windows were cut for a model with another actuator delay capacity")
        self._ctrl = np.zeros((W, nstep, model.nu))
        self._ctrl[:, :, self.sim.act_idx] = windows.command
        self._history_row, self._slots = self._history_layout(model, act_ids)
        # interpolation of the recorded trajectory (initial state at index 0) at the evaluation times
        pos = windows.eval_tau / windows.dt
        k = np.clip(np.floor(pos).astype(np.int64), 0, nstep - 1)
        self._k = k
        self._frac = np.clip(pos - k, 0.0, 1.0)[:, None]
        self._bias_pos = [f"sensor.{j}_pos.bias" for j in spec.joints]
        self._bias_vel = [f"sensor.{j}_vel.bias" for j in spec.joints]
        known = set(self.params.names)
        self._bias_pos = [n if n in known else None for n in self._bias_pos]
        self._bias_vel = [n if n in known else None for n in self._bias_vel]

    @staticmethod
    def _history_layout(model: mujoco.MjModel, act_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A reset history row with our sample times, and the value slot of each (actuator, sample)."""
        data = mujoco.MjData(model)
        mujoco.mj_resetData(model, data)
        times = _history_times(model, act_ids)
        slots = np.zeros((act_ids.size, times.size), dtype=np.int64)
        for i, a in enumerate(act_ids):
            marker = 1.0e9 + 1000.0 * i + np.arange(times.size, dtype=float)
            mujoco.mj_initCtrlHistory(model, data, int(a), times.reshape(-1, 1), marker.reshape(-1, 1).copy())
            for s, value in enumerate(marker):
                hit = np.flatnonzero(data.history == value)
                if hit.size != 1:
                    raise Sim2RealError("cannot locate the actuator history buffer layout")
                slots[i, s] = hit[0]
        row = data.history.copy()
        return row, slots

    def run(
        self,
        values: Mapping[str, np.ndarray] | None = None,
        replicas: int = 1,
        *,
        windows: np.ndarray | None = None,
        record_force: bool = False,
    ) -> Prediction:
        """Simulate the windows for ``replicas`` parameter variants.

        Args:
            values: Parameter name -> values, shape (replicas, size) or (size,) for all variants.
                Parameters not given keep the value last written (initially the model's).
            replicas: Number of variants R (at most the ``replicas`` given at construction).
            windows: Indices of the windows to simulate (default: all); the prediction then
                holds only their evaluation samples, in order.
            record_force: Also record actuator forces.

        Returns:
            Predictions at the evaluation samples, shape (R, E', ...).
        """
        if not 1 <= replicas <= self.replicas:
            raise Sim2RealError(f"replicas must be in 1..{self.replicas}, got {replicas}")
        win = self.windows
        W = win.n_windows
        sel_w = np.arange(W) if windows is None else np.asarray(windows, dtype=np.int64)
        nw = sel_w.size
        ids = (np.arange(replicas)[:, None] * W + sel_w[None, :]).ravel()
        sim = self.sim
        if values:
            expanded = {}
            for key, raw in values.items():
                for name in self.params.resolve([key]):
                    v = np.asarray(raw, dtype=float)
                    size = self.params.info(name).size
                    v = np.broadcast_to(v.reshape(-1, size) if v.ndim else v.reshape(1, 1), (replicas, size))
                    expanded[name] = np.repeat(v, nw, axis=0)
            self.params.set(sim.batch, expanded, ids=ids)
        bias_q = self._bias(self._bias_pos, ids)
        bias_qd = self._bias(self._bias_vel, ids)
        q0 = np.tile(win.q0[sel_w], (replicas, 1)) - bias_q
        qd0 = np.tile(win.qd0[sel_w], (replicas, 1)) - bias_qd
        sim.reset(ids, qpos=q0, qvel=qd0)
        history = sim.batch.bind("history")
        rows = np.broadcast_to(self._history_row, (ids.size, self._history_row.size))
        history[ids] = rows
        past = np.tile(win.past[sel_w], (replicas, 1, 1))  # (n, m, h)
        history[ids[:, None, None], self._slots[None, :, :]] = past
        ctrl = np.tile(self._ctrl[sel_w], (replicas, 1, 1))
        record = ["qpos", "qvel"] + (["actuator_force"] if record_force else [])
        out = sim.batch.rollout(win.nstep, control=ctrl, ids=ids, record=record)
        self.physics_steps += ids.size * win.nstep
        qpos = out["qpos"][:, :, sim.qpos_idx]
        qvel = out["qvel"][:, :, sim.dof_idx]
        # evaluation samples of the selected windows
        if windows is None:
            ev = np.arange(win.n_eval)
            local_w = win.eval_window
        else:
            pos_of = np.full(W, -1)
            pos_of[sel_w] = np.arange(nw)
            ev = np.flatnonzero(pos_of[win.eval_window] >= 0)
            local_w = pos_of[win.eval_window[ev]]
        k = self._k[ev]
        frac = self._frac[ev]
        sims = np.arange(replicas)[:, None] * nw + local_w[None, :]  # (R, E')

        def interp(rec: np.ndarray, start: np.ndarray) -> np.ndarray:
            # rec[s, k] is the state after physics step k, i.e. at local time (k + 1) dt
            after = rec[sims, k[None, :]]
            before = np.where((k == 0)[None, :, None], start[sims], rec[sims, np.maximum(k - 1, 0)[None, :]])
            return before + frac[None] * (after - before)

        q = interp(qpos, q0) + bias_q[sims]
        qd = interp(qvel, qd0) + bias_qd[sims]
        force = None
        if record_force:
            act_force = out["actuator_force"][:, :, sim.act_idx]
            force = interp(act_force, act_force[:, 0])
        return Prediction(q=q, qd=qd, force=force)

    def _bias(self, names: list[str | None], ids: np.ndarray) -> np.ndarray:
        out = np.zeros((ids.size, len(names)))
        for j, name in enumerate(names):
            if name is not None:
                out[:, j] = self.params.get(self.sim.batch, name)[ids, 0]
        return out
