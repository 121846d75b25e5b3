"""Identification of joint friction (Coulomb, viscous, Stribeck) on a twin with Stribeck friction.

A pendulum twin whose hinge breaks away at 0.15 N m and slides at 0.05 N m (every unmodeled
effect of the twin on) is recorded twice (chirps of two seeds).  ``identify`` with the friction
parameters finds them, and the calibration with the friction model predicts the recording it was
not fitted on better than today's default calibration (Coulomb and viscous friction only), if
only by a few per cent (the twin's other unmodeled effects dominate what is left).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.deploy.record import ExcitationPolicy, initial_state, record
from sim2real.gap import measure_gap
from sim2real.logs import read_bag
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import load_robot
from sim2real.sysid import calibrated_model, default_params, identify

pytestmark = pytest.mark.slow(seconds=110)

TRUTH = {
    "joint.hinge.frictionloss": 0.05,
    "joint.hinge.stribeck": 0.1,
    "joint.hinge.stribeck_velocity": 0.3,
    "joint.hinge.damping": 0.2,
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    spec = load_robot("pendulum")
    out = []
    for seed in (0, 1):
        folder = tmp_path_factory.mktemp(f"friction{seed}")
        params = {k: np.atleast_1d(v) for k, v in TRUTH.items()}
        twin = TwinRobot(spec, TwinConfig(params, TwinEffects(seed=seed)))
        q0, qd0 = initial_state(spec, seed)
        twin.reset(q0, qd0)
        record(twin, ExcitationPolicy(spec, "chirp", 20.0, seed=seed), 20.0, folder / "log")
        out.append(read_bag(folder / "log"))
    return spec, out


@pytest.fixture(scope="module")
def with_friction(logs):
    """The first recording identified with today's default parameters (mass, damping, Coulomb
    friction, armature, delay) and the Stribeck ones: every friction parameter of TRUTH is free."""
    spec, (fit, _) = logs
    names = [*default_params(spec), "joint.hinge.stribeck", "joint.hinge.stribeck_velocity"]
    assert set(TRUTH) <= set(names)
    return identify(spec, [fit], names)


class TestStribeckFriction:
    def test_identify_finds_the_friction_of_the_twin(self, with_friction):
        # one identification serves both tests (it cost 15 s of CPU more to fit TRUTH's four alone)
        est = {k: float(v.value[0]) for k, v in with_friction.params.items()}
        # measured: Coulomb +16 %, Stribeck +9 %, damping -0.7 %, Stribeck velocity 0.22 for 0.3
        # (TRUTH's four alone: +9 %, +16 %, -0.2 %, 0.21)
        assert est["joint.hinge.frictionloss"] == pytest.approx(0.05, rel=0.25)
        assert est["joint.hinge.stribeck"] == pytest.approx(0.1, rel=0.3)
        assert est["joint.hinge.damping"] == pytest.approx(0.2, rel=0.05)
        assert 0.1 < est["joint.hinge.stribeck_velocity"] < 0.6

    def test_the_friction_model_predicts_a_recording_it_was_not_fitted_on_better(self, logs, with_friction):
        spec, (fit, held) = logs
        today = calibrated_model(spec, identify(spec, [fit], default_params(spec)).calibration())
        friction = calibrated_model(spec, with_friction.calibration())
        before = measure_gap(spec, held, model=today, horizon=0.25).position_rmse
        after = measure_gap(spec, held, model=friction, horizon=0.25).position_rmse
        print(f"held-out position RMSE: today {before:.5f} rad, with Stribeck friction {after:.5f} rad")
        # measured: 0.00148 -> 0.00142 rad (-4 %; the twin's latency, noise and backlash, which
        # neither model has, dominate what is left)
        assert after < before
