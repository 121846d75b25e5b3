"""Build MuJoCo models from a RobotSpec.

The MJCF holds geometry and inertia; the spec decides the rest.  :func:`build_mjspec` loads the
MJCF, sets the timestep and integrator, turns each policy joint's actuator into the spec's
actuator model (see :mod:`sim2real.robots.actuation`), adds the ground plane and the IMU site the
spec asks for, and adds (or reuses, see :func:`sim2real.robots.load.plan_sensors`) the sensors it
reads, named for the parameter namespace (:meth:`RobotSpec.sensor_name` gives each one's name):

- ``<joint>_pos``, ``<joint>_vel``, ``<joint>_torque`` for every policy joint;
- ``imu_gyro``, ``imu_accel``, ``imu_quat`` at the IMU site when the robot has an IMU.

Every change to the model is listed in ``spec.overrides`` and logged once per spec.

Each sensor's ``noise`` field holds the standard deviation of one reading (sensor units): the
encoder noise of the spec, and for the IMU its noise density divided by sqrt(control period).

Actuators and sensors get a history buffer long enough for the delays the spec's parameter bounds
allow, so that per-simulation delays can be changed without recompiling.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.actuation import ACTUATOR_USER, MODEL_CODES, SENSOR_USER, affine_coefficients
from sim2real.robots.collide import robot_geoms
from sim2real.robots.friction import DEFAULT_STRIBECK_VELOCITY, JOINT_USER
from sim2real.robots.ground import ADDED_FLOOR, floor_height, floor_plane
from sim2real.robots.load import load_mjcf, sensor_roles
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

DEFAULT_MAX_DELAY = 0.04
"""Delay capacity [s] of actuator and sensor history buffers when the spec bounds say nothing."""

_INTEGRATORS = {
    "Euler": mujoco.mjtIntegrator.mjINT_EULER,
    "RK4": mujoco.mjtIntegrator.mjINT_RK4,
    "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
}


_LOGGED: set[str] = set()


def log_overrides(spec: RobotSpec) -> None:
    """Log the spec's model overrides once per spec hash and process."""
    if spec.hash in _LOGGED or not spec.overrides:
        return
    _LOGGED.add(spec.hash)
    log.info("robot %s: sim2real changes its model: %s", spec.name, "; ".join(spec.overrides))


def _delay_capacity(spec: RobotSpec, prefix: str, suffix: str) -> float:
    high = DEFAULT_MAX_DELAY
    for bound in spec.parameter_bounds:
        if bound.name.startswith(prefix) and bound.name.endswith(suffix):
            high = max(high, *bound.high)
    return high


def build_mjspec(spec: RobotSpec) -> mujoco.MjSpec:
    """An MjSpec of the robot with the spec's options, actuator models and sensors applied."""
    log_overrides(spec)
    mjspec = load_mjcf(spec.mjcf_path)
    mjspec.option.timestep = spec.physics_dt
    mjspec.option.integrator = _INTEGRATORS[spec.integrator]
    if spec.solver_iterations is not None:
        mjspec.option.iterations = spec.solver_iterations
    if spec.ls_iterations is not None:
        mjspec.option.ls_iterations = spec.ls_iterations
    mjspec.nuser_actuator = len(ACTUATOR_USER)
    mjspec.nuser_sensor = len(SENSOR_USER)
    if spec.floor is not None:
        # its contact settings stated: a geom added here takes the model's top default class, which may
        # switch contacts off (Toddlerbot's does: the robot fell through the floor)
        floor = dict(ADDED_FLOOR, friction=list(ADDED_FLOOR["friction"]))
        mjspec.worldbody.add_geom(
            name=spec.floor, type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0.0, 0.0, 0.05], rgba=[0.5, 0.55, 0.6, 1.0], **floor
        )
    _apply_friction(spec, mjspec)
    if spec.ground_priority is not None:  # the ground's friction is the contact friction (robots/ground.py)
        for name in (*spec.ground_planes, *((spec.floor,) if spec.floor is not None else ())):
            mjspec.geom(name).priority = spec.ground_priority

    act_samples = math.ceil(_delay_capacity(spec, "actuator.", ".delay") / spec.physics_dt) + 2
    by_name = {a.name: a for a in mjspec.actuators}
    act_before = _act_sizes(mjspec)
    for act in spec.actuators:
        if act.add:
            by_name[act.actuator] = mjspec.add_actuator(
                name=act.actuator, trntype=mujoco.mjtTrn.mjTRN_JOINT, target=act.joint
            )
        element = by_name[act.actuator]
        user = np.zeros(len(ACTUATOR_USER))
        user[ACTUATOR_USER.index("kp")] = act.kp
        user[ACTUATOR_USER.index("kd")] = act.kd
        user[ACTUATOR_USER.index("strength")] = 1.0
        user[ACTUATOR_USER.index("resistance")] = act.resistance
        user[ACTUATOR_USER.index("kt")] = act.kt
        user[ACTUATOR_USER.index("ke")] = act.ke
        user[ACTUATOR_USER.index("model")] = MODEL_CODES["net" if act.net is not None else act.model]
        gain0, bias = affine_coefficients(user)
        element.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        element.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        element.dyntype = mujoco.mjtDyn.mjDYN_NONE
        gainprm = np.zeros(10)
        gainprm[0] = gain0
        biasprm = np.zeros(10)
        biasprm[:3] = bias
        element.gainprm = gainprm
        element.biasprm = biasprm
        element.gear = [1.0, 0, 0, 0, 0, 0]
        element.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        element.forcerange = [-act.torque_limit, act.torque_limit]
        if act.net is not None:  # the control is the network's torque
            element.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            element.ctrlrange = [-act.torque_limit, act.torque_limit]
        elif act.model == "pd":
            element.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        else:
            element.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            element.ctrlrange = [act.command_low, act.command_high]
        element.userdata = user.tolist()
        element.nsample = act_samples
        element.delay = 0.0

    _keyframe_act(mjspec, act_before)
    for joint, value in spec.armature.items():
        mjspec.joint(joint).armature = float(value)
    if spec.locked_joints or spec.idle_actuators:
        _lock_joints(spec, mjspec)

    sens_samples = math.ceil(_delay_capacity(spec, "sensor.", ".delay") / spec.physics_dt) + 2

    if spec.imu is not None and spec.imu.add_to is not None:
        mjspec.body(spec.imu.add_to).add_site(name=spec.imu.site, pos=list(spec.imu.pos))
    # noise of one reading: the encoder's; an IMU's density / sqrt(control period)
    per_reading = 1.0 / np.sqrt(spec.control_dt)
    noise = {"pos": spec.encoder.position_noise, "vel": spec.encoder.velocity_noise}
    if spec.imu is not None:
        noise["gyro"] = spec.imu.gyro_noise_density * per_reading
        noise["accel"] = spec.imu.accel_noise_density * per_reading
    existing = {s.name: s for s in mjspec.sensors if s.name}
    for role, _, kind, objtype, objname in sensor_roles(spec):
        name = spec.sensor_name(role)
        sensor = existing.get(name)
        if sensor is None:  # not the model's own (see sim2real.robots.load.plan_sensors): ours
            sensor = mjspec.add_sensor(name=name, type=kind, objtype=objtype, objname=objname)
        sensor.userdata = [0.0] * len(SENSOR_USER)
        sensor.nsample = sens_samples
        sensor.delay = 0.0
        sensor.noise = noise.get(role.rpartition(".")[2], 0.0)
    for sensor in mjspec.sensors:  # the model's other named sensors have a delay parameter too
        if sensor.name:
            sensor.nsample = max(sensor.nsample, sens_samples)
    return mjspec


def _act_sizes(mjspec: mujoco.MjSpec) -> list[int]:
    """Activation states of each actuator of ``mjspec`` (its ``actdim``; 1 for dynamics without one,
    0 without dynamics), in actuator order."""
    none = mujoco.mjtDyn.mjDYN_NONE
    return [0 if a.dyntype == none else (int(a.actdim) if a.actdim > 0 else 1) for a in mjspec.actuators]


def _keyframe_act(mjspec: mujoco.MjSpec, before: list[int]) -> None:
    """Drop from each keyframe's ``act`` the activations of the actuators whose dynamics sim2real's
    models replaced (``before``: :func:`_act_sizes` of the model as given): a keyframe saved with
    the model's filter servos' activations no longer compiled ("invalid act size")."""
    after = _act_sizes(mjspec)[: len(before)]
    if after == before:
        return
    keep = []
    start = 0
    for old, new in zip(before, after, strict=True):
        if old and old == new:
            keep += range(start, start + old)
        start += old
    for key in mjspec.keys:
        if len(key.act) == start:
            key.act = [float(key.act[i]) for i in keep]


def _lock_joints(spec: RobotSpec, mjspec: mujoco.MjSpec) -> None:
    """Hold each locked joint at its position with a joint equality constraint; its own actuators
    produce no force (``spec.locked_joints``); nor do the idle actuators (``spec.idle_actuators``)."""
    for joint, q in spec.locked_joints.items():
        element = mjspec.joint(joint)
        ref = float(element.ref)  # a one-joint equality holds joint = ref + polycoef[0]
        mjspec.add_equality(
            type=mujoco.mjtEq.mjEQ_JOINT, name1=joint, data=[q - ref] + [0.0] * 11, objtype=mujoco.mjtObj.mjOBJ_JOINT
        )
    locked, idle = set(spec.locked_joints), set(spec.idle_actuators)
    for actuator in mjspec.actuators:
        if (actuator.trntype == mujoco.mjtTrn.mjTRN_JOINT and actuator.target in locked) or actuator.name in idle:
            actuator.gainprm = [0.0] * 10
            actuator.biasprm = [0.0] * 10


def _apply_friction(spec: RobotSpec, mjspec: mujoco.MjSpec) -> None:
    """Joint friction: the spec's Coulomb and viscous values into ``frictionloss`` and ``damping``,
    and every hinge and slide joint's Stribeck values into ``jnt_user`` (:mod:`sim2real.robots.friction`)."""
    mjspec.nuser_jnt = len(JOINT_USER)
    sliding = (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)
    for joint in mjspec.joints:
        if joint.type not in sliding:
            joint.userdata = [0.0] * len(JOINT_USER)
            continue
        entry = spec.friction.get(joint.name)
        if entry is None:
            joint.userdata = [0.0, DEFAULT_STRIBECK_VELOCITY]
            continue
        joint.userdata = [entry.stribeck, entry.stribeck_velocity]
        if entry.coulomb is not None:
            joint.frictionloss = entry.coulomb
        if entry.viscous is not None:
            damping = np.array(joint.damping, dtype=float)  # MuJoCo 4: [linear, higher orders]
            damping[0] = entry.viscous
            joint.damping = damping


def build_model(spec: RobotSpec) -> mujoco.MjModel:
    """Compile the robot's model (nominal parameters)."""
    return _compile(spec, build_mjspec(spec))


def _compile(spec: RobotSpec, mjspec: mujoco.MjSpec) -> mujoco.MjModel:
    try:
        return mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{spec.name}: model does not compile ({exc})") from None


def build_robot_model(spec: RobotSpec) -> mujoco.MjModel:
    """The robot's model with everything else held still: the joints of every body tree that holds
    none of the robot's joints (a ball, a box on the floor) are removed, so their bodies stay where
    the model puts them and every degree of freedom left is the robot's.  Keyframes keep the
    robot's entries (those of the removed joints are dropped from them)."""
    mjspec = build_mjspec(spec)
    robot = set(spec.joints) | set(spec.locked_joints)
    removed = []
    for root in mjspec.worldbody.bodies:
        joints = root.find_all(mujoco.mjtObj.mjOBJ_JOINT)
        bodies = {b.name for b in root.find_all(mujoco.mjtObj.mjOBJ_BODY)} | {root.name}
        if spec.base_body in bodies or any(j.name in robot for j in joints):
            continue
        removed += joints
    if not removed:
        return _compile(spec, mjspec)
    nominal = _compile(spec, mjspec)  # where each removed joint's entries sit in a keyframe
    sizes = {int(mujoco.mjtJoint.mjJNT_FREE): (7, 6), int(mujoco.mjtJoint.mjJNT_BALL): (4, 3)}  # (qpos, qvel)
    drop_q, drop_v = [], []
    for joint in removed:
        j = int(joint.id)  # its id in the compiled model (named or not)
        nq, nv = sizes.get(int(nominal.jnt_type[j]), (1, 1))
        drop_q += range(int(nominal.jnt_qposadr[j]), int(nominal.jnt_qposadr[j]) + nq)
        drop_v += range(int(nominal.jnt_dofadr[j]), int(nominal.jnt_dofadr[j]) + nv)
    for element in _referring(mjspec, nominal, {int(j.id) for j in removed}):
        mjspec.delete(element)
    for joint in removed:
        mjspec.delete(joint)
    for key in mjspec.keys:
        if len(key.qpos) == nominal.nq:
            key.qpos = np.delete(np.asarray(key.qpos), drop_q).tolist()
        if len(key.qvel) == nominal.nv:
            key.qvel = np.delete(np.asarray(key.qvel), drop_v).tolist()
    return _compile(spec, mjspec)


def _referring(mjspec: mujoco.MjSpec, nominal: mujoco.MjModel, joints: set[int]) -> list[object]:
    """The elements of ``mjspec`` that refer to the joints ``joints`` (ids in ``nominal``, its compiled
    model), which go with them: the fixed tendons through them, and the equality constraints,
    actuators and sensors on either (Gymnasium Robotics' kitchen: equalities tie the scene's knobs)."""
    tendons = {
        t
        for t in range(nominal.ntendon)
        for w in range(int(nominal.tendon_adr[t]), int(nominal.tendon_adr[t]) + int(nominal.tendon_num[t]))
        if int(nominal.wrap_type[w]) == int(mujoco.mjtWrap.mjWRAP_JOINT) and int(nominal.wrap_objid[w]) in joints
    }
    on = {int(mujoco.mjtObj.mjOBJ_JOINT): joints, int(mujoco.mjtObj.mjOBJ_TENDON): tendons}
    eq = {int(mujoco.mjtEq.mjEQ_JOINT): joints, int(mujoco.mjtEq.mjEQ_TENDON): tendons}
    trn = {int(mujoco.mjtTrn.mjTRN_JOINT): joints, int(mujoco.mjtTrn.mjTRN_JOINTINPARENT): joints}
    trn[int(mujoco.mjtTrn.mjTRN_TENDON)] = tendons
    equalities = {
        e
        for e in range(nominal.neq)
        if {int(nominal.eq_obj1id[e]), int(nominal.eq_obj2id[e])} & eq.get(int(nominal.eq_type[e]), set())
    }
    actuators = {
        a for a in range(nominal.nu) if int(nominal.actuator_trnid[a, 0]) in trn.get(int(nominal.actuator_trntype[a]), set())
    }
    on[int(mujoco.mjtObj.mjOBJ_ACTUATOR)] = actuators
    sensors = {
        s for s in range(nominal.nsensor) if int(nominal.sensor_objid[s]) in on.get(int(nominal.sensor_objtype[s]), set())
    }
    return [
        *(x for x in mjspec.sensors if int(x.id) in sensors),
        *(x for x in mjspec.actuators if int(x.id) in actuators),
        *(x for x in mjspec.equalities if int(x.id) in equalities),
        *(x for x in mjspec.tendons if int(x.id) in tendons),
    ]


def default_qpos(spec: RobotSpec, model: mujoco.MjModel) -> np.ndarray:
    """Full qpos of the default pose: the model's qpos0 with policy joints at the default pose and
    a floating base at the spec's ``initial_base`` pose."""
    qpos = model.qpos0.copy()
    qpos[joint_qpos_indices(spec, model)] = spec.default_pose
    joint = base_joint(spec, model)
    if spec.initial_base is not None and joint is not None:
        qpos[joint.qpos : joint.qpos + 3] = spec.initial_base.pos
        qpos[joint.qpos + 3 : joint.qpos + 7] = spec.initial_base.quat
    return qpos


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
    """The base's free joint in ``model`` (found from the base body, never assumed at address 0),
    or None when the base is fixed: the robot has none, or the model holds it (hung by its base).

    Raises:
        SpecError: the spec names a base body the model does not have.
    """
    if spec.base_body is None:
        return None
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    if body < 0:
        raise SpecError(f"base_body '{spec.base_body}' is not in the model")
    first = int(model.body_jntadr[body])
    for j in range(first, first + int(model.body_jntnum[body])):
        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_FREE):
            return BaseJoint(body=body, qpos=int(model.jnt_qposadr[j]), dof=int(model.jnt_dofadr[j]))
    return None


def joint_qpos_indices(spec: RobotSpec, model: mujoco.MjModel) -> np.ndarray:
    """qpos address of each policy joint, shape (n_joints,)."""
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in spec.joints]
    return np.array([model.jnt_qposadr[i] for i in ids], dtype=np.int64)


def joint_dof_indices(spec: RobotSpec, model: mujoco.MjModel) -> np.ndarray:
    """qvel address of each policy joint, shape (n_joints,)."""
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in spec.joints]
    return np.array([model.jnt_dofadr[i] for i in ids], dtype=np.int64)


def actuator_indices(spec: RobotSpec, model: mujoco.MjModel) -> np.ndarray:
    """ctrl index of each actuator, in the spec's actuator order, shape (n_actions,)."""
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
    return np.array([model.actuator_ctrladr[i] for i in ids], dtype=np.int64)


def carrying_body(model: mujoco.MjModel, body: int) -> int:
    """The body that carries ``body``'s mass: itself, or when it has none (a floating base that is only
    a frame, its mass in a child welded to it: Menagerie's Open Duck Mini) the heaviest body welded
    to it; ``body`` when none of them has mass."""
    if float(model.body_mass[body]) > 0:
        return body
    welded = [b for b in range(model.nbody) if int(model.body_weldid[b]) == int(model.body_weldid[body])]
    heaviest = max(welded, key=lambda b: float(model.body_mass[b]))
    return heaviest if float(model.body_mass[heaviest]) > 0 else body


def spec_floor_height(spec: RobotSpec, model: mujoco.MjModel) -> float:
    """Height of the floor under the robot at its initial pose (the default pose at ``initial_base``)
    [m, world z] (:func:`~sim2real.robots.ground.floor_height`): the floor every height "above the
    floor" is measured from.  A fixed base: the model's floor plane (0 without one)."""
    joint = base_joint(spec, model)
    if joint is None:
        return floor_plane(model)[0]
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_kinematics(model, data)
    return floor_height(model, data, robot_geoms(model, joint.body))


RESET_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQACC,
)
"""The warnings with which ``mj_step`` resets a diverged simulation to the model's reference state
(non-finite or huge positions, velocities, accelerations)."""


_QPOS, _QVEL, _QACC = (int(w) for w in RESET_WARNINGS)


def resets(data: mujoco.MjData) -> int:
    """How many times MuJoCo has reset ``data`` for a diverged state (the counts of :data:`RESET_WARNINGS`;
    about 1 us: the twin asks after every fine step)."""
    counts = data.warning.number  # a view of every warning's count
    return int(counts[_QPOS] + counts[_QVEL] + counts[_QACC])


def in_subtree(model: mujoco.MjModel, body: int, root: int) -> bool:
    """Whether ``body`` is ``root`` or below it in the kinematic tree (every body is under the
    world, ``root`` 0)."""
    while body > 0:
        if body == root:
            return True
        body = int(model.body_parentid[body])
    return root == 0
