"""``robot init``: wheels, which sim2real cannot make a spec of (one clear error naming them).

A wheel is a chosen hinge joint without a range that turns a foot about the foot's own centre (a
wheel-legged robot's Go2-W / B2W wheels, a URDF ``type="continuous"`` wheel, a passive caster):
the foot's body, or the nearest body above it with joints, carries the joint and no body below it
has joints (a wheel ends its chain); its axis is not
steep; a collision geom of the foot that it stands on (the lowest) has its centre on the axis, and
turning the joint leaves that geom's lowest point where it was (it rolls).  An unlimited knee above a point foot is no wheel (the
foot swings up), nor a Minitaur's continuous motor joint swinging its leg, nor an endless joint of
a fixed arm (no foot).

Why an error: a rolling wheel's angle grows without bound, and the safety layer checks every
joint against finite position limits (preflight refuses infinite ones), so any limit written for a
wheel either stops the robot after a few turns or can never bind; its angle is no state a
policy observes either.  No spec is better than one that is silently wrong on the floor.  The
error says how to walk the robot on locked wheels instead (``--joints`` without them and the
spec's ``locked_joints``; the leg kinematics of the base-state estimator take a locked joint as a
fixed link, :mod:`sim2real.real.legs`).
"""

from __future__ import annotations

import re

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.geom_extent import geom_bottom, sole_geoms
from sim2real.text import few

__all__ = ["MAX_AXIS_Z", "ON_AXIS", "ROLL_TOLERANCE", "ROLL_TURNS", "check_no_wheels", "wheel_joints"]

ON_AXIS = 0.25
"""A foot geom's centre is on a joint's axis when it is closer to it than this fraction of the
geom's bounding radius."""
MAX_AXIS_Z = 0.7
"""A wheel's axle is not steeper than this (the z component of the unit axis): about a vertical
axis a foot swivels, its lowest point staying put without rolling."""
ROLL_TURNS = (0.0, 0.5, 1.3, 2.4)
"""Angles a candidate wheel is turned by [rad] to see its lowest point stay put."""
ROLL_TOLERANCE = 0.03
"""The lowest point may move this fraction of the geom's bounding radius as a wheel turns (a mesh
wheel's polygon rim, a cylinder's box)."""


def wheel_joints(
    model: mujoco.MjModel, data: mujoco.MjData, chosen: list[int], feet: list[int], geoms: list[int]
) -> list[int]:
    """The chosen joints that are wheels (module docstring), in the order of ``chosen``.

    Args:
        model: The compiled model.
        data: Its data after ``mj_kinematics`` at the default pose.
        chosen: Model joint ids of the spec's joints.
        feet: Body ids of the feet.
        geoms: Collision geom ids of the robot.
    """
    hinge = int(mujoco.mjtJoint.mjJNT_HINGE)
    # no range, or one wider than a turn (range="-10000 10000": a limit that can never bind)
    free = {
        j
        for j in chosen
        if int(model.jnt_type[j]) == hinge
        and (not model.jnt_limited[j] or float(model.jnt_range[j, 1] - model.jnt_range[j, 0]) > 2 * np.pi)
    }
    wheels: set[int] = set()
    for foot in feet:
        body = foot
        while body > 0 and int(model.body_jntnum[body]) == 0:  # the wheel geom on a child body of the joint's
            body = int(model.body_parentid[body])
        if _carries_joints(model, body):  # a wheel ends its chain (Minitaur's motor housing carries its leg)
            continue
        first = int(model.body_jntadr[body])
        for j in (j for j in range(first, first + int(model.body_jntnum[body])) if j in free):
            axis = data.xaxis[j] / (np.linalg.norm(data.xaxis[j]) or 1.0)
            if abs(axis[2]) > MAX_AXIS_Z:  # a swivel turns about the vertical: no rolling
                continue
            mine = [g for g in geoms if int(model.geom_bodyid[g]) == foot]
            for g in sole_geoms(model, data, foot) if mine else ():  # what it stands on, not a knee drive on the axis
                off = data.geom_xpos[g] - data.xanchor[j]
                centred = np.linalg.norm(off - (off @ axis) * axis) < ON_AXIS * float(model.geom_rbound[g])
                if centred and _rolls(model, data, j, g):
                    wheels.add(j)
    return [j for j in chosen if j in wheels]


def _carries_joints(model: mujoco.MjModel, body: int) -> bool:
    """Some body below ``body`` has joints of its own."""
    for other in range(body + 1, model.nbody):
        parent = int(model.body_parentid[other])
        while parent > body:
            parent = int(model.body_parentid[parent])
        if parent == body and int(model.body_jntnum[other]):
            return True
    return False


def _rolls(model: mujoco.MjModel, data: mujoco.MjData, joint: int, geom: int) -> bool:
    """Turning ``joint`` leaves the lowest point of ``geom`` where it was (a wheel about its axle), to
    :data:`ROLL_TOLERANCE` of the geom's bounding radius; a link swung about its joint rises or falls."""
    scratch = mujoco.MjData(model)
    scratch.qpos[:] = data.qpos
    adr = int(model.jnt_qposadr[joint])
    heights = []
    for turn in ROLL_TURNS:
        scratch.qpos[adr] = data.qpos[adr] + turn
        mujoco.mj_kinematics(model, scratch)
        heights.append(geom_bottom(model, scratch, geom))
    return max(heights) - min(heights) <= ROLL_TOLERANCE * float(model.geom_rbound[geom])


def check_no_wheels(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    chosen: list[int],
    feet: list[int],
    geoms: list[int],
    source: str,
) -> None:
    """Raise when the chosen joints include wheels (:func:`wheel_joints`).

    Raises:
        SpecError: one line naming every wheel joint and why.
    """
    wheels = wheel_joints(model, data, chosen, feet, geoms)
    if not wheels:
        return
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or f"#{j}" for j in wheels]
    others = "(?!(?:" + "|".join(re.escape(n) for n in names) + ")$).*"
    locked = ", ".join(f"{n}: 0.0" for n in names)
    raise SpecError(
        f"{source}: {few(names, 4)} {'are wheels' if len(names) > 1 else 'is a wheel'} (a joint without a range, "
        "or one wider than a turn, turning a foot about its centre), and sim2real has no continuous joints: a rolling wheel passes any "
        "finite safety position limit (which the safety layer requires) after a few turns, so sim2real cannot "
        f"drive them; to walk it as a legged robot on locked wheels, leave them out (--joints '{others}') and "
        f"add locked_joints: {{{locked}}} to the spec (held in simulation; on the robot its own controller must "
        "hold them); if these joints are no wheels, give them a range in the model"
    )
