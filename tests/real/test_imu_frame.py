"""An IMU recorded in another frame than the spec's IMU site (``header.frame_id``), turned into it."""

from __future__ import annotations

import logging

import mujoco
import numpy as np
import pytest

from sim2real.logs import Trajectory
from sim2real.real.imu_frame import frame_rotation, imu_in_site_frame, rotate_imu
from sim2real.real.rotations import quat_multiply
from sim2real.robots import load_robot

MJCF = """
<mujoco>
  <compiler angle="radian"/>
  <worldbody>
    <body name="base">
      <freejoint/>
      <geom size="0.1"/>
      <site name="imu" pos="0.1 0 0"/>
      <site name="imu_link" pos="0.1 0 0.02" euler="0 0 3.141592653589793"/>
      <body name="mount" euler="1.5707963267948966 0 0"><geom size="0.01"/></body>
      <body name="leg"><joint name="hinge" axis="0 1 0"/><geom size="0.01"/></body>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.fixture(scope="module")
def model():
    return mujoco.MjModel.from_xml_string(MJCF)


def _log(gyro, accel, quat, meta=None) -> Trajectory:
    n = len(gyro)
    return Trajectory(
        spec_hash=None,
        joint_names=("a",),
        t=np.arange(2) * 0.01,
        q=np.zeros((2, 1)),
        qd=np.zeros((2, 1)),
        imu_t=np.arange(n) * 0.01,
        gyro=gyro,
        accel=accel,
        quat=quat,
        meta=meta or {},
    )


class TestFrameRotation:
    def test_a_site_turned_half_a_turn_about_z(self, model):
        rotation, offset = frame_rotation(model, "imu", "imu_link")
        np.testing.assert_allclose(rotation, np.diag([-1.0, -1.0, 1.0]), atol=1e-12)
        np.testing.assert_allclose(offset, [0.0, 0.0, 0.02], atol=1e-12)

    def test_a_welded_body_and_frames_that_cannot_serve(self, model):
        rotation, _ = frame_rotation(model, "imu", "mount")
        np.testing.assert_allclose(rotation, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)
        assert frame_rotation(model, "imu", "leg") == "joints move it against the IMU site"
        assert frame_rotation(model, "imu", "imu_chip") == "the model has no site or body of that name"


class TestRotate:
    def test_readings_in_the_turned_frame_come_back_as_the_sites(self, model):
        rng = np.random.default_rng(0)
        gyro, accel = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
        quat = rng.normal(size=(5, 4))
        quat /= np.linalg.norm(quat, axis=1, keepdims=True)
        rotation, _ = frame_rotation(model, "imu", "imu_link")
        # what a chip turned 180 degrees about z reports: x and y negated, orientation q_site * q_z(pi)
        chip_quat = np.array([quat_multiply(q, np.array([0.0, 0.0, 0.0, 1.0])) for q in quat])
        flip = np.array([-1.0, -1.0, 1.0])
        back = rotate_imu(_log(gyro * flip, accel * flip, chip_quat), rotation)
        np.testing.assert_allclose(back.gyro, gyro, atol=1e-12)
        np.testing.assert_allclose(back.accel, accel, atol=1e-12)
        same = np.minimum(np.abs(back.quat - quat).max(axis=1), np.abs(back.quat + quat).max(axis=1))
        np.testing.assert_allclose(same, 0.0, atol=1e-12)


class TestSpec:
    def test_a_frame_the_model_lacks_is_said_and_read_as_the_site(self, caplog):
        spec = load_robot("quadruped")
        log = _log(
            np.ones((3, 3)), np.ones((3, 3)), np.tile([1.0, 0, 0, 0], (3, 1)), {"imu_frame": "imu_link"}
        )
        with caplog.at_level(logging.WARNING):
            out = imu_in_site_frame(spec, log, "run")  # before: read as the site without a word
        assert out is log
        assert (
            "run: the IMU samples are in frame 'imu_link', not the IMU site 'imu' of quadruped" in caplog.text
        )

    def test_the_site_or_its_aligned_body_needs_nothing(self, caplog):
        spec = load_robot("quadruped")
        for frame in ("imu", "base", None):
            log = _log(np.ones((3, 3)), np.ones((3, 3)), None, {"imu_frame": frame} if frame else {})
            assert imu_in_site_frame(spec, log, "run") is log
        assert not caplog.records

    def test_a_turned_frame_of_the_model_is_turned_and_said(self, model, caplog):
        spec = load_robot("quadruped")
        log = _log(np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 0.0, 9.81]]), None, {"imu_frame": "imu_link"})
        with caplog.at_level(logging.WARNING):
            out = imu_in_site_frame(spec, log, "run", model=model)
        np.testing.assert_allclose(out.gyro, [[-1.0, -2.0, 3.0]], atol=1e-12)
        assert out.meta["imu_frame"] == "imu" and out.meta["imu_frame_recorded"] == "imu_link"
        assert (
            "turned 180 degrees from the IMU site 'imu'" in caplog.text
            and "0.02 m between them" in caplog.text
        )
