"""Build MuJoCo models from a RobotSpec.

The MJCF holds geometry and inertia; the spec decides the rest.  :func:`build_mjspec` loads the
MJCF, sets the timestep and integrator, turns each policy joint's actuator into the spec's
actuator model (see :mod:`sim2real.robots.actuation`), and adds the sensors the spec describes
with names the parameter namespace uses:

- ``<joint>_pos``, ``<joint>_vel``, ``<joint>_torque`` for every policy joint;
- ``imu_gyro``, ``imu_accel``, ``imu_quat`` at the IMU site when the robot has an IMU.

Each sensor's ``noise`` field holds the standard deviation of one reading (sensor units): the
encoder noise of the spec, and for the IMU its noise density divided by sqrt(control period).

Actuators and sensors get a history buffer long enough for the delays the spec's parameter bounds
allow, so that per-simulation delays can be changed without recompiling.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.actuation import ACTUATOR_USER, MODEL_CODES, SENSOR_USER, affine_coefficients
from sim2real.robots.spec import RobotSpec

DEFAULT_MAX_DELAY = 0.04
"""Delay capacity [s] of actuator and sensor history buffers when the spec bounds say nothing."""

_INTEGRATORS = {
    "Euler": mujoco.mjtIntegrator.mjINT_EULER,
    "RK4": mujoco.mjtIntegrator.mjINT_RK4,
    "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
}


def _load_mjcf(spec: RobotSpec) -> mujoco.MjSpec:
    try:
        return mujoco.MjSpec.from_file(str(spec.mjcf_path))
    except Exception as exc:  # mujoco raises ValueError with the XML error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"{spec.mjcf_path.name}: MJCF does not load ({first})") from None


def check_against_mjcf(spec: RobotSpec) -> None:
    """Check that every name the spec uses exists in its MJCF with the right kind.

    Raises:
        SpecError: naming the first missing or mismatched element.
    """
    mjspec = _load_mjcf(spec)
    try:
        model = mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{spec.mjcf_path.name}: MJCF does not compile ({exc})") from None
    for joint in spec.joints:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        if jid < 0:
            raise SpecError(f"joint '{joint}' is not in {spec.mjcf_path.name}")
        if int(model.jnt_type[jid]) not in (
            int(mujoco.mjtJoint.mjJNT_HINGE),
            int(mujoco.mjtJoint.mjJNT_SLIDE),
        ):
            raise SpecError(f"joint '{joint}' must be a hinge or slide joint")
        if model.jnt_limited[jid]:
            lo, hi = model.jnt_range[jid]
            q = spec.default_pose[spec.joints.index(joint)]
            if not lo - 1e-9 <= q <= hi + 1e-9:
                raise SpecError(f"default_pose.{joint} = {q} is outside the MJCF joint range [{lo}, {hi}]")
    for act in spec.actuators:
        aid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, act.actuator)
        if aid < 0:
            raise SpecError(
                f"actuator '{act.actuator}' (of joint '{act.joint}') is not in {spec.mjcf_path.name}"
            )
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, act.joint)
        if (
            int(model.actuator_trntype[aid]) != int(mujoco.mjtTrn.mjTRN_JOINT)
            or model.actuator_trnid[aid, 0] != jid
        ):
            raise SpecError(f"actuator '{act.actuator}' does not drive joint '{act.joint}'")
    if spec.base_body is not None:
        bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        if bid < 0:
            raise SpecError(f"base_body '{spec.base_body}' is not in {spec.mjcf_path.name}")
        jnt = model.body_jntadr[bid]
        if model.body_jntnum[bid] < 1 or int(model.jnt_type[jnt]) != int(mujoco.mjtJoint.mjJNT_FREE):
            raise SpecError(f"base_body '{spec.base_body}' has no free joint")
    if spec.imu is not None and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, spec.imu.site) < 0:
        raise SpecError(f"IMU site '{spec.imu.site}' is not in {spec.mjcf_path.name}")


def _delay_capacity(spec: RobotSpec, prefix: str, suffix: str) -> float:
    high = DEFAULT_MAX_DELAY
    for bound in spec.parameter_bounds:
        if bound.name.startswith(prefix) and bound.name.endswith(suffix):
            high = max(high, *bound.high)
    return high


def build_mjspec(spec: RobotSpec) -> mujoco.MjSpec:
    """An MjSpec of the robot with the spec's options, actuator models and sensors applied."""
    mjspec = _load_mjcf(spec)
    mjspec.option.timestep = spec.physics_dt
    mjspec.option.integrator = _INTEGRATORS[spec.integrator]
    mjspec.nuser_actuator = len(ACTUATOR_USER)
    mjspec.nuser_sensor = len(SENSOR_USER)

    act_samples = math.ceil(_delay_capacity(spec, "actuator.", ".delay") / spec.physics_dt) + 2
    by_name = {a.name: a for a in mjspec.actuators}
    for act in spec.actuators:
        element = by_name[act.actuator]
        user = np.zeros(len(ACTUATOR_USER))
        user[ACTUATOR_USER.index("kp")] = act.kp
        user[ACTUATOR_USER.index("kd")] = act.kd
        user[ACTUATOR_USER.index("strength")] = 1.0
        user[ACTUATOR_USER.index("resistance")] = act.resistance
        user[ACTUATOR_USER.index("kt")] = act.kt
        user[ACTUATOR_USER.index("ke")] = act.ke
        user[ACTUATOR_USER.index("model")] = MODEL_CODES[act.model]
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
        if act.model == "pd":
            element.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        else:
            element.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            element.ctrlrange = [act.command_low, act.command_high]
        element.userdata = user.tolist()
        element.nsample = act_samples
        element.delay = 0.0

    sens_samples = math.ceil(_delay_capacity(spec, "sensor.", ".delay") / spec.physics_dt) + 2

    def add_sensor(
        name: str, kind: mujoco.mjtSensor, objtype: mujoco.mjtObj, objname: str, noise: float = 0.0
    ) -> None:
        sensor = mjspec.add_sensor(name=name, type=kind, objtype=objtype, objname=objname)
        sensor.userdata = [0.0] * len(SENSOR_USER)
        sensor.nsample = sens_samples
        sensor.delay = 0.0
        sensor.noise = noise

    existing = {s.name for s in mjspec.sensors}
    for joint in spec.joints:
        if f"{joint}_pos" in existing:
            raise SpecError(f"the MJCF already has a sensor named '{joint}_pos'; sim2real adds its own")
        jnt = mujoco.mjtObj.mjOBJ_JOINT
        add_sensor(f"{joint}_pos", mujoco.mjtSensor.mjSENS_JOINTPOS, jnt, joint, spec.encoder.position_noise)
        add_sensor(f"{joint}_vel", mujoco.mjtSensor.mjSENS_JOINTVEL, jnt, joint, spec.encoder.velocity_noise)
        add_sensor(f"{joint}_torque", mujoco.mjtSensor.mjSENS_JOINTACTFRC, mujoco.mjtObj.mjOBJ_JOINT, joint)
    if spec.imu is not None:
        site = mujoco.mjtObj.mjOBJ_SITE
        # white-noise density -> per-reading standard deviation at the control rate: sigma = d / sqrt(dt)
        per_reading = 1.0 / np.sqrt(spec.control_dt)
        gyro_sigma = spec.imu.gyro_noise_density * per_reading
        accel_sigma = spec.imu.accel_noise_density * per_reading
        add_sensor("imu_gyro", mujoco.mjtSensor.mjSENS_GYRO, site, spec.imu.site, gyro_sigma)
        add_sensor("imu_accel", mujoco.mjtSensor.mjSENS_ACCELEROMETER, site, spec.imu.site, accel_sigma)
        add_sensor("imu_quat", mujoco.mjtSensor.mjSENS_FRAMEQUAT, site, spec.imu.site)
    return mjspec


def build_model(spec: RobotSpec) -> mujoco.MjModel:
    """Compile the robot's model (nominal parameters)."""
    try:
        return build_mjspec(spec).compile()
    except SpecError:
        raise
    except Exception as exc:
        raise SpecError(f"{spec.name}: model does not compile ({exc})") from None


def default_qpos(spec: RobotSpec, model: mujoco.MjModel) -> np.ndarray:
    """Full qpos of the default pose: the model's qpos0 with policy joints at the default pose."""
    qpos = model.qpos0.copy()
    qpos[joint_qpos_indices(spec, model)] = spec.default_pose
    return qpos


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
