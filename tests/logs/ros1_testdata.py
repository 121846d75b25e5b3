"""ROS 1 bags for the tests: a :class:`~sim2real.logs.Trajectory` written as another recorder's ROS 1
bag (``rosbags.rosbag1.Writer``, Noetic's definitions): ``sensor_msgs/JointState``,
``sensor_msgs/Imu`` and ``std_msgs/Float64MultiArray``, recorded at their stamps (never earlier than
the message before, as sim2real's own recorder logs them)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from rosbags.rosbag1 import Writer
from rosbags.typesys import Stores, get_typestore

from sim2real.logs import Trajectory

NOETIC = get_typestore(Stores.ROS1_NOETIC)
_T = NOETIC.types
JS, IMU, HEADER, TIME = (
    _T["sensor_msgs/msg/JointState"],
    _T["sensor_msgs/msg/Imu"],
    _T["std_msgs/msg/Header"],
    _T["builtin_interfaces/msg/Time"],
)
ARRAY, LAYOUT, DIM = (
    _T["std_msgs/msg/Float64MultiArray"],
    _T["std_msgs/msg/MultiArrayLayout"],
    _T["std_msgs/msg/MultiArrayDimension"],
)
QUAT, VEC = _T["geometry_msgs/msg/Quaternion"], _T["geometry_msgs/msg/Vector3"]
TOPICS = {"state": "/joint_states", "imu": "/imu/data", "command": "/joint_commands"}


FIELDS = ("t", "q", "qd", "tau", "command_t", "command", "imu_t", "gyro", "accel", "quat")


def assert_same_run(got, want) -> None:
    """Same joints, command joints, and every array equal (times to the nanosecond)."""
    assert got.joint_names == want.joint_names and got.command_joints == want.command_joints
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)
    for name in ("t", "command_t", "imu_t"):
        if getattr(want, name) is not None:
            np.testing.assert_array_equal(
                np.round(getattr(got, name) * 1e9), np.round(getattr(want, name) * 1e9)
            )


def _ns(t: float) -> int:
    return round(float(t) * 1e9)


def _header(seq: int, ns: int, frame: str = "") -> object:
    return HEADER(seq=seq, stamp=TIME(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame)


def ros1_messages(tr: Trajectory, topics: dict[str, str] | None = None) -> list[tuple[int, str, str, object]]:
    """(recording time [ns], topic, type, message) of a run, in recording order."""
    topics = TOPICS | (topics or {})
    items: list[tuple[int, int, int]] = [(_ns(t), 0, i) for i, t in enumerate(tr.t)]
    if tr.imu_t is not None:
        items += [(_ns(t), 1, i) for i, t in enumerate(tr.imu_t)]
    items += [(_ns(t), 2, i) for i, t in enumerate(tr.command_t)]
    items.sort()
    out, last = [], 0
    no_cov, no_orientation = np.zeros(9), np.array([-1.0, 0, 0, 0, 0, 0, 0, 0, 0])
    for ns, kind, i in items:
        if kind == 0:
            msg = JS(
                header=_header(i, ns),
                name=list(tr.joint_names),
                position=np.asarray(tr.q[i], dtype=float),
                velocity=np.asarray(tr.qd[i], dtype=float),
                effort=np.zeros(0) if tr.tau is None else np.asarray(tr.tau[i], dtype=float),
            )
            out.append((max(ns, last), topics["state"], JS.__msgtype__, msg))
        elif kind == 1:
            g, a = tr.gyro[i], tr.accel[i]
            if tr.quat is None:
                orientation, cov = QUAT(x=0.0, y=0.0, z=0.0, w=1.0), no_orientation
            else:
                w, x, y, z = (float(v) for v in tr.quat[i])
                orientation, cov = QUAT(x=x, y=y, z=z, w=w), no_cov
            msg = IMU(
                header=_header(i, ns, "imu"),
                orientation=orientation,
                orientation_covariance=cov,
                angular_velocity=VEC(x=float(g[0]), y=float(g[1]), z=float(g[2])),
                angular_velocity_covariance=no_cov,
                linear_acceleration=VEC(x=float(a[0]), y=float(a[1]), z=float(a[2])),
                linear_acceleration_covariance=no_cov,
            )
            out.append((max(ns, last), topics["imu"], IMU.__msgtype__, msg))
        else:
            m = len(tr.command_joints)
            layout = LAYOUT(dim=[DIM(label="joints", size=m, stride=m)], data_offset=0)
            msg = ARRAY(layout=layout, data=np.asarray(tr.command[i], dtype=float))
            out.append((max(ns, last), topics["command"], ARRAY.__msgtype__, msg))
        last = out[-1][0]
    return out


def write_ros1(
    path: Path,
    tr: Trajectory,
    *,
    topics: dict[str, str] | None = None,
    compression: Writer.CompressionFormat | None = None,
    chunk_bytes: int | None = None,
    skip: tuple[str, ...] = (),
) -> Path:
    """Write a run as a ROS 1 bag (no sim2real metadata); ``topics`` renames ``state``, ``imu``,
    ``command``; ``skip`` leaves those kinds out; ``chunk_bytes`` sets the chunk size."""
    writer = Writer(path)
    if compression is not None:
        writer.set_compression(compression)
    if chunk_bytes is not None:
        writer.chunk_threshold = chunk_bytes
    names = TOPICS | (topics or {})
    skipped = {names[k] for k in skip}
    conns: dict[str, object] = {}
    with writer:
        for ns, topic, typ, msg in ros1_messages(tr, topics):
            if topic in skipped:
                continue
            conn = conns.get(topic) or conns.setdefault(
                topic, writer.add_connection(topic, typ, typestore=NOETIC)
            )
            writer.write(conn, ns, NOETIC.serialize_ros1(msg, typ))
    return path


# unitree_legged_msgs as unitree_legged_sdk 3.x's ROS 1 wrapper publishes them (field layouts written for
# these tests; the message definitions travel in the bag).
LEGACY = {
    "IMU": "float32[4] quaternion\nfloat32[3] gyroscope\nfloat32[3] accelerometer\nfloat32[3] rpy\nint8 temperature\n",
    "MotorState": (
        "uint8 mode\nfloat32 q\nfloat32 dq\nfloat32 ddq\nfloat32 tauEst\nfloat32 q_raw\nfloat32 dq_raw\n"
        "float32 ddq_raw\nint8 temperature\nuint32[2] reserve\n"
    ),
    "MotorCmd": "uint8 mode\nfloat32 q\nfloat32 dq\nfloat32 tau\nfloat32 Kp\nfloat32 Kd\nuint32[3] reserve\n",
    "LowState": (
        "uint8 levelFlag\nuint16 commVersion\nuint16 robotID\nuint32 SN\nuint8 bandWidth\nIMU imu\n"
        "MotorState[20] motorState\nint16[4] footForce\nint16[4] footForceEst\nuint32 tick\n"
        "uint8[40] wirelessRemote\nuint32 reserve\nuint32 crc\n"
    ),
    "LowCmd": (
        "uint8 levelFlag\nuint16 commVersion\nuint16 robotID\nuint32 SN\nuint8 bandWidth\n"
        "MotorCmd[20] motorCmd\nuint8[40] wirelessRemote\nuint32 reserve\nuint32 crc\n"
    ),
}


def legacy_store(definitions: dict[str, str] | None = None):
    """Noetic's types plus unitree_legged_msgs (``definitions`` replaces some)."""
    from rosbags.typesys import get_types_from_msg

    store = get_typestore(Stores.ROS1_NOETIC)
    types: dict = {}
    for name, text in (LEGACY | (definitions or {})).items():
        types |= get_types_from_msg(text, f"unitree_legged_msgs/msg/{name}")
    store.register(types)
    return store


def write_unitree_ros1(
    path: Path,
    tr: Trajectory,
    motor_order,
    *,
    kp: float = 25.0,
    kd: float = 0.5,
    start_ns: int = 1_000_000_000,
    definitions: dict[str, str] | None = None,
) -> Path:
    """``tr`` as a ROS 1 bag of unitree_legged_msgs: a ``LowState`` on ``/low_state`` per state sample
    (its IMU from the IMU sample at the same time) and a ``LowCmd`` on ``/low_cmd`` per command
    (position targets with ``kp``/``kd``, ``mode`` 10), motor i the joint ``motor_order[i]`` (``-``:
    unused); recording times the trajectory's plus ``start_ns``."""
    from unitree_testdata import _default

    store = legacy_store(definitions)
    slot = {j: i for i, j in enumerate(motor_order) if j != "-"}
    jcol = {j: k for k, j in enumerate(tr.joint_names)}
    ccol = {j: k for k, j in enumerate(tr.command_joints)}
    imu_at = {_ns(t): i for i, t in enumerate(tr.imu_t)} if tr.imu_t is not None else {}
    msgs = []
    for i, t in enumerate(tr.t):
        msg = _default(store, "unitree_legged_msgs/msg/LowState")
        for j, s in slot.items():
            m = msg.motorState[s]
            m.q, m.dq = np.float32(tr.q[i, jcol[j]]), np.float32(tr.qd[i, jcol[j]])
            m.tauEst = np.float32(0.0 if tr.tau is None else tr.tau[i, jcol[j]])
        if (k := imu_at.get(_ns(t))) is not None:
            msg.imu.gyroscope = tr.gyro[k].astype(np.float32)
            msg.imu.accelerometer = tr.accel[k].astype(np.float32)
            if tr.quat is not None:
                msg.imu.quaternion = tr.quat[k].astype(np.float32)
        msgs.append((_ns(t) + start_ns, 0, "/low_state", msg))
    for i, t in enumerate(tr.command_t):
        msg = _default(store, "unitree_legged_msgs/msg/LowCmd")
        for j, s in slot.items():
            m = msg.motorCmd[s]
            m.mode = 10
            if j in ccol:
                m.q, m.Kp, m.Kd = np.float32(tr.command[i, ccol[j]]), kp, kd
        msgs.append((_ns(t) + start_ns, 1, "/low_cmd", msg))
    msgs.sort(key=lambda m: (m[0], m[1]))
    conns: dict = {}
    with Writer(path) as writer:
        for ns, _, topic, msg in msgs:
            typ = msg.__msgtype__
            conn = conns.get(topic) or conns.setdefault(
                topic, writer.add_connection(topic, typ, typestore=store)
            )
            writer.write(conn, ns, store.serialize_ros1(msg, typ))
    return path


# ---------------------------------------------------------------- bags whose recorder was killed


def unindexed(data: bytes) -> bytes:
    """A bag's bytes with its header's ``index_pos`` 0, as ``rosbag record`` leaves it until closed."""
    at = data.index(b"index_pos=") + len(b"index_pos=")
    return data[:at] + struct.pack("<Q", 0) + data[at + 8 :]


def chunk_layout(path: Path) -> list[tuple[int, int, int, list[tuple[int, int]]]]:
    """(chunk record's position, its data's position, its data's length, [(message offset in the
    uncompressed data, recording time [ns])]) of each chunk, from the bag's index (rosbags' reader)."""
    from rosbags.rosbag1 import Reader

    with Reader(path) as reader:
        chunks = {
            info.pos: (reader.chunks[info.pos].datapos, reader.chunks[info.pos].datasize, [])
            for info in reader.chunk_infos
        }
        for entries in reader.indexes.values():
            for entry in entries:
                chunks[entry.chunk_pos][2].append((entry.offset, entry.time))
    return [(pos, dp, ds, sorted(msgs)) for pos, (dp, ds, msgs) in sorted(chunks.items())]


def with_open_last_chunk(data: bytes, path: Path) -> bytes:
    """``data`` (the bytes of the bag at ``path``) as ``rosbag record`` leaves it when killed while
    writing its last chunk: that chunk's header says ``size`` 0 and ``data_len`` 0 (place-holders
    until the chunk is closed) and nothing follows its data (no index records)."""
    pos, datapos, datasize, _ = chunk_layout(path)[-1]
    out = bytearray(data[: datapos + datasize])
    at = out.index(b"size=", pos) + len(b"size=")
    out[at : at + 4] = struct.pack("<I", 0)
    out[datapos - 4 : datapos] = struct.pack("<I", 0)
    return bytes(out)


def write_ros1_parts(folder: Path, tr: Trajectory, names: tuple[str, ...]) -> list[Path]:
    """A run as ``rosbag record --split`` leaves it: its messages cut into ``len(names)`` consecutive
    ROS 1 bags of those names in ``folder`` (each with the connections of the messages it holds)."""
    folder.mkdir(parents=True, exist_ok=True)
    msgs = ros1_messages(tr)
    out = []
    for k, name in enumerate(names):
        conns: dict[str, object] = {}
        with Writer(folder / name) as writer:
            for ns, topic, typ, msg in msgs[len(msgs) * k // len(names) : len(msgs) * (k + 1) // len(names)]:
                conn = conns.get(topic) or conns.setdefault(
                    topic, writer.add_connection(topic, typ, typestore=NOETIC)
                )
                writer.write(conn, ns, NOETIC.serialize_ros1(msg, typ))
        out.append(folder / name)
    return out


HIGH_LEVEL = {
    "BmsState": "uint8 version_h\nuint8 version_l\nuint8 bms_status\nuint8 SOC\nint32 current\nuint16 cycle\n"
    "int8[2] BQ_NTC\nint8[2] MCU_NTC\nuint16[10] cell_vol\n",
    "Cartesian": "float32 x\nfloat32 y\nfloat32 z\n",
    "HighState": "uint8[2] head\nuint8 levelFlag\nuint8 frameReserve\nuint32[2] SN\nuint32[2] version\n"
    "uint16 bandWidth\nIMU imu\nMotorState[20] motorState\nBmsState bms\nint16[4] footForce\nint16[4] footForceEst\n"
    "uint8 mode\nfloat32 progress\nuint8 gaitType\nfloat32 footRaiseHeight\nfloat32[3] position\nfloat32 bodyHeight\n"
    "float32[3] velocity\nfloat32 yawSpeed\nfloat32[4] rangeObstacle\nCartesian[4] footPosition2Body\n"
    "Cartesian[4] footSpeed2Body\nuint8[40] wirelessRemote\nuint32 reserve\nuint32 crc\n",
    "HighCmd": "uint8[2] head\nuint8 levelFlag\nuint8 frameReserve\nuint32[2] SN\nuint32[2] version\n"
    "uint16 bandWidth\nuint8 mode\nuint8 gaitType\nuint8 speedLevel\nfloat32 footRaiseHeight\nfloat32 bodyHeight\n"
    "float32[2] position\nfloat32[3] euler\nfloat32[2] velocity\nfloat32 yawSpeed\nuint8[40] wirelessRemote\n"
    "uint32 reserve\nuint32 crc\n",
}
"""unitree_legged_msgs' high-level (sport mode) messages, as unitree_legged_sdk 3.x's ROS 1 wrapper has
them (layouts written for these tests)."""


def write_high_state_ros1(path: Path, n: int = 50, joint_states: Trajectory | None = None) -> Path:
    """A ROS 1 bag of ``n`` ``HighState`` on ``/high_state`` and ``HighCmd`` on ``/high_cmd`` at 500 Hz
    (and ``joint_states``' JointState messages, when given)."""
    from unitree_testdata import _default

    store = legacy_store(HIGH_LEVEL)
    with Writer(path) as writer:
        msgs = [] if joint_states is None else ros1_messages(joint_states)
        conns: dict = {}
        for i in range(n):
            ns = 1_000_000_000 + i * 2_000_000
            for topic, name in (("/high_state", "HighState"), ("/high_cmd", "HighCmd")):
                msgs.append((ns, topic, f"unitree_legged_msgs/msg/{name}", _default(store, f"unitree_legged_msgs/msg/{name}")))
        for ns, topic, typ, msg in sorted(msgs, key=lambda m: (m[0], m[1])):
            conn = conns.get(topic) or conns.setdefault(topic, writer.add_connection(topic, typ, typestore=store))
            writer.write(conn, ns, store.serialize_ros1(msg, typ))
    return path
