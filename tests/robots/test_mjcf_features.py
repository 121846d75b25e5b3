"""MJCF features that Menagerie-style models bring, each on a small synthetic model: what `robot init`
and the simulation make of them."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, infer_spec, init_robot
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


def _scene(prop: str, actuators: str = "", equality: str = "", key: str = "") -> str:
    """A small quadruped (free base, two-joint legs, position servos) in a scene with ``prop``."""
    legs = "".join(
        f"""<body name="{n}_thigh" pos="{x} {y} 0"><joint name="{n}_hip" axis="0 1 0" range="-1.5 1.5"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.15" size="0.02" mass="0.3"/>
        <body name="{n}_shin" pos="0 0 -0.15"><joint name="{n}_knee" axis="0 1 0" range="-2.5 0"/>
        <geom name="{n}_foot" type="capsule" fromto="0 0 0 0 0 -0.15" size="0.02" mass="0.1"/></body></body>"""
        for n, x, y in (("fl", 0.15, 0.08), ("fr", 0.15, -0.08), ("rl", -0.15, 0.08), ("rr", -0.15, -0.08))
    )
    servos = "".join(
        f'<position name="{n}_{j}" joint="{n}_{j}" kp="20" kv="0.5" forcerange="-8 8"/>'
        for n in ("fl", "fr", "rl", "rr")
        for j in ("hip", "knee")
    )
    return f"""<mujoco model="scene_dog">
  <compiler angle="radian"/>
  <default><joint armature="0.01" damping="0.05"/></default>
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05"/>
    {prop}
    <body name="trunk" pos="0 0 0.32"><freejoint/>
      <geom type="box" size="0.2 0.1 0.04" mass="3"/>{legs}
    </body>
  </worldbody>
  <actuator>{servos}{actuators}</actuator>{equality}{key}
</mujoco>
"""


DOOR = '<body name="door" pos="1 0 0.5"><joint name="door_hinge" axis="0 0 1" range="-1.5 1.5"/><geom type="box" size="0.02 0.4 0.5" mass="5"/></body>'


class TestSceneJoints:
    """A scene's jointed props (a door, a target on slides) are not the robot: init made the door's
    hinge a policy joint and read the free-floating dog as fixed to the world (its free joint was
    not above every chosen joint)."""

    def test_a_door_in_the_scene_is_left_out_and_the_base_floats(self, tmp_path):
        (tmp_path / "scene.xml").write_text(_scene(DOOR))
        spec, result = init_robot(tmp_path / "scene.xml", tmp_path / "out" / "robot.yaml")
        assert "door_hinge" not in spec.joints and len(spec.joints) == 8
        assert spec.base_body == "trunk" and spec.floating_base
        assert spec.task is not None and spec.task.kind == "locomotion"
        assert any("door_hinge" in line and "left out" in line for line in result.inferred)
        model = build_model(spec)
        assert model.nq == 1 + 7 + 8  # the door's hinge stays in the model (build_robot_model holds it)

    def test_gains_naming_a_props_joint_or_an_equality_tie_keep_it(self, tmp_path):
        (tmp_path / "scene.xml").write_text(_scene(DOOR))
        opts = InitOptions(kp={"door_hinge": 5.0}, kd={"door_hinge": 0.5}, torque_limit=8.0)
        assert "door_hinge" in infer_spec(tmp_path / "scene.xml", tmp_path / "out", opts).spec["joints"]
        tied = '<equality><connect body1="door" body2="trunk" anchor="0 0 0"/></equality>'
        (tmp_path / "tied.xml").write_text(_scene(DOOR, equality=tied))
        assert "door_hinge" in infer_spec(tmp_path / "tied.xml", tmp_path / "out").spec["joints"]

    def test_a_model_that_drives_nothing_keeps_every_joint(self, tmp_path):
        (tmp_path / "scene.xml").write_text(
            _scene(DOOR).replace("<actuator>", "<!--").replace("</actuator>", "-->")
        )
        spec = infer_spec(
            tmp_path / "scene.xml", tmp_path / "out", InitOptions(kp=20.0, kd=0.5, torque_limit=8.0)
        ).spec
        assert "door_hinge" in spec["joints"]


class TestContactPairs:
    def test_init_says_the_geom_friction_parameters_miss_explicit_pairs(self, tmp_path):
        """A pair's friction replaces its geoms' in MuJoCo: randomizing geom.floor.friction leaves the
        feet's contacts as they were, which init did not say."""
        pairs = "".join(
            f'<pair geom1="{n}_foot" geom2="floor" friction="0.6 0.6 0.005 0.0001 0.0001"/>'
            for n in ("fl", "fr")
        )
        (tmp_path / "scene.xml").write_text(
            _scene("").replace("</actuator>", f"</actuator><contact>{pairs}</contact>")
        )
        result = infer_spec(tmp_path / "scene.xml", tmp_path / "out")
        line = next(c for c in result.check if "explicit contact pairs" in c)
        assert line.startswith("2 explicit contact pairs (<contact><pair>: floor-fl_foot, floor-fr_foot)")
        assert "(0.6)" in line and "geom.*.friction" in line
        (tmp_path / "plain.xml").write_text(_scene(""))
        assert not any(
            "contact pairs" in c for c in infer_spec(tmp_path / "plain.xml", tmp_path / "out").check
        )


ARM_FILTERED = """<mujoco model="arm_filtered">
  <compiler angle="radian"/>
  <default><general dyntype="filterexact" dynprm="0.02" biastype="affine" gainprm="20" biasprm="0 -20 -1"
    ctrlrange="-2 2" forcerange="-5 5"/></default>
  <worldbody>
    <body name="upper" pos="0 0 1"><joint name="shoulder" axis="0 1 0" range="-2 2" armature="0.01"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
      <body name="lower" pos="0.3 0 0"><joint name="elbow" axis="0 1 0" range="-2 2" armature="0.01"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.025" mass="0.5"/></body></body>
  </worldbody>
  <actuator><general name="servo_s" joint="shoulder"/><general name="servo_e" joint="elbow"/></actuator>
  <keyframe><key name="home" qpos="0.1 0.2" ctrl="0.1 0.2" act="0.1 0.2"/></keyframe>
</mujoco>
"""


class TestKeyframeActivations:
    """A keyframe saved with the activations of the model's filter servos: sim2real's actuators have
    no dynamics, and the model no longer compiled ("keyframe 'home': invalid act size")."""

    def test_the_replaced_actuators_activations_leave_the_keyframe(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM_FILTERED)
        spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "out" / "robot.yaml")
        model = build_model(spec)
        assert model.na == 0 and model.key_act.shape == (1, 0)
        assert model.key_qpos[0].tolist() == [0.1, 0.2]

    def test_an_actuator_the_spec_leaves_keeps_its_activation(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM_FILTERED)
        opts = InitOptions(joints="shoulder")
        spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "out" / "robot.yaml", opts)
        model = build_model(spec)
        assert model.na == 1 and model.key_act.tolist() == [[0.2]]


def _servo_pair(first: str, second: str) -> str:
    return f"""<mujoco model="servo_pair"><compiler angle="radian"/><worldbody>
  <body name="upper" pos="0 0 1"><joint name="shoulder" axis="0 1 0" range="-2 2" armature="0.01"/>
  <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/></body></worldbody>
  <actuator>{first}{second}</actuator></mujoco>"""


POSITION = '<position name="pos" joint="shoulder" kp="50" kv="1" gear="2" forcerange="-20 20"/>'
VELOCITY = '<velocity name="vel" joint="shoulder" kv="5" gear="2"/>'


class TestPositionAndVelocityServos:
    """A joint driven by a ``<position>`` and a ``<velocity>`` actuator (the velocity one, at control 0,
    its damping): sim2real switches the second off, and init dropped its damping (kd 0: an undamped
    servo), or, the velocity actuator first, refused the joint as velocity-controlled."""

    def test_the_velocity_servos_damping_joins_the_pd(self, tmp_path):
        for name, xml in (("pv", _servo_pair(POSITION, VELOCITY)), ("vp", _servo_pair(VELOCITY, POSITION))):
            (tmp_path / f"{name}.xml").write_text(xml)
            spec, result = init_robot(tmp_path / f"{name}.xml", tmp_path / name / "robot.yaml")
            (act,) = spec.actuators
            assert (act.actuator, act.model, act.kp) == ("pos", "pd", 200.0)  # kp 50 x gear^2
            assert act.kd == 24.0  # (kv 1 + kv 5) x gear^2
            assert any("position + velocity -> pd" in line for line in result.inferred)
            assert spec.idle_actuators == ("vel",)

    def test_a_torque_driven_joints_damper_switched_off_is_said(self, tmp_path):
        """A <motor> beside a <velocity> damper: the damper was switched off and its damping lost
        without a word (named only among the idle actuators)."""
        motor = '<motor name="mot" joint="shoulder" gear="2" ctrlrange="-5 5"/>'
        (tmp_path / "mv.xml").write_text(_servo_pair(motor, VELOCITY))
        spec, result = init_robot(tmp_path / "mv.xml", tmp_path / "mv" / "robot.yaml")
        assert spec.actuators[0].model == "torque"
        assert any("damping not carried over" in line and "shoulder (20 N m s/rad)" in line for line in result.inferred)

    def test_a_velocity_servo_with_a_force_range_is_not_folded_into_kd(self, tmp_path):
        """Its damping saturates (here at 20 / (5 x 2) = 2 rad/s): folded as kd 24, the pd's "zero"
        command at 4 rad/s gave -96 N m of braking in simulation where the model's drives give -56,
        and the safety monitor's braking command was judged on the wrong torque."""
        limited = VELOCITY.replace("/>", ' forcerange="-20 20"/>')
        (tmp_path / "pv.xml").write_text(_servo_pair(POSITION, limited))
        with pytest.raises(SpecError, match=r"velocity damper 'vel' of joint 'shoulder' has a force range \[-20, 20\]: its damping saturates from 2 "):
            init_robot(tmp_path / "pv.xml", tmp_path / "pv" / "robot.yaml")
        spec, _ = init_robot(tmp_path / "pv.xml", tmp_path / "given" / "robot.yaml", InitOptions(kp=100.0, kd=5.0))
        assert (spec.actuators[0].kp, spec.actuators[0].kd) == (100.0, 5.0)  # the way out the line names
