"""Speed progression: a stage advances only after its dwell time without a safety event."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim2real.deploy.safety import SafetyConfigError, SafetyMonitor
from sim2real.deploy.speed import DEFAULT_STAGES, SpeedConfig, SpeedProgression, StageChange
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.robots import load_robot


class TestConfig:
    def test_defaults(self):
        config = SpeedConfig()
        assert config.stages == DEFAULT_STAGES == (0.10, 0.25, 0.50, 0.75, 1.00)
        assert config.dwell_s > 0 and config.start_stage == 0

    def test_is_frozen(self):
        with pytest.raises(dataclasses.FrozenInstanceError):
            SpeedConfig().dwell_s = 1.0  # type: ignore[misc]

    def test_variants_are_built_with_replace(self):
        config = dataclasses.replace(SpeedConfig(), dwell_s=2.0, start_stage=2)
        assert config.dwell_s == 2.0 and SpeedProgression.from_config(config).fraction == 0.5

    def test_every_field_has_a_docstring(self):
        import ast
        import inspect

        from sim2real.deploy import speed

        tree = ast.parse(inspect.getsource(speed))
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SpeedConfig")
        body = cls.body
        for i, node in enumerate(body):
            if isinstance(node, ast.AnnAssign):
                following = body[i + 1]
                assert isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"stages": ()},
            {"stages": (0.5, 0.25)},
            {"stages": (0.5, 0.5)},
            {"stages": (0.0, 1.0)},
            {"stages": (0.5, 1.5)},
            {"stages": (math.nan,)},
            {"dwell_s": 0.0},
            {"dwell_s": -1.0},
            {"dwell_s": math.inf},
            {"start_stage": 5},
            {"start_stage": -1},
            {"start_stage": True},
        ],
    )
    def test_rejects_bad_settings(self, kwargs):
        with pytest.raises(SafetyConfigError):
            SpeedConfig(**kwargs)
        with pytest.raises(Sim2RealError):
            SpeedProgression(**kwargs)


class TestProgression:
    def test_starts_at_the_first_stage(self):
        progression = SpeedProgression(dwell_s=5.0)
        assert progression.stage == 0 and progression.fraction == 0.10 and not progression.finished

    def test_advances_only_after_the_dwell_without_events(self):
        progression = SpeedProgression(dwell_s=5.0)
        assert progression.update(100.0, False) is None  # starts the timer
        assert progression.update(104.9, False) is None
        assert progression.stage == 0
        change = progression.update(105.0, False)
        assert isinstance(change, StageChange)
        assert (change.previous_stage, change.stage, change.fraction, change.t) == (0, 1, 0.25, 105.0)
        assert progression.fraction == 0.25
        assert "0.25" in change.message

    def test_an_event_restarts_the_dwell(self):
        progression = SpeedProgression(dwell_s=5.0)
        progression.update(0.0, False)
        assert progression.update(4.0, True) is None  # event at 4 s: the dwell starts again
        assert progression.update(8.9, False) is None
        assert progression.stage == 0
        assert progression.update(9.0, False) is not None
        assert progression.stage == 1

    def test_an_event_at_the_dwell_end_blocks_the_advance(self):
        progression = SpeedProgression(dwell_s=1.0)
        progression.update(0.0, False)
        assert progression.update(1.0, True) is None
        assert progression.stage == 0

    def test_each_stage_needs_its_own_dwell(self):
        progression = SpeedProgression(dwell_s=1.0)
        progression.update(0.0, False)
        assert progression.update(50.0, False) is not None  # one stage per update, however long
        assert progression.stage == 1
        assert progression.update(50.5, False) is None
        assert progression.update(51.0, False) is not None
        assert progression.stage == 2

    def test_walks_through_all_stages_and_stops_at_the_last(self):
        progression = SpeedProgression(dwell_s=1.0)
        fractions = [progression.fraction]
        for k in range(0, 20):
            change = progression.update(float(k), False)
            if change is not None:
                fractions.append(change.fraction)
        assert fractions == list(DEFAULT_STAGES)
        assert progression.finished and progression.update(100.0, False) is None
        assert progression.fraction == 1.0

    def test_clock_going_backwards_restarts_the_dwell(self):
        progression = SpeedProgression(dwell_s=1.0)
        progression.update(10.0, False)
        assert progression.update(5.0, False) is None
        assert progression.update(5.9, False) is None
        assert progression.update(6.0, False) is not None

    def test_non_finite_now_changes_nothing(self):
        progression = SpeedProgression(dwell_s=1.0)
        progression.update(0.0, False)
        assert progression.update(math.nan, False) is None
        assert progression.update(math.inf, False) is None
        assert progression.stage == 0
        assert progression.update(1.0, False) is not None

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(
        steps=st.lists(
            st.tuples(st.floats(min_value=0.0, max_value=2.0), st.booleans()), min_size=1, max_size=60
        ),
        dwell=st.floats(min_value=0.1, max_value=3.0),
    )
    def test_every_advance_follows_a_full_eventless_dwell(self, steps, dwell):
        progression = SpeedProgression(dwell_s=dwell)
        now = 0.0
        quiet_since = None  # time of the last event, stage change or first update
        for dt, had_event in steps:
            now += dt
            before = progression.stage
            change = progression.update(now, had_event)
            if change is None:
                assert progression.stage == before
            else:
                assert not had_event and quiet_since is not None
                assert now - quiet_since >= dwell
                assert progression.stage == before + 1
            if quiet_since is None or had_event or change is not None:
                quiet_since = now


class TestStartAt:
    def test_by_index(self):
        progression = SpeedProgression()
        assert progression.start_at(3) == 0.75 and progression.stage == 3

    def test_by_fraction(self):
        progression = SpeedProgression()
        assert progression.start_at(0.5) == 0.5 and progression.stage == 2

    @pytest.mark.parametrize("stage", [5, -1, 0.3, 2.0 + 1e-6, True])
    def test_rejects_unknown_stages(self, stage):
        with pytest.raises(SafetyConfigError):
            SpeedProgression().start_at(stage)

    def test_restarts_the_dwell(self):
        progression = SpeedProgression(dwell_s=1.0)
        progression.update(0.0, False)
        progression.start_at(1)
        assert progression.update(1.5, False) is None  # the timer starts again here
        assert progression.update(2.5, False) is not None
        assert progression.stage == 2

    def test_start_stage_in_constructor(self):
        assert SpeedProgression(start_stage=4).finished


def test_stage_fraction_drives_the_monitor_rate_limit():
    """The progression's fraction scales the monitor's command rate (pendulum: 200 N m/s)."""
    spec = load_robot("pendulum")
    progression = SpeedProgression(dwell_s=0.02)
    monitor = SafetyMonitor(spec, progression.fraction)
    dt = spec.control_dt
    steps = []
    previous = 0.0
    for k in range(40):
        now = k * dt
        decision = monitor.filter_command([2.0 if k % 2 else -2.0], Reading(t=now, q=[0.0], qd=[0.0]), now)
        value = float(decision.command.values[0])
        steps.append((abs(value - previous), monitor.speed_fraction))
        previous = value
        change = progression.update(now, had_event=False)
        if change is not None:
            monitor.set_speed_fraction(change.fraction)
    for step, fraction in steps[1:]:
        assert step <= 200.0 * fraction * dt * (1 + 1e-9)
    assert monitor.speed_fraction == 1.0
    assert max(step for step, _ in steps[1:]) == pytest.approx(200.0 * dt)
