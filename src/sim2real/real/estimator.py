"""Base state estimation for legged robots: a Kalman filter over IMU, leg kinematics and foot contact.

What a legged robot's computer runs to know its base velocity (the linear Kalman filter of
Bloesch et al. 2013 in the form of the MIT Cheetah 3 estimator).  State, in the world frame:
base position ``p`` (3), base velocity ``v`` (3) and the position of every foot ``f_i`` (3 each).

- **Predict** (every reading, ``dt`` since the last): ``v += a dt``, ``p += v dt + a dt^2 / 2``
  with ``a = R (f_imu - w x (w x r_imu)) + g`` (the accelerometer's specific force moved from the
  IMU site to the base origin, rotated into the world by the IMU orientation ``R``); feet stay put,
  with a small random walk for a foot on the ground and a large one for a swinging foot.
- **Correct** with the leg kinematics of every foot (``q`` from the encoders): its position
  relative to the base, ``f_i - p = R fk_i(q)``; for a foot on the ground also that it does not
  move, ``v = -R (w x fk_i(q) + J_i(q) qd)``, and that it touches the floor, ``f_i,z = radius``.
- **Contact** of a foot: the ground force its leg's measured torques imply,
  ``F_i = -(J_i^T)^+ tau_leg`` (statics, base frame), pointing up more than
  ``contact_fraction`` of the robot's weight.  Robots with foot force sensors can pass the
  contacts instead (:meth:`BaseStateEstimator.update`).

The orientation comes from the IMU's own filter (``Reading.quat``); the angular velocity is the
gyro's.  Without an IMU orientation the gyro is integrated, with the tilt pulled towards the
accelerometer's gravity direction (a complementary filter).

This module needs numpy only, so it runs on the robot.  The leg kinematics are plain arrays
(:class:`LegKinematics`), built from the MuJoCo model on the host (:meth:`LegKinematics.from_model`,
which imports MuJoCo) and saved/loaded as JSON-ready dicts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.robots.collide import collides

if TYPE_CHECKING:
    import mujoco

    from sim2real.logs.trajectory import BaseTrack, Trajectory
    from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

__all__ = [
    "BaseEstimate",
    "BaseStateEstimator",
    "EstimatorConfig",
    "LegChain",
    "LegKinematics",
    "estimate_track",
    "quat_multiply",
    "quat_to_matrix",
]

GRAVITY = np.array([0.0, 0.0, -9.81])
"""Gravity in the world frame [m/s^2]."""


def quat_to_matrix(quat: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z), shape (4,) -> (3, 3)."""
    w, x, y, z = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about a unit axis by ``angle`` [rad] (Rodrigues)."""
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    C = 1.0 - c
    return np.array(
        [
            [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
            [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
            [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
        ]
    )


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (numpy's ``cross`` costs ten times more for one pair)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a b of two (w, x, y, z) quaternions, shape (4,)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


# ------------------------------------------------------------------------------ kinematics
@dataclass(frozen=True, eq=False)
class LegChain:
    """The kinematic chain from the base to one foot: ``K`` links, each a fixed transform then a joint."""

    name: str
    """The foot's body name."""
    joints: tuple[int, ...]
    """Index of each link's joint in the policy joint order, shape (K,)."""
    pos: np.ndarray
    """Each link's position in its parent at zero joint motion, shape (K, 3) [m]."""
    rot: np.ndarray
    """Each link's orientation in its parent, rotation matrices, shape (K, 3, 3)."""
    axis: np.ndarray
    """Each joint's axis in its link's frame (unit), shape (K, 3)."""
    anchor: np.ndarray
    """Each joint's position in its link's frame, shape (K, 3) [m]."""
    slide: np.ndarray
    """Whether each joint slides (else it turns), shape (K,)."""
    ref: np.ndarray
    """Each joint's reference position (its value at the model's zero pose), shape (K,)."""
    foot: np.ndarray
    """The foot's contact centre in the last link's frame, shape (3,) [m]."""
    radius: float
    """Height of that centre above the floor when the foot stands on it [m] (a sphere's radius)."""

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Foot position in the base frame and its Jacobian.

        Args:
            q: Policy joint positions, shape (n,) [rad or m].

        Returns:
            position (3,) [m] and Jacobian (3, n) [m/rad], both in the base frame.
        """
        R = np.eye(3)
        p = np.zeros(3)
        anchors, axes = [], []
        for k, j in enumerate(self.joints):
            p = p + R @ self.pos[k]
            R = R @ self.rot[k]
            axis = R @ self.axis[k]
            value = q[j] - self.ref[k]
            if self.slide[k]:
                p = p + axis * value
            else:
                c = self.anchor[k]
                Rj = _axis_angle(self.axis[k], value)
                p = p + R @ (c - Rj @ c)
                R = R @ Rj
            anchors.append(p + R @ self.anchor[k])
            axes.append(axis)
        foot = p + R @ self.foot
        J = np.zeros((3, q.shape[0]))
        for k, j in enumerate(self.joints):
            J[:, j] = axes[k] if self.slide[k] else _cross(axes[k], foot - anchors[k])
        return foot, J

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "joints": list(self.joints),
            "pos": self.pos.tolist(),
            "rot": self.rot.tolist(),
            "axis": self.axis.tolist(),
            "anchor": self.anchor.tolist(),
            "slide": self.slide.tolist(),
            "ref": self.ref.tolist(),
            "foot": self.foot.tolist(),
            "radius": self.radius,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> LegChain:
        """Inverse of :meth:`as_dict`."""
        return LegChain(
            name=str(d["name"]),
            joints=tuple(int(j) for j in d["joints"]),
            pos=np.asarray(d["pos"], dtype=float).reshape(-1, 3),
            rot=np.asarray(d["rot"], dtype=float).reshape(-1, 3, 3),
            axis=np.asarray(d["axis"], dtype=float).reshape(-1, 3),
            anchor=np.asarray(d["anchor"], dtype=float).reshape(-1, 3),
            slide=np.asarray(d["slide"], dtype=bool),
            ref=np.asarray(d["ref"], dtype=float),
            foot=np.asarray(d["foot"], dtype=float),
            radius=float(d["radius"]),
        )


@dataclass(frozen=True, eq=False)
class LegKinematics:
    """The legs of a robot as plain arrays: what the estimator needs, numpy only."""

    n_joints: int
    """Number of policy joints ``n``."""
    chains: tuple[LegChain, ...]
    """One chain per foot."""
    mass: float
    """Total mass of the robot [kg]."""
    imu_pos: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """IMU position in the base frame, shape (3,) [m]."""

    @property
    def n_feet(self) -> int:
        """Number of feet ``F``."""
        return len(self.chains)

    def feet(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Foot positions (F, 3) [m] and Jacobians (F, 3, n) in the base frame at joint positions ``q``."""
        out = [c.forward(np.asarray(q, dtype=float)) for c in self.chains]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (to store with a policy or a log, and load on the robot)."""
        return {
            "n_joints": self.n_joints,
            "mass": self.mass,
            "imu_pos": self.imu_pos.tolist(),
            "chains": [c.as_dict() for c in self.chains],
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> LegKinematics:
        """Inverse of :meth:`as_dict`."""
        return LegKinematics(
            n_joints=int(d["n_joints"]),
            chains=tuple(LegChain.from_dict(c) for c in d["chains"]),
            mass=float(d["mass"]),
            imu_pos=np.asarray(d.get("imu_pos", [0.0, 0.0, 0.0]), dtype=float),
        )

    @staticmethod
    def from_model(
        spec: RobotSpec, model: mujoco.MjModel | None = None, feet: Sequence[str] | None = None
    ) -> LegKinematics:
        """The legs of a floating-base robot, read from its MuJoCo model (on the host; imports MuJoCo).

        Args:
            spec: The robot (base body, policy joints, IMU site).
            model: Its compiled model (default: the nominal one).
            feet: Body names of the feet; default: the spec's ``feet``, else the leaf bodies below
                the base that carry a collision geom (the lowest one of each, in the default pose, is
                the foot; a hand's fingertips are leaves too, so the spec's feet come first).

        Raises:
            Sim2RealError: no floating base, no feet, or a foot behind a joint the policy does not
                control.
        """
        import mujoco

        from sim2real.robots.model import build_model, default_qpos

        if spec.base_body is None:
            raise Sim2RealError(f"{spec.name}: base state estimation needs a floating base")
        model = model if model is not None else build_model(spec)
        data = mujoco.MjData(model)
        data.qpos[:] = default_qpos(spec, model)
        mujoco.mj_forward(model, data)
        base = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        children = {b: [] for b in range(model.nbody)}
        for b in range(1, model.nbody):
            children[int(model.body_parentid[b])].append(b)

        def below(b: int) -> list[int]:
            out = [b]
            for c in children[b]:
                out += below(c)
            return out

        def collision_geoms(b: int) -> list[int]:
            first, num = int(model.body_geomadr[b]), int(model.body_geomnum[b])
            return [g for g in range(first, first + num) if collides(model, g)]

        feet = feet if feet is not None else (tuple(spec.feet) or None)
        if feet is None:
            foot_ids = [b for b in below(base) if b != base and not children[b] and collision_geoms(b)]
        else:
            foot_ids = []
            for name in feet:
                b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
                if b < 0 or not collision_geoms(b):
                    raise Sim2RealError(f"foot '{name}' is not a body with a collision geom")
                foot_ids.append(b)
        if not foot_ids:
            raise Sim2RealError(f"{spec.name}: no feet found below '{spec.base_body}'")
        policy = {
            mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j): i for i, j in enumerate(spec.joints)
        }
        chains = []
        for foot in foot_ids:
            path = []
            b = foot
            while b != base:
                path.append(b)
                b = int(model.body_parentid[b])
                if b == 0:
                    raise Sim2RealError(f"foot body {foot} is not below the base")
            path.reverse()
            joints, pos, rot, axis, anchor, slide, ref = [], [], [], [], [], [], []
            for b in path:
                jnts = list(range(int(model.body_jntadr[b]), int(model.body_jntadr[b] + model.body_jntnum[b])))
                # a body with several joints is one link per joint: MuJoCo applies them in order,
                # each in the frame the previous ones moved, so links after the first add no transform
                for k, j in enumerate(jnts or [-1]):
                    pos.append(np.asarray(model.body_pos[b], dtype=float) if k == 0 else np.zeros(3))
                    rot.append(quat_to_matrix(model.body_quat[b]) if k == 0 else np.eye(3))
                    if j < 0:  # a fixed link: fold it into the next transform through a zero-motion joint
                        joints.append(-1)
                        axis.append(np.array([0.0, 0.0, 1.0]))
                        anchor.append(np.zeros(3))
                        slide.append(True)
                        ref.append(0.0)
                        continue
                    if j not in policy:
                        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
                        raise Sim2RealError(f"joint '{name}' on the way to a foot is not a policy joint")
                    joints.append(policy[j])
                    axis.append(np.asarray(model.jnt_axis[j], dtype=float))
                    anchor.append(np.asarray(model.jnt_pos[j], dtype=float))
                    slide.append(int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_SLIDE))
                    ref.append(float(model.qpos0[model.jnt_qposadr[j]]))
            geoms = collision_geoms(foot)
            g = min(geoms, key=lambda g: float(data.geom_xpos[g][2]))
            sphere = int(model.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_SPHERE)
            chains.append(
                _chain_without_fixed_links(
                    mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, foot) or f"body{foot}",
                    joints,
                    np.array(pos),
                    np.array(rot),
                    np.array(axis),
                    np.array(anchor),
                    np.array(slide),
                    np.array(ref),
                    np.asarray(model.geom_pos[g], dtype=float),
                    float(model.geom_size[g][0]) if sphere else 0.0,
                )
            )
        imu_pos = np.zeros(3)
        if spec.imu is not None:
            site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, spec.imu.site)
            if site >= 0:
                R = data.xmat[base].reshape(3, 3)
                imu_pos = R.T @ (data.site_xpos[site] - data.xpos[base])
        return LegKinematics(
            n_joints=spec.n_joints,
            chains=tuple(chains),
            mass=float(np.sum(model.body_mass)),
            imu_pos=imu_pos,
        )


def _chain_without_fixed_links(name, joints, pos, rot, axis, anchor, slide, ref, foot, radius) -> LegChain:
    """A chain whose joint-less links are merged into their successors (or into the foot point)."""
    keep_pos, keep_rot, keep = [], [], []
    P, Rm = np.zeros(3), np.eye(3)  # pending fixed transform
    for k in range(len(joints)):
        P, Rm = P + Rm @ pos[k], Rm @ rot[k]
        if joints[k] < 0:
            continue
        keep_pos.append(P)
        keep_rot.append(Rm)
        keep.append(k)
        P, Rm = np.zeros(3), np.eye(3)
    foot = P + Rm @ foot
    idx = np.array(keep, dtype=int)
    return LegChain(
        name=name,
        joints=tuple(int(joints[k]) for k in keep),
        pos=np.array(keep_pos).reshape(-1, 3),
        rot=np.array(keep_rot).reshape(-1, 3, 3),
        axis=axis[idx].reshape(-1, 3),
        anchor=anchor[idx].reshape(-1, 3),
        slide=slide[idx].astype(bool),
        ref=ref[idx].astype(float),
        foot=foot,
        radius=radius,
    )


# ------------------------------------------------------------------------------ the filter
@dataclass(frozen=True)
class EstimatorConfig:
    """Noise levels and contact detection of :class:`BaseStateEstimator` (standard deviations)."""

    accel_noise: float = 2.0
    """Accelerometer noise plus unmodeled base acceleration [m/s^2] (per sample)."""
    stance_foot_noise: float = 0.002
    """Random walk of a foot on the ground (slip) per sample [m]."""
    swing_foot_noise: float = 1.0
    """Random walk of a swinging foot per sample [m] (large: it moves freely)."""
    kinematics_noise: float = 0.005
    """Error of a foot position from the leg kinematics [m]."""
    foot_velocity_noise: float = 0.08
    """Error of the base velocity implied by a standing foot [m/s] (joint velocity noise, foot roll)."""
    foot_height_noise: float = 0.01
    """Error of a standing foot's height above the floor [m]."""
    contact_fraction: float = 0.15
    """A foot is on the ground when its leg's torques imply an upward force above this share of
    the robot's weight."""
    tilt_gain: float = 0.5
    """Without an IMU orientation: rate [1/s] at which the gyro-integrated tilt is pulled towards
    the accelerometer's gravity direction."""

    def __post_init__(self) -> None:
        for name in ("accel_noise", "stance_foot_noise", "swing_foot_noise", "kinematics_noise"):
            if not getattr(self, name) > 0:
                raise Sim2RealError(f"estimator {name} must be positive")
        for name in ("foot_velocity_noise", "foot_height_noise"):
            if not getattr(self, name) > 0:
                raise Sim2RealError(f"estimator {name} must be positive")
        if not 0 < self.contact_fraction < 1:
            raise Sim2RealError("estimator contact_fraction must be in (0, 1)")


@dataclass(frozen=True, eq=False)
class BaseEstimate:
    """The estimated floating-base state at one reading."""

    t: float
    """Reading time [s]."""
    position: np.ndarray
    """Base position in the odometry frame, shape (3,) [m] (x, y from the start, z above the floor)."""
    quat: np.ndarray
    """Base orientation (w, x, y, z), shape (4,)."""
    lin_vel: np.ndarray
    """Base linear velocity in the base frame, shape (3,) [m/s]."""
    ang_vel: np.ndarray
    """Base angular velocity in the base frame, shape (3,) [rad/s]."""
    contact: np.ndarray
    """Which feet are taken to be on the ground, shape (F,)."""
    position_cov: np.ndarray
    """Covariance of the position, shape (3, 3) [m^2]."""
    lin_vel_cov: np.ndarray
    """Covariance of the linear velocity in the base frame, shape (3, 3) [m^2/s^2]."""

    def pose_covariance(self) -> np.ndarray:
        """Row-major 6x6 pose covariance for ``nav_msgs/Odometry`` (orientation part 0: from the IMU)."""
        cov = np.zeros((6, 6))
        cov[:3, :3] = self.position_cov
        return cov.ravel()

    def twist_covariance(self) -> np.ndarray:
        """Row-major 6x6 twist covariance for ``nav_msgs/Odometry`` (angular part 0: from the gyro)."""
        cov = np.zeros((6, 6))
        cov[:3, :3] = self.lin_vel_cov
        return cov.ravel()


class BaseStateEstimator:
    """The Kalman filter of the module docstring; feed it every reading with :meth:`update`.

    Args:
        kinematics: The robot's legs.
        config: Noise levels and contact detection.
    """

    def __init__(self, kinematics: LegKinematics, config: EstimatorConfig | None = None) -> None:
        self.kin = kinematics
        self.config = config or EstimatorConfig()
        F = kinematics.n_feet
        self.n = 6 + 3 * F
        self.contact_force = self.config.contact_fraction * kinematics.mass * abs(GRAVITY[2])
        """Upward foot force above which a foot counts as standing [N]."""
        c = self.config
        # measurement rows, all feet: relative positions (3F), base velocity per foot (3F), foot heights (F)
        H = np.zeros((7 * F, self.n))
        for i in range(F):
            for k in range(3):
                H[3 * i + k, k] = -1.0
                H[3 * i + k, 6 + 3 * i + k] = 1.0
                H[3 * F + 3 * i + k, 3 + k] = 1.0
            H[6 * F + i, 6 + 3 * i + 2] = 1.0
        self._H = H
        self._noise = np.concatenate(
            [
                np.full(3 * F, c.kinematics_noise**2),
                np.full(3 * F, c.foot_velocity_noise**2),
                np.full(F, c.foot_height_noise**2),
            ]
        )
        self._radius = np.array([chain.radius for chain in kinematics.chains])
        self.reset()

    def reset(self) -> None:
        """Forget the state (the next reading starts the filter again)."""
        self.x = np.zeros(self.n)
        self.P = np.eye(self.n)
        self._t: float | None = None
        self._quat: np.ndarray | None = None
        self._rot: np.ndarray = np.eye(3)

    # ------------------------------------------------------------------ orientation
    def _orientation(self, reading: Reading, dt: float) -> np.ndarray:
        if (
            reading.quat is not None
            and np.all(np.isfinite(reading.quat))
            and np.linalg.norm(reading.quat) > 0
        ):
            self._quat = np.asarray(reading.quat, dtype=float) / np.linalg.norm(reading.quat)
            return self._quat
        if self._quat is None:
            self._quat = np.array([1.0, 0.0, 0.0, 0.0])
        w = np.asarray(reading.gyro, dtype=float)
        if reading.accel is not None and np.linalg.norm(reading.accel) > 0:
            # complementary filter: turn the estimated "up" towards the measured specific force
            up_meas = np.asarray(reading.accel) / np.linalg.norm(reading.accel)
            up_est = quat_to_matrix(self._quat).T @ np.array([0.0, 0.0, 1.0])
            w = w + self.config.tilt_gain * _cross(up_meas, up_est)
        angle = float(np.linalg.norm(w)) * dt
        if angle > 0:
            axis = w / np.linalg.norm(w)
            dq = np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])
            self._quat = quat_multiply(self._quat, dq)
            self._quat /= np.linalg.norm(self._quat)
        return self._quat

    def _contacts(self, reading: Reading, J: np.ndarray, R: np.ndarray) -> np.ndarray:
        """Feet on the ground from the torques their legs carry (module docstring)."""
        F = self.kin.n_feet
        if reading.tau is None or not np.all(np.isfinite(reading.tau)):
            return np.ones(F, dtype=bool)
        out = np.zeros(F, dtype=bool)
        for i, chain in enumerate(self.kin.chains):
            cols = list(chain.joints)
            Ji = J[i][:, cols]  # (3, k)
            force = -np.linalg.lstsq(Ji.T, reading.tau[cols], rcond=1e-6)[0]  # ground force on the foot
            out[i] = (R @ force)[2] > self.contact_force
        return out

    # ------------------------------------------------------------------ the filter
    def _start(self, R: np.ndarray, feet: np.ndarray, contact: np.ndarray) -> None:
        world = feet @ R.T
        use = contact if contact.any() else np.ones_like(contact)
        radius = np.array([c.radius for c in self.kin.chains])
        height = float(np.mean((radius - world[:, 2])[use]))
        p = np.array([0.0, 0.0, height])
        self.x = np.concatenate([p, np.zeros(3), (p + world).ravel()])
        self.P = np.diag(np.concatenate([[1e-6] * 2 + [1e-4], [1e-2] * 3, [1e-4] * (3 * self.kin.n_feet)]))

    def update(self, reading: Reading, contact: np.ndarray | None = None) -> BaseEstimate | None:
        """Fold one reading in.

        Args:
            reading: A robot reading with joint positions, velocities (and torques for contact
                detection), gyro and accelerometer (and the IMU orientation when it gives one).
            contact: Feet on the ground from foot sensors, shape (F,); None: from the torques.

        Returns:
            The estimate at the reading's time, or None when the reading cannot be used (invalid,
            no IMU, not later than the last one).
        """
        if (
            not reading.valid
            or reading.gyro is None
            or reading.accel is None
            or not (np.all(np.isfinite(reading.q)) and np.all(np.isfinite(reading.qd)))
        ):
            return None
        dt = 0.0 if self._t is None else reading.t - self._t
        if self._t is not None and not dt > 0:
            return None
        quat = self._orientation(reading, dt)
        R = quat_to_matrix(quat)
        feet, J = self.kin.feet(reading.q)
        stance = self._contacts(reading, J, R) if contact is None else np.asarray(contact, dtype=bool)
        if self._t is None:
            self._start(R, feet, stance)
        else:
            self._predict(reading, R, dt, stance)
            self._correct(reading, R, feet, J, stance)
        self._t = reading.t
        P_v = self.P[3:6, 3:6]
        return BaseEstimate(
            t=reading.t,
            position=self.x[0:3].copy(),
            quat=quat.copy(),
            lin_vel=R.T @ self.x[3:6],
            ang_vel=np.asarray(reading.gyro, dtype=float).copy(),
            contact=stance,
            position_cov=self.P[0:3, 0:3].copy(),
            lin_vel_cov=R.T @ P_v @ R,
        )

    def _predict(self, reading: Reading, R: np.ndarray, dt: float, stance: np.ndarray) -> None:
        c = self.config
        w = np.asarray(reading.gyro, dtype=float)
        r = self.kin.imu_pos
        specific = np.asarray(reading.accel, dtype=float) - _cross(w, _cross(w, r))
        a = R @ specific + GRAVITY
        x = self.x
        x[0:3] += x[3:6] * dt + 0.5 * a * dt * dt
        x[3:6] += a * dt
        n = self.n
        A = np.eye(n)
        A[0:3, 3:6] = np.eye(3) * dt
        q_acc = (c.accel_noise * dt) ** 2
        Q = np.zeros(n)
        Q[0:3] = 0.25 * q_acc * dt * dt + 1e-10
        Q[3:6] = q_acc
        for i, on in enumerate(stance):
            Q[6 + 3 * i : 9 + 3 * i] = (c.stance_foot_noise if on else c.swing_foot_noise) ** 2
        self.P = A @ self.P @ A.T + np.diag(Q)
        self.P[0:3, 3:6] += 0.5 * q_acc * dt * np.eye(3)
        self.P[3:6, 0:3] += 0.5 * q_acc * dt * np.eye(3)

    def _correct(
        self, reading: Reading, R: np.ndarray, feet: np.ndarray, J: np.ndarray, stance: np.ndarray
    ) -> None:
        F = self.kin.n_feet
        w = np.asarray(reading.gyro, dtype=float)
        qd = np.asarray(reading.qd, dtype=float)
        # every foot's position relative to the base: f_i - p = R fk_i; a standing foot does not
        # move, v = -R (w x fk_i + J_i qd), and touches the floor, f_i,z = radius
        relative = feet @ R.T
        moving = np.cross(w[None, :], feet) + np.einsum("fkn,n->fk", J, qd)
        values = np.concatenate([relative.ravel(), (-(moving @ R.T)).ravel(), self._radius])
        use = np.concatenate([np.ones(3 * F, dtype=bool), np.repeat(stance, 3), stance])
        H, noise = self._H[use], self._noise[use]
        y = values[use] - H @ self.x
        PHt = self.P @ H.T
        S = H @ PHt + np.diag(noise)
        K = np.linalg.solve(S, PHt.T).T
        self.x = self.x + K @ y
        I_KH = np.eye(self.n) - K @ H
        self.P = I_KH @ self.P @ I_KH.T + (K * noise) @ K.T


def estimate_track(
    spec: RobotSpec,
    trajectory: Trajectory,
    *,
    kinematics: LegKinematics | None = None,
    config: EstimatorConfig | None = None,
) -> BaseTrack:
    """Run the estimator over a recorded log (joint states with torques, and IMU samples).

    Each joint-state sample is paired with the latest IMU sample at or before it.

    Raises:
        Sim2RealError: the log has no IMU samples, or the robot no floating base.
    """
    from sim2real.logs.trajectory import BaseTrack

    if not trajectory.has_imu or trajectory.imu_t.size == 0:
        raise Sim2RealError("base state estimation needs the log's IMU samples (/imu/data)")
    kin = kinematics or LegKinematics.from_model(spec)
    est = BaseStateEstimator(kin, config)
    cols = np.array([trajectory.joint_index(j) for j in spec.joints])
    imu = np.searchsorted(trajectory.imu_t, trajectory.t + 1e-9, side="right") - 1
    rows = []
    for i, t in enumerate(trajectory.t):
        k = imu[i]
        if k < 0:
            continue
        reading = Reading(
            t=float(t),
            q=trajectory.q[i, cols],
            qd=trajectory.qd[i, cols],
            tau=None if trajectory.tau is None else trajectory.tau[i, cols],
            gyro=trajectory.gyro[k],
            accel=trajectory.accel[k],
            quat=None if trajectory.quat is None else trajectory.quat[k],
        )
        out = est.update(reading)
        if out is not None:
            rows.append((out.t, out.position, out.quat, out.lin_vel, out.ang_vel))
    if not rows:
        raise Sim2RealError("the log gives no sample to estimate the base state from")
    return BaseTrack(
        t=np.array([r[0] for r in rows]),
        position=np.array([r[1] for r in rows]),
        quat=np.array([r[2] for r in rows]),
        lin_vel=np.array([r[3] for r in rows]),
        ang_vel=np.array([r[4] for r in rows]),
        source="estimate",
    )
