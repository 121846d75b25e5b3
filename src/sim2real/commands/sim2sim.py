"""``sim2real sim2sim``: a policy in MuJoCo through the loop that deploys it, and the sim2sim gate."""

from __future__ import annotations

from typing import Any

from sim2real.commands.arguments import Positive, Seed, VelocityCommand
from sim2real.commands.output import emit, human


def _run_text(label: str, r: dict[str, Any]) -> list[str]:
    lines = [
        f"{label}: {r['simulator']['integrator']} at {1e3 * r['simulator']['timestep']:g} ms, {r['simulator']['actuators']}"
    ]
    if "mean_base_velocity" in r:
        vx, vy, wz = r["mean_base_velocity"]
        lines.append(
            f"  mean base velocity (second half): vx {vx:+.3f} m/s, vy {vy:+.3f} m/s, wz {wz:+.3f} rad/s"
        )
    if "tracking_error" in r:
        e = r["tracking_error"]
        lines.append(f"  tracking error: {e['linear']:.3f} m/s, {e['yaw_rate']:.3f} rad/s")
    fell = "no" if not r["fell"] else ("yes" if r["fell_at_s"] is None else f"yes at {r['fell_at_s']:.2f} s")
    lines.append(f"  fell: {fell}")
    if "torque_margin" in r:
        m = r["torque_margin"]
        lines.append(
            f"  torque margin: {100 * m['min_fraction']:.0f} % ({m['joint']}, peak {m['peak_torque']:+.1f} of {m['limit']:g} N m)"
        )
        j = r["joint_limit_margin"]
        lines.append(f"  joint-limit margin: {j['min_rad']:.3f} rad ({j['joint']})")
    s = r["safety"]
    lines.append(
        f"  safety: {s['state']}"
        + (f" (latched: {s['latch_reason']})" if s["latched"] else "")
        + f", {s['events']} events {s['counters']}"
    )
    return lines


def changes_text(changes: dict[str, Any]) -> str:
    """The line of the gate's changes (check run minus nominal run), the mean base velocity by
    component with its units (it printed as a Python list of 17-digit floats)."""
    parts = []
    for key, value in changes.items():
        if key == "allowed":
            continue
        if key == "mean_base_velocity":
            vx, vy, wz = value
            parts.append(f"mean base velocity vx {vx:+.3f} m/s, vy {vy:+.3f} m/s, wz {wz:+.3f} rad/s")
        else:
            parts.append(f"{key} {value:+.3f}")
    return "changes: " + ", ".join(parts)


def sim2sim(
    robot: str,
    policy: str,
    velocity_command: VelocityCommand | None = None,
    seconds: Positive = 10.0,
    check: bool = False,
    seed: Seed = 0,
    json: bool = False,
) -> int:
    """Run a policy in MuJoCo through the same control loop, observation code and safety layer that
    deploy it on a robot (a twin with no hidden parameter and no unmodeled effect), from the default
    pose at full speed, and report what the simulator's true state shows.

    Reports fell, mean_base_velocity [vx, vy, wz] over the second half (heading frame), tracking
    error, torque and joint-limit margins, and safety events.  With --check the run is repeated on a
    deliberately different simulator (4x finer timestep, RK4, explicit PD torques, latency jitter,
    backlash, sensor noise, dropped readings) and the sim2sim gate compares the two; exit 1 when
    the gate fails.

    Args:
        robot: Spec YAML path or embedded robot name.
        policy: The policy (.onnx, e.g. from sim2real import).
        velocity_command: vx vy yaw_rate for a velocity-tracking policy.
        seconds: Length of each run [s].
        check: Repeat on a different simulator and apply the gate.
        seed: Seed of the simulators' random effects.
        json: Print the figures as JSON on stdout.
    """
    from sim2real.gap.sim2sim import Sim2SimGate, run_sim2sim, sim2sim_check
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    human(f"sim2sim: {policy} on {spec.name} for {seconds:g} s, command {velocity_command}", json)
    from sim2real.policy.commands import warn_command
    from sim2real.policy.metadata import read_metadata

    warn_command(spec, read_metadata(policy).observation, velocity_command)
    if not check:
        result = run_sim2sim(spec, policy, velocity_command=velocity_command, seconds=seconds, seed=seed)
        emit(result, json, "\n".join(_run_text("nominal", result)))
        return 0
    result = sim2sim_check(
        spec, policy, velocity_command=velocity_command, seconds=seconds, gate=Sim2SimGate(), seed=seed
    )
    gate = result["gate"]
    lines = [*_run_text("nominal", result["nominal"]), *_run_text("check", result["check"])]
    lines.append(changes_text(result["changes"]))
    lines.append(f"sim2sim gate: {'PASSED' if gate['passed'] else 'FAILED'} ({gate['thresholds']})")
    lines += [f"  - {r}" for r in gate["reasons"]]
    emit(result, json, "\n".join(lines))
    return 0 if gate["passed"] else 1
