"""The pre-deployment checklist over a real ROS 2 graph, then the gate and the robot's stage ledger.

The pendulum twin runs as a hardware node (``sim2real twin-node``, its own process); ``sim2real
preflight --ros2`` runs the checklist against it through ROS 2 topics (its own process, paced at
the control rate), and every item passes with its evidence; ``deploy --ros2`` then starts without
an override (the gate finds the passing robot run), runs under the robot's stage ledger (target
``robot``) and ``stages show`` lists it; ``--speed`` above the ledger's stage is refused.  Both
nodes run under SCHED_FIFO where permitted, as on a robot computer (a loaded host otherwise stalls
a process past the pendulum's 50 ms stale timeout).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="needs the ros2 extra (pip install 'sim2real[ros2]')")

from sim2real.deploy.preflight_record import ITEMS, robot_settings, robot_target
from sim2real.policy.linear import write_linear_policy
from sim2real.robots import load_robot

RT_PRIORITY = "20"
CLI = [sys.executable, "-m", "sim2real.cli"]


def _run(args: list[str], log: Path, timeout: float = 120.0) -> tuple[int, dict | None]:
    done = subprocess.run([*CLI, *args], stdout=subprocess.PIPE, stderr=log.open("w"), text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    return done.returncode, (json.loads(lines[-1]) if lines else None)


class TestPreflightOverRos2:
    def test_every_item_passes_then_the_gate_opens_and_the_robot_ledger_counts(self, tmp_path):
        spec = load_robot("pendulum")
        policy = write_linear_policy(spec, tmp_path / "zero.onnx")
        twin_log = tmp_path / "twin.log"
        twin = subprocess.Popen(
            [*CLI, "twin-node", "--robot", "pendulum", "--rt-priority", RT_PRIORITY, "--json"],
            stdout=subprocess.PIPE, stderr=twin_log.open("w"), text=True,
        )
        try:
            code, result = _run(["preflight", "--robot", "pendulum", "--policy", str(policy), "--ros2", "--confirm",
                                 "perimeter", "--rt-priority", RT_PRIORITY, "--wait", "60", "--json"],
                                tmp_path / "preflight.log")
            log = (tmp_path / "preflight.log").read_text()[-3000:]
            assert result is not None, log
            items = {i["name"]: i for i in result["items"]}
            assert list(items) == list(ITEMS)
            assert {n: i["status"] for n, i in items.items()} == {n: "pass" for n in ITEMS}, [
                (n, i["evidence"]) for n, i in items.items() if i["status"] != "pass"]
            assert code == 0 and result["passed"] and result["target"] == "robot"
            assert 0 <= items["estop"]["ms"] <= items["estop"]["limit_ms"] == pytest.approx(2e3 * spec.control_dt)
            assert items["joint_signs"]["moves_rad"]["hinge"] > 0
            assert items["collision_detection"]["fired"] == items["collision_detection"]["exercised_joints"] == 1

            # the gate: no override needed now; the run counts in the robot's ledger
            code, summary = _run(["deploy", "--robot", "pendulum", "--policy", str(policy), "--ros2", "--seconds",
                                  "1.5", "--out", str(tmp_path / "run"), "--rt-priority", RT_PRIORITY, "--json"],
                                 tmp_path / "deploy.log")
            assert code == 0, (tmp_path / "deploy.log").read_text()[-3000:]
            ledger = summary["ledger"]
            target = robot_target(None)  # this robot: its ROS domain is the test's
            assert (ledger["target"], ledger["stage_at_start"]) == (target, 0)
            assert 0.5 < ledger["earned_s"] <= 1.5 + 1e-9  # eventless normal ticks at stage 0
            code, shown = _run(["stages", "show", "--robot", "pendulum", "--json"], tmp_path / "stages.log")
            (row,) = shown["rows"]
            assert row["target"] == target and row["stages"]["0"]["seconds"] == pytest.approx(ledger["earned_s"])

            # another unit on another ROS domain has had no checklist (safety review 7): refused at the gate
            other = str(robot_settings({}, None)["domain_id"] + 1)
            code, _ = _run(["deploy", "--robot", "pendulum", "--policy", str(policy), "--ros2", "--domain-id", other,
                            "--seconds", "1", "--out", str(tmp_path / "run3")], tmp_path / "deploy3.log")
            assert code == 1 and "domain_id differ" in (tmp_path / "deploy3.log").read_text()
            assert not (tmp_path / "run3").exists()

            # --speed above the ledger's stage: refused before anything moves
            code, _ = _run(["deploy", "--robot", "pendulum", "--policy", str(policy), "--ros2", "--speed", "2",
                            "--seconds", "1", "--out", str(tmp_path / "run2")], tmp_path / "deploy2.log")
            assert code == 1 and "above what the stage ledger allows" in (tmp_path / "deploy2.log").read_text()
            assert not (tmp_path / "run2").exists()
        finally:
            twin.send_signal(signal.SIGINT)
            try:
                twin.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                twin.kill()
                twin.communicate()
        assert twin.returncode == 0, twin_log.read_text()[-2000:]
