"""The ``task:`` section ``robot init`` writes when the robot's kind is clear from its model.

- A floating base with feet: ``locomotion`` (velocity tracking).
- A fixed base with one passive hinge whose angle alone decides how high its pole hangs, whatever
  the driven joints do (a Furuta pendulum's arm turns about the vertical, a cart slides on the
  level): ``swing_up`` of that pole.  Its hanging angle is where the pole's centre of mass is lowest,
  upright half a turn from it; the driven joints are kept centred.  Checked numerically: the
  hanging angle found with the driven joints anywhere in their ranges must agree within
  :data:`SAME_ANGLE`, else (a pendubot's elbow, whose pole hangs where the shoulder puts it) no task
  is inferred.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.text import few

SAME_ANGLE = 0.05
"""Largest spread of the pole's hanging angle over the driven joints' poses [rad]."""
_SAMPLES = 16
"""Poses of the driven joints tried."""
_ANGLES = 180
"""Pole angles tried per pose (a grid over a full turn)."""


def infer_task(
    model: mujoco.MjModel,
    chosen: list[int],
    joints: list[str],
    actuated: list[str],
    floating: bool,
    feet: list[str],
    pose: np.ndarray,
) -> tuple[dict[str, Any] | None, str]:
    """The task section and a line saying what was inferred (or why nothing was).

    Args:
        model: The compiled model.
        chosen: Model joint ids of ``joints``.
        joints: The spec's joints.
        actuated: The joints with actuators.
        floating: The robot has a floating base.
        feet: Its feet (floating bases).
        pose: A configuration of the default pose, shape (nq,).
    """
    if floating:
        if feet:
            return {"kind": "locomotion"}, "task: locomotion (floating base with feet)"
        return None, "no task inferred (a floating base without feet): add `task:` to train"
    planar = planar_root(model)
    if planar and not set(planar) & set(actuated):  # an unactuated root (an arm on a driven rail is no walker)
        return None, (
            f"no task inferred: the robot's root moves on joints of its own ({', '.join(planar)}: a planar "
            "robot, dm_control's walker or cheetah), and the locomotion task needs a floating base (a free "
            "joint): sim2real has no task to train it with (record, gap, identify and deploying a policy "
            "trained elsewhere work)"
        )
    passive = [(j, name) for j, name in zip(chosen, joints, strict=True) if name not in actuated]
    hinges = [(j, n) for j, n in passive if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_HINGE)]
    if len(passive) != 1 or len(hinges) != 1 or not actuated or model.neq:
        return None, "no task inferred (not a floating base with feet, nor one passive pole): add `task:` to train"
    (pole, name), = hinges
    driven = [j for j, n in zip(chosen, joints, strict=True) if n in actuated]
    hanging = _hanging_angles(model, pole, driven, pose)
    if hanging is None or _spread(hanging) > SAME_ANGLE:
        return None, (
            f"no task inferred: where the passive joint {name}'s pole hangs depends on the driven joints "
            "(or it has no weight to swing): add `task:` to train"
        )
    low = float(np.angle(np.mean(np.exp(1j * hanging))))
    high = math.remainder(low + math.pi, 2 * math.pi)
    if model.jnt_limited[pole]:  # both ends within the joint's range, else it is no swing-up
        lo, hi = (float(x) for x in model.jnt_range[pole])
        low, high = _inside(low, lo, hi), _inside(high, lo, hi)
        if low is None or high is None:
            return None, (
                f"no task inferred: the passive joint {name}'s range [{lo:.3g}, {hi:.3g}] rad does not reach both "
                "hanging and upright (a pole to balance, not to swing up): add `task:` to train"
            )
    task = {
        "kind": "swing_up",
        "joint": name,
        "hanging": round(low, 6),
        "upright": round(high, 6),
        "centre": [n for n in joints if n in actuated],
    }
    return task, (
        f"task: swing_up of the passive joint {name} (hanging at {task['hanging']:g} rad, where its centre of "
        f"mass is lowest, whatever the driven joints do; upright at {task['upright']:g}); the driven joints kept "
        "centred"
    )


def _hanging_angles(model: mujoco.MjModel, pole: int, driven: list[int], pose: np.ndarray) -> np.ndarray | None:
    """The pole angle of lowest centre of mass (along the model's gravity) for poses of the driven
    joints across their ranges (the default pose first), or None when the angle does not move the
    pole's centre of mass along gravity, or there is none."""
    gravity = np.asarray(model.opt.gravity, dtype=float)
    if not np.linalg.norm(gravity) > 0:
        return None
    down = gravity / np.linalg.norm(gravity)
    data = mujoco.MjData(model)
    body = int(model.jnt_bodyid[pole])
    rng = np.random.default_rng(0)
    angles = np.linspace(-math.pi, math.pi, _ANGLES, endpoint=False)
    out = []
    for k in range(_SAMPLES):
        data.qpos[:] = pose
        for j in driven if k else ():
            lo, hi = model.jnt_range[j] if model.jnt_limited[j] else (-math.pi, math.pi)
            data.qpos[model.jnt_qposadr[j]] = rng.uniform(lo, hi)
        heights = []
        for a in angles:
            data.qpos[model.jnt_qposadr[pole]] = a
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            heights.append(-float(data.subtree_com[body] @ down))  # against gravity, whichever way it points
        if max(heights) - min(heights) < 1e-6:
            return None
        out.append(angles[int(np.argmin(heights))])
    return np.array(out)


def _spread(angles: np.ndarray) -> float:
    """Largest angular distance of ``angles`` from their circular mean [rad]."""
    mean = np.angle(np.mean(np.exp(1j * angles)))
    return float(np.max(np.abs(np.angle(np.exp(1j * (angles - mean))))))


def _inside(angle: float, lo: float, hi: float) -> float | None:
    """``angle`` plus a whole number of turns within [lo, hi], or None."""
    turns = math.ceil((lo - angle) / (2 * math.pi))
    value = angle + 2 * math.pi * turns
    return value if value <= hi else None


def planar_root(model: mujoco.MjModel) -> list[str]:
    """The joints of a body on the world that both slides and turns (slide and hinge joints of its
    own): a planar robot's root (rootx, rootz, rooty), else []."""
    for body in range(1, model.nbody):
        if int(model.body_parentid[body]) != 0 or int(model.body_jntnum[body]) < 2:
            continue
        ids = range(int(model.body_jntadr[body]), int(model.body_jntadr[body]) + int(model.body_jntnum[body]))
        kinds = {int(model.jnt_type[j]) for j in ids}
        if {int(mujoco.mjtJoint.mjJNT_SLIDE), int(mujoco.mjtJoint.mjJNT_HINGE)} <= kinds:
            return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or f"#{j}" for j in ids]
    return []


def passive_root(
    model: mujoco.MjModel, joints: list[str], kp: object, torque: str | None
) -> tuple[list[str], list[str]]:
    """The chosen joints of a planar robot's root that no actuator of the model drives (the base's
    degrees of freedom in its plane: rootx, rootz, rooty), and a note saying so (none: []).

    They stay passive whatever the gains: one ``--kp`` for every joint (or a pattern of ``--kp`` or
    ``--torque``) would add an actuator that holds the base in the air.

    Raises:
        SpecError: a key of ``kp`` (a map) or an alternative of ``torque`` is one of them by name.
    """
    planar = planar_root(model)
    acted = {
        mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, int(model.actuator_trnid[a, 0]))
        for a in range(model.nu)
        if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT)
    }
    if not planar or set(planar) & acted:  # an arm on a driven rail: its own actuators say it is driven
        return [], []
    roots = [j for j in joints if j in planar]
    named = [j for j in roots if (isinstance(kp, Mapping) and j in kp) or j in (torque or "").split("|")]
    if named:
        raise SpecError(
            f"{few(named)}: the root joints of a planar robot (the base's slide and turn in its plane, no motor "
            "of the model drives them): --kp/--kd/--torque may not drive them (an actuator there would hold the "
            "base in the air)"
        )
    note = (
        f"planar root joints ({few(roots)}): the base's degrees of freedom in its plane, measured, never "
        "driven (no actuator of the model drives them; gains or --torque patterns that match them leave them passive)"
    )
    return roots, [note] if roots else []


ROOT_TILT = 1.0
"""A planar root's hinge stays within this of its default angle [rad] (a floating base's tilt limit)."""
ROOT_HEADING = 4 * math.pi
"""A planar root's hinge about the vertical (a heading in a level plane: Gymnasium's swimmer
``free_body_rot``) stays within this of its default angle [rad]: a floating base's yaw has no limit, so
this is a wind-up guard, as for any joint without a range (``ROOT_TILT`` stopped a swimmer that turned
by 1 rad)."""
ROOT_TRAVEL = 10.0
"""A planar root's level slide stays within this of its default position [m] (a boom's or a
treadmill's travel: set the rig's)."""
ROOT_SPEED = 10.0
"""A planar root's slides stay below this speed [m/s] (a running cheetah's; a motor's 1 m/s default
would stop it walking)."""


def planar_limits(
    safety: dict[str, Any], model: mujoco.MjModel, data: mujoco.MjData, roots: list[str], floor_z: float
) -> list[str]:
    """Set the safety limits of a planar robot's root joints (:func:`passive_root`) as a floating
    base's, in place, and return the check line (none without roots): a level hinge within
    :data:`ROOT_TILT` of its default angle (a tilt), a vertical one within :data:`ROOT_HEADING` (a
    heading), a vertical slide keeping the root body from 50 % to 200 % of its height above the floor
    plus 0.1 m (``safety.base_height``'s band), a level slide within
    :data:`ROOT_TRAVEL`, slides below :data:`ROOT_SPEED`.

    Args:
        safety: The spec's ``safety`` section (``joint_position``, ``joint_velocity``).
        model: The compiled model.
        data: Its data at the default pose (``qpos``).
        roots: The root joints.
        floor_z: Height of the floor [m].
    """
    if not roots:
        return []
    mujoco.mj_kinematics(model, data)
    said = []
    for name in roots:
        j = model.joint(name).id
        q = float(data.qpos[model.jnt_qposadr[j]])
        vertical = abs(float(data.xaxis[j][2])) > 0.9
        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_HINGE) and vertical:  # a heading, not a tilt
            low, high = q - ROOT_HEADING, q + ROOT_HEADING
            what = f"{name} within {ROOT_HEADING / math.pi:g} pi (heading: a wind-up guard, not a tilt)"
        elif int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_HINGE):
            low, high, what = q - ROOT_TILT, q + ROOT_TILT, f"{name} within {ROOT_TILT:g} rad (tilt)"
        elif vertical:  # a vertical slide: the root body's height above the floor
            height = float(data.xpos[model.jnt_bodyid[j]][2]) - floor_z
            up = 1.0 if float(data.xaxis[j][2]) > 0 else -1.0  # an axis pointing down: q grows downwards
            low, high = sorted((q - up * 0.5 * height, q + up * (height + 0.1)))
            what = f"{name} keeping the root {0.5 * height:.3g} to {2 * height + 0.1:.3g} m above the floor (base height)"
        else:
            low, high, what = q - ROOT_TRAVEL, q + ROOT_TRAVEL, f"{name} within {ROOT_TRAVEL:g} m (travel)"
        safety["joint_position"][name] = [round(low, 6), round(high, 6)]
        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_SLIDE):
            safety["joint_velocity"][name] = ROOT_SPEED
        said.append(what)
    return [
        f"the planar root's safety limits are a floating base's, not a motor's: {'; '.join(said)}; slides below "
        f"{ROOT_SPEED:g} m/s: set the travel and speed of your rig"
    ]
