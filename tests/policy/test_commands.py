"""The velocity command ranges a policy was trained on, and the warning for a command outside them."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sim2real.errors import PolicyError
from sim2real.policy.commands import command_warning, trained_ranges, warn_command
from sim2real.robots import load_robot
from sim2real.robots.spec import ObservationTerm

CLIPPED = (ObservationTerm("velocity_command", 3, 1.0, 1, ((-1.0, -0.4, -1.0), (1.0, 0.4, 1.0))),)


class TestTrainedRanges:
    def test_the_terms_clip_first_then_the_specs_task_commands(self):
        spec = load_robot("quadruped")
        low, high, clipped = trained_ranges(spec, CLIPPED)
        assert low.tolist() == [-1.0, -0.4, -1.0] and high.tolist() == [1.0, 0.4, 1.0] and clipped
        low, high, clipped = trained_ranges(spec, (ObservationTerm("velocity_command", 3),))
        assert not clipped and np.all(low < 0) and np.all(high > 0)
        assert trained_ranges(spec, (ObservationTerm("base_ang_vel", 3),)) is None


class TestCommandWarning:
    def test_a_command_outside_the_trained_ranges_is_one_line_naming_the_value_and_range(self, caplog):
        spec = load_robot("quadruped")
        with caplog.at_level(logging.WARNING):
            line = warn_command(spec, CLIPPED, (1.5, 0.0, 0.0))
        assert line == (
            "--velocity-command lies outside the ranges the policy was trained on: vx 1.5 m/s not in [-1, 1] "
            "(the policy sees it clipped to 1 0 0)"
        )
        assert [r.getMessage() for r in caplog.records] == [line]

    def test_a_command_inside_or_none_is_quiet(self):
        spec = load_robot("quadruped")
        assert command_warning(spec, CLIPPED, (1.0, -0.4, 0.5)) is None
        assert command_warning(spec, CLIPPED, None) is None
        line = command_warning(spec, (ObservationTerm("velocity_command", 3),), (0.0, 0.0, 9.0))
        # the ranges are the spec's task's, not necessarily the policy's (one imported from elsewhere
        # states none): the line says whose they are
        assert "outside the command ranges of the spec's task" in line and "never saw" in line


def test_a_command_for_a_policy_that_observes_none_is_refused():
    spec = load_robot("furuta")
    with pytest.raises(PolicyError, match=r"takes no velocity command .*drop --velocity-command"):
        warn_command(spec, spec.observation, (0.5, 0.0, 0.0))
    assert warn_command(spec, spec.observation, None) is None
