"""A crash-safe MCAP storage backend for the ``rosbags`` rosbag2 writer, and recovery of cut files.

Why not rosbags' own MCAP storage: ``rosbags.rosbag2.storage_mcap.McapWriter`` keeps the schema
and channel records and every message in an in-memory chunk until the chunk passes 1 MiB, and
writes the footer only on close. A writer process killed with SIGKILL therefore leaves an MCAP file
of 0 bytes (the header itself still sits in Python's file buffer) and no ``metadata.yaml``.

:class:`FlushingMcapStorage` implements the same storage-writer protocol (rosbags' ``Writer`` still
builds the connections and ``metadata.yaml``), but writes unchunked MCAP: schema, channel and
message records go straight into the data section, and after every flush the file ends with a
``DataEnd`` record and a ``Footer`` without summary (``summary_start = 0``). Each flush is a single
``os.pwrite`` of the new records followed by a fresh copy of that 50-byte tail, written over the
old one. After a kill the file is thus a complete, linearly readable MCAP file that both rosbags'
``Reader`` (given the ``.mcap`` file) and ``mcap``/``mcap_ros2`` read. On close the usual summary
(schemas, channels, statistics, the ``rosbag2`` metadata record) and a footer pointing at it are
written.

The layout is that of rosbag2's own ``fastwrite`` storage preset (unchunked MCAP), which ``ros2 bag``
reads in file order; :class:`~sim2real.logs.bag.BagWriter` keeps log times non-decreasing, so file
order is time order. Readers that insist on message indexes (the MCAP C++ reader in log-time order)
need an indexed copy, e.g. from ``mcap recover`` or ``ros2 bag convert``.

The data survive the death of the process (they are in the kernel's page cache after each
``pwrite``), not a power cut, unless ``fsync=True``.

:func:`valid_prefix` and :func:`repaired_copy` handle files that were cut anywhere (a kill in the
middle of a write, or another recorder's truncated final chunk): they keep every complete record
and append a fresh tail.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rosbags.interfaces import ConnectionExtRosbag2, MessageDefinitionFormat
from rosbags.rosbag2.enums import CompressionMode

from sim2real.errors import LogError

if TYPE_CHECKING:
    from rosbags.interfaces import Connection

__all__ = ["MAGIC", "FlushingMcapStorage", "repaired_copy", "valid_prefix"]

log = logging.getLogger(__name__)

MAGIC = b"\x89MCAP0\r\n"
"""MCAP file magic, at both ends of the file."""

OP_HEADER, OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE = 0x01, 0x02, 0x03, 0x04, 0x05
OP_STATISTICS, OP_METADATA, OP_METADATA_INDEX, OP_SUMMARY_OFFSET, OP_DATA_END = 0x0B, 0x0C, 0x0D, 0x0E, 0x0F
_KNOWN_OPS = frozenset(range(0x01, 0x10))
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_RECORD_HEAD = struct.Struct("<BQ")
_MESSAGE_HEAD = struct.Struct("<BQHIQQ")


def _string(text: str) -> bytes:
    data = text.encode()
    return _U32.pack(len(data)) + data


def _string_map(items: dict[str, str]) -> bytes:
    body = b"".join(_string(k) + _string(v) for k, v in items.items())
    return _U32.pack(len(body)) + body


def _record(op: int, body: bytes) -> bytes:
    return _RECORD_HEAD.pack(op, len(body)) + body


def _tail(summary_start: int = 0, summary_offset_start: int = 0) -> bytes:
    """DataEnd (no CRC) + Footer + closing magic: 50 bytes."""
    return (
        _record(OP_DATA_END, _U32.pack(0))
        + _record(OP_FOOTER, _U64.pack(summary_start) + _U64.pack(summary_offset_start) + _U32.pack(0))
        + MAGIC
    )


_TAIL = _tail()
TAIL_SIZE = len(_TAIL)
"""Bytes of the DataEnd + Footer + magic tail that ends every flushed file."""


class FlushingMcapStorage:
    """Storage writer for ``rosbags.rosbag2.Writer`` that keeps the file readable at every flush.

    Writes ``<bag>/<bag>_0.mcap`` (rosbag2's naming), unchunked and uncompressed.
    """

    def __init__(
        self,
        path: Path,
        compression: CompressionMode,
        *,
        flush_period: float = 0.0,
        fsync: bool = False,
    ) -> None:
        """Create the file and write the header.

        Args:
            path: The bag directory (already created by the rosbags writer).
            compression: Must be ``CompressionMode.NONE``.
            flush_period: Write pending records to the file at most this long after they were
                added [s]; 0 writes on every message (one ``pwrite`` system call each).
            fsync: Also ``fsync`` after each flush (survives power loss; costs milliseconds).
        """
        if compression != CompressionMode.NONE:
            raise LogError("the crash-safe MCAP storage does not compress; compress after recording")
        self.path = path / f"{path.name}_0.mcap"
        self.flush_period = float(flush_period)
        self.fsync = fsync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._end = 0
        self._pending = bytearray(MAGIC)
        self._pending += _record(OP_HEADER, _string("ros2") + _string("sim2real (rosbags writer)"))
        self._schemas: dict[str, int] = {}
        self._channels: dict[int, tuple[int, str, str, bytes]] = {}
        self._schema_records: list[bytes] = []
        self._sequence: dict[int, int] = {}
        self._counts: dict[int, int] = {}
        self._start = 2**63 - 1
        self._stop = 0
        self._last_flush = time.monotonic()
        self.flush()

    # ---------------------------------------------------------------- StorageWriter protocol

    def add_msgtype(self, connection: Connection) -> None:
        """Write a Schema record for the connection's message type."""
        if connection.msgtype in self._schemas:
            return
        schema_id = len(self._schemas) + 1
        encoding = "ros2msg" if connection.msgdef.format == MessageDefinitionFormat.MSG else "ros2idl"
        data = connection.msgdef.data.encode()
        rec = _record(
            OP_SCHEMA,
            _U16.pack(schema_id)
            + _string(connection.msgtype)
            + _string(encoding)
            + _U32.pack(len(data))
            + data,
        )
        self._schemas[connection.msgtype] = schema_id
        self._schema_records.append(rec)
        self._pending += rec

    def add_connection(self, connection: Connection, offered_qos_profiles: str) -> None:
        """Write a Channel record for the connection."""
        self.add_msgtype(connection)
        ext = connection.ext
        encoding = ext.serialization_format if isinstance(ext, ConnectionExtRosbag2) else "cdr"
        metadata = {"offered_qos_profiles": offered_qos_profiles}
        if connection.digest:
            metadata["topic_type_hash"] = connection.digest
        channel = (self._schemas[connection.msgtype], connection.topic, encoding, _string_map(metadata))
        self._channels[connection.id] = channel
        self._sequence[connection.id] = 0
        self._counts[connection.id] = 0
        self._pending += self._channel_record(connection.id)
        self.flush()

    def write(self, connection: Connection, timestamp: int, data: bytes | memoryview) -> None:
        """Append one Message record (log time = publish time = ``timestamp`` [ns])."""
        cid = connection.id
        seq = self._sequence[cid] = (self._sequence[cid] + 1) & 0xFFFFFFFF
        self._pending += _MESSAGE_HEAD.pack(OP_MESSAGE, 22 + len(data), cid, seq, timestamp, timestamp)
        self._pending += data
        self._counts[cid] += 1
        self._start = min(self._start, timestamp)
        self._stop = max(self._stop, timestamp)
        if self.flush_period <= 0 or time.monotonic() - self._last_flush >= self.flush_period:
            self.flush()

    def flush(self) -> None:
        """Write pending records plus a fresh tail in one system call."""
        if not self._pending:
            return
        os.pwrite(self._fd, bytes(self._pending) + _TAIL, self._end)
        self._end += len(self._pending)
        self._pending.clear()
        if self.fsync:
            os.fsync(self._fd)
        self._last_flush = time.monotonic()

    def close(self, version: int, metadata: str) -> None:
        """Write the rosbag2 metadata record, the summary section and an indexed footer."""
        del version
        out = bytearray(self._pending)
        pos = self._end

        meta_rec = _record(OP_METADATA, _string("rosbag2") + _string_map({"serialized_metadata": metadata}))
        meta_start = pos + len(out)
        out += meta_rec
        out += _record(OP_DATA_END, _U32.pack(0))

        summary_start = pos + len(out)
        groups: list[tuple[int, int, int]] = []
        for op, records in (
            (OP_SCHEMA, self._schema_records),
            (OP_CHANNEL, [self._channel_record(cid) for cid in self._channels]),
            (
                OP_METADATA_INDEX,
                [
                    _record(
                        OP_METADATA_INDEX,
                        _U64.pack(meta_start) + _U64.pack(len(meta_rec)) + _string("rosbag2"),
                    )
                ],
            ),
            (OP_STATISTICS, [self._statistics_record()]),
        ):
            start = pos + len(out)
            for rec in records:
                out += rec
            if records:
                groups.append((op, start, pos + len(out) - start))
        offsets_start = pos + len(out)
        for op, start, length in groups:
            out += _record(OP_SUMMARY_OFFSET, bytes([op]) + _U64.pack(start) + _U64.pack(length))
        out += _record(OP_FOOTER, _U64.pack(summary_start) + _U64.pack(offsets_start) + _U32.pack(0))
        out += MAGIC
        os.pwrite(self._fd, bytes(out), pos)
        os.ftruncate(self._fd, pos + len(out))
        self._pending.clear()
        os.fsync(self._fd)
        os.close(self._fd)

    def abort(self) -> None:
        """Flush what is pending and leave the file as after a crash (readable, without summary)."""
        try:
            self.flush()
        finally:
            os.close(self._fd)

    # ---------------------------------------------------------------- helpers

    def _channel_record(self, cid: int) -> bytes:
        schema_id, topic, encoding, metadata = self._channels[cid]
        return _record(
            OP_CHANNEL, _U16.pack(cid) + _U16.pack(schema_id) + _string(topic) + _string(encoding) + metadata
        )

    def _statistics_record(self) -> bytes:
        count = sum(self._counts.values())
        counts = b"".join(_U16.pack(cid) + _U64.pack(n) for cid, n in sorted(self._counts.items()))
        body = (
            _U64.pack(count)
            + _U16.pack(len(self._schemas))
            + _U32.pack(len(self._channels))
            + _U32.pack(0)  # attachments
            + _U32.pack(1)  # metadata records
            + _U32.pack(0)  # chunks
            + _U64.pack(self._start if count else 0)
            + _U64.pack(self._stop)
            + _U32.pack(len(counts))
            + counts
        )
        return _record(OP_STATISTICS, body)


def valid_prefix(path: Path) -> tuple[int, bool]:
    """Length of the longest prefix of complete data-section records, and whether the file is intact.

    The file is *intact* when its records run without a gap to a DataEnd record followed by a
    Footer and the closing magic at the very end. Otherwise the prefix stops before the first
    record that is cut short or whose successor is not a record (a kill during a write can leave
    the bytes of an old tail behind a new, partly written record, so that record is dropped too).

    Raises:
        LogError: The file does not start with the MCAP magic and a Header record.
    """
    size = path.stat().st_size
    if size < len(MAGIC) + 9:
        raise LogError(f"{path}: not an MCAP file ({size} bytes)")
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[: len(MAGIC)] != MAGIC or buf[len(MAGIC)] != OP_HEADER:
            raise LogError(f"{path}: not an MCAP file (bad magic)")
        (header_len,) = _U64.unpack_from(buf, len(MAGIC) + 1)
        header_end = len(MAGIC) + 9 + header_len
        if header_end > size:
            raise LogError(f"{path}: not an MCAP file (truncated header)")
        pos = last_start = header_end
        while pos + 9 <= size:
            op, length = _RECORD_HEAD.unpack_from(buf, pos)
            end = pos + 9 + length
            if op == OP_DATA_END and end <= size:
                return pos, _footer_follows(buf, end, size)
            if (op not in _KNOWN_OPS and op < 0x80) or op == OP_FOOTER:
                # Not a record, or a Footer without DataEnd: the bytes before may be a partly
                # written record padded by stale tail bytes, so drop that record too.
                return last_start, False
            if end > size:
                return pos, False
            last_start, pos = pos, end
        return pos, False


def _footer_follows(buf: mmap.mmap, pos: int, size: int) -> bool:
    """Whether the summary/footer after a DataEnd at ``pos`` reaches the file's end cleanly."""
    if buf[size - len(MAGIC) :] != MAGIC:
        return False
    footer_at = size - len(MAGIC) - 29
    if buf[footer_at] != OP_FOOTER:
        return False
    (summary_start,) = _U64.unpack_from(buf, footer_at + 9)
    if summary_start == 0:
        return pos == footer_at
    return pos <= summary_start <= footer_at


def repaired_copy(path: Path, dst_dir: Path, length: int, extra: bytes = b"") -> Path:
    """Copy the first ``length`` bytes of MCAP file ``path`` into ``dst_dir``, then ``extra`` (complete
    records, e.g. those of a cut chunk: :mod:`~.mcap_chunk`), and append a fresh tail.

    Returns:
        Path of the repaired ``.mcap`` file (same name as ``path``) inside ``dst_dir``.
    """
    dst = dst_dir / path.name
    with path.open("rb") as src, dst.open("wb") as out:
        remaining = length
        while remaining:
            block = src.read(min(remaining, 1 << 20))
            if not block:
                break
            out.write(block)
            remaining -= len(block)
        out.write(extra)
        out.write(_TAIL)
    log.warning("%s: kept %d of %d bytes of complete MCAP records", path, length, path.stat().st_size)
    return dst
