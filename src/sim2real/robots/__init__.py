"""Robot specs and the embedded robots.

Modules: ``spec`` (the RobotSpec type and its YAML schema), ``load`` (load a spec and check it
against its MJCF: names, files hashed, sensor plan, model overrides), ``files`` (the files a model
compiles from and naming which changed), ``model`` (build the MuJoCo model a spec describes),
``actuation`` (actuator models as MuJoCo affine actuators), ``init`` (``robot init``: a spec
inferred from a foreign MJCF or URDF).

``load_robot("pendulum")`` loads an embedded robot; ``load_robot("path/to/robot.yaml")`` loads a
user's own robot from a spec YAML next to its MJCF.

================  ==================================================================================
module            owns
================  ==================================================================================
spec              :class:`RobotSpec` and its parts (actuators, sensors, safety limits, observation)
model             MuJoCo models built from a spec, index helpers
actuation         the actuator equations: MuJoCo's affine form, and :func:`implied_torque` /
                  :func:`command_for_torque` for the robot side (numpy only)
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
    """Load an embedded robot by name, or a user's robot from a spec YAML path."""
    text = str(name_or_path)
    if text in EMBEDDED:
        return load_spec(DATA_DIR / f"{text}.yaml")
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_spec(path)
    raise SpecError(
        f"unknown robot '{text}': embedded robots are {', '.join(list_robots())}, or give a spec YAML path"
    )
