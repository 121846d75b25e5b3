"""Velocities by central differences on irregular timestamps, with optional smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.errors import LogError
from sim2real.logs.derivative import central_difference, describe_method


class TestCentralDifference:
    def test_exact_for_quadratics_inside_and_linear_at_the_ends(self):
        rng = np.random.default_rng(1)
        t = np.cumsum(rng.uniform(0.001, 0.003, size=200))
        q = np.stack([3.0 * t**2 - t, 2.0 * t + 0.5], axis=1)
        qd = central_difference(t, q)
        np.testing.assert_allclose(qd[1:-1, 0], 6.0 * t[1:-1] - 1.0, rtol=0, atol=1e-9)
        np.testing.assert_allclose(qd[:, 1], 2.0, rtol=0, atol=1e-9)

    def test_smoothing_keeps_linear_ramps_and_averages_noise(self):
        rng = np.random.default_rng(2)
        t = np.arange(2000) * 0.002
        ramp = np.stack([0.7 * t], axis=1)
        np.testing.assert_allclose(central_difference(t, ramp, smooth_window=5), 0.7, atol=1e-9)
        noisy = ramp + np.round(rng.normal(scale=0.01, size=ramp.shape) / 0.003) * 0.003  # encoder-like steps
        raw = central_difference(t, noisy)
        smooth = central_difference(t, noisy, smooth_window=9)
        assert np.std(smooth - 0.7) < 0.5 * np.std(raw - 0.7)
        assert abs(np.mean(smooth) - 0.7) < 0.05

    def test_window_shrinks_symmetrically_at_the_ends(self):
        t = np.arange(5.0)
        q = np.array([[0.0], [1.0], [4.0], [9.0], [16.0]])
        qd = central_difference(t, q, smooth_window=3)
        raw = central_difference(t, q)
        assert qd[0, 0] == raw[0, 0] and qd[-1, 0] == raw[-1, 0]
        assert qd[1, 0] == pytest.approx(raw[:3, 0].mean())

    @pytest.mark.parametrize(
        ("t", "q", "window", "message"),
        [
            ([0.0, 1.0], [[0.0], [1.0]], 2, "positive odd number"),
            ([0.0], [[0.0]], 1, "need at least 2 samples"),
            ([0.0, 1.0, 1.0], [[0.0], [1.0], [2.0]], 1, r"strictly increasing .* t\[1\]=1.0 and t\[2\]=1.0"),
            ([0.0, 1.0], [0.0, 1.0], 1, r"need t \(T,\) and q \(T, n\)"),
        ],
    )
    def test_bad_input(self, t, q, window, message):
        with pytest.raises(LogError, match=message):
            central_difference(np.array(t), np.array(q), window)

    def test_description_names_the_window(self):
        assert "5 samples" in describe_method(5)
        assert "moving average" not in describe_method(1)
