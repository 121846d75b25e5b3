"""The twin's angular effects act on a slide joint in metres, ``slide_travel`` per radian."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots.init import InitOptions, infer_spec
from sim2real.robots.init_write import write_spec
from sim2real.robots.load import load_spec

CARTPOLE = """<mujoco model="cp"><compiler angle="radian"/><worldbody>
  <body name="cart" pos="0 0 1"><joint name="slider" type="slide" axis="1 0 0" range="-1 1"/>
    <geom type="box" size="0.1 0.05 0.05" mass="1"/>
    <body name="pole"><joint name="hinge" axis="0 1 0" range="-3 3"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.02" mass="0.2"/></body></body>
</worldbody><actuator><motor name="slider" joint="slider" ctrlrange="-10 10"/>
<motor name="hinge" joint="hinge" ctrlrange="-1 1"/></actuator></mujoco>"""
"""A cart on a rail (slide joint, metres) and a hanging pole (hinge, radians), both driven."""

QUIET = TwinEffects(
    latency_jitter=0.0, backlash=0.0, position_noise=0.0, velocity_noise=0.0, gyro_noise=0.0, drop_probability=0.0
)


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cartpole")
    (folder / "cp.xml").write_text(CARTPOLE)
    write_spec(infer_spec(folder / "cp.xml", folder, InitOptions()), folder / "robot.yaml")
    return load_spec(folder / "robot.yaml")


def _offset(spec, effects: TwinEffects) -> np.ndarray:
    """Reading minus the true position of (slider, hinge) at the start."""
    twin = TwinRobot(spec, TwinConfig(effects=effects))
    reading = twin.read()
    return reading.q - twin.data.qpos[[0, 1]]


class TestSlideUnits:
    def test_a_bias_is_radians_on_the_hinge_and_slide_travel_metres_on_the_slide(self, cartpole):
        offset = _offset(cartpole, dataclasses.replace(QUIET, position_bias=0.1, slide_travel=0.02))
        assert offset[1] == pytest.approx(0.1, abs=1e-12)  # hinge: rad
        assert offset[0] == pytest.approx(0.002, abs=1e-12)  # slide: 0.1 rad x 0.02 m/rad

    def test_quantization_steps_scale_the_same_way(self, cartpole):
        fx = dataclasses.replace(QUIET, position_bias=0.123, encoder_resolution=0.05, slide_travel=0.01)
        twin = TwinRobot(cartpole, TwinConfig(effects=fx))
        q = twin.read().q
        assert q[1] / 0.05 == pytest.approx(round(q[1] / 0.05), abs=1e-9)  # a multiple of 0.05 rad
        assert q[0] / 0.0005 == pytest.approx(round(q[0] / 0.0005), abs=1e-9)  # of 0.5 mm
        assert abs(q[0] - 0.00123) <= 0.00025 + 1e-12  # the bias, in metres, within half a step
