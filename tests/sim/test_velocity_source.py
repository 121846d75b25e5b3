"""A replay window's initial velocities: the log's column or its positions' slope, whichever is better."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sim2real.sim.velocity_source import choose_velocity_source, local_fit, local_slope


def _motion(seed: int, rate: float = 1000.0, seconds: float = 4.0, amplitude: float = 1.0):
    """A smooth two-joint swing sampled at irregular times: t (T,), q (T, 2) [rad], qd (T, 2) [rad/s]."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.8, 1.2, int(rate * seconds)) / rate)
    w = np.array([2.0, 3.1])
    q = np.sin(w * t[:, None]) * np.array([1.0, 0.5]) * amplitude
    qd = np.cos(w * t[:, None]) * w * np.array([1.0, 0.5]) * amplitude
    return t, q, qd


def test_local_slope_is_exact_for_a_quadratic_on_irregular_times(rng):
    t = np.sort(rng.uniform(0, 1, 200))
    q = np.stack([1 + 2 * t - 3 * t**2, -(t**2)], axis=1)
    idx = np.array([0, 50, 199])
    np.testing.assert_allclose(
        local_slope(t, q, idx, 0.02), np.stack([2 - 6 * t[idx], -2 * t[idx]], 1), atol=1e-8
    )


def test_the_slopes_standard_error_matches_its_scatter_under_white_position_noise():
    t, q, qd = _motion(0)
    rng = np.random.default_rng(1)
    noisy = q + rng.normal(0.0, 2e-3, q.shape)
    index = np.arange(20, t.size - 20, 7)
    slope, err = local_fit(t, noisy, index, 0.01)
    scatter = np.sqrt(np.mean((slope - qd[index]) ** 2))
    predicted = np.sqrt(np.mean(err**2))
    assert predicted == pytest.approx(scatter, rel=0.15)  # the fit's own figure is the real one


def test_three_samples_per_fit_leave_no_residual_and_no_error_figure():
    t, q, _ = _motion(2, rate=50.0)
    _, err = local_fit(t, q, np.arange(t.size), 0.01)  # 0.01 s at 50 Hz: one sample either side
    assert np.all(err == 0.0)


def test_an_accurate_column_is_kept_when_the_positions_are_the_noisy_measurement(caplog):
    """A slow swing (0.19 rad/s RMS) read by a coarse encoder (0.5 mrad steps plus 1 mrad noise) and
    a drive's accurate velocity: the slope disagrees with the column by more than 10 %, but the
    slope is the noisy one; the rule before started every window from it."""
    t, q, qd = _motion(3, amplitude=0.15)
    rng = np.random.default_rng(4)
    coarse = np.round((q + rng.normal(0.0, 1e-3, q.shape)) / 5e-4) * 5e-4
    column = qd + rng.normal(0.0, 0.01, qd.shape)
    slope = local_slope(t, coarse, np.arange(t.size), 0.01)
    assert np.sqrt(np.mean((slope - column) ** 2)) > 0.1 * np.sqrt(np.mean(slope**2))  # the old rule's "fd"
    caplog.set_level(logging.INFO, logger="sim2real.sim.velocity_source")
    assert choose_velocity_source(t, coarse, column, "auto", 0.01, "coarse") == "log"
    assert "noisy positions" in caplog.text


def test_a_noisy_column_gives_way_to_clean_positions():
    t, q, qd = _motion(5)
    rng = np.random.default_rng(6)
    assert choose_velocity_source(t, q, qd + rng.normal(0.0, 0.5, qd.shape), "auto", 0.01, "x") == "fd"
    assert choose_velocity_source(t, q, qd + rng.normal(0.0, 0.01, qd.shape), "auto", 0.01, "x") == "log"


def test_when_both_are_noisy_the_less_noisy_one_wins():
    t, q, qd = _motion(7, amplitude=0.15)
    rng = np.random.default_rng(8)
    noisy_q = q + rng.normal(0.0, 1e-3, q.shape)
    slope_err = np.sqrt(np.mean(local_fit(t, noisy_q, np.arange(t.size), 0.01)[1] ** 2))
    worse = qd + rng.normal(0.0, 3 * slope_err, qd.shape)
    better = qd + rng.normal(0.0, slope_err / 3, qd.shape)
    assert choose_velocity_source(t, noisy_q, worse, "auto", 0.01, "x") == "fd"
    assert choose_velocity_source(t, noisy_q, better, "auto", 0.01, "x") == "log"


@pytest.mark.parametrize("fixed", ["log", "fd"])
def test_a_chosen_source_is_kept(fixed):
    t, q, qd = _motion(9)
    assert choose_velocity_source(t, q, qd + 5.0, fixed, 0.01, "x") == fixed
