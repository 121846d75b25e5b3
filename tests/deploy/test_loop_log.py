"""The control loop's log is ready before the first tick: topics declared, serializers compiled."""

from __future__ import annotations

import pytest

from sim2real.deploy import loop_log
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.errors import LogError
from sim2real.logs import read_bag
from sim2real.logs.bag import (
    TOPIC_BASE_ESTIMATE,
    TOPIC_BASE_TRUTH,
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_IMU,
    TOPIC_JOINT_STATES,
    TOPIC_META,
    BagWriter,
)
from sim2real.policy.linear import write_linear_policy
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot


def _loop(name, tmp_path):
    spec = load_robot(name)
    policy = PolicyRunner(write_linear_policy(spec, tmp_path / "hold.onnx"), spec)
    return ControlLoop(TwinRobot(spec, TwinConfig()), policy, config=LoopConfig(), log_path=tmp_path / "run")


@pytest.mark.parametrize(
    ("robot", "expected"),
    [
        (
            "quadruped",
            {
                TOPIC_META,
                TOPIC_JOINT_STATES,
                TOPIC_COMMANDS,
                TOPIC_EVENTS,
                TOPIC_IMU,
                TOPIC_BASE_ESTIMATE,
                TOPIC_BASE_TRUTH,
            },
        ),
        ("furuta", {TOPIC_META, TOPIC_JOINT_STATES, TOPIC_COMMANDS, TOPIC_EVENTS}),
    ],
)
def test_open_declares_every_topic_the_ticks_write(robot, expected, tmp_path, monkeypatch):
    loop = _loop(robot, tmp_path)
    loop.open()
    declared = set(loop._log.bag._connections)
    assert declared == expected
    # the ticks write no topic the open did not declare (each would cost a connection and a
    # metadata.yaml rewrite inside a tick)
    added = []
    connect = BagWriter._connection

    def watch(self, writer, topic):
        if topic not in self._connections:
            added.append(topic)
        return connect(self, writer, topic)

    monkeypatch.setattr(BagWriter, "_connection", watch)
    for _ in range(5):
        loop.tick()
    loop.close()
    assert added == []
    run = read_bag(tmp_path / "run")
    assert len(run.t) == 5 and (run.imu_t is not None) == (TOPIC_IMU in expected)


def test_the_serializers_are_compiled_once_per_process(tmp_path, monkeypatch):
    spec = load_robot("quadruped")
    monkeypatch.setattr(loop_log, "_warmed", False)
    written = []
    monkeypatch.setattr(
        BagWriter, "write_base", lambda self, t, *a, **k: written.append(k.get("ground_truth", False))
    )
    loop_log.warm_up_log(spec)
    loop_log.warm_up_log(spec)
    assert written == [False, True]  # the estimate and the truth odometry, once


def test_only_a_bag_writers_topics_are_declared(tmp_path):
    with BagWriter(tmp_path / "b", "hash", ["a"]) as bag, pytest.raises(LogError, match="cannot declare"):
        bag.declare("/camera/image")
    with pytest.raises(LogError, match="not open"):
        BagWriter(tmp_path / "c", "hash", ["a"]).declare(TOPIC_JOINT_STATES)
