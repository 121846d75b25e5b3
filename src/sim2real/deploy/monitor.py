"""The safety monitor a deployment runs: the spec's limits plus its collision detection."""

from __future__ import annotations

import logging

from sim2real.deploy.collision import CollisionDetector
from sim2real.deploy.collision_model import ObserverModel
from sim2real.deploy.collision_reach import blind_at_rest
from sim2real.deploy.safety import SafetyMonitor
from sim2real.deploy.torque_hold import HoldGains
from sim2real.robots.spec import RobotSpec

__all__ = ["deployment_monitor"]

log = logging.getLogger(__name__)

_SAID_BLIND: set[str] = set()
"""Spec hashes whose blind observer was logged (once per process: the fault suite builds many monitors)."""


def deployment_monitor(
    spec: RobotSpec, speed_fraction: float = 1.0, observed: ObserverModel | None = None
) -> SafetyMonitor:
    """The safety monitor a deployment runs: with the spec's collision detection (when enabled),
    its observer on ``observed`` (the model the policy was trained on: :meth:`ObserverModel.of_policy`;
    default nominal), and a hold with feedback at torque joints
    (:class:`~sim2real.deploy.torque_hold.HoldGains`, designed for the actuator delay of ``observed``'s
    calibration when it has one).  An observer that can see nothing at the
    default pose (:func:`blind_at_rest`) is logged as an error."""
    collision = CollisionDetector.from_spec(spec, observed)
    if collision is not None and spec.hash not in _SAID_BLIND:
        why = blind_at_rest(collision)
        if why is not None:
            log.error("%s", why)
            _SAID_BLIND.add(spec.hash)
    gains = HoldGains.of(spec, observed.values if observed is not None else None)  # its delay: the calibration's
    return SafetyMonitor(spec, speed_fraction, collision=collision, hold_gains=gains)
