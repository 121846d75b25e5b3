"""TwinRobot: a simulated stand-in for the real robot, with effects the training model lacks.

The twin is what "reality" is in the embedded loop.  It differs from the training simulator in
ways a real robot does:

- hidden physical parameters (a parameter file of true values: masses, damping, motor constants...);
- a finer physics timestep (fine enough for its own explicit torques, :mod:`.twin_steps`) and RK4;
- actuators computed here, per fine step, from the hidden actuator values, with
  - latency with jitter (each command takes effect after ``delay + U(-jitter, jitter)``; a
    command that takes effect within a fine step acts for that part of the step, so the latency
    is continuous, not rounded to the fine grid),
  - gear backlash on position-controlled (pd) joints: a dead band of the transmission, no
    torque until the play is taken up (direct-drive torque and voltage joints have none),
  - torque-speed saturation (the available torque falls linearly to 0 at ``no_load_speed``);
  - or, for a ``model: net`` actuator, the torque of its actuator network (evaluated every fine
    step in onnxruntime, :mod:`sim2real.sim.net_actuator`; the network stands for the drive, so
    neither backlash nor saturation is added to it);
- Stribeck friction of the joints (``joint.<j>.stribeck``, ``.stribeck_velocity`` among the hidden
  parameters, or the spec's ``friction:``), applied every fine step as in training's simulator
  (:mod:`sim2real.robots.friction`), besides MuJoCo's Coulomb friction and damping;
- encoder quantization, sensor noise and a constant bias; dropped readings (``Reading.valid`` False).

The effects are stated as angles (rad, rad/s); on a slide joint (a gripper's finger, a cart's rail)
each acts times ``slide_travel`` [m/rad], the travel per radian of its drive, in metres.

With ``explicit_actuators: false`` the twin keeps the training model's own actuators (MuJoCo's
affine actuators, whose PD damping ``implicitfast`` integrates implicitly) and writes the commands
to their controls: the nominal simulator of ``sim2real sim2sim``; backlash and the torque-speed
curve need the explicit actuators and do not apply then (a network's torque is its torque motor's
control, as in training).  Readings of a floating base carry the simulator's base linear velocity
(``Reading.base_lin_vel``, what an estimator gives on a robot) and, when the spec's observation
has a terrain height scan (a rough-terrain policy: the spec's layout is the policy's), the base's
height above the terrain on the scan's grid (``Reading.height_scan``), cast in the twin's own scene
by :func:`sim2real.sim.terrain_scan.cast_height_scan` (a twin whose spec has none casts no ray).

It runs in lockstep (each ``write`` advances one control period; fast) or paced to the wall clock
(``realtime``: the simulation follows the wall clock and ``write`` does not block, as on a robot).

With ``fixed_base=True`` the twin hangs by its base (:func:`~sim2real.sim.floating.hung_model`):
the legs swing in the air, as a legged robot is hung from a stand for identification.  A floating
twin keeps its true base state at each reading (:attr:`TwinRobot.read_base`), the ground truth
that logs record next to the state estimate.

Commands follow the Robot protocol: ``normal`` and ``hold`` commands are applied as given, after
the actuator latency; a ``safe`` command (or :meth:`TwinRobot.stop`) enters safe mode at once, and
safe mode lasts until the first later command takes effect (after its latency), never applying an
older target in between.  :meth:`TwinRobot.now` is the clock its readings are stamped on.  A paced
twin keeps moving while its controller stalls, as a robot does: ``read`` and ``write`` first catch
the simulation up with the wall clock, applying the commands it already has.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import mujoco
import numpy as np

from sim2real.errors import ParameterError, Sim2RealError, SpecError
from sim2real.params import Parameters
from sim2real.real.base_state import BaseState
from sim2real.real.protocol import Command, Reading
from sim2real.real.twin_config import INTEGRATORS, TwinConfig, TwinEffects
from sim2real.real.twin_steps import divergence_hint, stable_steps
from sim2real.robots.actuation import ActuatorArrays, implied_torque
from sim2real.robots.friction import JOINT_USER, stribeck_friction
from sim2real.robots.model import (
    build_model,
    default_qpos,
    joint_dof_indices,
    joint_qpos_indices,
    spec_floor_height,
)
from sim2real.robots.spec import RobotSpec
from sim2real.sim.divergence import checked_step
from sim2real.sim.floating import base_joint, hung_model
from sim2real.sim.net_actuator import DRIVE_INPUTS, NetDrives, load_net
from sim2real.sim.terrain_scan import cast_height_scan, scan_setup

__all__ = ["TwinConfig", "TwinEffects", "TwinRobot"]

log = logging.getLogger(__name__)


class TwinRobot:
    """The Robot protocol on a MuJoCo twin.

    Args:
        spec: The robot (as the policy knows it).
        config: Hidden parameters and unmodeled effects.
        realtime: The simulation follows the wall clock, like a robot: ``read`` and ``write``
            first catch it up, ``write`` queues the command without blocking (the control loop
            paces itself).  Else lockstep: each ``write`` advances one control period, as fast as
            it computes.
        initial_qpos: Policy joint positions to start from (default pose if None).
        fixed_base: Hang the robot by its base (legs in the air); needs a floating-base robot.
    """

    def __init__(
        self,
        spec: RobotSpec,
        config: TwinConfig | None = None,
        realtime: bool = False,
        initial_qpos: np.ndarray | None = None,
        fixed_base: bool = False,
    ) -> None:
        self.spec = spec
        self.config = config or TwinConfig()
        fx = self.config.effects
        if fx.substep_factor < 1:
            raise Sim2RealError("twin substep_factor must be at least 1")
        if fx.integrator not in INTEGRATORS:
            raise Sim2RealError(f"twin integrator must be one of {', '.join(INTEGRATORS)}")
        if fixed_base:
            try:
                model = hung_model(spec)
            except SpecError as exc:
                raise Sim2RealError(f"twin: {exc}") from None
        else:
            model = build_model(spec)
        self.fixed_base = fixed_base
        """Whether the twin hangs by its base."""
        self.model = model
        params = Parameters(spec, model)
        try:
            params.set(model, self.config.params)
        except ParameterError as exc:
            raise Sim2RealError(f"twin parameters: {exc}") from None
        self.params = params
        act_joint = [spec.joints.index(a.joint) for a in spec.actuators]  # each actuator's joint in spec.joints
        self._act_ids = np.array(
            [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
        )
        self._actuation = ActuatorArrays.from_user(spec, model.actuator_user[self._act_ids])
        """The hidden actuator values (the model's, after the twin's parameters were set)."""
        self._limit = model.actuator_forcerange[self._act_ids, 1].copy()
        self._safe_damping = np.asarray(spec.safety.damping)[act_joint]  # safe mode's gain [N m s/rad]
        self._delay = model.actuator_delay[self._act_ids].copy()
        self._models = [a.model for a in spec.actuators]
        # the model's own actuator coefficients (implicit mode), and the safe-mode ones
        self._own = (model.actuator_gainprm[self._act_ids, 0].copy(), model.actuator_biasprm[self._act_ids, :3].copy())
        self._own_ctrlrange = model.actuator_ctrlrange[self._act_ids].copy()
        self._coefficients = "own"
        if fx.explicit_actuators:
            self._torque_inputs()
        model.actuator_delay[self._act_ids] = 0.0  # latency is applied here, with jitter
        self._dof_idx = joint_dof_indices(spec, model)
        self._act_dof = np.array([self._dof_idx[j] for j in act_joint])
        model.opt.integrator = INTEGRATORS[fx.integrator]  # (RK4 takes the joints' own damping explicitly)
        self.substep_factor = stable_steps(spec, model, self._actuation, self._act_dof, fx.substep_factor, fx.explicit_actuators)
        model.opt.timestep = spec.physics_dt / self.substep_factor
        self._divergence_hint = divergence_hint(fx.integrator, float(model.opt.timestep), self.substep_factor)
        self.data = mujoco.MjData(model)
        self.rng = np.random.default_rng(fx.seed)
        self.realtime = realtime
        self._qpos_idx = joint_qpos_indices(spec, model)
        self._act_qpos = np.array([self._qpos_idx[j] for j in act_joint])
        self._ctrl_idx = model.actuator_ctrladr[self._act_ids]
        self._base = base_joint(spec, model)  # None when the base is fixed (hung, or no floating base)
        self._floor = spec_floor_height(spec, model) if self._base is not None else 0.0
        """The floor under the robot [m, world z]: base heights are measured from it."""
        self.read_base: BaseState | None = None
        """The true base state at the last :meth:`read` (floating twin only; for logs and evaluation)."""
        # the effects are angles: a slide joint's are slide_travel metres per radian of them
        slide = model.jnt_type[model.dof_jntid[self._dof_idx]] == mujoco.mjtJoint.mjJNT_SLIDE
        unit = np.where(slide, fx.slide_travel, 1.0)  # per joint
        own = fx.encoder_resolution is None  # the spec's resolution: in each joint's unit, as training reads it
        self._resolution = np.full(spec.n_joints, spec.encoder.resolution) if own else fx.encoder_resolution * unit
        self._bias, self._noise = fx.position_bias * unit, (fx.position_noise * unit, fx.velocity_noise * unit)
        self._gyro = self._sensor_slice(spec.sensor_name("imu.gyro"))
        self._accel = self._sensor_slice(spec.sensor_name("imu.accel"))
        accel_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, spec.sensor_name("imu.accel"))
        self._accel_site = int(model.sensor_objid[accel_id]) if accel_id >= 0 else -1
        """The accelerometer's site (-1: none): where a twin not yet stepped reads gravity (:meth:`read`)."""
        self._quat = self._sensor_slice(spec.sensor_name("imu.quat"))
        self._fine_steps = spec.substeps * self.substep_factor
        self._pending: deque[tuple[float, np.ndarray, str]] = deque()
        self._active = np.zeros(spec.n_actions)
        self._mode = "hold"
        self._backlash_side = np.zeros(spec.n_actions)
        self._last_reading: Reading | None = None
        self._wall_start = time.perf_counter()
        self._flip = np.array([-1.0 if a.joint in fx.flip_sign else 1.0 for a in spec.actuators])
        unknown = set(fx.flip_sign) - set(spec.actuated_joints)
        if unknown:
            raise Sim2RealError(f"twin flip_sign: {', '.join(sorted(unknown))} are not actuated joints")
        self._stop_at: float | None = None
        self.safe = False
        joints = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in spec.joints]
        self._stribeck = model.jnt_user[joints][:, [JOINT_USER.index(q) for q in JOINT_USER]].T.copy()
        self._frictionloss = model.dof_frictionloss[self._dof_idx].copy()
        self._nets = self._net_drives()
        self._net_tau = np.zeros(spec.n_actions)
        # per-run constants of the fine step (the values are the ones above; only the lookups are saved)
        self._h = float(model.opt.timestep)
        self._half_step = np.full(spec.n_actions, 0.5 * self._h)  # the torques' look-ahead [s], per actuator
        self._explicit = fx.explicit_actuators
        act_unit = unit[[spec.joints.index(a.joint) for a in spec.actuators]]
        self._backlash, self._no_load_speed = fx.backlash * act_unit, fx.no_load_speed * act_unit
        self._bounds = np.zeros(spec.n_actions), np.ones(spec.n_actions)
        self._stribeck_on = bool(np.any(self._stribeck[0] > 0))
        self._neg_limit = -self._limit
        self._neg_safe_damping = -self._safe_damping
        self._damping_safe_mode = spec.safety.safe_mode == "damping"
        self._flipped = bool(np.any(self._flip != 1.0))  # 1.0 * x is x, bit for bit: skipped
        self._tau_joints = np.array(act_joint, dtype=np.int64)
        d = self.data  # views into the data and model (never reallocated): no lookup per step
        self._qpos, self._qvel, self._qacc, self._ctrl = d.qpos, d.qvel, d.qacc, d.ctrl
        self._dof_frictionloss = model.dof_frictionloss
        self._aq, self._ad = _as_slice(self._act_qpos), _as_slice(self._act_dof)
        self._ctrl_at, self._dofs_at = _as_slice(self._ctrl_idx), _as_slice(self._dof_idx)
        self._scan = scan_setup(self.spec, self.model)
        """The spec's height scan in the twin's scene, or None."""
        self._scan_out = None if self._scan is None else np.empty((1, len(self._scan.grid)))
        self.reset(initial_qpos)

    @property
    def gives_height_scan(self) -> bool:
        """Whether readings carry a terrain height scan (``Reading.height_scan``): the spec observes
        one (a twin hung by its base scans from where it hangs)."""
        return self._scan is not None

    def _torque_inputs(self) -> None:
        """Switch the actuators to plain torque inputs (ctrl = joint torque, clipped to the limit)."""
        m = self.model
        m.actuator_gainprm[self._act_ids, 0] = 1.0
        m.actuator_biasprm[self._act_ids, :3] = 0.0
        m.actuator_forcerange[self._act_ids] = np.stack([-self._limit, self._limit], axis=1)
        m.actuator_ctrlrange[self._act_ids] = np.stack([-self._limit, self._limit], axis=1)
        self._coefficients = "torque"

    def _own_actuators(self) -> None:
        """Back to the model's own actuator coefficients (implicit mode, after safe mode)."""
        m = self.model
        m.actuator_gainprm[self._act_ids, 0] = self._own[0]
        m.actuator_biasprm[self._act_ids, :3] = self._own[1]
        m.actuator_ctrlrange[self._act_ids] = self._own_ctrlrange
        self._coefficients = "own"

    def _net_drives(self) -> list[tuple[NetDrives, np.ndarray]]:
        """The actuator networks of ``model: net`` actuators, with their columns (spec order)."""
        by_file: dict[str, list[int]] = {}
        for i, act in enumerate(self.spec.actuators):
            if act.net is not None:
                by_file.setdefault(str(act.net), []).append(i)
        out = []
        for path, cols in by_file.items():
            acts = [self.spec.actuators[i] for i in cols]
            try:
                drives = NetDrives(
                    load_net(path), [a.joint for a in acts], [a.model for a in acts], float(self.model.opt.timestep), 1
                )
            except SpecError as exc:
                raise Sim2RealError(f"twin: {exc}") from None
            out.append((drives, np.array(cols, dtype=np.int64)))
        return out

    def _net_sample(self, cols: np.ndarray) -> np.ndarray:
        """Network inputs of actuators ``cols`` now, shape (1, m, 2)."""
        u = self._active[cols].copy()
        if DRIVE_INPUTS[self.spec.actuators[cols[0]].model][0] == "position_error":
            u = u + self._actuation.offset[cols] - self.data.qpos[self._act_qpos[cols]]
        return np.stack([u, self.data.qvel[self._act_dof[cols]]], axis=-1)[None]

    def _sensor_slice(self, name: str) -> slice | None:
        sid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SENSOR, name)
        if sid < 0:
            return None
        adr = int(self.model.sensor_adr[sid])
        return slice(adr, adr + int(self.model.sensor_dim[sid]))

    # ---------------------------------------------------------------- control
    def reset(self, qpos: np.ndarray | None = None, qvel: np.ndarray | None = None) -> None:
        """Put the twin back at a pose (policy joints), at rest, holding position."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = default_qpos(self.spec, self.model)
        if qpos is not None:
            self.data.qpos[self._qpos_idx] = qpos
        if qvel is not None:
            self.data.qvel[self._dof_idx] = qvel
        mujoco.mj_forward(self.model, self.data)
        self._pending.clear()
        self._active = self._hold_command()
        for drives, cols in getattr(self, "_nets", ()):
            drives.reset(np.zeros(1, dtype=np.int64), self._net_sample(cols))
        self._net_tau = np.zeros(self.spec.n_actions)
        self._mode = "normal"
        self.safe = False
        self._stop_at = None
        self._last_reading = None
        self._wall_start = time.perf_counter()

    def _hold_command(self) -> np.ndarray:
        cmd = np.zeros(self.spec.n_actions)
        for i, m in enumerate(self._models):
            if m == "pd":
                cmd[i] = self.data.qpos[self._act_qpos[i]]
        return cmd

    def read(self) -> Reading:
        """The robot's current measurements (noisy, quantized, biased, sometimes dropped)."""
        if self.realtime:
            self._catch_up()
        fx = self.config.effects
        d = self.data
        n = self.spec.n_joints
        q = d.qpos[self._qpos_idx] + self._bias + self._noise[0] * self.rng.standard_normal(n)
        if (res := self._resolution).any():
            q = np.where(res > 0, np.round(q / np.where(res > 0, res, 1.0)) * res, q)
        qd = d.qvel[self._dof_idx] + self._noise[1] * self.rng.standard_normal(n)
        tau = np.zeros(n)  # the drives' torque at the present state, as their current readings give it
        tau[self._tau_joints] = self._torque()
        gyro = accel = quat = None
        height = None
        if self._gyro is not None:
            gyro = d.sensordata[self._gyro] + fx.gyro_noise * self.rng.standard_normal(3)
            accel = d.sensordata[self._accel].copy()
            if d.time == 0.0 and self._accel_site >= 0:
                # not yet stepped since reset: the robot stands or hangs where it was put, at rest, and
                # its accelerometer reads gravity (mj_forward of a base placed just above the floor
                # gave free fall, about 0, for the whole wait before the first command)
                accel = d.site_xmat[self._accel_site].reshape(3, 3).T @ -self.model.opt.gravity
            quat = d.sensordata[self._quat].copy()
        lin_vel = None
        if self._base is not None:
            height = float(d.qpos[self._base.qpos + 2]) - self._floor
            self.read_base = self.base_state()
            lin_vel = self.read_base.lin_vel.copy()
        scan = None
        if self._scan is not None:
            sc, base = self._scan, self.read_base  # the base's pose: the IMU's quat stays the reading's
            at, turn = (base.position, base.quat) if base is not None else (d.xpos[sc.body], d.xquat[sc.body])
            scan = cast_height_scan(self.model, d, at[None], turn[None], sc.grid, sc.terrain, out=self._scan_out)[0]
        reading = Reading(
            t=float(d.time),
            q=q,
            qd=qd,
            tau=tau,
            gyro=gyro,
            accel=accel,
            quat=quat,
            base_height=height,
            base_lin_vel=lin_vel,
            height_scan=scan,
            valid=True,
        )
        if self._last_reading is not None and self.rng.random() < fx.drop_probability:
            last = self._last_reading
            return Reading(
                t=last.t,
                q=last.q,
                qd=last.qd,
                tau=last.tau,
                gyro=last.gyro,
                accel=last.accel,
                quat=last.quat,
                base_height=last.base_height,
                base_lin_vel=last.base_lin_vel,
                height_scan=last.height_scan,
                valid=False,
            )
        self._last_reading = reading
        return reading

    def write(self, command: Command) -> None:
        """Queue a command (it takes effect after the actuator latency) and advance one control period
        (lockstep); a realtime twin catches up with the wall clock first and does not advance further."""
        values = np.asarray(command.values, dtype=float)
        if values.shape != (self.spec.n_actions,):
            raise Sim2RealError(
                f"command has shape {values.shape}, the robot has {self.spec.n_actions} actuators"
            )
        if self.realtime:
            self._catch_up()
        if command.mode == "safe":
            self.stop()
        else:
            # the protocol: safe mode lasts until the next normal (or hold) command; it ends when that
            # command reaches the actuators (after the latency), see _fine_step
            self._stop_at = None  # a normal command before a delayed stop took effect cancels it
            jitter = self.config.effects.latency_jitter
            lag = float(np.max(self._delay)) + (self.rng.uniform(-jitter, jitter) if jitter > 0 else 0.0)
            self._pending.append((self.data.time + max(lag, 0.0), values.copy(), command.mode))
        if not self.realtime:
            self._advance()

    def now(self) -> float:
        """The clock the readings are stamped on [s]: simulated time in lockstep, wall time since the
        last :meth:`reset` when paced (``realtime``)."""
        if self.realtime:
            return max(time.perf_counter() - self._wall_start, float(self.data.time))
        return float(self.data.time)

    def set_state(
        self,
        joint_pos: dict[str, float] | None = None,
        joint_vel: dict[str, float] | None = None,
        base_height: float | None = None,
        base_quat: np.ndarray | None = None,
    ) -> None:
        """Push the true state (fault injection and tests): joints by name [rad, rad/s], base height
        above the floor [m] and orientation (w, x, y, z) of a floating base.  The readings reflect it
        at once."""
        d = self.data
        for name, value in (joint_pos or {}).items():
            d.qpos[self._qpos_idx[self.spec.joints.index(name)]] = value
        for name, value in (joint_vel or {}).items():
            d.qvel[self._dof_idx[self.spec.joints.index(name)]] = value
        if base_height is not None or base_quat is not None:
            if self._base is None:
                raise Sim2RealError(
                    f"{self.spec.name} has no floating base{' (hung)' if self.fixed_base else ''}"
                )
            adr = self._base.qpos
            if base_height is not None:
                d.qpos[adr + 2] = base_height + self._floor
            if base_quat is not None:
                quat = np.asarray(base_quat, dtype=float)
                d.qpos[adr + 3 : adr + 7] = quat / np.linalg.norm(quat)
        mujoco.mj_forward(self.model, d)

    def base_state(self) -> BaseState:
        """The true floating-base state now (no noise, never dropped), for evaluation only.

        Raises:
            Sim2RealError: the robot has no floating base (or hangs by it).
        """
        if self._base is None:
            raise Sim2RealError(
                f"{self.spec.name} has no floating base{' (hung)' if self.fixed_base else ''}"
            )
        d = self.data
        adr, dof = self._base.qpos, self._base.dof
        quat = d.qpos[adr + 3 : adr + 7].copy()
        quat /= np.linalg.norm(quat)
        lin_world = d.qvel[dof : dof + 3].copy()
        inv = np.zeros(4)
        mujoco.mju_negQuat(inv, quat)
        lin_base = np.zeros(3)
        mujoco.mju_rotVecQuat(lin_base, lin_world, inv)
        return BaseState(
            t=float(d.time),
            position=d.qpos[adr : adr + 3].copy(),
            quat=quat,
            lin_vel_world=lin_world,
            lin_vel=lin_base,
            ang_vel=d.qvel[dof + 3 : dof + 6].copy(),  # a free joint's angular velocity is in the body frame
            floor=self._floor,
        )

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The true joint positions [rad], velocities [rad/s] (n_joints,) and actuator torques [N m]
        (n_actions,) now: no noise, never dropped (for evaluation only)."""
        d = self.data
        return d.qpos[self._qpos_idx].copy(), d.qvel[self._dof_idx].copy(), d.actuator_force[self._act_ids].copy()

    def stop(self) -> None:
        """Enter the spec's safe mode at once (damping or zero torque) until the next normal command."""
        if self.realtime:
            self._catch_up()  # the robot ran its last command until now
        delay = self.config.effects.stop_delay
        if delay > 0 and not self.safe:
            if self._stop_at is None:
                self._stop_at = float(self.data.time) + delay
            return
        self.safe = True
        self._pending.clear()

    def close(self) -> None:
        """Enter safe mode; nothing else to release."""
        self.stop()

    def _fine_step(self) -> None:
        d = self.data
        t = d.time  # the time of this step's start (mj_step alone moves it)
        pending = self._pending
        if self._stop_at is not None and t + 1e-12 >= self._stop_at:
            self._stop_at = None
            self.safe = True
            pending.clear()
        h = self._h
        while pending and pending[0][0] <= t + 1e-12:
            # normal and hold commands are both applied as given (Command docstring)
            _, self._active, _ = pending.popleft()
            self.safe = False
        for drives, cols in self._nets:  # one network evaluation per fine step
            self._net_tau[cols] = drives.torque(_FIRST, self._net_sample(cols))[0]
        tau = self._control(self._half_step)
        if pending and pending[0][0] < t + h - 1e-12:
            # a command taking effect inside this step acts for the rest of it: the latency is
            # continuous (in the mean over the step), not rounded up to the fine grid
            due = pending[0][0]
            while pending and pending[0][0] < t + h - 1e-12:
                _, self._active, _ = pending.popleft()
            self.safe = False
            share = (t + h - due) / h
            tau = (1.0 - share) * tau + share * self._control(self._half_step)
        self._ctrl[self._ctrl_at] = tau
        if self._stribeck_on:  # Stribeck friction: the friction loss at this speed (robots/friction.py)
            stribeck, velocity = self._stribeck
            qd = self._qvel[self._dofs_at]
            self._dof_frictionloss[self._dofs_at] = self._frictionloss + stribeck_friction(qd, stribeck, velocity)
        checked_step(self.model, d, self._divergence_hint)

    def _control(self, ahead: float | np.ndarray = 0.0) -> np.ndarray:
        """The actuators' controls this fine step: torques at the state ``ahead`` seconds from now
        (explicit actuators, and safe mode), else the active commands into the model's own
        actuators."""
        if self._explicit or self.safe:
            if self._coefficients != "torque":
                self._torque_inputs()
            return self._torque(ahead)
        if self._coefficients != "own":
            self._own_actuators()
        ctrl = self._active.copy()
        for _, cols in self._nets:  # a network's actuator is a torque motor: its torque is the control
            ctrl[cols] = self._net_tau[cols]
        return ctrl

    def _catch_up(self) -> None:
        """Paced twin: a robot does not wait for its controller.  When the loop fell behind the wall
        clock (a stall, or a late start), the robot has kept executing its commands meanwhile."""
        fine_dt = float(self.model.opt.timestep)
        for _ in range(10):  # the wall clock moves on while a long gap is simulated: a few rounds
            target = time.perf_counter() - self._wall_start
            if self.data.time + fine_dt > target:
                return
            while self.data.time + fine_dt <= target:
                self._fine_step()

    def _advance(self) -> None:
        for _ in range(self._fine_steps):
            self._fine_step()

    def _torque(self, ahead: float | np.ndarray = 0.0) -> np.ndarray:
        """Joint torque of every actuator [N m], shape (n_actions,), at the state ``ahead`` seconds from
        now (a float, or one per actuator, shape (n_actions,)): a first-order prediction, since a drive's
        loop runs far faster than the fine step, so over a step it sees the state of the step's middle,
        not of its start."""
        if self.safe:
            if self._damping_safe_mode:
                qd = self._qvel[self._ad] + ahead * self._qacc[self._ad]
                return _clip(self._neg_safe_damping * qd, self._neg_limit, self._limit)
            return np.zeros(self._limit.shape)
        qvel = self._qvel[self._ad]
        q = self._qpos[self._aq] + ahead * qvel
        qd = qvel + ahead * self._qacc[self._ad]
        # backlash: a pd transmission transmits nothing until the play is taken up
        tau = implied_torque(self._actuation, self._active, q, qd, self._backlash)
        zeros, ones = self._bounds  # the Python floats' values (0.0, 1.0), as arrays: a cheaper call
        speed_factor = _clip(ones - np.abs(qd) / self._no_load_speed, zeros, ones)
        limit = self._limit * speed_factor
        for _, cols in self._nets:  # the network is the drive: its torque, within the torque limit
            tau[cols] = self._actuation.strength[cols] * self._net_tau[cols]
            limit[cols] = self._limit[cols]
        tau = _clip(tau, -limit, limit)
        return self._flip * tau if self._flipped else tau


_FIRST = np.zeros(1, dtype=np.int64)  # the ids of a twin's one simulation in its actuator networks
_FIRST.setflags(write=False)

_clip = getattr((np._core if hasattr(np, "_core") else np.core).umath, "clip", np.clip)
"""The ufunc ``np.clip`` ends in for float arrays with both bounds (same results, NaN propagated, for
a tenth of the call's cost: the twin clips a few times per fine step); numpy's private module moved
between 1.x (``np.core``) and 2.x (``np._core``), so ``np.clip`` itself where neither has it."""


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """An index array as the slice it equals when its entries are consecutive (a view, no gather)."""
    index = np.asarray(index, dtype=np.int64)
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + index.size)
    return index
