"""Which topics of a rosbag2 bag hold the joint states, the commands, the IMU readings and the base's
odometry.

sim2real writes ``/joint_states``, ``/joint_commands``, ``/imu/data`` and ``/odom``.  Bags of other
recorders name these after their drivers and controllers: ros2_control's forward command
controllers publish ``std_msgs/msg/Float64MultiArray`` on ``/<controller>/commands``, its joint
trajectory controller takes ``trajectory_msgs/msg/JointTrajectory`` on
``/<controller>/joint_trajectory``, IMU drivers publish ``sensor_msgs/msg/Imu`` on ``/imu``,
``/imu/data_raw`` and the like, a legged robot's state estimator or ``robot_localization``
``nav_msgs/msg/Odometry`` on ``/odometry/filtered`` or ``/<estimator>/odom``.  Per role, in this order:

1. the topic the user named (``--topic ROLE=NAME``);
2. the standard name, when the bag has it;
3. the only topic of the role's types whose last name part says ``command`` (or is
   ``joint_trajectory``) for commands, and does not for the joint states (odometry: any but
   sim2real's ``/ground_truth/odom``); the choice is logged.  Several IMU or odometry topics are
   read as none, with a warning (both are optional).
   Unitree's ``LowState`` and ``LowCmd`` hold the joint states and the commands by their type,
   whatever the topic's name; of several, ``/lowstate`` and ``/lowcmd`` (beside the robot's
   low-frequency ``/lf/lowstate``) (:mod:`~.bag_unitree`).  Messages of both families
   (``unitree_go`` and ``unitree_hg``: two robots) are refused: in a bag of both, unless ``--topic``
   names both roles, and then the topics named must be one family's; on one topic, always.  A bag
   whose only robot state is Unitree's high-level (sport mode) messages is refused saying why.

Several candidates and no choice is one error line naming them and the option that chooses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim2real.errors import LogError
from sim2real.logs.bag_unitree import HIGH_LEVEL, LOW_CMD, LOW_STATE, UNITREE_TOPICS
from sim2real.logs.odometry import ODOMETRY, TOPIC_BASE_ESTIMATE, TOPIC_BASE_TRUTH

log = logging.getLogger(__name__)

JOINT_STATE = "sensor_msgs/msg/JointState"
IMU = "sensor_msgs/msg/Imu"
MULTI_ARRAY = ("std_msgs/msg/Float64MultiArray", "std_msgs/msg/Float32MultiArray")
TRAJECTORY = "trajectory_msgs/msg/JointTrajectory"

TOPIC_JOINT_STATES, TOPIC_COMMANDS, TOPIC_IMU = "/joint_states", "/joint_commands", "/imu/data"
"""The topics sim2real records the joint states, the commands and the IMU on (:mod:`~.bag`)."""
TOPIC_EVENTS, TOPIC_META = "/sim2real/events", "/sim2real/meta"
"""The topics of sim2real's events and of its meta message (:mod:`~.bag`)."""
STANDARD = {"joint_states": TOPIC_JOINT_STATES, "commands": TOPIC_COMMANDS, "imu": TOPIC_IMU, "base": TOPIC_BASE_ESTIMATE}
"""Role -> the topic sim2real records it on."""
ROLE_TYPES = {
    "joint_states": (JOINT_STATE, *LOW_STATE),
    "commands": (*MULTI_ARRAY, TRAJECTORY, JOINT_STATE, *LOW_CMD),
    "imu": (IMU,),
    "base": (ODOMETRY,),
}
"""Role -> message types read for it (commands: arrays in the actuators' order, or named joints;
Unitree's LowState and LowCmd by motor index, :mod:`~.bag_unitree`; the base: its estimated odometry)."""
_OPTIONAL = {"imu": "IMU readings", "base": "base's odometry"}
"""Roles a log may lack -> what they hold: of several candidates none is read, with a warning."""
ROLE_BY_TYPE = {**dict.fromkeys(LOW_STATE, "joint_states"), **dict.fromkeys(LOW_CMD, "commands")}
"""Types whose role their type tells, whatever the topic's name (``/lowstate``, ``/lowcmd``)."""
_COMMAND_NAME = re.compile(r"command|^joint_trajectory$")
"""What the last part of a topic's name says when it carries commands (``/forward_position_controller/commands``,
``/joint_command``, ``/arm_controller/joint_trajectory``)."""


@dataclass(frozen=True)
class Chosen:
    """The topic read for one role."""

    role: str
    topic: str
    msgtype: str


def parse_topics(items: Sequence[str] | None) -> dict[str, str]:
    """``ROLE=TOPIC`` items (``--topic commands=/forward_position_controller/commands``) -> map.

    Raises:
        LogError: An item without ``=``, an unknown role, or a role given twice.
    """
    out: dict[str, str] = {}
    for item in items or ():
        role, sep, topic = item.partition("=")
        role, topic = role.strip(), topic.strip()
        if not sep or not topic:
            raise LogError(f"--topic {item!r}: expected ROLE=TOPIC, ROLE one of {', '.join(STANDARD)}")
        if role not in STANDARD:
            raise LogError(f"--topic {item!r}: unknown role {role!r}; roles: {', '.join(STANDARD)}")
        if role in out:
            raise LogError(f"--topic gives {role} twice ({out[role]}, {topic})")
        names = [t.strip() for t in topic.split(",")] if role == "joint_states" else [topic]
        if not all(names):
            raise LogError(f"--topic {item!r}: an empty topic name in the list")
        names = [t if t.startswith("/") else "/" + t for t in names]
        if len(set(names)) < len(names):
            raise LogError(f"--topic {item!r}: a topic listed twice")
        out[role] = ",".join(names)
    return out


def choose_topics(
    where: str, connections: Iterable[tuple[str, str]], topics: Mapping[str, str] | None = None
) -> list[Chosen]:
    """The topic of each role present in a bag (a role without one is left out).

    Args:
        where: The bag's path, for messages.
        connections: ``(topic, message type)`` of each of the bag's connections.
        topics: Role -> topic the user chose (:func:`parse_topics`).

    Raises:
        LogError: A chosen topic the bag lacks or of a type the role cannot read; a standard topic
            of another type; several candidates for a role and no choice.
    """
    types: dict[str, set[str]] = {}
    for topic, msgtype in connections:
        types.setdefault(topic, set()).add(msgtype)
    topics = dict(topics or {})
    out = []
    for role, standard in STANDARD.items():
        readable = ROLE_TYPES[role]
        if role in topics:
            for name in topics[role].split(","):
                if name not in types:
                    raise LogError(
                        f"{where}: --topic {role}={topics[role]}: the bag has no such topic"
                        f"{'' if name == topics[role] else ' ' + name} ({_listing(types)})"
                    )
                out.append(_checked(where, role, name, types[name], readable, f"--topic {role}={topics[role]}"))
            continue
        if standard in types:
            how = f"sim2real's {role} topic; another: --topic {role}=TOPIC"
            out.append(_checked(where, role, standard, types[standard], readable, how))
            if role == "joint_states" and JOINT_STATE in types[standard]:  # their joints /joint_states lacks
                out.extend(
                    Chosen(role, t, JOINT_STATE)
                    for t in sorted(types)
                    if t != standard and JOINT_STATE in types[t] and _candidate(role, t, {JOINT_STATE})
                    and t not in topics.values()
                )
            continue
        candidates = sorted(
            t for t, ts in types.items() if t != TOPIC_BASE_TRUTH and _candidate(role, t, ts & set(readable))
        )
        if len(candidates) > 1 and UNITREE_TOPICS.get(role) in candidates:  # /lowstate beside /lf/lowstate
            candidates = [UNITREE_TOPICS[role]]
        if len(candidates) > 1 and role == "joint_states" and all(JOINT_STATE in types[t] for t in candidates):
            log.info(
                "%s: no %s: joint states joined from %s (one driver per leg or bus; fewer: --topic %s=T1,T2)",
                where, standard, ", ".join(candidates), role,
            )
            out.extend(_checked(where, role, t, types[t], readable, f"the {role}") for t in candidates)
            continue
        if len(candidates) > 1 and role in _OPTIONAL:  # read without it rather than refuse the log
            log.warning(
                "%s: no %s, and %s could hold the %s: none read (choose one with --topic %s=TOPIC)",
                where,
                standard,
                ", ".join(candidates),
                _OPTIONAL[role],
                role,
            )
            continue
        if len(candidates) > 1:
            raise LogError(
                f"{where}: no {standard}, and {len(candidates)} topics could hold the {role} "
                f"({', '.join(candidates)}): choose one with --topic {role}=TOPIC"
            )
        if candidates:
            (name,) = candidates
            chosen = _checked(where, role, name, types[name], readable, f"the {role}")
            log.info("%s: %s read from %s (%s)", where, role, name, chosen.msgtype)
            out.append(chosen)
    _check_one_family(where, types, out, topics)
    _check_not_high_level(where, types, out)
    roles: dict[str, str] = {}
    for c in out:
        if c.topic in roles:
            raise LogError(f"{where}: {c.topic} cannot hold both the {roles[c.topic]} and the {c.role}: --topic names another")
        roles[c.topic] = c.role
    return out


def _family(msgtype: str) -> str:
    return msgtype.split("/", 1)[0]


def _check_one_family(
    where: str, types: Mapping[str, set[str]], chosen: Sequence[Chosen], topics: Mapping[str, str]
) -> None:
    """Refuse to read Unitree ``LowState``/``LowCmd`` of both families (``unitree_go`` and
    ``unitree_hg``: two robots' messages): the one owner of that refusal, with the advice that fits
    how the topics were chosen.

    Raises:
        LogError: A chosen topic carrying both families' messages of its role (nothing tells them
            apart); Unitree topics chosen by name or type (not by ``--topic``) in a bag of both
            families (naming each family's topics and the option); topics named by ``--topic`` of
            two families (naming them).
    """
    unitree = [c for c in chosen if c.msgtype in ROLE_BY_TYPE]
    for c in unitree:
        mixed = sorted({_family(t) for t in types[c.topic] if ROLE_BY_TYPE.get(t) == c.role})
        if len(mixed) > 1:
            raise LogError(
                f"{where}: topic {c.topic} carries Unitree {c.msgtype.rsplit('/', 1)[-1]} of both {' and '.join(mixed)} "
                "(two robots publishing on one topic): which messages are whose, the bag does not say"
            )
    families: dict[str, list[str]] = {}
    for topic, msgtypes in sorted(types.items()):
        for family in sorted({_family(t) for t in msgtypes if t in ROLE_BY_TYPE}):
            families.setdefault(family, []).append(topic)
    if len(families) > 1 and any(c.role not in topics for c in unitree):
        listing = "; ".join(f"{family} on {', '.join(families[family])}" for family in sorted(families))
        raise LogError(
            f"{where}: the bag holds Unitree LowState/LowCmd of both {' and '.join(sorted(families))} (two robots' "
            f"messages: {listing}): "
            "choose one robot's with --topic joint_states=TOPIC --topic commands=TOPIC"
        )
    if len({_family(c.msgtype) for c in unitree}) > 1:
        named = " and ".join(f"--topic {c.role}={c.topic} ({_family(c.msgtype)})" for c in unitree)
        raise LogError(f"{where}: {named} are two robots' messages: name the topics of one robot")


def _check_not_high_level(where: str, types: Mapping[str, set[str]], chosen: Sequence[Chosen]) -> None:
    """Refuse, in one line saying why, a bag whose only robot state is Unitree's high-level (sport
    mode) messages (:data:`~.bag_unitree.HIGH_LEVEL`).

    Raises:
        LogError: No topic for the joint states, and a topic of a high-level type.
    """
    if any(c.role == "joint_states" for c in chosen):
        return
    high = sorted((HIGH_LEVEL.index(t), topic, t) for topic, ts in types.items() for t in ts if t in HIGH_LEVEL)
    if high:
        _, topic, msgtype = high[0]
        raise LogError(
            f"{where}: no joint states: {topic} holds {msgtype}, Unitree's high-level (sport mode) messages, "
            "where the robot's own gait controller runs on body velocity commands and no joint commands are "
            "recorded; record LowState and LowCmd with the robot in low-level mode (docs/real_data.md)"
        )


def _candidate(role: str, topic: str, usable: set[str]) -> bool:
    """Whether a topic with the ``usable`` types of ``role`` may hold it: a type whose role it tells
    (:data:`ROLE_BY_TYPE`), else its name's last part says ``command`` for commands and not for the
    joint states."""
    if any(t in ROLE_BY_TYPE for t in usable):
        return any(ROLE_BY_TYPE.get(t) == role for t in usable)
    return bool(usable) and (role == "commands") == bool(_COMMAND_NAME.search(topic.rsplit("/", 1)[-1]))


def _checked(
    where: str, role: str, name: str, found: set[str], readable: tuple[str, ...], how: str
) -> Chosen:
    usable = sorted(found & set(readable))
    if not usable:
        raise LogError(
            f"{where}: topic {name} has type {', '.join(sorted(found))}, expected {' or '.join(readable)} "
            f"({how})"
        )
    return Chosen(role, name, usable[0])


def short_list(names: Sequence[str], limit: int = 12) -> str:
    """``names`` for a message line: the first ``limit``, comma-separated, then how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _listing(types: Mapping[str, set[str]]) -> str:
    return "its topics: " + short_list(sorted(types))


def command_row(msg: Any, msgtype: str, where: str = "") -> tuple[np.ndarray, tuple[str, ...]] | None:
    """One command message as values, shape (n,), and the joints they are for (empty: the
    actuators' order, unnamed); None for a message that commands nothing (a trajectory without
    points, a joint state without positions or efforts).

    A trajectory of one point (a streaming controller's set-point) commands that point; a joint
    state its positions or its efforts, whichever it fills.

    Raises:
        LogError: A trajectory of several points (a planner's whole motion, not a set-point per
            control period), or a command filling both positions and efforts (which one the
            robot ran, the bag does not say).
    """
    if msgtype in MULTI_ARRAY:
        return np.asarray(msg.data, dtype=np.float64), ()
    if msgtype == TRAJECTORY:
        if not len(msg.points):
            return None
        if len(msg.points) > 1:
            raise LogError(
                f"{where}: a command trajectory of {len(msg.points)} points (a planner's motion, not a set-point "
                "per control period): record the commands the controller sent each period instead"
            )
        point, names = msg.points[0], tuple(msg.joint_names)
        position, effort = point.positions, point.effort
    else:
        names, position, effort = tuple(msg.name), msg.position, msg.effort
    if len(position) and len(effort):
        raise LogError(
            f"{where}: commands fill both positions and efforts ({msgtype}): which one the robot ran, the "
            "bag does not say"
        )
    values = position if len(position) else effort
    return (np.asarray(values, dtype=np.float64), names) if len(values) else None


def connections_to_read(
    where: str, connections: Sequence[Any], fixed: Mapping[str, str], topics: Mapping[str, str] | None = None
) -> tuple[list[Any], dict[str, str]]:
    """The connections of a bag to read, and the standard topic each role's topic is read as.

    Args:
        where: The bag's path, for messages.
        connections: The reader's connections (``.topic``, ``.msgtype``).
        fixed: sim2real's topics -> their message types; those not of a role are read by that name.
        topics: Role -> topic the user chose (:func:`parse_topics`).

    Returns:
        The connections, and topic -> the standard topic of its role (:data:`STANDARD`).

    Raises:
        LogError: As :func:`choose_topics`; one of sim2real's own topics of another type.
    """
    chosen = {c.topic: c for c in choose_topics(where, ((c.topic, c.msgtype) for c in connections), topics)}
    wanted = []
    for conn in connections:
        if conn.topic in chosen:
            if conn.msgtype == chosen[conn.topic].msgtype:
                wanted.append(conn)
        elif conn.topic in fixed and conn.topic not in STANDARD.values():
            if conn.msgtype != fixed[conn.topic]:
                raise LogError(
                    f"{where}: topic {conn.topic} has type {conn.msgtype}, expected {fixed[conn.topic]}"
                )
            wanted.append(conn)
    return wanted, {name: STANDARD[c.role] for name, c in chosen.items()}


def no_commands(
    where: str, connections: Iterable[tuple[str, str]], role: Mapping[str, str], without_values: int = 0
) -> str:
    """The error line of a bag without commands read where they are required (a replay of the
    commands the robot ran: gap, identify, actuator): the topic chosen had no messages, or topics
    of a command type not taken for them by their name, or none at all.

    Args:
        where: The bag's path.
        connections: ``(topic, message type)`` of each of the bag's connections.
        role: Topic read -> the standard topic of its role (:func:`connections_to_read`).
        without_values: Messages on the command topic that command no positions or efforts.
    """
    chosen = next((t for t, standard in role.items() if standard == TOPIC_COMMANDS), None)
    if chosen is not None and without_values:
        return (
            f"{where}: the {without_values} messages on {chosen} command no positions or efforts (velocities only, "
            "or nothing): commands are needed here, as positions, torques or voltages, as the robot's actuators take them"
        )
    if chosen is not None:
        return f"{where}: no messages on {chosen} (commands are required here; in a topic of another name: --topic commands=TOPIC)"
    types: dict[str, set[str]] = {}
    for topic, msgtype in connections:
        types.setdefault(topic, set()).add(msgtype)
    readable = set(ROLE_TYPES["commands"])
    others = [f"{t} ({', '.join(sorted(ts & readable))})" for t, ts in sorted(types.items()) if ts & readable and t not in role]
    if others:
        return (
            f"{where}: no {TOPIC_COMMANDS}, and no topic named for commands; {short_list(others, 4)} could hold "
            "them: choose with --topic commands=TOPIC"
        )
    kinds = ", ".join(sorted({t.rsplit("/", 1)[-1] for t in readable}))
    return (
        f"{where}: no commands: no {TOPIC_COMMANDS} and no other topic of a command type ({kinds}) among its topics "
        f"({short_list(sorted(types), 6)}); "
        "commands are needed here (what the robot was commanded is replayed or fitted): record the controller's "
        f"command topic beside {TOPIC_JOINT_STATES}"
    )


def hold_named_commands(
    where: str, command_ns: Sequence[int], rows: Sequence[np.ndarray], joints: Sequence[tuple[str, ...]]
) -> tuple[list[int], list[np.ndarray], tuple[str, ...]]:
    """Commands whose messages each name some of the joints (one message per leg or per bus) as
    commands of every joint: each joint's last command holds until its next, as a drive holds its
    set-point; the messages before every joint has had one are dropped.  One warning says it.

    Args:
        where: ``"PATH: TOPIC"`` for messages.
        command_ns: Time of each message [ns].
        rows: Values of each message, shape (n_k,), for ``joints[k]``.
        joints: The joints each message names.

    Returns:
        The times kept, the full commands, shape (m,) each, and their m joints (in order of first
        appearance).
    """
    order = tuple(dict.fromkeys(j for names in joints for j in names))
    index = {j: i for i, j in enumerate(order)}
    current, seen = np.zeros(len(order)), np.zeros(len(order), dtype=bool)
    out_ns: list[int] = []
    out: list[np.ndarray] = []
    for ns, values, names in zip(command_ns, rows, joints, strict=True):
        cols = [index[j] for j in names]
        current[cols] = values
        seen[cols] = True
        if seen.all():
            out_ns.append(ns)
            out.append(current.copy())
    log.warning(
        "%s: commands name %d different sets of joints (one message per leg or bus): each joint's last command held "
        "until its next; %d of %d messages, before every joint had one, dropped",
        where, len({frozenset(n) for n in joints}), len(rows) - len(out), len(rows),
    )
    return out_ns, out, order


def named_command_joints(where: str, named: set[tuple[str, ...]], joints: Sequence[str]) -> tuple[str, ...]:
    """The joints named commands (trajectories, joint states) are for; () when they name none.

    Raises:
        LogError: Messages naming different joints; a named joint without joint states.
    """
    named = {n for n in named if n}
    if len(named) > 1:
        raise LogError(
            f"{where}: commands name different joints from one message to the next: {sorted(named)[:2]}"
        )
    names = next(iter(named), ())
    if missing := sorted(set(names) - set(joints)):
        raise LogError(f"{where}: commanded joints {missing} have no joint states")
    return names
