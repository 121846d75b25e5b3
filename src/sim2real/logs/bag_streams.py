"""Decoded messages of a rosbag2 bag, per stream, made into one :class:`~.trajectory.Trajectory`.

Used by :func:`sim2real.logs.bag.read_bag`, which decodes the messages: this module owns what the
streams mean together: joint states on one clock, in time order, joined by joint name
(:mod:`~.bag_states`); the joints the commands drive; IMU samples, events and base tracks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import LogError
from sim2real.logs.bag_joined import joint_owners, keep_owned
from sim2real.logs.bag_publishers import one_publisher
from sim2real.logs.bag_states import (
    AUTO,
    CLOCK_STEP_NS,
    CommandOrder,
    all_joint_names,
    command_joints_for,
    fill_gaps,
    joint_columns,
    median_step,
    merge_joints,
    on_recording_clock,
    order_and_dedup,
    retime_repeated_stamps,
)
from sim2real.logs.bag_topics import (
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_IMU,
    TOPIC_JOINT_STATES,
    TOPIC_META,
    command_row,
    hold_named_commands,
    named_command_joints,
)
from sim2real.logs.bag_unitree import LOW_CMD, LOW_STATE, UnitreeCommands, imu_row, joints_of, state_row
from sim2real.logs.bag_values import finite_commands, finite_efforts, finite_velocities
from sim2real.logs.derivative import central_difference, describe_method
from sim2real.logs.odometry import TOPIC_BASE_ESTIMATE, TOPIC_BASE_TRUTH, odometry_row, tracks
from sim2real.logs.trajectory import Event, Trajectory

log = logging.getLogger(__name__)


class Streams:
    """Decoded messages of one bag, per stream; :meth:`trajectory` makes them one :class:`Trajectory`."""

    def __init__(self, path: Path, motor_order: Sequence[str] | None = None) -> None:
        """``motor_order``: the joint of Unitree motor 0, 1, ... (:mod:`~.bag_unitree`), or None."""
        self.path = path
        self.motor_order = motor_order
        self.unitree_commands = UnitreeCommands(str(path), motor_order)
        self.unitree_imu: tuple[list[int], list[tuple[float, ...]], list[bool]] = ([], [], [])
        self.unitree_families: set[str] = set()
        """Packages of the Unitree messages read (``unitree_go``, ``unitree_hg``)."""
        self.state_ns: list[int] = []  # header stamps (0 = none)
        self.state_recv: list[int] = []  # recording times
        self.state_names: list[tuple[str, ...]] = []
        self.state_source: list[str] = []
        """The topic each joint-state message was read from (several: one driver per leg or bus)."""
        self.state_topics: list[str] = []
        """The topics joint states were joined from, when several (``meta["joint_state_topics"]``)."""
        self.position: list[np.ndarray] = []
        self.velocity: list[np.ndarray] = []
        self.effort: list[np.ndarray] = []
        self.command_ns: list[int] = []
        self.command: list[np.ndarray] = []
        self.command_names: set[tuple[str, ...]] = set()  # joints a named command (a trajectory) is for
        self.command_row_joints: list[tuple[str, ...]] = []
        """The joints each command message names (() for unnamed commands)."""
        self.commands_without_values = 0
        """Command messages that command nothing sim2real replays (no positions or efforts: velocities only)."""
        self.first_command_joints: tuple[str, ...] = ()
        """The joints of the first command naming them, in its order (later ones are put in it)."""
        self.imu_ns: list[int] = []
        self.imu_recv: list[int] = []
        self.imu: list[tuple[float, ...]] = []
        self.has_orientation: list[bool] = []
        self.imu_frames: dict[str, int] = {}
        """IMU messages per ``header.frame_id``."""
        self.events: list[Event] = []
        self.base: dict[str, tuple[list[int], list[tuple[float, ...]]]] = {}
        self.base_recv: dict[str, list[int]] = {}
        self.meta_json: str | None = None
        self.unstamped: dict[str, int] = {}
        """Messages per topic whose header stamp is 0 though recorded later than time 0."""

    def add(self, topic: str, ns: int, msg: Any, msgtype: str, source: str | None = None) -> None:
        """Take one decoded message: ``topic`` is the standard topic of its role, ``source`` the bag's
        topic it came from (the same when None)."""
        if msgtype in LOW_STATE or msgtype in LOW_CMD:
            self.unitree_families.add(msgtype.split("/", 1)[0])
        if topic == TOPIC_JOINT_STATES and msgtype in LOW_STATE:  # no header: the recording time
            self.state_ns.append(0)
            self.state_recv.append(ns)
            q, dq, tau = state_row(str(self.path), msg, self.motor_order)
            self.state_names.append(joints_of(self.motor_order or ()))
            self.position.append(q)
            self.velocity.append(dq)
            self.effort.append(tau)
            row, has_orientation = imu_row(msg)
            for rows, value in zip(self.unitree_imu, (ns, row, has_orientation), strict=True):
                rows.append(value)
        elif topic == TOPIC_COMMANDS and msgtype in LOW_CMD:
            self.unitree_commands.add(ns, msg)
        elif topic == TOPIC_JOINT_STATES:
            stamp = self._stamp(source or topic, ns, msg)
            self.state_ns.append(stamp)
            self.state_recv.append(ns)
            self.state_names.append(tuple(msg.name))
            self.state_source.append(source or topic)
            self.position.append(msg.position)
            self.velocity.append(msg.velocity)
            self.effort.append(msg.effort)
        elif topic == TOPIC_COMMANDS:
            row = command_row(msg, msgtype, str(self.path))
            if row is None:
                self.commands_without_values += 1
                return
            values, joints = self._in_first_order(*row)
            self.command_ns.append(ns)
            self.command.append(values)
            self.command_names.add(joints)
            self.command_row_joints.append(joints)
        elif topic == TOPIC_IMU:
            stamp = self._stamp(topic, ns, msg)
            self.imu_ns.append(stamp)
            self.imu_recv.append(ns)
            o, g, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
            self.imu.append((g.x, g.y, g.z, a.x, a.y, a.z, o.w, o.x, o.y, o.z))
            self.has_orientation.append(msg.orientation_covariance[0] != -1.0)
            frame = str(msg.header.frame_id).lstrip("/")
            self.imu_frames[frame] = self.imu_frames.get(frame, 0) + 1
        elif topic == TOPIC_EVENTS:
            self.events.append(self._event(ns, msg.data))
        elif topic in (TOPIC_BASE_TRUTH, TOPIC_BASE_ESTIMATE):
            stamps, rows = self.base.setdefault(topic, ([], []))
            stamps.append(self._stamp(topic, ns, msg))
            self.base_recv.setdefault(topic, []).append(ns)
            rows.append(odometry_row(msg))
        elif topic == TOPIC_META and self.meta_json is None:
            self.meta_json = msg.data

    def _in_first_order(self, values: np.ndarray, joints: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        """A named command's values, shape (n,), and joints, in the order of the first named command when
        it names the same joints in another order (each message of a trajectory topic names its own)."""
        first = self.first_command_joints
        if joints and not first:
            self.first_command_joints = joints
        elif (
            joints
            and first
            and joints != first
            and len(values) == len(joints) == len(set(joints))
            and set(joints) == set(first)
        ):
            return values[[joints.index(j) for j in first]], first
        return values, joints

    def _stamp(self, topic: str, ns: int, msg: Any) -> int:
        """The header stamp of ``msg`` [ns], recorded at ``ns``; a zero stamp is counted."""
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp == 0 and ns != 0:
            self.unstamped[topic] = self.unstamped.get(topic, 0) + 1
        return stamp

    def take_unitree(self) -> dict[str, Any]:
        """Make Unitree ``LowCmd`` messages the commands (named by the motor order) and a
        ``LowState``'s IMU the IMU samples (unless an IMU topic was read); returns what goes into the
        trajectory's meta (``command_kind``, ``command_gains``, :meth:`~.bag_unitree.UnitreeCommands.read`).
        Call once, after the last message.

        Raises:
            LogError: ``motor_order`` given for a bag without Unitree messages (its joint states name
                their joints).  (Messages of both Unitree families never get here: the topic choice
                refuses them, :mod:`~.bag_topics`.)
        """
        if self.motor_order is not None and not self.unitree_families:
            raise LogError(
                f"{self.path}: --motor-order is for Unitree bags (LowState/LowCmd by motor index); this bag's "
                f"{TOPIC_JOINT_STATES} name their joints: drop --motor-order"
            )
        meta: dict[str, Any] = {}
        if self.unitree_commands.ns:
            self.command_ns, self.command, joints = self.unitree_commands.read(meta)
            self.command_names.add(joints)
        recv, rows, oriented = self.unitree_imu
        if recv and not self.imu_ns:
            self.imu_ns, self.imu_recv, self.imu, self.has_orientation = [0] * len(recv), recv, rows, oriented
        return meta

    def _event(self, ns: int, text: str) -> Event:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = {"kind": "text", "detail": {"text": text}}
        if not isinstance(data, dict):
            data = {"kind": "text", "detail": {"value": data}}
        t = data.get("t")
        return Event(
            t=float(t) if isinstance(t, int | float) else ns / 1e9,
            kind=str(data.get("kind", "unknown")),
            detail=data.get("detail") if isinstance(data.get("detail"), dict) else {},
        )

    def trajectory(
        self,
        spec_hash: str | None,
        header: Mapping[str, Any],
        meta: dict[str, Any],
        command_joints: Sequence[str] | None = None,
        command_order: CommandOrder = AUTO,
    ) -> Trajectory:
        """The run.

        Args:
            spec_hash: The spec hash the bag records, or None.
            header: sim2real's meta of the bag ({} for another recorder's bag).
            meta: The trajectory's meta (``qd_source`` is added when velocities are differentiated).
            command_joints: The robot's actuated joints, in actuator order (commands that name no
                joints: :func:`~.bag_states.command_joints_for`).
            command_order: The order the user stated for such commands.

        Raises:
            LogError: No joint states or names, joint states that do not fit together, command
                joints that cannot be told, commands of other lengths.
        """
        path = self.path
        if not self.state_ns:
            raise LogError(f"{path}: no messages on {TOPIC_JOINT_STATES}; a robot log needs joint states")
        where = f"{path}: {TOPIC_JOINT_STATES}"
        state_ns = self._state_clock(foreign=not header)
        if len(self.state_topics) > 1:
            meta["joint_state_topics"] = list(self.state_topics)
        if not header:  # another recorder's bag: stamps a driver forgot to renew
            state_ns = retime_repeated_stamps(
                where,
                state_ns,
                self.state_recv,
                self.state_names,
                (self.position, self.velocity, self.effort),
            )
        keep = order_and_dedup(where, state_ns, self.state_names, (self.position, self.velocity, self.effort))
        state_ns = state_ns[keep]
        for rows in (self.state_names, self.position, self.velocity, self.effort):
            rows[:] = [rows[i] for i in keep]
        names = tuple(header.get("joint_names") or all_joint_names(self.state_names))
        if not names:
            raise LogError(f"{path}: {TOPIC_JOINT_STATES} messages carry no joint names")
        if len(self.state_topics) > 1 and (lacking := [j for j in command_joints or () if j not in names]):
            topics = ", ".join(self.state_topics)
            raise LogError(
                f"{path}: the robot's joints {lacking} are on none of the joint-state topics read ({topics}): "
                f"record their driver's topic, or name it with --topic joint_states={topics.replace(', ', ',')},TOPIC"
            )
        if header or all(set(names) <= set(m) for m in set(self.state_names)):
            q = joint_columns(where, names, self.state_names, self.position, "position")
            if not header:  # a second publisher of the same joints (bag_publishers)
                kinds = [(m, len(v) > 0, len(e) > 0) for m, v, e in zip(self.state_names, self.velocity, self.effort, strict=True)]
                own = one_publisher(where, state_ns / 1e9, q, kinds)
                if not own.all():
                    state_ns, q = state_ns[own], q[own]
                    for rows in (self.state_names, self.position, self.velocity, self.effort):
                        rows[:] = [r for r, k in zip(rows, own, strict=True) if k]
            qd = joint_columns(where, names, self.state_names, self.velocity, "velocity", optional=True, partial=True)
            tau = joint_columns(where, names, self.state_names, self.effort, "effort", optional=True, partial=True)
            tau = None if tau is None else fill_gaps(where, "effort", state_ns, tau)
        else:  # several publishers, or one message per joint
            fields = {"position": self.position, "velocity": self.velocity, "effort": self.effort}
            state_ns, cols = merge_joints(where, names, state_ns, self.state_names, fields)
            q, qd, tau = cols["position"], cols["velocity"], cols["effort"]
        t = state_ns / 1e9
        if not np.isfinite(q).all():  # before velocities are differentiated from them (and warned about)
            k, j = (int(x) for x in np.argwhere(~np.isfinite(q))[0])
            raise LogError(
                f"{where}: the position of joint '{names[j]}' is {q[k, j]:g} in message {k + 1} of {len(t)} "
                f"(t = {t[k] - t[0]:.3f} s); a log needs finite positions: cut the run before it or record it again"
            )
        gaps = None if qd is None else np.all(np.isnan(qd), axis=1)
        if gaps is not None and gaps.any():  # a few messages without velocities: from the positions there
            log.warning(
                "%s: %d of %d messages carry no velocity values: differentiated from the positions there",
                where, int(np.count_nonzero(gaps)), gaps.size,
            )
            try:
                qd[gaps] = central_difference(t, q)[gaps]
            except LogError as exc:
                raise LogError(f"{where}: {exc}; some messages carry no velocities") from None
        if qd is None:
            try:
                qd = central_difference(t, q)
            except LogError as exc:
                raise LogError(
                    f"{where}: {exc}; its messages carry no velocities, so samples need distinct times "
                    "(record distinct header stamps, or velocities)"
                ) from None
            meta["qd_source"] = describe_method(1)
        qd = finite_velocities(where, t, q, qd, names)

        sets = {frozenset(n) for n in self.command_names if n}
        if len(sets) > 1 and len(self.command_row_joints) == len(self.command) and all(self.command_row_joints):
            self.command_ns, self.command, joints = hold_named_commands(
                f"{path}: {TOPIC_COMMANDS}", self.command_ns, self.command, self.command_row_joints
            )
            self.command_names = {joints}
        named = tuple(header.get("command_joints") or ())
        named = named or named_command_joints(str(path), self.command_names, names)
        try:
            command = np.array(self.command, dtype=np.float64) if self.command else None
        except ValueError:
            raise LogError(f"{path}: command messages differ in length") from None
        self.command_ns, command = finite_commands(f"{path}: {TOPIC_COMMANDS}", self.command_ns, command)
        if command is None and not named:
            cjoints = names
        else:
            width = command.shape[1] if command is not None and command.ndim == 2 else len(named)
            one_order = len(set(self.state_names)) == 1
            cjoints = command_joints_for(str(path), names, width, command_joints, command_order, named, one_order)
        if command is not None and (command.ndim != 2 or command.shape[1] != len(cjoints)):
            raise LogError(
                f"{path}: {TOPIC_COMMANDS} messages must each have {len(cjoints)} values ({list(cjoints)})"
            )
        tau, tau_partial = finite_efforts(where, state_ns, tau, names, set(command_joints or ()) | set(cjoints))

        imu: dict[str, Any] = {}
        if self.imu_ns:
            imu_ns = self._clock(TOPIC_IMU, self.imu_ns, self.imu_recv, foreign=not header)
            order = np.argsort(imu_ns, kind="stable")
            arr = np.array(self.imu, dtype=np.float64)[order]
            given = sum(self.has_orientation)
            if 0 < given < len(self.has_orientation):
                log.warning(
                    "%s: %s: %d of %d messages give no orientation (orientation_covariance[0] = -1): "
                    "no orientation read",
                    path, TOPIC_IMU, len(self.has_orientation) - given, len(self.has_orientation),
                )
            frames = {f: n for f, n in self.imu_frames.items() if f and not header}  # sim2real's: the spec's site
            if frames:
                meta["imu_frame"] = max(frames, key=frames.__getitem__)
                if len(frames) > 1:
                    log.warning(
                        "%s: %s: IMU messages name %d frames (%s): all read in %s's",
                        path, TOPIC_IMU, len(frames), ", ".join(sorted(frames)), meta["imu_frame"],
                    )
            imu = {
                "imu_t": imu_ns[order] / 1e9,
                "gyro": arr[:, 0:3],
                "accel": arr[:, 3:6],
                "quat": arr[:, 6:10] if all(self.has_orientation) else None,
            }
        base = {
            topic: (list(self._clock(topic, stamps, self.base_recv[topic], foreign=not header)), rows)
            for topic, (stamps, rows) in self.base.items()
        }
        try:
            return Trajectory(
                spec_hash=spec_hash,
                joint_names=names,
                t=t,
                q=q,
                qd=qd,
                tau=tau,
                tau_partial=tau_partial,
                command_t=np.array(self.command_ns, dtype=np.int64) / 1e9,
                command=command,
                command_joints=cjoints,
                events=tuple(self.events),
                meta=meta,
                **tracks(base),
                **imu,
            )
        except LogError as exc:
            raise LogError(f"{path}: {exc}") from None

    def _state_clock(self, *, foreign: bool) -> np.ndarray:
        """Joint-state times [ns] (:meth:`_clock`); of several topics (one driver per leg or bus), each
        topic on the recording clock by itself, then each joint kept from one topic only
        (:mod:`~.bag_joined`)."""
        sources = self.state_source if len(self.state_source) == len(self.state_ns) else []
        topics = list(dict.fromkeys(sources))
        if len(topics) < 2:
            topic = topics[0] if topics else TOPIC_JOINT_STATES
            return self._clock(topic, self.state_ns, self.state_recv, foreign=foreign)
        state_ns = np.empty(len(self.state_ns), dtype=np.int64)
        groups = [[i for i, s in enumerate(sources) if s == topic] for topic in topics]
        offsets = [_offset([self.state_ns[i] for i in idx], [self.state_recv[i] for i in idx]) for idx in groups]
        known = [o for o in offsets if o is not None]
        if not foreign or len(known) < 2 or max(known) - min(known) <= CLOCK_STEP_NS:  # one sender clock
            state_ns[:] = self._clock(", ".join(topics), self.state_ns, self.state_recv, foreign=foreign)
        else:
            log.warning(
                "%s: the header stamps of %s are %.6g s apart on the recording clock (senders on other clocks): "
                "each topic timed on the recording clock by itself",
                self.path, " and ".join(topics), (max(known) - min(known)) / 1e9,
            )
            for topic, idx in zip(topics, groups, strict=True):
                state_ns[idx] = self._clock(
                    topic, [self.state_ns[i] for i in idx], [self.state_recv[i] for i in idx], foreign=foreign
                )
        owners = joint_owners(str(self.path), TOPIC_JOINT_STATES, sources, state_ns, self.state_names, self.position)
        kept = keep_owned(owners, sources, self.state_names, (self.position, self.velocity, self.effort))
        self.state_topics = [t for t in topics if t in owners.values()]
        log.info("%s: joint states read from %s", self.path, ", ".join(self.state_topics))
        for rows in (self.state_names, self.position, self.velocity, self.effort, self.state_recv, self.state_source):
            rows[:] = [rows[i] for i in kept]
        return state_ns[kept]

    def _clock(self, topic: str, stamps: list[int], recv: list[int], *, foreign: bool) -> np.ndarray:
        """Sample times [ns] of a stamped topic: header stamps in sim2real's bags (the recording time
        when zero), the recording clock in other recorders' bags (:mod:`~.bag_states`).  Zero stamps
        (a driver that never fills them) are said, once per topic (``topic``: several, comma-separated)."""
        if zero := sum(self.unstamped.get(t, 0) for t in topic.split(", ")):
            log.warning(
                "%s: %s: %d of %d messages have header stamp 0 (not filled in by the sender): timed by "
                "their recording time, which adds the transport's delay and jitter",
                self.path, topic, zero, len(stamps),
            )
        if foreign:
            period = median_step(self.command_ns) or median_step(self.state_recv)
            return on_recording_clock(f"{self.path}: {topic}", stamps, recv, period)
        stamp = np.asarray(stamps, dtype=np.int64)
        return np.where(stamp != 0, stamp, np.asarray(recv, dtype=np.int64))


def _offset(stamps: Sequence[int], recv: Sequence[int]) -> int | None:
    """Median (recording time - header stamp) of the stamped messages [ns], or None without any."""
    stamp, at = np.asarray(stamps, dtype=np.int64), np.asarray(recv, dtype=np.int64)
    return int(np.median(at[stamp != 0] - stamp[stamp != 0])) if np.any(stamp != 0) else None
