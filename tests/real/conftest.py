"""Fixtures of the real-robot layer's tests: the embedded robots and the quadruped's leg kinematics."""

from __future__ import annotations

import pytest

from sim2real.real.legs import LegKinematics
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def pendulum():
    return load_robot("pendulum")


@pytest.fixture(scope="module")
def furuta():
    return load_robot("furuta")


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


@pytest.fixture(scope="module")
def kinematics(quadruped):
    return LegKinematics.from_model(quadruped)
