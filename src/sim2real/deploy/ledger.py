"""The stage ledger: eventless time at each speed stage, per robot and policy, across runs.

One SQLite file (``<state_dir>/stages.sqlite`` by default; ``sim2real stages show`` prints it), one
row per (robot, spec hash, policy hash, target, stage): the seconds earned at that stage without a
safety event, and per (robot, spec, policy, target) the stage reached.  A stage is promoted once its
earned time reaches the spec's ``safety.stages.dwell`` (defaults: Lesson A4's table); a safety event
(severity hold or safe_stop) applies ``safety.stages.on_event``.  Every update is one SQLite
transaction (journal mode WAL, synchronous FULL) that reads what it changes (``BEGIN IMMEDIATE``):
time counts only while the file still stands at the stage it was earned at, a promotion needs the
seconds in the file, and an event only ever lowers the stage.  A run killed with SIGKILL keeps the
time it had committed (at most ``flush_s`` of loop time is lost) and leaves nothing half-written.

The stage reached is trusted only as far as the time below it bears it out (every lower stage has
its dwell in the file, the invariant the rules keep): an edited or damaged file falls back to the
highest stage that does, with a warning; a stage that is no integer is an error.  One run at a time
per (robot, spec, policy, target): a run holds a lock (``flock`` on ``<ledger>.locks/<key>.lock``,
released by the system when the run ends, is killed or crashes) and a second run is refused.

``target`` separates a hardware ledger (``robot``) from twin runs (``twin``): a twin run writes to
the ledger only when asked (``deploy --ledger``), and then under ``twin``, never into a robot's.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import math
import os
import queue
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sim2real.deploy.loop_config import TickResult
from sim2real.deploy.speed import DEFAULT_STAGES, SpeedConfig, SpeedProgression, StageChange
from sim2real.errors import Sim2RealError
from sim2real.robots.spec import RobotSpec

__all__ = ["LedgerRecorder", "LedgerSpeed", "StageLedger", "ledger_path", "ledger_start", "ledger_text"]

log = logging.getLogger(__name__)

Key = tuple[str, str, str, str]
"""(robot, spec hash, policy hash, target)."""

_EPS = 1e-9
"""Tolerance of a dwell comparison [s] (the time is a sum of control periods)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stage_time (
    robot TEXT, spec_hash TEXT, policy_hash TEXT, target TEXT, stage INTEGER,
    seconds REAL NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0, updated REAL,
    PRIMARY KEY (robot, spec_hash, policy_hash, target, stage));
CREATE TABLE IF NOT EXISTS stage_reached (
    robot TEXT, spec_hash TEXT, policy_hash TEXT, target TEXT, stage INTEGER NOT NULL,
    updated REAL, PRIMARY KEY (robot, spec_hash, policy_hash, target));
"""
_KEY = "robot=? AND spec_hash=? AND policy_hash=? AND target=?"


def ledger_path(path: str | Path | None = None) -> Path:
    """The ledger file: ``path``, or by default ``<state_dir>/stages.sqlite``."""
    if path is None:
        from sim2real.deploy.preflight_record import state_dir

        return state_dir() / "stages.sqlite"
    return Path(path)


def _who(key: Key) -> str:
    return f"{key[0]} [{key[3]}] policy {key[2][:12]}"


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

    def _damaged(self, key: Key, what: str, value: object) -> Sim2RealError:
        return Sim2RealError(
            f"stage ledger {self.path}: {what} of {_who(key)} is {value!r}, not a number the ledger writes "
            f"(an edited or damaged file); delete that row (`sqlite3 {self.path}`) or give another --ledger"
        )

    def _times(self, key: Key) -> dict[int, float]:
        """The seconds earned per stage (checked: numbers only)."""
        times: dict[int, float] = {}
        for stage, seconds in self.db.execute(f"SELECT stage, seconds FROM stage_time WHERE {_KEY}", key):
            if isinstance(stage, bool) or not isinstance(stage, int):
                raise self._damaged(key, "a stage_time row's stage", stage)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds):
                raise self._damaged(key, f"the time earned at stage {stage}", seconds)
            times[stage] = float(seconds)
        return times

    def _reached(self, key: Key, dwell: tuple[float, ...]) -> tuple[int, object]:
        """(the stage reached as the time below it bears out, the stage stored; None when new)."""
        row = self.db.execute(f"SELECT stage FROM stage_reached WHERE {_KEY}", key).fetchone()
        if row is None:
            return 0, None
        stored = row[0]
        if isinstance(stored, bool) or not isinstance(stored, int):
            raise self._damaged(key, "the stage reached", stored)
        times = self._times(key)
        stage = 0
        while stage < min(stored, len(dwell)) and times.get(stage, 0.0) >= dwell[stage] - _EPS:
            stage += 1
        return stage, stored

    def stage(self, key: Key, dwell: tuple[float, ...]) -> int:
        """The stage reached (0 when new): the one stored, or when the time earned below it does not
        bear it out (an edited or damaged file) the highest stage whose lower stages all have their
        dwell, with a warning.

        Args:
            key: (robot, spec hash, policy hash, target).
            dwell: The spec's ``safety.stages.dwell`` [s], one per stage but the last.

        Raises:
            Sim2RealError: a stage or a time in the file is no number the ledger writes.
        """
        stage, stored = self._reached(key, dwell)
        if stored is not None and stage != stored:
            log.warning(
                "stage ledger %s: %s is stored at stage %s, but the time earned below it bears out stage %d "
                "only (an edited or damaged file, or another spec's dwell): starting from stage %d",
                self.path, _who(key), stored, stage, stage,
            )
        return stage

    def seconds(self, key: Key, stage: int) -> float:
        """The seconds earned at a stage (0 when none)."""
        return self._times(key).get(stage, 0.0)

    def _write(self, key: Key, reached: int, times: dict[int, float], events: tuple[int, int] | None,
               now: float) -> None:
        for s, value in times.items():
            self.db.execute(
                "INSERT INTO stage_time VALUES (?,?,?,?,?,?,0,?) ON CONFLICT DO UPDATE SET seconds=excluded.seconds, "
                "updated=excluded.updated", (*key, s, value, now))
        if events is not None:
            self.db.execute(
                "INSERT INTO stage_time VALUES (?,?,?,?,?,0,?,?) ON CONFLICT DO UPDATE SET "
                "events=events+excluded.events, updated=excluded.updated", (*key, events[0], events[1], now))
        self.db.execute(
            "INSERT INTO stage_reached VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET stage=excluded.stage, "
            "updated=excluded.updated", (*key, reached, now))

    def add(self, key: Key, stage: int, add_s: float, events: int, dwell: tuple[float, ...]) -> tuple[int, float]:
        """One transaction: time earned at ``stage`` counts when the file still stands at that stage,
        and promotes it when the seconds in the file reach the stage's dwell (the next stage starts
        from 0).  ``events`` are counted at ``stage`` either way.

        Args:
            key: (robot, spec hash, policy hash, target).
            stage: The stage the time was earned at (the stage reached when the run earned it).
            add_s: Eventless time [s].
            events: Safety events to count at ``stage``.
            dwell: The spec's ``safety.stages.dwell`` [s].

        Returns:
            The stage reached in the file after the transaction, and the seconds earned there.
        """
        now = time.time()
        with self.db:  # BEGIN ... COMMIT (a rollback on an error)
            self.db.execute("BEGIN IMMEDIATE")
            reached, stored = self._reached(key, dwell)
            seconds = self._times(key).get(reached, 0.0)
            times = {}
            if stage == reached and add_s > 0:
                seconds += add_s
                times[reached] = seconds
                if reached < len(dwell) and seconds >= dwell[reached] - _EPS:
                    reached, seconds = reached + 1, 0.0
                    times[reached] = 0.0
            if times or events or reached != (0 if stored is None else stored):  # nothing earned nor lost: no row
                self._write(key, reached, times, (stage, events) if events else None, now)
        return reached, seconds

    def event(self, key: Key, stage: int, events: int, rule: str, dwell: tuple[float, ...]) -> tuple[int, float]:
        """One transaction: a safety event at ``stage`` applies ``rule`` (``safety.stages.on_event``)
        to the stage the file stands at: ``restart_stage`` resets its time, ``previous_stage`` lowers
        it by one and resets both, ``first_stage`` resets every stage and goes back to 0.  It only
        ever lowers the stage.

        Returns:
            The stage reached in the file after the transaction, and the seconds earned there (0).
        """
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            reached, _ = self._reached(key, dwell)
            times = {reached: 0.0}
            if rule == "previous_stage":
                reached = max(0, reached - 1)
                times[reached] = 0.0
            elif rule == "first_stage":
                times = {s: 0.0 for s in {*self._times(key), reached}}
                reached = 0
            self._write(key, reached, times, (stage, events), now)
        return reached, 0.0

    def rows(
        self, robot: str | None = None, policy_hash: str | None = None, spec: RobotSpec | None = None
    ) -> list[dict[str, Any]]:
        """Every (robot, policy, target) with its stage and the time earned per stage.  The stage is
        the one stored; with ``spec``, its rows' stage is the one a run would start from (the time
        below it bears it out under the spec's dwell: :meth:`stage`), and ``stored`` the stored one.

        Raises:
            Sim2RealError: a stage or a time in the file is no number the ledger writes.
        """
        out = []
        for robot_, spec_hash, policy, target, stage, updated in self.db.execute(
            "SELECT robot, spec_hash, policy_hash, target, stage, updated FROM stage_reached ORDER BY updated"
        ).fetchall():
            if (robot and robot_ != robot) or (policy_hash and policy != policy_hash):
                continue
            key = (robot_, spec_hash, policy, target)
            if isinstance(stage, bool) or not isinstance(stage, int):
                raise self._damaged(key, "the stage reached", stage)
            self._times(key)  # checked
            times = {
                int(s): {"seconds": float(sec), "events": int(ev) if isinstance(ev, int) else 0}
                for s, sec, ev in self.db.execute(
                    f"SELECT stage, seconds, events FROM stage_time WHERE {_KEY} ORDER BY stage", key)
            }
            row = {"robot": robot_, "spec_hash": spec_hash, "policy_hash": policy, "target": target,
                   "stage": stage, "stages": times, "updated": updated}
            if spec is not None and spec_hash == spec.hash:
                row["stored"], row["stage"] = stage, self._reached(key, spec.safety.stages.dwell)[0]
            out.append(row)
        return out


def ledger_text(rows: list[dict[str, Any]], path: str) -> str:
    if not rows:
        return f"no runs in the stage ledger {path}"
    lines = []
    for r in rows:
        per = ", ".join(f"stage {s}: {v['seconds'] / 60:.1f} min ({v['events']} events)" for s, v in r["stages"].items())
        stored = r.get("stored", r["stage"])
        note = "" if stored == r["stage"] else f" (stored {stored}: the time below bears out {r['stage']} only)"
        lines.append(f"{r['robot']} [{r['target']}] policy {r['policy_hash'][:12]}: stage {r['stage']} reached{note}; {per}")
    lines.append(f"ledger: {path}")
    return "\n".join(lines)


class _RunLock:
    """One run at a time per key: ``flock`` on ``<ledger>.locks/<sha256 of the key>.lock`` (the
    system releases it when the process ends, however it ends).

    Raises:
        Sim2RealError: another run holds it.
    """

    def __init__(self, ledger: Path, key: Key) -> None:
        folder = Path(f"{ledger}.locks")
        self.path = folder / (hashlib.sha256("\0".join(key).encode()).hexdigest()[:24] + ".lock")
        try:
            folder.mkdir(exist_ok=True)
            self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise Sim2RealError(f"stage ledger {ledger}: cannot hold a run's lock {self.path} ({exc})") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(self.fd, 200, 0).decode(errors="replace").strip() or "another process"
            self.release()
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise Sim2RealError(f"stage ledger {ledger}: cannot hold a run's lock {self.path} ({exc})") from None
            raise Sim2RealError(
                f"stage ledger {ledger}: another run of this policy on the {key[0]} {key[3]} is under way "
                f"({holder}); one run at a time (the lock {self.path} goes when that run ends)"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # and with it the lock
            self.fd = None


class LedgerRecorder:
    """Feeds a run's ticks into the ledger (an ``on_tick`` callback; call :meth:`close` at the end).

    The accounting runs in the tick and costs microseconds; the SQLite transactions (with their
    fsync) run on a writer thread, so that a commit never delays the control loop.  A tick counts
    towards the stage reached when it ran at that stage with a normal command; a tick with a
    ``hold`` or ``safe_stop`` event applies ``safety.stages.on_event`` -- except a hold for one
    unusable reading (a dropped message, routine on a real link: the watchdog's safe stop after
    ``stale_timeout`` does count).  Consecutive ticks with such events are one incident: the rule
    applies once.  The tick promotes and steps back at once; the file has the last word: when a
    transaction finds the file elsewhere (an edit, a run that did not take the lock), the recorder
    follows the file from the next tick, with a warning, and the time it had pending is dropped.

    Args:
        ledger: The ledger.
        spec: The robot (its ``safety.stages``: dwell per stage, reset rule).
        policy_hash: sha256 of the policy file.
        target: ``robot`` or ``twin``.
        flush_s: Loop time between commits [s] (a promotion commits at once).

    Raises:
        Sim2RealError: another run of this key is under way, or the file is damaged.
    """

    def __init__(self, ledger: StageLedger, spec: RobotSpec, policy_hash: str, target: str, flush_s: float = 1.0) -> None:
        self.ledger = ledger
        self.rule = spec.safety.stages
        self.key: Key = (spec.name, spec.hash, policy_hash, target)
        self.flush_s = flush_s
        self.dt = float(spec.control_dt)
        self._lock = _RunLock(ledger.path, self.key)
        try:
            self.reached = ledger.stage(self.key, self.rule.dwell)
            """The stage reached (the ledger's, updated as the run earns or loses it)."""
            self._committed = ledger.seconds(self.key, self.reached)
        except BaseException:
            self._lock.release()
            raise
        self.start = self.reached
        """The stage reached when the run started."""
        self._pending = 0.0
        self._events = 0
        self._incident = False
        self._stage: int | None = None
        self._queued = 0
        self._file: tuple[int, int, float] | None = None
        """(items written, stage reached, seconds there) as the writer last found the file."""
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
        self._follow_file()
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
        clamped = any(str(e.severity) == "clamp" for e in result.events)  # eventless time only, clamps included
        if result.stage == self.reached and result.command.mode == "normal" and not clamped:
            self._pending += self.dt
        dwell = self.dwell
        if self._pending >= self.flush_s or (dwell is not None and self.earned >= dwell - _EPS):
            self.flush()

    def _follow_file(self) -> None:
        """Take the file's stage and time once the writer has written everything queued."""
        found = self._file
        if found is None or found[0] != self._queued:
            return
        _, reached, seconds = found
        if reached != self.reached:
            log.warning("stage ledger %s: the file stands at stage %d for %s, this run at %d (another run or an edit "
                        "changed it): following the file", self.ledger.path, reached, _who(self.key), self.reached)
            self._pending = 0.0  # earned at a stage the file no longer stands at
        self.reached, self._committed = reached, seconds

    def _put(self, item: tuple[Any, ...]) -> None:
        self._queued += 1
        self._queue.put((self._queued, *item))

    def _on_event(self, stage: int) -> None:
        if self.rule.on_event == "previous_stage":
            self.reached = max(0, self.reached - 1)
        elif self.rule.on_event == "first_stage":
            self.reached = 0
        self._committed = 0.0
        self._put(("event", stage, self._events))
        self._events = 0

    def flush(self) -> None:
        """Commit the pending time; promote when the stage's dwell is reached."""
        add, self._pending = self._pending, 0.0
        dwell = self.dwell
        total = self._committed + add
        reached = self.reached
        if dwell is not None and total >= dwell - _EPS:
            reached += 1
        self._put(("add", self.reached, add, self._events))
        self._events = 0
        # a stage above the one reached has earned nothing (time only accrues at the stage reached,
        # every step back resets the stages it leaves, and a promotion starts the next one from 0)
        self.reached, self._committed = reached, (0.0 if reached != self.reached else total)

    def _write_loop(self) -> None:
        dwell = self.rule.dwell
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if item[1] == "event":
                    n, _, stage, events = item
                    found = self.ledger.event(self.key, stage, events, self.rule.on_event, dwell)
                else:
                    n, _, stage, add, events = item
                    found = self.ledger.add(self.key, stage, add, events, dwell)
                self._file = (n, *found)
            except BaseException as exc:  # reported by close(); the run goes on
                self._error = exc

    def close(self) -> None:
        """Commit what is pending, wait for the writer and end the run's hold on the ledger.

        Raises:
            Sim2RealError: a commit failed (e.g. the disk is full).
        """
        try:
            self.flush()
            self._queue.put(None)
            self._writer.join()
            self._follow_file()
        finally:
            self._lock.release()
        if isinstance(self._error, Sim2RealError):
            raise self._error
        if self._error is not None:
            raise Sim2RealError(f"stage ledger {self.ledger.path}: {self._error}")


class LedgerSpeed(SpeedProgression):
    """The speed progression of a run that the stage ledger gates (``deploy --ros2``, ``--ledger``).

    The run starts at the stage the ledger has reached for this robot, spec and policy (or lower,
    with ``--speed``: never higher), and follows the ledger as it runs: promoted when the stage's
    dwell has accumulated across runs, and lowered when a safety event makes the ledger step back
    (``on_event: previous_stage`` or ``first_stage``).  A run started below the ledger's stage
    stays at its stage (time below the stage reached earns nothing); so does a run after an
    accepted safety reset (:meth:`start_at`, never above the ledger's stage).  The speed is applied
    one tick after the ledger changed (the ledger sees a tick after the loop's speed update).

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
        """Go to a stage, but never above the ledger's, and stay at or below it for the rest of the
        run (a safety reset's restart, ``LoopConfig.restart_stage``).

        Raises:
            SafetyConfigError: ``stage`` names no stage.
        """
        fraction = super().start_at(stage)
        allowed = min(self.recorder.reached, len(self.config.stages) - 1)
        if self.stage > allowed:
            log.warning("speed stage %d asked for; the stage ledger allows stage %d: starting there", self.stage, allowed)
            fraction = super().start_at(allowed)
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
        Sim2RealError: ``start_stage`` is above the ledger's stage, another run of this policy on
            this robot is under way, or the file is damaged.
    """
    from sim2real.deploy.preflight_record import file_hash

    book = StageLedger(path)
    try:
        recorder = LedgerRecorder(book, spec, file_hash(policy_path), target)
    except BaseException:
        book.close()
        raise
    try:
        progression = LedgerSpeed(recorder, stages, start_stage)
    except BaseException:
        recorder.close()
        book.close()
        raise
    return recorder, progression


def ledger_start(spec: RobotSpec, policy_path: str | Path, target: str, stages: tuple[float, ...] = DEFAULT_STAGES,
                 path: Path | None = None) -> tuple[SpeedConfig, float]:
    """The speed stages a run the ledger gates would start with (``start_stage``: the ledger's
    stage, as :func:`ledger_run` takes it), and the eventless time earned below that stage [s].
    Reads only (no lock: a run under way is no obstacle; no file is created).

    Raises:
        Sim2RealError: the file is damaged.
    """
    from sim2real.deploy.preflight_record import file_hash

    file = ledger_path(path)
    stage, below = 0, 0.0
    if file.is_file():
        key = (spec.name, spec.hash, file_hash(policy_path), target)
        with StageLedger(file) as book:
            stage = min(book.stage(key, spec.safety.stages.dwell), len(stages) - 1)
            below = sum(book.seconds(key, s) for s in range(stage))
    return SpeedConfig(stages=stages, start_stage=stage), below


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
