"""A legged robot's run written as another lab's CSV log: its own column names, joint angles in
degrees, time in milliseconds, quaternions in x, y, z, w column order, a world-frame base velocity,
every value printed with :data:`DECIMALS` decimals. And the column map that reads it back."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sim2real.logs import Trajectory

DECIMALS = 6
"""Decimals every value is printed with (so a value reads back within 0.5e-6 of the file's unit)."""


def legged_csv_columns(traj: Trajectory) -> dict[str, np.ndarray]:
    """Column name -> values in the file's units, in file order (the base track: ``traj.base``)."""
    base = traj.base
    assert traj.imu_t is not None and np.array_equal(traj.imu_t, traj.t), (
        "one time column: IMU at state times"
    )
    assert base is not None and np.array_equal(base.t, traj.t), "one time column: base at state times"
    assert np.array_equal(traj.command_t, traj.t), "one time column: commands at state times"
    cols: dict[str, np.ndarray] = {"stamp_ms": traj.t * 1e3}
    deg = 180.0 / math.pi
    for i, joint in enumerate(traj.joint_names):
        cols[f"{joint}.q_deg"] = traj.q[:, i] * deg
        cols[f"{joint}.dq"] = traj.qd[:, i]
        cols[f"{joint}.tau_est"] = traj.tau[:, i]
    for i, joint in enumerate(traj.command_joints):
        cols[f"{joint}.q_des_deg"] = traj.command[:, i] * deg
    for i, axis in enumerate("xyz"):
        cols[f"imu_gyro_{axis}"] = traj.gyro[:, i]
    for i, axis in enumerate("xyz"):
        cols[f"imu_acc_{axis}"] = traj.accel[:, i]
    for i, axis in ((1, "x"), (2, "y"), (3, "z"), (0, "w")):  # x, y, z, w order
        cols[f"imu_q{axis}"] = traj.quat[:, i]
    for i, axis in enumerate("xyz"):
        cols[f"mocap_p{axis}"] = base.position[:, i]
    for i, axis in ((1, "x"), (2, "y"), (3, "z"), (0, "w")):
        cols[f"mocap_q{axis}"] = base.quat[:, i]
    world = base.lin_vel_world
    for i, axis in enumerate("xyz"):
        cols[f"mocap_v{axis}"] = world[:, i]
    for i, axis in enumerate("xyz"):
        cols[f"mocap_w{axis}"] = base.ang_vel[:, i]
    return cols


def write_legged_csv(path: Path, traj: Trajectory) -> Path:
    """Write ``traj`` (IMU, base track and commands at its joint-state times) as a CSV file."""
    cols = legged_csv_columns(traj)
    lines = [",".join(cols)]
    table = np.stack(list(cols.values()), axis=1)
    lines += [",".join(f"{v:.{DECIMALS}f}" for v in row) for row in table]
    path.write_text("\n".join(lines) + "\n")
    return path


def legged_csv_map(traj: Trajectory, base_source: str = "truth") -> str:
    """The YAML column map of :func:`write_legged_csv`'s file."""
    joints = traj.joint_names
    lines = [
        "time: stamp_ms",
        "position: {" + ", ".join(f"{j}: {j}.q_deg" for j in joints) + "}",
        "velocity: {" + ", ".join(f"{j}: {j}.dq" for j in joints) + "}",
        "effort: {" + ", ".join(f"{j}: {j}.tau_est" for j in joints) + "}",
        "command: {" + ", ".join(f"{j}: {j}.q_des_deg" for j in traj.command_joints) + "}",
        "gyro: {x: imu_gyro_x, y: imu_gyro_y, z: imu_gyro_z}",
        "accel: {x: imu_acc_x, y: imu_acc_y, z: imu_acc_z}",
        "quat: {x: imu_qx, y: imu_qy, z: imu_qz, w: imu_qw}",
        "base_position: {x: mocap_px, y: mocap_py, z: mocap_pz}",
        "base_quat: {x: mocap_qx, y: mocap_qy, z: mocap_qz, w: mocap_qw}",
        "base_lin_vel: {x: mocap_vx, y: mocap_vy, z: mocap_vz}",
        "base_lin_vel_frame: world",
        "base_ang_vel: {x: mocap_wx, y: mocap_wy, z: mocap_wz}",
        "base_ang_vel_frame: base",
        f"base_source: {base_source}",
        "scale:",
        "  stamp_ms: 0.001",
    ]
    lines += [f"  {j}.q_deg: {math.pi / 180!r}" for j in joints]
    lines += [f"  {j}.q_des_deg: {math.pi / 180!r}" for j in traj.command_joints]
    return "\n".join(lines) + "\n"
