"""The rsl_rl VecEnv and Gymnasium adapters over TaskEnv."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from sim2real.envs.core import TaskEnv
from sim2real.envs.gym import GymEnv
from sim2real.envs.rsl import RslVecEnv
from sim2real.robots import load_robot
from sim2real.tasks import get_task


class TestRslVecEnv:
    @pytest.mark.parametrize("name", ["pendulum", "quadruped"])
    def test_observation_groups_and_step_shapes(self, name):
        spec, task = load_robot(name), get_task(name)
        vec = RslVecEnv(TaskEnv(spec, task, 3, seed=0))
        obs = vec.get_observations()
        assert obs["policy"].shape == (3, spec.n_obs) and obs["policy"].dtype == torch.float32
        assert obs["critic"].shape[0] == 3 and obs["critic"].shape[1] >= spec.n_obs
        obs, reward, done, extras = vec.step(torch.zeros(3, spec.n_actions))
        assert reward.shape == done.shape == extras["time_outs"].shape == (3,)
        assert torch.isfinite(obs["policy"]).all()

    def test_time_out_is_reported_at_the_episode_limit(self):
        spec, task = load_robot("pendulum"), get_task("pendulum")
        env = TaskEnv(spec, task, 2, seed=0)
        vec = RslVecEnv(env)
        env.episode_step[:] = env.max_episode_steps - 1
        _, _, done, extras = vec.step(torch.zeros(2, 1))
        assert done.tolist() == [1.0, 1.0]
        assert extras["time_outs"].tolist() == [1.0, 1.0]
        assert "/success_rate" in extras["log"]


class TestGymEnv:
    @pytest.mark.filterwarnings("ignore:.*Box observation space m..imum value is:UserWarning")
    @pytest.mark.parametrize("name", ["pendulum", "furuta", "quadruped"])
    def test_passes_gymnasium_check_env(self, name):
        env = GymEnv(load_robot(name), get_task(name), seed=0)
        check_env(env, skip_render_check=True)

    def test_reset_with_a_seed_is_reproducible(self):
        env = GymEnv(load_robot("furuta"), get_task("furuta"), seed=0)
        first, _ = env.reset(seed=7)
        other, _ = env.reset(seed=8)
        again, _ = env.reset(seed=7)
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, other)

    def test_time_limit_is_truncation(self):
        spec, task = load_robot("pendulum"), get_task("pendulum")
        env = GymEnv(spec, task, seed=0)
        env.reset(seed=0)
        env.env.episode_step[:] = env.env.max_episode_steps - 1
        _, reward, terminated, truncated, info = env.step(np.zeros(1, dtype=np.float32))
        assert (terminated, truncated) == (False, True)
        assert isinstance(reward, float) and set(info) == {"success", "episode_return"}


class TestRandomEpisodeStarts:
    """rsl_rl spreads the first resets by starting episodes at random steps: such an episode ends
    in a time-out after a few steps, and was counted as a success (a swing-up held for a moment, a
    walk measured over a fraction of a second), feeding the curriculum a false progress."""

    def test_an_episode_that_started_late_is_not_judged_and_the_next_one_is(self):
        spec, task = load_robot("pendulum"), get_task("pendulum")
        env = TaskEnv(spec, task, 4, seed=0)
        vec = RslVecEnv(env)
        left = np.array([2, 5, 0, 3])  # steps each episode has left before its time-out
        start = env.max_episode_steps - left
        start[2] = 0  # one episode runs whole
        vec.episode_length_buf = torch.from_numpy(start)
        judged: dict[int, list[bool]] = {i: [] for i in range(4)}
        for _ in range(int(left.max()) + 1):
            result = env.step(np.zeros((4, spec.n_actions)))
            if result.info:
                for i, j in zip(result.info["ids"], result.info["judged"], strict=True):
                    judged[int(i)].append(bool(j))
        assert judged[0] == [False] and judged[1] == [False] and judged[3] == [False]
        assert judged[2] == []  # still running its whole episode
        # the next episodes of the late starters run from step 0: judged
        for _ in range(env.max_episode_steps):
            result = env.step(np.zeros((4, spec.n_actions)))
            if result.info:
                for i, j in zip(result.info["ids"], result.info["judged"], strict=True):
                    judged[int(i)].append(bool(j))
        assert judged[2] == [True] and all(v[1:] == [True] for k, v in judged.items() if k != 2)

    def test_the_success_window_leaves_out_the_cut_episodes(self):
        spec, task = load_robot("pendulum"), get_task("pendulum")
        env = TaskEnv(spec, task, 3, seed=0)
        vec = RslVecEnv(env)
        vec.episode_length_buf = torch.from_numpy(env.max_episode_steps - np.array([1, 1, 1]))
        vec.step(torch.zeros((3, spec.n_actions)))
        assert vec.recent_success == [] and vec.recent_returns == []
