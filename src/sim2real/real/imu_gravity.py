"""Does an IMU's orientation agree with its accelerometer about where "down" is?

An orientation a driver never fills (left at the identity with a nonzero covariance, or beside an
accelerometer it flags as absent) reads *upright* whatever the base does, and the tilt check with
it.  The accelerometer says otherwise: while the base moves little, the specific force it measures
is gravity's reaction, ``g`` along the world's up axis seen in the IMU's frame.  So, whenever the
measured ``|a|`` is within :data:`NEAR_G` of ``g``, the angle between the accelerometer's direction
and the up axis the quaternion gives (:func:`gravity_mismatch`) must be small; beyond
:data:`MISMATCH` for :data:`MISMATCH_TIME` the orientation is taken as invalid
(:class:`GravityAgreement`), until the two agree again within half that angle.

A walking robot's accelerometer swings with every step, but a sustained horizontal acceleration of
``g tan(0.3 rad) = 3 m/s^2`` for 0.2 s with ``|a|`` near ``g`` is no gait: the twin's walking and
standing runs stay far below it (``docs/safety.md`` has the figures).  Numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from sim2real.real.rotations import quat_to_matrix

__all__ = ["MISMATCH", "MISMATCH_TIME", "NEAR_G", "G", "GravityAgreement", "gravity_mismatch"]

G = 9.81
"""Standard gravity [m/s^2]."""

NEAR_G = 0.1
"""Relative band about ``g`` in which ``|a|`` is taken as gravity's reaction alone (10 %)."""

MISMATCH = 0.3
"""Angle [rad] between the accelerometer's and the quaternion's up directions beyond which they
disagree (17 degrees)."""

MISMATCH_TIME = 0.2
"""How long [s] a disagreement must last before the orientation is taken as invalid."""


def gravity_mismatch(quat: np.ndarray, accel: np.ndarray) -> float:
    """Angle [rad] between the up axis a (w, x, y, z) orientation gives in the sensor's frame and the
    specific force ``accel`` [m/s^2] in that frame; NaN when ``|accel|`` is not within :data:`NEAR_G`
    of ``g`` (the base accelerates: no reference) or either is not finite (other checks see those)."""
    q = np.asarray(quat, dtype=float)
    a = np.asarray(accel, dtype=float)
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(a))):
        return math.nan
    norm_q = float(np.linalg.norm(q))
    norm_a = float(np.linalg.norm(a))
    if norm_q < 1e-9 or not abs(norm_a - G) <= NEAR_G * G:
        return math.nan
    up = quat_to_matrix(q / norm_q)[
        2
    ]  # the world's z axis in the sensor's frame: row 2 of R (sensor to world)
    return float(np.arccos(np.clip(float(up @ a) / norm_a, -1.0, 1.0)))


class GravityAgreement:
    """Watches an IMU's samples; says why its orientation is not to be trusted, while it is not."""

    def __init__(self) -> None:
        self._since: float | None = None  # time of the first disagreeing sample of the streak
        self.invalid = False
        """Whether the orientation is taken as invalid now."""
        self.worst = 0.0
        """Largest disagreement seen [rad] (NaN samples aside)."""

    def update(self, t: float, quat: np.ndarray, accel: np.ndarray) -> str | None:
        """Take a sample at time ``t`` [s]; a line saying why its orientation is invalid, or None.

        A sample without a reference (``|a|`` off ``g``) ends a streak (a disagreement must last on
        consecutive samples: a gait's accelerations cross ``g`` twice a step, each time with a
        different direction), but not an invalid orientation (only agreement ends that).
        """
        angle = gravity_mismatch(quat, accel)
        if math.isnan(angle):
            self._since = None
            return self._problem(math.nan) if self.invalid else None
        self.worst = max(self.worst, angle)
        if angle > MISMATCH:
            if self._since is None:
                self._since = t
            if t - self._since >= MISMATCH_TIME:
                self.invalid = True
        elif angle <= 0.5 * MISMATCH or not self.invalid:
            self._since = None
            self.invalid = False
        return self._problem(angle) if self.invalid else None

    def _problem(self, angle: float) -> str:
        now = f"{math.degrees(angle):.0f} degrees" if math.isfinite(angle) else "no reference now"
        return (
            f"the IMU orientation disagrees with its accelerometer about gravity by more than "
            f"{math.degrees(MISMATCH):.0f} degrees for {MISMATCH_TIME:g} s ({now}): the orientation is not "
            "filled or not current, and the tilt check cannot use it"
        )
