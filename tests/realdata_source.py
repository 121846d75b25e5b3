"""Where the real robot recordings come from, for the tests that need them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DATA = Path(
    os.environ.get("SIM2REAL_REAL_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
)
"""The recordings folder: ``$SIM2REAL_REAL_DATA``, else ``../shared/data/real`` beside the repository."""


def require(folder: Path) -> Path:
    """``folder`` when it exists, else skip the test saying where the data comes from and how to get it."""
    if not folder.is_dir():
        pytest.skip(
            f"real recordings not found at {folder}: third-party data, not in this repository (the DFKI "
            "torque-limited pendulum, BSD-3-Clause, and DECAR's QUBE-Servo 2 logs, MIT); docs/real_data.md "
            "says where to download them; put them there or set SIM2REAL_REAL_DATA"
        )
    return folder
