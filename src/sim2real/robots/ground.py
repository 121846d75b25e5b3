"""The ground of a model: the world's planes and geoms a robot can stand on (``robot init``): those
of the world body and of bodies welded to it (a scene may put its floor in a static body of its own,
as Menagerie's Open Duck Mini does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import mujoco
import numpy as np

from sim2real.robots.collide import collides
from sim2real.robots.geom_extent import geom_bottom, lowest_point
from sim2real.robots.init_actuators import object_name
from sim2real.text import few

LEVEL_COS = 0.985
"""A plane is level (a floor, not a wall or a ramp) when its normal is within about 10 degrees of
world +z: the cosine of that angle."""


def ground_planes(model: mujoco.MjModel) -> list[int]:
    """The level planes of the world (its body, or a static body welded to it) that collide: the
    ground, geom ids.  Not a plane that collides with nothing (Gymnasium's reacher's is only drawn),
    nor a tilted one (dm_control's quadruped scene walls its arena with planes tilted 45 degrees)."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)  # a static body's plane: its orientation in the world
    return [
        g
        for g in range(model.ngeom)
        if is_static(model, g)
        and int(model.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_PLANE)
        and collides(model, g)
        and float(data.geom_xmat[g][8]) >= LEVEL_COS
    ]


def has_ground(model: mujoco.MjModel) -> bool:
    """Whether the world has a geom the robot can stand on (a level plane, a height field, a box...)."""
    planes = set(ground_planes(model))
    plane = int(mujoco.mjtGeom.mjGEOM_PLANE)
    return any(
        is_static(model, g) and collides(model, g) and (int(model.geom_type[g]) != plane or g in planes)
        for g in range(model.ngeom)
    )


def added_floor_name(model: mujoco.MjModel) -> str:
    """A geom name for the ground plane sim2real adds: ``floor`` unless the model uses it."""
    name = "floor"
    while mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name) >= 0:
        name = f"sim2real_{name}"
    return name


def floor_plane(model: mujoco.MjModel) -> tuple[float, str | None]:
    """Height of the floor (the highest of :func:`ground_planes`, in world z) and its geom name."""
    planes = ground_planes(model)
    if not planes:
        return 0.0, None
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)  # a static body's plane: its position in the world
    g = max(planes, key=lambda i: data.geom_xpos[i, 2])
    return float(data.geom_xpos[g, 2]), object_name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or None


def ground_surface(model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int]) -> tuple[float, int] | None:
    """Where a robot stands on a ground that is not a plane (a box, a height field, a mesh): the
    world z [m] and geom of the first static colliding geom a ray straight down meets under the
    robot's lowest collision point, cast from the top of the robot (its ``geoms``' bounding
    spheres, at the kinematics in ``data``) so that a ground the robot sinks into is met at its top.
    A geom whose bottom (:func:`~sim2real.robots.geom_extent.geom_bottom`) is above that lowest
    point is above the robot, not under it (a table top over a foot, a bar across the robot, a
    roof): the ray passes it.  Planes are not looked at (:func:`floor_plane` owns them); None
    when nothing lies under that point."""
    if not geoms:
        return None
    lowest = min(geoms, key=lambda g: geom_bottom(model, data, g))
    x, y, low = lowest_point(model, data, lowest)
    top = max(float(data.geom_xpos[g, 2] + model.geom_rbound[g]) for g in geoms)
    start, down = np.array([x, y, top]), np.array([0.0, 0.0, -1.0])
    plane, hfield, mesh = (int(t) for t in (mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_HFIELD, mujoco.mjtGeom.mjGEOM_MESH))
    best: tuple[float, int] | None = None
    for g in range(model.ngeom):
        kind = int(model.geom_type[g])
        if kind == plane or not is_static(model, g) or not collides(model, g):
            continue
        if kind == hfield:
            dist = mujoco.mj_rayHfield(model, data, g, start, down)
        elif kind == mesh:
            dist = mujoco.mj_rayMesh(model, data, g, start, down)
        else:
            dist = mujoco.mju_rayGeom(data.geom_xpos[g], data.geom_xmat[g], model.geom_size[g], start, down, kind)
        if dist >= 0 and (best is None or dist < best[0]) and geom_bottom(model, data, g) <= low + 1e-9:
            best = (float(dist), g)
    return None if best is None else (top - best[0], best[1])


def floor_height(model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int]) -> float:
    """Height of the floor a robot stands on [m, world z], what every height "above the floor" is
    measured from (the standing height, ``safety.base_height``, the collision observer's contact
    height, the terrain's bumps): the highest level ground plane (:func:`floor_plane`, the added
    floor too), or the surface of a ground that is not a plane under the robot's lowest collision
    point where it is higher (:func:`ground_surface`; ``geoms``: the robot's collision geoms, at
    the kinematics in ``data``, its initial pose: a box lying on the floor plane, a step of stairs,
    gym-quadruped's slippery surface 1 cm above its plane); else 0."""
    surface = terrain_surface(model, data, geoms)
    if surface is not None:
        return surface[0]
    return floor_plane(model)[0] if ground_planes(model) else 0.0


def terrain_surface(model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int]) -> tuple[float, int] | None:
    """The surface of a ground that is not a plane under the robot (:func:`ground_surface`) where the
    robot stands on it: above the highest level ground plane when the scene has one (a box on the
    floor plane; a box's top buried below the plane is not where the robot stands), else wherever it
    is.  Its world z [m] and geom, or None."""
    surface = ground_surface(model, data, geoms)
    if surface is None or (ground_planes(model) and surface[0] <= floor_plane(model)[0] + 1e-9):
        return None
    return surface


def has_terrain(model: mujoco.MjModel) -> bool:
    """Whether the scene has static colliding geoms other than planes (boxes, height fields, meshes):
    ground a robot may stand in, which :func:`lift_out_of_ground` lifts it out of."""
    plane = int(mujoco.mjtGeom.mjGEOM_PLANE)
    return any(
        is_static(model, g) and collides(model, g) and int(model.geom_type[g]) != plane for g in range(model.ngeom)
    )


LIFT_TOLERANCE = 1e-4
"""Deepest penetration into the ground :func:`lift_out_of_ground` leaves [m]."""
LIFT_NORMAL_Z = 0.5
"""Least vertical component of a contact's normal :func:`lift_out_of_ground` raises the robot for
(ground at most 60 degrees steep; a wall the robot stands against is no ground to rise onto)."""
LIFT_ROUNDS = 50
"""Most rounds of :func:`lift_out_of_ground` (a height field reports part of a deep penetration)."""


def lift_out_of_ground(model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int], z_adr: int) -> float:
    """Raise the robot (its base height at ``data.qpos[z_adr]``) until none of its ``geoms``
    penetrates a static geom of the scene: for a ground that is not a plane (a height field, boxes)
    whose surface is not at the floor height assumed for it (z = 0); contacts with a geom other than a
    height field whose normal, pointing into the robot, rises less steeply than :data:`LIFT_NORMAL_Z`
    (a wall beside the robot, a ceiling above it) raise nothing.  Each round raises it by the deepest contact's depth (MuJoCo's height field contacts
    report part of a deep penetration).
    Returns the total raise [m] (0 when nothing penetrates); ``data`` is left at the raised pose."""
    mine = set(geoms)
    total = 0.0
    for _ in range(LIFT_ROUNDS):
        mujoco.mj_fwdPosition(model, data)
        depth = []
        for c in data.contact[: data.ncon]:
            g1, g2 = int(c.geom1), int(c.geom2)
            scene = g2 if g1 in mine and is_static(model, g2) else g1 if g2 in mine and is_static(model, g1) else -1
            if scene < 0:
                continue
            # ground under the robot, not a wall beside it nor a ceiling above it (a height field is
            # ground: its prisms' contacts have steep normals where a geom is deep in it); the normal
            # points from geom1 to geom2: up into the robot when the scene is below it
            up = float(c.frame[2]) if scene == g1 else -float(c.frame[2])
            if up >= LIFT_NORMAL_Z or int(model.geom_type[scene]) == int(mujoco.mjtGeom.mjGEOM_HFIELD):
                depth.append(-float(c.dist))
        deepest = max(depth, default=0.0)
        if deepest <= LIFT_TOLERANCE:
            break
        data.qpos[z_adr] += deepest
        total += deepest
    return total


def is_static(model: mujoco.MjModel, geom: int) -> bool:
    """Whether a geom belongs to the world body or to a body welded to it (no joint on the way): part of the
    scene, not of anything that moves."""
    return int(model.body_weldid[model.geom_bodyid[geom]]) == 0


ADDED_FLOOR = {"contype": 1, "conaffinity": 1, "condim": 3, "friction": (1.0, 0.005, 0.0001), "priority": 0}
"""Contact settings of the ground plane sim2real adds to a model without one (stated: a geom added
to a model takes its top default class, which may switch contacts off)."""
_DEFAULT_SOLREF = (0.02, 1.0)
_DEFAULT_SOLIMP = (0.9, 0.95, 0.001, 0.5, 2.0)


class _Plane(NamedTuple):
    """A ground plane's contact settings."""

    contype: int
    conaffinity: int
    priority: int
    condim: int
    solref: tuple[float, ...]
    solimp: tuple[float, ...]


@dataclass(frozen=True)
class GroundContact:
    """How the ground meets the robot in contact (:func:`ground_contact`), decided when the spec loads."""

    raise_to: int | None = None
    """Contact priority the ground planes (the added floor too) get, or None: left as they are."""
    planes: tuple[str, ...] = ()
    """Names of the model's ground planes raised (the added floor is raised by its spec name)."""
    note: str | None = None
    """The override line (``robot show``), or None when there is nothing to say."""


def ground_contact(model: mujoco.MjModel, added_floor: bool = False) -> GroundContact:
    """Whether the ground's friction can be the contact friction, and what makes it so.

    At equal contact priority MuJoCo takes the larger of two geoms' frictions, so a floor friction
    drawn below the feet's own (``geom.<floor>.friction``, randomized or a twin's hidden value)
    changes no contact.  Raising the ground's priority above every robot geom that can touch it
    makes its friction the contact friction; it also makes its condim, solref and solimp the
    contact's, so the ground is raised only where the robot's geoms that touch it have the same
    ones (then friction is all that changes).  A model whose own geoms outrank its ground
    (Menagerie's feet with ``priority="1"``, condim 6 and their own softness) chose their contact
    on purpose: left as it is.  Either way the note says whose friction the contact takes.

    Args:
        model: The compiled model as the user wrote it.
        added_floor: sim2real adds a ground plane (:data:`ADDED_FLOOR`): the model has none.
    """
    planes = ground_planes(model)
    if added_floor:
        ground = [
            _Plane(ADDED_FLOOR["contype"], ADDED_FLOOR["conaffinity"], ADDED_FLOOR["priority"],
                   ADDED_FLOOR["condim"], _DEFAULT_SOLREF, _DEFAULT_SOLIMP)
        ]
    else:
        ground = [
            _Plane(int(model.geom_contype[g]), int(model.geom_conaffinity[g]), int(model.geom_priority[g]),
                   int(model.geom_condim[g]), tuple(model.geom_solref[g]), tuple(model.geom_solimp[g]))
            for g in planes
        ]
    if not ground:
        return GroundContact()

    def name(g: int) -> str:
        return object_name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"#{g}"

    def listed(geoms: list[int]) -> str:
        return few([name(g) for g in geoms], 3)

    touching = [
        g
        for g in range(model.ngeom)
        if g not in planes
        and not is_static(model, g)
        and collides(model, g)
        and any(int(model.geom_contype[g]) & p.conaffinity or p.contype & int(model.geom_conaffinity[g]) for p in ground)
    ]
    if not touching:
        return GroundContact()
    floor = min(p.priority for p in ground)
    if floor > max(int(model.geom_priority[g]) for g in touching):
        return GroundContact()  # the ground outranks the robot already: its friction is the contact's
    above = [g for g in touching if int(model.geom_priority[g]) > floor]
    if above:
        return GroundContact(
            note=f"keeps the model's contact priorities: {listed(above)} outrank the ground, so their own friction is "
            "the contact friction (randomize theirs, not the ground's)"
        )
    differ = [
        g
        for g in touching
        if any(
            int(model.geom_condim[g]) != p.condim
            or not np.allclose(model.geom_solref[g], p.solref)
            or not np.allclose(model.geom_solimp[g], p.solimp)
            for p in ground
        )
    ]
    if differ:
        return GroundContact(
            note=f"keeps the model's contact priorities: {listed(differ)} meet the ground with their own condim, solref "
            "or solimp, which a higher ground priority would replace; at equal priority the contact takes the "
            "larger friction, so a ground friction below theirs does not reach them"
        )
    top = max(int(model.geom_priority[g]) for g in range(model.ngeom) if g not in planes) + 1
    raised = [g for g in planes if int(model.geom_priority[g]) < top]
    if not added_floor and not raised:
        return GroundContact()
    unnamed = [g for g in raised if not mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)]
    if unnamed:
        return GroundContact(
            note=f"keeps the ground's contact priority: ground plane {listed(unnamed)} has no name to set it by; at equal "
            "priority the contact takes the larger friction, so a ground friction below the robot's does not reach it"
        )
    names = tuple(name(g) for g in raised)
    higher = [g for g in touching if float(model.geom_friction[g, 0]) > min(
        [float(model.geom_friction[r, 0]) for r in raised] or [ADDED_FLOOR["friction"][0]])]
    note = (
        f"ground contact priority -> {top}{' (' + ', '.join(names) + ')' if names else ''}: the ground's friction "
        "is the contact friction"
    )
    if higher:
        note += f" (was the larger of the two: {listed(higher)} had more)"
    return GroundContact(raise_to=top, planes=names, note=note)
