"""Joint states with values that are not a number: a joint without a velocity or effort interface
(a gripper, a wheel), an effort sensor dropping out, beside measured positions and joints."""

from __future__ import annotations

import numpy as np
import pytest
from logs_testdata import EPOCH, HEADER, JS, STEP, TIME, write_foreign

from sim2real.logs import read_bag

N = 40


def _state(i: int, names=("a", "b", "grip"), vel=None, eff=None) -> tuple[int, object]:
    """Sample i: a at 0.1 i (velocity 10), b at -0.2 i (velocity -20), the gripper still."""
    ns = EPOCH + i * STEP
    q = {"a": 0.1 * i, "b": -0.2 * i, "grip": 0.01}
    qd = {"a": 10.0, "b": -20.0, "grip": 0.0} | (vel or {})
    tau = {"a": 1.0 + i, "b": 2.0, "grip": 0.5} | (eff or {})
    msg = JS(
        header=HEADER(stamp=TIME(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=""),
        name=list(names),
        position=np.array([q[n] for n in names]),
        velocity=np.array([qd[n] for n in names]),
        effort=np.array([tau[n] for n in names]),
    )
    return ns, msg


def _commands() -> list[tuple[int, list[float]]]:
    return [(EPOCH + i * STEP, [0.0, 0.0]) for i in range(N)]


NAN = float("nan")


class TestNotANumber:
    def test_a_joint_without_velocity_or_effort_interface_is_read_with_the_others(self, tmp_path, caplog):
        # before: 'Trajectory.qd: non-finite value nan at index (0, 2)' refused the whole log
        states = [_state(i, vel={"grip": NAN}, eff={"grip": NAN}) for i in range(N)]
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, _commands()), command_joints=("a", "b"))
        np.testing.assert_array_equal(back.qd[:, :2], np.tile([10.0, -20.0], (N, 1)))
        np.testing.assert_allclose(back.qd[:, 2], 0.0, atol=1e-12)  # differentiated: the gripper stands still
        np.testing.assert_array_equal(back.tau[:, 0], 1.0 + np.arange(N))
        np.testing.assert_array_equal(back.tau[:, 2], 0.0)
        said = " ".join(r.getMessage() for r in caplog.records)
        assert "the velocity of grip is not a number in 40 of 40 messages: differentiated" in said
        assert "no effort from grip (not a number throughout), which no command drives: read as 0" in said

    def test_a_commanded_joint_without_efforts_leaves_the_efforts_unread(self, tmp_path, caplog):
        states = [_state(i, eff={"a": NAN}) for i in range(N)]
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, _commands()), command_joints=("a", "b"))
        assert back.tau is None
        assert any(
            "the effort of a is not a number in 40 of 40 messages" in r.getMessage() for r in caplog.records
        )
        # the others' efforts stay for the fits that can leave a joint out (was: lost with it)
        assert back.effort_missing() == ("a",)
        np.testing.assert_array_equal(back.efforts_of(["b", "grip"]), np.tile([2.0, 0.5], (N, 1)))
        assert back.efforts_of(["a", "b"]) is None

    def test_a_topic_without_efforts_beside_one_with_them_loses_only_its_joints(self, tmp_path):
        # an arm's driver with efforts on /joint_states, the gripper's without on its own topic
        from logs_testdata import STORE
        from rosbags.rosbag2 import Writer

        with Writer(tmp_path / "bag", version=9) as writer:
            arm = writer.add_connection("/joint_states", JS.__msgtype__, typestore=STORE)
            grip = writer.add_connection("/gripper/joint_states", JS.__msgtype__, typestore=STORE)
            for i in range(N):
                ns, msg = _state(i, names=("a", "b"))
                writer.write(arm, ns, STORE.serialize_cdr(msg, JS.__msgtype__))
                ns, msg = _state(i, names=("grip",))
                msg.effort = np.zeros(0)
                writer.write(grip, ns + 1000, STORE.serialize_cdr(msg, JS.__msgtype__))
        back = read_bag(tmp_path / "bag")  # no commands: every joint is taken as commanded
        assert back.tau is None and back.effort_missing() == ("grip",)  # was: no efforts at all
        np.testing.assert_allclose(back.efforts_of(["a"])[:, 0], 1.0 + np.arange(N))

    @pytest.mark.parametrize("split", [False, True], ids=["one_message", "one_message_per_joint"])
    def test_a_short_effort_dropout_is_filled_between_its_neighbours(self, tmp_path, caplog, split):
        states = []
        for i in range(N):
            eff = {"a": NAN} if i in (10, 11, 12) else None
            if split:  # one message per joint, as per-bus drivers publish
                states += [_state(i, names=(n,), eff=eff) for n in ("a", "b", "grip")]
            else:
                states.append(_state(i, eff=eff))
        with caplog.at_level("WARNING"):
            back = read_bag(
                write_foreign(tmp_path / "bag", states, _commands()),
                command_joints=("a", "b"),
                command_order="robot",
            )
        np.testing.assert_allclose(back.tau[:, 0], 1.0 + np.arange(N), rtol=1e-9)  # linear: filled exactly
        np.testing.assert_array_equal(back.tau[:, 1], 2.0)
        assert any(
            "the effort of a is not a number in a few messages: filled" in r.getMessage()
            for r in caplog.records
        )


class TestNotANumberCommands:
    def test_a_nan_command_holds_the_joints_previous_one_and_leading_ones_are_dropped(self, tmp_path, caplog):
        # before: 'Trajectory.command: non-finite value nan at index (0, 0)' refused the log
        states = [_state(i) for i in range(N)]
        commands = [
            (EPOCH + i * STEP, [NAN if i < 2 else float(i), NAN if i == 7 else -float(i)]) for i in range(N)
        ]
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, commands), command_joints=("a", "b"))
        assert len(back.command_t) == N - 2
        np.testing.assert_array_equal(back.command[:, 0], np.arange(2.0, N))
        np.testing.assert_array_equal(back.command[5, 1], -6.0)  # i = 7: i = 6's held
        assert any(
            "3 of 40 commands hold values that are not a number" in r.getMessage() for r in caplog.records
        )
