"""A control loop run from the command line (``deploy``, ``record``): its live status, the task's
outcome, Ctrl-C ending it cleanly, and the run's summary as text."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["LiveStatus", "TaskOutcome", "outcome_text", "run_loop", "summary_text"]


class LiveStatus:
    """Live status of a running loop: a rich display on a terminal, else a line on stderr every second.

    With ``--json`` (or when stdout is not a terminal) stdout stays clean: lines go to stderr.
    """

    def __init__(self, label: str, total_ticks: int | None, as_json: bool) -> None:
        self.label = label
        self.total = total_ticks
        self.tty = sys.stdout.isatty() and not as_json
        self.period = 0.125 if self.tty else 1.0
        self._next = 0.0
        self._start: float | None = None
        self._live: Any = None
        self._last: Any = None
        self._loop: Any = None

    def attach(self, loop: Any) -> None:
        self._loop = loop

    def __enter__(self) -> LiveStatus:
        if self.tty:
            from rich.live import Live

            self._live = Live(self._render(), refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)
            self._live = None
        elif self._last is not None:
            print(self._line(), file=sys.stderr, flush=True)

    def __call__(self, result: Any) -> None:
        now = time.perf_counter()
        if self._start is None:
            self._start = now
            self._next = now + self.period
        self._last = result
        if now < self._next:
            return
        self._next = now + self.period
        if self._live is not None:
            self._live.update(self._render())
        else:
            print(self._line(), file=sys.stderr, flush=True)

    def _figures(self) -> dict[str, Any]:
        r = self._last
        ticks = r.index + 1
        wall = time.perf_counter() - (self._start or time.perf_counter())
        loop = self._loop
        return {
            "ticks": ticks,
            "t": r.now,
            "stage": r.stage,
            "fraction": r.fraction,
            "rate": (ticks - 1) / wall if wall > 0 else float("nan"),
            "state": "safe_stop (latched)" if loop is not None and loop.monitor.latched else r.state,
            "missed": loop.missed_deadlines if loop is not None else 0,
            "events": sum(v for v in loop.monitor.counters.values()) if loop is not None else 0,
        }

    def _line(self) -> str:
        f = self._figures()
        total = f" of {self.total}" if self.total else ""
        return (
            f"{self.label}: {f['ticks']}{total} ticks done, t={f['t']:.2f} s, stage {f['stage']} "
            f"({100 * f['fraction']:.0f} %), {f['rate']:.0f} Hz, safety {f['state']}, "
            f"{f['missed']} missed deadlines, {f['events']} safety events"
        )

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self.label, show_header=False, box=None)
        if self._last is None:
            table.add_row("starting", "")
            return table
        f = self._figures()
        total = f"/{self.total}" if self.total else ""
        table.add_row("ticks", f"{f['ticks']}{total}   t = {f['t']:.2f} s")
        table.add_row("speed stage", f"{f['stage']} ({100 * f['fraction']:.0f} %)")
        table.add_row("achieved rate", f"{f['rate']:.0f} Hz")
        color = {"ok": "green", "hold": "yellow"}.get(f["state"], "red")
        table.add_row("safety", f"[{color}]{f['state']}[/]   events {f['events']}")
        table.add_row("missed deadlines", str(f["missed"]))
        return table


class TaskOutcome:
    """Whether a deploy run achieved its task, by the task's own rule (:class:`EpisodeJudge
    <sim2real.gap.envelope.EpisodeJudge>`), judged tick by tick on the robot's readings (and the
    twin's true base state for a floating base).  Robots without a task are not judged."""

    def __init__(self, spec: Any, robot: Any, velocity_command: Any) -> None:
        from sim2real.gap.envelope import EpisodeJudge
        from sim2real.tasks import get_task

        self.task = get_task(spec) if spec.task is not None else None
        if self.task is not None and self.task.commands is not None and velocity_command is None:
            velocity_command = (0.0, 0.0, 0.0)  # what the loop gives the policy without --velocity-command
        self.judge = EpisodeJudge(spec, self.task, velocity_command) if self.task is not None else None
        self.robot = robot
        self.floating = bool(spec.floating_base) and hasattr(robot, "base_state")
        self._base = robot.base_state() if self.floating else None
        self._fraction = 1.0
        self._loop: Any = None

    def attach(self, loop: Any) -> None:
        self._loop = loop
        self._fraction = loop.speed.fraction

    def __call__(self, result: Any) -> None:
        if self.judge is None:
            return
        self.judge.observe(result, self._base, self._fraction)
        # what the next tick reads: the state after this tick's command (lockstep and paced alike)
        self._base = self.robot.base_state() if self.floating else None
        if self._loop is not None:
            self._fraction = self._loop.speed.fraction

    def summary(self) -> dict[str, Any]:
        """``{"task", "judged", "success", "reason", "rule"}`` (JSON-ready)."""
        if self.judge is None or self.task is None:
            return {
                "task": None,
                "judged": False,
                "success": None,
                "reason": "the robot has no task to judge",
            }
        from sim2real.gap.envelope import rule_text

        out = self.judge.outcome()
        if out.success and self.judge.standing_still_passes():
            return {
                "task": self.task.name,
                "judged": False,
                "success": None,
                "reason": f"no fall in {out.seconds:g} s, but a base standing still would meet the tracking rule "
                f"at the commands given (speed {100 * self._fraction:.0f} % of the velocity command): "
                "walking is judged at a speed stage whose command exceeds the rule's tolerance",
                "rule": rule_text(self.task, round(out.seconds, 6) or None),
                "seconds": out.seconds,
            }
        return {
            "task": self.task.name,
            "judged": True,
            "success": out.success,
            "reason": out.reason,
            "rule": rule_text(self.task, round(out.seconds, 6) or None),
            "seconds": out.seconds,
        }


def outcome_text(summary: dict[str, Any]) -> str:
    """One line: the task outcome, with a hint when the speed stages kept the policy slow."""
    o = summary.get("outcome") or {}
    if not o.get("judged"):
        return f"task: not judged ({o.get('reason', 'no task')})"
    line = f"task {o['task']}: {'SUCCESS' if o['success'] else 'FAILURE'}"
    if not o["success"]:
        line += f" ({o['reason']})"
    line += f"; rule: {o['rule']}"
    stages = summary.get("stage_changes", 0)
    if not o["success"] and stages == 0 and summary.get("speed_fraction", 1.0) < 1.0:
        line += (
            f"; the run stayed at speed stage {summary['stage']} ({100 * summary['speed_fraction']:.0f} %): "
            "a stage advances after --dwell seconds without a safety event; start higher with --speed"
        )
    return line


def summary_text(summary: dict[str, Any]) -> str:
    """The human summary of a deploy or record run."""
    s = summary
    safety = s["safety"]
    lines = [
        f"{s['robot']}: {s['ticks']} ticks, {s['duration_s']:.2f} s of loop time in {s['wall_s']:.2f} s "
        f"({s['mode']}, target {s['control_rate_hz']:.0f} Hz, achieved "
        f"{(s['achieved_rate_hz'] or 0):.0f} Hz), {s['missed_deadlines']} missed deadlines"
        + (
            " (lockstep: ticks this machine computed slower than the period; no effect on the run)"
            if s["mode"] == "lockstep" and s["missed_deadlines"]
            else ""
        ),
        f"safety: {safety['state']}"
        + (f" (latched: {safety['latch_reason']})" if safety["latched"] else "")
        + f", {safety['events']} events {safety['counters']}, ticks by mode {safety['ticks_by_mode']}",
        f"speed stage {s['stage']} ({100 * s['speed_fraction']:.0f} %), {s['stage_changes']} stage changes",
    ]
    if s.get("episode_return") is not None:
        lines.append(f"episode return {s['episode_return']:.4g}")
    if "outcome" in s:
        lines.append(outcome_text(s))
    if s.get("interrupted"):
        lines.append("interrupted")
    lines.append(f"log: {s['bag']}")
    return "\n".join(lines)


def run_loop(
    loop: Any, seconds: float | None, status: LiveStatus, outcome: TaskOutcome | None = None
) -> dict[str, Any]:
    """Run with a live status; Ctrl-C ends the run cleanly (robot in safe mode, log closed).
    With ``outcome`` (the loop's ``on_tick`` feeds it), the summary gets ``outcome``."""
    interrupted = False
    status.attach(loop)
    if outcome is not None:
        outcome.attach(loop)
    with status:
        try:
            with loop:
                try:
                    loop.run(seconds)
                except KeyboardInterrupt:
                    interrupted = True
        except KeyboardInterrupt:
            interrupted = True
    summary = loop.close()
    if interrupted:
        summary["interrupted"] = True
    if outcome is not None:
        summary["outcome"] = outcome.summary()
    return summary
