"""Timing helpers of the benchmarks: the summary of interleaved rounds, on constructed times."""

from __future__ import annotations

import pytest

from sim2real.bench.timing import interleaved_summary

TIMES = {
    "base": {"wall": [10.0, 30.0, 12.0], "cpu": [8.0, 9.0, 100.0]},
    "a": {"wall": [20.0, 22.0, 24.0, 26.0], "cpu": [18.0, 17.0, 19.0, 16.0]},
    "b": {"wall": [15.0], "cpu": [13.5]},
}
"""Per loop, per round: the mean time per tick [us] (rounds of uneven counts, outliers included)."""


class TestInterleavedSummary:
    def test_medians_per_loop_over_the_rounds(self):
        out = interleaved_summary(TIMES, "base", {"a": ""})
        assert out["us_per_tick"] == {"base": 12.0, "a": 23.0, "b": 15.0}
        assert out["cpu_us_per_tick"] == {"base": 9.0, "a": 17.5, "b": 13.5}

    def test_one_compared_loop_gets_plain_keys(self):
        out = interleaved_summary(TIMES, "base", {"a": ""})
        assert set(out) == {"cpu_us_per_tick", "us_per_tick", "cpu_ratio", "added_cpu_us", "wall_ratio"}
        assert out["cpu_ratio"] == pytest.approx(17.5 / 9.0)
        assert out["added_cpu_us"] == pytest.approx(8.5)
        assert out["wall_ratio"] == pytest.approx(23.0 / 12.0)

    def test_several_compared_loops_get_suffixed_keys_and_wall_ratios_where_asked(self):
        out = interleaved_summary(TIMES, "base", {"a": "_a", "b": "_b"}, wall=("b",))
        assert list(out) == [
            "cpu_us_per_tick", "us_per_tick", "cpu_ratio_a", "cpu_ratio_b", "added_cpu_us_a", "added_cpu_us_b",
            "wall_ratio_b",
        ]
        assert out["cpu_ratio_b"] == pytest.approx(1.5) and out["added_cpu_us_b"] == pytest.approx(4.5)
        assert out["wall_ratio_b"] == pytest.approx(15.0 / 12.0)
