"""Gap metrics on constructed signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.gap.metrics import (
    distribution_distances,
    divergence_point,
    divergence_rate,
    divergence_time,
    error_growth,
    rmse,
)


class TestRmse:
    def test_identical_trajectories_give_zero(self, rng):
        q = rng.normal(size=(500, 3))
        per_joint, overall = rmse(q, q.copy())
        np.testing.assert_array_equal(per_joint, 0.0)
        assert overall == 0.0

    def test_constant_offset_per_joint_is_recovered(self, rng):
        q = rng.normal(size=(400, 2))
        per_joint, overall = rmse(q + np.array([0.1, -0.3]), q)
        np.testing.assert_allclose(per_joint, [0.1, 0.3])
        assert overall == pytest.approx(np.sqrt((0.1**2 + 0.3**2) / 2))


class TestDivergenceRate:
    @pytest.mark.parametrize("rate", [-4.0, 0.0, 2.5, 11.0])
    def test_known_exponential_growth_from_zero_is_recovered(self, rate):
        tau = np.linspace(0.01, 0.25, 25)
        c = 0.4
        error = c * tau if rate == 0 else c * np.expm1(rate * tau) / rate
        assert divergence_rate(tau, error) == pytest.approx(rate, abs=1e-6)

    def test_rate_from_binned_samples_of_many_windows(self, rng):
        # 200 windows of 0.25 s whose error grows as 0.05 (exp(6 tau) - 1) / 6, times a per-window factor
        tau = np.tile(np.linspace(0.0025, 0.25, 100), 200)
        factor = np.repeat(rng.uniform(0.5, 1.5, 200), 100)
        error = factor * 0.05 * np.expm1(6.0 * tau) / 6.0
        centres, growth, counts = error_growth(tau, error, bins=25)
        assert divergence_rate(centres, growth, counts) == pytest.approx(6.0, rel=0.05)

    def test_identical_trajectories_have_no_rate(self):
        tau = np.linspace(0.01, 0.25, 10)
        assert np.isnan(divergence_rate(tau, np.zeros_like(tau)))


class TestDivergenceTime:
    def test_linear_growth_passes_threshold_at_the_known_time(self):
        tau = np.linspace(0.01, 1.0, 100)
        assert divergence_time(tau, 0.5 * tau, threshold=0.1) == pytest.approx(0.2, abs=1e-9)

    def test_never_passing_gives_none(self):
        tau = np.linspace(0.01, 1.0, 10)
        assert divergence_time(tau, np.full(10, 0.01), threshold=0.1) is None

    def test_point_is_the_earliest_crossing_over_windows(self):
        window = np.repeat([0, 1, 2], 4)
        tau = np.tile([0.1, 0.2, 0.3, 0.4], 3)
        error = np.array([0, 0, 0.2, 0.3, 0, 0.15, 0.2, 0.3, 0, 0, 0, 0.05])
        point = divergence_point(window, tau, error, threshold=0.1)
        assert point is not None and point.index == 5 and point.tau == pytest.approx(0.2)
        assert divergence_point(window, tau, error, threshold=1.0) is None


class TestDistributionDistances:
    def test_identical_samples_give_zero(self, rng):
        x = rng.normal(size=2000)
        d = distribution_distances(x, x.copy())
        assert d == {"wasserstein": 0.0, "ks": 0.0}

    def test_shifted_distribution_gives_the_shift_as_wasserstein_distance(self, rng):
        x = rng.normal(size=5000)
        d = distribution_distances(x + 0.3, x)
        assert d["wasserstein"] == pytest.approx(0.3, abs=1e-12)
        assert 0.05 < d["ks"] < 0.2  # sup |F(x) - F(x - 0.3)| = 0.119 for a unit normal

    def test_disjoint_samples_have_ks_one(self):
        d = distribution_distances(np.zeros(100), np.ones(100))
        assert d["ks"] == 1.0 and d["wasserstein"] == pytest.approx(1.0)


def test_error_growth_bins_rms_per_time_since_start():
    tau = np.array([0.1, 0.1, 0.3, 0.3])
    centres, growth, counts = error_growth(tau, np.array([3.0, 4.0, 1.0, 1.0]), bins=2)
    np.testing.assert_allclose(centres, [0.1, 0.3])
    np.testing.assert_allclose(growth, [np.sqrt(12.5), 1.0])
    np.testing.assert_array_equal(counts, [2, 2])
