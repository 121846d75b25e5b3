"""Terrain height scans: the grid's order, the ray casts against the terrain and not the robot."""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np
import pytest

from imu_mount_testdata import turned_imu_quadruped
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots.spec import ObservationTerm
from sim2real.sim.terrain_scan import cast_height_scan, scan_points, terrain_geoms

XS = [round(-0.8 + 0.1 * i, 1) for i in range(17)]
YS = [round(-0.5 + 0.1 * i, 1) for i in range(11)]
BASE_Z = 0.4

SCENE = f"""
<mujoco>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <geom name="step" type="box" pos="0.55 0.25 0.05" size="0.1 0.1 0.05"/>
    <geom name="decor" type="box" pos="-0.55 -0.25 0.3" size="0.1 0.1 0.05" contype="0" conaffinity="0"/>
    <body name="base" pos="0 0 {BASE_Z}">
      <freejoint/>
      <geom name="trunk" type="box" size="0.3 0.15 0.05"/>
      <body name="leg" pos="0.2 0.1 -0.05">
        <joint type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.3" size="0.03"/>
      </body>
    </body>
  </worldbody>
</mujoco>
"""
"""A floor, a 0.1 m step in front of the base on its left (x 0.45..0.65, y 0.15..0.35, off the grid
lines), a visual box that does not collide, and a robot whose trunk and leg sit over the grid."""


@pytest.fixture(scope="module")
def scene():
    model = mujoco.MjModel.from_xml_string(SCENE)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    base = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "base")
    return model, data, base


def over_step(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x > 0.45) & (x < 0.65) & (y > 0.15) & (y < 0.35)


class TestScanPoints:
    def test_xy_order_varies_x_fastest_and_yx_varies_y_fastest(self):
        xy = scan_points([0.0, 1.0, 2.0], [3.0, 4.0], "xy")
        yx = scan_points([0.0, 1.0, 2.0], [3.0, 4.0], "yx")
        np.testing.assert_array_equal(xy, [[0, 3], [1, 3], [2, 3], [0, 4], [1, 4], [2, 4]])
        np.testing.assert_array_equal(yx, [[0, 3], [0, 4], [1, 3], [1, 4], [2, 3], [2, 4]])

    def test_another_order_is_refused(self):
        with pytest.raises(ValueError, match="'xy' or 'yx'"):
            scan_points([0.0], [0.0], "zz")


class TestCastHeightScan:
    def test_the_robot_and_visual_geoms_are_not_terrain(self, scene):
        model, _, base = scene
        names = [
            mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)
            for g in np.flatnonzero(terrain_geoms(model, base))
        ]
        assert names == ["floor", "step"]

    @pytest.mark.parametrize("order", ["xy", "yx"])
    def test_rays_over_the_step_read_its_height_in_their_grid_positions(self, scene, order):
        model, data, base = scene
        heights = cast_height_scan(
            model,
            data,
            [[0.0, 0.0, BASE_Z]],
            [[1.0, 0.0, 0.0, 0.0]],
            scan_points(XS, YS, order),
            terrain_geoms(model, base),
        )[0]
        k = np.arange(len(XS) * len(YS))
        if order == "xy":  # x fastest: point k is (XS[k % 17], YS[k // 17])
            x, y = np.array(XS)[k % 17], np.array(YS)[k // 17]
        else:  # y fastest: (XS[k // 11], YS[k % 11])
            x, y = np.array(XS)[k // 11], np.array(YS)[k % 11]
        step = over_step(x, y)
        assert step.sum() == 4  # x 0.5, 0.6 by y 0.2, 0.3
        np.testing.assert_allclose(heights[step], BASE_Z - 0.1, atol=1e-9)
        np.testing.assert_allclose(heights[~step], BASE_Z, atol=1e-9)  # through the trunk, leg and decor

    def test_the_grid_turns_with_the_base_yaw_only(self, scene):
        model, data, base = scene
        points = scan_points(XS, YS, "xy")
        yaw, roll = math.pi / 2, 0.3  # turned left a quarter, and rolled (the roll does not tilt the grid)
        q_yaw = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
        q_roll = np.array([math.cos(roll / 2), math.sin(roll / 2), 0.0, 0.0])
        quat = np.zeros(4)
        mujoco.mju_mulQuat(quat, q_yaw, q_roll)
        heights = cast_height_scan(
            model, data, [[0.0, 0.0, BASE_Z]], [quat], points, terrain_geoms(model, base)
        )[0]
        world_x, world_y = (
            -points[:, 1],
            points[:, 0],
        )  # a point (x, y) of the base's frame, turned 90 degrees
        step = over_step(world_x, world_y)
        assert (
            step.sum() == 2
        )  # the grid's y (now pointing backwards) reaches the step at y -0.5 only, x 0.2, 0.3
        np.testing.assert_allclose(heights[step], BASE_Z - 0.1, atol=1e-9)
        np.testing.assert_allclose(heights[~step], BASE_Z, atol=1e-9)

    def test_batched_bases_and_a_miss(self, scene):
        model, data, base = scene
        points = np.array([[0.0, 0.0], [0.6, 0.3]])
        heights = cast_height_scan(
            model,
            data,
            [[0.0, 0.0, 0.4], [0.0, 0.0, 0.7], [10.0, 0.0, 0.4]],
            np.tile([1.0, 0.0, 0.0, 0.0], (3, 1)),
            points,
            terrain_geoms(model, base),
        )
        np.testing.assert_allclose(heights[:2], [[0.4, 0.3], [0.7, 0.6]], atol=1e-9)
        assert np.all(
            np.isposinf(heights[2])
        )  # beyond the floor's 5 m (a ray sees a plane's size): no terrain


class TestTwinReading:
    def test_a_scan_leaves_the_readings_imu_orientation_the_imus(self, tmp_path):
        """The twin's scan took the base's pose under the name of the IMU's quaternion: a reading of an
        IMU turned on its base carried the base's orientation once the spec observed a scan."""
        spec = turned_imu_quadruped(tmp_path, 0.0, 0.0, 34.0)
        scan = ObservationTerm(
            "height_scan", 4, params={"points_x": [-0.1, 0.1], "points_y": [-0.1, 0.1], "order": "xy", "offset": 0.5}
        )
        scanned = dataclasses.replace(spec, observation=(*spec.observation, scan))
        plain, with_scan = (TwinRobot(s, TwinConfig(effects=TwinEffects.none())).read() for s in (spec, scanned))
        assert with_scan.height_scan is not None and plain.height_scan is None
        np.testing.assert_allclose(with_scan.quat, plain.quat, atol=1e-12)
        assert abs(plain.quat[3]) > 0.25  # the IMU's 34 degrees about z, not the base's identity
