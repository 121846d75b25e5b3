"""RobotSpec: the one source of truth about a robot.

A spec is a YAML file next to an MJCF file.  It names the joints in the order the policy sees
them, the default pose, the actuator model of each joint, the sensors, the control period, the
observation layout, the safety limits and the plausible bounds of the physical parameters.
Everything downstream (policies, logs, calibrations) records the spec's content hash.

Schema (all angles in rad, times in s, torques in N m)::

    name: pendulum
    mjcf: pendulum.xml            # relative to this YAML file
    joints: [hinge]               # policy order
    default_pose: {hinge: 0.0}
    control: {dt: 0.005, substeps: 5, integrator: implicitfast}
    base_body: null               # floating-base robots: the trunk body
    actuators:                    # keyed by joint name; joints without an entry are passive
      hinge: {actuator: motor, model: torque, torque_limit: 1.0, gear: 6}
      # model: pd        -> kp [N m/rad], kd [N m s/rad]
      # model: dc_motor  -> resistance [Ohm], kt [N m/A], ke [V s/rad], voltage_limit [V]
    sensors:
      encoder: {position_noise: 0.0, velocity_noise: 0.0, resolution: 0.0}
      imu: {site: imu, gyro_noise_density: 0.0, accel_noise_density: 0.0}   # optional
    observation:                  # ordered terms: name, size, scale
      - {name: joint_pos, size: 1, scale: 1.0}
    safety:
      joint_position: {hinge: [-6.3, 6.3]}
      joint_velocity: {hinge: 20.0}
      joint_torque: {hinge: 1.0}  # actuated joints only
      tilt: null                  # max base tilt [rad], floating base only
      base_height: null           # [min, max] [m], floating base only
      command_rate: 50.0          # max change of a joint command per second (command units / s)
      stale_timeout: 0.05         # a reading older than this is stale [s]
      safe_mode: damping          # damping | zero_torque
      damping: 0.1                # joint damping gain in safe mode [N m s/rad]
    parameters:                   # plausible bounds (absolute values); nominal values come from the model
      body.pole.mass: {low: 0.4, high: 0.9}
      body.pole.com: {low: [-0.01, -0.01, -0.6], high: [0.01, 0.01, 0.0]}   # one per component
      joint.hinge.damping: {low: 0.0, high: 0.5}
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from sim2real.errors import SpecError
from sim2real.robots.safety_options import CollisionSpec, StageSpec, parse_collision, parse_stages

ActuatorModel = Literal["pd", "torque", "dc_motor"]
SafeMode = Literal["damping", "zero_torque"]

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
    "safety",
    "parameters",
    "description",
    "ros2",  # how the robot is reached over ROS 2 (validated by sim2real.real.ros2.Ros2Config)
}
_REQUIRED = ("name", "mjcf", "joints", "default_pose", "control", "actuators", "observation", "safety")


def _frozen(values: Any, dtype: type = float) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class ActuatorSpec:
    """How one joint is driven."""

    joint: str
    """Joint this actuator drives (policy name)."""
    actuator: str
    """Name of the actuator element in the MJCF."""
    model: ActuatorModel
    """`pd`: PD position target; `torque`: direct joint torque; `dc_motor`: voltage into a DC motor."""
    torque_limit: float
    """Largest joint torque the actuator can produce [N m]."""
    kp: float = 0.0
    """Proportional gain of the PD model [N m/rad]."""
    kd: float = 0.0
    """Derivative gain of the PD model [N m s/rad]."""
    resistance: float = 0.0
    """DC motor winding resistance [Ohm]."""
    kt: float = 0.0
    """DC motor torque constant [N m/A]."""
    ke: float = 0.0
    """DC motor back-EMF constant [V s/rad]."""
    voltage_limit: float = 0.0
    """DC motor supply voltage limit [V]."""
    gear: float = 1.0
    """Gear ratio between motor and joint (documentation and reflected inertia; torques are at the joint)."""

    @property
    def command_low(self) -> float:
        """Lowest command the actuator accepts, in its command units (rad, N m or V)."""
        if self.model == "dc_motor":
            return -self.voltage_limit
        if self.model == "torque":
            return -self.torque_limit
        return -math.inf

    @property
    def command_high(self) -> float:
        """Highest command the actuator accepts, in its command units (rad, N m or V)."""
        return -self.command_low


@dataclass(frozen=True)
class EncoderSpec:
    """Joint encoders of every policy joint."""

    position_noise: float = 0.0
    """Standard deviation of white position noise [rad]."""
    velocity_noise: float = 0.0
    """Standard deviation of white velocity noise [rad/s]."""
    resolution: float = 0.0
    """Quantization step of the position reading [rad]; 0 for none."""


@dataclass(frozen=True)
class ImuSpec:
    """An IMU on a site of the base body."""

    site: str
    """MJCF site the IMU sits on."""
    gyro_noise_density: float = 0.0
    """Gyro white-noise density [rad/s/sqrt(Hz)]."""
    accel_noise_density: float = 0.0
    """Accelerometer white-noise density [m/s^2/sqrt(Hz)]."""


@dataclass(frozen=True)
class ObservationTerm:
    """One named block of the observation vector."""

    name: str
    """Term name, resolved by the task's term registry."""
    size: int
    """Number of entries this term contributes."""
    scale: float = 1.0
    """Multiplier applied to the term before normalization."""


@dataclass(frozen=True, eq=False)
class SafetyLimits:
    """Limits the safety monitor enforces.  Arrays are read-only and in policy joint order."""

    joint_names: tuple[str, ...]
    """Joints the per-joint arrays refer to, in policy order."""
    position_low: np.ndarray
    """Lowest allowed joint position, shape (n_joints,) [rad]."""
    position_high: np.ndarray
    """Highest allowed joint position, shape (n_joints,) [rad]."""
    velocity: np.ndarray
    """Largest allowed joint speed, shape (n_joints,) [rad/s]."""
    torque: np.ndarray
    """Largest allowed joint torque, shape (n_joints,) [N m]; inf for passive (unactuated) joints."""
    tilt: float | None = None
    """Largest allowed base tilt from upright [rad]; None for fixed-base robots."""
    base_height_low: float | None = None
    """Lowest allowed base height [m]; None when not applicable."""
    base_height_high: float | None = None
    """Highest allowed base height [m]; None when not applicable."""
    command_rate: float = math.inf
    """Largest allowed change of a joint command per second [command units/s]."""
    stale_timeout: float = 0.05
    """A reading older than this is stale [s]."""
    safe_mode: SafeMode = "damping"
    """What a safe stop does: joint damping, or zero torque."""
    damping: float = 0.0
    """Joint damping gain in safe mode [N m s/rad]."""
    collision: CollisionSpec = field(default_factory=CollisionSpec)
    """Collision detection (``safety.collision``, see :mod:`sim2real.robots.safety_options`)."""
    stages: StageSpec = field(default_factory=StageSpec)
    """Stage ledger dwell and reset rule (``safety.stages``)."""


@dataclass(frozen=True)
class ParameterBound:
    """Plausible range of one named physical parameter (absolute SI values)."""

    name: str
    """Parameter name or pattern (see `sim2real.params`)."""
    low: tuple[float, ...]
    """Lowest plausible value: one number for every component, or one per component."""
    high: tuple[float, ...]
    """Highest plausible value, like ``low``."""


@dataclass(frozen=True, eq=False)
class RobotSpec:
    """Everything sim2real needs to know about a robot.  Build with :func:`load_spec`."""

    name: str
    """Robot name."""
    path: Path
    """The spec YAML file."""
    mjcf_path: Path
    """The MJCF file."""
    joints: tuple[str, ...]
    """Joint names in the order the policy sees them."""
    default_pose: np.ndarray
    """Default joint positions, shape (n_joints,) [rad]."""
    actuators: tuple[ActuatorSpec, ...]
    """Actuators of the actuated joints, in policy joint order (passive joints have none)."""
    encoder: EncoderSpec
    """Joint encoder model."""
    imu: ImuSpec | None
    """IMU, or None."""
    control_dt: float
    """Control period [s]."""
    substeps: int
    """Physics steps per control step."""
    integrator: str
    """MuJoCo integrator name used for training (`implicitfast`, `Euler`, `RK4`, `implicit`)."""
    observation: tuple[ObservationTerm, ...]
    """Observation layout, in order."""
    safety: SafetyLimits
    """Safety limits."""
    parameter_bounds: tuple[ParameterBound, ...]
    """Plausible bounds of named parameters (patterns as written in the YAML)."""
    base_body: str | None
    """Trunk body of a floating-base robot, or None."""
    hash: str
    """Content hash (sha256 hex) of the YAML and the MJCF."""
    raw: dict = field(repr=False, default_factory=dict)
    """The YAML mapping as read, for reference."""

    @property
    def physics_dt(self) -> float:
        """Physics timestep [s]."""
        return self.control_dt / self.substeps

    @property
    def n_joints(self) -> int:
        """Number of policy joints."""
        return len(self.joints)

    @property
    def n_obs(self) -> int:
        """Length of the observation vector."""
        return sum(term.size for term in self.observation)

    @property
    def n_actions(self) -> int:
        """Number of actuators (= policy actions)."""
        return len(self.actuators)

    @property
    def actuated_joints(self) -> tuple[str, ...]:
        """Joints with an actuator, in policy order."""
        return tuple(a.joint for a in self.actuators)

    @property
    def floating_base(self) -> bool:
        """Whether the robot has a free-floating base."""
        return self.base_body is not None

    def actuator(self, joint: str) -> ActuatorSpec:
        """The actuator of a joint, by name."""
        for act in self.actuators:
            if act.joint == joint:
                return act
        raise SpecError(f"{self.name}: no actuator for joint '{joint}'")


def content_hash(yaml_text: str, mjcf_bytes: bytes) -> str:
    """sha256 of the canonical YAML content and the MJCF bytes."""
    data = yaml.safe_load(yaml_text)
    try:
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    except TypeError:
        raise SpecError("the spec mixes key types in one mapping; use plain string keys") from None
    digest = hashlib.sha256()
    digest.update(canonical)
    digest.update(b"\0")
    digest.update(mjcf_bytes)
    return digest.hexdigest()


def _require_mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _number(value: Any, where: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{where} must be a number, got {value!r}")
    x = float(value)
    if math.isnan(x):
        raise SpecError(f"{where} is NaN")
    if positive and not x > 0:
        raise SpecError(f"{where} must be positive, got {x}")
    if nonnegative and x < 0:
        raise SpecError(f"{where} must not be negative, got {x}")
    return x


def _check_keys(mapping: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _per_joint(mapping: Any, joints: tuple[str, ...], where: str) -> dict:
    mapping = _require_mapping(mapping, where)
    unknown = [k for k in mapping if k not in joints]
    if unknown:
        raise SpecError(f"{where}: unknown joint '{unknown[0]}' (joints: {', '.join(joints)})")
    missing = [j for j in joints if j not in mapping]
    if missing:
        raise SpecError(f"{where}: missing joint '{missing[0]}'")
    return mapping


def _parse_actuator(joint: str, raw: Any) -> ActuatorSpec:
    where = f"actuators.{joint}"
    raw = _require_mapping(raw, where)
    _check_keys(
        raw,
        {"actuator", "model", "torque_limit", "kp", "kd", "resistance", "kt", "ke", "voltage_limit", "gear"},
        where,
    )
    model = raw.get("model")
    if model not in ("pd", "torque", "dc_motor"):
        raise SpecError(f"{where}.model must be one of pd, torque, dc_motor; got {model!r}")
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
    }
    needed = {"pd": ("kp", "kd"), "torque": (), "dc_motor": ("resistance", "kt", "ke", "voltage_limit")}[
        model
    ]
    for key in needed:
        if key not in raw:
            raise SpecError(f"{where}: a {model} actuator needs '{key}'")
    for key in ("kp", "kd", "resistance", "kt", "ke", "voltage_limit"):
        if key in raw:
            if key not in needed:
                raise SpecError(f"{where}: '{key}' does not apply to a {model} actuator")
            positive = key in ("kp", "resistance", "kt", "voltage_limit")
            kwargs[key] = _number(raw[key], f"{where}.{key}", positive=positive, nonnegative=True)
    return ActuatorSpec(**kwargs)


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
        position_low=_frozen(low),
        position_high=_frozen(high),
        velocity=_frozen(velocity),
        torque=_frozen(torque),
        tilt=tilt,
        base_height_low=h_low,
        base_height_high=h_high,
        command_rate=_number(raw.get("command_rate", math.inf), "safety.command_rate", positive=True),
        stale_timeout=_number(raw.get("stale_timeout", 0.05), "safety.stale_timeout", positive=True),
        safe_mode=safe_mode,
        damping=_number(raw.get("damping", 0.0), "safety.damping", nonnegative=True),
        collision=parse_collision(raw.get("collision"), joints),
        stages=parse_stages(raw.get("stages")),
    )


def load_spec(path: str | Path) -> RobotSpec:
    """Read and validate a spec YAML file (and check it against its MJCF).

    Raises:
        SpecError: with a message naming the file and the offending entry.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"robot spec not found: {path}")
    text = path.read_text()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise SpecError(f"{path}: not valid YAML ({first})") from None
    try:
        return _build(path, text, _require_mapping(raw, "the spec file"))
    except SpecError as exc:
        raise SpecError(f"{path.name}: {exc}") from None


def _build(path: Path, text: str, raw: dict) -> RobotSpec:
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
    _check_keys(control, {"dt", "substeps", "integrator"}, "control")
    control_dt = _number(control.get("dt"), "control.dt", positive=True)
    substeps = control.get("substeps", 1)
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise SpecError(f"control.substeps must be a positive integer, got {substeps!r}")
    integrator = control.get("integrator", "implicitfast")
    if integrator not in ("Euler", "RK4", "implicit", "implicitfast"):
        raise SpecError(
            f"control.integrator must be Euler, RK4, implicit or implicitfast; got {integrator!r}"
        )

    acts_raw = _require_mapping(raw["actuators"], "actuators")
    unknown = [k for k in acts_raw if k not in joints]
    if unknown:
        raise SpecError(f"actuators: unknown joint '{unknown[0]}' (joints: {', '.join(joints)})")
    if not acts_raw:
        raise SpecError("actuators: at least one joint must be actuated")
    # Actuators follow the policy joint order; joints without an entry are passive (unactuated).
    actuators = tuple(_parse_actuator(j, acts_raw[j]) for j in joints if j in acts_raw)

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
        _check_keys(imu_raw, {"site", "gyro_noise_density", "accel_noise_density"}, "sensors.imu")
        if "site" not in imu_raw:
            raise SpecError("sensors.imu: missing 'site'")
        imu = ImuSpec(
            site=str(imu_raw["site"]),
            **{
                k: _number(v, f"sensors.imu.{k}", nonnegative=True) for k, v in imu_raw.items() if k != "site"
            },
        )

    obs_raw = raw["observation"]
    if not isinstance(obs_raw, list) or not obs_raw:
        raise SpecError("observation must be a non-empty list of terms")
    observation = []
    seen = set()
    for i, term in enumerate(obs_raw):
        term = _require_mapping(term, f"observation[{i}]")
        _check_keys(term, {"name", "size", "scale"}, f"observation[{i}]")
        name = term.get("name")
        if not isinstance(name, str):
            raise SpecError(f"observation[{i}]: missing term name")
        if name in seen:
            raise SpecError(f"observation: term '{name}' listed twice")
        seen.add(name)
        size = term.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SpecError(f"observation.{name}.size must be a positive integer, got {size!r}")
        scale = _number(term.get("scale", 1.0), f"observation.{name}.scale")
        if scale == 0:
            raise SpecError(f"observation.{name}.scale must not be zero")
        observation.append(ObservationTerm(name=name, size=size, scale=scale))

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

    spec = RobotSpec(
        name=str(raw["name"]),
        path=path.resolve(),
        mjcf_path=mjcf_path,
        joints=joints,
        default_pose=_frozen(default_pose),
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
        hash=content_hash(text, mjcf_path.read_bytes()),
        raw=raw,
    )
    # Cross-check against the MJCF (names, joint types); imported here to keep spec parsing light.
    from sim2real.robots.model import check_against_mjcf

    check_against_mjcf(spec)
    return spec
