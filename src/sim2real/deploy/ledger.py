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

import math
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sim2real.deploy.loop_config import TickResult
from sim2real.deploy.speed import DEFAULT_STAGES, SpeedProgression, StageChange
from sim2real.errors import Sim2RealError
from sim2real.robots.spec import RobotSpec

__all__ = ["LedgerRecorder", "LedgerSpeed", "StageLedger", "ledger_path", "ledger_text"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stage_time (
    robot TEXT, spec_hash TEXT, policy_hash TEXT, target TEXT, stage INTEGER,
    seconds REAL NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0, updated REAL,
    PRIMARY KEY (robot, spec_hash, policy_hash, target, stage));
CREATE TABLE IF NOT EXISTS stage_reached (
    robot TEXT, spec_hash TEXT, policy_hash TEXT, target TEXT, stage INTEGER NOT NULL,
    updated REAL, PRIMARY KEY (robot, spec_hash, policy_hash, target));
"""


def ledger_path(path: str | Path | None = None) -> Path:
    """The ledger file: ``path``, or by default ``<state_dir>/stages.sqlite``."""
    if path is None:
        from sim2real.deploy.preflight import state_dir

        return state_dir() / "stages.sqlite"
    return Path(path)


class StageLedger:
    """The ledger file (SQLite).  Use as a context manager.

    Args:
        path: The file; default ``<state_dir>/stages.sqlite``.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = ledger_path(path)
        # the recorder's writer thread commits (one thread at a time)
        if self.path.is_dir() or not self.path.parent.is_dir():
            raise Sim2RealError(f"stage ledger {self.path}: not a file in an existing folder; give another --ledger")
        try:
            self.db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:  # another file given as the ledger: left as it is
            raise Sim2RealError(f"stage ledger {self.path}: not a stage ledger (SQLite: {exc}); give another --ledger") from None

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

    The accounting runs in the tick and costs microseconds; the SQLite transactions (with their
    fsync) run on a writer thread, so that a commit never delays the control loop.  A tick counts
    towards the stage reached when it ran at that stage with a normal command; a tick with a
    ``hold`` or ``safe_stop`` event applies ``safety.stages.on_event`` -- except a hold for one
    unusable reading (a dropped message, routine on a real link: the watchdog's safe stop after
    ``stale_timeout`` does count).  Consecutive ticks with such events are one incident: the rule
    applies once.

    Args:
        ledger: The ledger.
        spec: The robot (its ``safety.stages``: dwell per stage, reset rule).
        policy_hash: sha256 of the policy file.
        target: ``robot`` or ``twin``.
        flush_s: Loop time between commits [s] (a promotion commits at once).
    """

    def __init__(self, ledger: StageLedger, spec: RobotSpec, policy_hash: str, target: str, flush_s: float = 1.0) -> None:
        self.ledger = ledger
        self.rule = spec.safety.stages
        self.key = (spec.name, spec.hash, policy_hash, target)
        self.flush_s = flush_s
        self.dt = float(spec.control_dt)
        self.reached = ledger.stage(self.key)
        """The stage reached (the ledger's, updated as the run earns or loses it)."""
        self.start = self.reached
        """The stage reached when the run started."""
        self._committed = ledger.seconds(self.key, self.reached)
        self._pending = 0.0
        self._events = 0
        self._incident = False
        self._stage: int | None = None
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, name="stage-ledger", daemon=True)
        self._writer.start()

    @property
    def earned(self) -> float:
        """Seconds earned at the stage reached (committed and pending)."""
        return self._committed + self._pending

    @property
    def dwell(self) -> float | None:
        """The dwell of the stage reached [s] (None at the last stage: it is never left)."""
        d = self.rule.dwell
        return d[self.reached] if self.reached < len(d) else None

    def __call__(self, result: TickResult) -> None:
        bad = any(
            str(e.severity) in ("hold", "safe_stop") and not (str(e.kind) == "stale" and str(e.severity) == "hold")
            for e in result.events
        )
        if self._stage is not None and result.stage != self._stage:
            self.flush()
        self._stage = result.stage
        if bad:  # one incident per run of consecutive bad ticks: the rule applies once
            self._pending = 0.0
            if not self._incident:
                self._events += 1
                self._on_event(result.stage)
            self._incident = True
            return
        self._incident = False
        if result.stage == self.reached and result.command.mode == "normal":
            self._pending += self.dt
        dwell = self.dwell
        if self._pending >= self.flush_s or (dwell is not None and self.earned >= dwell - 1e-9):
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
        self._committed = 0.0
        self._queue.put((stage, 0.0, self._events, self.reached, reset))
        self._events = 0

    def flush(self) -> None:
        """Commit the pending time; promote when the stage's dwell is reached."""
        add, self._pending = self._pending, 0.0
        dwell = self.dwell
        total = self._committed + add
        reached = self.reached
        if dwell is not None and total >= dwell - 1e-9:  # (a sum of control periods)
            reached += 1
        self._queue.put((self.reached, add, self._events, reached, None))
        self._events = 0
        # a stage above the one reached has earned nothing (time only accrues at the stage reached,
        # and every step back resets the stages it leaves)
        self.reached, self._committed = reached, (0.0 if reached != self.reached else total)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                stage, add, events, reached, reset = item
                self.ledger.commit(self.key, stage, add, events, reached, reset)
            except BaseException as exc:  # reported by close(); the run goes on
                self._error = exc

    def close(self) -> None:
        """Commit what is pending and wait for the writer.

        Raises:
            Sim2RealError: a commit failed (e.g. the disk is full).
        """
        self.flush()
        self._queue.put(None)
        self._writer.join()
        if self._error is not None:
            raise Sim2RealError(f"stage ledger {self.ledger.path}: {self._error}")


class LedgerSpeed(SpeedProgression):
    """The speed progression of a run that the stage ledger gates (``deploy --ros2``, ``--ledger``).

    The run starts at the stage the ledger has reached for this robot, spec and policy (or lower,
    with ``--speed``: never higher), and follows the ledger as it runs: promoted when the stage's
    dwell has accumulated across runs, and lowered when a safety event makes the ledger step back
    (``on_event: previous_stage`` or ``first_stage``).  A run started below the ledger's stage
    stays at its stage (time below the stage reached earns nothing); so does a run after an
    accepted safety reset (:meth:`start_at`).  The speed is applied one tick after the ledger
    changed (the ledger sees a tick after the loop's speed update).

    Args:
        recorder: The run's ledger recorder (also the loop's ``on_tick``).
        stages: Speed fractions.
        start_stage: ``--speed`` (None: the ledger's stage).

    Raises:
        Sim2RealError: ``start_stage`` is above the ledger's stage.
    """

    def __init__(self, recorder: LedgerRecorder, stages: tuple[float, ...] = DEFAULT_STAGES,
                 start_stage: int | None = None) -> None:
        allowed = min(recorder.reached, len(stages) - 1)
        if start_stage is not None and start_stage > allowed:
            name, _, _, target = recorder.key
            raise Sim2RealError(
                f"--speed {start_stage} ({100 * stages[start_stage]:g} %) is above what the stage ledger allows for "
                f"this policy on the {name} {target}: stage {allowed} ({100 * stages[allowed]:g} %), "
                f"{recorder.earned / 60:.1f} min earned there (see `sim2real stages show`); --speed may only lower it"
            )
        start = allowed if start_stage is None else start_stage
        super().__init__(stages, dwell_s=recorder.dwell or recorder.rule.dwell[-1], start_stage=start)
        self.recorder = recorder
        self._cap: int | None = None if start == allowed else start

    def start_at(self, stage: int | float) -> float:
        """Go to a stage and stay at or below it for the rest of the run (a safety reset's restart)."""
        fraction = super().start_at(stage)
        self._cap = self.stage
        return fraction

    def update(self, now: float, had_event: bool) -> StageChange | None:
        """The stage change the ledger asks for (promotion or step back), or None."""
        target = min(self.recorder.reached, len(self.config.stages) - 1)
        if self._cap is not None:
            target = min(target, self._cap)
        if target == self.stage or not math.isfinite(float(now)):
            return None
        previous = self.stage
        super().start_at(target)
        return StageChange(t=float(now), previous_stage=previous, stage=target, fraction=self.fraction)


def ledger_run(
    spec: RobotSpec,
    policy_path: str | Path,
    target: str,
    start_stage: int | None = None,
    stages: tuple[float, ...] = DEFAULT_STAGES,
    path: Path | None = None,
) -> tuple[LedgerRecorder, LedgerSpeed]:
    """The recorder (the loop's ``on_tick``) and the speed progression of a run the ledger gates.

    Args:
        spec: The robot.
        policy_path: The policy file (the ledger keys on its sha256).
        target: ``robot`` (``deploy --ros2``) or ``twin`` (``deploy --twin --ledger``).
        start_stage: ``--speed`` (None: the ledger's stage).
        stages: Speed fractions.
        path: The ledger file (default: ``<state_dir>/stages.sqlite``).

    Raises:
        Sim2RealError: ``start_stage`` is above the ledger's stage.
    """
    from sim2real.deploy.preflight import file_hash

    book = StageLedger(path)
    recorder = LedgerRecorder(book, spec, file_hash(policy_path), target)
    try:
        progression = LedgerSpeed(recorder, stages, start_stage)
    except BaseException:
        recorder.close()
        book.close()
        raise
    return recorder, progression


def ledger_summary(recorder: LedgerRecorder) -> dict[str, Any]:
    """Close a run's recorder and its ledger; what the run did to the ledger (JSON-friendly)."""
    try:
        recorder.close()
    finally:
        recorder.ledger.close()
    return {
        "target": recorder.key[3],
        "stage_at_start": recorder.start,
        "stage": recorder.reached,
        "earned_s": recorder.earned,
        "dwell_s": recorder.dwell,
        "file": str(recorder.ledger.path),
    }
