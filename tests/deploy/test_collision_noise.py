"""The collision thresholds against encoder noise: a heavy root that gravity does not load (a
swimmer in the horizontal plane) gets thresholds above the residual its velocity noise makes, and
no collision at rest on a twin with that noise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim2real.deploy.body_geometry import torque_scale
from sim2real.deploy.collision import NOISE_SIGMAS, CollisionDetector, noise_floor
from sim2real.deploy.faults import check_quiet
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.speed import SpeedConfig
from sim2real.deploy.stand_in import StandInPolicy
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import load_robot
from sim2real.robots.init import init_robot
from sim2real.robots.model import build_model

SWIMMER = """<mujoco model="flat_swimmer">
  <compiler angle="degree"/>
  <option density="4000" viscosity="0.1"/>
  <default><joint damping="0" armature="0.1"/><geom type="capsule" size="0.1" contype="0" conaffinity="0"/></default>
  <worldbody>
    <body name="head" pos="0 0 0">
      <joint name="x" type="slide" axis="1 0 0"/>
      <joint name="y" type="slide" axis="0 1 0"/>
      <joint name="yaw" type="hinge" axis="0 0 1"/>
      <geom name="head_geom" fromto="1.5 0 0 0.5 0 0"/>
      <body name="mid" pos="0.5 0 0">
        <joint name="j1" type="hinge" axis="0 0 1" range="-100 100"/>
        <geom name="mid_geom" fromto="0 0 0 -1 0 0"/>
        <body name="tail" pos="-1 0 0">
          <joint name="j2" type="hinge" axis="0 0 1" range="-100 100"/>
          <geom name="tail_geom" fromto="0 0 0 -1 0 0"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="j1" ctrlrange="-1 1" gear="150"/>
    <motor joint="j2" ctrlrange="-1 1" gear="150"/>
  </actuator>
</mujoco>
"""
"""Three 1 m segments of 0.1 m radius at 4000 kg/m^3 (about 100 kg), on x / y slides and a yaw
hinge in the horizontal plane: gravity loads none of its joints (gymnasium's swimmer's layout)."""


@pytest.fixture(scope="module")
def swimmer(tmp_path_factory):
    where = tmp_path_factory.mktemp("swimmer")
    (where / "swimmer.xml").write_text(SWIMMER)
    spec, _ = init_robot(where / "swimmer.xml", where / "out" / "robot.yaml")
    return spec


def test_an_unloaded_passive_root_gets_a_threshold_above_its_noise(swimmer):
    """Its gravity torque scale is about 0 (the 1e-6 floor): thresholds of 2e-07 N m refused the fault suite."""
    model = build_model(swimmer)
    det = CollisionDetector(swimmer)
    root = [swimmer.joints.index(j) for j in ("x", "y", "yaw")]
    assert np.all(torque_scale(swimmer, model)[root] <= 1e-6)
    assert np.all(det.thresholds >= NOISE_SIGMAS * det.noise - 1e-12)
    assert np.all(det.thresholds[root] > 0.1)


def test_the_noise_floor_predicts_the_residual_at_rest(swimmer):
    """The residual of the twin's velocity noise (0.01 rad/s) at rest: its std within 25 % of the
    prediction on the heavy rows (the yaw hinge and the first motor)."""
    det = CollisionDetector(swimmer)
    fx = dataclasses.replace(TwinEffects(seed=3), position_noise=0.0)
    robot = TwinRobot(swimmer, TwinConfig(effects=fx))
    robot.reset()
    obs, command, rows = det.observer, np.zeros(swimmer.n_actions), []
    obs.update(robot.read(), None)
    for _ in range(1500):
        robot.write(Command(t=0.0, values=command))
        res = obs.update(robot.read(), command)
        if res is not None:
            rows.append(res.joint)
    std = np.std(np.array(rows[50:]), axis=0)
    for j in (swimmer.joints.index("yaw"), swimmer.joints.index("j1")):
        assert std[j] == pytest.approx(det.noise[j], rel=0.25)


def test_encoder_noise_at_rest_is_no_collision(swimmer):
    """20 s of the stand-in at rest on a twin with the default encoder noise: before the noise
    floor, 25-28 N m "unexplained" on the root even with a hand-set threshold of 20."""
    robot = TwinRobot(swimmer, TwinConfig(effects=TwinEffects(seed=7, drop_probability=0.0)))
    loop = ControlLoop(
        robot,
        StandInPolicy(swimmer),
        config=LoopConfig(speed=SpeedConfig(start_stage=4), episode_return=False),
    )
    loop.run(20.0)
    assert loop.monitor.counters["collision"] == 0
    assert 0 < loop.monitor.collision.peak < 1.0
    assert check_quiet(swimmer) is None


@pytest.mark.parametrize("name", ["furuta", "pendulum", "quadruped"])
def test_the_embedded_robots_thresholds_stay_a_fraction_of_their_torque_scale(name):
    """Their noise floors are below their thresholds (the pendulum's closest: 0.31 of 0.4 N m)."""
    spec = load_robot(name)
    model = build_model(spec)
    det = CollisionDetector(spec)
    np.testing.assert_allclose(det.thresholds, 0.2 * torque_scale(spec, model))
    assert np.all(NOISE_SIGMAS * noise_floor(spec, model, 0.03) < det.thresholds)


def test_the_fix_named_for_a_noise_set_threshold_is_the_noise_not_the_torque_limit(swimmer, furuta):
    """A threshold the noise sets is not lowered by giving the motors' real torque limits."""
    from sim2real.deploy.collision_reach import swing_fix

    assert "set by encoder velocity noise" in swing_fix(swimmer, CollisionDetector(swimmer), "yaw")
    assert "torque limit" in swing_fix(furuta, CollisionDetector(furuta), "arm")
