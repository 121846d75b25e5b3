"""``sim2real deploy`` (a policy on the twin or a robot, behind the safety layer) and ``sim2real faults``."""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

from sim2real.commands.arguments import (
    DomainId,
    NonNegative,
    Port,
    Positive,
    RtPriority,
    Seed,
    VelocityCommand,
)
from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError


def _robot_source(twin: str | None, ros2: bool) -> None:
    if ros2 and twin:
        raise Sim2RealError("give either --twin PARAMS.yaml or --ros2, not both")
    if not twin and not ros2:
        raise Sim2RealError("give the robot to run on: --twin PARAMS.yaml (the simulated twin) or --ros2")


def make_twin(
    spec: Any,
    twin_file: str,
    *,
    realtime: bool,
    seed: int,
    fixed_base: bool = False,
    allow_out_of_bounds: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """The twin from a twin file (checked against the robot: names and plausible bounds), at the
    start state of the robot's task (``fixed_base``: hung by its base, legs in the air); and its
    description."""
    from sim2real.deploy.record import initial_state
    from sim2real.real.twin import TwinConfig, TwinRobot

    config = TwinConfig.load(twin_file, spec, allow_out_of_bounds=allow_out_of_bounds)
    q0, qd0 = initial_state(spec, seed)
    robot = TwinRobot(spec, config, realtime=realtime, initial_qpos=q0, fixed_base=fixed_base)
    robot.reset(q0, qd0)
    effects = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in dataclasses.asdict(config.effects).items()
    }
    described = {
        "file": str(Path(twin_file).resolve()),
        "params": {k: v.tolist() for k, v in config.params.items()},
        "effects": effects,
        "realtime": realtime,
        "fixed_base": fixed_base,
        "start": {"q": q0.tolist(), "qd": qd0.tolist()},
    }
    return robot, described


def default_out(spec: Any, what: str) -> Path:
    """``runs/<robot>_<what>_<date>_<time>`` (not existing yet)."""
    return Path("runs") / time.strftime(f"{spec.name}_{what}_%Y%m%d_%H%M%S")


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


def deploy(
    robot: str,
    policy: str,
    twin: str | None = None,
    ros2: bool = False,
    speed: str | None = None,
    seconds: Positive | None = None,
    out: str | None = None,
    realtime: bool = False,
    dwell: NonNegative | None = None,
    velocity_command: VelocityCommand | None = None,
    seed: Seed = 0,
    ros_config: str | None = None,
    domain_id: DomainId | None = None,
    rt_priority: RtPriority | None = None,
    allow_out_of_bounds: bool = False,
    override_preflight: str | None = None,
    ledger: bool = False,
    live: Port | None = None,
    live_host: str = "127.0.0.1",
    json: bool = False,
) -> int:
    """Run a policy on the robot behind the safety monitor, with live status and a rosbag2 log.

    Per tick: read -> safety check of the state -> observation -> policy -> safety check of the
    command -> write.  On a robot (--ros2, or the twin with --ledger) the stage ledger sets the speed:
    the run starts at the stage earned for this robot, spec and policy (10 % at first), is promoted
    once the stage's dwell (the spec's safety.stages) has accumulated without a safety event across
    runs, and steps back after a safety event per safety.stages.on_event; --speed may only lower
    the start below the ledger's stage.  On the twin without --ledger, the progression starts at
    10 % of the command and velocity limits and advances a stage (25, 50, 75, 100 %) after DWELL
    seconds without a safety event.  A safe stop is latched for the rest of the run.

    Args:
        robot: Embedded robot name or spec YAML path.
        policy: The exported policy (.onnx).
        twin: Run on the simulated twin with these hidden parameters (YAML: params/effects).
        ros2: Run on a ROS 2 robot: the control loop as a ROS 2 node (PolicyDeploymentNode) on a
            timer at the control rate, with e-stop topic and service and /diagnostics.
        speed: First speed stage: an index 0..4, a percentage (50%) or a fraction (0.5); with the
            ledger (--ros2, --ledger) at most the ledger's stage, and the run stays there.
        seconds: Run length [s]; default: until Ctrl-C.
        out: Log directory (rosbag2/MCAP); default runs/<robot>_deploy_<date>_<time>.
        realtime: Pace the loop and the twin to the wall clock (default: lockstep, as fast as it computes).
        dwell: --twin without --ledger: eventless time a speed stage needs before the next one [s]
            (default 10); with the ledger the dwell is the spec's safety.stages.dwell.
        velocity_command: vx vy yaw_rate for velocity-tracking policies (scaled by the speed stage).
        seed: Seed of the start state.
        ros_config: --ros2: YAML of topics, message types, QoS and joint-name mapping (default: the
            spec's ros2: section, or the standard topics).
        domain_id: --ros2: ROS_DOMAIN_ID (default: from the environment).
        rt_priority: --ros2: run under SCHED_FIFO with this priority (1-99; needs the permission).
        allow_out_of_bounds: Accept a twin file whose values lie outside the robot's plausible
            parameter bounds.
        override_preflight: --ros2: start without a passing preflight (give the reason; it is
            recorded in the log).  Without it, --ros2 needs `sim2real preflight --ros2` to have
            passed for this policy file and spec within the last 24 h.
        ledger: --twin: run under the stage ledger of target "twin" (start stage, promotion, steps
            back; never a robot's ledger; see `sim2real stages show`).  --ros2 always runs under
            the robot's ledger.
        live: Serve live telemetry on a Foxglove WebSocket at this port (`--live` alone: 8765; 0: a
            free port): joint states, IMU, commands, events on the bag's topics, and
            /sim2real/status (safety state, speed stage, timing).  Needs the live extra.
        live_host: Interface the live telemetry listens on (0.0.0.0 for a viewer on another machine).
        json: Print a JSON summary on stdout (status lines go to stderr).
    """
    _robot_source(twin, ros2)
    from sim2real.deploy.loop import parse_stage
    from sim2real.deploy.speed import SpeedConfig
    from sim2real.policy.commands import warn_command
    from sim2real.policy.runtime import PolicyRunner
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    stage = parse_stage(speed)
    gated = ros2 or ledger
    if gated and dwell is not None:
        raise Sim2RealError("--dwell does not apply under the stage ledger: its dwell is the spec's safety.stages.dwell")
    runner = PolicyRunner(policy, spec, providers="cpu")  # a bad file fails here, with one line
    warn_command(spec, runner.metadata.observation, velocity_command)
    if ros2:  # a ROS 2 robot gives no terrain height scan: refused before the gate and the ledger
        from sim2real.deploy.loop_build import check_height_scan

        check_height_scan(runner.metadata.observation, None)
    if ros2:
        from sim2real.real.ros2 import Ros2Config  # MissingExtraError without the ros2 extra

        ros_settings = Ros2Config.resolve(spec, ros_config)
        ros_settings.check(spec)
    from sim2real.deploy.preflight_record import robot_settings, robot_target

    settings = robot_settings(ros_settings.to_mapping(), domain_id) if ros2 else {}
    gate = preflight_gate(spec, policy, override_preflight, settings) if ros2 else None
    recorder = progression = None
    if gated:
        from sim2real.deploy.ledger import ledger_run

        recorder, progression = ledger_run(spec, policy, robot_target(domain_id) if ros2 else "twin", stage)
        stage = progression.stage
    speed_config = SpeedConfig(dwell_s=dwell or 10.0, start_stage=stage if stage is not None else 0)
    try:
        from sim2real.deploy.live import live_telemetry

        with live_telemetry(spec, live, live_host, announce=lambda line: human(line, json)) as live_view:
            if ros2:
                summary, text = _deploy_ros2(
                    spec, policy, speed_config, velocity_command, seconds, out, ros_settings, domain_id, rt_priority,
                    json, gate, recorder, progression, live_view, observer_phrase(spec, runner),
                )
            else:
                assert twin is not None
                summary, text = _deploy_twin(
                    spec, runner, policy, twin, speed_config, velocity_command, seconds, out, realtime, seed, json,
                    recorder, progression, live_view, allow_out_of_bounds,
                )
    finally:
        if recorder is not None:
            from sim2real.deploy.ledger import ledger_summary

            ledger_done = ledger_summary(recorder)
    if recorder is not None:
        summary["ledger"] = ledger_done
        text += (
            f"\nstage ledger ({ledger_done['target']}): stage {ledger_done['stage_at_start']} at the start, "
            f"{ledger_done['stage']} now, {ledger_done['earned_s'] / 60:.1f} min earned there"
            + (f" of {ledger_done['dwell_s'] / 60:.1f}" if ledger_done["dwell_s"] else " (the last stage)")
        )
    if live_view is not None:
        summary["live"] = {"url": live_view.url, "messages": live_view.message_count}
    emit(summary, json, text)
    return 0


def _deploy_twin(
    spec: Any,
    runner: Any,
    policy: str,
    twin: str,
    speed_config: Any,
    velocity_command: tuple[float, float, float] | None,
    seconds: float | None,
    out: str | None,
    realtime: bool,
    seed: int,
    json: bool,
    recorder: Any,
    progression: Any,
    live_view: Any,
    allow_out_of_bounds: bool = False,
) -> tuple[dict[str, Any], str]:
    """``deploy --twin``: the loop on the simulated twin, with a live status; its summary and text."""
    from sim2real.deploy.loop import ControlLoop, LoopConfig

    twin_robot, twin_info = make_twin(
        spec, twin, realtime=realtime, seed=seed, allow_out_of_bounds=allow_out_of_bounds
    )
    target = Path(out) if out else default_out(spec, "deploy")
    if target.exists():
        raise Sim2RealError(f"{target} exists already; a log is never overwritten")
    config = LoopConfig(
        mode="paced" if realtime else "lockstep", speed=speed_config, velocity_command=velocity_command
    )
    total = None if seconds is None else max(1, round(seconds / spec.control_dt))
    status = LiveStatus(f"deploy {spec.name}", total, json)
    outcome = TaskOutcome(spec, twin_robot, velocity_command)
    loop = ControlLoop(
        twin_robot,
        runner,
        config=config,
        speed=progression,
        log_path=target,
        log_meta={"source": "sim2real deploy", "policy_file": str(Path(policy).resolve()), "twin": twin_info,
                  **ledger_meta(recorder)},
        on_tick=chain(outcome, status) if recorder is None else chain(outcome, recorder, status),
        live=live_view,
    )
    human(
        f"deploy {Path(policy).name} on the {spec.name} twin ({'paced' if realtime else 'lockstep'}), "
        f"speed stage {speed_config.start_stage}, log {target}; {observer_phrase(spec, runner)}",
        json,
    )
    summary = run_loop(loop, seconds, status, outcome)
    twin_robot.close()
    return summary, summary_text(summary)


def observer_phrase(spec: Any, runner: Any) -> str:
    """The startup line's word on collision detection: off, or the model its observer predicts the
    robot's torques with (the policy's training model: nominal or its calibration)."""
    from sim2real.deploy.collision_model import ObserverModel

    if not spec.safety.collision.enabled:
        return "collision detection off (safety.collision.enabled: false)"
    return f"collision observer on {ObserverModel.of_policy(runner, spec).describe()}"


def chain(*callbacks: Any) -> Any:
    """One ``on_tick`` calling each callback in turn."""

    def on_tick(result: Any) -> None:
        for callback in callbacks:
            callback(result)

    return on_tick


def ledger_meta(recorder: Any) -> dict[str, Any]:
    """What the log's metadata says about the ledger run (nothing without one)."""
    if recorder is None:
        return {}
    return {"ledger": {"target": recorder.key[3], "stage": recorder.reached, "earned_s": recorder.earned,
                       "dwell_s": list(recorder.rule.dwell), "on_event": recorder.rule.on_event,
                       "file": str(recorder.ledger.path)}}


def _deploy_ros2(
    spec: Any,
    policy: str,
    speed_config: Any,
    velocity_command: tuple[float, float, float] | None,
    seconds: float | None,
    out: str | None,
    ros_config: Any,
    domain_id: int | None,
    rt_priority: int | None,
    json: bool,
    gate: dict[str, Any] | None = None,
    recorder: Any = None,
    progression: Any = None,
    live_view: Any = None,
    observer: str = "",
) -> tuple[dict[str, Any], str]:
    """``deploy --ros2``: the deployment node until --seconds of control or Ctrl-C; its summary and text."""
    from sim2real.deploy.loop import LoopConfig
    from sim2real.deploy.ros2.node import run_ros2_deploy  # MissingExtraError without the ros2 extra

    target = Path(out) if out else default_out(spec, "deploy")
    if target.exists():
        raise Sim2RealError(f"{target} exists already; a log is never overwritten")
    human(
        f"deploy {Path(policy).name} on the ROS 2 robot {spec.name} at {1.0 / spec.control_dt:g} Hz, "
        f"speed stage {speed_config.start_stage}, log {target}; {observer}; "
        "Ctrl-C stops into safe mode",
        json,
    )
    summary = run_ros2_deploy(
        spec,
        policy,
        ros_config=ros_config,
        loop_config=LoopConfig(mode="paced", speed=speed_config, velocity_command=velocity_command),
        log_path=target,
        log_meta={"source": "sim2real deploy --ros2", "policy_file": str(Path(policy).resolve()), "preflight": gate,
                  **ledger_meta(recorder)},
        seconds=seconds,
        domain_id=domain_id,
        rt_priority=rt_priority,
        speed=progression,
        on_tick=recorder,
        live=live_view,
    )
    summary["log"] = str(target)
    loop = summary.get("loop") or {}
    return summary, summary_text(loop) if loop else f"log {target}"


def preflight_gate(spec: Any, policy: str, override: str | None, ros2_config: dict[str, Any]) -> dict[str, Any]:
    """What lets a robot deployment start: a passing preflight of this policy and spec on a robot
    within 24 h with the same ROS 2 settings (``ros2_config``: topics, types, joint names, command
    order), or an explicit override (both go into the log's metadata).

    Raises:
        Sim2RealError: neither; a passing run with other settings is named, with the keys that differ.
    """
    import logging

    from sim2real.deploy.preflight_record import file_hash, find_passing, record_path, settings_difference

    policy_hash = file_hash(policy)
    found = find_passing(spec.hash, policy_hash, target="robot", ros2_config=ros2_config)
    if found is not None:
        return {
            "passed_at": found["time_iso"],
            "policy_hash": policy_hash,
            "operator": found.get("operator"),
            "fixed_base": bool(found.get("fixed_base", False)),  # checklist run hung from a stand
        }
    if override:
        logging.getLogger(__name__).warning("deploy without a passing preflight: overridden (%s)", override)
        return {"override": override, "policy_hash": policy_hash}
    other = find_passing(spec.hash, policy_hash, target="robot")
    if other is not None:
        differ = settings_difference(other.get("ros2_config"), ros2_config)
        raise Sim2RealError(
            f"the passing preflight of {Path(policy).name} on the {spec.name} robot ({other['time_iso']}) ran with "
            f"other ROS 2 settings ({', '.join(differ)} differ): run `sim2real preflight ... --ros2` again with the "
            "--ros-config of this deployment, or give --override-preflight REASON"
        )
    raise Sim2RealError(
        f"no passing preflight of {Path(policy).name} (sha256 {policy_hash[:12]}) on the {spec.name} robot "
        f"(spec {spec.hash[:12]}) within 24 h in {record_path()}: run `sim2real preflight --robot "
        f"{spec.name} --policy {policy} --ros2 --confirm perimeter`, or give --override-preflight REASON"
    )


def faults_text(result: dict[str, Any]) -> str:
    """The fault suite as a table (plain text)."""
    rows = [
        f"{'case':<18} {'detected':<9} {'reaction':<14} {'expected':<14} {'periods':>7} {'ms':>7} "
        f"{'unsafe':>6}  result"
    ]
    for c in result["cases"]:
        ms = "" if c["reaction_ms"] is None else f"{c['reaction_ms']:.2f}"
        periods = "" if c["reaction_periods"] is None else str(c["reaction_periods"])
        rows.append(
            f"{c['name']:<18} {('yes' if c['detected'] else 'NO'):<9} {c['reaction']:<14} {c['expected']:<14} "
            f"{periods:>7} {ms:>7} {c['unsafe_commands']:>6}  {'ok' if c['passed'] else 'FAILED'}"
        )
    rows.append(
        "  (periods: control periods from the tick the fault shows to the reacting command, 0 = the same tick; "
        "ms: that loop time plus the reacting tick's compute time; unsafe: commands written that the audit's "
        "independent re-check of the hard limits rejects)"
    )
    rows += [f"  {c['name']}: {c['note']}" for c in result["cases"] if c.get("note")]
    rows += [f"  speed stage: {result['stage_note']}"] if result.get("stage_note") else []
    untested = result.get("not_tested", [])
    rows += [f"{c['name']:<18} NOT TESTED: {c['reason']}" for c in untested]
    rows.append(
        f"{result['robot']}: {sum(c['passed'] for c in result['cases'])}/{len(result['cases'])} cases passed"
        + (f", {len(untested)} NOT TESTED ({', '.join(c['name'] for c in untested)})" if untested else "")
        + f", all detected: {result['all_detected']}, unsafe commands: {result['unsafe_commands_total']}, "
        f"control period {1e3 * result['control_dt']:g} ms"
        + (f"; does not apply: {', '.join(result['skipped'])}" if result["skipped"] else "")
    )
    return "\n".join(rows)


def faults(
    robot: str,
    policy: str | None = None,
    speed: str | None = None,
    seed: Seed = 0,
    fixed_base: bool = False,
    json: bool = False,
) -> int:
    """Fault-injection suite of the safety layer on the twin; exits 1 when a case fails or could not
    be tested (NOT TESTED, with the reason and what to fix; a case that does not apply to this kind
    of robot, such as tilt on a fixed base, is listed and does not fail).

    Each case injects a fault (NaN readings, NaN/inf policy output, NaN policy input, stale readings,
    dropped readings, a latency spike, a joint pushed beyond its position or velocity limit, an
    over-limit measured torque, a torque command beyond the limit, a command rate spike, tilt and
    height for floating bases, an e-stop, a missing policy file) and checks that it is detected,
    the reaction's severity, that the reaction comes within one control period, and that no unsafe
    command reached the robot (every command is audited against the spec's limits).

    Args:
        robot: Embedded robot name or spec YAML path.
        policy: A policy (.onnx) to use instead of the stand-in PD-to-default-pose policy.
        speed: Speed stage of the runs (index, percentage or fraction); default the last (100 %).
        seed: Seed of the twin and the start states.
        fixed_base: The twin hangs by its base, legs in the air (a humanoid its gains cannot carry
            standing, as preflight --fixed-base): the monitor checks the joints; tilt and height
            cases do not apply, the collision case pushes a leg.
        json: Print the results as JSON on stdout.
    """
    from sim2real.deploy.faults import run_suite
    from sim2real.deploy.loop import parse_stage
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    if fixed_base:
        from sim2real.deploy.record import fixed_base_spec

        spec = fixed_base_spec(spec)
    factory = None
    if policy is not None:
        from sim2real.policy.runtime import PolicyRunner

        PolicyRunner(policy, spec, providers="cpu")  # fail early, with one line, on a bad file

        def factory(s: Any) -> Any:
            return PolicyRunner(policy, s, providers="cpu")

    hung = " hung by its base" if fixed_base else ""
    human(f"fault-injection suite on the {spec.name} twin{hung} (spec {spec.hash[:12]})", json)
    # the faults are injected on purpose: the safety layer's warnings and errors about them are the
    # expected reactions, which the table reports case by case (-v shows them as they happen)
    deploy_log = logging.getLogger("sim2real.deploy")
    quiet = not logging.getLogger("sim2real").isEnabledFor(logging.INFO)
    level = deploy_log.level
    if quiet:
        deploy_log.setLevel(logging.CRITICAL)
    try:
        result = run_suite(spec, policy_factory=factory, stage=parse_stage(speed), seed=seed, fixed_base=fixed_base)
    finally:
        deploy_log.setLevel(level)
    emit(result, json, faults_text(result))
    return 0 if result["all_passed"] else 1
