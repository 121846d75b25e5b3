"""The files holding the tests marked ``serial``, handed from `make test`'s first pytest run to its
second: the first run deselects those tests and names their files in the file ``$SIM2REAL_SERIAL_FILES``
(tests/conftest.py's ``pytest_deselected``); the second collects only those files (collecting every
test module cost about 23 s of CPU on a loaded 2-core machine, the serial tests' files about 4 s)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

ENV = "SIM2REAL_SERIAL_FILES"
"""The environment variable naming the list (unset: nothing is recorded)."""


def record(path: Path, files: Iterable[str]) -> None:
    """Add ``files`` (test files relative to the rootdir) to the list at ``path``: one a line,
    sorted, each once.  Every xdist worker collects the whole suite and deselects the same serial
    tests, so whichever worker writes last, no file is lost; the write replaces the file at once."""
    known = set(path.read_text().split()) if path.is_file() else set()
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    partial.write_text("".join(f"{name}\n" for name in sorted(known | set(files))))
    os.replace(partial, path)
