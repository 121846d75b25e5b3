"""A bag directory on disk: ``metadata.yaml`` kept current while a bag is written, and opening a
bag whether its writer closed it or was killed.

**While writing.** :class:`~sim2real.logs.bag.BagWriter` calls :func:`write_metadata` when the bag
opens, whenever a topic is added (before its first message, so a reader always knows every topic
that has messages) and at most every ``metadata_period`` seconds; rosbag2's final version replaces
the file on close.  The file is replaced atomically (a temporary file renamed over the old one), so
at every moment, also after SIGKILL, the directory is a rosbag2 bag that rosbags'
``AnyReader([bag])`` reads completely (the unchunked MCAP file is read by scanning, so every
message in the file is read whatever the counts say); only the counts, start and duration may lag.
``custom_data`` holds ``sim2real.complete: "false"`` (:data:`COMPLETE_KEY`) until the writer
closes, ``"true"`` after.

**Reading.** :func:`open_bag` opens a finished bag with rosbags' reader, and an unfinished one (the
complete flag false, no ``metadata.yaml``, a cut final record) through its storage files (MCAP, or
another recorder's sqlite3 ``.db3``; several of a split bag one after the other), an MCAP file
repaired in a temporary copy when a record was cut.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from rosbags.interfaces import ConnectionExtRosbag2
from rosbags.rosbag2 import Reader, Writer
from rosbags.rosbag2.errors import ReaderError
from rosbags.rosbag2.metadata import dump_qos_v9

from sim2real.errors import LogError
from sim2real.logs.bag_ros1 import is_ros1_bag, open_ros1
from sim2real.logs.mcap_storage import repaired_copy, valid_prefix

__all__ = ["COMPLETE_KEY", "open_bag", "write_metadata"]

log = logging.getLogger(__name__)

COMPLETE_KEY = "sim2real.complete"
"""custom_data key: "false" while the writer runs, "true" once it closed (absent in older bags)."""

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ====================================================================== writing


def write_metadata(writer: Writer, directory: Path) -> None:
    """Replace ``directory/metadata.yaml`` with the bag as ``writer`` has written it so far
    (atomically: write, then rename).

    The same document rosbag2 writes on close, with the counts and times of now.  ``writer`` must be
    open (its storage flushed here, so that the counts never run ahead of the file)."""
    storage = writer.storage
    assert storage is not None, "write_metadata needs an open writer"
    storage.flush()
    count = sum(writer.counts.values())
    start = writer.min_timestamp if count else 0
    duration = max(0, writer.max_timestamp - writer.min_timestamp) if count else 0
    name = storage.path.name
    doc = {
        "rosbag2_bagfile_information": {
            "version": writer.version,
            "storage_identifier": "mcap",
            "relative_file_paths": [name],
            "duration": {"nanoseconds": duration},
            "starting_time": {"nanoseconds_since_epoch": start},
            "message_count": count,
            "topics_with_message_count": [
                {
                    "topic_metadata": {
                        "name": c.topic,
                        "type": c.msgtype,
                        "serialization_format": c.ext.serialization_format,
                        "offered_qos_profiles": dump_qos_v9(list(c.ext.offered_qos_profiles)),
                        "type_description_hash": c.digest,
                    },
                    "message_count": writer.counts[c.id],
                }
                for c in writer.connections
                if isinstance(c.ext, ConnectionExtRosbag2)
            ],
            "compression_format": "",
            "compression_mode": "",
            "files": [
                {
                    "path": name,
                    "starting_time": {"nanoseconds_since_epoch": start},
                    "duration": {"nanoseconds": duration},
                    "message_count": count,
                }
            ],
            "custom_data": dict(writer.custom_data),
            "ros_distro": "rosbags",
        }
    }
    tmp = directory / ".metadata.yaml.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, "\n".join(_yaml_lines(doc, 0)).encode() + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, directory / "metadata.yaml")


def _yaml_lines(value: Any, indent: int) -> list[str]:
    """Block-style YAML of plain dicts, lists and scalars (scalars as JSON, a subset of YAML).

    A fast stand-in for a YAML dumper on the logging path (``metadata.yaml`` is refreshed while
    recording); rosbag2's own dumper writes the final file on close."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item)}")
        return lines
    for item in value:  # a non-empty list
        sub = _yaml_lines(item, indent + 2) if isinstance(item, dict | list) and item else None
        if sub:
            lines.append(f"{pad}- {sub[0].lstrip()}")
            lines.extend(sub[1:])
        else:
            lines.append(f"{pad}- {_yaml_scalar(item)}")
    return lines


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, dict | list):  # empty
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)


# ====================================================================== reading


@contextmanager
def open_bag(path: Path) -> Iterator[tuple[Reader, dict[str, str], bool]]:
    """Open a bag directory or a storage file (``.mcap``, ``.db3``) with rosbags, recovering
    unfinished MCAP files; a directory without ``metadata.yaml`` is read from its storage files
    (several: a split bag, in the order of their numbers).  A ROS 1 bag file (``.bag``) opens as a
    :class:`~.bag_ros1.Ros1Bag`.

    Raises:
        LogError: no such path, not a bag, an unreadable MCAP file, a ROS 1 bag without an index, cut
            short or damaged.

    Yields:
        The open reader, the bag's ``custom_data`` (empty without ``metadata.yaml``) and whether
        the bag was closed cleanly.
    """
    if not path.exists():
        raise LogError(f"{path}: no such bag (directory, .mcap, .db3 or ROS 1 .bag file)")
    if path.suffix not in STORAGE_SUFFIXES and is_ros1_bag(path):
        with open_ros1(path) as bag:  # a ROS 1 bag holds no metadata; its index says it was closed
            yield bag, {}, bag.complete  # type: ignore[misc]
        return
    custom: dict[str, str] = {}
    with ExitStack() as stack:
        if path.is_dir() and (path / "metadata.yaml").is_file():
            custom = _custom_data(path / "metadata.yaml")
        if (
            custom.get(COMPLETE_KEY, "true") != "false"
            and path.is_dir()
            and (path / "metadata.yaml").is_file()
        ):
            reader = Reader(path)
            try:
                reader.open()
            except (ReaderError, OSError) as exc:
                # e.g. a storage file cut short after metadata.yaml was written: try to recover it
                if not any(path.glob("*.mcap")):
                    raise LogError(f"{path}: cannot read rosbag2 bag ({exc})") from None
                log.warning(
                    "%s: cannot read as a rosbag2 bag (%s); reading its MCAP file directly", path, exc
                )
            else:
                stack.callback(reader.close)
                custom = getattr(getattr(reader.storage, "metadata", None), "custom", None) or {}
                yield reader, dict(custom), True
                return
        if path.is_dir():
            files = _storage_files(path)
        elif path.suffix in STORAGE_SUFFIXES:
            files = [path]
        else:
            raise LogError(f"{path}: not a rosbag2 bag directory, nor an .mcap, .db3 or ROS 1 .bag file")
        if len(files) > 1:
            log.warning("%s: no metadata.yaml; reading its %d storage files in order (%s ...)", path, len(files), files[0].name)
        readers = []
        for file in files:
            if file.suffix == ".mcap":
                length, intact = valid_prefix(file)
                if not intact:
                    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim2real-bag-")))
                    file = repaired_copy(file, tmp, length)
                elif path.is_dir():
                    log.info("%s: no metadata.yaml (writer killed?); reading %s directly", path, file.name)
            reader = Reader(file)
            try:
                reader.open()
            except (ReaderError, OSError) as exc:
                raise LogError(f"{path}: cannot read {file.name} ({type(exc).__name__}: {exc})") from None
            stack.callback(reader.close)
            readers.append(reader)
        yield (readers[0] if len(readers) == 1 else _Chained(readers)), custom, False  # type: ignore[misc]


STORAGE_SUFFIXES = (".mcap", ".db3")
"""Storage files of a rosbag2 bag: MCAP, and sqlite3 (``ros2 bag record``'s default before Iron)."""


def _storage_files(path: Path) -> list[Path]:
    """The storage files of a bag directory without ``metadata.yaml``, in recording order
    (``bag_0.db3``, ``bag_1.db3``, ..., ``bag_10.db3``: a bag split by ``--max-bag-size``).

    Raises:
        LogError: no storage file, or files of both kinds.
    """
    files = [p for p in path.iterdir() if p.is_file() and p.suffix in STORAGE_SUFFIXES]
    if not files:
        if ros1 := sorted(p.name for p in path.iterdir() if is_ros1_bag(p)):
            raise LogError(f"{path}: a folder of ROS 1 bags ({', '.join(ros1[:3])}): give each .bag file as a log")
        listing = sorted(p.name for p in path.iterdir())[:10]
        raise LogError(f"{path}: not a rosbag2 bag (no metadata.yaml and no .mcap or .db3 file; contains {listing})")
    if len({p.suffix for p in files}) > 1:
        raise LogError(f"{path}: both .mcap and .db3 files and no metadata.yaml: which make the bag is unclear")

    def order(p: Path) -> tuple[int, str]:
        number = p.stem.rsplit("_", 1)[-1]
        return (int(number) if number.isdigit() else -1, p.name)

    return sorted(files, key=order)


class _Chained:
    """The storage files of a split bag read one after the other, as one reader (the part of
    rosbags' ``Reader`` that :func:`~sim2real.logs.bag.read_bag` uses: connections, messages)."""

    def __init__(self, readers: list[Reader]) -> None:
        self._readers = readers

    @property
    def connections(self) -> list[Any]:
        return [c for r in self._readers for c in r.connections]

    def messages(self, connections: Any = ()) -> Iterator[tuple[Any, int, bytes]]:
        wanted = {id(c) for c in connections}
        for reader in self._readers:
            own = [c for c in reader.connections if id(c) in wanted]
            if own or not wanted:
                yield from reader.messages(connections=own)


def _custom_data(metadata: Path) -> dict[str, str]:
    """``custom_data`` of a rosbag2 ``metadata.yaml`` (empty when unreadable or absent)."""
    try:
        doc = yaml.load(metadata.read_text(), Loader=_YAML_LOADER)
        custom = doc["rosbag2_bagfile_information"].get("custom_data") or {}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}
