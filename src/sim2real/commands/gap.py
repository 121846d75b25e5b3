"""``sim2real gap``: replay a robot log in simulation and measure the reality gap."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import tyro

from sim2real.commands.arguments import Count, NonNegativeCount, Positive, Seed, VelocityCommand
from sim2real.commands.output import emit, human, output_file


def gap(
    log: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="LOG")],
    robot: str,
    calib: str | None = None,
    horizon: Positive | None = None,
    csv_map: str | None = None,
    topic: tuple[str, ...] = (),
    command_order: str = "auto",
    motor_order: tuple[str, ...] | None = None,
    fixed_base: bool = False,
    velocity: Literal["auto", "log", "fd"] = "auto",
    threshold: Positive = 0.1,
    report: str | None = None,
    allow_out_of_bounds: bool = False,
    json: bool = False,
) -> int:
    """Replay a log's commands in simulation and measure how simulation and robot part ways.

    With --horizon H, windows start every H seconds from the logged state and replay the logged
    commands for H seconds; without it, one open-loop replay from the start.  Predictions are
    compared with the log at its own sample times.

    Args:
        log: rosbag2 directory (split or compressed too), .mcap/.db3 file, ROS 1 .bag file or a split ROS 1
            recording's folder, or CSV file (with --csv-map).
        robot: Embedded robot name or spec YAML path.
        calib: Calibration YAML (from `sim2real identify`) to replay with instead of nominal values.
        horizon: Window length [s]; omit for one open-loop replay.
        csv_map: Column map of a CSV log: pendulum (DFKI pendulum), qube (Quanser QUBE-Servo 2),
            or a YAML column map file of the log's columns (docs/real_data.md).
        topic: A bag of another recorder: the topic of a role where the bag lacks sim2real's name
            and more than one topic could hold it, as ROLE=TOPIC (roles: joint_states, commands,
            imu, base: odometry), e.g. commands=/forward_position_controller/commands;
            joint_states=T1,T2 joins joint states published per leg or bus.
        command_order: A bag of another recorder whose commands name no joints: which joint each
            value drives: auto (as the bag allows: the actuator order, or the /joint_states order
            where that is the actuator order), robot (the actuator order), states (the order of the
            bag's /joint_states names) or J1,J2,... (the joints, in the order of the values).
        motor_order: A Unitree bag (unitree_go/unitree_hg LowState and LowCmd, which name no
            joints): the joint of motor 0, 1, ... as J1,J2,... or J1 J2 ... ("-" for an unused slot; motors
            beyond the list are not read). Required for such a bag (docs/real_data.md).
        fixed_base: The log was recorded with the robot hung by its base (legs in the air): for a log
            that does not say (a CSV, another recorder's bag); sim2real's own hung logs
            (`record --fixed-base`) are replayed hung without it.
        velocity: Initial window velocities: the log's column, a local fit to positions (fd), or
            auto (the column unless it disagrees with the positions' slope).
        threshold: Position error [rad] that counts as diverged.
        report: Write an HTML report (trajectory overlays, error growth, sim-vs-real histograms,
            metrics, failed episodes) to this file.
        allow_out_of_bounds: Accept a calibration whose values lie outside the robot's plausible
            parameter bounds.
        json: Print a JSON summary on stdout.

    Failed episodes of a policy's log (a safety stop, a task termination, or the task's success
    rule not met; episodes split at the deploy log's start/reset events) that diverged from the
    simulation are listed with their divergence point and the channels that diverged first.  An
    excitation log (`sim2real record --excite`), a CSV log or a bag of another recorder records no
    policy, so no task to fail: it gets no failure analysis.
    """
    import dataclasses

    from sim2real.calibration import calibrated_model
    from sim2real.gap.core import measure_gap
    from sim2real.gap.failure import analyze_failures
    from sim2real.gap.io import load_logs
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    if report:
        output_file(report, "--report")
    (trajectory,) = load_logs(
        spec,
        [log],
        csv_map,
        min_seconds=horizon or 2 * spec.control_dt,
        topics=topic,
        fixed_base=fixed_base,
        command_order=command_order,
        motor_order=motor_order,
    )
    hung = spec.base_body is not None and bool(trajectory.meta.get("fixed_base"))
    if hung:
        from sim2real.sim.floating import hung_model

        human(f"{log} was recorded with {spec.name} hung by its base: replayed on the hung model", json)
    model = calibrated_model(spec, calib, hung_model(spec) if hung else None, allow_out_of_bounds=allow_out_of_bounds)
    mode = "open loop" if horizon is None else f"windows of {horizon:g} s"
    human(f"replaying {log} on {spec.name} ({'calibrated' if calib else 'nominal'}, {mode})", json)
    result = measure_gap(
        spec, trajectory, model=model, horizon=horizon, velocity=velocity, threshold=threshold
    )
    policy = trajectory.meta.get("policy")  # None: a CSV or another recorder's bag, no episodes of a policy
    no_task = not policy or bool(policy.get("excitation"))
    failures = [] if no_task else analyze_failures(spec, trajectory, result, task=_task_of(spec))
    result = dataclasses.replace(result, failures=failures)
    summary = result.summary()
    summary |= {"robot": spec.name, "log": log, "calib": calib, "fixed_base": hung}
    if report:
        from sim2real.report import Report, add_gap

        rep = Report(
            f"Reality gap — {spec.name}",
            f"log {log}; {'calibration ' + calib if calib else 'nominal parameters'}",
        )
        add_gap(rep, result, "calibrated" if calib else "nominal")
        summary["report"] = str(rep.write(report))
    import mujoco

    from sim2real.param_kinds import position_unit

    pooled = position_unit(model, list(result.joints))
    lines = [
        f"position RMSE {result.position_rmse:.4f} {pooled}, velocity RMSE {result.velocity_rmse:.4f} "
        f"{'rad/s and m/s' if pooled == 'rad and m' else pooled + '/s'} "
        f"({result.samples} samples, {result.windows} window(s))",
    ]

    for j in result.joints:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j)
        unit = "m" if jid >= 0 and model.jnt_type[jid] == mujoco.mjtJoint.mjJNT_SLIDE else "rad"
        lines.append(
            f"  {j:<12} position {result.position_rmse_per_joint[j]:.4f} {unit}   "
            f"velocity {result.velocity_rmse_per_joint[j]:.4f} {unit}/s"
        )
    if result.base_position_rmse is not None:
        lines.append(
            f"base: position RMSE {result.base_position_rmse:.4f} m, velocity RMSE "
            f"{result.base_velocity_rmse:.4f} m/s ("
            + (
                f"no base state in the log: replayed from one estimated {trajectory.meta['base_estimated']})"
                if trajectory.meta.get("base_estimated")
                else f"replayed from the logged {'/'.join(sorted(set(result.replay.base_source)))} base state)"
            )
        )
    if result.base_velocity_estimate_rmse is not None:
        lines.append(
            f"on-board base velocity estimate vs ground truth: RMSE {result.base_velocity_estimate_rmse:.4f} m/s"
        )
    from sim2real.report.sections import divergence_text

    rate = summary["divergence_rate"]
    lines.append(divergence_text(rate) if rate is not None else "divergence rate: -")
    if result.divergence_time_s is None:
        lines.append(
            f"error stays below {threshold:g} rad (the RMS position error by time into a replay; --threshold)"
        )
    else:
        lines.append(
            f"error passes {threshold:g} rad after {result.divergence_time_s:.3f} s (the RMS position error over the "
            "windows by time into a replay; --threshold)"
        )
        where = result.divergence_text()
        if where:
            lines.append(f"  {where}")
    lines.append("distribution distances sim vs real (Wasserstein, KS):")
    for name, d in result.channels.items():
        lines.append(f"  {name:<24} {d['wasserstein']:.4g}  {d['ks']:.3f}")
    diverged = [f for f in failures if f.divergence_t is not None]
    for f in diverged:
        first = ", ".join(c.channel for c in f.first_channels[:3]) or "-"
        lines.append(
            f"failed episode {f.episode} [{f.t_start:.2f}, {f.t_end:.2f}] s ({f.reason}): "
            f"sim and robot parted at {f.divergence_t:.3f} s (its first sample whose position error passes "
            f"the threshold), first in {first}"
        )
    if diverged and len(failures) > len(diverged):
        lines.append(
            f"  ({len(failures) - len(diverged)} more failed episode(s) did not diverge from the simulation)"
        )
    if report:
        lines.append(f"report written to {report}")
    emit(summary, json, "\n".join(lines))
    return 0


def _task_of(spec):
    """The robot's built-in task (success rule for the failure analysis), or None."""
    from sim2real.tasks import get_task

    return get_task(spec) if spec.task is not None else None


def envelope(
    robot: str,
    policy: str,
    grid: str,
    episodes: Count = 4,
    twin: str | None = None,
    report: str | None = None,
    workers: NonNegativeCount = 0,
    seed: Seed = 0,
    episode_s: Positive | None = None,
    velocity_command: VelocityCommand | None = None,
    allow_out_of_bounds: bool = False,
    ray: str | None = None,
    json: bool = False,
) -> int:
    """Transfer envelope: a policy's success rate on the twin over a grid of parameter values.

    Each cell builds the twin with the cell's values and runs the policy (ONNX, through the
    deployment loop with its safety monitor) for K episodes from the task's reset; success is the
    task's own rule, and a termination or a safety stop is a failure.  A floating base (e.g. the
    quadruped) is judged on the twin's true base state (height, tilt, base velocity); a
    velocity-tracking task gets one fixed velocity command in every episode.

    Args:
        robot: Embedded robot name or spec YAML path.
        policy: ONNX policy file (from `sim2real export`).
        grid: One or two axes "name=lo:hi:n[,name=lo:hi:n]" (n values from lo to hi; names may be
            patterns), e.g. "actuator.*.delay=0:0.03:4,geom.floor.friction=0.3:1.5:4".
        episodes: Episodes per cell K.
        twin: Twin file (parameters and effects) the cells start from; default nominal values.
        report: Write an HTML report with the heat map to this file.
        workers: Worker processes (0: one per CPU; 1: this process).
        seed: Seed of the initial states and the twin's random effects.
        episode_s: Episode length [s]; default the task's (the success rule's hold window still
            applies, so it should be longer than that window).
        velocity_command: vx [m/s] vy [m/s] yaw_rate [rad/s] of every episode of a velocity-tracking
            policy (at full speed); default 0.5 0 0 (walk forward).  Not for other tasks.
        allow_out_of_bounds: Accept a twin file whose values lie outside the robot's plausible
            parameter bounds (the grid's own values are not checked).
        ray: Run the cells as tasks on a Ray cluster: its address (host:port, auto) or "local" to
            start one on this machine (needs the ray extra; --workers is then unused).  The map
            is the same as without it.
        json: Print a JSON summary on stdout.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sim2real.errors import PolicyError
    from sim2real.gap.envelope import EnvelopeConfig, evaluate_envelope, parse_grid, resolve_axes
    from sim2real.parallel import make_executor
    from sim2real.robots import load_robot

    parse_grid(grid)  # a bad grid fails before anything loads
    if report:
        output_file(report, "--report")
    config = EnvelopeConfig(
        episodes=episodes,
        seed=seed,
        workers=workers,
        episode_s=episode_s,
        velocity_command=velocity_command,
    )
    spec = load_robot(robot)
    resolve_axes(spec, grid)
    if not Path(policy).is_file():
        raise PolicyError(f"policy file not found: {policy}")
    from sim2real.policy.metadata import read_metadata

    read_metadata(policy).check_spec(spec, f"policy {policy}")  # another robot's policy: before the bar
    if twin is not None:
        from sim2real.real.twin import TwinConfig

        TwinConfig.load(twin, spec, allow_out_of_bounds=allow_out_of_bounds)
    if velocity_command is not None:  # a command for a task that takes none fails before the progress bar
        from sim2real.gap.envelope import resolve_velocity_command
        from sim2real.tasks import get_task

        resolve_velocity_command(get_task(spec), velocity_command)
    console = Console(stderr=True)
    columns = (
        TextColumn("envelope"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cells"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=json) as bar:
        task_id = bar.add_task("cells", total=None)

        last_line = [time.perf_counter()]

        def progress(done: int, total: int) -> None:
            bar.update(task_id, completed=done, total=total)
            now = time.perf_counter()
            if not console.is_terminal and (now - last_line[0] >= 10.0 or done == total):
                last_line[0] = now  # a log file or a pipe: a line every 10 s instead of the bar
                print(f"envelope: {done}/{total} cells", file=sys.stderr, flush=True)

        with make_executor(ray) if ray is not None else contextlib.nullcontext() as executor:
            result = evaluate_envelope(
                spec,
                policy,
                grid,
                config=config,
                twin=twin,
                robot_ref=robot,
                progress=progress,
                executor=executor,
            )
    summary = result.summary()
    if ray is not None:
        summary["ray"] = {"address": ray, "retries": executor.retries}
    if report:
        from sim2real.report import Report, add_envelope

        rep = Report(
            f"Transfer envelope — {spec.name}", f"policy {policy}" + (f", twin {twin}" if twin else "")
        )
        add_envelope(rep, result)
        summary["report"] = str(rep.write(report))
    emit(summary, json, _envelope_text(result, summary.get("report")))
    return 0


def _envelope_text(result, report: str | None) -> str:
    """The success-rate grid as text."""
    import numpy as np

    from sim2real.gap.envelope import command_text

    rate = np.atleast_2d(result.success_rate)
    axes = result.axes
    lines = []
    if result.velocity_command is not None:
        lines.append(f"velocity command: {command_text(result.velocity_command)}")
    lines.append(f"success rate over {result.episodes} episode(s) per cell ({result.rule}):")
    cols = axes[1] if len(axes) == 2 else None
    head = f"{axes[0].name:>24} " + ("" if cols is None else " ".join(f"{v:>8.4g}" for v in cols.values))
    if cols is not None:
        lines.append(f"{'':>24}  {cols.name}")
    lines.append(head)
    rows = rate if cols is not None else rate.T
    for v, row in zip(axes[0].values, rows, strict=True):
        lines.append(f"{v:>24.4g} " + " ".join(f"{x:>8.0%}" for x in row))
    if report:
        lines.append(f"report: {report}")
    return "\n".join(lines)
