"""Floating-base states in bags: ``nav_msgs/msg/Odometry`` messages to and from :class:`BaseTrack`.

Two topics (standard ROS 2 types that ``rosbags`` ships, readable by ``ros2 bag``, Foxglove and
``rosbags``):

- ``/odom`` (:data:`TOPIC_BASE_ESTIMATE`): the floating base's state as the robot's on-board
  estimator gives it (:mod:`sim2real.real.estimator`); ``header.frame_id`` ``odom``,
  ``child_frame_id`` ``base``.
- ``/ground_truth/odom`` (:data:`TOPIC_BASE_TRUTH`): the simulator's true base state (twin
  recordings only), marked as ground truth by its topic (``header.frame_id`` ``world``).

As REP 105 and the message define: the pose (position [m], orientation) is the base frame in the
odometry/world frame (z is the height above the floor), the twist (linear [m/s], angular [rad/s])
is expressed in the base frame; the covariances are row-major 6x6 (zero when unknown);
``header.stamp`` is the sample time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim2real.errors import LogError
from sim2real.logs.trajectory import BaseTrack

__all__ = [
    "ODOMETRY",
    "TOPIC_BASE_ESTIMATE",
    "TOPIC_BASE_TRUTH",
    "odometry_message",
    "odometry_row",
    "tracks",
]

TOPIC_BASE_ESTIMATE = "/odom"
TOPIC_BASE_TRUTH = "/ground_truth/odom"
ODOMETRY = "nav_msgs/msg/Odometry"
"""Message type of both topics."""
_NO_COV6 = np.zeros(36)


def _vector(value: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        raise LogError(f"{what}: expected shape ({n},), got {arr.shape}")
    return arr


def odometry_message(
    types: Any,
    header: Any,
    position: Any,
    quat: Any,
    lin_vel: Any,
    ang_vel: Any,
    pose_covariance: Any = None,
    twist_covariance: Any = None,
) -> Any:
    """An Odometry message (``types``: the typestore's message classes; ``header``: its header).

    Args:
        position: Base position, shape (3,) [m].
        quat: Base orientation (w, x, y, z), shape (4,).
        lin_vel: Linear velocity in the base frame, shape (3,) [m/s].
        ang_vel: Angular velocity in the base frame, shape (3,) [rad/s].
        pose_covariance: Row-major 6x6 covariance of (x, y, z, roll, pitch, yaw), shape (36,), or None.
        twist_covariance: Row-major 6x6 covariance of the twist, shape (36,), or None.
    """
    p = _vector(position, 3, "base position")
    w, x, y, z = (float(v) for v in _vector(quat, 4, "base quat"))
    v = _vector(lin_vel, 3, "base lin_vel")
    a = _vector(ang_vel, 3, "base ang_vel")
    pcov = _NO_COV6 if pose_covariance is None else _vector(pose_covariance, 36, "pose_covariance")
    tcov = _NO_COV6 if twist_covariance is None else _vector(twist_covariance, 36, "twist_covariance")
    T = types
    return T[ODOMETRY](
        header=header,
        child_frame_id="base",
        pose=T["geometry_msgs/msg/PoseWithCovariance"](
            pose=T["geometry_msgs/msg/Pose"](
                position=T["geometry_msgs/msg/Point"](x=float(p[0]), y=float(p[1]), z=float(p[2])),
                orientation=T["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w),
            ),
            covariance=pcov,
        ),
        twist=T["geometry_msgs/msg/TwistWithCovariance"](
            twist=T["geometry_msgs/msg/Twist"](
                linear=T["geometry_msgs/msg/Vector3"](x=float(v[0]), y=float(v[1]), z=float(v[2])),
                angular=T["geometry_msgs/msg/Vector3"](x=float(a[0]), y=float(a[1]), z=float(a[2])),
            ),
            covariance=tcov,
        ),
    )


def odometry_row(msg: Any) -> tuple[float, ...]:
    """(x, y, z, qw, qx, qy, qz, vx, vy, vz, wx, wy, wz) of a decoded Odometry message."""
    p, o = msg.pose.pose.position, msg.pose.pose.orientation
    v, w = msg.twist.twist.linear, msg.twist.twist.angular
    return (p.x, p.y, p.z, o.w, o.x, o.y, o.z, v.x, v.y, v.z, w.x, w.y, w.z)


def tracks(rows: dict[str, tuple[list[int], list[tuple[float, ...]]]]) -> dict[str, BaseTrack | None]:
    """``base_truth`` and ``base_estimate`` of a trajectory from topic -> (stamps [ns], rows)."""
    out: dict[str, BaseTrack | None] = {}
    for topic, field_name, source in (
        (TOPIC_BASE_TRUTH, "base_truth", "ground_truth"),
        (TOPIC_BASE_ESTIMATE, "base_estimate", "estimate"),
    ):
        stamps, values = rows.get(topic, ([], []))
        out[field_name] = None
        if stamps:
            order = np.argsort(np.array(stamps, dtype=np.int64), kind="stable")
            arr = np.array(values, dtype=np.float64)[order]
            out[field_name] = BaseTrack(
                t=np.array(stamps, dtype=np.int64)[order] / 1e9,
                position=arr[:, 0:3],
                quat=arr[:, 3:7],
                lin_vel=arr[:, 7:10],
                ang_vel=arr[:, 10:13],
                source=source,
            )
    return out
