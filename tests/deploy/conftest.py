"""Robot specs shared by the deploy tests (helpers and test doubles are in deploy_testdata)."""

from __future__ import annotations

import pytest

from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def furuta():
    return load_robot("furuta")


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")
