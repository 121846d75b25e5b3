"""A finished rosbag2 bag's storage files as its ``metadata.yaml`` lists them: each found (under its
listed name or its other one, compressed or not), what is missing judged, and the parts read in
time order.

``ros2 bag record --max-bag-size`` (or ``--max-bag-duration``) lists the parts in
``relative_file_paths`` and describes each in ``files`` (start, duration, message count).  What
this module decides:

- **A part missing between others** (a hole in time): an error naming it; read without it, the run
  would jump in time as if whole.
- **A part missing at an end** (the last not copied, the first deleted): the rest is a shorter run
  without a hole: it is read, with one warning naming the file and the span it held (from
  ``files``, when listed), and the run is marked incomplete.
- **Parts listed out of time order**: each storage file is read by its own reader and the messages
  are merged by recording time (:class:`~.bag_ros2.Ros2Bag`), whatever the listing; a warning says
  the listing was out of order.

Each storage file is read as itself (rosbags' per-file readers), not through ``metadata.yaml``'s
topic list: rosbags matches a file's topics to the listed ones by their QoS profiles too, so a
``metadata.yaml`` whose ``offered_qos_profiles`` differ from the file's (an older rosbag2's YAML
string, a hand-edited file) read as a bag without those topics' messages, with no error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim2real.errors import LogError
from sim2real.logs.bag_ros2 import ZSTD_SUFFIX, split_number

__all__ = ["ListedFile", "find_parts", "listed_files", "warn_if_listed_out_of_order"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListedFile:
    """One storage file as ``metadata.yaml`` lists it."""

    name: str
    """File name as listed (``relative_file_paths``), without its folder."""
    start_ns: int | None = None
    """Recording time of its first message [ns] (``files[].starting_time``), None when not listed."""
    duration_ns: int | None = None
    """Time from its first to its last message [ns], None when not listed."""
    messages: int | None = None
    """Messages it holds, None when not listed."""


def listed_files(info: Mapping[str, Any]) -> list[ListedFile]:
    """The storage files of ``rosbag2_bagfile_information`` ``info``, in listed order ([] when it
    lists none or is malformed); each with its ``files`` entry when there is one."""
    try:
        names = [Path(str(p)).name for p in info.get("relative_file_paths") or ()]
    except (TypeError, AttributeError):
        return []
    entries: dict[str, Mapping[str, Any]] = {}
    for entry in info.get("files") or ():
        if isinstance(entry, Mapping) and "path" in entry:
            entries[Path(str(entry["path"])).name] = entry
    return [_listed(name, entries.get(name, {})) for name in names]


def _listed(name: str, entry: Mapping[str, Any]) -> ListedFile:
    def number(*keys: str) -> int | None:
        value: Any = entry
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    return ListedFile(
        name=name,
        start_ns=number("starting_time", "nanoseconds_since_epoch"),
        duration_ns=number("duration", "nanoseconds"),
        messages=number("message_count"),
    )


def find_parts(where: Path, listed: Sequence[ListedFile]) -> tuple[list[Path], bool]:
    """The storage files of bag directory ``where`` that ``listed`` names, in time order, and whether
    the bag is whole (each there, under its listed name alone).

    A listed file is found under its name or its other one (``NAME.mcap`` for a listed
    ``NAME.mcap.zstd`` and the reverse: a recorder killed while compressing); when both are there,
    the uncompressed one is read (whole, where the ``.zstd`` may be cut), with a warning.  A file
    missing at an end of the run (in time order) is warned about; one missing between present
    parts is an error.

    Raises:
        LogError: A part missing between others (one line naming it), or none of the listed files.
    """
    found: list[Path | None] = []
    doubled: list[str] = []
    renamed: list[str] = []
    for part in listed:
        plain = where / part.name.removesuffix(ZSTD_SUFFIX)
        packed = where / (plain.name + ZSTD_SUFFIX)
        there = plain if plain.is_file() else packed if packed.is_file() else None
        if plain.is_file() and packed.is_file():
            doubled.append(packed.name)
        elif there is not None and there.name != part.name:
            renamed.append(f"{there.name} for {part.name}")
        found.append(there)
    if doubled:
        log.warning(
            "%s: %s beside the same part uncompressed (a recorder killed while compressing?): read from %s only",
            where,
            ", ".join(doubled),
            ", ".join(n.removesuffix(ZSTD_SUFFIX) for n in doubled),
        )
    if renamed:
        log.warning(
            "%s: %s, as metadata.yaml lists it (a recorder killed while compressing?): the run is marked incomplete",
            where,
            ", ".join(renamed),
        )
    order = _time_order(listed)
    present = [k for k in order if found[k] is not None]
    if not present:
        names = ", ".join(p.name for p in listed[:3]) + (" ..." if len(listed) > 3 else "")
        raise LogError(f"{where}: cannot read rosbag2 bag: none of the storage files its metadata.yaml lists is there ({names})")
    first, last = order.index(present[0]), order.index(present[-1])
    holes = [listed[k].name for k in order[first : last + 1] if found[k] is None]
    if holes:
        raise LogError(
            f"{where}: {holes[0]} of the split bag is missing: read without it, the run would have a hole; "
            "copy it, or give the storage files on either side as separate logs"
        )
    for side, ks in (("starts later", order[:first]), ("ends earlier", order[last + 1 :])):
        for k in ks:
            log.warning(
                "%s: %s of the split bag is missing%s: the run is read without it and %s than recorded; "
                "copy the file to read the whole run",
                where,
                listed[k].name,
                _span(listed[k], listed[order[0]].start_ns),
                side,
            )
    whole = len(present) == len(listed) and not doubled and not renamed
    return [f for k in order if (f := found[k]) is not None], whole


def _time_order(listed: Sequence[ListedFile]) -> list[int]:
    """Indices of ``listed`` in recording order: by listed start times when each part has one, else
    by part number (``NAME_3``) when each has one, else as listed."""
    index = range(len(listed))
    if all(p.start_ns is not None for p in listed):
        return sorted(index, key=lambda k: (listed[k].start_ns, k))
    numbers = [split_number(p.name) for p in listed]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        return sorted(index, key=lambda k: numbers[k])
    return list(index)


def _span(part: ListedFile, start_ns: int | None) -> str:
    """`` (its 2.50 s and 400 messages from 5.00 s into the recording)``, as far as listed."""
    held = []
    if part.duration_ns is not None:
        held.append(f"{part.duration_ns / 1e9:.3f} s")
    if part.messages is not None:
        held.append(f"{part.messages} messages")
    what = f"its {' and '.join(held)}" if held else ""
    if part.start_ns is not None and start_ns is not None:
        what += f"{' ' if what else ''}from {(part.start_ns - start_ns) / 1e9:.3f} s into the recording"
    return f" ({what})" if what else ""


def warn_if_listed_out_of_order(
    where: Path, listed: Sequence[ListedFile], files: Sequence[Path], starts: Sequence[int]
) -> None:
    """Warn when ``metadata.yaml`` lists the parts in another order than their first messages'
    recording times ``starts`` [ns] (one per file of ``files``, in the order read): the parts are
    read in time order all the same."""
    rank = {p.name.removesuffix(ZSTD_SUFFIX): k for k, p in enumerate(listed)}
    by_listing = sorted(range(len(files)), key=lambda k: rank.get(files[k].name.removesuffix(ZSTD_SUFFIX), k))
    by_time = sorted(range(len(files)), key=lambda k: (starts[k], k))
    if [starts[k] for k in by_listing] != [starts[k] for k in by_time]:
        log.warning(
            "%s: metadata.yaml lists the storage files out of time order (%s); they are read in time order (%s)",
            where,
            ", ".join(files[k].name for k in by_listing),
            ", ".join(files[k].name for k in by_time),
        )
