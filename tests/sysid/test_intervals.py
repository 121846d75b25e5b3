"""Intervals under correlated residuals, and the identifiability verdicts, on constructed problems."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from sim2real.sysid.intervals import bound_reason, hac_spread, unidentifiable


def _ar1(rng, n_windows, per_window, rho, columns=1):
    out = np.zeros((n_windows * per_window, columns))
    for w in range(n_windows):
        x = rng.normal(size=columns)
        for k in range(per_window):
            x = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=columns)
            out[w * per_window + k] = x
    return out


def _regression(rng, n_windows=60, per_window=30, rho=0.95):
    """y = J theta + e, regressors and errors both smooth within windows (as a trajectory's are)."""
    J = _ar1(rng, n_windows, per_window, rho, 2)
    e = _ar1(rng, n_windows, per_window, rho)[:, 0]
    theta_hat = np.linalg.lstsq(J, e, rcond=None)[0]  # truth is 0
    r = e - J @ theta_hat
    window = np.repeat(np.arange(n_windows), per_window)
    return J, r, window, theta_hat


class TestCoverage:
    def test_the_sandwich_holds_the_truth_where_gauss_newton_does_not(self):
        rng = np.random.default_rng(0)
        held = {"hac": 0, "gauss_newton": 0}
        trials = 60
        for _ in range(trials):
            J, r, window, theta = _regression(rng)
            for method in held:
                spread = hac_spread(J, r, window, np.zeros(window.max() + 1, int), 0.95, method)
                held[method] += int(np.sum(np.abs(theta) <= spread.half))
        assert held["hac"] >= 0.85 * 2 * trials  # nominal 95 %, with few windows per parameter
        assert held["gauss_newton"] <= 0.5 * 2 * trials  # white-residual intervals are far too narrow

    def test_sparse_and_dense_jacobians_give_the_same_intervals(self, rng):
        J, r, window, _ = _regression(rng, n_windows=20, per_window=10)
        logs = np.zeros(20, dtype=int)
        dense = hac_spread(J, r, window, logs, 0.95)
        sparse = hac_spread(scipy.sparse.csr_matrix(J), r, window, logs, 0.95)
        np.testing.assert_allclose(dense.half, sparse.half)
        assert dense.clusters == 20 and dense.bandwidth >= 1


class TestIdentifiability:
    def test_a_column_without_effect_is_dead(self, rng):
        J = np.column_stack([rng.normal(size=100), np.zeros(100)])
        assert "no measurable effect" in unidentifiable(J, [0, 1], str, 1e3)[1]

    def test_a_near_singular_pair_holds_its_larger_member_and_names_the_partner(self, rng):
        a = rng.normal(size=200)
        J = np.column_stack([a, 2.0 * a + 1e-6 * rng.normal(size=200), rng.normal(size=200)])
        held = unidentifiable(J, [0, 1, 2], lambda i: f"p{i}", 1e3)
        ((index, reason),) = held.items()
        assert index in (0, 1) and "combination with" in reason and f"p{1 - index}" in reason

    @pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
    def test_well_posed_columns_of_any_scale_are_identifiable(self, rng, scale):
        J = rng.normal(size=(100, 3)) * np.array([1.0, scale, 1.0])
        assert unidentifiable(J, [0, 1, 2], str, 1e3) == {}


class TestBounds:
    def test_the_step_is_the_unconstrained_least_squares_step(self, rng):
        J = rng.normal(size=(300, 2))
        y = J @ np.array([2.0, -1.0]) + 0.01 * rng.normal(size=300)
        z = np.array([1.5, 0.0])  # e.g. stopped by a bound at 1.5
        spread = hac_spread(J, J @ z - y, np.repeat(np.arange(30), 10), np.zeros(30, int), 0.95)
        np.testing.assert_allclose(z + spread.step, np.linalg.lstsq(J, y, rcond=None)[0], atol=1e-9)

    def test_a_bound_binds_only_when_the_optimum_lies_beyond_it_by_more_than_the_half_width(self):
        assert bound_reason(1.04, 0.0, 1.0, 0.05, 1.0, "kg") is None  # within the interval of the bound
        assert bound_reason(-0.04, 0.0, 1.0, 0.05, 1.0, "N m") is None  # a friction whose truth is 0
        upper = bound_reason(1.2, 0.0, 1.0, 0.05, 108.0, "kg")
        assert upper.startswith("the fit stops at its plausible upper bound 108 kg, and the logs pull it on to about 129.6 kg")
        assert "lower bound 0 N m" in bound_reason(-0.2, 0.0, 1.0, 0.05, 1.0, "N m")
        assert bound_reason(5.0, 0.0, 1.0, np.inf, 1.0, "kg") is None  # no interval: said otherwise


class TestBoundSide:
    def test_within_a_share_of_the_range_or_the_interval(self):
        from sim2real.sysid.intervals import BOUND_SHARE, bound_side

        assert BOUND_SHARE == 0.02
        assert bound_side(0.3957, 0.0, 0.4) == "upper"  # where the solver stopped a friction run to 0.4
        assert bound_side(0.39999, 0.0, 0.4) == "upper" and bound_side(0.001, 0.0, 0.4) == "lower"
        assert bound_side(0.38, 0.0, 0.4) is None
        assert bound_side(0.38, 0.0, 0.4, half=0.03) == "upper"  # the bound inside its interval
        assert bound_side(0.38, 0.0, 0.4, half=float("inf")) is None  # no interval: the share alone
        assert bound_side(0.1, 0.0, 0.4, half=0.5) == "lower"  # the nearer of both


class TestTooFewWindows:
    """At the optimum the windows' scores sum to about zero, so from no more windows than fitted
    values the sandwich is rank-deficient and comes out near zero: a humanoid's 0.28 s log (one
    window) gave a torso mass of 12.38 [12.13, 12.62] kg for a true 10.69 (walk10)."""

    def test_two_windows_determine_no_two_values(self):
        from sysid_testdata import synthetic_log

        from sim2real.robots import load_robot
        from sim2real.sysid import identify

        spec = load_robot("pendulum")
        log = synthetic_log("pendulum", {"body.pole.mass": 0.72, "joint.hinge.damping": 0.28}, seconds=0.3)
        result = identify(spec, [log], ["body.pole.mass", "joint.hinge.damping"])
        for name, p in result.params.items():
            assert not p.identifiable, name
            assert "2 replay windows cannot say how sure 2 fitted values are" in p.reason, p.reason
