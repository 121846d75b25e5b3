"""``sim2real twin-node`` (the twin as a ROS 2 hardware node) and ``sim2real ros2 selftest``.

Both need the ``ros2`` extra; without it they fail with one line naming the extra.  This module
imports nothing from ROS at import time, so ``sim2real --help`` works without the extra.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

import tyro

from sim2real.commands.arguments import DomainId, Finite, Finites, Port, Positive, Positives, RtPriority
from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError

Executor = Literal["events", "single", "multi"]
TARGET_FRACTION = 0.95
"""The selftest passes when every run achieves at least this fraction of its target rate."""


def twin_node(
    robot: str,
    twin: str | None = None,
    ros_config: str | None = None,
    kinematic: bool = False,
    rate: Positive | None = None,
    seconds: Positive | None = None,
    initial_pose: Finites | None = None,
    start_immediately: bool = False,
    command_timeout: Finite | None = 0.5,
    domain_id: DomainId | None = None,
    executor: Executor = "events",
    rt_priority: RtPriority | None = None,
    live: Port | None = None,
    live_host: str = "127.0.0.1",
    json: bool = False,
) -> int:
    """Run the twin as a ROS 2 hardware node: publishes joint states and IMU, accepts commands.

    Steps the twin in real time on a timer at the robot's control rate.  Subscribes to the joint
    commands (std_msgs/Float64MultiArray by default) and to the safe-mode topic (std_msgs/Bool);
    enters safe mode on request or when commands stop arriving.  Runs until Ctrl-C (or --seconds).

    Args:
        robot: Embedded robot name or spec YAML path.
        twin: Twin file (hidden parameters and unmodeled effects); default: nominal parameters.
        ros_config: YAML file of topic names, message types, QoS and joint-name mapping.
        kinematic: No physics: joints follow position commands at once (for plumbing benchmarks).
        rate: Tick rate [Hz]; default: the robot's control rate (required to differ only with --kinematic).
        seconds: Stop after this many seconds; default: run until interrupted.
        initial_pose: Joint positions to start from [rad], policy joint order; default: the default pose.
        start_immediately: Step from the start instead of holding still until the first command.
        command_timeout: Enter safe mode when no command arrived for this long [s]; <= 0: never.
        domain_id: ROS_DOMAIN_ID (default: from the environment).
        executor: rclpy executor: events (lowest overhead), single or multi.
        rt_priority: Run under SCHED_FIFO with this priority (1-99; needs the permission).
        live: Serve live telemetry on a Foxglove WebSocket at this port (`--live` alone: 8765; 0: a
            free port): the published joint states and IMU, the commands received, safe-mode
            events, and /sim2real/status.  Needs the live extra.
        live_host: Interface the live telemetry listens on.
        json: Print a JSON summary on stdout at the end.
    """
    import numpy as np

    from sim2real.real.kinematic import KinematicRobot
    from sim2real.real.ros2 import Ros2Config, run_hardware_node  # MissingExtraError without the ros2 extra
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    config_ros = Ros2Config.load(ros_config) if ros_config is not None else Ros2Config.from_spec(spec)
    config_ros.check(spec)
    if kinematic:
        if twin is not None:
            raise Sim2RealError("--kinematic runs no physics: it takes no --twin file")
        hardware = KinematicRobot(spec)
    else:
        from sim2real.real.twin import TwinConfig, TwinRobot

        if rate is not None and abs(rate * spec.control_dt - 1.0) > 1e-9:
            raise Sim2RealError(
                f"the twin steps {spec.control_dt} s per tick: its rate is {1 / spec.control_dt:g} Hz "
                "(use --kinematic for other rates)"
            )
        qpos = None
        if initial_pose is not None:
            if len(initial_pose) != spec.n_joints:
                raise Sim2RealError(f"--initial-pose needs {spec.n_joints} values ({', '.join(spec.joints)})")
            qpos = np.array(initial_pose, dtype=float)
        config = TwinConfig.load(twin, spec) if twin is not None else TwinConfig()
        hardware = TwinRobot(spec, config, realtime=False, initial_qpos=qpos)
    human(
        f"twin node for {spec.name} (spec {spec.hash[:12]}), ROS_DOMAIN_ID "
        f"{domain_id if domain_id is not None else os.environ.get('ROS_DOMAIN_ID', '0')}",
        json,
    )
    from sim2real.deploy.live import live_telemetry

    with live_telemetry(spec, live, live_host, announce=lambda line: human(line, json)) as live_view:
        summary = run_hardware_node(
            hardware,
            ros_config=config_ros,
            rate_hz=rate,
            seconds=seconds,
            wait_for_command=not start_immediately,
            command_timeout=command_timeout if command_timeout and command_timeout > 0 else None,
            domain_id=domain_id,
            executor=executor,
            rt_priority=rt_priority,
            live=live_view,
        )
    emit(
        summary,
        json,
        f"twin node stopped: {summary['steps']} steps, {summary['published']} readings published, "
        f"{summary['commands']} commands",
    )
    return 0


def ros2(
    action: Annotated[Literal["selftest"], tyro.conf.Positional],
    robot: str = "quadruped",
    seconds: Positive = 10.0,
    rates: Positives | None = None,
    domain_id: DomainId | None = None,
    executor: Executor = "events",
    rt_priority: RtPriority | None = None,
    json: bool = False,
) -> int:
    """ROS 2 tools.  ``selftest``: measure the deployment path on a private loopback graph.

    The selftest runs the deployment node (policy, safety monitor, rosbag2 log) against a kinematic
    hardware node in another process, for SECONDS at each rate (default: the robot's control rate
    and 500 Hz), then e-stops it over the topic.  JSON: ``{"robot", "runs": [one dict per rate with
    target_hz, achieved_hz, missed_deadlines, p99_loop_latency_us, estop_reaction_ms, messages, ...],
    "ok"}``; exit 1 when a run achieves less than 95 % of its target rate.

    Args:
        action: What to do.
        robot: Embedded robot name or spec YAML path.
        seconds: Duration of each run [s].
        rates: Control rates to test [Hz].
        domain_id: ROS_DOMAIN_ID of the private graph (default: 100 + pid % 100).
        executor: rclpy executor of both nodes: events, single or multi.
        rt_priority: Run both processes under SCHED_FIFO with this priority (1-99).
        json: Print a JSON summary on stdout.
    """
    from sim2real.deploy.ros2.selftest import selftest

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")
    runs = selftest(robot, rates, seconds, domain_id=domain_id, executor=executor, rt_priority=rt_priority)
    ok = all(r["achieved_hz"] >= TARGET_FRACTION * r["target_hz"] for r in runs)
    lines = [
        f"{r['target_hz']:>7g} Hz: achieved {r['achieved_hz']:.1f} Hz, {r['missed_deadlines']} missed deadlines, "
        f"p99 loop latency {r['p99_loop_latency_us']:.0f} us, e-stop reaction "
        + (f"{r['estop_reaction_ms']:.2f} ms" if r["estop_reaction_ms"] is not None else "not seen")
        + f", {r['messages']} messages"
        for r in runs
    ]
    emit({"robot": robot, "runs": runs, "ok": ok}, json, "\n".join(lines))
    if not ok:
        slow = [
            f"{r['target_hz']:g} Hz (achieved {r['achieved_hz']:.1f})"
            for r in runs
            if r["achieved_hz"] < TARGET_FRACTION * r["target_hz"]
        ]
        human(f"selftest: below {TARGET_FRACTION:.0%} of the target rate at {', '.join(slow)}", json)
        return 1
    return 0
