"""``sim2real gap``: replay a robot log in simulation and measure the reality gap."""

from __future__ import annotations

from typing import Annotated, Literal

import tyro

from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError

CsvMap = Literal["pendulum", "qube"]


def gap(
    log: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="LOG")],
    robot: str,
    calib: str | None = None,
    horizon: float | None = None,
    csv_map: CsvMap | None = None,
    velocity: Literal["auto", "log", "fd"] = "auto",
    threshold: float = 0.1,
    json: bool = False,
) -> int:
    """Replay a log's commands in simulation and measure how simulation and robot part ways.

    With --horizon H, windows start every H seconds from the logged state and replay the logged
    commands for H seconds; without it, one open-loop replay from the start.  Predictions are
    compared with the log at its own sample times.

    Args:
        log: Bag directory, .mcap file, or CSV file (with --csv-map).
        robot: Embedded robot name or spec YAML path.
        calib: Calibration YAML (from `sim2real identify`) to replay with instead of nominal values.
        horizon: Window length [s]; omit for one open-loop replay.
        csv_map: Column map of a CSV log: pendulum (DFKI pendulum) or qube (Quanser QUBE-Servo 2).
        velocity: Initial window velocities: the log's column, a local fit to positions (fd), or
            auto (the column unless it disagrees with the positions' slope).
        threshold: Position error [rad] that counts as diverged.
        json: Print a JSON summary on stdout.
    """
    from sim2real.gap.core import measure_gap
    from sim2real.gap.io import load_logs
    from sim2real.robots import load_robot
    from sim2real.sysid.calibration import calibrated_model

    if not threshold > 0:
        raise Sim2RealError(f"--threshold must be positive, got {threshold}")
    spec = load_robot(robot)
    model = calibrated_model(spec, calib)
    (trajectory,) = load_logs(spec, [log], csv_map)
    mode = "open loop" if horizon is None else f"windows of {horizon:g} s"
    human(f"replaying {log} on {spec.name} ({'calibrated' if calib else 'nominal'}, {mode})", json)
    result = measure_gap(
        spec, trajectory, model=model, horizon=horizon, velocity=velocity, threshold=threshold
    )
    summary = result.summary()
    summary |= {"robot": spec.name, "log": log, "calib": calib}
    lines = [
        f"position RMSE {result.position_rmse:.4f} rad, velocity RMSE {result.velocity_rmse:.4f} rad/s "
        f"({result.samples} samples, {result.windows} window(s))",
    ]
    for j in result.joints:
        lines.append(
            f"  {j:<12} position {result.position_rmse_per_joint[j]:.4f} rad   "
            f"velocity {result.velocity_rmse_per_joint[j]:.4f} rad/s"
        )
    rate = summary["divergence_rate"]
    lines.append(f"divergence rate {'-' if rate is None else f'{rate:.3g} 1/s'}")
    if result.divergence_time_s is None:
        lines.append(f"error stays below {threshold:g} rad")
    else:
        lines.append(f"error passes {threshold:g} rad after {result.divergence_time_s:.3f} s")
        s = result.divergence_state
        if s:
            lines.append(f"  first at t={s['t']:.3f} s of {s['log']}: q {s['q']} (sim {s['q_sim']})")
    lines.append("distribution distances sim vs real (Wasserstein, KS):")
    for name, d in result.channels.items():
        lines.append(f"  {name:<24} {d['wasserstein']:.4g}  {d['ks']:.3f}")
    emit(summary, json, "\n".join(lines))
    return 0


def envelope(robot: str, json: bool = False) -> int:
    """Transfer envelope of a policy over a parameter grid (not built yet).

    Args:
        robot: Embedded robot name or spec YAML path.
        json: Print a JSON summary on stdout.
    """
    raise Sim2RealError("the transfer envelope is not built yet")
