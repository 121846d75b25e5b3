"""Where a robot's bodies are: a body's front, a site in a body's frame, the sole a body stands on,
the gravity torque a joint carries (a geom's lowest point: :mod:`sim2real.robots.geom_extent`).

Shared by the collision observer (which bodies are feet, :func:`default_contacts`; which of them
can touch the ground) and the collision fault case (where a push lands).  Needs MuJoCo and numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.robots.geom_extent import (
    BOX_CORNERS,
    SOLE_SPREAD,
    collision_geoms,
    geom_bottom,
    lowest_points,
    sole_geoms,
)
from sim2real.robots.model import build_model, default_qpos
from sim2real.robots.spec import RobotSpec

__all__ = [
    "POINT_PATCH", "SOLE_SPREAD", "Sole", "front_point", "imu_to_base", "leaf_bodies", "passive_root", "point_contact",
    "site_in_body", "sole", "torque_scale", "unexpected_touches",
]


def leaf_bodies(model: mujoco.MjModel) -> list[int]:
    """Bodies without children (the world excluded)."""
    parents = set(int(p) for p in model.body_parentid[1:])
    return [b for b in range(1, model.nbody) if b not in parents]


def front_point(model: mujoco.MjModel, data: mujoco.MjData, body: int) -> np.ndarray:
    """The front of a body at its origin's height, in the body's frame [m]: where a ray along the
    body's -x axis, from 3 m ahead of its origin, first meets one of its collision geoms; without a
    hit, the front of the geoms' boxes (``geom_aabb``) at the origin's height; (0.1, 0, 0) without
    collision geoms.  Not the bounding sphere (``geom_rbound``): a tall body's sphere reaches far
    beyond its surface."""
    geoms = collision_geoms(model, body)
    if not geoms:
        return np.array([0.1, 0.0, 0.0])
    rot = data.xmat[body].reshape(3, 3)
    start = data.xpos[body] + 3.0 * rot[:, 0]
    toward = -rot[:, 0]
    hits = []
    for g in geoms:
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
            dist = mujoco.mj_rayMesh(model, data, g, start, toward)
        else:
            dist = mujoco.mju_rayGeom(
                data.geom_xpos[g], data.geom_xmat[g], model.geom_size[g], start, toward, int(model.geom_type[g])
            )
        if dist >= 0:
            hits.append(float(dist))
    if hits:
        return np.array([3.0 - min(hits), 0.0, 0.0])
    front = -math.inf
    for g in geoms:
        center, half = model.geom_aabb[g][:3], model.geom_aabb[g][3:]
        grot = np.zeros(9)
        mujoco.mju_quat2Mat(grot, model.geom_quat[g])
        front = max(front, float(np.max(model.geom_pos[g][0] + (center + half * BOX_CORNERS) @ grot.reshape(3, 3)[0])))
    return np.array([front, 0.0, 0.0])


def site_in_body(model: mujoco.MjModel, site: int, body: int) -> tuple[np.ndarray, np.ndarray]:
    """Position [m] and orientation (quaternion w, x, y, z) of a site in the frame of ``body``, for a
    site on ``body`` or on a body welded to it (their relative pose is then the same in any state)."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    rot = data.xmat[body].reshape(3, 3)
    pos = rot.T @ (data.site_xpos[site] - data.xpos[body])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, (rot.T @ data.site_xmat[site].reshape(3, 3)).ravel())
    return pos, quat


def imu_to_base(spec: RobotSpec) -> np.ndarray | None:
    """The IMU's mount, for a robot with an IMU on a floating base: the inverse of the IMU site's
    orientation in the base body's frame, a (w, x, y, z) quaternion.  A reading's quaternion is the
    IMU's own orientation in the world (the site's, as the simulator's sensor and a real IMU give
    it); times this it is the base's.  None when the site is square to the base (within 1e-9 rad):
    nothing to turn.

    Raises:
        Sim2RealError: the IMU site moves against the base (a joint between them): it cannot tell
            the base's orientation.
    """
    if spec.imu is None or spec.base_body is None:
        return None
    model = build_model(spec)
    site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, spec.imu.site)
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    if site < 0 or body < 0:
        raise Sim2RealError(f"the IMU site {spec.imu.site!r} or the base body {spec.base_body!r} is not in the model")
    if int(model.body_weldid[model.site_bodyid[site]]) != int(model.body_weldid[body]):
        raise Sim2RealError(
            f"the IMU site {spec.imu.site!r} moves against the base body {spec.base_body!r} (a joint between "
            "them): its orientation is not the base's, and the tilt limit cannot be checked"
        )
    quat = site_in_body(model, site, body)[1]
    if 2.0 * math.atan2(float(np.linalg.norm(quat[1:])), abs(float(quat[0]))) <= 1e-9:
        return None
    inverse = np.zeros(4)
    mujoco.mju_negQuat(inverse, quat)
    return inverse


POINT_PATCH = 0.03
"""[m] A geom whose points within :data:`SOLE_SPREAD` of its lowest one span at most this across
(horizontally) touches the ground at a point: the moment such a patch carries is at most the normal
force x half of it (a Barkour's rounded mesh foot, 3.5 cm across; a flat sole spans 10-25 cm)."""

_DIRECTIONS = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0.0, np.pi, 16, endpoint=False)])


def _span(points: np.ndarray) -> float:
    """Width of a set of horizontal points (n, 2) [m]: the largest of their extents along 16
    directions (within 2 % of the diameter; linear in n)."""
    along = points @ _DIRECTIONS.T
    return float(np.max(along.max(axis=0) - along.min(axis=0)))


def _pose(model: mujoco.MjModel, qpos: np.ndarray | None) -> mujoco.MjData:
    """Kinematics at ``qpos`` (None: the model's initial pose)."""
    data = mujoco.MjData(model)
    if qpos is not None:
        data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    return data


def _low_points(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> np.ndarray:
    """Where a geom can touch a level floor, in the world [m], shape (n, 3): :func:`lowest_points`'s
    (a sphere's or an ellipsoid's support point, a capsule's cap centres lowered by its radius, a
    cylinder's end circles, a mesh's vertices, a box's corners)."""
    return lowest_points(model, data, geom)[0]


def _band(model: mujoco.MjModel, geom: int, points: np.ndarray, top: float) -> np.ndarray:
    """Horizontal positions (n, 2) [m] of a geom's :func:`_low_points` at most ``top`` high; of a
    capsule the part of its lowered axis below ``top`` (its ends, or where the axis crosses ``top``)."""
    z = points[:, 2]
    keep = [p[:2] for p in points[z <= top]]
    if int(model.geom_type[geom]) == int(mujoco.mjtGeom.mjGEOM_CAPSULE) and abs(float(z[1] - z[0])) > 0:
        t = (top - float(z[0])) / float(z[1] - z[0])
        if 0.0 < t < 1.0:
            keep.append((points[0] + t * (points[1] - points[0]))[:2])
    return np.array(keep, dtype=float).reshape(-1, 2)


LEVEL_TILT = 0.35
"""[rad] A capsule longer than :data:`POINT_PATCH` whose axis is within this of level lies on its
side, not on its end: the robot settles onto it as soon as it tips that far (gymnasium's hopper
stands on a level capsule foot; its default pose, moved off a joint limit by robot init, tilts the
foot by 0.2 rad onto one end, and 0.3 s later it lay flat, carrying a moment a point force cannot)."""


def _lying_capsule(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> bool:
    """Whether a geom is a capsule longer than :data:`POINT_PATCH` within :data:`LEVEL_TILT` of level."""
    if int(model.geom_type[geom]) != int(mujoco.mjtGeom.mjGEOM_CAPSULE) or 2.0 * float(model.geom_size[geom, 1]) <= POINT_PATCH:
        return False
    axis = data.geom_xmat[geom].reshape(3, 3)[:, 2]
    return abs(float(axis[2])) < math.sin(LEVEL_TILT)


def _at_a_point(model: mujoco.MjModel, data: mujoco.MjData, geoms: tuple[int, ...]) -> bool:
    """Whether geoms touch a level floor at a point, at the kinematics in ``data``: all their surface
    points within :data:`SOLE_SPREAD` of their lowest one span at most :data:`POINT_PATCH`
    horizontally (a sphere; a rounded mesh; a capsule on its end, not a level one (within
    :data:`LEVEL_TILT`); HyQ's foot sphere
    with the shin's cylinder ending 4.4 mm above its bottom, at one point of its rim; not a box, a
    flat sole, a cylinder on its face, nor spheres at a foot's corners)."""
    if any(_lying_capsule(model, data, g) for g in geoms):
        return False
    points = {g: _low_points(model, data, g) for g in geoms}
    top = min(float(np.min(p[:, 2])) for p in points.values()) + SOLE_SPREAD
    return _span(np.vstack([_band(model, g, points[g], top) for g in geoms])) <= POINT_PATCH


def point_contact(model: mujoco.MjModel, geom: int, qpos: np.ndarray | None = None) -> bool:
    """Whether one geom touches the ground at a point in the pose ``qpos`` (None: the initial pose)."""
    return _at_a_point(model, _pose(model, qpos), (geom,))


@dataclass(frozen=True)
class Sole:
    """How a body touches the ground (:func:`sole`)."""

    geoms: tuple[int, ...]
    """The collision geoms it stands on, lowest first: those whose lowest points lie within
    :data:`SOLE_SPREAD` of its lowest one (not a shin's or a knee's geom on the same body)."""
    point: bool
    """Whether a point force at the lowest geom's lowest point describes the contact."""

    @property
    def geom(self) -> int:
        """The lowest geom."""
        return self.geoms[0]


def sole(model: mujoco.MjModel, body: int, qpos: np.ndarray | None = None) -> Sole:
    """How a body touches the ground in the pose ``qpos`` (None: the model's initial pose; the
    collision observer passes the spec's default pose): the geoms it stands on, and whether a point
    force at the lowest one's lowest point describes the contact (all the sole's surface points
    within :data:`SOLE_SPREAD` of its lowest span at most :data:`POINT_PATCH`, whatever each geom's
    own shape: a sphere, a rounded mesh foot, a shin's capsule end, a URDF foot link's sphere around
    the rounded end of the shin's mesh, Mini Cheetah's, HyQ's foot sphere with the shin's cylinder
    ending 4.4 mm above its bottom), rather than a force and a torque (a flat or long shape, or a sole of several geoms
    apart: Menagerie's G1 stands on four spheres at the corners of each foot, and a point force at
    one of them cannot carry the foot's moment).

    Raises:
        ValueError: the body has no collision geom.
    """
    data = _pose(model, qpos)
    on = sole_geoms(model, data, body)
    return Sole(geoms=on, point=_at_a_point(model, data, on))


def torque_scale(spec: RobotSpec, model: mujoco.MjModel) -> np.ndarray:
    """Torque scale of each policy joint [N m], shape (n_joints,): the safety torque limit of an
    actuated joint; for a passive one the largest gravity torque of the bodies it carries (subtree
    mass x |g| x distance of the subtree's centre of mass from the joint axis, at the default pose)."""
    data = _pose(model, default_qpos(spec, model))
    mujoco.mj_comPos(model, data)
    g = float(np.linalg.norm(model.opt.gravity))
    out = np.asarray(spec.safety.torque, dtype=float).copy()
    for j, name in enumerate(spec.joints):
        if math.isfinite(out[j]):
            continue
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        body = int(model.jnt_bodyid[jid])
        arm = data.subtree_com[body] - data.xanchor[jid]
        axis = data.xaxis[jid]
        r = float(np.linalg.norm(arm - np.dot(arm, axis) * axis))
        out[j] = max(float(model.body_subtreemass[body]) * g * r, 1e-6)
    return out


def passive_root(spec: RobotSpec, model: mujoco.MjModel) -> bool:
    """Whether a robot without a free joint moves its top body on a slide joint no actuator drives
    (a planar walker's root: gymnasium's hopper, walker2d and half_cheetah, dm_control's walker and
    cheetah, on rootx / rootz / rooty): nothing holds it up but the ground, which it stands on with
    its feet as a floating base does."""
    if spec.floating_base or not spec.joints:
        return False
    top = int(model.body_rootid[model.jnt_bodyid[model.joint(spec.joints[0]).id]])
    first, count = int(model.body_jntadr[top]), int(model.body_jntnum[top])
    actuated = set(spec.actuated_joints)
    return any(
        int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_SLIDE) and model.joint(j).name not in actuated
        for j in range(first, first + count)
    )


def default_contacts(spec: RobotSpec, model: mujoco.MjModel) -> tuple[str, ...]:
    """Bodies where ground contact is expected: the spec's ``feet`` when it has them, else (a floating
    base, or a planar walker's :func:`passive_root`) the leaf bodies whose lowest collision geom lies
    within 5 cm of the lowest one at the model's reference pose; none for a fixed base."""
    feet = getattr(spec, "feet", None)
    if feet:
        return tuple(feet)
    if not spec.floating_base and not passive_root(spec, model):
        return ()
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    lows: dict[int, float] = {}
    for b in leaf_bodies(model):
        geoms = collision_geoms(model, b)
        if geoms:
            lows[b] = min(geom_bottom(model, data, g) for g in geoms)
    if not lows:
        return ()
    lowest = min(lows.values())
    return tuple(model.body(b).name for b, z in lows.items() if z <= lowest + 0.05)


def unexpected_touches(spec: RobotSpec, model: mujoco.MjModel | None = None, gap: float = 1e-3) -> tuple[str, ...]:
    """What touches in the robot's default pose besides its expected contacts on the scene: pairs
    of its own bodies (a keyframe made for other joint directions crosses Mini Cheetah's legs, a
    front thigh pressed into a rear shin) and its other bodies on the scene, as ``"A - B"`` names
    (geoms closer than ``gap`` [m]), in contact order.  The collision observer takes the forces there
    for collisions: a run from that pose is held before any fault.

    Args:
        spec: The robot (its ``safety.collision.contacts`` or :func:`default_contacts` are expected).
        model: Its compiled model (default: :func:`~sim2real.robots.model.build_model`).
    """
    from sim2real.robots.collide import robot_geoms
    from sim2real.robots.ground import is_static

    model = build_model(spec) if model is None else model
    data = _pose(model, default_qpos(spec, model))
    mujoco.mj_collision(model, data)
    names = spec.safety.collision.contacts or default_contacts(spec, model)
    expected = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n) for n in names}
    if spec.base_body is not None:
        root = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    elif spec.joints:
        root = int(model.jnt_bodyid[model.joint(spec.joints[0]).id])
    else:
        return ()
    robot = set(robot_geoms(model, root))
    found: list[str] = []
    for contact in data.contact[: data.ncon]:
        g1, g2 = int(contact.geom1), int(contact.geom2)
        if contact.dist > gap or not (g1 in robot or g2 in robot):
            continue
        b1, b2 = int(model.geom_bodyid[g1]), int(model.geom_bodyid[g2])
        if g1 in robot and g2 in robot:
            pass  # the robot's own bodies pressed together
        elif not (is_static(model, g2 if g1 in robot else g1) and (b1 if g1 in robot else b2) not in expected):
            continue  # an expected contact on the scene, or a free object
        pair = " - ".join(model.body(b).name or f"#{b}" for b in (b1, b2))
        if pair not in found:
            found.append(pair)
    return tuple(found)
