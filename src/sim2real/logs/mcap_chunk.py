"""The complete records of an MCAP chunk cut short by the file's end (a recorder killed while
writing it, a copy stopped early).

Recorders that write chunked MCAP (``ros2 bag record``'s default storage, rosbags' writer) write a
chunk as one record once it is full: a kill in the middle leaves the chunk's header and part of its
records.  :func:`~.mcap_storage.valid_prefix` stops before the chunk, losing all of it (about
1 MiB: seconds of a fast robot's joint states).  Its records can still be read as far as they
reach where the compression allows it: uncompressed, or zstd and lz4 frames decompressed as a
stream (a zstd block or lz4 block cut short is lost with what follows).  The records recovered are
written after the file's complete records as unchunked records (MCAP allows both).
"""

from __future__ import annotations

import logging
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lz4.frame
import zstandard

log = logging.getLogger(__name__)

OP_CHUNK, OP_MESSAGE = 0x06, 0x05
_RECORD_HEAD = struct.Struct("<BQ")
_CHUNK_HEAD = struct.Struct("<QQQI")  # message start, end time [ns], uncompressed size, crc
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_LOG_TIME = struct.Struct("<HIQ")  # channel id, sequence, log time (a Message record's first fields)


@dataclass(frozen=True)
class Recovered:
    """What a cut chunk still held."""

    records: bytes
    """Its complete records, in file order."""
    messages: int
    """Message records among them."""
    last_ns: int | None
    """Log time of the last message recovered [ns], or None."""
    end_ns: int
    """The chunk's last message time, as its header states [ns]."""
    start_ns: int
    """The chunk's first message time [ns]."""
    compression: str
    """The chunk's compression ("" for none)."""


def recover_cut_chunk(path: Path, pos: int) -> Recovered | None:
    """The complete records of the chunk record at byte ``pos`` of ``path`` that the file's end cuts,
    or None when no chunk starts there or its header is cut or its compression unknown."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        size = len(buf)
        if pos + _RECORD_HEAD.size + _CHUNK_HEAD.size + 4 > size or buf[pos] != OP_CHUNK:
            return None
        at = pos + _RECORD_HEAD.size
        start_ns, end_ns, _, _ = _CHUNK_HEAD.unpack_from(buf, at)
        at += _CHUNK_HEAD.size
        (name_len,) = _U32.unpack_from(buf, at)
        at += 4
        if at + name_len + 8 > size:
            return None
        compression = bytes(buf[at : at + name_len]).decode(errors="replace")
        at += name_len + 8  # the records' byte length (the part the file holds is what is left)
        # a crash can leave the file's tail zero-filled (space the file system gave it, never written):
        # zeros are no records, and read as data they completed the half-written message
        data = _inflated(compression, bytes(buf[at:size]).rstrip(b"\x00"))
    if data is None:
        return None
    records, messages, last = _complete_records(data)
    return Recovered(records, messages, last, end_ns, start_ns, compression)


def _inflated(compression: str, data: bytes, piece: int = 4096) -> bytes | None:
    """As much of a chunk's cut records as decompresses, fed ``piece`` bytes at a time so that what
    came before a damaged tail is kept; None for an unknown compression."""
    if compression == "":
        return data
    if compression == "zstd":
        stream: Any = zstandard.ZstdDecompressor().decompressobj()
    elif compression == "lz4":
        stream = lz4.frame.LZ4FrameDecompressor()
    else:
        return None
    out = bytearray()
    for start in range(0, len(data), piece):
        try:
            out += stream.decompress(data[start : start + piece])
        except (zstandard.ZstdError, RuntimeError, ValueError, EOFError):
            break
    return bytes(out)


def _complete_records(data: bytes) -> tuple[bytes, int, int | None]:
    """The complete records at the start of ``data``, how many are messages, the last one's log time."""
    pos, messages, last = 0, 0, None
    while pos + _RECORD_HEAD.size <= len(data):
        op, length = _RECORD_HEAD.unpack_from(data, pos)
        end = pos + _RECORD_HEAD.size + length
        if end > len(data):
            break
        if op == OP_MESSAGE and length >= _LOG_TIME.size:
            messages += 1
            last = _LOG_TIME.unpack_from(data, pos + _RECORD_HEAD.size)[2]
        pos = end
    return data[:pos], messages, last


def say_recovered(path: Path, found: Recovered | None) -> None:
    """One warning: how many seconds of the cut chunk were recovered and lost."""
    if found is None:
        log.warning("%s: cut inside its last chunk, which cannot be read: its messages are lost", path)
        return
    how = f"{found.compression}-compressed" if found.compression else "uncompressed"
    if found.last_ns is None:
        log.warning(
            "%s: cut inside its last chunk (%s): no message of it recovered; its %.3f s lost",
            path,
            how,
            (found.end_ns - found.start_ns) / 1e9,
        )
        return
    log.warning(
        "%s: cut inside its last chunk (%s): %d messages recovered (%.3f s), its last %.3f s lost",
        path,
        how,
        found.messages,
        (found.last_ns - found.start_ns) / 1e9,
        (found.end_ns - found.last_ns) / 1e9,
    )
