"""The floating base of a model: where its free joint is, and the robot hung by its base.

Legged robots are identified the way practitioners do it, legs in the air: the robot hangs from a
stand or a crane by its base, so each leg swings freely and the actuator and joint parameters are
seen without contacts.  :func:`hung_model` is that setup in MuJoCo: the base body loses its free
joint (it is welded to the world, its links keep the free robot's parent contact filter) in its standing pose (the spec's ``initial_base``, else its model
position), raised :data:`HANG_LIFT` metres above it so that no foot reaches the floor (a model made
from a URDF has its base at 0, the robot standing 1 m higher: hung 0.6 m above 0 its legs were in
the floor).  Everything else (joints, actuators, sensors, parameter names) is
the robot's own model, so a calibration identified on the hung model applies to the free robot.

Whether a model floats is read from the model itself (:func:`~sim2real.robots.model.base_joint`: the
base body's free joint), never from the spec alone, since the same spec compiles to both.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.model import BaseJoint, base_joint, build_mjspec
from sim2real.robots.spec import RobotSpec

__all__ = ["HANG_LIFT", "BaseJoint", "base_joint", "hung_model"]

HANG_LIFT = 0.6
"""Height the hung robot's base is raised above its standing position [m] (legs clear of the floor)."""


def _keep_parent_filter(nominal: mujoco.MjModel, mjspec: mujoco.MjSpec, base: int) -> None:
    """Exclude contacts between the base (and the bodies welded to it) and each link jointed to them.

    MuJoCo filters contacts between a body and its parent unless the parent is welded to the world,
    which the hung base is: a URDF's first leg links overlap the pelvis (iCub's hips and root_link),
    and on the hung model they collided deep inside each other (the twin diverged)."""
    if nominal.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_FILTERPARENT:
        return
    weld = nominal.body_weldid
    group = {int(weld[base])}  # the base's weld group and the groups of the links jointed to it
    children = {int(weld[b]) for b in range(1, nominal.nbody) if weld[b] == b and int(weld[nominal.body_parentid[b]]) in group}
    ours = [b for b in range(1, nominal.nbody) if int(weld[b]) in group]
    for child in sorted(children):
        for b in ours:
            for c in range(1, nominal.nbody):
                if int(weld[c]) == child and nominal.body(b).name and nominal.body(c).name:
                    mjspec.add_exclude(bodyname1=nominal.body(b).name, bodyname2=nominal.body(c).name)


def hung_model(spec: RobotSpec, lift: float = HANG_LIFT) -> mujoco.MjModel:
    """The robot's model (nominal parameters) with its base welded to the world, ``lift`` m above its
    standing position (the spec's ``initial_base``, else the model's).

    Keyframes keep their joint values (the free joint's entries are dropped from them).

    Raises:
        SpecError: the robot has no floating base to hang.
    """
    if spec.base_body is None:
        raise SpecError(f"{spec.name} has no floating base to hang (its base is fixed already)")
    mjspec = build_mjspec(spec)
    nominal = mjspec.compile()
    joint = base_joint(spec, nominal)
    if joint is None:
        raise SpecError(f"base_body '{spec.base_body}' has no free joint")
    body = mjspec.body(spec.base_body)
    _keep_parent_filter(nominal, mjspec, int(nominal.body(spec.base_body).id))
    for element in list(body.joints):
        if element.type == mujoco.mjtJoint.mjJNT_FREE:
            mjspec.delete(element)
    pos = np.array(body.pos if spec.initial_base is None else spec.initial_base.pos, dtype=float)
    body.pos = [pos[0], pos[1], pos[2] + float(lift)]
    if spec.initial_base is not None:
        body.quat = list(spec.initial_base.quat)
    for key in mjspec.keys:
        if len(key.qpos) == nominal.nq:
            key.qpos = np.delete(np.asarray(key.qpos), np.arange(joint.qpos, joint.qpos + 7)).tolist()
        if len(key.qvel) == nominal.nv:
            key.qvel = np.delete(np.asarray(key.qvel), np.arange(joint.dof, joint.dof + 6)).tolist()
    try:
        return mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{spec.name}: the hung model does not compile ({exc})") from None
