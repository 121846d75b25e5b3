"""Base state estimation for legged robots: a Kalman filter over IMU, leg kinematics and foot contact.

What a legged robot's computer runs to know its base velocity (the linear Kalman filter of
Bloesch et al. 2013 in the form of the MIT Cheetah 3 estimator).  State, in the world frame:
base position ``p`` (3), base velocity ``v`` (3) and the position of every foot ``f_i`` (3 each).

- **Predict** (every reading, ``dt`` since the last): ``v += a dt``, ``p += v dt + a dt^2 / 2``
  with ``a = R (f_imu - w x (w x r_imu)) + g`` (the accelerometer's specific force moved from the
  IMU site to the base origin, rotated into the world by the IMU orientation ``R``); feet stay put,
  with a small random walk for a foot on the ground and a large one for a swinging foot.
- **Correct** with the leg kinematics of every foot (``q`` from the encoders): its position
  relative to the base, ``f_i - p = R fk_i(q)``; for a foot on the ground also that it does not
  move, ``v = -R (w x fk_i(q) + J_i(q) qd)``, and that it touches the floor, ``f_i,z = radius``.
- **Contact** of a foot: the ground force its leg's measured torques imply,
  ``F_i = -(J_i^T)^+ tau_leg`` (statics, base frame), pointing up more than
  ``contact_fraction`` of the robot's weight.  Robots with foot force sensors can pass the
  contacts instead (:meth:`BaseStateEstimator.update`).

The orientation comes from the IMU's own filter (``Reading.quat``); the angular velocity is the
gyro's.  Without an IMU orientation the gyro is integrated, with the tilt pulled towards the
accelerometer's gravity direction (a complementary filter).  A reading's IMU values are the IMU's
frame; they are turned through the IMU's mount on the base (``LegKinematics.imu_quat``) first, so
the filter and its estimates are the base's.

This module needs numpy only, so it runs on the robot.  The leg kinematics are plain arrays
(:class:`~sim2real.real.legs.LegKinematics`, built from the MuJoCo model on the host).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.real.legs import LegKinematics
from sim2real.real.protocol import Reading
from sim2real.real.rotations import cross, quat_multiply, quat_to_matrix

if TYPE_CHECKING:
    from sim2real.logs.trajectory import BaseTrack, Trajectory
    from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

__all__ = [
    "BaseEstimate",
    "BaseStateEstimator",
    "EstimatorConfig",
    "estimate_track",
]

GRAVITY = np.array([0.0, 0.0, -9.81])
"""Gravity in the world frame [m/s^2]."""


# ------------------------------------------------------------------------------ the filter
@dataclass(frozen=True)
class EstimatorConfig:
    """Noise levels and contact detection of :class:`BaseStateEstimator` (standard deviations)."""

    accel_noise: float = 2.0
    """Accelerometer noise plus unmodeled base acceleration [m/s^2] (per sample)."""
    stance_foot_noise: float = 0.002
    """Random walk of a foot on the ground (slip) per sample [m]."""
    swing_foot_noise: float = 1.0
    """Random walk of a swinging foot per sample [m] (large: it moves freely)."""
    kinematics_noise: float = 0.005
    """Error of a foot position from the leg kinematics [m]."""
    foot_velocity_noise: float = 0.08
    """Error of the base velocity implied by a standing foot [m/s] (joint velocity noise, foot roll)."""
    foot_height_noise: float = 0.01
    """Error of a standing foot's height above the floor [m]."""
    contact_fraction: float = 0.15
    """A foot is on the ground when its leg's torques imply an upward force above this share of
    the robot's weight."""
    tilt_gain: float = 0.5
    """Without an IMU orientation: rate [1/s] at which the gyro-integrated tilt is pulled towards
    the accelerometer's gravity direction."""

    def __post_init__(self) -> None:
        for name in ("accel_noise", "stance_foot_noise", "swing_foot_noise", "kinematics_noise"):
            if not getattr(self, name) > 0:
                raise Sim2RealError(f"estimator {name} must be positive")
        for name in ("foot_velocity_noise", "foot_height_noise"):
            if not getattr(self, name) > 0:
                raise Sim2RealError(f"estimator {name} must be positive")
        if not 0 < self.contact_fraction < 1:
            raise Sim2RealError("estimator contact_fraction must be in (0, 1)")


@dataclass(frozen=True, eq=False)
class BaseEstimate:
    """The estimated floating-base state at one reading."""

    t: float
    """Reading time [s]."""
    position: np.ndarray
    """Base position in the odometry frame, shape (3,) [m] (x, y from the start, z above the floor)."""
    quat: np.ndarray
    """Base orientation (w, x, y, z), shape (4,)."""
    lin_vel: np.ndarray
    """Base linear velocity in the base frame, shape (3,) [m/s]."""
    ang_vel: np.ndarray
    """Base angular velocity in the base frame, shape (3,) [rad/s]."""
    contact: np.ndarray
    """Which feet are taken to be on the ground, shape (F,)."""
    position_cov: np.ndarray
    """Covariance of the position, shape (3, 3) [m^2]."""
    lin_vel_cov: np.ndarray
    """Covariance of the linear velocity in the base frame, shape (3, 3) [m^2/s^2]."""

    def pose_covariance(self) -> np.ndarray:
        """Row-major 6x6 pose covariance for ``nav_msgs/Odometry`` (orientation part 0: from the IMU)."""
        cov = np.zeros((6, 6))
        cov[:3, :3] = self.position_cov
        return cov.ravel()

    def twist_covariance(self) -> np.ndarray:
        """Row-major 6x6 twist covariance for ``nav_msgs/Odometry`` (angular part 0: from the gyro)."""
        cov = np.zeros((6, 6))
        cov[:3, :3] = self.lin_vel_cov
        return cov.ravel()


class BaseStateEstimator:
    """The Kalman filter of the module docstring; feed it every reading with :meth:`update`.

    Args:
        kinematics: The robot's legs.
        config: Noise levels and contact detection.
    """

    def __init__(self, kinematics: LegKinematics, config: EstimatorConfig | None = None) -> None:
        self.kin = kinematics
        self.config = config or EstimatorConfig()
        F = kinematics.n_feet
        self.n = 6 + 3 * F
        self.contact_force = self.config.contact_fraction * kinematics.mass * abs(GRAVITY[2])
        """Upward foot force above which a foot counts as standing [N]."""
        c = self.config
        # measurement rows, all feet: relative positions (3F), base velocity per foot (3F), foot heights (F)
        H = np.zeros((7 * F, self.n))
        for i in range(F):
            for k in range(3):
                H[3 * i + k, k] = -1.0
                H[3 * i + k, 6 + 3 * i + k] = 1.0
                H[3 * F + 3 * i + k, 3 + k] = 1.0
            H[6 * F + i, 6 + 3 * i + 2] = 1.0
        self._H = H
        self._noise = np.concatenate(
            [
                np.full(3 * F, c.kinematics_noise**2),
                np.full(3 * F, c.foot_velocity_noise**2),
                np.full(F, c.foot_height_noise**2),
            ]
        )
        self._radius = np.array([chain.radius for chain in kinematics.chains])
        self.reset()

    def reset(self) -> None:
        """Forget the state (the next reading starts the filter again)."""
        self.x = np.zeros(self.n)
        self.P = np.eye(self.n)
        self._t: float | None = None
        self._quat: np.ndarray | None = None
        self._rot: np.ndarray = np.eye(3)

    # ------------------------------------------------------------------ orientation
    def _orientation(self, reading: Reading, dt: float) -> np.ndarray:
        if (
            reading.quat is not None
            and np.all(np.isfinite(reading.quat))
            and np.linalg.norm(reading.quat) > 0
        ):
            self._quat = np.asarray(reading.quat, dtype=float) / np.linalg.norm(reading.quat)
            return self._quat
        if self._quat is None:
            self._quat = np.array([1.0, 0.0, 0.0, 0.0])
        w = np.asarray(reading.gyro, dtype=float)
        if reading.accel is not None and np.linalg.norm(reading.accel) > 0:
            # complementary filter: turn the estimated "up" towards the measured specific force
            up_meas = np.asarray(reading.accel) / np.linalg.norm(reading.accel)
            up_est = quat_to_matrix(self._quat).T @ np.array([0.0, 0.0, 1.0])
            w = w + self.config.tilt_gain * cross(up_meas, up_est)
        angle = float(np.linalg.norm(w)) * dt
        if angle > 0:
            axis = w / np.linalg.norm(w)
            dq = np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])
            self._quat = quat_multiply(self._quat, dq)
            self._quat /= np.linalg.norm(self._quat)
        return self._quat

    def _contacts(self, reading: Reading, J: np.ndarray, R: np.ndarray) -> np.ndarray:
        """Feet on the ground from the torques their legs carry (module docstring)."""
        F = self.kin.n_feet
        if reading.tau is None or not np.all(np.isfinite(reading.tau)):
            return np.ones(F, dtype=bool)
        out = np.zeros(F, dtype=bool)
        for i, chain in enumerate(self.kin.chains):
            cols = list(chain.joints)
            Ji = J[i][:, cols]  # (3, k)
            force = -np.linalg.lstsq(Ji.T, reading.tau[cols], rcond=1e-6)[0]  # ground force on the foot
            out[i] = (R @ force)[2] > self.contact_force
        return out

    # ------------------------------------------------------------------ the filter
    def _start(self, R: np.ndarray, feet: np.ndarray, contact: np.ndarray) -> None:
        world = feet @ R.T
        use = contact if contact.any() else np.ones_like(contact)
        radius = np.array([c.radius for c in self.kin.chains])
        height = float(np.mean((radius - world[:, 2])[use]))
        p = np.array([0.0, 0.0, height])
        self.x = np.concatenate([p, np.zeros(3), (p + world).ravel()])
        self.P = np.diag(np.concatenate([[1e-6] * 2 + [1e-4], [1e-2] * 3, [1e-4] * (3 * self.kin.n_feet)]))

    def update(self, reading: Reading, contact: np.ndarray | None = None) -> BaseEstimate | None:
        """Fold one reading in.

        Args:
            reading: A robot reading with joint positions, velocities (and torques for contact
                detection), gyro and accelerometer (and the IMU orientation when it gives one), in
                the IMU's frame (turned through its mount here).
            contact: Feet on the ground from foot sensors, shape (F,); None: from the torques.

        Returns:
            The estimate at the reading's time, or None when the reading cannot be used (invalid,
            no IMU, not later than the last one).
        """
        if (
            not reading.valid
            or reading.gyro is None
            or reading.accel is None
            or not (np.all(np.isfinite(reading.q)) and np.all(np.isfinite(reading.qd)))
        ):
            return None
        dt = 0.0 if self._t is None else reading.t - self._t
        if self._t is not None and not dt > 0:
            return None
        reading = self.kin.to_base(reading)
        quat = self._orientation(reading, dt)
        R = quat_to_matrix(quat)
        feet, J = self.kin.feet(reading.q)
        stance = self._contacts(reading, J, R) if contact is None else np.asarray(contact, dtype=bool)
        if self._t is None:
            self._start(R, feet, stance)
        else:
            self._predict(reading, R, dt, stance)
            self._correct(reading, R, feet, J, stance)
        self._t = reading.t
        P_v = self.P[3:6, 3:6]
        return BaseEstimate(
            t=reading.t,
            position=self.x[0:3].copy(),
            quat=quat.copy(),
            lin_vel=R.T @ self.x[3:6],
            ang_vel=np.asarray(reading.gyro, dtype=float).copy(),
            contact=stance,
            position_cov=self.P[0:3, 0:3].copy(),
            lin_vel_cov=R.T @ P_v @ R,
        )

    def _predict(self, reading: Reading, R: np.ndarray, dt: float, stance: np.ndarray) -> None:
        c = self.config
        w = np.asarray(reading.gyro, dtype=float)
        r = self.kin.imu_pos
        specific = np.asarray(reading.accel, dtype=float) - cross(w, cross(w, r))
        a = R @ specific + GRAVITY
        x = self.x
        x[0:3] += x[3:6] * dt + 0.5 * a * dt * dt
        x[3:6] += a * dt
        n = self.n
        A = np.eye(n)
        A[0:3, 3:6] = np.eye(3) * dt
        q_acc = (c.accel_noise * dt) ** 2
        Q = np.zeros(n)
        Q[0:3] = 0.25 * q_acc * dt * dt + 1e-10
        Q[3:6] = q_acc
        for i, on in enumerate(stance):
            Q[6 + 3 * i : 9 + 3 * i] = (c.stance_foot_noise if on else c.swing_foot_noise) ** 2
        self.P = A @ self.P @ A.T + np.diag(Q)
        self.P[0:3, 3:6] += 0.5 * q_acc * dt * np.eye(3)
        self.P[3:6, 0:3] += 0.5 * q_acc * dt * np.eye(3)

    def _correct(
        self, reading: Reading, R: np.ndarray, feet: np.ndarray, J: np.ndarray, stance: np.ndarray
    ) -> None:
        F = self.kin.n_feet
        w = np.asarray(reading.gyro, dtype=float)
        qd = np.asarray(reading.qd, dtype=float)
        # every foot's position relative to the base: f_i - p = R fk_i; a standing foot does not
        # move, v = -R (w x fk_i + J_i qd), and touches the floor, f_i,z = radius
        relative = feet @ R.T
        moving = np.cross(w[None, :], feet) + np.einsum("fkn,n->fk", J, qd)
        values = np.concatenate([relative.ravel(), (-(moving @ R.T)).ravel(), self._radius])
        use = np.concatenate([np.ones(3 * F, dtype=bool), np.repeat(stance, 3), stance])
        H, noise = self._H[use], self._noise[use]
        y = values[use] - H @ self.x
        PHt = self.P @ H.T
        S = H @ PHt + np.diag(noise)
        K = np.linalg.solve(S, PHt.T).T
        self.x = self.x + K @ y
        I_KH = np.eye(self.n) - K @ H
        self.P = I_KH @ self.P @ I_KH.T + (K * noise) @ K.T


def estimate_track(
    spec: RobotSpec,
    trajectory: Trajectory,
    *,
    kinematics: LegKinematics | None = None,
    config: EstimatorConfig | None = None,
) -> BaseTrack:
    """Run the estimator over a recorded log (joint states with torques, and IMU samples).

    Each joint-state sample is paired with the latest IMU sample at or before it.

    Raises:
        Sim2RealError: the log has no IMU samples, or the robot no floating base.
    """
    from sim2real.logs.trajectory import BaseTrack

    if not trajectory.has_imu or trajectory.imu_t.size == 0:
        raise Sim2RealError("base state estimation needs the log's IMU samples (/imu/data)")
    kin = kinematics or LegKinematics.from_model(spec)
    est = BaseStateEstimator(kin, config)
    cols = np.array([trajectory.joint_index(j) for j in spec.joints])
    imu = np.searchsorted(trajectory.imu_t, trajectory.t + 1e-9, side="right") - 1
    rows = []
    for i, t in enumerate(trajectory.t):
        k = imu[i]
        if k < 0:
            continue
        reading = Reading(
            t=float(t),
            q=trajectory.q[i, cols],
            qd=trajectory.qd[i, cols],
            tau=None if trajectory.tau is None else trajectory.tau[i, cols],
            gyro=trajectory.gyro[k],
            accel=trajectory.accel[k],
            quat=None if trajectory.quat is None else trajectory.quat[k],
        )
        out = est.update(reading)
        if out is not None:
            rows.append((out.t, out.position, out.quat, out.lin_vel, out.ang_vel))
    if not rows:
        raise Sim2RealError("the log gives no sample to estimate the base state from")
    return BaseTrack(
        t=np.array([r[0] for r in rows]),
        position=np.array([r[1] for r in rows]),
        quat=np.array([r[2] for r in rows]),
        lin_vel=np.array([r[3] for r in rows]),
        ang_vel=np.array([r[4] for r in rows]),
        source="estimate",
    )
