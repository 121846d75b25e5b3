"""Ros2Robot: the Robot protocol over ROS 2 (rclpy), for any robot that speaks ROS 2.

What it talks (every name, type and QoS is a field of :class:`Ros2Config`)::

    subscribes  /joint_states        sensor_msgs/msg/JointState   joint order mapped BY NAME
                /imu/data            sensor_msgs/msg/Imu          (robots with an IMU)
                /base_height         std_msgs/msg/Float64         (floating-base robots; a state estimator)
                odometry_topic       nav_msgs/msg/Odometry        (floating base, when configured: base_lin_vel)
    publishes   /joint_commands      std_msgs/msg/Float64MultiArray (or sensor_msgs/msg/JointState)
                /sim2real/safe_mode  std_msgs/msg/Bool            True: enter the spec's safe mode

**Joint order.** The joints of a JointState message are found by name, never by position: a driver
may publish them in any order, and more joints than the spec has.  A message that lacks one of the
spec's joints (or has no velocities, or arrays of the wrong length) gives a reading with
``valid=False``, which the safety layer treats as stale (hold, then safe stop after
``stale_timeout``).  ``Ros2Config.joint_names`` maps the spec's joint names to the robot's.
Efforts are optional until measured (:mod:`sim2real.real.ros2.efforts`); IMU messages are read into
the IMU site's frame (:mod:`sim2real.real.ros2.imu_message`).

**Timing.** Messages are taken by subscription callbacks; :meth:`Ros2Robot.read` only assembles the
newest sample and never blocks longer than ``Ros2Config.read_timeout`` (at most a control period;
0 by default: it does not wait at all).  ``Reading.t`` is on the loop's clock
(``time.monotonic``): the time the JointState arrived (``stamp="receive"``, the default), or the
message's ``header.stamp`` carried over from the ROS (system) clock (``stamp="header"``; only when
both computers' clocks are synchronized).

**Safe mode.** A ``safe`` command or :meth:`Ros2Robot.stop` publishes ``True`` on the safe-mode
topic (reliable, transient local: a late subscriber still sees the last state) and no command
values: the robot realizes its safe mode itself (damping or zero torque).  The next normal command
first publishes ``False``.  A robot without such a topic can be given the safety monitor's
equivalent command instead (``safe_values_on_command_topic``).

**Executors.** Given a ``node``, the robot adds its subscriptions and publishers to it and the
caller spins the node (the deployment node does, on the same executor as its control timer).
Without one, it creates a context, a node and an executor thread of its own.

"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from rclpy.context import Context
from rclpy.node import Node

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command, Reading
from sim2real.real.ros2.config import Ros2Config, Ros2ConfigError, joint_command_fields, joint_index_map
from sim2real.real.ros2.efforts import EffortReader
from sim2real.real.ros2.graph import unheard
from sim2real.real.ros2.imu_message import ImuReader
from sim2real.real.ros2.runtime import (
    ExecutorKind,
    float_array,
    make_executor,
    new_context,
    stamp_seconds,
)
from sim2real.robots.spec import RobotSpec

__all__ = ["Ros2Counters", "Ros2Robot"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class _JointSample:
    t: float
    q: np.ndarray
    qd: np.ndarray
    tau: np.ndarray | None
    tau_measured: np.ndarray | None
    seq: int


@dataclass(frozen=True, eq=False)
class _ImuSample:
    t: float
    gyro: np.ndarray
    accel: np.ndarray | None
    quat: np.ndarray | None




@dataclass
class Ros2Counters:
    """What the robot interface has seen and sent (for diagnostics and benchmarks)."""

    joint_states: int = 0
    """JointState messages received."""
    incomplete: int = 0
    """... of which unusable (a joint missing, no velocities, wrong lengths)."""
    imu: int = 0
    """Imu messages received."""
    base_height: int = 0
    """Base height messages received."""
    odometry: int = 0
    """Odometry messages received."""
    commands: int = 0
    """Command messages published."""
    safe_mode: int = 0
    """Safe-mode messages published."""
    invalid_readings: int = 0
    """Readings returned with valid=False."""

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------------------------- robot


class Ros2Robot:
    """The Robot protocol over ROS 2 (see the module docstring).

    Args:
        spec: The robot.
        config: Topics, types, QoS and joint-name mapping.
        node: An rclpy node to attach to (the caller spins it); None: create a context, a node and
            an executor thread of its own (closed by :meth:`close`).
        context: With ``node=None``: the context to create the node in (None: a fresh one, owned).
        executor: With ``node=None``: the executor kind of the robot's thread (``single`` or
            ``multi``: rclpy's EventsExecutor cannot spin in a background thread; it starves of the GIL
            and its shutdown from another thread hangs).
        clock: The loop's clock [s] (``Reading.t`` is on it); default ``time.monotonic``.
        node_name: With ``node=None``: the node's name.
        take_on_read: With a shared ``node`` spun by a ``single`` or ``multi`` executor in the
            thread that calls :meth:`read`: take the newest messages directly at each read, so
            that a reading is never older than the robot's publishing period after a stall of
            this process (not with the ``events`` executor).

    Raises:
        Ros2ConfigError: the config does not fit the spec.
    """

    def __init__(
        self,
        spec: RobotSpec,
        config: Ros2Config | None = None,
        *,
        node: Node | None = None,
        context: Context | None = None,
        executor: ExecutorKind = "single",
        clock: Callable[[], float] = time.monotonic,
        node_name: str = "sim2real_robot",
        take_on_read: bool = False,
    ) -> None:
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Bool, Float64, Float64MultiArray, MultiArrayDimension

        self.spec = spec
        self.config = config = config or Ros2Config.from_spec(spec)
        config.check(spec)
        self._clock = clock
        self._n = spec.n_joints
        self._m = spec.n_actions
        self._wanted = tuple(config.robot_joint(j) for j in spec.joints)
        self._order = config.command_order(spec)  # -1: an empty slot of the array, sent as 0.0
        self._slots = self._order >= 0
        self._fixed = config.fixed_values(spec)
        self._command_names = [config.robot_joint(spec.actuators[i].joint) for i in self._order[self._slots]]
        self._stamp_tolerance = float(spec.safety.stale_timeout)
        self._imu_timeout = float(
            config.imu_timeout if config.imu_timeout is not None else spec.safety.stale_timeout
        )
        self.counters = Ros2Counters()
        self._lock = threading.Condition()
        self._map_cache: dict[tuple[str, ...], np.ndarray | None] = {}
        self._joint: _JointSample | None = None
        self._joint_problem: tuple[float, str] | None = None
        self._imu: _ImuSample | None = None
        self._imu_problem: str | None = None
        self._problem: str | None = "no reading yet"  # why the last reading assembled was invalid
        self._height: tuple[float, float] | None = None
        self._lin_vel: tuple[float, np.ndarray] | None = None  # (arrival [s], base frame [m/s])
        self._seq = 0
        self._last_read_seq = -1
        self._safe_state: bool | None = None
        self._imu_reader = ImuReader(spec)
        self._safe_values_out = True  # no normal values since the last safe values (or ever)
        self._publish_lock = threading.Lock()  # an e-stop callback may publish while a tick does
        self._efforts = EffortReader(spec, self._warn_once)
        self._warned: set[str] = set()
        self._closed = False
        self._take_on_read = bool(take_on_read) and node is not None

        self._owns_context = False
        self._executor = None
        self._thread: threading.Thread | None = None
        if node is None:
            if context is None:
                context = new_context()
                self._owns_context = True
            node = Node(node_name, context=context)
            self._owns_node = True
        else:
            self._owns_node = False
        self.node = node
        self._ros_clock = node.get_clock()

        qos_state = config.state_qos.profile()
        self._subs = [
            node.create_subscription(JointState, config.joint_states_topic, self._on_joint_state, qos_state)
        ]
        self._uses_imu = spec.imu is not None and config.imu_topic is not None
        if self._uses_imu:
            assert config.imu_topic is not None
            self._subs.append(node.create_subscription(Imu, config.imu_topic, self._on_imu, qos_state))
        self._uses_height = spec.floating_base and config.base_height_topic is not None
        if self._uses_height:
            assert config.base_height_topic is not None
            self._subs.append(
                node.create_subscription(Float64, config.base_height_topic, self._on_height, qos_state)
            )
        self._uses_odometry = spec.floating_base and config.odometry_topic is not None
        if self._uses_odometry:
            from nav_msgs.msg import Odometry  # the ros2 extra's ros-nav-msgs

            assert config.odometry_topic is not None
            self._subs.append(
                node.create_subscription(Odometry, config.odometry_topic, self._on_odometry, qos_state)
            )

        if config.command_type == "std_msgs/msg/Float64MultiArray":
            self._command_msg = Float64MultiArray()
            size = len(self._order)
            self._command_msg.layout.dim = [MultiArrayDimension(label="joints", size=size, stride=size)]
            self._command_pub = node.create_publisher(
                Float64MultiArray, config.command_topic, config.command_qos.profile()
            )
        else:
            self._command_msg = JointState()
            self._command_msg.name = list(self._command_names)
            self._command_pub = node.create_publisher(
                JointState, config.command_topic, config.command_qos.profile()
            )
        self._command_pd = np.array([spec.actuators[i].model == "pd" for i in self._order[self._slots]])
        self._safe_pub = None
        if config.safe_mode_topic is not None:
            self._safe_pub = node.create_publisher(
                Bool, config.safe_mode_topic, config.safe_mode_qos.profile()
            )
        self._bool = Bool

        if self._owns_node:
            if executor == "events":
                raise Ros2ConfigError(
                    "Ros2Robot: the events executor cannot spin in a background thread; use single or multi"
                )
            self._executor = make_executor(node.context, executor)
            self._executor.add_node(node)
            self._thread = threading.Thread(target=self._spin, name=f"{node_name}-executor", daemon=True)
            self._thread.start()
        log.info(
            "ros2 robot %s: states %s, commands %s (%s)%s; command values in the order %s",
            spec.name,
            config.joint_states_topic,
            config.command_topic,
            config.command_type,
            f", safe mode {config.safe_mode_topic}" if config.safe_mode_topic else "",
            ", ".join(
                f"{k}:{config.robot_joint(spec.actuators[i].joint) if i >= 0 else f'- ({self._fixed[k]:g})'}"
                for k, i in enumerate(self._order)
            ),
        )

    # ------------------------------------------------------------------ subscriptions

    def _spin(self) -> None:
        assert self._executor is not None
        try:
            self._executor.spin()
        except Exception as exc:  # an executor shut down under it raises rclpy's own types
            if not self._closed:
                log.error("ros2 robot: executor stopped: %s", exc)

    def _sample_time(self, header: Any, now: float, what: str) -> tuple[float, str | None]:
        """The sample's time on the loop's clock: when its callback ran (``stamp="receive"``; the
        callbacks take the message only, as rclpy's EventsExecutor passes no MessageInfo), or its
        ``header.stamp`` carried over from the ROS clock (``stamp="header"``).

        Returns:
            (the time, None), or (now, a problem) for a stamp further ahead of this computer's
            clock than the spec's ``stale_timeout``: the clocks are not synchronized, and taking
            such a sample as new would hide its real age from the staleness checks.
        """
        if self.config.stamp == "receive":
            return now, None
        age = self._ros_clock.now().nanoseconds * 1e-9 - stamp_seconds(header.stamp)
        if age < -self._stamp_tolerance:
            return now, (
                f"{what} header.stamp is {-age:.3g} s ahead of this computer's clock: the clocks are not "
                "synchronized (stamp: header needs them synchronized; stamp: receive does not)"
            )
        return now - max(age, 0.0), None

    def _take_pending(self) -> None:
        """Take the newest delivered messages now and run their callbacks (``take_on_read``).

        A tick that runs after a stall of this process then sees the samples that arrived during
        the stall, instead of only those the executor dispatched before the tick.  Only with a
        shared node spun by a wait-set executor (``single``/``multi``) in the caller's thread:
        rclpy's EventsExecutor fails on events whose message was taken elsewhere.
        """
        for sub in self._subs:
            with sub.handle:
                while (taken := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
                    sub.callback(taken[0])

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("ros2 robot: %s", message)

    def _on_joint_state(self, msg: Any) -> None:
        now = self._clock()
        try:
            self._joint_state(msg, now)
        finally:  # counted once the sample (or why it is unusable) is kept: whoever waits on the count sees it
            self.counters.joint_states += 1

    def _joint_state(self, msg: Any, now: float) -> None:
        names = tuple(msg.name)
        index = self._map_cache.get(names, False)
        if index is False:
            index = joint_index_map(names, self._wanted)
            if len(self._map_cache) > 32:
                self._map_cache.clear()
            self._map_cache[names] = index
        problem = None
        n_names = len(names)
        if index is None:
            missing = [j for j in self._wanted if j not in names]
            problem = f"joint(s) {', '.join(missing) or 'duplicated'} missing from the JointState"
        elif len(msg.position) != n_names or len(msg.velocity) != n_names:
            problem = f"JointState has {n_names} names, {len(msg.position)} positions, {len(msg.velocity)} velocities"
        if problem is not None:
            self.counters.incomplete += 1
            self._warn_once(problem, problem + " (reading marked invalid)")
            with self._lock:
                self._joint_problem = (now, problem)
                self._seq += 1
                self._lock.notify_all()
            return
        assert isinstance(index, np.ndarray)
        q = np.frombuffer(msg.position, dtype=np.float64)[index]
        qd = np.frombuffer(msg.velocity, dtype=np.float64)[index]
        tau, tau_measured = self._efforts.read(msg.effort, index, n_names) or (None, None)
        t, problem = self._sample_time(msg.header, now, "JointState")
        if problem is not None:
            self.counters.incomplete += 1
            self._warn_once("stamp", problem + " (reading marked invalid)")
            with self._lock:
                self._joint_problem = (now, problem)
                self._seq += 1
                self._lock.notify_all()
            return
        with self._lock:
            latest = self._joint
            if latest is not None and t < latest.t:
                return  # reordered: keep the newer sample
            self._seq += 1
            self._joint = _JointSample(t, q, qd, tau, tau_measured, self._seq)
            self._joint_problem = None
            self._lock.notify_all()

    def _on_imu(self, msg: Any) -> None:
        now = self._clock()
        self.counters.imu += 1
        t, problem = self._sample_time(msg.header, now, "Imu")
        values = self._imu_reader.read(msg, t)  # in the IMU site's frame
        if problem is not None:
            self._warn_once("imu stamp", problem + " (reading marked invalid)")
        elif values.problem is not None:
            problem = values.problem
            key = "imu gravity" if self._imu_reader.gravity.invalid else "imu orientation"
            self._warn_once(key, values.problem + " (readings marked invalid while it lasts)")
        with self._lock:  # the sample and its problem together: a read never sees one without the other
            self._imu, self._imu_problem = _ImuSample(t, values.gyro, values.accel, values.quat), problem

    def _on_height(self, msg: Any) -> None:
        self.counters.base_height += 1
        self._height = (self._clock(), float(msg.data))

    @property
    def gives_base_lin_vel(self) -> bool:
        """Whether readings carry the base's linear velocity (a floating base with an odometry topic)."""
        return self._uses_odometry

    def _on_odometry(self, msg: Any) -> None:
        self.counters.odometry += 1
        v = msg.twist.twist.linear
        self._lin_vel = (self._clock(), np.array([v.x, v.y, v.z], dtype=float))

    # ------------------------------------------------------------------ Robot protocol

    def read(self) -> Reading:
        """The newest sample, assembled from the latest JointState, Imu, base height and odometry messages.

        Never blocks longer than ``config.read_timeout`` (< one control period).  Invalid
        (``valid=False``) when no JointState arrived yet, the newest one lacks a spec joint, or a
        required IMU / base height / odometry sample is missing or older than ``imu_timeout``.
        """
        return self._read(count=True)

    def ready(self, max_age: float | None = None) -> bool:
        """Whether a valid reading is available now (does not wait, counts nothing).

        Args:
            max_age: Also require the reading to be at most this old on the robot's clock [s]
                (None: any age).
        """
        return self.not_ready(max_age) is None

    def not_ready(self, max_age: float | None = None) -> str | None:
        """Why no valid reading (at most ``max_age`` old) is available now, or None when one is.

        One line for the user: which topic gave nothing, what a message lacked, how old the
        newest sample is (does not wait, counts nothing).
        """
        reading = self._read(count=False, wait=False)
        if not reading.valid:
            return self._problem
        age = self._clock() - reading.t
        if max_age is not None and age > max_age:
            return (
                f"the newest JointState is {age:.3g} s old (at most {max_age:g} s wanted){self._stamp_hint()}"
            )
        return None

    def unheard(self) -> str | None:
        """Why a command or a safe stop would reach no driver now (no subscriber on the command topic,
        or on the safe-mode topic, but recorders and viewers: a stop published there would leave the
        robot on its last command), or None when both are heard.  One line for the user.  A
        subscriber is no proof that the driver acts on the message: it is the check a graph allows."""
        return unheard(self.node, self.config.command_topic, self.config.safe_mode_topic if self._safe_pub else None)

    def _stamp_hint(self) -> str:
        return (
            " (from its header.stamp: is the robot's clock synchronized with this computer's?)"
            if self.config.stamp == "header"
            else ""
        )

    def _read(self, count: bool, wait: bool = True) -> Reading:
        timeout = self.config.read_timeout if wait else 0.0
        if timeout > 0 and self._thread is not None:
            deadline = self._clock() + timeout
            with self._lock:
                while self._seq == self._last_read_seq:
                    remaining = deadline - self._clock()
                    if remaining <= 0 or not self._lock.wait(remaining):
                        break
        elif self._take_on_read:
            self._take_pending()
        now = self._clock()
        with self._lock:
            sample, problem = self._joint, self._joint_problem
            imu, imu_problem = self._imu, self._imu_problem
            if count:
                self._last_read_seq = self._seq
        if sample is None or problem is not None:
            t = problem[0] if problem is not None else now
            if sample is not None:
                t = max(t, sample.t)
            self._problem = (
                problem[1] if problem is not None else f"no JointState on {self.config.joint_states_topic}"
            )
            return self._invalid(t, count)
        gyro = accel = quat = None
        if self._uses_imu:
            if imu is None or imu_problem is not None or now - imu.t > self._imu_timeout:
                self._problem = imu_problem or self._age_problem(
                    "IMU sample", self.config.imu_topic, imu and imu.t, now
                )
                if count:
                    self._warn_once("imu", f"{self._problem} (reading marked invalid)")
                return self._invalid(sample.t, count)
            gyro, accel, quat = imu.gyro, imu.accel, imu.quat
        height = None
        if self._uses_height:
            h = self._height
            if h is None or now - h[0] > self._imu_timeout:
                self._problem = self._age_problem(
                    "base height", self.config.base_height_topic, h and h[0], now
                )
                if count:
                    self._warn_once("height", f"{self._problem} (reading marked invalid)")
                return self._invalid(sample.t, count)
            height = h[1]
        lin_vel = None
        if self._uses_odometry:
            o = self._lin_vel
            if o is None or now - o[0] > self._imu_timeout:
                self._problem = self._age_problem("odometry", self.config.odometry_topic, o and o[0], now)
                if count:
                    self._warn_once("odometry", f"{self._problem} (reading marked invalid)")
                return self._invalid(sample.t, count)
            lin_vel = o[1]
        self._problem = None
        return Reading(
            t=sample.t,
            q=sample.q,
            qd=sample.qd,
            tau=sample.tau,
            tau_measured=sample.tau_measured,
            gyro=gyro,
            accel=accel,
            quat=quat,
            base_height=height,
            base_lin_vel=lin_vel,
            valid=True,
        )

    def _age_problem(self, what: str, topic: str | None, t: float | None, now: float) -> str:
        """Why an IMU, base height or odometry sample is not recent enough, in one line."""
        if t is None:
            return f"no {what} on {topic}"
        hint = self._stamp_hint() if what.startswith("IMU") else ""
        return f"the newest {what} on {topic} is {now - t:.3g} s old (limit {self._imu_timeout:g} s){hint}"

    def _invalid(self, t: float, count: bool = True) -> Reading:
        if count:
            self.counters.invalid_readings += 1
        return Reading.dropped(t, self._n)

    def write(self, command: Command) -> None:
        """Publish a command: normal and hold commands as values; a safe command as safe mode."""
        values = command.values
        if values.shape != (self._m,):
            raise Sim2RealError(f"command has shape {values.shape}, the robot has {self._m} actuators")
        if command.mode == "safe":
            if self.sends_safe_values and not command.measured and self._command_pd.any():
                # no good reading yet: a pd joint's "safe" value is the default pose, not a hold
                self._safe_values_out = True  # nothing normal was sent either: the driver keeps its state
                self._stop_quietly()
                log.error(
                    "ros2 robot %s: safe mode before any usable joint reading: no values sent on %s "
                    "(a position target would be the default pose, not where the joints are)",
                    self.spec.name,
                    self.config.command_topic,
                )
                return
            self._stop_quietly()
            if not self.sends_safe_values:
                return
        elif self._safe_state is not False:
            self._publish_safe(False)
        self._publish_values(values, safe=command.mode == "safe")

    @property
    def sends_safe_values(self) -> bool:
        """Whether this robot's safe mode is the safe command's values on the command topic
        (``safe_values_on_command_topic``): it is stopped with ``write(safe command)``, since
        :meth:`stop` alone has no values to send."""
        return bool(self.config.safe_values_on_command_topic)

    def _publish_values(self, values: np.ndarray, safe: bool = False) -> None:
        ordered = values[self._order[self._slots]]
        with self._publish_lock:
            msg = self._command_msg
            if self.config.command_type == "std_msgs/msg/Float64MultiArray":
                data = self._fixed.copy()  # empty slots 0.0, locked joints their hold position
                data[self._slots] = ordered
                msg.data = float_array(data)
            else:
                msg.header.stamp = self._ros_clock.now().to_msg()
                position, effort = joint_command_fields(ordered, self._command_pd)
                msg.position, msg.effort = float_array(position), float_array(effort)
            self._command_pub.publish(msg)
            self.counters.commands += 1
            self._safe_values_out = safe

    def _publish_safe(self, safe: bool) -> None:
        self._safe_state = safe
        if self._safe_pub is not None:
            self._safe_pub.publish(self._bool(data=safe))
            self.counters.safe_mode += 1

    def stop(self) -> None:
        """Enter the robot's safe mode: publish True on the safe-mode topic (once per entry).

        A robot whose safe mode is values (:attr:`sends_safe_values`) needs them written
        (``write(safe command)``, what the control loop's stop paths do); stopped without them after
        a normal command, the driver keeps that command, and this says so as an error."""
        if self.sends_safe_values and not self._safe_values_out:
            log.error(
                "ros2 robot %s: stopped without safe values after a normal command: the driver on %s "
                "keeps the last command (write the monitor's safe command to stop it)",
                self.spec.name,
                self.config.command_topic,
            )
        self._stop_quietly()

    def _stop_quietly(self) -> None:
        if self._safe_state is not True:
            self._publish_safe(True)
            log.info("ros2 robot %s: safe mode requested", self.spec.name)

    def close(self) -> None:
        """Enter safe mode, wait (briefly) until it is acknowledged, and release what it owns."""
        if self._closed:
            return
        try:
            if self.node.context.ok():
                self.stop()
                if self._safe_pub is not None and self.config.safe_mode_qos.reliability == "reliable":
                    from rclpy.duration import Duration

                    self._safe_pub.wait_for_all_acked(Duration(seconds=0.5))
        finally:
            self._closed = True
            context = self.node.context
            if self._executor is not None:
                self._executor.shutdown(timeout_sec=1.0)
            if self._owns_node:
                self.node.destroy_node()
                if self._owns_context:
                    context.try_shutdown()
            elif context.ok():
                for sub in self._subs:
                    self.node.destroy_subscription(sub)
                self.node.destroy_publisher(self._command_pub)
                if self._safe_pub is not None:
                    self.node.destroy_publisher(self._safe_pub)
            if self._thread is not None:
                self._thread.join(timeout=2.0)

    # ------------------------------------------------------------------ waiting on the graph

    def wait_for_robot(self, timeout: float) -> bool:
        """Wait until the robot is matched (a JointState publisher, a command subscriber and a
        safe-mode subscriber: :meth:`unheard`) and a valid reading is available.  Only with an own
        executor (else spin the node yourself).

        Returns:
            Whether it happened within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self._subs[0].get_publisher_count() > 0
                and self.unheard() is None
                and self.ready()
            ):
                return True
            with self._lock:
                self._lock.wait(0.01)
        return False

    @property
    def safe_mode_requested(self) -> bool:
        """Whether the last thing published on the safe-mode topic was True."""
        return self._safe_state is True

    def __enter__(self) -> Ros2Robot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
