"""Fixtures for the log tests."""

from __future__ import annotations

import pytest
from logs_testdata import make_trajectory

from sim2real.logs import Trajectory


@pytest.fixture
def trajectory() -> Trajectory:
    """The seeded synthetic run (see :func:`logs_testdata.make_trajectory`)."""
    return make_trajectory()
