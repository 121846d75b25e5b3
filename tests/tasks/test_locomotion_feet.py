"""The locomotion task's foot contacts: a sole of several geoms touches while any of them does."""

from __future__ import annotations

import mujoco
import numpy as np

from biped_testdata import four_sphere_biped
from sim2real.envs.core import TaskEnv
from sim2real.robots import load_robot
from sim2real.robots.geom_extent import geom_bottom
from sim2real.robots.model import default_qpos
from sim2real.tasks import get_task
from sim2real.tasks.locomotion import foot_geoms


def _pose_contacts(env: TaskEnv, qpos: np.ndarray) -> np.ndarray:
    """The feet tracker's contacts (n_feet,) of simulation 0 placed at ``qpos``."""
    env.sim.qpos[0] = qpos
    env.sim.batch.forward(ids=np.array([0]), stage=env.sim.stage)
    env.feet.post_physics(env)
    return env.feet.contact[0].copy()


def _on_floor(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """``qpos`` with the floating base lowered until the robot's lowest geom touches the floor."""
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    robot = [g for g in range(model.ngeom) if model.geom_bodyid[g] > 0]
    out = qpos.copy()
    out[2] -= min(geom_bottom(model, data, g) for g in robot)
    return out


class TestSoleContacts:
    def test_a_quadrupeds_foot_is_its_one_sphere(self):
        spec = load_robot("quadruped")
        env = TaskEnv(spec, get_task(spec), 1, seed=0)
        ids, clearance = foot_geoms(spec, env.sim.model, env.sim.default_qpos)
        assert ids.shape == (4, 1)
        assert (env.sim.model.geom_type[ids] == mujoco.mjtGeom.mjGEOM_SPHERE).all()
        np.testing.assert_allclose(clearance, env.sim.model.geom_size[ids, 0])

    def test_a_foot_rocked_onto_its_heels_or_toes_still_touches(self, tmp_path):
        spec = four_sphere_biped(tmp_path)
        env = TaskEnv(spec, get_task(spec), 1, seed=0)
        env.reset()
        model = env.sim.model
        assert env.feet.geom_ids.shape == (2, 4)  # both soles: four spheres each
        standing = _on_floor(model, default_qpos(spec, model))
        assert _pose_contacts(env, standing).all()
        for pitch in (0.3, -0.3):  # toes up (on the heels), then heels up (on the toes)
            qpos = standing.copy()
            for side in ("left", "right"):
                qpos[model.joint(f"{side}_ankle_pitch").qposadr[0]] += pitch
            assert _pose_contacts(env, _on_floor(model, qpos)).all(), pitch
        lifted = standing.copy()
        lifted[2] += 0.05
        assert not _pose_contacts(env, lifted).any()
