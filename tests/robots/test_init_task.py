"""The task ``robot init`` infers: swing-up of a passive pole whose hanging angle the driven joints
cannot change (a cart-pole, a Furuta pendulum), nothing where they can or the pole cannot swing."""

from __future__ import annotations

import math

import mujoco
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, infer_spec
from sim2real.robots.init_task import infer_task

CARTPOLE = """<mujoco><compiler angle="radian"/><worldbody>
  <body name="cart" pos="0 0 1"><joint name="slider" type="slide" axis="1 0 0" range="-1.5 1.5"/>
    <geom type="box" size="0.1 0.05 0.05" mass="1"/>
    <body name="pole"><joint name="hinge" axis="0 1 0" {range}/>
      <geom type="capsule" fromto="0 0 0 0 0 0.5" size="0.02" mass="0.2"/></body></body>
</worldbody><actuator><motor joint="slider" gear="20" ctrlrange="-1 1"/></actuator></mujoco>"""
"""A cart-pole, the pole pointing up at angle 0."""

PENDUBOT = """<mujoco><compiler angle="radian"/><worldbody>
  <body name="upper" pos="0 0 2"><joint name="shoulder" axis="0 1 0"/>
    <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.03" mass="1"/>
    <body name="lower" pos="0 0 -0.5"><joint name="elbow" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.03" mass="1"/></body></body>
</worldbody><actuator><motor joint="shoulder" gear="4" ctrlrange="-1 1"/></actuator></mujoco>"""
"""A pendubot: the shoulder driven, the elbow passive (where its pole hangs, the shoulder decides)."""


def _infer(xml: str, actuated: list[str]):
    model = mujoco.MjModel.from_xml_string(xml)
    joints = [model.joint(j).name for j in range(model.njnt)]
    return infer_task(model, list(range(model.njnt)), joints, actuated, False, [], model.qpos0.copy())


class TestSwingUp:
    def test_a_cart_poles_pole_hangs_half_a_turn_from_its_upright_zero(self):
        task, line = _infer(CARTPOLE.format(range=""), ["slider"])
        assert task["kind"] == "swing_up" and task["joint"] == "hinge" and task["centre"] == ["slider"]
        assert abs(task["hanging"]) == pytest.approx(math.pi, abs=0.04) and task["upright"] == pytest.approx(0.0, abs=0.04)
        assert "swing_up of the passive joint hinge" in line

    def test_a_limited_pole_that_cannot_reach_hanging_is_no_swing_up(self):
        task, line = _infer(CARTPOLE.format(range='range="-1.57 1.57"'), ["slider"])
        assert task is None and "does not reach both hanging and upright" in line

    def test_a_pole_whose_hanging_angle_the_driven_joint_decides_gets_no_task(self):
        task, line = _infer(PENDUBOT, ["shoulder"])
        assert task is None and "depends on the driven joints" in line

    def test_lowest_is_along_the_models_gravity(self):
        sideways = CARTPOLE.format(range="").replace("<worldbody>", '<option gravity="9.81 0 0"/><worldbody>', 1)
        task, _ = _infer(sideways, ["slider"])  # gravity along +x: the pole (up at 0) hangs at +pi/2
        assert task["hanging"] == pytest.approx(math.pi / 2, abs=0.04)
        weightless = CARTPOLE.format(range="").replace("<worldbody>", '<option gravity="0 0 0"/><worldbody>', 1)
        assert _infer(weightless, ["slider"])[0] is None

    def test_two_passive_joints_or_none_get_no_task(self):
        assert _infer(PENDUBOT, [])[0] is None
        assert _infer(CARTPOLE.format(range=""), ["slider", "hinge"])[0] is None


class TestLocomotion:
    def test_a_floating_base_with_feet_walks_and_one_without_gets_no_task(self):
        model = mujoco.MjModel.from_xml_string(CARTPOLE.format(range=""))
        task, _ = infer_task(model, [0, 1], ["slider", "hinge"], ["slider"], True, ["pole"], model.qpos0)
        assert task == {"kind": "locomotion"}
        task, line = infer_task(model, [0, 1], ["slider", "hinge"], ["slider"], True, [], model.qpos0)
        assert task is None and "without feet" in line

    def test_a_planar_robot_is_named_as_such(self):
        # dm_control's walker: its torso slides (rootz, rootx) and turns (rooty) on joints of its own
        xml = """<mujoco><worldbody><geom type="plane" size="5 5 0.1"/><body name="torso" pos="0 0 1">
          <joint name="rootz" type="slide" axis="0 0 1"/><joint name="rootx" type="slide" axis="1 0 0"/>
          <joint name="rooty" axis="0 1 0"/><geom type="capsule" fromto="0 0 -0.3 0 0 0.3" size="0.05"/>
          <body name="thigh" pos="0 0 -0.3"><joint name="hip" axis="0 1 0"/>
          <geom type="capsule" fromto="0 0 0 0 0 -0.4" size="0.04"/></body></body></worldbody></mujoco>"""
        model = mujoco.MjModel.from_xml_string(xml)
        names = ["rootz", "rootx", "rooty", "hip"]
        task, line = infer_task(model, [0, 1, 2, 3], names, ["hip"], False, [], model.qpos0)
        assert task is None and "planar" in line and "rootz, rootx, rooty" in line
        # its root driven (a carriage on a rail, an arm's turntable): no planar walker
        _, line = infer_task(model, [0, 1, 2, 3], names, ["rootx", "hip"], False, [], model.qpos0)
        assert "planar" not in line
        # a cart-pole's cart only slides: still a pole to swing up
        assert _infer(CARTPOLE.format(range=""), ["slider"])[0]["kind"] == "swing_up"


PLANAR = """<mujoco model="hop"><compiler angle="radian"/><worldbody>
  <geom name="floor" type="plane" size="5 5 0.1"/>
  <body name="torso" pos="0 0 1">
    <joint name="rootx" type="slide" axis="1 0 0"/><joint name="rootz" type="slide" axis="0 0 1"/>
    <joint name="rooty" axis="0 1 0"/>
    <geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.05" mass="3"/>
    <body name="leg"><joint name="hip" axis="0 1 0" range="-1 1"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.9" size="0.04" mass="1"/></body></body>
</worldbody><actuator><motor name="hip" joint="hip" ctrlrange="-10 10"/></actuator></mujoco>"""
"""A planar hopper: its root slides and turns on rootx, rootz, rooty; only the hip has a motor."""


class TestPlanarRoot:
    def _write(self, tmp_path):
        path = tmp_path / "hop.xml"
        path.write_text(PLANAR)
        return path

    def test_one_gain_for_every_joint_leaves_the_root_passive(self, tmp_path):
        result = infer_spec(self._write(tmp_path), tmp_path, InitOptions(kp=50.0, kd=1.0, torque_limit=100.0))
        assert list(result.spec["actuators"]) == ["hip"]
        assert result.spec["joints"] == ["rootx", "rootz", "rooty", "hip"]  # measured
        assert any("planar root joints (rootx, rootz, rooty)" in line for line in result.inferred)

    def test_a_torque_pattern_matching_the_root_drives_the_motors_only(self, tmp_path):
        result = infer_spec(self._write(tmp_path), tmp_path, InitOptions(torque=".*", torque_limit=100.0))
        assert list(result.spec["actuators"]) == ["hip"] and result.spec["actuators"]["hip"]["model"] == "torque"

    def test_naming_a_root_joint_is_one_clear_error(self, tmp_path):
        with pytest.raises(SpecError, match=r"rootz: the root joints of a planar robot .* may not drive them"):
            infer_spec(self._write(tmp_path), tmp_path, InitOptions(kp={"rootz": 10.0, "hip": 10.0}, kd=1.0, torque_limit=100.0))

    def test_the_roots_safety_limits_are_a_floating_bases_not_a_motors(self, tmp_path):
        # they were a motor's: rootx and rootz +-0.5 m at 1 m/s (a walker stopped after half a metre), rooty +-4 pi
        from sim2real.robots.init_task import ROOT_SPEED, ROOT_TILT, ROOT_TRAVEL

        result = infer_spec(self._write(tmp_path), tmp_path, InitOptions())
        position, speed = result.spec["safety"]["joint_position"], result.spec["safety"]["joint_velocity"]
        assert position["rooty"] == pytest.approx([-ROOT_TILT, ROOT_TILT])
        assert position["rootx"] == pytest.approx([-ROOT_TRAVEL, ROOT_TRAVEL])
        # the torso's origin stands 1 m above the floor: 50 % to 200 % + 0.1 m of it, as base_height
        assert position["rootz"] == pytest.approx([-0.5, 1.1])
        assert speed["rootx"] == speed["rootz"] == ROOT_SPEED
        assert any(line.startswith("the planar root's safety limits are a floating base's") for line in result.check)
        assert not any("without a range" in line and "root" in line for line in result.check)

    def test_a_root_hinge_about_the_vertical_is_a_heading_not_a_tilt(self, tmp_path):
        """Gymnasium's swimmer turns in a level plane on ``free_body_rot`` (axis 0 0 1): it was limited to
        +-1 rad as a tilt, and a swimmer that turned by 1 rad was safe-stopped."""
        from sim2real.robots.init_task import ROOT_HEADING, ROOT_TILT

        path = tmp_path / "swim.xml"
        path.write_text(
            PLANAR.replace('name="rootz" type="slide" axis="0 0 1"', 'name="rooty" type="slide" axis="0 1 0"', 1)
            .replace('<joint name="rooty" axis="0 1 0"/>', '<joint name="rot" axis="0 0 1"/>')
        )
        result = infer_spec(path, tmp_path, InitOptions())
        position = result.spec["safety"]["joint_position"]
        assert position["rot"] == pytest.approx([-ROOT_HEADING, ROOT_HEADING]) and ROOT_HEADING > 4 * ROOT_TILT
        assert any("rot within 4 pi (heading" in line for line in result.check)

    def test_a_downward_vertical_slide_gets_its_height_band_the_right_way_round(self, tmp_path):
        """rootz with axis 0 0 -1: q grows downwards.  It got the upward axis's [-0.5, 1.1], so q = 1.1
        (the torso 0.1 m below the floor) passed and the low-height limit could never bind."""
        path = tmp_path / "down.xml"
        path.write_text(PLANAR.replace('name="rootz" type="slide" axis="0 0 1"', 'name="rootz" type="slide" axis="0 0 -1"'))
        position = infer_spec(path, tmp_path, InitOptions()).spec["safety"]["joint_position"]
        assert position["rootz"] == pytest.approx([-1.1, 0.5])
