"""``sim2real bench live`` and ``bench collision``: short runs report every figure, measured on the
variants they name (a real client process receives what the watched server publishes; the
collision variant runs the detector and the other does not)."""

from __future__ import annotations

import pytest

from sim2real.bench.collision import run as run_collision
from sim2real.bench.live import run as run_live


def test_live_reports_the_three_variants_and_the_client_receives_everything():
    result = run_live(robot="pendulum", block=10, rounds=3)
    assert set(result["cpu_us_per_tick"]) == set(result["us_per_tick"]) == {"baseline", "idle", "watched"}
    assert all(v > 0 for v in result["cpu_us_per_tick"].values())
    assert result["cpu_ratio_watched"] == pytest.approx(
        result["cpu_us_per_tick"]["watched"] / result["cpu_us_per_tick"]["baseline"])
    assert result["messages_published"] > 3 * 30  # state, command, status per tick (and events)
    assert result["messages_received"] == result["messages_published"]


def test_collision_compares_the_monitor_with_and_without_the_detector():
    result = run_collision(robot="furuta", block=10, rounds=3)
    assert set(result["cpu_us_per_tick"]) == {"with", "without"}
    assert result["cpu_ratio"] == pytest.approx(result["cpu_us_per_tick"]["with"] / result["cpu_us_per_tick"]["without"])
    assert result["compute_us"]["with"] > 0 and result["compute_us"]["without"] > 0
    assert result["safety_events"] == {"with": 0, "without": 0}
