"""Shared fixtures of the randomization tests."""

from __future__ import annotations

import pytest

from sim2real.robots import load_robot


@pytest.fixture(scope="session")
def specs():
    return {name: load_robot(name) for name in ("pendulum", "furuta", "quadruped")}
