"""The ground of a model: the world body's planes and geoms a robot can stand on (``robot init``)."""

from __future__ import annotations

import mujoco

from sim2real.robots.collide import collides
from sim2real.robots.init_actuators import object_name


def ground_planes(model: mujoco.MjModel) -> list[int]:
    """The planes of the world body that collide (the ground), geom ids (a plane that collides with
    nothing, like Gymnasium's reacher's, is only drawn)."""
    return [
        g
        for g in range(model.ngeom)
        if int(model.geom_bodyid[g]) == 0
        and int(model.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_PLANE)
        and collides(model, g)
    ]


def has_ground(model: mujoco.MjModel) -> bool:
    """Whether the world body has a geom the robot can stand on (plane, height field, box...)."""
    return any(
        int(model.geom_bodyid[g]) == 0 and collides(model, g)
        for g in range(model.ngeom)
    )


def added_floor_name(model: mujoco.MjModel) -> str:
    """A geom name for the ground plane sim2real adds: ``floor`` unless the model uses it."""
    name = "floor"
    while mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name) >= 0:
        name = f"sim2real_{name}"
    return name


def floor_plane(model: mujoco.MjModel) -> tuple[float, str | None]:
    """Height of the floor (the highest plane of the world body) and its geom name."""
    planes = ground_planes(model)
    if not planes:
        return 0.0, None
    g = max(planes, key=lambda i: model.geom_pos[i, 2])
    return float(model.geom_pos[g, 2]), object_name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or None
