"""Helpers of the deploy tests: quiet twins, test doubles, tiny exported policies, killing a child."""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import RobotSpec

NO_DROPS = dataclasses.replace(TwinEffects(), drop_probability=0.0)
"""Default twin effects without random dropped readings (deterministic safety events)."""

TWIN_YAML = """params:
  body.pendulum.mass: 0.026
  motor.motor.resistance: 9.0
  actuator.motor.delay: 0.002
effects:
  seed: 3
  drop_probability: 0.002
"""
"""A furuta twin file: a subset of parameters (the rest stay nominal) and some effects."""


def twin(spec: RobotSpec, **kwargs: Any) -> TwinRobot:
    """A twin of ``spec`` without random dropped readings."""
    return TwinRobot(spec, TwinConfig(effects=NO_DROPS), **kwargs)


class CallLog:
    """Shared list of what was called, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []


class LoggingRobot:
    """Wraps a robot and logs read/write calls."""

    def __init__(self, inner: Any, log: CallLog) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.log = log
        self.commands: list[Any] = []

    def now(self) -> float:
        return self.inner.now()

    def read(self) -> Any:
        self.log.calls.append("read")
        return self.inner.read()

    def write(self, command: Any) -> None:
        self.log.calls.append("write")
        self.commands.append(command)
        self.inner.write(command)

    def stop(self) -> None:
        self.log.calls.append("stop")
        self.inner.stop()

    def close(self) -> None:
        self.inner.close()


class ScriptedPolicy:
    """A policy returning fixed commands; logs calls and the velocity commands it was given."""

    def __init__(self, values: Any, log: CallLog | None = None, control_dt: float | None = None) -> None:
        self.values = np.asarray(values, dtype=float)
        self.log = log
        self.last_input_finite = True
        self.velocity_commands: list[Any] = []
        self.resets = 0
        self.filtered_action = np.zeros(self.values.shape)
        if control_dt is not None:
            self.control_dt = control_dt

    def step_reading(self, reading: Any, velocity_command: Any = None) -> np.ndarray:
        if self.log is not None:
            self.log.calls.append("policy")
        self.velocity_commands.append(None if velocity_command is None else np.array(velocity_command))
        finite = np.all(np.isfinite(reading.q)) and (
            velocity_command is None or np.all(np.isfinite(velocity_command))
        )
        self.last_input_finite = bool(finite)
        return self.values.copy()

    def reset(self) -> None:
        self.resets += 1


@functools.cache
def _policy_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sim2real-deploy-policies-"))


@functools.cache
def tiny_policy(name: str) -> Path:
    """An ONNX policy exported from a tiny, untrained TransferPolicy of an embedded robot (cached)."""
    torch = pytest.importorskip("torch", reason="exporting a policy needs the train extra (torch)")
    from sim2real.policy.export import export_policy
    from sim2real.robots import load_robot
    from sim2real.train.network import TransferPolicy

    spec = load_robot(name)
    torch.manual_seed(0)
    network = TransferPolicy(spec.n_obs, spec.n_actions, (16, 16))
    path = _policy_dir() / f"{name}.onnx"
    export_policy(network, spec, path, n_random=200, n_recorded=50)
    return path


def run_until_ticks_then_kill(args: list[str], min_ticks: int, stderr_path: Path) -> int:
    """Start ``python -m sim2real.cli ARGS``; read its stderr until a status line reports at least
    ``min_ticks`` ticks done, then SIGKILL it.  Returns the ticks reported."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen(
        [sys.executable, "-m", "sim2real.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    reported = -1
    lines = []
    try:
        assert child.stderr is not None
        for line in child.stderr:
            lines.append(line)
            if " ticks done" in line:
                reported = int(line.split(": ", 1)[1].split()[0])
                if reported >= min_ticks:
                    break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert child.stderr is not None
        child.stderr.close()
        stderr_path.write_text("".join(lines))
    assert child.returncode == -signal.SIGKILL
    return reported


def killed_before_closing(bag: Path) -> bool:
    """Whether the bag's ``metadata.yaml`` (written from the moment it opened) says its writer never closed."""
    import yaml

    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return meta["custom_data"]["sim2real.complete"] == "false"


def read_with_both_readers(bag: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Messages per topic of a bag: rosbags' ``AnyReader`` on the bag directory (as ROS 2 tools open
    it: it needs ``metadata.yaml``), and mcap_ros2 on its MCAP file.  Both must read every Message
    record in the file (counted by a raw scan of its records)."""
    from mcap.records import Message
    from mcap.stream_reader import StreamReader
    from rosbags.highlevel import AnyReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from mcap_ros2.reader import read_ros2_messages

    (mcap,) = bag.glob("*.mcap")
    counts_rosbags: dict[str, int] = {}
    with AnyReader([bag]) as reader:
        for conn, _, _ in reader.messages():
            counts_rosbags[conn.topic] = counts_rosbags.get(conn.topic, 0) + 1
    counts_mcap: dict[str, int] = {}
    for msg in read_ros2_messages(str(mcap)):
        counts_mcap[msg.channel.topic] = counts_mcap.get(msg.channel.topic, 0) + 1
    with mcap.open("rb") as fh:
        in_file = sum(isinstance(r, Message) for r in StreamReader(fh).records)
    assert sum(counts_rosbags.values()) == sum(counts_mcap.values()) == in_file
    return counts_rosbags, counts_mcap


QUIET = TwinEffects(
    latency_jitter=0.0,
    backlash=0.0,
    position_noise=0.0,
    velocity_noise=0.0,
    gyro_noise=0.0,
    drop_probability=0.0,
    encoder_resolution=0.0,
)
"""Twin effects without noise, quantization, backlash, jitter or drops (exact readings)."""


def balance_policy(spec: RobotSpec, path: Path, upright: dict[str, float]) -> Path:
    """A balancing policy for a swing-up robot (pendulum, furuta): discrete LQR about the upright
    state, from a linearization of one control step of the quiet nominal twin, written as a linear
    ONNX policy on the observation terms joint_pos_sincos, joint_vel, last_action.  It does the
    task's balancing part (held upright within the success tolerance) from a start near upright."""
    import scipy.linalg

    from sim2real.policy.linear import write_linear_policy
    from sim2real.real.protocol import Command
    from sim2real.tasks import get_task

    n, m = spec.n_joints, spec.n_actions
    x0 = np.array([upright.get(j, 0.0) for j in spec.joints])
    quiet = TwinRobot(spec, TwinConfig(effects=QUIET))

    def step(x: np.ndarray, u: np.ndarray) -> np.ndarray:
        quiet.reset(x0 + x[:n], x[n:])
        quiet.write(Command(t=0.0, values=u))
        r = quiet.read()
        return np.r_[r.q - x0, r.qd]

    eps = 1e-5
    zero = np.zeros(m)
    A = np.column_stack([(step(e, zero) - step(-e, zero)) / (2 * eps) for e in np.eye(2 * n) * eps])
    B = np.column_stack([(step(np.zeros(2 * n), e) - step(np.zeros(2 * n), -e)) / (2 * eps) for e in np.eye(m) * eps])
    task = get_task(spec.name)
    alpha, scale = task.action_filter, np.asarray(task.action_scale)
    # z = [x, a_f_prev], input a:  a_f = alpha a + (1 - alpha) a_f_prev,  u = scale a_f
    k = 2 * n + m
    Az = np.zeros((k, k))
    Az[: 2 * n, : 2 * n] = A
    Az[: 2 * n, 2 * n :] = B * scale * (1 - alpha)
    Az[2 * n :, 2 * n :] = (1 - alpha) * np.eye(m)
    Bz = np.vstack([B * scale * alpha, alpha * np.eye(m)])
    Q = np.diag([5.0] * n + [0.2] * n + [0.0] * m)
    R = 200.0 * np.eye(m)
    P = scipy.linalg.solve_discrete_are(Az, Bz, Q, R)
    K = np.linalg.solve(R + Bz.T @ P @ Bz, Bz.T @ P @ Az)
    names = [t.name for t in spec.observation]
    assert names == ["joint_pos_sincos", "joint_vel", "last_action"], names
    vel_scale = spec.observation[1].scale
    # obs = [sin q_1, cos q_1, ..., s qd..., a_f]; near upright sin q = cos(q_up) (q - q_up)
    gain = np.zeros((m, spec.n_obs))
    for j in range(n):
        gain[:, 2 * j] = -K[:, j] / np.cos(x0[j])
        gain[:, 2 * n + j] = -K[:, n + j] / vel_scale
    gain[:, 3 * n :] = -K[:, 2 * n :]
    return write_linear_policy(spec, path, gain)
