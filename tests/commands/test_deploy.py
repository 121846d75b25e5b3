"""`sim2real deploy` on the twin reports the task's outcome by the task's own rule."""

from __future__ import annotations

import json
import re

from deploy_testdata import TWIN_YAML, tiny_policy

from sim2real.cli import main
from sim2real.logs import read_bag


class TestOutcome:
    def test_the_summary_and_json_carry_the_task_outcome(self, tmp_path, capsys):
        twin = tmp_path / "twin.yaml"
        twin.write_text(TWIN_YAML)
        args = ["deploy", "--robot", "furuta", "--policy", str(tiny_policy("furuta")), "--twin", str(twin)]
        assert main([*args, "--seconds", "1", "--out", str(tmp_path / "a"), "--json"]) == 0
        outcome = json.loads(capsys.readouterr().out)["outcome"]
        # an untrained policy does not swing up: judged, a failure by the rule or a termination
        assert outcome["judged"] and outcome["task"] == "furuta" and outcome["success"] is False
        assert outcome["reason"] == "rule not met" or outcome["reason"].startswith("terminated: ")
        assert "held for the last 2 s" in outcome["rule"]
        # judged as one episode of the run's length, said as such (it read "a full 1 s episode")
        assert re.search(r"of the whole [0-9.]+ s run \(the task's episodes last 6 s\)", outcome["rule"])

        assert main([*args, "--seconds", "1", "--out", str(tmp_path / "b")]) == 0
        text = capsys.readouterr().out
        line = next(x for x in text.splitlines() if x.startswith("task furuta:"))
        assert line.startswith(f"task furuta: FAILURE ({outcome['reason']}); rule: near_upright(")
        assert "stayed at speed stage 0 (10 %)" in line and "--speed" in line  # why it may not have swung up
        assert read_bag(tmp_path / "b").meta["complete"]


class TestStandingStill:
    def test_a_policy_that_stands_is_not_called_a_walker_where_standing_would_meet_the_rule(self, tmp_path, capsys):
        from sim2real.policy.linear import write_linear_policy
        from sim2real.robots import load_robot

        twin = tmp_path / "twin.yaml"
        twin.write_text("params: {}\neffects: {seed: 3}\n")
        stand = write_linear_policy(load_robot("quadruped"), tmp_path / "stand.onnx")  # the zero action
        args = ["deploy", "--robot", "quadruped", "--policy", str(stand), "--twin", str(twin), "--seconds", "1",
                "--velocity-command", "0.5", "0", "0", "--json"]
        # 10 % of 0.5 m/s is within the 0.25 m/s tracking tolerance: standing still would pass
        assert main([*args, "--out", str(tmp_path / "slow")]) == 0
        slow = json.loads(capsys.readouterr().out)["outcome"]
        assert slow["judged"] is False and slow["success"] is None, slow
        assert "standing still would meet" in slow["reason"]
        # at full speed the same standing policy is judged, and fails the tracking rule
        assert main([*args, "--speed", "100%", "--out", str(tmp_path / "fast")]) == 0
        fast = json.loads(capsys.readouterr().out)["outcome"]
        assert fast["judged"] is True and fast["success"] is False and fast["reason"] == "rule not met", fast
