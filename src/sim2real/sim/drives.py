"""What runs between physics steps of a batch: actuator networks and Stribeck friction.

MuJoCo computes the native actuator models (PD, torque, DC motor) inside ``mj_step``, so a
control step is one batched call of ``substeps`` physics steps.  Two models cannot run there:

- an **actuator network** (:mod:`sim2real.sim.net_actuator`): its MuJoCo actuator is a plain
  torque motor (``force = strength * ctrl``, clipped to the torque limit); before every physics
  step the network's torque for every simulation and joint is computed in one batched
  onnxruntime call from each simulation's input history and written to ``ctrl``;
- **Stribeck friction** (:mod:`sim2real.robots.friction`): its speed-dependent friction is added
  to ``dof_frictionloss`` for that step (per simulation), so MuJoCo's friction constraint holds
  and brakes the joint with it, and taken off again after it.

:class:`Drives` holds both for one batch.  Only when one of them is present (a net actuator in the
spec, or a Stribeck friction above zero in any simulation) do the physics steps run one call
each; otherwise nothing changes and a control step stays one call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mujoco
import mujoco.batch
import numpy as np

from sim2real.errors import SimulationError
from sim2real.robots.actuation import ACTUATOR_USER, MODEL_CODES
from sim2real.robots.friction import JOINT_USER, stribeck_friction
from sim2real.robots.spec import RobotSpec
from sim2real.sim.net_actuator import DRIVE_INPUTS, NetDrives, load_net

__all__ = ["Drives", "NetGroup"]


@dataclass
class NetGroup:
    """The actuators of one network file in a batch."""

    drives: NetDrives
    """The network and its per-simulation history."""
    columns: np.ndarray
    """Their indices in the spec's actuator order, shape (m,)."""
    ctrl: np.ndarray
    """Their ctrl addresses, shape (m,)."""
    qpos: np.ndarray
    """qpos address of each one's joint, shape (m,)."""
    dof: np.ndarray
    """qvel address of each one's joint, shape (m,)."""
    rows: np.ndarray
    """Actuator ids (rows of ``actuator_user``), shape (m,)."""
    error: bool
    """The input is a position error (pd drive), else the command itself."""


class Drives:
    """Actuator networks and Stribeck friction of one batch (module docstring).

    Args:
        spec: The robot.
        model: The batch's model.
        n: Number of simulations.
        qpos_idx: qpos address of each policy joint.
        dof_idx: qvel address of each policy joint.
        act_idx: ctrl address of each actuator (spec order).
    """

    def __init__(
        self,
        spec: RobotSpec,
        model: mujoco.MjModel,
        n: int,
        qpos_idx: np.ndarray,
        dof_idx: np.ndarray,
        act_idx: np.ndarray,
    ) -> None:
        self.nets: list[NetGroup] = []
        by_file: dict[str, list[int]] = {}
        for i, act in enumerate(spec.actuators):
            if act.net is not None:
                by_file.setdefault(str(act.net), []).append(i)
        code = model.actuator_user[:, ACTUATOR_USER.index("model")]
        for path, cols in by_file.items():
            acts = [spec.actuators[i] for i in cols]
            rows = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in acts]
            if np.any(np.rint(code[rows]) != MODEL_CODES["net"]):
                raise SimulationError(
                    f"the model of {spec.name} was not built with its actuator networks (build it from this spec)"
                )
            joints = [a.joint for a in acts]
            drives = NetDrives(load_net(path), joints, [a.model for a in acts], float(model.opt.timestep), n)
            jcols = np.array([spec.joints.index(j) for j in joints])
            self.nets.append(
                NetGroup(
                    drives=drives,
                    columns=np.array(cols, dtype=np.int64),
                    ctrl=act_idx[cols],
                    qpos=qpos_idx[jcols],
                    dof=dof_idx[jcols],
                    rows=np.array(rows),
                    error=DRIVE_INPUTS[acts[0].model][0] == "position_error",
                )
            )
        self.native = np.array([i for i, a in enumerate(spec.actuators) if a.net is None], dtype=np.int64)
        """Actuators MuJoCo computes (spec order)."""
        self._joints = np.array(
            [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in spec.joints], dtype=np.int64
        )
        self._dofs = np.asarray(dof_idx, dtype=np.int64)
        self._model = model
        self.net_seconds = 0.0
        """Wall time spent computing the networks' inputs and torques [s] (for benchmarks)."""

    # ------------------------------------------------------------------ state
    def coverage(self) -> list[str]:
        """Every network input the simulations drove outside its fit's data so far
        (:meth:`~sim2real.sim.net_actuator.NetDrives.coverage`), one line each."""
        return [line for group in self.nets for line in group.drives.coverage()]

    def stribeck(self, batch: mujoco.batch.Batch, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Stribeck friction and velocity of the policy joints of simulations ``ids``, each (k, n),
        or None when no joint of them has any."""
        user = batch.expanded("jnt_user")
        if user is None:
            fs = self._model.jnt_user[self._joints, JOINT_USER.index("stribeck")]
            if not np.any(fs > 0):
                return None
            vs = self._model.jnt_user[self._joints, JOINT_USER.index("stribeck_velocity")]
            return np.broadcast_to(fs, (ids.size, fs.size)), np.broadcast_to(vs, (ids.size, vs.size))
        rows = user[ids][:, self._joints]
        fs = rows[..., JOINT_USER.index("stribeck")]
        if not np.any(fs > 0):
            return None
        return fs, rows[..., JOINT_USER.index("stribeck_velocity")]

    def active(self, batch: mujoco.batch.Batch, ids: np.ndarray) -> bool:
        """Whether physics steps must run one at a time for simulations ``ids``."""
        return bool(self.nets) or self.stribeck(batch, ids) is not None

    def _offset(self, batch: mujoco.batch.Batch, group: NetGroup, ids: np.ndarray) -> np.ndarray:
        user = batch.expanded("actuator_user")
        col = ACTUATOR_USER.index("offset")
        if user is None:
            return self._model.actuator_user[group.rows, col][None, :]
        return user[ids][:, group.rows, col]

    def _sample(
        self, batch: mujoco.batch.Batch, group: NetGroup, ids: np.ndarray, qpos, qvel, command
    ) -> np.ndarray:
        """Network inputs now, shape (k, m, 2)."""
        u = command[ids][:, group.columns]
        if group.error:
            u = u + self._offset(batch, group, ids) - qpos[ids][:, group.qpos]
        return np.stack([u, qvel[ids][:, group.dof]], axis=-1)

    def reset(self, batch: mujoco.batch.Batch, ids: np.ndarray, qpos, qvel, command) -> None:
        """Start the networks' histories of simulations ``ids`` from their present state."""
        for group in self.nets:
            group.drives.reset(ids, self._sample(batch, group, ids, qpos, qvel, command))

    # ------------------------------------------------------------------ one physics step
    def step(
        self,
        batch: mujoco.batch.Batch,
        ids: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        ctrl: np.ndarray,
        command: np.ndarray,
        stage: int,
        friction: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        """One physics step of simulations ``ids`` with the networks' torques and Stribeck friction.

        Args:
            batch: The batch.
            ids: Simulations, shape (k,).
            qpos, qvel, ctrl: The batch's bound state arrays.
            command: Commands of every simulation in the spec's actuator order, shape (N, m).
            stage: Stage computed after the step.
            friction: :meth:`stribeck` of these simulations (None: none).
        """
        if self.nets:
            start = time.perf_counter()
            for group in self.nets:
                tau = group.drives.torque(ids, self._sample(batch, group, ids, qpos, qvel, command))
                ctrl[ids[:, None], group.ctrl[None, :]] = tau
            self.net_seconds += time.perf_counter() - start
        every = None if ids.size == batch.nsim else ids  # ids are sorted and unique: all of them
        if friction is None:
            batch.step(ids=every, nstep=1, stage=stage)
            return
        loss = batch.expand("dof_frictionloss")
        at = (ids[:, None], self._dofs[None, :])
        base = loss[at].copy()
        loss[at] = base + stribeck_friction(qvel[at], *friction)
        try:
            batch.step(ids=every, nstep=1, stage=stage)
        finally:
            loss[at] = base
