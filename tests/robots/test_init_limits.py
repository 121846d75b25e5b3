"""The safety section robot init writes: a URDF's joint velocity limits, a command rate no joint's
velocity limit forbids, and the limits of a URDF's mimic joints."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, infer_spec, init_robot
from sim2real.robots.init_limits import DEFAULT_COMMAND_RATE, DEFAULT_VELOCITY
from sim2real.robots.model import build_model
from urdf_testdata import quadruped_urdf

FLOATING = InitOptions(kp=30.0, kd=1.0, floating_base=True)


def _velocity(spec, joint: str) -> float:
    return float(spec.safety.velocity[spec.joints.index(joint)])


class TestVelocityLimits:
    def test_the_urdfs_velocity_limits_are_the_safety_limits(self, tmp_path):
        """MuJoCo's URDF importer drops <limit velocity>: H1's ankles (9 rad/s) got 30."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", hip_velocity=9.0, knee_velocity=20.0)
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert _velocity(spec, "FL_hip") == 9.0 and _velocity(spec, "RR_knee") == 20.0
        assert any("from the URDF's <limit velocity>" in line for line in result.inferred)
        assert not any("30 rad/s" in line for line in result.check)

    def test_a_joint_the_urdf_states_no_velocity_for_keeps_the_default(self, tmp_path):
        urdf = quadruped_urdf(tmp_path / "dog.urdf", hip_velocity=0.0, knee_velocity=12.0)  # velocity="0" states nothing
        result = infer_spec(urdf, tmp_path / "out", FLOATING)
        velocity = result.spec["safety"]["joint_velocity"]
        assert velocity["FL_hip"] == DEFAULT_VELOCITY and velocity["FL_knee"] == 12.0
        assert any("30 rad/s, the URDF's where it states them" in line for line in result.check)

    def test_a_placeholder_velocity_is_no_limit_and_is_said(self, tmp_path):
        """iCub's URDF states velocity="50000" for its arms, torso and neck: init wrote 50000 rad/s as
        their safety limit, a velocity check that can never fire (and preflight's limits item passed)."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", hip_velocity=50000.0, knee_velocity=12.0)
        result = infer_spec(urdf, tmp_path / "out", FLOATING)
        velocity = result.spec["safety"]["joint_velocity"]
        assert velocity["FL_hip"] == DEFAULT_VELOCITY and velocity["FL_knee"] == 12.0
        assert any("50000" in line and "FL_hip" in line and "placeholder" in line for line in result.check), result.check

    def test_velocity_1000_is_a_placeholder_too(self, tmp_path):
        """example-robot-data's Solo and Bolt state velocity="1000" on every joint: kept as the limit,
        since the placeholder rule began above 1000 (safety review 8)."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", hip_velocity=1000.0, knee_velocity=12.0)
        result = infer_spec(urdf, tmp_path / "out", FLOATING)
        assert result.spec["safety"]["joint_velocity"]["FL_hip"] == DEFAULT_VELOCITY
        assert any("1000" in line and "placeholder" in line for line in result.check), result.check

    def test_the_command_rate_is_never_above_the_fastest_pd_joints_velocity_limit(self, tmp_path):
        """A tester saw command_rate 50 rad/s over vendor velocity limits (H1's ankles: 9 rad/s)."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", hip_velocity=9.0, knee_velocity=20.0)
        assert infer_spec(urdf, tmp_path / "a", FLOATING).spec["safety"]["command_rate"] == 20.0
        urdf = quadruped_urdf(tmp_path / "dog.urdf", hip_velocity=0.0, knee_velocity=0.0)
        safety = infer_spec(urdf, tmp_path / "b", FLOATING).spec["safety"]
        # no limit stated: the default velocity is no fact about the drives and lowers nothing
        assert safety["command_rate"] == DEFAULT_COMMAND_RATE and set(safety["joint_velocity"].values()) == {DEFAULT_VELOCITY}


TORQUE_ARM = """<mujoco model="torque_arm"><compiler angle="radian"/><worldbody>
  <body name="upper" pos="0 0 0.5"><joint name="shoulder" axis="0 1 0" range="-2 2" armature="0.1"/>
    <geom type="capsule" fromto="0 0 0 0.4 0 0" size="0.04" mass="3"/>
    <body name="hand" pos="0.4 0 0"><joint name="wrist" axis="1 0 0" range="-3 3" armature="0.001"/>
      <geom type="box" size="0.03 0.03 0.03" mass="0.2"/></body></body></worldbody>
  <actuator><motor name="m_shoulder" joint="shoulder" gear="100" ctrlrange="-1.5 1.5"/>
    <motor name="m_wrist" joint="wrist" gear="1" ctrlrange="-2 2"/></actuator></mujoco>"""


class TestCommandRate:
    def test_each_torque_joint_gets_a_rate_of_its_own_torque(self, tmp_path):
        """One rate for all (20 x the largest torque: 3,000 N m/s) let the 2 N m wrist go from -2 to
        +2 N m in one 20 ms tick; its own rate (50 x 2 N m per second) allows 2 N m per tick."""
        from sim2real.deploy.safety import SafetyMonitor
        from sim2real.real.protocol import Reading

        (tmp_path / "arm.xml").write_text(TORQUE_ARM)
        spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "out" / "robot.yaml")
        rate = dict(zip(spec.joints, spec.safety.command_rate, strict=True))
        assert rate == {"shoulder": 3000.0, "wrist": 100.0}  # never looser than the one rate was
        monitor = SafetyMonitor(spec)
        reading = Reading(t=0.0, q=np.zeros(2), qd=np.zeros(2))
        wrist = [a.joint for a in spec.actuators].index("wrist")
        first = monitor.filter_command([0.0, -2.0], reading, 0.0).command.values[wrist]
        dt = spec.control_dt
        decision = monitor.filter_command([0.0, 2.0], Reading(t=dt, q=np.zeros(2), qd=np.zeros(2)), dt)
        assert decision.command.values[wrist] == pytest.approx(first + 100.0 * dt)  # 2 N m, not 4


class TestMimicJoints:
    def test_a_follower_is_measured_not_actuated_and_its_pose_and_limits_follow_its_leader(self, tmp_path):
        """h1_2's hands: init added PD actuators to the 12 followers (fighting the constraints), moved them
        off their range edges without their leaders, and gave them limits the coupling cannot honour."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", gripper=True)  # jaw2 = 2 jaw, jaw in [0, 0.5]
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert "jaw2" in spec.joints and "jaw2" not in [a.joint for a in spec.actuators]
        assert "jaw" in [a.joint for a in spec.actuators]
        pose = dict(zip(spec.joints, spec.default_pose, strict=True))
        assert pose["jaw"] > 0.0 and pose["jaw2"] == 2 * pose["jaw"]  # the leader moved off its edge, the follower with it
        i, k = spec.joints.index("jaw"), spec.joints.index("jaw2")
        np.testing.assert_allclose(
            [spec.safety.position_low[k], spec.safety.position_high[k]],
            [2 * spec.safety.position_low[i], 2 * spec.safety.position_high[i]],
        )
        assert _velocity(spec, "jaw2") == 2 * _velocity(spec, "jaw") == 4.0
        assert "jaw2" not in [a.joint for a in spec.actuators]
        assert any("mimic joints of the URDF (jaw2)" in line for line in result.inferred)
        model = build_model(spec)
        assert model.neq == 1 and model.nu == len(spec.actuators)


    def test_a_coupling_that_would_drive_the_follower_out_of_its_range_narrows_the_leader(self, tmp_path):
        """H1-2's thumb: leader [-0.1, 0.6] x 1.6 reaches 0.96 against the follower's [0, 0.8]:
        its safety limits lay outside its own range (preflight's limits item failed)."""
        import re

        urdf = quadruped_urdf(tmp_path / "dog.urdf", gripper=True)  # jaw2 = 2 jaw, jaw in [0, 0.5]
        text = urdf.read_text()
        block = re.search(r'<joint name="jaw2".*?</joint>', text, re.S).group(0)
        urdf.write_text(text.replace(block, block.replace('upper="1.0"', 'upper="0.8"')))
        spec, _ = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        i, k = spec.joints.index("jaw"), spec.joints.index("jaw2")
        low, high = spec.safety.position_low, spec.safety.position_high
        assert low[k] >= 0.0 and high[k] <= 0.8  # within the follower's own range
        assert 2 * high[i] <= high[k] + 1e-9  # the leader stops before it drives the follower beyond

    def test_a_coupling_whose_ranges_meet_at_one_position_pins_the_pair_there_and_says_so(self, tmp_path):
        """PR2's r_gripper_r_parallel_root_joint = -1 x r_gripper_l_finger_joint, both in [0, 0.548]: init moved
        the leader off its edge to 0.1 and failed on the follower's -0.1 ('outside the MJCF joint range')."""
        urdf = _jaw2(tmp_path, 'multiplier="-1" offset="0"')  # jaw in [0, 0.5], jaw2 = -jaw in [0, 1]: both at 0
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        pose = dict(zip(spec.joints, spec.default_pose, strict=True))
        assert pose["jaw"] == 0.0 and pose["jaw2"] == 0.0
        assert any("jaw = 0 (with jaw2) a single position" in line and "<mimic>" in line for line in result.check), result.check
        i, k = spec.joints.index("jaw"), spec.joints.index("jaw2")
        low, high = spec.safety.position_low, spec.safety.position_high
        np.testing.assert_allclose([low[k], high[k]], [-high[i], -low[i]])  # the follower's limits are the leader's mapped
        assert high[i] < 0.1  # the leader may not drive the follower far below its range

    def test_a_coupling_that_leaves_the_followers_range_everywhere_is_one_error_line(self, tmp_path):
        urdf = _jaw2(tmp_path, 'multiplier="-1" offset="-0.1"')  # jaw2 in [-0.6, -0.1], its range [0, 1]
        with pytest.raises(SpecError, match=r"mimic joint 'jaw2' \(range \[0, 1\]\) follows 'jaw' .*correct the follower's <limit> or <mimic>"):
            infer_spec(urdf, tmp_path / "out", FLOATING)

    def test_every_follower_gets_the_leaders_limits_narrowed_by_all_of_them(self, tmp_path):
        """A follower listed before the one that narrows its leader kept the leader's wider limits (PR2's finger
        tips [-0.05, 0.498] beside a leader held to [-0.05, 0.05])."""
        urdf = _jaw2(tmp_path, 'multiplier="1" offset="0"', jaw3='multiplier="-1" offset="0"')
        spec, _ = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        low, high = spec.safety.position_low, spec.safety.position_high
        i, k = spec.joints.index("jaw"), spec.joints.index("jaw2")
        np.testing.assert_allclose([low[k], high[k]], [low[i], high[i]])
        assert high[i] < 0.1


def _jaw2(tmp_path, mimic: str, jaw3: str = ""):
    """The test quadruped's gripper with jaw2's coupling ``mimic`` (attributes), and a jaw3 coupled to jaw by
    ``jaw3`` after it when given (the same [0, 1] range)."""
    import re

    urdf = quadruped_urdf(tmp_path / "dog.urdf", gripper=True)  # jaw in [0, 0.5], jaw2 in [0, 1]
    text = urdf.read_text().replace('multiplier="2" offset="0"', mimic)
    if jaw3:
        block = re.search(r'  <joint name="jaw2".*?</joint>\n', text, re.S).group(0)
        link = re.search(r'  <link name="jaw2_link">.*?</link>\n', text, re.S).group(0)
        text = text.replace(block, block + link.replace("jaw2", "jaw3") + block.replace("jaw2", "jaw3").replace(mimic, jaw3))
    urdf.write_text(text)
    return urdf


class TestPositionServoTargets:
    def test_a_position_servos_ctrlrange_narrower_than_its_joint_bounds_the_position_limits(self, tmp_path):
        """The model's <position ctrlrange> is the targets its servo takes; sim2real's pd actuator replaces
        it without that clamp, so the spec allowed targets up to the joint's range (2.95 where the servo
        took at most 1; with gear 2, 0.5 rad)."""
        (tmp_path / "arm.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><body><joint name='a' axis='0 1 0' range='-3 3'/>"
            "<geom size='0.05' mass='1'/><body pos='0.1 0 0'><joint name='b' axis='0 1 0' range='-3 3'/>"
            "<geom size='0.05' mass='1'/><body pos='0.1 0 0'><joint name='c' axis='0 1 0' range='-3 3'/>"
            "<geom size='0.05' mass='1'/><body pos='0.1 0 0'><joint name='d' axis='0 1 0' range='-3 3'/>"
            "<geom size='0.05' mass='1'/></body></body></body></body></worldbody><actuator>"
            "<position name='pa' joint='a' kp='50' ctrlrange='-1 1' forcerange='-20 20'/>"
            "<position name='pb' joint='b' kp='50' gear='2' ctrlrange='-1 1.5' forcerange='-20 20'/>"
            "<position name='pc' joint='c' kp='50' ctrlrange='-4 4' forcerange='-20 20'/>"
            "<motor name='md' joint='d' ctrlrange='-1 1' gear='20'/></actuator>"
            "<keyframe><key qpos='0 0.3 0 0'/></keyframe></mujoco>"
        )
        result = infer_spec(tmp_path / "arm.xml", tmp_path / "out", InitOptions(kp={"d": 30.0}, kd={"d": 1.0}))
        position = result.spec["safety"]["joint_position"]
        # c: the ctrlrange is wider than the joint; d: a motor's ctrlrange is a torque, not a target
        assert position == {"a": [-1.0, 1.0], "b": [-0.5, 0.75], "c": [-2.95, 2.95], "d": [-2.95, 2.95]}

    def test_the_default_pose_keeps_its_margin_inside_them(self, tmp_path):
        (tmp_path / "arm.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><body><joint name='a' axis='0 1 0' range='-3 3'/>"
            "<geom size='0.05' mass='1'/></body></worldbody><actuator>"
            "<position name='pa' joint='a' kp='50' ctrlrange='0 1' forcerange='-20 20'/></actuator>"
            "<keyframe><key qpos='0'/></keyframe></mujoco>"
        )
        result = infer_spec(tmp_path / "arm.xml", tmp_path / "out", InitOptions())
        assert result.spec["safety"]["joint_position"] == {"a": [-0.05, 1.0]}

    def test_a_general_servos_targets_are_where_its_gain_and_bias_balance(self, tmp_path):
        """A <general> servo whose gain is not its stiffness (dm_control's rodent: gain 0.244, bias
        slope -0.4) holds the joint where gain x ctrl + bias0 = stiffness x gear x q: gain 20, bias
        -40, gear 2 and ctrl +-1 hold +-0.25 rad (MuJoCo's equilibrium); the spec allowed +-0.5."""
        (tmp_path / "arm.xml").write_text(
            "<mujoco><compiler angle='radian'/><option gravity='0 0 0'/><worldbody><body>"
            "<joint name='a' axis='0 1 0' range='-3 3' damping='5'/><geom size='0.05' mass='1'/><body pos='0.1 0 0'>"
            "<joint name='b' axis='0 1 0' range='-3 3' damping='5'/><geom size='0.05' mass='1'/></body></body>"
            "</worldbody><actuator>"
            "<general name='ga' joint='a' gear='2' gainprm='20' biastype='affine' biasprm='0 -40 -1' "
            "ctrlrange='-1 1' forcerange='-50 50'/>"
            "<general name='gb' joint='b' gainprm='10' biastype='affine' biasprm='2 -20 -1' "
            "ctrlrange='-1 1' forcerange='-50 50'/></actuator></mujoco>"
        )
        result = infer_spec(tmp_path / "arm.xml", tmp_path / "out", InitOptions())
        position = result.spec["safety"]["joint_position"]
        model = mujoco.MjModel.from_xml_path(str(tmp_path / "arm.xml"))
        for side in (0, 1):  # the joint positions MuJoCo's servos hold at their ctrlrange's ends
            data = mujoco.MjData(model)
            data.ctrl[:] = model.actuator_ctrlrange[:, side]
            for _ in range(5000):
                mujoco.mj_step(model, data)
            assert position["a"][side] == pytest.approx(data.qpos[0], abs=1e-3)
            assert position["b"][side] == pytest.approx(data.qpos[1], abs=1e-3)
        assert position == {"a": [-0.25, 0.25], "b": [-0.4, 0.6]}


class TestJointsWithoutARange:
    def test_init_says_what_the_wind_up_guard_does_to_a_wheel_and_names_an_ignored_range(self, tmp_path):
        """A wheeled-legged robot's wheels are safe-stopped after two turns; init said nothing."""
        (tmp_path / "cart.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><body><joint name='wheel' axis='0 1 0'/>"
            "<geom size='0.05' mass='1'/><body pos='0.1 0 0'><joint name='yaw' axis='0 0 1' range='-1 1' "
            "limited='false'/><geom size='0.05' mass='1'/><body pos='0.1 0 0'><joint name='hip' axis='0 1 0' "
            "range='-1 1'/><geom size='0.05' mass='1'/></body></body></body></worldbody><actuator>"
            "<motor name='w' joint='wheel' ctrlrange='-1 1'/><motor name='y' joint='yaw' ctrlrange='-1 1'/>"
            "<motor name='h' joint='hip' ctrlrange='-1 1'/></actuator></mujoco>"
        )
        result = infer_spec(tmp_path / "cart.xml", tmp_path / "out", InitOptions())
        lines = [line for line in result.check if line.startswith("joints without a range")]
        assert len(lines) == 1 and "(wheel, yaw)" in lines[0] and "safe-stopped after two turns" in lines[0]
        assert 'yaw: the model states a range but limited="false" (not enforced)' in lines[0]
        position = result.spec["safety"]["joint_position"]
        assert np.allclose(position["wheel"], [-4 * np.pi, 4 * np.pi], atol=1e-6)

    def test_a_slide_without_a_range_gets_a_guard_in_metres_and_a_speed_in_metres_per_second(self, tmp_path):
        """A cart on an unlimited rail got the revolute wind-up guard, +-12.57 (m) of travel, and 30 (m/s)."""
        from sim2real.robots.init_limits import DEFAULT_SLIDE_VELOCITY, SLIDE_GUARD

        (tmp_path / "cart.xml").write_text(
            "<mujoco><worldbody><body><joint name='slider' type='slide' axis='1 0 0'/><geom size='0.05' mass='1'/>"
            "<body pos='0.1 0 0'><joint name='hinge' axis='0 1 0'/><geom size='0.05' mass='1'/></body></body>"
            "</worldbody><actuator><motor joint='slider' gear='10' ctrlrange='-1 1'/>"
            "<motor joint='hinge' ctrlrange='-1 1'/></actuator></mujoco>"
        )
        result = infer_spec(tmp_path / "cart.xml", tmp_path / "out", InitOptions())
        safety = result.spec["safety"]
        assert np.allclose(safety["joint_position"]["slider"], [-SLIDE_GUARD, SLIDE_GUARD])
        assert safety["joint_velocity"]["slider"] == DEFAULT_SLIDE_VELOCITY
        assert np.allclose(safety["joint_position"]["hinge"], [-4 * np.pi, 4 * np.pi], atol=1e-6)
        assert safety["joint_velocity"]["hinge"] == DEFAULT_VELOCITY
        line = next(x for x in result.check if "without a range" in x)
        assert f"slide joints without a range (slider): safety.joint_position is the default pose +- {SLIDE_GUARD:g} m" in line
        assert "joints without a range (hinge)" in line
        assert any(f"({DEFAULT_SLIDE_VELOCITY:g} m/s on slide joints)" in x for x in result.check)

    def test_a_urdf_prismatic_joint_without_a_velocity_gets_a_linear_speed(self, tmp_path):
        from sim2real.robots.init_limits import DEFAULT_SLIDE_VELOCITY

        urdf = quadruped_urdf(tmp_path / "dog.urdf", knee_velocity=12.0, trunk_extra="")
        text = urdf.read_text().replace(
            "</robot>",
            '  <link name="lift"><inertial><mass value="0.2"/><inertia ixx="1e-4" iyy="1e-4" izz="1e-4" ixy="0" '
            'ixz="0" iyz="0"/></inertial></link>\n  <joint name="lift" type="prismatic"><parent link="trunk"/>'
            '<child link="lift"/><axis xyz="0 0 1"/><limit lower="0" upper="0.04" effort="30" velocity="0"/></joint>\n</robot>',
        )
        urdf.write_text(text)
        result = infer_spec(urdf, tmp_path / "out", FLOATING)
        assert result.spec["safety"]["joint_velocity"]["lift"] == DEFAULT_SLIDE_VELOCITY


class TestPlaceholderTorque:
    """A URDF's effort="100000" became the safety torque limit without a word: a clamp that never binds."""

    def _urdf(self, tmp_path, effort: str):
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        urdf.write_text(urdf.read_text().replace('effort="30"', f'effort="{effort}"', 2))
        return urdf

    def test_a_placeholder_effort_is_one_error_line_asking_for_the_real_limit(self, tmp_path):
        urdf = self._urdf(tmp_path, "100000")
        with pytest.raises(SpecError, match=r"2 joints \(FL_hip, FL_knee\): the model's torque limit is a placeholder") as info:
            infer_spec(urdf, tmp_path / "out", FLOATING)
        assert "--torque-limit" in str(info.value) and "\n" not in str(info.value)

    def test_an_effort_far_above_the_robots_weight_is_a_check_line(self, tmp_path):
        """effort="1000" on a robot of a few kilograms (example-robot-data's Solo: 125x its weight at
        its extent) was taken without a word, below the 5000 N m placeholder rule."""
        result = infer_spec(self._urdf(tmp_path, "1000"), tmp_path / "a", FLOATING)
        assert result.spec["safety"]["joint_torque"]["FL_hip"] == 1000
        (line,) = [line for line in result.check if "what this robot's weight asks" in line]
        assert "FL_hip 1000 N m" in line and "--torque-limit" in line
        plain = infer_spec(self._urdf(tmp_path, "30"), tmp_path / "b", FLOATING)  # its own 30 N m: nothing said
        assert not any("what this robot's weight asks" in line for line in plain.check)
        given = InitOptions(kp=30.0, kd=1.0, floating_base=True, torque_limit=1000.0)  # the user's own word
        assert not any("what this robot's weight asks" in line for line in infer_spec(self._urdf(tmp_path, "30"), tmp_path / "c", given).check)

    def test_a_real_large_effort_and_a_given_limit_are_taken(self, tmp_path):
        assert infer_spec(self._urdf(tmp_path, "4000"), tmp_path / "a", FLOATING).spec["safety"]["joint_torque"]["FL_hip"] == 4000
        opts = InitOptions(kp=30.0, kd=1.0, floating_base=True, torque_limit=40.0)
        assert infer_spec(self._urdf(tmp_path, "100000"), tmp_path / "b", opts).spec["safety"]["joint_torque"]["FL_hip"] == 40


GRIPPER = """<mujoco><compiler angle="radian"/><worldbody><body name="palm"><joint name="wrist" axis="0 0 1" range="-2 2"/>
  <geom type="box" size="0.03 0.03 0.01" mass="0.3"/>
  <body name="left" pos="0.02 0 -0.02"><joint name="left" type="slide" axis="1 0 0" range="-0.002 0.0375"/>
    <geom type="box" size="0.005 0.01 0.02" mass="0.05"/></body>
  <body name="right" pos="-0.02 0 -0.02"><joint name="right" type="slide" axis="1 0 0" range="-0.0375 0.002"/>
    <geom type="box" size="0.005 0.01 0.02" mass="0.05"/></body></body></worldbody>
  <equality><joint joint1="left" joint2="right" polycoef="0 -1 0 0 0"/></equality></mujoco>"""


class TestModelJointEqualities:
    """mjlab's YAM couples its fingers by an MJCF joint equality (left = -right) and drives the left:
    robot init called the right finger passive ('if a motor drives them, give them --kp')."""

    def _init(self, tmp_path, kp):
        (tmp_path / "gripper.xml").write_text(GRIPPER)
        opts = InitOptions(kp=kp, kd=1.0, torque_limit=10.0, default_pose={"left": 0.02})
        return init_robot(tmp_path / "gripper.xml", tmp_path / "robot.yaml", opts)

    def test_the_driven_side_leads_and_the_other_follows_through_the_coupling(self, tmp_path):
        spec, result = self._init(tmp_path, {"wrist": 5.0, "left": 100.0})
        assert [a.joint for a in spec.actuators] == ["wrist", "left"]
        assert any("1 mimic joints of the model (right)" in line for line in result.inferred)
        assert not any(line.startswith("passive joints") for line in result.check)
        pose = dict(zip(spec.joints, spec.default_pose, strict=True))
        assert pose["right"] == pytest.approx(-0.02)

    def test_mujocos_own_direction_when_the_gains_do_not_say(self, tmp_path):
        spec, result = self._init(tmp_path, 5.0)  # one value for every joint: joint2 (right) leads
        assert [a.joint for a in spec.actuators] == ["wrist", "right"]
        assert any("1 mimic joints of the model (left)" in line for line in result.inferred)

    def test_a_short_slide_keeps_its_stroke_the_margin_is_an_angle(self, tmp_path):
        """The 0.05 rad margin, taken as 5 cm on a 4 cm finger, left the YAM's finger half its stroke."""
        from sim2real.robots.init_limits import SLIDE_MARGIN

        spec, _ = self._init(tmp_path, {"wrist": 5.0, "left": 100.0})
        low, high = (dict(zip(spec.joints, x, strict=True)) for x in (spec.safety.position_low, spec.safety.position_high))
        stroke = 0.0375 + 0.002
        assert low["left"] == pytest.approx(-0.002 + SLIDE_MARGIN * stroke, abs=1e-6)
        assert high["left"] == pytest.approx(0.0375 - SLIDE_MARGIN * stroke, abs=1e-6)
        assert low["wrist"] == pytest.approx(-2 + 0.05)  # a hinge keeps its angle

    def test_a_pair_the_models_own_actuators_both_drive_stays_driven(self, tmp_path):
        (tmp_path / "gripper.xml").write_text(GRIPPER.replace(
            "</mujoco>", '<actuator><motor joint="left" ctrlrange="-5 5"/><motor joint="right" ctrlrange="-5 5"/></actuator></mujoco>'
        ))
        spec, result = init_robot(tmp_path / "gripper.xml", tmp_path / "robot.yaml", InitOptions(joints="left|right"))
        assert [a.joint for a in spec.actuators] == ["left", "right"]
        assert not any("mimic joints" in line for line in result.inferred)


class TestRangesWiderThanATurn:
    def test_a_placeholder_range_is_bounded_by_the_wind_up_guard_and_said(self, tmp_path):
        """A hinge stated as [-1e6, 1e6] rad (a URDF placeholder) got safety limits of +-1e6 rad, bounding
        nothing, with no line; a wrist of two turns kept its range, also without a word."""
        from sim2real.robots.init_limits import WIND_UP_GUARD

        (tmp_path / "arm.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><body><joint name='big' axis='0 0 1' range='-1e6 1e6'/>"
            "<geom size='0.05' mass='1'/><body pos='0.1 0 0'><joint name='wrist' axis='0 1 0' range='-6.3 6.3'/>"
            "<geom size='0.05' mass='1'/><body pos='0.1 0 0'><joint name='elbow' axis='0 1 0' range='-2 2'/>"
            "<geom size='0.05' mass='1'/></body></body></body></worldbody><actuator>"
            "<motor joint='big' ctrlrange='-1 1'/><motor joint='wrist' ctrlrange='-1 1'/>"
            "<motor joint='elbow' ctrlrange='-1 1'/></actuator></mujoco>"
        )
        result = infer_spec(tmp_path / "arm.xml", tmp_path / "out", InitOptions())
        position = result.spec["safety"]["joint_position"]
        assert np.allclose(position["big"], [-WIND_UP_GUARD, WIND_UP_GUARD], atol=1e-6)
        assert position["wrist"][1] - position["wrist"][0] > 2 * np.pi  # inside the guard: its own range less the margin
        assert position["elbow"][1] < 2.0
        lines = [line for line in result.check if "more than a turn" in line]
        assert len(lines) == 1 and "big 2e+06 rad" in lines[0] and "wrist 12.6 rad" in lines[0]
        assert "elbow" not in lines[0] and "+- 4 pi" in lines[0]
