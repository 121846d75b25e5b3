"""The twin's angular effects act on a slide joint in metres, ``slide_travel`` per radian."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cartpole_testdata import cartpole_spec
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot

QUIET = TwinEffects(
    latency_jitter=0.0, backlash=0.0, position_noise=0.0, velocity_noise=0.0, gyro_noise=0.0, drop_probability=0.0
)


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    return cartpole_spec(tmp_path_factory.mktemp("cartpole"))


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
