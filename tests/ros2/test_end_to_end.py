"""End to end on a real ROS 2 graph: the twin node and the deploy node in separate processes.

The furuta twin (hidden parameters differing from nominal, noise, latency jitter, dropped
readings) runs as a hardware node (``sim2real twin-node``); the deployment node
(``run_ros2_deploy``, as ``sim2real deploy --ros2`` runs it) runs a balancing policy (an LQR
stand-in, see ros2_testing.py) through the safety monitor at 500 Hz.  The test process watches
the graph: the pendulum must stay up for several seconds, an e-stop on the topic must put the
twin in safe mode within one control period, and the run's rosbag2 log must read back.

The furuta's stale timeout is 10 ms (5 periods) and the e-stop bound 2 ms.  When the host stalls a
node's process for longer (a saturated virtual machine does, whatever the priority inside it),
the safety monitor rightly stops the robot, or the e-stop arrives late; such an attempt is
reported and the scenario runs again, up to three times (a fresh CI clone on 2026-12-08 had two
stalls in a row, readings 11 and 14 ms old, and then passed alone and beside a demo run).
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs the ros2 extra (pip install 'sim2real[ros2]')")

from ros2_testing import latest_status, realtime_thread

from sim2real.logs import read_bag
from sim2real.real.twin import TwinConfig
from sim2real.robots import load_robot

BALANCE_S = 4.0
"""Twin time the pendulum must stay up before the e-stop [s]."""
RT_PRIORITY = 20
"""SCHED_FIFO priority of both nodes (ignored with a warning where not permitted)."""
ATTEMPTS = 3
"""Runs of the scenario while they are stopped by host stalls (see the module docstring)."""


class HostStallError(AssertionError):
    """A timing bound failed: a stale reading stopped the balancing, or the e-stop took longer
    than a control period across the graph."""


@dataclass
class Outcome:
    sent: float
    twin_status: dict[str, str]
    deploy_summary: dict[str, Any]
    twin_summary: dict[str, Any]
    bag: Path


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"{proc.args[:4]} did not exit within {timeout} s of SIGINT") from None
    return proc.returncode, out


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _scenario(probe: Any, folder: Path, policy: Path) -> Outcome:
    """Start both nodes, balance, e-stop over the topic, stop both; raise HostStallError on a stale stop."""
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool

    from sim2real.deploy.ros2.node import ESTOP_QOS

    folder.mkdir()
    twin_file = folder / "twin.yaml"
    # "reality": a heavier pendulum, more arm damping, a slower motor than the policy's model
    TwinConfig(
        params={
            "body.pendulum.mass": np.array([0.026]),
            "joint.arm.damping": np.array([1e-3]),
            "motor.motor.resistance": np.array([9.0]),
        }
    ).save(twin_file)
    bag = folder / "run"
    states = probe.subscribe(JointState, "/joint_states")
    diags = probe.subscribe(DiagnosticArray, "/diagnostics", 100)
    estop = probe.node.create_publisher(Bool, "/sim2real/estop", ESTOP_QOS.profile())
    twin_log, deploy_log = folder / "twin.log", folder / "deploy.log"
    twin_cmd = [
        sys.executable,
        "-m",
        "sim2real.cli",
        "twin-node",
        "--robot",
        "furuta",
        "--twin",
        str(twin_file),
    ]
    twin_cmd += ["--initial-pose", "0.0", "0.05", "--rt-priority", str(RT_PRIORITY), "--json"]
    deploy_cmd = [sys.executable, "-m", "sim2real.cli", "deploy", "--robot", "furuta", "--policy", str(policy)]
    deploy_cmd += ["--ros2", "--out", str(bag), "--rt-priority", str(RT_PRIORITY), "--json"]
    # this test is about the ROS 2 path, not the checklist (test_preflight_ros2.py runs it first)
    deploy_cmd += ["--override-preflight", "end-to-end test of the ROS 2 path"]
    twin = _spawn(twin_cmd, twin_log)
    deploy = _spawn(deploy_cmd, deploy_log)

    def twin_status() -> dict[str, str] | None:
        return latest_status(diags, "sim2real: hardware")

    def deploy_status() -> dict[str, str] | None:
        return latest_status(diags, "sim2real: safety")

    def context() -> str:
        return f"\n--- twin log:\n{_tail(twin_log)}\n--- deploy log:\n{_tail(deploy_log)}"

    def alive(condition):
        """The condition, failing at once when a node's process has exited."""

        def check() -> bool:
            for name, proc in (("twin", twin), ("deploy", deploy)):
                if proc.poll() is not None:
                    raise AssertionError(f"the {name} process exited ({proc.returncode})")
            return condition()

        return check

    try:
        try:
            probe.wait_for(
                alive(lambda: (s := deploy_status()) is not None and s["running"] == "True"),
                90.0,
                "the deploy node to start its control loop",
            )
            # balancing: the twin steps in real time once the first command arrived
            probe.wait_for(
                alive(lambda: (s := twin_status()) is not None and float(s["robot_time"]) >= BALANCE_S),
                30.0,
                f"{BALANCE_S} s of twin time",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}{context()}") from None
        status = deploy_status()
        assert status is not None
        if status["latched"] == "True" and "old (stale_timeout" in status["latch_reason"]:
            raise HostStallError(f"safe stop while balancing: {status['latch_reason']}{context()}")
        assert status["latched"] == "False", f"safe stop while balancing: {status['latch_reason']}{context()}"
        running = twin_status()
        assert running is not None and running["safe"] == "False", context()
        alpha = np.array([m.position[1] for _, m in states if len(m.position) == 2])
        # the probe shares this process with pytest and samples the stream (the log has all of it)
        assert alpha.size > 50, f"only {alpha.size} joint states seen"
        assert np.max(np.abs(alpha)) < 0.25, f"pendulum left upright: max |alpha| {np.max(np.abs(alpha)):.3f}"

        # e-stop over the topic
        probe.wait_for(
            lambda: estop.get_subscription_count() > 0, 10.0, "the deploy node's e-stop subscription"
        )
        message = Bool(data=True)
        with realtime_thread(RT_PRIORITY):  # the e-stop source, like the nodes, is not preempted
            sent = time.monotonic()
            estop.publish(message)
        probe.wait_for(
            alive(lambda: (s := twin_status()) is not None and s["safe"] == "True"),
            5.0,
            "the twin's safe mode",
        )
        safe = twin_status()
        assert safe is not None and safe["safe_reason"] == "safe-mode topic"
        probe.wait_for(
            lambda: (s := deploy_status()) is not None and s["latched"] == "True",
            5.0,
            "the deploy node to report the latched e-stop",
        )
        assert "e-stop" in (deploy_status() or {}).get("latch_reason", "")
    finally:
        deploy_rc, deploy_out = _stop(deploy)
        twin_rc, twin_out = _stop(twin)
    assert deploy_rc == 0, _tail(deploy_log)
    assert twin_rc == 0, _tail(twin_log)
    return Outcome(
        sent=sent,
        twin_status=safe,
        deploy_summary=json.loads(deploy_out.strip().splitlines()[-1]),
        twin_summary=json.loads(twin_out.strip().splitlines()[-1]),
        bag=bag,
    )


class TestTwinAndDeployNodes:
    def test_furuta_balances_and_estop_puts_twin_in_safe_mode_within_a_period(
        self, tmp_path, probe, furuta_policy
    ):
        spec = load_robot("furuta")
        dt = spec.control_dt
        for attempt in range(1, ATTEMPTS + 1):
            try:
                outcome = _scenario(probe, tmp_path / f"attempt{attempt}", furuta_policy)
                # e-stop: on the twin's side, and across the graph (topic -> twin in safe mode)
                received = float(outcome.twin_status["safe_request_received"])
                applied = float(outcome.twin_status["safe_applied"])
                twin_side_ms = (applied - received) * 1e3
                graph_ms = (applied - outcome.sent) * 1e3
                summary, twin_summary = outcome.deploy_summary, outcome.twin_summary
                deploy_estop = summary["estops"][0]
                print(
                    f"\ne-stop: twin side {twin_side_ms * 1e3:.0f} us, topic -> twin in safe mode {graph_ms:.3f} ms "
                    f"(control period {dt * 1e3:g} ms); path: topic -> deploy node "
                    f"{(deploy_estop['t'] - outcome.sent) * 1e3:.3f} ms, -> safe mode published "
                    f"{(deploy_estop['safe_mode_published'] - deploy_estop['t']) * 1e3:.3f} ms\n"
                    f"deploy loop: {summary['achieved_hz']:.1f} Hz of {summary['target_hz']:g}, "
                    f"{summary['missed_deadlines']} missed deadlines, p50/p99 latency "
                    f"{summary['p50_loop_latency_us']:.0f}/{summary['p99_loop_latency_us']:.0f} us; "
                    f"twin: {twin_summary['steps']} steps, {twin_summary['late_steps']} late"
                )
                assert twin_side_ms < dt * 1e3
                if not 0 < graph_ms < dt * 1e3:
                    raise HostStallError(
                        f"e-stop took {graph_ms:.3f} ms from the topic to the twin's safe mode"
                    )
                break
            except HostStallError as exc:
                if attempt == ATTEMPTS:
                    raise
                print(f"\nattempt {attempt} hit host timing; running the scenario again:\n{exc}")
        assert summary["latched"] is True and summary["estops"][0]["source"] == "topic /sim2real/estop"

        # the log of the run reads back
        trajectory = read_bag(outcome.bag, expected_hash=spec.hash, require_commands=True)
        assert trajectory.meta["complete"]
        assert np.all(np.diff(trajectory.t) > 0)
        kinds = [e.kind for e in trajectory.events]
        assert "start" in kinds and "estop_request" in kinds and "end" in kinds
        first_estop = next(e.t for e in trajectory.events if e.kind == "estop_request")
        before = trajectory.t < first_estop
        assert trajectory.t[before][-1] - trajectory.t[0] > 0.9 * BALANCE_S  # the log covers the balancing
        assert np.sum(before) > 0.5 * BALANCE_S / dt  # joint states are logged once per tick (not repeats)
        upright = trajectory.q[:, spec.joints.index("pendulum")]
        assert np.max(np.abs(upright[before])) < 0.25
        assert math.isclose(trajectory.duration, trajectory.t[-1] - trajectory.t[0])
        assert trajectory.command is not None and np.all(np.abs(trajectory.command) <= 10.0)
