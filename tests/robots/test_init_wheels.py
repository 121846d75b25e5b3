"""``robot init`` refuses wheels (an unlimited hinge turning a foot about its centre) with one line
naming them, and takes an unlimited knee above a point foot for no wheel."""

from __future__ import annotations

import re

import pytest

from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, infer_spec

LEG = """<body name="{n}_leg" pos="{x} {y} 0">
  <joint name="{n}_hip" axis="0 1 0" range="-1 1"/>
  <geom type="capsule" fromto="0 0 0 0 0 -0.15" size="0.02" mass="0.3"/>
  <body name="{n}_foot" pos="0 0 -0.15">
    <joint name="{n}_{last}" axis="0 1 0" {range}/>
    <geom type="{foot}" size="0.05 0.015" {at} mass="0.2"/>{below}
  </body>
</body>"""

ROBOT = """<mujoco model="w"><compiler angle="radian"/><worldbody>
<geom name="floor" type="plane" size="5 5 0.1"/>
<body name="base" pos="0 0 0.4"><freejoint/><geom type="box" size="0.2 0.1 0.04" mass="4"/>
{legs}
</body></worldbody><actuator>{acts}</actuator></mujoco>"""


def _robot(tmp_path, last: str, foot: str, at: str, rng: str = "", below: str = "") -> str:
    corners = (("FL", 0.15, 0.13), ("FR", 0.15, -0.13), ("RL", -0.15, 0.13), ("RR", -0.15, -0.13))
    legs = "\n".join(
        LEG.format(n=n, x=x, y=y, last=last, foot=foot, at=at, range=rng, below=below.format(n=n))
        for n, x, y in corners
    )
    acts = "".join(
        f'<motor name="{n}_{j}" joint="{n}_{j}" ctrlrange="-5 5"/>'
        for n, _, _ in corners
        for j in ("hip", last)
    )
    path = tmp_path / "robot.xml"
    path.write_text(ROBOT.format(legs=legs, acts=acts))
    return str(path)


class TestWheels:
    def test_wheels_are_refused_naming_every_one(self, tmp_path):
        path = _robot(tmp_path, "wheel", "cylinder", 'euler="1.5708 0 0"')
        with pytest.raises(SpecError) as err:
            infer_spec(path, tmp_path, InitOptions())
        message = str(err.value)
        assert "\n" not in message and "no continuous joints" in message
        assert all(f"{n}_wheel" in message for n in ("FL", "FR", "RL", "RR"))
        assert "_hip" not in message
        # the way out it names: the other joints, the wheels locked
        others = re.search(r"--joints '([^']*)'", message).group(1)
        result = infer_spec(path, tmp_path, InitOptions(joints=others))
        assert not any("wheel" in j for j in result.spec["joints"]) and len(result.spec["joints"]) == 4
        assert "locked_joints: {FL_wheel: 0.0, FR_wheel: 0.0, RL_wheel: 0.0, RR_wheel: 0.0}" in message

    def test_a_wheel_given_a_range_is_a_joint_like_any(self, tmp_path):
        path = _robot(tmp_path, "wheel", "cylinder", 'euler="1.5708 0 0"', rng='range="-3 3"')
        result = infer_spec(path, tmp_path, InitOptions())
        assert "FL_wheel" in result.spec["joints"]

    def test_a_wheel_with_a_range_wider_than_a_turn_is_still_a_wheel(self, tmp_path):
        """range="-10000 10000" kept it out of the test: its safety limits +-9999.95 rad never bind."""
        path = _robot(tmp_path, "wheel", "cylinder", 'euler="1.5708 0 0"', rng='range="-10000 10000"')
        with pytest.raises(SpecError, match="FL_wheel"):
            infer_spec(path, tmp_path, InitOptions())

    def test_an_unlimited_knee_above_a_point_foot_is_no_wheel(self, tmp_path):
        path = _robot(tmp_path, "knee", "sphere", 'pos="0 0 -0.1"')
        result = infer_spec(path, tmp_path, InitOptions())
        assert set(result.spec["feet"]) == {"FL_foot", "FR_foot", "RL_foot", "RR_foot"}
        assert (
            result.spec["safety"]["joint_position"]["FL_knee"][1]
            - result.spec["safety"]["joint_position"]["FL_knee"][0]
            > 6
        )

    def test_a_housing_that_carries_a_jointed_link_is_no_wheel(self, tmp_path):
        """pybullet's Minitaur in its zero pose rests on its motor housings, which turn on continuous
        joints about their own axes but carry the legs: they were taken for wheels."""
        link = '<body name="{n}_link" pos="0 0 0.03"><joint name="{n}_flap" axis="1 0 0" range="-1 1"/><geom size="0.01" mass="0.05"/></body>'
        path = _robot(tmp_path, "housing", "cylinder", 'euler="1.5708 0 0"', below=link)
        result = infer_spec(path, tmp_path, InitOptions(kp=10.0, kd=0.5, torque_limit=5.0))
        assert "FL_housing" in result.spec["joints"] and "FL_foot" in result.spec["feet"]

    def test_a_knee_drive_on_the_knees_axis_above_a_point_foot_is_no_wheel(self, tmp_path):
        """example-robot-data's ANYmal C: its shank carries the knee drive, a cylinder centred on the
        knee's axis, and a point foot at its end; the knee's range is +-3 pi (wider than a turn).  The
        drive turns about its centre, so the knees were refused as wheels, though the foot touches."""
        foot = '<geom type="sphere" size="0.02" pos="0 0 -0.1" mass="0.05"/>'
        path = _robot(tmp_path, "knee", "cylinder", 'euler="1.5708 0 0"', rng='range="-9.42 9.42"', below=foot)
        result = infer_spec(path, tmp_path, InitOptions())
        assert "FL_knee" in result.spec["joints"] and "FL_foot" in result.spec["feet"]
        assert any("more than a turn" in line and "FL_knee 18.8 rad" in line for line in result.check)
