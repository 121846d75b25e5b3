"""The stage ledger: time accumulates across runs, promotion after the dwell, reset rules, and a
run killed with SIGKILL keeps the time it earned (real subprocess, real SIGKILL)."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import subprocess
import sys

import pytest
from deploy_testdata import NO_DROPS, TWIN_YAML, run_until_ticks_then_kill

from sim2real.cli import main
from sim2real.deploy.ledger import (
    LedgerRecorder,
    LedgerSpeed,
    StageLedger,
    _RunLock,
    ledger_run,
    ledger_summary,
)
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.safety_events import EventKind, Severity, new_event
from sim2real.errors import Sim2RealError
from sim2real.logs import read_bag
from sim2real.policy.linear import write_linear_policy
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot
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
            assert 0.1 - 1e-9 <= row["stages"][0]["seconds"] <= 0.12 + 1e-9  # stage-0 ticks after the promotion do not count

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

    def test_clamps_neither_reset_nor_earn(self, furuta, tmp_path):
        """A clamped tick is no incident, but no eventless time either: a policy clamped on every
        tick was promoted to 100 % (safety review 7); the loop's own stages count clamps as events."""
        clamp = new_event(0.0, EventKind.RATE_LIMIT, Severity.CLAMP, "clamped")
        with StageLedger(tmp_path / "l.sqlite") as book:
            rec = LedgerRecorder(book, _spec(furuta), "p", "robot", flush_s=0.01)
            for _ in range(10):
                rec(_Tick(0))
            for _ in range(200):
                rec(_Tick(0, [clamp]))
            rec.close()
            (row,) = book.rows()
        assert row["stage"] == 0 and row["stages"][0]["events"] == 0
        assert row["stages"][0]["seconds"] == pytest.approx(10 * furuta.control_dt)


class TestRefusedRun:
    def test_a_run_refused_its_speed_leaves_no_row(self, furuta, tmp_path):
        # it showed in `stages show` as a run of the robot at stage 0, and cost a full-fsync write
        policy = write_linear_policy(furuta, tmp_path / "zero.onnx")
        path = tmp_path / "ledger.sqlite"
        with pytest.raises(Sim2RealError, match="above what the stage ledger allows"):
            ledger_run(furuta, policy, "robot", start_stage=2, path=path)
        with StageLedger(path) as book:
            assert book.rows() == []


class TestCrashSafety:
    def test_sigkill_mid_run_keeps_the_time_earned(self, tmp_path, furuta, state, capsys):
        policy = write_linear_policy(furuta, tmp_path / "zero.onnx")
        twin = tmp_path / "twin.yaml"
        twin.write_text(TWIN_YAML)
        # lockstep (no host stall can trip the watchdog of the 500 Hz furuta on a loaded machine)
        reported = run_until_ticks_then_kill(
            ["deploy", "--robot", "furuta", "--policy", str(policy), "--twin", str(twin),
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
        # never more than the run did: every tick is in its (crash-safe) log before the ledger sees it
        ran = read_bag(tmp_path / "run", expected_hash=furuta.hash).command.shape[0]
        assert earned <= ran * furuta.control_dt + 1e-9
        # the killed run's hold on the ledger went with it: the next run of the policy starts
        recorder, _ = ledger_run(furuta, policy, "twin")
        assert ledger_summary(recorder)["stage_at_start"] == row["stage"]


def _history(book, spec, stages_earned, partial=0.0):
    """A ledger that earned ``stages_earned`` stages (each its dwell, in one go) and ``partial`` s at
    the next one, written as runs write it."""
    key, dwell = (spec.name, spec.hash, "p", "robot"), spec.safety.stages.dwell
    for s in range(stages_earned):
        assert book.add(key, s, dwell[s], 0, dwell) == (s + 1, 0.0)
    if partial:
        book.add(key, stages_earned, partial, 0, dwell)
    return key


class TestConcurrentRuns:
    @pytest.mark.parametrize(("rule", "lowered"), [("first_stage", 0), ("previous_stage", 1), ("restart_stage", 2)])
    def test_an_event_another_writer_committed_is_never_undone(self, furuta, tmp_path, rule, lowered):
        """The reviewer's two runs: run A's safe stop lowered the ledger while run B, started at stage
        2 with 0.9 s of its 1.0 s, ran on; B's eventless time (its own cache said promote) used to
        put the ledger at stage 3.  The file now decides: B's time counts only at the stage the file
        stands at, B follows the file, and the ledger is never promoted past A's event."""
        spec = _spec(furuta, dwell=(0.1, 0.1, 1.0, 1.0), on_event=rule)
        path = tmp_path / "l.sqlite"
        with StageLedger(path) as book:
            key = _history(book, spec, 2, partial=0.9)
        b = LedgerRecorder(StageLedger(path), spec, "p", "robot", flush_s=0.05)
        assert b.reached == 2
        with StageLedger(path) as other:  # run A (a writer B does not know of): a safe stop at stage 2
            assert other.event(key, 2, 1, rule, spec.safety.stages.dwell) == (lowered, 0.0)
        for _ in range(60):  # 0.12 s more at stage 2 without an event
            b(_Tick(2))
        b.close()
        b.ledger.close()
        assert b.reached == lowered  # B follows the file
        with StageLedger(path) as book:
            (row,) = book.rows()
            assert row["stage"] == lowered
            assert book.stage(key, spec.safety.stages.dwell) == lowered
            # B's time at stage 2 counted only where the file still stood at 2 (restart_stage)
            assert row["stages"][2]["seconds"] <= (0.12 + 1e-9 if lowered == 2 else 0.0)
            assert 3 not in row["stages"] or row["stages"][3]["seconds"] == 0.0

    def test_a_second_run_of_the_same_policy_is_refused_until_the_first_ends(self, furuta, tmp_path):
        spec = _spec(furuta)
        path = tmp_path / "l.sqlite"
        first = LedgerRecorder(StageLedger(path), spec, "p", "robot")
        with pytest.raises(Sim2RealError, match=r"another run of this policy on the furuta robot is under way \(pid "):
            LedgerRecorder(StageLedger(path), spec, "p", "robot")
        other = LedgerRecorder(StageLedger(path), spec, "p", "twin")  # another key runs alongside
        other.close()
        first.close()
        LedgerRecorder(StageLedger(path), spec, "p", "robot").close()  # the first run's end released it


    def test_a_run_in_another_process_holds_the_key_until_that_process_ends(self, tmp_path):
        """Two processes, as two terminals would run them: the second is refused naming the first's
        pid, and the key is free the moment the first process is gone."""
        path, key = tmp_path / "l.sqlite", ("furuta", "h", "p", "robot")
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sys; from pathlib import Path; from sim2real.deploy.ledger import _RunLock; "
             f"lock = _RunLock(Path({str(path)!r}), {key!r}); print('held', flush=True); sys.stdin.read()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "held"  # the child holds the lock now
            with pytest.raises(Sim2RealError, match=rf"under way \(pid {holder.pid} on "):
                _RunLock(path, key)
            _RunLock(path, (*key[:3], "twin")).release()  # another key is free meanwhile
        finally:
            holder.stdin.close()  # the child ends, and the system drops its lock
            assert holder.wait(timeout=60) == 0
        _RunLock(path, key).release()


class TestDamagedFile:
    def _stored(self, path, key, value):
        db = sqlite3.connect(path)
        db.execute("UPDATE stage_reached SET stage=? WHERE robot=? AND spec_hash=? AND policy_hash=? AND target=?",
                   (value, *key))
        db.commit()
        db.close()

    @pytest.mark.parametrize(("stored", "start"), [(99, 1), (4, 1), (-2, 0), (1, 1)])
    def test_a_stage_the_time_below_it_does_not_bear_out_is_not_trusted(self, furuta, tmp_path, caplog, stored,
                                                                         start):
        """stage_reached 99 (edited) with only stage 0 earned used to start at 100 %."""
        spec = _spec(furuta, dwell=(0.1, 0.1, 0.1, 0.1))
        path = tmp_path / "l.sqlite"
        with StageLedger(path) as book:
            key = _history(book, spec, 1, partial=0.05)
        self._stored(path, key, stored)
        with caplog.at_level(logging.WARNING, logger="sim2real.deploy.ledger"):
            recorder = LedgerRecorder(StageLedger(path), spec, "p", "robot")
            speed = LedgerSpeed(recorder)
        assert (recorder.reached, speed.stage) == (start, start)
        assert recorder.earned == pytest.approx(0.05 if start == 1 else 0.1)
        warned = [r.getMessage() for r in caplog.records if "bears out" in r.getMessage()]
        assert len(warned) == (stored != start)
        ledger_summary(recorder)
        with StageLedger(path) as book:
            assert book.rows()[0]["stage"] == start  # the run's commit wrote what the time bears out

    @pytest.mark.parametrize("stored", ["x", 3.7])
    def test_a_stage_that_is_no_integer_is_one_error_line(self, furuta, tmp_path, capsys, stored):
        spec = _spec(furuta)
        path = tmp_path / "l.sqlite"
        with StageLedger(path) as book:
            key = _history(book, spec, 1)
        self._stored(path, key, stored)
        with pytest.raises(Sim2RealError, match=r"the stage reached of furuta .* is .*, not a number the ledger writes"):
            LedgerRecorder(StageLedger(path), spec, "p", "robot")
        assert main(["stages", "show", "--ledger", str(path)]) == 1
        err = capsys.readouterr().err.strip()
        assert "not a number the ledger writes" in err and "Traceback" not in err and len(err.splitlines()) == 1
        self._stored(path, key, 1)  # mended: the refused run left no lock behind
        LedgerRecorder(StageLedger(path), spec, "p", "robot").close()


class TestRestartStage:
    def test_a_safety_reset_restarts_at_most_at_the_ledgers_stage(self, furuta, tmp_path):
        """``LoopConfig.restart_stage`` 4 with the ledger at 0 used to run at 100 % until the next update."""
        recorder = LedgerRecorder(StageLedger(tmp_path / "l.sqlite"), _spec(furuta), "p", "robot")
        speed = LedgerSpeed(recorder)
        assert speed.start_at(4) == pytest.approx(0.10) and speed.stage == 0
        assert speed.start_at(1.0) == pytest.approx(0.10) and speed.stage == 0  # a fraction too
        recorder.reached = 2  # the ledger promotes: the reset's cap holds the run where it restarted
        assert speed.update(1.0, False) is None and speed.stage == 0
        ledger_summary(recorder)


def _spec_file(furuta, folder, dwell, on_event="restart_stage"):
    """The furuta's spec with its own ``safety.stages`` (a spec file next to a copy of its MJCF)."""
    stages = f"\n  stages: {{dwell: {list(dwell)}, on_event: {on_event}}}"
    text = furuta.path.read_text().replace("safe_mode: zero_torque", "safe_mode: zero_torque" + stages)
    folder.mkdir(exist_ok=True)
    (folder / "furuta.xml").write_text(furuta.mjcf_path.read_text())
    path = folder / "furuta.yaml"
    path.write_text(text)
    return path


def _deploy(capsys, *args):
    code = main(["deploy", *map(str, args), "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out.strip().splitlines()[-1]) if code == 0 else None), captured.err


class TestGate:
    """The ledger sets the speed of real runs (the furuta twin, lockstep, with dropped readings: a
    dropped reading is no safety event for the ledger)."""

    def test_runs_start_where_the_ledger_stands_and_are_promoted_as_the_dwell_accumulates(self, furuta, tmp_path,
                                                                                         capsys):
        spec = _spec_file(furuta, tmp_path / "spec", dwell=(0.4, 0.4, 0.4, 0.4))
        policy = write_linear_policy(load_robot(str(spec)), tmp_path / "zero.onnx")
        twin = tmp_path / "twin.yaml"
        twin.write_text(TWIN_YAML)
        dt = furuta.control_dt
        code, first, err = _deploy(capsys, "--robot", spec, "--policy", policy, "--twin", twin, "--ledger",
                                   "--seconds", 1.0, "--out", tmp_path / "run1")
        assert code == 0, err
        assert (first["ledger"]["stage_at_start"], first["ledger"]["stage"]) == (0, 2)
        assert first["ledger"]["earned_s"] == pytest.approx(0.2, abs=3 * dt)
        changes = [e for e in read_bag(tmp_path / "run1").events if e.kind == "stage"]
        assert [(e.detail["previous_stage"], e.detail["stage"]) for e in changes] == [(0, 1), (1, 2)]
        assert [e.t for e in changes] == pytest.approx([0.4, 0.8], abs=3 * dt)
        # the next run starts at stage 2 and needs only what stage 2 still lacks (0.4 - 0.2 s)
        code, second, err = _deploy(capsys, "--robot", spec, "--policy", policy, "--twin", twin, "--ledger",
                                    "--seconds", 0.5, "--out", tmp_path / "run2")
        assert code == 0, err
        start = next(e for e in read_bag(tmp_path / "run2").events if e.kind == "start")
        assert start.detail["stage"] == 2 and second["ledger"]["stage_at_start"] == 2
        (change,) = [e for e in read_bag(tmp_path / "run2").events if e.kind == "stage"]
        assert (change.detail["stage"], change.t) == (3, pytest.approx(0.4 - first["ledger"]["earned_s"], abs=3 * dt))
        assert second["ledger"]["stage"] == 3 and second["stage"] == 3

        # --speed may only lower the start; a lower run stays there and earns nothing
        code, _, err = _deploy(capsys, "--robot", spec, "--policy", policy, "--twin", twin, "--ledger",
                               "--speed", 4, "--seconds", 0.1, "--out", tmp_path / "run3")
        assert code == 1 and "above what the stage ledger allows" in err and "stage 3 (75 %)" in err
        assert not (tmp_path / "run3").exists()
        code, lower, err = _deploy(capsys, "--robot", spec, "--policy", policy, "--twin", twin, "--ledger",
                                   "--speed", "25%", "--seconds", 1.0, "--out", tmp_path / "run4")
        assert code == 0, err
        assert (lower["stage"], lower["stage_changes"], lower["speed_fraction"]) == (1, 0, 0.25)
        assert lower["ledger"]["stage"] == 3
        assert lower["ledger"]["earned_s"] == pytest.approx(second["ledger"]["earned_s"])
        # the ledger's dwell is the spec's: --dwell is refused
        code, _, err = _deploy(capsys, "--robot", spec, "--policy", policy, "--twin", twin, "--ledger",
                               "--dwell", 5, "--seconds", 0.1, "--out", tmp_path / "run5")
        assert code == 1 and "--dwell does not apply" in err

    @pytest.mark.parametrize(("rule", "after"), [("restart_stage", 4), ("previous_stage", 3), ("first_stage", 0)])
    def test_a_safety_event_in_a_run_steps_the_speed_back_per_the_rule(self, furuta, tmp_path, rule, after):
        """A real loop on the twin; the policy's output is NaN for two ticks at 0.5 s (the monitor
        holds: a safety event): the ledger applies the rule and the run continues at its stage."""
        spec = load_robot(str(_spec_file(furuta, tmp_path / "spec", dwell=(0.1, 0.1, 0.1, 0.1), on_event=rule)))
        policy = write_linear_policy(spec, tmp_path / "zero.onnx")
        recorder, speed = ledger_run(spec, policy, "robot", path=tmp_path / "l.sqlite")
        assert speed.stage == 0
        runner = _NanAt(PolicyRunner(policy, spec), ticks={250, 251})
        robot = TwinRobot(spec, TwinConfig(effects=NO_DROPS))
        results = []
        loop = ControlLoop(robot, runner, config=LoopConfig(episode_return=False), speed=speed,
                           on_tick=lambda r: (recorder(r), results.append(r)))
        with loop:
            loop.run(max_ticks=320)
        done = ledger_summary(recorder)
        stages = [r.stage for r in results]
        assert stages[249] == 4  # promoted every 0.1 s (50 ticks): 0 -> 4 by tick 200
        assert stages[249 - 150] == 1 and stages[249 - 100] == 2
        assert any(e.kind == "nan_command" and e.severity == "hold" for e in results[250].events)
        assert stages[252] == after  # from the tick after the event (restart_stage: the stage's time restarts)
        assert max(stages[252:300]) == after  # 0.1 s to earn again
        assert done["stage"] == stages[-1] == min(after + 1, 4)  # earned: promoted again
        with StageLedger(tmp_path / "l.sqlite") as book:
            (row,) = book.rows()
        assert row["target"] == "robot" and row["stage"] == done["stage"]
        assert sum(v["events"] for v in row["stages"].values()) == 1  # two held ticks: one incident


class _NanAt:
    """A policy whose output is NaN at the given tick numbers (else the wrapped policy's)."""

    def __init__(self, inner, ticks):
        self.inner, self.ticks, self.n = inner, ticks, 0
        self.control_dt = inner.control_dt
        self.last_input_finite = True

    def step_reading(self, reading, velocity_command=None):
        out = self.inner.step_reading(reading, velocity_command)
        self.n += 1
        return out * float("nan") if self.n - 1 in self.ticks else out

    def reset(self):
        self.inner.reset()


class TestShow:
    def test_an_edited_stage_shows_as_the_stage_a_run_would_start_from(self, furuta, tmp_path):
        """`stages show` printed an edited stage 99 as reached, while a run starts from stage 1."""
        from sim2real.deploy.ledger import ledger_text

        spec = _spec(furuta, dwell=(0.1, 0.1, 0.1, 0.1))
        path = tmp_path / "l.sqlite"
        with StageLedger(path) as book:
            key = _history(book, spec, 1, partial=0.05)
        TestDamagedFile()._stored(path, key, 99)
        with StageLedger(path) as book:
            assert book.rows()[0]["stage"] == 99  # without the spec: the file as it is
            (row,) = book.rows(spec=spec)
        assert (row["stage"], row["stored"]) == (1, 99)
        assert "stage 1 reached (stored 99: the time below bears out 1 only)" in ledger_text([row], str(path))

    def test_show_without_a_ledger_lists_nothing_and_creates_no_file(self, tmp_path, capsys):
        missing = tmp_path / "stages.sqlite"
        assert main(["stages", "show", "--ledger", str(missing), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"ledger": str(missing), "rows": []}
        assert not missing.exists() and list(tmp_path.iterdir()) == []
