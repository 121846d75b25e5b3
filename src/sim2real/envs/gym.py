"""Gymnasium ``Env`` of one simulation of any task, for the Gymnasium ecosystem (and SB3)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sim2real.envs.core import TaskEnv
from sim2real.errors import MissingExtraError
from sim2real.robots.spec import RobotSpec
from sim2real.tasks.base import TaskConfig

try:
    import gymnasium as gym
    from gymnasium import spaces
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "gymnasium") from None


class GymEnv(gym.Env):
    """One simulation of a task as a Gymnasium environment.

    Observations are the actor's (n_obs,) float32 vector; actions are in [-1, 1]^n_actions.
    ``terminated`` is a task termination, ``truncated`` the time limit.  ``info`` at episode end
    holds ``success``.
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, spec: RobotSpec, task: TaskConfig, seed: int = 0, hooks: tuple[Any, ...] = ()) -> None:
        self.env = TaskEnv(spec, task, 1, seed=seed, nthread=1, hooks=hooks)
        n_obs = spec.n_obs
        self.observation_space = spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (spec.n_actions,), np.float32)
        self._obs = self.env.observe()[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.env.rng = np.random.default_rng(seed)
            self.env.sensors.rng = self.env.rng
        obs, _ = self.env.reset()
        return obs[0].astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        result = self.env.step(np.asarray(action, dtype=float).reshape(1, -1))
        info: dict[str, Any] = {}
        if result.info:
            info = {
                "success": bool(result.info["success"][0]),
                "episode_return": float(result.info["episode_return"][0]),
            }
        terminated = bool(result.done[0] and not result.time_out[0])
        truncated = bool(result.time_out[0])
        return result.obs[0].astype(np.float32), float(result.reward[0]), terminated, truncated, info
