"""Robot specs and the embedded robots.

``load_robot("pendulum")`` loads an embedded robot; ``load_robot("path/to/robot.yaml")`` loads a
user's own robot from a spec YAML next to its MJCF.

================  ==================================================================================
module            owns
================  ==================================================================================
spec              :class:`RobotSpec` and its parts (actuators, sensors, safety limits, observation)
parse             the spec YAML parsed and validated on its own (:func:`read_spec`, no MJCF)
parse_action      the spec's ``action`` section: scale, offset, filter, clip, limit, the held joints
                  (``action.hold``)
not_spec          what a file given where a spec belongs is instead (a model, a policy, a log, a
                  folder...), and what to do with it
parse_values      checks of spec YAML values shared by the parsers (each error names where the value
                  sits)
safety_options    the spec's optional ``safety.collision`` and ``safety.stages`` keys and their
                  defaults
load              :func:`load_spec`: a spec checked against its MJCF (names, sensor plan, model
                  overrides, idle actuators) and hashed
files             the files a model compiles from (MJCF, includes, meshes, textures) with their
                  sha256, and naming which changed
model             MuJoCo models built from a spec, index helpers
actuation         the actuator equations: MuJoCo's affine form, and :func:`implied_torque` /
                  :func:`command_for_torque` for the robot side (numpy only)
friction          joint friction (Coulomb + viscous + Stribeck) and how the simulator applies the
                  Stribeck part
fine_steps        how fine a physics step must be for a torque held over it to stay stable
collide           which geoms take part in contacts: the one predicate every stage uses
geom_extent       how far a collision geom reaches down: its lowest point at given kinematics, the
                  geoms a body stands on
ground            the ground of a model: the planes and static geoms a robot can stand on, the
                  floor's height, a robot lifted out of it
standing          whether a legged robot stands in its default pose with its actuators
                  (:func:`stand`)
shake             whether the simulation stays finite under an untrained policy's random commands
urdf              a vendor URDF to MJCF with MuJoCo's own compiler, its meshes found where a ROS
                  workspace keeps them
mesh_convert      vendor meshes MuJoCo cannot read (Collada, ASCII STL) rewritten as binary STL
init              ``robot init``: a complete, commented spec inferred from a foreign MJCF or URDF,
                  unedited (:func:`infer_spec`, :func:`init_robot`)
init_options      ``robot init``: its choices (:class:`InitOptions`) and what it found
                  (:class:`InitResult`)
init_write        ``robot init``: the inferred spec written as commented YAML (:func:`write_spec`)
init_actuators    ``robot init``: each joint's actuator model, gains and torque limit
init_limits       ``robot init``: the spec's ``safety`` section, the joints a URDF couples
                  (``<mimic>``)
init_imu          ``robot init``: where a floating-base robot's IMU is (a site of its base, or one
                  added)
init_task         ``robot init``: the ``task:`` section, when the robot's kind is clear from its
                  model; a planar robot's root joints (measured, never driven)
init_wheels       ``robot init``: wheels (an unlimited hinge turning a foot), refused with one line
                  naming them
init_checks       ``robot init``: what the model's physics settings call for (solver, equality
                  constraints, gravity, a pose the gains do not hold)
init_randomize    ``robot init``: the randomization files written beside a legged robot's spec
init_scene        ``robot init``: which of a scene's hinge and slide joints are the robot's (not a
                  door's, nor a target's)
================  ==================================================================================
"""

from __future__ import annotations

from pathlib import Path

from sim2real.errors import SpecError
from sim2real.robots.load import load_spec
from sim2real.robots.spec import (
    ActuatorSpec,
    EncoderSpec,
    ImuSpec,
    InitialBase,
    ObservationTerm,
    ParameterBound,
    RobotSpec,
    SafetyLimits,
    TaskSpec,
)

DATA_DIR = Path(__file__).parent / "data"
EMBEDDED = ("pendulum", "furuta", "quadruped")
"""Names of the robots shipped with sim2real."""

__all__ = [
    "DATA_DIR",
    "EMBEDDED",
    "ActuatorSpec",
    "EncoderSpec",
    "ImuSpec",
    "InitialBase",
    "ObservationTerm",
    "ParameterBound",
    "RobotSpec",
    "SafetyLimits",
    "TaskSpec",
    "list_robots",
    "load_robot",
    "load_spec",
]


def list_robots() -> list[str]:
    """Names of the embedded robots whose files are present."""
    return [name for name in EMBEDDED if (DATA_DIR / f"{name}.yaml").is_file()]


def load_robot(name_or_path: str | Path) -> RobotSpec:
    """Load an embedded robot by name, or a user's robot from a spec YAML path.

    Raises:
        SpecError: an unknown name, a missing file, or a file that is not a spec (a URDF or MJCF
            model, a policy, a log...: the line says what it is and what to do,
            :mod:`sim2real.robots.not_spec`).
    """
    text = str(name_or_path)
    if text in EMBEDDED:
        return load_spec(DATA_DIR / f"{text}.yaml")
    path = Path(text)
    if path.suffix or len(path.parts) > 1 or path.exists():  # a path: a spec, or a file it names
        return load_spec(path)
    raise SpecError(
        f"unknown robot '{text}': embedded robots are {', '.join(list_robots())}, or give a spec YAML path"
    )
