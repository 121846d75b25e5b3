"""The kinds of named parameters (a base module): their units, physical domains and default
plausible bounds, and how a name splits into group, element and quantity.

:mod:`sim2real.params` resolves the names against a robot and reads and writes them; this module
says what each kind of value is.  A hinge's parameters are in radians and newton-metres; a slide
(prismatic) joint's, and those of the actuator driving one, in metres and newtons
(:data:`SLIDE_UNITS`), and a slide's target offset has its own default bound.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.errors import ParameterError

__all__ = [
    "NONNEGATIVE",
    "POSITIVE",
    "SLIDE_OFFSET_BOUND",
    "SLIDE_UNITS",
    "UNITS",
    "default_bounds",
    "position_unit",
    "slides",
    "split_name",
    "unit_of",
]

UNITS: dict[tuple[str, str], str] = {
    ("body", "mass"): "kg",
    ("body", "com"): "m",
    ("body", "inertia"): "kg m^2",
    ("geom", "friction"): "1",
    ("joint", "damping"): "N m s/rad",
    ("joint", "frictionloss"): "N m",
    ("joint", "armature"): "kg m^2",
    ("joint", "stribeck"): "N m",
    ("joint", "stribeck_velocity"): "rad/s",
    ("actuator", "kp"): "N m/rad",
    ("actuator", "kd"): "N m s/rad",
    ("actuator", "strength"): "1",
    ("actuator", "offset"): "rad",
    ("actuator", "delay"): "s",
    ("actuator", "torque_limit"): "N m",
    ("motor", "resistance"): "Ohm",
    ("motor", "kt"): "N m/A",
    ("motor", "ke"): "V s/rad",
    ("sensor", "bias"): "sensor units",
    ("sensor", "noise"): "sensor units",
    ("sensor", "delay"): "s",
    ("world", "gravity"): "m/s^2",
}
"""Unit of every parameter kind, keyed by (group, quantity), for hinge joints and their actuators."""

SLIDE_UNITS: dict[tuple[str, str], str] = {
    ("joint", "damping"): "N s/m",
    ("joint", "frictionloss"): "N",
    ("joint", "armature"): "kg",
    ("joint", "stribeck"): "N",
    ("joint", "stribeck_velocity"): "m/s",
    ("actuator", "kp"): "N/m",
    ("actuator", "kd"): "N s/m",
    ("actuator", "offset"): "m",
    ("actuator", "torque_limit"): "N",
    ("motor", "kt"): "N/A",
    ("motor", "ke"): "V s/m",
}
"""The units that differ for a slide (prismatic) joint and the actuator driving one: its position is
a length [m] and its effort a force [N] (a gripper's finger, a URDF's prismatic joint)."""

SLIDE_OFFSET_BOUND = 0.01
"""Default plausible half-range of a slide actuator's target offset [m] (a hinge's: 0.1 rad)."""


POSITIVE: frozenset[str] = frozenset(
    {"mass", "inertia", "resistance", "kt", "torque_limit", "kp", "strength", "stribeck_velocity"}
)
"""Quantities whose physical domain is > 0 (a write outside it is an error; randomization ranges
and calibrated ranges are kept inside it)."""

NONNEGATIVE: frozenset[str] = frozenset(
    {"damping", "frictionloss", "armature", "delay", "noise", "kd", "ke", "friction", "stribeck"}
)
"""Quantities whose physical domain is >= 0 (the others may take any finite value)."""


def split_name(name: str) -> tuple[str, str, str]:
    """(group, element, quantity) of a parameter name; the element may contain dots."""
    parts = name.split(".")
    if len(parts) == 2 and parts[0] == "world":
        return "world", "world", parts[1]
    if len(parts) < 3:
        raise ParameterError(f"parameter name '{name}' must look like group.element.quantity")
    group, quantity = parts[0], parts[-1]
    element = ".".join(parts[1:-1])
    if (group, quantity) not in UNITS:
        known = sorted({f"{g}.*.{q}" if g != "world" else f"{g}.{q}" for g, q in UNITS})
        raise ParameterError(f"unknown parameter '{name}': known kinds are {', '.join(known)}")
    return group, element, quantity


def slides(model: mujoco.MjModel, group: str, index: int) -> bool:
    """Whether a joint (``group`` joint) or the joint an actuator drives (``actuator``, ``motor``)
    is a slide joint, whose position is a length and whose effort is a force."""
    if group == "joint":
        joint = index
    elif group in ("actuator", "motor") and int(model.actuator_trntype[index]) in (
        int(mujoco.mjtTrn.mjTRN_JOINT),
        int(mujoco.mjtTrn.mjTRN_JOINTINPARENT),
    ):
        joint = int(model.actuator_trnid[index, 0])
    else:
        return False
    return int(model.jnt_type[joint]) == int(mujoco.mjtJoint.mjJNT_SLIDE)


def unit_of(group: str, quantity: str, slide: bool = False) -> str:
    """SI unit of a parameter kind; ``slide``: of a slide joint or the actuator driving one."""
    return SLIDE_UNITS.get((group, quantity), UNITS[(group, quantity)]) if slide else UNITS[(group, quantity)]


def default_bounds(
    group: str, quantity: str, nominal: np.ndarray, slide: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Plausible range when the spec states none: wide, physical, never crossing zero for scales."""
    n = np.abs(nominal)
    if quantity == "offset" and slide:
        return nominal - SLIDE_OFFSET_BOUND, nominal + SLIDE_OFFSET_BOUND
    if (group, quantity) == ("body", "com"):
        return nominal - 0.05, nominal + 0.05
    if (group, quantity) == ("world", "gravity"):
        return nominal - 2.0, nominal + 2.0
    if quantity in ("delay",):
        return np.zeros_like(nominal), np.full_like(nominal, 0.04)
    if quantity in ("bias", "offset"):
        return nominal - 0.1, nominal + 0.1
    if quantity in ("damping", "frictionloss", "armature", "noise", "stribeck"):
        return np.zeros_like(nominal), 3.0 * n + 1e-3
    if quantity == "stribeck_velocity":
        return 0.2 * n, 5.0 * n
    return 0.5 * n, 1.5 * n + (n == 0)


def position_unit(model: mujoco.MjModel, joints: list[str] | tuple[str, ...]) -> str:
    """The unit of a position error pooled over ``joints`` (named joints of ``model``): ``rad``
    (hinges), ``m`` (slide joints), or ``rad and m`` when the pool mixes them (a cart-pole's RMSE
    over its cart and its pole); a velocity's is this unit per second."""
    kinds = {slides(model, "joint", model.joint(j).id) for j in joints}
    return "m" if kinds == {True} else "rad and m" if kinds == {True, False} else "rad"
