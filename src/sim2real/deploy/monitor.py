"""The safety monitor a deployment runs: the spec's limits plus its collision detection."""

from __future__ import annotations

from sim2real.deploy.collision import CollisionDetector
from sim2real.deploy.safety import SafetyMonitor
from sim2real.robots.spec import RobotSpec

__all__ = ["deployment_monitor"]


def deployment_monitor(spec: RobotSpec, speed_fraction: float = 1.0) -> SafetyMonitor:
    """The safety monitor a deployment runs: with the spec's collision detection (when enabled)."""
    return SafetyMonitor(spec, speed_fraction, collision=CollisionDetector.from_spec(spec))
