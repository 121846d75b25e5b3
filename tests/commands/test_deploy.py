"""`sim2real deploy` on the twin reports the task's outcome by the task's own rule."""

from __future__ import annotations

import json

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

        assert main([*args, "--seconds", "1", "--out", str(tmp_path / "b")]) == 0
        text = capsys.readouterr().out
        line = next(x for x in text.splitlines() if x.startswith("task furuta:"))
        assert line.startswith(f"task furuta: FAILURE ({outcome['reason']}); rule: near_upright(")
        assert "stayed at speed stage 0 (10 %)" in line and "--speed" in line  # why it may not have swung up
        assert read_bag(tmp_path / "b").meta["complete"]
