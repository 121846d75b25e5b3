"""A geom's lowest point by its shape, against small models whose bounding spheres say otherwise."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim2real.robots.geom_extent import geom_bottom, lowest_point, lowest_points

LIFTED = """<mujoco><asset><mesh name="slab" vertex="-0.15 -0.05 0  0.15 -0.05 0  -0.15 0.05 0  0.15 0.05 0
  -0.15 -0.05 0.04  0.15 -0.05 0.04  -0.15 0.05 0.04  0.15 0.05 0.04"/></asset><worldbody>
  <body name="foot" pos="0 0 0.05"><freejoint/><geom type="mesh" mesh="slab"/></body>
  <body name="shoe" pos="0.3 0 0.1" euler="0 30 0"><freejoint/><geom type="box" size="0.1 0.05 0.02"/></body>
  </worldbody></mujoco>"""
"""Two lifted feet: a flat mesh sole 5 cm above the floor (its bounding sphere 0.16 m) and a tilted
box."""


class TestLowestPoint:
    def test_a_lifted_foot_is_measured_by_its_shape_not_its_bounding_sphere(self):
        model = mujoco.MjModel.from_xml_string(LIFTED)
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        sole, shoe = (model.body(n).geomadr[0] for n in ("foot", "shoe"))
        # the sole mesh's lowest vertex is 5 cm up (no contact); its bounding sphere reaches below the floor
        assert geom_bottom(model, data, sole) == pytest.approx(0.05, abs=1e-9)
        assert data.geom_xpos[sole][2] - model.geom_rbound[sole] < 0.0
        # the tilted box: its lowest corner
        rot = data.geom_xmat[shoe].reshape(3, 3)
        corners = (
            data.geom_xpos[shoe]
            + (
                rot
                @ (
                    model.geom_size[shoe]
                    * np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
                ).T
            ).T
        )
        assert geom_bottom(model, data, shoe) == pytest.approx(corners[:, 2].min(), abs=1e-9)

    def test_the_lowest_point_of_a_capsule_is_its_lower_cap(self):
        xml = """<mujoco><asset><mesh name="ball" vertex="0.0175 0 0  -0.0175 0 0  0 0.0175 0  0 -0.0175 0
          0 0 0.0175  0 0 -0.0175"/></asset><worldbody><body name="trunk" pos="0 0 1"><freejoint/>
          <body name="shin_end" pos="-0.3 0 -0.5"><geom type="capsule" fromto="0 0 0 0.05 0 0.2" size="0.015"/></body>
          <body name="mesh_ball" pos="0 0 -0.5"><geom type="mesh" mesh="ball"/></body></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        shin = model.body("shin_end").geomadr[0]
        # the lower cap's centre is the body's origin (z 0.5 m), the capsule radius below it
        np.testing.assert_allclose(lowest_point(model, data, shin), [0.0 - 0.3, 0.0, 0.5 - 0.015], atol=1e-9)
        assert geom_bottom(model, data, shin) == pytest.approx(0.485, abs=1e-9)
        ball = model.body("mesh_ball").geomadr[0]
        assert lowest_point(model, data, ball)[2] == pytest.approx(0.5 - 0.0175, abs=1e-6)

    def test_an_ellipsoid_touches_at_its_support_point_not_its_boxs_corner(self):
        xml = """<mujoco><compiler angle="radian"/><worldbody><body pos="0 0 1"><freejoint/>
          <geom name="upright" type="ellipsoid" size="0.03 0.02 0.01"/>
          <geom name="tilted" type="ellipsoid" size="0.03 0.02 0.01" pos="0.5 0 0" euler="0 0.6 0"/>
          </body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(
            lowest_point(model, data, model.geom("upright").id), [0.0, 0.0, 0.99], atol=1e-12
        )
        # tilted by 0.6 rad about y: the support height of an ellipse with semi-axes a, c
        a, c, t = 0.03, 0.01, 0.6
        expected = 1.0 - np.sqrt((a * np.sin(t)) ** 2 + (c * np.cos(t)) ** 2)
        assert geom_bottom(model, data, model.geom("tilted").id) == pytest.approx(expected, abs=1e-12)

    def test_a_dense_meshs_lowest_point_is_read_from_its_hull(self):
        # interior vertices never touch first: the hull's (what MuJoCo collides) give the same point
        rng = np.random.default_rng(0)
        inner = rng.uniform(-0.02, 0.02, (600, 3))
        ball = rng.normal(size=(200, 3))
        ball = 0.03 * ball / np.linalg.norm(ball, axis=1, keepdims=True)
        verts = np.concatenate([inner, ball])
        xml = f"""<mujoco><asset><mesh name="m" vertex="{" ".join(f"{v:.6f}" for v in verts.ravel())}"/></asset>
          <worldbody><body pos="0 0 1" euler="20 35 0"><freejoint/><geom type="mesh" mesh="m"/></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        start, n = model.mesh_vertadr[0], model.mesh_vertnum[0]
        world = data.geom_xpos[0] + model.mesh_vert[start : start + n] @ data.geom_xmat[0].reshape(3, 3).T
        points, _ = lowest_points(model, data, 0)
        assert len(points) < n  # the hull only
        np.testing.assert_allclose(lowest_point(model, data, 0), world[np.argmin(world[:, 2])], atol=1e-12)


class TestCylinder:
    @pytest.mark.parametrize("spin", [0.0, 45.0, 30.0])
    def test_a_wheel_turned_about_its_axis_reaches_down_by_its_radius(self, spin):
        # its box's corners reached sqrt(2) r below a wheel turned 45 degrees: a raised wheel or
        # cylinder foot read 4 cm lower than it was (the collision observer's contact height is 3 cm)
        xml = (
            "<mujoco><worldbody><body pos='0 0 0.5'><geom type='cylinder' size='0.1 0.02' "
            f"euler='90 0 {spin}'/></body></worldbody></mujoco>"
        )
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        assert geom_bottom(model, data, 0) == pytest.approx(0.5 - 0.1, abs=1e-9)

    def test_a_tilted_cylinder_touches_with_its_rim(self):
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><geom type='cylinder' size='0.05 0.02' euler='30 0 0'/></worldbody></mujoco>"
        )
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        tilt = np.radians(30)
        assert geom_bottom(model, data, 0) == pytest.approx(-(0.05 * np.sin(tilt) + 0.02 * np.cos(tilt)), abs=1e-9)
