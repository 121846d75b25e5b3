"""Twins with hidden values: the identification scenarios behind the figures (and their tests).

Each scenario is a twin (:class:`~sim2real.real.twin.TwinRobot`, default unmodeled effects: RK4 at
a quarter of the physics step, latency jitter, backlash, encoder noise and dropped readings) with
hidden parameter values, recorded through the control loop as ``sim2real record`` does:

- ``pendulum``: Coulomb friction 0.04 N m, armature 0.012 kg m^2, pole 0.75 kg, damping 0.3 N m s/rad,
  6 ms latency; chirp excitation;
- ``furuta``: pendulum mass x1.10, arm damping x1.5, pendulum damping x0.7, motor resistance x1.07,
  3 ms latency; chirp excitation from the hanging pendulum;
- ``quadruped_hung``: a Go2-class robot hung by its base, every joint its own damping, reflected
  rotor inertia and Coulomb friction (:data:`GO2_JOINTS`: friction up to 1.36 N m, armature up to
  0.035 kg m^2, as identified Go2 joints show), 4 ms latency; a chirp per joint;
- ``quadruped_standing``: the robot standing on the floor with a trunk 25 % heavier (a payload);
  small chirps around the standing pose;
- ``quadruped_actuator``: the hung robot of ``quadruped_hung`` whose joints also have Stribeck
  friction (:data:`GO2_STRIBECK`), with 4 mrad of backlash and torque-speed saturation (no-load
  speed :data:`GO2_NO_LOAD_SPEED`): the drives an actuator network learns (issue 17).

:func:`score` compares an identification with the hidden values: relative error, whether the
interval holds the truth, and the acceptance rule (within ``tolerance``, or reported as not
identified with an interval that holds the truth).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim2real.calibration import Calibration
from sim2real.deploy.record import ExcitationPolicy, fixed_base_spec, initial_state, record
from sim2real.logs import Trajectory, read_bag
from sim2real.params import Parameters
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import load_robot
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec
from sim2real.sysid.result import Identification

__all__ = [
    "GO2_JOINTS",
    "GO2_NO_LOAD_SPEED",
    "GO2_STRIBECK",
    "SCENARIOS",
    "Scenario",
    "hidden_values",
    "record_scenario",
    "score",
]

GO2_JOINTS: dict[str, tuple[float, float, float]] = {
    # joint: (damping [N m s/rad], armature [kg m^2], Coulomb friction [N m]); legs differ by ~15 %
    "FL_hip": (0.060, 0.0035, 0.22),
    "FR_hip": (0.050, 0.0040, 0.18),
    "RL_hip": (0.070, 0.0030, 0.25),
    "RR_hip": (0.055, 0.0038, 0.15),
    "FL_thigh": (0.080, 0.0060, 0.35),
    "FR_thigh": (0.090, 0.0055, 0.40),
    "RL_thigh": (0.070, 0.0065, 0.30),
    "RR_thigh": (0.085, 0.0060, 0.38),
    "FL_calf": (0.200, 0.0320, 1.20),
    "FR_calf": (0.180, 0.0300, 1.36),
    "RL_calf": (0.220, 0.0350, 1.10),
    "RR_calf": (0.190, 0.0280, 1.30),
}
"""Per-joint values of the hung quadruped's twin: Go2-class, different for every joint."""

GO2_STRIBECK: tuple[float, float] = (0.4, 0.1)
"""Stribeck friction of the ``quadruped_actuator`` twin: (share of each joint's Coulomb friction,
Stribeck velocity [rad/s]); the friction peaks at 1.4x the Coulomb value at 0.07 rad/s."""

GO2_NO_LOAD_SPEED = 30.0
"""Joint speed at which a Go2-class drive's torque falls to zero [rad/s] (its rated top speed)."""


@dataclass(frozen=True)
class Scenario:
    """One identification scenario."""

    robot: str
    """Embedded robot."""
    fixed_base: bool
    """Recorded hung by the base."""
    seconds: float
    """Length of the recording [s]."""
    amplitude: float | None
    """Excitation amplitude (None: ``record``'s default)."""
    effects: tuple[tuple[str, float], ...] = ()
    """Unmodeled effects other than the twin's defaults (``TwinEffects`` field, value)."""


SCENARIOS: dict[str, Scenario] = {
    "pendulum": Scenario("pendulum", False, 20.0, None),
    "furuta": Scenario("furuta", False, 20.0, None),
    "quadruped_hung": Scenario("quadruped", True, 60.0, None),
    "quadruped_standing": Scenario("quadruped", False, 10.0, 0.1),
    "quadruped_actuator": Scenario(
        "quadruped", True, 60.0, None, (("backlash", 0.004), ("no_load_speed", GO2_NO_LOAD_SPEED))
    ),
}
"""The scenarios by name."""


def hidden_values(name: str) -> dict[str, float]:
    """The hidden (true) parameter values of a scenario (absolute SI)."""
    if name == "pendulum":
        return {
            "body.pole.mass": 0.75,
            "joint.hinge.damping": 0.3,
            "joint.hinge.frictionloss": 0.04,
            "joint.hinge.armature": 0.012,
            "actuator.motor.delay": 0.006,
        }
    spec = load_robot(SCENARIOS[name].robot)
    nominal = Parameters(spec, build_model(spec))

    def nom(param: str) -> float:
        return float(nominal.info(param).nominal[0])

    if name == "furuta":
        return {
            "body.pendulum.mass": 1.10 * nom("body.pendulum.mass"),
            "joint.arm.damping": 1.5 * nom("joint.arm.damping"),
            "joint.pendulum.damping": 0.7 * nom("joint.pendulum.damping"),
            "motor.motor.resistance": 1.07 * nom("motor.motor.resistance"),
            "actuator.motor.delay": 0.003,
        }
    if name in ("quadruped_hung", "quadruped_actuator"):
        out = {}
        for joint, (damping, armature, friction) in GO2_JOINTS.items():
            out |= {
                f"joint.{joint}.damping": damping,
                f"joint.{joint}.armature": armature,
                f"joint.{joint}.frictionloss": friction,
                f"actuator.{joint}.delay": 0.004,
            }
            if name == "quadruped_actuator":
                share, velocity = GO2_STRIBECK
                out |= {
                    f"joint.{joint}.stribeck": share * friction,
                    f"joint.{joint}.stribeck_velocity": velocity,
                }
        return out
    if name == "quadruped_standing":
        return {f"body.{spec.base_body}.mass": 1.25 * nom(f"body.{spec.base_body}.mass")}
    raise KeyError(f"unknown scenario '{name}' (known: {', '.join(SCENARIOS)})")


def record_scenario(
    name: str, out: str | Path, seed: int = 0, seconds: float | None = None, kind: str = "chirp"
) -> Trajectory:
    """Record a scenario's twin (``sim2real record`` on it) to the bag ``out`` and read it back
    (``kind``: the excitation, chirp, prbs or steps)."""
    scenario = SCENARIOS[name]
    spec: RobotSpec = load_robot(scenario.robot)
    if scenario.fixed_base:
        spec = fixed_base_spec(spec)
    seconds = scenario.seconds if seconds is None else seconds
    params = {k: np.atleast_1d(v) for k, v in hidden_values(name).items()}
    config = TwinConfig(params=params, effects=TwinEffects(seed=seed, **dict(scenario.effects)))
    q0, qd0 = initial_state(spec, seed)
    twin = TwinRobot(spec, config, initial_qpos=q0, fixed_base=scenario.fixed_base)
    twin.reset(q0, qd0)
    policy = ExcitationPolicy(
        spec, kind, seconds, amplitude=scenario.amplitude, seed=seed, per_joint=scenario.fixed_base
    )
    record(twin, policy, seconds, out, meta={"fixed_base": scenario.fixed_base, "scenario": name})
    return read_bag(out)


def score(result: Identification | Calibration, truth: dict[str, float], tolerance: float) -> list[dict]:
    """Every identified parameter (of a result or its calibration file) against the truth (the
    nominal value where not hidden).

    Returns:
        One row per parameter component: name, true, estimate (the held value when not
        identified), rel_error (None for a true value of 0), inside (the interval holds the
        truth), identifiable, and ok (within ``tolerance``, or not identified with an interval
        that holds the truth; for a true value of 0, the interval holds it).
    """
    rows = []
    for name, p in result.params.items():
        true = np.broadcast_to(np.asarray(truth.get(name, p.nominal), dtype=float), p.value.shape)
        for c in range(p.value.size):
            zero = float(true[c]) == 0.0
            rel = None if zero else abs(float(p.value[c]) - float(true[c])) / abs(float(true[c]))
            inside = p.ci_low is not None and float(p.ci_low[c]) <= float(true[c]) <= float(p.ci_high[c])
            rows.append(
                {
                    "name": name if p.value.size == 1 else f"{name}[{c}]",
                    "true": float(true[c]),
                    "estimate": float(p.value[c]),
                    "rel_error": rel,
                    "inside": bool(inside),
                    "identifiable": bool(p.identifiable),
                    "ok": bool(inside if zero or not p.identifiable else rel <= tolerance),
                }
            )
    return rows
