"""External pushes on a named body, scheduled per simulation.

A push is a horizontal force of random direction and a magnitude drawn from a range, held for a
duration, repeated at random intervals.  Forces are written into ``xfrc_applied`` so MuJoCo
applies them in every physics substep.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import SimulationError
from sim2real.sim.batch import BatchSim


@dataclass(frozen=True)
class PushConfig:
    """When and how hard to push."""

    body: str
    """Body the force acts on (at its centre of mass)."""
    force_low: float
    """Smallest push force magnitude [N]."""
    force_high: float
    """Largest push force magnitude [N]."""
    duration: float = 0.1
    """How long each push lasts [s]."""
    interval_low: float = 2.0
    """Shortest time between push starts [s]."""
    interval_high: float = 4.0
    """Longest time between push starts [s]."""

    def __post_init__(self) -> None:
        if not 0 <= self.force_low <= self.force_high:
            raise SimulationError(
                f"push force range [{self.force_low}, {self.force_high}] is not 0 <= low <= high"
            )
        if self.duration <= 0 or not 0 < self.interval_low <= self.interval_high:
            raise SimulationError("push duration must be positive and 0 < interval_low <= interval_high")


class PushScheduler:
    """Per-simulation push timers over a :class:`BatchSim` (call :meth:`update` every control step).

    Args:
        sim: The simulation.
        config: The push schedule.
        rng: Seeded generator.
    """

    def __init__(self, sim: BatchSim, config: PushConfig, rng: np.random.Generator) -> None:
        self.sim = sim
        self.config = config
        self.rng = rng
        self.body_id = mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_BODY, config.body)
        if self.body_id < 0:
            raise SimulationError(f"push body '{config.body}' is not in the model")
        n = sim.num_envs
        self.next_start = np.zeros(n)
        self.end = np.full(n, -np.inf)
        self.force = np.zeros((n, 3))
        self.reset(np.arange(n))

    def reset(self, ids: np.ndarray) -> None:
        """Restart the timers of some simulations (their clocks restart at 0)."""
        ids = np.asarray(ids, dtype=np.int64)
        c = self.config
        self.next_start[ids] = self.rng.uniform(c.interval_low, c.interval_high, ids.size)
        self.end[ids] = -np.inf
        self.force[ids] = 0.0
        self.sim.xfrc_applied[ids, self.body_id, :3] = 0.0

    def update(self) -> np.ndarray:
        """Start and stop pushes at the simulations' current times; returns the ids that started one."""
        c = self.config
        t = self.sim.time
        start = np.flatnonzero(t >= self.next_start)
        if start.size:
            magnitude = self.rng.uniform(c.force_low, c.force_high, start.size)
            angle = self.rng.uniform(0.0, 2 * np.pi, start.size)
            self.force[start] = np.stack(
                [magnitude * np.cos(angle), magnitude * np.sin(angle), 0 * angle], axis=1
            )
            self.end[start] = t[start] + c.duration
            self.next_start[start] = t[start] + self.rng.uniform(c.interval_low, c.interval_high, start.size)
        active = t < self.end
        self.sim.xfrc_applied[:, self.body_id, :3] = np.where(active[:, None], self.force, 0.0)
        return start
