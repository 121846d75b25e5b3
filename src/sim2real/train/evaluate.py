"""Evaluation of a deterministic policy on its task: success rate and mean return.

Each of K simulations runs exactly one episode from the task's reset distribution with the
policy's deterministic (tanh mean) actions, through the same environment as training (action
filter, actuator and sensor models, randomization hooks when given).  Success is the task's own
:class:`~sim2real.tasks.base.SuccessRule`, judged by :class:`~sim2real.envs.core.TaskEnv`:

- ``pendulum`` / ``furuta``: the episode ran to its time limit and the pendulum stayed upright
  within 0.2 rad for (at least) the last 2 s of it;
- ``quadruped``: the episode ran to its time limit without a fall (no termination) and the mean
  velocity tracking error |v_xy,cmd - v_xy| over the episode is below 0.25 m/s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim2real.envs.core import TaskEnv
from sim2real.robots.spec import RobotSpec
from sim2real.tasks.base import TaskConfig


def run_episodes(
    act: Callable[[np.ndarray], np.ndarray],
    spec: RobotSpec,
    task: TaskConfig,
    episodes: int,
    seed: int = 1,
    hooks: tuple[Any, ...] = (),
    nthread: int = 0,
    model: Any = None,
) -> dict[str, Any]:
    """Run one episode in each of ``episodes`` simulations.

    Args:
        act: Deterministic policy: observations (K, n_obs) float32 -> actions (K, n_act) in [-1, 1].
        spec: The robot.
        task: The task.
        episodes: Number of episodes K.
        seed: Seed of the environment (initial states, sensor noise).
        hooks: Randomization hooks.
        nthread: MuJoCo threads (0: every CPU).
        model: Compiled model to simulate (e.g. a calibrated one); default: the nominal model.

    Returns:
        ``{"success_rate", "mean_return", "episodes", "returns", "successes"}``.
    """
    env = TaskEnv(spec, task, episodes, seed=seed, nthread=nthread, hooks=hooks, model=model)
    obs, _ = env.observe()
    returns = np.zeros(episodes)
    success = np.zeros(episodes, dtype=bool)
    finished = np.zeros(episodes, dtype=bool)
    for _ in range(env.max_episode_steps):
        result = env.step(act(obs.astype(np.float32)))
        if result.info:
            ids = result.info["ids"]
            new = ~finished[ids]
            returns[ids[new]] = result.info["episode_return"][new]
            success[ids[new]] = result.info["success"][new]
            finished[ids[new]] = True
            if finished.all():
                break
        obs = result.obs
    return {
        "success_rate": float(success.mean()),
        "mean_return": float(returns.mean()),
        "episodes": int(episodes),
        "returns": returns,
        "successes": success,
    }


def torch_actor(policy: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a torch module (obs -> action) as a numpy function, without gradients."""
    import torch

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return policy(torch.from_numpy(obs)).numpy()

    return act


def evaluate_policy(
    policy: Any,
    spec: RobotSpec,
    task: TaskConfig,
    episodes: int = 64,
    seed: int = 1,
    hooks: tuple[Any, ...] = (),
    nthread: int = 0,
    model: Any = None,
) -> dict[str, Any]:
    """Evaluate a :class:`~sim2real.train.network.TransferPolicy` (see :func:`run_episodes`)."""
    was_training = policy.training
    policy.eval()
    try:
        return run_episodes(torch_actor(policy), spec, task, episodes, seed, hooks, nthread, model)
    finally:
        policy.train(was_training)
