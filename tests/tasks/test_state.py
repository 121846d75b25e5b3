"""MeasuredState: the one TermEnv over measured or logged state."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.envs.core import TaskEnv
from sim2real.robots import load_robot
from sim2real.tasks import get_task, terms
from sim2real.tasks.state import MeasuredState, StateUnavailableError


class TestMeasuredState:
    def test_terms_give_the_training_envs_values_on_the_same_state(self):
        spec = load_robot("quadruped")
        env = TaskEnv(spec, get_task(spec), 3, seed=1, nthread=1)
        rng = np.random.default_rng(0)
        for _ in range(5):
            env.step(rng.uniform(-1, 1, (3, 12)))
        state = MeasuredState(
            spec,
            joint_pos=env.joint_pos,
            joint_vel=env.joint_vel,
            joint_torque=env.joint_torque,
            filtered_action=env.filtered_action,
            prev_action=env.prev_action,
            velocity_command=env.velocity_command,
            base_height=env.base_height,
            base_quat=env.base_quat,
            base_lin_vel=env.base_lin_vel,
            base_ang_vel=env.base_ang_vel,
        )
        task = get_task(spec)
        for name, term in task.rewards.items():
            if name != "feet_air_time":
                np.testing.assert_allclose(term(state), term(env), err_msg=name)
        for name, term in task.terminations.items():
            np.testing.assert_array_equal(term(state), term(env), err_msg=name)

    def test_missing_state_raises_naming_it(self):
        state = MeasuredState(load_robot("quadruped"), joint_pos=np.zeros((1, 12)))
        with pytest.raises(StateUnavailableError, match="base_lin_vel is not available") as err:
            terms.lin_vel_z_l2(state)
        assert isinstance(err.value, AttributeError) and err.value.name == "base_lin_vel"
        assert not state.available("projected_gravity")

    def test_update_replaces_fields_and_control_dt_follows_the_log(self):
        spec = load_robot("pendulum")
        state = MeasuredState(spec, control_dt=0.01, joint_pos=[[0.0]])
        state.update(joint_pos=[[np.pi]])
        assert state.control_dt == 0.01 and state.num_envs == 1
        assert terms.upright_cos(state, joint="hinge", upright=np.pi) == pytest.approx([1.0])
        with pytest.raises(TypeError, match="no field joint_angle"):
            state.update(joint_angle=[[0.0]])
