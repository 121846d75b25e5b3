"""``robot init``: wheels, which sim2real cannot make a spec of (one clear error naming them).

A wheel is a chosen hinge joint without a range that turns a foot about the foot's own centre (a
wheel-legged robot's Go2-W / B2W wheels, a URDF ``type="continuous"`` wheel, a passive caster):
the body of the foot's collision geom touching the floor, or the nearest body above it with
joints, carries the joint, and the geom's centre lies on the joint's axis.  An unlimited knee above
a point foot is no wheel (the foot is far from its axis); neither is an endless joint of a fixed
arm (no foot).

Why an error: a rolling wheel's angle grows without bound, and the safety layer checks every
joint against finite position limits (preflight refuses infinite ones), so any limit written for a
wheel either stops the robot after a few turns or can never bind; its angle is no state a
policy observes either.  No spec is better than one that is silently wrong on the floor.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.text import few

__all__ = ["ON_AXIS", "check_no_wheels", "wheel_joints"]

ON_AXIS = 0.25
"""A foot geom's centre is on a joint's axis when it is closer to it than this fraction of the
geom's bounding radius."""


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
    free = {j for j in chosen if int(model.jnt_type[j]) == hinge and not model.jnt_limited[j]}
    wheels: set[int] = set()
    for foot in feet:
        body = foot
        while body > 0 and int(model.body_jntnum[body]) == 0:  # the wheel geom on a child body of the joint's
            body = int(model.body_parentid[body])
        turning = [
            j
            for j in range(
                int(model.body_jntadr[body]), int(model.body_jntadr[body]) + int(model.body_jntnum[body])
            )
            if j in free
        ]
        for j in turning:
            anchor, axis = data.xanchor[j], data.xaxis[j] / (np.linalg.norm(data.xaxis[j]) or 1.0)
            for g in geoms:
                if int(model.geom_bodyid[g]) != foot:
                    continue
                off = data.geom_xpos[g] - anchor
                if np.linalg.norm(off - (off @ axis) * axis) < ON_AXIS * float(model.geom_rbound[g]):
                    wheels.add(j)
    return [j for j in chosen if j in wheels]


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
    raise SpecError(
        f"{source}: {few(names, 4)} {'are wheels' if len(names) > 1 else 'is a wheel'} (a joint without a range "
        "turning a foot about its centre), and sim2real has no continuous joints: a rolling wheel passes any "
        "finite safety position limit (which the safety layer requires) after a few turns, so no spec of this "
        "robot would be right on the floor; wheel-legged robots are not supported (if these joints are no "
        "wheels, give them a range in the model)"
    )
