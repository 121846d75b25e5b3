"""RobotSpec: the one source of truth about a robot.

A spec is a YAML file next to an MJCF file.  It names the joints in the order the policy sees
them, the default pose, the actuator model of each joint, the sensors, the control period, the
observation layout, the safety limits and the plausible bounds of the physical parameters.
Everything downstream (policies, logs, calibrations) records the spec's content hash.

Schema (all angles in rad, times in s, torques in N m; docs/robots.md has every key)::

    name: pendulum                # only a name: the task comes from `task:`
    mjcf: pendulum.xml            # relative to this YAML file (a scene that includes the robot is fine)
    joints: [hinge]               # policy order
    default_pose: {hinge: 0.0}
    control: {dt: 0.005, substeps: 5, integrator: implicitfast}
    base_body: null               # floating-base robots: the body of the free joint
    initial_base: {pos: [0, 0, 0.34], quat: [1, 0, 0, 0]}   # floating base: pose at reset [m]
    feet: [FL_calf, ...]          # legged robots: bodies whose lowest collision geom touches the floor
    actuators:                    # keyed by joint name; joints without an entry are passive
      hinge: {actuator: motor, model: torque, torque_limit: 1.0, gear: 6}
      # model: pd        -> kp [N m/rad], kd [N m s/rad]; add: true -> sim2real adds the actuator
      # model: dc_motor  -> resistance [Ohm], kt [N m/A], ke [V s/rad], voltage_limit [V]
      # model: net       -> net: actuator.onnx (relative to this YAML; `sim2real actuator fit`),
      #                     drive: pd | torque | dc_motor (default pd) with that drive's keys: the
      #                     robot runs the drive, the simulator computes its torque with the network
    friction:                     # optional, per joint: Coulomb + viscous + Stribeck (robots/friction.py)
      hinge: {coulomb: 0.02, viscous: 0.01, stribeck: 0.01, stribeck_velocity: 0.1}
    action:                       # policy action a in [-1, 1] -> actuator command
      scale: 2.0                  # one number, or {joint: scale} per actuated joint
      offset: {hinge: 0.0}        # optional; default: the default pose (pd), else 0
      filter: 0.2                 # alpha of the low-pass a_f = alpha a + (1 - alpha) a_f_prev
      # hold: [waist_yaw]         # pd actuators the policy does not drive: command = their offset
    sensors:
      encoder: {position_noise: 0.0, velocity_noise: 0.0, resolution: 0.0}
      imu: {site: imu, gyro_noise_density: 0.0, accel_noise_density: 0.0}   # optional
      # imu: {site: imu, add_to: pelvis, pos: [0, 0, 0]}  adds the site (recorded as an override)
    observation:                  # ordered terms: name, size (checked against the robot), scale
      - {name: joint_pos, size: 1, scale: 1.0}
    safety:
      joint_position: {hinge: [-6.3, 6.3]}
      joint_velocity: {hinge: 20.0}
      joint_torque: {hinge: 1.0}  # actuated joints only
      tilt: null                  # max base tilt [rad], floating base only (also the task's termination)
      base_height: null           # [min, max] [m] above the floor, floating base only (min: the task's termination)
      command_rate: 50.0          # max change of a joint command per second (command units / s; or a map by joint)
      stale_timeout: 0.05         # a reading older than this is stale [s]
      safe_mode: damping          # damping | zero_torque
      damping: 0.1                # joint damping gain in safe mode [N m s/rad]
    parameters:                   # plausible bounds (absolute values); nominal values come from the model
      body.pole.mass: {low: 0.4, high: 0.9}
      body.pole.com: {low: [-0.01, -0.01, -0.6], high: [0.01, 0.01, 0.0]}   # one per component
      joint.hinge.damping: {low: 0.0, high: 0.5}
    task: {kind: swing_up, joint: hinge, upright: 3.14159, hanging: 0.0}   # kind + its parameters

What policies from elsewhere need (``sim2real import``)::

    action: {clip: {hip: [-1.0, 1.0]}, limit: null}   # command bounds after the mapping; |a| bound
    observation:
      - {name: base_ang_vel, scale: [0.2, 0.2, 0.2], history: 5, clip: [-100, 100]}
      - {name: gait_phase, params: {period: 0.8}}   # term parameters (TERM_PARAMS)
    frame_stack: 15                        # whole observation frames, oldest first, zeros after a reset
    motor_order: [FR_hip, FR_thigh, ...]   # the actuated joints by motor slot (joints: policy order; - an empty slot)
    armature: {FR_hip: 0.01, ...}          # joint armature set on the model [kg m^2]
    locked_joints: {left_elbow: 0.3}       # model joints the policy does not drive, held in simulation
    action: {hold: [left_elbow]}           # or: joints it observes but does not drive, held by their PD

Quaternions are (w, x, y, z) everywhere in sim2real (``Reading.quat``, the IMU sensor); drivers
convert (ROS 2 messages are x, y, z, w); a policy that observes the orientation itself states the
component order it wants (``base_quat`` term, ``params: {order: xyzw}``).

This module holds the types; :mod:`sim2real.robots.parse` reads and validates the YAML, and
:func:`sim2real.robots.load.load_spec` then checks it against the MJCF (names), collects every
file the model compiles from for the hash, plans the sensors (reusing the model's own) and lists
the model overrides.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.friction import DEFAULT_STRIBECK_VELOCITY
from sim2real.robots.safety_options import CollisionSpec, StageSpec
from sim2real.text import NO_JOINT

ActuatorModel = Literal["pd", "torque", "dc_motor"]
SafeMode = Literal["damping", "zero_torque"]

def frozen_array(values: Any, dtype: type = float) -> np.ndarray:
    """A read-only numpy array of ``values``."""
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
    add: bool = False
    """The MJCF has no actuator on this joint: sim2real adds one named ``actuator`` (an override)."""
    net: Path | None = None
    """Actuator network (ONNX, ``model: net`` in the YAML): the simulator and the twin compute this
    joint's torque with it from the command history (:mod:`sim2real.sim.net_actuator`); ``model``
    is then the drive's own model (what its command means, what the robot runs and the safety
    layer checks).  None: the actuator model's equation."""

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
class FrictionSpec:
    """Friction of one joint (the spec's ``friction:`` section; the model: :mod:`sim2real.robots.friction`)."""

    coulomb: float | None = None
    """Coulomb friction [N m] (MuJoCo ``frictionloss``); None: the MJCF's value."""
    viscous: float | None = None
    """Viscous friction [N m s/rad] (MuJoCo ``damping``); None: the MJCF's value."""
    stribeck: float = 0.0
    """Stribeck friction: extra friction at low speed, peaking at ``coulomb + stribeck`` [N m]."""
    stribeck_velocity: float = DEFAULT_STRIBECK_VELOCITY
    """Stribeck velocity [rad/s]: the extra friction fades above it."""


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
    add_to: str | None = None
    """Body to add the site to when the MJCF has none (an override of the model); None: the MJCF has it."""
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Position of an added site in its body's frame [m]."""


@dataclass(frozen=True)
class TaskSpec:
    """The spec's ``task:`` section: a task kind and its parameters (checked by the kind's config
    dataclass when the task is built, see :func:`sim2real.tasks.task_for`)."""

    kind: str
    """Task kind (``locomotion``, ``swing_up``, ...)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The kind's parameters as written (every key but ``kind``)."""


@dataclass(frozen=True, eq=False)
class InitialBase:
    """Pose of a floating base at reset (world frame)."""

    pos: np.ndarray
    """Base position, shape (3,) [m]."""
    quat: np.ndarray
    """Base orientation (w, x, y, z), shape (4,), unit norm."""


@dataclass(frozen=True)
class ObservationTerm:
    """One named block of the observation vector.

    Each control step the term's function gives one *frame* of ``size`` values; the frame is clipped
    to ``clip`` (in the term's own units), then multiplied by ``scale``; the term contributes its
    last ``history`` frames, oldest first (``width = size * history`` values), and after a reset
    every slot holds the first frame (Isaac Lab's layout).
    """

    name: str
    """Term name, resolved by the task's term registry."""
    size: int
    """Number of values of one frame."""
    scale: float | tuple[float, ...] = 1.0
    """Multiplier applied to the frame: one number, or one per value of the frame."""
    history: int = 1
    """Frames the term contributes, oldest first (1: the current frame only)."""
    clip: tuple[Any, Any] | None = None
    """(low, high) applied to the frame before scaling (each a number or one per value); None: none."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Term parameters (e.g. a gait phase clock's ``period``), checked against :data:`TERM_PARAMS`."""

    @property
    def width(self) -> int:
        """Number of values this term contributes to the observation vector (size x history)."""
        return self.size * self.history

    def describe(self) -> tuple[Any, ...]:
        """A comparable summary: (name, size, scale), then ``history=``, ``clip=``, ``params=`` when set."""
        out: tuple[Any, ...] = (self.name, self.size, _plain(self.scale))
        if self.history != 1:
            out += (f"history={self.history}",)
        if self.clip is not None:
            out += (f"clip={[_plain(x) for x in self.clip]}",)
        if self.params:  # a list and a tuple of numbers (JSON, YAML or parsed) read alike
            plain = {k: list(v) if isinstance(v, tuple | list) else v for k, v in sorted(self.params.items())}
            out += (f"params={plain}",)
        return out


def _plain(value: Any) -> Any:
    return tuple(float(v) for v in value) if isinstance(value, tuple | list) else float(value)


MAX_STALE_TIMEOUT = 1.0
"""The largest ``safety.stale_timeout`` a spec may state [s]: a reading older than this is no
reading a control loop can act on, and a larger value (or ``.inf``) would turn the stale-data stop off."""


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
    """Lowest allowed base height above the floor [m]; None when not applicable."""
    base_height_high: float | None = None
    """Highest allowed base height above the floor [m]; None when not applicable."""
    command_rate: np.ndarray = math.inf  # type: ignore[assignment]  # a number is spread over the joints
    """Largest allowed change of a joint command per second [command units/s], shape (n_joints,)
    (inf for passive joints; one number or a map by joint in YAML: a 2 N m wrist cannot take the
    rate of a 150 N m shoulder); a plain number given here applies to every joint."""
    stale_timeout: float = 0.05
    """A reading older than this is stale [s]."""
    safe_mode: SafeMode = "damping"
    """What a safe stop does: joint damping, or zero torque."""
    damping: np.ndarray = field(default_factory=lambda: frozen_array([]))
    """Joint damping gain in safe mode per joint, shape (n_joints,) [N m s/rad] (0 for passive joints)."""
    collision: CollisionSpec = field(default_factory=CollisionSpec)
    """Collision detection (``safety.collision``, see :mod:`sim2real.robots.safety_options`)."""
    stages: StageSpec = field(default_factory=StageSpec)
    """Stage ledger dwell and reset rule (``safety.stages``)."""
    torque_above_model: tuple[str, ...] = ()
    """Actuated joints whose ``joint_torque`` the user states above what the robot's own MJCF lets
    its actuator give (``safety.torque_above_model``: a vendor model more conservative than the
    motor): preflight's ``limits`` item accepts them and names them; any other joint above its
    model's fails it."""
    torque_above_weight: tuple[str, ...] = ()
    """Actuated joints whose ``joint_torque`` the user states above
    :data:`~sim2real.robots.init_checks.IMPLAUSIBLE_TORQUE` x the robot's weight at its extent (a
    small robot with strong motors; ``safety.torque_above_weight``): preflight's ``limits`` item
    accepts them and names them; any other joint above it fails it (a placeholder effort, which the
    torque clamp and the collision observer's thresholds never reach)."""

    def __post_init__(self) -> None:
        rate = np.broadcast_to(np.asarray(self.command_rate, dtype=float), (len(self.joint_names),))
        object.__setattr__(self, "command_rate", frozen_array(rate))
        if not 0 < self.stale_timeout <= MAX_STALE_TIMEOUT:  # False for NaN too
            raise SpecError(
                f"safety.stale_timeout must be above 0 and at most {MAX_STALE_TIMEOUT:g} s (a reading that old is "
                f"no reading to control with; a larger value turns the stale-data stop off), got {self.stale_timeout:g}"
            )


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
    """Content hash (sha256 hex) of the YAML and of every file the model compiles from."""
    raw: dict = field(repr=False, default_factory=dict)
    """The YAML mapping as read, for reference."""
    task: TaskSpec | None = None
    """The robot's task (kind and parameters), or None (the robot can be simulated, not trained)."""
    action_scale: np.ndarray = field(default_factory=lambda: frozen_array([]))
    """Per actuator: command = offset + scale * a, shape (n_actions,) [rad, N m or V per unit action]."""
    action_offset: np.ndarray = field(default_factory=lambda: frozen_array([]))
    """Per actuator: command at a = 0, shape (n_actions,) (default pose for pd actuators, else 0)."""
    action_filter: float = 1.0
    """alpha of the action low-pass ``a_f = alpha a + (1 - alpha) a_f_prev``, in (0, 1]."""
    action_clip_low: np.ndarray = field(default_factory=lambda: frozen_array([]))
    """Per actuator: lowest command the action mapping may give (``action.clip``), shape (n_actions,);
    -inf where unclipped (an empty array: none)."""
    action_clip_high: np.ndarray = field(default_factory=lambda: frozen_array([]))
    """Per actuator: highest command the action mapping may give, shape (n_actions,); inf where unclipped."""
    action_limit: float | None = 1.0
    """Largest |a| of a policy action; larger ones are clipped (``action.limit``; 1 for sim2real's own
    tanh policies; None: no bound, e.g. imported policies)."""
    held: tuple[str, ...] = ()
    """Actuated joints the policy observes but does not drive (``action.hold``, policy order): pd
    actuators whose command is always their action offset (the default pose unless given), on the
    robot as in simulation.  Their action scale is 0, so their entry of the action vector moves
    nothing, and the ``last_action`` term leaves them out (:attr:`action_index`); the safety
    monitor checks their commands as any other."""
    motor_order: tuple[str, ...] = ()
    """The robot's motor order (``motor_order``): the actuated joints by motor slot, :data:`NO_JOINT`
    for a slot that drives none of them (an H1's motor 9); empty: the actuated joints in policy
    order.  The policy side works by name in policy order; :attr:`motors` drops the empty slots."""
    locked_joints: Mapping[str, float] = field(default_factory=dict)
    """Model joints the policy does not drive, held at these positions [rad or m] in simulation
    (``locked_joints``; an override: an equality constraint each, their own actuators get no force).
    On a robot its own controller must hold them."""
    armature: Mapping[str, float] = field(default_factory=dict)
    """Joint armature (reflected rotor inertia) sim2real sets on the model [kg m^2], by joint
    (``armature``; an override): training frameworks add it from their actuator configuration and
    MJCF files often lack it.  Empty: the model's own."""
    floor: str | None = None
    """Name of a ground plane sim2real adds at z = 0 (``floor: <name>``; an override) for a model
    with no ground of its own (a robot file without its scene); None: the model's own ground."""
    feet: tuple[str, ...] = ()
    """Foot bodies of a legged robot (each one's lowest collision geom touches the floor)."""
    initial_base: InitialBase | None = None
    """Reset pose of a floating base; None: the model's qpos0 (fixed base: always None)."""
    files: Mapping[str, str] = field(default_factory=dict)
    """Every file the spec and its model compile from (path relative to the spec's folder, or
    absolute outside it) -> sha256 hex; the hash covers them all."""
    sensor_names: Mapping[str, str] = field(default_factory=dict)
    """Sensor of each role (``<joint>.pos``/``.vel``/``.torque``, ``imu.gyro``/``.accel``/``.quat``)
    -> its name in the compiled model (the model's own sensor when it measures the same thing)."""
    idle_actuators: tuple[str, ...] = ()
    """The model's actuators outside the spec that move a joint the spec drives (a tendon servo on
    a leg, a second actuator on a joint), found when the spec loads: sim2real switches them off
    (gain and bias 0), or a servo held at control 0 would fight the spec's actuators."""
    ground_priority: int | None = None
    """Contact priority sim2real gives the ground planes (:attr:`ground_planes`, and the floor it adds)
    so that the ground's friction is the contact friction, found when the spec loads
    (:func:`sim2real.robots.ground.ground_contact`); None: the model's priorities are kept."""
    ground_planes: tuple[str, ...] = ()
    """The model's ground planes :attr:`ground_priority` applies to."""
    overrides: tuple[str, ...] = ()
    """Every change sim2real makes to the MJCF model (timestep, integrator, actuators, sensors, sites)."""
    friction: Mapping[str, FrictionSpec] = field(default_factory=dict)
    """Friction of joints by name (the ``friction:`` section); joints not listed keep the MJCF's
    Coulomb and viscous friction and have no Stribeck friction."""
    solver_iterations: int | None = None
    """Largest number of constraint solver iterations (``control.iterations``; an override): models
    tuned for MJX set 1-4, which diverge at sim2real's timestep; None: the model's own."""
    ls_iterations: int | None = None
    """Line-search iterations of the constraint solver (``control.ls_iterations``; an override);
    None: the model's own."""
    frame_stack: int = 1
    """Whole observation frames the policy sees (``frame_stack``): one frame is every term of
    :attr:`observation` (each with its own history), and the policy's observation is the last
    ``frame_stack`` frames, oldest first, the frames before the first after a reset all zeros
    (humanoid-gym's ``obs_history``); 1: the current frame only."""
    slide_joints: frozenset[str] = frozenset()
    """The joints (spec and locked) that slide, found when the spec loads: their positions are in m,
    speeds in m/s and efforts in N; the others turn (rad, rad/s, N m)."""

    def units(self, joint: str) -> tuple[str, str, str]:
        """Units of ``joint``'s position, speed and effort: ``("m", "m/s", "N")`` on a slide joint,
        else ``("rad", "rad/s", "N m")``."""
        return ("m", "m/s", "N") if joint in self.slide_joints else ("rad", "rad/s", "N m")

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
        """Length of the observation vector (:attr:`frame_stack` frames of the layout)."""
        return self.frame_stack * sum(term.width for term in self.observation)

    @property
    def n_actions(self) -> int:
        """Number of actuators (= policy actions)."""
        return len(self.actuators)

    @property
    def action_index(self) -> tuple[int, ...]:
        """Actuators the policy drives (all but :attr:`held`), as indices into the action vector:
        the entries of the ``last_action`` term, in order."""
        return tuple(i for i, a in enumerate(self.actuators) if a.joint not in self.held)

    @property
    def actuated_joints(self) -> tuple[str, ...]:
        """Joints with an actuator, in policy order."""
        return tuple(a.joint for a in self.actuators)

    @property
    def floating_base(self) -> bool:
        """Whether the robot has a free-floating base."""
        return self.base_body is not None

    def sensor_name(self, role: str) -> str:
        """Name of the model sensor of a role (``<joint>.pos``, ``imu.gyro``...); the default naming
        (``<joint>_pos``, ``imu_gyro``...) for a spec built without its MJCF."""
        if role in self.sensor_names:
            return self.sensor_names[role]
        owner, _, what = role.rpartition(".")
        return f"imu_{what}" if owner == "imu" else f"{owner}_{what}"

    @property
    def motors(self) -> tuple[str, ...]:
        """The actuated joints in motor order (:attr:`motor_order` without its empty slots, else
        policy order)."""
        return tuple(j for j in self.motor_order if j != NO_JOINT) or self.actuated_joints

    @property
    def empty_slots(self) -> tuple[int, ...]:
        """The motor slots :attr:`motor_order` marks as driving no joint (:data:`NO_JOINT`)."""
        return tuple(k for k, j in enumerate(self.motor_order) if j == NO_JOINT)

    def actuator(self, joint: str) -> ActuatorSpec:
        """The actuator of a joint, by name."""
        for act in self.actuators:
            if act.joint == joint:
                return act
        raise SpecError(f"{self.name}: no actuator for joint '{joint}'")


OBSERVATION_SIZES: dict[str, str | int] = {
    "joint_pos": "n_joints",
    "joint_pos_rel": "n_joints",
    "joint_pos_sincos": "2 n_joints",
    "joint_vel": "n_joints",
    "last_action": "n_actions",
    "base_ang_vel": 3,
    "projected_gravity": 3,
    "velocity_command": 3,
    "base_lin_vel": 3,
    "base_quat": 4,
    "gait_phase": 2,
    "height_scan": "grid",
    "base_euler": 3,
}
"""Size of one frame of every observation term for a robot: a number, or ``n_joints`` /
``2 n_joints`` / ``n_actions`` (the actions the policy drives: held actuators, ``action.hold``, are
not among them) / ``grid`` (the points of the term's scan grid, ``len(points_x) * len(points_y)``).
The term functions are in :mod:`sim2real.tasks.observations` (same names)."""

IMU_TERMS = ("base_ang_vel", "projected_gravity", "base_quat", "base_euler")
"""Observation terms that need an IMU."""

FLOATING_BASE_TERMS = ("base_lin_vel", "height_scan")
"""Observation terms that need a floating base (its velocity, or its height above the terrain: the
simulator's, or an estimator's on a robot)."""

TERM_PARAMS: dict[str, dict[str, tuple[str, Any]]] = {
    "gait_phase": {
        "period": ("positive", None),
        "offset": ("number", 0.0),
    },
    "base_quat": {
        "order": (("wxyz", "xyzw"), "wxyz"),
        "unique": ("bool", False),
    },
    "height_scan": {
        "points_x": ("numbers", None),
        "points_y": ("numbers", None),
        "order": (("xy", "yx"), None),
        "offset": ("number", 0.5),
    },
}
"""Parameters of the terms that take any: name -> (kind, default); a default of None means required.

- ``gait_phase``: ``period`` [s] of the clock; ``offset`` (fraction of a period) added to the phase.
  The frame is (sin 2 pi p, cos 2 pi p) with ``p = (t / period + offset) mod 1`` and ``t`` the time
  of the control step since the policy (episode) started, ``t = k * control_dt`` at step k = 0, 1, ...
- ``base_quat``: component ``order`` of the orientation fed to the policy; ``unique`` makes w >= 0.
- ``height_scan``: a grid of points around the base, in the base's yaw frame (x forward, y left),
  at every combination of ``points_x`` and ``points_y`` [m]; ``order`` says which coordinate varies
  fastest along the frame (``xy``: x, Isaac Lab's ``GridPatternCfg`` default; ``yx``: y,
  legged_gym's); each value is the base's height above the terrain under its point minus
  ``offset`` [m] (:mod:`sim2real.sim.terrain_scan` casts the rays).
"""


def term_params(name: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A term's parameters with defaults filled in and checked.

    Raises:
        SpecError: a parameter is unknown, missing or of the wrong kind.
    """
    given = dict(given or {})
    allowed = TERM_PARAMS.get(name, {})
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        known = ", ".join(allowed) if allowed else "none"
        raise SpecError(f"observation term '{name}': unknown parameter(s) {', '.join(unknown)} (it takes: {known})")
    out: dict[str, Any] = {}
    for key, (kind, default) in allowed.items():
        value = given.get(key, default)
        if value is None:
            raise SpecError(f"observation term '{name}' needs the parameter '{key}'")
        where = f"observation term '{name}' parameter '{key}'"
        if kind in ("positive", "number"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SpecError(f"{where} must be a number, got {value!r}")
            if kind == "positive" and not value > 0:
                raise SpecError(f"{where} must be positive, got {value!r}")
            value = float(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{where} must be true or false, got {value!r}")
        elif kind == "numbers":
            if (
                not isinstance(value, list | tuple)
                or not value
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
                )
            ):
                raise SpecError(f"{where} must be a non-empty list of numbers, got {value!r}")
            value = tuple(float(v) for v in value)
        elif value not in kind:
            raise SpecError(f"{where} must be one of {', '.join(kind)}, got {value!r}")
        out[key] = value
    return out


def term_size(name: str, n_joints: int, n_actions: int, params: Mapping[str, Any] | None = None) -> int:
    """Size of an observation term on a robot with these joint and action counts (and, for a scan
    grid, these term parameters, checked by :func:`term_params`).

    Raises:
        SpecError: unknown term.
    """
    rule = OBSERVATION_SIZES.get(name)
    if rule is None:
        raise SpecError(f"unknown observation term '{name}' (known: {', '.join(OBSERVATION_SIZES)})")
    if isinstance(rule, int):
        return rule
    if rule == "grid":
        grid = term_params(name, params)
        return len(grid["points_x"]) * len(grid["points_y"])
    return {"n_joints": n_joints, "2 n_joints": 2 * n_joints, "n_actions": n_actions}[rule]


def canonical_yaml_digest(raw: Any) -> str:
    """sha256 of a spec mapping in canonical JSON (comments and key order do not count)."""
    try:
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str).encode()
    except TypeError:
        raise SpecError("the spec mixes key types in one mapping; use plain string keys") from None
    return hashlib.sha256(canonical).hexdigest()


def content_hash(files: Mapping[str, str]) -> str:
    """The spec hash: sha256 over every (file, sha256) pair in name order.

    Args:
        files: File name (as in :attr:`RobotSpec.files`) -> sha256 hex of its content (the spec YAML
            itself enters as its canonical digest, see :func:`canonical_yaml_digest`).
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(files[name].encode())
        digest.update(b"\0")
    return digest.hexdigest()
