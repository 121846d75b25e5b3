"""The legged base-state estimator: the Kalman filter, its error on the walking twin, and IMUs without orientation or turned on the base."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from imu_mount_testdata import turned_imu_quadruped
from sim2real.deploy.record import TrotGait, record
from sim2real.errors import Sim2RealError
from sim2real.gap.core import base_velocity_estimate_error
from sim2real.logs import read_bag
from sim2real.real.estimator import BaseStateEstimator, EstimatorConfig, estimate_track
from sim2real.real.legs import LegKinematics
from sim2real.real.protocol import Command
from sim2real.real.rotations import quat_to_matrix
from sim2real.real.twin import TwinConfig, TwinRobot


@pytest.fixture(scope="module")
def walk_log(quadruped, tmp_path_factory):
    """8 s of the open-loop trot on the quadruped twin (default unmodeled effects), through the loop."""
    path = tmp_path_factory.mktemp("walk") / "trot"
    record(TwinRobot(quadruped, TwinConfig()), TrotGait(quadruped), 8.0, path)
    return read_bag(path)


class TestFilter:
    def test_standing_still_gives_rest_and_the_true_height(self, quadruped, kinematics):
        twin = TwinRobot(quadruped, TwinConfig())
        est = BaseStateEstimator(kinematics)
        out = None
        for _ in range(100):
            reading = twin.read()
            out = est.update(reading) or out
            twin.write(Command(t=reading.t, values=np.asarray(quadruped.default_pose)))
        assert np.linalg.norm(out.lin_vel) < 0.02
        assert out.position[2] == pytest.approx(twin.read_base.position[2], abs=0.01)
        assert out.contact.all()  # all four feet carry the robot
        assert np.all(np.linalg.eigvalsh(out.lin_vel_cov) > 0)

    def test_invalid_or_stale_readings_are_skipped(self, quadruped, kinematics):
        twin = TwinRobot(quadruped, TwinConfig())
        est = BaseStateEstimator(kinematics)
        reading = twin.read()
        assert est.update(reading) is not None
        assert est.update(reading) is None  # not later than the last one
        assert est.update(type(reading).dropped(reading.t + 0.02, quadruped.n_joints)) is None

    def test_config_checks_its_values(self):
        with pytest.raises(Sim2RealError, match="contact_fraction"):
            EstimatorConfig(contact_fraction=1.5)


class TestOnTheWalkingTwin:
    def test_the_log_carries_truth_and_estimate(self, walk_log):
        assert walk_log.base_truth is not None and walk_log.base_estimate is not None
        assert walk_log.base_truth.n_samples == walk_log.base_estimate.n_samples >= 390
        speed = np.linalg.norm(walk_log.base_truth.lin_vel[:, :2], axis=1)
        assert np.mean(speed) > 0.1  # the trot moves the base

    def test_base_velocity_rmse_is_below_0_1_m_per_s(self, walk_log):
        assert base_velocity_estimate_error(walk_log) <= 0.1

    def test_offline_estimate_of_a_log_matches_the_on_board_one(self, quadruped, walk_log):
        offline = estimate_track(quadruped, walk_log)
        np.testing.assert_allclose(offline.lin_vel, walk_log.base_estimate.lin_vel, atol=1e-9)

    def test_an_imu_without_orientation_keeps_the_tilt_from_gyro_and_gravity(self, quadruped, walk_log):
        # an IMU that gives no orientation (/imu/data_raw, orientation_covariance[0] = -1): the
        # complementary filter must pull its "up" towards gravity, not push it away
        raw = dataclasses.replace(walk_log, quat=None)
        est = estimate_track(quadruped, raw)
        true_quat = walk_log.base_truth.at(est.t)["quat"]
        up_est = np.array([quat_to_matrix(q)[2] for q in est.quat])
        up_true = np.array([quat_to_matrix(q)[2] for q in true_quat])
        tilt_error = np.degrees(np.arccos(np.clip(np.sum(up_est * up_true, axis=1), -1.0, 1.0)))
        assert tilt_error.max() < 2.0

class TestOnATurnedImu:
    """A reading's IMU values are the IMU's frame; the estimates are the base's."""

    def test_a_board_turned_on_the_base_gives_the_base_state(self, tmp_path):
        spec = turned_imu_quadruped(tmp_path, 30.0, 0.0, 90.0)
        kin = LegKinematics.from_model(spec)
        assert not np.allclose(kin.imu_quat, [1.0, 0.0, 0.0, 0.0])
        record(TwinRobot(spec, TwinConfig()), TrotGait(spec), 4.0, tmp_path / "trot")
        log = read_bag(tmp_path / "trot")
        assert base_velocity_estimate_error(log) <= 0.05  # 0.028 m/s, as with the square IMU
        truth, est = log.base_truth, log.base_estimate
        # the base's orientation, not the board's: the angle between the two is the mount's 30/90 deg
        dots = np.abs(np.sum(truth.quat * est.quat, axis=1))
        assert np.degrees(2 * np.arccos(np.clip(dots, 0.0, 1.0))).max() < 1.0
        np.testing.assert_allclose(est.ang_vel, truth.ang_vel, atol=0.05)
