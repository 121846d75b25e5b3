"""An IMU recorded in another frame than the spec's IMU site, turned into the site's frame.

A ``sensor_msgs/Imu`` names its frame in ``header.frame_id`` (``Trajectory.meta["imu_frame"]``
for another recorder's bag).  A driver may report in its chip's frame (``imu_link``, mounted
turned 180 degrees about z on many legged robots) rather than the frame the spec's IMU site has:
read as if it were the site, its angular velocities and accelerations have the wrong signs.
Where the robot's model has a site or body of that name rigidly fixed to the IMU site's body, the
angular velocity, the specific force and the orientation are turned into the site's frame (the
lever arm between the two points is not applied to the acceleration; the warning gives it); a frame the model lacks,
or one that moves against the site (joints between), is read as the site's, with one warning.
"""

from __future__ import annotations

import dataclasses
import logging

import mujoco
import numpy as np

from sim2real.logs.trajectory import Trajectory
from sim2real.real.rotations import quat_multiply
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

ALIGNED = 1e-9
"""Largest difference from the identity of a rotation matrix taken as no turn."""
LEVER = 1e-3
"""Distance between the recorded frame and the site beyond which the lever arm is said [m]."""


def frame_rotation(model: mujoco.MjModel, site: str, frame: str) -> tuple[np.ndarray, np.ndarray] | str:
    """The rotation from ``frame`` (a site or body of ``model``) to the site ``site``, shape (3, 3)
    (``v_site = R v_frame``), and ``frame``'s origin in the site's frame [m], shape (3,); or why there
    is none (a frame the model lacks, or one joints move against the site).

    Sites are looked up before bodies.  The two are compared at the model's reference pose.
    """
    sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
    fid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, frame)
    kind = "site"
    if fid < 0:
        fid, kind = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, frame), "body"
    if sid < 0 or fid < 0:
        return "the model has no site or body of that name"
    body = int(model.site_bodyid[fid]) if kind == "site" else fid
    if not _rigid(model, int(model.site_bodyid[sid]), body):
        return "joints move it against the IMU site"
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    r_site = data.site_xmat[sid].reshape(3, 3)
    r_frame = (data.site_xmat if kind == "site" else data.xmat)[fid].reshape(3, 3)
    p_frame = (data.site_xpos if kind == "site" else data.xpos)[fid]
    return r_site.T @ r_frame, r_site.T @ (p_frame - data.site_xpos[sid])


def _rigid(model: mujoco.MjModel, a: int, b: int) -> bool:
    """Whether bodies ``a`` and ``b`` are welded together (no joint on the path between them)."""

    def chain(body: int) -> list[int]:
        out = [body]
        while body != 0:
            body = int(model.body_parentid[body])
            out.append(body)
        return out

    up_a, up_b = chain(a), chain(b)
    common = next(x for x in up_a if x in up_b)
    path = up_a[: up_a.index(common)] + up_b[: up_b.index(common)]
    return all(model.body_jntnum[x] == 0 for x in path)


def rotate_imu(traj: Trajectory, rotation: np.ndarray) -> Trajectory:
    """``traj`` with its IMU samples turned by ``rotation`` (frame to site, shape (3, 3)): the angular
    velocity and specific force as ``R v``, the orientation (world to frame, w x y z) composed with
    the site's orientation in the frame."""
    if not traj.has_imu:
        return traj
    changes: dict = {"gyro": traj.gyro @ rotation.T, "accel": traj.accel @ rotation.T}
    if traj.quat is not None:
        q_fs = quat_of(rotation.T)  # the site's orientation in the frame
        changes["quat"] = quat_multiply(traj.quat.T, q_fs).T  # column-wise: each sample's
    return dataclasses.replace(traj, **changes)


def quat_of(matrix: np.ndarray) -> np.ndarray:
    """The quaternion (w, x, y, z) of a rotation matrix, shape (4,)."""
    out = np.zeros(4)
    mujoco.mju_mat2Quat(out, np.ascontiguousarray(matrix, dtype=float).reshape(9))
    return out


def imu_in_site_frame(
    spec: RobotSpec, traj: Trajectory, name: str, model: mujoco.MjModel | None = None
) -> Trajectory:
    """``traj`` with its IMU samples in the spec's IMU site frame (module docstring); unchanged when
    the log names no IMU frame, names the site (or its body, aligned with it), or has no IMU.

    Args:
        spec: The robot.
        traj: A log; ``meta["imu_frame"]`` names the frame its IMU samples are in.
        name: The log's name, for messages.
        model: The robot's compiled model (default: built from ``spec``).
    """
    frame = traj.meta.get("imu_frame")
    if not frame or spec.imu is None or not traj.has_imu or frame == spec.imu.site:
        return traj
    model = model if model is not None else build_model(spec)
    found = frame_rotation(model, spec.imu.site, str(frame))
    if isinstance(found, str):
        log.warning(
            "%s: the IMU samples are in frame '%s', not the IMU site '%s' of %s (%s): read as if in the site's frame",
            name,
            frame,
            spec.imu.site,
            spec.name,
            found,
        )
        return traj
    rotation, offset = found
    if np.abs(rotation - np.eye(3)).max() <= ALIGNED:
        return traj
    angle = float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0))))
    apart = float(np.linalg.norm(offset))
    log.warning(
        "%s: the IMU samples are in frame '%s', turned %.4g degrees from the IMU site '%s': turned into the "
        "site's frame (angular velocity, acceleration, orientation)%s",
        name,
        frame,
        angle,
        spec.imu.site,
        f"; the {apart:.3g} m between them not applied to the acceleration" if apart > LEVER else "",
    )
    out = rotate_imu(traj, rotation)
    return dataclasses.replace(
        out, meta={**out.meta, "imu_frame": spec.imu.site, "imu_frame_recorded": frame}
    )
