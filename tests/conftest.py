"""Shared fixtures: the real recordings folder, and seeded generators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture
def real_data() -> Path:
    """Folder of the real robot recordings; skips the test with a reason when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real recordings not found at {REAL_DATA} (they live in ../shared/data/real)")
    return REAL_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


# Ray clusters that tests start bind to loopback (Ray's single-machine mode; read when ray is
# first imported, so it is set before any test module imports it).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
