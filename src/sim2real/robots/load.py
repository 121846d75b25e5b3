"""Load a robot spec and check it against its MJCF model.

:func:`load_spec` reads the YAML (:func:`sim2real.robots.spec.read_spec`), then looks at the model
the way MuJoCo compiles it, unedited:

- every name the spec uses exists with the right kind (joints, actuators, base body with its free
  joint, feet, IMU site or the body an added site goes to);
- every file the model compiles from (included MJCF, meshes, textures, height fields, skins) is
  hashed (:mod:`sim2real.robots.files`): the spec hash covers them all;
- the sensors sim2real reads are planned: a sensor the model already has is reused when it measures
  the same thing (same type, same joint or site, no cutoff); else sim2real adds its own, namespaced
  (``sim2real_<name>``) when the model uses the plain name for something else;
- every change sim2real makes to the model (timestep, integrator, actuators, sensors, sites) is
  listed in :attr:`RobotSpec.overrides`; :func:`sim2real.robots.model.build_mjspec` logs it once.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import mujoco

from sim2real.errors import SpecError
from sim2real.robots.collide import collides
from sim2real.robots.files import file_digest, model_files
from sim2real.robots.ground import ground_contact
from sim2real.robots.parse import read_spec
from sim2real.robots.spec import RobotSpec, canonical_yaml_digest, content_hash
from sim2real.text import few

INTEGRATOR_NAMES = {
    int(mujoco.mjtIntegrator.mjINT_EULER): "Euler",
    int(mujoco.mjtIntegrator.mjINT_RK4): "RK4",
    int(mujoco.mjtIntegrator.mjINT_IMPLICIT): "implicit",
    int(mujoco.mjtIntegrator.mjINT_IMPLICITFAST): "implicitfast",
}
"""MuJoCo integrator code -> the name the spec uses."""

NAMESPACE = "sim2real_"
"""Prefix of sim2real's own sensors whose plain name the model already uses for something else."""


def read_mjcf(path: Path) -> mujoco.MjSpec:
    """The model file as an MjSpec (includes resolved), as written, or one clear SpecError."""
    try:
        return mujoco.MjSpec.from_file(str(path))
    except Exception as exc:  # mujoco raises ValueError with the XML error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        missing = re.search(r"Error opening file '([^']+)'", first)
        if missing and not (path.parent / missing.group(1)).exists():  # hyqreal1's scene_rough.xml includes hyqreal.xml
            others = sorted(p.name for p in path.parent.glob("*.xml") if p.name != path.name)
            first += (
                f": {missing.group(1)} is not in {path.parent}"
                + (f" (its XML files: {few(others, 4)})" if others else "")
                + "; fix the include, in a copy of the scene if the model is not yours to edit"
            )
        raise SpecError(f"{path.name}: MJCF does not load ({first})") from None


def name_unnamed(mjspec: mujoco.MjSpec) -> tuple[list[str], list[str]]:
    """Name what specs refer to by name and simple models (Gymnasium's) leave unnamed: an actuator
    driving a joint after its joint, a body after its first joint or named geom (when no other
    actuator or body has that name).  Names change nothing the physics sees.

    Returns:
        The actuators and the bodies named, as named.
    """
    actuators: list[str] = []
    taken = {a.name for a in mjspec.actuators if a.name}
    for actuator in mjspec.actuators:
        if not actuator.name and actuator.trntype == mujoco.mjtTrn.mjTRN_JOINT and actuator.target not in taken:
            actuator.name = actuator.target
            taken.add(actuator.target)
            actuators.append(actuator.target)
    bodies: list[str] = []
    taken = {b.name for b in mjspec.bodies if b.name}
    for body in mjspec.bodies:
        name = None if body.name else next((e.name for e in [*body.joints, *body.geoms] if e.name and e.name not in taken), None)
        if name is not None:
            body.name = name
            taken.add(name)
            bodies.append(name)
    return actuators, bodies


def joint_transmissions(mjspec: mujoco.MjSpec) -> list[str]:
    """Turn each ``jointinparent`` actuator of a hinge or slide joint into a ``joint`` one (MuJoCo's
    two transmissions differ for ball and free joints only: the same moment arm, the same force), so
    everything that looks for the actuator of a joint finds it (a Menagerie-style model driving a
    joint with ``jointinparent`` had it read as passive, its motor left at control 0).

    Returns:
        The actuators changed, by name (their target joint where unnamed).
    """
    one_dof = (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)
    changed = []
    for actuator in mjspec.actuators:
        if actuator.trntype != mujoco.mjtTrn.mjTRN_JOINTINPARENT:
            continue
        joint = mjspec.joint(actuator.target)
        if joint is not None and joint.type in one_dof:
            actuator.trntype = mujoco.mjtTrn.mjTRN_JOINT
            changed.append(actuator.name or actuator.target)
    return changed


def plain_model(mjspec: mujoco.MjSpec) -> list[str]:
    """What :func:`load_mjcf` does to a model as read, one line each (nothing the physics sees):
    :func:`joint_transmissions`, then :func:`name_unnamed`."""
    notes = []
    if inparent := joint_transmissions(mjspec):
        notes.append(f"jointinparent actuators of hinge and slide joints read as joint actuators (the same for them): {few(inparent)}")
    actuators, bodies = name_unnamed(mjspec)
    if actuators:
        notes.append(f"unnamed actuators called after their joints: {', '.join(actuators)}")
    if bodies:
        notes.append(f"unnamed bodies called after their first joint or geom: {', '.join(bodies)}")
    return notes


def load_mjcf(path: Path) -> mujoco.MjSpec:
    """The model file as an MjSpec (includes resolved) as :func:`plain_model` leaves it (unnamed
    actuators and bodies named, hinge and slide joints' ``jointinparent`` actuators ``joint`` ones),
    or one clear SpecError."""
    mjspec = read_mjcf(path)
    plain_model(mjspec)
    return mjspec


def load_spec(path: str | Path) -> RobotSpec:
    """Read a spec YAML file and check it against its MJCF (see the module docstring).

    Raises:
        SpecError: one line naming the file and the offending entry.
    """
    spec = read_spec(path)
    try:
        return _inspect(spec)
    except SpecError as exc:
        raise SpecError(f"{spec.path.name}: {exc}") from None


def _inspect(spec: RobotSpec) -> RobotSpec:
    mjspec = load_mjcf(spec.mjcf_path)
    try:
        model = mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{spec.mjcf_path.name}: MJCF does not compile ({exc})") from None
    check_against_model(spec, model)
    files = dict(model_files(spec.mjcf_path, mjspec, spec.path.parent))
    for act in spec.actuators:  # actuator networks are part of what the robot simulates
        if act.net is not None:
            files[os.path.relpath(act.net, spec.path.parent)] = file_digest(act.net)
    files[spec.path.name] = canonical_yaml_digest(spec.raw)
    sensor_names, sensor_notes = plan_sensors(spec, mjspec)
    contact = ground_contact(model, added_floor=spec.floor is not None)
    slide = int(mujoco.mjtJoint.mjJNT_SLIDE)
    spec = dataclasses.replace(
        spec,
        slide_joints=frozenset(
            j for j in (*spec.joints, *spec.locked_joints) if int(model.jnt_type[model.joint(j).id]) == slide
        ),
        idle_actuators=idle_actuators(spec, model),
        ground_priority=contact.raise_to,
        ground_planes=contact.planes,
    )
    overrides = (*model_overrides(spec, model, contact.note), *sensor_notes)
    return dataclasses.replace(
        spec, files=files, hash=content_hash(files), sensor_names=sensor_names, overrides=overrides
    )


def idle_actuators(spec: RobotSpec, model: mujoco.MjModel) -> tuple[str, ...]:
    """The model's actuators outside the spec that move a joint the spec drives: on that joint,
    through a fixed tendon that lists it, or through any other transmission (a spatial tendon, a
    site, a slider-crank) whose moment arm on the joint is not zero at the model's zero pose or
    with every joint moved 0.1 rad (m) into its range (:attr:`RobotSpec.idle_actuators`)."""
    driven = {_id(model, mujoco.mjtObj.mjOBJ_JOINT, a.joint) for a in spec.actuators}
    ours = {a.actuator for a in spec.actuators}
    out = []
    moved_by_arm: dict[int, set[int]] | None = None
    for i in range(model.nu):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i)
        if name in ours:
            continue
        kind, target = int(model.actuator_trntype[i]), int(model.actuator_trnid[i, 0])
        if kind == int(mujoco.mjtTrn.mjTRN_JOINT):
            moved = {target}
        elif kind == int(mujoco.mjtTrn.mjTRN_TENDON) and _is_fixed_tendon(model, target):
            start, n = int(model.tendon_adr[target]), int(model.tendon_num[target])
            moved = {int(model.wrap_objid[w]) for w in range(start, start + n)}
        else:
            moved_by_arm = moved_by_arm if moved_by_arm is not None else _joints_moved_by_arm(model)
            moved = moved_by_arm.get(i, set())
        if moved & driven:
            if not name:
                raise SpecError(f"actuator #{i} moves a joint the spec drives and has no name; name it in the model")
            out.append(name)
    return tuple(out)


def _is_fixed_tendon(model: mujoco.MjModel, tendon: int) -> bool:
    start, n = int(model.tendon_adr[tendon]), int(model.tendon_num[tendon])
    return all(int(model.wrap_type[w]) == int(mujoco.mjtWrap.mjWRAP_JOINT) for w in range(start, start + n))


def _joints_moved_by_arm(model: mujoco.MjModel) -> dict[int, set[int]]:
    """Joints each actuator has a moment arm on, at qpos0 and at every hinge and slide joint moved
    0.1 into its range (one pose can cross an axis by chance)."""
    data = mujoco.MjData(model)
    poses = [model.qpos0.copy(), model.qpos0.copy()]
    for j in range(model.njnt):
        if int(model.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            adr = int(model.jnt_qposadr[j])
            step = 0.1 if not model.jnt_limited[j] or model.jnt_range[j, 1] - 0.1 >= poses[1][adr] else -0.1
            poses[1][adr] += step
    out: dict[int, set[int]] = {}
    for qpos in poses:
        data.qpos[:] = qpos
        mujoco.mj_forward(model, data)
        for i in range(model.nu):
            start, n = int(data.moment_rowadr[i]), int(data.moment_rownnz[i])
            for k in range(start, start + n):
                if abs(float(data.actuator_moment[k])) > 1e-9:
                    out.setdefault(i, set()).add(int(model.dof_jntid[int(data.moment_colind[k])]))
    return out


def _id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    return mujoco.mj_name2id(model, kind, name)


def check_against_model(spec: RobotSpec, model: mujoco.MjModel) -> None:
    """Check that every name the spec uses exists in the compiled MJCF with the right kind.

    Raises:
        SpecError: naming the first missing or mismatched element.
    """
    where = spec.mjcf_path.name
    joints = mujoco.mjtObj.mjOBJ_JOINT
    for joint in spec.joints:
        jid = _id(model, joints, joint)
        if jid < 0:
            raise SpecError(f"joint '{joint}' is not in {where}")
        if int(model.jnt_type[jid]) not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            raise SpecError(f"joint '{joint}' must be a hinge or slide joint")
        if model.jnt_limited[jid]:
            lo, hi = model.jnt_range[jid]
            q = spec.default_pose[spec.joints.index(joint)]
            if not lo - 1e-9 <= q <= hi + 1e-9:
                raise SpecError(f"default_pose.{joint} = {q} is outside the MJCF joint range [{lo}, {hi}]")
    if spec.floor is not None and _id(model, mujoco.mjtObj.mjOBJ_GEOM, spec.floor) >= 0:
        raise SpecError(f"floor: {where} already has a geom named '{spec.floor}'; name the added floor otherwise")
    for joint in spec.locked_joints:
        jid = _id(model, joints, joint)
        if jid < 0:
            raise SpecError(f"locked joint '{joint}' is not in {where}")
        if int(model.jnt_type[jid]) not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            raise SpecError(f"locked joint '{joint}' must be a hinge or slide joint")
        if model.jnt_limited[jid]:  # held there on the robot too (a ROS 2 command slot): never past its stop
            lo, hi = (float(x) for x in model.jnt_range[jid])
            q = float(spec.locked_joints[joint])
            if not lo - 1e-9 <= q <= hi + 1e-9:
                raise SpecError(f"locked_joints.{joint} = {q:g} is outside the MJCF joint range [{lo:g}, {hi:g}]")
    for act in spec.actuators:
        aid = _id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, act.actuator)
        if act.add:
            if aid >= 0:
                raise SpecError(f"actuator '{act.actuator}' is already in {where}; drop actuators.{act.joint}.add")
            continue
        if aid < 0:
            raise SpecError(f"actuator '{act.actuator}' (of joint '{act.joint}') is not in {where}")
        jid = _id(model, joints, act.joint)
        if int(model.actuator_trntype[aid]) != int(mujoco.mjtTrn.mjTRN_JOINT) or model.actuator_trnid[aid, 0] != jid:
            raise SpecError(f"actuator '{act.actuator}' does not drive joint '{act.joint}'")
    if spec.base_body is not None:
        bid = _id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        if bid < 0:
            raise SpecError(f"base_body '{spec.base_body}' is not in {where}")
        jnt = model.body_jntadr[bid]
        if model.body_jntnum[bid] < 1 or int(model.jnt_type[jnt]) != int(mujoco.mjtJoint.mjJNT_FREE):
            raise SpecError(f"base_body '{spec.base_body}' has no free joint")
    for foot in spec.feet:
        bid = _id(model, mujoco.mjtObj.mjOBJ_BODY, foot)
        if bid < 0:
            raise SpecError(f"foot body '{foot}' is not in {where}")
        if not any(_collides(model, g) for g in _body_geoms(model, bid)):
            raise SpecError(f"foot body '{foot}' has no collision geom")
    if spec.imu is not None:
        site = _id(model, mujoco.mjtObj.mjOBJ_SITE, spec.imu.site)
        if spec.imu.add_to is None and site < 0:
            raise SpecError(
                f"IMU site '{spec.imu.site}' is not in {where} (add it with sensors.imu.add_to: <body>)"
            )
        if spec.imu.add_to is not None:
            if site >= 0:
                raise SpecError(f"IMU site '{spec.imu.site}' is already in {where}; drop sensors.imu.add_to")
            if _id(model, mujoco.mjtObj.mjOBJ_BODY, spec.imu.add_to) < 0:
                raise SpecError(f"sensors.imu.add_to: body '{spec.imu.add_to}' is not in {where}")


def _body_geoms(model: mujoco.MjModel, body: int) -> range:
    start = int(model.body_geomadr[body])
    return range(start, start + int(model.body_geomnum[body])) if start >= 0 else range(0)


def _collides(model: mujoco.MjModel, geom: int) -> bool:
    return collides(model, geom)


# ------------------------------------------------------------------------------- sensors
_JOINT_ROLES = (
    ("pos", mujoco.mjtSensor.mjSENS_JOINTPOS),
    ("vel", mujoco.mjtSensor.mjSENS_JOINTVEL),
    ("torque", mujoco.mjtSensor.mjSENS_JOINTACTFRC),
)
_IMU_ROLES = (
    ("gyro", mujoco.mjtSensor.mjSENS_GYRO),
    ("accel", mujoco.mjtSensor.mjSENS_ACCELEROMETER),
    ("quat", mujoco.mjtSensor.mjSENS_FRAMEQUAT),
)


def sensor_roles(spec: RobotSpec) -> list[tuple[str, str, mujoco.mjtSensor, mujoco.mjtObj, str]]:
    """Every sensor sim2real reads: (role, default name, type, object type, object name)."""
    roles = []
    for joint in spec.joints:
        for what, kind in _JOINT_ROLES:
            roles.append((f"{joint}.{what}", f"{joint}_{what}", kind, mujoco.mjtObj.mjOBJ_JOINT, joint))
    if spec.imu is not None:
        for what, kind in _IMU_ROLES:
            roles.append((f"imu.{what}", f"imu_{what}", kind, mujoco.mjtObj.mjOBJ_SITE, spec.imu.site))
    return roles


def plan_sensors(spec: RobotSpec, mjspec: mujoco.MjSpec) -> tuple[dict[str, str], list[str]]:
    """Name of the model sensor of each role, and what the plan changes in the model.

    A named model sensor of the same type on the same object (a site for the IMU roles, without
    cutoff or reference frame) is reused; else sim2real adds one with the default name, or
    ``sim2real_<default>`` when the model already has a sensor of that name.
    """
    existing = {s.name: s for s in mjspec.sensors if s.name}
    names: dict[str, str] = {}
    reused, added = [], []
    for role, default, kind, objtype, objname in sensor_roles(spec):
        match = next(
            (
                s.name
                for s in existing.values()
                if int(s.type) == int(kind)
                and int(s.objtype) == int(objtype)
                and s.objname == objname
                and float(s.cutoff) == 0.0
                and (not s.refname)
            ),
            None,
        )
        if match is not None:
            names[role] = match
            reused.append(f"{match} ({role})")
            continue
        name = default if default not in existing else NAMESPACE + default
        names[role] = name
        added.append(name)
    notes = []
    if reused:
        notes.append(f"reuses {len(reused)} of the model's sensors ({few(reused)}): sim2real sets their noise, bias and delay")
    if added:
        notes.append(f"adds {len(added)} sensors ({few(added)})")
    return names, notes


# ------------------------------------------------------------------------------ overrides
def model_overrides(spec: RobotSpec, model: mujoco.MjModel, ground_note: str | None = None) -> list[str]:
    """What sim2real changes in the compiled MJCF besides sensors, one line per change
    (``ground_note``: the line of :func:`~sim2real.robots.ground.ground_contact`)."""
    out = []
    if abs(float(model.opt.timestep) - spec.physics_dt) > 1e-12:
        out.append(
            f"timestep {model.opt.timestep:g} -> {spec.physics_dt:g} s (control.dt / control.substeps)"
        )
    integrator = INTEGRATOR_NAMES.get(int(model.opt.integrator), str(int(model.opt.integrator)))
    if integrator != spec.integrator:
        out.append(f"integrator {integrator} -> {spec.integrator} (control.integrator)")
    for key, ours, theirs in (
        ("iterations", spec.solver_iterations, model.opt.iterations),
        ("ls_iterations", spec.ls_iterations, model.opt.ls_iterations),
    ):
        if ours is not None and ours != int(theirs):
            out.append(f"solver {key} {int(theirs)} -> {ours} (control.{key})")
    kinds = {
        int(mujoco.mjtGain.mjGAIN_FIXED): "motor/general",
        int(mujoco.mjtGain.mjGAIN_AFFINE): "affine",
        int(mujoco.mjtGain.mjGAIN_MUSCLE): "muscle",
    }
    replaced = []
    added = [f"{a.actuator} ({a.model}, joint {a.joint})" for a in spec.actuators if a.add]
    if added:
        out.append(f"adds actuators: {few(added, 3)}")
    for act in spec.actuators:
        if act.add:
            continue
        aid = _id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, act.actuator)
        bias = int(model.actuator_biastype[aid])
        kind = "position" if bias == int(mujoco.mjtBias.mjBIAS_AFFINE) else kinds.get(
            int(model.actuator_gaintype[aid]), "user"
        )
        into = f"net {act.net.name} ({act.model} drive)" if act.net is not None else act.model
        replaced.append(f"{act.actuator} ({kind}) -> {into}")
    if replaced:
        out.append(
            f"actuators replaced by sim2real's models (gains and limits from the spec): {few(replaced, 3)}"
        )
    if spec.idle_actuators:
        out.append(
            "switches off the model's actuators that move the spec's driven joints (gain and bias 0): "
            f"{few(spec.idle_actuators)}"
        )
    spec_acts = {a.actuator for a in spec.actuators} | set(spec.idle_actuators)
    locked_ids = {_id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in spec.locked_joints}
    left = [
        mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i) or f"#{i}"
        for i in range(model.nu)
        if mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i) not in spec_acts
        and not (
            int(model.actuator_trntype[i]) == int(mujoco.mjtTrn.mjTRN_JOINT)
            and int(model.actuator_trnid[i, 0]) in locked_ids
        )
    ]
    if left:
        out.append(f"actuators not in the spec get control 0: {few(left)}")
    nets = sorted({a.net.name for a in spec.actuators if a.net is not None})
    if nets:
        out.append(
            f"actuator networks ({', '.join(nets)}) compute the torque of their joints between physics "
            "steps (the MuJoCo actuators take it as a torque)"
        )
    if spec.floor is not None:
        out.append(f"adds a ground plane '{spec.floor}' at z = 0 (floor: the model has no ground of its own)")
    if ground_note is not None:
        out.append(ground_note)
    if spec.friction:
        out.append(f"joint friction from the spec (friction:): {few(sorted(spec.friction))}")
    if spec.imu is not None and spec.imu.add_to is not None:
        out.append(f"adds site '{spec.imu.site}' to body '{spec.imu.add_to}' at {list(spec.imu.pos)} (the IMU)")
    changed = []
    for joint, value in spec.armature.items():
        was = float(model.dof_armature[model.jnt_dofadr[_id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)]])
        if abs(was - value) > 1e-12:
            changed.append(f"{joint} {was:g} -> {value:g}")
    if changed:
        out.append(f"joint armature [kg m^2] (armature): {few(changed, 3)}")
    if spec.locked_joints:
        held = [f"{j} at {q:g}" for j, q in spec.locked_joints.items()]
        out.append(
            f"locks {len(held)} joints the policy does not drive (locked_joints; equality constraints, their "
            f"actuators get no force): {few(held, 3)}"
        )
    if spec.initial_base is not None and spec.base_body is not None:
        bid = _id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        adr = int(model.jnt_qposadr[model.body_jntadr[bid]])
        if abs(float(model.qpos0[adr + 2]) - float(spec.initial_base.pos[2])) > 1e-9:
            out.append(
                f"resets the base at height {spec.initial_base.pos[2]:g} m (initial_base; the model's qpos0 "
                f"says {model.qpos0[adr + 2]:g} m)"
            )
    return out
