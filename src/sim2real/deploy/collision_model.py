"""Which model of the robot the collision observer predicts torques with: the one the policy was trained on.

A policy trained on a calibration (``sim2real train --calib``) records the calibrated values in its
metadata (:attr:`~sim2real.policy.metadata.PolicyMetadata.calibration`).  The robot it is deployed
on is the calibrated one, so the observer's ``M``, ``b`` and ``f_p`` come from the spec's model with
those values set (the implied torques from the spec's drives: a calibrated weaker drive would hide
a push it resists); an observer on the nominal model reads the difference as an
external torque (a pendulum whose pole is 20 % heavier than nominal: a sixth of every torque the
motor applies).  The detection thresholds stay the nominal spec's either way.

Sensor parameters and delays change nothing the observer computes and are left out.  The record
must be this robot's (spec hash), inside the plausible bounds and named on the model, or the
deployment does not start.
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

from sim2real.errors import ParameterError, SpecMismatchError
from sim2real.params import Parameters, is_delay
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec

__all__ = ["ObserverModel", "apply_observer_model"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ObserverModel:
    """The parameter values the collision observer models the robot with (nominal when empty)."""

    values: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Parameter name -> value (SI) written into the spec's model; empty: the nominal model."""
    source: str = ""
    """Where the values come from (e.g. the calibration file the policy was trained on)."""

    @classmethod
    def of_policy(cls, policy: Any, spec: RobotSpec) -> ObserverModel:
        """The model a policy was trained on: its metadata's calibration, or the nominal model
        (no calibration recorded, or a policy without metadata such as the fault suite's stand-in).

        The record must be this robot's (its ``spec_hash``), its values inside the spec's plausible
        bounds and named on the observer's model: a record from another robot or hand-edited must
        not set what the observer predicts (a mass 100 x nominal would stop the robot at rest).

        Raises:
            SpecMismatchError: the record names another spec (or none).
            ParameterError: a value outside its bounds, or a name the model does not have.
        """
        meta = getattr(policy, "metadata", None)
        record = getattr(meta, "calibration", None)
        if not record:
            return cls()
        path = record.get("path")
        source = f"calibration {Path(str(path)).name}" if path else "calibration"
        if record.get("spec_hash") != spec.hash:
            raise SpecMismatchError(
                f"the policy's {source}",
                spec.hash,
                str(record.get("spec_hash") or "none"),
                detail="the collision observer cannot model the robot with it",
            )
        values = {str(k): np.atleast_1d(np.asarray(v, dtype=float)) for k, v in record["values"].items()}
        Parameters(spec, build_model(spec)).check_bounds(values, f"the policy's {source}")
        if record.get("created"):
            source += f" of {record['created']}"
        return cls(values=values, source=source)

    def describe(self) -> str:
        """One phrase for the startup line: which model the observer predicts torques with."""
        used = [n for n in self.values if _observed(n)]
        if not used:
            return "the nominal model"
        return f"the calibrated model the policy was trained on ({self.source}, {len(used)} parameters)"


def _observed(name: str) -> bool:
    """Whether the observer takes a calibrated parameter: not a sensor's or a delay (nothing it
    computes uses them), and not a drive's (``actuator.*``, ``motor.*``): it implies torques with the
    spec's drives, so that a calibrated weaker or clipped drive cannot hide a push it resists."""
    return not (name.startswith(("sensor.", "actuator.", "motor.")) or is_delay(name))


def apply_observer_model(spec: RobotSpec, model: mujoco.MjModel, observed: ObserverModel) -> None:
    """Write ``observed``'s values into the observer's compiled ``model`` (in place): those
    :func:`_observed` takes.

    Raises:
        ParameterError: a name the observer's model does not have (another robot's calibration).
    """
    if not observed.values:
        return
    params = Parameters(spec, model)
    written = {name: value for name, value in observed.values.items() if _observed(name)}
    for name in written:
        try:
            params.info(name)
        except ParameterError:
            raise ParameterError(
                f"the collision observer's model has no {name} (the policy's {observed.source}): is it this robot's?"
            ) from None
    params.set(model, written)
