"""Terrain height scans: rays cast straight down in MuJoCo around a floating base.

A policy trained on rough terrain in Isaac Lab or legged_gym observes the terrain's height on a grid
of points around its base (the ``height_scan`` observation term, :mod:`sim2real.tasks.observations`).
Both frameworks' facts (their public code, read for this module):

- Isaac Lab's rough velocity tasks (``isaaclab_tasks/.../locomotion/velocity/velocity_env_cfg.py``)
  put a ``RayCasterCfg`` on the base with ``offset.pos = (0, 0, 20)``, ``ray_alignment="yaw"``
  (``attach_yaw_only=True`` in older releases) and ``GridPatternCfg(resolution=0.1, size=[1.6,
  1.0])``; ``grid_pattern`` (``isaaclab/sensors/ray_caster/patterns/patterns.py``) makes each axis
  ``arange(-size/2, size/2 + 1e-9, resolution)`` (17 x 11 = 187 rays, ``direction (0, 0, -1)``),
  x varying fastest for ``ordering="xy"`` (the default, ``patterns_cfg.py``) and y for ``"yx"``;
  ``RayCaster._update_ray_infos`` turns the starts (offset included) by the base's yaw only and
  keeps the sensor's position at the base, so ``mdp.height_scan``'s ``pos_w z - hit z - offset``
  is the base's height above the hit minus ``offset`` (0.5 by default);
- legged_gym (``legged_gym/envs/base/legged_robot.py``): ``_init_height_points`` builds the grid
  from ``terrain.measured_points_x`` x ``measured_points_y`` (17 x 11 = 187 by default,
  -0.8..0.8 and -0.5..0.5 by 0.1, ``legged_robot_config.py``) with ``torch.meshgrid(x, y)`` (``ij``
  indexing) flattened, so y varies fastest; ``_get_heights`` turns it by the base's yaw
  (``quat_apply_yaw``) and moves it to the base; ``compute_observations`` appends
  ``clip(root z - 0.5 - heights, -1, 1) * obs_scales.height_measurements`` (5.0) after the actions.

Here each ray starts :data:`RAY_START` above the base at its grid point (turned by the base's yaw)
and goes straight down; it sees the scene's colliding geoms that are not the robot's own
(:func:`terrain_geoms`, from :func:`sim2real.robots.collide.robot_geoms`): a ray that meets a robot
geom (or a geom that does not collide, a visual one) goes on through it.  The value of a ray is the
base's height above the terrain there, ``base z - hit z`` [m]; a ray that meets no terrain reads
+inf (a drop; the term's clip bounds it).  ``mujoco.mj_ray`` skips geoms whose alpha is 0 (seen
in MuJoCo 4.0): an invisible floor is not terrain to the scan.

Cost: one ``mj_ray`` call per ray (``mj_multiRay`` casts from a single point only), about 0.75 ms
for 187 rays against a plane and a few boxes on a 2-core machine, paid only
by a robot whose policy observes a scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.robots.collide import collides, robot_geoms
from sim2real.robots.spec import RobotSpec

__all__ = ["RAY_START", "ScanSetup", "cast_height_scan", "scan_points", "scan_setup", "terrain_geoms"]

RAY_START = 20.0
"""Height above the base the rays start at [m] (Isaac Lab's rough-task sensor offset)."""

_PASSES = 32
"""Most geoms a ray goes through (robot or non-colliding ones) before it is given up as a miss."""


def scan_points(points_x: np.ndarray, points_y: np.ndarray, order: str) -> np.ndarray:
    """The grid's points in the base's yaw frame, in observation order.

    Args:
        points_x: Forward coordinates of the grid [m], shape (nx,).
        points_y: Leftward coordinates [m], shape (ny,).
        order: ``xy``: x varies fastest (Isaac Lab's default ordering); ``yx``: y varies fastest
            (legged_gym's).

    Returns:
        Shape (nx * ny, 2): (x, y) per point [m].

    Raises:
        ValueError: another order.
    """
    xs = np.asarray(points_x, dtype=float).ravel()
    ys = np.asarray(points_y, dtype=float).ravel()
    if order == "xy":
        gx, gy = np.meshgrid(xs, ys, indexing="xy")  # shape (ny, nx): x along the rows' inner axis
    elif order == "yx":
        gx, gy = np.meshgrid(xs, ys, indexing="ij")  # shape (nx, ny): y fastest
    else:
        raise ValueError(f"scan grid order must be 'xy' or 'yx', got {order!r}")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def terrain_geoms(model: mujoco.MjModel, base_body: int) -> np.ndarray:
    """Which geoms a scan sees: those that collide and are not the robot's.

    Args:
        model: The model (robot and scene).
        base_body: Id of the robot's base body (any body of the robot works).

    Returns:
        Shape (ngeom,), bool, read-only.
    """
    mask = np.array([collides(model, g) for g in range(model.ngeom)], dtype=bool)
    mask[robot_geoms(model, base_body)] = False
    mask.setflags(write=False)
    return mask


@dataclass(frozen=True)
class ScanSetup:
    """What casting a spec's height scan in a model needs (:func:`scan_setup`)."""

    body: int
    """Id of the floating base body the grid turns and moves with."""
    grid: np.ndarray
    """The grid in the base's yaw frame, in observation order (:func:`scan_points`), (n, 2) [m], read-only."""
    terrain: np.ndarray
    """The geoms the rays see (:func:`terrain_geoms`), (ngeom,) bool, read-only."""


def scan_setup(spec: RobotSpec, model: mujoco.MjModel) -> ScanSetup | None:
    """The scan of ``spec``'s ``height_scan`` observation term in ``model`` (its compiled robot and
    scene), or None when the spec observes none (or has no base body)."""
    term = next((t for t in spec.observation if t.name == "height_scan"), None)
    if term is None or spec.base_body is None:
        return None
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    grid = scan_points(term.params["points_x"], term.params["points_y"], term.params["order"])
    grid.setflags(write=False)
    return ScanSetup(body, grid, terrain_geoms(model, body))


def cast_height_scan(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    base_pos: np.ndarray,
    base_quat: np.ndarray,
    points: np.ndarray,
    terrain: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Heights of N bases above the terrain under their scan grids, by ray casts in one scene.

    Args:
        model: The model.
        data: Its data, after ``mj_forward`` or a step (geom poses current).
        base_pos: Base positions in the world, shape (N, 3) [m].
        base_quat: Base orientations (w, x, y, z), shape (N, 4); only the yaw turns the grid.
        points: The grid in the base's yaw frame (:func:`scan_points`), shape (n, 2) [m].
        terrain: The geoms the rays see (:func:`terrain_geoms`), shape (ngeom,), bool.
        out: Optional (N, n) array to write to.

    Returns:
        Shape (N, n): base z minus the terrain's z under each point [m]; +inf where no terrain is below.
    """
    pos = np.asarray(base_pos, dtype=float).reshape(-1, 3)
    quat = np.asarray(base_quat, dtype=float).reshape(-1, 4)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if out is None:
        out = np.empty((pos.shape[0], pts.shape[0]))
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    c, s = np.cos(yaw), np.sin(yaw)
    world_x = pos[:, :1] + c[:, None] * pts[None, :, 0] - s[:, None] * pts[None, :, 1]
    world_y = pos[:, 1:2] + s[:, None] * pts[None, :, 0] + c[:, None] * pts[None, :, 1]
    down = np.array([0.0, 0.0, -1.0])
    start = np.zeros(3)
    geom = np.zeros(1, dtype=np.int32)
    ray = mujoco.mj_ray
    for i in range(pos.shape[0]):
        top = float(pos[i, 2]) + RAY_START
        row = out[i]
        for k in range(pts.shape[0]):
            start[0], start[1], start[2] = world_x[i, k], world_y[i, k], top
            travelled = 0.0
            height = math.inf
            for _ in range(_PASSES):
                dist = ray(model, data, start, down, None, 1, -1, geom)
                if dist < 0.0:
                    break
                travelled += dist
                if terrain[geom[0]]:
                    height = travelled - RAY_START
                    break
                step = dist + 1e-6  # through the robot's (or a visual) geom
                start[2] -= step
                travelled += 1e-6
            row[k] = height
    return out
