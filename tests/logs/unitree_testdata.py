"""Unitree recordings for the tests: our own definitions of the unitree_go / unitree_hg low-level
messages (their field layouts as unitree_ros2 publishes them), and a writer that turns a
:class:`~sim2real.logs.Trajectory` into a bag of ``LowState`` on ``/lowstate`` and ``LowCmd`` on
``/lowcmd``, by motor index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from sim2real.logs import Trajectory
from sim2real.logs.bag_unitree import POS_STOP_F, VEL_STOP_F

# Field layouts (msg text: one "type name" per line), written for these tests.
DEFINITIONS = {
    "unitree_go": {
        "IMUState": """
float32[4] quaternion
float32[3] gyroscope
float32[3] accelerometer
float32[3] rpy
int8 temperature
""",
        "MotorState": """
uint8 mode
float32 q
float32 dq
float32 ddq
float32 tau_est
float32 q_raw
float32 dq_raw
float32 ddq_raw
int8 temperature
uint32 lost
uint32[2] reserve
""",
        "BmsState": """
uint8 version_high
uint8 version_low
uint8 status
uint8 soc
int32 current
uint16 cycle
int8[2] bq_ntc
int8[2] mcu_ntc
uint16[15] cell_vol
""",
        "BmsCmd": """
uint8 off
uint8[3] reserve
""",
        "MotorCmd": """
uint8 mode
float32 q
float32 dq
float32 tau
float32 kp
float32 kd
uint32[3] reserve
""",
        "LowState": """
uint8[2] head
uint8 level_flag
uint8 frame_reserve
uint32[2] sn
uint32[2] version
uint16 bandwidth
IMUState imu_state
MotorState[20] motor_state
BmsState bms_state
int16[4] foot_force
int16[4] foot_force_est
uint32 tick
uint8[40] wireless_remote
uint8 bit_flag
float32 adc_reel
int8 temperature_ntc1
int8 temperature_ntc2
float32 power_v
float32 power_a
uint16[4] fan_frequency
uint32 reserve
uint32 crc
""",
        "LowCmd": """
uint8[2] head
uint8 level_flag
uint8 frame_reserve
uint32[2] sn
uint32[2] version
uint16 bandwidth
MotorCmd[20] motor_cmd
BmsCmd bms_cmd
uint8[40] wireless_remote
uint8[12] led
uint8[2] fan
uint8 gpio
uint32 reserve
uint32 crc
""",
    },
    "unitree_hg": {
        "IMUState": """
float32[4] quaternion
float32[3] gyroscope
float32[3] accelerometer
float32[3] rpy
int16 temperature
""",
        "MotorState": """
uint8 mode
float32 q
float32 dq
float32 ddq
float32 tau_est
int16[2] temperature
float32 vol
uint32[2] sensor
uint32 motorstate
uint32[4] reserve
""",
        "MotorCmd": """
uint8 mode
float32 q
float32 dq
float32 tau
float32 kp
float32 kd
uint32 reserve
""",
        "LowState": """
uint32[2] version
uint8 mode_pr
uint8 mode_machine
uint32 tick
IMUState imu_state
MotorState[35] motor_state
uint8[40] wireless_remote
uint32[4] reserve
uint32 crc
""",
        "LowCmd": """
uint8 mode_pr
uint8 mode_machine
MotorCmd[35] motor_cmd
uint32[4] reserve
uint32 crc
""",
    },
}
"""Package -> message -> its definition."""
SLOTS = {"unitree_go": 20, "unitree_hg": 35}
START_NS = 1_000_000_000
"""Recording time of a trajectory's t = 0 [ns]."""


def typestore():
    """ROS 2 Jazzy's types plus both Unitree families."""
    store = get_typestore(Stores.ROS2_JAZZY)
    types: dict = {}
    for package, msgs in DEFINITIONS.items():
        for name, fields in msgs.items():
            types |= get_types_from_msg(fields.strip(), f"{package}/msg/{name}")
    store.register(types)
    return store


STORE = typestore()


def _default(store, msgtype: str):
    """A message of ``msgtype`` with every field zero (arrays of their length)."""
    cls = store.types[msgtype]
    kwargs = {}
    for name, (kind, spec) in store.fielddefs[msgtype][1]:
        kwargs[name] = _zero(store, kind, spec)
    return cls(**kwargs)


def _zero(store, kind, spec):
    from rosbags.typesys.store import Nodetype

    if kind == Nodetype.BASE:
        return "" if spec[0] == "string" else 0
    if kind == Nodetype.NAME:
        return _default(store, spec)
    if kind == Nodetype.ARRAY:
        sub, n = spec
        if sub[0] == Nodetype.BASE:
            return np.zeros(n, dtype=bool if sub[1][0] == "bool" else np.dtype(sub[1][0]))
        return [_zero(store, *sub) for _ in range(n)]
    raise AssertionError(kind)


def write_unitree(
    path: Path,
    traj: Trajectory,
    motor_order: Sequence[str],
    *,
    family: str = "unitree_go",
    storage: StoragePlugin = StoragePlugin.MCAP,
    kp: float = 25.0,
    kd: float = 0.5,
    torque: bool = False,
    stop_before: int = 0,
    definitions: bool = True,
    state_topic: str = "/lowstate",
    command_topic: str = "/lowcmd",
    extra_state_topic: str | None = None,
    start_ns: int = START_NS,
) -> Path:
    """``traj`` as a Unitree bag: a ``LowState`` per state sample (its IMU from the IMU sample at the
    same time) and a ``LowCmd`` per command, motor i the joint ``motor_order[i]`` (``-``: unused);
    commands as position targets with ``kp``/``kd`` (or torques with ``torque``), after
    ``stop_before`` of the SDK's stop commands (1 ms apart).  Recording times are the trajectory's
    plus ``start_ns``.  ``extra_state_topic``: every fifth ``LowState`` also there (as
    ``/lf/lowstate``).  ``definitions=False`` writes no message definitions."""
    store = STORE
    state_t, cmd_t = f"{family}/msg/LowState", f"{family}/msg/LowCmd"
    slot = {j: i for i, j in enumerate(motor_order) if j != "-"}
    jcol = {j: k for k, j in enumerate(traj.joint_names)}
    ccol = {j: k for k, j in enumerate(traj.command_joints)}
    imu_at = {round(float(t) * 1e9): i for i, t in enumerate(traj.imu_t)} if traj.imu_t is not None else {}
    msgs: list[tuple[int, int, str, object]] = []
    for i, t in enumerate(traj.t):
        ns = round(float(t) * 1e9) + start_ns
        msg = _default(store, state_t)
        for j, s in slot.items():
            m = msg.motor_state[s]
            m.q, m.dq = np.float32(traj.q[i, jcol[j]]), np.float32(traj.qd[i, jcol[j]])
            m.tau_est = np.float32(0.0 if traj.tau is None else traj.tau[i, jcol[j]])
        if ns - start_ns in imu_at:
            k = imu_at[ns - start_ns]
            imu = msg.imu_state
            imu.gyroscope = traj.gyro[k].astype(np.float32)
            imu.accelerometer = traj.accel[k].astype(np.float32)
            if traj.quat is not None:
                imu.quaternion = traj.quat[k].astype(np.float32)
        msgs.append((ns, 0, state_topic, msg))
        if extra_state_topic is not None and i % 5 == 0:  # a low-frequency copy
            msgs.append((ns, 0, extra_state_topic, msg))
    times = [round(float(t) * 1e9) + start_ns for t in traj.command_t]
    for k in range(stop_before):
        msg = _default(store, cmd_t)
        for m in msg.motor_cmd:
            m.q, m.dq = POS_STOP_F, VEL_STOP_F
        msgs.append((times[0] - (stop_before - k) * 1_000_000, 1, command_topic, msg))
    for i, ns in enumerate(times):
        msg = _default(store, cmd_t)
        for j, s in slot.items():
            m = msg.motor_cmd[s]
            m.mode = 1
            if j not in ccol:
                continue
            if torque:
                m.q, m.dq, m.tau = POS_STOP_F, VEL_STOP_F, np.float32(traj.command[i, ccol[j]])
            else:
                m.q, m.kp, m.kd = np.float32(traj.command[i, ccol[j]]), kp, kd
        msgs.append((ns, 1, command_topic, msg))
    msgs.sort(key=lambda m: (m[0], m[1]))
    conns: dict = {}
    with Writer(path, version=9, storage_plugin=storage) as writer:
        for ns, _, topic, msg in msgs:
            typ = msg.__msgtype__
            if topic not in conns:
                extra = {} if definitions else {"msgdef": "", "rihs01": "RIHS01_" + "0" * 64}
                conns[topic] = writer.add_connection(topic, typ, typestore=store, **extra)
            writer.write(conns[topic], ns, store.serialize_cdr(msg, typ))
    return path


def float32(traj: Trajectory) -> Trajectory:
    """``traj`` with states, IMU and commands rounded to float32 (what a Unitree message carries)."""
    import dataclasses

    def r(a):
        return None if a is None else np.asarray(a, dtype=np.float32).astype(np.float64)

    return dataclasses.replace(
        traj,
        q=r(traj.q),
        qd=r(traj.qd),
        tau=r(traj.tau),
        command=r(traj.command),
        gyro=r(traj.gyro),
        accel=r(traj.accel),
        quat=r(traj.quat),
    )


QUADRUPED = tuple(f"{leg}_{part}" for leg in ("FL", "FR", "RL", "RR") for part in ("hip", "thigh", "calf"))
"""The embedded quadruped's joints (its policy order)."""
GO2_ORDER = tuple(f"{leg}_{part}" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf"))
"""A Go2's motor order in the quadruped's joint names: another order than the policy's."""


def quadruped_run(n: int = 60, seed: int = 0) -> Trajectory:
    """A synthetic 50 Hz run of the quadruped's 12 joints, IMU at the state times, commands every
    state, values exact in float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.02
    quat = rng.normal(size=(n, 4))

    def f32(shape):
        return rng.normal(size=shape).astype(np.float32).astype(np.float64)

    return float32(
        Trajectory(
            spec_hash=None,
            joint_names=QUADRUPED,
            t=t,
            q=f32((n, 12)),
            qd=f32((n, 12)),
            tau=f32((n, 12)),
            command_t=t,
            command=f32((n, 12)),
            command_joints=QUADRUPED,
            imu_t=t,
            gyro=f32((n, 3)),
            accel=f32((n, 3)),
            quat=quat / np.linalg.norm(quat, axis=1, keepdims=True),
        )
    )
