"""A Robot served as a ROS 2 hardware node: what ``sim2real twin-node`` runs.

**RobotHardwareNode** serves any Robot (the MuJoCo twin, or
:class:`~sim2real.real.kinematic.KinematicRobot` for plumbing benchmarks) as a ROS 2 hardware
node: it steps the robot in real time on a timer, publishes ``/joint_states`` + ``/imu/data``
(+ ``/base_height`` for floating-base robots, and their base velocity as nav_msgs/Odometry on
``odometry_topic`` when it is set), applies the newest command from
``/joint_commands``, and enters safe mode on ``/sim2real/safe_mode`` (at once, in the callback;
commands are ignored until the topic says False again) or when commands stop arriving
(``command_timeout``).  Its own state, including when it entered safe mode, is on ``/diagnostics``.
"""

from __future__ import annotations

import array
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.context import Context
from rclpy.node import Node

from sim2real.real.protocol import Command, Reading
from sim2real.real.ros2.config import QosSettings, Ros2Config, joint_command_values
from sim2real.real.ros2.diagnostics import STATUS_HEALTHY, STATUS_WARN, status
from sim2real.real.ros2.runtime import (
    ExecutorKind,
    float_array,
    make_executor,
    node_session,
    quiet_gc,
    spin_until,
    steady_clock,
)
from sim2real.robots.spec import RobotSpec

__all__ = ["RobotHardwareNode", "run_hardware_node"]

log = logging.getLogger(__name__)


class RobotHardwareNode(Node):
    """A Robot served as a ROS 2 hardware node, stepped in real time on a timer.

    Each tick applies the newest command (or repeats the last one; in safe mode a safe command),
    advances the robot by one control period (and catches up, up to ``max_catch_up`` periods, when a
    tick came late, so that robot time keeps pace with the wall clock), and publishes its reading.
    Dropped readings (``valid`` False) are not published, like a lost message.

    Args:
        robot: The robot (``TwinRobot``: each ``write`` advances one ``spec.control_dt``).
        context: The rclpy context.
        ros_config: Topic names, types, QoS and joint-name mapping (the same file as the deploy side).
        rate_hz: Tick rate; default ``1 / spec.control_dt`` (real time for the twin).
        wait_for_command: Hold the robot still (no stepping) until the first command arrives, as
            if someone held the pendulum until the controller took over; readings are published.
        command_timeout: Enter safe mode when no command arrived for this long [s] after the first
            (a hardware watchdog); None: never.
        max_catch_up: Most periods stepped in one tick.
        diagnostics_period: Period of the node's /diagnostics [s].
        node_name: The node's name.
        live: A live view (:class:`~sim2real.deploy.live.LiveTelemetry`: ``twin-node --live``) that
            gets each published reading, each accepted command, safe-mode events and a status per
            tick, stamped with the robot's time.
    """

    def __init__(
        self,
        robot: Any,
        *,
        context: Context,
        ros_config: Ros2Config | None = None,
        rate_hz: float | None = None,
        wait_for_command: bool = True,
        command_timeout: float | None = 0.5,
        max_catch_up: int = 5,
        diagnostics_period: float = 0.5,
        node_name: str = "sim2real_twin",
        live: Any = None,
    ) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Bool, Float64, Float64MultiArray

        super().__init__(node_name, context=context)
        spec: RobotSpec = robot.spec
        self.spec = spec
        self.robot = robot
        self.ros_config = cfg = ros_config or Ros2Config.from_spec(self.spec)
        cfg.check(spec)
        self.period = 1.0 / float(rate_hz) if rate_hz else float(spec.control_dt)
        self.wait_for_command = wait_for_command
        self.command_timeout = command_timeout
        self.max_catch_up = int(max_catch_up)
        self._order = cfg.command_order(spec)
        self._m = spec.n_actions
        self._values = self._initial_command()
        self._started_at: float | None = None
        self._steps = 0
        self._last_command_at: float | None = None
        self._safe_latched = False
        self._safe_active = False
        self._safe_reason = ""
        self.safe_events: list[dict[str, float | str]] = []
        self.live = live
        self.counts = {
            "ticks": 0,
            "steps": 0,
            "late_steps": 0,
            "published": 0,
            "dropped": 0,
            "commands": 0,
            "commands_ignored": 0,
            "safe_requests": 0,
        }

        # publish what a driver publishes: reliable publishers match every subscriber
        pub_qos = QosSettings(reliability="reliable", depth=1).profile()
        self._js = JointState()
        self._js.name = [cfg.robot_joint(j) for j in spec.joints]
        self._js_pub = self.create_publisher(JointState, cfg.joint_states_topic, pub_qos)
        self._imu_pub = None
        if spec.imu is not None and cfg.imu_topic is not None:
            self._imu = Imu()
            self._imu.header.frame_id = "imu"
            self._imu_pub = self.create_publisher(Imu, cfg.imu_topic, pub_qos)
        self._height_pub = None
        if spec.floating_base and cfg.base_height_topic is not None:
            self._height_pub = self.create_publisher(Float64, cfg.base_height_topic, pub_qos)
            self._height_msg = Float64()
        self._odom_pub = None
        if spec.floating_base and cfg.odometry_topic is not None:  # the twin's base velocity, as an estimator's
            from nav_msgs.msg import Odometry

            self._odom_pub = self.create_publisher(Odometry, cfg.odometry_topic, pub_qos)
            self._odom = Odometry()
            self._odom.header.frame_id, self._odom.child_frame_id = "odom", spec.base_body or "base"
        if cfg.command_type == "std_msgs/msg/Float64MultiArray":
            self._cmd_sub = self.create_subscription(
                Float64MultiArray, cfg.command_topic, self._on_array_command, cfg.command_qos.profile()
            )
        else:
            self._cmd_sub = self.create_subscription(
                JointState, cfg.command_topic, self._on_joint_command, cfg.command_qos.profile()
            )
        self._safe_sub = None
        if cfg.safe_mode_topic is not None:
            self._safe_sub = self.create_subscription(
                Bool, cfg.safe_mode_topic, self._on_safe_mode, cfg.safe_mode_qos.profile()
            )
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = self.create_timer(self.period, self._on_tick, clock=steady_clock())
        self._diag_timer = self.create_timer(
            diagnostics_period, self.publish_diagnostics, clock=steady_clock()
        )
        log.info(
            "hardware node %s: %s at %.6g Hz, states on %s, commands on %s",
            node_name,
            spec.name,
            1.0 / self.period,
            cfg.joint_states_topic,
            cfg.command_topic,
        )

    def _initial_command(self) -> np.ndarray:
        """Hold the current pose (pd) / zero effort until a command arrives."""
        reading = self.robot.read()
        values = np.zeros(self._m)
        for i, a in enumerate(self.spec.actuators):
            if a.model == "pd" and reading.q.size:
                values[i] = reading.q[self.spec.joints.index(a.joint)]
        return values

    # ------------------------------------------------------------------ subscriptions

    def _accept(self, values: np.ndarray) -> None:
        now = time.monotonic()
        if self._safe_latched:
            self.counts["commands_ignored"] += 1
            return
        if values.shape != (self._m,) or not np.all(np.isfinite(values)):
            self.counts["commands_ignored"] += 1
            return
        self._values = values
        self._safe_active = False  # the protocol: safe mode lasts until the next command
        self._last_command_at = now
        self.counts["commands"] += 1
        if self.live is not None:
            self.live.write_command(self._robot_time(), values)
        if self._started_at is None:
            self._started_at = now
            log.info("hardware node: first command; stepping in real time")

    def _on_array_command(self, msg: Any) -> None:
        data = np.frombuffer(msg.data, dtype=np.float64)
        if data.shape != self._order.shape:
            self.counts["commands_ignored"] += 1
            return
        values = np.empty(self._m)
        slots = self._order >= 0  # -1: an empty slot of the array
        values[self._order[slots]] = data[slots]
        self._accept(values)

    def _on_joint_command(self, msg: Any) -> None:
        want = [self.ros_config.robot_joint(a.joint) for a in self.spec.actuators]
        pd = [a.model == "pd" for a in self.spec.actuators]
        position, effort = (np.frombuffer(f, dtype=np.float64) for f in (msg.position, msg.effort))
        values = joint_command_values(list(msg.name), position, effort, want, pd)
        if values is None:
            self.counts["commands_ignored"] += 1
            return
        self._accept(values)

    def _on_safe_mode(self, msg: Any) -> None:
        received = time.monotonic()
        if msg.data:
            self.counts["safe_requests"] += 1
            self._enter_safe("safe-mode topic", received)
        else:
            self._safe_latched = False

    def _enter_safe(self, reason: str, received: float) -> None:
        self.robot.stop()
        applied = time.monotonic()
        self._safe_active = True
        self._safe_latched = reason == "safe-mode topic"
        self._safe_reason = reason
        self.safe_events.append({"reason": reason, "received": received, "applied": applied})
        if self.live is not None:
            self.live.write_event(self._robot_time(), "safe_mode", {"reason": reason})
        log.warning(
            "hardware node: safe mode (%s), applied %.1f µs after the request",
            reason,
            (applied - received) * 1e6,
        )
        self.publish_diagnostics()

    # ------------------------------------------------------------------ stepping

    def _on_tick(self) -> None:
        now = time.monotonic()
        self.counts["ticks"] += 1
        if self._started_at is not None or not self.wait_for_command:
            if self._started_at is None:
                self._started_at = now
            if (
                self.command_timeout is not None
                and self._last_command_at is not None
                and not self._safe_active
                and now - self._last_command_at > self.command_timeout
            ):
                self._enter_safe(f"no command for {now - self._last_command_at:.3g} s", now)
            due = math.floor((now - self._started_at) / self.period + 1e-6) + 1 - self._steps
            steps = min(max(due, 1), self.max_catch_up)
            if due > 1:
                self.counts["late_steps"] += due - 1
            command = Command(t=now, values=self._values, mode="safe" if self._safe_active else "normal")
            for _ in range(steps):
                self.robot.write(command)
            self._steps += steps if due <= self.max_catch_up else due
            self.counts["steps"] += steps
        self._publish(self.robot.read())
        if self.live is not None:
            c = self.counts
            self.live.write_status(self._robot_time(), {
                "mode": "safe" if self._safe_active else ("normal" if self._started_at is not None else "waiting"),
                "steps": c["steps"], "late_steps": c["late_steps"], "commands": c["commands"],
                "dropped": c["dropped"],
            })

    def _robot_time(self) -> float:
        """The robot's own time [s] (the twin's simulation time), else steps x period."""
        return float(getattr(getattr(self.robot, "data", None), "time", self._steps * self.period))

    def _publish(self, reading: Reading) -> None:
        if not reading.valid:
            self.counts["dropped"] += 1
            return
        stamp = self.get_clock().now().to_msg()
        js = self._js
        js.header.stamp = stamp
        js.position = float_array(reading.q)
        js.velocity = float_array(reading.qd)
        js.effort = float_array(reading.tau) if reading.tau is not None else array.array("d")
        self._js_pub.publish(js)
        if self._imu_pub is not None and reading.gyro is not None:
            m = self._imu
            m.header.stamp = stamp
            g, a = reading.gyro, reading.accel if reading.accel is not None else np.zeros(3)
            m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z = (float(v) for v in g)
            m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z = (float(v) for v in a)
            m.linear_acceleration_covariance[0] = -1.0 if reading.accel is None else 0.0  # -1: no data
            if reading.quat is not None:
                w, x, y, z = (float(v) for v in reading.quat)
                m.orientation.w, m.orientation.x, m.orientation.y, m.orientation.z = w, x, y, z
                m.orientation_covariance[0] = 0.0
            else:
                m.orientation_covariance[0] = -1.0
            self._imu_pub.publish(m)
        if self._height_pub is not None and reading.base_height is not None:
            self._height_msg.data = float(reading.base_height)
            self._height_pub.publish(self._height_msg)
        if self._odom_pub is not None and reading.base_lin_vel is not None:
            o = self._odom
            o.header.stamp = stamp
            v = o.twist.twist.linear
            v.x, v.y, v.z = (float(x) for x in reading.base_lin_vel)
            self._odom_pub.publish(o)
        self.counts["published"] += 1
        if self.live is not None:
            self.live.write_state(reading.t, reading.q, reading.qd, reading.tau)
            if reading.gyro is not None and reading.accel is not None:
                self.live.write_imu(reading.t, reading.gyro, reading.accel, reading.quat)

    # ------------------------------------------------------------------ diagnostics

    def diagnostics(self) -> dict[str, Any]:
        """The node's state as plain values (also what /diagnostics carries)."""
        safe = bool(getattr(self.robot, "safe", False))
        values: dict[str, Any] = {
            "mode": "safe"
            if safe
            else ("running" if self._started_at is not None else "waiting for command"),
            "safe": safe,
            "safe_reason": self._safe_reason if safe else "",
            "robot_time": self._robot_time(),
            **self.counts,
        }
        if self.safe_events:
            last = self.safe_events[-1]
            values["safe_request_received"] = last["received"]
            values["safe_applied"] = last["applied"]
            values["safe_reaction_us"] = (float(last["applied"]) - float(last["received"])) * 1e6
        return values

    def publish_diagnostics(self) -> None:
        """Publish the node's state on /diagnostics now."""
        from diagnostic_msgs.msg import DiagnosticArray

        values = self.diagnostics()
        level = STATUS_WARN if values["safe"] else STATUS_HEALTHY
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [
            status(f"sim2real: hardware ({self.spec.name})", self.spec.name, level, values["mode"], values)
        ]
        self._diag_pub.publish(msg)


def run_hardware_node(
    robot: Any,
    *,
    ros_config: Ros2Config | str | Path | None = None,
    rate_hz: float | None = None,
    seconds: float | None = None,
    wait_for_command: bool = True,
    command_timeout: float | None = 0.5,
    domain_id: int | None = None,
    executor: ExecutorKind = "events",
    rt_priority: int | None = None,
    node_name: str = "sim2real_twin",
    live: Any = None,
) -> dict[str, Any]:
    """Serve a robot as a ROS 2 hardware node until ``seconds`` pass or SIGINT/SIGTERM: what
    ``sim2real twin-node`` runs.  Returns the node's final diagnostics."""
    if isinstance(ros_config, str | Path):
        ros_config = Ros2Config.load(ros_config)
    with node_session(domain_id, rt_priority) as (context, stop):
        node = RobotHardwareNode(
            robot,
            context=context,
            ros_config=ros_config,
            rate_hz=rate_hz,
            wait_for_command=wait_for_command,
            command_timeout=command_timeout,
            node_name=node_name,
            live=live,
        )
        try:
            ex = make_executor(context, executor)
            ex.add_node(node)
            quiet_gc()
            spin_until(ex, node, stop.is_set, seconds)
            robot.stop()
            return node.diagnostics()
        finally:
            node.destroy_node()
