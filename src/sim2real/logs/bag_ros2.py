"""rosbag2 bags as robot logs: their storage files (MCAP ``.mcap``, sqlite3 ``.db3``, each maybe
zstd-compressed), read as one reader that :func:`~sim2real.logs.bag.read_bag` uses as it uses a ROS 1
bag (:class:`~.bag_ros1.Ros1Bag`): ``connections``, :meth:`Ros2Bag.messages` and
:meth:`Ros2Bag.decoders`.

What ``ros2 bag record`` writes, and how each is read:

- **Split bags** (``--max-bag-size``, ``--max-bag-duration``): ``NAME_0.mcap``, ``NAME_1.mcap``, ...
  listed in ``metadata.yaml``'s ``relative_file_paths``: those files are read, their messages merged
  by recording time (:mod:`~.bag_split` judges missing ones).  Without ``metadata.yaml`` (a killed
  recorder, a copy without it), the directory's storage files are read as one run, merged the same
  way (:func:`storage_files` orders them by their numbers, ``NAME_10`` after ``NAME_9``).
- **Compression** (``--compression-mode file|message --compression-format zstd``): ``file`` replaces
  each closed storage file by ``NAME_k.mcap.zstd`` (or ``.db3.zstd``): such a file is decompressed into
  a temporary folder (a recorder killed mid-run leaves its last file uncompressed: both kinds are
  read); ``message`` compresses each message on its own, which rosbags' reader undoes from
  ``metadata.yaml``; without it, a message that starts with the zstd frame magic (a CDR message
  starts with its encapsulation header ``00 01``, never with it) is decompressed here.
- **Decoding**: types of ROS 2 Jazzy (:data:`ROS2_TYPESTORE`), others (Unitree's) from the
  definitions the bag carries (:func:`~.bag_unitree.typestore_for`).

Numpy-free; imports only :mod:`~.bag_unitree` and :mod:`~.mcap_storage` of sim2real's logs.
"""

from __future__ import annotations

import heapq
import logging
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader
from rosbags.rosbag2.errors import ReaderError
from rosbags.typesys import Stores, get_typestore

from sim2real.errors import LogError
from sim2real.logs.bag_unitree import typestore_for
from sim2real.logs.mcap_chunk import OP_CHUNK, recover_cut_chunk, say_recovered
from sim2real.logs.mcap_storage import repaired_copy, valid_prefix

if sys.version_info >= (3, 14):  # as rosbags itself: zstd is in the standard library from 3.14
    from compression import zstd
else:
    from backports import zstd

__all__ = [
    "DECOMPRESS_ERRORS",
    "ROS2_TYPESTORE",
    "STORAGE_SUFFIXES",
    "Ros2Bag",
    "is_storage_file",
    "missing_part",
    "open_storage_files",
    "split_number",
    "storage_files",
]

log = logging.getLogger(__name__)

ROS2_TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
"""Message definitions used to write and read rosbag2 bags (ROS 2 Jazzy; identical for sim2real's
types in Humble)."""
STORAGE_SUFFIXES = (".mcap", ".db3")
"""Storage files of a rosbag2 bag: MCAP, and sqlite3 (``ros2 bag record``'s default before Iron)."""
ZSTD_SUFFIX = ".zstd"
"""What ``--compression-mode file`` appends to a storage file's name."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
"""How a zstd frame starts (a message compressed by ``--compression-mode message``)."""
DECOMPRESS_ERRORS = (EOFError, zstd.ZstdError)
"""What decompressing a damaged or cut ``.zstd`` file raises (rosbags' reader lets them through)."""


def _kind(path: Path) -> str:
    """``.mcap`` or ``.db3`` for a storage file (compressed or not), else ""."""
    name = path.name.removesuffix(ZSTD_SUFFIX)
    return next((s for s in STORAGE_SUFFIXES if name.endswith(s)), "")


def is_storage_file(path: Path) -> bool:
    """Whether ``path`` names a rosbag2 storage file: ``.mcap``, ``.db3``, or either with ``.zstd``."""
    return bool(_kind(path))


def split_number(name: str) -> int | None:
    """The part number of a split recording's file (``run_3.mcap.zstd``, ``run_3.bag``: 3), or None.

    The suffixes (``.zstd``, ``.active``, the storage's) are dropped, then the number after the last
    ``_`` is read."""
    stem = name.removesuffix(ZSTD_SUFFIX).removesuffix(".active")
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    number = stem.rsplit("_", 1)[-1] if "_" in stem else ""
    return int(number) if number.isdigit() else None


def storage_files(path: Path, *, warn: bool = False) -> list[Path]:
    """The storage files of a bag directory read without ``metadata.yaml``, in recording order
    (``bag_0.db3``, ``bag_1.db3``, ..., ``bag_10.db3``: a bag split by ``--max-bag-size``; ``.zstd``
    files beside the last, uncompressed one when a recorder compressing each file was killed).

    A part there both compressed and not (``bag_2.mcap.zstd`` beside ``bag_2.mcap``: the recorder
    was killed after or while compressing it, before deleting the original) is read once, from the
    uncompressed file (whole, where the ``.zstd`` may be cut); ``warn``: say so.

    Raises:
        LogError: Both ``.mcap`` and ``.db3`` files; several files that are not the parts of one
            recording (``ros2 bag record`` numbers each: a file without a part number, a number twice).
    """
    files = [p for p in path.iterdir() if p.is_file() and is_storage_file(p)]
    if len({_kind(p) for p in files}) > 1:
        raise LogError(
            f"{path}: both .mcap and .db3 files and no metadata.yaml: which make the bag is unclear"
        )
    names = {p.name for p in files}
    twins = sorted(
        p.name for p in files if p.name.endswith(ZSTD_SUFFIX) and p.name.removesuffix(ZSTD_SUFFIX) in names
    )
    if twins and warn:
        log.warning(
            "%s: %s beside the same part%s uncompressed (a recorder killed while compressing?): read "
            "from %s only",
            path,
            ", ".join(twins),
            "s" if len(twins) > 1 else "",
            ", ".join(n.removesuffix(ZSTD_SUFFIX) for n in twins),
        )
    files = [p for p in files if p.name not in twins]
    numbers = [split_number(p.name) for p in files]
    if len(files) > 1 and (None in numbers or len(set(numbers)) < len(numbers)):
        odd, why = next(
            (p.name, "has no part number _N" if n is None else "shares its part number")
            for p, n in zip(files, numbers, strict=True)
            if n is None or numbers.count(n) > 1
        )
        shown = ", ".join(sorted(p.name for p in files)[:3]) + (" ..." if len(files) > 3 else "")
        raise LogError(
            f"{path}: {len(files)} storage files that are not the parts of one split bag ({shown}; {odd} "
            f"{why}) and no metadata.yaml read to say which: give each storage file as a log"
        )

    def order(p: Path) -> tuple[int, str]:
        number = split_number(p.name)
        return (-1 if number is None else number, p.name)

    return sorted(files, key=order)


def missing_part(files: Sequence[Path], listed: Sequence[str] = ()) -> str | None:
    """What is missing between the first and the last of a split bag's storage files ``files``
    (:func:`storage_files`), or None: a file ``metadata.yaml`` lists (``listed``; a file present
    under the other name, compressed or not, counts) before the last one, or without such a list a
    part number between theirs."""
    present = {p.name.removesuffix(ZSTD_SUFFIX) for p in files}
    if listed:
        gone = [n for n in listed[:-1] if n.removesuffix(ZSTD_SUFFIX) not in present]
        return gone[0] if gone else None
    numbers = [split_number(p.name) for p in files]
    if len(files) < 2 or None in numbers:
        return None
    known = {n for n in numbers if n is not None}
    gone_numbers = sorted(set(range(min(known), max(known) + 1)) - known)
    return f"part {gone_numbers[0]}" if gone_numbers else None


def open_storage_files(
    stack: ExitStack, where: Path, files: Sequence[Path], *, finished: bool = False
) -> list[Reader]:
    """Open each storage file with rosbags' reader (closed by ``stack``): a ``.zstd`` file
    decompressed, an MCAP file cut short (a killed recorder's) repaired, each into a temporary folder.
    ``finished``: the files of a bag its recorder closed (``metadata.yaml`` says so): an MCAP file is
    checked for a cut only when it does not open.

    Raises:
        LogError: A file that does not decompress or does not open (one line naming it).
    """
    tmp: list[Path] = []

    def folder() -> Path:
        if not tmp:
            tmp.append(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim2real-bag-"))))
        return tmp[0]

    readers = []
    for file in files:
        if file.name.endswith(ZSTD_SUFFIX):
            file = _decompressed(where, file, folder())
        if file.suffix == ".mcap" and not finished:
            file = _whole(where, file, folder)
        try:
            reader = _opened(file)
        except (ReaderError, OSError) as exc:
            if not (finished and file.suffix == ".mcap"):
                raise LogError(f"{where}: cannot read {file.name} ({type(exc).__name__}: {exc})") from None
            log.warning("%s: %s does not open (%s); reading it up to its last whole record", where, file.name, exc)
            reader = _opened(_whole(where, file, folder))
        stack.callback(reader.close)
        readers.append(reader)
    return readers


def _whole(where: Path, file: Path, folder: Callable[[], Path]) -> Path:
    """An MCAP file, or a repaired copy of it in ``folder()`` when a record was cut."""
    length, intact = valid_prefix(file)
    if not intact:
        extra = b""
        if _cut_record(file, length) == OP_CHUNK:  # a chunk cut short: its complete records
            found = recover_cut_chunk(file, length)
            say_recovered(file, found)
            extra = found.records if found is not None else b""
        return repaired_copy(file, folder(), length, extra)
    if where.is_dir():
        log.info("%s: no metadata.yaml (writer killed?); reading %s directly", where, file.name)
    return file


def _cut_record(file: Path, pos: int) -> int | None:
    """The opcode of the record at byte ``pos`` of ``file`` when the file's end cuts it, else None."""
    size = file.stat().st_size
    with file.open("rb") as fh:
        fh.seek(pos)
        head = fh.read(9)
    if len(head) < 9:
        return None
    op, length = struct.unpack("<BQ", head)
    return op if pos + 9 + length > size else None


def _opened(file: Path) -> Reader:
    reader = Reader(file)
    reader.open()
    return reader


def _decompressed(where: Path, file: Path, folder: Path) -> Path:
    """A ``--compression-mode file`` storage file, decompressed into a subfolder of ``folder`` (where
    a repaired copy of it may go)."""
    (folder / "inflated").mkdir(exist_ok=True)
    out = folder / "inflated" / file.name.removesuffix(ZSTD_SUFFIX)
    try:
        with file.open("rb") as raw, zstd.open(raw, "rb") as inflated, out.open("wb") as dst:
            shutil.copyfileobj(inflated, dst)
    except (OSError, *DECOMPRESS_ERRORS) as exc:
        raise LogError(
            f"{where}: {file.name} does not decompress as zstd ({type(exc).__name__}: {exc})"
        ) from None
    return out


class Ros2Bag:
    """A rosbag2 bag open for reading: one rosbags reader per storage file (a finished bag's files
    listed in ``metadata.yaml``, or a directory's files without it), their messages merged by
    recording time."""

    def __init__(self, where: Path, readers: Sequence[Any]) -> None:
        self.where = where
        self._readers = list(readers)

    @property
    def connections(self) -> list[Any]:
        return [c for r in self._readers for c in r.connections]

    def messages(self, connections: Sequence[Any] = ()) -> Iterator[tuple[Any, int, bytes]]:
        """(connection, recording time [ns], raw CDR bytes) of ``connections`` (all when empty), in
        recording-time order (messages compressed one by one decompressed).

        Raises:
            LogError: A compressed message that does not decompress (one line).
        """
        wanted = {id(c) for c in connections}
        streams = []
        for reader in self._readers:
            own = [c for c in reader.connections if id(c) in wanted]
            if own or not wanted:
                streams.append(reader.messages(connections=own))
        if not streams:
            return
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda m: m[1])
        for conn, ns, raw in merged:
            if raw[:4] == ZSTD_MAGIC:
                try:
                    raw = zstd.decompress(raw)
                except zstd.ZstdError as exc:
                    raise LogError(
                        f"{self.where}: a compressed message on {conn.topic} does not decompress ({exc})"
                    ) from None
            yield conn, ns, raw

    def decoders(self, where: str, connections: Sequence[Any]) -> dict[str, Callable[[bytes], Any]]:
        """Message type -> a function decoding one raw CDR message (:func:`~.bag_unitree.typestore_for`).

        Raises:
            LogError: A type Jazzy lacks whose definition the bag does not carry.
        """
        stores = typestore_for(where, connections, ROS2_TYPESTORE)
        return {t: partial(s.deserialize_cdr, typename=t) for t, s in stores.items()}
