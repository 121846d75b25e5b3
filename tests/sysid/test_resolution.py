"""The simulator's own step (sim2real.sysid.resolution): a log the robot's own simulator made at its
step moves nothing, and a step error that cannot be extrapolated away widens the intervals instead
of leaving them at their statistical width around a biased value."""

from __future__ import annotations

import numpy as np
import pytest
from sysid_testdata import synthetic_log

from sim2real.robots.model import build_model
from sim2real.sysid.identify import IdentifyConfig, build_problem, fit, intervals, step_free
from sim2real.sysid.reporting import report

TRUE = {"body.pole.mass": 0.72, "joint.hinge.damping": 0.28}
CONFIG = IdentifyConfig()


@pytest.fixture(scope="module")
def fitted(pendulum):
    log = synthetic_log("pendulum", TRUE, seconds=2.0)
    model = build_model(pendulum)
    problem, coords, _ = build_problem(pendulum, [log], model, list(TRUE), CONFIG, None, None)
    state = fit(problem, coords, CONFIG)
    return pendulum, log, problem, coords, state


def test_a_log_of_the_simulator_at_its_own_step_moves_nothing(fitted):
    spec, log, problem, coords, state = fitted
    step = step_free(spec, [log], problem, coords, state, CONFIG)
    assert step.extrapolated
    assert not np.any(step.shift)


def test_a_step_error_that_cannot_be_extrapolated_widens_the_intervals(fitted):
    spec, log, problem, coords, state = fitted
    z = coords.get().copy()
    half, _, _ = intervals(problem, coords, state, CONFIG)
    widen = np.array([0.5, 2.0]) * half  # the mass's interval 1.5x, the damping's 3x
    state.widen = widen
    try:
        wider, wide, _ = intervals(problem, coords, state, CONFIG)
        np.testing.assert_allclose(wider, half + widen)
        result = report(
            spec,
            [log],
            problem,
            coords,
            list(TRUE),
            state,
            (wider, wide, None),
            outlier_ratio=CONFIG.outlier_ratio,
            horizon=CONFIG.horizon,
            bounds=None,
            delay=None,
            seconds=0.0,
        )
    finally:
        state.widen = None
    np.testing.assert_array_equal(coords.get(), z)  # the values stay the fit at h
    mass = result.params["body.pole.mass"]
    s = coords.scale[0]
    assert mass.ci_high[0] - mass.ci_low[0] == pytest.approx(2 * (half[0] + widen[0]) * s, rel=1e-6)
    assert any("no step-free value could be extrapolated" in w for w in result.warnings)
