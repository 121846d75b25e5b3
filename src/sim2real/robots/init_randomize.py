"""The randomization files ``robot init`` writes beside a legged robot's spec.

``randomize_default.yaml`` holds the embedded quadruped's default ranges and ``randomize_full.yaml``
its full ones (every kind the toolkit randomizes: wide physics, joint friction, motor gains, offsets
and limits, latencies with jitter, command delay, IMU and encoder noise and bias, dropped readings,
slopes, rough ground and pushes), both with this robot's names, and with what depends on the
robot's size scaled by it: the payload by the base body's mass, pushes by the whole robot's mass,
the joint Coulomb friction by its torque limits, bumps by its standing height.  ``--randomize
default|full`` and ``--curriculum ladder`` find them next to the spec.

Leg-length randomization (``link.<body>.length``) is left out: it compiles a pool of model
variants, and which bodies are a robot's thigh and calf is the user's to say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import mujoco
import numpy as np

from sim2real.robots.ground import floor_plane
from sim2real.robots.init_actuators import object_name
from sim2real.robots.model import carrying_body, spec_floor_height
from sim2real.robots.spec import RobotSpec

REFERENCE_MASS = 15.0
"""Mass of the embedded Go2-class quadruped [kg]: push forces scale with a robot's mass over it."""
REFERENCE_TORQUE = 23.7
"""Torque limit of the embedded quadruped's joints [N m]: joint Coulomb friction scales with it."""
REFERENCE_HEIGHT = 0.34
"""Standing height of the embedded quadruped's base [m]: bump heights scale with it."""
PAYLOAD_SHARE = {"default": (-0.072, 0.217), "full": (-0.144, 0.434)}
"""Payload range as shares of the base body's mass (the embedded quadruped's -0.5..1.5 kg and
-1..3 kg on its 6.9 kg base)."""
PUSH_FORCE = {"default": (20.0, 60.0), "full": (30.0, 120.0)}
"""Push force range of the embedded quadruped [N], scaled by mass / REFERENCE_MASS."""
MASS_SCALE = {"default": (0.95, 1.05), "full": (0.9, 1.1)}
"""Scale of every link mass, drawn before the payload is added."""
FLOOR_FRICTION = {"default": (0.4, 1.0), "full": (0.3, 1.25)}
"""Floor friction range of each preset."""
DELAY_STEPS = 3
"""Most physics steps of actuator latency a preset draws (``full``: 2 plus 1 of jitter)."""


def payload(kind: str, m_base: float) -> tuple[float, float]:
    """Payload range [kg] added to the base body's mass (``m_base`` [kg]) by a preset."""
    lo, hi = PAYLOAD_SHARE[kind]
    return round(lo * m_base, 2), round(hi * m_base, 2)


def base_mass_span(m_base: float) -> tuple[float, float]:
    """Lightest and heaviest base body [kg] any preset draws (link mass scale, then payload): the
    plausible bounds ``robot init`` states reach at least this far, so its own presets fit them."""
    lows = [MASS_SCALE[k][0] * m_base + payload(k, m_base)[0] for k in PAYLOAD_SHARE]
    highs = [MASS_SCALE[k][1] * m_base + payload(k, m_base)[1] for k in PAYLOAD_SHARE]
    return math.floor(min(lows) * 1e4) / 1e4, math.ceil(max(highs) * 1e4) / 1e4


def coulomb_high(torque_limits: Sequence[float]) -> float:
    """Largest joint Coulomb friction [N m] the ``full`` preset draws on a robot whose model has
    none: 0.2 N m for the embedded quadruped's torques, in proportion to the median torque limit."""
    return float(f"{0.2 * float(np.median(torque_limits)) / REFERENCE_TORQUE:.2g}")


def _sizes(spec: RobotSpec, model: mujoco.MjModel) -> tuple[str, float, float]:
    """The body that carries the base's mass (its name), its mass and the whole robot's [kg]."""
    base_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    base = object_name(model, mujoco.mjtObj.mjOBJ_BODY, carrying_body(model, base_id)) or spec.base_body
    return base, float(model.body_mass[model.body(base).id]), float(model.body_subtreemass[base_id])


def _payload(kind: str, base: str, m_base: float) -> str:
    lo, hi = payload(kind, m_base)
    return (
        f"  - {{param: body.{base}.mass, mode: additive, dist: uniform, low: {lo}, high: {hi}}}"
        f"  # payload: base mass + U({lo}, {hi}) kg"
    )


def _mass_scale(kind: str) -> str:
    lo, hi = MASS_SCALE[kind]
    return f"  - {{param: body.*.mass, mode: scale, dist: uniform, low: {lo}, high: {hi}}}  # link masses x U({lo}, {hi})"


def _gain_line(name: str, gain: str, lo: float, hi: float) -> str:
    return f"  - {{param: actuator.{name}.{gain}, mode: scale, dist: uniform, low: {lo:g}, high: {hi:g}}}  # {gain} x U({lo:g}, {hi:g})"


def _gains(spec: RobotSpec, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """Scale entries of PD gains; a scale moves no gain of 0 (a ``<position>`` servo without ``kv``,
    whose joints carry the damping), so those actuators are left out, said in a comment."""
    lines = []
    for gain, (lo, hi) in ranges.items():
        some = [a.actuator for a in spec.actuators if getattr(a, gain) > 0]
        if len(some) == len(spec.actuators):
            lines.append(_gain_line("*", gain, lo, hi))
        else:
            lines += [_gain_line(name, gain, lo, hi) for name in some]
            lines.append(f"  # {gain} 0 on {'the other' if some else 'every'} actuator(s): nothing to scale")
    return lines


def _pushes(kind: str, base: str, m_total: float, interval: tuple[float, float]) -> str:
    force = [round(f * m_total / REFERENCE_MASS, 1) for f in PUSH_FORCE[kind]]
    return (
        f"pushes: {{body: {base}, force: {force}, duration: 0.1, interval: {list(interval)}}}"
        f"  # |F| ~ U{tuple(force)} N for 0.1 s every U{interval} s"
    )


def _floor_friction(model: mujoco.MjModel, kind: str) -> list[str]:
    low, high = FLOOR_FRICTION[kind]
    name = floor_plane(model)[1]
    if not name:
        return []
    return [
        f"  - {{param: geom.{name}.friction, mode: absolute, dist: uniform, low: {low}, high: {high}}}  # friction ~ U({low}, {high})"
    ]


def _encoders(spec: RobotSpec, pos_high: float, vel_high: float) -> list[str]:
    out = []
    for what, high, unit in (
        ("pos", pos_high, f"encoder noise std ~ U(0, {pos_high * 1e3:g}) mrad"),
        ("vel", vel_high, f"joint velocity noise std ~ U(0, {vel_high:g}) rad/s"),
    ):
        out += [
            f"  - {{param: sensor.{spec.sensor_name(f'{j}.{what}')}.noise, mode: absolute, dist: uniform, low: 0.0, high: {high}}}  # {unit}"
            for j in spec.joints
        ]
    return out


def default_randomization(spec: RobotSpec, model: mujoco.MjModel) -> str:
    """``randomize_default.yaml`` of a legged robot: the embedded quadruped's default ranges with
    this robot's names, the payload and pushes scaled by its mass."""
    base, m_base, m_total = _sizes(spec, model)
    lines = [
        f"# {spec.name}: default randomization written by `sim2real robot init` (the embedded quadruped's",
        "# ranges with this robot's names; payload and pushes scaled by its mass).  Each line states its distribution.",
        "name: default",
        "description: friction, payload, com, gains, IMU noise and bias, encoder noise, "
        f"0-{2 * spec.physics_dt * 1e3:g} ms latency, light pushes",
        "physics:",
        *_floor_friction(model, "default"),
        _mass_scale("default"),
        _payload("default", base, m_base),
        f"  - {{param: body.{base}.com, mode: additive, dist: uniform, low: -0.02, high: 0.02}}  # base com + U(-2, 2) cm per axis",
        "motors:",
    ]
    if all(a.model == "pd" for a in spec.actuators):
        lines += _gains(spec, {"kp": (0.9, 1.1), "kd": (0.9, 1.1)})
    lines += [
        "  - {param: actuator.*.strength, mode: scale, dist: uniform, low: 0.9, high: 1.1}  # motor strength x U(0.9, 1.1)",
        "delays:",
        "  - {param: actuator.*.delay, mode: absolute, unit: physics_steps, dist: uniform, low: 0, high: 2, shared: true}"
        f"  # latency ~ U{{0..2}} physics steps (0-{2 * spec.physics_dt * 1e3:g} ms), one per robot",
        "sensors:",
    ]
    if spec.imu is not None:
        gyro = spec.sensor_name("imu.gyro")
        lines += [
            f"  - {{param: sensor.{gyro}.noise_density, mode: absolute, dist: loguniform, low: 1.0e-4, high: 1.0e-3}}"
            "  # gyro noise density ~ logU(1e-4, 1e-3) rad/s/sqrt(Hz)",
            f"  - {{param: sensor.{gyro}.bias, mode: absolute, dist: normal, mean: 0.0, std: 0.01, low: -0.03, high: 0.03}}"
            "  # gyro bias ~ N(0, 0.01) clipped to +-0.03 rad/s, per axis",
        ]
    lines += _encoders(spec, 0.005, 0.1)
    lines.append(_pushes("default", base, m_total, (5.0, 10.0)))
    return "\n".join(lines) + "\n"


def _joint_friction(spec: RobotSpec, model: mujoco.MjModel) -> list[str]:
    """Joint damping, Coulomb friction and armature entries: scaled where the model has them,
    Coulomb friction drawn absolute (scaled by the torque limits) where it has none."""
    dofs = [int(model.jnt_dofadr[model.joint(j).id]) for j in spec.joints]
    lines = []
    if np.any(model.dof_damping[dofs] > 0):
        lines.append(
            "  - {param: joint.*.damping, mode: scale, dist: uniform, low: 0.5, high: 2.0}  # joint viscous friction x U(0.5, 2)"
        )
    if np.all(model.dof_frictionloss[dofs] > 0):
        lines.append(
            "  - {param: joint.*.frictionloss, mode: scale, dist: uniform, low: 0.5, high: 1.5}"
            "  # the model's joint Coulomb friction x U(0.5, 1.5)"
        )
    else:
        high = coulomb_high([a.torque_limit for a in spec.actuators])
        lines.append(
            f"  - {{param: joint.*.frictionloss, mode: absolute, dist: uniform, low: 0.0, high: {high:g}}}"
            f"  # joint Coulomb friction ~ U(0, {high:g}) N m"
        )
    if np.any(model.dof_armature[dofs] > 0):
        lines.append(
            "  - {param: joint.*.armature, mode: scale, dist: uniform, low: 0.8, high: 1.2}  # reflected rotor inertia x U(0.8, 1.2)"
        )
    return lines


def full_randomization(spec: RobotSpec, model: mujoco.MjModel) -> str:
    """``randomize_full.yaml`` of a legged robot: every kind of randomization over the embedded
    quadruped's full ranges with this robot's names (sizes scaled as the module says), for a policy
    that should survive the real robot; the last rung of ``--curriculum ladder``."""
    base, m_base, m_total = _sizes(spec, model)
    # the base's standing height above the floor (its world z where the floor is at z = 0; Talos's is at -1.01)
    standing = float(spec.initial_base.pos[2]) - spec_floor_height(spec, model) if spec.initial_base is not None else 0.0
    height = standing if standing > 0 else REFERENCE_HEIGHT
    bump = round(min(0.05, 0.05 * height / REFERENCE_HEIGHT), 3)
    step_ms = spec.physics_dt * 1e3
    lines = [
        f"# {spec.name}: full randomization written by `sim2real robot init` (the embedded quadruped's full",
        "# ranges with this robot's names; payload, pushes, joint friction and bumps scaled by its size).",
        "# Each line states its distribution.",
        "name: full",
        "description: wide physics, joint friction, slopes, rough terrain, motor gains, offsets and limits, "
        "latencies with jitter, IMU and encoder noise and bias, drops, pushes",
        "physics:",
        *_floor_friction(model, "full"),
        _mass_scale("full"),
        _payload("full", base, m_base),
        f"  - {{param: body.{base}.com, mode: additive, dist: uniform, low: [-0.03, -0.02, -0.02], high: [0.03, 0.02, 0.02]}}"
        "  # base com + U(+-3, +-2, +-2) cm",
        "  - {param: body.*.inertia, mode: scale, dist: uniform, low: 0.9, high: 1.1}  # inertia x U(0.9, 1.1) (on top of the mass scale)",
        *_joint_friction(spec, model),
        "slope: {dist: uniform, low: 0.0, high: 0.1}  # ground slope ~ U(0, 0.1) rad (0-5.7 deg), random direction",
        f"terrain: {{kind: rough, height: {{dist: uniform, low: 0.0, high: {bump}}}, feature: 0.3}}"
        f"  # bump height ~ U(0, {bump * 100:g}) cm, 0.3 m wide bumps",
        "motors:",
    ]
    if all(a.model == "pd" for a in spec.actuators):
        lines += _gains(spec, {"kp": (0.85, 1.15), "kd": (0.7, 1.3)})
        lines += [
            "  - {param: actuator.*.offset, mode: absolute, dist: normal, mean: 0.0, std: 0.02, low: -0.05, high: 0.05}"
            "  # joint zero offset ~ N(0, 0.02) clipped to +-0.05 rad",
        ]
    lines += [
        "  - {param: actuator.*.strength, mode: scale, dist: uniform, low: 0.8, high: 1.2}  # motor strength x U(0.8, 1.2)",
        "  - {param: actuator.*.torque_limit, mode: scale, dist: uniform, low: 0.8, high: 1.0}  # torque limit x U(0.8, 1.0)",
        "delays:",
        f"  - {{param: actuator.*.delay, mode: absolute, unit: physics_steps, dist: uniform, low: 0, high: {DELAY_STEPS - 1}, shared: true, jitter: 1}}"
        f"  # latency ~ U{{0..{DELAY_STEPS - 1}}} + U{{0..1}} per step physics steps (0-{DELAY_STEPS * step_ms:g} ms), one per robot",
        "action_delay: {dist: uniform, low: 0, high: 1, jitter: 0}"
        f"  # command delay ~ U{{0..1}} control steps (0 or {spec.control_dt * 1e3:g} ms)",
        "sensors:",
    ]
    if spec.imu is not None:
        gyro, accel, quat = (spec.sensor_name(f"imu.{w}") for w in ("gyro", "accel", "quat"))
        lines += [
            f"  - {{param: sensor.{gyro}.noise_density, mode: absolute, dist: loguniform, low: 1.0e-4, high: 2.0e-3}}"
            "  # gyro noise density ~ logU(1e-4, 2e-3) rad/s/sqrt(Hz)",
            f"  - {{param: sensor.{accel}.noise_density, mode: absolute, dist: loguniform, low: 1.0e-3, high: 1.0e-2}}"
            "  # accel noise density ~ logU(1e-3, 1e-2) m/s^2/sqrt(Hz)",
            f"  - {{param: sensor.{gyro}.bias, mode: absolute, dist: normal, mean: 0.0, std: 0.02, low: -0.05, high: 0.05}}"
            "  # gyro bias ~ N(0, 0.02) clipped to +-0.05 rad/s, per axis",
            f"  - {{param: sensor.{accel}.bias, mode: absolute, dist: normal, mean: 0.0, std: 0.05, low: -0.15, high: 0.15}}"
            "  # accel bias ~ N(0, 0.05) clipped to +-0.15 m/s^2, per axis",
            f"  - {{param: sensor.{quat}.noise, mode: absolute, dist: uniform, low: 0.0, high: 0.01}}  # orientation estimate noise std ~ U(0, 0.01)",
        ]
    lines += _encoders(spec, 0.01, 0.2)
    lines += [
        "  - {param: sensor.*.delay, mode: absolute, unit: physics_steps, dist: uniform, low: 0, high: 2, shared: true}"
        f"  # sensor latency ~ U{{0..2}} physics steps (0-{2 * step_ms:g} ms), one per robot",
        "dropout: {dist: uniform, low: 0.0, high: 0.05}  # dropped reading probability ~ U(0, 0.05)",
        _pushes("full", base, m_total, (3.0, 8.0)),
    ]
    return "\n".join(lines) + "\n"


PRESETS = {"default": default_randomization, "full": full_randomization}
"""The files ``robot init`` writes beside a legged robot's spec (``randomize_<name>.yaml``)."""


def parameter_bounds(
    model: mujoco.MjModel,
    base: str | None,
    floor: str | None,
    actuators: dict[str, dict],
    floating: bool,
    physics_dt: float,
    armature: Mapping[str, float] | None = None,
) -> dict[str, object]:
    """Plausible bounds around the model's own values, wide enough for the randomization presets
    written beside a legged robot's spec (:mod:`sim2real.robots.init_randomize`); ``armature``: the
    spec's armature override by joint name [kg m^2] (``--armature``), which the compiled model has in
    place of the file's."""
    out: dict[str, object] = {}
    carrier = carrying_body(model, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, base)) if base else -1
    if carrier >= 0 and object_name(model, mujoco.mjtObj.mjOBJ_BODY, carrier) and model.body_mass[carrier] > 0:
        m = float(model.body_mass[carrier])
        lo, hi = base_mass_span(m) if floating else (math.inf, -math.inf)
        out[f"body.{object_name(model, mujoco.mjtObj.mjOBJ_BODY, carrier)}.mass"] = {
            "low": min(round(0.8 * m, 4), lo), "high": max(round(1.3 * m, 4), hi)
        }
    if floor is not None:
        out[f"geom.{floor}.friction"] = {"low": min(0.4, *(f[0] for f in FLOOR_FRICTION.values())), "high": 1.25}
    # hinges [rad] and slides [m] apart: a gripper's finger (kg, N s/m) widened the hinges' bounds 80-fold
    hinges = [j for j in range(model.njnt) if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_HINGE)]
    slides = [j for j in range(model.njnt) if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_SLIDE)]
    groups = [("*", hinges + slides)] if not (hinges and slides) else [("*", hinges)] + [
        (name, [j]) for j in slides if (name := object_name(model, mujoco.mjtObj.mjOBJ_JOINT, j))
    ]
    given = {model.joint(j).id: float(v) for j, v in (armature or {}).items()}
    for name, members in groups:
        for q, field_ in (("damping", "dof_damping"), ("frictionloss", "dof_frictionloss"), ("armature", "dof_armature")):
            override = given if q == "armature" else {}
            values = np.array([override.get(j, getattr(model, field_)[model.jnt_dofadr[j]]) for j in members])
            high = float(values.max()) if values.size else 0.0
            least = 0.01 if q == "armature" else 0.1
            if q == "frictionloss" and floating and actuators:  # the full preset's friction of a model without any
                least = max(least, coulomb_high([a["torque_limit"] for a in actuators.values()]))
            out[f"joint.{name}.{q}"] = {
                "low": round(0.5 * float(values.min()), 6) if q == "armature" and values.size else 0.0,
                "high": round(max(2.0 * high, least), 6),
            }
    pds = [a for a in actuators.values() if a["model"] == "pd"]
    if pds and len(pds) == len(actuators):
        # a slide's gains (N/m) apart from the hinges' (N m/rad): a gripper's finger at 110 N/m gave an
        # arm's wrist at 0.45 N m/rad bounds [0.36 .. 132]
        slide = int(mujoco.mjtJoint.mjJNT_SLIDE)
        slides = {j: a for j, a in actuators.items() if int(model.jnt_type[model.joint(j).id]) == slide}
        hinges = [a for j, a in actuators.items() if j not in slides] or list(slides.values())
        groups = [("*", hinges)] + [(a["actuator"], [a]) for a in slides.values() if len(slides) < len(actuators)]
        for name, members in groups:
            kp = [a["kp"] for a in members]
            kd = [a["kd"] for a in members]
            out[f"actuator.{name}.kp"] = {"low": round(0.8 * min(kp), 4), "high": round(1.2 * max(kp), 4)}
            out[f"actuator.{name}.kd"] = {"low": round(0.5 * min(kd), 4), "high": round(1.5 * max(kd) + 1e-3, 4)}
    out["actuator.*.strength"] = {"low": 0.8, "high": 1.2}
    out["actuator.*.delay"] = {"low": 0.0, "high": round(max(0.02, DELAY_STEPS * physics_dt), 6)}
    if floating:
        out["world.gravity"] = {"low": [-1.0, -1.0, -10.3], "high": [1.0, 1.0, -9.3]}
    return out
