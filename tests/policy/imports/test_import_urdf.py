"""`sim2real import` onto a vendor URDF: a walking policy gets its robot a floating base.

A URDF's root link is fixed to the world unless ``robot init --floating-base`` frees it; an import
of a legged_gym policy onto pybullet's ``a1.urdf`` stopped with "robot.yaml: observation term
'base_lin_vel' needs a floating base (base_body)", of a spec the user never wrote.
"""

from __future__ import annotations

import pytest
from foreign_fixtures import legged_gym_config

from sim2real.policy.imports.legged_gym import import_legged_gym
from sim2real.policy.metadata import read_metadata
from urdf_testdata import quadruped_urdf

torch = pytest.importorskip("torch", reason="importing TorchScript policies needs the train extra (torch)")

N_JOINTS = 8
"""The test quadruped's joints (a hip and a knee per leg)."""


def _scripted(tmp_path, n_obs: int):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(n_obs, 16), torch.nn.ELU(), torch.nn.Linear(16, N_JOINTS))
    path = tmp_path / "policy.pt"
    torch.jit.script(net).save(str(path))
    return path


def _config(tmp_path, n_obs: int):
    return legged_gym_config(
        tmp_path,
        num_actions=N_JOINTS,
        num_obs=n_obs,
        kps=[25.0] * N_JOINTS,
        kds=[0.5] * N_JOINTS,
        default_angles=[0.6, -1.2] * 4,
    )


class TestLeggedPolicyOntoAUrdf:
    def test_a_policy_that_observes_its_base_frees_the_urdfs_root(self, tmp_path):
        n_obs = 3 * N_JOINTS + 12  # base linear velocity first (legged_gym's quadruped layout)
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        result = import_legged_gym(
            _scripted(tmp_path, n_obs), _config(tmp_path, n_obs), urdf, tmp_path / "out"
        )
        spec = result.spec
        assert spec.floating_base and spec.base_body == "base"
        assert spec.observation[0].name == "base_lin_vel"
        said = [
            a for a in read_metadata(result.policy).imported["assumptions"] if a.startswith("floating base")
        ]
        assert len(said) == 1 and "dog.urdf" in said[0] and "base_lin_vel" in said[0]

    def test_a_policy_of_joints_alone_leaves_the_root_fixed(self, tmp_path):
        """An arm's policy (no base term) is imported on the URDF as it is: fixed to the world."""
        from sim2real.policy.imports import common

        urdf = quadruped_urdf(tmp_path / "dog.urdf")

        class Term:
            def __init__(self, name):
                self.name = name

        class Policy:
            observation = (Term("joint_pos_rel"), Term("joint_vel"), Term("last_action"))
            assumptions = ()

        policy, floating = common._urdf_base(Policy(), urdf)
        assert not floating and policy.assumptions == ()
        _, floating = common._urdf_base(Policy(), tmp_path / "scene.xml")  # not a file: robot init says so
        assert not floating
