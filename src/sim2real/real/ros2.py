"""Ros2Robot: the Robot protocol over ROS 2 (rclpy), for any robot that speaks ROS 2.

What it talks (every name, type and QoS is a field of :class:`Ros2Config`)::

    subscribes  /joint_states        sensor_msgs/msg/JointState   joint order mapped BY NAME
                /imu/data            sensor_msgs/msg/Imu          (robots with an IMU)
                /base_height         std_msgs/msg/Float64         (floating-base robots; a state estimator)
    publishes   /joint_commands      std_msgs/msg/Float64MultiArray (or sensor_msgs/msg/JointState)
                /sim2real/safe_mode  std_msgs/msg/Bool            True: enter the spec's safe mode

**Joint order.** The joints of a JointState message are found by name, never by position: a driver
may publish them in any order, and more joints than the spec has.  A message that lacks one of the
spec's joints (or has no velocities, or arrays of the wrong length) gives a reading with
``valid=False``, which the safety layer treats as stale (hold, then safe stop after
``stale_timeout``).  ``Ros2Config.joint_names`` maps the spec's joint names to the robot's.

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

A missing ``ros2`` extra is a :class:`~sim2real.errors.MissingExtraError` at import.
"""

from __future__ import annotations

import array
import importlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from sim2real.errors import MissingExtraError, Sim2RealError
from sim2real.real.protocol import Command, Reading
from sim2real.robots.spec import RobotSpec


def _import_rclpy() -> Any:
    """``rclpy``, or a MissingExtraError naming the ``ros2`` extra when it is not installed."""
    try:
        return importlib.import_module("rclpy")
    except ModuleNotFoundError as exc:
        if exc.name == "rclpy":
            raise MissingExtraError("ros2", "rclpy") from None
        raise


rclpy = _import_rclpy()

from rclpy.context import Context  # noqa: E402  (after the extra check)
from rclpy.node import Node  # noqa: E402
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402

__all__ = [
    "COMMAND_TYPES",
    "Context",
    "Node",
    "QosSettings",
    "Ros2Config",
    "Ros2ConfigError",
    "Ros2Robot",
    "float_array",
    "joint_index_map",
    "make_executor",
    "new_context",
]

log = logging.getLogger(__name__)

COMMAND_TYPES: tuple[str, ...] = ("std_msgs/msg/Float64MultiArray", "sensor_msgs/msg/JointState")
"""Message types the joint commands can be published as."""

ExecutorKind = Literal["events", "single", "multi"]


class Ros2ConfigError(Sim2RealError):
    """A ROS 2 interface setting is malformed or contradicts the robot spec."""


# --------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class QosSettings:
    """The QoS of one topic (the policies that matter for matching; see the ROS 2 QoS docs)."""

    reliability: Literal["reliable", "best_effort"] = "reliable"
    """``reliable`` or ``best_effort``.  A best-effort subscriber matches both kinds of publisher; a
    reliable publisher matches both kinds of subscriber."""
    durability: Literal["volatile", "transient_local"] = "volatile"
    """``transient_local``: late-joining subscribers get the last ``depth`` messages."""
    depth: int = 1
    """History depth (keep last)."""

    def __post_init__(self) -> None:
        if self.reliability not in ("reliable", "best_effort"):
            raise Ros2ConfigError(
                f"QoS reliability must be reliable or best_effort, got {self.reliability!r}"
            )
        if self.durability not in ("volatile", "transient_local"):
            raise Ros2ConfigError(
                f"QoS durability must be volatile or transient_local, got {self.durability!r}"
            )
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise Ros2ConfigError(f"QoS depth must be a positive integer, got {self.depth!r}")

    def profile(self) -> QoSProfile:
        """The rclpy QoSProfile."""
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self.depth,
            reliability=ReliabilityPolicy.RELIABLE
            if self.reliability == "reliable"
            else ReliabilityPolicy.BEST_EFFORT,
            durability=(
                DurabilityPolicy.TRANSIENT_LOCAL
                if self.durability == "transient_local"
                else DurabilityPolicy.VOLATILE
            ),
        )


SENSOR_QOS = QosSettings(reliability="best_effort", depth=1)
"""Default QoS of the state subscriptions: best effort (matches every publisher), newest only."""
COMMAND_QOS = QosSettings(reliability="reliable", depth=1)
"""Default QoS of the command publisher: reliable (matches every subscriber, e.g. ros2_control's)."""
LATCHED_QOS = QosSettings(reliability="reliable", durability="transient_local", depth=1)
"""Default QoS of the safe-mode topic: reliable and latched."""


@dataclass(frozen=True)
class Ros2Config:
    """How a robot is reached over ROS 2.  Loadable from YAML (:meth:`load`); every field optional."""

    joint_states_topic: str = "/joint_states"
    """sensor_msgs/msg/JointState: position [rad], velocity [rad/s], effort [N m] (optional)."""
    imu_topic: str | None = "/imu/data"
    """sensor_msgs/msg/Imu, used when the spec has an IMU; None: readings carry no IMU values (the
    safety monitor then stops a robot whose spec limits tilt; a policy that needs them cannot run)."""
    base_height_topic: str | None = "/base_height"
    """std_msgs/msg/Float64 [m] from a state estimator, used for floating-base robots; None: none."""
    command_topic: str = "/joint_commands"
    """Where joint commands are published."""
    command_type: str = "std_msgs/msg/Float64MultiArray"
    """``std_msgs/msg/Float64MultiArray`` (values in ``command_joints`` order) or
    ``sensor_msgs/msg/JointState`` (named; ``position`` for pd actuators, ``effort`` otherwise)."""
    command_joints: tuple[str, ...] | None = None
    """Robot-side joint names in the order the robot's controller expects the command values;
    None: the spec's actuator order.  Must name exactly the actuated joints."""
    safe_mode_topic: str | None = "/sim2real/safe_mode"
    """std_msgs/msg/Bool: True enters the robot's safe mode, False leaves it; None: no topic."""
    safe_values_on_command_topic: bool = False
    """Also publish a safe command's values (the safety monitor's equivalent of the safe-mode
    torque) on the command topic, for robots without a safe-mode topic."""
    joint_names: Mapping[str, str] = field(default_factory=dict)
    """Spec joint name -> robot (ROS) joint name; joints not listed keep their name."""
    state_qos: QosSettings = SENSOR_QOS
    """QoS of the joint state, IMU and base height subscriptions."""
    command_qos: QosSettings = COMMAND_QOS
    """QoS of the command publisher."""
    safe_mode_qos: QosSettings = LATCHED_QOS
    """QoS of the safe-mode publisher."""
    stamp: Literal["receive", "header"] = "receive"
    """``Reading.t`` from the arrival time (``receive``) or from ``header.stamp`` (``header``)."""
    imu_timeout: float | None = None
    """An IMU (or base height) sample older than this makes the reading invalid [s]; None: the
    spec's ``safety.stale_timeout``."""
    read_timeout: float = 0.0
    """How long :meth:`Ros2Robot.read` may wait for a sample newer than the last one it returned
    [s]; 0: never wait.  Must be below the control period.  Only waits when the robot spins its
    own executor (with a shared node the callbacks cannot run while ``read`` waits)."""

    def __post_init__(self) -> None:
        for name in ("joint_states_topic", "command_topic"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise Ros2ConfigError(f"ros2 config: {name} must be a topic name")
        if self.command_type not in COMMAND_TYPES:
            raise Ros2ConfigError(
                f"ros2 config: command_type must be one of {', '.join(COMMAND_TYPES)}, got {self.command_type!r}"
            )
        if self.stamp not in ("receive", "header"):
            raise Ros2ConfigError(f"ros2 config: stamp must be receive or header, got {self.stamp!r}")
        object.__setattr__(self, "joint_names", dict(self.joint_names))
        robot_names = list(self.joint_names.values())
        if len(set(robot_names)) != len(robot_names):
            raise Ros2ConfigError(f"ros2 config: joint_names maps two joints to one name: {robot_names}")
        if self.command_joints is not None:
            object.__setattr__(self, "command_joints", tuple(str(j) for j in self.command_joints))
        for name in ("imu_timeout", "read_timeout"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value >= 0
            ):
                raise Ros2ConfigError(
                    f"ros2 config: {name} must be a non-negative number of seconds, got {value!r}"
                )
        for name in ("state_qos", "command_qos", "safe_mode_qos"):
            if not isinstance(getattr(self, name), QosSettings):
                raise Ros2ConfigError(f"ros2 config: {name} must be QosSettings")

    # ------------------------------------------------------------------ mapping

    def robot_joint(self, spec_joint: str) -> str:
        """The robot-side name of a spec joint."""
        return self.joint_names.get(spec_joint, spec_joint)

    def check(self, spec: RobotSpec) -> None:
        """Raise Ros2ConfigError when the config does not fit the spec."""
        unknown = sorted(set(self.joint_names) - set(spec.joints))
        if unknown:
            raise Ros2ConfigError(
                f"ros2 config: joint_names maps unknown joint(s) {', '.join(unknown)} "
                f"(robot {spec.name} has {', '.join(spec.joints)})"
            )
        if self.command_joints is not None:
            expected = sorted(self.robot_joint(j) for j in spec.actuated_joints)
            if sorted(self.command_joints) != expected:
                raise Ros2ConfigError(
                    f"ros2 config: command_joints {list(self.command_joints)} must name exactly the actuated "
                    f"joints {expected}"
                )
        if self.read_timeout >= spec.control_dt:
            raise Ros2ConfigError(
                f"ros2 config: read_timeout {self.read_timeout} s must be below the control period {spec.control_dt} s"
            )

    def command_order(self, spec: RobotSpec) -> np.ndarray:
        """Index into the spec's actuator order for each value of a command message, shape (n_actions,)."""
        actuated = [self.robot_joint(a.joint) for a in spec.actuators]
        order = self.command_joints if self.command_joints is not None else tuple(actuated)
        return np.array([actuated.index(name) for name in order], dtype=np.int64)

    # ------------------------------------------------------------------ YAML

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "ros2 config") -> Ros2Config:
        """A config from a plain mapping (e.g. parsed YAML); QoS entries are maps of QosSettings fields."""
        if not isinstance(raw, Mapping):
            raise Ros2ConfigError(f"{source}: expected a map of settings, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise Ros2ConfigError(
                f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key.endswith("_qos"):
                if not isinstance(value, Mapping):
                    raise Ros2ConfigError(f"{source}: {key} must be a map (reliability, durability, depth)")
                bad = sorted(set(value) - {"reliability", "durability", "depth"})
                if bad:
                    raise Ros2ConfigError(f"{source}: {key}: unknown key(s) {', '.join(bad)}")
                try:
                    value = QosSettings(**value)
                except Ros2ConfigError as exc:
                    raise Ros2ConfigError(f"{source}: {key}: {exc}") from None
            elif key == "command_joints" and value is not None:
                value = tuple(value)
            elif key == "joint_names":
                if not isinstance(value, Mapping):
                    raise Ros2ConfigError(f"{source}: joint_names must be a map spec name -> robot name")
                value = {str(k): str(v) for k, v in value.items()}
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except Ros2ConfigError as exc:
            raise Ros2ConfigError(
                f"{source}: {exc}".replace(f"{source}: ros2 config: ", f"{source}: ")
            ) from None
        except TypeError as exc:
            raise Ros2ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_spec(cls, spec: RobotSpec) -> Ros2Config:
        """The config of a spec's ``ros2:`` section (defaults when it has none)."""
        raw = (spec.raw or {}).get("ros2")
        return cls() if raw is None else cls.from_mapping(raw, f"{spec.path}: ros2")

    @classmethod
    def load(cls, path: str | Path) -> Ros2Config:
        """Read a config from YAML: a map of fields, at the top level or under a ``ros2:`` key."""
        path = Path(path)
        if not path.is_file():
            raise Ros2ConfigError(f"ros2 config not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            raise Ros2ConfigError(f"{path}: not valid YAML") from None
        if isinstance(raw, Mapping) and "ros2" in raw:
            raw = raw["ros2"] or {}
        return cls.from_mapping(raw, str(path))

    def to_mapping(self) -> dict[str, Any]:
        """Plain data for YAML (the inverse of :meth:`from_mapping`)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, QosSettings):
                value = {
                    "reliability": value.reliability,
                    "durability": value.durability,
                    "depth": value.depth,
                }
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out


# --------------------------------------------------------------------------------------------- helpers


def joint_index_map(message_names: Sequence[str], wanted: Sequence[str]) -> np.ndarray | None:
    """Where each wanted joint is in a message's ``name`` list.

    Args:
        message_names: The message's joint names, in message order.
        wanted: The joints to find (robot-side names), in the order the result should have.

    Returns:
        Shape (len(wanted),) int64 indices into the message arrays, or None when a wanted joint is
        missing or appears twice (the message cannot be used).
    """
    position: dict[str, int] = {}
    duplicated: set[str] = set()
    for i, name in enumerate(message_names):
        if name in position:
            duplicated.add(name)
        position[name] = i
    try:
        index = [position[name] for name in wanted]
    except KeyError:
        return None
    if duplicated.intersection(wanted):
        return None
    return np.array(index, dtype=np.int64)


def new_context(domain_id: int | None = None) -> Context:
    """A fresh, initialized rclpy context (its own DDS participant; shut it down when done)."""
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    return context


def make_executor(context: Context, kind: ExecutorKind = "events") -> Any:
    """An executor on ``context``: ``events`` (rclpy's EventsExecutor: the lowest overhead per
    callback, dispatched in arrival order; spin it in the main thread only), ``single``
    (SingleThreadedExecutor) or ``multi`` (MultiThreadedExecutor)."""
    if kind == "events":
        from rclpy.experimental import EventsExecutor

        return EventsExecutor(context=context)
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    if kind == "single":
        return SingleThreadedExecutor(context=context)
    if kind == "multi":
        return MultiThreadedExecutor(context=context)
    raise Ros2ConfigError(f"executor must be events, single or multi, got {kind!r}")


def _message_class(type_name: str) -> Any:
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def float_array(values: np.ndarray) -> array.array:
    """A float64 array.array (what rclpy stores float64[] message fields as) from a numpy array."""
    out = array.array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def stamp_seconds(stamp: Any) -> float:
    """A builtin_interfaces/Time as float seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


@dataclass(frozen=True, eq=False)
class _JointSample:
    t: float
    q: np.ndarray
    qd: np.ndarray
    tau: np.ndarray | None
    seq: int


@dataclass(frozen=True, eq=False)
class _ImuSample:
    t: float
    gyro: np.ndarray
    accel: np.ndarray
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
        self._order = config.command_order(spec)
        self._command_names = [config.robot_joint(spec.actuators[i].joint) for i in self._order]
        self._imu_timeout = float(
            config.imu_timeout if config.imu_timeout is not None else spec.safety.stale_timeout
        )
        self.counters = Ros2Counters()
        self._lock = threading.Condition()
        self._map_cache: dict[tuple[str, ...], np.ndarray | None] = {}
        self._joint: _JointSample | None = None
        self._joint_problem: tuple[float, str] | None = None
        self._imu: _ImuSample | None = None
        self._height: tuple[float, float] | None = None
        self._seq = 0
        self._last_read_seq = -1
        self._safe_state: bool | None = None
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

        if config.command_type == "std_msgs/msg/Float64MultiArray":
            self._command_msg = Float64MultiArray()
            self._command_msg.layout.dim = [MultiArrayDimension(label="joints", size=self._m, stride=self._m)]
            self._command_pub = node.create_publisher(
                Float64MultiArray, config.command_topic, config.command_qos.profile()
            )
        else:
            self._command_msg = JointState()
            self._command_msg.name = list(self._command_names)
            self._command_pub = node.create_publisher(
                JointState, config.command_topic, config.command_qos.profile()
            )
        models = [spec.actuators[i].model for i in self._order]
        self._command_field = "position" if all(m == "pd" for m in models) else "effort"
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
            "ros2 robot %s: states %s, commands %s (%s)%s",
            spec.name,
            config.joint_states_topic,
            config.command_topic,
            config.command_type,
            f", safe mode {config.safe_mode_topic}" if config.safe_mode_topic else "",
        )

    # ------------------------------------------------------------------ subscriptions

    def _spin(self) -> None:
        assert self._executor is not None
        try:
            self._executor.spin()
        except Exception as exc:  # an executor shut down under it raises rclpy's own types
            if not self._closed:
                log.error("ros2 robot: executor stopped: %s", exc)

    def _sample_time(self, header: Any, now: float) -> float:
        """The sample's time on the loop's clock: when its callback ran (``stamp="receive"``; the
        callbacks take the message only, as rclpy's EventsExecutor passes no MessageInfo), or its
        ``header.stamp`` carried over from the ROS clock (``stamp="header"``)."""
        if self.config.stamp == "receive":
            return now
        age = self._ros_clock.now().nanoseconds * 1e-9 - stamp_seconds(header.stamp)
        return now - max(age, 0.0)

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
        self.counters.joint_states += 1
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
        tau = np.frombuffer(msg.effort, dtype=np.float64)[index] if len(msg.effort) == n_names else None
        t = self._sample_time(msg.header, now)
        with self._lock:
            latest = self._joint
            if latest is not None and t < latest.t:
                return  # reordered: keep the newer sample
            self._seq += 1
            self._joint = _JointSample(t, q, qd, tau, self._seq)
            self._joint_problem = None
            self._lock.notify_all()

    def _on_imu(self, msg: Any) -> None:
        now = self._clock()
        self.counters.imu += 1
        g, a, o = msg.angular_velocity, msg.linear_acceleration, msg.orientation
        quat = None if msg.orientation_covariance[0] == -1.0 else np.array([o.w, o.x, o.y, o.z])
        self._imu = _ImuSample(
            self._sample_time(msg.header, now),
            np.array([g.x, g.y, g.z]),
            np.array([a.x, a.y, a.z]),
            quat,
        )

    def _on_height(self, msg: Any) -> None:
        self.counters.base_height += 1
        self._height = (self._clock(), float(msg.data))

    # ------------------------------------------------------------------ Robot protocol

    def read(self) -> Reading:
        """The newest sample, assembled from the latest JointState, Imu and base height messages.

        Never blocks longer than ``config.read_timeout`` (< one control period).  Invalid
        (``valid=False``) when no JointState arrived yet, the newest one lacks a spec joint, or a
        required IMU / base height sample is missing or older than ``imu_timeout``.
        """
        return self._read(count=True)

    def ready(self) -> bool:
        """Whether a valid reading is available now (does not wait, counts nothing)."""
        return self._read(count=False, wait=False).valid

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
            if count:
                self._last_read_seq = self._seq
        if sample is None or problem is not None:
            t = problem[0] if problem is not None else now
            if sample is not None:
                t = max(t, sample.t)
            return self._invalid(t, count)
        gyro = accel = quat = None
        if self._uses_imu:
            imu = self._imu
            if imu is None or now - imu.t > self._imu_timeout:
                if count:
                    self._warn_once("imu", "no recent IMU sample (reading marked invalid)")
                return self._invalid(sample.t, count)
            gyro, accel, quat = imu.gyro, imu.accel, imu.quat
        height = None
        if self._uses_height:
            h = self._height
            if h is None or now - h[0] > self._imu_timeout:
                if count:
                    self._warn_once("height", "no recent base height sample (reading marked invalid)")
                return self._invalid(sample.t, count)
            height = h[1]
        return Reading(
            t=sample.t,
            q=sample.q,
            qd=sample.qd,
            tau=sample.tau,
            gyro=gyro,
            accel=accel,
            quat=quat,
            base_height=height,
            valid=True,
        )

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
            self.stop()
            if not self.config.safe_values_on_command_topic:
                return
        elif self._safe_state is not False:
            self._publish_safe(False)
        self._publish_values(values)

    def _publish_values(self, values: np.ndarray) -> None:
        ordered = float_array(values[self._order])
        msg = self._command_msg
        if self.config.command_type == "std_msgs/msg/Float64MultiArray":
            msg.data = ordered
        else:
            msg.header.stamp = self._ros_clock.now().to_msg()
            setattr(msg, self._command_field, ordered)
        self._command_pub.publish(msg)
        self.counters.commands += 1

    def _publish_safe(self, safe: bool) -> None:
        self._safe_state = safe
        if self._safe_pub is not None:
            self._safe_pub.publish(self._bool(data=safe))
            self.counters.safe_mode += 1

    def stop(self) -> None:
        """Enter the robot's safe mode: publish True on the safe-mode topic (once per entry)."""
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
        """Wait until the robot is matched (a JointState publisher and a command subscriber) and a
        valid reading is available.  Only with an own executor (else spin the node yourself).

        Returns:
            Whether it happened within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self._subs[0].get_publisher_count() > 0
                and self._command_pub.get_subscription_count() > 0
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
