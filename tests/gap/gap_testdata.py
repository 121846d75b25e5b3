"""Helpers shared by the gap and report tests: a short pendulum log away from nominal, a
balancing controller for the pendulum written as an ONNX policy with a short near-upright task,
and a log rewritten as another recorder's bag."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np

from sim2real.robots import load_robot
from sim2real.sysid.synthetic import excitation_commands, simulate_log
from sim2real.tasks import get_task, terms
from sim2real.tasks.base import SuccessRule, TaskConfig, Term

HIDDEN = {"body.pole.mass": 0.8, "joint.hinge.damping": 0.2, "actuator.motor.delay": 0.01}
"""True pendulum parameters of the synthetic log (nominal: 0.6755 kg, 0.35 N m s, 0 s)."""

UPRIGHT = {"joint": "hinge", "upright": float(np.pi), "tolerance": 0.2}
BALANCE_GAIN = np.array([[4.0, 0.0, -4.0, 0.0]])
"""action = tanh(4 sin q - 4 * 0.1 qd): about 8 N m/rad and 0.8 N m s/rad around upright (q = pi)."""


@cache
def pendulum_log(seconds: float = 3.0, seed: int = 3):
    """A chirp + PRBS run of the pendulum with :data:`HIDDEN` parameters."""
    spec = load_robot("pendulum")
    t = spec.control_dt * np.arange(round(seconds / spec.control_dt))
    u = excitation_commands(spec, t, 3.0, seed=seed)
    u[t < 0.1] = 0.0
    return simulate_log(spec, HIDDEN, u, seed=seed, position_noise=5e-4, velocity_noise=0.01)


def _reset_near_upright(env, ids, rng):
    n = ids.size
    return np.pi + rng.uniform(-0.05, 0.05, (n, 1)), rng.uniform(-0.1, 0.1, (n, 1))


def balance_task(episode_s: float = 1.0) -> TaskConfig:
    """The pendulum task started near upright, success: upright for the last half of the episode."""
    return dataclasses.replace(
        get_task("pendulum"),
        episode_s=episode_s,
        reset=_reset_near_upright,
        success=SuccessRule("hold_last", Term(terms.near_upright, 1.0, UPRIGHT), window_s=episode_s / 2),
    )


def balance_policy(path: Path) -> Path:
    """The linear balancing controller as a sim2real ONNX policy file."""
    from sim2real.policy.linear import write_linear_policy

    return write_linear_policy(load_robot("pendulum"), path, BALANCE_GAIN)


def foreign_bag(path: Path, log, controllers: list[str]) -> Path:
    """``log`` (a Trajectory) as `ros2 bag record` on a ros2_control robot writes it: /joint_states
    (stamped, no metadata of sim2real's) and each controller's Float64MultiArray on
    /<controller>/commands, all carrying the log's commands."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    T = store.types
    epoch = 1_700_000_000_000_000_000
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        states = writer.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store)
        commands = [
            writer.add_connection(f"/{c}/commands", "std_msgs/msg/Float64MultiArray", typestore=store)
            for c in controllers
        ]
        for i, t in enumerate(log.t):
            ns = epoch + round(t * 1e9)
            stamp = T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)
            msg = T["sensor_msgs/msg/JointState"](
                header=T["std_msgs/msg/Header"](stamp=stamp, frame_id=""),
                name=list(log.joint_names),
                position=log.q[i],
                velocity=log.qd[i],
                effort=np.zeros(0),
            )
            writer.write(states, ns, store.serialize_cdr(msg, "sensor_msgs/msg/JointState"))
        for t, u in zip(log.command_t, log.command, strict=True):
            layout = T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
            command = T["std_msgs/msg/Float64MultiArray"](layout=layout, data=u)
            for conn in commands:
                writer.write(conn, epoch + round(t * 1e9), store.serialize_cdr(command, "std_msgs/msg/Float64MultiArray"))
    return path
