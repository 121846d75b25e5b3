"""``sim2real deploy`` (a policy on the twin or a robot, behind the safety layer)."""

from __future__ import annotations

import dataclasses
import math
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
from sim2real.commands.loop_run import LiveStatus, TaskOutcome, run_loop, summary_text
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

    Exit status: 0 when the run completed, whatever its task outcome or safety state (both are in
    the summary and in --json's ``outcome`` and ``safety.latched``: a script tests those); 1 with
    one error line when it could not run.

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
                from sim2real.deploy.collision_model import ObserverModel

                summary, text = _deploy_ros2(
                    spec, policy, speed_config, velocity_command, seconds, out, ros_settings, domain_id, rt_priority,
                    json, gate, recorder, progression, live_view, ObserverModel.of_policy(runner, spec),
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
    from sim2real.deploy.collision_model import ObserverModel
    from sim2real.deploy.loop import ControlLoop, LoopConfig
    from sim2real.deploy.monitor import deployment_monitor

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
    observed = ObserverModel.of_policy(runner, spec)  # checked and compiled once: the monitor's and the line's
    loop = ControlLoop(
        twin_robot,
        runner,
        config=config,
        monitor=deployment_monitor(spec, observed=observed),
        speed=progression,
        log_path=target,
        log_meta={"source": "sim2real deploy", "policy_file": str(Path(policy).resolve()), "twin": twin_info,
                  **ledger_meta(recorder)},
        on_tick=chain(outcome, status) if recorder is None else chain(outcome, recorder, status),
        live=live_view,
    )
    human(
        f"deploy {Path(policy).name} on the {spec.name} twin ({'paced' if realtime else 'lockstep'}), "
        f"speed stage {speed_config.start_stage}, log {target}; {observer_phrase(spec, observed)}",
        json,
    )
    summary = run_loop(loop, seconds, status, outcome)
    twin_robot.close()
    return summary, summary_text(summary)


def observer_phrase(spec: Any, observed: Any) -> str:
    """The startup line's word on collision detection: off, or the model its observer predicts the
    robot's torques with (``observed``, the policy's training model: nominal or its calibration,
    :meth:`~sim2real.deploy.collision_model.ObserverModel.of_policy`)."""
    if not spec.safety.collision.enabled:
        return "collision detection off (safety.collision.enabled: false)"
    return f"collision observer on {observed.describe()}"


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
    observed: Any = None,
) -> tuple[dict[str, Any], str]:
    """``deploy --ros2``: the deployment node until --seconds of control or Ctrl-C; its summary and text.
    ``observed``: the model the collision observer predicts torques with (the policy's, checked once)."""
    from sim2real.deploy.loop import LoopConfig
    from sim2real.deploy.ros2.node import run_ros2_deploy  # MissingExtraError without the ros2 extra

    target = Path(out) if out else default_out(spec, "deploy")
    if target.exists():
        raise Sim2RealError(f"{target} exists already; a log is never overwritten")
    human(
        f"deploy {Path(policy).name} on the ROS 2 robot {spec.name} at {1.0 / spec.control_dt:g} Hz, "
        f"speed stage {speed_config.start_stage}, log {target}; {observer_phrase(spec, observed)}; "
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
        observed=observed,
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
