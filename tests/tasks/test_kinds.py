"""Task kinds: the spec's `task:` section checked against the kind's config; robot facts from the spec."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim2real.envs.core import TaskEnv
from sim2real.errors import Sim2RealError, SpecError
from sim2real.robots import DATA_DIR, load_robot, load_spec
from sim2real.tasks import get_task, kind_config, task_for
from sim2real.tasks.locomotion import LocomotionConfig


def _variant(tmp_path: Path, robot: str, mutate) -> Path:
    """A copy of an embedded robot with its YAML mutated."""
    shutil.copy(DATA_DIR / f"{robot}.xml", tmp_path / f"{robot}.xml")
    raw = yaml.safe_load((DATA_DIR / f"{robot}.yaml").read_text())
    mutate(raw)
    path = tmp_path / f"{robot}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


class TestTaskSection:
    def test_unknown_key_is_one_clear_error_listing_the_allowed_keys(self, tmp_path):
        path = _variant(tmp_path, "quadruped", lambda raw: raw["task"].update(episode_seconds=10))
        with pytest.raises(SpecError, match=r"quadruped\.yaml: task: unknown key\(s\) episode_seconds; allowed: .*episode_s"):
            get_task(load_spec(path))

    def test_nested_keys_are_checked_too(self, tmp_path):
        path = _variant(tmp_path, "quadruped", lambda raw: raw["task"].update(weights={"track_speed": 1.0}))
        with pytest.raises(SpecError, match=r"task\.weights: unknown key\(s\) track_speed"):
            get_task(load_spec(path))

    def test_wrong_type_names_the_key(self, tmp_path):
        path = _variant(tmp_path, "pendulum", lambda raw: raw["task"].update(episode_s="long"))
        with pytest.raises(SpecError, match=r"task\.episode_s must be a number, got 'long'"):
            get_task(load_spec(path))

    def test_unknown_kind(self, tmp_path):
        path = _variant(tmp_path, "pendulum", lambda raw: raw.update(task={"kind": "juggling"}))
        with pytest.raises(SpecError, match=r"task kind 'juggling' is unknown \(kinds: locomotion, swing_up\)"):
            get_task(load_spec(path))

    def test_robot_without_task(self, tmp_path):
        path = _variant(tmp_path, "pendulum", lambda raw: raw.pop("task"))
        with pytest.raises(Sim2RealError, match="has no task: add a 'task:' section"):
            get_task(load_spec(path))

    def test_parameters_override_the_kinds_defaults(self, tmp_path):
        def faster(raw: dict) -> None:
            raw["task"].update(episode_s=5.0, commands={"vx": [0.0, 2.0]}, weights={"feet_air_time": 0.0})

        spec = load_spec(_variant(tmp_path, "quadruped", faster))
        cfg = kind_config(spec)
        assert cfg == dataclasses.replace(
            LocomotionConfig(),
            episode_s=5.0,
            commands=dataclasses.replace(LocomotionConfig().commands, vx=(0.0, 2.0)),
            weights=dataclasses.replace(LocomotionConfig().weights, feet_air_time=0.0),
        )
        task = task_for(spec)
        assert task.episode_s == 5.0 and "feet_air_time" not in task.rewards

    def test_the_robots_name_is_only_a_name(self, tmp_path):
        spec = load_spec(_variant(tmp_path, "quadruped", lambda raw: raw.update(name="go2")))
        task = get_task(spec)
        assert (task.name, task.kind) == ("go2", "locomotion")


class TestRobotFactsComeFromTheSpec:
    def test_locomotion_terminations_are_the_safety_limits(self, tmp_path):
        def stricter(raw: dict) -> None:
            raw["safety"].update(tilt=0.6, base_height=[0.2, 0.6])

        task = get_task(load_spec(_variant(tmp_path, "quadruped", stricter)))
        assert dict(task.terminations["tilted"].params) == {"max_tilt": 0.6}
        assert dict(task.terminations["base_low"].params) == {"height": 0.2}

    def test_action_scale_per_joint_reaches_the_commands(self, tmp_path):
        scales = {j: 0.1 * (i + 1) for i, j in enumerate(load_robot("quadruped").joints)}
        spec = load_spec(_variant(tmp_path, "quadruped", lambda raw: raw["action"].update(scale=scales)))
        env = TaskEnv(spec, get_task(spec), 1, seed=0, nthread=1)
        command = env.action_to_command(np.ones((1, 12)))
        np.testing.assert_allclose(command[0] - spec.default_pose, list(scales.values()))

    def test_swing_up_limit_is_the_safety_range_less_the_margin(self):
        task = get_task("furuta")
        assert dict(task.terminations["arm_limit"].params) == {"joint": "arm", "low": -2.3, "high": 2.3}

    def test_reset_starts_at_the_specs_base_height_without_a_drop(self):
        spec = load_robot("quadruped")
        env = TaskEnv(spec, get_task(spec), 2, seed=0, nthread=1)
        assert env.base_height == pytest.approx([spec.initial_base.pos[2]] * 2)

    def test_base_found_from_its_free_joint_not_qpos_address_zero(self, tmp_path):
        # a free-floating box declared before the robot moves the robot's free joint to qpos 7
        xml = (DATA_DIR / "quadruped.xml").read_text().replace(
            "<worldbody>",
            '<worldbody><body name="crate" pos="2 0 0.2"><freejoint/><geom type="box" size="0.1 0.1 0.1" mass="1"/></body>',
            1,
        )
        (tmp_path / "quadruped.xml").write_text(xml)
        shutil.copy(DATA_DIR / "quadruped.yaml", tmp_path / "quadruped.yaml")
        spec = load_spec(tmp_path / "quadruped.yaml")
        env = TaskEnv(spec, get_task(spec), 1, seed=0, nthread=1)
        assert env.sim.base_qpos_adr == 7
        assert env.base_height == pytest.approx([0.34])
        reference = TaskEnv(load_robot("quadruped"), get_task("quadruped"), 1, seed=0, nthread=1)
        np.testing.assert_allclose(env.projected_gravity, reference.projected_gravity, atol=1e-12)


class TestResetStanding:
    def test_the_scaled_default_pose_stays_within_the_safety_limits(self):
        """G1's thumb sits near its limit: scaled by up to 1.1 it started past it, and every run
        stopped at t = 0.  Within the limits nothing changes (the embedded quadruped's resets)."""
        from types import SimpleNamespace

        from sim2real.tasks.locomotion import reset_standing

        spec = load_robot("quadruped")
        near = dataclasses.replace(spec.safety, position_low=np.asarray(spec.default_pose) - 0.01)
        tight = SimpleNamespace(spec=dataclasses.replace(spec, safety=near))
        reset = reset_standing(0.1)
        q, qd = reset(tight, np.arange(256), np.random.default_rng(0))
        assert np.all(q >= near.position_low - 1e-12) and np.all(qd == 0.0)
        free, _ = reset(SimpleNamespace(spec=spec), np.arange(256), np.random.default_rng(0))
        unclipped = np.asarray(spec.default_pose) * np.random.default_rng(0).uniform(0.9, 1.1, (256, spec.n_joints))
        np.testing.assert_array_equal(free, unclipped)
