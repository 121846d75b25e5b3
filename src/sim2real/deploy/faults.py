"""Fault injection: the safety layer of the control loop against faults, on the twin.

Each case runs a fresh :class:`~sim2real.deploy.loop.ControlLoop` on a :class:`~sim2real.real.twin.TwinRobot`
(lockstep, no random drops, at the last speed stage unless told otherwise): a short fault-free warm-up,
then the fault is injected, at the robot (pushed twin state), in the readings, in the policy or at
the loop (e-stop), for a number of ticks or until the end of the case.  It checks:

- **detected**: the monitor reported an event of the fault's kind once the fault became observable;
- **reaction**: what happened to the command in that tick (``clamp``: a normal command modified,
  ``hold``, ``safe_stop``), at least the severity the fault calls for, and the escalation it calls
  for by the end of the case (e.g. a dropout longer than ``stale_timeout`` ends in a safe stop);
- **reaction within one control period**: the reacting command is the one computed in the tick whose
  reading (or policy output) first shows the fault (``reaction_periods == 0``), i.e. it is written in
  that control period.  ``reaction_ms`` adds the loop time between the two ticks (0 then) and the
  reacting tick's controller time on this host (``compute_ms``, typically 0.1-0.5 ms; a loaded
  host can stretch one tick beyond the period, which the loop counts as a missed deadline); a fault
  with a deadline (a collision, a speed over its stage's cap) is judged on the loop time alone
  (``loop_ms``): one tick's compute on a shared, unpaced host is noise, not the controller's reaction;
- **no unsafe command reached the robot**: :class:`~sim2real.deploy.audit.AuditedRobot` re-checks
  every command written, independently of the monitor, against the spec's hard limits (see
  :mod:`sim2real.deploy.audit`);
- for safe stops, that the stop stayed **latched** after the fault went away.

"Observable" is when the fault first shows in what the loop sees: at injection for most faults; for
a frozen (stale) reading, once its age exceeds ``stale_timeout``; for a torque command, in the tick
the requested command first implies a torque (or voltage) beyond the limit.

The faults themselves are in :mod:`sim2real.deploy.fault_cases`.  The policy is a stand-in (:class:`StandInPolicy`: PD to the default pose, with the PolicyRunner's
interface and non-finite input handling), so the suite needs no trained network; a real
:class:`~sim2real.policy.runtime.PolicyRunner` can be given instead.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.audit import AuditedRobot, RobotWrapper, audit_command
from sim2real.deploy.body_geometry import unexpected_touches
from sim2real.deploy.collision import RELEASE_S
from sim2real.deploy.fault_cases import (
    FAULTS,
    DoesNotApplyError,
    Fault,
    FaultContext,
    LatencySpike,
    NotApplicableError,
)
from sim2real.deploy.fault_verdict import (
    AFTERMATH_S,
    REACTION_RANK,
    CaseResult,
    stopping_kinds,
    tick_reaction,
    tipped_note,
    transient_recovered,
    unrecovered_note,
)
from sim2real.deploy.loop import ControlLoop, LoopConfig, Policy, TickResult
from sim2real.deploy.loop_config import stages_slow_targets
from sim2real.deploy.monitor import deployment_monitor
from sim2real.deploy.record import initial_state
from sim2real.deploy.safety import SafetyMonitor, Severity
from sim2real.deploy.speed import SpeedConfig
from sim2real.deploy.stand_in import StandInPolicy
from sim2real.errors import PolicyError, Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots.spec import RobotSpec

__all__ = [
    "FAULTS",
    "AuditedRobot",
    "Fault",
    "audit_command",
    "longest_case",
    "run_case",
    "run_policy_missing_case",
    "run_suite",
]

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------ running


class _FaultyRobot(RobotWrapper):
    """The twin, with the active fault's readings."""

    def __init__(self, twin: TwinRobot) -> None:
        super().__init__(twin)
        self.fault: Fault | None = None

    def read(self) -> Reading:
        fault = self.fault
        if fault is not None and fault.active:
            return fault.read()
        reading = self.inner.read()
        if isinstance(fault, LatencySpike):
            fault.record(reading)
        return reading


class _FaultyPolicy:
    """The policy, with the active fault's outputs."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.control_dt = getattr(inner, "control_dt", None)
        self.fault: Fault | None = None

    @property
    def last_input_finite(self) -> bool:
        return bool(self.inner.last_input_finite)

    def reset(self) -> None:
        self.inner.reset()

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        out = np.array(self.inner.step_reading(reading, velocity_command), dtype=float)
        if self.fault is not None and self.fault.active:
            out = self.fault.command(out, reading)
        return out


def _context(
    spec: RobotSpec,
    policy_factory: Callable[[RobotSpec], Policy] | None,
    monitor_factory: Callable[[RobotSpec], SafetyMonitor] | None,
    stage: int | None,
    seed: int,
    fixed_base: bool,
) -> tuple[FaultContext, AuditedRobot, _FaultyRobot, _FaultyPolicy]:
    """A fresh twin, policy, monitor and loop for one case (see :func:`run_case`)."""
    speed = SpeedConfig()
    stage = len(speed.stages) - 1 if stage is None else stage
    q0, qd0 = initial_state(spec, seed)
    effects = dataclasses.replace(TwinEffects(), drop_probability=0.0, seed=seed)
    twin = TwinRobot(spec, TwinConfig(effects=effects), initial_qpos=q0, fixed_base=fixed_base)
    twin.reset(q0, qd0)
    faulty = _FaultyRobot(twin)
    robot = AuditedRobot(faulty)
    policy = _FaultyPolicy((policy_factory or StandInPolicy)(spec))
    monitor = (monitor_factory or deployment_monitor)(spec)
    loop = ControlLoop(
        robot,
        policy,  # type: ignore[arg-type]
        config=LoopConfig(speed=dataclasses.replace(speed, start_stage=stage), episode_return=False),
        monitor=monitor,
    )
    ctx = FaultContext(spec=spec, twin=twin, loop=loop, monitor=monitor, rng=np.random.default_rng(seed))
    return ctx, robot, faulty, policy


def _case_ticks(spec: RobotSpec, duration: int | None, horizon: int) -> tuple[int, int | None, int]:
    """(warm-up, the fault's duration or None, total) ticks of a case whose fault lasts
    ``duration`` ticks (None: to the end) and may take ``horizon`` ticks to become observable
    (:meth:`Fault.duration_ticks`, :meth:`Fault.horizon_ticks`)."""
    dt = spec.control_dt
    warmup = max(10, round(0.1 / dt))
    aftermath = max(1, round(AFTERMATH_S / dt))
    # the tail outlasts the aftermath: a hold that never releases still has ticks to fail in
    tail = max(10, math.ceil(3 * spec.safety.stale_timeout / dt), aftermath + 5)
    return warmup, duration, warmup + (duration or 0) + horizon + tail


def _held_by(result: TickResult, kinds: Sequence[str]) -> bool:
    """Whether a tick held for one of a fault's own kinds."""
    return result.command.mode == "hold" and any(str(e.kind) in kinds for e in result.events)


def _fault_ticks(spec: RobotSpec, fault: Fault) -> tuple[int, int | None, int]:
    """:func:`_case_ticks` of a fault."""
    return _case_ticks(spec, fault.duration_ticks(), fault.horizon_ticks())


def longest_case(
    spec: RobotSpec,
    faults: Sequence[type[Fault]],
    *,
    policy_factory: Callable[[RobotSpec], Policy] | None = None,
    stage: int | None = None,
    seed: int = 0,
    fixed_base: bool = False,
) -> int:
    """Ticks of the longest of the applicable ``faults``' cases (0: none applies)."""
    applicable = [f for f in faults if f.applies(spec)]
    if not applicable:
        return 0
    # one context for all: a constructor may set its loop up (stage_speed's stage), which no other
    # fault's length depends on (their lengths read the spec and the monitor's rate limit)
    ctx = _context(spec, policy_factory, None, stage, seed, fixed_base)[0]
    try:
        return max(_fault_ticks(spec, fault_type(ctx))[2] for fault_type in applicable)
    finally:
        ctx.loop.close()


def run_case(
    spec: RobotSpec,
    fault_type: type[Fault],
    *,
    policy_factory: Callable[[RobotSpec], Policy] | None = None,
    monitor_factory: Callable[[RobotSpec], SafetyMonitor] | None = None,
    stage: int | None = None,
    seed: int = 0,
    fixed_base: bool = False,
    quiet_ticks: int | None = None,
    quiet_reason: str = "",
    min_ticks: int = 0,
) -> CaseResult:
    """Run one fault case on a fresh twin and loop (see the module docstring).

    Args:
        spec: The robot.
        fault_type: The fault.
        policy_factory: Builds the policy (default :class:`StandInPolicy`).
        monitor_factory: Builds the safety monitor (default: the deployment's, with collision
            detection; tests pass a broken one to show the audit catches what it lets through).
        stage: Speed stage index (default: the last, 100 %).
        seed: Seed of the twin and the start state.
        fixed_base: The twin hangs by its base (``spec`` is then
            :func:`~sim2real.deploy.record.fixed_base_spec`'s: the monitor checks the joints).
        quiet_ticks: Ticks the run with no fault injected stayed quiet (None: not known); a
            longer case would judge the safety layer on a robot the policy no longer keeps within
            its limits.
        quiet_reason: What stopped that run (for the message).
        min_ticks: Run at least this many ticks, the tail lengthened (the quiet run of
            :func:`check_quiet` as long as the longest case).

    Raises:
        NotApplicableError: the case is longer than ``quiet_ticks``, or cannot be staged.
    """
    ctx, robot, faulty, policy = _context(spec, policy_factory, monitor_factory, stage, seed, fixed_base)
    loop = ctx.loop
    try:  # the loop closes whatever happens: a case found not applicable, a fault that cannot be staged
        fault = fault_type(ctx)
        faulty.fault = fault
        policy.fault = fault

        dt = spec.control_dt
        warmup, duration, total = _fault_ticks(spec, fault)
        total = max(total, min_ticks)
        aftermath = max(1, round(AFTERMATH_S / dt))
        if quiet_ticks is not None and total > quiet_ticks:
            raise NotApplicableError(
                f"the case runs {total * dt:.3g} s, and with no fault injected the policy's run stops after "
                f"{quiet_ticks * dt:.3g} s ({quiet_reason}): give a --policy that keeps the robot within its limits"
                + (" or --fixed-base" if spec.floating_base and not fixed_base else "")
            )

        results: list[TickResult] = []
        onset: int | None = None
        # a transient fault's hold still under way at the end gets up to a contact's release time more
        # (a collision holds until its evidence stayed low that long: the furuta's ended 108 ms after
        # the push, 20 ms short of its release)
        extra = math.ceil(max(RELEASE_S, 2.0 * dt) / dt) if duration is not None else 0
        k = 0
        while k < total or (k < total + extra and _held_by(results[-1], fault.kinds)):
            if k == warmup:
                fault.inject()
            if duration is not None and fault.active and k == warmup + duration:
                fault.clear()
            result = loop.tick()
            if fault.active:
                fault.ticks_active += 1
            results.append(result)
            if k >= warmup and onset is None and fault.observable(result):
                onset = k
            k += 1
        total = len(results)
    finally:
        loop.close()

    alarms = [
        f"{e.kind}/{e.severity}"
        for r in results[:warmup]
        for e in r.events
        if e.severity in (Severity.HOLD, Severity.SAFE_STOP)
    ]
    false_alarms = len(alarms)
    detected_at: int | None = None
    if onset is not None:
        for k in range(onset, total):
            if any(str(e.kind) in fault.kinds and e.severity != Severity.INFO for e in results[k].events):
                detected_at = k
                break
    reaction = "none"
    reaction_periods = reaction_ms = compute_ms = None
    if detected_at is not None and onset is not None:
        reaction = tick_reaction(results[detected_at], fault.kinds)
        reaction_periods = detected_at - onset
        compute_ms = 1e3 * results[detected_at].compute_s
        reaction_ms = 1e3 * (results[detected_at].now - results[onset].now + fault.lead_s) + compute_ms
    after = results[warmup:]
    worst = max((tick_reaction(r, fault.kinds) for r in after), key=REACTION_RANK.__getitem__, default="none")
    latched = None
    first_safe = next((k for k, r in enumerate(after) if r.command.mode == "safe"), None)
    if first_safe is not None and REACTION_RANK[fault.escalation or fault.reaction] >= REACTION_RANK["safe_stop"]:
        latched = all(r.command.mode == "safe" for r in after[first_safe:])
    recovered = None
    note = ""
    if duration is not None and fault.reaction != "safe_stop":
        # a safe tick counts the kinds that stopped it: a collision still held in the tick a tilt
        # stop fires (the push tipped the robot over) is not the collision's own stop
        ticks = [(r.command.mode, stopping_kinds(r)) for r in results]
        start = detected_at if detected_at is not None else warmup + duration
        recovered = transient_recovered(
            ticks, injected=warmup, reacted=start, kinds=fault.kinds, cleared=warmup + duration, aftermath=aftermath
        )
        if recovered is False:  # a failing case says why
            note = unrecovered_note(
                results,
                injected=warmup,
                reacted=start,
                cleared=warmup + duration,
                kinds=fault.kinds,
                tilt_limit=spec.safety.tilt,
            )
        elif recovered:
            note = tipped_note(results, spec.safety.tilt)
        if recovered is None:
            k = next(k for k in range(start, total) if ticks[k][0] == "safe")
            when = (
                f"{1e3 * (k - warmup) * dt:.0f} ms into the fault, while it still acted"
                if k < warmup + duration
                else f"{1e3 * (k - warmup - duration) * dt:.0f} ms after it ended, before the hold released"
            )
            note = (
                f"resume not tried: a {'/'.join(sorted(ticks[k][1]))} safe stop came {when} "
                "(the disturbance, or the hold it called for, tripped that check)"
            )
    if detected_at is None and not note:  # undetected: say what held or stopped the run first, if anything did
        stops = (Severity.HOLD, Severity.SAFE_STOP)
        first = next(((k, e) for k in range(warmup, total) for e in results[k].events if e.severity in stops), None)
        if first is not None:
            k, e = first
            note = (
                f"not seen: a {e.kind} {'hold' if e.severity == Severity.HOLD else 'safe stop'} came first, "
                f"{1e3 * (k - warmup) * dt:.0f} ms after the injection ({e.message}), and the fault never showed "
                "in what the loop saw after it"
            )
    events = [f"{e.kind}/{e.severity}" for r in after for e in r.events][:8]
    stopping = (Severity.HOLD, Severity.SAFE_STOP)
    first_stop = next((e.message for r in results for e in r.events if e.severity in stopping), "")
    first_stop_tick = next((k for k, r in enumerate(results) if any(e.severity in stopping for e in r.events)), None)
    return CaseResult(
        name=fault.name,
        description=fault.description,
        detected=detected_at is not None,
        reaction=reaction,
        expected=fault.reaction,
        worst=worst,
        escalation=fault.escalation,
        reaction_periods=reaction_periods,
        reaction_ms=reaction_ms,
        compute_ms=compute_ms,
        unsafe_commands=len(robot.unsafe),
        latched=latched,
        recovered=recovered,
        false_alarms=false_alarms,
        control_dt=dt,
        deadline_ms=None if fault.deadline_s is None else 1e3 * fault.deadline_s,
        events=events,
        unsafe=["; ".join(p) for _, p in robot.unsafe[:5]],
        alarms=alarms[:8],
        note=note,
        first_stop=first_stop,
        first_stop_tick=first_stop_tick,
        ticks=total,
    )


def run_policy_missing_case(spec: RobotSpec, load_policy: Callable[[Path, RobotSpec], Any]) -> CaseResult:
    """The policy file is missing at start: loading must fail before any command reaches the robot,
    and the robot is left in safe mode."""
    effects = dataclasses.replace(TwinEffects(), drop_probability=0.0)
    twin = TwinRobot(spec, TwinConfig(effects=effects))
    robot = AuditedRobot(_FaultyRobot(twin))
    detected = False
    message = ""
    try:
        load_policy(Path("/nonexistent/sim2real/policy.onnx"), spec)
    except PolicyError as exc:
        detected = True
        message = str(exc)
        robot.stop()
    return CaseResult(
        name="policy_missing",
        description="the policy file is missing at start: refuse to start, robot in safe mode, nothing written",
        detected=detected and robot.written == 0 and twin.safe,
        reaction="refused_start" if detected else "none",
        expected="refused_start",
        worst="refused_start" if detected else "none",
        escalation=None,
        reaction_periods=0 if detected else None,
        reaction_ms=0.0 if detected else None,
        compute_ms=None,
        unsafe_commands=len(robot.unsafe),
        latched=None,
        recovered=None,
        false_alarms=0,
        control_dt=spec.control_dt,
        events=[message[:200]] if message else [],
    )


def _load_runner(path: Path, spec: RobotSpec) -> Any:
    from sim2real.policy.runtime import PolicyRunner

    return PolicyRunner(path, spec, providers="cpu")


class _NoFault(Fault):
    """Nothing injected: the run every case starts from, which must be quiet."""

    name = "no_fault"
    description = "nothing injected"
    reaction = "none"
    duration = 1


def check_quiet(
    spec: RobotSpec,
    *,
    policy_factory: Callable[[RobotSpec], Policy] | None = None,
    stage: int | None = None,
    seed: int = 0,
    fixed_base: bool = False,
    ticks: int = 0,
) -> tuple[int, str] | None:
    """Run a case with nothing injected; raise if the safety layer already holds or stops within
    the length of a short case, else return how long the run stayed quiet.

    Every case judges the reaction to its fault against a quiet run: a robot that the policy does
    not keep within its limits (a humanoid falling under the stand-in policy, a default pose on a
    joint limit) would fail every case for a reason none of them tests.  A robot that stays up
    for a short case but not for a long one (Bolt under the stand-in at kp 5 sags and tips over
    after 0.6 s: the ``stage_speed`` case, 1.1 s, ended in a tilt stop before the guard's timeout)
    leaves the longer cases untestable: :func:`run_suite` reports them as NOT TESTED.

    Args:
        ticks: Length of the run [ticks] (the longest case's, :func:`longest_case`); a short
            case's when shorter.

    Returns:
        The tick of the first hold or safe stop and its message, or None when the whole run stayed quiet.

    Raises:
        Sim2RealError: one line naming the first events.
    """
    short = _case_ticks(spec, _NoFault.duration, 0)[2]
    result = run_case(
        spec, _NoFault, policy_factory=policy_factory, stage=stage, seed=seed, fixed_base=fixed_base, min_ticks=ticks
    )
    if result.first_stop_tick is not None and result.first_stop_tick >= short:
        return result.first_stop_tick, result.first_stop
    stops = result.alarms + [e for e in result.events if e.endswith(("/hold", "/safe_stop"))]
    if stops:
        what = ", ".join(dict.fromkeys(stops))
        touches = unexpected_touches(spec) if any(s.startswith("collision/") for s in stops) else ()
        pairs = ", ".join(touches[:3]) + (f" and {len(touches) - 3} more pairs" if len(touches) > 3 else "")
        raise Sim2RealError(
            f"{spec.name}: the safety layer stops the run with no fault injected ({what}"
            + (f"; first: {result.first_stop}" if result.first_stop else "")
            + (
                f"): in its default pose {pairs} touch, which the collision observer rightly takes for "
                "collisions; give robot init a --default-pose (or --keyframe) in which only the feet touch"
                if touches
                else "): " + _quiet_advice(stops, policy_factory is not None)
            )
        )
    return None


def _quiet_advice(stops: list[str], given: bool) -> str:
    """What to check when the quiet run stops (``stops``: its ``check/reaction`` events; ``given``: a
    policy was given, else the stand-in ran)."""
    if all(s.startswith("collision/") for s in stops):
        return (
            "the collision observer holds for forces its model of the robot does not explain, with no fault "
            "injected: check the gains and joints the model couples (a constraint the PD fights), or what else "
            "the robot touches"
        )
    if given:
        return (
            "the given policy does not keep the robot within its limits (try it with sim2sim or deploy --twin "
            "first), or check the default pose, gains and limits"
        )
    return (
        "the stand-in policy (a PD holding the default pose) does not keep the robot within its limits: check "
        "the default pose, gains and limits, or give --policy"
    )


def _stage_note(
    spec: RobotSpec, stages: Sequence[float], index: int, policy_factory: Callable[[RobotSpec], Policy] | None
) -> str:
    """What a stage below 100 % means for the suite's runs ("" at 100 % or with a real policy): for
    a velocity-tracking robot the stage scales only the velocity command, which the stand-in ignores."""
    fraction = stages[index]
    velocity = "velocity_command" in [t.name for t in spec.observation]
    if policy_factory is not None or fraction >= 1.0 or not velocity:
        return ""
    config = LoopConfig()
    if stages_slow_targets(config, stages, velocity, guarded=spec.floating_base and config.stage_speed.enabled):
        return ""
    return (
        f"at {100 * fraction:g} % the stage scales only the velocity command, which the stand-in policy "
        "ignores: its runs are those of 100 %, with the stage-speed guard on; the cases test the safety layer "
        "at this stage, not a policy slowing down (give --policy for that)"
    )


def run_suite(
    spec: RobotSpec,
    *,
    policy_factory: Callable[[RobotSpec], Policy] | None = None,
    stage: int | None = None,
    seed: int = 0,
    faults: Sequence[type[Fault]] = FAULTS,
    on_case: Callable[[CaseResult], None] | None = None,
    fixed_base: bool = False,
) -> dict[str, Any]:
    """Every applicable fault case on the robot, after a quiet run (:func:`check_quiet`).

    Returns:
        ``{"robot", "fixed_base", "stage", "speed_fraction", "stage_note" (what the stage means for
        the stand-in, or ""), "cases": [CaseResult.as_dict()...], "skipped" (the cases that do not
        apply to this kind of robot: a name, with the reason in parentheses when found only at
        injection), "not_tested" (``{"name", "reason"}`` of the cases that apply but could not be
        tested: :class:`NotApplicableError`, e.g. an observer blind to the push, a case longer than
        the no-fault run stayed quiet), "unsafe_commands_total", "all_detected",
        "all_within_one_period", "all_tested", "all_passed" (every case that ran passed and none
        went untested)}``.
    """
    common = {"policy_factory": policy_factory, "stage": stage, "seed": seed, "fixed_base": fixed_base}
    quiet = check_quiet(spec, ticks=longest_case(spec, faults, **common), **common)
    quiet_ticks, quiet_reason = (None, "") if quiet is None else quiet
    cases: list[CaseResult] = []
    skipped: list[str] = []
    not_tested: list[dict[str, str]] = []
    for fault_type in faults:
        if not fault_type.applies(spec):
            skipped.append(fault_type.name)
            continue
        try:
            result = run_case(spec, fault_type, quiet_ticks=quiet_ticks, quiet_reason=quiet_reason, **common)
        except DoesNotApplyError as exc:  # found at injection: said, and the other cases still run
            log.info("fault case %s does not apply: %s", fault_type.name, exc)
            skipped.append(f"{fault_type.name} ({exc})")
            continue
        except NotApplicableError as exc:  # a check that applies but nobody exercised: fails the suite
            log.error("fault case %s NOT TESTED: %s", fault_type.name, exc)
            not_tested.append({"name": fault_type.name, "reason": str(exc)})
            continue
        cases.append(result)
        if on_case is not None:
            on_case(result)
    missing = run_policy_missing_case(spec, _load_runner)
    cases.append(missing)
    if on_case is not None:
        on_case(missing)
    within = [c.in_time for c in cases]
    stages = SpeedConfig().stages
    index = len(stages) - 1 if stage is None else stage
    return {
        "robot": spec.name,
        "fixed_base": fixed_base,
        "stage": index,
        "speed_fraction": stages[index],
        "stage_note": _stage_note(spec, stages, index, policy_factory),
        "spec_hash": spec.hash,
        "control_dt": spec.control_dt,
        "cases": [c.as_dict() for c in cases],
        "skipped": skipped,
        "not_tested": not_tested,
        "unsafe_commands_total": sum(c.unsafe_commands for c in cases),
        "all_detected": all(c.detected for c in cases),
        "all_within_one_period": all(within),
        "all_tested": not not_tested,
        "all_passed": all(c.passed for c in cases) and not not_tested,
    }
