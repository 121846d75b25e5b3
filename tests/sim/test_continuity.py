"""Jumps of a log's joint positions (episode resets, wrapped angles) that replay windows skip."""

from __future__ import annotations

import numpy as np

from sim2real.sim.continuity import JUMP_MARGIN, clear_windows, pauses, position_jumps


def _swing(rate: float = 500.0, seconds: float = 2.0, speed: float = 3.0):
    t = np.arange(0.0, seconds, 1.0 / rate)
    q = np.stack([np.sin(speed * t), 0.5 * np.cos(2 * speed * t)], axis=1)
    qd = np.stack([speed * np.cos(speed * t), -speed * np.sin(2 * speed * t)], axis=1)
    return t, q, qd


class TestPositionJumps:
    def test_smooth_motion_has_none(self):
        assert position_jumps(*_swing()).size == 0

    def test_a_reset_between_two_samples_is_found_where_it_is(self):
        t, q, qd = _swing()
        q[400:, 1] += 3.0 * JUMP_MARGIN  # the second joint put elsewhere between samples 399 and 400
        np.testing.assert_array_equal(position_jumps(t, q, qd), [399])

    def test_a_change_within_the_margin_is_motion(self):
        t, q, qd = _swing()
        q[400:, 0] += 0.5 * JUMP_MARGIN
        assert position_jumps(t, q, qd).size == 0

    def test_fast_motion_is_no_jump_even_without_logged_velocities(self):
        # 20 rad/s logged at 50 Hz: 0.4 rad per sample, and a velocity column of zeros
        t = np.arange(0.0, 1.0, 0.02)
        q = (20.0 * t)[:, None]
        assert position_jumps(t, q, np.zeros_like(q)).size == 0

    def test_a_wrapped_angle_is_a_jump(self):
        t = np.arange(0.0, 1.0, 0.002)
        q = np.angle(np.exp(1j * 5.0 * t))[:, None]  # 5 rad/s, wrapped to (-pi, pi]
        jumps = position_jumps(t, q, np.full_like(q, 5.0))
        assert jumps.size == 1 and q[jumps[0], 0] > 3.0 and q[jumps[0] + 1, 0] < -3.0

    def test_a_single_sample_has_none(self):
        assert position_jumps(np.zeros(1), np.zeros((1, 2)), np.zeros((1, 2))).size == 0


class TestClearWindows:
    def _jumped(self):
        t, q, qd = _swing()  # 500 Hz, 2 s
        q[500:, 0] += 1.0  # a jump between samples 499 and 500 (t = 0.998 -> 1.0 s)
        return t, q, qd

    def test_only_windows_that_span_the_jump_are_left_out(self):
        t, q, qd = self._jumped()
        starts = np.arange(0, 1000, 125)  # 0.25 s windows
        clear = clear_windows(t, q, qd, starts, 0.25, 0.0, "log")
        np.testing.assert_array_equal(clear, [True, True, True, False, True, True, True, True])

    def test_windows_left_out_are_counted_in_a_warning(self, caplog):
        t, q, qd = self._jumped()
        clear_windows(t, q, qd, np.arange(0, 1000, 125), 0.25, 0.0, "run.csv")
        assert "run.csv: 1 of 8 replay windows span one of the 1 jumps" in caplog.text
        assert "wrapped at +-pi" in caplog.text
        caplog.clear()
        t, q, qd = _swing()
        clear_windows(t, q, qd, np.arange(0, 1000, 125), 0.25, 0.0, "run.csv")
        assert "replay windows" not in caplog.text  # none left out: nothing said

    def test_the_time_before_a_window_counts_too(self):
        t, q, qd = self._jumped()
        starts = np.array([500, 505, 520])  # 0, 10 and 40 ms after the jump
        np.testing.assert_array_equal(
            clear_windows(t, q, qd, starts, 0.25, 0.02, "log"), [False, False, True]
        )

    def test_a_whole_log_replay_keeps_its_window_and_warns(self, caplog):
        t, q, qd = self._jumped()
        assert clear_windows(t, q, qd, np.array([0]), 2.0, 0.0, "log", windowed=False).all()
        assert "jump at 1 instants" in caplog.text


class TestPauses:
    def _paused(self):
        t, q, qd = _swing(rate=50.0, seconds=6.0)  # 50 Hz
        keep = (t < 2.0) | (t >= 3.5)  # the recorder paused 1.5 s: the robot moved on meanwhile
        return t[keep], q[keep], qd[keep]

    def test_a_pause_of_the_log_is_found_and_dropouts_are_not(self):
        t, _, _ = self._paused()
        np.testing.assert_array_equal(pauses(t), [99])
        assert pauses(np.delete(np.arange(0.0, 2.0, 0.02), [10, 11, 12])).size == 0  # 3 messages lost

    def test_windows_across_a_pause_are_left_out_and_said(self, caplog):
        t, q, qd = self._paused()
        assert position_jumps(t, q, qd).size == 0  # the motion over 1.5 s explains the change
        starts = np.searchsorted(t, [0.0, 1.9, 3.5])
        clear = clear_windows(t, q, qd, starts, 2.0, 0.0, "log")  # before: all kept, the second compared
        np.testing.assert_array_equal(clear, [True, False, True])  # across the pause with the sim
        assert "log: the log pauses 1 time (" in caplog.text and "the longest 1.52 s, 1.980 s in" in caplog.text
