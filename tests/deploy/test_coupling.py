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


FOURBAR = """<mujoco model="fourbar">
  <compiler angle="radian"/>
  <worldbody>
    <geom name="floor" type="plane" size="2 2 0.1"/>
    <body name="crank" pos="0 0 1"><joint name="crank" axis="0 1 0" range="-1.4 1.4" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/>
      <body name="coupler" pos="0.2 0 0"><joint name="coupler" axis="0 1 0" damping="0.01"/>
        <geom type="capsule" fromto="0 0 0 0.2 0 -0.4" size="0.02" mass="0.3"/></body></body>
    <body name="rocker" pos="0.4 0 1"><joint name="rocker" axis="0 1 0" damping="0.01"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.4" size="0.02" mass="0.3"/></body>
  </worldbody>
  <equality><connect body1="coupler" body2="rocker" anchor="0.2 0 -0.4"/></equality>
  <actuator><motor name="crank_motor" joint="crank" ctrlrange="-1 1" gear="5"/></actuator>
</mujoco>
"""
"""A four-bar linkage closed by a connect constraint: the motor drives the crank, coupler and
rocker follow (passive, measured)."""


@pytest.fixture(scope="module")
def fourbar(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fourbar")
    (folder / "fourbar.xml").write_text(FOURBAR)
    spec, _ = init_robot(folder / "fourbar.xml", folder / "robot.yaml", InitOptions())
    return spec


class TestClosedChains:
    def test_a_connect_constraint_is_three_directions_of_force_at_its_anchor(self, fourbar):
        import mujoco

        from sim2real.deploy.coupling import chain_columns, chain_constraints

        model = build_robot_model(fourbar)
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        (column,) = chain_columns(model, data, chain_constraints(model))
        assert column.shape == (model.nv, 3)
        # a force along x at the rocker's tip (0.4 below its hinge) turns it by -0.4 x F about y
        rocker = int(model.jnt_dofadr[model.joint("rocker").id])
        assert column[rocker, 0] == pytest.approx(0.4)

    def test_the_linkage_held_closed_is_no_collision_and_a_push_still_is(self, fourbar, tmp_path):
        """The constraint force closing the chain was read as an external torque on all three
        joints: the quiet run held on a 'collision' (Cassie, Oli, Toddlerbot's linkages)."""
        from sim2real.deploy.fault_cases import Collision
        from sim2real.deploy.faults import run_case

        check_quiet(fourbar)
        pushed = run_case(fourbar, Collision)
        assert pushed.detected and pushed.in_time and pushed.passed


def _linkage_dog() -> str:
    """A quadruped whose knees are driven through parallelogram linkages (Cassie's and Oli's kind of
    leg): per leg a hip motor, a crank motor beside it, and a rod from the crank to a horn on the
    shin, closed by a connect constraint; knee and rod joints passive, measured."""
    legs = []
    for name, x, y in (("FL", 0.2, 0.12), ("FR", 0.2, -0.12), ("RL", -0.2, 0.12), ("RR", -0.2, -0.12)):
        light = 'contype="0" conaffinity="0"'
        legs.append(f"""
      <body name="{name}_thigh" pos="{x} {y} 0"><joint name="{name}_hip" axis="0 1 0" range="-1 1" damping="0.1" armature="0.01"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02" mass="0.5"/>
        <body name="{name}_shin" pos="0 0 -0.2"><joint name="{name}_knee" axis="0 1 0" range="-1.5 1.5" damping="0.05"/>
          <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.015" mass="0.2"/>
          <geom type="capsule" fromto="0 0 0 0.05 0 0" size="0.01" mass="0.01" {light}/>
          <body name="{name}_foot" pos="0 0 -0.2"><geom type="sphere" size="0.02" mass="0.05"/></body></body>
        <body name="{name}_crank"><joint name="{name}_crank" axis="0 1 0" range="-1.5 1.5" damping="0.05" armature="0.01"/>
          <geom type="capsule" fromto="0 0 0 0.05 0 0" size="0.01" mass="0.02" {light}/>
          <body name="{name}_rod" pos="0.05 0 0"><joint name="{name}_rod" axis="0 1 0" damping="0.01"/>
            <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.006" mass="0.02" {light}/></body></body></body>""")
    names = ("FL", "FR", "RL", "RR")
    connects = "".join(f'<connect body1="{n}_rod" body2="{n}_shin" anchor="0 0 -0.2"/>' for n in names)
    motors = "".join(
        f'<motor name="{n}_{j}_motor" joint="{n}_{j}" ctrlrange="-1 1" gear="20"/>' for n in names for j in ("hip", "crank")
    )
    return f"""<mujoco model="linkdog"><compiler angle="radian"/>
  <worldbody><geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="trunk" pos="0 0 0.45"><freejoint/><geom type="box" size="0.25 0.12 0.05" mass="6"/>{"".join(legs)}
    </body></worldbody>
  <equality>{connects}</equality><actuator>{motors}</actuator></mujoco>"""


class TestClosedChainLegs:
    def test_a_quadruped_with_linkage_knees_stands_quietly_and_a_push_is_caught(self, tmp_path):
        from sim2real.deploy.fault_cases import Collision
        from sim2real.deploy.faults import run_case

        (tmp_path / "linkdog.xml").write_text(_linkage_dog())
        gains = InitOptions(kp={".*_(hip|crank)": 30.0}, kd={".*_(hip|crank)": 1.0})
        spec, _ = init_robot(tmp_path / "linkdog.xml", tmp_path / "robot.yaml", gains)
        assert len(spec.joints) == 16 and len(spec.actuated_joints) == 8  # knees and rods passive
        check_quiet(spec)
        pushed = run_case(spec, Collision)
        assert pushed.detected and pushed.in_time and pushed.unsafe_commands == 0 and pushed.passed
