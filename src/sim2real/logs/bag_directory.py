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

**Reading.** :func:`open_bag` opens a finished bag through the storage files its ``metadata.yaml``
lists, each with rosbags' reader (:mod:`~.bag_split`: missing parts judged, parts merged in time
order), and an unfinished one (the
complete flag false, no ``metadata.yaml``, a cut final record) through its storage files (MCAP, or
another recorder's sqlite3 ``.db3``, either maybe zstd-compressed; several of a split bag merged in
time order: :mod:`~.bag_ros2`), an MCAP file repaired in a temporary copy when a record was cut.
ROS 1 bags (one file, or a folder of one recording's parts) open through :mod:`~.bag_ros1`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from rosbags.interfaces import ConnectionExtRosbag2
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.metadata import dump_qos_v9

from sim2real.errors import LogError
from sim2real.logs.bag_ros1 import Ros1Bag, is_ros1_bag, open_ros1, split_parts
from sim2real.logs.bag_ros2 import (
    Ros2Bag,
    is_storage_file,
    missing_part,
    open_storage_files,
    storage_files,
)
from sim2real.logs.bag_split import ListedFile, find_parts, listed_files, warn_if_listed_out_of_order

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
def open_bag(path: Path) -> Iterator[tuple[Ros1Bag | Ros2Bag, dict[str, str], bool]]:
    """Open a bag directory or a storage file (``.mcap``, ``.db3``, either ``.zstd``-compressed) with
    rosbags, recovering unfinished MCAP files; a directory without ``metadata.yaml`` is read from its
    storage files (several: a split bag, merged in time order, :mod:`~.bag_ros2`).  A ROS 1 bag file
    (``.bag``) opens as a :class:`~.bag_ros1.Ros1Bag`, and so does a folder of a ROS 1 recording
    split into parts (:func:`~.bag_ros1.split_parts`).

    Raises:
        LogError: no such path, not a bag, an unreadable MCAP file, a ROS 1 bag without an index, cut
            short or damaged.

    Yields:
        The open reader, the bag's ``custom_data`` (empty without ``metadata.yaml``) and whether
        the bag was closed cleanly.
    """
    if not path.exists():
        raise LogError(f"{path}: no such bag (directory, .mcap, .db3 or ROS 1 .bag file)")
    metadata = path / "metadata.yaml" if path.is_dir() else None
    ros1: list[Path] = []
    if metadata is None and not is_storage_file(path) and is_ros1_bag(path):
        ros1 = [path]
    elif metadata is not None and not metadata.is_file() and not storage_files(path):
        ros1 = split_parts(path)
    if ros1:
        with open_ros1(ros1) as bag:  # a ROS 1 bag holds no metadata; its index says it was closed
            yield bag, {}, bag.complete
        return
    if metadata is None and is_storage_file(path):
        _warn_if_part(path)
    custom: dict[str, str] = {}
    listed: list[ListedFile] = []
    with ExitStack() as stack:
        if metadata is not None and metadata.is_file():
            custom = _custom_data(metadata)
            listed = listed_files(_bag_info(metadata))
            if custom.get(COMPLETE_KEY, "true") != "false":
                if listed:  # a finished bag: its files as listed, each read as itself (bag_split)
                    files, whole = find_parts(path, listed)
                    readers = open_storage_files(stack, path, files, finished=True)
                    warn_if_listed_out_of_order(path, listed, files, [r.start_time for r in readers])
                    yield Ros2Bag(path, readers), custom, whole
                    return
                if storage_files(path):
                    log.warning("%s: metadata.yaml lists no storage files (unreadable?); reading the folder's", path)
        if path.is_dir():
            files = storage_files(path, warn=True)
            if not files:
                listing = sorted(p.name for p in path.iterdir())[:10]
                raise LogError(
                    f"{path}: not a rosbag2 bag (no metadata.yaml and no .mcap or .db3 file; contains {listing})"
                )
        elif is_storage_file(path):
            files = [path]
        else:
            raise LogError(f"{path}: not a rosbag2 bag directory, nor an .mcap, .db3 or ROS 1 .bag file")
        if path.is_dir() and (gone := missing_part(files, [p.name for p in listed])):
            raise LogError(
                f"{path}: {gone} of the split bag is missing: read without it, the run would have a hole; "
                "copy it, or give the storage files on either side as separate logs"
            )
        if len(files) > 1:
            log.warning(
                "%s: %s; reading its %d storage files in order, as one run (%s ... %s)",
                path,
                "metadata.yaml not read" if metadata is not None and metadata.is_file() else "no metadata.yaml",
                len(files),
                files[0].name,
                files[-1].name,
            )
        yield Ros2Bag(path, open_storage_files(stack, path, files)), custom, False


def _warn_if_part(path: Path) -> None:
    """Warn when the storage file ``path`` is one part of a split bag whose ``metadata.yaml`` lists
    several files: only this part is read."""
    names = [p.name for p in listed_files(_bag_info(path.parent / "metadata.yaml"))]
    if len(names) > 1 and path.name in names:
        log.warning(
            "%s: one of the %d files of the split bag %s: only this part is read; give the folder to read them as one run",
            path,
            len(names),
            path.parent,
        )


def _bag_info(metadata: Path) -> dict[str, Any]:
    """``rosbag2_bagfile_information`` of a ``metadata.yaml`` ({} when unreadable or absent)."""
    try:
        info = yaml.load(metadata.read_text(), Loader=_YAML_LOADER)["rosbag2_bagfile_information"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return {}
    return info if isinstance(info, dict) else {}


def _custom_data(metadata: Path) -> dict[str, str]:
    """``custom_data`` of a rosbag2 ``metadata.yaml`` (empty when unreadable or absent)."""
    custom = _bag_info(metadata).get("custom_data") or {}
    return {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}
