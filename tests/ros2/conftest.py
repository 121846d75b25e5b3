"""A private ROS 2 graph on loopback for the ros2 tests, a probe node, and a balancing furuta policy.

Every test run gets its own ROS_DOMAIN_ID (from the process id) and discovery on localhost only,
so parallel runs on one machine do not see each other.  Tests wait on conditions (messages
received, publishers matched) with timeouts, never on fixed sleeps.  Helpers: ros2_testing.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from ros2_testing import DOMAIN_ID, HERE, Probe, furuta_lqr_gain


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).resolve().parent == HERE:
            item.add_marker(pytest.mark.ros2)
            item.add_marker(pytest.mark.serial)


@pytest.fixture(scope="session", autouse=True)
def ros_env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Loopback-only discovery on a private domain, for this process and the processes it starts
    (and rcl's log files in a temporary folder, not in ~/.ros/log; the preflight record and the
    stage ledger in one, not in the user's state folder)."""
    keys = (
        "ROS_DOMAIN_ID",
        "ROS_AUTOMATIC_DISCOVERY_RANGE",
        "ROS_LOCALHOST_ONLY",
        "ROS_STATIC_PEERS",
        "ROS_LOG_DIR",
        "SIM2REAL_STATE_DIR",
    )
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["ROS_LOG_DIR"] = str(tmp_path_factory.mktemp("ros_log"))
    os.environ["SIM2REAL_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    os.environ["ROS_DOMAIN_ID"] = str(DOMAIN_ID)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_LOCALHOST_ONLY"] = "1"
    os.environ.pop("ROS_STATIC_PEERS", None)
    yield dict(os.environ)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def probe() -> Any:
    p = Probe()
    yield p
    p.close()


@pytest.fixture(scope="session")
def furuta_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A balancing furuta policy: the LQR gain as a linear ONNX policy with sim2real metadata."""
    from sim2real.policy.linear import write_linear_policy
    from sim2real.robots import load_robot

    spec = load_robot("furuta")
    return write_linear_policy(
        spec, tmp_path_factory.mktemp("policy") / "furuta_lqr.onnx", furuta_lqr_gain(spec)
    )
