"""ROS 1 bags without a usable index (their recorder was killed, or the file was cut short), read by
walking their records from the bag header on, as ``rosbag reindex`` would (no ROS install needed).

A ROS 1 bag (format 2.0) is ``#ROSBAG V2.0\\n`` then records, each ``header_len`` (uint32),
a header of ``name=value`` fields (each prefixed by its uint32 length; ``op`` says the record's
kind), ``data_len`` (uint32) and the data.  Records read: the bag header (op 0x03, skipped),
chunks (op 0x05: ``compression`` none, bz2 or lz4 and ``size``, the uncompressed size; inside,
message data records (op 0x02: ``conn``, ``time`` as uint32 seconds and nanoseconds) and
connection records (op 0x07: ``conn``, ``topic``; data: a header of ``type``, ``md5sum``,
``message_definition``, ``callerid``, ``latching``)), connection records outside chunks, and the
index records (op 0x04 index data, op 0x06 chunk info), skipped.  ``rosbag record`` writes a chunk's
header with ``size`` 0 and ``data_len`` 0 until it closes the chunk: such an *open* chunk holds the
rest of the file.

What the scan keeps: every connection, and each message's connection, recording time [ns] and
place, up to the last complete record; a final record (or the final open or cut chunk's last
record) cut short is ignored, as is a tail of zero bytes (a file system's after a power loss).
Anything else that does not parse (garbage after the header, a damaged chunk) is one error line.

The scan keeps about 180 bytes per message (its connection, time and place), as rosbags' reader
keeps its index entries, and writes the records of compressed chunks, decompressed once, to a
temporary file (the bag's uncompressed size) that the messages are then read from.

rosbags' rosbag1 reader parses the same record headers, times and topic names (its ``Header``,
``deserialize_time``, ``normalize``), but in its private module: ``rosbags.rosbag1`` exports only
``Reader``, ``Writer`` and their errors, and those helpers read a file stream, not a buffer; so the
scan parses them itself (it already borrows one such helper, ``rosbags.typesys.msg.normalize_msgtype``,
which ``rosbags.typesys`` does not export either: a rosbags upgrade may move it).

**Cost.** About what reading through the index costs (plain and lz4 chunks), bz2 chunks being
decompressed once, by the scan, into a temporary file: the measured figures, and why they are
only an order of magnitude, are in ``docs/real_data.md`` (*ROS 1 bags*).
"""

from __future__ import annotations

import bz2
import mmap
import struct
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import lz4.frame
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag1,
    MessageDefinition,
    MessageDefinitionFormat,
)
from rosbags.typesys.msg import normalize_msgtype

from sim2real.errors import LogError

__all__ = ["MAGIC_V2", "Scan", "ScannedReader", "header_fields", "scan"]

MAGIC_V2 = b"#ROSBAG V2.0\n"
"""The first line of a ROS 1 bag of format 2.0."""
OP_MESSAGE, OP_BAG_HEADER, OP_INDEX, OP_CHUNK, OP_CHUNK_INFO, OP_CONNECTION = 2, 3, 4, 5, 6, 7
_SKIPPED = (OP_BAG_HEADER, OP_INDEX, OP_CHUNK_INFO)
_MAX_HEADER = 1 << 20
"""A record header longer than this [bytes] is damage, not a record (real ones hold a few fields)."""
_U32 = struct.Struct("<I")
_TIME = struct.Struct("<II")


class _DamagedError(Exception):
    """A record that does not parse (not a cut one)."""


def header_fields(record: bytes) -> dict[bytes, bytes] | None:
    """``name=value`` fields of a ROS 1 record header (each prefixed by its uint32 length), or None
    when they do not fill the header exactly or a field has no ``=``."""
    out, i, end = {}, 0, len(record)
    while i < end:
        if i + 4 > end:
            return None
        (n,) = _U32.unpack_from(record, i)
        if i + 4 + n > end:
            return None
        name, eq, value = record[i + 4 : i + 4 + n].partition(b"=")
        if not eq:
            return None
        out[name] = value
        i += 4 + n
    return out


@dataclass
class _Record:
    op: int
    fields: dict[bytes, bytes]
    data: int
    """Where its data starts (in the buffer scanned)."""
    data_len: int
    end: int | None
    """Where it ends, None when its data runs past the buffer's end (cut)."""


def _record(buf: Any, pos: int, size: int) -> _Record | None:
    """The record at ``pos`` of ``buf[:size]``; None when it is cut before its data starts.

    Raises:
        _DamagedError: Its header does not parse, or has no ``op``.
    """
    if pos + 4 > size:
        return None
    (hlen,) = _U32.unpack_from(buf, pos)
    if hlen > _MAX_HEADER:
        raise _DamagedError(f"a record header of {hlen} bytes")
    if pos + 8 + hlen > size:
        return None
    fields = header_fields(buf[pos + 4 : pos + 4 + hlen])
    op = (fields or {}).get(b"op", b"")
    if fields is None or len(op) != 1:
        raise _DamagedError("a record header that does not parse")
    (dlen,) = _U32.unpack_from(buf, pos + 4 + hlen)
    data = pos + 8 + hlen
    return _Record(op[0], fields, data, dlen, data + dlen if data + dlen <= size else None)


def _u32(rec: _Record, name: bytes) -> int:
    value = rec.fields.get(name, b"")
    if len(value) != 4:
        raise _DamagedError(f"a record (op {rec.op:#04x}) without its {name.decode()} field")
    return _U32.unpack(value)[0]


@dataclass(frozen=True)
class _Chunk:
    """A compressed chunk: its compression, where its data starts in the file and how many of its
    bytes the file holds, whether whole."""

    compression: str
    start: int
    length: int
    whole: bool


@dataclass
class Scan:
    """What a scan found: ``connections`` (as rosbags' rosbag1 reader gives them), ``messages``
    (connection id, recording time [ns], chunk (-1: in the file itself), offset, length),
    ``end`` (the byte after the last complete record) and ``ignored`` (bytes after it).

    A compressed chunk is decompressed once, by the scan: its records are written to ``spill`` (a
    temporary file), where the messages are read from (offsets within the chunk's records)."""

    path: Path
    connections: list[Connection] = field(default_factory=list)
    messages: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    chunks: list[_Chunk] = field(default_factory=list)
    spill: BinaryIO | None = None
    """Where the records of compressed chunks go once decompressed (None: nowhere; a scan alone)."""
    spilled: list[int] = field(default_factory=list)
    """Where each chunk's decompressed records start in ``spill`` [bytes]."""
    end: int = 0
    ignored: int = 0
    partial: tuple[str, int, int] | None = None
    """A compressed chunk the file ends inside: (compression, its bytes in the file, messages read)."""

    def tail(self) -> str:
        """What the scan left out at the file's end, for a warning ("" when nothing)."""
        if self.partial is not None:
            compression, length, count = self.partial
            if not count:
                return f"a cut final {compression} chunk of {length} bytes ignored"
            return f"a cut final {compression} chunk of {length} bytes: its first {count} messages read"
        return f"a cut final record of {self.ignored} bytes ignored" if self.ignored else ""


def scan(path: Path, buf: Any, spill: BinaryIO | None = None) -> Scan:
    """Walk the records of the ROS 1 bag ``buf`` (its bytes: an mmap of ``path``), writing the
    decompressed records of compressed chunks to ``spill`` (:class:`Scan`).

    Raises:
        LogError: Not format 2.0, or a record that does not parse before the file's last complete
            record (one line).
    """
    size = len(buf)
    if bytes(buf[: len(MAGIC_V2)]) != MAGIC_V2:
        raise LogError(f"{path}: not a ROS 1 bag of format 2.0")
    out = Scan(path, spill=spill)
    found: dict[int, tuple[bytes, dict[bytes, bytes]]] = {}
    pos = len(MAGIC_V2)
    try:
        while pos < size:
            rec = _record(buf, pos, size)
            if rec is None or (rec.end is None and rec.op != OP_CHUNK):
                break
            if rec.op == OP_CHUNK:
                pos = _chunk(out, found, buf, rec, size)
                if pos < 0:  # an open or cut chunk: the file ends inside it
                    pos = -pos
                    break
                continue
            if rec.op == OP_CONNECTION:
                _connection(found, buf, rec)
            elif rec.op == OP_MESSAGE:
                out.messages.append((_u32(rec, b"conn"), _time(rec), -1, rec.data, rec.data_len))
            elif rec.op not in _SKIPPED:
                raise _DamagedError(f"a record of unknown op {rec.op:#04x}")
            assert rec.end is not None
            pos = rec.end
    except _DamagedError as exc:
        if any(bytes(buf[pos:size])):
            raise LogError(
                f"{path}: damaged ROS 1 bag at byte {pos} ({exc}): it has no index to skip the damage with"
            ) from None
    out.end, out.ignored = pos, size - pos
    _connections(out, found)
    return out


def _time(rec: _Record) -> int:
    value = rec.fields.get(b"time", b"")
    if len(value) != 8:
        raise _DamagedError("a message record without its time")
    sec, nsec = _TIME.unpack(value)
    return sec * 1_000_000_000 + nsec


def _connection(found: dict[int, tuple[bytes, dict[bytes, bytes]]], buf: Any, rec: _Record) -> None:
    assert rec.end is not None
    conn = _u32(rec, b"conn")
    data = header_fields(buf[rec.data : rec.end])
    if data is None or b"type" not in data:
        raise _DamagedError(f"connection {conn}'s header does not parse")
    found.setdefault(conn, (rec.fields.get(b"topic", data.get(b"topic", b"")), data))


def _chunk(out: Scan, found: dict, buf: Any, rec: _Record, size: int) -> int:
    """Scan one chunk record; returns where the next record starts, or minus where the scan stops
    when the file ends inside the chunk (open or cut)."""
    compression = rec.fields.get(b"compression", b"none").decode(errors="replace")
    declared = _u32(rec, b"size")
    is_open = rec.data_len == 0 and declared == 0  # rosbag record writes the sizes when it closes it
    whole = rec.end is not None and not is_open
    length = rec.data_len if whole else size - rec.data
    if compression == "none":
        end = _records(out, found, buf, rec.data, rec.data + length, -1, whole)
        if not whole:
            return -end
        if end != rec.data + length:
            raise _DamagedError("a chunk whose records do not fill it")
        return end
    chunk = _Chunk(compression, rec.data, length, whole)
    data, finished = _inflate(chunk, buf)
    if whole and len(data) != declared:
        raise _DamagedError(f"a {compression} chunk of {len(data)} bytes, not {declared}")
    before = len(out.messages)
    end = _records(out, found, data, 0, len(data), len(out.chunks), whole)
    out.chunks.append(chunk)
    if out.spill is not None:
        out.spilled.append(out.spill.tell())
        out.spill.write(data[:end])
    if not whole:
        if length and (not finished or end != len(data)):  # else all there (or nothing written yet)
            out.partial = (compression, length, len(out.messages) - before)
        return -size
    if end != len(data):
        raise _DamagedError("a chunk whose records do not fill it")
    assert rec.end is not None
    return rec.end


def _records(out: Scan, found: dict, buf: Any, pos: int, size: int, chunk: int, whole: bool) -> int:
    """Scan the message and connection records of a chunk's data ``buf[pos:size]``; returns where
    the last complete one ends."""
    while pos < size:
        try:
            rec = _record(buf, pos, size)
        except _DamagedError:
            if whole or any(bytes(buf[pos:size])):
                raise
            return pos  # zeros after the last record of an open chunk
        if rec is None or rec.end is None:
            if whole:
                raise _DamagedError("a chunk whose last record runs past its end")
            return pos
        if rec.op == OP_MESSAGE:
            out.messages.append((_u32(rec, b"conn"), _time(rec), chunk, rec.data, rec.data_len))
        elif rec.op == OP_CONNECTION:
            _connection(found, buf, rec)
        else:
            raise _DamagedError(f"a record of op {rec.op:#04x} inside a chunk")
        pos = rec.end
    return pos


def _inflate(chunk: _Chunk, buf: Any) -> tuple[bytes, bool]:
    """A compressed chunk's records (as much of them as the file holds when the chunk is not whole),
    and whether its stream ended.

    Raises:
        _DamagedError: An unknown compression, or data that does not decompress.
    """
    raw = buf[chunk.start : chunk.start + chunk.length]
    if chunk.compression == "bz2":
        inflater: Any = bz2.BZ2Decompressor()
    elif chunk.compression == "lz4":
        inflater = lz4.frame.LZ4FrameDecompressor()
    else:
        raise _DamagedError(f"a chunk of unknown compression {chunk.compression!r}")
    try:
        data = inflater.decompress(raw)
    except (OSError, RuntimeError, ValueError, EOFError) as exc:
        if chunk.whole:
            raise _DamagedError(f"a {chunk.compression} chunk that does not decompress: {exc}") from None
        return b"", False  # a cut stream may fail where it ends; what came out before is lost with it
    if chunk.whole and not inflater.eof:
        raise _DamagedError(f"a {chunk.compression} chunk whose stream ends early")
    return data, inflater.eof


def _connections(out: Scan, found: dict[int, tuple[bytes, dict[bytes, bytes]]]) -> None:
    """Turn the connection records found into rosbags connections (each with its message count)."""
    counts: dict[int, int] = {}
    for conn, *_ in out.messages:
        counts[conn] = counts.get(conn, 0) + 1
    unknown = sorted(set(counts) - set(found))
    if unknown:
        raise LogError(
            f"{out.path}: damaged ROS 1 bag (messages of connection {unknown[0]}, which it never defines)"
        )
    for conn, (topic, data) in sorted(found.items()):
        text = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in data.items()}
        latching = text.get("latching")
        out.connections.append(
            Connection(
                conn,
                _topic(topic.decode(errors="replace")),
                normalize_msgtype(text["type"]),
                MessageDefinition(MessageDefinitionFormat.MSG, text.get("message_definition", "")),
                text.get("md5sum", ""),
                counts.get(conn, 0),
                ConnectionExtRosbag1(
                    text.get("callerid"), int(latching) if latching and latching.isdigit() else None
                ),
                out,
            )
        )


def _topic(name: str) -> str:
    """A topic name without repeated or trailing slashes (as rosbags' reader gives it)."""
    return "/" * name.startswith("/") + "/".join(p for p in name.split("/") if p)


class ScannedReader:
    """A ROS 1 bag read by scanning, with the part of rosbags' rosbag1 reader that
    :class:`~.bag_ros1.Ros1Bag` uses: ``connections`` and :meth:`messages`."""

    def __init__(self, path: Path) -> None:
        """Scan the bag at ``path``.

        Raises:
            LogError: Unreadable, not format 2.0, damaged before its last complete record (one line).
        """
        self.path = path
        self._buf: Any = None
        self._spilled: Any = None
        self._spill: BinaryIO | None = None
        try:
            self._file = path.open("rb")
        except OSError as exc:
            raise LogError(f"{path}: cannot read ({exc.strerror or exc})") from None
        try:
            self._buf = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            self._spill = tempfile.TemporaryFile(prefix="sim2real-bag-")  # noqa: SIM115 (closed by close())
            self.scan = scan(path, self._buf, self._spill)
            if self._spill.tell():
                self._spill.flush()
                self._spilled = mmap.mmap(self._spill.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            self.close()
            raise LogError(f"{path}: cannot read ({exc})") from None
        except BaseException:
            self.close()
            raise
        self.connections = self.scan.connections

    @property
    def message_count(self) -> int:
        return len(self.scan.messages)

    @property
    def start_time(self) -> int:
        """Recording time of the earliest message [ns] (as rosbags' reader: 2**63 - 1 when none)."""
        return min((ns for _, ns, *_ in self.scan.messages), default=2**63 - 1)

    @property
    def end_time(self) -> int:
        """Recording time after the latest message [ns] (as rosbags' reader: 0 when none)."""
        return max((ns for _, ns, *_ in self.scan.messages), default=-1) + 1

    def close(self) -> None:
        for name in ("_buf", "_spilled", "_spill"):
            if getattr(self, name) is not None:
                getattr(self, name).close()
                setattr(self, name, None)
        self._file.close()

    def messages(self, connections: Collection[Connection] = ()) -> Iterator[tuple[Connection, int, bytes]]:
        """(connection, recording time [ns], raw ROS 1 bytes) of ``connections`` (all when empty), in
        recording-time order (file order among equal times)."""
        by_id = {c.id: c for c in self.connections}
        wanted = {c.id for c in connections} if connections else set(by_id)
        picked = sorted(
            ((ns, i) for i, (conn, ns, *_) in enumerate(self.scan.messages) if conn in wanted),
        )
        for ns, i in picked:
            conn, _, chunk, offset, length = self.scan.messages[i]
            if chunk < 0:
                raw = self._buf[offset : offset + length]
            else:
                start = self.scan.spilled[chunk] + offset
                raw = self._spilled[start : start + length]
            yield by_id[conn], ns, raw
