"""rsl_rl ``VecEnv`` over a :class:`TaskEnv` (needs the ``train`` extra: torch, rsl-rl-lib)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim2real.envs.core import TaskEnv
from sim2real.errors import MissingExtraError

try:  # the train extra is optional; its absence is reported by name when this module is used
    import torch
    from rsl_rl.env import VecEnv
    from tensordict import TensorDict
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None


class RslVecEnv(VecEnv):
    """Presents a TaskEnv to rsl_rl's runner: torch tensors on the CPU, observation groups
    ``policy`` (actor) and ``critic`` (actor + privileged terms).

    Args:
        env: The numpy environment.
        cfg: Anything rsl_rl should log as the environment config.
    """

    def __init__(self, env: TaskEnv, cfg: dict | None = None) -> None:
        self.env = env
        self.num_envs = env.num_envs
        self.num_actions = env.spec.n_actions
        self.max_episode_length = env.max_episode_steps
        self.device = "cpu"
        self.cfg = cfg or {"task": env.task.name, "robot": env.spec.name}
        self._obs, self._critic = env.observe()
        self.recent_success: list[float] = []
        self.recent_returns: list[float] = []
        self.last_judged = 0
        """Episodes judged among those the latest :meth:`step` ended (``recent_*`` got that many)."""

    @property
    def episode_length_buf(self) -> torch.Tensor:
        """Steps since each episode started, (N,)."""
        return torch.from_numpy(self.env.episode_step)

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        # rsl_rl may randomize episode starts; the numpy env keeps the count.
        self.env.start_episodes_at(value.cpu().numpy())

    def _pack(self) -> TensorDict:
        return TensorDict(
            {
                "policy": torch.from_numpy(self._obs.astype(np.float32)),
                "critic": torch.from_numpy(self._critic.astype(np.float32)),
            },
            batch_size=[self.num_envs],
        )

    def collect(self, info: dict[str, Any]) -> int:
        """Add the success and return of the episodes a step ended to ``recent_*`` (the newest 200),
        those judged only (not those a random start cut short); returns how many were added."""
        if not info:
            return 0
        judged = info["judged"]
        self.recent_success = (self.recent_success + info["success"][judged].astype(float).tolist())[-200:]
        self.recent_returns = (self.recent_returns + info["episode_return"][judged].tolist())[-200:]
        return int(np.count_nonzero(judged))

    def get_observations(self) -> TensorDict:
        return self._pack()

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict[str, Any]]:
        result = self.env.step(actions.detach().cpu().numpy())
        self._obs, self._critic = result.obs, result.critic_obs
        extras: dict[str, Any] = {"time_outs": torch.from_numpy(result.time_out.astype(np.float32))}
        self.last_judged = self.collect(result.info)
        if result.info and self.recent_success:
            extras["log"] = {"/success_rate": float(np.mean(self.recent_success))}
        return (
            self._pack(),
            torch.from_numpy(result.reward.astype(np.float32)),
            torch.from_numpy(result.done.astype(np.float32)),
            extras,
        )
