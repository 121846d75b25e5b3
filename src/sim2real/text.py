"""Text to and from people: short lists in messages, and the text of a file a user wrote (a base
module every layer may import; it imports nothing of sim2real).

- :func:`few`: ``"a, b, c, ... 5 more"`` (a list shown in part);
- :func:`and_more`: ``" (and 5 more)"`` after a message that names one item of several in full;
- :data:`NO_JOINT`: ``-``, an empty motor slot in a motor order a user writes;
- :func:`read_text`: a YAML/CSV/text file as ``str``, whatever Unicode encoding an editor saved it
  in (UTF-8 with or without a byte-order mark, UTF-16/32 with one), and one error line naming the
  file for anything else (a binary file, an ONNX model given as a spec).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from pathlib import Path

__all__ = ["NO_JOINT", "and_more", "few", "read_text"]

NO_JOINT = "-"
"""The item a user writes in a motor order for a motor slot that drives none of the robot's joints
(a spec's ``motor_order``, ``--motor-order``, a ROS 2 config's ``command_joints``)."""

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts with UTF-16 LE's
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
"""Byte-order marks and the codec that reads (and drops) them; no mark: UTF-8 (``utf-8-sig``)."""


def few(items: Sequence[object], n: int = 4) -> str:
    """The first ``n`` items joined by ", ", then ", ... k more" for the ``k`` left out ("" for none).

    Args:
        items: What to list (each shown with ``str``), in the order to show them.
        n: How many to show (at least 1).
    """
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f", ... {len(items) - n} more" if len(items) > n else "")


def and_more(k: int) -> str:
    """``" (and k more)"`` after a message naming one of ``k + 1`` items ("" when ``k`` is 0)."""
    return f" (and {k} more)" if k > 0 else ""


def read_text(path: str | Path, error: type[Exception], what: str = "file") -> str:
    """The text of a file a user wrote, decoded by its byte-order mark (UTF-8 without one).

    Args:
        path: The file (existence is the caller's check: ``OSError`` passes through).
        error: The exception type raised for a file that is not text (the caller's own, e.g.
            ``SpecError``), with one line naming the file.
        what: What the file should be, for that line ("robot spec", "calibration file", ...).

    Raises:
        error: the bytes are not text in a Unicode encoding (binary data, a NUL byte).
    """
    data = Path(path).read_bytes()
    codec = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8-sig")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not a text {what} (undecodable byte at offset {exc.start}: a binary file?); "
            "give the text file, saved as UTF-8"
        ) from None
    if "\x00" in text:
        raise error(f"{path}: not a text {what} (it holds NUL bytes: a binary file?); give the text file")
    return text
