"""Parse and validate a spec YAML file on its own (the schema: :mod:`sim2real.robots.spec`).

:func:`read_spec` turns the YAML into a :class:`~sim2real.robots.spec.RobotSpec` without looking
at the MJCF; :func:`sim2real.robots.load.load_spec` then checks it against the model and fills
in what the model decides (files hashed, sensor names, overrides, the hash).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim2real.errors import SpecError
from sim2real.robots.not_spec import not_a_spec, not_a_spec_yaml
from sim2real.robots.parse_action import parse_action
from sim2real.robots.parse_values import check_keys as _check_keys
from sim2real.robots.parse_values import joint_names as _joint_names
from sim2real.robots.parse_values import number as _number
from sim2real.robots.parse_values import require_mapping as _require_mapping
from sim2real.robots.safety_options import parse_collision, parse_stages
from sim2real.robots.spec import (
    FLOATING_BASE_TERMS,
    IMU_TERMS,
    NO_JOINT,
    ActuatorSpec,
    EncoderSpec,
    FrictionSpec,
    ImuSpec,
    InitialBase,
    ObservationTerm,
    ParameterBound,
    RobotSpec,
    SafetyLimits,
    TaskSpec,
    frozen_array,
    term_params,
    term_size,
)
from sim2real.text import read_text

_TOP_KEYS = {
    "name",
    "mjcf",
    "joints",
    "default_pose",
    "control",
    "base_body",
    "actuators",
    "sensors",
    "observation",
    "frame_stack",
    "safety",
    "parameters",
    "description",
    "ros2",  # how the robot is reached over ROS 2 (validated by sim2real.real.ros2.Ros2Config)
    "task",
    "action",
    "feet",
    "initial_base",
    "motor_order",
    "armature",
    "locked_joints",
    "friction",
    "floor",
}
_REQUIRED = ("name", "mjcf", "joints", "default_pose", "control", "actuators", "observation", "safety")



def _per_joint(mapping: Any, joints: tuple[str, ...], where: str) -> dict:
    mapping = _require_mapping(mapping, where)
    unknown = [k for k in mapping if k not in joints]
    if unknown:
        raise SpecError(f"{where}: unknown joint '{unknown[0]}' (joints: {', '.join(joints)})")
    missing = [j for j in joints if j not in mapping]
    if missing:
        raise SpecError(f"{where}: missing joint '{missing[0]}'")
    return mapping


def _safe_damping(raw: Any, joints: tuple[str, ...], actuated: Any) -> list[float]:
    """``safety.damping``: one gain for every joint, or a map naming each actuated joint's (a hand's
    light joints cannot take the hips' gain) [N m s/rad]; passive joints get 0."""
    if isinstance(raw, dict):
        gains = _per_joint_subset(raw, joints, "safety.damping")
        missing = [j for j in joints if j in actuated and j not in gains]
        if missing:
            raise SpecError(f"safety.damping: missing actuated joint '{missing[0]}' (or give one number)")
        return [_number(gains.get(j, 0.0), f"safety.damping.{j}", nonnegative=True, finite=True) for j in joints]
    value = _number(raw, "safety.damping", nonnegative=True, finite=True)
    return [value if j in actuated else 0.0 for j in joints]


def _command_rate(raw: Any, joints: tuple[str, ...], actuated: Any) -> list[float]:
    """``safety.command_rate``: one rate for every joint, or a map naming each actuated joint's (a
    torque-driven arm's 2 N m wrist cannot take the 150 N m shoulder's rate) [command units/s];
    passive joints get inf (no command)."""
    if isinstance(raw, dict):
        rates = _per_joint_subset(raw, joints, "safety.command_rate")
        missing = [j for j in joints if j in actuated and j not in rates]
        if missing:
            raise SpecError(f"safety.command_rate: missing actuated joint '{missing[0]}' (or give one number)")
        return [
            _number(rates[j], f"safety.command_rate.{j}", positive=True) if j in actuated else math.inf for j in joints
        ]
    value = _number(raw, "safety.command_rate", positive=True)
    return [value if j in actuated else math.inf for j in joints]


def _parse_actuator(joint: str, raw: Any, folder: Path) -> ActuatorSpec:
    where = f"actuators.{joint}"
    raw = _require_mapping(raw, where)
    _check_keys(
        raw,
        {
            "actuator",
            "model",
            "torque_limit",
            "kp",
            "kd",
            "resistance",
            "kt",
            "ke",
            "voltage_limit",
            "gear",
            "add",
            "net",
            "drive",
        },
        where,
    )
    add = raw.get("add", False)
    if not isinstance(add, bool):
        raise SpecError(f"{where}.add must be true or false")
    model = raw.get("model")
    if model not in ("pd", "torque", "dc_motor", "net"):
        raise SpecError(f"{where}.model must be one of pd, torque, dc_motor, net; got {model!r}")
    net = None
    if model == "net":
        # the drive the network models: what its command means, what the robot runs
        if not isinstance(raw.get("net"), str) or not raw["net"]:
            raise SpecError(f"{where}: a net actuator needs 'net' (the ONNX file of `sim2real actuator fit`)")
        net = (folder / raw["net"]).resolve()
        if not net.is_file():
            raise SpecError(f"{where}.net: actuator network not found: {net}")
        model = raw.get("drive", "pd")
        if model not in ("pd", "torque", "dc_motor"):
            raise SpecError(f"{where}.drive must be one of pd, torque, dc_motor; got {model!r}")
    elif "net" in raw or "drive" in raw:
        raise SpecError(f"{where}: 'net' and 'drive' apply to a net actuator (model: net)")
    if "actuator" not in raw:
        raise SpecError(f"{where}: missing 'actuator' (the MJCF actuator name)")
    if "torque_limit" not in raw:
        raise SpecError(f"{where}: missing 'torque_limit'")
    kwargs: dict[str, Any] = {
        "joint": joint,
        "actuator": str(raw["actuator"]),
        "model": model,
        "torque_limit": _number(raw["torque_limit"], f"{where}.torque_limit", positive=True),
        "gear": _number(raw.get("gear", 1.0), f"{where}.gear", positive=True),
        "add": add,
        "net": net,
    }
    needed = {"pd": ("kp", "kd"), "torque": (), "dc_motor": ("resistance", "kt", "ke", "voltage_limit")}[
        model
    ]
    for key in needed:
        if key not in raw:
            raise SpecError(f"{where}: a {model} {'drive' if net else 'actuator'} needs '{key}'")
    for key in ("kp", "kd", "resistance", "kt", "ke", "voltage_limit"):
        if key in raw:
            if key not in needed:
                raise SpecError(f"{where}: '{key}' does not apply to a {model} actuator")
            positive = key in ("kp", "resistance", "kt", "voltage_limit")
            kwargs[key] = _number(raw[key], f"{where}.{key}", positive=positive, nonnegative=True, finite=True)
    return ActuatorSpec(**kwargs)


def _parse_friction(raw: Any, joints: tuple[str, ...]) -> dict[str, FrictionSpec]:
    """The ``friction:`` section: per joint Coulomb, viscous, Stribeck friction and velocity."""
    raw = _require_mapping(raw or {}, "friction")
    out = {}
    for joint, entry in raw.items():
        where = f"friction.{joint}"
        if joint not in joints:
            raise SpecError(f"{where}: unknown joint '{joint}' (joints: {', '.join(joints)})")
        entry = _require_mapping(entry, where)
        _check_keys(entry, {"coulomb", "viscous", "stribeck", "stribeck_velocity"}, where)
        values = {k: _number(v, f"{where}.{k}", nonnegative=True) for k, v in entry.items()}
        if "stribeck_velocity" in values and not values["stribeck_velocity"] > 0:
            raise SpecError(f"{where}.stribeck_velocity must be positive")
        out[str(joint)] = FrictionSpec(**values)
    return out


def _parse_safety(raw: Any, joints: tuple[str, ...], floating: bool, actuated: tuple[str, ...]) -> SafetyLimits:
    raw = _require_mapping(raw, "safety")
    _check_keys(
        raw,
        {
            "joint_position",
            "joint_velocity",
            "joint_torque",
            "tilt",
            "base_height",
            "command_rate",
            "stale_timeout",
            "safe_mode",
            "damping",
            "collision",
            "stages",
            "torque_above_model",
            "torque_above_weight",
        },
        "safety",
    )
    for key in ("joint_position", "joint_velocity", "joint_torque"):
        if key not in raw:
            raise SpecError(f"safety: missing '{key}'")
    pos = _per_joint(raw["joint_position"], joints, "safety.joint_position")
    low, high = [], []
    for j in joints:
        pair = pos[j]
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise SpecError(f"safety.joint_position.{j} must be [low, high]")
        lo = _number(pair[0], f"safety.joint_position.{j}[0]")
        hi = _number(pair[1], f"safety.joint_position.{j}[1]")
        if not lo < hi:
            raise SpecError(f"safety.joint_position.{j}: low {lo} is not below high {hi}")
        low.append(lo)
        high.append(hi)
    vel = _per_joint(raw["joint_velocity"], joints, "safety.joint_velocity")
    trq = _per_joint(raw["joint_torque"], actuated, "safety.joint_torque")
    velocity = [_number(vel[j], f"safety.joint_velocity.{j}", positive=True) for j in joints]
    # passive joints cannot be commanded: their torque limit is infinite
    torque = [
        _number(trq[j], f"safety.joint_torque.{j}", positive=True) if j in actuated else math.inf for j in joints
    ]

    tilt = raw.get("tilt")
    height = raw.get("base_height")
    if not floating and (tilt is not None or height is not None):
        raise SpecError("safety: tilt and base_height apply only to floating-base robots (set base_body)")
    if tilt is not None:
        tilt = _number(tilt, "safety.tilt", positive=True)
        if tilt > math.pi:
            raise SpecError(f"safety.tilt {tilt} rad exceeds pi")
    h_low = h_high = None
    if height is not None:
        if not isinstance(height, list | tuple) or len(height) != 2:
            raise SpecError("safety.base_height must be [min, max]")
        h_low = _number(height[0], "safety.base_height[0]")
        h_high = _number(height[1], "safety.base_height[1]")
        if not h_low < h_high:
            raise SpecError(f"safety.base_height: min {h_low} is not below max {h_high}")
    safe_mode = raw.get("safe_mode", "damping")
    if safe_mode not in ("damping", "zero_torque"):
        raise SpecError(f"safety.safe_mode must be damping or zero_torque, got {safe_mode!r}")
    return SafetyLimits(
        joint_names=joints,
        position_low=frozen_array(low),
        position_high=frozen_array(high),
        velocity=frozen_array(velocity),
        torque=frozen_array(torque),
        tilt=tilt,
        base_height_low=h_low,
        base_height_high=h_high,
        command_rate=frozen_array(_command_rate(raw.get("command_rate", math.inf), joints, actuated)),
        stale_timeout=_number(raw.get("stale_timeout", 0.05), "safety.stale_timeout", positive=True),
        safe_mode=safe_mode,
        damping=frozen_array(_safe_damping(raw.get("damping", 0.0), joints, actuated)),
        collision=parse_collision(raw.get("collision"), joints),
        stages=parse_stages(raw.get("stages")),
        torque_above_model=_joint_names(raw.get("torque_above_model", []), actuated, "safety.torque_above_model"),
        torque_above_weight=_joint_names(raw.get("torque_above_weight", []), actuated, "safety.torque_above_weight"),
    )


def read_spec(path: str | Path) -> RobotSpec:
    """Read and validate a spec YAML file on its own (the MJCF is checked by
    :func:`sim2real.robots.load.load_spec`, which every caller should use).

    Raises:
        SpecError: with a message naming the file and the offending entry.
    """
    path = Path(path)
    instead = not_a_spec(path)
    if instead is not None:
        raise SpecError(instead)
    if not path.is_file():
        raise SpecError(f"robot spec not found: {path}")
    text = read_text(path, SpecError, "robot spec")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise SpecError(f"{path}: not valid YAML ({first})") from None
    instead = not_a_spec_yaml(path, raw)
    if instead is not None:
        raise SpecError(instead)
    try:
        return _build(path, _require_mapping(raw, "the spec file"))
    except SpecError as exc:
        raise SpecError(f"{path.name}: {exc}") from None


def _build(path: Path, raw: dict) -> RobotSpec:
    _check_keys(raw, _TOP_KEYS, "spec")
    for key in _REQUIRED:
        if key not in raw:
            raise SpecError(f"missing required key '{key}'")
    mjcf_path = (path.parent / str(raw["mjcf"])).resolve()
    if not mjcf_path.is_file():
        raise SpecError(f"MJCF file not found: {mjcf_path}")

    joints_raw = raw["joints"]
    if not isinstance(joints_raw, list) or not joints_raw or not all(isinstance(j, str) for j in joints_raw):
        raise SpecError("joints must be a non-empty list of joint names")
    if len(set(joints_raw)) != len(joints_raw):
        raise SpecError("joints: a joint is listed twice")
    joints = tuple(joints_raw)

    pose_map = _per_joint(raw["default_pose"], joints, "default_pose")
    default_pose = [_number(pose_map[j], f"default_pose.{j}") for j in joints]

    control = _require_mapping(raw["control"], "control")
    _check_keys(control, {"dt", "substeps", "integrator", "iterations", "ls_iterations"}, "control")
    control_dt = _number(control.get("dt"), "control.dt", positive=True)
    substeps = control.get("substeps", 1)
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise SpecError(f"control.substeps must be a positive integer, got {substeps!r}")
    integrator = control.get("integrator", "implicitfast")
    if integrator not in ("Euler", "RK4", "implicit", "implicitfast"):
        raise SpecError(
            f"control.integrator must be Euler, RK4, implicit or implicitfast; got {integrator!r}"
        )
    solver = {}
    for key in ("iterations", "ls_iterations"):
        value = control.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SpecError(f"control.{key} must be a positive integer, got {value!r}")
        solver[key] = value

    acts_raw = _require_mapping(raw["actuators"], "actuators")
    unknown = [k for k in acts_raw if k not in joints]
    if unknown:
        raise SpecError(f"actuators: unknown joint '{unknown[0]}' (joints: {', '.join(joints)})")
    if not acts_raw:
        raise SpecError("actuators: at least one joint must be actuated")
    # Actuators follow the policy joint order; joints without an entry are passive (unactuated).
    actuators = tuple(_parse_actuator(j, acts_raw[j], path.parent) for j in joints if j in acts_raw)

    sensors = _require_mapping(raw.get("sensors", {}) or {}, "sensors")
    _check_keys(sensors, {"encoder", "imu"}, "sensors")
    enc_raw = _require_mapping(sensors.get("encoder", {}) or {}, "sensors.encoder")
    _check_keys(enc_raw, {"position_noise", "velocity_noise", "resolution"}, "sensors.encoder")
    encoder = EncoderSpec(
        **{k: _number(v, f"sensors.encoder.{k}", nonnegative=True) for k, v in enc_raw.items()}
    )
    imu = None
    if sensors.get("imu") is not None:
        imu_raw = _require_mapping(sensors["imu"], "sensors.imu")
        _check_keys(
            imu_raw, {"site", "gyro_noise_density", "accel_noise_density", "add_to", "pos"}, "sensors.imu"
        )
        if "site" not in imu_raw:
            raise SpecError("sensors.imu: missing 'site'")
        add_to = imu_raw.get("add_to")
        if add_to is not None and not isinstance(add_to, str):
            raise SpecError("sensors.imu.add_to must be a body name")
        if "pos" in imu_raw and add_to is None:
            raise SpecError("sensors.imu.pos applies only to a site added with add_to")
        imu = ImuSpec(
            site=str(imu_raw["site"]),
            add_to=add_to,
            pos=_vector(imu_raw.get("pos", [0.0, 0.0, 0.0]), 3, "sensors.imu.pos"),
            **{
                k: _number(v, f"sensors.imu.{k}", nonnegative=True)
                for k, v in imu_raw.items()
                if k in ("gyro_noise_density", "accel_noise_density")
            },
        )

    action = parse_action(raw.get("action"), joints, default_pose, actuators)
    observation = _parse_observation(  # last_action: the driven actions only
        raw["observation"], joints, len(actuators) - len(action.hold), imu is not None, raw.get("base_body") is not None
    )

    base_body = raw.get("base_body")
    if base_body is not None and not isinstance(base_body, str):
        raise SpecError("base_body must be a body name or null")
    safety = _parse_safety(raw["safety"], joints, base_body is not None, tuple(a.joint for a in actuators))
    for j, q, lo, hi in zip(joints, default_pose, safety.position_low, safety.position_high, strict=True):
        if not lo <= q <= hi:
            raise SpecError(f"default_pose.{j} = {q} lies outside safety.joint_position [{lo}, {hi}]")
    for act in actuators:
        limit = safety.torque[joints.index(act.joint)]
        if limit > act.torque_limit * (1 + 1e-9):
            raise SpecError(
                f"safety.joint_torque.{act.joint} = {limit} exceeds the actuator's torque_limit "
                f"{act.torque_limit}: the limit could never be reached"
            )

    bounds = []
    params_raw = _require_mapping(raw.get("parameters", {}) or {}, "parameters")
    for name, entry in params_raw.items():
        entry = _require_mapping(entry, f"parameters.{name}")
        _check_keys(entry, {"low", "high"}, f"parameters.{name}")
        if "low" not in entry or "high" not in entry:
            raise SpecError(f"parameters.{name}: needs both 'low' and 'high'")
        def values(v: Any, where: str) -> tuple[float, ...]:
            items = v if isinstance(v, list | tuple) else [v]
            return tuple(_number(x, where) for x in items)

        lo = values(entry["low"], f"parameters.{name}.low")
        hi = values(entry["high"], f"parameters.{name}.high")
        if len(lo) != len(hi):
            raise SpecError(f"parameters.{name}: low and high have different lengths")
        if any(a > b for a, b in zip(lo, hi, strict=True)):
            raise SpecError(f"parameters.{name}: low {list(lo)} is above high {list(hi)}")
        bounds.append(ParameterBound(name=str(name), low=lo, high=hi))

    floating = base_body is not None
    task = _parse_task(raw.get("task"))
    feet = _parse_feet(raw.get("feet"), floating)
    initial_base = _parse_initial_base(raw.get("initial_base"), floating)
    motor_order = _parse_motor_order(raw.get("motor_order"), tuple(a.joint for a in actuators))
    armature = {
        j: _number(v, f"armature.{j}", nonnegative=True)
        for j, v in _per_joint_subset(raw.get("armature"), joints, "armature").items()
    }
    locked = _require_mapping(raw.get("locked_joints") or {}, "locked_joints")
    driven = [j for j in locked if j in joints]
    if driven:
        raise SpecError(f"locked_joints: '{driven[0]}' is a policy joint (listed in joints)")
    locked = {str(j): _number(v, f"locked_joints.{j}", finite=True) for j, v in locked.items()}  # sent as is on a robot
    return RobotSpec(
        name=str(raw["name"]),
        path=path.resolve(),
        mjcf_path=mjcf_path,
        joints=joints,
        default_pose=frozen_array(default_pose),
        actuators=actuators,
        encoder=encoder,
        imu=imu,
        control_dt=control_dt,
        substeps=substeps,
        integrator=integrator,
        observation=tuple(observation),
        safety=safety,
        parameter_bounds=tuple(bounds),
        base_body=base_body,
        hash="",  # set by sim2real.robots.load.load_spec from every file the model compiles from
        raw=raw,
        task=task,
        action_scale=action.scale,
        action_offset=action.offset,
        action_filter=action.alpha,
        action_clip_low=action.clip_low,
        action_clip_high=action.clip_high,
        action_limit=action.limit,
        held=action.hold,
        motor_order=motor_order,
        armature=armature,
        locked_joints=locked,
        feet=feet,
        initial_base=initial_base,
        friction=_parse_friction(raw.get("friction"), joints),
        solver_iterations=solver["iterations"],
        ls_iterations=solver["ls_iterations"],
        floor=_parse_floor(raw.get("floor")),
        frame_stack=_parse_frame_stack(raw.get("frame_stack", 1)),
    )


def _parse_frame_stack(raw: Any) -> int:
    """``frame_stack``: whole observation frames the policy sees (1: the current one only)."""
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise SpecError(f"frame_stack must be a positive number of observation frames, got {raw!r}")
    return raw


def _parse_floor(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise SpecError(f"floor must be the name of the ground plane sim2real adds, got {raw!r}")
    return raw


def _vector(value: Any, n: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or len(value) != n:
        raise SpecError(f"{where} must be a list of {n} numbers")
    return tuple(_number(x, f"{where}[{i}]") for i, x in enumerate(value))


def _parse_task(raw: Any) -> TaskSpec | None:
    if raw is None:
        return None
    raw = _require_mapping(raw, "task")
    kind = raw.get("kind")
    if not isinstance(kind, str) or not kind:
        raise SpecError("task: missing 'kind' (e.g. locomotion, swing_up)")
    return TaskSpec(kind=kind, params={k: v for k, v in raw.items() if k != "kind"})


def _parse_feet(raw: Any, floating: bool) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw) or len(set(raw)) != len(raw):
        raise SpecError("feet must be a list of distinct body names")
    if raw and not floating:
        raise SpecError("feet apply only to floating-base robots (set base_body)")
    return tuple(raw)


def _parse_initial_base(raw: Any, floating: bool) -> InitialBase | None:
    if raw is None:
        return None
    if not floating:
        raise SpecError("initial_base applies only to floating-base robots (set base_body)")
    raw = _require_mapping(raw, "initial_base")
    _check_keys(raw, {"pos", "quat"}, "initial_base")
    if "pos" not in raw:
        raise SpecError("initial_base: missing 'pos' [x, y, z] (m)")
    pos = _vector(raw["pos"], 3, "initial_base.pos")
    quat = np.array(_vector(raw.get("quat", [1.0, 0.0, 0.0, 0.0]), 4, "initial_base.quat"))
    norm = float(np.linalg.norm(quat))
    if not norm > 0:
        raise SpecError("initial_base.quat must not be zero")
    return InitialBase(pos=frozen_array(pos), quat=frozen_array(quat / norm))


def _per_joint_subset(raw: Any, joints: tuple[str, ...], where: str) -> dict:
    """A mapping over some of the joints (absent: empty)."""
    mapping = _require_mapping(raw or {}, where)
    unknown = [k for k in mapping if k not in joints]
    if unknown:
        raise SpecError(f"{where}: unknown joint '{unknown[0]}' (joints: {', '.join(joints)})")
    return mapping


def _parse_motor_order(raw: Any, actuated: tuple[str, ...]) -> tuple[str, ...]:
    """The actuated joints by motor slot (a permutation of them, :data:`NO_JOINT` for a slot that
    drives none), or () when not given."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(j, str) for j in raw):
        raise SpecError(
            f"motor_order must be a list of joint names (the actuated joints by motor slot, {NO_JOINT} for an empty slot)"
        )
    joints = [j for j in raw if j != NO_JOINT]
    extra = [j for j in joints if j not in actuated]
    if extra:
        raise SpecError(f"motor_order: '{extra[0]}' is not an actuated joint")
    if len(set(joints)) != len(joints):
        raise SpecError("motor_order: a joint is listed twice")
    missing = [j for j in actuated if j not in joints]
    if missing:
        raise SpecError(f"motor_order: missing actuated joint '{missing[0]}'")
    return tuple(raw)


def _parse_observation(
    obs_raw: Any, joints: tuple[str, ...], n_actions: int, has_imu: bool, floating: bool
) -> tuple[ObservationTerm, ...]:
    if not isinstance(obs_raw, list) or not obs_raw:
        raise SpecError("observation must be a non-empty list of terms")
    observation = []
    seen = set()
    for i, term in enumerate(obs_raw):
        term = _require_mapping(term, f"observation[{i}]")
        _check_keys(term, {"name", "size", "scale", "history", "clip", "params"}, f"observation[{i}]")
        name = term.get("name")
        if not isinstance(name, str):
            raise SpecError(f"observation[{i}]: missing term name")
        if name in seen:
            raise SpecError(f"observation: term '{name}' listed twice")
        seen.add(name)
        raw_params = _require_mapping(term.get("params", {}) or {}, f"observation.{name}.params")
        expected = term_size(name, len(joints), n_actions, raw_params)
        size = term.get("size", expected)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SpecError(f"observation.{name}.size must be a positive integer, got {size!r}")
        if size != expected:
            raise SpecError(
                f"observation.{name}.size is {size}, but this robot's {name} has {expected} entries"
            )
        if name in IMU_TERMS and not has_imu:
            raise SpecError(f"observation term '{name}' needs an IMU (sensors.imu)")
        if name in FLOATING_BASE_TERMS and not floating:
            raise SpecError(f"observation term '{name}' needs a floating base (base_body)")
        scale = _term_values(term.get("scale", 1.0), size, f"observation.{name}.scale")
        if any(x == 0 for x in np.atleast_1d(scale)):
            raise SpecError(f"observation.{name}.scale must not be zero")
        history = term.get("history", 1)
        if isinstance(history, bool) or not isinstance(history, int) or history < 1:
            raise SpecError(f"observation.{name}.history must be a positive integer (frames), got {history!r}")
        clip = term.get("clip")
        if clip is not None:
            if not isinstance(clip, list | tuple) or len(clip) != 2:
                raise SpecError(f"observation.{name}.clip must be [low, high]")
            lo = _term_values(clip[0], size, f"observation.{name}.clip[0]")
            hi = _term_values(clip[1], size, f"observation.{name}.clip[1]")
            if np.any(np.asarray(lo) >= np.asarray(hi)):
                raise SpecError(f"observation.{name}.clip: low is not below high")
            clip = (lo, hi)
        params = term_params(name, raw_params)
        observation.append(
            ObservationTerm(name=name, size=size, scale=scale, history=history, clip=clip, params=params)
        )
    return tuple(observation)


def _term_values(value: Any, size: int, where: str) -> float | tuple[float, ...]:
    """One number, or a list of ``size`` numbers (one per value of a frame)."""
    if isinstance(value, list | tuple):
        if len(value) != size:
            raise SpecError(f"{where} has {len(value)} values, the term's frame has {size}")
        values = tuple(_number(x, f"{where}[{k}]") for k, x in enumerate(value))
        return values[0] if len(set(values)) == 1 else values
    return _number(value, where)
