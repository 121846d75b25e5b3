"""Trajectory: validation at construction, zero-order-hold commands, slicing, resampling."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from sim2real.errors import LogError
from sim2real.logs import Event, Trajectory


def _simple(**changes) -> Trajectory:
    base = {
        "spec_hash": None,
        "joint_names": ("a", "b"),
        "t": [0.0, 0.1, 0.2, 0.3],
        "q": np.zeros((4, 2)),
        "qd": np.zeros((4, 2)),
        "command_t": [0.05, 0.15],
        "command": [[1.0, 2.0], [3.0, 4.0]],
    }
    return Trajectory(**(base | changes))


class TestValidation:
    def test_partial_efforts_lack_whole_columns_and_stand_for_tau(self):
        partial = np.array([[1.0, np.nan]] * 4)
        tr = _simple(tau_partial=partial)
        assert tr.effort_missing() == ("b",) and tr.efforts_of(["a"]).tolist() == [[1.0]] * 4
        assert tr.efforts_of(["b"]) is None
        assert tr.slice_time(0.1, 0.2).tau_partial.shape == (2, 2)
        assert tr.resample(0.05).efforts_of(["a"]).shape == (7, 1)
        partial[0, 0] = np.nan
        with pytest.raises(LogError, match="whole columns"):
            _simple(tau_partial=partial)
        with pytest.raises(LogError, match="given with tau"):
            _simple(tau=np.zeros((4, 2)), tau_partial=np.array([[1.0, np.nan]] * 4))

    def test_valid_trajectory_normalizes_fields(self):
        tr = _simple(command_joints=None)
        assert tr.command_joints == ("a", "b")
        assert tr.n_joints == 2 and tr.n_samples == 4
        assert tr.duration == pytest.approx(0.3)
        assert tr.q.dtype == np.float64

    def test_arrays_are_read_only_copies(self):
        q = np.zeros((4, 2))
        tr = _simple(q=q)
        q[0, 0] = 5.0
        assert tr.q[0, 0] == 0.0
        with pytest.raises(ValueError, match="read-only"):
            tr.q[0, 0] = 1.0

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"q": np.zeros((3, 2))}, r"Trajectory.q: expected shape \(4, 2\)"),
            ({"qd": np.zeros((4, 3))}, r"Trajectory.qd: expected shape \(4, 2\)"),
            ({"tau": np.zeros(4)}, r"Trajectory.tau: expected 2-D array"),
            ({"t": [0.0, 0.2, 0.1, 0.3]}, r"Trajectory.t: times must be non-decreasing, but t\[2\]=0.1"),
            ({"t": [0.0, 0.0, 0.0, 0.3]}, r"Trajectory.t: 2 of 3 samples repeat the time of the one before"),
            ({"q": np.full((4, 2), np.nan)}, r"Trajectory.q: non-finite value nan at index \(0, 0\)"),
            ({"command_t": [0.2, 0.1]}, r"Trajectory.command_t: times must be non-decreasing"),
            ({"command": [[1.0], [2.0]]}, r"Trajectory.command: expected shape \(2, 2\)"),
            ({"command_joints": ("c",)}, r"command_joints: \['c'\] not in joint_names"),
            ({"joint_names": ("a", "a")}, r"joint_names: duplicate names"),
            ({"joint_names": ()}, r"at least one joint"),
            ({"gyro": np.zeros((1, 3))}, r"\['gyro'\] given without imu_t"),
            ({"imu_t": [0.0], "gyro": np.zeros((1, 3))}, r"Trajectory.accel: required when imu_t is given"),
            (
                {
                    "imu_t": [0.0, 1.0],
                    "gyro": np.zeros((2, 3)),
                    "accel": np.zeros((2, 3)),
                    "quat": np.zeros((2, 3)),
                },
                r"Trajectory.quat: expected shape \(2, 4\)",
            ),
            ({"events": (Event(float("inf"), "x"),)}, r"event 'x' has non-finite time"),
            ({"q": [["x", "y"]] * 4}, r"Trajectory.q: not a numeric array"),
        ],
    )
    def test_bad_field_raises_log_error_naming_it(self, changes, message):
        with pytest.raises(LogError, match=message):
            _simple(**changes)

    def test_events_are_sorted_by_time(self):
        tr = _simple(events=(Event(0.2, "b"), Event(0.1, "a")))
        assert [ev.kind for ev in tr.events] == ["a", "b"]

    def test_no_commands_gives_empty_command_array(self):
        tr = _simple(command_t=[], command=None, command_joints=("b",))
        assert tr.command.shape == (0, 1)
        assert not tr.has_commands


class TestCommandAt:
    def test_zero_order_hold_takes_latest_command_at_or_before(self):
        tr = _simple()
        out = tr.command_at([0.05, 0.1, 0.15, 0.3])
        np.testing.assert_array_equal(out, [[1, 2], [1, 2], [3, 4], [3, 4]])

    def test_time_before_first_command_is_an_error_unless_filled(self):
        tr = _simple()
        with pytest.raises(LogError, match=r"time 0.0 is before the first command at 0.05"):
            tr.command_at([0.0, 0.1])
        np.testing.assert_array_equal(tr.command_at([0.0, 0.1], before_first=0.0), [[0, 0], [1, 2]])

    def test_no_commands(self):
        tr = _simple(command_t=[], command=None)
        with pytest.raises(LogError, match="no commands"):
            tr.command_at([0.1])
        assert tr.command_at([0.1, 0.2], before_first=-1.0).tolist() == [[-1, -1], [-1, -1]]


class TestSliceTime:
    def test_slice_keeps_window_and_command_in_force(self, trajectory):
        t0, t1 = float(trajectory.t[100]), float(trajectory.t[200])
        part = trajectory.slice_time(t0, t1)
        np.testing.assert_array_equal(part.t, trajectory.t[100:201])
        np.testing.assert_array_equal(part.q, trajectory.q[100:201])
        assert part.command_t[0] <= t0 < part.command_t[1]
        np.testing.assert_array_equal(part.command_at(part.t), trajectory.command_at(part.t))
        assert np.all((part.imu_t >= t0) & (part.imu_t <= t1))
        assert part.events == ()  # the stage event is at t[10], the stop at t[-5]
        early = trajectory.slice_time(float(trajectory.t[0]), float(trajectory.t[50]))
        assert [ev.kind for ev in early.events] == ["stage"]

    def test_reversed_window_is_an_error(self, trajectory):
        with pytest.raises(LogError, match="need t0 <= t1"):
            trajectory.slice_time(2.0, 1.0)


class TestResample:
    def test_linear_signals_are_reproduced_on_the_grid(self):
        t = np.array([0.0, 0.013, 0.021, 0.05, 0.06])
        q = np.stack([2.0 * t + 1.0, -t], axis=1)
        tr = Trajectory(None, ("a", "b"), t, q, q * 0.5)
        out = tr.resample(0.01)
        np.testing.assert_allclose(out.t, [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06], atol=1e-15)
        np.testing.assert_allclose(out.q[:, 0], 2.0 * out.t + 1.0, atol=1e-12)
        np.testing.assert_allclose(out.qd[:, 1], -0.5 * out.t, atol=1e-12)
        assert out.meta["resampled_dt"] == 0.01

    def test_bad_dt(self, trajectory):
        with pytest.raises(LogError, match="positive number of seconds"):
            trajectory.resample(0.0)


def test_replace_revalidates(trajectory):
    with pytest.raises(LogError, match=r"Trajectory\.q"):
        dataclasses.replace(trajectory, q=trajectory.q[:-1])


def test_logs_package_imports_neither_torch_nor_mujoco():
    code = "import sys, sim2real.logs; print(sorted({'torch', 'mujoco'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
