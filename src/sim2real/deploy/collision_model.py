"""Which model of the robot the collision observer predicts torques with: the one the policy was trained on.

A policy trained on a calibration (``sim2real train --calib``) records the calibrated values in its
metadata (:attr:`~sim2real.policy.metadata.PolicyMetadata.calibration`).  The robot it is deployed
on is the calibrated one, so the observer's ``M``, ``b``, ``f_p`` and implied torques come from the
spec's model with those values set; an observer on the nominal model reads the difference as an
external torque (a pendulum whose pole is 20 % heavier than nominal: a sixth of every torque the
motor applies).  The detection thresholds stay the nominal spec's either way.

Sensor parameters and delays change nothing the observer computes and are left out; a parameter
of a body or joint the observer's model holds still (not the robot's: a ball in the scene) too.
Needs numpy and MuJoCo only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from sim2real.errors import ParameterError
from sim2real.params import Parameters, is_delay
from sim2real.robots.actuation import ActuatorArrays
from sim2real.robots.spec import RobotSpec

__all__ = ["ObserverModel", "apply_observer_model", "observed_actuation"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ObserverModel:
    """The parameter values the collision observer models the robot with (nominal when empty)."""

    values: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Parameter name -> value (SI) written into the spec's model; empty: the nominal model."""
    source: str = ""
    """Where the values come from (e.g. the calibration file the policy was trained on)."""

    @classmethod
    def of_policy(cls, policy: Any) -> ObserverModel:
        """The model a policy was trained on: its metadata's calibration, or the nominal model
        (no calibration recorded, or a policy without metadata such as the fault suite's stand-in)."""
        meta = getattr(policy, "metadata", None)
        record = getattr(meta, "calibration", None)
        if not record:
            return cls()
        values = {str(k): np.atleast_1d(np.asarray(v, dtype=float)) for k, v in record["values"].items()}
        path = record.get("path")
        source = f"calibration {Path(str(path)).name}" if path else "calibration"
        if record.get("created"):
            source += f" of {record['created']}"
        return cls(values=values, source=source)

    def describe(self) -> str:
        """One phrase for the startup line: which model the observer predicts torques with."""
        if not self.values:
            return "the nominal model"
        return (
            f"the calibrated model the policy was trained on ({self.source}, {len(self.values)} parameters)"
        )


def apply_observer_model(spec: RobotSpec, model: mujoco.MjModel, observed: ObserverModel) -> tuple[str, ...]:
    """Write ``observed``'s values into the observer's compiled ``model`` (in place); returns the
    names written.  Sensor parameters and delays are skipped (nothing the observer computes depends
    on them), and so are names the model does not have (a joint it removed), each logged."""
    if not observed.values:
        return ()
    params = Parameters(spec, model)
    written: dict[str, np.ndarray] = {}
    for name, value in observed.values.items():
        if name.startswith("sensor.") or is_delay(name):
            continue
        try:
            params.info(name)
        except ParameterError:
            log.info("collision observer: %s of the %s is not in its model, left out", name, observed.source)
            continue
        written[name] = value
    params.set(model, written)
    return tuple(written)


def observed_actuation(
    spec: RobotSpec, model: mujoco.MjModel, written: tuple[str, ...]
) -> tuple[ActuatorArrays, np.ndarray]:
    """The actuators the observer implies torques with, and their torque limits [N m] (n_actions,):
    the spec's, or the observer's ``model``'s where :func:`apply_observer_model` ``written`` drive
    parameters (``actuator.*``, ``motor.*``: gains, strength, offset, motor constants, limits)."""
    actuation = ActuatorArrays.from_spec(spec)
    limit = np.array([a.torque_limit for a in spec.actuators], dtype=float)
    if not any(n.startswith(("actuator.", "motor.")) for n in written):
        return actuation, limit
    ids = np.array([model.actuator(a.actuator).id for a in spec.actuators], dtype=int)
    for k, a in enumerate(spec.actuators):
        if f"actuator.{a.actuator}.torque_limit" in written:
            limit[k] = float(model.actuator_forcerange[ids[k], 1])
    return ActuatorArrays.from_user(spec, model.actuator_user[ids]), limit
