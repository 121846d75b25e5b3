"""``sim2real record``: a log of the twin (or a robot) for identification, under the safety monitor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from sim2real.commands.arguments import DomainId, Port, Positive, RtPriority, Seed, VelocityCommand
from sim2real.commands.deploy import _robot_source, make_twin
from sim2real.commands.loop_run import LiveStatus, run_loop, summary_text
from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError

log = logging.getLogger(__name__)


def record(
    robot: str,
    out: str,
    twin: str | None = None,
    ros2: bool = False,
    excite: Literal["chirp", "prbs", "steps", "trot"] | None = None,
    policy: str | None = None,
    velocity_command: VelocityCommand | None = None,
    seconds: Positive = 20.0,
    amplitude: Positive | None = None,
    seed: Seed = 0,
    speed: str | None = None,
    realtime: bool = False,
    ros_config: str | None = None,
    domain_id: DomainId | None = None,
    rt_priority: RtPriority | None = None,
    fixed_base: bool = False,
    allow_out_of_bounds: bool = False,
    live: Port | None = None,
    live_host: str = "127.0.0.1",
    json: bool = False,
) -> int:
    """Record a run for system identification as a rosbag2/MCAP log, with the safety monitor active.

    Excitation is scaled per actuator: voltage and torque actuators get AMPLITUDE times their limit
    (defaults 0.5 and 0.3) plus a weak PD towards the default pose that keeps them inside their
    position limits (e.g. the furuta's arm); pd actuators get AMPLITUDE radians around the default
    pose (default 0.1).  The run starts from the robot task's start state (the furuta hanging).

    Legged robots are identified legs in the air: with --fixed-base the twin hangs by its base (on
    hardware, hang the robot from a stand first), every joint gets its own chirp (default 0.3 rad for
    pd joints, less where the sweep would ask over half a joint's velocity limit) and the safety monitor checks the joints only; `identify --fixed-base` reads the log.
    On the floor, a legged robot's log carries its base state: the on-board estimate (/odom) and,
    on the twin, the true state (/ground_truth/odom).  --excite trot walks it with an open-loop trot.

    Args:
        robot: Embedded robot name or spec YAML path.
        out: Log directory to write (must not exist).
        twin: Record the simulated twin with these hidden parameters (YAML: params/effects).
        ros2: Record a ROS 2 robot (the loop runs as a ROS 2 node at the control rate, as in
            ``deploy --ros2``; the robot is found on the topics of --ros-config or the spec).
        excite: Excitation signal, or "trot" (an open-loop trot of a legged robot).
        policy: Or: run this exported policy (.onnx) on the twin (on a ROS 2 robot a policy runs
            through ``deploy --ros2``, behind its preflight and stage ledger).
        velocity_command: --policy: vx vy yaw_rate for a velocity-tracking policy (scaled by the
            speed stage), as ``deploy`` takes it; default 0 0 0.
        seconds: Length of the recording [s].
        amplitude: Excitation amplitude: a fraction of the voltage/torque limit, radians for pd.
        seed: Seed of the random signals and of the start state.
        speed: Speed stage (index, percentage or fraction); default the last (100 %) for an
            excitation, the first (10 %) for a policy.
        realtime: Pace to the wall clock (default: lockstep, as fast as it computes).
        ros_config: --ros2: YAML of topics, message types, QoS and joint-name mapping.
        domain_id: --ros2: ROS_DOMAIN_ID (default: from the environment).
        rt_priority: --ros2: run under SCHED_FIFO with this priority (1-99; needs the permission).
        fixed_base: The robot hangs by its base, legs in the air (the twin hangs itself).
        allow_out_of_bounds: Accept a twin file whose values lie outside the robot's plausible
            parameter bounds.
        live: Serve live telemetry on a Foxglove WebSocket at this port while recording (`--live`
            alone: 8765; 0: a free port); see `deploy --live`.  Needs the live extra.
        live_host: Interface the live telemetry listens on.
        json: Print a JSON summary on stdout (status lines go to stderr).
    """
    if (excite is None) == (policy is None):
        raise Sim2RealError("give exactly one of --excite chirp|prbs|steps and --policy P")
    if velocity_command is not None and policy is None:
        raise Sim2RealError("--velocity-command applies to --policy (an excitation takes no command)")
    if ros2 and policy is not None:  # deploy --ros2 gates a policy with its preflight and stage ledger
        raise Sim2RealError(
            "record --ros2 runs an excitation (--excite); a policy runs on a real robot only through "
            "`sim2real deploy --ros2 --out LOG`, behind its preflight and stage ledger (the log is the same)"
        )
    _robot_source(twin, ros2)
    from sim2real.deploy.loop import ControlLoop, LoopConfig, parse_stage
    from sim2real.deploy.record import ExcitationPolicy, TrotGait, fixed_base_spec
    from sim2real.deploy.speed import SpeedConfig
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    if fixed_base:
        spec = fixed_base_spec(spec)  # the monitor checks the joints of a hung robot only
        if excite == "trot":
            raise Sim2RealError("--excite trot walks a robot on the floor; it cannot go with --fixed-base")
    target = Path(out)
    if target.exists():
        raise Sim2RealError(f"{target} exists already; a log is never overwritten")
    stage = parse_stage(speed)
    if excite == "trot":
        if amplitude is not None:
            raise Sim2RealError("--amplitude applies to chirp, prbs and steps")
        driver: Any = TrotGait(spec)
        what = "open-loop trot"
        start = len(SpeedConfig().stages) - 1 if stage is None else stage
    elif excite is not None:
        driver = ExcitationPolicy(spec, excite, seconds, amplitude=amplitude, seed=seed, per_joint=fixed_base)
        what = f"{excite} excitation{' per joint, hung by the base' if fixed_base else ''}"
        start = len(SpeedConfig().stages) - 1 if stage is None else stage
    else:
        from sim2real.policy.runtime import PolicyRunner

        if amplitude is not None:
            raise Sim2RealError("--amplitude applies to --excite only")
        from sim2real.policy.commands import warn_command

        driver = PolicyRunner(policy, spec, providers="cpu")
        warn_command(spec, driver.metadata.observation, velocity_command)
        what = f"policy {Path(str(policy)).name}" + (
            f" at velocity command {' '.join(f'{v:g}' for v in velocity_command)}" if velocity_command else ""
        )
        start = 0 if stage is None else stage
    from sim2real.deploy.live import live_telemetry

    with live_telemetry(spec, live, live_host, announce=lambda line: human(line, json)) as live_view:
        if ros2:
            summary, text = _record_ros2(
                spec,
                driver,
                start,
                seconds,
                target,
                what,
                seed,
                ros_config,
                domain_id,
                rt_priority,
                json,
                fixed_base,
                live_view,
            )
        else:
            assert twin is not None
            twin_robot, twin_info = make_twin(
                spec,
                twin,
                realtime=realtime,
                seed=seed,
                fixed_base=fixed_base,
                allow_out_of_bounds=allow_out_of_bounds,
            )
            config = LoopConfig(
                mode="paced" if realtime else "lockstep",
                speed=SpeedConfig(start_stage=start),
                speed_applies_to=_stages_slow(policy),
                velocity_command=velocity_command,
            )
            total = max(1, round(seconds / spec.control_dt))
            status = LiveStatus(f"record {spec.name}", total, json)
            meta = {"source": "sim2real record", "twin": twin_info, "seed": seed, "fixed_base": fixed_base}
            if policy is not None:
                meta["policy_file"] = str(Path(policy).resolve())
                meta["velocity_command"] = list(velocity_command) if velocity_command is not None else None
            loop = ControlLoop(
                twin_robot, driver, config=config, log_path=target, log_meta=meta, on_tick=status, live=live_view
            )
            human(f"record {what} on the {spec.name} twin for {seconds:g} s, log {target}", json)
            summary = run_loop(loop, seconds, status)
            twin_robot.close()
            text = summary_text(summary)
    emit(summary, json, text)
    standing = spec.floating_base and not fixed_base and excite not in (None, "trot")
    hint = "; a legged robot standing under excitation falls: --fixed-base hangs it by its base" if standing else ""
    _warn_if_stopped(summary.get("safety") or (summary.get("loop") or {}).get("safety"), hint)
    return 0


def _warn_if_stopped(safety: dict[str, Any] | None, hint: str = "") -> None:
    """A loud line when most of the log is safe mode: identification needs the excitation, and a
    log that is mostly a robot braking into its damping says little about the robot (``hint``: a
    way out, appended)."""
    if not safety or not safety.get("latched"):
        return
    modes = safety.get("ticks_by_mode") or {}
    total = sum(modes.values())
    if total and modes.get("safe", 0) > 0.5 * total:
        log.warning(
            "%s",
            f"the safety layer stopped the run ({safety.get('latch_reason')}): {modes['safe']} of {total} ticks of "
            f"the log are in safe mode, not excitation; identify from it only once a record runs to its end{hint}",
        )


def _stages_slow(policy: str | None) -> Literal["auto", "joint_targets"]:
    """What a speed stage slows: an excitation or the trot (no policy) ignores the velocity command
    the robot's spec may have, so its joint targets; a policy, by its velocity command or not."""
    return "auto" if policy is not None else "joint_targets"


def _record_ros2(
    spec: Any,
    driver: Any,
    start: int,
    seconds: float,
    target: Path,
    what: str,
    seed: int,
    ros_config: str | None,
    domain_id: int | None,
    rt_priority: int | None,
    json: bool,
    fixed_base: bool = False,
    live_view: Any = None,
) -> tuple[dict[str, Any], str]:
    """``record --ros2``: an excitation (never a policy: that is ``deploy --ros2``, gated) as a ROS 2
    node until --seconds of control have run.

    Returns:
        The summary and its human text (the caller emits them once the live view is closed)."""
    from sim2real.deploy.loop import ControlLoop, LoopConfig
    from sim2real.deploy.ros2.node import run_ros2_deploy  # MissingExtraError without the ros2 extra
    from sim2real.deploy.speed import SpeedConfig

    meta: dict[str, Any] = {"source": "sim2real record --ros2", "seed": seed, "fixed_base": fixed_base}

    def make_loop(robot: Any) -> ControlLoop:
        speed = SpeedConfig(start_stage=start)
        config = LoopConfig(mode="paced", speed=speed, speed_applies_to=_stages_slow(None))
        return ControlLoop(robot, driver, config=config, log_path=target, log_meta=meta, live=live_view)

    human(f"record {what} on the ROS 2 robot {spec.name} for {seconds:g} s, log {target}", json)
    summary = run_ros2_deploy(
        spec,
        what,
        ros_config=ros_config,
        seconds=seconds,
        domain_id=domain_id,
        rt_priority=rt_priority,
        make_loop=make_loop,
    )
    summary["log"] = str(target)
    loop = summary.get("loop") or {}
    return summary, summary_text(loop) if loop else f"log {target}"
