"""The pre-deployment checklist (Lesson A4) as a gate: ``sim2real preflight``.

Each item runs against the robot (the twin, or a ROS 2 robot) through the deployment's own
control loop and safety monitor, and records its evidence:

=====================  ==========================================================================
item                   passes when
=====================  ==========================================================================
contract               the policy loads for this spec (hash), its joints, their order, the
                       observation layout and the control period are the spec's
limits                 every joint has finite position limits inside the model's joint range,
                       finite velocity limits, every actuated joint a finite torque limit within
                       the model's actuator force range (and within the robot's own MJCF's, but
                       for the joints ``safety.torque_above_model`` accepts, named in the evidence
                       and the record), and a finite command rate
reduced_speed          the stage the run would start at (``deploy --ros2``: the stage ledger's) is
                       <= 10 %, or a higher one the ledger has earned (its dwell below it, eventless)
perimeter              the operator acknowledged the safety perimeter (``--confirm perimeter``)
zero_action_hold       under the zero action the actuated joints stay within 0.5 rad of the
                       default pose and move less than 0.1 rad for 2 s (after 2 s to settle), with no hold or safe stop
joint_signs            one joint at a time, at the lowest speed stage: a small positive command
                       (pd: +0.1 rad target, at most half the way to the safety limit; torque /
                       voltage: 10 % of the limit) moves the joint the positive way (> 0.01 rad,
                       within 0.5 s)
collision_detection    enabled in the spec, quiet during the hold (peak residual / threshold < 1),
                       it fires on the hold's own readings with an external torque of twice
                       each joint's threshold added (every joint, one at a time), and a push at
                       the threshold on a link's centre of mass is neither more than twice the
                       robot's weight nor a throw (:mod:`~sim2real.deploy.collision_reach`)
estop                  the loop running normally (a normal last command, nothing latched), an
                       e-stop request puts the robot in safe mode within two control periods
                       (measured on the robot's clock: ``robot.safe`` when the robot reports it,
                       else the first safe command written), and that stop is the e-stop's (the
                       latch reason or the first safe tick's events name it)
fallback               the spec's safe mode is defined (damping needs a gain) and exercised by
                       that e-stop: every command after it is ``safe``, the stop stays latched
                       for 0.5 s
=====================  ==========================================================================

A legged robot whose PD gains cannot carry it in the default pose (many humanoids: their
policies balance them, the bare gains do not) fails ``zero_action_hold`` standing, as it would sag
on the real robot; it runs the checklist hung by its base from a stand, legs in the air, as such
robots are first powered up (``fixed_base``: the twin hangs itself, the monitor checks the joints
only, :func:`~sim2real.deploy.record.fixed_base_spec`; the record says so).

``passed`` only when every item passes.  The result is appended to the preflight record
(:mod:`sim2real.deploy.preflight_record`); ``deploy --ros2`` looks there for a passing run of the
same policy file (sha256), spec hash and ROS 2 settings on a robot (not the twin) within the last
24 h.  Numpy, onnxruntime and MuJoCo (the twin, the observer); no torch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.collision import CollisionDetector
from sim2real.deploy.collision_model import ObserverModel
from sim2real.deploy.collision_reach import push_problems
from sim2real.deploy.estop_log import deliberate_estop
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.loop_build import check_height_scan
from sim2real.deploy.monitor import deployment_monitor
from sim2real.deploy.preflight_limits import limit_problems
from sim2real.deploy.preflight_record import ITEMS, Item, PreflightResult, file_hash, user
from sim2real.deploy.record import pd_room
from sim2real.deploy.speed import SpeedConfig
from sim2real.errors import Sim2RealError
from sim2real.policy.imports.joint_order import EVIDENCE_NOTES
from sim2real.real.protocol import Reading, Robot
from sim2real.robots.spec import RobotSpec

__all__ = ["run_preflight"]

log = logging.getLogger(__name__)

HOLD_S = 2.0
HOLD_TOLERANCE = 0.5
"""Largest deviation of an actuated joint from the default pose under the zero action [rad] (a
PD-driven leg sags under the robot's weight)."""
HOLD_DRIFT = 0.1
"""Largest motion of an actuated joint during the hold [rad]: it holds still."""
SETTLE_S = 2.0
"""Time the robot gets to come to the zero-action pose before the hold is measured [s]."""
SIGN_S = 0.5
SIGN_MIN = 0.01
SIGN_STEP_PD = 0.1
"""joint_signs: a pd joint's target step [rad], within :func:`~sim2real.deploy.record.pd_room` of the
default pose (robot init leaves one 0.05 rad margin to a limit near the pose: a full step there ran
the joint into the limit, a safe stop that failed a joint turning the right way)."""


# ------------------------------------------------------------------------------------------- items


def _passfail(ok: bool) -> str:
    return "pass" if ok else "fail"


def check_contract(spec: RobotSpec, policy_path: Path, target: str = "twin") -> tuple[Item, Any]:
    """The policy's metadata against the spec; returns the item and the runner (None on failure).

    On a real robot (``target`` ``robot``) an imported policy whose joint order the import chose
    from evidence (no file named the joints: :func:`~sim2real.policy.imports.joint_order.choose_order`)
    fails: the evidence cannot tell a model whose left and right legs come in another order than
    the training asset's, and a mirrored policy turns right when told left.  A twin run passes and
    says so."""
    from sim2real.policy.runtime import PolicyRunner

    try:
        runner = PolicyRunner(policy_path, spec, providers="cpu")
    except Sim2RealError as exc:
        return Item("contract", "fail", f"the policy does not load for this spec: {exc}"), None
    meta = runner.metadata
    problems = []
    if tuple(meta.joint_names) != tuple(spec.joints):
        problems.append(f"joints {list(meta.joint_names)} are not the spec's {list(spec.joints)}")
    layout = [(t.name, t.size) for t in meta.observation]
    if layout != [(t.name, t.size) for t in spec.observation]:
        problems.append(f"observation layout {layout} is not the spec's")
    if not math.isclose(float(meta.control_dt), float(spec.control_dt), rel_tol=1e-9):
        problems.append(f"control period {meta.control_dt} s is not the spec's {spec.control_dt} s")
    if meta.spec_hash != spec.hash:
        problems.append(f"spec hash {meta.spec_hash[:12]} is not {spec.hash[:12]}")
    guessed = next((a for a in meta.imported.get("assumptions", []) if str(a).startswith(EVIDENCE_NOTES)), None)
    if guessed is not None and target == "robot":
        problems.append(
            f"the import chose the policy's joint order from evidence ({guessed}), which a real robot must not "
            "rest on: import it again with --motor-order (the robot's joints by motor slot) to state it"
        )
    evidence = (
        "; ".join(problems)
        if problems
        else f"spec hash {spec.hash[:12]}, {len(spec.joints)} joints in order, "
        f"{len(layout)} observation terms ({spec.n_obs} values), control period {spec.control_dt} s"
        + ("; joint order chosen at import from evidence (a real robot needs it stated: --motor-order)" if guessed else "")
    )
    return Item("contract", _passfail(not problems), evidence), runner if not problems else None


def check_limits(spec: RobotSpec) -> Item:
    """Software limits for every joint, inside the model's ranges; torque limits within what the
    robot's own model lets each actuator give at its joint, but for the joints the spec accepts
    above it (:func:`~sim2real.deploy.preflight_limits.limit_problems`)."""
    problems, accepted, summary = limit_problems(spec)
    evidence = "; ".join(problems) if problems else summary
    if accepted:
        evidence += "; torque limits above the robot's own model accepted (safety.torque_above_model): " + ", ".join(
            f"{j} {v['limit']:g} N m (model {v['model']:g})" for j, v in accepted.items()
        )
    return Item("limits", _passfail(not problems), evidence, {"problems": len(problems), "torque_above_model": accepted})


def check_reduced_speed(speed: SpeedConfig, earned_s: float | None = None) -> Item:
    """The stage the run would start at (``speed.start_stage``): at most 10 %, or above with ``earned_s``,
    the eventless time [s] the stage ledger earned below it (:func:`~sim2real.deploy.ledger.ledger_start`)."""
    first = speed.stages[speed.start_stage]
    reduced = first <= 0.10 + 1e-12
    ok = reduced or (earned_s is not None and earned_s > 0)
    stages = ", ".join(f"{100 * x:g} %" for x in speed.stages)
    evidence = f"the run starts at stage {speed.start_stage}: {100 * first:g} % (stages {stages})"
    if earned_s is not None and not reduced:
        evidence += f", earned in the stage ledger ({earned_s / 60:.1f} min without a safety event below it)"
    elif not ok:
        evidence += ": the first run must start at 10 % or less"
    return Item("reduced_speed", _passfail(ok), evidence,
                {"fraction": first, "stage": speed.start_stage, "ledger_earned_s": earned_s})


def check_perimeter(confirmed: bool) -> Item:
    if confirmed:
        return Item("perimeter", "pass", f"safety perimeter acknowledged by {user()} (--confirm perimeter)")
    return Item("perimeter", "fail", "not acknowledged: check the safety perimeter, then pass --confirm perimeter")


class _Scripted:
    """A policy returning a fixed command (the loop's Policy interface)."""

    def __init__(self, values: np.ndarray, control_dt: float) -> None:
        self.values = np.asarray(values, dtype=float)
        self.control_dt = control_dt
        self.last_input_finite = True

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        return self.values.copy()

    def reset(self) -> None:
        pass


class _Runner:
    """Runs short loops on the robot (a fresh loop and monitor each time)."""

    def __init__(
        self,
        spec: RobotSpec,
        robot: Robot,
        paced: bool,
        reset: Callable[[], None] | None,
        fixed_base: bool = False,
        observed: ObserverModel | None = None,
    ) -> None:
        self.spec, self.robot, self.paced, self.reset = spec, robot, paced, reset
        self.fixed_base = fixed_base
        """The robot hangs by its base."""
        self.observed = observed if observed is not None else ObserverModel()
        """The model the collision observer predicts torques with (the policy's training model)."""
        self.index = np.array([spec.joints.index(a.joint) for a in spec.actuators])

    def loop(self, policy: Any, stage: int = 0) -> ControlLoop:
        if self.reset is not None:
            self.reset()
        return ControlLoop(
            self.robot,
            policy,
            monitor=deployment_monitor(self.spec, observed=self.observed),
            config=LoopConfig(
                mode="paced" if self.paced else "lockstep",
                speed=SpeedConfig(start_stage=stage),
                # scripted commands ignore a velocity command the spec may have: slow their targets
                speed_applies_to="joint_targets",
                episode_return=False,
            ),
        )

    def ticks(self, loop: ControlLoop, n: int, each: Callable[[Any], None] | None = None) -> list[Any]:
        """``n`` ticks of ``loop`` and their results: back to back on the twin (lockstep: each write
        advances it one period), on the control period's grid on a robot (paced: ``loop.run``
        sleeps between ticks).  ``each`` is called with every result as it comes."""
        out: list[Any] = []

        def collect(result: Any) -> None:
            out.append(result)
            if each is not None:
                each(result)

        loop.on_tick = collect
        try:
            loop.run(max_ticks=n)
        finally:
            loop.on_tick = None
        return out

    def default_command(self) -> np.ndarray:
        """The zero action's command: default pose for pd, zero effort otherwise."""
        pd = np.array([a.model == "pd" for a in self.spec.actuators])
        return np.where(pd, np.asarray(self.spec.default_pose)[self.index], 0.0)


def _held(results: list[Any]) -> int:
    """Ticks held or stopped by anything but a single dropped reading (routine on a real link)."""
    return sum(
        1
        for r in results
        if r.command.mode == "safe"
        or any(str(e.severity) in ("hold", "safe_stop") and str(e.kind) != "stale" for e in r.events)
    )


def check_hold_and_collision(runner: _Runner) -> tuple[Item, Item]:
    """zero_action_hold (2 s) and collision_detection (quiet during the hold, fires on its readings
    with an external torque added)."""
    spec = runner.spec
    loop = runner.loop(_Scripted(runner.default_command(), spec.control_dt), stage=0)
    with loop:
        settling = runner.ticks(loop, round(SETTLE_S / spec.control_dt))  # the robot comes to the zero-action pose
        results = runner.ticks(loop, max(1, round(HOLD_S / spec.control_dt)))
    readings = [r.reading for r in results if r.reading is not None and r.reading.valid]
    default = np.asarray(spec.default_pose)[runner.index]
    dev = max((float(np.max(np.abs(r.q[runner.index] - default))) for r in readings), default=math.inf)
    drift = float(np.max(np.ptp(np.array([r.q[runner.index] for r in readings]), axis=0))) if len(readings) > 1 else math.inf
    not_normal = _held(results)
    ok = dev <= HOLD_TOLERANCE and drift <= HOLD_DRIFT and not_normal == 0 and not loop.monitor.latched
    hung = runner.fixed_base
    hint = (
        "; a legged robot its gains cannot carry in the default pose runs the checklist hung by its base "
        "from a stand (--fixed-base)"
        if not ok and spec.floating_base and not hung
        else ""
    )
    hold = Item(
        "zero_action_hold",
        _passfail(ok),
        f"{HOLD_S:g} s under the zero action{' hung by the base' if hung else ''}: actuated joints within "
        f"{dev:.3f} rad of the default pose (tolerance {HOLD_TOLERANCE}), moved {drift:.4f} rad (tolerance "
        f"{HOLD_DRIFT}), {not_normal} ticks held or stopped by a safety check other than a dropped reading{hint}",
        {"max_deviation_rad": dev, "drift_rad": drift, "ticks_not_normal": not_normal},
    )
    det = loop.monitor.collision
    if det is None or not spec.safety.collision.enabled:
        return hold, Item("collision_detection", "fail", "collision detection is disabled (safety.collision.enabled)")
    quiet_peak = det.peak
    fired = _exercise(spec, results, runner.observed)
    blind = push_problems(det, readings[len(readings) // 2]) if readings else []
    ok = quiet_peak < 1.0 and bool(fired) and all(fired.values()) and not blind
    missed = [j for j, hit in fired.items() if not hit]
    exercised = (
        f"on the hold's readings with an external torque of 2 x threshold it fired for "
        f"{sum(fired.values())}/{len(fired)} ({', '.join(fired)})" + (f" (missed: {', '.join(missed)})" if missed else "")
        if fired
        else "nothing to exercise: at the hold's state the expected contacts explain an external torque at every "
        "joint and on the base, so the observer cannot see a collision on this robot in this pose (feet taken as a "
        "force and a torque each: check safety.collision.contacts and the feet's collision geoms, docs/safety.md)"
    )
    first = next((e.message for r in [*settling, *results] for e in r.events if str(e.kind) == "collision"), None)
    quiet = (
        f"quiet during the hold (peak {quiet_peak:.2f} of the threshold)"
        if quiet_peak < 1.0
        else f"NOT quiet during the hold: peak {quiet_peak:.2f} of the threshold with no contact"
        + (f" (first: {first})" if first else "")
        + "; a model error or sensor noise the thresholds do not allow for (docs/safety.md, Thresholds)"
    )
    col = Item(
        "collision_detection",
        _passfail(ok),
        f"enabled ({spec.safety.collision.reaction}), observing {runner.observed.describe()}; {quiet}; {exercised}"
        + (f"; blind to pushes short of a throw: {blind[0]}" + (f" ({len(blind) - 1} more links)" if blind[1:] else "") if blind else ""),
        {"peak_ratio": quiet_peak, "exercised_joints": len(fired), "fired": sum(fired.values()), "blind_links": len(blind)},
    )
    return hold, col


def _exercise(spec: RobotSpec, results: list[Any], observed: ObserverModel | None = None) -> dict[str, bool]:
    """Replay the hold's readings into a fresh detector with an external force of twice a threshold
    added to its estimate from half way: on each joint where it is visible (on a floating base the
    feet explain the torques of stance legs), and on a floating base a torque about the base's
    vertical axis.  Returns what was exercised -> whether the detector fired."""
    pairs = [(r.reading, results[k - 1].command.values if k else None) for k, r in enumerate(results)]
    pairs = [(rd, c) for rd, c in pairs if rd is not None and rd.valid]
    if len(pairs) < 4:
        return {}
    half = len(pairs) // 2
    probe = CollisionDetector(spec, observed=observed)
    obs = probe.observer
    qpos, qvel = obs._set_state(pairs[half][0])
    M, _ = obs._dynamics(qpos, qvel)
    offsets: dict[str, np.ndarray] = {}
    for j, name in enumerate(spec.joints):
        offsets[name] = np.zeros(obs.nv)
        offsets[name][obs._dof_idx[j]] = 2.0 * probe.thresholds[j]
    if spec.floating_base and probe.base_torque is not None:
        offsets["base"] = np.zeros(obs.nv)
        offsets["base"][obs._free_dof + 5] = 2.0 * probe.base_torque
    fired: dict[str, bool] = {}
    for name, offset in offsets.items():
        reading = pairs[half][0]
        gain = probe.score(obs._explain(reading, M, offset, obs.measures_base_acceleration(reading))) / 2.0
        if gain < 0.1:
            continue  # invisible at this state (a stance leg's torque: the foot explains it)
        offset = offset / gain  # twice what the detector can see at this state
        det = CollisionDetector(spec, observed=observed)
        fired[name] = any(
            det.check(rd, rd.t, cmd, offset if k >= half else None) for k, (rd, cmd) in enumerate(pairs)
        )
    return fired


def check_joint_signs(runner: _Runner) -> Item:
    """One joint at a time, at the lowest stage: a small positive command must move the joint
    further the positive way than the same negative command does (the difference cancels what the
    load does to both, e.g. a leg carrying the robot); each run's motion is counted beyond the
    drift of the joint's velocity at its start."""
    spec = runner.spec
    moves: dict[str, float] = {}
    bad = []
    below, above = pd_room(spec)
    for i, act in enumerate(spec.actuators):
        j = runner.index[i]
        if act.model == "pd":  # the joint follows its target a little past it: keep off the limits
            steps = {1.0: min(SIGN_STEP_PD, float(above[i])), -1.0: min(SIGN_STEP_PD, float(below[i]))}
        elif act.model == "torque":
            steps = dict.fromkeys((1.0, -1.0), 0.1 * float(spec.safety.torque[j]))
        else:
            steps = dict.fromkeys((1.0, -1.0), 0.1 * act.voltage_limit)
        end = {}
        latched = False
        for sign in (1.0, -1.0):
            command = runner.default_command()
            command[i] += sign * steps[sign]
            loop = runner.loop(_Scripted(command, spec.control_dt), stage=0)
            with loop:
                valid = [r.reading for r in runner.ticks(loop, max(2, round(SIGN_S / spec.control_dt)))
                         if r.reading is not None and r.reading.valid]
            latched = latched or loop.monitor.latched
            # the motion beyond where the joint's own velocity at the start would have taken it: on a
            # robot (not reset between the runs) a joint may still be moving from the previous one
            end[sign] = (
                float(valid[-1].q[j] - valid[0].q[j] - valid[0].qd[j] * (valid[-1].t - valid[0].t))
                if len(valid) >= 2 else math.nan
            )
        moved = end[1.0] - end[-1.0]
        moves[act.joint] = moved
        if not moved > SIGN_MIN or latched:
            bad.append(f"{act.joint}: +command moved it {moved:+.4f} rad relative to -command" + (" (safe stop)" if latched else ""))
    return Item(
        "joint_signs",
        _passfail(not bad),
        (
            "wrong way, too little or stopped by a safety check: " + "; ".join(bad)
            if bad
            else f"{len(moves)} joints, one at a time at the lowest stage: each moved the positive way "
            f"(by {min(moves.values()):+.3f} rad or more relative to the negative command)"
        ),
        {"moves_rad": moves},
    )


def check_estop_and_fallback(runner: _Runner) -> tuple[Item, Item]:
    """E-stop timing (robot clock, against two control periods) and the safe mode after it.

    Both pass only when the e-stop did it: the loop ran normally up to the request (a normal last
    command, no latched stop), and the stop that followed is the e-stop's (the latch reason, or the
    events of the first safe tick, include it); a stop for another reason exercises neither."""
    spec = runner.spec
    robot = runner.robot
    loop = runner.loop(_Scripted(runner.default_command(), spec.control_dt), stage=0)
    limit_ms = 2e3 * spec.control_dt
    clock = getattr(robot, "now", None)
    t_safe = None
    reason = "preflight e-stop"

    def watch(r: Any) -> None:
        nonlocal t_safe
        if t_safe is None and bool(getattr(robot, "safe", r.command.mode == "safe")):
            t_safe = float(clock()) if callable(clock) else time.monotonic()

    with loop:
        before = runner.ticks(loop, max(5, round(0.1 / spec.control_dt)))
        # running: a normal command among the last ticks (a hold for one dropped reading is routine) and no latch
        running = any(r.command.mode == "normal" for r in before[-3:]) and not loop.monitor.latched
        stopped_by = loop.monitor.latch_reason
        t_req = float(clock()) if callable(clock) else time.monotonic()
        with deliberate_estop(reason, "the preflight's own e-stop test"):
            loop.request_estop(reason)
            after = runner.ticks(loop, max(10, round(0.5 / spec.control_dt)), watch)
    first_safe = next((k for k, r in enumerate(after) if r.command.mode == "safe"), None)
    latch = loop.monitor.latch_reason or ""
    by_estop = first_safe is not None and (
        reason in latch or any(str(e.kind) == "estop" for e in after[first_safe].events)
    )
    if not running:
        why = (
            f"the loop was not running normally before the request (last command "
            f"{before[-1].command.mode if before else 'none'}"
            + (f"; safe stop latched: {stopped_by}" if stopped_by else "")
            + "): the e-stop was not exercised; fix what stopped it and run again"
        )
    elif not by_estop:
        why = (
            "no safe command came after the e-stop request"
            if first_safe is None
            else f"the safe stop that followed was not the e-stop's (latched: {latch or 'nothing'}): "
            "the e-stop was not exercised; fix what stopped it and run again"
        )
    else:
        why = ""
    ms = math.inf if t_safe is None or why else 1e3 * (t_safe - t_req)
    where = "the robot reported safe mode" if hasattr(robot, "safe") else "the first safe command was written"
    estop = Item(
        "estop",
        _passfail(not why and ms <= limit_ms + 1e-9),
        f"e-stop requested; {why or f'{where} after {ms:.1f} ms'} (limit: two control periods, {limit_ms:g} ms)",
        {"ms": ms if math.isfinite(ms) else None, "limit_ms": limit_ms},
    )
    s = spec.safety
    gains = np.asarray(s.damping)[runner.index]
    defined = s.safe_mode == "zero_torque" or (s.safe_mode == "damping" and bool(np.all(gains > 0)))
    stayed = first_safe is not None and all(r.command.mode == "safe" for r in after[first_safe:]) and loop.monitor.latched
    count = 0 if first_safe is None else len(after) - first_safe
    fallback = Item(
        "fallback",
        _passfail(defined and stayed and not why),
        f"safe mode {s.safe_mode}"
        + (f" (damping {gains.min():g}..{gains.max():g} N m s/rad)" if s.safe_mode == "damping" else "")
        + ("" if defined else ": damping mode needs safety.damping > 0 on every actuated joint")
        + (f"; not exercised: {why}" if why else "")
        + f"; {count} safe commands after the e-stop, latched {loop.monitor.latched}",
        {"safe_mode": s.safe_mode, "safe_commands": count},
    )
    return estop, fallback


# ---------------------------------------------------------------------------------------- the run


def run_preflight(
    spec: RobotSpec,
    robot: Robot,
    policy_path: str | Path,
    *,
    target: str,
    confirm_perimeter: bool = False,
    paced: bool = False,
    reset: Callable[[], None] | None = None,
    speed: SpeedConfig | None = None,
    fixed_base: bool = False,
    ledger_earned_s: float | None = None,
    ros2_config: dict[str, Any] | None = None,
) -> PreflightResult:
    """Run the checklist (see the module docstring) on a robot.

    Args:
        spec: The robot.
        robot: The robot to exercise (a twin, or a ROS 2 robot).
        policy_path: The policy file to be deployed.
        target: ``twin`` or ``robot`` (recorded; the gate accepts only ``robot`` runs).
        confirm_perimeter: The operator acknowledged the safety perimeter.
        paced: Run the loops paced to the wall clock (a real robot) instead of lockstep (the twin).
        reset: Called before each dynamic item (the twin: back to the default pose).
        speed: The speed stages the deployment would use, ``start_stage`` where it would start (default
            :class:`SpeedConfig`); a ROS 2 run's are the ledger's (the command passes ``ledger_start``'s).
        fixed_base: The robot hangs by its base: a twin built with ``fixed_base=True``, or a robot
            on a stand; ``spec`` (the robot's too) is then
            :func:`~sim2real.deploy.record.fixed_base_spec`'s (the monitor checks the joints only).
        ledger_earned_s: The time the ledger earned below ``speed.start_stage`` [s] (None: not the ledger's).
        ros2_config: A ROS 2 robot's settings (``Ros2Config.to_mapping()``), recorded: the gate of
            ``deploy --ros2`` accepts the run only for the same settings.

    Raises:
        Sim2RealError: the policy file is missing, or it observes a terrain height scan the robot
            cannot give (:func:`~sim2real.deploy.loop_build.check_height_scan`: a ROS 2 robot).
    """
    policy_path = Path(policy_path)
    if not policy_path.is_file():
        raise Sim2RealError(f"policy not found: {policy_path}")
    items: dict[str, Item] = {}
    items["contract"], policy = check_contract(spec, policy_path, target)
    if policy is not None:  # a rough-terrain policy on a robot that reads no terrain: refused
        check_height_scan(policy.metadata.observation, robot)
    items["limits"] = check_limits(spec)
    items["reduced_speed"] = check_reduced_speed(speed or SpeedConfig(), ledger_earned_s)
    items["perimeter"] = check_perimeter(confirm_perimeter)
    runner = _Runner(spec, robot, paced, reset, fixed_base, ObserverModel.of_policy(policy, spec))
    items["zero_action_hold"], items["collision_detection"] = check_hold_and_collision(runner)
    items["joint_signs"] = check_joint_signs(runner)
    items["estop"], items["fallback"] = check_estop_and_fallback(runner)
    robot.stop()
    return PreflightResult(
        robot=spec.name,
        spec_hash=spec.hash,
        policy=str(policy_path.resolve()),
        policy_hash=file_hash(policy_path),
        target=target,
        items=[items[name] for name in ITEMS],
        fixed_base=fixed_base,
        ros2_config=ros2_config,
    )

