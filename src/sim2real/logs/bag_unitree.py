"""Unitree SDK recordings: ``unitree_go`` / ``unitree_hg`` ``LowState`` and ``LowCmd`` in rosbag2 bags.

Owners of Unitree Go2 / B2 (``unitree_go``) and G1 / H1-2 (``unitree_hg``) robots record what
``unitree_ros2`` publishes: ``/lowstate`` (``LowState``: the motors' ``motor_state[i]`` with ``q``
[rad], ``dq`` [rad/s], ``tau_est`` [N m], and the IMU in ``imu_state``: ``quaternion`` (w, x, y, z),
``gyroscope`` [rad/s], ``accelerometer`` [m/s^2]) and ``/lowcmd`` (``LowCmd``: ``motor_cmd[i]`` with
``mode``, ``q``, ``dq``, ``tau``, ``kp``, ``kd``).  Neither carries joint names nor a header stamp:

- **Motor order.** Motor ``i`` drives the joint the user names ``i``-th (``--motor-order
  J1,J2,...``, :func:`parse_motor_order`; ``-`` for a motor slot that drives no joint of the robot;
  where the robot spec states a ``motor_order``, the joints must come in its order:
  :func:`check_motor_order`); motors beyond the list are not read (a ``LowState`` has 20 or 35 slots, a Go2 uses 12).  The
  order is never guessed: without it such a bag is refused with one line saying how to give it.
- **Time.** Every sample is timed by its recording time (the messages have no stamp).
- **Commands.** The motor runs ``tau = tau_ff + kp (q_target - q) + kd (dq_target - dq)``.  A log
  whose commands set ``kp > 0`` holds position targets ``q`` [rad] (with the logged ``kp``/``kd``,
  reported in ``meta["command_gains"]``); one whose commands all have ``kp == kd == 0`` holds torques
  ``tau`` [N m].  The SDK's stop values (``q == POS_STOP_F``, ``dq == VEL_STOP_F``: not
  position-controlled) are never read as targets, nor is a disabled motor's command (``mode``
  0).  Messages at the start or the end of a log in which no motor runs the log's kind of command
  (the SDK's initial stop command, a final damping ``kp == 0 < kd``) are left out with one warning;
  anything else that a position target or a torque cannot state (a motor stopped, disabled or
  damped between the commands, position and torque motors in one message, feed-forward ``tau`` or
  ``dq`` beside a position target, a non-finite gain, ``dq`` or ``tau``) is refused with one line.
- **AB mode.** A ``unitree_hg`` message with ``mode_pr`` 1 carries the parallel ankles' motor
  values, not their pitch/roll joints: refused (:func:`check_pr_mode`).

The message definitions come from the bag (MCAP schemas; rosbag2 sqlite3 stores them since Iron):
:func:`typestore_for` registers those the reader's typestore lacks, and refuses a bag that uses a
type whose definition it does not carry.

**Cost.** rosbags decodes each message in full: about 0.28 ms per message of a unitree_hg bag (a
35-slot ``LowState`` or ``LowCmd``) on the 2-core development machine, so a 5-minute recording at
500 Hz (300,000 messages) takes about a minute and a half to read.

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
from sim2real.text import NO_JOINT

__all__ = [
    "HIGH_LEVEL",
    "LOW_CMD",
    "LOW_STATE",
    "POS_STOP_F",
    "UNITREE_TOPICS",
    "VEL_STOP_F",
    "UnitreeCommands",
    "check_command_kind",
    "check_motor_order",
    "parse_motor_order",
    "typestore_for",
]

log = logging.getLogger(__name__)

LOW_STATE = ("unitree_go/msg/LowState", "unitree_hg/msg/LowState")
"""Unitree low-level state types (Go2 / B2, G1 / H1-2): joint states and the IMU."""
LOW_CMD = ("unitree_go/msg/LowCmd", "unitree_hg/msg/LowCmd")
"""Unitree low-level command types."""
HIGH_LEVEL = (
    "unitree_legged_msgs/msg/HighState",
    "unitree_legged_msgs/msg/HighCmd",
    "unitree_go/msg/SportModeState",
)
"""Unitree's high-level (sport mode) messages: the robot's own gait controller runs, commanded by body
velocities; no joint commands (``HighState``'s motor states are what that controller did), so no
log to replay: refused in one line when a bag holds no joint states beside them."""
UNITREE_TOPICS = {"joint_states": "/lowstate", "commands": "/lowcmd"}
"""Role -> the topic unitree_ros2 publishes it on at the full rate (preferred where a bag has several
of its type, e.g. the low-frequency ``/lf/lowstate`` too)."""
POS_STOP_F = 2.146e9
"""The SDK's position value of a motor that is not position-controlled (``PosStopF``) [rad]."""
VEL_STOP_F = 16000.0
"""The SDK's velocity value of a motor that is not velocity-controlled (``VelStopF``) [rad/s]."""
_STOPPED = POS_STOP_F / 2
"""A position target at least this large is the stop value (it travels as float32: 2.146e9 rounds)."""
MOTOR_ORDER_HELP = (
    f"name the joint of motor 0, 1, ... with --motor-order J1,J2,... ({NO_JOINT} for an unused slot; "
    "docs/real_data.md)"
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


def check_motor_order(stated: tuple[str, ...] | None, robot: Sequence[str]) -> tuple[str, ...] | None:
    """``--motor-order`` (:func:`parse_motor_order`) checked against the robot spec's ``motor_order``
    (its actuated joints by motor slot; empty when the spec states none): the joints the option
    names must come in the spec's order.  The spec's order is never taken in the option's place: it
    does not say which message slot each motor has (a G1 of 23 joints leaves slots unused).

    Raises:
        LogError: The option's joints in another order than the spec's (one of them is wrong).
    """
    slots = tuple(robot)
    if stated is not None and NO_JOINT in slots and (
        tuple(stated[: len(slots)]) != slots or any(j != NO_JOINT for j in stated[len(slots) :])
    ):  # the spec states the slots: each joint must be read from its own
        raise LogError(
            f"--motor-order {','.join(stated)} puts the joints in other slots than the robot spec's motor_order "
            f"{','.join(slots)} ({NO_JOINT}: an empty slot): correct the one that is wrong"
        )
    robot = joints_of(robot)
    if stated is not None and robot and joints_of(stated) != robot:
        raise LogError(
            f"--motor-order {','.join(stated)} names the joints in another order than the robot spec's "
            f"motor_order {','.join(robot)}: correct the one that is wrong"
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
        LogError: No motor order, more motors named than the message has, AB mode (:func:`check_pr_mode`).
    """
    if order is None:
        raise LogError(f"{where}: Unitree LowState messages carry no joint names: {MOTOR_ORDER_HELP}")
    check_pr_mode(where, msg)
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


_CMD_FIELDS = ("mode", "q", "dq", "tau", "kp", "kd")
"""The fields of a ``MotorCmd`` read (``mode`` 0: the motor is disabled)."""


def check_pr_mode(where: str, msg: Any) -> None:
    """Refuse a ``unitree_hg`` message in AB mode (``mode_pr`` 1): its parallel ankles' values are
    those of the motors A and B, not of the pitch and roll joints a model has.

    Raises:
        LogError: ``mode_pr`` other than 0 (PR mode), one line.
    """
    value = int(getattr(msg, "mode_pr", 0))
    if value != 0:
        raise LogError(
            f"{where}: mode_pr {value} (AB mode: the ankles' values are of their motors A and B, not of the pitch "
            "and roll joints): only PR mode (mode_pr 0) is read; record in PR mode"
        )


class UnitreeCommands:
    """``LowCmd`` messages of one bag, collected, then read as position targets or torques."""

    def __init__(self, where: str, order: Sequence[str] | None) -> None:
        self.where = where
        self.order = order
        self.ns: list[int] = []
        self.fields: list[np.ndarray] = []  # per message, shape (6, n): _CMD_FIELDS

    def add(self, ns: int, msg: Any) -> None:
        if self.order is None:
            raise LogError(f"{self.where}: Unitree LowCmd messages carry no joint names: {MOTOR_ORDER_HELP}")
        check_pr_mode(f"{self.where}: LowCmd", msg)
        motors = msg.motor_cmd
        idx = _slots(self.where, motors, self.order)
        rows = [[float(getattr(motors[i], f)) for i in idx] for f in _CMD_FIELDS]
        self.ns.append(ns)
        self.fields.append(np.array(rows, dtype=np.float64))

    def read(self, meta: dict[str, Any]) -> tuple[list[int], list[np.ndarray], tuple[str, ...]]:
        """The commands: recording times [ns], values (n,) each, and their joints.

        Position targets [rad] when any motor of any message is position-controlled (enabled,
        ``kp > 0``, not the stop value), else torques [N m]; ``meta["command_kind"]`` says which and
        ``meta["command_gains"]`` holds the logged ``kp`` [N m/rad] and ``kd`` [N m s/rad] per joint
        (their medians; a warning when they change during the log).  Messages before and after the
        run in which no motor runs the log's kind of command are left out (one warning).

        Raises:
            LogError: Commands neither kind can state (see the module docstring), one line.
        """
        joints = joints_of(self.order or ())
        if not self.ns:
            return [], [], joints
        f = np.stack(self.fields)  # (K, 6, n)
        mode, q, dq, tau, kp, kd = (f[:, k] for k in range(len(_CMD_FIELDS)))
        where = f"{self.where}: LowCmd"
        off = mode == 0
        stopped = (np.abs(q) >= _STOPPED) | ~np.isfinite(q)
        position = (kp > 0) & ~stopped & ~off
        kind = "position" if position.any() else "torque"
        driven = position if kind == "position" else ~off & (kp == 0) & (kd == 0)
        any_driven = driven.any(axis=1)
        if not any_driven.any():
            raise LogError(
                f"{where}: no command drives a motor by a position target (kp > 0) or by torque alone "
                "(kp == kd == 0), only damping (kp == 0 < kd) or disabled motors (mode 0), which neither "
                "position targets nor torques state"
            )
        first, last = int(np.argmax(any_driven)), len(any_driven) - 1 - int(np.argmax(any_driven[::-1]))
        if first or last < len(any_driven) - 1:
            log.warning(
                "%s: %d messages before and %d after the %s commands drive no motor that way (the SDK's stop "
                "command, damping, or motors disabled): left out",
                where,
                first,
                len(any_driven) - 1 - last,
                kind,
            )
        keep = slice(first, last + 1)
        q, dq, tau, kp, kd, off, driven = (a[keep] for a in (q, dq, tau, kp, kd, off, driven))
        if not driven.all():
            k, j = (int(v) for v in np.argwhere(~driven)[0])
            if off[k, j]:
                what = "disabled, mode 0"
            elif kind == "torque":
                what = f"kp {kp[k, j]:g}, kd {kd[k, j]:g}"
            elif abs(q[k, j]) >= _STOPPED or not np.isfinite(q[k, j]):
                what = "the stop value PosStopF"
            else:
                what = f"kp {kp[k, j]:g}"
            raise LogError(
                f"{where}: motor of {joints[j]!r} is not {kind}-controlled ({what}) at "
                f"{(self.ns[first + k] - self.ns[0]) / 1e9:.3f} s, between {kind} commands: what it ran is unknown; "
                f"cut the log to the span every motor is {kind}-controlled ({NO_JOINT} in --motor-order for a "
                "motor the robot does not use)"
            )
        values = {"tau": tau} if kind == "torque" else {"kp": kp, "kd": kd, "dq": dq, "tau": tau}
        for name, v in values.items():  # a NaN gain is no gain: what the motor ran is unknown
            if not np.isfinite(v).all():
                k, j = (int(x) for x in np.argwhere(~np.isfinite(v))[0])
                raise LogError(
                    f"{where}: motor of {joints[j]!r} has a non-finite {name} ({v[k, j]:g}) at "
                    f"{(self.ns[first + k] - self.ns[0]) / 1e9:.3f} s: what it ran is unknown; cut the log before it"
                )
        if kind == "torque":
            meta["command_kind"] = "torque"
            return self.ns[first : last + 1], list(tau), joints
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
