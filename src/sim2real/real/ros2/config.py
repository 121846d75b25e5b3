"""How a robot is reached over ROS 2: topics, message types, QoS and the joint-name mapping.

:class:`Ros2Config` is a frozen dataclass, loaded from YAML or from the spec's ``ros2:`` section
and checked against the spec; :func:`joint_index_map` finds the spec's joints in a message BY
NAME (a driver may publish them in any order, and more joints than the spec has).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from sim2real.errors import Sim2RealError
from sim2real.robots.spec import NO_JOINT, RobotSpec
from sim2real.text import read_text

__all__ = [
    "COMMAND_QOS",
    "COMMAND_TYPES",
    "LATCHED_QOS",
    "SENSOR_QOS",
    "TOPIC_FIELDS",
    "QosSettings",
    "Ros2Config",
    "Ros2ConfigError",
    "joint_index_map",
    "topic_name_problem",
]

COMMAND_TYPES: tuple[str, ...] = ("std_msgs/msg/Float64MultiArray", "sensor_msgs/msg/JointState")
"""Message types the joint commands can be published as."""

TOPIC_FIELDS: tuple[str, ...] = (
    "joint_states_topic",
    "imu_topic",
    "base_height_topic",
    "odometry_topic",
    "command_topic",
    "safe_mode_topic",
)
"""The fields of :class:`Ros2Config` that name topics (``joint_states_topic`` and ``command_topic``
are required)."""


class Ros2ConfigError(Sim2RealError):
    """A ROS 2 interface setting is malformed or contradicts the robot spec."""


def topic_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid ROS 2 topic name (relative and ``~`` names allowed), or None.

    Checked as rcl checks it when the subscription or publisher is created (after expansion for a
    node at the root namespace), so that a bad name is a config error, not rclpy's exception.
    """
    from rclpy.exceptions import NameValidationException
    from rclpy.expand_topic_name import expand_topic_name
    from rclpy.validate_full_topic_name import validate_full_topic_name
    from rclpy.validate_topic_name import validate_topic_name

    if not isinstance(name, str) or not name:
        return "not a non-empty string"
    try:
        validate_topic_name(name)
        validate_full_topic_name(expand_topic_name(name, "sim2real", "/"))
    except (NameValidationException, ValueError) as exc:  # ValueError: an unknown {substitution}
        return str(exc).splitlines()[0].removeprefix("Invalid topic name: ").rstrip(":").split(", at /")[0]
    return None


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
    odometry_topic: str | None = None
    """nav_msgs/msg/Odometry from the robot's state estimator, used for floating-base robots: its
    ``twist.twist.linear`` (in ``child_frame_id``, the base frame, as REP 105 has it) is
    ``Reading.base_lin_vel``, which a policy that observes the base's linear velocity needs and
    the speed stages' cap checks; None: the readings carry none."""
    command_topic: str = "/joint_commands"
    """Where joint commands are published."""
    command_type: str = "std_msgs/msg/Float64MultiArray"
    """``std_msgs/msg/Float64MultiArray`` (values in ``command_joints`` order) or
    ``sensor_msgs/msg/JointState`` (named; a pd actuator's target [rad] in ``position``, a torque
    [N m] or a DC motor's voltage [V] in ``effort``; a robot with both kinds fills both, NaN where a
    joint has no value, as ros2_control does: :func:`joint_command_fields`)."""
    command_joints: tuple[str, ...] | None = None
    """Robot-side joint names in the order the robot's controller expects the command values, ``-``
    for a slot of a Float64MultiArray that drives none of them (sent as 0.0); None: the spec's motor
    order (``motor_order``: an imported policy's robot states it; one with empty slots must state
    this), else its actuator order.  Must name exactly the actuated joints."""
    safe_mode_topic: str | None = "/sim2real/safe_mode"
    """std_msgs/msg/Bool: True enters the robot's safe mode, False leaves it; None: no topic."""
    safe_values_on_command_topic: bool = False
    """Also publish a safe command's values (the safety monitor's equivalent of the safe-mode
    torque) on the command topic, for robots without a safe-mode topic: damping at the current
    reading; without a current reading, zero torque (a pd actuator: its target at the last measured
    position, a hold, not damping).  With ``safe_mode_topic: null`` this must be true: a safe stop
    must reach the robot somehow."""
    joint_names: Mapping[str, str] = field(default_factory=dict)
    """Spec joint name -> robot (ROS) joint name; joints not listed keep their name."""
    state_qos: QosSettings = SENSOR_QOS
    """QoS of the joint state, IMU, base height and odometry subscriptions."""
    command_qos: QosSettings = COMMAND_QOS
    """QoS of the command publisher."""
    safe_mode_qos: QosSettings = LATCHED_QOS
    """QoS of the safe-mode publisher."""
    stamp: Literal["receive", "header"] = "receive"
    """``Reading.t`` from the arrival time (``receive``) or from ``header.stamp`` (``header``)."""
    imu_timeout: float | None = None
    """An IMU (or base height, or odometry) sample older than this makes the reading invalid [s]; None: the
    spec's ``safety.stale_timeout``."""
    read_timeout: float = 0.0
    """How long :meth:`Ros2Robot.read` may wait for a sample newer than the last one it returned
    [s]; 0: never wait.  Must be below the control period.  Only waits when the robot spins its
    own executor (with a shared node the callbacks cannot run while ``read`` waits)."""

    def __post_init__(self) -> None:
        for name in TOPIC_FIELDS:
            value = getattr(self, name)
            if value is None and name not in ("joint_states_topic", "command_topic"):
                continue
            problem = topic_name_problem(value)
            if problem is not None:
                raise Ros2ConfigError(f"ros2 config: {name} must be a topic name, got {value!r}: {problem}")
        if self.command_type not in COMMAND_TYPES:
            raise Ros2ConfigError(
                f"ros2 config: command_type must be one of {', '.join(COMMAND_TYPES)}, got {self.command_type!r}"
            )
        if self.safe_mode_topic is None and not self.safe_values_on_command_topic:
            raise Ros2ConfigError(
                "ros2 config: safe_mode_topic is null and safe_values_on_command_topic is false: a safe stop "
                "would publish nothing and the robot would keep its last command; name the robot's safe-mode "
                "topic, or set safe_values_on_command_topic: true"
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
        stale = float(spec.safety.stale_timeout)
        if self.imu_timeout is not None and self.imu_timeout > stale:
            raise Ros2ConfigError(
                f"ros2 config: imu_timeout {self.imu_timeout:g} s is above the spec's safety.stale_timeout "
                f"{stale:g} s: the tilt and height checks and the policy would run on IMU, base height or "
                "odometry samples the safety layer counts as stale; give at most stale_timeout (null: it)"
            )
        unknown = sorted(set(self.joint_names) - set(spec.joints))
        if unknown:
            raise Ros2ConfigError(
                f"ros2 config: joint_names maps unknown joint(s) {', '.join(unknown)} "
                f"(robot {spec.name} has {', '.join(spec.joints)})"
            )
        seen: dict[str, str] = {}
        for joint in spec.joints:  # a joint left unmapped keeps its name, which another may be mapped to
            robot = self.robot_joint(joint)
            if robot in seen:
                raise Ros2ConfigError(
                    f"ros2 config: joint_names gives {seen[robot]} and {joint} the same robot joint {robot!r}: "
                    "one would be read and commanded twice and the other never"
                )
            seen[robot] = joint
        if self.command_joints is not None:
            expected = sorted(self.robot_joint(j) for j in spec.actuated_joints)
            fixed = (NO_JOINT, *spec.locked_joints)
            if sorted(j for j in self.command_joints if j not in fixed) != expected:
                raise Ros2ConfigError(
                    f"ros2 config: command_joints {list(self.command_joints)} must name exactly the actuated "
                    f"joints {expected} ({NO_JOINT} for a slot of the array that drives none of them)"
                )
            if len(set(self.command_joints) - {NO_JOINT}) != len([j for j in self.command_joints if j != NO_JOINT]):
                raise Ros2ConfigError(f"ros2 config: command_joints {list(self.command_joints)} names a joint twice")
            if set(fixed) & set(self.command_joints) and self.command_type != "std_msgs/msg/Float64MultiArray":
                raise Ros2ConfigError(
                    f"ros2 config: command_joints has an empty slot ({NO_JOINT}) or a locked joint, which only a "
                    f"Float64MultiArray command has; a {self.command_type} names its joints"
                )
            unnamed = [j for j in spec.locked_joints if j not in self.command_joints]
            if NO_JOINT in self.command_joints and unnamed:
                raise Ros2ConfigError(
                    f"ros2 config: the spec locks {', '.join(unnamed)} (the robot's own controller holds them) and "
                    f"command_joints has an empty slot ({NO_JOINT}), sent as 0.0, which would drive a locked joint to 0 "
                    "if the slot is its: name each locked joint in its slot (its hold position is sent there)"
                )
        elif spec.empty_slots and self.command_type == "std_msgs/msg/Float64MultiArray":
            slots = ", ".join(map(str, spec.empty_slots))
            raise Ros2ConfigError(
                f"ros2 config: the spec's motor_order leaves motor slot(s) {slots} without a joint, so the command "
                "array's layout is not known: state it with command_joints (the joints in the order the driver "
                f"reads the array; {NO_JOINT} where it expects a slot of its own, sent as 0.0), e.g. "
                f"[{', '.join(self.robot_joint(j) if j != NO_JOINT else j for j in spec.motor_order)}]"
            )
        if self.read_timeout >= spec.control_dt:
            raise Ros2ConfigError(
                f"ros2 config: read_timeout {self.read_timeout} s must be below the control period {spec.control_dt} s"
            )

    def command_order(self, spec: RobotSpec) -> np.ndarray:
        """Index into the spec's actuator order for each value of a command message, shape (n_values,):
        ``command_joints`` (-1 for an empty slot, :data:`NO_JOINT`, or a locked joint: its value is
        :meth:`fixed_values`'), else the spec's
        motor order (:attr:`RobotSpec.motors`)."""
        actuated = [self.robot_joint(a.joint) for a in spec.actuators]
        if self.command_joints is not None:
            order = self.command_joints
        else:
            order = tuple(self.robot_joint(j) for j in spec.motors)
        return np.array([actuated.index(name) if name in actuated else -1 for name in order], dtype=np.int64)

    def fixed_values(self, spec: RobotSpec) -> np.ndarray:
        """The values of a command message's slots that carry no actuator (-1 in :meth:`command_order`),
        shape (n_values,): a locked joint's hold position, 0.0 for an empty slot (:data:`NO_JOINT`);
        0.0 elsewhere (those slots are the actuators')."""
        order = self.command_joints if self.command_joints is not None else spec.motors
        return np.array([float(spec.locked_joints.get(name, 0.0)) for name in order], dtype=float)

    def digest(self) -> str:
        """sha256 (hex) of the settings (:meth:`to_mapping`): what a preflight record names, so that a
        deployment runs with the settings its checklist passed with."""
        return hashlib.sha256(json.dumps(self.to_mapping(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def resolve(cls, spec: RobotSpec, path: str | Path | None) -> Ros2Config:
        """The config a command runs with: the YAML file ``path`` when given, else the spec's ``ros2:``."""
        return cls.load(path) if path else cls.from_spec(spec)

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
            raw = yaml.safe_load(read_text(path, Ros2ConfigError, "ROS 2 config")) or {}
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


def joint_index_map(message_names: Sequence[str], wanted: Sequence[str]) -> np.ndarray | None:
    """Where each wanted joint is in a message's ``name`` list.

    Args:
        message_names: The message's joint names, in message order.
        wanted: The joints to find (robot-side names), in the order the result should have.

    Returns:
        Shape (len(wanted),) int64 indices into the message arrays, or None when a wanted joint is
        missing or appears twice in the message or in ``wanted`` (the message cannot be used).
    """
    if len(set(wanted)) != len(wanted):
        return None
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


def joint_command_fields(values: np.ndarray, pd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A JointState command's ``position`` and ``effort`` arrays (ros2_control's convention).

    Args:
        values: Command values in message order, shape (n,): pd targets [rad], torques [N m] or
            voltages [V].
        pd: Whether each value is a pd actuator's position target, shape (n,) bool.

    Returns:
        (position, effort): an array is empty when no value belongs in it, and NaN where a joint's
        value is in the other one.
    """
    pd = np.asarray(pd, dtype=bool)
    values = np.asarray(values, dtype=float)
    if pd.all() or not pd.any():
        return (values, np.empty(0)) if pd.all() else (np.empty(0), values)
    return np.where(pd, values, np.nan), np.where(pd, np.nan, values)


def joint_command_values(
    names: list[str], position: np.ndarray, effort: np.ndarray, want: list[str], pd: np.ndarray
) -> np.ndarray | None:
    """The values of a JointState command for the joints ``want``, shape (len(want),), or None.

    The inverse of :func:`joint_command_fields`: a pd joint's value from ``position``, another's
    from ``effort``; None when a wanted joint is missing or an array it needs is not one per name.
    """
    out = np.empty(len(want))
    for i, (joint, is_pd) in enumerate(zip(want, pd, strict=True)):
        data = position if is_pd else effort
        if joint not in names or len(data) != len(names):
            return None
        out[i] = data[names.index(joint)]
    return out
