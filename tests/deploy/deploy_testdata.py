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
