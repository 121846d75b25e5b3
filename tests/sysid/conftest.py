"""Fixtures of the sysid tests (the synthetic logs themselves are in sysid_testdata)."""

from __future__ import annotations

import pytest

from sim2real.robots import load_robot


@pytest.fixture(scope="session")
def pendulum():
    return load_robot("pendulum")


@pytest.fixture(scope="session")
def furuta():
    return load_robot("furuta")
