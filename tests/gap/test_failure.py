"""Failure analysis: episodes, failure judgement, divergence point and first-diverged channels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gap_testdata import pendulum_log

from sim2real.gap import measure_gap
from sim2real.gap.failure import (
    FailureConfig,
    analyze_episode,
    analyze_failures,
    episode_spans,
    first_crossings,
    judge_episode,
)
from sim2real.logs.trajectory import Event
from sim2real.robots import load_robot
from sim2real.tasks import get_task


@pytest.fixture(scope="module")
def spec():
    return load_robot("pendulum")


def _ramps(t: np.ndarray) -> dict[str, np.ndarray]:
    """Constructed errors: b passes 1 at t = 1 s, a passes 0.1 at t = 2 s, c never passes 5."""
    return {"a": 0.05 * t, "b": -(t**2), "c": np.sin(t)}


class TestFirstCrossings:
    def test_channels_are_ranked_by_their_first_crossing(self):
        t = np.linspace(0.0, 3.0, 301)
        ranked = first_crossings(t, _ramps(t), {"a": 0.1, "b": 1.0, "c": 5.0})
        assert [c.channel for c in ranked] == ["b", "a"]
        assert ranked[0].t == pytest.approx(1.0, abs=0.011)
        assert ranked[1].t == pytest.approx(2.0, abs=0.011)
        assert ranked[0].error > ranked[0].threshold

    def test_errors_below_every_threshold_give_no_channel(self):
        t = np.linspace(0.0, 1.0, 11)
        assert first_crossings(t, {"a": np.zeros(11)}, {"a": 0.1}) == []

    def test_divergence_point_is_the_first_sample_past_the_threshold(self):
        t = np.linspace(0.0, 3.0, 301)
        err = np.exp(t) - 1.0  # passes 1 at t = ln 2
        point, ranked = analyze_episode(t, _ramps(t), {"a": 0.1, "b": 1.0, "c": 5.0}, err, 1.0)
        assert t[point] == pytest.approx(np.log(2.0), abs=0.011)
        assert ranked[0].channel == "b"


class TestEpisodes:
    def test_a_log_without_events_is_one_episode(self):
        log = pendulum_log()
        assert episode_spans(log) == [(log.t[0], log.t[-1])]

    def test_accepted_resets_start_episodes_and_refused_ones_do_not(self):
        log = dataclasses.replace(
            pendulum_log(),
            events=(
                Event(0.0, "start"),
                Event(1.0, "reset", {"accepted": True}),
                Event(2.0, "reset", {"accepted": False}),
            ),
        )
        spans = episode_spans(log)
        assert [s[0] for s in spans] == [log.t[0], 1.0]
        assert spans[-1][1] == log.t[-1]

    def test_a_safety_stop_fails_the_episode_at_its_time(self, spec):
        log = dataclasses.replace(
            pendulum_log(),
            events=(Event(1.5, "safety", {"severity": "safe_stop", "message": "hinge velocity 25 > 20"}),),
        )
        reason, end = judge_episode(log, (log.t[0], log.t[-1]), None, spec)
        assert reason == "safety stop: hinge velocity 25 > 20" and end == 1.5

    def test_hanging_pendulum_fails_the_upright_rule(self, spec):
        log = pendulum_log()
        reason, _ = judge_episode(log, (log.t[0], log.t[-1]), get_task("pendulum"), spec)
        assert reason == "success rule not met"


class TestAnalyzeFailures:
    def test_failed_open_loop_replay_reports_divergence_and_first_channel(self, spec):
        log = pendulum_log()
        result = measure_gap(spec, log, threshold=0.05)
        failures = analyze_failures(spec, log, result, task=get_task("pendulum"))
        assert len(failures) == 1
        f = failures[0]
        assert f.reason == "success rule not met"
        assert f.divergence_t is not None and f.divergence_state is not None
        assert f.first_channels, "the nominal model departs from the hidden one"
        first = f.first_channels[0]
        assert first.t <= f.first_channels[-1].t
        assert first.channel in f.errors and abs(first.error) > first.threshold
        summary = dataclasses.replace(result, failures=failures).summary()
        assert summary["failures"][0]["first_diverged"][0]["channel"] == first.channel

    def test_without_failures_nothing_is_reported(self, spec):
        log = pendulum_log()
        result = measure_gap(spec, log, horizon=0.5)
        assert analyze_failures(spec, log, result, task=None) == ()
        assert result.summary()["failures"] == []

    def test_channel_thresholds_are_configurable(self, spec):
        log = dataclasses.replace(pendulum_log(), events=(Event(2.0, "safety", {"severity": "safe_stop"}),))
        result = measure_gap(spec, log)
        strict = analyze_failures(spec, log, result, config=FailureConfig(velocity_threshold=1e-6))
        assert strict[0].first_channels[0].channel == "hinge.velocity"
        assert strict[0].reason == "safety stop" and strict[0].t_end == 2.0
