"""ROS 2 nodes: the policy deployment node, and a robot (the twin) as a ROS 2 hardware node.

**PolicyDeploymentNode** runs the deployment control loop (:mod:`sim2real.deploy.loop`: reading,
policy, SafetyMonitor, speed progression, rosbag2 log) on a ROS 2 timer at the spec's control rate,
talking to the robot through a :class:`~sim2real.real.ros2.Ros2Robot` on the same node::

    timer (steady clock, 1 / control_dt)  -> loop.tick()        read -> policy -> safety -> write -> log
    /sim2real/estop          std_msgs/Bool       True: e-stop (latched; the robot is sent to safe mode at once)
    /sim2real/trigger_estop  std_srvs/Trigger    the same, as a service
    /sim2real/reset          std_srvs/Trigger    release a latched safe stop (refused unless the state is safe)
    /diagnostics             diagnostic_msgs/DiagnosticArray   safety state, speed stage, loop timing

The control timer starts once the robot is there (a valid reading), so the safety watchdog does not
fire on a robot that is still being discovered.  An e-stop does not wait for the next tick: its
callback latches the monitor and publishes safe mode immediately.

**RobotHardwareNode** serves any Robot (the MuJoCo twin, or :class:`KinematicRobot` for plumbing
benchmarks) as a ROS 2 hardware node: it steps the robot in real time on a timer, publishes
``/joint_states`` + ``/imu/data`` (+ ``/base_height`` for floating-base robots), applies the newest
command from ``/joint_commands``, and enters safe mode on ``/sim2real/safe_mode`` (at once, in the
callback; commands are ignored until the topic says False again) or when commands stop arriving
(``command_timeout``).  Its own state, including when it entered safe mode, is on ``/diagnostics``.

:func:`run_ros2_deploy` and :func:`run_hardware_node` are what ``sim2real deploy --ros2`` and
``sim2real twin-node`` call; :func:`selftest` is ``sim2real ros2 selftest``.
"""

from __future__ import annotations

import array
import dataclasses
import gc
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command, Reading
from sim2real.real.ros2 import (  # raises MissingExtraError without the ros2 extra
    Context,
    ExecutorKind,
    Node,
    QosSettings,
    Ros2Config,
    Ros2Robot,
    float_array,
    make_executor,
    new_context,
)
from sim2real.robots.spec import RobotSpec

__all__ = [
    "KinematicRobot",
    "LoopTiming",
    "NodeConfig",
    "PolicyDeploymentNode",
    "RobotHardwareNode",
    "build_loop",
    "run_hardware_node",
    "run_ros2_deploy",
    "selftest",
    "set_realtime_priority",
    "warm_up_log",
    "write_linear_policy",
]

log = logging.getLogger(__name__)

DIAGNOSTICS_WINDOW = 1000
"""Ticks the latency percentiles of the periodic diagnostics are taken over."""
ESTOP_QOS = QosSettings(reliability="reliable", depth=10)
"""QoS of the e-stop subscription (reliable: an e-stop must not be dropped)."""
STATUS_HEALTHY, STATUS_WARN, STATUS_ERROR = 0, 1, 2


# --------------------------------------------------------------------------------------------- helpers


def set_realtime_priority(priority: int | None) -> bool:
    """Run the calling thread (and the threads it starts later, e.g. DDS's) under SCHED_FIFO.

    Call it before creating the ROS context.  Needs CAP_SYS_NICE (root, or an rtprio limit); without
    it, a warning is logged and the process keeps its normal priority.

    Args:
        priority: 1..99, or None to leave the scheduling alone.

    Returns:
        Whether the priority was set.
    """
    if priority is None:
        return False
    if not 1 <= int(priority) <= 99:
        raise Sim2RealError(f"real-time priority must be in 1..99, got {priority}")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))
    except (PermissionError, OSError, AttributeError) as exc:
        log.warning("cannot set real-time priority %s (%s); running at normal priority", priority, exc)
        return False
    log.info("real-time priority: SCHED_FIFO %d", priority)
    return True


def _steady_clock() -> Any:
    """A steady (monotonic) ROS clock for timers: immune to system time jumps."""
    from rclpy.clock import Clock, ClockType

    return Clock(clock_type=ClockType.STEADY_TIME)


def _quiet_gc() -> None:
    """Move everything allocated during setup out of the collector's way (fewer, shorter pauses)."""
    gc.collect()
    gc.freeze()


class LoopTiming:
    """Deadline bookkeeping of a periodic timer (drift-free releases ``first + k * period``).

    Latency of a tick: from its release to the end of its work (command published).  A tick misses
    its deadline when it ends more than one period after its release; a release that got no tick
    at all (the timer skipped it because the previous one ran late) counts as a missed deadline too.

    Args:
        period: Timer period [s].
        first_release: Time of the first release [s] (``time.monotonic`` clock).
        keep: Number of latencies kept for the percentiles.
    """

    def __init__(self, period: float, first_release: float, keep: int = 200_000) -> None:
        self.period = float(period)
        self.first_release = float(first_release)
        self.ticks = 0
        self.missed = 0
        self.skipped = 0
        self._last_k = -1
        self._lat = np.zeros(keep)
        self._compute = np.zeros(keep)
        self._keep = keep

    def record(self, start: float, end: float, release: float | None = None) -> float:
        """Account one tick; returns its latency [s].

        Args:
            start: When the tick's callback started [s].
            end: When it finished [s].
            release: The timer's scheduled time of this call, when the executor tells it (rclpy's
                EventsExecutor passes a TimerInfo); None: the latest release of the grid at or
                before ``start`` (a second tick in one period counts for that period).
        """
        if release is not None:
            if self.ticks == 0:
                self.first_release = float(release)
            k = round((release - self.first_release) / self.period)
        else:
            k = max(math.floor((start - self.first_release + 50e-6) / self.period), self._last_k, 0)
            release = self.first_release + k * self.period
        if self._last_k >= 0 and k > self._last_k + 1:
            self.skipped += k - self._last_k - 1
        self._last_k = max(self._last_k, k)
        latency = end - release
        if latency > self.period:
            self.missed += 1
        i = self.ticks % self._keep
        self._lat[i] = latency
        self._compute[i] = end - start
        self.ticks += 1
        return latency

    def summary(self, last: int | None = None) -> dict[str, float | int]:
        """``target_hz``, ``achieved_hz``, ``missed_deadlines`` (late + skipped), latency percentiles [µs].

        Args:
            last: Latency percentiles over the last ``last`` ticks only (cheap, for periodic
                diagnostics); None: over the whole run (up to ``keep`` ticks).
        """
        n = min(self.ticks, self._keep)
        if last is not None and n > last:
            end = self.ticks % self._keep if self.ticks > self._keep else n
            index = np.arange(end - last, end) % self._keep
            lat, comp = self._lat[index] * 1e6, self._compute[index] * 1e6
        else:
            lat, comp = self._lat[:n] * 1e6, self._compute[:n] * 1e6
        # ticks per second of the timer's releases the run covered (first release .. last tick's):
        # the target rate times the fraction of releases that got a tick
        releases = self._last_k + 1
        achieved = self.ticks / (releases * self.period) if releases > 0 else 0.0
        return {
            "target_hz": 1.0 / self.period,
            "achieved_hz": achieved,
            "ticks": self.ticks,
            "missed_deadlines": self.missed + self.skipped,
            "late_ticks": self.missed,
            "skipped_ticks": self.skipped,
            "p50_loop_latency_us": float(np.percentile(lat, 50)) if n else math.nan,
            "p99_loop_latency_us": float(np.percentile(lat, 99)) if n else math.nan,
            "max_loop_latency_us": float(lat.max()) if n else math.nan,
            "p99_tick_compute_us": float(np.percentile(comp, 99)) if n else math.nan,
        }


def warm_up_log(spec: RobotSpec) -> None:
    """Write and delete a throwaway log with one message of every kind, so that the serializers the
    run's log needs are generated now and not in the first control ticks (rosbags compiles each
    message type's CDR code on first use: about 150 ms, which would trip a 10 ms stale timeout)."""
    from sim2real.logs import BagWriter

    n = spec.n_joints
    with (
        tempfile.TemporaryDirectory(prefix="sim2real-warmup-") as tmp,
        BagWriter(
            Path(tmp) / "warmup", spec.hash, spec.joints, robot=spec.name, command_joints=spec.actuated_joints
        ) as bag,
    ):
        bag.write_state(0.0, np.zeros(n), np.zeros(n), np.zeros(n))
        bag.write_imu(0.0, np.zeros(3), np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]))
        bag.write_command(0.0, np.zeros(spec.n_actions))
        bag.write_event(0.0, "warmup", {"x": 1.0})


def _key_values(values: Mapping[str, Any]) -> list[Any]:
    from diagnostic_msgs.msg import KeyValue

    out = []
    for k, v in values.items():
        if isinstance(v, float):
            text = repr(v)  # full precision: times on the monotonic clock are compared across processes
        elif isinstance(v, dict | list):
            text = json.dumps(v)
        else:
            text = str(v)
        out.append(KeyValue(key=str(k), value=text))
    return out


def _status(name: str, hardware_id: str, level: int, message: str, values: Mapping[str, Any]) -> Any:
    from diagnostic_msgs.msg import DiagnosticStatus

    return DiagnosticStatus(
        level=bytes([level]), name=name, message=message, hardware_id=hardware_id, values=_key_values(values)
    )


def diagnostic_values(status: Any) -> dict[str, str]:
    """A DiagnosticStatus's key/values as a dict (for tools and tests)."""
    return {kv.key: kv.value for kv in status.values}


# --------------------------------------------------------------------------------------------- deploy node


@dataclass(frozen=True)
class NodeConfig:
    """Names and rates of the deployment node's own interfaces."""

    estop_topic: str = "/sim2real/estop"
    """std_msgs/msg/Bool: True triggers the e-stop (latched until the reset service)."""
    estop_service: str = "/sim2real/trigger_estop"
    """std_srvs/srv/Trigger: triggers the e-stop."""
    reset_service: str = "/sim2real/reset"
    """std_srvs/srv/Trigger: releases a latched safe stop when the state passes every check."""
    diagnostics_topic: str = "/diagnostics"
    """diagnostic_msgs/msg/DiagnosticArray with the safety state."""
    diagnostics_period: float = 0.5
    """Period of the diagnostics [s] (also published at once on every safety state change)."""
    startup_timeout: float = 30.0
    """How long to wait for the robot (matched topics, a valid reading) before failing [s]."""
    node_name: str = "sim2real_deploy"
    """Name of the node."""

    def __post_init__(self) -> None:
        if not self.diagnostics_period > 0 or not self.startup_timeout > 0:
            raise Sim2RealError("node config: diagnostics_period and startup_timeout must be positive")


class PolicyDeploymentNode(Node):
    """The deployment control loop as a ROS 2 node (see the module docstring).

    Args:
        spec: The robot.
        make_loop: Builds the control loop on the node's robot interface.
        context: The rclpy context.
        ros_config: Topics, types, QoS and joint mapping of the robot.
        config: The node's own interfaces.
        clock: The loop's clock [s].
        take_on_read: Let the robot interface take the newest messages itself at each read (only
            when the node is spun by a ``single`` or ``multi`` executor; see :class:`Ros2Robot`).
    """

    def __init__(
        self,
        spec: RobotSpec,
        make_loop: Callable[[Ros2Robot], ControlLoop],
        *,
        context: Context,
        ros_config: Ros2Config | None = None,
        config: NodeConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        take_on_read: bool = False,
    ) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from std_msgs.msg import Bool
        from std_srvs.srv import Trigger

        self.config = config = config or NodeConfig()
        super().__init__(config.node_name, context=context)
        self.spec = spec
        self._loop_clock = clock
        self.robot = Ros2Robot(spec, ros_config, node=self, clock=clock, take_on_read=take_on_read)
        self.loop = make_loop(self.robot)
        self.monitor = self.loop.monitor
        self.period = float(spec.control_dt)
        self.timing: LoopTiming | None = None
        self.estops: list[dict[str, Any]] = []
        self.finished = threading.Event()
        self.error: str | None = None
        self._created = clock()
        self._timer: Any = None
        self._last_state: str | None = None
        self._stop_at: float | None = None
        self._diag_pub = self.create_publisher(DiagnosticArray, config.diagnostics_topic, 10)
        self._estop_sub = self.create_subscription(
            Bool, config.estop_topic, self._on_estop_topic, ESTOP_QOS.profile()
        )
        self._estop_srv = self.create_service(Trigger, config.estop_service, self._on_estop_service)
        self._reset_srv = self.create_service(Trigger, config.reset_service, self._on_reset_service)
        self._startup = self.create_timer(0.005, self._wait_for_robot, clock=_steady_clock())
        self._diag_timer = self.create_timer(
            config.diagnostics_period, self.publish_diagnostics, clock=_steady_clock()
        )

    # ------------------------------------------------------------------ lifecycle

    def run_for(self, seconds: float | None) -> None:
        """Stop ticking ``seconds`` after the control timer starts (None: until shut down)."""
        self._stop_at = None if seconds is None else float(seconds)

    @property
    def running(self) -> bool:
        """Whether the control timer runs."""
        return self._timer is not None

    def _wait_for_robot(self) -> None:
        if self._timer is not None:
            return
        if self.robot.ready():
            self.destroy_timer(self._startup)
            self._start_control()
            return
        if self._loop_clock() - self._created > self.config.startup_timeout:
            self.destroy_timer(self._startup)
            self.error = (
                f"no valid reading from the robot on {self.robot.config.joint_states_topic} within "
                f"{self.config.startup_timeout:g} s"
            )
            log.error("deploy node: %s", self.error)
            self.finished.set()

    def _start_control(self) -> None:
        # first calls (serializers of the log, numpy percentiles, message conversion) happen here,
        # not in the first control ticks
        warm_up_log(self.spec)
        self.loop.open()  # the log is created before the first tick, not in it
        self.timing = LoopTiming(self.period, 0.0)
        self.timing.record(0.0, 0.001)
        self.publish_diagnostics()
        _quiet_gc()
        self._timer = self.create_timer(self.period, self._on_tick, clock=_steady_clock())
        until_next = self._timer.time_until_next_call()
        first = time.monotonic() + (until_next if until_next is not None else self.period * 1e9) * 1e-9
        self.timing = LoopTiming(self.period, first)
        if self._stop_at is not None:
            self._stop_at += first - self.period
        log.info("deploy node: robot is there; control loop at %.6g Hz", 1.0 / self.period)

    def stop_control(self) -> None:
        """Stop the control timer and send the robot to safe mode."""
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        self.robot.stop()
        self.finished.set()

    # ------------------------------------------------------------------ control

    def _on_tick(self, info: Any = None) -> None:
        start = time.monotonic()
        self.loop.tick()
        end = time.monotonic()
        assert self.timing is not None
        # the EventsExecutor passes the timer's scheduled time (steady clock = time.monotonic)
        release = info.expected_call_time.nanoseconds * 1e-9 if info is not None else None
        self.timing.record(start, end, release)
        state = self.loop.state
        if state != self._last_state:
            self._last_state = state
            self.publish_diagnostics()
        if self._stop_at is not None and end >= self._stop_at:
            self.stop_control()

    # ------------------------------------------------------------------ e-stop and reset

    def estop(self, source: str) -> None:
        """Trigger the e-stop: latch the monitor and send the robot to safe mode now."""
        t = self._loop_clock()
        self.loop.request_estop(f"e-stop from {source}")
        self.robot.stop()
        done = self._loop_clock()
        self.estops.append({"source": source, "t": t, "safe_mode_published": done})
        log.warning("deploy node: e-stop from %s", source)
        self.publish_diagnostics()

    def _on_estop_topic(self, msg: Any) -> None:
        if msg.data:
            self.estop(f"topic {self.config.estop_topic}")

    def _on_estop_service(self, request: Any, response: Any) -> Any:
        self.estop(f"service {self.config.estop_service}")
        response.success = True
        response.message = "e-stop latched; the robot is in safe mode"
        return response

    def _on_reset_service(self, request: Any, response: Any) -> Any:
        result = self.loop.reset_safety()
        response.success = bool(result.accepted)
        response.message = result.event.message
        self.publish_diagnostics()
        return response

    # ------------------------------------------------------------------ diagnostics

    def diagnostics(self, final: bool = False) -> dict[str, Any]:
        """The node's state as plain values (also what /diagnostics carries).

        Args:
            final: Latency percentiles over the whole run (else over the last
                ``DIAGNOSTICS_WINDOW`` ticks, cheap enough to publish while the loop runs).
        """
        m = self.monitor
        latched = bool(m.latched)
        values: dict[str, Any] = {
            "state": self.loop.state if self.loop.ticks else "starting",
            "latched": latched,
            "latch_reason": m.latch_reason or "",
            "speed_stage": int(self.loop.speed.stage),
            "speed_fraction": float(m.speed_fraction),
            "running": self.running,
            "loop_missed_deadlines": int(self.loop.missed_deadlines),
        }
        values["events"] = {k: v for k, v in m.counters.items() if v}
        values["robot"] = self.robot.counters.as_dict()
        if self.timing is not None:
            values |= self.timing.summary(last=None if final else DIAGNOSTICS_WINDOW)
        if self.estops:
            values["estops"] = len(self.estops)
        return values

    def publish_diagnostics(self) -> None:
        """Publish the safety state on /diagnostics now."""
        from diagnostic_msgs.msg import DiagnosticArray

        values = self.diagnostics()
        if values["latched"]:
            level, message = STATUS_ERROR, f"safe stop: {values['latch_reason']}"
        elif values["state"] == "hold":
            level, message = STATUS_WARN, "holding (unusable reading or command)"
        elif not self.running:
            level, message = STATUS_WARN, "waiting for the robot"
        else:
            level, message = STATUS_HEALTHY, f"running at speed fraction {values['speed_fraction']:g}"
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [_status(f"sim2real: safety ({self.spec.name})", self.spec.name, level, message, values)]
        self._diag_pub.publish(msg)


# --------------------------------------------------------------------------------------------- hardware node


class KinematicRobot:
    """A Robot without physics, for benchmarks of the ROS 2 plumbing.

    pd joints are at their last targets at once; other joints stay where they are.  The base is
    upright at rest at the middle of the spec's base height range; the IMU reads gravity.
    """

    def __init__(self, spec: RobotSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._loop_clock = clock
        self._q = np.asarray(spec.default_pose, dtype=float).copy()
        self._index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._pd = np.array([a.model == "pd" for a in spec.actuators])
        self.safe = False
        lim = spec.safety
        self._height = (
            0.5 * (lim.base_height_low + lim.base_height_high)
            if lim.base_height_low is not None and lim.base_height_high is not None
            else None
        )

    def read(self) -> Reading:
        imu = self.spec.imu is not None
        return Reading(
            t=self._loop_clock(),
            q=self._q,
            qd=np.zeros_like(self._q),
            tau=np.zeros_like(self._q),
            gyro=np.zeros(3) if imu else None,
            accel=np.array([0.0, 0.0, 9.81]) if imu else None,
            quat=np.array([1.0, 0.0, 0.0, 0.0]) if imu else None,
            base_height=self._height if self.spec.floating_base else None,
        )

    def write(self, command: Command) -> None:
        if command.mode == "safe":
            self.stop()
            return
        self.safe = False
        values = np.asarray(command.values, dtype=float)
        self._q[self._index[self._pd]] = values[self._pd]

    def stop(self) -> None:
        self.safe = True

    def close(self) -> None:
        self.stop()


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
        self._timer = self.create_timer(self.period, self._on_tick, clock=_steady_clock())
        self._diag_timer = self.create_timer(
            diagnostics_period, self.publish_diagnostics, clock=_steady_clock()
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
        if self._started_at is None:
            self._started_at = now
            log.info("hardware node: first command; stepping in real time")

    def _on_array_command(self, msg: Any) -> None:
        data = np.frombuffer(msg.data, dtype=np.float64)
        if data.shape != (self._m,):
            self.counts["commands_ignored"] += 1
            return
        values = np.empty(self._m)
        values[self._order] = data
        self._accept(values)

    def _on_joint_command(self, msg: Any) -> None:
        names = list(msg.name)
        field = "position" if all(a.model == "pd" for a in self.spec.actuators) else "effort"
        data = np.frombuffer(getattr(msg, field), dtype=np.float64)
        want = [self.ros_config.robot_joint(a.joint) for a in self.spec.actuators]
        if len(data) != len(names) or any(w not in names for w in want):
            self.counts["commands_ignored"] += 1
            return
        self._accept(np.array([data[names.index(w)] for w in want]))

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
        self.counts["published"] += 1

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
            "robot_time": float(
                getattr(getattr(self.robot, "data", None), "time", self._steps * self.period)
            ),
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
            _status(f"sim2real: hardware ({self.spec.name})", self.spec.name, level, values["mode"], values)
        ]
        self._diag_pub.publish(msg)


# --------------------------------------------------------------------------------------------- policies


def write_linear_policy(
    spec: RobotSpec,
    path: str | Path,
    gain: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    *,
    action_scale: Sequence[float] | None = None,
    action_filter: float | None = None,
    task: str | None = None,
) -> Path:
    """Write a policy file whose network is ``action = tanh(gain @ obs + bias)`` (no training, no torch).

    For plumbing tests and hand-made controllers (e.g. LQR gains on the observation terms).  The
    file is a regular sim2real policy (metadata from the spec and its task, checksum), loadable by
    :class:`~sim2real.policy.runtime.PolicyRunner`.

    Args:
        spec: The robot.
        path: Output ``.onnx`` file.
        gain: Shape (n_act, n_obs); default zeros (the command stays at the zero action's: the
            default pose for pd actuators, zero effort otherwise).
        bias: Shape (n_act,); default zeros.
        action_scale, action_filter, task: Default: the robot's built-in task's.
    """
    import onnx
    from onnx import TensorProto, helper

    from sim2real.policy.metadata import CHECKSUM_KEY, INPUT_NAME, OUTPUT_NAME, PolicyMetadata, add_checksum
    from sim2real.tasks import get_task

    n_obs, n_act = spec.n_obs, spec.n_actions
    gain = np.zeros((n_act, n_obs)) if gain is None else np.asarray(gain, dtype=float)
    bias = np.zeros(n_act) if bias is None else np.asarray(bias, dtype=float)
    if gain.shape != (n_act, n_obs) or bias.shape != (n_act,):
        raise Sim2RealError(f"linear policy: gain must be ({n_act}, {n_obs}) and bias ({n_act},)")
    task_cfg = get_task(task or spec)
    meta = PolicyMetadata.from_spec(
        spec,
        action_scale=action_scale if action_scale is not None else task_cfg.action_scale,
        action_filter=action_filter if action_filter is not None else task_cfg.action_filter,
        task=task_cfg.name,
        network={"type": "linear", "output": "tanh"},
        training={"note": "hand-made linear policy (sim2real.deploy.ros2_node.write_linear_policy)"},
    )
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", [INPUT_NAME, "W", "b"], ["z"], transB=1),
            helper.make_node("Tanh", ["z"], [OUTPUT_NAME]),
        ],
        "linear_policy",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", n_obs])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", n_act])],
        [
            helper.make_tensor(
                "W", TensorProto.FLOAT, [n_act, n_obs], gain.astype(np.float32).ravel().tolist()
            ),
            helper.make_tensor("b", TensorProto.FLOAT, [n_act], bias.astype(np.float32).tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sim2real")
    model.ir_version = 8
    onnx.checker.check_model(model)
    props = meta.to_props()
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    checksum = add_checksum(props, model.SerializeToString())
    entry = model.metadata_props.add()
    entry.key, entry.value = CHECKSUM_KEY, checksum
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


# --------------------------------------------------------------------------------------------- running


def build_loop(
    spec: RobotSpec,
    robot: Ros2Robot,
    policy_path: str | Path,
    *,
    loop_config: LoopConfig | None = None,
    speed_stage: int | float | None = None,
    log_path: str | Path | None = None,
    log_meta: Mapping[str, Any] | None = None,
) -> ControlLoop:
    """The deployment control loop (:class:`~sim2real.deploy.loop.ControlLoop`, paced on the
    monotonic clock, the clock of Ros2Robot readings) on a ROS 2 robot, with its policy runner."""
    from sim2real.policy.runtime import PolicyRunner

    config = loop_config or LoopConfig()
    if config.mode != "paced":
        config = dataclasses.replace(config, mode="paced")
    runner = PolicyRunner(policy_path, spec, providers="cpu")
    loop = ControlLoop(
        robot,
        runner,
        config=config,
        log_path=log_path,
        log_meta={"transport": "ros2", **dict(log_meta or {})},
        clock=time.monotonic,
    )
    if speed_stage is not None:
        loop.monitor.set_speed_fraction(loop.speed.start_at(speed_stage))
    return loop


def spin_until(
    executor: Any,
    node: Node,
    done: Callable[[], bool],
    timeout: float | None = None,
    check_period: float = 0.02,
) -> bool:
    """Spin ``executor`` until ``done()`` is true (checked every ``check_period`` by a timer on
    ``node``) or ``timeout`` seconds pass.  Returns ``done()``."""
    from rclpy.task import Future

    deadline = None if timeout is None else time.monotonic() + timeout
    future: Future = Future()

    def check() -> None:
        if not future.done() and (done() or (deadline is not None and time.monotonic() >= deadline)):
            future.set_result(True)

    check()
    if future.done():
        return done()
    timer = node.create_timer(check_period, check, clock=_steady_clock())
    try:
        while not future.done() and node.context.ok():
            # rclpy's EventsExecutor never returns from spin_until_future_complete without a timeout
            executor.spin_until_future_complete(future, timeout_sec=1.0)
    finally:
        node.destroy_timer(timer)
    return done()


def run_ros2_deploy(
    spec: RobotSpec,
    policy_path: str | Path,
    *,
    ros_config: Ros2Config | str | Path | None = None,
    node_config: NodeConfig | None = None,
    loop_config: LoopConfig | None = None,
    speed_stage: int | float | None = None,
    log_path: str | Path | None = None,
    log_meta: Mapping[str, Any] | None = None,
    seconds: float | None = None,
    domain_id: int | None = None,
    executor: ExecutorKind = "events",
    rt_priority: int | None = None,
    make_loop: Callable[[Ros2Robot], ControlLoop] | None = None,
    on_ready: Callable[[PolicyDeploymentNode], None] | None = None,
) -> dict[str, Any]:
    """Deploy a policy on a ROS 2 robot: what ``sim2real deploy --ros2`` runs.

    Builds the deployment node (the control loop on a ROS 2 timer, SafetyMonitor, speed
    progression, e-stop topic and service, reset service, /diagnostics, rosbag2 log), spins it
    until ``seconds`` of control have run, the robot does not show up within the startup timeout,
    or SIGINT/SIGTERM; then puts the robot in safe mode and closes the log.

    Args:
        spec: The robot.
        policy_path: The ``.onnx`` policy.
        ros_config: A Ros2Config, or a YAML file of one; None: the spec's ``ros2:`` section (defaults
            when it has none).
        node_config: The node's own topic and service names.
        loop_config: Loop settings (speed stages, velocity command, ...); its mode becomes ``paced``.
        speed_stage: Speed-progression stage index (or fraction) to start at (``--speed``).
        log_path: The run's rosbag2 directory (must not exist); None: no log.
        log_meta: Extra description stored in the log's metadata.
        seconds: Control time to run [s]; None: until interrupted.
        domain_id: ROS_DOMAIN_ID; None: from the environment.
        executor: ``events`` (default), ``single`` or ``multi``.
        rt_priority: SCHED_FIFO priority of the process (None: unchanged).
        make_loop: Builds the control loop on the robot (default: :func:`build_loop`).
        on_ready: Called with the node once it is built, before spinning.

    Returns:
        The node's final diagnostics (loop timing, safety state and counters, robot message counts)
        plus ``loop`` (the loop's summary) and ``estops``.

    Raises:
        Sim2RealError: the robot did not show up, or the policy does not fit the robot.
    """
    if isinstance(ros_config, str | Path):
        ros_config = Ros2Config.load(ros_config)
    set_realtime_priority(rt_priority)
    if make_loop is None:

        def make_loop(robot: Ros2Robot) -> ControlLoop:
            return build_loop(
                spec,
                robot,
                policy_path,
                loop_config=loop_config,
                speed_stage=speed_stage,
                log_path=log_path,
                log_meta=log_meta,
            )

    context = new_context(domain_id)
    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    node: PolicyDeploymentNode | None = None
    loop_summary: dict[str, Any] | None = None
    try:
        node = PolicyDeploymentNode(
            spec,
            make_loop,
            context=context,
            ros_config=ros_config,
            config=node_config,
            take_on_read=executor != "events",
        )
        node.run_for(seconds)
        ex = make_executor(context, executor)
        ex.add_node(node)
        if on_ready is not None:
            on_ready(node)
        spin_until(ex, node, lambda: stop.is_set() or node.finished.is_set())
        node.stop_control()
        summary = node.diagnostics(final=True)
        summary["estops"] = list(node.estops)
        if node.error:
            raise Sim2RealError(node.error)
    finally:
        _restore_signal_handlers(previous)
        if node is not None:
            loop_summary = node.loop.close()
            node.robot.close()
            node.destroy_node()
        context.try_shutdown()
    summary["loop"] = loop_summary
    return summary


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _restore_signal_handlers(previous: Mapping[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


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
) -> dict[str, Any]:
    """Serve a robot as a ROS 2 hardware node until ``seconds`` pass or SIGINT/SIGTERM: what
    ``sim2real twin-node`` runs.  Returns the node's final diagnostics."""
    if isinstance(ros_config, str | Path):
        ros_config = Ros2Config.load(ros_config)
    set_realtime_priority(rt_priority)
    context = new_context(domain_id)
    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    node = None
    try:
        node = RobotHardwareNode(
            robot,
            context=context,
            ros_config=ros_config,
            rate_hz=rate_hz,
            wait_for_command=wait_for_command,
            command_timeout=command_timeout,
            node_name=node_name,
        )
        ex = make_executor(context, executor)
        ex.add_node(node)
        _quiet_gc()
        spin_until(ex, node, stop.is_set, seconds)
        robot.stop()
        return node.diagnostics()
    finally:
        _restore_signal_handlers(previous)
        if node is not None:
            node.destroy_node()
        context.try_shutdown()


# --------------------------------------------------------------------------------------------- selftest


def _selftest_rate(
    spec: RobotSpec,
    rate_hz: float,
    seconds: float,
    *,
    domain_id: int,
    executor: ExecutorKind,
    rt_priority: int | None,
    workdir: Path,
) -> dict[str, Any]:
    """One selftest run: a kinematic hardware node in a child process, the deploy node in this one."""
    # The same robot at another control period: policy, loop and safety all run at rate_hz.
    test_spec = dataclasses.replace(spec, control_dt=1.0 / rate_hz)
    policy = write_linear_policy(test_spec, workdir / f"hold_{rate_hz:g}.onnx")
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    cmd = [
        sys.executable,
        "-m",
        "sim2real.cli",
        "twin-node",
        "--robot",
        str(spec.path),
        "--kinematic",
        "--rate",
        str(rate_hz),
        "--seconds",
        str(seconds + 60.0),
        "--executor",
        executor,
    ]
    if rt_priority is not None:
        cmd += ["--rt-priority", str(rt_priority)]
    with (workdir / f"hardware_{rate_hz:g}.log").open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            result = _selftest_deploy(
                test_spec,
                policy,
                seconds,
                domain_id=domain_id,
                executor=executor,
                rt_priority=rt_priority,
                log_path=workdir / f"log_{rate_hz:g}",
            )
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return result


def _selftest_deploy(
    spec: RobotSpec,
    policy: Path,
    seconds: float,
    *,
    domain_id: int,
    executor: ExecutorKind,
    rt_priority: int | None,
    log_path: Path,
) -> dict[str, Any]:
    """Run the deploy node for ``seconds`` of control, then e-stop it over the topic and wait (at
    most 2 s) for the hardware node to report that it applied safe mode."""
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import Bool

    set_realtime_priority(rt_priority)
    context = new_context(domain_id)
    node = None
    reaction: dict[str, float] = {}

    def on_diag(msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith("sim2real: hardware") and "applied" not in reaction:
                values = diagnostic_values(status)
                if values.get("safe") == "True" and "safe_applied" in values:
                    reaction["applied"] = float(values["safe_applied"])
                    reaction["received"] = float(values["safe_request_received"])

    try:

        def make(robot: Ros2Robot) -> ControlLoop:
            return build_loop(
                spec,
                robot,
                policy,
                log_path=log_path,
                log_meta={"selftest": True},
                speed_stage=len(LoopConfig().speed.stages) - 1,
            )

        node = PolicyDeploymentNode(spec, make, context=context, take_on_read=executor != "events")
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
        estop_pub = node.create_publisher(Bool, node.config.estop_topic, ESTOP_QOS.profile())
        ex = make_executor(context, executor)
        ex.add_node(node)
        if not spin_until(ex, node, lambda: node.running or node.finished.is_set(), 40.0) or not node.running:
            raise Sim2RealError(node.error or "selftest: the hardware node did not show up within 40 s")
        spin_until(ex, node, lambda: False, seconds)
        summary = node.diagnostics(final=True)  # the run's timing, before the e-stop
        spin_until(ex, node, lambda: estop_pub.get_subscription_count() > 0, 5.0)
        sent = time.monotonic()
        estop_pub.publish(Bool(data=True))
        spin_until(ex, node, lambda: "applied" in reaction, 2.0)
        node.stop_control()
    finally:
        if node is not None:
            node.loop.close()
            node.robot.close()
            node.destroy_node()
        context.try_shutdown()
    robot = summary.get("robot", {})
    return {
        "target_hz": summary["target_hz"],
        "achieved_hz": summary["achieved_hz"],
        "missed_deadlines": summary["missed_deadlines"],
        "p99_loop_latency_us": summary["p99_loop_latency_us"],
        "estop_reaction_ms": (reaction["applied"] - sent) * 1e3 if "applied" in reaction else None,
        "messages": int(
            sum(robot.get(k, 0) for k in ("joint_states", "imu", "base_height", "commands", "safe_mode"))
        ),
        "seconds": seconds,
        "ticks": summary["ticks"],
        "late_ticks": summary["late_ticks"],
        "skipped_ticks": summary["skipped_ticks"],
        "p50_loop_latency_us": summary["p50_loop_latency_us"],
        "max_loop_latency_us": summary["max_loop_latency_us"],
        "p99_tick_compute_us": summary["p99_tick_compute_us"],
        "estop_hardware_side_us": (reaction["applied"] - reaction["received"]) * 1e6 if reaction else None,
        "message_counts": robot,
        "safety_events": summary.get("events", {}),
        "safety_state": summary.get("state"),
        "executor": executor,
        "rt_priority": rt_priority,
    }


def selftest(
    robot: str | RobotSpec = "quadruped",
    rates: Sequence[float] | None = None,
    seconds: float = 10.0,
    *,
    domain_id: int | None = None,
    executor: ExecutorKind = "events",
    rt_priority: int | None = None,
) -> list[dict[str, Any]]:
    """Measure the ROS 2 deployment path: the deploy node (policy, safety monitor, rosbag2 log)
    against a kinematic hardware node in another process, at the robot's control rate and at 500 Hz.

    One dict per rate: ``target_hz``; ``achieved_hz`` (control ticks per second); ``missed_deadlines``
    (ticks ending more than a period after their release, plus releases skipped);
    ``p99_loop_latency_us`` (timer release -> command published); ``estop_reaction_ms`` (e-stop
    published on the topic -> the hardware node in the other process applied safe mode);
    ``messages`` (messages the deploy node received and sent); and more detail.

    Args:
        robot: Embedded robot name, spec YAML path or spec.
        rates: Control rates [Hz]; default: the robot's and 500 Hz.
        seconds: Duration of each run [s].
        domain_id: ROS_DOMAIN_ID of the private graph (default: 100 + pid % 100).
        executor: Executor of both nodes.
        rt_priority: SCHED_FIFO priority of both processes (None: normal scheduling).
    """
    from sim2real.robots import load_robot

    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    if rates is None:
        rates = (round(1.0 / spec.control_dt, 6), 500.0)
    if domain_id is None:
        domain_id = 100 + os.getpid() % 100
    results = []
    with tempfile.TemporaryDirectory(prefix="sim2real-ros2-selftest-") as tmp:
        for rate in rates:
            results.append(
                _selftest_rate(
                    spec,
                    float(rate),
                    seconds,
                    domain_id=domain_id,
                    executor=executor,
                    rt_priority=rt_priority,
                    workdir=Path(tmp),
                )
            )
    return results
