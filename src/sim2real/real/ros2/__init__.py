"""ROS 2 on the robot side: the Robot protocol over rclpy, and a Robot served as a ROS 2 node.

Modules:

================  ==================================================================================
module            owns
================  ==================================================================================
config            :class:`Ros2Config` (topics, message types, QoS, joint-name mapping; YAML or the
                  spec's ``ros2:`` section), :class:`QosSettings`, the default QoS, joint mapping
runtime           contexts and executors, the steady clock, spinning until a condition, signal
                  handlers, real-time priority, message field helpers
diagnostics       ``diagnostic_msgs`` statuses of the nodes (the deploy node's and the hardware node's)
robot             :class:`Ros2Robot`: the Robot protocol over ROS 2 (what a deployment talks to)
efforts           the efforts of a JointState as the measured-torque check may take them
imu_message       Imu messages in the IMU site's frame; an orientation the driver did not fill
graph             who listens on the graph: whether a command or a safe stop would reach a driver
                  (no recorder or viewer, a QoS our publisher can reach)
hardware_node     :class:`RobotHardwareNode`: any Robot (the twin) served as a ROS 2 hardware node,
                  and :func:`run_hardware_node` (``sim2real twin-node``)
================  ==================================================================================

The deployment side (the policy node, the selftest) is :mod:`sim2real.deploy.ros2`.

A missing ``ros2`` extra is a :class:`~sim2real.errors.MissingExtraError` when this package is
imported (before any of its modules).
"""

from __future__ import annotations

import importlib
from typing import Any

from sim2real.errors import MissingExtraError


def _import_rclpy() -> Any:
    """``rclpy``, or a MissingExtraError naming the ``ros2`` extra when it is not installed."""
    try:
        return importlib.import_module("rclpy")
    except ModuleNotFoundError as exc:
        if exc.name == "rclpy":
            raise MissingExtraError("ros2", "rclpy") from None
        raise


rclpy = _import_rclpy()

from rclpy.context import Context  # noqa: E402  (after the extra check)
from rclpy.node import Node  # noqa: E402

from sim2real.real.ros2.config import (  # noqa: E402
    COMMAND_QOS,
    COMMAND_TYPES,
    LATCHED_QOS,
    SENSOR_QOS,
    QosSettings,
    Ros2Config,
    Ros2ConfigError,
    joint_index_map,
)
from sim2real.real.ros2.hardware_node import RobotHardwareNode, run_hardware_node  # noqa: E402
from sim2real.real.ros2.robot import Ros2Counters, Ros2Robot  # noqa: E402
from sim2real.real.ros2.runtime import (  # noqa: E402
    ExecutorKind,
    float_array,
    make_executor,
    new_context,
    set_realtime_priority,
    spin_until,
    stamp_seconds,
)

__all__ = [
    "COMMAND_QOS",
    "COMMAND_TYPES",
    "LATCHED_QOS",
    "SENSOR_QOS",
    "Context",
    "ExecutorKind",
    "Node",
    "QosSettings",
    "RobotHardwareNode",
    "Ros2Config",
    "Ros2ConfigError",
    "Ros2Counters",
    "Ros2Robot",
    "float_array",
    "joint_index_map",
    "make_executor",
    "new_context",
    "run_hardware_node",
    "set_realtime_priority",
    "spin_until",
    "stamp_seconds",
]
