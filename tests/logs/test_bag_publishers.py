"""A second publisher of the same joints on /joint_states (a joint_state_publisher left running
beside the driver): its messages are told apart or refused, never read as the robot's motion."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from logs_testdata import EPOCH, STEP, foreign_state, write_foreign

from sim2real.errors import LogError
from sim2real.logs import read_bag
from sim2real.logs.bag_publishers import jumps

NAMES = ("a", "b", "c")
N = 60


def _pose(i: int) -> list[float]:
    """The driver's positions at sample i: a slow swing of each joint around its own pose."""
    return [0.5 + 0.3 * np.sin(0.2 * i), -1.0 + 0.2 * np.cos(0.15 * i), 0.8 + 0.1 * np.sin(0.1 * i)]


def _bag(tmp_path, every: int, other_fields: bool, offset: int = STEP // 3):
    """The driver's N samples (with velocities) and, every ``every`` samples, another publisher's
    default pose (0, 0, 0), positions only when ``other_fields``."""
    states = [
        (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, NAMES, _pose(i), [0.1, 0.1, 0.1]))
        for i in range(N)
    ]
    for i in range(1, N - 1, every):
        ns = EPOCH + i * STEP + offset
        states.append(
            (ns, foreign_state(ns, NAMES, [0.0, 0.0, 0.0], [] if other_fields else [0.0, 0.0, 0.0]))
        )
    states.sort(key=lambda s: s[0])
    commands = [(EPOCH + i * STEP, [0.0, 0.0, 0.0]) for i in range(N)]
    return write_foreign(tmp_path / "bag", states, commands)


class TestSecondPublisher:
    @pytest.mark.parametrize("every", [5, 1], ids=["every-fifth", "taking-turns"])
    def test_its_messages_of_other_fields_are_dropped_with_a_warning(self, tmp_path, caplog, every):
        """They were read as the robot jumping to (0, 0, 0) and back, its velocities all
        differentiated from those jumps."""
        with caplog.at_level(logging.WARNING):
            back = read_bag(_bag(tmp_path, every, other_fields=True), command_joints=NAMES)
        np.testing.assert_allclose(back.q, [_pose(i) for i in range(N)])
        assert back.meta.get("qd_source") is None  # the driver's velocities, not differences
        dropped = len(range(1, N - 1, every))
        assert any(
            f"{dropped} of {N + dropped} messages jump to another pose and back" in r.getMessage()
            and "dropped" in r.getMessage()
            for r in caplog.records
        )

    def test_its_messages_of_the_same_fields_are_one_error_line(self, tmp_path):
        with pytest.raises(LogError) as err:
            read_bag(_bag(tmp_path, 5, other_fields=False), command_joints=NAMES)
        text = str(err.value)
        assert "\n" not in text and "12 of 72 messages jump to another pose" in text
        assert "two publishers on the topic" in text

    def test_a_drivers_dropouts_in_the_place_of_samples_are_read_with_a_warning(self, tmp_path, caplog):
        # three samples of one driver read as zeros: no second publisher (they replace samples, they
        # come between none), so the log is read as recorded, said (it was refused as two publishers)
        glitches = {10, 25, 40}
        states = [
            (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, NAMES, [0.0] * 3 if i in glitches else _pose(i), [0.1] * 3))
            for i in range(N)
        ]
        commands = [(EPOCH + i * STEP, [0.0, 0.0, 0.0]) for i in range(N)]
        with caplog.at_level(logging.WARNING):
            back = read_bag(write_foreign(tmp_path / "bag", states, commands), command_joints=NAMES)
        assert back.q.shape == (N, 3)
        assert any("3 of 60 messages jump" in r.getMessage() and "glitches" in r.getMessage() for r in caplog.records)


class TestJumps:
    def test_an_oscillation_sampled_four_times_a_period_does_not_jump(self):
        t = np.arange(200)
        q = np.stack([np.sin(np.pi / 2 * t + k) for k in range(4)], axis=1)  # every joint turning together
        assert not jumps(q).any()

    def test_positions_at_random_are_no_second_publisher(self, tmp_path):
        rng = np.random.default_rng(0)
        q = rng.normal(size=(300, 3))
        states = [
            (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, NAMES, q[i], [0.0] * 3)) for i in range(300)
        ]
        back = read_bag(write_foreign(tmp_path / "bag", states, []), command_joints=NAMES)
        np.testing.assert_array_equal(back.q, q)
