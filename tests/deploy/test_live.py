"""Live telemetry over a real Foxglove WebSocket: a real client (the ``websockets`` package speaking
the Foxglove protocol) connects, reads the advertised channels, subscribes and decodes the binary
message frames (CDR with the bag's type store, JSON) while real runs go on."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from deploy_testdata import NO_DROPS

from sim2real.bench.live_client import SUBPROTOCOLS, FoxgloveClient
from sim2real.cli import main
from sim2real.deploy.live import LAYOUT, STATUS_SCHEMA, LiveTelemetry, live_telemetry
from sim2real.deploy.loop import ControlLoop
from sim2real.deploy.loop_log import TOPIC_STATUS
from sim2real.logs.bag import (
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_IMU,
    TOPIC_JOINT_STATES,
    TOPIC_META,
)
from sim2real.logs.bag_ros2 import ROS2_TYPESTORE as TYPESTORE
from sim2real.policy.linear import write_linear_policy
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot

ALL = [TOPIC_JOINT_STATES, TOPIC_IMU, TOPIC_COMMANDS, TOPIC_EVENTS, TOPIC_STATUS]
TYPES = {
    TOPIC_JOINT_STATES: "sensor_msgs/msg/JointState",
    TOPIC_IMU: "sensor_msgs/msg/Imu",
    TOPIC_COMMANDS: "std_msgs/msg/Float64MultiArray",
    TOPIC_EVENTS: "std_msgs/msg/String",
    TOPIC_META: "std_msgs/msg/String",
}


def _subscribed(live: LiveTelemetry, topics: list[str], **options) -> FoxgloveClient:
    """A client whose subscriptions the server has registered: the client sends ``subscribe`` and
    returns at once, and a message written before the server reads it has no subscriber (it is
    dropped: under load the first writes of a test were lost)."""
    client = FoxgloveClient(live.url, topics, **options)
    deadline = time.monotonic() + 10.0
    while not all(live.subscribed(t) for t in topics):
        if time.monotonic() > deadline:
            client.close()
            raise AssertionError(f"the server registered no subscription to {topics} within 10 s")
        time.sleep(0.001)  # polls the condition itself
    return client


@pytest.fixture(scope="module")
def zero_policies(tmp_path_factory):
    from sim2real.robots import load_robot

    folder = tmp_path_factory.mktemp("live_policies")
    return {n: write_linear_policy(load_robot(n), folder / f"{n}.onnx") for n in ("furuta", "quadruped")}


class TestProtocol:
    def test_the_bag_topics_are_advertised_with_their_ros2_message_definitions(self, quadruped):
        with LiveTelemetry(quadruped, 0) as live:
            client = _subscribed(live, [*ALL, TOPIC_META])
            try:
                assert client.subprotocol in SUBPROTOCOLS
                for topic, msgtype in TYPES.items():
                    c = client.channels[topic]
                    assert (c["encoding"], c["schemaEncoding"], c["schemaName"]) == ("cdr", "ros2msg", msgtype)
                    assert c["schema"] == TYPESTORE.generate_msgdef(msgtype, ros_version=2)[0]
                status = client.channels[TOPIC_STATUS]
                assert status["encoding"] == "json" and json.loads(status["schema"]) == STATUS_SCHEMA
            finally:
                client.close()

    def test_a_fixed_base_robot_has_no_imu_topic(self, furuta):
        with LiveTelemetry(furuta, 0) as live:
            assert TOPIC_IMU not in live.topics

    def test_messages_decode_to_what_was_written(self, quadruped):
        n = quadruped.n_joints
        q, qd, tau = np.linspace(-1, 1, n), np.linspace(0, 2, n), np.linspace(3, 4, n)
        u = np.arange(quadruped.n_actions, dtype=float)
        with LiveTelemetry(quadruped, 0) as live:
            client = _subscribed(live, ALL)
            try:
                live.write_state(1.25, q, qd, tau)
                live.write_imu(1.25, [0.1, 0.2, 0.3], [0.0, 0.0, 9.81], [1.0, 0.0, 0.0, 0.0])
                live.write_command(1.26, u)
                live.write_event(1.27, "stage", {"stage": 1})
                live.write_status(1.28, {"state": "hold", "stage": 1})
                client.wait_for(lambda: len(client.messages) == 5, 10.0, "five messages")
            finally:
                client.close()
        (state,), (imu,), (cmd,) = client.on(TOPIC_JOINT_STATES), client.on(TOPIC_IMU), client.on(TOPIC_COMMANDS)
        assert list(state.message.name) == list(quadruped.joints)
        np.testing.assert_array_equal(state.message.position, q)
        np.testing.assert_array_equal(state.message.velocity, qd)
        np.testing.assert_array_equal(state.message.effort, tau)
        assert (state.message.header.stamp.sec, state.message.header.stamp.nanosec) == (1, 250_000_000)
        assert state.log_ns == 1_250_000_000 and cmd.log_ns == 1_260_000_000
        assert imu.message.linear_acceleration.z == 9.81
        np.testing.assert_array_equal(cmd.message.data, u)
        (event,) = client.on(TOPIC_EVENTS)
        assert json.loads(event.message.data) == {"kind": "stage", "detail": {"stage": 1}, "t": 1.27}
        (status,) = client.on(TOPIC_STATUS)
        assert status.message == {"t": 1.28, "state": "hold", "stage": 1}

    def test_nothing_is_built_for_a_topic_without_a_subscriber(self, quadruped):
        n = quadruped.n_joints
        with LiveTelemetry(quadruped, 0) as live:
            for _ in range(3):
                live.write_state(0.0, np.zeros(n), np.zeros(n))
                live.write_command(0.0, np.zeros(quadruped.n_actions))
            assert live.message_count == 0  # nobody is connected: nothing serialized
            client = _subscribed(live, [TOPIC_JOINT_STATES])
            try:
                live.write_state(0.1, np.zeros(n), np.zeros(n))
                live.write_command(0.1, np.zeros(quadruped.n_actions))
                client.wait_for(lambda: len(client.messages) == 1, 10.0, "the joint state")
                assert live.message_count == 2  # the joint state and the meta message before it
            finally:
                client.close()


class TestLoop:
    def test_a_stalled_client_never_blocks_the_writer(self, quadruped):
        """A client that reads nothing (4 kB receive buffer) while 60,000 joint states (about 40 MB)
        are written, far more than the socket buffers hold: every write returns, and the server
        dropped messages (or the client) instead of waiting for the client."""
        n, writes = quadruped.n_joints, 60_000
        q = np.zeros(n)
        with LiveTelemetry(quadruped, 0) as live:
            client = FoxgloveClient(live.url, [TOPIC_JOINT_STATES], recv_buffer=4096, read=False)
            try:
                for i in range(writes):
                    live.write_state(i * 0.02, q, q, q)
                # every write returned; the server may also have given up on the client (it then
                # unsubscribes it, and the writes after that build nothing)
                published = live.message_count
                assert 0 < published <= writes + 1  # and the meta message
                client.start()
            finally:
                live.close()  # the server goes away: the client reads what was still queued, then stops
            client.wait_for(lambda: client.closed.is_set(), 30.0, "the end of the stream")
            client.close()
        print(f"\nstalled client: {len(client.messages)} of {published} messages received ({writes} writes)")
        assert 0 < len(client.messages) < writes

    def test_the_loop_publishes_its_status_and_events(self, quadruped, zero_policies):
        robot = TwinRobot(quadruped, TwinConfig(effects=NO_DROPS))
        with LiveTelemetry(quadruped, 0) as live:
            client = _subscribed(live, ALL)
            try:
                loop = ControlLoop(robot, PolicyRunner(zero_policies["quadruped"], quadruped), live=live)
                with loop:
                    loop.run(max_ticks=50)
                client.wait_for(lambda: any(json.loads(m.message.data)["kind"] == "end" for m in client.on(TOPIC_EVENTS)),
                                10.0, "the end event")
            finally:
                client.close()
        status = [m.message for m in client.on(TOPIC_STATUS)]
        assert [s["ticks"] for s in status] == list(range(1, 51))
        assert all(s["state"] == "ok" and s["stage"] == 0 and s["fraction"] == 0.1 for s in status)
        assert all(s["compute_ms"] > 0 and s["tick_ms"] >= s["compute_ms"] for s in status)
        kinds = [json.loads(m.message.data)["kind"] for m in client.on(TOPIC_EVENTS)]
        assert kinds[0] == "start" and kinds[-1] == "end"
        assert len(client.on(TOPIC_JOINT_STATES)) == len(client.on(TOPIC_IMU)) == 50
        assert len(client.on(TOPIC_COMMANDS)) == 50


def _read_stderr(proc: subprocess.Popen, lines: list[str], url_found: threading.Event) -> None:
    for line in proc.stderr:  # type: ignore[union-attr]
        lines.append(line)
        if "live telemetry on ws://" in line:
            url_found.set()
    url_found.set()


class TestCommands:
    def test_a_client_gets_at_least_20_joint_states_per_second_of_a_paced_50_hz_deploy(self, tmp_path, zero_policies):
        """`deploy --realtime --live 0` (paced at the quadruped's 50 Hz on the wall clock) in its own
        process; the rate is counted over the stamps of the joint states received (loop time) and
        over their arrival times (wall clock)."""
        twin = tmp_path / "twin.yaml"
        TwinConfig(effects=TwinEffects(seed=2)).save(twin)
        cmd = [sys.executable, "-m", "sim2real.cli", "deploy", "--robot", "quadruped", "--policy",
               str(zero_policies["quadruped"]), "--twin", str(twin), "--realtime", "--seconds", "5", "--live", "0",
               "--out", str(tmp_path / "run"), "--json"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        found = threading.Event()
        reader = threading.Thread(target=_read_stderr, args=(proc, lines, found), daemon=True)
        reader.start()
        try:
            assert found.wait(60), "no live telemetry line"
            match = re.search(r"live telemetry on (ws://[\d.]+:\d+)", "".join(lines))
            assert match, "".join(lines)
            client = FoxgloveClient(match.group(1), [TOPIC_JOINT_STATES, TOPIC_COMMANDS, TOPIC_EVENTS, TOPIC_STATUS])
            out, _ = proc.communicate(timeout=60)
            client.wait_for(lambda: client.closed.is_set(), 10.0, "the server to close")
            client.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)
        assert proc.returncode == 0, "".join(lines[-20:])
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["live"]["messages"] > 0
        states = client.on(TOPIC_JOINT_STATES)
        stamps = np.array([m.message.header.stamp.sec + 1e-9 * m.message.header.stamp.nanosec for m in states])
        arrived = np.array([m.arrived for m in states])
        span, wall = stamps[-1] - stamps[0], arrived[-1] - arrived[0]
        print(f"\n{len(states)} joint states over {span:.2f} s of loop time ({(len(states) - 1) / span:.1f}/s), "
              f"{wall:.2f} s of wall time ({(len(states) - 1) / wall:.1f}/s)")
        assert span > 3.0  # the client was there for most of the 5 s run
        assert np.all(np.diff(stamps) > 0)
        assert (len(states) - 1) / span >= 20.0
        assert (len(states) - 1) / wall >= 20.0
        kinds = [json.loads(m.message.data)["kind"] for m in client.on(TOPIC_EVENTS)]
        assert kinds[-1] == "end"
        status = client.on(TOPIC_STATUS)
        assert status and all(m.message["fraction"] == 0.1 for m in status)

    def test_record_serves_live_too(self, tmp_path):
        """`record --live 0` in this process: the server's own log line gives the port."""
        twin = tmp_path / "twin.yaml"
        TwinConfig(effects=TwinEffects(seed=2)).save(twin)
        served = _LiveLine()
        logger = logging.getLogger("sim2real.deploy.live")
        level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(served)
        result: list[int] = []
        run = threading.Thread(target=lambda: result.append(main([
            "record", "--robot", "furuta", "--twin", str(twin), "--excite", "chirp", "--seconds", "3", "--realtime",
            "--out", str(tmp_path / "rec"), "--live", "0"])))
        run.start()
        client = None
        try:
            assert served.found.wait(60), "no live telemetry line"
            client = FoxgloveClient(served.url, [TOPIC_JOINT_STATES, TOPIC_COMMANDS])
            client.wait_for(lambda: len(client.on(TOPIC_COMMANDS)) >= 100, 30.0, "100 commands")
        finally:
            run.join(timeout=60)
            logger.removeHandler(served)
            logger.setLevel(level)
            if client is not None:
                client.close()
        assert result == [0]
        assert len(client.on(TOPIC_JOINT_STATES)) > 50

    def test_without_the_extra_live_is_one_clear_error(self, tmp_path, monkeypatch, capsys, zero_policies):
        monkeypatch.setitem(sys.modules, "foxglove", None)  # as if foxglove-sdk were not installed
        twin = tmp_path / "twin.yaml"
        TwinConfig().save(twin)
        code = main(["deploy", "--robot", "furuta", "--policy", str(zero_policies["furuta"]), "--twin", str(twin),
                     "--seconds", "0.1", "--out", str(tmp_path / "run"), "--live"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1
        assert err[-1] == ("sim2real: error: 'foxglove-sdk' is not installed: install the 'live' extra, "
                           "e.g. pip install 'sim2real[live]'")
        assert not (tmp_path / "run").exists()

    def test_a_port_in_use_is_one_clear_error(self, tmp_path, capsys, zero_policies):
        twin = tmp_path / "twin.yaml"
        TwinConfig().save(twin)
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            code = main(["deploy", "--robot", "furuta", "--policy", str(zero_policies["furuta"]), "--twin",
                         str(twin), "--seconds", "0.1", "--out", str(tmp_path / "run"), "--live", str(port)])
        assert code == 1
        assert f"--live: cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
        assert not (tmp_path / "run").exists()


class TestCommandHelper:
    """live_telemetry, the ``--live`` of deploy, record and twin-node."""

    def test_the_view_is_announced_and_closed_when_the_run_fails(self, furuta):
        lines: list[str] = []
        with pytest.raises(RuntimeError, match="the run failed"), live_telemetry(furuta, 0, announce=lines.append) as live:
            assert live is not None and live.server is not None
            raise RuntimeError("the run failed")
        assert live.server is None and lines == [live.banner] and live.url in lines[0]

    def test_no_port_no_view(self, furuta):
        lines: list[str] = []
        with live_telemetry(furuta, None, announce=lines.append) as live:
            assert live is None
        assert lines == []


class _LiveLine(logging.Handler):
    """Catches the live view's "live telemetry on ws://..." log line."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.found = threading.Event()
        self.url = ""

    def emit(self, record: logging.LogRecord) -> None:
        match = re.search(r"live telemetry on (ws://[\d.]+:\d+)", record.getMessage())
        if match:
            self.url = match.group(1)
            self.found.set()


class TestLayout:
    def test_the_layout_ships_with_the_package_and_shows_only_live_topics(self):
        shipped = resources.files("sim2real.deploy") / "foxglove_layout.json"
        assert Path(str(shipped)) == LAYOUT and LAYOUT.is_file()
        layout = json.loads(LAYOUT.read_text())

        def leaves(node):
            return [node] if isinstance(node, str) else leaves(node["first"]) + leaves(node["second"])

        panels = leaves(layout["layout"])
        assert sorted(panels) == sorted(layout["configById"])
        topics = set(ALL)
        for panel, config in layout["configById"].items():
            paths = [p["value"] for p in config.get("paths", [])] + ([config["topicPath"]] if "topicPath" in config else [])
            assert paths, panel
            for path in paths:
                topic, _, field = path.partition(".")
                assert topic in topics, (panel, path)
                if topic == TOPIC_STATUS:
                    assert field in STATUS_SCHEMA["properties"], (panel, path)
