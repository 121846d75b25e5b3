"""``sim2real bench infer``: the figures are all there and measured on the same network."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the benchmark compares against PyTorch (train extra)")

from sim2real.bench.infer import run

KEYS = {
    "step_p50_us",
    "step_p99_us",
    "seed_loader_p50_us",
    "seed_loader_p99_us",
    "torch_p99_us",
    "max_abs_diff",
}


def test_short_run_reports_every_figure():
    result = run(robot="pendulum", calls=1_000, block=100, warmup=100, hidden=(16, 16))
    assert set(result) >= KEYS
    assert result["calls"] == 1_000 and result["hidden"] == [16, 16]
    for key in KEYS - {"max_abs_diff"}:
        assert 0.0 < result[key] < 1e6, key
    assert result["step_p50_us"] <= result["step_p99_us"]
    assert result["max_abs_diff"] <= 1e-5
    assert result["seed_over_step_p99"] == pytest.approx(result["seed_loader_p99_us"] / result["step_p99_us"])
