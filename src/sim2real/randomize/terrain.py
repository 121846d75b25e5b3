"""Uneven ground: one seeded heightfield, placed per simulation per episode.

MuJoCo's heightfield data cannot differ between the simulations of a batch, but a geom's body
position can.  So the terrain is one heightfield on its own static body, and each episode each
simulation gets its own placement: a random flat spawn pad under the robot's start (the world
origin), a random quarter turn, and a depth that sinks the field into the floor (wherever it is:
:func:`terrain_floor`) so that its tallest bumps rise exactly the drawn height above it (0: flat).  The floor plane stays,
so contact on flat ground is unchanged, and the pads stay :data:`CLEARANCE` under it.

The terrain is added to the model only when a randomization asks for it (:meth:`TerrainHook.edit_spec`,
called by ``TaskEnv`` before it compiles the model): the robot's nominal model
(``build_model(spec)``) and its spec hash are unchanged, and the benchmark's bare loop runs on the
same model as the environment.
"""

from __future__ import annotations

import mujoco
import numpy as np
from scipy import ndimage

from sim2real.randomize.namespace import namespace
from sim2real.randomize.schema import RandomizationError, TerrainConfig
from sim2real.robots.ground import is_static
from sim2real.robots.model import spec_floor_height
from sim2real.robots.spec import RobotSpec

NAME = "terrain"
"""Name of the terrain's hfield asset, body and geom (``geom.terrain.friction`` follows the floor's)."""
CLEARANCE = 0.01
"""Depth [m] of the spawn pads below the lowest terrain: however high the bumps, the pads (and a
flat terrain) stay this far under the floor, so a standing robot touches the floor only."""


def ground_plane(model: mujoco.MjModel) -> int:
    """Id of the first plane geom of the world (or of a body welded to it: the floor), or -1."""
    for g in range(model.ngeom):
        if is_static(model, g) and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_PLANE:
            return g
    return -1


def heights(
    config: TerrainConfig, rng: np.random.Generator, floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized elevation grid, shape (n, n) (row = y, column = x), and pad centres (p, 2) [m].

    The terrain spans [floor, 1] and the pads sit at 0 (``floor`` is the pads' clearance as a
    fraction of the elevation)."""
    n = round(2 * config.size / config.resolution) + 1
    axis = np.linspace(-config.size, config.size, n)
    if config.kind == "rough":
        sigma = config.feature / config.resolution / 2
        grid = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma, mode="wrap")
    else:
        cells = int(np.ceil(2 * config.size / config.feature))
        level = rng.uniform(0.0, 1.0, (cells, cells))
        index = np.minimum(((axis + config.size) / config.feature).astype(int), cells - 1)
        grid = level[np.ix_(index, index)]
    grid = floor + (1.0 - floor) * (grid - grid.min()) / max(float(np.ptp(grid)), 1e-12)
    half = config.size / 2
    ticks = np.arange(-half, half + 1e-9, config.pad_spacing)
    ticks = ticks - ticks.mean()
    pads = np.array([(x, y) for y in ticks for x in ticks])
    xx, yy = np.meshgrid(axis, axis)
    for x, y in pads:
        grid[(xx - x) ** 2 + (yy - y) ** 2 <= config.pad_radius**2] = 0.0
    grid[0, 0] = 1.0  # a corner keeps the [0, 1] span MuJoCo normalizes elevation data to
    return grid, pads


class TerrainHook:
    """Adds the terrain to the model (the ``edit_spec`` hook of ``TaskEnv``) and places it.

    Args:
        config: The terrain; its ``height`` range sets the field's elevation (its highest value).
        seed: Seed of the heightfield.
        floor: Height of the floor the robot stands on [m, world z]
            (:func:`~sim2real.robots.model.spec_floor_height`: a scene's floor below or above z = 0,
            a box's top): the bumps rise from it.
    """

    def __init__(self, config: TerrainConfig, seed: int = 0, floor: float = 0.0) -> None:
        self.config = config
        self.floor = float(floor)
        self.elevation = float(config.height.high[0]) + CLEARANCE
        """Full height of the field [m] (pads to highest bump); sunk by elevation - h for a drawn height h."""
        self.grid, self.pads = heights(config, np.random.default_rng([seed, 991]), CLEARANCE / self.elevation)

    def edit_spec(self, mjspec: mujoco.MjSpec) -> None:
        """Add the heightfield asset, a static body and its geom (contact like the floor's)."""
        for kind, items in (("hfield", mjspec.hfields), ("body", mjspec.bodies), ("geom", mjspec.geoms)):
            if any(item.name == NAME for item in items):
                raise RandomizationError(
                    f"the model already has a {kind} named '{NAME}'; terrain cannot be added"
                )
        n = self.grid.shape[0]
        c = self.config
        mjspec.add_hfield(
            name=NAME,
            size=[c.size, c.size, self.elevation, 0.1],
            nrow=n,
            ncol=n,
            userdata=self.grid.ravel().tolist(),
        )
        body = mjspec.worldbody.add_body(name=NAME, pos=[0.0, 0.0, self.floor - self.elevation])
        geom = body.add_geom(name=NAME, type=mujoco.mjtGeom.mjGEOM_HFIELD, hfieldname=NAME)
        floor = next((g for g in mjspec.worldbody.geoms if g.type == mujoco.mjtGeom.mjGEOM_PLANE), None)
        if floor is not None:
            for attr in (
                "contype",
                "conaffinity",
                "condim",
                "priority",
                "friction",
                "solref",
                "solimp",
                "margin",
            ):
                setattr(geom, attr, getattr(floor, attr))
        else:
            geom.contype, geom.conaffinity = 1, 1
        geom.rgba = [0.45, 0.5, 0.45, 1.0]

    def place(
        self,
        batch: mujoco.batch.Batch,
        body: int,
        ids: np.ndarray,
        height: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Put simulations ``ids`` on a random pad, turned a random quarter, bumps ``height`` (n,) high [m]."""
        n = ids.size
        pad = self.pads[rng.integers(0, len(self.pads), n)]
        turn = rng.integers(0, 4, n) * (np.pi / 2)
        cos, sin = np.cos(turn), np.sin(turn)
        # world = R(turn) p + t, with the pad centre at the world origin
        tx = -(cos * pad[:, 0] - sin * pad[:, 1])
        ty = -(sin * pad[:, 0] + cos * pad[:, 1])
        depth = self.elevation - np.clip(height, 0.0, self.elevation - CLEARANCE)
        pos = batch.expand("body_pos")
        pos[ids, body] = np.stack([tx, ty, self.floor - depth], axis=1)
        quat = batch.expand("body_quat")
        quat[ids, body] = np.stack([np.cos(turn / 2), 0 * turn, 0 * turn, np.sin(turn / 2)], axis=1)


def terrain_floor(spec: RobotSpec) -> float:
    """Height of the floor the terrain's bumps rise from [m, world z]: the floor under the robot at
    its initial pose (:func:`~sim2real.robots.model.spec_floor_height`), on the nominal model the
    robot's randomization namespace compiled already (:func:`~sim2real.randomize.namespace.namespace`)."""
    return spec_floor_height(spec, namespace(spec).model)
