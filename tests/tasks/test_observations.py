"""Observation terms and layouts: history (oldest first, refilled at reset), clip, per-value scale,
term parameters, the terms policies from elsewhere observe (the base's Euler angles against scipy
and MuJoCo), and whole frames stacked (oldest first, zeros after a reset)."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sim2real.errors import Sim2RealError
from sim2real.robots.spec import ObservationTerm
from sim2real.tasks.observations import (
    ObservationHistory,
    ObsInputs,
    base_euler,
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


def wrapped(angles: np.ndarray) -> np.ndarray:
    """humanoid-gym's wrap of isaacgym's angles: mod 2 pi, then those above pi less 2 pi."""
    out = np.mod(angles, 2.0 * np.pi)
    return np.where(out > np.pi, out - 2.0 * np.pi, out)


class TestBaseEuler:
    def test_roll_pitch_yaw_are_scipys_extrinsic_xyz_angles_wrapped(self):
        rng = np.random.default_rng(3)
        quat = rng.normal(size=(500, 4))  # w, x, y, z; not unit: the term normalizes
        angles = base_euler(inputs(n=500, base_quat=quat))
        expected = Rotation.from_quat(quat[:, [1, 2, 3, 0]]).as_euler("xyz")
        difference = np.angle(np.exp(1j * (angles - expected)))  # equal modulo 2 pi
        np.testing.assert_allclose(difference, 0.0, atol=1e-9)
        np.testing.assert_allclose(angles, wrapped(expected), atol=1e-9)
        assert np.all(angles > -np.pi) and np.all(angles <= np.pi)
        assert np.all(np.abs(angles[:, 1]) <= np.pi / 2)

    def test_the_angles_rebuild_mujocos_rotation_matrix(self):
        rng = np.random.default_rng(4)
        for quat in rng.normal(size=(50, 4)):
            roll, pitch, yaw = base_euler(inputs(n=1, base_quat=quat[None]))[0]
            matrix = np.zeros(9)
            mujoco.mju_quat2Mat(matrix, quat / np.linalg.norm(quat))
            rz, ry, rx = (Rotation.from_euler(a, v).as_matrix() for a, v in (("z", yaw), ("y", pitch), ("x", roll)))
            np.testing.assert_allclose(rz @ ry @ rx, matrix.reshape(3, 3), atol=1e-9)

    def test_a_half_turn_is_plus_pi_whatever_the_sign_of_zero(self):
        # w = -0 and x = -0: atan2(-0.0, -1) is -pi, which humanoid-gym's wrap makes +pi
        half_turn = np.array([[-0.0, -0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, -0.0]])
        angles = base_euler(inputs(n=3, base_quat=half_turn))
        np.testing.assert_array_equal(angles[:2], [[0.0, 0.0, np.pi], [0.0, 0.0, np.pi]])
        assert angles[2, 0] == np.pi  # a roll of a half turn
        assert np.arctan2(-0.0, -1.0) == -np.pi  # what the unwrapped angle would have been

    def test_the_yaw_is_the_heading(self):
        quat = Rotation.from_euler("z", [[0.0], [0.5], [-2.5]]).as_quat()[:, [3, 0, 1, 2]]
        np.testing.assert_allclose(base_euler(inputs(n=3, base_quat=quat))[:, 2], [0.0, 0.5, -2.5], atol=1e-12)


class TestFrameStack:
    LAYOUT = (ObservationTerm("joint_vel", 2, 2.0), ObservationTerm("joint_pos", 2, 1.0, history=2))
    """One frame: joint_vel (2) then joint_pos with a history of 2 (4): 6 values."""

    def frame(self, k: int, env: int = 0) -> list[float]:
        """The frame step k gives simulation ``env`` (joint_vel = k + env, joint_pos = 10 k + env)."""
        return [2.0 * (k + env)] * 2 + [10.0 * (k - 1) + env] * 2 + [10.0 * k + env] * 2

    def step(self, history: ObservationHistory, k: int) -> np.ndarray:
        env = np.arange(2.0)[:, None]
        inp = inputs(joint_vel=np.full((2, 2), k) + env, joint_pos=np.full((2, 2), 10.0 * k) + env)
        return build_observation(self.LAYOUT, inp, history=history)

    def test_frames_are_oldest_first_with_zeros_before_the_first(self):
        history = ObservationHistory(self.LAYOUT, 2, frames=3)
        first = self.step(history, 0)
        assert first.shape == (2, 18)
        # the first frame's joint_pos history holds its first frame twice (per-term history)
        np.testing.assert_array_equal(first[0], [0.0] * 12 + [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        self.step(history, 1)
        third = self.step(history, 2)
        zero_history = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        np.testing.assert_array_equal(third[0], zero_history + self.frame(1) + self.frame(2))
        fourth = self.step(history, 3)
        np.testing.assert_array_equal(fourth[1], self.frame(1, 1) + self.frame(2, 1) + self.frame(3, 1))

    def test_a_reset_zeroes_the_frames_of_the_simulations_reset_only(self):
        history = ObservationHistory(self.LAYOUT, 2, frames=3)
        for k in range(4):
            self.step(history, k)
        history.reset(np.array([1]))
        obs = self.step(history, 4)
        np.testing.assert_array_equal(obs[0], self.frame(2) + self.frame(3) + self.frame(4))
        refilled = [2.0 * 5] * 2 + [41.0] * 4  # its joint_pos history refilled with its first frame
        np.testing.assert_array_equal(obs[1], [0.0] * 12 + refilled)

    def test_without_a_history_the_frames_before_the_current_are_zeros(self):
        obs = build_observation(self.LAYOUT, inputs(), frames=3)
        assert obs.shape == (2, 18)
        np.testing.assert_array_equal(obs[:, :12], 0.0)
        np.testing.assert_array_equal(obs[:, 12:], build_observation(self.LAYOUT, inputs()))

    def test_a_count_of_frames_that_is_not_the_historys_is_an_error(self):
        with pytest.raises(Sim2RealError, match="stacks 2 frames, its history 3"):
            build_observation(self.LAYOUT, inputs(), history=ObservationHistory(self.LAYOUT, 2, frames=3), frames=2)
        with pytest.raises(Sim2RealError, match="frame_stack must be a positive number"):
            ObservationHistory(self.LAYOUT, 2, frames=0)
