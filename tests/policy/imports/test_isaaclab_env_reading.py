"""`sim2real import isaaclab` of an Isaac Lab ``params/env.yaml``: which joints its joint terms
observe (the action's or the whole articulation's) is chosen by reading the file for each choice
at most once, and the chosen reading's facts and assumptions are the ones imported."""

from __future__ import annotations

import pytest
from foreign_fixtures import isaaclab_env_yaml
from test_isaaclab_humanoid import legs_only_env_yaml, tiny_isaac_onnx

import sim2real.policy.imports.isaaclab as isaaclab
from sim2real.errors import PolicyError
from sim2real.robots import DATA_DIR, load_robot

MODEL = DATA_DIR / "quadruped.xml"
PER_JOINT_SCALE = "      scale: !!python/tuple " + str([0.05] * 12)


@pytest.fixture
def reads(monkeypatch):
    """The observed joints of each reading of the env.yaml (None: the action's joints)."""
    seen: list[list[str] | None] = []
    deploy_from_env = isaaclab.deploy_from_env

    def counting(*args, observed=None, **kwargs):
        seen.append(None if observed is None else list(observed))
        return deploy_from_env(*args, observed=observed, **kwargs)

    monkeypatch.setattr(isaaclab, "deploy_from_env", counting)
    return seen


def per_joint_scale_legs_only(tmp_path):
    """The legs-only env.yaml with Isaac Lab's per-joint velocity scale over all 12 joints (which
    does not fit the action's 8)."""
    env = legs_only_env_yaml(tmp_path)
    env.write_text(env.read_text().replace("      scale: 0.05", PER_JOINT_SCALE))
    return env


def imported(tmp_path, env, n_obs, n_act):
    onnx_path = tiny_isaac_onnx(tmp_path / "exported" / "policy.onnx", n_obs, n_act)
    return isaaclab.import_isaaclab(onnx_path, env, MODEL, tmp_path / "out")


class TestEachReadingOnce:
    def test_an_action_over_every_joint_is_read_once(self, tmp_path, reads):
        env = isaaclab_env_yaml(load_robot("quadruped"), tmp_path / "params" / "env.yaml", history=1)
        result = imported(tmp_path, env, 3 + 3 + 3 + 12 + 12 + 12, 12)
        assert reads == [None] and not result.spec.held

    def test_a_subset_action_observing_its_own_joints_is_read_once(self, tmp_path, reads):
        result = imported(tmp_path, legs_only_env_yaml(tmp_path), 3 + 3 + 3 + 8 + 8 + 8, 8)
        assert reads == [None] and len(result.spec.joints) == 8

    @pytest.mark.parametrize("make", [legs_only_env_yaml, per_joint_scale_legs_only])
    def test_a_subset_action_observing_every_joint_reads_each_choice_once(self, tmp_path, reads, make):
        result = imported(tmp_path, make(tmp_path), 3 + 3 + 3 + 12 + 12 + 8, 8)
        articulation = list(result.spec.joints)
        assert reads == [None, articulation] and len(result.spec.held) == 4
        assumptions = result.metadata.imported["assumptions"]
        assert len(assumptions) == len(set(assumptions))  # the chosen reading's, once each

    def test_neither_reading_fitting_says_what_reading_the_actions_joints_found(self, tmp_path, reads):
        env = per_joint_scale_legs_only(tmp_path)
        with pytest.raises(PolicyError, match="has 12 scales") as error:
            imported(tmp_path, env, 3 + 3 + 3 + 12 + 12 + 8 + 1, 8)
        assert len(reads) == 2 and reads[0] is None
        assert "\n" not in str(error.value)
