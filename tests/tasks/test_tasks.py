"""Tasks: every registered task resets and steps with the right sizes, and its terms behave."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim2real.envs.core import TaskEnv
from sim2real.errors import Sim2RealError
from sim2real.robots import load_robot
from sim2real.tasks import CommandConfig, Term, get_task, task_kinds, terms

TASKS = ["pendulum", "furuta", "quadruped"]


def test_registry_lists_the_task_kinds():
    assert task_kinds() == ["locomotion", "swing_up"]


@pytest.mark.parametrize(("name", "kind"), [("pendulum", "swing_up"), ("furuta", "swing_up"), ("quadruped", "locomotion")])
def test_embedded_robots_name_their_task_kind(name, kind):
    task = get_task(load_robot(name))
    assert (task.kind, task.name) == (kind, name)


def test_unknown_task_is_a_clear_error():
    with pytest.raises(Sim2RealError, match="no task 'walker'"):
        get_task("walker")


def test_term_parameters_are_checked_when_built():
    with pytest.raises(Sim2RealError, match="bad parameters"):
        Term(terms.near_upright, 1.0, {"joint": "hinge", "uprite": 0.0, "tolerance": 0.2})


class TestResetAndStep:
    @pytest.mark.parametrize("name", TASKS)
    def test_observation_sizes_and_no_nan(self, name):
        spec, task = load_robot(name), get_task(name)
        env = TaskEnv(spec, task, 4, seed=0)
        obs, critic = env.reset()
        assert obs.shape == (4, spec.n_obs)
        assert critic.shape == (4, spec.n_obs + 4 * ("base_lin_vel" in task.critic_terms))
        rng = np.random.default_rng(0)
        for _ in range(25):
            result = env.step(rng.uniform(-1, 1, (4, spec.n_actions)))
            assert result.obs.shape == (4, spec.n_obs)
            assert result.reward.shape == result.done.shape == (4,)
            assert np.isfinite(result.obs).all() and np.isfinite(result.critic_obs).all()
            assert np.isfinite(result.reward).all()

    @pytest.mark.parametrize("name", TASKS)
    def test_action_scale_matches_actuators(self, name):
        spec, task = load_robot(name), get_task(name)
        assert len(task.action_scale) == spec.n_actions
        assert 0 < task.action_filter <= 1

    @pytest.mark.parametrize("name", ["pendulum", "furuta"])
    def test_swing_up_tasks_start_hanging(self, name):
        spec, task = load_robot(name), get_task(name)
        env = TaskEnv(spec, task, 16, seed=3)
        joint = "hinge" if name == "pendulum" else "pendulum"
        upright = np.pi if name == "pendulum" else 0.0
        q = env.joint_pos[:, spec.joints.index(joint)]
        assert np.all(np.abs(terms.wrap_angle(q - upright)) > np.pi - 0.3)

    def test_actor_observations_hold_no_simulator_velocity(self):
        spec = load_robot("quadruped")
        names = [t.name for t in spec.observation]
        assert "base_lin_vel" not in names
        assert "base_lin_vel" in get_task("quadruped").critic_terms


class TestTerms:
    def _pendulum_env(self, q: float, qd: float = 0.0) -> TaskEnv:
        spec = load_robot("pendulum")
        task = dataclasses.replace(
            get_task("pendulum"),
            reset=lambda env, ids, rng: (np.full((ids.size, 1), q), np.full((ids.size, 1), qd)),
        )
        return TaskEnv(spec, task, 2, seed=0)

    def test_upright_cos_and_near_upright(self):
        env = self._pendulum_env(np.pi - 0.1)
        assert terms.upright_cos(env, joint="hinge", upright=np.pi) == pytest.approx(0.5 * (1 + np.cos(0.1)))
        assert terms.near_upright(env, joint="hinge", upright=np.pi, tolerance=0.2).tolist() == [1.0, 1.0]
        assert terms.near_upright(env, joint="hinge", upright=np.pi, tolerance=0.05).tolist() == [0.0, 0.0]


class TestSuccessRules:
    def _run(self, spec, task, n, action):
        env = TaskEnv(spec, task, n, seed=0)
        for _ in range(env.max_episode_steps):
            result = env.step(action)
            if result.info:
                return result.info
        raise AssertionError("episodes did not end")

    def test_hanging_pendulum_fails_the_swing_up(self):
        spec = load_robot("pendulum")
        task = dataclasses.replace(get_task("pendulum"), episode_s=3.0)
        info = self._run(spec, task, 4, np.zeros((4, 1)))
        assert not info["success"].any()
        assert (info["length"] == round(3.0 / spec.control_dt)).all()

    def test_holding_the_target_for_the_last_two_seconds_succeeds(self):
        # same rule with the target moved to the hanging pose, where a passive pendulum rests
        spec = load_robot("pendulum")
        base = get_task("pendulum")
        rule = dataclasses.replace(
            base.success,
            metric=Term(terms.near_upright, 1.0, {"joint": "hinge", "upright": 0.0, "tolerance": 0.2}),
        )
        task = dataclasses.replace(base, episode_s=3.0, success=rule)
        info = self._run(spec, task, 4, np.zeros((4, 1)))
        assert info["success"].all()

    @pytest.mark.parametrize(("command", "expected"), [(0.0, True), (1.0, False)])
    def test_quadruped_tracking_rule(self, command, expected):
        spec = load_robot("quadruped")
        cmd = CommandConfig(vx=(command, command), vy=(0.0, 0.0), yaw=(0.0, 0.0), standing_fraction=0.0)
        task = dataclasses.replace(get_task("quadruped"), episode_s=2.0, commands=cmd)
        info = self._run(spec, task, 2, np.zeros((2, 12)))
        assert info["success"].tolist() == [expected, expected]
