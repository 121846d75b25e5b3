"""Replay logged commands in simulation, in windows started from logged states.

Protocol (the one every prediction-error figure of sim2real uses):

- **Windows.** With a horizon ``H``, windows start every ``stride`` seconds (default ``H``) at the
  first log sample at or after ``t[0] + j * stride``; a window is replayed for ``H`` seconds.
  Without a horizon there is one window per log, from its first sample to its last (open loop).
- **Initial state.** Positions from the log; velocities from the log (``velocity="log"``) or from
  the slope of a local quadratic fit to the logged positions within +-``fd_half_width`` seconds
  of the start (``velocity="fd"``), or ``"auto"`` (the default): the better of the two, judged
  from the log itself (:mod:`sim2real.sim.velocity_source`).  A window started from a velocity
  off by 2 rad/s is 0.5 rad off after 0.25 s whatever the model.  Position-sensor
  biases (``sensor.<joint>_pos.bias``) are subtracted from the logged positions to get the
  simulator's state, and added back to its predictions.
- **Floating base.** When the model's base floats (:func:`~sim2real.sim.floating.base_joint`),
  each window also starts from the logged base pose and velocity (:attr:`Trajectory.base
  <sim2real.logs.trajectory.Trajectory.base>`: the twin's ground truth where recorded, else the
  robot's state estimate), interpolated at the window start; a log without base states is
  refused.  A robot hung by its base (:func:`~sim2real.sim.floating.hung_model`) replays the
  joints only, and only logs recorded hung (``meta["fixed_base"]``) fit it.
- **Commands.** The simulation steps on the robot's physics grid (``spec.physics_dt``); the
  logged command in force at the start of each physics step is held for that step (zero-order
  hold, so the log's own rate does not matter), and commands logged before the window start are
  kept (:attr:`Windows.lead_command`) for the delays.
- **Actuator delays** (``actuator.<name>.delay`` = ``d``) act on those commands here, not through
  MuJoCo's native delay buffer: a delay of ``d = (k + s) dt`` (``k`` whole physics steps, ``0 <=
  s < 1``) feeds step ``j`` with ``(1 - s) u[j - k] + s u[j - k - 1]``, which is the mean over the
  step of the command delayed by exactly ``d``.  So a delay is a continuous parameter (a 4 ms
  latency on a 5 ms physics grid is 4 ms, not one step), and a whole number of steps replays
  exactly what MuJoCo's native delay does in training.
- **Comparison.** Predictions are compared with the log at the log's own (irregular) sample
  times inside each window (after the start sample): the simulated trajectory, recorded after
  every physics step, is linearly interpolated at those times (quaternions renormalized); an
  actuator force is computed from the state at the start of its physics step and is
  interpolated as a sample of that time (a drive's torque reading is of its present state).

All windows (x ``replicas`` parameter variants, for finite-difference Jacobians) are simulations
of ONE :class:`~sim2real.sim.batch.BatchSim`, run by one ``Batch.rollout`` call on MuJoCo's threads.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import mujoco
import numpy as np

from sim2real.errors import LogError, Sim2RealError, SpecMismatchError
from sim2real.logs.trajectory import BaseTrack, Trajectory, rotate
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec
from sim2real.sim.batch import BatchSim
from sim2real.sim.continuity import clear_windows
from sim2real.sim.floating import base_joint
from sim2real.sim.velocity_source import choose_velocity_source, local_slope

log = logging.getLogger(__name__)

VelocitySource = Literal["auto", "log", "fd"]

BASE_WIDTH = 13
"""Columns of a base state row: position (3) [m], quaternion w, x, y, z (4), linear velocity in the
world frame (3) [m/s], angular velocity in the base frame (3) [rad/s] (MuJoCo's free-joint layout)."""

__all__ = [
    "BASE_WIDTH",
    "Prediction",
    "Replayer",
    "VelocitySource",
    "Windows",
    "base_rows",
    "build_windows",
    "check_log_fits",
]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Windows:
    """Replay windows over one or more logs.

    ``W`` windows, ``E`` evaluation samples (over all windows), ``n`` policy joints, ``m``
    actuators, ``nstep`` physics steps per window, ``L`` lead steps.  Arrays are read-only.
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
    lead_command: np.ndarray
    """Commands in force during the ``L`` physics steps before each start, oldest first, shape (W, L, m)."""
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
    base0: np.ndarray | None = None
    """Floating base: logged base state at each start, shape (W, 13) (:data:`BASE_WIDTH`), else None."""
    base: np.ndarray | None = None
    """Floating base: logged base state at the evaluation samples, shape (E, 13), else None."""
    base_source: tuple[str, ...] = ()
    """Floating base: each log's base track, ``ground_truth`` or ``estimate``."""

    @property
    def n_windows(self) -> int:
        """Number of windows W."""
        return int(self.t0.size)

    @property
    def n_eval(self) -> int:
        """Number of evaluation samples E."""
        return int(self.eval_tau.size)

    @property
    def lead(self) -> int:
        """Number of lead steps L (the longest actuator delay replayable is ``(L - 1) * dt``)."""
        return int(self.lead_command.shape[1])

    @property
    def floating(self) -> bool:
        """Whether the windows start from base states (a floating-base model)."""
        return self.base0 is not None

    @property
    def eval_log(self) -> np.ndarray:
        """Log index of each evaluation sample, shape (E,)."""
        return self.log[self.eval_window]

    def select(self, keep: np.ndarray) -> Windows:
        """The windows whose mask ``keep`` (W,) is True, with their evaluation samples."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1
        ev = keep[self.eval_window]
        return replace(
            self,
            log=_frozen(self.log[keep]),
            start=_frozen(self.start[keep]),
            t0=_frozen(self.t0[keep]),
            q0=_frozen(self.q0[keep]),
            qd0=_frozen(self.qd0[keep]),
            command=_frozen(self.command[keep]),
            lead_command=_frozen(self.lead_command[keep]),
            eval_window=_frozen(new_index[self.eval_window[ev]]),
            eval_sample=_frozen(self.eval_sample[ev]),
            eval_tau=_frozen(self.eval_tau[ev]),
            q=_frozen(self.q[ev]),
            qd=_frozen(self.qd[ev]),
            tau=None if self.tau is None else _frozen(self.tau[ev]),
            base0=None if self.base0 is None else _frozen(self.base0[keep]),
            base=None if self.base is None else _frozen(self.base[ev]),
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


def _check_base_setup(spec: RobotSpec, traj: Trajectory, name: str, floating: bool) -> None:
    """Raise unless the log was recorded in the model's setup (free, or hung by its base)."""
    hung = bool(traj.meta.get("fixed_base", False))
    if floating and hung:
        raise LogError(
            f"{name}: recorded with the robot hung by its base (fixed base); replay it on the hung "
            "model (--fixed-base)"
        )
    if not floating and spec.base_body is not None and not hung:
        raise LogError(
            f"{name}: a log of the free robot cannot be replayed with its base fixed; --fixed-base "
            "needs a log recorded hung by the base (sim2real record --fixed-base)"
        )
    if floating and traj.base is None:
        raise LogError(
            f"{name}: the log of floating-base robot '{spec.name}' carries no base state (a bag's /odom "
            "or /ground_truth/odom, a CSV map's base_* or gyro/accel columns); replay windows must start "
            "from the base pose and velocity"
        )


def base_rows(track: BaseTrack, times: np.ndarray) -> np.ndarray:
    """A base track at ``times`` as rows of :data:`BASE_WIDTH` (MuJoCo's free-joint layout).

    Args:
        track: Base states (velocities in the base frame).
        times: Query times, shape (N,) [s].

    Returns:
        Shape (N, 13): position, quaternion, world-frame linear velocity, base-frame angular velocity.
    """
    at = track.at(times)
    return np.concatenate(
        [at["position"], at["quat"], rotate(at["quat"], at["lin_vel"]), at["ang_vel"]], axis=1
    )


def _lead_steps(model: mujoco.MjModel, act_ids: np.ndarray) -> int:
    """Physics steps of commands kept before each window: the delay capacity of the model plus one."""
    capacity = int(model.actuator_history[act_ids, 0].max()) if act_ids.size else 0
    return max(capacity, 1) + 1


def _window_starts(t: np.ndarray, horizon: float | None, stride: float | None) -> tuple[np.ndarray, float]:
    """Start sample of each window and the window length [s]."""
    if horizon is None:
        return np.array([0]), float(t[-1] - t[0])
    step = horizon if stride is None else stride
    count = int(min(np.floor((t[-1] - t[0]) / step + 1e-9) + 1, t.size))  # a step under the sample
    targets = t[0] + step * np.arange(count) if count < t.size else t  # period: every sample starts one
    starts = np.unique(np.searchsorted(t, targets - 1e-9, side="left"))
    return starts[starts < t.size - 1], float(horizon)


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
    lead_time: float | None = None,
) -> Windows:
    """Cut logs into replay windows (see the module docstring for the protocol).

    Args:
        spec: The robot.
        trajectories: One or more logs of it.
        horizon: Window length [s]; None for one open-loop replay per log.
        stride: Time between window starts [s] (default: the horizon).
        velocity: Initial velocities from the log's velocity column ("log"), from the slope of a
            local quadratic fit to positions ("fd"), or "auto": whichever of the two the log
            shows to be the more accurate (:func:`~sim2real.sim.velocity_source.choose_velocity_source`).
        fd_half_width: Half-width of the local fit [s] (velocity="fd").
        model: Compiled model (its delay capacity, and whether its base floats: the free model,
            or :func:`~sim2real.sim.floating.hung_model`); default: the nominal model.
        names: A name per log for reports (default: ``meta["source"]`` or ``log<i>``).
        lead_time: Keep at least this many seconds of commands before each window (the longest
            replayable actuator delay); default: the model's actuator delay capacity.

    Raises:
        LogError: a log that does not fit the robot (or its setup: a floating-base log without
            base states, a hung log on the free model), or no window with samples to compare.
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
    floating = base_joint(spec, model) is not None
    dt = float(model.opt.timestep)
    act_ids = np.array(
        [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
    )
    lead = _lead_steps(model, act_ids)
    if lead_time is not None:
        lead = max(lead, int(np.ceil(lead_time / dt - 1e-9)) + 1)
    if names is None:
        names = [str(tr.meta.get("source", f"log{i}")) for i, tr in enumerate(trajectories)]
    names = tuple(names)

    per_log = []
    for li, traj in enumerate(trajectories):
        check_log_fits(spec, traj, names[li])
        _check_base_setup(spec, traj, names[li], floating)
        jcols = np.array([traj.joint_index(j) for j in spec.joints])
        starts, length = _window_starts(traj.t, horizon, stride)
        q_all, qd_all = traj.q[:, jcols], traj.qd[:, jcols]
        source = choose_velocity_source(traj.t, q_all, qd_all, velocity, fd_half_width, names[li])
        qd0 = local_slope(traj.t, q_all, starts, fd_half_width) if source == "fd" else qd_all[starts]
        per_log.append((traj, starts, length, q_all, qd_all, qd0, source))

    longest = max(p[2] for p in per_log)
    nstep = max(1, int(np.ceil(longest / dt - 1e-9)))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _PARTS}
    have_tau = all(p[0].tau is not None for p in per_log)
    w_offset = 0
    for li, (traj, starts, length, q_all, qd_all, qd0, _) in enumerate(per_log):
        t = traj.t
        ccols = np.array([traj.command_joints.index(j) for j in spec.actuated_joints])
        acols = np.array([traj.joint_index(j) for j in spec.actuated_joints])
        t0 = t[starts]
        grid = t0[:, None] + dt * np.arange(-lead, nstep)[None, :]
        cmd = _command_at(traj, grid.ravel(), traj.command[0])[:, ccols].reshape(
            starts.size, lead + nstep, -1
        )
        keep = []
        clear = clear_windows(t, q_all, qd_all, starts, length, fd_half_width, names[li], horizon is not None)
        for k, (s, start_t) in enumerate(zip(starts, t0, strict=True)):
            hi = int(np.searchsorted(t, start_t + length + 1e-9, side="right"))
            idx = np.arange(s + 1, hi)
            idx = idx[t[idx] > start_t]
            if idx.size == 0 or not clear[k]:  # no sample, or it spans a jump of the log (continuity.py)
                continue
            keep.append(k)
            parts["eval_window"].append(np.full(idx.size, w_offset + len(keep) - 1))
            parts["eval_sample"].append(idx)
            parts["eval_tau"].append(np.minimum(t[idx] - start_t, nstep * dt))
            parts["q"].append(q_all[idx])
            parts["qd"].append(qd_all[idx])
            if have_tau:
                parts["tau"].append(traj.tau[idx][:, acols])
            if floating:
                parts["base"].append(base_rows(traj.base, t[idx]))
        keep = np.array(keep, dtype=int)
        w_offset += keep.size
        parts["log"].append(np.full(keep.size, li))
        parts["start"].append(starts[keep])
        parts["t0"].append(t0[keep])
        parts["q0"].append(q_all[starts[keep]])
        parts["qd0"].append(qd0[keep])
        parts["command"].append(cmd[keep, lead:])
        parts["lead_command"].append(cmd[keep, :lead])
        if floating:
            parts["base0"].append(base_rows(traj.base, t0[keep]))
    if w_offset == 0:
        raise LogError("the logs give no window with samples to compare (too short, or a jump in every window?)")
    arrays = {k: _frozen(np.concatenate(v)) if v else None for k, v in parts.items()}
    return Windows(
        horizon=horizon,
        dt=dt,
        nstep=nstep,
        names=names,
        velocity_source=tuple(p[6] for p in per_log),
        base_source=tuple(p[0].base.source for p in per_log) if floating else (),
        **arrays,
    )


_PARTS = (
    "log",
    "start",
    "t0",
    "q0",
    "qd0",
    "command",
    "lead_command",
    "eval_window",
    "eval_sample",
    "eval_tau",
    "q",
    "qd",
    "tau",
    "base0",
    "base",
)


def _command_at(traj: Trajectory, times: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Zero-order hold of the logged commands; before the first command, the first one.

    A command logged within 1 ns after a query time counts as in force (float round-off of grids).
    """
    idx = np.searchsorted(traj.command_t, times + 1e-9, side="right") - 1
    out = traj.command[np.maximum(idx, 0)].copy()
    out[idx < 0] = first
    return out


def delayed_commands(commands: np.ndarray, delay: np.ndarray, dt: float, lead: int) -> np.ndarray:
    """Commands as the actuators see them after fractional delays (see the module docstring).

    Args:
        commands: Commands held per physics step, the first ``lead`` steps before the window,
            shape (S, lead + nstep, m).
        delay: Delay of each actuator in each simulation, shape (S, m) [s], within ``(lead - 1) dt``.
        dt: Physics step [s].
        lead: Lead steps in ``commands``.

    Returns:
        Shape (S, nstep, m).
    """
    steps = np.asarray(delay, dtype=float) / dt
    k = np.floor(steps + 1e-6)
    frac = np.clip(steps - k, 0.0, 1.0)
    frac = np.where(frac < 1e-6, 0.0, frac)
    k = k.astype(np.int64)
    nstep = commands.shape[1] - lead
    idx = lead + np.arange(nstep)[None, :, None] - k[:, None, :]  # (S, nstep, m)
    now = np.take_along_axis(commands, idx, axis=1)
    before = np.take_along_axis(commands, idx - 1, axis=1)
    return (1.0 - frac[:, None, :]) * now + frac[:, None, :] * before


@dataclass(frozen=True, eq=False)
class Prediction:
    """Simulated values at the evaluation samples of some windows, for ``R`` parameter variants."""

    q: np.ndarray
    """Joint positions as the position sensors would read them, shape (R, E, n) [rad]."""
    qd: np.ndarray
    """Joint velocities, shape (R, E, n) [rad/s]."""
    force: np.ndarray | None
    """Actuator forces of the actuated joints, shape (R, E, m) [N m] (when recorded)."""
    base: np.ndarray | None = None
    """Floating base: base states, shape (R, E, 13) (:data:`BASE_WIDTH` layout), else None."""


class Replayer:
    """Runs replay windows as simulations of one :class:`BatchSim`, for parameter variants.

    Simulation ``r * W + w`` replays window ``w`` with parameter variant ``r``.  Actuator delays
    are applied to the commands (module docstring), so the batch's native actuator delays are 0.

    Args:
        spec: The robot.
        windows: From :func:`build_windows` (with the same model).
        model: Compiled model to start from (e.g. a calibrated or a hung one); default: nominal.
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
        self.diverged = np.zeros(0, dtype=np.int64)  # windows whose simulation diverged in the last run()
        model = copy.copy(model if model is not None else build_model(spec))
        if abs(model.opt.timestep - windows.dt) > 1e-15:
            raise Sim2RealError(f"windows were cut for dt={windows.dt}, the model steps {model.opt.timestep}")
        act_ids = np.array(
            [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
        )
        self.base = base_joint(spec, model)
        if (self.base is not None) != windows.floating:
            raise Sim2RealError("windows were cut for a model with another base (free or hung)")
        n_sims = windows.n_windows * replicas
        self._delay = np.tile(model.actuator_delay[act_ids], (n_sims, 1))
        model.actuator_delay[act_ids] = 0.0  # the delays act on the commands (module docstring)
        self._delay_index = {f"actuator.{a.actuator}.delay": i for i, a in enumerate(spec.actuators)}
        self.max_delay = (windows.lead - 1) * windows.dt
        """Longest actuator delay these windows can replay [s]."""
        self.sim = BatchSim(spec, n_sims, nthread=nthread, model=model)
        self.params = self.sim.params
        # interpolation of the recorded trajectory (initial state at index 0) at the evaluation times
        pos = windows.eval_tau / windows.dt
        k = np.clip(np.floor(pos).astype(np.int64), 0, windows.nstep - 1)
        self._k = k
        self._frac = np.clip(pos - k, 0.0, 1.0)[:, None]
        known = set(self.params.names)
        self._bias_pos = [
            n if n in known else None
            for n in (f"sensor.{spec.sensor_name(j + '.pos')}.bias" for j in spec.joints)
        ]
        self._bias_vel = [
            n if n in known else None
            for n in (f"sensor.{spec.sensor_name(j + '.vel')}.bias" for j in spec.joints)
        ]
        self._commands = np.concatenate([windows.lead_command, windows.command], axis=1)
        self._resolved: dict[str, list[str]] = {}

    def delays(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Actuator delays of some simulations (default: all), shape (S, m) [s]."""
        return self._delay.copy() if ids is None else self._delay[np.asarray(ids)]

    def _write(self, values: Mapping[str, np.ndarray], replicas: int, ids: np.ndarray, nw: int) -> None:
        """Write parameter values of ``replicas`` variants to the simulations ``ids``."""
        expanded = {}
        for key, raw in values.items():
            names = self._resolved.get(key)
            if names is None:
                names = self._resolved[key] = self.params.resolve([key])
            for name in names:
                v = np.asarray(raw, dtype=float)
                size = self.params.info(name).size
                v = np.broadcast_to(v.reshape(-1, size) if v.ndim else v.reshape(1, 1), (replicas, size))
                rows = np.repeat(v, nw, axis=0)
                if name in self._delay_index:
                    if np.any(rows < 0) or np.any(rows > self.max_delay + 1e-12):
                        raise Sim2RealError(
                            f"{name} = {float(np.max(rows)):.4g} s is outside what the replay holds "
                            f"(0 to {self.max_delay:.4g} s, the model's delay capacity)"
                        )
                    self._delay[ids, self._delay_index[name]] = rows[:, 0]
                else:
                    expanded[name] = rows
        if expanded:
            self.params.set(self.sim.batch, expanded, ids=ids)

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
            self._write(values, replicas, ids, nw)
        bias_q = self._bias(self._bias_pos, ids)
        bias_qd = self._bias(self._bias_vel, ids)
        q0 = np.tile(win.q0[sel_w], (replicas, 1)) - bias_q
        qd0 = np.tile(win.qd0[sel_w], (replicas, 1)) - bias_qd
        sim.reset(ids, qpos=q0, qvel=qd0)
        if self.base is not None:
            b0 = np.tile(win.base0[sel_w], (replicas, 1))
            sim.qpos[ids, self.base.qpos : self.base.qpos + 7] = b0[:, :7]
            sim.qvel[ids, self.base.dof : self.base.dof + 6] = b0[:, 7:]
            sim.batch.forward(ids=ids, stage=sim.stage)
        commands = np.tile(self._commands[sel_w], (replicas, 1, 1))
        record = ["qpos", "qvel"] + (["actuator_force"] if record_force else [])
        # one Batch.rollout, or a step at a time with actuator networks or Stribeck friction
        out = sim.rollout(ids, delayed_commands(commands, self._delay[ids], win.dt, win.lead), record)
        self.physics_steps += ids.size * win.nstep
        self.diverged = np.unique(sim.diverged % W)
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

        q = interp(out["qpos"][:, :, sim.qpos_idx], q0) + bias_q[sims]
        qd = interp(out["qvel"][:, :, sim.dof_idx], qd0) + bias_qd[sims]
        force = None
        if record_force:
            # the force of step k is computed from the state at its start, local time k dt
            act_force = out["actuator_force"][:, :, sim.act_idx]
            pos = win.eval_tau[ev] / win.dt
            k0 = np.clip(np.floor(pos).astype(np.int64), 0, win.nstep - 1)
            k1 = np.minimum(k0 + 1, win.nstep - 1)
            share = np.clip(pos - k0, 0.0, 1.0)[None, :, None]
            force = act_force[sims, k0[None, :]] + share * (
                act_force[sims, k1[None, :]] - act_force[sims, k0[None, :]]
            )
        base = None
        if self.base is not None:
            bq, bv = self.base.qpos, self.base.dof
            rec = np.concatenate([out["qpos"][:, :, bq : bq + 7], out["qvel"][:, :, bv : bv + 6]], axis=2)
            base = interp(rec, b0)
            base[..., 3:7] /= np.linalg.norm(base[..., 3:7], axis=-1, keepdims=True)
        return Prediction(q=q, qd=qd, force=force, base=base)

    def _bias(self, names: list[str | None], ids: np.ndarray) -> np.ndarray:
        out = np.zeros((ids.size, len(names)))
        for j, name in enumerate(names):
            if name is not None:
                out[:, j] = self.params.get(self.sim.batch, name)[ids, 0]
        return out
