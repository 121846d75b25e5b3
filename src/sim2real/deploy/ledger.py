"""The stage ledger: eventless time at each speed stage, per robot and policy, across runs.

One SQLite file (``<state_dir>/stages.sqlite`` by default; ``sim2real stages show`` prints it), one
row per (robot, spec hash, policy hash, target, stage): the seconds earned at that stage without a
safety event, and per (robot, spec, policy, target) the stage reached.  A stage is promoted once its
earned time reaches the spec's ``safety.stages.dwell`` (defaults: Lesson A4's table); a safety event
(severity hold or safe_stop) applies ``safety.stages.on_event``.  Every update is one SQLite
transaction (journal mode WAL, synchronous FULL): a run killed with SIGKILL keeps the time it had
committed (at most ``flush_s`` of loop time is lost) and leaves nothing half-written.

``target`` separates a hardware ledger (``robot``) from twin runs (``twin``): a twin run writes to
the ledger only when asked (``deploy --ledger``), and then under ``twin``, never into a robot's.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sim2real.deploy.loop_config import TickResult
from sim2real.robots.spec import RobotSpec

__all__ = ["LedgerRecorder", "StageLedger", "ledger_text"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stage_time (
    robot TEXT, spec_hash TEXT, policy_hash TEXT, target TEXT, stage INTEGER,
    seconds REAL NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0, updated REAL,
    PRIMARY KEY (robot, spec_hash, policy_hash, target, stage));
CREATE TABLE IF NOT EXISTS stage_reached (
    robot TEXT, spec_hash TEXT, policy_hash TEXT, target TEXT, stage INTEGER NOT NULL,
    updated REAL, PRIMARY KEY (robot, spec_hash, policy_hash, target));
"""


class StageLedger:
    """The ledger file (SQLite).  Use as a context manager.

    Args:
        path: The file; default ``<state_dir>/stages.sqlite``.
    """

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from sim2real.deploy.preflight import state_dir

            path = state_dir() / "stages.sqlite"
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def __enter__(self) -> StageLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def stage(self, key: tuple[str, str, str, str]) -> int:
        """The stage reached (0 when new)."""
        row = self.db.execute(
            "SELECT stage FROM stage_reached WHERE robot=? AND spec_hash=? AND policy_hash=? AND target=?", key
        ).fetchone()
        return int(row[0]) if row else 0

    def seconds(self, key: tuple[str, str, str, str], stage: int) -> float:
        row = self.db.execute(
            "SELECT seconds FROM stage_time WHERE robot=? AND spec_hash=? AND policy_hash=? AND target=? AND stage=?",
            (*key, stage),
        ).fetchone()
        return float(row[0]) if row else 0.0

    def commit(self, key: tuple[str, str, str, str], stage: int, add_s: float, events: int, reached: int,
               reset: dict[int, float] | None = None) -> None:
        """One transaction: add earned time (and events) at a stage, set times (``reset``), the stage reached."""
        now = time.time()
        with self.db:  # BEGIN ... COMMIT
            self.db.execute("BEGIN IMMEDIATE")
            for s, value in (reset or {}).items():
                self.db.execute(
                    "INSERT INTO stage_time VALUES (?,?,?,?,?,?,0,?) ON CONFLICT DO UPDATE SET seconds=excluded.seconds, "
                    "updated=excluded.updated", (*key, s, value, now))
            self.db.execute(
                "INSERT INTO stage_time VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "seconds=seconds+excluded.seconds, events=events+excluded.events, updated=excluded.updated",
                (*key, stage, add_s, events, now))
            self.db.execute(
                "INSERT INTO stage_reached VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET stage=excluded.stage, "
                "updated=excluded.updated", (*key, reached, now))

    def rows(self, robot: str | None = None, policy_hash: str | None = None) -> list[dict[str, Any]]:
        """Every (robot, policy, target) with its stage and the time earned per stage."""
        out = []
        for robot_, spec_hash, policy, target, stage, updated in self.db.execute(
            "SELECT robot, spec_hash, policy_hash, target, stage, updated FROM stage_reached ORDER BY updated"
        ).fetchall():
            if (robot and robot_ != robot) or (policy_hash and policy != policy_hash):
                continue
            times = {
                int(s): {"seconds": float(sec), "events": int(ev)}
                for s, sec, ev in self.db.execute(
                    "SELECT stage, seconds, events FROM stage_time WHERE robot=? AND spec_hash=? AND policy_hash=? "
                    "AND target=? ORDER BY stage", (robot_, spec_hash, policy, target))
            }
            out.append({"robot": robot_, "spec_hash": spec_hash, "policy_hash": policy, "target": target,
                        "stage": int(stage), "stages": times, "updated": updated})
        return out


def ledger_text(rows: list[dict[str, Any]], path: str) -> str:
    if not rows:
        return f"no runs in the stage ledger {path}"
    lines = []
    for r in rows:
        per = ", ".join(f"stage {s}: {v['seconds'] / 60:.1f} min ({v['events']} events)" for s, v in r["stages"].items())
        lines.append(f"{r['robot']} [{r['target']}] policy {r['policy_hash'][:12]}: stage {r['stage']} reached; {per}")
    lines.append(f"ledger: {path}")
    return "\n".join(lines)


class LedgerRecorder:
    """Feeds a run's ticks into the ledger (an ``on_tick`` callback; call :meth:`close` at the end).

    Args:
        ledger: The ledger.
        spec: The robot (its ``safety.stages``: dwell per stage, reset rule).
        policy_hash: sha256 of the policy file.
        target: ``robot`` or ``twin``.
        flush_s: Loop time between commits [s].
    """

    def __init__(self, ledger: StageLedger, spec: RobotSpec, policy_hash: str, target: str, flush_s: float = 1.0) -> None:
        self.ledger = ledger
        self.rule = spec.safety.stages
        self.key = (spec.name, spec.hash, policy_hash, target)
        self.flush_s = flush_s
        self.dt = float(spec.control_dt)
        self.reached = ledger.stage(self.key)
        self._pending = 0.0
        self._events = 0
        self._stage: int | None = None

    @property
    def earned(self) -> float:
        """Seconds at the stage reached, committed and pending."""
        return self.ledger.seconds(self.key, self.reached) + self._pending

    def __call__(self, result: TickResult) -> None:
        bad = any(str(e.severity) in ("hold", "safe_stop") for e in result.events)
        if self._stage is not None and result.stage != self._stage:
            self.flush()
        self._stage = result.stage
        if bad:
            self._events += 1
            self._pending = 0.0
            self._on_event(result.stage)
            return
        if result.stage == self.reached and result.command.mode == "normal":
            self._pending += self.dt
        if self._pending >= self.flush_s:
            self.flush()

    def _on_event(self, stage: int) -> None:
        rule = self.rule.on_event
        reset = {self.reached: 0.0}
        if rule == "previous_stage":
            self.reached = max(0, self.reached - 1)
            reset[self.reached] = 0.0
        elif rule == "first_stage":
            reset = {s: 0.0 for s in range(self.reached + 1)}
            self.reached = 0
        self.ledger.commit(self.key, stage, 0.0, self._events, self.reached, reset)
        self._events = 0

    def flush(self) -> None:
        """Commit the pending time; promote when the stage's dwell is reached."""
        add, self._pending = self._pending, 0.0
        dwell = self.rule.dwell
        total = self.ledger.seconds(self.key, self.reached) + add
        reached = self.reached
        if reached < len(dwell) and total >= dwell[reached]:
            reached += 1
        self.ledger.commit(self.key, self.reached, add, self._events, reached)
        self._events = 0
        self.reached = reached

    def close(self) -> None:
        self.flush()
