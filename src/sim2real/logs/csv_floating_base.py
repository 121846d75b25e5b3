"""IMU and floating-base columns of a CSV log (a quadruped's or a humanoid's): which column holds
each component, and the :class:`~sim2real.logs.trajectory.Trajectory` fields made of them.

Every vector is mapped component by component (``{x: gyro_x, y: gyro_y, z: gyro_z}``,
quaternions ``{w: qw, x: qx, y: qy, z: qz}``), so a logger's column order (xyzw or wxyz) is never
guessed. What the columns become, with the frames and units :func:`~sim2real.logs.bag.read_bag`
gives a bag's ``/imu/data`` and odometry topics:

- ``gyro`` [rad/s], ``accel`` (specific force, [m/s^2]) in the IMU frame, ``quat`` the IMU's
  orientation in the world frame: ``Trajectory.imu_t`` / ``gyro`` / ``accel`` / ``quat``.
- ``base_position`` [m] and ``base_quat`` (the base frame in the world frame, z up, height above
  the floor), ``base_lin_vel`` [m/s] and ``base_ang_vel`` [rad/s]: one
  :class:`~sim2real.logs.trajectory.BaseTrack`, ``Trajectory.base_estimate`` (an on-board
  estimator's, the bag's ``/odom``) or, with ``base_source: truth``, ``Trajectory.base_truth``
  (motion capture or a simulator, the bag's ``/ground_truth/odom``).  A BaseTrack holds velocities
  in the base frame (``nav_msgs/Odometry``'s twist), so each velocity's frame is stated
  (``base_lin_vel_frame: base|world``); world-frame velocities (motion capture, many estimators)
  are rotated into the base frame by the base orientation.  Without ``base_lin_vel`` (motion capture
  that exports poses only) the base's velocity is the derivative of ``base_position`` (central
  differences, smoothed as the joint velocities are), turned into the base frame.  Without
  ``base_ang_vel`` the base's angular velocity is the derivative of ``base_quat`` (central differences, smoothed as the joint
  velocities are): a gyro is not taken for it unless the map says so (map ``base_ang_vel`` to the
  gyro's columns with ``base_ang_vel_frame: base`` when the IMU is aligned with the base).

Quaternions are normalised (a zero one is an error naming its line); a CSV has one time column,
so the IMU samples and base states are at the joint-state times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import LogError
from sim2real.logs.derivative import central_difference, describe_method
from sim2real.logs.trajectory import BaseTrack, rotate

__all__ = [
    "BASE_KEYS",
    "BASE_SOURCES",
    "FRAMES",
    "IMU_KEYS",
    "VECTOR_KEYS",
    "check_floating_base",
    "floating_base_columns",
    "floating_base_fields",
]

log = logging.getLogger(__name__)

_XYZ = ("x", "y", "z")
_WXYZ = ("w", "x", "y", "z")
IMU_KEYS: dict[str, tuple[str, ...]] = {"gyro": _XYZ, "accel": _XYZ, "quat": _WXYZ}
"""IMU keys of a column map and the components each one names a column for."""
BASE_KEYS: dict[str, tuple[str, ...]] = {
    "base_position": _XYZ,
    "base_quat": _WXYZ,
    "base_lin_vel": _XYZ,
    "base_ang_vel": _XYZ,
}
"""Base-track keys of a column map and their components."""
VECTOR_KEYS: dict[str, tuple[str, ...]] = {**IMU_KEYS, **BASE_KEYS}
"""Every component-mapped key."""
FRAMES = ("base", "world")
"""Frames a base velocity may be logged in (``base``: the base frame, as a BaseTrack holds it)."""
BASE_SOURCES = {"estimate": "estimate", "truth": "ground_truth"}
"""``base_source`` of a map -> ``BaseTrack.source`` (``Trajectory.base_estimate`` / ``base_truth``)."""
QUAT_NORM_WARNING = 0.05
"""Quaternions whose norm differs from 1 by more than this are normalised with a warning
(a column map naming a wrong column, or a quaternion in other units)."""


def check_floating_base(get: Callable[[str], Any]) -> None:
    """Check the IMU and base fields of a column map (``get``: field name -> value).

    Raises:
        LogError: a component missing or unknown, gyro without accel (or the reverse), an IMU
            orientation without gyro and accel, an incomplete base track, a velocity without its
            frame (or a frame without its velocity), an unknown frame or ``base_source``;
            one line naming the key.
    """
    for key, axes in VECTOR_KEYS.items():
        mapping = get(key)
        if mapping is None:
            continue
        missing = [a for a in axes if a not in mapping]
        unknown = [str(a) for a in mapping if a not in axes]
        if missing or unknown:
            raise LogError(
                f"ColumnMap.{key}: name one column for each component {', '.join(axes)}, e.g. "
                f"{{{', '.join(f'{a}: {key}_{a}' for a in axes)}}} (missing {missing}, unknown {unknown})"
            )
    gyro, accel = get("gyro"), get("accel")
    if (gyro is None) != (accel is None):
        given, absent = ("gyro", "accel") if accel is None else ("accel", "gyro")
        raise LogError(f"ColumnMap.{absent}: an IMU needs both gyro and accel columns ({given} is mapped)")
    if get("quat") is not None and gyro is None:
        raise LogError("ColumnMap.quat: an IMU orientation needs the IMU's gyro and accel columns too")
    given = [k for k in BASE_KEYS if get(k) is not None]
    needed = [k for k in ("base_position", "base_quat") if get(k) is None]
    if given and needed:
        raise LogError(
            f"ColumnMap.{needed[0]}: a base track needs base_position and base_quat (base_lin_vel and "
            f"base_ang_vel are optional: differentiated when absent); {', '.join(given)} mapped, "
            f"{', '.join(needed)} not"
        )
    for key in ("base_lin_vel", "base_ang_vel"):
        frame = get(f"{key}_frame")
        if get(key) is not None and frame not in FRAMES:
            raise LogError(
                f"ColumnMap.{key}_frame: state the frame {key} is logged in: 'base' (the base frame, as "
                f"nav_msgs/Odometry's twist) or 'world' (e.g. motion capture), got {frame!r}"
            )
        if get(key) is None and frame is not None:
            raise LogError(f"ColumnMap.{key}_frame: given without {key} columns")
    if get("base_source") not in BASE_SOURCES:
        raise LogError(
            f"ColumnMap.base_source: 'estimate' (an on-board estimator) or 'truth' (motion capture, a "
            f"simulator), got {get('base_source')!r}"
        )


def floating_base_columns(get: Callable[[str], Any]) -> dict[str, str]:
    """Column -> role (``"gyro x"``, ``"base_quat w"``) of the IMU and base fields of a map."""
    out: dict[str, str] = {}
    for key in VECTOR_KEYS:
        for axis, column in (get(key) or {}).items():
            out.setdefault(column, f"{key} {axis}")
    return out


def floating_base_fields(
    path: Path,
    get: Callable[[str], Any],
    t: np.ndarray,
    values: Mapping[str, np.ndarray],
    line_numbers: Sequence[int],
    smoothing: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Trajectory fields of a CSV's IMU and base columns, and entries for its ``meta``.

    Args:
        path: The CSV file (for messages).
        get: Field name -> value of the column map.
        t: Sample times, shape (T,) [s].
        values: Column -> values in SI (scaled and offset), shape (T,).
        line_numbers: The file's line of each sample (for messages).
        smoothing: Moving-average window [samples] of differentiated velocities.

    Returns:
        (``imu_t``/``gyro``/``accel``/``quat`` and ``base_estimate`` or ``base_truth``, meta entries).

    Raises:
        LogError: a zero quaternion (line named), a base angular velocity that cannot be
            differentiated (times not increasing).
    """

    def stack(key: str) -> np.ndarray:
        return np.stack([values[get(key)[a]] for a in VECTOR_KEYS[key]], axis=1)

    fields: dict[str, Any] = {}
    info: dict[str, Any] = {}
    if get("gyro") is not None:
        fields |= {"imu_t": t, "gyro": stack("gyro"), "accel": stack("accel"), "quat": None}
        if get("quat") is not None:
            fields["quat"] = _unit(path, "quat", stack("quat"), get("quat"), line_numbers)
    if get("base_position") is None:
        return fields, info
    quat = _unit(path, "base_quat", stack("base_quat"), get("base_quat"), line_numbers)
    to_base = quat * np.array([1.0, -1.0, -1.0, -1.0])  # the conjugate: world -> base frame, R^T v
    velocity = {}
    for key in ("base_lin_vel", "base_ang_vel"):
        if get(key) is None:
            continue
        v = stack(key)
        if get(f"{key}_frame") == "world":
            v = rotate(to_base, v)
        velocity[key] = v
    if "base_lin_vel" not in velocity:  # d(position)/dt in the world, into the base frame
        try:
            world = central_difference(t, stack("base_position"), smoothing)
        except LogError as exc:
            raise LogError(f"{path}: cannot compute the base velocity from base_position: {exc}") from None
        velocity["base_lin_vel"] = rotate(to_base, world)
        info["base_lin_vel_source"] = "derivative of base_position: " + describe_method(smoothing)
    if "base_ang_vel" not in velocity:
        try:
            velocity["base_ang_vel"] = body_rate(t, quat, smoothing)
        except LogError as exc:
            raise LogError(
                f"{path}: cannot compute the base angular velocity from base_quat: {exc}"
            ) from None
        info["base_ang_vel_source"] = "derivative of base_quat: " + describe_method(smoothing)
    source = BASE_SOURCES[get("base_source")]
    track = BaseTrack(
        t=t,
        position=stack("base_position"),
        quat=quat,
        lin_vel=velocity["base_lin_vel"],
        ang_vel=velocity["base_ang_vel"],
        source=source,
    )
    fields["base_truth" if source == "ground_truth" else "base_estimate"] = track
    return fields, info


def body_rate(t: np.ndarray, quat: np.ndarray, smoothing: int = 1) -> np.ndarray:
    """Angular velocity in the body frame of a sampled orientation: ``2 Im(conj(q) dq/dt)``.

    Args:
        t: Times, shape (T,) [s], strictly increasing.
        quat: Unit quaternions (w, x, y, z), shape (T, 4) (sign flips between samples allowed).
        smoothing: Odd moving-average window [samples] of the derivative.

    Returns:
        Angular velocity, shape (T, 3) [rad/s].
    """
    signs = np.where(np.sum(quat[1:] * quat[:-1], axis=1) < 0, -1.0, 1.0)
    q = quat * np.concatenate([[1.0], np.cumprod(signs)])[:, None]
    dq = central_difference(t, q, smoothing)
    w, v = q[:, :1], q[:, 1:]
    dw, dv = dq[:, :1], dq[:, 1:]
    # vector part of conj(q) * dq = w dv - dw v - v x dv
    return 2.0 * (w * dv - dw * v - np.cross(v, dv))


def _unit(
    path: Path, key: str, quat: np.ndarray, columns: Mapping[str, str], line_numbers: Sequence[int]
) -> np.ndarray:
    """Quaternions (T, 4) normalised; a zero one is an error naming its line."""
    norm = np.linalg.norm(quat, axis=1)
    zero = np.flatnonzero(norm < 1e-6)
    if zero.size:
        i = int(zero[0])
        named = ", ".join(f"{a}={columns[a]!r}" for a in _WXYZ)
        raise LogError(
            f"{path}:{line_numbers[i]}: {key}: zero quaternion (columns {named}) at {zero.size} row(s)"
        )
    off = float(np.max(np.abs(norm - 1.0)))
    if off > QUAT_NORM_WARNING:
        log.warning(
            "%s: %s: quaternion norms from %.3g to %.3g, normalised: does the map name its columns right?",
            path, key, float(norm.min()), float(norm.max()),
        )  # fmt: skip
    return quat / norm[:, None]
