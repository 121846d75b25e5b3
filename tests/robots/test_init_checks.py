"""What robot init says of a model's physics settings: solver iterations tuned for MJX, equality
constraints, an unusual gravity; and the body that carries a massless base's mass."""

from __future__ import annotations

import dataclasses

import mujoco
import pytest

from sim2real.params import Parameters
from sim2real.robots import load_robot, load_spec
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.init_checks import physics_checks, solver_override, standing_advice
from sim2real.robots.model import build_model, carrying_body
from sim2real.robots.standing import Standing
from urdf_testdata import quadruped_urdf

GAINS = InitOptions(kp=30.0, kd=1.0, torque_limit=30.0)


def _legged(option: str = "", base: str = "<geom type='box' size='0.1 0.15 0.05' mass='5'/>") -> str:
    legs = "".join(
        f"<body name='{s}_leg' pos='0 {y} -0.05'><joint name='{s}_hip' axis='0 1 0' range='-1 1'/>"
        "<geom type='capsule' fromto='0 0 0 0 0 -0.3' size='0.03' mass='1'/></body>"
        for s, y in (("left", 0.1), ("right", -0.1))
    )
    return (
        f"<mujoco><compiler angle='radian'/><option {option}/><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
        f"<body name='base' pos='0 0 0.5'><freejoint/>{base}{legs}</body></worldbody></mujoco>"
    )


class TestPhysicsChecks:
    def test_the_usual_model_has_nothing_to_say(self):
        model = mujoco.MjModel.from_xml_string(_legged())
        inferred: list[str] = []
        assert physics_checks(model) == [] and solver_override(model, inferred) == {} and inferred == []

    @pytest.mark.parametrize("gravity", ["0 0 0.0001", "0 0 -1.62", "0 -9.81 0"])
    def test_a_gravity_not_about_9_81_downwards_is_named(self, gravity):
        # Menagerie's BXI Elf2 scene sets 0 0 0.0001
        model = mujoco.MjModel.from_xml_string(_legged(f"gravity='{gravity}'"))
        assert any("not about 9.81 downwards" in line for line in physics_checks(model))


def _arm(equality: str) -> str:
    """A two-link arm on the world, its hand held by ``equality`` (to the mocap body 'handle' or the world)."""
    return (
        "<mujoco><worldbody><body name='handle' mocap='true' pos='0.5 0 0.5'/>"
        "<body name='upper' pos='0 0 0.5'><joint name='shoulder' axis='0 1 0' range='-2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0.25 0 0' size='0.02' mass='1'/>"
        "<body name='hand' pos='0.25 0 0'><joint name='elbow' axis='0 1 0' range='-2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0.25 0 0' size='0.02' mass='0.5'/><site name='tip' pos='0.25 0 0'/>"
        f"</body></body></worldbody><equality>{equality}</equality>"
        "<actuator><motor joint='shoulder' ctrlrange='-5 5'/><motor joint='elbow' ctrlrange='-5 5'/></actuator></mujoco>"
    )


class TestMocapWeld:
    @pytest.mark.parametrize(
        "equality",
        ["<weld name='grip' body1='handle' body2='hand'/>", "<connect name='grip' body1='hand' body2='handle' anchor='0.25 0 0'/>"],
    )
    def test_a_body_held_to_a_mocap_body_is_named_as_pinned_not_as_a_closed_chain(self, equality):
        # Gymnasium Robotics' Fetch and Meta-World's Sawyer drive their gripper through such a weld: with
        # it on, sim2real's PD on the arm's joints saturates and the shoulder moved 0.0002 rad of 0.5
        model = mujoco.MjModel.from_xml_string(_arm(equality))
        lines = physics_checks(model)
        assert any("grip (hand to handle)" in line and "mocap body" in line for line in lines)
        assert not any("closed chains" in line for line in lines)

    def test_a_weld_switched_off_or_between_the_robots_own_bodies_is_no_mocap_weld(self):
        off = mujoco.MjModel.from_xml_string(_arm("<weld name='grip' body1='handle' body2='hand' active='false'/>"))
        chain = mujoco.MjModel.from_xml_string(_arm("<connect body1='hand' body2='world' anchor='0.25 0 0'/>"))
        assert not any("mocap" in line for line in physics_checks(off) + physics_checks(chain))
        assert physics_checks(off) == []  # switched off as the mocap line advises: it constrains nothing
        assert any("1 equality constraints (connect: closed chains" in line for line in physics_checks(chain))


class TestMasslessBase:
    def test_a_base_that_is_only_a_frame_has_its_mass_bounded_on_the_welded_child(self, tmp_path):
        """Menagerie's Open Duck Mini: the free joint's body has no mass, its trunk (welded) has; the
        spec bounded 'body.base.mass' (0 to 0), which is no parameter, and every command refused."""
        xml = _legged(base="<body name='trunk'><geom type='box' size='0.1 0.15 0.05' mass='5'/></body><geom type='sphere' size='0.01' mass='0'/>")
        (tmp_path / "duck.xml").write_text(xml)
        spec, _ = init_robot(tmp_path / "duck.xml", tmp_path / "robot.yaml", GAINS)
        model = build_model(load_spec(tmp_path / "robot.yaml"))
        assert model.body(carrying_body(model, model.body("base").id)).name == "trunk"
        names = {b.name for b in spec.parameter_bounds}
        assert "body.trunk.mass" in names and "body.base.mass" not in names
        Parameters(spec, model).resolve(sorted(n for n in names if "*" not in n))  # every bound is a parameter
        text = (tmp_path / "randomize_default.yaml").read_text()
        assert "body.trunk.mass, mode: additive" in text and "body.base.mass" not in text


class TestFloorBelowZero:
    def test_heights_are_measured_from_the_floor_where_it_is(self, tmp_path):
        """Menagerie's Talos scene has its floor at z = -1.01: init wrote base_height limits from the
        base's world z (min -0.04 above max -0.08), a spec that failed its own check; they are
        heights above the floor."""
        xml = _legged().replace("<geom name='floor' type='plane' size='5 5 0.1'/>", "<geom name='floor' type='plane' size='5 5 0.1' pos='0 0 -1'/>")
        (tmp_path / "low.xml").write_text(xml.replace("<body name='base' pos='0 0 0.5'>", "<body name='base' pos='0 0 -0.5'>"))
        spec, result = init_robot(tmp_path / "low.xml", tmp_path / "robot.yaml", GAINS)
        height = spec.initial_base.pos[2]
        assert height == pytest.approx(-1.0 + 0.38, abs=0.01)  # legs of 0.3 m + capsule radius + box
        low, high = spec.safety.base_height_low, spec.safety.base_height_high
        # above the floor, as a robot's estimator gives Reading.base_height
        assert low == pytest.approx(0.5 * (height + 1.0), abs=1e-3) and high > height + 1.0 > low
        assert any("standing 0.38" in line and "above the floor" in line for line in result.inferred)

    def test_the_standing_check_sinks_relative_to_the_floor(self):
        from sim2real.robots.standing import Standing

        kept = Standing(seconds=1.5, initial_height=-0.09, height=-0.10, tilt=0.0, joint="j", deviation=0.0, floor=-1.01)
        sunk = Standing(seconds=1.5, initial_height=-0.09, height=-0.60, tilt=0.0, joint="j", deviation=0.0, floor=-1.01)
        assert kept.holds and not sunk.holds


class TestAddedFloor:
    def test_the_added_floor_collides_whatever_the_models_default_class_says(self, tmp_path):
        """Toddlerbot's top default class sets contype 0: the floor sim2real added to its robot file
        took it, and the robot fell through (standing check: 0.298 -> -10.8 m)."""
        xml = _legged().replace("<geom name='floor' type='plane' size='5 5 0.1'/>", "")
        xml = xml.replace("<mujoco><compiler angle='radian'/>", "<mujoco><compiler angle='radian'/><default><geom contype='0' conaffinity='0'/></default>")
        xml = xml.replace("size='0.03' mass='1'/>", "size='0.03' mass='1' contype='1' conaffinity='1'/>")
        (tmp_path / "robot_only.xml").write_text(xml)
        spec, result = init_robot(tmp_path / "robot_only.xml", tmp_path / "robot.yaml", GAINS)
        model = build_model(load_spec(tmp_path / "robot.yaml"))
        floor = model.geom(spec.floor)
        assert (int(floor.contype[0]), int(floor.conaffinity[0]), int(floor.condim[0])) == (1, 1, 3)
        assert not any("diverges" in c for c in result.check)
        assert "geom.floor.friction" in {b.name for b in spec.parameter_bounds}


FLOATING = InitOptions(kp=30.0, kd=1.0, floating_base=True)


def _fallen(tilt: float, deviation: float) -> Standing:
    return Standing(seconds=1.5, initial_height=0.3, height=0.2, tilt=tilt, joint="FL_knee", deviation=deviation)


class TestDefaultPoseOfAUrdf:
    def test_a_pose_that_is_the_zero_pose_for_want_of_a_keyframe_is_named(self, tmp_path):
        """Every vendor URDF: the default pose was the straight-legged zero pose, said nowhere."""
        _, result = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "out" / "robot.yaml", FLOATING)
        assert any(line.startswith("no keyframe: 8 joints") and "--default-pose" in line for line in result.check)
        pose = {".*_hip": 0.0, ".*_knee": -0.5}
        _, given = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "b" / "robot.yaml", InitOptions(
            kp=30.0, kd=1.0, floating_base=True, default_pose=pose))
        assert not any("no keyframe" in line for line in given.check)

    def test_a_zero_pose_that_is_not_held_asks_for_a_pose_not_gains(self, tmp_path):
        """Go1 with straight legs was told 'a less crouched --default-pose'."""
        spec, _ = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "out" / "robot.yaml", FLOATING)
        advice = standing_advice(spec, _fallen(tilt=0.05, deviation=0.5), zero_pose=True)
        assert "zero pose for want of a keyframe" in advice and "crouched" not in advice
        tipped = standing_advice(spec, _fallen(tilt=0.3, deviation=0.05), zero_pose=True)
        assert "on its 4 feet" in tipped and "zero pose for want of a keyframe" in tipped

    def test_keyframes_that_size_nkey_makes_and_no_key_fills_are_no_pose(self, tmp_path):
        """Gymnasium's humanoid states <size nkey="5"/> and no <key>: its pose was 'from keyframe 0', a
        keyframe its file does not have, and the zero pose went unnamed."""
        xml = _legged().replace("<worldbody>", "<size nkey='3'/><worldbody>")
        (tmp_path / "sized.xml").write_text(xml)
        _, result = init_robot(tmp_path / "sized.xml", tmp_path / "robot.yaml", GAINS)
        assert any("default pose from the model's qpos0 (no keyframe)" in line for line in result.inferred)
        assert result.zero_pose and not any("keyframe '0'" in line for line in result.inferred + result.check)
        keyed = xml.replace("</mujoco>", "<keyframe><key qpos='0 0 0.5 1 0 0 0 0.2 -0.2'/></keyframe></mujoco>")
        (tmp_path / "keyed.xml").write_text(keyed.replace("<size nkey='3'/>", ""))
        _, stated = init_robot(tmp_path / "keyed.xml", tmp_path / "k" / "robot.yaml", GAINS)
        assert any("default pose from keyframe '0'" in line for line in stated.inferred) and not stated.zero_pose

    def test_only_a_robot_on_fewer_than_three_feet_is_expected_to_tip_over(self, tmp_path):
        """pybullet's A1, a quadruped, was told 'expected of a robot that balances only under a policy'."""
        spec, _ = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "out" / "robot.yaml", FLOATING)
        assert len(spec.feet) == 4
        quadruped = standing_advice(spec, _fallen(tilt=0.3, deviation=0.05))
        assert "balances only under a policy" not in quadruped and "on its 4 feet" in quadruped
        biped = standing_advice(dataclasses.replace(spec, feet=spec.feet[:2]), _fallen(tilt=0.3, deviation=0.05))
        assert "balances only under a policy" in biped

    def test_a_base_that_sinks_upright_on_soft_gains_is_not_said_to_tip_over(self, tmp_path):
        """mjlab's Go1 at its 10 Hz gains sank 0.294 -> 0.243 m, tilted 6 deg: it was told it 'tips over
        on its 4 feet' and to check the pose, the masses and the feet, not the gains."""
        spec, _ = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "out" / "robot.yaml", FLOATING)
        sunk = dataclasses.replace(_fallen(tilt=0.11, deviation=0.25), height=0.243 / 0.294 * 0.3)
        advice = standing_advice(spec, sunk)
        assert sunk.settled and "tips over" not in advice
        assert advice.startswith("the base sinks with its joints held") and "PD gains yield" in advice and "--kp" in advice
        assert "tips over on its 4 feet" in standing_advice(spec, dataclasses.replace(sunk, tilt=0.5))

    def test_the_sag_that_judged_the_gains_is_the_one_named(self):
        """mjlab's G1 fell with its ankle 0.38 rad off as it tipped; the advice 'the PD gains do not hold'
        named the shoulder's 0.15 rad at the end, below the limit it was judged by."""
        fell = dataclasses.replace(
            _fallen(tilt=1.5, deviation=0.15), joint="shoulder", upright_deviation=0.38, upright_joint="ankle"
        )
        spec = load_robot("quadruped")
        advice = standing_advice(spec, fell)
        assert "PD gains do not hold" in advice and "ankle 0.38 rad off as the base tilted" in advice
        assert "shoulder" not in advice

    def test_a_model_made_for_a_finer_step_that_diverges_is_told_its_own_step(self, tmp_path):
        """Menagerie's Cassie steps at 0.5 ms; robot init's 5 ms made its standing check diverge, and the
        advice named gains and constraints only."""
        spec, _ = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "out" / "robot.yaml", FLOATING)
        diverged = dataclasses.replace(_fallen(tilt=0.0, deviation=0.0), diverged_at=0.03)
        advice = standing_advice(spec, diverged, own_dt=0.0005)
        assert "made for a 0.0005 s step, sim2real steps at 0.005 s: try --physics-dt 0.0005" in advice
        assert "--physics-dt" not in standing_advice(spec, diverged, own_dt=0.005)

    def test_bodies_besides_the_feet_resting_on_the_floor_are_named(self, tmp_path):
        """pybullet's Vision60 rests its body and hips on the floor: the standing check passed, faults refused."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", leg=0.03)  # the feet reach no lower than the trunk
        _, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert any(line.startswith("standing in the default pose, the robot rests on base besides its feet") for line in result.check)
        _, tall = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "b" / "robot.yaml", FLOATING)
        assert not any("besides its feet" in line for line in tall.check)


class TestDefaultRandomization:
    @pytest.mark.parametrize("kv", [("0", "0"), ("0", "1")])
    def test_position_actuators_without_kv_get_a_randomization_train_accepts(self, tmp_path, kv):
        """Playground's Berkeley Humanoid: <position kp="35"/> without kv (its damping is the joints'):
        kd 0 in the spec, and `train --randomize default` refused the written file (a scale of 0)."""
        from sim2real.randomize.config import load_randomization

        acts = "".join(
            f"<position name='{s}_hip' joint='{s}_hip' kp='35' kv='{k}' forcerange='-20 20'/>"
            for s, k in zip(("left", "right"), kv, strict=True)
        )
        (tmp_path / "bh.xml").write_text(_legged().replace("</mujoco>", f"<actuator>{acts}</actuator></mujoco>"))
        spec, _ = init_robot(tmp_path / "bh.xml", tmp_path / "robot.yaml")
        assert {a.joint: a.kd for a in spec.actuators} == {"left_hip": float(kv[0]), "right_hip": float(kv[1])}
        randomization = load_randomization(spec, "default")  # raised: actuator.left_hip.kd is 0 at nominal
        text = (tmp_path / "randomize_default.yaml").read_text()
        assert "actuator.*.kp, mode: scale" in text and "actuator.*.kd" not in text
        assert ("actuator.right_hip.kd, mode: scale" in text) == (kv[1] != "0")
        assert randomization.name == "default"


class TestSelfOverlap:
    def test_collision_geoms_of_the_robot_inside_each_other_in_the_default_pose_are_named(self, tmp_path):
        """iCub's URDF (made for a simulator without self-collision): its chest and shoulder meshes
        overlap 3.4 cm in its own zero pose; MuJoCo pushed the arms apart at every reset (6 rad/s in
        80 ms, a safe stop in every preflight item) and nothing said why."""
        arm = (
            "<body name='arm' pos='0.12 0 0'><joint name='shoulder' axis='0 1 0' range='-1 1'/>"
            "<geom type='capsule' fromto='-0.04 0 0 0.2 0 0' size='0.03' mass='0.5'/></body>"
        )
        # the arm hangs off a child of the base, and its capsule reaches 2.5 cm into the base's box
        base = f"<geom type='box' size='0.1 0.15 0.05' mass='5'/><body name='chest' pos='0 0 0'><joint name='waist' axis='0 0 1' range='-1 1'/><geom type='sphere' size='0.01' mass='0.1'/>{arm}</body>"
        (tmp_path / "over.xml").write_text(_legged(base=base))
        _, result = init_robot(tmp_path / "over.xml", tmp_path / "robot.yaml", GAINS)
        line = next((c for c in result.check if "own collision geoms" in c), None)
        assert line is not None and "arm" in line and "base" in line, result.check

    def test_a_model_whose_geoms_only_touch_the_floor_says_nothing(self, tmp_path):
        (tmp_path / "ok.xml").write_text(_legged())
        _, result = init_robot(tmp_path / "ok.xml", tmp_path / "robot.yaml", GAINS)
        assert not any("own collision geoms" in c for c in result.check)


class TestStandingAdviceOnAPartlyGivenPose:
    def test_a_given_joint_that_sags_is_told_about_its_gains_not_the_zero_pose(self, tmp_path):
        """Fourier GR1T2 (a URDF, no keyframe) with --default-pose for its legs: a leg joint sagged and
        init told the user to give --default-pose, which they had; only the arms were the zero pose
        (here: a quadruped URDF's legs given, its gripper not)."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", gripper=True)
        weak = InitOptions(kp=3.0, kd=0.1, torque_limit=30.0, floating_base=True, default_pose={".*_hip": 0.6, ".*_knee": -1.2})
        _, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", weak)
        advice = next(c for c in result.check if "do not hold the default pose" in c)
        assert "_knee" in advice and "stiffer --kp" in advice and "for want of a keyframe" not in advice, advice
        assert any("the model's zero pose" in c and "1 joints" in c for c in result.check)  # the gripper still is


class TestActuatorDynamics:
    def test_a_servos_lag_and_a_filtered_motor_are_named_as_dropped(self, tmp_path):
        """A <position timeconst> servo's first-order lag (and a <general> motor's filter) vanish when
        sim2real's actuators replace the model's: robot init said nothing of it."""
        acts = (
            "<position name='left_hip' joint='left_hip' kp='35' kv='1' timeconst='0.05' forcerange='-20 20'/>"
            "<general name='right_hip' joint='right_hip' dyntype='filter' dynprm='0.02' gaintype='fixed' "
            "gainprm='10' biastype='none' ctrlrange='-1 1' ctrllimited='true'/>"
        )
        (tmp_path / "lag.xml").write_text(_legged().replace("</mujoco>", f"<actuator>{acts}</actuator></mujoco>"))
        spec, result = init_robot(tmp_path / "lag.xml", tmp_path / "robot.yaml")
        line = next((c for c in result.check if "dynamics of their own" in c), None)
        assert line is not None, result.check
        assert "left_hip (a 50 ms lag)" in line and "right_hip (a 20 ms lag)" in line
        assert {a.joint: a.model for a in spec.actuators} == {"left_hip": "pd", "right_hip": "torque"}

    def test_actuators_without_dynamics_say_nothing(self, tmp_path):
        acts = "".join(f"<motor name='{s}_hip' joint='{s}_hip' ctrlrange='-20 20'/>" for s in ("left", "right"))
        (tmp_path / "plain.xml").write_text(_legged().replace("</mujoco>", f"<actuator>{acts}</actuator></mujoco>"))
        _, result = init_robot(tmp_path / "plain.xml", tmp_path / "robot.yaml")
        assert not any("dynamics of their own" in c for c in result.check)
