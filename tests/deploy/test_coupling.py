"""Joint couplings (a URDF's mimic joints) as forces the collision observer explains."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.deploy.coupling import coupling_column, joint_couplings
from sim2real.deploy.faults import check_quiet
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_robot_model
from urdf_testdata import quadruped_urdf


@pytest.fixture(scope="module")
def gripper_dog(tmp_path_factory):
    """A quadruped with a gripper whose jaw2 follows jaw x 2 (a <mimic>)."""
    folder = tmp_path_factory.mktemp("coupled")
    urdf = quadruped_urdf(folder / "dog.urdf", gripper=True)
    spec, _ = init_robot(urdf, folder / "out" / "robot.yaml", InitOptions(kp=30.0, kd=1.0, floating_base=True))
    return spec


class TestCouplings:
    def test_the_mimic_constraint_is_a_direction_of_force(self, gripper_dog):
        model = build_robot_model(gripper_dog)
        (coupling,) = joint_couplings(model)
        column = coupling_column(model.nv, coupling, model.qpos0)
        jaw, jaw2 = (int(model.jnt_dofadr[model.joint(n).id]) for n in ("jaw", "jaw2"))
        assert coupling.dof1 == jaw2 and column[jaw2, 0] == 1.0 and column[jaw, 0] == pytest.approx(-2.0)
        assert np.count_nonzero(column) == 2

    def test_a_standing_robot_with_a_coupled_gripper_raises_no_collision(self, gripper_dog):
        """The torque that keeps jaw2 with jaw was an unexplained external torque on both (H1-2's
        thumbs: every quiet run held on a 'collision' at the followers)."""
        check_quiet(gripper_dog)  # raises on any hold or stop with nothing injected
