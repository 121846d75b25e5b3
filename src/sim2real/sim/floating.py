"""The floating base of a model: where its free joint is, and the robot hung by its base.

Legged robots are identified the way practitioners do it, legs in the air: the robot hangs from a
stand or a crane by its base, so each leg swings freely and the actuator and joint parameters are
seen without contacts.  :func:`hung_model` is that setup in MuJoCo: the base body loses its free
joint (it is welded to the world), raised :data:`HANG_LIFT` metres above its model position so
that no foot reaches the floor.  Everything else (joints, actuators, sensors, parameter names) is
the robot's own model, so a calibration identified on the hung model applies to the free robot.

Whether a model floats is read from the model itself (:func:`base_joint`: the base body's free
joint), never from the spec alone, since the same spec compiles to both.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.model import build_mjspec
from sim2real.robots.spec import RobotSpec

__all__ = ["HANG_LIFT", "BaseJoint", "base_joint", "hung_model"]

HANG_LIFT = 0.6
"""Height the hung robot's base is raised above its model position [m] (legs clear of the floor)."""


@dataclass(frozen=True)
class BaseJoint:
    """The free joint of a floating base in a compiled model."""

    body: int
    """Body id of the base."""
    qpos: int
    """qpos address of the free joint: position (3) then quaternion (w, x, y, z) (4)."""
    dof: int
    """qvel address: linear velocity in the world frame (3) then angular velocity in the body frame (3)."""


def base_joint(spec: RobotSpec, model: mujoco.MjModel) -> BaseJoint | None:
    """The base's free joint in ``model``, or None when the base is fixed (or the robot has none).

    Raises:
        SpecError: the spec names a base body the model does not have.
    """
    if spec.base_body is None:
        return None
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    if body < 0:
        raise SpecError(f"base_body '{spec.base_body}' is not in the model")
    for j in range(int(model.body_jntadr[body]), int(model.body_jntadr[body] + model.body_jntnum[body])):
        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_FREE):
            return BaseJoint(body=body, qpos=int(model.jnt_qposadr[j]), dof=int(model.jnt_dofadr[j]))
    return None


def hung_model(spec: RobotSpec, lift: float = HANG_LIFT) -> mujoco.MjModel:
    """The robot's model (nominal parameters) with its base welded to the world, ``lift`` m higher.

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
    for element in list(body.joints):
        if element.type == mujoco.mjtJoint.mjJNT_FREE:
            mjspec.delete(element)
    pos = np.array(body.pos, dtype=float)
    body.pos = [pos[0], pos[1], pos[2] + float(lift)]
    for key in mjspec.keys:
        if len(key.qpos) == nominal.nq:
            key.qpos = np.delete(np.asarray(key.qpos), np.arange(joint.qpos, joint.qpos + 7)).tolist()
        if len(key.qvel) == nominal.nv:
            key.qvel = np.delete(np.asarray(key.qvel), np.arange(joint.dof, joint.dof + 6)).tolist()
    try:
        return mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{spec.name}: the hung model does not compile ({exc})") from None
