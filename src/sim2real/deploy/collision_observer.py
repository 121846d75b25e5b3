"""The external-torque observer (generalized-momentum residual) on the robot side.

The robot's equations of motion, with ``v`` its generalized velocity (a floating base's 6 then the
joints), ``M(q)`` the inertia matrix (armature included), ``b(q, v)`` the bias forces (Coriolis,
centrifugal, gravity), ``f_p(q, v)`` the passive forces (joint damping, springs) and ``tau`` the
actuator torques::

    M(q) dv/dt + b(q, v) = tau + f_p(q, v) + tau_ext

The generalized momentum ``p = M v`` obeys ``dp/dt = tau + f_p + tau_ext + C(q, v)^T v - g(q)``, so
the momentum change over one sampling interval, minus the impulse of every known force, is the
impulse of the external forces: no acceleration is measured.  Over the interval [t0, t1] of two
readings (trapezoidal rule, ``dM v`` included), this is exactly::

    e = M_mid (v1 - v0) + dt (b_mid - f_p_mid - tau_mid)      tau_ext ~ e / dt

and a first-order low-pass of ``e / dt`` (time constant ``filter_s``) is the momentum observer's
residual ``r = K / (s + K) tau_ext`` in discrete form.  ``M``, ``b`` and ``f_p`` come from the
robot's MuJoCo model evaluated at the measured state: the model the policy was trained on, nominal
or calibrated (:mod:`~sim2real.deploy.collision_model`); ``tau`` is the measured joint torque of the reading (``Reading.tau``: a torque
sensor or the motor current), with the step the new command makes at the start of the interval
added (the torque is sampled once per tick, the command changes at its start), or, when the robot
measures no torque, the torque the commands imply (:func:`~sim2real.robots.actuation.implied_torque`).

**Floating base.**  The base orientation and angular velocity come from the IMU (``Reading.quat``,
``Reading.gyro``, rotated from the IMU site to the base body); the base position does not enter
``M``, ``b`` or ``f_p``, and neither does the base's linear velocity (Galilean invariance).  The
change of that velocity over the interval comes from the accelerometer (``Reading.accel``, the
specific force at the IMU site, less gravity, moved to the base origin), the newest sample times
the interval (a trapezoid with the previous one would see half of a push in its first interval).
Without an accelerometer reading it is solved for, and a push through the trunk is invisible (the
base accelerating explains it).  Feet touching the ground exert forces the observer must not call
collisions: the forces at the *expected contacts* (by default the feet: the lowest collision geoms of
the leaf bodies, or the spec's ``feet``; a point force at the lowest point of a geom that touches at
a point (a sphere, a rounded mesh foot, a shin's capsule end: :func:`~sim2real.deploy.body_geometry.sole`),
force and torque otherwise) are solved for as well, by weighted least squares, and what they cannot explain is the unexpected external force (a foot whose sole is several
geoms apart, e.g. four spheres at its corners, is force and torque; several point-like geoms at one
spot, a foot sphere around a shin mesh's end, are a point).  A foot whose lowest point (a mesh's
lowest vertex, a box's lowest corner; :func:`geom_bottom`) is higher than ``contact_height`` (from
the measured base height and orientation, flat ground at :func:`~sim2real.robots.model.spec_floor_height`) carries no force.  A contact on the
base body itself is a stand holding the robot (a hung robot, :func:`~sim2real.deploy.record.fixed_base_spec`):
always in contact, force and torque.  Locked joints (``spec.locked_joints``) are held at their
positions; their torque is solved for like a contact force.

What the residual is judged by (the thresholds, the decision, what it cannot see) is the
:class:`~sim2real.deploy.collision.CollisionDetector`'s (:mod:`~sim2real.deploy.collision`).
Needs numpy and MuJoCo only (no torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.deploy.body_geometry import (
    default_contacts,
    point_contact,
    site_in_body,
    sole,
)
from sim2real.deploy.collision_model import ObserverModel, apply_observer_model
from sim2real.deploy.coupling import chain_columns, chain_constraints, coupling_column, joint_couplings
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.robots.actuation import ActuatorArrays, implied_torque
from sim2real.robots.geom_extent import collision_geoms, geom_bottom, lowest_point
from sim2real.robots.model import (
    build_robot_model,
    default_qpos,
    joint_dof_indices,
    joint_qpos_indices,
    spec_floor_height,
)
from sim2real.robots.spec import RobotSpec

__all__ = [
    "MomentumObserver",
    "Residual",
]


@dataclass(frozen=True, eq=False)
class Residual:
    """The observer's estimate after one reading."""

    t: float
    """Time of the reading [s]."""
    joint: np.ndarray
    """Unexplained external torque at each policy joint, shape (n_joints,) [N m], filtered."""
    base: np.ndarray
    """Unexplained external wrench on a floating base, shape (6,) (force [N] in the world frame,
    torque [N m] in the base frame), filtered; zeros for a fixed base."""
    raw: np.ndarray
    """Filtered external generalized force before the expected contacts were taken out, shape (nv,)."""
    contacts: tuple[str, ...]
    """Expected contacts that could carry a force at this reading."""
    projector: np.ndarray
    """Shape (nv, nv): the projector, in the weighted coordinates ``weights * force``, onto what
    the expected contacts cannot explain (the identity without contacts); ``weights * unexplained
    = projector @ (weights * raw)``."""


@dataclass(frozen=True, eq=False)
class _Sample:
    reading: Reading
    qvel: np.ndarray
    M: np.ndarray
    h: np.ndarray
    tau: np.ndarray
    rot: np.ndarray | None


@dataclass(frozen=True)
class _Contact:
    body: int
    geom: int
    point: bool
    name: str
    sole: tuple[int, ...] = ()
    """The geoms whose lowest point says the contact touches: the geoms it stands on in the default
    pose (:func:`~sim2real.deploy.body_geometry.sole`; a foot tipping onto its toes lifts its
    heel's geoms, and a shin's geom on the same body is no part of it)."""


class MomentumObserver:
    """External generalized forces of a robot from its readings (see the module docstring).

    Args:
        spec: The robot; its MJCF (the training model) gives ``M``, ``b`` and ``f_p``.
        weights: Shape (nv,): 1 / threshold of each generalized force (joint rows [1/(N m)], base
            rows); weights the least-squares split between expected contacts and the rest.
        filter_s: Time constant of the residual's low-pass [s]; 0: none.
        contacts: Bodies where contact is expected (default :func:`default_contacts`).
        contact_height: A contact whose lowest point is higher above the ground than this [m]
            carries no force (needs ``Reading.base_height``; without it every contact may).
        max_gap_s: A gap between usable readings longer than this [s] restarts the observer.
        use_accel: Floating base: take the base's linear acceleration from the accelerometer
            (readings without one fall back to solving for it); the detector turns it on.
        observed: The model's values (the policy's calibration, :mod:`~sim2real.deploy.collision_model`).

    Raises:
        Sim2RealError: the model has degrees of freedom the readings do not measure, or the IMU
            needed for a floating base is missing.
    """

    def __init__(
        self,
        spec: RobotSpec,
        weights: np.ndarray | None = None,
        *,
        filter_s: float = 0.0,
        contacts: tuple[str, ...] | None = None,
        contact_height: float = 0.03,
        max_gap_s: float | None = None,
        use_accel: bool = False,
        observed: ObserverModel | None = None,
    ) -> None:
        self.spec = spec
        self.observed = observed if observed is not None else ObserverModel()  # default: nominal
        model = build_robot_model(spec)
        apply_observer_model(spec, model, self.observed)
        model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
        self.model = model
        self.data = mujoco.MjData(model)
        nv = model.nv
        self.nv = nv
        self._qpos_idx = joint_qpos_indices(spec, model)
        self._dof_idx = joint_dof_indices(spec, model)
        measured = set(int(i) for i in self._dof_idx)
        # locked joints (spec.locked_joints): held rigid by the robot's own controller; their torque is solved for like a contact force
        self._locked_qpos = np.array(
            [int(model.jnt_qposadr[model.joint(j).id]) for j in spec.locked_joints], dtype=int
        )
        self._locked_value = np.array([float(v) for v in spec.locked_joints.values()])
        self._locked_dof = np.array(
            [int(model.jnt_dofadr[model.joint(j).id]) for j in spec.locked_joints], dtype=int
        )
        measured |= set(int(i) for i in self._locked_dof)
        self._couplings = joint_couplings(model)  # their forces, like a locked joint's, solved for
        self._chains = chain_constraints(model)  # closed chains' (connect, weld) too
        self._free_dof = 0
        self._free_qpos = 0
        if spec.floating_base:
            body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
            jnt = int(model.body_jntadr[body])
            if jnt < 0 or model.jnt_type[jnt] != mujoco.mjtJoint.mjJNT_FREE:
                raise Sim2RealError(f"collision observer: the base body {spec.base_body} has no free joint")
            self._free_dof = int(model.jnt_dofadr[jnt])
            self._free_qpos = int(model.jnt_qposadr[jnt])
            self._base_body = body
            measured |= set(range(self._free_dof, self._free_dof + 6))
            if spec.imu is None:
                raise Sim2RealError("collision observer: a floating base needs the IMU (orientation, gyro)")
            site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, spec.imu.site)
            if site < 0 or int(model.body_weldid[model.site_bodyid[site]]) != int(model.body_weldid[body]):
                raise Sim2RealError(
                    f"collision observer: the IMU site must be on the base body {spec.base_body} "
                    "or a body welded to it (no joint between them)"
                )
            # pose of the IMU site in the base body frame (constant: no joint between them)
            self._site_pos, self._site_quat = site_in_body(model, site, body)
            self._site_rot = np.zeros(9)
            mujoco.mju_quat2Mat(self._site_rot, self._site_quat)
            self._site_rot = self._site_rot.reshape(3, 3)
            self._site_quat_inv = np.zeros(4)
            mujoco.mju_negQuat(self._site_quat_inv, self._site_quat)
        unmeasured = sorted(set(range(nv)) - measured)
        if unmeasured:
            names = sorted({model.joint(int(model.dof_jntid[i])).name for i in unmeasured})
            raise Sim2RealError(
                f"collision observer: joints {', '.join(names)} move but are not measured (not in the spec's joints): "
                "add them to its joints, hold them with its locked_joints, or, for the passive joints of a closed "
                "chain the robot does not measure, turn collision detection off (safety.collision.enabled: false)"
            )
        self._act_joint = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._actuation, self._tau_limit = (
            ActuatorArrays.from_spec(spec),
            np.array([a.torque_limit for a in spec.actuators]),
        )
        self.weights = np.ones(nv) if weights is None else np.asarray(weights, dtype=float)
        if self.weights.shape != (nv,) or not np.all(self.weights > 0):
            raise Sim2RealError(f"collision observer: weights must be {nv} positive numbers")
        self.filter_s = float(filter_s)
        self.use_accel = bool(use_accel)
        self.contact_height = float(contact_height)
        self.floor = spec_floor_height(
            spec, model
        )  # [m] contact_height is above it (a fixed base: the floor plane)
        self.max_gap_s = float(max_gap_s) if max_gap_s is not None else 3.0 * float(spec.control_dt)
        names = default_contacts(spec, model) if contacts is None else tuple(contacts)
        self.contacts = tuple(self._contact(n) for n in names)
        self._gravity = model.opt.gravity.copy()
        self._M = np.zeros((nv, nv))
        self.reset()

    def _contact(self, name: str) -> _Contact:
        model = self.model
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
        if body < 0:
            geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
            if geom < 0:
                raise Sim2RealError(
                    f"collision observer: expected contact {name!r} is neither a body nor a geom"
                )
            body = int(model.geom_bodyid[geom])
        else:
            if not collision_geoms(model, body):
                if (
                    self.spec.floating_base and name == self.spec.base_body
                ):  # a stand holds it: a wrench at its origin
                    return _Contact(body=body, geom=-1, point=False, name=name)
                raise Sim2RealError(
                    f"collision observer: expected contact body {name!r} has no collision geom"
                )
            stand = sole(model, body, default_qpos(self.spec, model))
            return _Contact(body=body, geom=stand.geom, point=stand.point, name=name, sole=stand.geoms)
        point = point_contact(model, geom, default_qpos(self.spec, model))
        return _Contact(body=body, geom=geom, point=point, name=name, sole=(geom,))

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget the previous sample (the next reading starts a new interval); residual zero."""
        self._prev: _Sample | None = None
        self._filtered = np.zeros(self.nv)
        self._last_command: np.ndarray | None = None
        self.residual: Residual | None = None
        """The newest estimate, or None before the second usable reading."""

    def _usable(self, reading: Reading | None) -> bool:
        if not isinstance(reading, Reading) or not reading.valid:
            return False
        n = self.spec.n_joints
        if reading.q.shape != (n,) or not (
            np.all(np.isfinite(reading.q)) and np.all(np.isfinite(reading.qd))
        ):
            return False
        if not math.isfinite(reading.t):
            return False
        if reading.tau is not None and not np.all(np.isfinite(reading.tau)):
            return False
        if self.spec.floating_base:
            for x in (reading.quat, reading.gyro):
                if x is None or not np.all(np.isfinite(x)):
                    return False
            if float(np.dot(reading.quat, reading.quat)) < 1e-12:
                return False
        return True

    def _set_state(self, reading: Reading) -> tuple[np.ndarray, np.ndarray]:
        """qpos and qvel of the model at a reading (base linear velocity zero)."""
        m = self.model
        qpos = m.qpos0.copy()
        qvel = np.zeros(self.nv)
        qpos[self._qpos_idx] = reading.q
        qpos[self._locked_qpos] = self._locked_value
        qvel[self._dof_idx] = reading.qd
        if self.spec.floating_base:
            a = self._free_qpos
            qpos[a : a + 3] = (
                0.0,
                0.0,
                self.floor + (reading.base_height if reading.base_height is not None else 0.0),
            )
            site_quat = np.asarray(reading.quat, dtype=float) / math.sqrt(
                float(np.dot(reading.quat, reading.quat))
            )
            body_quat = np.zeros(4)
            mujoco.mju_mulQuat(body_quat, site_quat, self._site_quat_inv)
            qpos[a + 3 : a + 7] = body_quat
            qvel[self._free_dof + 3 : self._free_dof + 6] = self._site_rot @ np.asarray(
                reading.gyro, dtype=float
            )
        return qpos, qvel

    def _dynamics(self, qpos: np.ndarray, qvel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M (nv, nv), b - f_p (nv,)) at a state; leaves the kinematics of that state in ``data``."""
        m, d = self.model, self.data
        d.qpos[:] = qpos
        d.qvel[:] = qvel
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_crb(m, d)
        M = np.empty((self.nv, self.nv))
        mujoco.mj_fullM(m, d, M)
        mujoco.mj_comVel(m, d)
        mujoco.mj_passive(m, d)
        bias = np.empty(self.nv)
        mujoco.mj_rne(m, d, 0, bias)
        return M, bias - d.qfrc_passive

    def _joint_torque(self, reading: Reading, command: np.ndarray | None) -> np.ndarray | None:
        """Generalized actuator force at a reading (nv,): measured, else implied by the command."""
        tau = np.zeros(self.nv)
        if reading.tau is not None:
            tau[self._dof_idx] = reading.tau
            return tau
        if command is None:
            return None
        q, qd = reading.q[self._act_joint], reading.qd[self._act_joint]
        implied = np.clip(implied_torque(self._actuation, command, q, qd), -self._tau_limit, self._tau_limit)
        tau[self._dof_idx[self._act_joint]] = implied
        return tau

    def _start_torque(
        self, reading: Reading, tau: np.ndarray, new: np.ndarray | None, old: np.ndarray | None
    ) -> np.ndarray:
        """Generalized actuator force just after the command changed from ``old`` to ``new`` at a
        reading whose torque (measured or implied by ``old``) was ``tau`` (nv,): the torque is sampled
        before the new command is written, so the step the new command makes is added."""
        if new is None:
            return tau
        q, qd = reading.q[self._act_joint], reading.qd[self._act_joint]
        out = tau.copy()
        cols = self._dof_idx[self._act_joint]
        if reading.tau is None or old is None:
            out[cols] = np.clip(
                implied_torque(self._actuation, new, q, qd), -self._tau_limit, self._tau_limit
            )
            return out
        step = implied_torque(self._actuation, new, q, qd) - implied_torque(self._actuation, old, q, qd)
        out[cols] = np.clip(tau[cols] + step, -self._tau_limit, self._tau_limit)
        return out

    # ------------------------------------------------------------------ update

    def measures_base_acceleration(self, reading: Reading) -> bool:
        """Whether the base's linear acceleration comes from the reading's accelerometer (a floating
        base, ``use_accel`` and a finite ``Reading.accel``) rather than being solved for."""
        accel = reading.accel
        return bool(
            self.spec.floating_base and self.use_accel and accel is not None and np.all(np.isfinite(accel))
        )

    def _origin_accel(
        self, reading: Reading, rot: np.ndarray, omega: np.ndarray, omega_dot: np.ndarray
    ) -> np.ndarray | None:
        """Linear acceleration of the base body's origin in the world frame [m/s^2] from the
        accelerometer (specific force at the IMU site, site frame), or None without one."""
        if reading.accel is None or not np.all(np.isfinite(reading.accel)):
            return None
        site_rot = rot @ self._site_rot
        r = rot @ self._site_pos
        a_site = site_rot @ np.asarray(reading.accel, dtype=float) + self._gravity
        return a_site - np.cross(omega_dot, r) - np.cross(omega, np.cross(omega, r))

    def update(
        self, reading: Reading | None, command: np.ndarray | None, offset: np.ndarray | None = None
    ) -> Residual | None:
        """Take one reading.

        Args:
            reading: The newest reading (unusable ones are skipped).
            command: The command applied since the previous reading (actuator units, shape
                (n_actions,)), or None when unknown or in safe mode (the observer then restarts).
            offset: A generalized force (nv,) added to the estimate before the contacts are taken
                out (the preflight's exercise of the detection path); None: none.

        Returns:
            The estimate at this reading, or None (first reading, restart, unusable reading).
        """
        if command is None:
            self.reset()
        if not self._usable(reading):
            return None
        assert isinstance(reading, Reading)
        prev = self._prev
        if prev is not None and not 0.0 < reading.t - prev.reading.t <= self.max_gap_s:
            if reading.t == prev.reading.t:
                return self.residual  # the same sample again
            self.reset()
            prev = None
        cmd = None if command is None else np.asarray(command, dtype=float)
        tau1 = self._joint_torque(reading, cmd)
        if tau1 is None:
            self.reset()
            return None
        qpos, qvel = self._set_state(reading)
        M1, h1 = self._dynamics(qpos, qvel)
        rot1 = self.data.xmat[self._base_body].reshape(3, 3).copy() if self.spec.floating_base else None
        sample = _Sample(reading, qvel, M1, h1, tau1, rot1)
        self._prev = sample
        last_command, self._last_command = self._last_command, cmd
        if prev is None:
            return None
        dt = reading.t - prev.reading.t
        dv = qvel - prev.qvel
        lin_known = self.measures_base_acceleration(reading)
        if lin_known:  # the base's velocity change: the newest accelerometer sample x the interval
            f = self._free_dof
            w0 = prev.rot @ prev.qvel[f + 3 : f + 6]
            w1 = rot1 @ qvel[f + 3 : f + 6]
            a1 = self._origin_accel(reading, rot1, w1, (w1 - w0) / dt)
            assert a1 is not None
            dv[f : f + 3] = dt * a1
        tau_start = self._start_torque(prev.reading, prev.tau, cmd, last_command)
        # momentum change minus the impulse of the known forces (trapezoidal rule), per second
        raw = 0.5 * (prev.M + M1) @ dv / dt + 0.5 * (prev.h + h1) - 0.5 * (tau_start + tau1)
        if self.filter_s > 0:
            alpha = 1.0 - math.exp(-dt / self.filter_s)
            self._filtered = self._filtered + alpha * (raw - self._filtered)
        else:
            self._filtered = raw
        r = self._filtered if offset is None else self._filtered + offset
        self.residual = self._explain(reading, M1, r, lin_known)
        return self.residual

    def _explain(self, reading: Reading, M: np.ndarray, r: np.ndarray, lin_known: bool) -> Residual:
        """Take out of ``r`` what the expected contacts and the base's linear acceleration explain."""
        m, d = self.model, self.data  # kinematics of this reading are in data
        columns = []
        active: list[str] = []
        if self.spec.floating_base and not lin_known:
            columns.append(-M[:, self._free_dof : self._free_dof + 3])
        for dof in self._locked_dof:
            column = np.zeros((self.nv, 1))
            column[dof] = 1.0
            columns.append(column)
        columns += [coupling_column(self.nv, c, d.qpos) for c in self._couplings]
        columns += chain_columns(m, d, self._chains)
        height_known = (
            reading.base_height is not None or not self.spec.floating_base
        )  # else the joints place it all
        for c in self.contacts:
            center = d.geom_xpos[c.geom] if c.geom >= 0 else d.xpos[c.body]
            held = self.spec.floating_base and c.body == self._base_body  # a stand holding the base
            if (
                height_known
                and not held
                and min(geom_bottom(m, d, g) for g in c.sole) - self.floor > self.contact_height
            ):
                continue
            jacp = np.zeros((3, self.nv))
            jacr = np.zeros((3, self.nv))
            point = lowest_point(m, d, c.geom) if c.point else center
            mujoco.mj_jac(m, d, jacp, jacr, point, c.body)
            columns.append(jacp.T)
            if held or not c.point:
                columns.append(jacr.T)
            active.append(c.name)
        w = self.weights
        unexplained = r
        projector = np.eye(self.nv)
        if columns:
            # weighted least squares: project w * r off the span of the weighted columns
            U, S, _ = np.linalg.svd(w[:, None] * np.hstack(columns), full_matrices=False)
            cutoff = 1e-9 * float(S[0]) if S.size else 0.0
            keep = np.greater(S, cutoff) & (S > 0)
            Q = U[:, keep]
            projector -= Q @ Q.T
            unexplained = (projector @ (w * r)) / w
        joint = unexplained[self._dof_idx].copy()
        base = np.zeros(6)
        if self.spec.floating_base:
            base = unexplained[self._free_dof : self._free_dof + 6].copy()
        return Residual(
            t=reading.t, joint=joint, base=base, raw=r.copy(), contacts=tuple(active), projector=projector
        )
