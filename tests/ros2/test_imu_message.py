"""IMU messages read live into the IMU site's frame; an orientation the driver did not fill."""

from __future__ import annotations

import logging

import mujoco
import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs the ros2 extra (pip install 'sim2real[ros2]')")

from sim2real.real.ros2.imu_message import UNFILLED_TILT, ImuReader
from sim2real.real.rotations import quat_multiply
from sim2real.robots import load_robot

MJCF = """
<mujoco>
  <worldbody>
    <body name="base">
      <freejoint/>
      <geom size="0.1"/>
      <site name="imu" pos="0.1 0 0"/>
      <site name="imu_link" pos="0.1 0 0.02" euler="0 0 180"/>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.fixture(scope="module")
def quadruped():
    spec = load_robot("quadruped")
    assert spec.imu is not None and spec.imu.site == "imu"
    return spec


def imu_msg(
    accel=(0.0, 0.0, 9.81), quat=(1.0, 0.0, 0.0, 0.0), gyro=(0.0, 0.0, 0.0), frame="", covariance=0.0
):
    from sensor_msgs.msg import Imu

    msg = Imu()
    msg.header.frame_id = frame
    msg.orientation.w, msg.orientation.x, msg.orientation.y, msg.orientation.z = quat
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = gyro
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = accel
    msg.orientation_covariance[0] = covariance
    return msg


class TestUnfilledOrientation:
    def test_the_default_orientation_of_a_base_on_its_side_is_refused(self, quadruped):
        """Safety review 7: a driver leaving the orientation at its default read upright whatever the
        base did, and the tilt check with it (the robot lying on its side passed)."""
        values = ImuReader(quadruped).read(imu_msg(accel=(0.0, 9.81, 0.0)), t=0.0)
        assert values.problem is not None and "tilted 90 degrees" in values.problem

    def test_a_message_left_at_its_defaults_is_refused(self, quadruped):
        """Safety review 10: orientation (1, 0, 0, 0) with covariance 0 and acceleration (0, 0, 0):
        with no accelerometer reading near g, neither the tilt refusal nor the gravity agreement ever
        had a reference, and every sample read an upright base (5 s: 0 of 2,500 refused)."""
        reader = ImuReader(quadruped)
        values = [reader.read(imu_msg(accel=(0.0, 0.0, 0.0)), t=0.002 * k) for k in range(10)]
        assert all(v.problem is not None and "fills neither" in v.problem for v in values)
        assert reader.read(imu_msg(accel=(0.0, 0.0, 1e-3)), t=0.1).problem is None  # a reading: not the default
        absent = reader.read(imu_msg(accel=(0.0, 0.0, 0.0), covariance=-1.0), t=0.2)
        assert absent.quat is None and absent.problem is None  # said absent: the tilt check stops on it

    def test_an_upright_base_a_filled_orientation_or_one_said_absent_pass(self, quadruped):
        reader = ImuReader(quadruped)
        assert reader.read(imu_msg(), t=0.0).problem is None  # the default is right while the base is upright
        tilted = np.array([np.cos(0.3), np.sin(0.3), 0.0, 0.0])  # a real estimate of a 0.6 rad roll
        accel = (0.0, 9.81 * np.sin(0.6), 9.81 * np.cos(0.6))
        assert reader.read(imu_msg(accel=accel, quat=tuple(tilted)), t=0.0).problem is None
        absent = reader.read(imu_msg(accel=accel, covariance=-1.0), t=0.0)
        assert absent.quat is None and absent.problem is None
        small = (0.0, 9.81 * np.sin(UNFILLED_TILT * 0.9), 9.81 * np.cos(UNFILLED_TILT * 0.9))
        assert reader.read(imu_msg(accel=small), t=0.0).problem is None
        assert reader.read(imu_msg(accel=(0.0, 30.0, 0.0)), t=0.0).problem is None  # an impact, not gravity


class TestOrientationAgainstGravity:
    """Safety review 9 (finding 3): an identity orientation with a nonzero covariance, or beside an
    accelerometer flagged absent (covariance -1), was trusted: tilt read 0 while the accelerometer
    said 70 degrees."""

    @pytest.mark.parametrize(
        ("orientation_cov", "accel_cov"),
        [(0.01, 0.0), (0.0, -1.0), (0.01, -1.0)],
        ids=["cov", "accel-absent", "both"],
    )
    def test_an_orientation_disagreeing_with_gravity_for_0_2_s_is_refused(
        self, quadruped, orientation_cov, accel_cov
    ):
        reader = ImuReader(quadruped)
        msg = imu_msg(accel=(9.81 * np.sin(1.22), 0.0, 9.81 * np.cos(1.22)), covariance=orientation_cov)
        msg.linear_acceleration_covariance[0] = accel_cov
        said = [reader.read(msg, t=0.01 * k).problem for k in range(30)]
        assert said[:20] == [None] * 20  # a disagreement must last MISMATCH_TIME
        assert all(p is not None and "disagrees with its accelerometer about gravity" in p for p in said[20:])
        assert reader.read(msg, t=0.31).problem is not None  # ... and lasts until they agree
        assert reader.read(imu_msg(covariance=orientation_cov), t=0.5).problem is None  # upright: they agree

    def test_a_filled_orientation_of_a_tilted_base_passes(self, quadruped):
        reader = ImuReader(quadruped)
        quat = (np.cos(0.6), np.sin(0.6), 0.0, 0.0)  # a real estimate of a 1.2 rad roll
        msg = imu_msg(accel=(0.0, 9.81 * np.sin(1.2), 9.81 * np.cos(1.2)), quat=quat, covariance=0.01)
        assert all(reader.read(msg, t=0.01 * k).problem is None for k in range(50))

    def test_the_frame_is_turned_before_the_comparison(self, quadruped):
        """A chip turned 180 degrees about z: its accelerometer and orientation, both turned into the
        site, agree."""
        reader = ImuReader(quadruped, mujoco.MjModel.from_xml_string(MJCF))
        # the site rolled 0.5 rad about x: the chip (turned about z) reads gravity at -y
        site = np.array([np.cos(0.25), np.sin(0.25), 0.0, 0.0])
        chip = quat_multiply(site, [0.0, 0.0, 0.0, 1.0])
        accel = (0.0, -9.81 * np.sin(0.5), 9.81 * np.cos(0.5))
        msg = imu_msg(accel=accel, quat=tuple(chip), frame="imu_link", covariance=0.01)
        assert all(reader.read(msg, t=0.01 * k).problem is None for k in range(50))
        assert reader.gravity.worst < 1e-9


class TestFrame:
    def test_a_chip_frame_turned_about_z_is_turned_into_the_site(self, quadruped, caplog):
        """Safety review 7: the live path ignored header.frame_id, so an IMU turned 180 degrees about z
        gave the policy and the collision observer gyro and acceleration of the wrong sign."""
        reader = ImuReader(quadruped, mujoco.MjModel.from_xml_string(MJCF))
        quat = np.array([np.cos(0.2), 0.0, 0.0, np.sin(0.2)])
        with caplog.at_level(logging.WARNING, logger="sim2real.real.ros2.imu_message"):
            values = reader.read(
                imu_msg(accel=(1.0, 2.0, 9.81), gyro=(0.1, -0.2, 0.3), quat=tuple(quat), frame="imu_link"),
                t=0.0,
            )
            reader.read(imu_msg(frame="imu_link"), t=0.0)
        np.testing.assert_allclose(values.gyro, [-0.1, 0.2, 0.3], atol=1e-12)
        np.testing.assert_allclose(values.accel, [-1.0, -2.0, 9.81], atol=1e-12)
        np.testing.assert_allclose(values.quat, quat_multiply(quat, [0.0, 0.0, 0.0, 1.0]), atol=1e-12)
        assert caplog.text.count("turned 180 degrees from the IMU site 'imu'") == 1  # once per frame

    def test_the_site_itself_or_a_frame_the_model_lacks_is_read_as_the_site(self, quadruped, caplog):
        reader = ImuReader(quadruped, mujoco.MjModel.from_xml_string(MJCF))
        with caplog.at_level(logging.WARNING, logger="sim2real.real.ros2.imu_message"):
            for frame in ("", "imu"):
                np.testing.assert_array_equal(
                    reader.read(imu_msg(gyro=(0.1, 0.2, 0.3), frame=frame), t=0.0).gyro, [0.1, 0.2, 0.3]
                )
            assert caplog.text == ""
            np.testing.assert_array_equal(
                reader.read(imu_msg(gyro=(0.1, 0.2, 0.3), frame="imu_chip"), t=0.0).gyro, [0.1, 0.2, 0.3]
            )
        assert (
            "frame 'imu_chip', not the IMU site 'imu' (the model has no site or body of that name)"
            in caplog.text
        )
