"""``sensor_msgs/Imu`` messages as the spec's IMU site reads them, live.

Two things a driver's message may say that the site's reading must not take at face value:

- **Its frame** (``header.frame_id``).  A driver may report in its chip's frame (``imu_link``,
  mounted turned 180 degrees about z on many legged robots).  Where the robot's model has a site or
  body of that name welded to the IMU site's body, the angular velocity, the specific force and the
  orientation are turned into the site's frame, as the offline tools do
  (:mod:`sim2real.real.imu_frame`); a frame the model lacks is read as the site's, with one warning.
- **An orientation it does not fill.**  A message's orientation defaults to (w=1, x=y=z=0) with a
  zero covariance; a driver that says "no orientation" sets ``orientation_covariance[0] = -1``.
  One that leaves the default reads *upright* whatever the base does, and the tilt check with it.
  While its accelerometer reads the base tilted more than :data:`UNFILLED_TILT` (and about 1 g:
  no impact, no fall), or reads the message's default (0, 0, 0: the driver fills neither, and
  nothing would ever show the orientation wrong), such a sample is refused with one line, and the
  reading is invalid.
- **An orientation that disagrees with gravity**, whatever its value and covariances (an identity
  with a nonzero covariance, or beside an accelerometer flagged absent, whose values are still
  compared when they are about 1 g): a disagreement beyond
  :data:`~sim2real.real.imu_gravity.MISMATCH` lasting :data:`~sim2real.real.imu_gravity.MISMATCH_TIME`
  (:class:`~sim2real.real.imu_gravity.GravityAgreement`) makes the samples' ``problem`` say so
  until the two agree again: the readings are invalid (the tilt check cannot use that
  orientation), so the monitor holds, then stops after ``stale_timeout``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from sim2real.real.imu_frame import ALIGNED, frame_rotation, quat_of
from sim2real.real.imu_gravity import GravityAgreement
from sim2real.real.rotations import quat_multiply
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec

__all__ = ["UNFILLED_TILT", "ImuReader", "ImuValues"]

log = logging.getLogger(__name__)

UNFILLED_TILT = 0.3
"""Tilt the accelerometer must read [rad] before a bit-exact default orientation is taken for one
the driver did not fill (below it, the default's "upright" is within the tilt a quiet base shows)."""

_G = 9.81


@dataclass(frozen=True, eq=False)
class ImuValues:
    """One IMU message in the IMU site's frame."""

    gyro: np.ndarray
    """Angular velocity, shape (3,) [rad/s]."""
    accel: np.ndarray | None
    """Specific force, shape (3,) [m/s^2]; None: the driver gives none (covariance -1)."""
    quat: np.ndarray | None
    """Orientation (w, x, y, z), world to site; None: the driver gives none (covariance -1)."""
    problem: str | None
    """Why the sample must not be used (an orientation the driver did not fill, or one that has
    disagreed with the accelerometer about gravity), or None."""


class ImuReader:
    """Reads a robot's IMU messages into its IMU site's frame (module docstring)."""

    def __init__(self, spec: RobotSpec, model: mujoco.MjModel | None = None) -> None:
        """``model``: the robot's compiled model (default: built from ``spec`` when a frame needs it)."""
        self.spec = spec
        self._model = model
        self._frames: dict[str, np.ndarray | None] = {}  # frame_id -> rotation to the site (None: none)
        self.gravity = GravityAgreement()
        """Whether the orientation agrees with the accelerometer (fed by :meth:`read` given a time)."""

    def rotation(self, frame: str) -> np.ndarray | None:
        """The rotation from ``frame`` to the IMU site, shape (3, 3) (``v_site = R v_frame``), or None
        where the message is read as the site's: no frame named, the site itself, a frame aligned with
        it, or one the model lacks (one warning).  Worked out once per frame (the model compiles)."""
        if frame in self._frames:
            return self._frames[frame]
        rotation = None
        site = self.spec.imu.site if self.spec.imu is not None else None
        if frame and site is not None and frame != site:
            if self._model is None:
                self._model = build_model(self.spec)
            found = frame_rotation(self._model, site, frame)
            if isinstance(found, str):
                log.warning(
                    "ros2 robot %s: the IMU reports in frame '%s', not the IMU site '%s' (%s): read as if in the "
                    "site's frame",
                    self.spec.name,
                    frame,
                    site,
                    found,
                )
            elif np.abs(found[0] - np.eye(3)).max() > ALIGNED:
                rotation = found[0]
                angle = float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0))))
                log.warning(
                    "ros2 robot %s: the IMU reports in frame '%s', turned %.4g degrees from the IMU site '%s': "
                    "turned into the site's frame (angular velocity, acceleration, orientation)",
                    self.spec.name,
                    frame,
                    angle,
                    site,
                )
        self._frames[frame] = rotation
        return rotation

    def read(self, msg: Any, t: float) -> ImuValues:
        """A ``sensor_msgs/msg/Imu`` in the IMU site's frame; ``t``: its time [s] (how long its
        orientation disagrees with its accelerometer is judged on it)."""
        g, a, o = msg.angular_velocity, msg.linear_acceleration, msg.orientation
        gyro = np.array([g.x, g.y, g.z])
        measured = np.array([a.x, a.y, a.z])  # compared with the orientation even when flagged absent
        accel = None if msg.linear_acceleration_covariance[0] == -1.0 else measured
        quat = None if msg.orientation_covariance[0] == -1.0 else np.array([o.w, o.x, o.y, o.z])
        problem = None
        if quat is not None and accel is not None and _default_orientation(quat, msg.orientation_covariance):
            norm = float(np.linalg.norm(accel))
            tilt = float(np.arccos(np.clip(accel[2] / norm, -1.0, 1.0))) if norm > 0 else 0.0
            if norm == 0.0:  # the acceleration's default too: nothing tells the orientation wrong, ever
                problem = (
                    "the IMU orientation and linear acceleration are the message's defaults (w=1, x=y=z=0 with "
                    "covariance 0; 0, 0, 0): the driver fills neither, and the tilt check cannot use the orientation "
                    "(a driver without them must set their covariance[0] = -1)"
                )
            elif 0.5 * _G < norm < 1.5 * _G and tilt > UNFILLED_TILT:
                problem = (
                    f"the IMU orientation is the message's default (w=1, x=y=z=0, covariance 0) while its "
                    f"accelerometer reads the base tilted {np.degrees(tilt):.0f} degrees: the driver fills no "
                    "orientation (it must set orientation_covariance[0] = -1 to say so)"
                )
        rotation = self.rotation(str(msg.header.frame_id))
        if rotation is not None:
            gyro = rotation @ gyro
            measured = rotation @ measured
            accel = measured if accel is not None else None
            quat = quat_multiply(quat, quat_of(rotation.T)) if quat is not None else None
        if quat is not None:
            disagreement = self.gravity.update(t, quat, measured)  # every sample: the streak is timed
            problem = problem or disagreement
        return ImuValues(gyro=gyro, accel=accel, quat=quat, problem=problem)


def _default_orientation(quat: np.ndarray, covariance: Any) -> bool:
    """Whether an orientation is the message's untouched default: exactly (1, 0, 0, 0), zero covariance."""
    return bool(
        np.array_equal(quat, [1.0, 0.0, 0.0, 0.0]) and not np.any(np.asarray(covariance, dtype=float))
    )
