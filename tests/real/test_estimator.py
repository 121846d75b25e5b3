"""The legged base-state estimator: leg kinematics, the Kalman filter, and its error on the walking twin."""

from __future__ import annotations

import dataclasses
import json

import mujoco
import numpy as np
import pytest

from sim2real.deploy.record import TrotGait, record
from sim2real.errors import Sim2RealError
from sim2real.gap.core import base_velocity_estimate_error
from sim2real.logs import read_bag
from sim2real.real.estimator import (
    BaseStateEstimator,
    EstimatorConfig,
    LegKinematics,
    estimate_track,
    quat_to_matrix,
)
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_model, default_qpos, joint_qpos_indices

# a biped whose hips are one body with three joints (as in Gymnasium's and dm_control's humanoids),
# the second and third with anchors off the body's origin
BIPED_3DOF_HIPS = """
<mujoco>
  <worldbody>
    <geom name="ground" type="plane" size="5 5 0.1"/>
    <body name="pelvis" pos="0 0 0.9">
      <freejoint/>
      <geom type="box" size="0.1 0.15 0.05"/>
      <body name="left_thigh" pos="0 0.1 -0.05" quat="0.98 0.2 0 0">
        <joint name="l_hip_x" axis="1 0 0" range="-1 1"/>
        <joint name="l_hip_z" axis="0 0 1" pos="0 0.01 -0.02" range="-1 1"/>
        <joint name="l_hip_y" axis="0 1 0" pos="0.01 0 -0.03" range="-1 1" ref="0.1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.4" size="0.04"/>
        <body name="left_foot" pos="0 0 -0.4">
          <joint name="l_knee" axis="0 1 0" range="-2 0"/>
          <geom type="sphere" size="0.03" pos="0 0 -0.4"/>
        </body>
      </body>
      <body name="right_thigh" pos="0 -0.1 -0.05">
        <joint name="r_hip_x" axis="1 0 0" range="-1 1"/>
        <joint name="r_hip_y" axis="0 1 0" pos="0 0 -0.01" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.4" size="0.04"/>
        <body name="right_foot" pos="0 0 -0.4">
          <joint name="r_knee" axis="0 1 0" range="-2 0"/>
          <geom type="sphere" size="0.03" pos="0 0 -0.4"/>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


@pytest.fixture(scope="module")
def kinematics(quadruped):
    return LegKinematics.from_model(quadruped)


@pytest.fixture(scope="module")
def walk_log(quadruped, tmp_path_factory):
    """8 s of the open-loop trot on the quadruped twin (default unmodeled effects), through the loop."""
    path = tmp_path_factory.mktemp("walk") / "trot"
    record(TwinRobot(quadruped, TwinConfig()), TrotGait(quadruped), 8.0, path)
    return read_bag(path)


def _assert_feet_match(kin: LegKinematics, model, data, q: np.ndarray, foot_geom: int) -> None:
    """Each foot (geom ``foot_geom`` of its body) where MuJoCo puts it, in the base frame (body 1),
    and each Jacobian equal to finite differences of the feet."""
    feet, J = kin.feet(q)
    R = data.xmat[1].reshape(3, 3)
    for i, chain in enumerate(kin.chains):
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, chain.name)
        geom = int(model.body_geomadr[body]) + foot_geom
        np.testing.assert_allclose(feet[i], R.T @ (data.geom_xpos[geom] - data.xpos[1]), atol=1e-12)
        numeric = np.zeros((3, q.shape[0]))
        for j in range(q.shape[0]):
            dq = np.zeros(q.shape[0])
            dq[j] = 1e-6
            numeric[:, j] = (kin.feet(q + dq)[0][i] - feet[i]) / 1e-6
        np.testing.assert_allclose(J[i], numeric, atol=1e-5)


class TestKinematics:
    def test_feet_and_jacobians_match_mujoco(self, quadruped, kinematics, rng):
        model = build_model(quadruped)
        data = mujoco.MjData(model)
        assert [c.name for c in kinematics.chains] == ["FL_calf", "FR_calf", "RL_calf", "RR_calf"]
        assert kinematics.mass == pytest.approx(float(np.sum(model.body_mass)))
        for _ in range(3):
            q = np.asarray(quadruped.default_pose) + rng.uniform(-0.3, 0.3, quadruped.n_joints)
            data.qpos[:] = default_qpos(quadruped, model)
            data.qpos[3:7] = [0.9, 0.1, -0.2, 0.3] / np.linalg.norm([0.9, 0.1, -0.2, 0.3])
            data.qpos[joint_qpos_indices(quadruped, model)] = q
            mujoco.mj_forward(model, data)
            _assert_feet_match(kinematics, model, data, q, foot_geom=1)  # the sphere after the visual capsule

    def test_a_body_with_several_joints_chains_them_in_mujocos_order(self, tmp_path, rng):
        path = tmp_path / "biped.xml"
        path.write_text(BIPED_3DOF_HIPS)
        spec, _ = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=50.0, kd=1.0, torque_limit=50.0))
        kin = LegKinematics.from_model(spec)
        model = build_model(spec)
        data = mujoco.MjData(model)
        assert [len(c.joints) for c in kin.chains] == [4, 3]
        for _ in range(3):
            q = rng.uniform(-0.8, 0.0, spec.n_joints)
            data.qpos[:] = default_qpos(spec, model)
            data.qpos[joint_qpos_indices(spec, model)] = q
            mujoco.mj_forward(model, data)
            _assert_feet_match(kin, model, data, q, foot_geom=0)

    def test_the_spec_feet_are_the_feet_not_every_leaf_with_a_collision_geom(self, quadruped):
        # a humanoid's fingertips are leaves with collision geoms too: the spec names the feet
        front = dataclasses.replace(quadruped, feet=("FL_calf", "FR_calf"))
        assert [c.name for c in LegKinematics.from_model(front).chains] == ["FL_calf", "FR_calf"]

    def test_round_trip_through_json(self, kinematics, quadruped):
        back = LegKinematics.from_dict(json.loads(json.dumps(kinematics.as_dict())))
        q = np.asarray(quadruped.default_pose) + 0.1
        np.testing.assert_allclose(back.feet(q)[0], kinematics.feet(q)[0])
        np.testing.assert_allclose(back.feet(q)[1], kinematics.feet(q)[1])

    def test_a_fixed_base_robot_has_no_legs_to_estimate_from(self):
        with pytest.raises(Sim2RealError, match="floating base"):
            LegKinematics.from_model(load_robot("pendulum"))


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
