"""``robot init``: the spec's ``safety`` section, and the joints a URDF couples to others (``<mimic>``).

- joint positions: the joint's range less a margin, never closer than that to the default pose; for a
  joint the model drives with a position servo, within the servo's ``ctrlrange`` / gear too (the
  targets it takes: sim2real's pd actuator replaces it without that clamp), the pose kept inside;
- joint velocities: the URDF's ``<limit velocity>`` as the vendor states it (a speed limit is already
  a limit: the position margin exists because a pose on a range's edge rests on the joint's limit,
  which a velocity limit has no counterpart of), else :data:`DEFAULT_VELOCITY`;
- ``command_rate`` per joint: a torque joint's is 50 x its own torque limit per second (at 50 Hz
  its full torque reached from 0 in one tick, reversed in two), at most 20 x the largest limit; one rate for all, 20 x the largest
  limit, let a 2 N m wrist swing 4 N m in one tick under a 150 N m shoulder's rate, and 20 x its own
  kept a balancing planar walker's ankle from catching it); a PD target's is :data:`DEFAULT_COMMAND_RATE`, or the fastest velocity
  limit the source states for a PD joint when lower (the rate is one number for every PD joint, and deploy caps
  each PD joint's target speed at its own velocity limit: the spec then states no target speed a
  joint may not reach; the default velocity of a joint whose source states none lowers nothing);
- a mimic follower (a URDF ``<mimic>`` MuJoCo turns into a joint equality constraint) has the
  position and velocity limits its leader's give it through the coupling, and the leader's pose;
  the leader's default pose stays where every follower stays inside its own range
  (:func:`leader_ranges`: PR2's ``r_gripper_r_parallel_root_joint = -1 x r_gripper_l_finger_joint``,
  both in [0, 0.548], pins the pair at 0);
- an MJCF's own linear joint equality (mjlab's YAM: ``left_finger = -right_finger``) couples the same
  way (:func:`equality_couplings`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mujoco

from sim2real.errors import SpecError
from sim2real.robots.init_actuators import lookup
from sim2real.robots.urdf import Mimic
from sim2real.text import few

__all__ = [
    "DEFAULT_COMMAND_RATE",
    "DEFAULT_SLIDE_VELOCITY",
    "DEFAULT_VELOCITY",
    "PLACEHOLDER_VELOCITY",
    "SLIDE_GUARD",
    "SLIDE_MARGIN",
    "WIND_UP_GUARD",
    "equality_couplings",
    "followers",
    "leader_ranges",
    "pinned_check",
    "rate_text",
    "safety_section",
    "unlimited_check",
    "wide_range_check",
]

DEFAULT_VELOCITY = 30.0
"""Joint velocity limit where the model states none [rad/s]."""
DEFAULT_SLIDE_VELOCITY = 1.0
"""A slide joint's velocity limit where the model states none [m/s] (:data:`DEFAULT_VELOCITY` is an
angular speed: 30 m/s on a linear axis bounds nothing)."""
SLIDE_GUARD = 0.5
"""A slide joint without a range: its safety position limits are the default pose +- this [m] (a
revolute joint's wind-up guard, +- 4 pi, would be 12.6 m of travel)."""
WIND_UP_GUARD = 4 * math.pi
"""A hinge's safety position limits reach at most this far either side of its default pose [rad]: the
whole guard of a joint without a range, and the bound of a range wider than it (a URDF's
``lower="-1e6"`` placeholder, or a stated range of several turns, would bound nothing)."""
PLACEHOLDER_VELOCITY = 1000.0
"""A stated joint velocity limit above this [rad/s, m/s] is a placeholder, no joint's speed (iCub's
URDF states 50000 for its arms): taken as unstated, and said."""

SLIDE_MARGIN = 0.05
"""A slide joint's safety position margin is at most this fraction of its range: the margin is an
angle (0.05 rad), which on mjlab's YAM finger (a 4 cm stroke) left it 2 cm, half its stroke."""

DEFAULT_COMMAND_RATE = 50.0
"""Largest PD target speed [rad/s] (1 rad per 20 ms control step), lowered to the fastest PD joint's
velocity limit."""


def equality_couplings(model: mujoco.MjModel, joints: list[str], gains: object = None) -> dict[str, Mimic]:
    """The model's own active, linear joint equality constraints between two of ``joints``, as
    couplings: follower -> :class:`Mimic` (``q = multiplier * q_leader + offset``).

    MuJoCo's ``joint1 - ref1 = c0 + c1 (joint2 - ref2)`` (``c2..c4`` zero, ``c1`` not) has ``joint2``
    lead, unless only ``joint1`` is driven: an actuator of the model, or a ``--kp`` given for it by
    name or pattern (``gains``, a map; one value for every joint says nothing of which one leads).
    A pair the model's own actuators both drive is no leader and follower.
    """
    names = set(joints)
    acted = {
        mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, int(model.actuator_trnid[a, 0]))
        for a in range(model.nu)
        if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT)
    }

    def driven(joint: str) -> bool:
        return joint in acted or (isinstance(gains, Mapping) and lookup(gains, joint) is not None)

    out: dict[str, Mimic] = {}
    for e in range(model.neq):
        if int(model.eq_type[e]) != int(mujoco.mjtEq.mjEQ_JOINT) or not model.eq_active0[e] or model.eq_obj2id[e] < 0:
            continue
        c0, c1, *higher = (float(x) for x in model.eq_data[e, :5])
        j1, j2 = int(model.eq_obj1id[e]), int(model.eq_obj2id[e])
        n1, n2 = (mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in (j1, j2))
        if any(higher) or c1 == 0.0 or n1 not in names or n2 not in names or {n1, n2} <= acted:
            continue  # a nonlinear coupling, or both sides the model's own actuators drive: left as they are
        r1, r2 = (float(model.qpos0[model.jnt_qposadr[j]]) for j in (j1, j2))
        if driven(n1) and not driven(n2):  # joint2 follows: joint2 = ref2 + (joint1 - ref1 - c0) / c1
            out[n2] = Mimic(leader=n1, multiplier=1.0 / c1, offset=r2 - (r1 + c0) / c1)
        else:
            out[n1] = Mimic(leader=n2, multiplier=c1, offset=r1 + c0 - c1 * r2)
    return out


def followers(mimic: Mapping[str, Mimic], joints: list[str]) -> dict[str, Mimic]:
    """The mimic couplings among ``joints`` (follower and leader both chosen), followers in joint order."""
    return {j: mimic[j] for j in joints if j in mimic and mimic[j].leader in joints and mimic[j].leader not in mimic}


def leader_ranges(
    model: mujoco.MjModel, chosen: list[int], joints: list[str], coupled: Mapping[str, Mimic], source: str
) -> dict[str, tuple[float, float]]:
    """The positions of each mimic leader [rad, m] that keep it and every follower of ``coupled``
    inside their own ranges (unlimited joints bound nothing), by leader.

    Raises:
        SpecError: No position of a leader keeps a follower inside its range (the URDF's ranges and
            coupling disagree everywhere), naming both and what to fix.
    """
    own = {j: tuple(float(x) for x in model.jnt_range[i]) for i, j in zip(chosen, joints, strict=True) if model.jnt_limited[i]}
    out: dict[str, tuple[float, float]] = {}
    for joint, c in coupled.items():
        if joint not in own or not c.multiplier:
            continue
        lo, hi = out.get(c.leader, own.get(c.leader, (-math.inf, math.inf)))
        a, b = sorted((x - c.offset) / c.multiplier for x in own[joint])
        if max(lo, a) > min(hi, b) + 1e-9:
            raise SpecError(
                f"{source}: mimic joint '{joint}' (range [{own[joint][0]:g}, {own[joint][1]:g}]) follows '{c.leader}' "
                f"as {c.multiplier:g} x {c.leader} + {c.offset:g}, which leaves that range wherever '{c.leader}' is "
                f"in [{lo:g}, {hi:g}]: correct the follower's <limit> or <mimic> in the URDF"
            )
        out[c.leader] = (max(lo, a), max(max(lo, a), min(hi, b)))
    return out


def pinned_check(ranges: Mapping[str, tuple[float, float]], coupled: Mapping[str, Mimic]) -> list[str]:
    """The check line (one, or none) for the leaders of :func:`leader_ranges` whose followers' ranges
    leave them a single position (the pair cannot move)."""
    pinned = {j: lo for j, (lo, hi) in ranges.items() if hi - lo < 1e-9}
    if not pinned:
        return []
    said = []
    for j, q in pinned.items():
        led = [f for f, c in coupled.items() if c.leader == j]
        said.append(f"{j} = {q:g} (with {few(led, 2)})")
    return [
        f"the URDF's joint ranges and <mimic> couplings leave {'; '.join(said[:2])}{' ...' if len(said) > 2 else ''} "
        "a single position: posed there and it cannot move (a follower's range, through its multiplier, misses its "
        "leader's); if it should, correct the follower's <limit> or <mimic> in the URDF"
    ]


def _servo_targets(model: mujoco.MjModel, entry: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The joint targets [rad] the model's own position servo of a pd joint takes, or None (no such
    servo, or no ctrlrange): where its force ``gain x ctrl + bias0 + bias1 x gear x q`` is 0 at the
    ends of its ``ctrlrange`` (a ``<position>``'s ctrlrange over its gear; a ``<general>`` servo's
    gain may differ from its stiffness: dm_control's rodent has gain 0.244, bias slope -0.4)."""
    if entry is None or entry.get("add") or entry["model"] != "pd":
        return None
    a = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, entry["actuator"])
    if a < 0 or not model.actuator_ctrllimited[a] or not float(model.actuator_gear[a, 0]):
        return None
    affine = int(model.actuator_biastype[a]) == int(mujoco.mjtBias.mjBIAS_AFFINE)
    if not (affine and model.actuator_biasprm[a, 1] < 0):  # no stiffness: a motor given gains (its ctrlrange is a torque)
        return None
    if int(model.actuator_gaintype[a]) != int(mujoco.mjtGain.mjGAIN_FIXED):
        return None
    gain, bias0 = float(model.actuator_gainprm[a, 0]), float(model.actuator_biasprm[a, 0])
    stiffness = -float(model.actuator_biasprm[a, 1]) * float(model.actuator_gear[a, 0])
    lo, hi = sorted((gain * float(c) + bias0) / stiffness for c in model.actuator_ctrlrange[a])
    return lo, hi


def safety_section(
    model: mujoco.MjModel,
    chosen: list[int],
    joints: list[str],
    pose: dict[str, float],
    actuators: dict[str, dict[str, Any]],
    standing: float | None,
    margin: float,
    velocity: Mapping[str, float] | None = None,
    coupled: Mapping[str, Mimic] | None = None,
) -> dict[str, Any]:
    """The spec's ``safety`` mapping (module docstring).

    Args:
        model: The compiled model.
        chosen: Model joint ids of ``joints``.
        joints: The spec's joints.
        pose: Default pose [rad] by joint.
        actuators: The spec's ``actuators`` entries (torque limits, models, gains).
        standing: Standing height of a floating base above the floor [m], or None.
        margin: Position margin inside the joint ranges [rad]; a slide joint's at most :data:`SLIDE_MARGIN` of its range [m].
        velocity: Velocity limits the model's source states, by joint [rad/s]; others get
            :data:`DEFAULT_VELOCITY`.
        coupled: Mimic followers among ``joints`` and their couplings (:func:`followers`).
    """
    velocity, coupled = velocity or {}, coupled or {}
    position, speed = {}, {}
    for jid, joint in zip(chosen, joints, strict=True):
        q = pose[joint]
        m = margin
        if model.jnt_limited[jid]:
            lo, hi = (float(x) for x in model.jnt_range[jid])
            m = min(margin, 0.25 * (hi - lo))  # a narrow range keeps half of itself
            if int(model.jnt_type[jid]) == int(mujoco.mjtJoint.mjJNT_SLIDE):  # the margin is in radians
                m = min(m, SLIDE_MARGIN * (hi - lo))
            # the margin around the default pose too: a pose at the range's edge (G1's open hands at
            # 0 of [0, 1.84]) rests on the joint limit, which MuJoCo's soft limit lets it pass a little
            position[joint] = [round(min(lo + m, q - m), 6), round(max(hi - m, q + m), 6)]
            if int(model.jnt_type[jid]) == int(mujoco.mjtJoint.mjJNT_HINGE):  # several turns: the wind-up guard
                low, high = position[joint]
                position[joint] = [round(max(low, q - WIND_UP_GUARD), 6), round(min(high, q + WIND_UP_GUARD), 6)]
        elif int(model.jnt_type[jid]) == int(mujoco.mjtJoint.mjJNT_SLIDE):
            position[joint] = [round(q - SLIDE_GUARD, 6), round(q + SLIDE_GUARD, 6)]
        else:
            position[joint] = [round(q - WIND_UP_GUARD, 6), round(q + WIND_UP_GUARD, 6)]  # a wind-up guard
        if (targets := _servo_targets(model, actuators.get(joint))) is not None:
            lo, hi = position[joint]  # the servo's targets, never closer than the margin to the pose
            low, high = max(lo, min(targets[0], q - m)), min(hi, max(targets[1], q + m))
            position[joint] = [round(low, 6), round(high, 6)]
        slide = int(model.jnt_type[jid]) == int(mujoco.mjtJoint.mjJNT_SLIDE)
        speed[joint] = float(velocity.get(joint, DEFAULT_SLIDE_VELOCITY if slide else DEFAULT_VELOCITY))
    for joint, c in coupled.items():  # the leaders first, then where their limits take each follower
        own = position[joint]
        # the leader stops before it drives the follower out of the follower's own range (a vendor's
        # ranges may disagree with the coupling: H1-2's thumb leader [-0.1, 0.6] x 1.6 against [0, 0.8])
        keep = sorted((x - c.offset) / c.multiplier for x in own) if c.multiplier else None
        lead = position[c.leader]
        if keep is not None and max(lead[0], keep[0]) <= pose[c.leader] <= min(lead[1], keep[1]):
            position[c.leader] = [round(max(lead[0], keep[0]), 6), round(min(lead[1], keep[1]), 6)]
    for joint, c in coupled.items():  # every leader narrowed first: a leader's later follower may narrow it
        own = position[joint]
        ends = sorted(round(c.multiplier * x + c.offset, 6) for x in position[c.leader])
        position[joint] = [max(ends[0], own[0]), min(ends[1], own[1])] if ends[0] < own[1] and own[0] < ends[1] else own
        speed[joint] = round(abs(c.multiplier) * speed[c.leader], 6)
    torques = {j: a["torque_limit"] for j, a in actuators.items()}
    pd = all(a["model"] == "pd" for a in actuators.values())
    out: dict[str, Any] = {"joint_position": position, "joint_velocity": speed, "joint_torque": torques}
    if standing is not None:
        out["tilt"] = 1.0
        out["base_height"] = [round(0.5 * standing, 4), round(2.0 * standing + 0.1, 4)]  # above the floor
    # only limits the source states lower the rate (30 rad/s for the unstated is no fact about a drive)
    stated = [velocity[j] for j, a in actuators.items() if a["model"] == "pd" and j in velocity]
    fastest = max(stated, default=DEFAULT_COMMAND_RATE)
    top = 20.0 * max(torques.values())  # the one rate all joints had: never looser than it
    rates = {  # each joint its own: a 2 N m wrist cannot take the rate of a 150 N m shoulder
        j: min(DEFAULT_COMMAND_RATE, fastest) if a["model"] == "pd" else round(min(50.0 * torques[j], top), 3)
        for j, a in actuators.items()
    }
    out["command_rate"] = next(iter(rates.values())) if len(set(rates.values())) == 1 else rates
    out["stale_timeout"] = 0.05
    out["safe_mode"] = "damping"
    kds = {j: float(a.get("kd", 0.0)) for j, a in actuators.items()}
    top = max(kds.values(), default=0.0)
    if pd and top > 0:  # each joint its own kd: the hips' gain is far too stiff for a hand's light joints
        gains = {j: round(kd if kd > 0 else top, 4) for j, kd in kds.items()}
        out["damping"] = next(iter(gains.values())) if len(set(gains.values())) == 1 else gains
    else:
        out["damping"] = 1.0
    return out


def rate_text(rate: float | dict[str, float]) -> str:
    """``safety.command_rate`` as :func:`safety_section` writes it, for a line: ``50`` or ``4..3000``."""
    values = list(rate.values()) if isinstance(rate, dict) else [rate]
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}..{high:g} (by joint)"


def unlimited_check(
    model: mujoco.MjModel,
    chosen: list[int],
    joints: list[str],
    position: dict[str, list[float]],
    skip: list[str] | tuple[str, ...] = (),
) -> str | None:
    """What to check about the chosen joints without a range (an endless yaw joint, a rail, a range
    the model does not enforce: ``limited="false"``), or None when every joint has one;
    ``position``: the safety position limits written for them (joint -> [low, high], rad or m);
    ``skip``: joints whose limits are said elsewhere (a planar robot's root)."""
    free = [(j, name) for j, name in zip(chosen, joints, strict=True) if not model.jnt_limited[j] and name not in skip]
    if not free:
        return None
    ignored = [name for j, name in free if model.jnt_range[j, 0] < model.jnt_range[j, 1]]
    slide = int(mujoco.mjtJoint.mjJNT_SLIDE)
    parts = []
    for linear in (False, True):
        names = [name for j, name in free if (int(model.jnt_type[j]) == slide) == linear]
        if not names:
            continue
        half = max(0.5 * (position[n][1] - position[n][0]) for n in names)
        guard = (
            f"the default pose +- {half:.3g} m" if linear else f"the default pose +- {WIND_UP_GUARD / math.pi:g} pi, a wind-up guard: "
            "an endless joint is safe-stopped after two turns (sim2real has no continuous joints; a legged robot's wheels are refused)"
        )
        parts.append(f"{'slide joints' if linear else 'joints'} without a range ({few(names, 4)}): safety.joint_position is {guard}")
    line = "; ".join(parts) + "; narrow it where cables or a stop limit the joint"
    if ignored:
        which = ", ".join(ignored[:4])
        line += f'; {which}: the model states a range but limited="false" (not enforced)'
    return line


def wide_range_check(model: mujoco.MjModel, chosen: list[int], joints: list[str], skip: list[str] | tuple[str, ...] = ()) -> str | None:
    """What to check about chosen hinges whose enforced range spans more than a turn (a placeholder
    ``lower="-1e6"``, or a wrist stated to turn several times), or None when none does: the safety
    limits then stop nothing a turn would, and past :data:`WIND_UP_GUARD` either side of the default
    pose they are that guard (``skip``: joints whose limits are said elsewhere)."""
    hinge = int(mujoco.mjtJoint.mjJNT_HINGE)
    wide = [
        (name, float(model.jnt_range[j, 1] - model.jnt_range[j, 0]))
        for j, name in zip(chosen, joints, strict=True)
        if model.jnt_limited[j] and int(model.jnt_type[j]) == hinge and name not in skip
        and model.jnt_range[j, 1] - model.jnt_range[j, 0] > 2 * math.pi
    ]
    if not wide:
        return None
    shown = [f"{name} {width:.3g} rad" for name, width in wide]
    guarded = any(width > 2 * WIND_UP_GUARD for _, width in wide)
    return (
        f"joints whose range spans more than a turn ({few(shown, 4)}): a placeholder range, or a joint that may "
        "wind cables"
        + (f"; safety.joint_position keeps them within the default pose +- {WIND_UP_GUARD / math.pi:g} pi" if guarded else "")
        + "; narrow it to the travel the joint really has"
    )
