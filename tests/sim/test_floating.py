"""The floating base of a model and the robot hung by its base."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim2real.errors import SpecError
from sim2real.params import Parameters
from sim2real.robots import load_robot
from sim2real.robots.model import build_model, joint_qpos_indices
from sim2real.sim.floating import HANG_LIFT, base_joint, hung_model


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


class TestBaseJoint:
    def test_the_free_model_floats_and_the_hung_one_does_not(self, quadruped):
        free = base_joint(quadruped, build_model(quadruped))
        assert free is not None and (free.qpos, free.dof) == (0, 0)
        assert base_joint(quadruped, hung_model(quadruped)) is None

    def test_a_robot_without_floating_base_has_none(self):
        assert base_joint(load_robot("pendulum"), build_model(load_robot("pendulum"))) is None


class TestHungModel:
    def test_same_joints_actuators_and_parameters_without_the_free_joint(self, quadruped):
        free, hung = build_model(quadruped), hung_model(quadruped)
        assert hung.nq == free.nq - 7 and hung.nv == free.nv - 6 and hung.nu == free.nu
        assert Parameters(quadruped, hung).names == Parameters(quadruped, free).names
        assert hung.ntree == 4  # each leg its own kinematic tree
        body = mujoco.mj_name2id(hung, mujoco.mjtObj.mjOBJ_BODY, quadruped.base_body)
        assert hung.body_pos[body][2] == pytest.approx(quadruped.initial_base.pos[2] + HANG_LIFT)

    def test_a_base_modelled_at_the_floor_hangs_above_its_standing_height(self, tmp_path):
        """A model made from a URDF has its base at z = 0 and the robot standing higher (the spec's
        initial_base): hung 0.6 m above 0, its feet were in the floor and every joint was jammed."""
        from sim2real.robots.init import InitOptions, init_robot
        from urdf_testdata import quadruped_urdf

        urdf = quadruped_urdf(tmp_path / "dog.urdf", leg=0.8)
        spec, _ = init_robot(urdf, tmp_path / "out" / "robot.yaml", InitOptions(kp=30.0, kd=1.0, floating_base=True))
        assert spec.initial_base.pos[2] > HANG_LIFT  # standing taller than the lift
        model = hung_model(spec)
        data = mujoco.MjData(model)
        data.qpos[joint_qpos_indices(spec, model)] = spec.default_pose
        mujoco.mj_forward(model, data)
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        assert data.xpos[body][2] == pytest.approx(spec.initial_base.pos[2] + HANG_LIFT)
        robot = [g for g in range(model.ngeom) if model.geom_bodyid[g] != 0]
        assert min(data.geom_xpos[g][2] - model.geom_rbound[g] for g in robot) > 0.5  # every geom clear of the floor

    def test_keyframes_keep_their_joint_values(self, quadruped):
        free, hung = build_model(quadruped), hung_model(quadruped)
        np.testing.assert_allclose(
            hung.key_qpos[0][joint_qpos_indices(quadruped, hung)],
            free.key_qpos[0][joint_qpos_indices(quadruped, free)],
        )

    def test_the_legs_hang_clear_of_the_floor(self, quadruped):
        model = hung_model(quadruped)
        data = mujoco.MjData(model)
        data.qpos[joint_qpos_indices(quadruped, model)] = quadruped.default_pose
        for _ in range(400):
            mujoco.mj_step(model, data)
        assert data.ncon == 0

    def test_a_robot_without_floating_base_cannot_be_hung(self):
        with pytest.raises(SpecError, match="no floating base"):
            hung_model(load_robot("furuta"))


class TestHungSelfContacts:
    def test_the_base_and_its_child_links_stay_out_of_contact_as_on_the_free_robot(self, tmp_path):
        """MuJoCo filters contacts between a body and its parent unless the parent is welded to the
        world: hanging the base by deleting its free joint turned on contacts between the base and
        the first link of each leg, whose collision meshes overlap at the hip (iCub's root_link and
        hips: 11 contacts deep inside each other; the hung twin reached 400-1300 rad/s)."""
        from sim2real.robots.init import InitOptions, init_robot

        xml = """<mujoco model="hips"><worldbody><geom name="floor" type="plane" size="5 5 0.1"/>
          <body name="pelvis" pos="0 0 0.5"><freejoint/><geom type="box" size="0.1 0.15 0.06" mass="5"/>
            <body name="hip" pos="0 0.1 -0.04"><joint name="hip" axis="0 1 0" range="-1 1"/>
              <geom type="capsule" fromto="0 0 0.05 0 0 -0.3" size="0.04" mass="1"/>
              <body name="shin" pos="0 0 -0.3"><joint name="knee" axis="0 1 0" range="-2 0"/>
                <geom type="capsule" fromto="0 0 0 0 0 -0.15" size="0.03" mass="0.5"/></body></body>
          </body></worldbody></mujoco>"""
        (tmp_path / "hips.xml").write_text(xml)
        spec, _ = init_robot(tmp_path / "hips.xml", tmp_path / "robot.yaml", InitOptions(kp=30.0, kd=1.0, torque_limit=30.0))
        model = hung_model(spec)
        data = mujoco.MjData(model)
        data.qpos[joint_qpos_indices(spec, model)] = spec.default_pose
        mujoco.mj_forward(model, data)
        pairs = {(model.body(model.geom_bodyid[c.geom1]).name, model.body(model.geom_bodyid[c.geom2]).name) for c in data.contact[: data.ncon]}
        assert not pairs, pairs  # the hip capsule starts inside the pelvis box: filtered on the free robot
