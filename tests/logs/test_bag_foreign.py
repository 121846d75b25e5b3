"""Bags from other recorders (``ros2 bag record`` on a ros2_control robot): command joints,
two clocks, out-of-order and duplicate joint states, several publishers on /joint_states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from logs_testdata import EPOCH, STEP, foreign_state, write_foreign
from rosbags.rosbag2 import StoragePlugin

from sim2real.errors import LogError
from sim2real.logs import BagWriter, read_bag


def _run(path: Path, names=("a", "b"), n: int = 20, stamp_offset: int = 0, cmd_width: int = 2, **kw) -> Path:
    """n samples of q = (i, 10 i, ...), recorded at EPOCH + i STEP, stamped stamp_offset later."""
    states = [
        (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP + stamp_offset, names, [i * 10.0**k for k in range(len(names))], **kw))
        for i in range(n)
    ]
    commands = [(EPOCH + i * STEP, [float(i)] * cmd_width) for i in range(n)]
    return write_foreign(path, states, commands)


class TestCommandJoints:
    def test_joint_states_order_differing_from_the_actuator_order_is_refused(self, tmp_path):
        bag = _run(tmp_path / "bag", names=("b", "a"))
        with pytest.raises(LogError) as exc:
            read_bag(bag, command_joints=("a", "b"))
        text = str(exc.value)
        assert "\n" not in text and "['b', 'a']" in text and "['a', 'b']" in text
        assert "--command-order" in text

    def test_same_order_or_only_unactuated_joints_between_is_accepted(self, tmp_path):
        back = read_bag(_run(tmp_path / "same", names=("a", "b")), command_joints=("a", "b"))
        assert back.command_joints == ("a", "b")
        # "c" is not actuated: /joint_states restricted to a, b is in the actuator order
        back = read_bag(_run(tmp_path / "extra", names=("a", "c", "b"), cmd_width=3), command_joints=("a", "b"))
        assert back.command_joints == ("a", "c", "b")

    def test_joint_states_split_over_messages_have_no_order_to_take_commands_in(self, tmp_path):
        # one message per leg, arriving in either order: the order of first appearance (b, a) is chance
        states = []
        for i in range(20):
            ns = EPOCH + i * STEP
            legs = (("b",), ("a",)) if i % 2 == 0 else (("a",), ("b",))
            states += [(ns + k, foreign_state(ns, leg, [float(i)])) for k, leg in enumerate(legs)]
        bag = write_foreign(tmp_path / "bag", states, [(EPOCH + i * STEP, [float(i), -float(i)]) for i in range(20)])
        with pytest.raises(LogError) as exc:
            read_bag(bag, command_joints=("a", "b"))
        text = str(exc.value)  # before: offered --command-order states, the chance order b, a
        assert "different orders or subsets from one message to the next" in text and "--command-order states" not in text
        with pytest.raises(LogError, match=r"--command-order states: the /joint_states messages name their joints in "
                           "different orders"):
            read_bag(bag, command_joints=("a", "b"), command_order="states")
        back = read_bag(bag, command_joints=("a", "b"), command_order="robot")
        assert back.command_joints == ("a", "b")
        np.testing.assert_array_equal(back.command[:, 1], -np.arange(20.0))

    def test_a_sim2real_bag_names_its_command_joints(self, tmp_path):
        with BagWriter(tmp_path / "own", None, ["b", "a"]) as bag:
            for i in range(3):
                bag.write_state(i * 0.01, [0.0, 0.0], [0.0, 0.0])
                bag.write_command(i * 0.01, [1.0, 2.0])
        assert read_bag(tmp_path / "own", command_joints=("a", "b")).command_joints == ("b", "a")


class TestClocks:
    @pytest.mark.parametrize("offset", [-50_000_000, 1234 * 10**9 - EPOCH])
    def test_states_of_a_foreign_bag_are_on_the_commands_clock(self, tmp_path, offset, caplog):
        # stamps 50 ms early, or on the robot's boot clock; the recorder timed both streams alike
        with caplog.at_level("WARNING"):
            back = read_bag(_run(tmp_path / "bag", stamp_offset=offset))
        np.testing.assert_allclose(back.t - back.command_t, 0.0, atol=1e-9)
        np.testing.assert_allclose(np.diff(back.t), STEP / 1e9, atol=1e-6)
        (line,) = [r.getMessage() for r in caplog.records if "header stamps" in r.getMessage()]
        assert f"{abs(offset) / 1e9:.6g} s" in line and "recording clock" in line

    def test_zero_header_stamps_are_timed_by_the_recording_time_and_said(self, tmp_path, caplog):
        """A driver that never fills the stamp: the recording time was used without a word."""
        with caplog.at_level("WARNING"):
            states = [(EPOCH + i * STEP, foreign_state(0, ["a"], [float(i)], [0.0])) for i in range(20)]
            back = read_bag(write_foreign(tmp_path / "bag", states, []))
        np.testing.assert_array_equal(np.round(back.t * 1e9), EPOCH + np.arange(20) * STEP)
        (line,) = [r.getMessage() for r in caplog.records if "stamp 0" in r.getMessage()]
        assert "/joint_states: 20 of 20 messages have header stamp 0" in line and "recording time" in line

    def test_sim2real_bags_starting_at_time_zero_say_nothing_of_stamps(self, tmp_path, caplog):
        with BagWriter(tmp_path / "own", None, ["a"]) as bag:
            for i in range(3):
                bag.write_state(i * 0.01, [0.0], [0.0])
        with caplog.at_level("WARNING"):
            read_bag(tmp_path / "own")
        assert not [r for r in caplog.records if "stamp" in r.getMessage()]

    def test_small_latency_is_not_reported(self, tmp_path, caplog):
        with caplog.at_level("WARNING"):
            back = read_bag(_run(tmp_path / "bag", stamp_offset=-500_000))
        assert not [r for r in caplog.records if "header stamps" in r.getMessage()]
        np.testing.assert_allclose(back.t - back.command_t, 0.0, atol=1e-9)

    @pytest.mark.parametrize("step", [-10**9, 100 * 10**9])
    def test_a_step_of_the_senders_clock_keeps_both_stretches_on_the_recording_clock(self, tmp_path, caplog, step):
        # the robot's clock steps back 1 s (or forward 100 s, NTP after boot) at sample 8 of 20:
        # one offset for all put one stretch on top of the other (or 100 s away)
        states = [
            (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP - 700_000 + (step if i >= 8 else 0), ["a"], [float(i)], [100.0]))
            for i in range(20)
        ]
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, [(EPOCH + i * STEP, [float(i)]) for i in range(20)]))
        np.testing.assert_array_equal(back.q[:, 0], np.arange(20.0))
        np.testing.assert_allclose(back.t - back.command_t, 0.0, atol=1e-9)
        (line,) = [r.getMessage() for r in caplog.records if "jump by" in r.getMessage()]
        assert f"jump by {step / 1e9:+.6g} s 0.080 s into the recording" in line
        # the offset reported is the longer stretch's (samples 8-19), not one between the stretches
        (line,) = [r.getMessage() for r in caplog.records if "another clock" in r.getMessage()]
        offset = 700_000 - step  # recording time - stamp after the step [ns]
        assert f"header stamps are {abs(offset) / 1e9:.6g} s {'behind' if offset > 0 else 'ahead of'}" in line

    def test_a_step_halfway_reports_no_offset_between_the_stretches(self, tmp_path, caplog):
        # two stretches of 10: a median over both said the stamps were 0.5 s behind (none was)
        states = [
            (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP - 700_000 - (10**9 if i >= 10 else 0), ["a"], [float(i)], [100.0]))
            for i in range(20)
        ]
        with caplog.at_level("WARNING"):
            read_bag(write_foreign(tmp_path / "bag", states, []))
        assert not [r for r in caplog.records if "another clock" in r.getMessage()]

    def test_one_late_message_is_no_clock_step(self, tmp_path, caplog):
        # the recorder stalled for 0.3 s on one message: its stamp still holds
        states = [(EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, ["a"], [float(i)], [100.0])) for i in range(20)]
        states[8] = (EPOCH + 8 * STEP + 300_000_000, states[8][1])
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, []))
        np.testing.assert_allclose(back.t - back.t[0], np.arange(20) * STEP / 1e9, atol=1e-6)
        assert not [r for r in caplog.records if "jump by" in r.getMessage() or "stale" in r.getMessage()]

    def test_sim2real_bags_keep_their_header_stamps(self, tmp_path):
        with BagWriter(tmp_path / "own", None, ["a"]) as bag:
            bag.write_state(1.0, [0.0], [0.0])
            bag.write_state(0.5, [1.0], [0.0])  # logged at bag time 1.0, stamped 0.5
        assert list(read_bag(tmp_path / "own").t) == [0.5, 1.0]


class TestOrderAndDuplicates:
    def _states(self, n: int = 10) -> list[tuple[int, object]]:
        return [(EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, ["a"], [float(i)])) for i in range(n)]

    def test_out_of_order_messages_are_sorted_with_a_warning(self, tmp_path, caplog):
        states = self._states()
        (r4, m4), (r5, m5) = states[4], states[5]
        states[4], states[5] = (r4, m5), (r5, m4)  # sample 5 arrives before sample 4
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, []))
        np.testing.assert_array_equal(back.q[:, 0], np.arange(10.0))
        assert any("1 messages arrived out of time order" in r.getMessage() for r in caplog.records)

    def test_exact_duplicates_are_dropped_with_a_count(self, tmp_path, caplog):
        states = self._states()
        states += [(ns + 100_000, msg) for ns, msg in states[3:5]]  # published twice
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, []))  # no velocities: differentiated
        np.testing.assert_array_equal(back.q[:, 0], np.arange(10.0))
        np.testing.assert_allclose(back.qd[:, 0], 100.0, rtol=1e-4)
        assert any("2 exact duplicate messages" in r.getMessage() for r in caplog.records)

    @pytest.mark.parametrize("velocities", [False, True])
    def test_a_stale_stamp_with_new_values_is_timed_by_its_recording_time(self, tmp_path, caplog, velocities):
        # sample 5 carries sample 4's stamp (a driver that did not renew it): with velocities the
        # log was read without a word, sample 4 twice and no sample 5
        states = [
            (EPOCH + i * STEP + 300_000, foreign_state(EPOCH + i * STEP, ["a"], [float(i)], [100.0] if velocities else []))
            for i in range(10)
        ]
        states[5] = (states[5][0], foreign_state(EPOCH + 4 * STEP, ["a"], [5.0], [100.0] if velocities else []))
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, []))
        np.testing.assert_array_equal(back.q[:, 0], np.arange(10.0))
        np.testing.assert_allclose(np.diff(back.t), STEP / 1e9, atol=1e-6)
        np.testing.assert_allclose(back.qd[:, 0], 100.0, rtol=1e-4)
        (line,) = [r.getMessage() for r in caplog.records if "stale stamp" in r.getMessage()]
        assert "bag: /joint_states: 1 messages repeat the header stamp" in line

    def test_velocities_in_only_some_messages_are_differentiated_with_a_warning(self, tmp_path, caplog):
        # every third message of a driver lacks velocities: refused before as "message 0 has 1
        # names but 0 velocity values"
        states = [(EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, ["a"], [float(i)], [] if i % 3 == 0 else [99.0])) for i in range(10)]
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, []))
        np.testing.assert_allclose(back.qd[:, 0], 100.0, rtol=1e-4)  # not the recorded 99
        assert back.meta["qd_source"].startswith("central differences")
        assert any("only 6 of 10 messages carry velocity values" in r.getMessage() for r in caplog.records)

    def test_time_errors_of_other_streams_name_the_file(self, tmp_path, monkeypatch):
        import sim2real.logs.bag_streams as streams_module

        with BagWriter(tmp_path / "own", None, ["a"]) as bag:
            bag.write_state(0.0, [0.0], [0.0])
        monkeypatch.setattr(streams_module, "tracks", lambda base: {"base_truth": "not a track"})
        with pytest.raises(LogError, match=r"own: Trajectory.base_truth"):
            read_bag(tmp_path / "own")


class TestSeveralPublishers:
    def test_a_gripper_driver_publishing_first_and_slower(self, tmp_path, caplog):
        states = []
        for i in range(20):
            ns = EPOCH + i * STEP
            states.append((ns, foreign_state(ns, ["a", "b"], [i, 10.0 * i], [1.0, 10.0])))
            if i % 5 == 0 and i < 16:  # the gripper: first, every fifth sample, stops at sample 15
                states.append((ns - 1000, foreign_state(ns - 1000, ["grip"], [0.01], [0.0])))
        with caplog.at_level("WARNING"):
            back = read_bag(write_foreign(tmp_path / "bag", states, [(EPOCH, [1.0])]), command_joints=("b",))
        assert set(back.joint_names) == {"grip", "a", "b"} and back.command_joints == ("b",)
        a, b = back.joint_names.index("a"), back.joint_names.index("b")
        # cut to the gripper's span: its last message is 1 us before sample 15
        np.testing.assert_array_equal(back.q[:, a], np.arange(15.0))
        np.testing.assert_array_equal(back.q[:, b], 10.0 * np.arange(15.0))
        np.testing.assert_array_equal(back.qd[:, b], 10.0)
        assert any("5 of a's 20 samples" in r.getMessage() for r in caplog.records)

    def test_one_message_per_joint(self, tmp_path):
        states = [
            (EPOCH + i * STEP + j, foreign_state(EPOCH + i * STEP, [name], [i * 10.0**j]))
            for i in range(10)
            for j, name in enumerate(("a", "b"))
        ]
        back = read_bag(write_foreign(tmp_path / "bag", states, []))
        assert back.joint_names == ("a", "b") and len(back.t) == 10
        np.testing.assert_array_equal(back.q, np.stack([np.arange(10.0), 10.0 * np.arange(10.0)], axis=1))
        np.testing.assert_allclose(back.qd[:, 1], 1000.0, rtol=1e-4)  # differentiated
        assert back.meta["qd_source"]

    def test_a_commanded_joint_that_never_appears_is_refused(self, tmp_path):
        states = [(EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, ["a"] if i % 2 else ["x"], [0.0])) for i in range(10)]
        with pytest.raises(LogError, match=r"commanded joints \['b'\] have no /joint_states data"):
            read_bag(write_foreign(tmp_path / "bag", states, [(EPOCH, [1.0])]), command_joints=("b",))


class TestStorage:
    """sqlite3 (``.db3``, ``ros2 bag record``'s default before Iron) as well as MCAP; bags that lost
    their ``metadata.yaml`` (copied without it, recorder killed); bags split into several files."""

    def _parts(self, tmp_path: Path, storage: StoragePlugin, names: tuple[str, ...]) -> list[Path]:
        """One recording of 20 samples, written as len(names) consecutive bags."""
        n = len(names)
        out = []
        for k, name in enumerate(names):
            i0, i1 = 20 * k // n, 20 * (k + 1) // n
            states = [(EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, ["a"], [float(i)], [100.0])) for i in range(i0, i1)]
            commands = [(EPOCH + i * STEP, [float(i)]) for i in range(i0, i1)]
            out.append(write_foreign(tmp_path / name, states, commands, storage))
        return out

    @staticmethod
    def _check(back) -> None:
        np.testing.assert_array_equal(back.q[:, 0], np.arange(20.0))
        np.testing.assert_array_equal(back.command[:, 0], np.arange(20.0))
        np.testing.assert_allclose(back.t - back.command_t, 0.0, atol=1e-9)

    @pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP], ids=["sqlite3", "mcap"])
    def test_a_bag_without_metadata_yaml_is_read_from_its_storage_file(self, tmp_path, storage):
        (bag,) = self._parts(tmp_path, storage, ("bag",))
        (bag / "metadata.yaml").unlink()
        back = read_bag(bag)
        self._check(back)
        assert back.meta["complete"] is False  # nothing says the recorder closed it
        (file,) = [p for p in bag.iterdir() if p.suffix in (".db3", ".mcap")]
        self._check(read_bag(file))  # the storage file itself

    @pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP], ids=["sqlite3", "mcap"])
    def test_a_split_bag_without_metadata_is_read_in_the_order_of_its_numbers(self, tmp_path, storage, caplog):
        parts = self._parts(tmp_path, storage, ("p9", "p10"))
        bag = tmp_path / "run"
        bag.mkdir()
        for number, part in zip((9, 10), parts, strict=True):  # run_10 sorts before run_9 by name
            (file,) = [p for p in part.iterdir() if p.suffix in (".db3", ".mcap")]
            file.rename(bag / f"run_{number}{file.suffix}")
        with caplog.at_level("WARNING"):
            self._check(read_bag(bag))
        assert any("reading its 2 storage files in order" in r.getMessage() for r in caplog.records)

    def test_a_directory_with_mcap_and_db3_files_is_refused(self, tmp_path):
        mcap, db3 = self._parts(tmp_path, StoragePlugin.MCAP, ("m",))[0], self._parts(tmp_path, StoragePlugin.SQLITE3, ("d",))[0]
        bag = tmp_path / "run"
        bag.mkdir()
        for part in (mcap, db3):
            for p in part.iterdir():
                if p.suffix in (".db3", ".mcap"):
                    p.rename(bag / p.name)
        with pytest.raises(LogError, match=r"run: both .mcap and .db3 files and no metadata.yaml"):
            read_bag(bag)


class TestNothingToRead:
    def test_a_bag_of_only_other_types_says_it_has_no_joint_states(self, tmp_path):
        """No topic of a role: nothing is decoded (rosbags reads every topic when given none)."""
        from rosbags.rosbag2 import Writer

        with Writer(tmp_path / "bag", version=9) as writer:
            conn = writer.add_connection("/odd", "my_msgs/msg/Odd", msgdef="float64 x", rihs01="RIHS01_" + "0" * 64)
            writer.write(conn, 1, b"\x00\x01\x00\x00" + bytes(8))
        with pytest.raises(LogError, match="no messages on /joint_states"):
            read_bag(tmp_path / "bag")


class TestNonFinitePositions:
    def test_a_nan_position_is_the_one_error_before_any_velocity_warning(self, tmp_path, caplog):
        # NaN velocities too: the warning "carry no velocity values" came before the position error,
        # which read "Trajectory.q: non-finite value nan at index (5, 0)" (no topic, joint or time)
        nan = float("nan")
        states = [
            (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, ("a", "b"), [nan if i == 5 else i, 1.0], [nan, nan]))
            for i in range(20)
        ]
        bag = write_foreign(tmp_path / "bag", states, [(EPOCH + i * STEP, [0.0, 0.0]) for i in range(20)])
        with caplog.at_level("WARNING", logger="sim2real"), pytest.raises(LogError) as exc:
            read_bag(bag)
        text = str(exc.value)
        assert "/joint_states: the position of joint 'a' is nan in message 6 of 20 (t = 0.050 s)" in text, text
        assert "record it again" in text and "\n" not in text
        assert [r.getMessage() for r in caplog.records if r.levelno >= 30] == []
