"""Terrain: only in the model of an environment that asks for it; per-simulation bump heights as
drawn, a flat spawn pad under every robot, the floor's friction."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from randomize_helpers import get, make_env
from scipy import stats

from sim2real.randomize import RandomizationError, build_hooks
from sim2real.robots.model import build_model

TERRAIN = {
    "terrain": {
        "kind": "rough",
        "height": {"dist": "uniform", "low": 0.0, "high": 0.08},
        "size": 4.0,
        "pad_spacing": 2.0,
    },
    "physics": [
        {"param": "geom.floor.friction", "mode": "absolute", "dist": "uniform", "low": 0.4, "high": 1.0}
    ],
}


@pytest.fixture(scope="module")
def terrain_env(specs):
    return make_env(specs["quadruped"], TERRAIN, 24, seed=3)


def _heights(env, points):
    """Ground height under world points (p, 2) in every simulation, (n, p) [m] (robots excluded)."""
    start = np.c_[points, np.full(len(points), 2.0)]
    down = np.tile([0.0, 0.0, -1.0], (len(points), 1))
    world_only = np.zeros(6, dtype=np.uint8)
    # group 0: the floor, the terrain and the feet (the rays avoid them); the body is in groups 1 and 3
    world_only[0] = 1
    dist, _ = env.sim.batch.ray(start, down, geomgroup=world_only)
    return 2.0 - dist


def test_the_nominal_model_and_spec_hash_do_not_change(specs, terrain_env):
    spec = specs["quadruped"]
    env, _ = terrain_env
    nominal = build_model(spec)
    assert nominal.nhfield == 0 and mujoco.mj_name2id(nominal, mujoco.mjtObj.mjOBJ_GEOM, "terrain") < 0
    assert env.sim.model.nhfield == 1 and env.sim.model.ngeom == nominal.ngeom + 1
    assert env.spec.hash == spec.hash


def test_bumps_rise_to_the_drawn_height_and_the_spawn_pad_is_flat(terrain_env):
    env, randomizer = terrain_env
    h = randomizer.terrain_height
    assert stats.kstest(h, stats.uniform(0, 0.08).cdf).pvalue > 0.001
    axis = np.linspace(-1.9, 1.9, 39)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    grid = grid[(np.abs(grid[:, 0]) > 0.5) | (np.abs(grid[:, 1]) > 0.35)]  # not through the robot's feet
    heights = _heights(env, grid)
    assert np.all(heights.max(axis=1) <= h + 1e-6)
    tall = h > 0.03
    assert np.all(heights.max(axis=1)[tall] > 0.5 * h[tall])  # the drawn height is reached somewhere
    pad = _heights(env, np.array([[0.0, 0.0], [0.0, 0.3], [0.0, -0.3], [0.4, 0.0], [-0.45, 0.0]]))
    np.testing.assert_allclose(pad, 0.0, atol=1e-9)  # the robot starts on the floor
    # every simulation stands on its own piece of terrain
    assert len({tuple(np.round(row, 4)) for row in heights[tall]}) == tall.sum()


def test_terrain_follows_the_floor_friction_and_moves_on_reset(terrain_env):
    env, randomizer = terrain_env
    np.testing.assert_array_equal(get(env, "geom.terrain.friction"), get(env, "geom.floor.friction"))
    before = randomizer.terrain_height.copy()
    env.reset(np.array([0, 1]))
    assert np.all(randomizer.terrain_height[:2] != before[:2])
    np.testing.assert_array_equal(randomizer.terrain_height[2:], before[2:])
    np.testing.assert_array_equal(get(env, "geom.terrain.friction"), get(env, "geom.floor.friction"))


def test_terrain_needs_a_model_built_with_the_hooks(specs):
    from sim2real.envs.core import TaskEnv
    from sim2real.tasks import get_task

    spec = specs["quadruped"]
    hooks = build_hooks(spec, TERRAIN, seed=0)
    with pytest.raises(RandomizationError, match="terrain"):
        TaskEnv(spec, get_task("quadruped"), 2, hooks=hooks, model=build_model(spec))


def test_bumps_rise_from_a_floor_off_z_0(specs, tmp_path):
    """The terrain sank into a floor assumed at z = 0: under a scene whose floor is at -0.3 its spawn
    pad stood 0.3 m above the floor, the robot's feet in it at every reset."""
    import yaml

    from sim2real.robots import DATA_DIR, load_robot

    xml = (DATA_DIR / "quadruped.xml").read_text()
    xml = xml.replace('<geom name="floor" type="plane"', '<geom name="floor" type="plane" pos="0 0 -0.3"', 1)
    (tmp_path / "quadruped.xml").write_text(xml)
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["initial_base"]["pos"][2] -= 0.3
    raw["safety"]["base_height"] = [h - 0.3 for h in raw["safety"]["base_height"]]
    (tmp_path / "quadruped.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    spec = load_robot(str(tmp_path / "quadruped.yaml"))
    env, randomizer = make_env(spec, TERRAIN, 4, seed=3, task=None)
    pad = _heights(env, np.array([[0.0, 0.0], [0.0, 0.3], [0.4, 0.0]]))
    np.testing.assert_allclose(pad, -0.3, atol=1e-9)  # the robot starts on the floor
    axis = np.linspace(-1.9, 1.9, 20)
    heights = _heights(env, np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2))
    assert np.all(heights.max(axis=1) <= -0.3 + randomizer.terrain_height + 1e-6)


def test_the_floor_height_reuses_the_namespace_model(specs, monkeypatch):
    """terrain_floor compiled the nominal model once more per hooks built, though the randomization's
    namespace holds it compiled already."""
    from sim2real.randomize.namespace import namespace
    from sim2real.randomize.terrain import terrain_floor
    from sim2real.robots.model import spec_floor_height

    spec = specs["quadruped"]
    expected = spec_floor_height(spec, build_model(spec))
    namespace(spec)
    compiled = []
    compile_ = mujoco.MjSpec.compile
    monkeypatch.setattr(mujoco.MjSpec, "compile", lambda self, *a: compiled.append(1) or compile_(self, *a))
    assert terrain_floor(spec) == expected
    build_hooks(spec, TERRAIN, seed=0)
    assert compiled == []
