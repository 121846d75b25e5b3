"""The stage ledger: time accumulates across runs, promotion after the dwell, reset rules, and a
run killed with SIGKILL keeps the time it earned (real subprocess, real SIGKILL)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from deploy_testdata import TWIN_YAML, run_until_ticks_then_kill

from sim2real.cli import main
from sim2real.deploy.ledger import LedgerRecorder, StageLedger
from sim2real.deploy.safety_events import EventKind, Severity, new_event
from sim2real.policy.linear import write_linear_policy
from sim2real.real.protocol import Command
from sim2real.robots.safety_options import StageSpec


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM2REAL_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


class _Tick:
    def __init__(self, stage, events=(), mode="normal"):
        self.stage, self.events, self.command = stage, tuple(events), Command(t=0.0, values=[0.0], mode=mode)


def _spec(furuta, dwell=(0.1, 0.2), on_event="restart_stage"):
    safety = dataclasses.replace(furuta.safety, stages=StageSpec(dwell=dwell, on_event=on_event))
    return dataclasses.replace(furuta, safety=safety)


HOLD = new_event(0.0, EventKind.COLLISION, Severity.HOLD, "bump")


class TestAccounting:
    def test_time_accumulates_across_runs_and_promotes_after_the_dwell(self, furuta, tmp_path):
        spec = _spec(furuta)
        for _ in range(2):  # two runs of 30 ticks (60 ms) each at stage 0
            with StageLedger(tmp_path / "l.sqlite") as book:
                rec = LedgerRecorder(book, spec, "p", "robot", flush_s=0.01)
                for _ in range(30):
                    rec(_Tick(0))
                rec.close()
        with StageLedger(tmp_path / "l.sqlite") as book:
            (row,) = book.rows()
            assert row["stage"] == 1  # 120 ms >= the 100 ms dwell of stage 0
            assert 0.1 <= row["stages"][0]["seconds"] <= 0.12 + 1e-9  # stage-0 ticks after the promotion do not count

    @pytest.mark.parametrize(("rule", "stage", "kept"), [("restart_stage", 1, 0.1), ("previous_stage", 0, 0.0),
                                                         ("first_stage", 0, 0.0)])
    def test_a_safety_event_resets_per_the_rule(self, furuta, tmp_path, rule, stage, kept):
        spec = _spec(furuta, dwell=(0.1, 1.0), on_event=rule)
        with StageLedger(tmp_path / "l.sqlite") as book:
            rec = LedgerRecorder(book, spec, "p", "robot", flush_s=0.01)
            for _ in range(60):
                rec(_Tick(0))
            assert rec.reached == 1
            for _ in range(20):
                rec(_Tick(1))
            rec(_Tick(1, [HOLD], mode="hold"))
            rec.close()
            (row,) = book.rows()
        assert row["stage"] == stage
        assert row["stages"][1]["seconds"] == 0.0 and row["stages"][1]["events"] == 1
        assert row["stages"][0]["seconds"] == pytest.approx(kept, abs=0.012)

    def test_clamps_do_not_reset(self, furuta, tmp_path):
        clamp = new_event(0.0, EventKind.RATE_LIMIT, Severity.CLAMP, "clamped")
        with StageLedger(tmp_path / "l.sqlite") as book:
            rec = LedgerRecorder(book, _spec(furuta), "p", "robot", flush_s=0.01)
            for _ in range(20):
                rec(_Tick(0, [clamp]))
            rec.close()
            assert book.rows()[0]["stages"][0]["seconds"] == pytest.approx(0.04)


class TestCrashSafety:
    def test_sigkill_mid_run_keeps_the_time_earned(self, tmp_path, furuta, state, capsys):
        policy = write_linear_policy(furuta, tmp_path / "zero.onnx")
        twin = tmp_path / "twin.yaml"
        twin.write_text(TWIN_YAML)
        reported = run_until_ticks_then_kill(
            ["deploy", "--robot", "furuta", "--policy", str(policy), "--twin", str(twin), "--realtime",
             "--ledger", "--out", str(tmp_path / "run")], 2000, tmp_path / "stderr.txt")
        assert reported >= 2000
        db = sqlite3.connect(state / "stages.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        assert main(["stages", "show", "--robot", "furuta", "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)["rows"]
        assert row["target"] == "twin"
        earned = sum(v["seconds"] for v in row["stages"].values())
        # 1 s flushes: all but the last second of eventless normal ticks is kept
        assert earned >= 1.0
        assert earned <= reported * furuta.control_dt + 1e-9


