"""ROS 1 bags (``.bag`` files, format 2.0) as robot logs, read with rosbags' ``rosbag1`` reader (no
ROS install needed).

:func:`~sim2real.logs.bag_directory.open_bag` opens a ``.bag`` file (or any file starting with
``#ROSBAG V``) through :func:`open_ros1`; :func:`~sim2real.logs.bag.read_bag` then reads it as it
reads a rosbag2 bag of another recorder (same topic choice, clocks and errors), decoding each
message with :meth:`Ros1Bag.decoders` (ROS 1 serialization, not CDR):

- **Types.** rosbags names ROS 1 types as ROS 2 does (``sensor_msgs/JointState`` is read as
  ``sensor_msgs/msg/JointState``; a ``time`` is a ``builtin_interfaces/msg/Time`` of ``sec`` and
  ``nanosec``).  A connection whose type and MD5 sum are ROS Noetic's is decoded with Noetic's
  definitions; any other (a lab's own message, or a standard name with another definition) with the
  definition its connection header carries (every ROS 1 bag carries one per connection).
- **No spec hash.** A ROS 1 bag holds no metadata: it is another recorder's bag (joints matched
  to the robot by name, ``--command-order`` for commands that name no joints), unless it carries
  sim2real's ``/sim2real/meta`` message (a sim2real bag converted to ROS 1).
- **Unitree ROS 1 messages.** ``unitree_legged_msgs/LowState`` and ``LowCmd`` (the ROS 1 wrappers
  of ``unitree_legged_sdk``: A1, Go1, Aliengo, ``motorState[i]`` with ``q``, ``dq``, ``tauEst``;
  ``imu`` with ``quaternion`` (w, x, y, z), ``gyroscope``, ``accelerometer``; ``motorCmd[i]`` with
  ``mode``, ``q``, ``dq``, ``tau``, ``Kp``, ``Kd``) are read as the Unitree SDK messages of
  :mod:`~.bag_unitree` (``--motor-order``, stop values, position or torque commands), their fields
  seen under that module's names.
- **No index.** A bag whose recorder was killed (``.bag.active``: its header's ``index_pos`` 0,
  maybe a last chunk left open or cut) or that was cut short before its index is read by scanning
  its records (:mod:`~.bag_ros1_scan`), up to the last complete one, with a warning naming what was
  recovered; it reads as a bag not closed cleanly (``meta["complete"]`` False).
- **Errors, one line each.** Not a ROS 1 bag (another file named ``.bag``), a format other than
  2.0, a damaged index or chunk, a bag without an index damaged before its last complete record.

**Cost.** Measured on the 2-core development machine (rosbags 0.11.9), :func:`~.bag.read_bag` of a
run of a 12-joint robot at 500 Hz (30,000 JointState, Imu and Float64MultiArray messages):
31 µs per message (rosbags reads the index at open, 2 µs; each record through its generic header
parser, 7 µs; decoding, 15 µs), against 25 µs for the same run's rosbag2 MCAP bag (3 µs and 17 µs);
lz4-compressed chunks 32 µs, bz2 55 µs (one run on the shared machine; a later one of the same
indexed read gave 13 µs: the order of magnitude, no benchmark).  A bag read by scanning:
:mod:`~.bag_ros1_scan`.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path
from typing import Any

from rosbags.interfaces import Nodetype
from rosbags.rosbag1 import Reader
from rosbags.rosbag1 import ReaderError as Ros1ReaderError
from rosbags.typesys import Stores, get_typestore

from sim2real.errors import LogError
from sim2real.logs.bag_ros1_scan import MAGIC_V2, ScannedReader, header_fields
from sim2real.logs.bag_unitree import LOW_CMD, LOW_STATE, typestore_for

__all__ = ["ROS1_TYPESTORE", "Ros1Bag", "is_ros1_bag", "open_ros1"]

log = logging.getLogger(__name__)

ROS1_TYPESTORE = get_typestore(Stores.ROS1_NOETIC)
"""Definitions of the standard ROS 1 messages (Noetic), used where a connection's MD5 sum matches."""
_EMPTY = get_typestore(Stores.EMPTY)
MAGIC = b"#ROSBAG V"
"""How a ROS 1 bag file starts (``#ROSBAG V2.0\\n``)."""
SUFFIXES = (".bag", ".bag.active")
"""File names read as ROS 1 bags (``.bag.active``: ``rosbag record``'s file while it records)."""

UNITREE_LEGACY = {
    "unitree_legged_msgs/msg/LowState": LOW_STATE[0],
    "unitree_legged_msgs/msg/LowCmd": LOW_CMD[0],
}
"""unitree_legged_msgs types -> the Unitree SDK type of :mod:`~.bag_unitree` they are read as."""
_LEGACY_FIELDS = {
    "motor_state": "motorState",
    "motor_cmd": "motorCmd",
    "imu_state": "imu",
    "tau_est": "tauEst",
    "kp": "Kp",
    "kd": "Kd",
}
"""Field names of :mod:`~.bag_unitree` -> those of unitree_legged_msgs."""
_LEGACY_NEEDS = {
    "unitree_legged_msgs/msg/LowState": (
        ("motorState", "q"),
        ("motorState", "dq"),
        ("motorState", "tauEst"),
        ("imu", "quaternion"),
        ("imu", "gyroscope"),
        ("imu", "accelerometer"),
    ),
    "unitree_legged_msgs/msg/LowCmd": tuple(("motorCmd", f) for f in ("mode", "q", "dq", "tau", "Kp", "Kd")),
}
"""The fields of unitree_legged_msgs read, as paths of field names."""
_READ_ERRORS = (
    Ros1ReaderError,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    AssertionError,
    struct.error,
    RuntimeError,
)
"""What rosbags' rosbag1 reader raises on damaged data (lz4 raises RuntimeError, bz2 OSError)."""


def is_ros1_bag(path: Path) -> bool:
    """Whether ``path`` is a file to read as a ROS 1 bag: named ``.bag`` (or ``.bag.active``), or
    starting with ``#ROSBAG V`` whatever its name."""
    if not path.is_file():
        return False
    if path.name.endswith(SUFFIXES):
        return True
    try:
        with path.open("rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class Ros1Bag:
    """An open ROS 1 bag, as :func:`~sim2real.logs.bag.read_bag` reads a bag: ``connections`` (each
    ``.topic``, ``.msgtype``), :meth:`messages` and :meth:`decoders`.

    unitree_legged_msgs connections appear under the Unitree SDK type they are read as
    (:data:`UNITREE_LEGACY`)."""

    def __init__(self, path: Path, reader: Reader | ScannedReader, *, complete: bool = True) -> None:
        self.path = path
        self.complete = complete
        """False for a bag read by scanning (no index: its recorder did not close it, or it was cut)."""
        self._reader = reader
        self._original = {c.id: c for c in reader.connections}
        self._shown = {
            c.id: c._replace(msgtype=UNITREE_LEGACY.get(c.msgtype, c.msgtype)) for c in reader.connections
        }

    @property
    def connections(self) -> list[Any]:
        return list(self._shown.values())

    def messages(self, connections: Sequence[Any] = ()) -> Iterator[tuple[Any, int, bytes]]:
        """(connection, recording time [ns], raw ROS 1 bytes) of ``connections`` (all when empty), in
        recording-time order.

        Raises:
            LogError: A damaged chunk or message record (one line).
        """
        original = [self._original[c.id] for c in connections]
        try:
            for conn, ns, raw in self._reader.messages(connections=original):
                yield self._shown[conn.id], ns, raw
        except _READ_ERRORS as exc:
            raise LogError(f"{self.path}: damaged ROS 1 bag data ({type(exc).__name__}: {exc})") from None

    def decoders(self, where: str, connections: Sequence[Any]) -> dict[str, Callable[[bytes], Any]]:
        """Message type (as shown in :attr:`connections`) -> a function decoding one raw message.

        Raises:
            LogError: A type whose MD5 sum is not Noetic's and whose definition the bag does not
                carry or that cannot be parsed; unitree_legged_msgs lacking a field read.
        """
        standard, own = [], []
        for shown in connections:
            conn = self._original[shown.id]
            if conn.msgtype in ROS1_TYPESTORE.fielddefs and _md5(conn.msgtype) == conn.digest:
                standard.append(conn)
            elif not conn.msgdef.data.strip():
                raise LogError(
                    f"{where}: topic {conn.topic} has type {conn.msgtype} (MD5 {conn.digest}), whose definition "
                    "the bag does not carry and which is not ROS Noetic's: the recorder left it out"
                )
            else:
                own.append(conn)
        stores = dict.fromkeys({c.msgtype for c in standard}, ROS1_TYPESTORE)
        if own:
            stores |= typestore_for(where, own, _EMPTY)
            differs = sorted({c.msgtype for c in own if c.msgtype in ROS1_TYPESTORE.fielddefs})
            if differs:
                log.info(
                    "%s: %s decoded with the definitions the bag carries (not Noetic's)",
                    where,
                    ", ".join(differs),
                )
        out: dict[str, Callable[[bytes], Any]] = {}
        for shown in connections:
            conn = self._original[shown.id]
            store = stores[conn.msgtype]
            decode = partial(store.deserialize_ros1, typename=conn.msgtype)
            if conn.msgtype in UNITREE_LEGACY:
                _check_fields(where, conn, store)
                decode = partial(_legacy, decode)
            out[shown.msgtype] = decode
        return out


@contextmanager
def open_ros1(path: Path) -> Iterator[Ros1Bag]:
    """Open a ROS 1 bag file; one without an index (its recorder was killed) or cut short before its
    index is read by scanning its records (:mod:`~.bag_ros1_scan`), with a warning saying what was
    recovered.

    Raises:
        LogError: Not a ROS 1 bag, a format other than 2.0, damaged (one line each).
    """
    why = _check_header(path)
    if why:
        scanned = ScannedReader(path)
        try:
            _warn_scanned(path, why, scanned)
            yield Ros1Bag(path, scanned, complete=False)
        finally:
            scanned.close()
        return
    reader = Reader(path)
    try:
        reader.open()
    except _READ_ERRORS as exc:
        raise LogError(f"{path}: damaged ROS 1 bag ({type(exc).__name__}: {exc})") from None
    try:
        yield Ros1Bag(path, reader)
    finally:
        reader.close()


def _warn_scanned(path: Path, why: str, scanned: ScannedReader) -> None:
    """Say what a scan recovered: how many messages, up to when, and what it left out."""
    times = [ns for _, ns, *_ in scanned.scan.messages]
    span = (
        f", up to t = {max(times) / 1e9:.3f} s ({(max(times) - min(times)) / 1e9:.3f} s of recording)"
        if times
        else ""
    )
    tail = scanned.scan.tail()
    log.warning(
        "%s: %s: read by scanning, %d messages%s%s",
        path,
        why,
        len(times),
        span,
        f"; {tail}" if tail else "",
    )


def _check_header(path: Path) -> str:
    """Refuse, in one line, a file that is no ROS 1 bag of format 2.0 (read from the bag header
    record); say why its records must be scanned ("" when its index can be read): no index
    (``index_pos`` 0), or cut before its index."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            magic = f.readline(64)
            head = f.read(4)
            record = f.read(struct.unpack("<I", head)[0]) if len(head) == 4 and magic == MAGIC_V2 else b""
    except OSError as exc:
        raise LogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not magic.startswith(MAGIC):
        what = "an empty file" if not size else "it does not start with '#ROSBAG V2.0'"
        raise LogError(f"{path}: not a ROS 1 bag ({what})")
    if magic != MAGIC_V2:
        version = magic[len(MAGIC) :].strip().decode(errors="replace")
        raise LogError(
            f"{path}: ROS 1 bag format {version}: only format 2.0 (rosbag's since ROS C Turtle) is read; rewrite "
            f"it in 2.0 on a ROS 1 machine (`rosbag filter {path.name} new.bag True`)"
        )
    fields = header_fields(record) or {}
    index = fields.get(b"index_pos")
    if index is None or len(index) != 8:
        raise LogError(f"{path}: damaged ROS 1 bag (its bag header record has no index position)")
    (index_pos,) = struct.unpack("<Q", index)
    if index_pos == 0:
        return "no index (its recorder did not close it)"
    counts = [
        struct.unpack("<I", fields[k])[0]
        for k in (b"conn_count", b"chunk_count")
        if len(fields.get(k, b"")) == 4
    ]
    if index_pos > size or (index_pos == size and any(counts)):  # an empty bag's index is empty
        return f"cut short ({size} bytes, its index starts at byte {index_pos}; copy it again if you can)"
    return ""


@cache
def _md5(msgtype: str) -> str:
    return ROS1_TYPESTORE.generate_msgdef(msgtype)[1]


def _check_fields(where: str, conn: Any, store: Any) -> None:
    """Refuse a unitree_legged_msgs definition that lacks a field read (another SDK's layout)."""
    for path in _LEGACY_NEEDS[conn.msgtype]:
        typename: str | None = conn.msgtype
        for name in path:
            fields = dict(store.fielddefs[typename][1]) if typename in store.fielddefs else {}
            if name not in fields:
                raise LogError(
                    f"{where}: topic {conn.topic}: the bag's {conn.msgtype} has no {'.'.join(path)} (another "
                    "Unitree SDK's layout?): only unitree_legged_msgs as unitree_legged_sdk 3.x publishes it is read"
                )
            typename = _inner(fields[name])


def _inner(desc: Any) -> str | None:
    """The message type a field holds (itself, or its array's elements), else None."""
    kind, detail = desc
    if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        kind, detail = detail[0]
    return detail if kind == Nodetype.NAME else None


def _legacy(decode: Callable[[bytes], Any], raw: bytes) -> Any:
    return _Renamed(decode(raw))


class _Renamed:
    """A unitree_legged_msgs message seen with :mod:`~.bag_unitree`'s field names (``motor_state``
    for ``motorState``, ``tau_est`` for ``tauEst``, ``kp`` for ``Kp`` ...)."""

    __slots__ = ("_msg",)

    def __init__(self, msg: Any) -> None:
        self._msg = msg

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._msg, _LEGACY_FIELDS.get(name, name))
        if isinstance(value, list):
            return [_Renamed(v) if hasattr(v, "__msgtype__") else v for v in value]
        return _Renamed(value) if hasattr(value, "__msgtype__") else value
