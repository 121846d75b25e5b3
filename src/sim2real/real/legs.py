"""The legs of a floating-base robot as plain arrays: what the base-state estimator needs.

A :class:`LegKinematics` holds one :class:`LegChain` per foot (the fixed transforms and joint axes
from the base body to the foot's contact point), the robot's mass and the IMU's mount on the base.
It computes foot positions and Jacobians in the base frame from joint positions with numpy alone,
so it runs on the robot; it is built from the MuJoCo model on the host
(:meth:`LegKinematics.from_model`, which imports MuJoCo) and saved/loaded as a JSON-ready dict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.real.rotations import axis_angle, cross, quat_multiply, quat_to_matrix
from sim2real.robots.collide import collides

if TYPE_CHECKING:
    import mujoco

    from sim2real.robots.spec import RobotSpec

__all__ = ["LegChain", "LegKinematics"]


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
                Rj = axis_angle(self.axis[k], value)
                p = p + R @ (c - Rj @ c)
                R = R @ Rj
            anchors.append(p + R @ self.anchor[k])
            axes.append(axis)
        foot = p + R @ self.foot
        J = np.zeros((3, q.shape[0]))
        for k, j in enumerate(self.joints):
            J[:, j] = axes[k] if self.slide[k] else cross(axes[k], foot - anchors[k])
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
    imu_quat: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0, 0.0]))
    """IMU orientation in the base frame (its mount), shape (4,) (w, x, y, z); identity when square."""

    def __post_init__(self) -> None:
        quat = np.asarray(self.imu_quat, dtype=float)
        if quat.shape != (4,) or not np.all(np.isfinite(quat)) or np.linalg.norm(quat) < 1e-9:
            raise Sim2RealError(f"imu_quat must be a finite (w, x, y, z) quaternion, got {self.imu_quat!r}")
        quat = quat / np.linalg.norm(quat)
        object.__setattr__(self, "imu_quat", quat)
        square = bool(np.allclose(quat, [1.0, 0.0, 0.0, 0.0], rtol=0.0, atol=1e-12))
        object.__setattr__(
            self,
            "_mount",
            None if square else (quat_to_matrix(quat), quat * np.array([1.0, -1.0, -1.0, -1.0])),
        )

    def to_base(self, reading: Reading) -> Reading:
        """The reading with its IMU values turned from the IMU's frame into the base's.

        gyro and accelerometer: ``M v`` with ``M`` the mount's rotation (base <- IMU); orientation:
        ``q_imu q_mount^-1`` (world <- base).  A square mount returns the reading itself.
        """
        if self._mount is None:
            return reading
        M, inverse = self._mount
        return dataclasses.replace(
            reading,
            gyro=None if reading.gyro is None else M @ reading.gyro,
            accel=None if reading.accel is None else M @ reading.accel,
            quat=None if reading.quat is None else quat_multiply(reading.quat, inverse),
        )

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
            "imu_quat": self.imu_quat.tolist(),
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
            imu_quat=np.asarray(d.get("imu_quat", [1.0, 0.0, 0.0, 0.0]), dtype=float),
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
                jnts = list(
                    range(int(model.body_jntadr[b]), int(model.body_jntadr[b] + model.body_jntnum[b]))
                )
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
                    name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
                    if j not in policy and name in spec.locked_joints:  # held still: one more fixed link
                        moved = float(spec.locked_joints[name]) - float(model.qpos0[model.jnt_qposadr[j]])
                        a, at = np.asarray(model.jnt_axis[j], dtype=float), np.asarray(model.jnt_pos[j], dtype=float)
                        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_SLIDE):
                            turn, shift = np.eye(3), a * moved
                        else:  # about the axis through the anchor: x -> anchor + R (x - anchor)
                            turn = axis_angle(a / np.linalg.norm(a), moved)
                            shift = at - turn @ at
                        pos.append(shift)
                        rot.append(turn)
                        joints.extend([-1, -1])
                        for _ in range(2):
                            axis.append(np.array([0.0, 0.0, 1.0]))
                            anchor.append(np.zeros(3))
                            slide.append(True)
                            ref.append(0.0)
                        continue
                    if j not in policy:
                        raise Sim2RealError(f"joint '{name}' on the way to a foot is not a policy joint (nor locked)")
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
        imu_pos, imu_quat = np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0])
        if spec.imu is not None:
            site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, spec.imu.site)
            if site >= 0:
                b = int(model.site_bodyid[site])
                while b not in (base, 0):
                    if int(model.body_jntnum[b]) > 0:
                        raise Sim2RealError(
                            f"IMU site '{spec.imu.site}' moves against the base body '{spec.base_body}' (a joint "
                            "between them): base state estimation needs the IMU on the base or a body welded to it"
                        )
                    b = int(model.body_parentid[b])
                R = data.xmat[base].reshape(3, 3)
                imu_pos = R.T @ (data.site_xpos[site] - data.xpos[base])
                mujoco.mju_mat2Quat(imu_quat, (R.T @ data.site_xmat[site].reshape(3, 3)).ravel())
        return LegKinematics(
            n_joints=spec.n_joints,
            chains=tuple(chains),
            mass=float(np.sum(model.body_mass)),
            imu_pos=imu_pos,
            imu_quat=imu_quat,
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
