"""``sim2real twin-node --live``: the hardware node's readings, the commands it receives and its
status reach a Foxglove client (a real WebSocket client) while a probe node commands it over a
real ROS 2 graph."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import yaml

pytest.importorskip("rclpy", reason="needs the ros2 extra (pip install 'sim2real[ros2]')")

from ros2_testing import topics

from sim2real.bench.live_client import FoxgloveClient
from sim2real.deploy.loop_log import TOPIC_STATUS
from sim2real.logs.bag import TOPIC_COMMANDS, TOPIC_JOINT_STATES


def test_twin_node_serves_its_readings_and_the_commands_it_gets(tmp_path, probe):
    from std_msgs.msg import Float64MultiArray

    config = topics()
    config_file = tmp_path / "ros.yaml"
    config_file.write_text(yaml.safe_dump(config.to_mapping()))
    node = subprocess.Popen(
        [sys.executable, "-m", "sim2real.cli", "twin-node", "--robot", "pendulum", "--ros-config", str(config_file),
         "--live", "0", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    served = threading.Event()

    def read_stderr() -> None:
        for line in node.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "live telemetry on ws://" in line:
                served.set()
        served.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    client = None
    try:
        assert served.wait(60) and node.poll() is None, "".join(lines[-20:])
        url = re.search(r"live telemetry on (ws://[\d.]+:\d+)", "".join(lines)).group(1)
        client = FoxgloveClient(url, [TOPIC_JOINT_STATES, TOPIC_COMMANDS, TOPIC_STATUS])
        publisher = probe.node.create_publisher(Float64MultiArray, config.command_topic, 10)
        probe.wait_for(lambda: publisher.get_subscription_count() > 0, 10.0, "the twin node's command subscription")
        publisher.publish(Float64MultiArray(data=[0.25]))
        client.wait_for(lambda: len(client.on(TOPIC_COMMANDS)) >= 1 and len(client.on(TOPIC_JOINT_STATES)) >= 50,
                        30.0, "the command and 50 joint states")
    finally:
        node.send_signal(signal.SIGINT)
        node.communicate(timeout=30)
        if client is not None:
            client.close()
    assert node.returncode == 0, "".join(lines[-20:])
    (command, *_) = client.on(TOPIC_COMMANDS)
    np.testing.assert_array_equal(command.message.data, [0.25])
    stamps = [m.log_ns for m in client.on(TOPIC_JOINT_STATES)]
    assert stamps == sorted(stamps)
    status = [m.message for m in client.on(TOPIC_STATUS)]
    assert status and status[-1]["mode"] == "normal" and status[-1]["commands"] >= 1
