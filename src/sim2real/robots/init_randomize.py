"""The default randomization ``robot init`` writes next to a legged robot's spec
(``randomize_default.yaml``; ``--randomize default`` finds it there)."""

from __future__ import annotations

import mujoco

from sim2real.robots.ground import floor_plane
from sim2real.robots.init_actuators import object_name
from sim2real.robots.model import carrying_body
from sim2real.robots.spec import RobotSpec

__all__ = ["default_randomization"]


def default_randomization(spec: RobotSpec, model: mujoco.MjModel) -> str:
    """``randomize_default.yaml`` of a legged robot: the embedded quadruped's default ranges with
    this robot's names, the payload and pushes scaled by its mass (``--randomize default`` finds it
    next to the spec)."""
    base_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    base = object_name(model, mujoco.mjtObj.mjOBJ_BODY, carrying_body(model, base_id)) or spec.base_body
    m_base, m_total = float(model.body_mass[model.body(base).id]), float(model.body_subtreemass[base_id])
    lo, hi = round(-0.072 * m_base, 2), round(0.217 * m_base, 2)
    push = [round(20.0 * m_total / 15.0, 1), round(60.0 * m_total / 15.0, 1)]
    floor = [n for n in (floor_plane(model)[1],) if n]
    lines = [
        f"# {spec.name}: default randomization written by `sim2real robot init` (the embedded quadruped's",
        "# ranges with this robot's names; payload and pushes scaled by its mass).  Each line states its distribution.",
        "name: default",
        "description: friction, payload, com, gains, IMU noise and bias, encoder noise, "
        f"0-{2 * spec.physics_dt * 1e3:g} ms latency, light pushes",
        "physics:",
        *(
            f"  - {{param: geom.{f}.friction, mode: absolute, dist: uniform, low: 0.4, high: 1.0}}  # friction ~ U(0.4, 1.0)"
            for f in floor
        ),
        "  - {param: body.*.mass, mode: scale, dist: uniform, low: 0.95, high: 1.05}  # link masses x U(0.95, 1.05)",
        f"  - {{param: body.{base}.mass, mode: additive, dist: uniform, low: {lo}, high: {hi}}}  # payload: base mass + U({lo}, {hi}) kg",
        f"  - {{param: body.{base}.com, mode: additive, dist: uniform, low: -0.02, high: 0.02}}  # base com + U(-2, 2) cm per axis",
        "motors:",
    ]
    if all(a.model == "pd" for a in spec.actuators):
        for gain in ("kp", "kd"):  # a scale moves no gain of 0 (a <position> without kv: the joints damp)
            line = "  - {{param: actuator.{}.{}, mode: scale, dist: uniform, low: 0.9, high: 1.1}}  # {} x U(0.9, 1.1)"
            some = [a.actuator for a in spec.actuators if getattr(a, gain) > 0]
            if len(some) == len(spec.actuators):
                lines.append(line.format("*", gain, gain))
            else:
                lines += [line.format(name, gain, gain) for name in some]
                lines.append(
                    f"  # {gain} 0 on {'the other' if some else 'every'} actuator(s): nothing to scale"
                )
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
    for what, high, unit in (
        ("pos", 0.005, "encoder noise std ~ U(0, 5) mrad"),
        ("vel", 0.1, "joint velocity noise std ~ U(0, 0.1) rad/s"),
    ):
        for j in spec.joints:
            lines.append(
                f"  - {{param: sensor.{spec.sensor_name(f'{j}.{what}')}.noise, mode: absolute, dist: uniform, low: 0.0, high: {high}}}  # {unit}"
            )
    lines.append(
        f"pushes: {{body: {base}, force: {push}, duration: 0.1, interval: [5.0, 10.0]}}  # |F| ~ U{tuple(push)} N for 0.1 s every U(5, 10) s"
    )
    return "\n".join(lines) + "\n"
