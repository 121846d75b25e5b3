"""How far a collision geom reaches down: its lowest point in the world at given kinematics.

One owner for the question every stage asks of a foot or a body (`robot init` lowering a robot
onto its floor, the collision observer's feet, the fault cases): a sphere's centre less its
radius, a capsule's lower cap, an ellipsoid's support point, a cylinder's end circles' lowest
point, a mesh's lowest vertex, otherwise the lowest corner of the geom's box.  Needs MuJoCo and numpy only.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.robots.collide import collides

__all__ = [
    "BOX_CORNERS",
    "SOLE_SPREAD",
    "collision_geoms",
    "cylinder_rim",
    "geom_bottom",
    "lowest_point",
    "lowest_points",
    "sole_geoms",
]


def collision_geoms(model: mujoco.MjModel, body: int) -> list[int]:
    """The geoms of a body that collide (contype or conaffinity set, or named in a contact pair)."""
    return [g for g in range(model.ngeom) if model.geom_bodyid[g] == body and collides(model, g)]


BOX_CORNERS = np.array([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])


def _surface_points(model: mujoco.MjModel, geom: int) -> np.ndarray:
    """Points that bound a geom's surface from below, in the geom's frame [m], shape (n, 3): a
    mesh's vertices (those of its convex hull when MuJoCo has it, what MuJoCo collides: Barkour's
    foot mesh, 1,834 vertices, has 169 on its hull), a capsule's two cap centres (each to be taken
    less its radius), otherwise the corners of its box (``geom_aabb``; a cylinder's box reaches a
    little below it)."""
    kind = int(model.geom_type[geom])
    if kind == int(mujoco.mjtGeom.mjGEOM_MESH) and model.geom_dataid[geom] >= 0:
        mesh = int(model.geom_dataid[geom])
        start = int(model.mesh_vertadr[mesh])
        verts = np.asarray(model.mesh_vert[start : start + int(model.mesh_vertnum[mesh])], dtype=float)
        graph = int(model.mesh_graphadr[mesh])
        if graph < 0:
            return verts
        n = int(model.mesh_graph[graph])  # layout: numvert, numface, vert_edgeadr[n], vert_globalid[n], ...
        return verts[np.asarray(model.mesh_graph[graph + 2 + n : graph + 2 + 2 * n], dtype=np.int64)]
    if kind == int(mujoco.mjtGeom.mjGEOM_CAPSULE):
        return np.array([[0.0, 0.0, -model.geom_size[geom][1]], [0.0, 0.0, model.geom_size[geom][1]]])
    center, half = model.geom_aabb[geom][:3], model.geom_aabb[geom][3:]
    return center + half * BOX_CORNERS


def _rounded(model: mujoco.MjModel, geom: int) -> float:
    """The radius a geom's points are taken less of (a sphere's or a capsule's), else 0 [m]."""
    kind = int(model.geom_type[geom])
    spheres = (int(mujoco.mjtGeom.mjGEOM_SPHERE), int(mujoco.mjtGeom.mjGEOM_CAPSULE))
    return float(model.geom_size[geom][0]) if kind in spheres else 0.0


def lowest_points(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> tuple[np.ndarray, np.ndarray]:
    """The geom's surface points in the world [m], shape (n, 3), each already lowered by the geom's
    rounding radius (so the lowest of them is the geom's lowest point), and their heights (n,)."""
    kind = int(model.geom_type[geom])
    if kind == int(mujoco.mjtGeom.mjGEOM_SPHERE):
        points = data.geom_xpos[geom][None, :].copy()
    elif kind == int(mujoco.mjtGeom.mjGEOM_ELLIPSOID):  # the support point along -z: R D^2 n / |D n|
        rot, semi = data.geom_xmat[geom].reshape(3, 3), np.asarray(model.geom_size[geom], dtype=float)
        down = rot.T @ np.array([0.0, 0.0, -1.0])
        points = (data.geom_xpos[geom] + rot @ (semi**2 * down / np.linalg.norm(semi * down)))[None, :]
    elif kind == int(mujoco.mjtGeom.mjGEOM_CYLINDER):  # its end circles: its box reaches below a turned one
        points = cylinder_rim(model, data, geom)
    else:
        points = data.geom_xpos[geom] + _surface_points(model, geom) @ data.geom_xmat[geom].reshape(3, 3).T
    points[:, 2] -= _rounded(model, geom)
    return points, points[:, 2]


def geom_bottom(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> float:
    """Height of a geom's lowest point in the world [m] at the kinematics in ``data``: a sphere's
    centre less its radius, a capsule's lower cap, an ellipsoid's support point, a cylinder's end
    circles' lowest point (:func:`cylinder_rim`: its box's corners reach up to sqrt(2) r below a
    wheel turned about its axis), a mesh's lowest vertex, otherwise the lowest corner of the geom's
    box in its own frame (``geom_aabb``).  Not the bounding sphere (``geom_rbound``): a foot mesh's sphere reaches 10-20 cm
    below the sole, so a lifted foot would still count as touching the ground."""
    return float(np.min(lowest_points(model, data, geom)[1]))


def lowest_point(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> np.ndarray:
    """Where a geom would touch a level floor first, in the world [m], shape (3,): its lowest point
    (:func:`geom_bottom`'s) at the kinematics in ``data``."""
    points, z = lowest_points(model, data, geom)
    return points[int(np.argmin(z))].copy()


SOLE_SPREAD = 0.005
"""[m] Collision geoms of a body whose lowest points lie within this of its lowest one make its sole;
so do the points of one geom within this of its lowest point."""


def sole_geoms(model: mujoco.MjModel, data: mujoco.MjData, body: int) -> tuple[int, ...]:
    """The collision geoms a body stands on at the kinematics in ``data``: those whose lowest points
    lie within :data:`SOLE_SPREAD` of its lowest one, lowest first (Menagerie's G1: the four spheres
    at the corners of a foot; not a shin's or a knee's geom on the same body).

    Raises:
        ValueError: the body has no collision geom.
    """
    geoms = collision_geoms(model, body)
    if not geoms:
        raise ValueError(f"body {model.body(body).name!r} has no collision geom")
    bottom = {g: geom_bottom(model, data, g) for g in geoms}
    low = min(bottom.values())
    return tuple(sorted((g for g in geoms if bottom[g] <= low + SOLE_SPREAD), key=bottom.__getitem__))


RIM_SAMPLES = 64
"""Points on each end circle of a cylinder (:func:`cylinder_rim`): 2 pi r / 64 apart."""


def cylinder_rim(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> np.ndarray:
    """A cylinder's two end circles in the world [m], shape (2 * RIM_SAMPLES + k, 3): sampled, and
    each circle's exact lowest point (k = 2; 0 when the axis is vertical and the face is level).
    Where the cylinder can touch a level floor, unlike its box's corners (:func:`lowest_points`),
    which reach below a tilted cylinder and lie beside it."""
    radius, half = float(model.geom_size[geom][0]), float(model.geom_size[geom][1])
    rot = data.geom_xmat[geom].reshape(3, 3)
    angles = np.linspace(0.0, 2.0 * np.pi, RIM_SAMPLES, endpoint=False)
    ring = radius * np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
    local = [ring + np.array([0.0, 0.0, -half]), ring + np.array([0.0, 0.0, half])]
    down = (rot.T @ np.array([0.0, 0.0, -1.0]))[:2]  # the floor's direction in the face's plane
    if float(np.linalg.norm(down)) > 1e-12:
        lowest = radius * down / float(np.linalg.norm(down))
        local.append(np.array([[lowest[0], lowest[1], -half], [lowest[0], lowest[1], half]]))
    return data.geom_xpos[geom] + np.vstack(local) @ rot.T
