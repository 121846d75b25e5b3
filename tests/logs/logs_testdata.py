"""Test data for the log tests: a seeded synthetic run, bags as other recorders write them, and the
real-data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from realdata_source import REAL_DATA, require
from sim2real.logs import Event, Trajectory

SPEC_HASH = "5a1b" * 16
"""A made-up 64-hex-digit spec hash."""


def real_dir(name: str) -> Path:
    """A real-data subfolder, or skip the test with the reason."""
    return require(REAL_DATA / name)


def make_trajectory(seed: int = 0, n_states: int = 400, with_imu: bool = True) -> Trajectory:
    """A three-joint run with two actuated joints, IMU and events, all times on the nanosecond grid.

    States at irregular intervals around 2 ms, commands at 10 ms, IMU at 5 ms.
    """
    rng = np.random.default_rng(seed)
    state_ns = np.cumsum(rng.integers(1_500_000, 2_500_000, size=n_states)) + 1_000_000_000
    t = state_ns / 1e9
    n = 3
    q = rng.normal(size=(n_states, n))
    qd = rng.normal(size=(n_states, n))
    tau = rng.normal(size=(n_states, n))
    command_ns = np.arange(state_ns[0], state_ns[-1], 10_000_000)
    imu: dict = {}
    if with_imu:
        imu_ns = np.arange(state_ns[0], state_ns[-1], 5_000_000) + 123
        quat = rng.normal(size=(imu_ns.size, 4))
        imu = {
            "imu_t": imu_ns / 1e9,
            "gyro": rng.normal(size=(imu_ns.size, 3)),
            "accel": rng.normal(size=(imu_ns.size, 3)),
            "quat": quat / np.linalg.norm(quat, axis=1, keepdims=True),
        }
    return Trajectory(
        spec_hash=SPEC_HASH,
        joint_names=("hip", "knee", "wheel"),
        t=t,
        q=q,
        qd=qd,
        tau=tau,
        command_t=command_ns / 1e9,
        command=rng.normal(size=(command_ns.size, 2)),
        command_joints=("knee", "hip"),
        events=(
            Event(float(t[10]), "stage", {"name": "walk", "speed": 0.5}),
            Event(float(t[-5]), "safety_stop", {"limit": "joint_velocity", "joint": "knee", "value": 21.5}),
        ),
        meta={"robot": "testbot", "operator": "ci"},
        **imu,
    )


STORE = get_typestore(Stores.ROS2_HUMBLE)
_T = STORE.types
JS, HEADER, TIME = _T["sensor_msgs/msg/JointState"], _T["std_msgs/msg/Header"], _T["builtin_interfaces/msg/Time"]
ARRAY, LAYOUT = _T["std_msgs/msg/Float64MultiArray"], _T["std_msgs/msg/MultiArrayLayout"]
EPOCH = 1_733_450_000_000_000_000
"""The recorder's wall clock at the start [ns]."""
STEP = 10_000_000
"""Sample and command period [ns]."""


def foreign_state(stamp_ns: int, names, q, qd=()) -> object:
    """A ``sensor_msgs/JointState`` stamped ``stamp_ns``, without efforts."""
    return JS(
        header=HEADER(stamp=TIME(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=""),
        name=list(names),
        position=np.asarray(q, dtype=float),
        velocity=np.asarray(qd, dtype=float),
        effort=np.zeros(0),
    )


def write_foreign(
    path: Path,
    states: list[tuple[int, object]],
    commands: list[tuple[int, list[float]]],
    storage: StoragePlugin = StoragePlugin.MCAP,
    command_topic: str = "/joint_commands",
) -> Path:
    """A foreign bag (no sim2real metadata): (recording time, JointState) on /joint_states and
    (recording time, command values) as unnamed Float64MultiArrays on ``command_topic``."""
    msgs = [(ns, "/joint_states", JS.__msgtype__, m) for ns, m in states]
    msgs += [
        (ns, command_topic, ARRAY.__msgtype__, ARRAY(layout=LAYOUT(dim=[], data_offset=0), data=np.array(u)))
        for ns, u in commands
    ]
    msgs.sort(key=lambda m: m[0])
    conns: dict = {}
    with Writer(path, version=9, storage_plugin=storage) as writer:
        for ns, topic, typ, msg in msgs:
            conn = conns.get(topic) or conns.setdefault(topic, writer.add_connection(topic, typ, typestore=STORE))
            writer.write(conn, ns, STORE.serialize_cdr(msg, typ))
    return path


def write_split(
    path: Path,
    n: int = 30,
    parts: int = 3,
    storage: StoragePlugin = StoragePlugin.MCAP,
    compression: object = None,
) -> Path:
    """A foreign bag as ``ros2 bag record --max-bag-size`` leaves it: ``n`` samples (``/joint_states``
    of joint ``a`` at position i, an unnamed command i at the same recording time) in ``parts``
    storage files ``NAME_0``, ``NAME_1``, ... listed in one ``metadata.yaml``; ``compression`` (a
    ``rosbags.rosbag2.enums.CompressionMode``) compresses each file (``.mcap.zstd``) or message with zstd."""
    import shutil

    import yaml
    from rosbags.rosbag2.enums import CompressionFormat

    path.mkdir(parents=True)
    infos = []
    for k in range(parts):
        part = path.parent / f"{path.name}-part{k}"
        writer = Writer(part, version=9, storage_plugin=storage)
        if compression is not None:
            writer.set_compression(compression, CompressionFormat.ZSTD)
        with writer:
            js = writer.add_connection("/joint_states", JS.__msgtype__, typestore=STORE)
            cmd = writer.add_connection("/joint_commands", ARRAY.__msgtype__, typestore=STORE)
            for i in range(n * k // parts, n * (k + 1) // parts):
                ns = EPOCH + i * STEP
                writer.write(js, ns, STORE.serialize_cdr(foreign_state(ns, ["a"], [float(i)], [1.0]), JS.__msgtype__))
                u = ARRAY(layout=LAYOUT(dim=[], data_offset=0), data=np.array([float(i)]))
                writer.write(cmd, ns, STORE.serialize_cdr(u, ARRAY.__msgtype__))
        info = yaml.safe_load((part / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        (name,) = info["relative_file_paths"]
        new = f"{path.name}_{k}{name[name.index('.'):]}"
        (part / name).rename(path / new)
        shutil.rmtree(part)
        info["files"][0]["path"] = info["relative_file_paths"][0] = new
        infos.append(info)
    meta = infos[0] | {
        "relative_file_paths": [i["relative_file_paths"][0] for i in infos],
        "files": [i["files"][0] for i in infos],
        "message_count": sum(i["message_count"] for i in infos),
        "duration": {"nanoseconds": (n - 1) * STEP},
    }
    for t, topic in enumerate(meta["topics_with_message_count"]):
        topic["message_count"] = sum(i["topics_with_message_count"][t]["message_count"] for i in infos)
    (path / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": meta}))
    return path
