"""Batched simulation on ``mujoco.batch``: N simulations of one robot stepped on a thread pool.

One control step is one call into MuJoCo's threads (``substeps`` physics steps each).  Each
simulation can have its own model fields (parameters written through :class:`sim2real.params.Parameters`,
which expands them in the batch); actuator models are MuJoCo-native affine actuators, so gains,
strength, offset, torque limits and native delays all act inside the physics substeps.  Actuator
networks and Stribeck friction run between physics steps (:mod:`sim2real.sim.drives`): with one
of them present, the substeps of a control step run one call each.
"""

from __future__ import annotations

import logging
import time

import mujoco
import mujoco.batch
import numpy as np

from sim2real.errors import SimulationError
from sim2real.params import Parameters
from sim2real.robots.model import (
    actuator_indices,
    base_joint,
    build_model,
    default_qpos,
    joint_dof_indices,
    joint_qpos_indices,
)
from sim2real.robots.spec import RobotSpec
from sim2real.sim.drives import Drives

log = logging.getLogger(__name__)


PER_SIM_BYTES = 160_000
"""Resident memory of one simulation of a batch beyond its ``mjData`` buffer [bytes] (measured: 177 kB
for the pendulum, 200 kB for the quadruped, 2,000 simulations each)."""


def batch_bytes(model: mujoco.MjModel, num_envs: int) -> tuple[int, int]:
    """Resident memory of a batch of ``num_envs`` simulations of ``model`` [bytes]: (total, per simulation).

    The batch shares one model (its meshes: mjlab's G1 71 MB, Go1 37 MB) and gives each simulation
    its own ``mjData`` (G1 0.9 MB): 300 G1 simulations measured 0.88 MB each after 50 steps; the
    arena (``narena``, 15 MB) is reserved, not resident."""
    per_sim = PER_SIM_BYTES + int(mujoco.MjData(model).nbuffer)
    return int(model.nbuffer) + num_envs * per_sim, per_sim


def _check_memory(model: mujoco.MjModel, num_envs: int) -> None:
    """Raise before allocating simulations that cannot fit in this machine's available memory
    (``--envs 1000000`` grew to 18 GB in 30 s before the kernel stepped in)."""
    need, per_sim = batch_bytes(model, num_envs)
    try:
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):  # not Linux: no check
        return
    if need > 0.8 * free:
        raise SimulationError(
            f"{num_envs:,} simulations need about {need / 1e9:.1f} GB ({per_sim / 1e3:.0f} kB each and "
            f"{model.nbuffer / 1e6:.0f} MB of model), but this machine has {free / 1e9:.1f} GB available: "
            "use fewer (--envs; identify: --max-windows)"
        )


class BatchSim:
    """N simulations of one robot.

    Args:
        spec: The robot.
        num_envs: Number of simulations N.
        nthread: Worker threads (0: every CPU).
        model: A compiled model of the robot to use instead of the nominal one.
        stage: ``mujoco.mjtStage`` computed after each control step; the default (velocity
            stage) makes position and velocity sensors current at the new state at no extra
            cost in a persistent batch.

    Attributes (live views, shape (N, ...)):
        qpos, qvel, ctrl, time, xfrc_applied, sensordata (read-only output).
        command: the last command of every actuator, spec order, shape (N, n_actions) (the input
            of actuator networks, whose ``ctrl`` is their torque).
    """

    def __init__(
        self,
        spec: RobotSpec,
        num_envs: int,
        nthread: int = 0,
        model: mujoco.MjModel | None = None,
        stage: int = int(mujoco.mjtStage.mjSTAGE_VEL),
    ) -> None:
        if num_envs < 1:
            raise SimulationError(f"num_envs must be at least 1, got {num_envs}")
        self.spec = spec
        self.model = model if model is not None else build_model(spec)
        self.params = Parameters(spec, self.model)
        self.num_envs = num_envs
        self.stage = stage
        self.physics_seconds = 0.0
        """Wall time spent inside MuJoCo's batched step calls [s] (for benchmarks; the actuator
        networks' time is ``drives.net_seconds``)."""
        self.diverged = np.zeros(0, dtype=np.int64)
        """Simulations of the last :meth:`rollout` that diverged (MuJoCo stopped them), shape (d,)."""
        _check_memory(self.model, num_envs)
        self.batch = mujoco.batch.Batch(self.model, num_envs, nthread, persistent=True)
        self.qpos = self.batch.bind("qpos")
        self.qvel = self.batch.bind("qvel")
        self.ctrl = self.batch.bind("ctrl")
        self.time = self.batch.bind("time")
        self.xfrc_applied = self.batch.bind("xfrc_applied")
        self.sensordata = self.batch.bind("sensordata")
        self.qpos_idx = joint_qpos_indices(spec, self.model)
        self.dof_idx = joint_dof_indices(spec, self.model)
        self.act_idx = actuator_indices(spec, self.model)
        self.default_qpos = default_qpos(spec, self.model)
        self.command = np.zeros((num_envs, spec.n_actions))
        self._previous_command = np.zeros_like(self.command)  # what actuator networks read (step)
        self.drives = Drives(spec, self.model, num_envs, self.qpos_idx, self.dof_idx, self.act_idx)
        """Actuator networks and Stribeck friction (stepped between physics steps)."""
        self._sensor_adr = {
            mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_SENSOR, i): (
                int(self.model.sensor_adr[i]),
                int(self.model.sensor_dim[i]),
            )
            for i in range(self.model.nsensor)
        }
        self.base_id = (
            mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body) if spec.base_body else -1
        )
        # the floating base's free joint, found from the base body (never assumed at address 0)
        joint = base_joint(spec, self.model)
        self.base_qpos_adr, self.base_dof_adr = (joint.qpos, joint.dof) if joint is not None else (-1, -1)
        self.reset()

    # --------------------------------------------------------------- state
    @property
    def joint_pos(self) -> np.ndarray:
        """Policy joint positions, shape (N, n_joints) [rad] (a copy)."""
        return self.qpos[:, self.qpos_idx]

    @property
    def joint_vel(self) -> np.ndarray:
        """Policy joint velocities, shape (N, n_joints) [rad/s] (a copy)."""
        return self.qvel[:, self.dof_idx]

    def sensor(self, name: str) -> np.ndarray:
        """Readings of a named sensor, shape (N, dim), as MuJoCo computed them (delays included)."""
        try:
            adr, dim = self._sensor_adr[name]
        except KeyError:
            raise SimulationError(f"no sensor '{name}' (sensors: {', '.join(self._sensor_adr)})") from None
        return self.sensordata[:, adr : adr + dim]

    @property
    def base_pos(self) -> np.ndarray:
        """Base position, shape (N, 3) [m] (floating base only)."""
        a = self.base_qpos_adr
        return self.qpos[:, a : a + 3]

    @property
    def base_quat(self) -> np.ndarray:
        """Base orientation quaternion (w, x, y, z), shape (N, 4) (floating base only)."""
        a = self.base_qpos_adr
        return self.qpos[:, a + 3 : a + 7]

    @property
    def base_lin_vel_world(self) -> np.ndarray:
        """Base linear velocity in the world frame, shape (N, 3) [m/s] (floating base only)."""
        d = self.base_dof_adr
        return self.qvel[:, d : d + 3]

    @property
    def base_ang_vel(self) -> np.ndarray:
        """Base angular velocity in the base frame, shape (N, 3) [rad/s] (floating base only)."""
        d = self.base_dof_adr
        return self.qvel[:, d + 3 : d + 6]

    # ---------------------------------------------------------------- step
    def step(self, command: np.ndarray | None = None, ids: np.ndarray | None = None) -> None:
        """Apply actuator commands and advance one control step (``substeps`` physics steps).

        Args:
            command: Shape (N, n_actions) in actuator units (rad targets, N m or V), in the
                spec's actuator order; None keeps the current controls.
            ids: Simulations to advance (None: all); ``command`` then has one row per id.
        """
        # an actuator network reads the command in force strictly before each instant (as it was
        # fitted: a control loop reads, then sends), so at the control step's first physics step
        # it still sees the previous command (sim2real.sysid.actuator_data)
        previous = None
        if self.drives.nets:
            previous = self._previous_command
            np.copyto(previous, self.command)
        if command is not None:
            command = np.asarray(command, dtype=float)
            rows = slice(None) if ids is None else np.asarray(ids)
            self.command[rows] = command
            native = self.drives.native
            self.ctrl[rows, self.act_idx[native]] = command[..., native]
        sel = np.arange(self.num_envs) if ids is None else np.asarray(ids, dtype=np.int64)
        friction = self.drives.stribeck(self.batch, sel)
        if not self.drives.nets and friction is None:
            start = time.perf_counter()
            self.batch.step(ids=ids, nstep=self.spec.substeps, stage=self.stage)
            self.physics_seconds += time.perf_counter() - start
            return
        for i in range(self.spec.substeps):
            self.substep(sel, friction, previous if i == 0 else None)

    def substep(
        self, ids: np.ndarray, friction: tuple[np.ndarray, np.ndarray] | None, seen: np.ndarray | None = None
    ) -> None:
        """One physics step of simulations ``ids`` (int64 array) with actuator networks and
        Stribeck friction (``friction``: :meth:`Drives.stribeck` of them) applied; ``seen`` is the
        command the networks read (default the present one), shape (N, n_actions)."""
        start, nets = time.perf_counter(), self.drives.net_seconds
        seen = self.command if seen is None else seen
        self.drives.step(self.batch, ids, self.qpos, self.qvel, self.ctrl, seen, self.stage, friction)
        self.physics_seconds += time.perf_counter() - start - (self.drives.net_seconds - nets)

    def rollout(self, ids: np.ndarray, commands: np.ndarray, record: list[str]) -> dict[str, np.ndarray]:
        """Advance simulations ``ids`` by ``commands.shape[1]`` physics steps, recording after each.

        Args:
            ids: Simulations, shape (k,).
            commands: Command of every actuator (spec order) held during each physics step,
                shape (k, nstep, n_actions); actuators not in the spec get control 0.
            record: Data fields to record (as ``mujoco.batch.Batch.rollout``).

        Returns:
            Field -> shape (k, nstep, ...).  One ``Batch.rollout`` call, or, with actuator networks
            or Stribeck friction, one call per physics step (:mod:`sim2real.sim.drives`).  The
            simulations that diverged on the way (MuJoCo stopped them; their records repeat or
            restart) are in :attr:`diverged` afterwards.
        """
        ids = np.asarray(ids, dtype=np.int64)
        nstep = commands.shape[1]
        end = self.time[ids] + nstep * float(self.model.opt.timestep)
        out = self._rollout(ids, commands, record)
        # MuJoCo stops (or resets) a simulation whose accelerations blew up: its clock falls short
        self.diverged = ids[self.time[ids] < end - 1e-9 * np.maximum(1.0, np.abs(end))]
        return out

    def _rollout(self, ids: np.ndarray, commands: np.ndarray, record: list[str]) -> dict[str, np.ndarray]:
        k, nstep = commands.shape[:2]
        friction = self.drives.stribeck(self.batch, ids)
        if not self.drives.nets and friction is None:
            ctrl = np.zeros((k, nstep, self.model.nu))
            ctrl[:, :, self.act_idx] = commands
            return self.batch.rollout(nstep, control=ctrl, ids=ids, record=record)
        bound = {name: self.batch.bind(name) for name in record}
        out = {name: np.empty((k, nstep, *bound[name].shape[1:])) for name in record}
        native = self.drives.native
        if self.drives.nets:  # the networks' histories start from the first command
            self.command[ids] = commands[:, 0]
            self.drives.reset(self.batch, ids, self.qpos, self.qvel, self.command)
        seen = self.command.copy() if self.drives.nets else None
        for j in range(nstep):
            if seen is not None:  # the networks read the command in force before the step (see step)
                seen[ids] = commands[:, max(j - 1, 0)]
            self.command[ids] = commands[:, j]
            self.ctrl[ids] = 0.0
            self.ctrl[np.ix_(ids, self.act_idx[native])] = commands[:, j, native]
            self.substep(ids, friction, seen)
            for name in record:
                out[name][:, j] = bound[name][ids]
        return out

    def reset(
        self,
        ids: np.ndarray | None = None,
        qpos: np.ndarray | None = None,
        qvel: np.ndarray | None = None,
        noise: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        """Reset simulations to the default pose (or a given state), optionally with noise.

        Args:
            ids: Simulations to reset (None: all).
            qpos: Policy joint positions to start from, shape (n, n_joints) or (n_joints,) [rad];
                None for the default pose.
            qvel: Policy joint velocities, same shapes [rad/s]; None for zero.
            noise: Half-width of uniform noise added to joint positions [rad].
            rng: Generator for the noise (required when noise > 0).
        """
        sel = np.arange(self.num_envs) if ids is None else np.asarray(ids, dtype=np.int64)
        if sel.size == 0:
            return
        self.batch.reset(ids=sel, stage=int(mujoco.mjtStage.mjSTAGE_NONE))
        full = np.tile(self.default_qpos, (sel.size, 1))
        if qpos is not None:
            full[:, self.qpos_idx] = qpos
        if noise > 0:
            if rng is None:
                raise SimulationError("reset with noise needs a seeded rng")
            full[:, self.qpos_idx] += rng.uniform(-noise, noise, (sel.size, self.spec.n_joints))
        self.qpos[sel] = full
        self.qvel[sel] = 0.0
        if qvel is not None:
            self.qvel[np.ix_(sel, self.dof_idx)] = qvel
        self.ctrl[sel] = 0.0
        self.command[sel] = 0.0
        for i, act in enumerate(self.spec.actuators):
            if act.model == "pd":
                self.command[sel, i] = self.spec.default_pose[self.spec.joints.index(act.joint)]
        native = self.drives.native
        self.ctrl[np.ix_(sel, self.act_idx[native])] = self.command[np.ix_(sel, native)]
        self.xfrc_applied[sel] = 0.0
        self.batch.forward(ids=sel, stage=self.stage)
        self.drives.reset(self.batch, sel, self.qpos, self.qvel, self.command)
        self._prime_delay_buffers(sel)

    def _prime_delay_buffers(self, sel: np.ndarray) -> None:
        """Fill the reset simulations' delay buffers with their current controls and sensor values.

        A reset leaves MuJoCo's history buffers at zero, so a delayed actuator would track a zero
        command (a PD joint would jerk towards 0 rad) and a delayed sensor would read 0 (a zero
        quaternion) until the delay has elapsed.  Priming makes every delayed signal start from the
        reset state, as if the robot had rested there.  Buffer layout per element:
        ``[phase, cursor, times (n), values (n * dim)]``.
        """
        m = self.model
        if m.nhistory == 0:
            return
        history = self.batch.bind("history")
        for a in np.flatnonzero(m.actuator_history[:, 0] > 0):
            n, adr = int(m.actuator_history[a, 0]), int(m.actuator_historyadr[a])
            history[sel, adr + 2 + n : adr + 2 + 2 * n] = self.ctrl[sel, m.actuator_ctrladr[a]][:, None]
        sensors = np.flatnonzero(m.sensor_history[:, 0] > 0)
        if sensors.size == 0:
            return
        delays = self.batch.expanded("sensor_delay")
        delays = m.sensor_delay[None, sensors] if delays is None else delays[np.ix_(sel, sensors)]
        if not np.any(delays > 0):
            return
        # the undelayed values: forward once with the delays of these simulations set to zero
        field = self.batch.expand("sensor_delay")
        saved = field[sel].copy()
        field[sel] = 0.0
        self.batch.forward(ids=sel, stage=int(mujoco.mjtStage.mjSTAGE_ACC))
        values = self.sensordata[sel]
        for s in sensors:
            n, adr, dim = int(m.sensor_history[s, 0]), int(m.sensor_historyadr[s]), int(m.sensor_dim[s])
            start = int(m.sensor_adr[s])
            history[sel, adr + 2 + n : adr + 2 + n + n * dim] = np.tile(values[:, start : start + dim], n)
        field[sel] = saved
        self.batch.forward(ids=sel, stage=self.stage)

    def check_finite(self) -> np.ndarray:
        """Simulations whose state is not finite, as an index array."""
        bad = ~(np.isfinite(self.qpos).all(axis=1) & np.isfinite(self.qvel).all(axis=1))
        return np.flatnonzero(bad)
