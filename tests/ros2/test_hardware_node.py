"""The hardware node (what ``sim2real twin-node`` runs), in process with a kinematic robot, and the
``sim2real ros2 selftest`` command."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs the ros2 extra (pip install 'sim2real[ros2]')")

from ros2_testing import DOMAIN_ID, TIMEOUT, latest_status, topics

from sim2real.deploy.ros2.timing import LoopTiming
from sim2real.real.kinematic import KinematicRobot
from sim2real.real.ros2 import QosSettings, make_executor, new_context
from sim2real.real.ros2.hardware_node import RobotHardwareNode
from sim2real.robots import load_robot


@pytest.fixture
def hardware():
    """Start a kinematic quadruped hardware node (own context, executor thread); yields a factory."""
    started = []

    def start(config, **kwargs):
        context = new_context()
        node = RobotHardwareNode(
            KinematicRobot(load_robot("quadruped")),
            context=context,
            ros_config=config,
            rate_hz=200.0,
            **kwargs,
        )
        executor = make_executor(context, "single")
        executor.add_node(node)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        started.append((context, node, executor, thread))
        return node

    yield start
    for context, node, executor, thread in started:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        thread.join(timeout=5)


class TestHardwareNode:
    def test_publishes_named_states_applies_commands_and_latches_safe_mode(self, probe, hardware):
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Bool, Float64MultiArray

        spec = load_robot("quadruped")
        config = topics(
            joint_names={"FL_hip": "fl_hip_joint"},
            command_joints=tuple(reversed(["fl_hip_joint", *spec.actuated_joints[1:]])),
        )
        node = hardware(config, command_timeout=None)
        states = probe.subscribe(JointState, config.joint_states_topic)
        commands = probe.node.create_publisher(
            Float64MultiArray, config.command_topic, QosSettings().profile()
        )
        safe = probe.node.create_publisher(Bool, config.safe_mode_topic, config.safe_mode_qos.profile())
        probe.wait_for(lambda: len(states) > 0, TIMEOUT, "joint states from the hardware node")
        assert states[-1][1].name[0] == "fl_hip_joint"
        np.testing.assert_allclose(states[-1][1].position, spec.default_pose)

        target = np.asarray(spec.default_pose) + 0.1

        def command(values):
            msg = Float64MultiArray()
            msg.data = [float(v) for v in values[::-1]]  # command_joints are reversed
            return msg

        def position_is(values):
            return lambda: bool(states) and np.allclose(states[-1][1].position, values)

        probe.wait_for(
            lambda: commands.get_subscription_count() > 0 and safe.get_subscription_count() > 0,
            TIMEOUT,
            "the hardware node's subscriptions",
        )
        commands.publish(command(target))
        probe.wait_for(position_is(target), TIMEOUT, "the command to be applied")

        safe.publish(Bool(data=True))
        probe.wait_for(lambda: node.robot.safe, TIMEOUT, "safe mode")
        assert node.safe_events[-1]["reason"] == "safe-mode topic"
        assert node.safe_events[-1]["applied"] - node.safe_events[-1]["received"] < 0.001
        commands.publish(command(target + 0.1))  # ignored while the safe-mode topic says True
        probe.wait_for(lambda: node.counts["commands_ignored"] >= 1, TIMEOUT, "the command to be refused")
        assert node.robot.safe and np.allclose(states[-1][1].position, target)

        safe.publish(Bool(data=False))
        probe.wait_for(lambda: not node._safe_latched, TIMEOUT, "the safe-mode latch to be released")
        commands.publish(command(target + 0.2))
        probe.wait_for(position_is(target + 0.2), TIMEOUT, "commands to be applied again")
        assert not node.robot.safe

    def test_command_watchdog_enters_safe_mode(self, probe, hardware):
        from std_msgs.msg import Float64MultiArray

        spec = load_robot("quadruped")
        config = topics()
        node = hardware(config, command_timeout=0.05)
        commands = probe.node.create_publisher(
            Float64MultiArray, config.command_topic, QosSettings().profile()
        )
        probe.wait_for(lambda: commands.get_subscription_count() > 0, TIMEOUT, "the command subscription")
        msg = Float64MultiArray()
        msg.data = [float(v) for v in spec.default_pose]
        commands.publish(msg)
        probe.wait_for(lambda: node.counts["commands"] == 1, TIMEOUT, "the command")
        probe.wait_for(lambda: node.robot.safe, TIMEOUT, "the watchdog")
        assert node.safe_events[-1]["reason"].startswith("no command for")


    def test_a_twin_publishes_its_base_velocity_as_odometry_that_ros2robot_reads(self, probe):
        from nav_msgs.msg import Odometry

        from sim2real.real.ros2 import Ros2Robot
        from sim2real.real.twin import TwinRobot

        spec = load_robot("quadruped")
        config = topics(odometry_topic=f"{topics().joint_states_topic}_odom")
        odoms = probe.subscribe(Odometry, config.odometry_topic)
        context = new_context()
        node = RobotHardwareNode(TwinRobot(spec), context=context, ros_config=config, rate_hz=100.0)
        executor = make_executor(context, "single")
        executor.add_node(node)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        robot = Ros2Robot(spec, config)
        try:
            probe.wait_for(lambda: len(odoms) > 2, TIMEOUT, "odometry from the twin node")
            msg = odoms[-1][1]
            assert msg.child_frame_id == spec.base_body
            probe.wait_for(lambda: robot.read().valid, TIMEOUT, "a valid reading with the odometry")
            v = robot.read().base_lin_vel
            assert v is not None and v.shape == (3,) and np.all(np.isfinite(v))
        finally:
            robot.close()
            executor.shutdown()
            node.destroy_node()
            context.try_shutdown()
            thread.join(timeout=5)


class TestLoopTiming:
    def test_late_and_skipped_ticks_are_missed_deadlines(self):
        timing = LoopTiming(0.01, first_release=100.0)
        timing.record(100.0001, 100.0011)  # on time
        timing.record(100.0102, 100.0250)  # ends 1.5 periods after its release: late
        timing.record(100.0400, 100.0410)  # the releases at 100.02 and 100.03 got no tick
        summary = timing.summary()
        assert summary["ticks"] == 3 and summary["late_ticks"] == 1 and summary["skipped_ticks"] == 2
        assert summary["missed_deadlines"] == 3
        assert summary["max_loop_latency_us"] == pytest.approx(15000.0)
        assert summary["achieved_hz"] == pytest.approx(3 / 5 * 100)  # 3 ticks for 5 releases

    def test_a_tick_run_late_into_the_next_period_does_not_shift_the_later_ones(self):
        timing = LoopTiming(0.01, first_release=100.0)
        timing.record(100.0001, 100.0005)
        timing.record(100.0203, 100.0206)  # release 100.01 ran in the next period
        timing.record(100.0209, 100.0212)  # then the release 100.02 right after it
        for k in range(3, 20):
            timing.record(100.0 + 0.01 * k + 0.0002, 100.0 + 0.01 * k + 0.0005)
        summary = timing.summary()
        assert summary["p50_loop_latency_us"] == pytest.approx(500.0, abs=1.0)
        assert summary["missed_deadlines"] <= 2 and summary["max_loop_latency_us"] < 10000.0 + 1.0

    def test_scheduled_times_from_the_executor_are_used_when_given(self):
        timing = LoopTiming(0.01, first_release=0.0)  # the first given release rebases the grid
        timing.record(50.0004, 50.0010, release=50.0)
        timing.record(50.0215, 50.0220, release=50.01)  # late: ends 1.2 periods after its release
        timing.record(50.0221, 50.0224, release=50.02)
        timing.record(50.0501, 50.0504, release=50.05)  # 50.03 and 50.04 skipped
        summary = timing.summary()
        assert summary["late_ticks"] == 1 and summary["skipped_ticks"] == 2 and summary["ticks"] == 4
        assert summary["max_loop_latency_us"] == pytest.approx(12000.0)


def test_selftest_command_prints_the_figures_per_rate():
    result = subprocess.run(
        # real-time priority as on a robot computer: this machine may be loaded by other work
        [
            sys.executable,
            "-m",
            "sim2real.cli",
            "ros2",
            "selftest",
            "--seconds",
            "1",
            "--rt-priority",
            "20",
            "--domain-id",
            str(DOMAIN_ID),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert [r["target_hz"] for r in summary["runs"]] == [50.0, 500.0]
    for run in summary["runs"]:
        assert {
            "target_hz",
            "achieved_hz",
            "missed_deadlines",
            "p99_loop_latency_us",
            "estop_reaction_ms",
            "messages",
        } <= set(run)
        # the rate is a measurement (a loaded machine lowers it), not asserted: the figures must agree
        assert 0 < run["achieved_hz"] <= run["target_hz"] * 1.001, run
        assert run["ticks"] >= 0.5 * run["achieved_hz"] * run["seconds"], run
        assert run["missed_deadlines"] == run["late_ticks"] + run["skipped_ticks"], run
        assert run["estop_reaction_ms"] is not None and 0 < run["estop_reaction_ms"] < 100, run
        assert run["messages"] >= 3 * run["ticks"] * 0.8, run  # states, IMU, height in; commands out
        assert run["safety_state"] == "ok", run
    # its own e-stop is deliberate: no WARNING/ERROR line about it on stderr (INFO with -v)
    assert "e-stop from topic" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == (0 if summary["ok"] else 1)


class TestDeploymentNodeServices:
    def test_estop_service_latches_reset_service_releases_and_diagnostics_tell(self, probe, tmp_path):
        """Deploy node and kinematic hardware node in this process (one executor thread)."""
        from diagnostic_msgs.msg import DiagnosticArray
        from std_msgs.msg import Bool
        from std_srvs.srv import Trigger

        from sim2real.deploy.loop_build import build_loop
        from sim2real.deploy.ros2.node import ESTOP_QOS, NodeConfig, PolicyDeploymentNode
        from sim2real.logs import read_bag
        from sim2real.policy.linear import write_linear_policy

        quadruped = load_robot("quadruped")
        # this test is about the services: a lenient stale timeout, as the nodes share this process
        spec = dataclasses.replace(quadruped, safety=dataclasses.replace(quadruped.safety, stale_timeout=1.0))
        policy = write_linear_policy(spec, tmp_path / "hold.onnx")
        config = topics()
        p = config.command_topic.rsplit("/", 1)[0]
        node_config = NodeConfig(
            estop_topic=f"{p}/estop",
            estop_service=f"{p}/trigger_estop",
            reset_service=f"{p}/reset",
            diagnostics_topic=f"{p}/diagnostics",
            diagnostics_period=0.1,
        )
        diags = probe.subscribe(DiagnosticArray, node_config.diagnostics_topic, 50)
        context = new_context()
        hardware = RobotHardwareNode(
            KinematicRobot(spec), context=context, ros_config=config, rate_hz=200.0, command_timeout=None
        )
        deploy = PolicyDeploymentNode(
            spec,
            lambda robot: build_loop(spec, robot, policy, log_path=tmp_path / "run", speed_stage=4),
            context=context,
            ros_config=config,
            config=node_config,
        )
        executor = make_executor(context, "single")
        executor.add_node(hardware)
        executor.add_node(deploy)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        try:

            def status():
                return latest_status(diags, "sim2real: safety")

            probe.wait_for(
                lambda: (s := status()) is not None and s["state"] == "ok", 30.0, "the loop running"
            )
            estop = probe.node.create_client(Trigger, node_config.estop_service)
            reset = probe.node.create_client(Trigger, node_config.reset_service)
            assert estop.wait_for_service(timeout_sec=TIMEOUT) and reset.wait_for_service(timeout_sec=TIMEOUT)

            def call(client):
                future = client.call_async(Trigger.Request())
                probe.wait_for(future.done, TIMEOUT, f"a response from {client.srv_name}")
                return future.result()

            response = call(estop)
            assert response.success
            probe.wait_for(lambda: hardware.robot.safe, TIMEOUT, "the hardware in safe mode")
            probe.wait_for(
                lambda: (s := status()) is not None and s["latched"] == "True", TIMEOUT, "ERROR status"
            )
            assert "e-stop from service" in status()["latch_reason"]
            assert diags[-1][1].status[0].level == bytes([2])  # ERROR

            response = call(reset)
            assert response.success, response.message
            probe.wait_for(
                lambda: (s := status()) is not None and s["state"] == "ok", TIMEOUT, "running again"
            )
            probe.wait_for(lambda: not hardware.robot.safe, TIMEOUT, "the hardware out of safe mode")

            # an e-stop button on the topic: no reset while its last message says it is pressed
            button = probe.node.create_publisher(Bool, node_config.estop_topic, ESTOP_QOS.profile())
            probe.wait_for(lambda: button.get_subscription_count() > 0, TIMEOUT, "the e-stop subscription")
            button.publish(Bool(data=True))
            probe.wait_for(lambda: (s := status()) is not None and s["latched"] == "True", TIMEOUT, "latched")
            response = call(reset)
            assert not response.success and "still pressed" in response.message, response.message
            assert status()["latched"] == "True" and hardware.robot.safe
            button.publish(Bool(data=False))
            probe.wait_for(lambda: not deploy._estop_pressed, TIMEOUT, "the release heard")
            response = call(reset)
            assert response.success, response.message
            probe.wait_for(lambda: (s := status()) is not None and s["state"] == "ok", TIMEOUT, "running again")
        finally:
            _shut_down(deploy, hardware, context, [executor], [thread])
        kinds = [e.kind for e in read_bag(tmp_path / "run").events]
        assert "estop_request" in kinds and kinds.count("reset") == 2


def _shut_down(deploy, hardware, context, executors, threads) -> None:
    """Stop a deploy node and a hardware node that share a context, and their executor threads."""
    deploy.stop_control()
    for executor in executors:
        executor.shutdown()
    deploy.loop.close()
    deploy.robot.close()
    deploy.destroy_node()
    hardware.destroy_node()
    context.try_shutdown()
    for thread in threads:
        thread.join(timeout=5)


def _furuta_node(furuta_policy, ros_config, **kwargs):
    """A deployment node for the furuta with its own context: (node, context)."""
    from sim2real.deploy.loop_build import build_loop
    from sim2real.deploy.ros2.node import PolicyDeploymentNode

    spec = load_robot("furuta")
    context = new_context()
    node = PolicyDeploymentNode(
        spec, lambda robot: build_loop(spec, robot, furuta_policy), context=context, ros_config=ros_config, **kwargs
    )
    return node, context


@contextlib.contextmanager
def _spinning(deploy, context, spin: bool = True):
    """The node spun by one executor thread (or not spun); shut down with its context after."""
    executor = thread = None
    if spin:
        executor = make_executor(context, "single")
        executor.add_node(deploy)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
    try:
        yield
    finally:
        if executor is not None:
            executor.shutdown()
        deploy.robot.close()
        deploy.destroy_node()
        context.try_shutdown()
        if thread is not None:
            thread.join(timeout=5)


class TestDeployNodeStartup:
    def test_the_first_tick_waits_for_a_reading_newer_than_the_warm_up(self, tmp_path, monkeypatch):
        """The warm-up (log serializers, the bag) takes time, and the robot may publish nothing
        meanwhile (a stalled driver, a loaded machine): the control timer starts on a reading taken
        after the warm-up, not on the one that announced the robot, so the first tick is not stale."""
        import time

        import sim2real.deploy.ros2.node as node_module
        from sim2real.deploy.loop_build import build_loop
        from sim2real.deploy.ros2.node import PolicyDeploymentNode
        from sim2real.logs import read_bag
        from sim2real.policy.linear import write_linear_policy

        quadruped = load_robot("quadruped")
        # lenient stale timeout (the nodes share this process); the stall below is twice as long
        spec = dataclasses.replace(quadruped, safety=dataclasses.replace(quadruped.safety, stale_timeout=0.5))
        config = topics()
        context = new_context()
        hardware = RobotHardwareNode(
            KinematicRobot(spec), context=context, ros_config=config, rate_hz=200.0, command_timeout=None
        )
        stalled = threading.Event()
        publish = hardware._publish
        monkeypatch.setattr(hardware, "_publish", lambda reading: None if stalled.is_set() else publish(reading))
        warm_up = node_module.warm_up_log

        def warm_up_while_the_robot_stalls(*args, **kwargs):  # the condition under test
            stalled.set()
            warm_up(*args, **kwargs)
            time.sleep(1.0)
            threading.Timer(0.3, stalled.clear).start()  # the robot publishes again 0.3 s later

        monkeypatch.setattr(node_module, "warm_up_log", warm_up_while_the_robot_stalls)
        policy = write_linear_policy(spec, tmp_path / "hold.onnx")
        deploy = PolicyDeploymentNode(
            spec,
            lambda robot: build_loop(spec, robot, policy, log_path=tmp_path / "run", speed_stage=4),
            context=context,
            ros_config=config,
        )
        deploy.run_for(0.3)
        executors = [make_executor(context, "single"), make_executor(context, "single")]
        executors[0].add_node(hardware)
        executors[1].add_node(deploy)
        threads = [threading.Thread(target=e.spin, daemon=True) for e in executors]
        for thread in threads:
            thread.start()
        try:
            assert deploy.finished.wait(30.0) and deploy.error is None
        finally:
            _shut_down(deploy, hardware, context, executors, threads)
        assert not deploy.monitor.latched, deploy.monitor.latch_reason
        run = read_bag(tmp_path / "run")
        assert not [e for e in run.events if e.kind == "stale"], run.events
        assert run.command_t.size >= round(0.3 / spec.control_dt) - 1  # it ran its 0.3 s

    def test_a_robot_that_never_gives_a_valid_reading_fails_naming_why(self, probe, furuta_policy):
        """A driver that publishes, but not what the spec needs (here a joint under another name),
        ends the startup with one line saying what is wrong, not only that nothing valid came."""
        from sensor_msgs.msg import JointState

        from sim2real.deploy.ros2.node import NodeConfig

        config = topics()
        now = [0.0]  # the node's clock: the startup timeout passes when the test says so
        deploy, context = _furuta_node(
            furuta_policy, config, config=NodeConfig(startup_timeout=1.0), clock=lambda: now[0]
        )
        with _spinning(deploy, context):
            pub = probe.node.create_publisher(JointState, config.joint_states_topic, QosSettings().profile())
            msg = JointState(name=["arm", "pendulum_joint"], position=[0.0, 0.0], velocity=[0.0, 0.0])
            probe.wait_for(lambda: pub.publish(msg) or deploy.robot.counters.joint_states > 0, TIMEOUT, "a JointState")
            now[0] = 2.0
            assert deploy.finished.wait(TIMEOUT)
        assert deploy.error == (
            f"no valid reading from the robot on {config.joint_states_topic} within 1 s: "
            "joint(s) pendulum missing from the JointState"
        )

    def test_a_robot_that_does_not_listen_for_safe_mode_is_not_driven(self, probe, furuta_policy):
        """A driver that publishes joint states and takes commands but never subscribed to the safe-mode
        topic would keep its last command through every safe stop: the control never starts, and the
        startup ends with one line naming the topic and the two ways out."""
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Float64MultiArray

        from sim2real.deploy.ros2.node import NodeConfig

        config = topics()
        now = [0.0]
        deploy, context = _furuta_node(
            furuta_policy, config, config=NodeConfig(startup_timeout=1.0), clock=lambda: now[0]
        )
        from std_msgs.msg import Bool

        from sim2real.real.ros2 import Node

        recorder = Node("rosbag2_recorder", context=probe.context)  # `ros2 bag record -a` hears everything
        recorder.create_subscription(Bool, config.safe_mode_topic, lambda _msg: None, config.safe_mode_qos.profile())
        with _spinning(deploy, context):
            commands = probe.subscribe(Float64MultiArray, config.command_topic, config.command_qos.profile())
            pub = probe.node.create_publisher(JointState, config.joint_states_topic, QosSettings().profile())
            msg = JointState(name=["arm", "pendulum"], position=[0.0, 0.0], velocity=[0.0, 0.0])
            probe.wait_for(
                lambda: pub.publish(msg) or (deploy.robot.ready() and deploy.robot.unheard() is not None),
                TIMEOUT,
                "a valid reading, commands heard, safe mode not",
            )
            probe.wait_for(lambda: "rosbag2_recorder" in deploy.robot.unheard(), TIMEOUT, "the recorder seen")
            now[0] = 2.0
            assert deploy.finished.wait(TIMEOUT)
        recorder.destroy_node()
        assert deploy.error.startswith(
            "the robot is not listening within 1 s: no driver subscribes to the safe-mode topic "
            f"{config.safe_mode_topic} (only rosbag2_recorder, which record or show it)"
        ), deploy.error
        assert not deploy.running and commands == []


class TestEstopTopic:
    def test_a_best_effort_estop_publisher_is_heard(self, probe, furuta_policy):
        """Joystick and teleop nodes often publish their e-stop best effort; a reliable subscription
        alone does not match them, and their e-stop was dropped with only rcl's QoS warning."""
        from std_msgs.msg import Bool

        from sim2real.deploy.ros2.node import NodeConfig

        config = topics()
        node_config = NodeConfig(estop_topic=config.command_topic.rsplit("/", 1)[0] + "/estop")
        deploy, context = _furuta_node(furuta_policy, config, config=node_config)
        with _spinning(deploy, context):
            pub = probe.node.create_publisher(
                Bool, node_config.estop_topic, QosSettings(reliability="best_effort").profile()
            )
            probe.wait_for(lambda: pub.publish(Bool(data=True)) or bool(deploy.estops), TIMEOUT, "the e-stop")
            assert deploy.robot.safe_mode_requested
            assert [e["source"] for e in deploy.estops] == [f"topic {node_config.estop_topic}"]

    def test_a_repeated_true_is_one_estop_until_a_reset_by_any_path_clears_it(self, furuta_policy):
        from std_msgs.msg import Bool

        deploy, context = _furuta_node(furuta_policy, topics())
        with _spinning(deploy, context, spin=False):
            deploy._on_estop_topic(Bool(data=True))
            deploy._on_estop_topic(Bool(data=True))  # the same e-stop, repeated
            assert len(deploy.estops) == 1 and deploy.monitor.estop_requested
            # cleared without the node's reset service (loop.reset_safety() on a state that passes)
            with deploy.monitor._estop_lock:
                deploy.monitor._estop_reason = None
            deploy._on_estop_topic(Bool(data=True))
            assert len(deploy.estops) == 2  # it was ignored while the robot ran again
            assert deploy.monitor.estop_requested

    def test_a_true_heard_on_both_subscriptions_before_the_next_tick_is_one_estop(self, furuta_policy):
        # review (wt-rev2): a reliable publisher's True arrives on both subscriptions within
        # microseconds, before any tick has latched the safe stop: monitor.latched is still False,
        # so the second copy was a second e-stop (robot.stop, warning, estops entry, diagnostics)
        from std_msgs.msg import Bool

        deploy, context = _furuta_node(furuta_policy, topics())
        with _spinning(deploy, context, spin=False):
            deploy._on_estop_topic(Bool(data=True))
            deploy._on_estop_topic(Bool(data=True))  # the same message, from the other subscription
            assert len(deploy.estops) == 1
