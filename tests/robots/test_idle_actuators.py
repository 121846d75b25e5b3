"""A model's actuators outside the spec that move the spec's driven joints are switched off: a
tendon servo held at control 0 would fight the spec's PD actuators (dm_control's quadruped)."""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.robots import load_spec
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_model

# an arm of two hinges about z (no gravity torque) whose fixed tendon a stiff position servo holds
ARM = """<mujoco><compiler angle="radian"/><worldbody><body name="link1"><joint name="a" axis="0 0 1" range="-2 2"/>
  <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.5"/>
  <body name="link2" pos="0.2 0 0"><joint name="b" axis="0 0 1" range="-2 2"/>
  <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/></body></body></worldbody>
  <tendon><fixed name="lift"><joint joint="a" coef="1"/><joint joint="b" coef="0.5"/></fixed></tendon>
  <actuator><position name="lift_servo" tendon="lift" kp="1000" forcerange="-50 50"/>
  <motor name="spare" joint="b" gear="1" ctrlrange="-1 1"/></actuator></mujoco>"""


def test_a_tendon_servo_on_driven_joints_is_switched_off_and_said(tmp_path):
    (tmp_path / "arm.xml").write_text(ARM)
    init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", InitOptions(kp=5.0, kd=0.2, torque_limit=5.0))
    spec = load_spec(tmp_path / "robot.yaml")
    # joint b's own motor is replaced by the spec's PD model; the tendon servo moves a and b
    assert spec.idle_actuators == ("lift_servo",)
    assert any("switches off" in line and "lift_servo" in line for line in spec.overrides)
    model = build_model(spec)
    servo = model.actuator("lift_servo").id
    assert not model.actuator_gainprm[servo].any() and not model.actuator_biasprm[servo].any()
    # the spec's PD actuator on joint a reaches its target (the servo held it near 0)
    data = mujoco.MjData(model)
    pd_a = next(i for i in range(model.nu) if i != servo and model.actuator_trnid[i, 0] == model.joint("a").id)
    data.ctrl[pd_a] = 0.4
    for _ in range(int(2.0 / model.opt.timestep)):
        mujoco.mj_step(model, data)
    assert abs(float(data.qpos[model.joint("a").qposadr[0]]) - 0.4) < 0.05


def test_a_model_without_such_actuators_has_none(tmp_path):
    (tmp_path / "arm.xml").write_text(ARM.replace('<position name="lift_servo" tendon="lift" kp="1000" forcerange="-50 50"/>', ""))
    init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", InitOptions(kp=5.0, kd=0.2, torque_limit=5.0))
    spec = load_spec(tmp_path / "robot.yaml")
    assert spec.idle_actuators == () and not any("switches off" in line for line in spec.overrides)
    assert np.isfinite(build_model(spec).actuator_gainprm).all()


# the same arm with a spatial tendon (a cable from the base over link 2) and a thruster on a site
CABLE_AND_THRUSTER = """<mujoco><compiler angle="radian"/><worldbody><site name="anchor" pos="0 0.1 0"/>
  <body name="link1"><joint name="a" axis="0 0 1" range="-2 2"/>
  <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.5"/>
  <body name="link2" pos="0.2 0 0"><joint name="b" axis="0 0 1" range="-2 2"/>
  <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/>
  <site name="tip" pos="0.2 0 0"/></body></body></worldbody>
  <tendon><spatial name="cable"><site site="anchor"/><site site="tip"/></spatial></tendon>
  <actuator><motor name="winch" tendon="cable" gear="1" ctrlrange="-1 1"/>
  <motor name="thruster" site="tip" gear="0 1 0 0 0 0" ctrlrange="-1 1"/></actuator></mujoco>"""


def test_a_cable_or_a_thruster_on_driven_joints_is_switched_off(tmp_path):
    (tmp_path / "arm.xml").write_text(CABLE_AND_THRUSTER)
    init_robot(
        tmp_path / "arm.xml",
        tmp_path / "robot.yaml",
        InitOptions(kp=5.0, kd=0.2, torque_limit=5.0, joints=r"a|b"),
    )
    spec = load_spec(tmp_path / "robot.yaml")
    assert set(spec.idle_actuators) == {"winch", "thruster"}
    model = build_model(spec)
    for name in ("winch", "thruster"):
        assert not model.actuator_gainprm[model.actuator(name).id].any()
