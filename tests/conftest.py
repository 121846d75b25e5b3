"""Shared fixtures: the real recordings folder, and seeded generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realdata_source import REAL_DATA, require


@pytest.fixture
def real_data() -> Path:
    """Folder of the real robot recordings; skips the test saying where to get them when absent."""
    return require(REAL_DATA)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
