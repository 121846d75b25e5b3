"""``robot init``: which of a scene's hinge and slide joints are the robot's.

A scene may hold jointed things besides the robot: a door on a hinge, a drawer on a slide, a target
moved by slide joints (Gymnasium's reacher and pusher).  Without ``--joints`` every hinge and slide
joint was a policy joint, and a free-floating robot in a scene with a door was read as fixed to the
world (its base is no free joint above *every* chosen joint).

The robot is the kinematic trees (bodies under one child of the world) that something drives: a
model actuator (through a joint, a tendon, a site or a body), a joint the gains given to
``robot init`` name, or an equality constraint tying the tree to a driven one (a closed chain built
from two trees).  Hinge and slide joints of the other trees belong to the scene: they are left out,
and :func:`~sim2real.robots.model.build_robot_model` holds their bodies still.  A model that drives
nothing (a URDF, gains for every joint) keeps every joint.
"""

from __future__ import annotations

from collections.abc import Mapping

import mujoco

from sim2real.robots.init_actuators import PerJoint, lookup, object_name
from sim2real.text import few


def _driven_roots(model: mujoco.MjModel) -> set[int]:
    """Root bodies (children of the world) of the trees the model's actuators move."""
    roots: set[int] = set()
    root = model.body_rootid
    for a in range(model.nu):
        kind, target = int(model.actuator_trntype[a]), int(model.actuator_trnid[a, 0])
        if kind in (int(mujoco.mjtTrn.mjTRN_JOINT), int(mujoco.mjtTrn.mjTRN_JOINTINPARENT)):
            roots.add(int(root[model.jnt_bodyid[target]]))
        elif kind == int(mujoco.mjtTrn.mjTRN_TENDON):
            for w in range(
                int(model.tendon_adr[target]), int(model.tendon_adr[target]) + int(model.tendon_num[target])
            ):
                obj, wrap = int(model.wrap_objid[w]), int(model.wrap_type[w])
                if wrap == int(mujoco.mjtWrap.mjWRAP_JOINT):
                    roots.add(int(root[model.jnt_bodyid[obj]]))
                elif wrap == int(mujoco.mjtWrap.mjWRAP_SITE):
                    roots.add(int(root[model.site_bodyid[obj]]))
        elif kind in (int(mujoco.mjtTrn.mjTRN_SITE), int(mujoco.mjtTrn.mjTRN_SLIDERCRANK)):
            roots.add(int(root[model.site_bodyid[target]]))
        elif kind == int(mujoco.mjtTrn.mjTRN_BODY):
            roots.add(int(root[target]))
    roots.discard(0)
    return roots


def _equality_roots(model: mujoco.MjModel, e: int) -> set[int]:
    """Root bodies of the two objects of equality constraint ``e`` (bodies, sites or joints)."""
    out = set()
    kind = int(model.eq_objtype[e])
    for obj in (int(model.eq_obj1id[e]), int(model.eq_obj2id[e])):
        if obj < 0:
            continue
        if kind == int(mujoco.mjtObj.mjOBJ_BODY):
            out.add(int(model.body_rootid[obj]))
        elif kind == int(mujoco.mjtObj.mjOBJ_SITE):
            out.add(int(model.body_rootid[model.site_bodyid[obj]]))
        elif kind == int(mujoco.mjtObj.mjOBJ_JOINT):
            out.add(int(model.body_rootid[model.jnt_bodyid[obj]]))
    return out


def robot_joints(
    model: mujoco.MjModel, candidates: list[int], kp: PerJoint = None, torque: str | None = None
) -> tuple[list[int], str | None]:
    """The candidate joints (hinge and slide, in model order) that belong to the robot (module
    docstring), and one line naming the joints left out (None when none is).

    Args:
        model: The compiled model.
        candidates: Joint ids to choose from.
        kp: ``robot init``'s stiffness: one value drives every joint (nothing is left out), a map
            drives the joints it names.
        torque: ``robot init``'s ``--torque`` regular expression (the joints it matches are driven).
    """
    if kp is not None and not isinstance(kp, Mapping):
        return candidates, None
    roots = _driven_roots(model)
    for j in candidates:
        name = object_name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
        named = isinstance(kp, Mapping) and lookup(kp, name) is not None
        if named or (torque is not None and lookup({torque: 1.0}, name) is not None):
            roots.add(int(model.body_rootid[model.jnt_bodyid[j]]))
    if not roots:
        return candidates, None
    grown = True
    while grown:  # trees an equality constraint ties to a driven one are the robot's too
        grown = False
        for e in range(model.neq):
            tied = _equality_roots(model, e) - {0}
            if tied & roots and not tied <= roots:
                roots |= tied
                grown = True
    kept = [j for j in candidates if int(model.body_rootid[model.jnt_bodyid[j]]) in roots]
    left = [object_name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in candidates if j not in kept]
    if not left or not kept:
        return candidates, None
    note = (
        f"joints of the scene, not the robot (on bodies nothing drives: a door, a target), left out and held still: "
        f"{few(left, 4)} (--joints to choose them)"
    )
    return kept, note
