"""TaskEnv keeps each simulation's observation history (per term, and whole frames stacked) and maps
actions with the spec's clip and limit."""

from __future__ import annotations

import shutil

import numpy as np
import yaml

from sim2real.envs.core import TaskEnv
from sim2real.robots import DATA_DIR, load_spec
from sim2real.tasks import get_task


def quadruped_variant(tmp_path, edit):
    for name in ("quadruped.xml", "quadruped.yaml"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    raw = yaml.safe_load((tmp_path / "quadruped.yaml").read_text())
    edit(raw)
    (tmp_path / "quadruped.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_spec(tmp_path / "quadruped.yaml")


class TestObservationHistory:
    def test_each_simulation_keeps_its_frames_and_a_reset_refills_them(self, tmp_path):
        def history(raw):
            raw["observation"][4]["history"] = 3  # joint_vel
            raw["observation"].append({"name": "gait_phase", "params": {"period": 0.1}})

        spec = quadruped_variant(tmp_path, history)
        env = TaskEnv(spec, get_task(spec), 2, seed=0, nthread=1)
        obs, _ = env.observe()
        assert obs.shape == (2, spec.n_obs) and spec.n_obs == 45 + 24 + 2
        block = slice(21, 21 + 36)  # joint_vel: 3 frames of 12, oldest first
        frames = obs[:, block].reshape(2, 3, 12)
        np.testing.assert_array_equal(frames[:, 0], frames[:, 2])  # after a reset: the first frame thrice
        np.testing.assert_array_equal(env.observe()[0], obs)  # observing again does not push a frame
        previous = obs
        rng = np.random.default_rng(0)
        for _ in range(2):
            obs = env.step(rng.uniform(-1, 1, (2, 12))).obs
        frames = obs[:, block].reshape(2, 3, 12)
        np.testing.assert_allclose(frames[:, 0], previous[:, block].reshape(2, 3, 12)[:, 2])
        phase = obs[:, -2:]
        angle = np.arctan2(phase[:, 0], phase[:, 1]) % (2 * np.pi)
        np.testing.assert_allclose(angle, 2 * np.pi * ((2 * spec.control_dt / 0.1) % 1.0), atol=1e-9)
        env.reset(np.array([1]))
        obs = env.observe()[0]
        frames = obs[1, block].reshape(3, 12)
        np.testing.assert_array_equal(frames[0], frames[2])
        assert obs[1, -1] == 1.0  # the phase clock restarts with the episode


    def test_stacked_frames_are_zeros_before_the_first_after_each_reset(self, tmp_path):
        def stacked(raw):
            raw["frame_stack"] = 3
            raw["observation"].append({"name": "base_euler"})

        spec = quadruped_variant(tmp_path, stacked)
        width = spec.n_obs // 3
        assert spec.frame_stack == 3 and width == 48
        env = TaskEnv(spec, get_task(spec), 2, seed=0, nthread=1)
        first = env.observe()[0]
        np.testing.assert_array_equal(first[:, : 2 * width], 0.0)
        assert np.abs(first[:, 2 * width :]).max() > 0.0
        obs = env.step(np.zeros((2, 12))).obs
        np.testing.assert_array_equal(obs[:, :width], 0.0)
        np.testing.assert_array_equal(obs[:, width : 2 * width], first[:, 2 * width :])  # oldest first
        env.reset(np.array([1]))
        obs = env.observe()[0]
        np.testing.assert_array_equal(obs[1, : 2 * width], 0.0)
        np.testing.assert_array_equal(obs[0, :width], first[0, 2 * width :])  # not reset: not zeroed


class TestActionMapping:
    def test_clip_bounds_the_command_and_the_limit_bounds_the_action(self, tmp_path):
        def mapping(raw):
            raw["action"] = {"scale": 0.5, "clip": {"FL_thigh": [0.7, 0.9]}, "limit": 2.0}

        spec = quadruped_variant(tmp_path, mapping)
        env = TaskEnv(spec, get_task(spec), 1, seed=0, nthread=1)
        command = env.action_to_command(np.full((1, 12), 1.0))[0]
        assert command[1] == 0.9 and command[0] == 0.5  # FL_thigh clipped; FL_hip: 0 + 0.5 * 1
        env.step(np.full((1, 12), 5.0))
        assert env.action.max() == 2.0  # |a| <= action.limit
