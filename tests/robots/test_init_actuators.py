"""Per-joint options of robot init (one value, or keys that are joint names or regular expressions),
and the actuators it reads from a model."""

from __future__ import annotations

import math

import mujoco
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init_actuators import infer_actuators, lookup, per_joint, unmatched

JOINTS = ["FL_thigh_joint", "RL_thigh_joint", "FL_calf_joint", "arm[0]"]


class TestLookup:
    def test_the_last_matching_key_wins(self):
        values = {".*": 1.0, ".*_thigh_joint": 2.0, "RL_thigh_joint": 3.0}
        assert [lookup(values, j) for j in JOINTS] == [2.0, 3.0, 1.0, 1.0]

    def test_a_name_that_is_not_a_valid_regex_matches_itself(self):
        assert lookup({"arm[0]": 5.0}, "arm[0]") == 5.0
        assert lookup({"arm[0]": 5.0}, "FL_calf_joint") is None

    def test_keys_are_matched_in_full(self):
        assert lookup({"thigh": 1.0}, "FL_thigh_joint") is None
        assert unmatched({"thigh": 1.0, "FL_.*": 2.0}, JOINTS) == "thigh"
        assert unmatched({"FL_.*": 2.0, "arm[0]": 1.0}, JOINTS) is None


class TestPerJoint:
    def test_one_value_for_every_joint_or_a_map(self):
        assert per_joint(25.0, "FL_calf_joint", "--kp") == 25.0
        assert per_joint({".*_calf_joint": 40.0}, "FL_calf_joint", "--kp") == 40.0
        assert per_joint(None, "FL_calf_joint", "--kp") is None

    def test_a_joint_no_key_covers_is_one_error(self):
        with pytest.raises(SpecError, match="--kp: no value for joint 'FL_calf_joint'"):
            per_joint({".*_thigh_joint": 40.0}, "FL_calf_joint", "--kp")


class TestInferActuators:
    def test_a_position_actuator_without_kv_has_kd_zero_not_minus_zero(self):
        # Menagerie's ROBOTIS OP3: <position kp=...> with no kv; the spec said "kd: -0.0"
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='j' axis='0 1 0' range='-1 1'/><geom size='0.05'/></body>"
            "</worldbody><actuator><position name='a' joint='j' kp='21.1' forcerange='-5 5'/></actuator></mujoco>"
        )
        actuators, _ = infer_actuators(model, [0], ["j"], None, None, None)
        assert actuators["j"]["kp"] == 21.1 and actuators["j"]["kd"] == 0.0
        assert math.copysign(1.0, actuators["j"]["kd"]) == 1.0

    def test_a_general_servos_stiffness_is_its_bias_slope_not_its_gain(self):
        # dm_control's rodent: gainprm 0.244, biasprm "-0.0349 -0.4": the stiffness is 0.4 N m/rad
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='j' axis='0 1 0' range='-1 1'/><geom size='0.05'/></body>"
            "</worldbody><actuator><general name='a' joint='j' gainprm='0.244' biastype='affine' "
            "biasprm='-0.0349 -0.4 -0.02' forcerange='-1 1' forcelimited='true'/></actuator></mujoco>"
        )
        actuators, _ = infer_actuators(model, [0], ["j"], None, None, None)
        assert actuators["j"]["kp"] == pytest.approx(0.4) and actuators["j"]["kd"] == pytest.approx(0.02)

    def test_gains_for_some_joints_leave_the_others_their_own_actuators(self):
        # Menagerie's Talos / Panda: --kp for the gripper only must not ask for every other joint's
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='arm' axis='0 1 0' range='-1 1'/><geom size='0.05'/>"
            "<body pos='0.1 0 0'><joint name='finger' type='slide' axis='1 0 0' range='0 0.04'/><geom size='0.01'/>"
            "</body></body></worldbody><actuator><position name='a' joint='arm' kp='4500' kv='450' forcerange='-87 87'/>"
            "</actuator></mujoco>"
        )
        actuators, _ = infer_actuators(model, [0, 1], ["arm", "finger"], {"finger": 100.0}, {"finger": 10.0}, 20.0)
        assert (actuators["arm"]["kp"], actuators["arm"]["kd"]) == (4500.0, 450.0)
        assert (actuators["finger"]["kp"], actuators["finger"]["kd"]) == (100.0, 10.0)
        # gains for the arm only: the finger, with no actuator of its own, is passive (measured)
        actuators, notes = infer_actuators(model, [0, 1], ["arm", "finger"], {"arm": 100.0}, {"arm": 10.0}, 20.0)
        assert list(actuators) == ["arm"] and "passive (no actuator in the model: measured, not driven): finger" in notes[0]
        with pytest.raises(SpecError, match="joint 'finger': --kp gives it a gain, the other none"):
            infer_actuators(model, [0, 1], ["arm", "finger"], {".*": 100.0}, {"arm": 10.0}, 20.0)

    def test_an_underactuated_models_joints_without_an_actuator_are_passive(self):
        # an acrobot: the motor drives the elbow; the shoulder swings freely (no gains given)
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='shoulder' axis='0 1 0'/><geom size='0.05'/>"
            "<body pos='0 0 -0.5'><joint name='elbow' axis='0 1 0'/><geom size='0.05'/></body></body></worldbody>"
            "<actuator><motor name='m' joint='elbow' ctrlrange='-1 1' gear='6'/></actuator></mujoco>"
        )
        actuators, notes = infer_actuators(model, [0, 1], ["shoulder", "elbow"], None, None, None)
        assert list(actuators) == ["elbow"] and actuators["elbow"]["torque_limit"] == 6.0
        assert "passive (no actuator in the model: measured, not driven): shoulder" in notes[0]
        # gains for every joint still add a PD actuator to the shoulder
        actuators, _ = infer_actuators(model, [0, 1], ["shoulder", "elbow"], 5.0, 0.1, 6.0)
        assert actuators["shoulder"] == {"actuator": "shoulder", "add": True, "model": "pd", "kp": 5.0, "kd": 0.1,
                                         "torque_limit": 6.0}
        # the model driving none of the chosen joints: no robot to drive, one error
        with pytest.raises(SpecError, match="joint 'shoulder' has no actuator in the model"):
            infer_actuators(model, [0], ["shoulder"], None, None, None)

    def test_joints_a_tendon_actuator_moves_are_named_as_such(self):
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='f1' type='slide' axis='1 0 0' range='0 0.04'/><geom size='0.01'/>"
            "</body><body pos='0 0.1 0'><joint name='f2' type='slide' axis='1 0 0' range='0 0.04'/><geom size='0.01'/>"
            "</body></worldbody><tendon><fixed name='split'><joint joint='f1' coef='0.5'/><joint joint='f2' coef='0.5'/>"
            "</fixed></tendon><actuator><general name='grip' tendon='split' ctrlrange='0 255'/></actuator></mujoco>"
        )
        with pytest.raises(SpecError, match=r"2 joints \(f1, f2\) have only a tendon actuator .* locked_joints") as info:
            infer_actuators(model, [0, 1], ["f1", "f2"], None, None, None)
        assert "torque limit" not in str(info.value)

    def test_a_given_torque_limit_wins_over_the_models_and_the_note_names_both(self):
        # an Isaac Lab Go2 policy trained with 23.5 N m on every joint, on Menagerie's Go2 (calves 45.43)
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='hip' axis='0 1 0' range='-1 1'/><geom size='0.05'/>"
            "<body pos='0.1 0 0'><joint name='calf' axis='0 1 0' range='-1 1'/><geom size='0.05'/>"
            "<body pos='0.1 0 0'><joint name='toe' axis='0 1 0' range='-1 1'/><geom size='0.05'/>"
            "</body></body></body></worldbody><actuator><motor name='hip' joint='hip' forcerange='-23.7 23.7'/>"
            "<motor name='calf' joint='calf' forcerange='-45.43 45.43'/><motor name='toe' joint='toe' "
            "forcerange='-23.5 23.5'/></actuator></mujoco>"
        )
        actuators, notes = infer_actuators(model, [0, 1, 2], ["hip", "calf", "toe"], 25.0, 0.5, 23.5, "the policy's env.yaml")
        assert [actuators[j]["torque_limit"] for j in ("hip", "calf", "toe")] == [23.5, 23.5, 23.5]
        assert notes[1:] == [
            "torque limits from the policy's env.yaml replace the model's: 23.5 N m where the model states 23.7 "
            "(1 joint: hip); 23.5 N m where the model states 45.43 (1 joint: calf)"
        ]
        # a map for some joints leaves the others the model's own, silently (nothing replaced)
        actuators, notes = infer_actuators(model, [0, 1, 2], ["hip", "calf", "toe"], 25.0, 0.5, {"toe": 23.5})
        assert [actuators[j]["torque_limit"] for j in ("hip", "calf", "toe")] == [23.7, 45.43, 23.5] and len(notes) == 1


GEARED = """<mujoco><default><position kp='40' kv='1' forcerange='-20 20'/></default><worldbody>
<body><joint name='wheel' axis='0 1 0'/><geom size='0.05'/>
<body pos='0.1 0 0'><joint name='frc' axis='0 1 0' range='-1 1' actuatorfrcrange='-3 3'/><geom size='0.05'/>
<body pos='0.1 0 0'><joint name='dflt' axis='0 1 0' range='-1 1'/><geom size='0.05'/>
<body pos='0.1 0 0'><joint name='rev' axis='0 1 0' range='-1 1'/><geom size='0.05'/>
<body pos='0.1 0 0'><joint name='servo' axis='0 1 0' range='-1 1'/><geom size='0.05'/>
</body></body></body></body></body></worldbody><actuator>
<motor name='wheel' joint='wheel' gear='10' forcerange='-2 2'/>
<motor name='frc' joint='frc' gear='5' ctrlrange='-1 1' forcerange='-100 100'/>
<motor name='dflt' joint='dflt' ctrlrange='-3 3'/>
<motor name='rev' joint='rev' gear='-6' ctrlrange='-1 1'/>
<position name='servo' joint='servo' kp='20' kv='1' gear='4' forcerange='-5 5'/>
</actuator></mujoco>"""
"""A motor's forcerange is its force before the gear; a joint's actuatorfrcrange, a ctrlrange and a
class default's forcerange bind together; a reversed motor (gear -6); a geared servo."""


class TestTorqueLimitAtTheJoint:
    """The spec's torque limit is the largest joint torque MuJoCo lets the model's actuator give."""

    @staticmethod
    def _mujoco_torques(model: mujoco.MjModel, ctrl: float) -> list[float]:
        data = mujoco.MjData(model)
        data.ctrl[:] = ctrl
        mujoco.mj_forward(model, data)
        return [abs(float(x)) for x in data.qfrc_actuator]

    def test_every_limit_is_the_largest_joint_torque_mujoco_gives(self):
        model = mujoco.MjModel.from_xml_string(GEARED)
        joints = ["wheel", "frc", "dflt", "rev", "servo"]
        actuators, _ = infer_actuators(model, list(range(5)), joints, None, None, None)
        # ctrl far beyond every range, both ways: each joint's largest torque, as MuJoCo clamps it
        up, down = self._mujoco_torques(model, 1e6), self._mujoco_torques(model, -1e6)
        largest = [max(a, b) for a, b in zip(up, down, strict=True)]
        assert largest == [20.0, 3.0, 3.0, 6.0, 20.0]
        assert [actuators[j]["torque_limit"] for j in joints] == largest

    def test_a_reversed_motor_writes_a_gear_the_spec_accepts(self):
        model = mujoco.MjModel.from_xml_string(GEARED)
        joints = ["wheel", "frc", "dflt", "rev", "servo"]
        actuators, _ = infer_actuators(model, list(range(5)), joints, None, None, None)
        assert actuators["rev"]["gear"] == 6.0 and actuators["wheel"]["gear"] == 10.0

    def test_a_geared_servos_gains_are_its_joint_stiffness_and_damping(self):
        # <position gear=g>: force = kp (ctrl - g q) - kv g qd, joint torque g force: kp g^2, kv g^2 at the joint
        model = mujoco.MjModel.from_xml_string(GEARED)
        actuators, _ = infer_actuators(model, [4], ["servo"], None, None, None)
        data = mujoco.MjData(model)
        data.qpos[4], data.qvel[4] = 0.01, 0.0
        mujoco.mj_forward(model, data)
        stiffness = -float(data.qfrc_actuator[4]) / 0.01
        data.qpos[4], data.qvel[4] = 0.0, 0.01
        mujoco.mj_forward(model, data)
        damping = -float(data.qfrc_actuator[4]) / 0.01
        assert (actuators["servo"]["kp"], actuators["servo"]["kd"]) == pytest.approx((stiffness, damping))
        assert (stiffness, damping) == pytest.approx((320.0, 16.0))

    def test_a_stateful_motors_force_is_its_gain_times_its_bounded_activation(self):
        """A <general> motor with dynamics gives gain x act: an actrange binds (gain 10 x act +-0.2
        gives 2 N m, the spec said 10), an integrator's act is not bounded by its ctrlrange (up to the
        joint's actuatorfrcrange 30, the spec said 1), a filter's act follows its clamped ctrl."""
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><option gravity='0 0 0' timestep='0.01'/><worldbody><body><joint name='act' axis='0 1 0' damping='1e4'/><geom size='0.05'/>"
            "<body pos='0.1 0 0'><joint name='int' axis='0 1 0' damping='1e4' actuatorfrcrange='-30 30'/><geom size='0.05'/>"
            "<body pos='0.1 0 0'><joint name='flt' axis='0 1 0' damping='1e4'/><geom size='0.05'/></body></body></body>"
            "</worldbody><actuator>"
            "<general name='act' joint='act' dyntype='filter' dynprm='0.01' gainprm='10' ctrlrange='-1 1' "
            "actlimited='true' actrange='-0.2 0.2'/>"
            "<general name='int' joint='int' dyntype='integrator' gainprm='1' ctrlrange='-1 1'/>"
            "<general name='flt' joint='flt' dyntype='filter' dynprm='0.01' gainprm='4' ctrlrange='-1 1'/>"
            "</actuator></mujoco>"
        )
        joints = ["act", "int", "flt"]
        actuators, _ = infer_actuators(model, [0, 1, 2], joints, None, None, None)
        data = mujoco.MjData(model)
        data.ctrl[:] = 1e6
        for _ in range(4000):  # the activations reach their bounds (the integrator's in 30 s)
            mujoco.mj_step(model, data)
        largest = [abs(float(x)) for x in data.qfrc_actuator]
        assert largest == pytest.approx([2.0, 30.0, 4.0])
        assert [actuators[j]["torque_limit"] for j in joints] == pytest.approx(largest)

    def test_a_ctrlrange_mujoco_does_not_clamp_bounds_nothing(self):
        # <flag clampctrl="disable">: the control is not clamped, so only the joint's actuatorfrcrange binds
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><option><flag clampctrl='disable'/></option><worldbody><body>"
            "<joint name='j' axis='0 1 0' actuatorfrcrange='-30 30'/><geom size='0.05'/></body></worldbody>"
            "<actuator><motor name='m' joint='j' ctrlrange='-1 1'/></actuator></mujoco>"
        )
        actuators, _ = infer_actuators(model, [0], ["j"], None, None, None)
        assert self._mujoco_torques(model, 1e6) == [30.0] and actuators["j"]["torque_limit"] == 30.0


VELOCITY = """<mujoco><worldbody><body><joint name='wheel' axis='0 1 0'/><geom size='0.05'/>
<body pos='0.1 0 0'><joint name='spin' axis='0 1 0'/><geom size='0.05'/></body></body></worldbody><actuator>
<velocity name='vw' joint='wheel' kv='5' ctrlrange='-10 10' forcerange='-3 3'/>
<intvelocity name='iv' joint='spin' kp='30' actrange='-1 1' forcerange='-3 3'/></actuator></mujoco>"""


class TestVelocityServos:
    """A velocity servo's command is a speed (or one it integrates), not a position target: no pd."""

    @pytest.mark.parametrize("joint, name", [("wheel", "vw"), ("spin", "iv")])
    def test_a_velocity_servo_is_one_error_naming_the_choices(self, joint, name):
        # <velocity kv=5> became "pd kp 5, kd 5": its rad/s command read as a position target [rad]
        model = mujoco.MjModel.from_xml_string(VELOCITY)
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        with pytest.raises(SpecError, match=rf"actuator '{name}' of joint '{joint}' is a velocity servo.*--kp and --kd.*--torque"):
            infer_actuators(model, [jid], [joint], None, None, None)

    def test_gains_or_torque_drive_it(self):
        model = mujoco.MjModel.from_xml_string(VELOCITY)
        actuators, _ = infer_actuators(model, [0, 1], ["wheel", "spin"], 10.0, 1.0, None)
        assert [actuators[j]["model"] for j in ("wheel", "spin")] == ["pd", "pd"]
        actuators, _ = infer_actuators(model, [0, 1], ["wheel", "spin"], None, None, None, torque=".*")
        assert [(actuators[j]["model"], actuators[j]["torque_limit"]) for j in ("wheel", "spin")] == [
            ("torque", 3.0),
            ("torque", 3.0),
        ]

    def test_a_cylinder_is_no_position_servo_and_not_called_a_velocity_servo(self):
        # <cylinder>: force = area x pressure (+ its bias, 0 here); its command is a pressure, not a speed
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><body><joint name='lift' axis='0 1 0'/><geom size='0.05'/></body></worldbody>"
            "<actuator><cylinder name='cyl' joint='lift' area='0.01' ctrlrange='0 100'/></actuator></mujoco>"
        )
        with pytest.raises(SpecError, match=r"actuator 'cyl' of joint 'lift' is no position servo") as caught:
            infer_actuators(model, [0], ["lift"], None, None, None)
        assert "velocity" not in str(caught.value) and "--kp and --kd" in str(caught.value)
