"""A `deploy` or `record` run killed with SIGKILL leaves a bag that rosbags and mcap read completely.

Real subprocesses of the CLI on the paced twin, a real SIGKILL once the run has reported a number of
ticks, then both readers on what is left: rosbags' ``AnyReader`` on the bag *directory* (which
needs ``metadata.yaml``) and the ``mcap`` library on the ``.mcap`` file.  Both must read every
message record in the file, and the file must hold every tick reported before the kill.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from deploy_testdata import TWIN_YAML, tiny_policy
from mcap.records import Message
from mcap.stream_reader import StreamReader
from rosbags.highlevel import AnyReader

from sim2real.logs import read_bag

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # mcap_ros2.reader warns on import
    from mcap_ros2.reader import read_ros2_messages

pytestmark = pytest.mark.slow  # two CLI subprocesses with their start-up (about 10 s each)

TICKS = re.compile(r": (\d+) of \d+ ticks done")
KILL_AFTER = 400
"""Ticks the run must report (on its status line) before it is killed."""


def _run_and_kill(args: list[str], stderr_file: Path) -> int:
    """Start ``sim2real ARGS``, SIGKILL it once it reports KILL_AFTER ticks; the ticks it reported."""
    child = subprocess.Popen(
        [sys.executable, "-m", "sim2real.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported = 0
    seen = []
    try:
        for line in child.stderr:  # the status line every second (stderr is not a terminal)
            seen.append(line)
            found = TICKS.search(line)
            if found:
                reported = int(found.group(1))
                if reported >= KILL_AFTER:
                    break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        child.stderr.close()
        stderr_file.write_text("".join(seen))
    assert child.returncode == -signal.SIGKILL
    assert reported >= KILL_AFTER, "".join(seen)
    return reported


def _file_messages(mcap: Path) -> list[tuple[int, int]]:
    """(channel id, log time) of every Message record in the file, by a raw scan of its records."""
    with mcap.open("rb") as fh:
        return [(r.channel_id, r.log_time) for r in StreamReader(fh).records if isinstance(r, Message)]


@pytest.mark.parametrize("command", ["deploy", "record"])
def test_a_killed_run_leaves_a_bag_rosbags_and_mcap_read_completely(tmp_path, command):
    twin = tmp_path / "twin.yaml"
    twin.write_text(
        TWIN_YAML.replace("drop_probability: 0.002", "drop_probability: 0.0")
    )  # a state every tick
    bag = tmp_path / "run"
    common = ["--robot", "furuta", "--twin", str(twin), "--realtime", "--seconds", "120", "--out", str(bag)]
    if command == "deploy":
        args = ["deploy", "--policy", str(tiny_policy("furuta")), "--speed", "100%", *common]
    else:
        args = ["record", "--excite", "chirp", *common]
    reported = _run_and_kill(args, tmp_path / "stderr.txt")

    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["custom_data"]["sim2real.complete"] == "false"  # killed: the writer never closed
    (mcap,) = bag.glob("*.mcap")
    in_file = _file_messages(mcap)

    with AnyReader([bag]) as reader:  # the bag directory, as ROS 2 tools and rosbags users open it
        by_rosbags = [(conn.topic, t) for conn, t, _ in reader.messages()]
    by_mcap = [(m.channel.topic, m.log_time_ns) for m in read_ros2_messages(str(mcap))]

    assert len(by_rosbags) == len(by_mcap) == len(in_file)  # every message record in the file
    assert sorted(by_rosbags) == sorted(by_mcap)
    states = [t for topic, t in by_rosbags if topic == "/joint_states"]
    commands = [t for topic, t in by_rosbags if topic == "/joint_commands"]
    assert len(states) >= reported and len(commands) >= reported  # every tick reported before the kill
    assert sum(topic == "/sim2real/meta" for topic, _ in by_rosbags) == 1

    run = read_bag(bag)
    assert run.meta["complete"] is False and run.n_samples == len(states)
