"""Unitree SDK recordings: ``unitree_go`` / ``unitree_hg`` ``LowState`` and ``LowCmd`` in rosbag2 bags.

Owners of Unitree Go2 / B2 (``unitree_go``) and G1 / H1-2 (``unitree_hg``) robots record what
``unitree_ros2`` publishes: ``/lowstate`` (``LowState``: the motors' ``motor_state[i]`` with ``q``
[rad], ``dq`` [rad/s], ``tau_est`` [N m], and the IMU in ``imu_state``: ``quaternion`` (w, x, y, z),
``gyroscope`` [rad/s], ``accelerometer`` [m/s^2]) and ``/lowcmd`` (``LowCmd``: ``motor_cmd[i]`` with
``mode``, ``q``, ``dq``, ``tau``, ``kp``, ``kd``).  Neither carries joint names nor a header stamp:

- **Motor order.** Motor ``i`` drives the joint the user names ``i``-th (``--motor-order
  J1,J2,...``, :func:`parse_motor_order`; ``-`` for a motor slot that drives no joint of the robot),
  or the robot spec's ``motor_order`` where the spec states one (:func:`resolve_motor_order`);
  motors beyond the list are not read (a ``LowState`` has 20 or 35 slots, a Go2 uses 12).  The
  order is never guessed: without it such a bag is refused with one line saying how to give it.
- **Time.** Every sample is timed by its recording time (the messages have no stamp).
- **Commands.** The motor runs ``tau = tau_ff + kp (q_target - q) + kd (dq_target - dq)``.  A log
  whose commands set ``kp > 0`` holds position targets ``q`` [rad] (with the logged ``kp``/``kd``,
  reported in ``meta["command_gains"]``); one whose commands all have ``kp == kd == 0`` holds torques
  ``tau`` [N m].  The SDK's stop values (``q == POS_STOP_F``, ``dq == VEL_STOP_F``: not
  position-controlled) are never read as targets.  Messages at the start or the end of a position
  log in which no motor is position-controlled (the SDK's initial stop command, a final
  stop) are left out with one warning; anything else that a position target or a torque cannot
  state (a motor stopped between position commands, position and torque motors in one message,
  damping ``kp == 0 < kd``, feed-forward ``tau`` or ``dq`` beside a position target) is refused
  with one line.

The message definitions come from the bag (MCAP schemas; rosbag2 sqlite3 stores them since Iron):
:func:`typestore_for` registers those the reader's typestore lacks, and refuses a bag that uses a
type whose definition it does not carry.

Numpy and rosbags only; imports nothing else of sim2real's logs (the topic and stream modules
import it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rosbags.interfaces import MessageDefinitionFormat
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg, get_typestore

from sim2real.errors import LogError

__all__ = [
    "LOW_CMD",
    "LOW_STATE",
    "POS_STOP_F",
    "VEL_STOP_F",
    "UnitreeCommands",
    "check_command_kind",
    "parse_motor_order",
    "resolve_motor_order",
    "typestore_for",
]

log = logging.getLogger(__name__)

LOW_STATE = ("unitree_go/msg/LowState", "unitree_hg/msg/LowState")
"""Unitree low-level state types (Go2 / B2, G1 / H1-2): joint states and the IMU."""
LOW_CMD = ("unitree_go/msg/LowCmd", "unitree_hg/msg/LowCmd")
"""Unitree low-level command types."""
POS_STOP_F = 2.146e9
"""The SDK's position value of a motor that is not position-controlled (``PosStopF``) [rad]."""
VEL_STOP_F = 16000.0
"""The SDK's velocity value of a motor that is not velocity-controlled (``VelStopF``) [rad/s]."""
_STOPPED = POS_STOP_F / 2
"""A position target at least this large is the stop value (it travels as float32: 2.146e9 rounds)."""
NO_JOINT = "-"
"""A ``--motor-order`` item for a motor slot that drives none of the robot's joints."""
MOTOR_ORDER_HELP = (
    f"name the joint of motor 0, 1, ... with --motor-order J1,J2,... ({NO_JOINT} for an unused slot), or "
    "motor_order in the robot spec (docs/real_data.md)"
)


def parse_motor_order(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``--motor-order`` text (``J1,J2,...``, or items of it, as ``import``'s ``--motor-order J1 J2``
    gives them; ``-`` for a slot without a joint) -> motor i's joint (``-`` kept in place), or None
    when not given.

    Raises:
        LogError: An empty item, a joint listed twice, or no joint at all.
    """
    if value is None:
        return None
    items = tuple(
        j.strip() for item in ([value] if isinstance(value, str) else value) for j in str(item).split(",")
    )
    if not items or not all(items):
        raise LogError(
            f"--motor-order {value!r}: expected a comma-separated joint list (motor 0 first; {NO_JOINT} skips a slot)"
        )
    joints = [j for j in items if j != NO_JOINT]
    if twice := sorted({j for j in joints if joints.count(j) > 1}):
        raise LogError(f"--motor-order lists {twice} more than once")
    if not joints:
        raise LogError(f"--motor-order {value!r} names no joint")
    return items


def resolve_motor_order(stated: tuple[str, ...] | None, robot: Sequence[str]) -> tuple[str, ...] | None:
    """The motor order to read Unitree bags with: ``--motor-order`` (:func:`parse_motor_order`), else
    the robot spec's ``motor_order`` (its actuated joints by motor index; empty when the spec states
    none), else None.

    Raises:
        LogError: Both are given and differ (one of them is wrong, and which cannot be told).
    """
    robot = tuple(robot)
    if stated is None:
        return robot or None
    trimmed = list(stated)
    while trimmed and trimmed[-1] == NO_JOINT:
        trimmed.pop()
    if robot and tuple(trimmed) != robot:
        raise LogError(
            f"--motor-order {','.join(stated)} differs from the robot spec's motor_order {','.join(robot)}: "
            "correct the one that is wrong, or leave the option out"
        )
    return stated


def _slots(where: str, motors: Sequence[Any], order: Sequence[str]) -> list[int]:
    """Indices of the motors the order names (in order), checked against the message's slots."""
    if len(order) > len(motors):
        raise LogError(
            f"{where}: --motor-order names {len(order)} motors, but the messages have {len(motors)} slots"
        )
    return [i for i, j in enumerate(order) if j != NO_JOINT]


def joints_of(order: Sequence[str]) -> tuple[str, ...]:
    """The joints a motor order names, in motor order."""
    return tuple(j for j in order if j != NO_JOINT)


def state_row(where: str, msg: Any, order: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``LowState`` as positions [rad], velocities [rad/s], estimated torques [N m], each (n,)
    in the order's joints.

    Raises:
        LogError: No motor order, or more motors named than the message has.
    """
    if order is None:
        raise LogError(f"{where}: Unitree LowState messages carry no joint names: {MOTOR_ORDER_HELP}")
    motors = msg.motor_state
    idx = _slots(where, motors, order)
    return (
        np.array([motors[i].q for i in idx], dtype=np.float64),
        np.array([motors[i].dq for i in idx], dtype=np.float64),
        np.array([motors[i].tau_est for i in idx], dtype=np.float64),
    )


def imu_row(msg: Any) -> tuple[tuple[float, ...], bool]:
    """The IMU of one ``LowState``: (gyro (3) [rad/s], accel (3) [m/s^2], quat w, x, y, z (4)), and
    whether it gives an orientation (a zero quaternion gives none)."""
    imu = msg.imu_state
    g, a, q = (np.asarray(v, dtype=np.float64) for v in (imu.gyroscope, imu.accelerometer, imu.quaternion))
    return (*g.tolist(), *a.tolist(), *q.tolist()), bool(np.any(q != 0))


class UnitreeCommands:
    """``LowCmd`` messages of one bag, collected, then read as position targets or torques."""

    def __init__(self, where: str, order: Sequence[str] | None) -> None:
        self.where = where
        self.order = order
        self.ns: list[int] = []
        self.fields: list[np.ndarray] = []  # per message, shape (5, n): q, dq, tau, kp, kd

    def add(self, ns: int, msg: Any) -> None:
        if self.order is None:
            raise LogError(f"{self.where}: Unitree LowCmd messages carry no joint names: {MOTOR_ORDER_HELP}")
        motors = msg.motor_cmd
        idx = _slots(self.where, motors, self.order)
        rows = [[float(getattr(motors[i], f)) for i in idx] for f in ("q", "dq", "tau", "kp", "kd")]
        self.ns.append(ns)
        self.fields.append(np.array(rows, dtype=np.float64))

    def read(self, meta: dict[str, Any]) -> tuple[list[int], list[np.ndarray], tuple[str, ...]]:
        """The commands: recording times [ns], values (n,) each, and their joints.

        Position targets [rad] when any motor of any message is position-controlled (``kp > 0``),
        else torques [N m]; ``meta["command_kind"]`` says which and ``meta["command_gains"]`` holds
        the logged ``kp`` [N m/rad] and ``kd`` [N m s/rad] per joint (their medians; a warning when
        they change during the log).

        Raises:
            LogError: Commands neither kind can state (see the module docstring), one line.
        """
        joints = joints_of(self.order or ())
        if not self.ns:
            return [], [], joints
        f = np.stack(self.fields)  # (K, 5, n)
        q, dq, tau, kp, kd = (f[:, k] for k in range(5))
        where = f"{self.where}: LowCmd"
        stopped = (np.abs(q) >= _STOPPED) | ~np.isfinite(q)
        position = (kp > 0) & ~stopped
        if not position.any():
            if (kd != 0).any() or (kp != 0).any():
                j = joints[int(np.argwhere((kd != 0) | (kp != 0))[0][1])]
                raise LogError(
                    f"{where}: motor of {j!r} is commanded with kp == 0 < kd (damping or velocity control), "
                    "which neither position targets nor torques state: record position (kp > 0) or torque commands"
                )
            meta["command_kind"] = "torque"
            return list(self.ns), list(tau), joints
        any_pos = position.any(axis=1)
        first, last = int(np.argmax(any_pos)), len(any_pos) - 1 - int(np.argmax(any_pos[::-1]))
        if first or last < len(any_pos) - 1:
            log.warning(
                "%s: %d messages before and %d after the position commands drive no motor by position "
                "(the SDK's stop command, kp == 0): left out",
                where,
                first,
                len(any_pos) - 1 - last,
            )
        keep = slice(first, last + 1)
        q, dq, tau, kp, kd, position = q[keep], dq[keep], tau[keep], kp[keep], kd[keep], position[keep]
        if not position.all():
            k, j = (int(v) for v in np.argwhere(~position)[0])
            what = "the stop value PosStopF" if abs(q[k, j]) >= _STOPPED else f"kp {kp[k, j]:g}"
            raise LogError(
                f"{where}: motor of {joints[j]!r} is not position-controlled ({what}) at "
                f"{(self.ns[first + k] - self.ns[0]) / 1e9:.3f} s, between position commands: which target "
                "it ran is unknown; cut the log to the span every motor is position-controlled"
            )
        feed = (tau != 0) | ((kd != 0) & (dq != 0))
        if feed.any():
            k, j = (int(v) for v in np.argwhere(feed)[0])
            value = f"tau {tau[k, j]:g} N m" if tau[k, j] != 0 else f"dq {dq[k, j]:g} rad/s"
            raise LogError(
                f"{where}: motor of {joints[j]!r} has a feed-forward {value} beside its position target, which "
                "a position target alone does not state: record commands without feed-forward"
            )
        gains = {}
        for name, g in (("kp", kp), ("kd", kd)):
            median = np.median(g, axis=0)
            varies = np.abs(g - median).max(axis=0) > 0.01 * np.maximum(np.abs(median), 1e-9)
            if varies.any():
                log.warning(
                    "%s: %s changes during the log at %s (median used in command_gains)",
                    where,
                    name,
                    ", ".join(j for j, v in zip(joints, varies, strict=True) if v),
                )
            gains[name] = {j: float(v) for j, v in zip(joints, median, strict=True)}
        meta["command_kind"] = "position"
        meta["command_gains"] = gains
        return self.ns[first : last + 1], list(q), joints


GAIN_TOLERANCE = 0.01
"""Relative difference of a logged gain from the robot's beyond which it is reported."""
_KINDS = {"position": "pd", "torque": "torque"}
"""Command kind of a Unitree log -> the actuator model that runs it."""


def check_command_kind(
    where: str, meta: Mapping[str, Any], actuators: Mapping[str, tuple[str, float, float]]
) -> None:
    """Check a Unitree log's commands against the robot's actuators: position targets need ``pd``
    actuators and torques ``torque`` ones (else one error line); logged gains that differ from the
    actuator's ``kp``/``kd`` by more than :data:`GAIN_TOLERANCE` get one warning line, since the
    simulator replays the targets with the robot's gains.  Logs of other kinds pass unchecked.

    Args:
        where: The log, for messages.
        meta: The trajectory's meta (``command_kind``, ``command_gains``: :meth:`UnitreeCommands.read`).
        actuators: Commanded joint -> (actuator model, kp [N m/rad], kd [N m s/rad]).

    Raises:
        LogError: An actuator whose model does not run the log's kind of command.
    """
    kind = meta.get("command_kind")
    if kind not in _KINDS:
        return
    if wrong := [j for j, (model, _, _) in actuators.items() if model != _KINDS[kind]]:
        raise LogError(
            f"{where}: the Unitree commands are {kind} {'targets' if kind == 'position' else 'commands'}, but "
            f"{wrong[0]!r} has a {actuators[wrong[0]][0]} actuator (a {_KINDS[kind]} actuator runs them)"
        )
    gains = meta.get("command_gains") or {}
    off = []
    for k, name in ((1, "kp"), (2, "kd")):
        for j, logged in (gains.get(name) or {}).items():
            if j in actuators:
                ours = actuators[j][k]
                if abs(logged - ours) > GAIN_TOLERANCE * max(abs(ours), 1e-9):
                    off.append(f"{j} {name} {logged:g} (robot {ours:g})")
    if off:
        log.warning(
            "%s: the robot ran other PD gains than the spec's at %d gains (%s%s): the simulator replays the "
            "targets with the spec's gains; set them in the spec to replay what the robot ran",
            where,
            len(off),
            ", ".join(off[:3]),
            " ..." if len(off) > 3 else "",
        )


def typestore_for(where: str, connections: Sequence[Any], base: Any) -> dict[str, Any]:
    """Message type -> the typestore that decodes it, for ``connections`` (those to be read).

    Types ``base`` knows are decoded by ``base``; others by a typestore of the definitions the bag
    carries (MCAP schemas, rosbag2 sqlite3's ``message_definitions``).

    Raises:
        LogError: A type ``base`` lacks whose definition the bag does not carry, or a definition
            that cannot be parsed (one line).
    """
    out: dict[str, Any] = {}
    unknown = [c for c in connections if c.msgtype not in base.fielddefs]
    for conn in connections:
        out.setdefault(conn.msgtype, base)
    if not unknown:
        return out
    store = get_typestore(Stores.EMPTY)
    types: dict[str, Any] = {}
    for conn in unknown:
        fmt, text = conn.msgdef.format, conn.msgdef.data
        if fmt == MessageDefinitionFormat.NONE or not text.strip():
            raise LogError(
                f"{where}: topic {conn.topic} has type {conn.msgtype}, whose definition the bag does not carry "
                "(a rosbag2 sqlite3 bag recorded before ROS 2 Iron?): re-record it with rosbag2 Iron or newer, "
                "or convert it to MCAP with the message package installed"
            )
        try:
            if fmt == MessageDefinitionFormat.MSG:
                types |= get_types_from_msg(text, conn.msgtype)
            else:
                sep = "=" * 80 + "\n"
                parts = (
                    [p.split("\n", 1)[1] for p in text.split(sep)[1:]]
                    if text.startswith(sep + "IDL: ")
                    else [text]
                )
                for idl in parts:
                    types |= get_types_from_idl(idl)
        except (TypesysError, ValueError, IndexError) as exc:
            raise LogError(
                f"{where}: cannot parse the definition of {conn.msgtype} the bag carries ({exc})"
            ) from None
    try:
        store.register(types)
    except TypesysError as exc:
        raise LogError(f"{where}: the bag carries conflicting definitions ({exc})") from None
    for conn in unknown:
        if conn.msgtype not in store.fielddefs:
            raise LogError(
                f"{where}: the definition the bag carries for topic {conn.topic} lacks {conn.msgtype}"
            )
        out[conn.msgtype] = store
    return out
