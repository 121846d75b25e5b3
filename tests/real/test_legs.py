"""Leg kinematics for the base-state estimator: feet and Jacobians against MuJoCo, the IMU's mount."""

from __future__ import annotations

import dataclasses
import json
import math

import mujoco
import numpy as np
import pytest

from imu_mount_testdata import loose_imu_quadruped, turned_imu_quadruped
from sim2real.errors import Sim2RealError
from sim2real.real.legs import LegKinematics
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.load import load_spec
from sim2real.robots.model import build_model, default_qpos, joint_qpos_indices

# a biped whose hips are one body with three joints (as in Gymnasium's and dm_control's humanoids),
# the second and third with anchors off the body's origin
BIPED_3DOF_HIPS = """
<mujoco>
  <compiler angle="radian"/>
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

    def test_a_locked_joint_on_the_way_to_a_foot_is_a_fixed_link_at_its_locked_position(self, tmp_path, rng):
        """A wheel-legged robot walked on locked wheels (the spec's locked_joints): deploy and record
        stopped with "joint 'FL_wheel' on the way to a foot is not a policy joint"."""
        path = tmp_path / "biped.xml"
        path.write_text(BIPED_3DOF_HIPS)
        options = InitOptions(joints="(?!l_hip_[yz]$).*", kp=50.0, kd=1.0, torque_limit=50.0)
        init_robot(path, tmp_path / "robot.yaml", options)
        with (tmp_path / "robot.yaml").open("a") as f:
            f.write("locked_joints: {l_hip_z: -0.3, l_hip_y: 0.4}\n")
        spec = load_spec(tmp_path / "robot.yaml")
        kin = LegKinematics.from_model(spec)
        model = build_model(spec)
        data = mujoco.MjData(model)
        assert [len(c.joints) for c in kin.chains] == [2, 3]  # l_hip_x, l_knee; the right leg's three
        for _ in range(3):
            q = rng.uniform(-0.8, 0.0, spec.n_joints)
            data.qpos[:] = default_qpos(spec, model)
            data.qpos[joint_qpos_indices(spec, model)] = q
            data.qpos[model.joint("l_hip_z").qposadr[0]], data.qpos[model.joint("l_hip_y").qposadr[0]] = -0.3, 0.4
            mujoco.mj_kinematics(model, data)
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


class TestImuMount:
    def test_a_square_imu_has_no_mount(self, kinematics):
        np.testing.assert_allclose(kinematics.imu_quat, [1.0, 0.0, 0.0, 0.0], atol=1e-12)

    def test_the_mount_is_read_from_the_model(self, tmp_path):
        kin = LegKinematics.from_model(turned_imu_quadruped(tmp_path, 30.0, 0.0, 90.0))
        roll, yaw = math.radians(30.0) / 2, math.radians(90.0) / 2
        # MuJoCo's euler="r 0 y" (intrinsic x then z): q = q_x(r) q_z(y)
        expected = np.array(
            [
                math.cos(roll) * math.cos(yaw),
                math.sin(roll) * math.cos(yaw),
                -math.sin(roll) * math.sin(yaw),
                math.cos(roll) * math.sin(yaw),
            ]
        )
        assert abs(float(np.dot(kin.imu_quat, expected))) == pytest.approx(1.0, abs=1e-9)
        np.testing.assert_allclose(kin.imu_pos, [0.05, 0.02, 0.03], atol=1e-9)
        back = LegKinematics.from_dict(json.loads(json.dumps(kin.as_dict())))
        np.testing.assert_allclose(back.imu_quat, kin.imu_quat)

    def test_a_reading_turned_to_the_base_is_the_bases(self, tmp_path):
        spec = turned_imu_quadruped(tmp_path, 30.0, -20.0, 90.0)
        kin = LegKinematics.from_model(spec)
        twin = TwinRobot(spec, TwinConfig())
        half = math.radians(12.0) / 2
        twin.set_state(base_quat=np.array([math.cos(half), 0.0, math.sin(half), 0.0]), base_height=0.3)
        reading = twin.read()
        base = kin.to_base(reading)
        truth = twin.base_state().quat
        assert abs(float(np.dot(reading.quat, truth))) < 0.99  # the board's orientation is not the base's
        assert abs(float(np.dot(base.quat, truth))) == pytest.approx(1.0, abs=1e-6)
        # gyro and accelerometer: the IMU measures a base vector v as M^T v (M: base <- IMU)
        rng = np.random.default_rng(3)
        w_base, f_base = rng.normal(size=3), rng.normal(size=3)
        imu = dataclasses.replace(
            reading, gyro=_world_to_base(kin.imu_quat, w_base), accel=_world_to_base(kin.imu_quat, f_base)
        )
        np.testing.assert_allclose(kin.to_base(imu).gyro, w_base, atol=1e-12)
        np.testing.assert_allclose(kin.to_base(imu).accel, f_base, atol=1e-12)
        assert kin.to_base(reading) is not reading
        square = LegKinematics.from_model(load_robot("quadruped"))
        assert square.to_base(reading) is reading

    def test_an_imu_behind_a_joint_is_refused(self, tmp_path):
        with pytest.raises(Sim2RealError, match="moves against the base body"):
            LegKinematics.from_model(loose_imu_quadruped(tmp_path))

    def test_a_mount_that_is_no_rotation_is_refused(self, kinematics):
        with pytest.raises(Sim2RealError, match="imu_quat"):
            dataclasses.replace(kinematics, imu_quat=np.zeros(4))


def _world_to_base(quat: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A world vector in the frame of a body with orientation ``quat`` (w, x, y, z)."""
    w, x, y, z = quat / np.linalg.norm(quat)
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    return R.T @ v
