"""Ros2Robot on a real in-process ROS 2 graph: joints by name, incomplete messages, commands, safe mode."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs the ros2 extra (pip install 'sim2real[ros2]')")

from ros2_testing import TIMEOUT, topics

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command
from sim2real.real.ros2 import (
    QosSettings,
    Ros2Config,
    Ros2ConfigError,
    Ros2Robot,
    joint_index_map,
)
from sim2real.robots import load_robot


def joint_state(names, position, velocity=None, effort=()):
    from sensor_msgs.msg import JointState

    msg = JointState()
    msg.name = list(names)
    msg.position = [float(x) for x in position]
    msg.velocity = [float(x) for x in (position if velocity is None else velocity)]
    msg.effort = [float(x) for x in effort]
    return msg


@pytest.fixture
def furuta():
    return load_robot("furuta")


@pytest.fixture
def quadruped():
    return load_robot("quadruped")


def attach(probe, spec, config):
    """A Ros2Robot (own context, node and executor thread) and a JointState publisher on the probe."""
    from sensor_msgs.msg import JointState

    robot = Ros2Robot(spec, config)
    pub = probe.node.create_publisher(JointState, config.joint_states_topic, QosSettings(depth=1).profile())
    probe.wait_for(lambda: pub.get_subscription_count() > 0, TIMEOUT, "the robot's JointState subscription")
    return robot, pub


def publish_until(probe, robot, pub, msg, expect_count):
    """Publish ``msg`` until the robot has received ``expect_count`` JointStates in total."""
    deadline = time.monotonic() + TIMEOUT
    while robot.counters.joint_states < expect_count:
        assert time.monotonic() < deadline, "the robot received no JointState"
        pub.publish(msg)
        with probe.changed:
            probe.changed.wait_for(lambda: robot.counters.joint_states >= expect_count, 0.05)


class TestJointIndexMap:
    def test_finds_joints_by_name_in_any_order(self):
        assert joint_index_map(["c", "a", "b"], ["a", "b", "c"]).tolist() == [1, 2, 0]

    def test_extra_joints_are_ignored(self):
        assert joint_index_map(["x", "b", "y", "a"], ["a", "b"]).tolist() == [3, 1]

    def test_missing_joint_gives_none(self):
        assert joint_index_map(["a", "c"], ["a", "b"]) is None

    def test_duplicated_wanted_joint_gives_none(self):
        assert joint_index_map(["a", "b", "a"], ["a", "b"]) is None

    def test_a_joint_wanted_twice_gives_none(self):
        """Two spec joints read from one message joint: the other robot joint would go unwatched."""
        assert joint_index_map(["a", "b"], ["b", "b"]) is None


class TestJointStatesByName:
    def test_shuffled_joint_order_is_mapped_by_name(self, probe, quadruped):
        config = topics(imu_topic=None, base_height_topic=None)
        robot, pub = attach(probe, quadruped, config)
        try:
            rng = np.random.default_rng(3)
            order = rng.permutation(quadruped.n_joints)
            q = np.linspace(-0.5, 0.5, quadruped.n_joints)
            names = [quadruped.joints[i] for i in order] + ["gripper"]
            msg = joint_state(names, [*q[order], 9.0], [*(2 * q[order]), 9.0], [*(3 * q[order]), 9.0])
            publish_until(probe, robot, pub, msg, 1)
            reading = robot.read()
            assert reading.valid and reading.gyro is None and reading.base_height is None
            np.testing.assert_array_equal(reading.q, q)
            np.testing.assert_array_equal(reading.qd, 2 * q)
            np.testing.assert_array_equal(reading.tau, 3 * q)
        finally:
            robot.close()

    def test_shuffled_names_and_renamed_joints(self, probe, furuta):
        config = topics(joint_names={"arm": "qube/motor_joint", "pendulum": "qube/pendulum_joint"})
        robot, pub = attach(probe, furuta, config)
        try:
            msg = joint_state(
                ["qube/pendulum_joint", "other", "qube/motor_joint"],
                [0.2, 5.0, -0.1],
                [2.0, 5.0, -1.0],
                [0.0, 0.0, 0.01],
            )
            publish_until(probe, robot, pub, msg, 1)
            reading = robot.read()
            assert reading.valid
            np.testing.assert_array_equal(reading.q, [-0.1, 0.2])  # spec order: arm, pendulum
            np.testing.assert_array_equal(reading.qd, [-1.0, 2.0])
            np.testing.assert_array_equal(reading.tau, [0.01, 0.0])
            assert reading.t <= time.monotonic()
        finally:
            robot.close()

    def test_message_missing_a_joint_is_an_invalid_reading_until_a_complete_one(self, probe, furuta):
        config = topics()
        robot, pub = attach(probe, furuta, config)
        try:
            publish_until(probe, robot, pub, joint_state(["arm", "pendulum"], [0.1, 0.2]), 1)
            assert robot.read().valid
            publish_until(probe, robot, pub, joint_state(["arm"], [0.1]), 2)
            reading = robot.read()
            assert not reading.valid and np.all(np.isnan(reading.q))
            assert robot.counters.incomplete == 1
            publish_until(probe, robot, pub, joint_state(["pendulum", "arm"], [0.3, 0.4]), 3)
            reading = robot.read()
            assert reading.valid and reading.q.tolist() == [0.4, 0.3]
        finally:
            robot.close()

    def test_header_stamps_carry_the_sample_age_over(self, probe, furuta):
        robot, pub = attach(probe, furuta, topics(stamp="header"))
        try:
            msg = joint_state(["arm", "pendulum"], [0.1, 0.2])
            now_ns = probe.node.get_clock().now().nanoseconds - 300_000_000  # sampled 0.3 s ago
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now_ns, 1_000_000_000)
            publish_until(probe, robot, pub, msg, 1)
            reading = robot.read()
            assert reading.valid
            assert 0.3 <= time.monotonic() - reading.t < 0.3 + TIMEOUT
        finally:
            robot.close()

    def test_header_stamps_ahead_of_this_clock_are_invalid_beyond_the_stale_timeout(self, probe, furuta):
        # a robot clock running ahead would make a late sample look new: beyond the stale timeout
        # (furuta: 20 ms) the clocks are taken as unsynchronized and the reading as unusable
        robot, pub = attach(probe, furuta, topics(stamp="header"))
        try:
            for count, ahead_ns in ((1, 1_000_000), (2, 5_000_000_000), (3, 1_000_000)):
                msg = joint_state(["arm", "pendulum"], [0.1, 0.2])
                stamp_ns = probe.node.get_clock().now().nanoseconds + ahead_ns
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
                publish_until(probe, robot, pub, msg, count)
                reading = robot.read()
                if ahead_ns > 1e9:
                    assert not reading.valid
                    assert "ahead of this computer's clock" in robot.not_ready()
                else:  # 1 ms ahead: taken as now
                    assert reading.valid and reading.t <= time.monotonic()
        finally:
            robot.close()

    def test_not_ready_says_why_in_one_line(self, probe, quadruped):
        config = topics()
        robot, pub = attach(probe, quadruped, config)
        try:
            assert robot.not_ready() == f"no JointState on {config.joint_states_topic}"
            publish_until(probe, robot, pub, joint_state(quadruped.joints[1:], quadruped.default_pose[1:]), 1)
            assert f"{quadruped.joints[0]} missing from the JointState" in robot.not_ready()
            publish_until(probe, robot, pub, joint_state(quadruped.joints, quadruped.default_pose), 2)
            assert robot.not_ready() == f"no IMU sample on {config.imu_topic}"
            assert not robot.ready()
        finally:
            robot.close()

    def test_missing_velocities_or_no_message_yet_are_invalid(self, probe, furuta):
        robot, pub = attach(probe, furuta, topics())
        try:
            assert not robot.read().valid  # nothing received yet
            publish_until(probe, robot, pub, joint_state(["arm", "pendulum"], [0.1, 0.2], velocity=[]), 1)
            assert not robot.read().valid
        finally:
            robot.close()

    def test_efforts_nan_at_every_joint_are_not_measured_until_a_finite_one_arrived(self, probe, furuta):
        # ros2_control's joint_state_broadcaster fills effort with NaN where a joint has no effort
        # interface; that is "not measured", not a fault that stops the robot for good
        nan = float("nan")
        robot, pub = attach(probe, furuta, topics())
        try:
            msg = joint_state(["arm", "pendulum", "gripper"], [0.1, 0.2, 0.0], effort=[nan, nan, 1.0])
            publish_until(probe, robot, pub, msg, 1)
            reading = robot.read()
            assert reading.valid and reading.tau is None
            # the arm measured, the passive pendulum has no effort interface: measured, the pendulum
            # reads 0 (before: not measured until the pendulum gave one, which it never does, so the
            # measured-torque check stayed off for the arm too)
            msg = joint_state(["arm", "pendulum"], [0.1, 0.2], effort=[9.0, nan])
            publish_until(probe, robot, pub, msg, 2)
            reading = robot.read()
            assert reading.valid and reading.tau.tolist() == [9.0, 0.0]  # 9 N m: the monitor's torque check sees it
            msg = joint_state(["arm", "pendulum"], [0.1, 0.2], effort=[nan, nan])  # the arm's sensor fails
            publish_until(probe, robot, pub, msg, 3)
            assert np.isnan(robot.read().tau).tolist() == [True, False]
        finally:
            robot.close()

    def test_efforts_of_every_joint_once_measured_then_nan_are_a_fault(self, probe, furuta):
        nan = float("nan")
        robot, pub = attach(probe, furuta, topics())
        try:
            def efforts(effort, count):
                publish_until(probe, robot, pub, joint_state(["arm", "pendulum"], [0.1, 0.2], effort=effort), count)
                return robot.read().tau

            assert efforts([nan, nan], 1) is None  # nothing measured yet
            assert efforts([0.5, nan], 2).tolist() == [0.5, 0.0]  # the passive pendulum never gave one: 0
            assert np.isnan(efforts([nan, 0.2], 3)).tolist() == [True, False]  # the arm measured before: a fault
            assert efforts([0.4, 0.2], 4).tolist() == [0.4, 0.2]
            assert np.isnan(efforts([0.4, nan], 5)).tolist() == [False, True]  # the pendulum gave one: a fault too
            # efforts that stop coming once measured: a fault, not "not measured" (the torque check
            # went quiet: after [], 9 N m on the arm in a 1-value array read as no measurement)
            assert np.isnan(efforts([], 6)).all()
        finally:
            robot.close()

    def test_an_effort_array_of_another_length_is_not_read_and_said(self, probe, furuta, caplog):
        robot, pub = attach(probe, furuta, topics())
        try:
            with caplog.at_level("WARNING"):
                msg = joint_state(["arm", "pendulum"], [0.1, 0.2], effort=[9.0])
                publish_until(probe, robot, pub, msg, 1)
                assert robot.read().valid and robot.read().tau is None  # nothing measured before
                publish_until(probe, robot, pub, joint_state(["arm", "pendulum"], [0.1, 0.2], effort=[0.01, 0.0]), 2)
                publish_until(probe, robot, pub, msg, 3)
                assert np.isnan(robot.read().tau).all()  # measured before: a fault the monitor stops on
            assert "2 names and 1 efforts: efforts not read" in caplog.text
        finally:
            robot.close()

    def test_a_driver_without_efforts_is_said_to_turn_the_torque_check_off(self, probe, furuta, caplog):
        """It turned the measured-torque check off without a line at any level (safety review 7)."""
        robot, pub = attach(probe, furuta, topics())
        try:
            with caplog.at_level("WARNING", logger="sim2real.real.ros2.robot"):
                publish_until(probe, robot, pub, joint_state(["arm", "pendulum"], [0.1, 0.2]), 1)
                assert robot.read().valid and robot.read().tau is None
            assert "carries no efforts: the measured-torque check is off" in caplog.text
        finally:
            robot.close()

    def test_imu_and_base_height_complete_a_floating_base_reading(self, probe, quadruped):
        from sensor_msgs.msg import Imu
        from std_msgs.msg import Float64

        config = topics()
        robot, pub = attach(probe, quadruped, config)
        imu_pub = probe.node.create_publisher(Imu, config.imu_topic, 1)
        height_pub = probe.node.create_publisher(Float64, config.base_height_topic, 1)
        try:
            q = np.asarray(quadruped.default_pose)
            publish_until(probe, robot, pub, joint_state(quadruped.joints, q), 1)
            assert not robot.read().valid  # no IMU, no height yet
            imu = Imu()
            imu.orientation.w, imu.orientation.x = 0.8, 0.6
            imu.angular_velocity.z = 0.5
            # gravity where that orientation (a 1.29 rad roll) puts it: (0, 0.96, 0.28) g
            imu.linear_acceleration.y, imu.linear_acceleration.z = 9.8 * 0.96, 9.8 * 0.28
            probe.wait_for(
                lambda: imu_pub.get_subscription_count() > 0 and height_pub.get_subscription_count() > 0,
                TIMEOUT,
                "IMU and height subscriptions",
            )
            deadline = time.monotonic() + TIMEOUT
            while robot.counters.imu == 0 or robot.counters.base_height == 0:
                assert time.monotonic() < deadline
                imu_pub.publish(imu)
                height_pub.publish(Float64(data=0.3))
                pub.publish(joint_state(quadruped.joints, q))
                with probe.changed:
                    probe.changed.wait(0.05)
            reading = robot.read()
            assert reading.valid
            np.testing.assert_array_equal(reading.quat, [0.8, 0.6, 0.0, 0.0])  # (w, x, y, z)
            np.testing.assert_array_equal(reading.gyro, [0.0, 0.0, 0.5])
            assert reading.base_height == 0.3
        finally:
            robot.close()


    def test_an_orientation_disagreeing_with_gravity_invalidates_the_readings(self, probe, quadruped):
        """Safety review 9 (finding 3): an identity orientation with a nonzero covariance while the
        accelerometer reads the base tilted 70 degrees was trusted (tilt 0).  On the robot's clock
        (stepped here by 25 ms a sample), the readings turn invalid once that lasts 0.2 s."""
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Float64

        config = topics()
        now = [100.0]
        robot = Ros2Robot(quadruped, config, clock=lambda: now[0])
        pub = probe.node.create_publisher(JointState, config.joint_states_topic, QosSettings(depth=1).profile())
        imu_pub = probe.node.create_publisher(Imu, config.imu_topic, 1)
        height_pub = probe.node.create_publisher(Float64, config.base_height_topic, 1)
        imu = Imu()
        imu.orientation.w = 1.0
        imu.orientation_covariance[0] = imu.orientation_covariance[4] = imu.orientation_covariance[8] = 0.01
        imu.linear_acceleration.x, imu.linear_acceleration.z = 9.81 * np.sin(1.22), 9.81 * np.cos(1.22)
        try:
            probe.wait_for(
                lambda: min(p.get_subscription_count() for p in (pub, imu_pub, height_pub)) > 0,
                TIMEOUT,
                "the robot's subscriptions",
            )
            valid = []
            for _ in range(12):
                now[0] += 0.025
                deadline = time.monotonic() + TIMEOUT
                counts = (robot.counters.imu, robot.counters.base_height, robot.counters.joint_states)
                while min(robot.counters.imu - counts[0], robot.counters.base_height - counts[1]) < 1 or (
                    robot.counters.joint_states == counts[2]
                ):
                    assert time.monotonic() < deadline, "the robot received no samples"
                    imu_pub.publish(imu)
                    height_pub.publish(Float64(data=0.3))
                    pub.publish(joint_state(quadruped.joints, quadruped.default_pose))
                    with probe.changed:
                        probe.changed.wait(0.02)
                valid.append(robot.read().valid)
            assert valid[:8] == [True] * 8 and valid[-1] is False  # 8 samples: 0.175 s of disagreement
            assert "disagrees with its accelerometer about gravity" in robot.not_ready()
        finally:
            robot.close()

    def test_odometry_gives_the_base_velocity_and_must_be_fresh(self, probe, quadruped):
        """Without it a ROS 2 robot gave no base velocity: a policy observing it could not run and
        the speed stages' cap checked the yaw rate alone."""
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import Imu
        from std_msgs.msg import Float64

        # samples may wait on a loaded machine: a spec allowing half a second, and the IMU as much
        quadruped = dataclasses.replace(quadruped, safety=dataclasses.replace(quadruped.safety, stale_timeout=0.5))
        config = topics(odometry_topic=f"{topics().joint_states_topic}_odom", imu_timeout=0.5)
        robot, pub = attach(probe, quadruped, config)
        imu_pub = probe.node.create_publisher(Imu, config.imu_topic, 1)
        height_pub = probe.node.create_publisher(Float64, config.base_height_topic, 1)
        odom_pub = probe.node.create_publisher(Odometry, config.odometry_topic, 1)
        try:
            q = np.asarray(quadruped.default_pose)
            imu = Imu()
            imu.orientation.w = 1.0
            imu.linear_acceleration.z = 9.8
            odom = Odometry()
            odom.child_frame_id = "trunk"
            odom.twist.twist.linear.x, odom.twist.twist.linear.y = 0.4, -0.1
            probe.wait_for(lambda: odom_pub.get_subscription_count() > 0, TIMEOUT, "the odometry subscription")
            def feed(until, *extra):
                deadline = time.monotonic() + TIMEOUT
                while not until():
                    assert time.monotonic() < deadline
                    for publisher, msg in ((imu_pub, imu), (height_pub, Float64(data=0.3)), *extra):
                        publisher.publish(msg)
                    pub.publish(joint_state(quadruped.joints, q))
                    with probe.changed:
                        probe.changed.wait(0.05)

            feed(lambda: min(robot.counters.imu, robot.counters.base_height, robot.counters.joint_states) > 0)
            reading = robot.read()
            assert not reading.valid and "odometry" in robot.not_ready()  # required once configured
            feed(lambda: robot.counters.odometry > 0, (odom_pub, odom))
            reading = robot.read()
            assert reading.valid
            np.testing.assert_array_equal(reading.base_lin_vel, [0.4, -0.1, 0.0])
        finally:
            robot.close()


    def test_a_policy_observing_the_base_velocity_needs_the_odometry_topic(self, quadruped, tmp_path):
        import dataclasses

        from sim2real.deploy.loop_build import build_loop
        from sim2real.policy.linear import write_linear_policy
        from sim2real.robots.spec import ObservationTerm

        spec = dataclasses.replace(quadruped, observation=(ObservationTerm("base_lin_vel", 3), *quadruped.observation))
        policy = write_linear_policy(spec, tmp_path / "lin_vel.onnx")
        robot = Ros2Robot(spec, topics())
        try:
            assert not robot.gives_base_lin_vel
            with pytest.raises(Sim2RealError, match="odometry_topic"):
                build_loop(spec, robot, policy)
        finally:
            robot.close()
        robot = Ros2Robot(spec, topics(odometry_topic="/t_lin_vel/odom"))
        try:
            assert robot.gives_base_lin_vel
            assert build_loop(spec, robot, policy).stage_speed is not None
        finally:
            robot.close()


class TestTakeOnRead:
    def test_read_takes_the_newest_message_itself_without_an_executor(self, probe, furuta):
        from sensor_msgs.msg import JointState

        from sim2real.real.ros2 import Node, new_context

        config = topics()
        context = new_context()
        node = Node("sim2real_test_unspun", context=context)  # no executor spins this node
        robot = Ros2Robot(furuta, config, node=node, take_on_read=True)
        try:
            pub = probe.node.create_publisher(
                JointState, config.joint_states_topic, QosSettings(depth=1).profile()
            )
            probe.wait_for(lambda: pub.get_subscription_count() > 0, TIMEOUT, "the robot's subscription")
            deadline = time.monotonic() + TIMEOUT
            position = 0.0
            while True:  # publish until one arrives (best effort: the first ones may precede matching)
                position += 0.001
                pub.publish(joint_state(["arm", "pendulum"], [position, 0.0]))
                with probe.changed:
                    probe.changed.wait(0.01)
                reading = robot.read()
                if reading.valid:
                    break
                assert time.monotonic() < deadline, "read() took no message"
            for _ in range(3):  # a few more: read() returns the newest delivered one
                position += 0.001
                pub.publish(joint_state(["arm", "pendulum"], [position, 0.0]))
            probe.wait_for(lambda: robot.read().q[0] == position, TIMEOUT, "the newest message")
        finally:
            robot.close()
            node.destroy_node()
            context.try_shutdown()


class TestCommandsAndSafeMode:
    def test_commands_in_the_configured_joint_order_and_safe_mode_topic(self, probe, quadruped):
        from std_msgs.msg import Bool, Float64MultiArray

        order = list(reversed(quadruped.actuated_joints))
        config = topics(command_joints=order)
        commands = probe.subscribe(Float64MultiArray, config.command_topic, QosSettings(depth=10).profile())
        safe = probe.subscribe(Bool, config.safe_mode_topic, config.safe_mode_qos.profile())
        robot = Ros2Robot(quadruped, config)
        try:
            probe.wait_for(
                lambda: robot._command_pub.get_subscription_count() > 0, TIMEOUT, "command subscriber"
            )
            values = np.arange(quadruped.n_actions, dtype=float)
            robot.write(Command(t=0.0, values=values))
            probe.wait_for(lambda: len(commands) == 1 and len(safe) == 1, TIMEOUT, "a command and safe=False")
            assert list(commands[0][1].data) == values[::-1].tolist()
            assert safe[0][1].data is False  # the first normal command leaves safe mode explicitly
            robot.write(Command(t=0.0, values=values, mode="safe"))
            robot.write(Command(t=0.0, values=values, mode="safe"))
            probe.wait_for(lambda: len(safe) == 2, TIMEOUT, "safe=True")
            assert safe[1][1].data is True
            assert robot.safe_mode_requested
            robot.write(Command(t=0.0, values=values + 1, mode="hold"))
            probe.wait_for(
                lambda: len(commands) == 2 and len(safe) == 3, TIMEOUT, "safe=False, then the command"
            )
            assert safe[2][1].data is False and list(commands[1][1].data) == (values[::-1] + 1).tolist()
            assert len(safe) == 3 and len(commands) == 2  # a safe command publishes no values
            with pytest.raises(Sim2RealError, match="12 actuators"):
                robot.write(Command(t=0.0, values=[1.0]))
        finally:
            robot.close()

    def test_an_empty_motor_slot_is_sent_as_zero_in_its_own_place(self, probe, quadruped):
        """A spec whose motor order has an empty slot (an H1's motor 9): the array carries one value
        per slot, so each target reaches its motor's index (before, the slot was dropped and every
        later target went to the motor one slot early)."""
        from std_msgs.msg import Float64MultiArray

        slots = [*quadruped.actuated_joints[:3], "-", *quadruped.actuated_joints[3:]]
        spec = dataclasses.replace(quadruped, motor_order=tuple(slots))
        with pytest.raises(Ros2ConfigError, match=r"motor slot\(s\) 3 without a joint"):
            Ros2Robot(spec, topics())
        config = topics(command_joints=slots)
        commands = probe.subscribe(Float64MultiArray, config.command_topic, QosSettings(depth=10).profile())
        robot = Ros2Robot(spec, config)
        try:
            probe.wait_for(
                lambda: robot._command_pub.get_subscription_count() > 0, TIMEOUT, "command subscriber"
            )
            values = np.arange(1, quadruped.n_actions + 1, dtype=float)
            robot.write(Command(t=0.0, values=values))
            probe.wait_for(lambda: len(commands) == 1, TIMEOUT, "a command")
            msg = commands[0][1]
            assert list(msg.data) == [1.0, 2.0, 3.0, 0.0, *values[3:].tolist()]
            assert msg.layout.dim[0].size == len(slots)
        finally:
            robot.close()

    def test_a_locked_joint_named_in_the_layout_gets_its_hold_position_not_zero(self, quadruped):
        """A '-' slot is sent 0.0: where a locked joint's motor reads that slot, it was driven to 0 rad
        past its stop; a layout with '-' is refused until each locked joint is named in its slot."""
        slots = [*quadruped.actuated_joints[:3], "-", *quadruped.actuated_joints[3:]]
        spec = dataclasses.replace(quadruped, motor_order=tuple(slots), locked_joints={"jaw": -0.5})
        with pytest.raises(Ros2ConfigError, match=r"the spec locks jaw .* name each locked joint in its slot"):
            Ros2Config(command_joints=tuple(slots)).check(spec)
        config = Ros2Config(command_joints=(*slots, "jaw"))
        config.check(spec)
        assert config.command_order(spec)[-1] == -1 and config.fixed_values(spec)[-1] == -0.5
        assert config.fixed_values(spec)[3] == 0.0
        with pytest.raises(Ros2ConfigError, match="names a joint twice"):
            Ros2Config(command_joints=(*slots, "jaw", "jaw")).check(spec)

    def test_joint_state_commands_are_named(self, probe, quadruped):
        from sensor_msgs.msg import JointState

        config = topics(command_type="sensor_msgs/msg/JointState", joint_names={"FL_hip": "fl_hip_joint"})
        commands = probe.subscribe(JointState, config.command_topic, QosSettings(depth=10).profile())
        robot = Ros2Robot(quadruped, config)
        try:
            probe.wait_for(
                lambda: robot._command_pub.get_subscription_count() > 0, TIMEOUT, "command subscriber"
            )
            robot.write(Command(t=0.0, values=np.asarray(quadruped.default_pose)))
            probe.wait_for(lambda: len(commands) == 1, TIMEOUT, "a JointState command")
            msg = commands[0][1]
            assert msg.name[0] == "fl_hip_joint" and len(msg.effort) == 0
            np.testing.assert_allclose(msg.position, quadruped.default_pose)
        finally:
            robot.close()

    def test_without_a_safe_mode_topic_safe_values_are_sent_only_where_measured(self, probe, quadruped, caplog):
        """Safety review 7: a safe command before any usable reading sent the default pose as
        position targets (a folded robot stood up at full gains), and a bare stop() after a normal
        command sent nothing, so the driver kept that command."""
        from std_msgs.msg import Float64MultiArray

        config = topics(safe_mode_topic=None, safe_values_on_command_topic=True)
        commands = probe.subscribe(Float64MultiArray, config.command_topic, QosSettings(depth=10).profile())
        robot = Ros2Robot(quadruped, config)
        try:
            probe.wait_for(lambda: robot._command_pub.get_subscription_count() > 0, TIMEOUT, "command subscriber")
            assert robot.sends_safe_values
            values = np.asarray(quadruped.default_pose)[list(map(quadruped.joints.index, quadruped.actuated_joints))]
            with caplog.at_level("ERROR", logger="sim2real.real.ros2.robot"):
                robot.write(Command(t=0.0, values=values, mode="safe", measured=False))
            assert "before any usable joint reading: no values sent" in caplog.text
            robot.write(Command(t=0.0, values=values + 0.1))
            probe.wait_for(lambda: len(commands) == 1, TIMEOUT, "the normal command")
            caplog.clear()
            with caplog.at_level("ERROR", logger="sim2real.real.ros2.robot"):
                robot.stop()
            assert "stopped without safe values after a normal command" in caplog.text
            robot.write(Command(t=0.0, values=values - 0.1, mode="safe"))
            probe.wait_for(lambda: len(commands) == 2, TIMEOUT, "the safe values")
            np.testing.assert_allclose(commands[1][1].data, values - 0.1)
            caplog.clear()
            with caplog.at_level("ERROR", logger="sim2real.real.ros2.robot"):
                robot.stop()
            assert caplog.text == ""  # the safe values went out: nothing to say
        finally:
            robot.close()

    def test_the_loop_stops_a_robot_without_a_safe_mode_topic_with_its_safe_values(self, probe, quadruped, tmp_path):
        """Every stop path outside a tick (the end of a run, an e-stop, an error) went through
        robot.stop(), which such a robot cannot realize: the driver kept the last normal command."""
        from sensor_msgs.msg import Imu
        from std_msgs.msg import Float64, Float64MultiArray

        from sim2real.deploy.loop import ControlLoop, LoopConfig
        from sim2real.policy.linear import write_linear_policy
        from sim2real.policy.runtime import PolicyRunner

        spec = dataclasses.replace(quadruped, safety=dataclasses.replace(quadruped.safety, stale_timeout=0.5))
        config = topics(safe_mode_topic=None, safe_values_on_command_topic=True)
        commands = probe.subscribe(Float64MultiArray, config.command_topic, QosSettings(depth=10).profile())
        robot, pub = attach(probe, spec, config)
        imu_pub = probe.node.create_publisher(Imu, config.imu_topic, 1)
        height_pub = probe.node.create_publisher(Float64, config.base_height_topic, 1)
        runner = PolicyRunner(write_linear_policy(spec, tmp_path / "lin.onnx"), spec, providers="cpu")
        loop = ControlLoop(robot, runner, config=LoopConfig(mode="paced"))  # on the robot's clock
        try:
            probe.wait_for(lambda: robot._command_pub.get_subscription_count() > 0, TIMEOUT, "command subscriber")
            imu = Imu()
            imu.orientation.w = 1.0
            imu.linear_acceleration.z = 9.81
            deadline = time.monotonic() + TIMEOUT
            while robot.not_ready() is not None:
                assert time.monotonic() < deadline, robot.not_ready()
                imu_pub.publish(imu)
                height_pub.publish(Float64(data=0.3))
                pub.publish(joint_state(spec.joints, np.asarray(spec.default_pose) + 0.05))
                with probe.changed:
                    probe.changed.wait(0.05)
            loop.open()
            assert loop.tick().command.mode == "normal"
            probe.wait_for(lambda: len(commands) == 1, TIMEOUT, "the normal command")
            loop.close()
            probe.wait_for(lambda: len(commands) == 2, TIMEOUT, "the safe values at the end of the run")
            expected = loop.monitor.safe_command(loop.last_reading)
            assert expected.measured
            np.testing.assert_allclose(commands[1][1].data, expected.values)
        finally:
            robot.close()

    def test_a_driver_whose_qos_we_cannot_reach_is_not_heard(self, probe, furuta):
        """A best-effort publisher never matches a reliable subscription: the driver got nothing and
        the startup gate counted it as listening (safety review 7)."""
        from std_msgs.msg import Bool, Float64MultiArray

        best_effort = QosSettings(reliability="best_effort", depth=1)
        config = topics(command_qos=best_effort, safe_mode_qos=dataclasses.replace(best_effort, durability="volatile"))
        probe.subscribe(Float64MultiArray, config.command_topic, QosSettings(reliability="reliable", depth=10).profile())
        probe.subscribe(Bool, config.safe_mode_topic, QosSettings(reliability="reliable", depth=1).profile())
        robot = Ros2Robot(furuta, config)
        try:
            deadline = time.monotonic() + TIMEOUT  # discovery notifies no one: poll the graph
            while probe.node.get_name() not in (robot.unheard() or ""):
                assert time.monotonic() < deadline, robot.unheard()
                time.sleep(0.01)
            problem = robot.unheard()
            assert problem is not None and problem.startswith(f"no driver subscribes to the command topic {config.command_topic}")
            assert "cannot receive what we publish" in problem and probe.node.get_name() in problem
        finally:
            robot.close()
        robot = Ros2Robot(furuta, topics(command_topic=config.command_topic, safe_mode_topic=config.safe_mode_topic))
        try:  # the same driver, reached by a reliable publisher
            deadline = time.monotonic() + TIMEOUT
            while robot.unheard() is not None:
                assert time.monotonic() < deadline, robot.unheard()
                time.sleep(0.01)
        finally:
            robot.close()

    def test_late_subscriber_sees_the_latched_safe_mode(self, probe, furuta):
        from std_msgs.msg import Bool

        config = topics()
        robot = Ros2Robot(furuta, config)
        try:
            robot.stop()
            late = probe.subscribe(Bool, config.safe_mode_topic, config.safe_mode_qos.profile())
            probe.wait_for(lambda: len(late) == 1, TIMEOUT, "the latched safe-mode message")
            assert late[0][1].data is True
        finally:
            robot.close()


class TestTiming:
    def test_read_waits_at_most_read_timeout_for_a_new_sample(self, probe, furuta):
        wait = 0.5 * furuta.control_dt
        robot, pub = attach(probe, furuta, topics(read_timeout=wait))
        try:
            publish_until(probe, robot, pub, joint_state(["arm", "pendulum"], [0.0, 0.0]), 1)
            robot.read()
            durations = []
            for _ in range(20):  # no new message: each read waits read_timeout, then returns the last
                start = time.perf_counter()
                assert robot.read().valid
                durations.append(time.perf_counter() - start)
            assert min(durations) >= 0.9 * wait
            assert np.median(durations) < furuta.control_dt
        finally:
            robot.close()

    def test_read_timeout_must_be_below_the_control_period(self, furuta):
        with pytest.raises(Ros2ConfigError, match="control period"):
            Ros2Robot(furuta, topics(read_timeout=furuta.control_dt))


    def test_an_imu_timeout_above_the_stale_timeout_is_refused(self, quadruped):
        """It let the tilt and height checks run on an IMU 3 s silent (safety review 7)."""
        stale = quadruped.safety.stale_timeout
        Ros2Config(imu_timeout=stale).check(quadruped)
        with pytest.raises(Ros2ConfigError, match=r"imu_timeout 30 s is above the spec's safety\.stale_timeout"):
            Ros2Config(imu_timeout=30.0).check(quadruped)


class TestConfig:
    def test_yaml_round_trip_under_a_ros2_key(self, tmp_path):
        config = Ros2Config(
            joint_states_topic="/robot/joint_states",
            command_joints=("b", "a"),
            joint_names={"arm": "motor"},
            state_qos=QosSettings(reliability="best_effort", depth=5),
            stamp="header",
        )
        import yaml

        path = tmp_path / "deploy.yaml"
        path.write_text(yaml.safe_dump({"ros2": config.to_mapping(), "other": 1}))
        assert Ros2Config.load(path) == config

    @pytest.mark.parametrize(
        ("raw", "match"),
        [
            ({"command_topc": "/x"}, "unknown key"),
            ({"command_type": "trajectory_msgs/msg/JointTrajectory"}, "command_type"),
            ({"state_qos": {"reliability": "sometimes"}}, "reliability"),
            ({"state_qos": {"depth": 0}}, "depth"),
            ({"joint_names": {"a": "x", "b": "x"}}, "two joints"),
            ({"stamp": "sent"}, "stamp"),
            ({"imu_topic": 5}, "imu_topic must be a topic name"),
            ({"command_topic": "/a//b"}, "repeated '/'"),
            ({"joint_states_topic": "joint states"}, "joint_states_topic must be a topic name"),
            ({"safe_mode_topic": "/robot/{estop}"}, "unknown substitution"),
        ],
    )
    def test_bad_settings_are_one_clear_error(self, tmp_path, raw, match):
        import yaml

        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(Ros2ConfigError, match=match) as info:
            Ros2Config.load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)

    def test_config_must_fit_the_spec(self, furuta):
        with pytest.raises(Ros2ConfigError, match="unknown joint"):
            Ros2Config(joint_names={"elbow": "x"}).check(furuta)
        with pytest.raises(Ros2ConfigError, match="actuated joints"):
            Ros2Config(command_joints=("pendulum",)).check(furuta)

    def test_a_partial_map_onto_another_joints_name_is_refused(self, furuta, quadruped):
        """``{FL_hip: FR_hip}`` left FR_hip with its own name: both spec joints read and commanded the
        robot's FR_hip, and its FL_hip was neither watched nor commanded."""
        with pytest.raises(Ros2ConfigError, match="FL_hip and FR_hip the same robot joint 'FR_hip'"):
            Ros2Config(joint_names={"FL_hip": "FR_hip"}).check(quadruped)
        with pytest.raises(Ros2ConfigError, match="the same robot joint"):
            Ros2Config(joint_names={"arm": "pendulum"}).check(furuta)
        Ros2Config(joint_names={"FL_hip": "FR_hip", "FR_hip": "FL_hip"}).check(quadruped)  # a swap is a map

    def test_commands_go_out_in_the_specs_motor_order_unless_the_config_names_one(self, quadruped):
        """An imported policy's spec states the robot's motor order; Float64MultiArray values went out
        in policy order, so a motor-indexed driver applied FL_hip's target to FR_hip."""
        motors = [j.replace("FL_", "FX_").replace("FR_", "FL_").replace("FX_", "FR_") for j in quadruped.motors]
        spec = dataclasses.replace(quadruped, motor_order=tuple(motors))
        order = Ros2Config().command_order(spec)
        assert [spec.actuators[i].joint for i in order] == motors
        named = list(reversed(quadruped.actuated_joints))
        order = Ros2Config(command_joints=tuple(named)).command_order(spec)
        assert [spec.actuators[i].joint for i in order] == named


def test_missing_ros2_extra_is_one_line_naming_the_extra():
    """Without rclpy the ROS 2 commands fail with one line naming the extra (no traceback)."""
    script = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "rclpy" or name.startswith("rclpy."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Block())
        from sim2real.cli import main
        sys.exit(main(["twin-node", "--robot", "furuta"]))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "sim2real: error: 'rclpy' is not installed: install the 'ros2' extra, e.g. pip install 'sim2real[ros2]'"
    ]


class TestSpecSection:
    """A spec's ``ros2:`` section is the robot's default interface."""

    def _spec_with(self, tmp_path, section):
        import shutil

        import yaml

        from sim2real.robots import DATA_DIR, load_spec

        shutil.copy(DATA_DIR / "pendulum.xml", tmp_path / "pendulum.xml")
        raw = yaml.safe_load((DATA_DIR / "pendulum.yaml").read_text())
        raw["ros2"] = section
        path = tmp_path / "robot.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return load_spec(path)

    def test_section_sets_topics_and_changes_the_hash(self, tmp_path):
        spec = self._spec_with(tmp_path, {"joint_states_topic": "/arm/joint_states", "imu_topic": None})
        config = Ros2Config.from_spec(spec)
        assert config.joint_states_topic == "/arm/joint_states" and config.imu_topic is None
        assert spec.hash != load_robot("pendulum").hash
        assert Ros2Config.from_spec(load_robot("pendulum")) == Ros2Config()

    def test_bad_section_is_a_config_error_naming_the_spec(self, tmp_path):
        spec = self._spec_with(tmp_path, {"state_qos": {"reliability": "sometimes"}})
        with pytest.raises(Ros2ConfigError, match="reliability"):
            Ros2Config.from_spec(spec)


class TestCommandFields:
    """A JointState command carries a pd target in ``position`` and a torque or voltage in
    ``effort`` (ros2_control's convention): a mixed robot's targets in radians never go out as
    newton-metres."""

    def test_a_mixed_robot_fills_both_with_nan_where_a_joint_has_no_value(self):
        from sim2real.real.ros2.config import joint_command_fields, joint_command_values

        values, pd = np.array([1.2, -0.3, 4.0]), np.array([True, False, True])
        position, effort = joint_command_fields(values, pd)
        np.testing.assert_array_equal(position, [1.2, np.nan, 4.0])
        np.testing.assert_array_equal(effort, [np.nan, -0.3, np.nan])
        names = ["a", "b", "c"]
        back = joint_command_values(names, position, effort, ["c", "a", "b"], [True, True, False])
        np.testing.assert_array_equal(back, [4.0, 1.2, -0.3])

    @pytest.mark.parametrize("pd", [True, False])
    def test_a_robot_of_one_kind_fills_one_field(self, pd):
        from sim2real.real.ros2.config import joint_command_fields, joint_command_values

        values = np.array([0.5, -0.5])
        position, effort = joint_command_fields(values, np.array([pd, pd]))
        assert (len(position), len(effort)) == ((2, 0) if pd else (0, 2))
        assert joint_command_values(["a", "b"], position, effort, ["a", "b"], [not pd, not pd]) is None
        np.testing.assert_array_equal(joint_command_values(["a", "b"], position, effort, ["a", "b"], [pd, pd]), values)


def test_a_config_whose_safe_stop_would_publish_nothing_is_refused():
    with pytest.raises(Ros2ConfigError, match="a safe stop would publish nothing"):
        Ros2Config(safe_mode_topic=None)
    assert Ros2Config(safe_mode_topic=None, safe_values_on_command_topic=True).safe_mode_topic is None


class TestImuProblemIsNeverClearedMidMessage:
    def test_a_read_while_an_imu_message_is_taken_does_not_trust_the_last_bad_sample(self, quadruped):
        """Safety review 10: ``_on_imu`` cleared the IMU's problem (``_sample_time``) before working
        out the new sample's, so a read in the executor thread's window between the two took the last
        sample, whose orientation disagreed with gravity, for a valid one (and fed the watchdog)."""
        from sensor_msgs.msg import Imu
        from std_msgs.msg import Float64

        now = [100.0]
        robot = Ros2Robot(quadruped, topics(), clock=lambda: now[0])
        imu = Imu()
        imu.orientation.w = 1.0
        imu.orientation_covariance[0] = imu.orientation_covariance[4] = imu.orientation_covariance[8] = 0.01
        imu.linear_acceleration.x, imu.linear_acceleration.z = 9.81 * np.sin(1.22), 9.81 * np.cos(1.22)
        try:
            robot._joint_state(joint_state(quadruped.joints, quadruped.default_pose), now[0])
            for _ in range(12):  # 0.3 s of disagreement: the orientation is taken as invalid
                now[0] += 0.025
                robot._on_imu(imu)
                robot._on_height(Float64(data=0.3))
            assert not robot.read().valid
            seen = []
            taken = robot._imu_reader.read

            def read_meanwhile(msg, t):  # the control thread reads while the callback works
                seen.append(robot._read(count=False, wait=False).valid)
                return taken(msg, t)

            robot._imu_reader.read = read_meanwhile
            robot._on_imu(imu)
            assert seen == [False]
            assert not robot.read().valid
        finally:
            robot.close()
