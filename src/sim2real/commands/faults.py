"""``sim2real faults``: the fault-injection suite of the safety layer on the twin."""

from __future__ import annotations

import logging
from typing import Any

from sim2real.commands.arguments import Seed
from sim2real.commands.output import emit, human

__all__ = ["faults", "faults_text"]


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
        "ms: that loop time plus the reacting tick's compute time, a deadline judging the loop time alone; unsafe: commands written that the audit's "
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
        result = run_suite(
            spec, policy_factory=factory, stage=parse_stage(speed), seed=seed, fixed_base=fixed_base
        )
    finally:
        deploy_log.setLevel(level)
    emit(result, json, faults_text(result))
    return 0 if result["all_passed"] else 1
