"""The actuators of a spec made by ``robot init``: each chosen joint's actuator model, gains and torque
limit from the model's own actuators and the user's options (see :mod:`sim2real.robots.init`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import mujoco

from sim2real.errors import SpecError

PerJoint = float | Mapping[str, float] | None
"""An option given for every joint at once, or per joint (keys: joint names or regular expressions)."""


def _matches(key: str, joint: str) -> bool:
    """``key`` is the joint's name, or a regular expression it matches in full (a key that is not a
    valid regular expression matches its own name only: joint names may hold brackets)."""
    if key == joint:
        return True
    try:
        return re.fullmatch(key, joint) is not None
    except re.error:
        return False


def lookup(values: Mapping[str, float], joint: str) -> float | None:
    """The value of ``joint`` in a map whose keys are joint names or regular expressions matched in
    full (the last matching key wins), or None when no key matches."""
    found = None
    for key, value in values.items():
        if _matches(key, joint):
            found = float(value)
    return found


def unmatched(values: Mapping[str, float], joints: list[str]) -> str | None:
    """The first key of ``values`` that matches none of ``joints`` (None when every key does)."""
    return next((k for k in values if not any(_matches(k, j) for j in joints)), None)


def per_joint(value: PerJoint, joint: str, what: str, missing_ok: bool = False) -> float | None:
    """A per-joint option's value for ``joint``: one number for every joint, or a map by joint name or
    regular expression (:func:`lookup`); a map that does not cover the joint is an error unless
    ``missing_ok`` (then None: e.g. gains for some joints, the model's own actuators for the rest)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        found = lookup(value, joint)
        if found is None and not missing_ok:
            raise SpecError(f"{what}: no value for joint '{joint}'")
        return found
    return float(value)


def object_name(model: mujoco.MjModel, kind: mujoco.mjtObj, i: int) -> str:
    """The name of object ``i`` of ``kind`` ("" when it has none)."""
    return mujoco.mj_id2name(model, kind, i) or ""



def joint_torque_limit(model: mujoco.MjModel, a: int, jid: int) -> float | None:
    """The largest joint torque [N m] MuJoCo lets actuator ``a`` (-1: an actuator the model lacks)
    put on its joint ``jid``, from every limit the model states, or None when it states none.

    MuJoCo clamps the actuator's force (``gain * ctrl + bias``) to its ``forcerange``, multiplies it
    by the gear, and clamps the joint's total to the joint's ``actuatorfrcrange``: each stated limit
    binds (a class default's ``forcerange`` on a motor with a narrower ``ctrlrange`` x gear; a
    joint's ``actuatorfrcrange`` below the motor's).  A ``ctrlrange`` bounds the force only when the
    actuator has no bias (not a servo) and a fixed gain; an actuator with dynamics gives gain x its
    activation, which an ``actrange`` bounds, and a filter's ``ctrlrange`` (an integrator's does not).
    """
    lo, hi = -math.inf, math.inf  # the actuator's force
    if a >= 0 and (
        int(model.actuator_gaintype[a]) == int(mujoco.mjtGain.mjGAIN_FIXED)
        and int(model.actuator_biastype[a]) == int(mujoco.mjtBias.mjBIAS_NONE)
    ):
        dyn = int(model.actuator_dyntype[a])
        clamped = not model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CLAMPCTRL
        act_lo, act_hi = -math.inf, math.inf  # the control or activation the gain multiplies
        if model.actuator_ctrllimited[a] and clamped and dyn != int(mujoco.mjtDyn.mjDYN_INTEGRATOR):
            act_lo, act_hi = (float(c) for c in model.actuator_ctrlrange[a])
        if dyn != int(mujoco.mjtDyn.mjDYN_NONE) and model.actuator_actlimited[a]:
            act_lo, act_hi = max(act_lo, float(model.actuator_actrange[a, 0])), min(act_hi, float(model.actuator_actrange[a, 1]))
        if math.isfinite(act_lo) and math.isfinite(act_hi):
            lo, hi = sorted((act_lo * float(model.actuator_gainprm[a, 0]), act_hi * float(model.actuator_gainprm[a, 0])))
    if a >= 0 and model.actuator_forcelimited[a]:
        f_lo, f_hi = (float(x) for x in model.actuator_forcerange[a])
        lo, hi = min(max(lo, f_lo), f_hi), max(min(hi, f_hi), f_lo)  # clip the force's interval
    gear = float(model.actuator_gear[a, 0]) if a >= 0 else 1.0
    ends = sorted((gear * lo, gear * hi)) if gear else [0.0, 0.0]
    if model.jnt_actfrclimited[jid]:
        j_lo, j_hi = (float(x) for x in model.jnt_actfrcrange[jid])
        ends = [min(max(ends[0], j_lo), j_hi), max(min(ends[1], j_hi), j_lo)]
    limit = max(abs(ends[0]), abs(ends[1]))
    return limit if math.isfinite(limit) else None


PLACEHOLDER_TORQUE = {"hinge": 5000.0, "slide": 50000.0}
"""A torque [N m] (force [N] on a slide joint) limit above these is a placeholder, no motor's (a URDF's
``effort="100000"``): the safety clamp would never bind, so ``robot init`` asks for the real one."""


def placeholder_torque(model: mujoco.MjModel, jid: int, limit: float | None) -> bool:
    """Whether a joint's stated torque (force) limit is a placeholder (:data:`PLACEHOLDER_TORQUE`)."""
    slide = int(model.jnt_type[jid]) == int(mujoco.mjtJoint.mjJNT_SLIDE)
    return limit is not None and limit > PLACEHOLDER_TORQUE["slide" if slide else "hinge"]


def _damper(model: mujoco.MjModel, a: int) -> bool:
    """Whether actuator ``a`` is a ``<velocity>`` servo without dynamics: at control 0 a damper."""
    return (
        int(model.actuator_biastype[a]) == int(mujoco.mjtBias.mjBIAS_AFFINE)
        and int(model.actuator_gaintype[a]) == int(mujoco.mjtGain.mjGAIN_FIXED)
        and int(model.actuator_dyntype[a]) == int(mujoco.mjtDyn.mjDYN_NONE)
        and float(model.actuator_biasprm[a, 1]) == 0.0
        and float(model.actuator_biasprm[a, 2]) < 0.0
    )


def _check_dampers_unlimited(model: mujoco.MjModel, dampers: list[int], joint: str) -> None:
    """A damper folded into a pd's kd must damp linearly at every speed: one with a force range
    saturates (kv x speed clipped), which a constant kd overstates beyond that speed, so that a
    "zero" or braking command of the pd pushes a fast joint where the model's own drive would not.

    Raises:
        SpecError: one line naming the damper, its range and the speed it binds at.
    """
    for v in dampers:
        low, high = (float(x) for x in model.actuator_forcerange[v])
        if not model.actuator_forcelimited[v] or not (math.isfinite(low) or math.isfinite(high)):
            continue
        kv, gear = -float(model.actuator_biasprm[v, 2]), abs(float(model.actuator_gear[v, 0])) or 1.0
        binds = min(abs(low), abs(high)) / (kv * gear)
        name = object_name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, v) or f"actuator {v}"
        raise SpecError(
            f"velocity damper '{name}' of joint '{joint}' has a force range [{low:g}, {high:g}]: its damping saturates "
            f"from {binds:.3g} (rad or m)/s, which a pd's constant kd cannot model; give --kp and --kd for the joint"
        )


def _missing(
    no_gains: list[str], no_limit: list[str], tendon: list[str] | None = None, placeholder: list[str] | None = None
) -> str:
    """One error line naming what ``robot init`` needs and for which joints (``tendon``: those of
    ``no_gains`` a tendon actuator moves, a gripper's fingers)."""

    def which(names: list[str]) -> tuple[str, str]:
        if len(names) == 1:
            return f"joint '{names[0]}'", "has"
        more = ", ..." if len(names) > 3 else ""
        return f"{len(names)} joints ({', '.join(names[:3])}{more})", "have"

    parts = []
    tendon = tendon or []
    if tendon:
        joints, verb = which(tendon)
        parts.append(
            f"{joints} {verb} only a tendon actuator (a gripper's fingers, a tendon-driven leg), which sim2real "
            "does not drive: give PD gains (--kp and --kd) to drive each joint with an actuator of its own (the "
            "tendon actuators are then switched off), or leave them out with --joints and hold them with the "
            "spec's locked_joints (docs/robots.md)"
        )
    rest = [j for j in no_gains if j not in tendon]
    if rest:
        joints, verb = which(rest)
        parts.append(f"{joints} {verb} no actuator in the model: give PD gains (--kp and --kd) to add position-controlled actuators")
    no_limit = [j for j in no_limit if j not in tendon]  # they are to be left out anyway
    if no_limit:
        joints, _ = which(no_limit)
        parts.append(f"{joints}: the model states no torque limit (forcerange, ctrlrange or actuatorfrcrange): give --torque-limit")
    if placeholder:
        joints, _ = which(placeholder)
        parts.append(
            f"{joints}: the model's torque limit is a placeholder, no motor's (above "
            f"{PLACEHOLDER_TORQUE['hinge']:g} N m, {PLACEHOLDER_TORQUE['slide']:g} N on a slide joint; the safety clamp "
            "would never bind): give their real limits with --torque-limit"
        )
    return "; ".join(parts)


def _replaced(replaced: list[tuple[str, float, float]], source: str) -> str:
    """One line: the given torque limits that replace the model's, grouped by (model's, given)."""
    groups: dict[tuple[float, float], list[str]] = {}
    for joint, theirs, ours in replaced:
        groups.setdefault((theirs, ours), []).append(joint)
    parts = []
    for (theirs, ours), names in groups.items():
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        count = f"{len(names)} joints" if len(names) > 1 else "1 joint"
        parts.append(f"{ours:g} N m where the model states {theirs:g} ({count}: {shown})")
    return f"torque limits from {source} replace the model's: {'; '.join(parts)}"


def infer_actuators(
    model: mujoco.MjModel,
    chosen: list[int],
    joints: list[str],
    kp: PerJoint,
    kd: PerJoint,
    torque_limit: PerJoint,
    limit_from: str = "--torque-limit",
    torque: str | None = None,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The spec's ``actuators`` entries of the chosen joints from the model's own actuators and the
    given gains and torque limits (module docstring of :mod:`sim2real.robots.init`), and notes: the
    first says what was mapped to what, any further one names given values that replace the model's.

    A given torque limit (``torque_limit``: the user's, or the one a policy was trained with; named
    ``limit_from`` in messages) wins over the model's; where the two differ, a note names both.

    Joints whose names ``torque`` matches in full are driven by torque commands: their own actuator
    becomes a torque one, and one is added where the model has none (a URDF's joints), whatever
    the gains.  A joint without an actuator of its own and without gains is passive (no entry)
    when other chosen joints are driven and the gains, if any, are a map (an underactuated robot:
    a cart-pole, an acrobot; a closed chain's linkage, with gains for its motors only).

    Raises:
        SpecError: a joint has no actuator and no gains (and the model drives none of the chosen
            joints, or gains were given), an actuator has no name, or no torque limit is known.
    """
    on_joint: dict[int, list[int]] = {}
    tendon_driven: set[str] = set()  # joints a tendon actuator moves (a gripper's fingers)
    for a in range(model.nu):
        if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT):
            on_joint.setdefault(int(model.actuator_trnid[a, 0]), []).append(a)
        elif int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_TENDON):
            t = int(model.actuator_trnid[a, 0])
            wraps = range(int(model.tendon_adr[t]), int(model.tendon_adr[t]) + int(model.tendon_num[t]))
            tendon_driven.update(
                object_name(model, mujoco.mjtObj.mjOBJ_JOINT, int(model.wrap_objid[w]))
                for w in wraps
                if int(model.wrap_type[w]) == int(mujoco.mjtWrap.mjWRAP_JOINT)
            )
    # a joint's first actuator that is no <velocity> damper: a damper next to a servo is its damping (added below)
    by_joint = {j: next((a for a in acts if not _damper(model, a)), acts[0]) for j, acts in on_joint.items()}
    out: dict[str, dict[str, Any]] = {}
    lost: list[str] = []  # joints whose <velocity> damper is switched off without its damping going anywhere
    kinds: dict[str, int] = {}
    # an underactuated robot (an acrobot, a cart-pole): where some chosen joints are driven and no
    # one gain is given for all, a joint without an actuator of its own is passive (measured, not driven)
    torqued = {j for j in joints if torque is not None and _matches(torque, j)}
    if torque is not None and not torqued:
        raise SpecError(f"--torque {torque!r} matches none of the joints ({', '.join(joints)})")
    # (gains for some joints only, a map, drive those: a closed chain's motors, its linkage passive)
    mapped = {j for j in joints if isinstance(kp, Mapping) and lookup(kp, j) is not None}
    one_gain = kp is not None and not isinstance(kp, Mapping)
    may_be_passive = not one_gain and bool(torqued or mapped or any(j in by_joint for j in chosen))
    passive: list[str] = []
    no_gains: list[str] = []  # joints without an actuator and without --kp/--kd
    no_limit: list[str] = []  # joints whose torque limit neither the model nor --torque-limit states
    placeholder: list[str] = []  # joints whose model states a placeholder torque limit (and no --torque-limit)
    replaced: list[tuple[str, float, float]] = []  # (joint, the model's limit, the given one)
    for jid, joint in zip(chosen, joints, strict=True):
        a = by_joint.get(jid)
        # a map of gains may cover some joints only: the others keep the model's own actuators
        own = a is not None or joint in torqued or may_be_passive
        kp_j, kd_j = per_joint(kp, joint, "--kp", own), per_joint(kd, joint, "--kd", own)
        if (kp_j is None) != (kd_j is None):
            raise SpecError(f"joint '{joint}': {'--kp' if kd_j is None else '--kd'} gives it a gain, the other none")
        gains = kp_j is not None and kd_j is not None and joint not in torqued
        entry: dict[str, Any]
        if a is None and joint in torqued:
            entry = {"actuator": joint, "add": True, "model": "torque"}
            kinds["added (torque)"] = kinds.get("added (torque)", 0) + 1
        elif a is None:
            if not gains and may_be_passive and joint not in tendon_driven:
                passive.append(joint)
                continue
            if not gains:
                no_gains.append(joint)
            entry = {"actuator": joint, "add": True, "model": "pd", "kp": kp_j, "kd": kd_j}
            kinds["added (pd)"] = kinds.get("added (pd)", 0) + 1
        else:
            name = object_name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a)
            if not name:
                raise SpecError(f"the actuator of joint '{joint}' has no name; sim2real refers to actuators by name")
            # the ratio (a reversed motor's gear is negative: sim2real's commands are joint torques)
            gear = abs(float(model.actuator_gear[a, 0])) or 1.0
            position = int(model.actuator_biastype[a]) == int(mujoco.mjtBias.mjBIAS_AFFINE)
            if joint in torqued:
                entry = {"actuator": name, "model": "torque"}
                kinds["-> torque (--torque)"] = kinds.get("-> torque (--torque)", 0) + 1
            elif position and not gains:  # (+ 0.0: a position actuator without kv gives kd 0.0, not -0.0)
                # the stiffness is the bias's -d/dq (a <position>'s kp; a <general> servo's gain
                # may differ: dm_control's rodent has gain 0.244, bias slope -0.4); at the joint, times
                # gear^2 (the actuator's length is gear x q, the joint's torque gear x its force)
                stiffness = -float(model.actuator_biasprm[a, 1])
                integrates = int(model.actuator_dyntype[a]) == int(mujoco.mjtDyn.mjDYN_INTEGRATOR)
                if not stiffness > 0 or integrates:  # a <velocity> / <intvelocity>: its command is a speed
                    velocity = integrates or float(model.actuator_biasprm[a, 2]) < 0  # else a <cylinder>'s pressure
                    what = (
                        f"a velocity servo (its command is a speed{', integrated' if integrates else ''}, not a "
                        "position target)"
                        if velocity
                        else "no position servo (no stiffness in its bias: a <cylinder>'s command is a pressure)"
                    )
                    raise SpecError(
                        f"actuator '{name}' of joint '{joint}' is {what}, which sim2real does not "
                        "model: give --kp and --kd to drive the joint as a PD, or --torque to drive it with torque"
                    )
                kp_m = stiffness * gear**2
                kd_m = max(-float(model.actuator_biasprm[a, 2]), 0.0) * gear**2 + 0.0
                # a <velocity> actuator on the same joint damps it (at control 0); sim2real switches
                # it off, so its kv x gear^2 joins the pd's kd (it was dropped: an undamped servo)
                dampers = [v for v in on_joint[jid] if v != a and _damper(model, v)]
                _check_dampers_unlimited(model, dampers, joint)
                kd_m += sum(-float(model.actuator_biasprm[v, 2]) * float(model.actuator_gear[v, 0]) ** 2 for v in dampers)
                entry = {"actuator": name, "model": "pd", "kp": kp_m, "kd": kd_m}
                what = "position + velocity -> pd (kd: both)" if dampers else "position -> pd"
                kinds[what] = kinds.get(what, 0) + 1
            elif gains:
                entry = {"actuator": name, "model": "pd", "kp": kp_j, "kd": kd_j}
                kinds["-> pd (your gains)"] = kinds.get("-> pd (your gains)", 0) + 1
            else:
                entry = {"actuator": name, "model": "torque"}
                kinds["motor -> torque"] = kinds.get("motor -> torque", 0) + 1
            if gear != 1.0:
                entry["gear"] = gear
            if entry["model"] == "torque" or gains:  # a damper's damping folds into a model servo's kd only
                lost += [
                    f"{joint} ({-float(model.actuator_biasprm[v, 2]) * float(model.actuator_gear[v, 0]) ** 2:g} N m s/rad)"
                    for v in on_joint[jid]
                    if v != a and _damper(model, v)
                ]
        limit = joint_torque_limit(model, -1 if a is None else a, jid)
        given = per_joint(torque_limit, joint, limit_from, missing_ok=True)
        if given is not None:
            if limit is not None and not math.isclose(given, limit, rel_tol=1e-9, abs_tol=1e-9):
                replaced.append((joint, round(limit, 6), given))
            limit = given
        if limit is None or not limit > 0:
            no_limit.append(joint)
            continue
        if given is None and placeholder_torque(model, jid, limit):
            placeholder.append(joint)
            continue
        entry["torque_limit"] = round(limit, 6)
        out[joint] = entry
    if no_gains or no_limit or placeholder:
        raise SpecError(_missing(no_gains, no_limit, sorted(tendon_driven & set(no_gains)), placeholder))
    notes = [f"actuators: {', '.join(f'{n} {k}' for k, n in kinds.items())}"]
    if passive:
        notes[0] += (
            f"; passive (no actuator in the model: measured, not driven): {', '.join(passive)} "
            "(--kp and --kd add PD actuators to them)"
        )
    if replaced:
        notes.append(_replaced(replaced, limit_from))
    if lost:  # sim2real switches the damper off: say what the joint loses
        notes.append(
            f"<velocity> dampers switched off, their damping not carried over (torque-driven, or your gains): "
            f"{', '.join(lost)}; add it to kd (--kp/--kd) or as joint damping if the drive has it"
        )
    return out, notes
