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
- **Split recordings.** ``rosbag record --split`` writes ``NAME_0.bag``, ``NAME_1.bag``, ... (``NAME``
  the ``-O`` name, or the date each part started; the part being written ``NAME_k.bag.active``).
  Their folder reads as one run (:func:`split_parts`: in the order of the part numbers, the messages
  merged by recording time); one part given alone reads alone, with a warning naming the folder.
  Bags of a folder that are not one recording's parts (no part number, a number twice, a part
  missing between two others, parts overlapping in time) are one error line saying to give each file.
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

import heapq
import logging
import struct
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cache, partial
from pathlib import Path
from typing import Any

from rosbags.interfaces import Nodetype
from rosbags.rosbag1 import Reader
from rosbags.rosbag1 import ReaderError as Ros1ReaderError
from rosbags.typesys import Stores, get_typestore

from sim2real.errors import LogError
from sim2real.logs.bag_ros1_scan import MAGIC_V2, ScannedReader, header_fields
from sim2real.logs.bag_ros2 import split_number
from sim2real.logs.bag_topics import short_list
from sim2real.logs.bag_unitree import LOW_CMD, LOW_STATE, typestore_for

__all__ = ["ROS1_TYPESTORE", "Ros1Bag", "is_ros1_bag", "open_ros1", "split_parts"]

log = logging.getLogger(__name__)

ROS1_TYPESTORE = get_typestore(Stores.ROS1_NOETIC)
"""Definitions of the standard ROS 1 messages (Noetic), used where a connection's MD5 sum matches."""
_EMPTY = get_typestore(Stores.EMPTY)
MAGIC = b"#ROSBAG V"
"""How a ROS 1 bag file starts (``#ROSBAG V2.0\\n``)."""
SUFFIXES = (".bag", ".bag.active")
"""File names read as ROS 1 bags (``.bag.active``: ``rosbag record``'s file while it records)."""
PART_OVERLAP_NS = 100_000_000
"""How far [ns] a part of a split recording may start before the previous part's last message (one
recorder writes the parts in turn, so they barely overlap, by its callbacks' jitter; two recordings
of the same time would)."""

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
    """An open ROS 1 bag (or the parts of one split recording), as :func:`~sim2real.logs.bag.read_bag`
    reads a bag: ``connections`` (each ``.topic``, ``.msgtype``), :meth:`messages` and :meth:`decoders`.

    unitree_legged_msgs connections appear under the Unitree SDK type they are read as
    (:data:`UNITREE_LEGACY`); each part's connections under ids of their own."""

    def __init__(self, path: Path, readers: Sequence[Reader | ScannedReader], *, complete: bool = True) -> None:
        self.path = path
        self.complete = complete
        """False when a part was read by scanning (no index: its recorder did not close it, or it was cut)."""
        self._readers = list(readers)
        self._original: dict[int, tuple[int, Any]] = {}
        self._shown: dict[int, Any] = {}
        for part, reader in enumerate(self._readers):
            for c in reader.connections:
                shown = len(self._shown)
                self._original[shown] = (part, c)
                self._shown[shown] = c._replace(id=shown, msgtype=UNITREE_LEGACY.get(c.msgtype, c.msgtype))
        self._by_original = {(part, c.id): shown for shown, (part, c) in self._original.items()}

    @property
    def connections(self) -> list[Any]:
        return list(self._shown.values())

    def messages(self, connections: Sequence[Any] = ()) -> Iterator[tuple[Any, int, bytes]]:
        """(connection, recording time [ns], raw ROS 1 bytes) of ``connections`` (all when empty), in
        recording-time order (the parts' messages merged).

        Raises:
            LogError: A damaged chunk or message record (one line).
        """
        wanted = [self._original[c.id] for c in connections]
        streams = []
        for part, reader in enumerate(self._readers):
            own = [c for p, c in wanted if p == part]
            if own or not wanted:
                streams.append(self._part(part, reader.messages(connections=own)))
        if not streams:
            return
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda m: m[1])
        try:
            yield from merged
        except _READ_ERRORS as exc:
            raise LogError(f"{self.path}: damaged ROS 1 bag data ({type(exc).__name__}: {exc})") from None

    def _part(self, part: int, messages: Iterator[tuple[Any, int, bytes]]) -> Iterator[tuple[Any, int, bytes]]:
        for conn, ns, raw in messages:
            yield self._shown[self._by_original[part, conn.id]], ns, raw

    def decoders(self, where: str, connections: Sequence[Any]) -> dict[str, Callable[[bytes], Any]]:
        """Message type (as shown in :attr:`connections`) -> a function decoding one raw message.

        Raises:
            LogError: A type whose MD5 sum is not Noetic's and whose definition the bag does not
                carry or that cannot be parsed; unitree_legged_msgs lacking a field read.
        """
        standard, own = [], []
        for shown in connections:
            conn = self._original[shown.id][1]
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
            conn = self._original[shown.id][1]
            store = stores[conn.msgtype]
            decode = partial(store.deserialize_ros1, typename=conn.msgtype)
            if conn.msgtype in UNITREE_LEGACY:
                _check_fields(where, conn, store)
                decode = partial(_legacy, decode)
            out[shown.msgtype] = decode
        return out


def split_parts(folder: Path, *, warn: bool = True) -> list[Path]:
    """The ROS 1 bags of ``folder`` as the parts of one recording, in order: ``rosbag record --split``
    names them ``NAME_0.bag``, ``NAME_1.bag``, ... (``NAME`` its ``-O`` name, or a date that changes
    from part to part; the part being written ``NAME_k.bag.active``); [] when the folder holds none.
    A folder of one bag gives that bag.  ``rosbag reindex``'s backups (``NAME_k.bag.orig.active``) are
    left out.  ``warn``: say when the parts start after part 0.

    Raises:
        LogError: Bags that are not the parts of one recording (a bag without a part number, a number
            twice), or a part missing between two others (one line each).
    """
    bags = sorted(p for p in folder.iterdir() if is_ros1_bag(p) and not _is_backup(p))
    if len(bags) < 2:
        return bags
    numbers = {p: split_number(p.name) for p in bags}
    unnumbered = [p.name for p, n in numbers.items() if n is None]
    counts = Counter(numbers.values())
    if unnumbered or any(c > 1 for c in counts.values()):
        odd = unnumbered[0] if unnumbered else next(p.name for p, n in numbers.items() if counts[n] > 1)
        raise LogError(
            f"{folder}: {len(bags)} ROS 1 bags that are not the parts of one split recording "
            f"({_names(bags)}; {odd} {'has no part number _N' if unnumbered else 'shares its part number'}): "
            "give each .bag file as a log"
        )
    parts = sorted(bags, key=lambda p: numbers[p])
    first, last = numbers[parts[0]], numbers[parts[-1]]
    if missing := sorted(set(range(first, last + 1)) - set(counts)):
        raise LogError(
            f"{folder}: part {missing[0]} of the split recording {_names(parts)} is missing: give the parts "
            "before and after it as separate logs"
        )
    if first > 0 and warn:
        log.warning(
            "%s: the split recording starts at part %d (rosbag record --max-splits deleted the parts before?)",
            folder,
            first,
        )
    return parts


def _is_backup(path: Path) -> bool:
    """Whether ``path`` is the copy ``rosbag reindex`` keeps of the bag it rewrote
    (``run_2.bag.orig.active`` beside the reindexed ``run_2.bag.active``)."""
    return ".orig." in path.name


def _names(paths: Sequence[Path]) -> str:
    return short_list([p.name for p in paths], 3)


@contextmanager
def open_ros1(paths: Path | Sequence[Path]) -> Iterator[Ros1Bag]:
    """Open a ROS 1 bag file, or the parts of one split recording (:func:`split_parts`) as one bag;
    a part without an index (its recorder was killed) or cut short before its index is read by
    scanning its records (:mod:`~.bag_ros1_scan`), with a warning saying what was recovered.

    Raises:
        LogError: Not a ROS 1 bag, a format other than 2.0, damaged; parts that overlap in time
            (one line each).
    """
    paths = [paths] if isinstance(paths, Path) else list(paths)
    path = paths[0].parent if len(paths) > 1 else paths[0]
    if len(paths) == 1:
        _warn_if_part(paths[0])
    with ExitStack() as stack:
        readers: list[Reader | ScannedReader] = [stack.enter_context(_open_one(p)) for p in paths]
        _check_in_sequence(path, paths, readers)
        if len(paths) > 1:
            log.info("%s: read as one run of %d parts (%s)", path, len(paths), _names(paths))
        yield Ros1Bag(path, readers, complete=not any(isinstance(r, ScannedReader) for r in readers))


@contextmanager
def _open_one(path: Path) -> Iterator[Reader | ScannedReader]:
    why = _check_header(path)
    if why:
        scanned = ScannedReader(path)
        try:
            _warn_scanned(path, why, scanned)
            yield scanned
        finally:
            scanned.close()
        return
    reader = Reader(path)
    try:
        reader.open()
    except _READ_ERRORS as exc:
        raise LogError(f"{path}: damaged ROS 1 bag ({type(exc).__name__}: {exc})") from None
    try:
        yield reader
    finally:
        reader.close()


def _check_in_sequence(folder: Path, paths: Sequence[Path], readers: Sequence[Reader | ScannedReader]) -> None:
    """Refuse parts whose recording times overlap by more than :data:`PART_OVERLAP_NS` (two
    recordings, not one split in parts)."""
    previous: tuple[Path, int] | None = None
    for path, reader in zip(paths, readers, strict=True):
        if not reader.message_count:
            continue
        if previous is not None and reader.start_time < previous[1] - PART_OVERLAP_NS:
            raise LogError(
                f"{folder}: {path.name} starts {(previous[1] - reader.start_time) / 1e9:.3f} s before "
                f"{previous[0].name} ends: not the parts of one split recording; give each .bag file as a log"
            )
        previous = (path, reader.end_time)


def _warn_if_part(path: Path) -> None:
    """Warn when the bag ``path`` is one part of a split recording beside it: only it is read."""
    number = split_number(path.name)
    if number is None:
        return
    try:
        parts = split_parts(path.parent, warn=False)
    except LogError:
        return
    if len(parts) > 1 and path in parts:
        log.warning(
            "%s: part %d of a split recording of %d parts (%s): only this part is read; give the folder "
            "%s to read them as one run",
            path,
            number,
            len(parts),
            _names(parts),
            path.parent,
        )


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
