"""MJCF features that Menagerie-style models bring, each on a small synthetic model: what `robot init`
and the simulation make of them."""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.robots.init import init_robot
from sim2real.robots.load import load_mjcf
from sim2real.robots.model import actuator_indices, build_model, joint_dof_indices

ARM_INPARENT = """<mujoco model="arm_inparent">
  <compiler angle="radian"/>
  <worldbody>
    <body name="upper" pos="0 0 1">
      <joint name="shoulder" axis="0 1 0" range="-2 2" armature="0.01"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
      <body name="lower" pos="0.3 0 0">
        <joint name="elbow" axis="0 1 0" range="-2 2" armature="0.01"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.025" mass="0.5"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <position name="servo" jointinparent="shoulder" kp="40" kv="2" forcerange="-30 30"/>
    <motor name="motor" jointinparent="elbow" gear="5" ctrlrange="-2 2"/>
  </actuator>
</mujoco>
"""


class TestJointInParent:
    """``jointinparent`` on a hinge or slide joint is MuJoCo's ``joint`` transmission (they differ for
    ball and free joints only): init read such a joint as passive (no actuator) and left its motor at
    control 0."""

    def test_init_drives_the_joints_with_their_own_actuators(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM_INPARENT)
        spec, result = init_robot(tmp_path / "arm.xml", tmp_path / "out" / "robot.yaml")
        by_joint = {a.joint: a for a in spec.actuators}
        assert set(by_joint) == {"shoulder", "elbow"}
        assert (by_joint["shoulder"].actuator, by_joint["shoulder"].model) == ("servo", "pd")
        assert (by_joint["shoulder"].kp, by_joint["shoulder"].kd) == (40.0, 2.0)
        assert (by_joint["elbow"].actuator, by_joint["elbow"].model) == ("motor", "torque")
        assert by_joint["elbow"].torque_limit == 10.0  # ctrlrange 2 x gear 5
        assert not any("no actuator in the model" in line for line in result.inferred + result.check)
        assert any("jointinparent" in line and "servo" in line for line in result.inferred)

    def test_the_transmission_is_the_same_force_as_the_models_own(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM_INPARENT)
        own = mujoco.MjModel.from_xml_string(ARM_INPARENT)
        read = load_mjcf(tmp_path / "arm.xml").compile()
        assert int(read.actuator_trntype[1]) == int(mujoco.mjtTrn.mjTRN_JOINT)
        forces = []
        for model in (own, read):
            data = mujoco.MjData(model)
            data.qpos[:] = [0.3, -0.4]
            data.ctrl[:] = [0.5, 1.5]
            mujoco.mj_forward(model, data)
            forces.append(data.qfrc_actuator.copy())
        np.testing.assert_allclose(forces[0], forces[1])

    def test_a_torque_command_reaches_the_elbow_in_the_built_model(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM_INPARENT)
        spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "out" / "robot.yaml")
        model = build_model(spec)
        data = mujoco.MjData(model)
        ctrl = actuator_indices(spec, model)[[a.joint for a in spec.actuators].index("elbow")]
        data.ctrl[ctrl] = 3.0  # N m at the joint
        mujoco.mj_forward(model, data)
        elbow = joint_dof_indices(spec, model)[spec.joints.index("elbow")]
        assert data.qfrc_actuator[elbow] == 3.0
