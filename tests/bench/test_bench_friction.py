"""`bench friction`'s held-out bound: optimizing parameters directly on a recording's error."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.bench.friction import held_out_bound
from sim2real.deploy.record import ExcitationPolicy, initial_state, record
from sim2real.errors import Sim2RealError
from sim2real.gap import measure_gap
from sim2real.logs import read_bag
from sim2real.params import Parameters
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import load_robot
from sim2real.robots.model import build_model


@pytest.fixture(scope="module")
def damped_log(tmp_path_factory):
    """5 s chirp of a pendulum twin whose hinge damping is 0.2 (the model says 0.35)."""
    spec = load_robot("pendulum")
    twin = TwinRobot(spec, TwinConfig({"joint.hinge.damping": np.array([0.2])}, TwinEffects(seed=0)))
    q0, qd0 = initial_state(spec, 0)
    twin.reset(q0, qd0)
    folder = tmp_path_factory.mktemp("damped")
    record(twin, ExcitationPolicy(spec, "chirp", 5.0, seed=0), 5.0, folder / "log")
    return spec, read_bag(folder / "log")


class TestHeldOutBound:
    def test_it_lowers_the_error_and_finds_the_damping_the_recording_has(self, damped_log):
        spec, log = damped_log
        model = build_model(spec)
        nominal = measure_gap(spec, log, model=model, horizon=0.25).position_rmse
        error, values = held_out_bound(spec, [log], model, ["joint.hinge.damping"])
        assert error < 0.8 * nominal
        assert values["joint.hinge.damping"] == pytest.approx(0.2, rel=0.3)
        info = Parameters(spec, model).info("joint.hinge.damping")
        assert info.low[0] <= values["joint.hinge.damping"] <= info.high[0]

    def test_the_error_it_reports_is_the_error_of_the_values_it_returns(self, damped_log):
        spec, log = damped_log
        model = build_model(spec)
        error, values = held_out_bound(spec, [log], model, ["joint.hinge.damping"])
        Parameters(spec, model).set(model, {k: np.array([v]) for k, v in values.items()})
        assert measure_gap(spec, log, model=model, horizon=0.25).position_rmse == pytest.approx(error, rel=1e-9)

    def test_a_parameter_with_several_values_is_refused(self, damped_log):
        spec, log = damped_log
        with pytest.raises(Sim2RealError, match=r"body\.pole\.com has 3"):
            held_out_bound(spec, [log], build_model(spec), ["body.pole.com"])
