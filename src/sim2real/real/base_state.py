"""The true state of a floating base as a simulated robot gives it (:class:`BaseState`): for
evaluation only, never part of a :class:`~sim2real.real.protocol.Reading`.  Numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BaseState"]


@dataclass(frozen=True, eq=False)
class BaseState:
    """The true state of a floating base, as the twin simulates it (for evaluation only: a real
    robot does not measure it, so it is never part of a :class:`~sim2real.real.protocol.Reading`)."""

    t: float
    """Simulated time [s]."""
    position: np.ndarray
    """Base position in the world, shape (3,) [m]; ``position[2]`` is the base height."""
    quat: np.ndarray
    """Base orientation (w, x, y, z), shape (4,), unit norm."""
    lin_vel_world: np.ndarray
    """Base linear velocity in the world frame, shape (3,) [m/s]."""
    lin_vel: np.ndarray
    """Base linear velocity in the base frame, shape (3,) [m/s]."""
    ang_vel: np.ndarray
    """Base angular velocity in the base frame, shape (3,) [rad/s]."""
    floor: float = 0.0
    """Height of the floor under the robot [m, world z] (:func:`~sim2real.robots.model.spec_floor_height`)."""

    @property
    def height(self) -> float:
        """Base height above the floor [m] (what ``Reading.base_height`` and the spec's
        ``safety.base_height`` mean)."""
        return float(self.position[2]) - self.floor
