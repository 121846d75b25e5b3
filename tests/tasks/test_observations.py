"""Observation terms and layouts: history (oldest first, refilled at reset), clip, per-value scale,
term parameters, and the terms policies from elsewhere observe."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim2real.errors import Sim2RealError
from sim2real.robots.spec import ObservationTerm
from sim2real.tasks.observations import (
    ObservationHistory,
    ObsInputs,
    base_quat,
    build_observation,
    gait_phase,
)


def inputs(n=2, t=0.0, **kw):
    base = {
        "joint_pos": np.arange(2 * n, dtype=float).reshape(n, 2),
        "joint_vel": np.ones((n, 2)),
        "default_pose": np.zeros(2),
        "last_action": np.zeros((n, 1)),
        "episode_time": np.full(n, t),
    }
    base.update(kw)
    return ObsInputs(**base)


class TestTerms:
    def test_gait_phase_is_sin_cos_of_the_episode_time_over_the_period(self):
        frame = gait_phase(inputs(t=0.2), period=0.8)
        np.testing.assert_allclose(frame, [[1.0, 0.0], [1.0, 0.0]], atol=1e-12)
        frame = gait_phase(inputs(t=0.0), period=0.8, offset=0.5)
        np.testing.assert_allclose(frame[0], [0.0, -1.0], atol=1e-12)

    def test_base_quat_is_unit_in_the_order_asked_and_unique_when_asked(self):
        quat = np.array([[-2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 3.0]])
        inp = inputs(base_quat=quat)
        np.testing.assert_allclose(base_quat(inp), [[-1, 0, 0, 0], [0, 0, 0, 1]])
        np.testing.assert_allclose(base_quat(inp, order="xyzw", unique=True), [[0, 0, 0, 1], [0, 0, 1, 0]])

    def test_a_term_without_its_input_names_what_is_missing(self):
        with pytest.raises(Sim2RealError, match="base linear velocity"):
            build_observation([ObservationTerm("base_lin_vel", 3)], inputs())


class TestLayout:
    def test_clip_comes_before_the_scale_and_scales_are_per_value(self):
        term = ObservationTerm("joint_pos", 2, scale=(2.0, -1.0), clip=(0.5, 1.5))
        out = build_observation([term], inputs())
        np.testing.assert_allclose(out, [[1.0, -1.0], [3.0, -1.5]])

    def test_history_is_oldest_first_and_a_reset_refills_it_with_the_next_frame(self):
        layout = [ObservationTerm("joint_vel", 2, 1.0, history=3), ObservationTerm("last_action", 1, 1.0)]
        history = ObservationHistory(layout, 2)
        frames = []
        for k in range(4):
            frames.append(
                build_observation(layout, inputs(joint_vel=np.full((2, 2), float(k))), history=history)
            )
        assert frames[0][0].tolist() == [0, 0, 0, 0, 0, 0, 0]
        assert frames[3][0].tolist() == [1, 1, 2, 2, 3, 3, 0]
        history.reset(np.array([1]))
        after = build_observation(layout, inputs(joint_vel=np.full((2, 2), 9.0)), history=history)
        assert after[0].tolist() == [2, 2, 3, 3, 9, 9, 0] and after[1].tolist() == [9, 9, 9, 9, 9, 9, 0]

    def test_without_a_history_the_frame_is_repeated(self):
        out = build_observation([ObservationTerm("joint_vel", 2, 0.5, history=2)], inputs())
        assert out[0].tolist() == [0.5] * 4

    def test_parameters_are_checked(self):
        with pytest.raises(Sim2RealError, match="needs the parameter 'period'"):
            build_observation([ObservationTerm("gait_phase", 2)], inputs())
        assert math.isclose(
            build_observation([ObservationTerm("gait_phase", 2, params={"period": 1.0})], inputs())[0, 1], 1.0
        )
