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
        result = _report(spec, log, problem, coords, state, (wider, wide, None))
    finally:
        state.widen = None
    np.testing.assert_array_equal(coords.get(), z)  # the values stay the fit at h
    mass = result.params["body.pole.mass"]
    s = coords.scale[0]
    assert mass.ci_high[0] - mass.ci_low[0] == pytest.approx(2 * (half[0] + widen[0]) * s, rel=1e-6)
    assert any("no step-free value could be extrapolated" in w for w in result.warnings)


def _report(spec, log, problem, coords, state, spread, bounds=None):
    return report(
        spec,
        [log],
        problem,
        coords,
        list(TRUE),
        state,
        spread,
        outlier_ratio=CONFIG.outlier_ratio,
        horizon=CONFIG.horizon,
        bounds=bounds,
        delay=None,
        seconds=0.0,
    )


def test_an_interval_that_reaches_a_bound_only_by_the_step_error_is_no_bound_warning(fitted):
    # the hung Aliengo's kp intervals, widened by 3x the step's shift, reached the upper bound 72
    # from 64-69 N m/rad and each warned "the data may want a value outside the spec's range"
    spec, log, problem, coords, state = fitted
    z = coords.get().copy()
    s = coords.scale[0]
    bounds = {"body.pole.mass": (0.1, 0.75)}  # 0.03 kg above the fitted 0.718, 3.1 % of the range
    widen = np.zeros(coords.size)
    widen[0] = (0.75 - z[0] * s) / s  # the widened interval reaches it, the statistical one does not
    state.widen = widen
    try:
        widened = _report(spec, log, problem, coords, state, intervals(problem, coords, state, CONFIG), bounds)
        state.widen = 0.0 * widen  # the same bound, no step error: the data's own interval is far from it
        plain = _report(spec, log, problem, coords, state, intervals(problem, coords, state, CONFIG), bounds)
    finally:
        state.widen = None
        coords.put(z)
    mass = widened.params["body.pole.mass"]
    assert mass.identifiable and mass.ci_high[0] > 0.75
    assert not any("plausible upper bound" in w for w in widened.warnings + plain.warnings)
    assert any("no step-free value could be extrapolated" in w for w in widened.warnings)


def test_a_confirmed_shift_given_by_name_is_applied_to_the_coordinates_fitted(fitted):
    # the CLI's refit with a run-away held at nominal keeps its first fit's step-free correction:
    # by parameter name in its units; a coordinate held or pressed against a bound gets none
    from sim2real.sysid.resolution import held_shift

    spec, log, problem, coords, state = fitted
    z = coords.get().copy()
    given = {"body.pole.mass": np.array([0.01]), "joint.hinge.damping": np.array([-0.002]), "x": np.ones(1)}
    step = held_shift(coords, state.active, given)
    assert step.extrapolated
    np.testing.assert_allclose(step.shift * coords.scale, [0.01, -0.002])
    assert not held_shift(coords, [1], given).shift[0]  # the mass held
    state.shift = step.shift
    try:
        result = _report(spec, log, problem, coords, state, intervals(problem, coords, state, CONFIG))
        coords.put(np.array([z[0], coords.lo[1]]))  # the damping on its lower bound
        pressed = held_shift(coords, state.active, given).shift
    finally:
        state.shift = None
        coords.put(z)
    assert result.params["body.pole.mass"].value[0] == pytest.approx(z[0] * coords.scale[0] + 0.02)
    assert result.step_shift["body.pole.mass"][0] == pytest.approx(0.01)
    assert pressed[0] and not pressed[1]
