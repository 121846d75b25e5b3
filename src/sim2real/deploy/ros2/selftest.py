"""``sim2real ros2 selftest``: measure the ROS 2 deployment path on a private loopback graph.

The deploy node (policy, safety monitor, rosbag2 log) runs in this process against a kinematic
hardware node (``sim2real twin-node --kinematic``) in a child process, at the robot's control rate
and at 500 Hz; then it is e-stopped over the topic and the hardware node's reaction is timed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim2real.deploy.estop_log import deliberate_estop
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.loop_build import build_loop
from sim2real.deploy.ros2.node import ESTOP_QOS, PolicyDeploymentNode
from sim2real.errors import Sim2RealError
from sim2real.policy.linear import write_linear_policy
from sim2real.real.ros2.diagnostics import diagnostic_values
from sim2real.real.ros2.robot import Ros2Robot
from sim2real.real.ros2.runtime import ExecutorKind, make_executor, node_session, spin_until
from sim2real.robots.spec import RobotSpec

__all__ = ["selftest"]


def _selftest_rate(
    spec: RobotSpec,
    rate_hz: float,
    seconds: float,
    *,
    domain_id: int,
    executor: ExecutorKind,
    rt_priority: int | None,
    workdir: Path,
) -> dict[str, Any]:
    """One selftest run: a kinematic hardware node in a child process, the deploy node in this one."""
    # The same robot at another control period: policy, loop and safety all run at rate_hz.
    test_spec = dataclasses.replace(spec, control_dt=1.0 / rate_hz)
    policy = write_linear_policy(test_spec, workdir / f"hold_{rate_hz:g}.onnx")
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    cmd = [
        sys.executable,
        "-m",
        "sim2real.cli",
        "twin-node",
        "--robot",
        str(spec.path),
        "--kinematic",
        "--rate",
        str(rate_hz),
        "--seconds",
        str(seconds + 60.0),
        "--executor",
        executor,
    ]
    if rt_priority is not None:
        cmd += ["--rt-priority", str(rt_priority)]
    with (workdir / f"hardware_{rate_hz:g}.log").open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            result = _selftest_deploy(
                test_spec,
                policy,
                seconds,
                domain_id=domain_id,
                executor=executor,
                rt_priority=rt_priority,
                log_path=workdir / f"log_{rate_hz:g}",
            )
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return result


def _selftest_deploy(
    spec: RobotSpec,
    policy: Path,
    seconds: float,
    *,
    domain_id: int,
    executor: ExecutorKind,
    rt_priority: int | None,
    log_path: Path,
) -> dict[str, Any]:
    """Run the deploy node for ``seconds`` of control, then e-stop it over the topic and wait (at
    most 2 s) for the hardware node to report that it applied safe mode."""
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import Bool

    reaction: dict[str, float] = {}
    sent = math.inf

    def on_diag(msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith("sim2real: hardware") and "applied" not in reaction:
                values = diagnostic_values(status)
                # the safe mode the e-stop caused (not an earlier one, e.g. a command timeout
                # of the hardware node while this process stalled)
                if (
                    values.get("safe") == "True"
                    and "safe_applied" in values
                    and float(values["safe_request_received"]) >= sent
                ):
                    reaction["applied"] = float(values["safe_applied"])
                    reaction["received"] = float(values["safe_request_received"])

    def make(robot: Ros2Robot) -> ControlLoop:
        return build_loop(
            spec,
            robot,
            policy,
            log_path=log_path,
            log_meta={"transport": "ros2", "selftest": True},
            speed_stage=len(LoopConfig().speed.stages) - 1,
        )

    with node_session(domain_id, rt_priority, signals=False) as (context, _):
        node = PolicyDeploymentNode(spec, make, context=context, take_on_read=executor != "events")
        try:
            node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
            estop_pub = node.create_publisher(Bool, node.config.estop_topic, ESTOP_QOS.profile())
            ex = make_executor(context, executor)
            ex.add_node(node)
            if not spin_until(ex, node, lambda: node.running or node.finished.is_set(), 40.0) or not node.running:
                raise Sim2RealError(node.error or "selftest: the hardware node did not show up within 40 s")
            spin_until(ex, node, lambda: False, seconds)
            summary = node.diagnostics(final=True)  # the run's timing, before the e-stop
            spin_until(ex, node, lambda: estop_pub.get_subscription_count() > 0, 5.0)
            sent = time.monotonic()
            with deliberate_estop(f"e-stop from topic {node.config.estop_topic}", "the selftest's own e-stop"):
                estop_pub.publish(Bool(data=True))
                spin_until(ex, node, lambda: "applied" in reaction, 2.0)
            node.stop_control()
        finally:
            node.loop.close()
            node.robot.close()
            node.destroy_node()
    robot = summary.get("robot", {})
    return {
        "target_hz": summary["target_hz"],
        "achieved_hz": summary["achieved_hz"],
        "missed_deadlines": summary["missed_deadlines"],
        "p99_loop_latency_us": summary["p99_loop_latency_us"],
        "estop_reaction_ms": (reaction["applied"] - sent) * 1e3 if "applied" in reaction else None,
        "messages": int(
            sum(robot.get(k, 0) for k in ("joint_states", "imu", "base_height", "commands", "safe_mode"))
        ),
        "seconds": seconds,
        "ticks": summary["ticks"],
        "late_ticks": summary["late_ticks"],
        "skipped_ticks": summary["skipped_ticks"],
        "p50_loop_latency_us": summary["p50_loop_latency_us"],
        "max_loop_latency_us": summary["max_loop_latency_us"],
        "p99_tick_compute_us": summary["p99_tick_compute_us"],
        "estop_hardware_side_us": (reaction["applied"] - reaction["received"]) * 1e6 if reaction else None,
        "message_counts": robot,
        "safety_events": summary.get("events", {}),
        "safety_state": summary.get("state"),
        "executor": executor,
        "rt_priority": rt_priority,
    }


def selftest(
    robot: str | RobotSpec = "quadruped",
    rates: Sequence[float] | None = None,
    seconds: float = 10.0,
    *,
    domain_id: int | None = None,
    executor: ExecutorKind = "events",
    rt_priority: int | None = None,
) -> list[dict[str, Any]]:
    """Measure the ROS 2 deployment path: the deploy node (policy, safety monitor, rosbag2 log)
    against a kinematic hardware node in another process, at the robot's control rate and at 500 Hz.

    One dict per rate: ``target_hz``; ``achieved_hz`` (control ticks per second); ``missed_deadlines``
    (ticks ending more than a period after their release, plus releases skipped);
    ``p99_loop_latency_us`` (timer release -> command published); ``estop_reaction_ms`` (e-stop
    published on the topic -> the hardware node in the other process applied safe mode);
    ``messages`` (messages the deploy node received and sent); and more detail.

    Args:
        robot: Embedded robot name, spec YAML path or spec.
        rates: Control rates [Hz]; default: the robot's and 500 Hz.
        seconds: Duration of each run [s].
        domain_id: ROS_DOMAIN_ID of the private graph (default: 100 + pid % 100).
        executor: Executor of both nodes.
        rt_priority: SCHED_FIFO priority of both processes (None: normal scheduling).
    """
    from sim2real.robots import load_robot

    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    if rates is None:
        rates = (round(1.0 / spec.control_dt, 6), 500.0)
    if domain_id is None:
        domain_id = 100 + os.getpid() % 100
    results = []
    with tempfile.TemporaryDirectory(prefix="sim2real-ros2-selftest-") as tmp:
        for rate in rates:
            results.append(
                _selftest_rate(
                    spec,
                    float(rate),
                    seconds,
                    domain_id=domain_id,
                    executor=executor,
                    rt_priority=rt_priority,
                    workdir=Path(tmp),
                )
            )
    return results
