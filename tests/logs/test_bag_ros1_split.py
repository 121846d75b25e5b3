"""ROS 1 recordings split by ``rosbag record --split`` (``NAME_0.bag``, ``NAME_1.bag``, ...): their
folder reads as one run, in time order; one part given alone reads alone, with a warning naming the
folder; a folder of bags that are not one recording's parts is one error line."""

from __future__ import annotations

import logging

import pytest
from logs_testdata import make_trajectory
from ros1_testdata import assert_same_run, unindexed, write_ros1, write_ros1_parts

from sim2real.errors import LogError
from sim2real.logs import read_bag

CMD = ("knee", "hip")


@pytest.fixture
def whole(tmp_path):
    """(the run, the same run read from one ROS 1 bag)."""
    run = make_trajectory()
    return run, read_bag(write_ros1(tmp_path / "whole.bag", run), command_joints=CMD)


def _refused(path, match: str) -> str:
    with pytest.raises(LogError, match=match) as err:
        read_bag(path, command_joints=CMD)
    assert "\n" not in str(err.value)
    return str(err.value)


class TestOneRun:
    def test_the_folder_of_the_parts_reads_as_the_whole_bag(self, tmp_path, whole):
        """The folder was refused ('give each .bag file as a log')."""
        run, want = whole
        write_ros1_parts(tmp_path / "split", run, ("run_0.bag", "run_1.bag", "run_2.bag"))
        got = read_bag(tmp_path / "split", command_joints=CMD)
        assert_same_run(got, want)
        assert got.meta["complete"] is True

    def test_parts_named_by_their_dates_read_in_the_order_of_their_numbers(self, tmp_path, whole):
        """rosbag record's default names carry the date each part started: the number orders them."""
        run, want = whole
        names = tuple(f"2024-03-0{9 - k}-10-00-00_{k}.bag" for k in range(3))  # dates sort backwards
        write_ros1_parts(tmp_path / "split", run, names)
        assert_same_run(read_bag(tmp_path / "split", command_joints=CMD), want)

    def test_twelve_parts_read_in_the_order_of_their_numbers(self, tmp_path, whole):
        run, want = whole
        write_ros1_parts(tmp_path / "split", run, tuple(f"run_{k}.bag" for k in range(12)))
        assert_same_run(read_bag(tmp_path / "split", command_joints=CMD), want)

    def test_the_part_a_killed_recorder_left_open_is_read_by_scanning(self, tmp_path, whole):
        run, want = whole
        parts = write_ros1_parts(tmp_path / "split", run, ("run_0.bag", "run_1.bag"))
        active = parts[1].with_name("run_1.bag.active")
        active.write_bytes(unindexed(parts[1].read_bytes()))
        parts[1].unlink()
        got = read_bag(tmp_path / "split", command_joints=CMD)
        assert_same_run(got, want)
        assert got.meta["complete"] is False

    def test_a_folder_of_one_bag_reads_as_that_bag(self, tmp_path, whole):
        run, want = whole
        (tmp_path / "one").mkdir()
        write_ros1(tmp_path / "one" / "run.bag", run)
        assert_same_run(read_bag(tmp_path / "one", command_joints=CMD), want)

    def test_one_part_given_alone_reads_alone_with_a_warning(self, tmp_path, whole, caplog):
        run, _ = whole
        parts = write_ros1_parts(tmp_path / "split", run, ("run_0.bag", "run_1.bag", "run_2.bag"))
        with caplog.at_level(logging.WARNING):
            got = read_bag(parts[0], command_joints=CMD)
        assert got.t[-1] < run.t[len(run.t) // 2]
        (line,) = [r.getMessage() for r in caplog.records if "split recording" in r.getMessage()]
        assert (
            "part 0 of a split recording of 3 parts" in line
            and f"give the folder {tmp_path / 'split'}" in line
        )

    def test_parts_left_by_max_splits_read_with_a_warning_once(self, tmp_path, whole, caplog):
        """rosbag record --max-splits deletes the oldest parts: the folder starts at part 3."""
        run, want = whole
        parts = write_ros1_parts(tmp_path / "split", run, ("run_3.bag", "run_4.bag"))
        with caplog.at_level(logging.WARNING):
            assert_same_run(read_bag(tmp_path / "split", command_joints=CMD), want)
        assert [r.getMessage() for r in caplog.records if "starts at part 3" in r.getMessage()]
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            read_bag(parts[0], command_joints=CMD)
        assert not [r for r in caplog.records if "starts at part" in r.getMessage()]  # the part alone
        assert [r for r in caplog.records if "part 3 of a split recording of 2 parts" in r.getMessage()]

    def test_the_backup_rosbag_reindex_keeps_is_left_out(self, tmp_path, whole):
        """rosbag reindex run_1.bag.active keeps the unindexed original as run_1.bag.orig.active."""
        run, want = whole
        parts = write_ros1_parts(tmp_path / "split", run, ("run_0.bag", "run_1.bag.active"))
        parts[1].with_name("run_1.bag.orig.active").write_bytes(unindexed(parts[1].read_bytes()))
        assert_same_run(read_bag(tmp_path / "split", command_joints=CMD), want)


class TestNotOneRecording:
    def test_bags_without_part_numbers(self, tmp_path, whole):
        run, _ = whole
        write_ros1_parts(tmp_path / "two", run, ("a.bag", "b.bag"))
        _refused(
            tmp_path / "two",
            r"2 ROS 1 bags that are not the parts of one split recording .*give each .bag file as a log",
        )

    def test_two_recordings_of_the_same_part_numbers(self, tmp_path, whole):
        run, _ = whole
        write_ros1_parts(tmp_path / "two", run, ("a_0.bag", "a_1.bag", "b_0.bag", "b_1.bag"))
        _refused(tmp_path / "two", r"a_0.bag shares its part number")

    def test_a_missing_part(self, tmp_path, whole):
        run, _ = whole
        parts = write_ros1_parts(tmp_path / "split", run, ("run_0.bag", "run_1.bag", "run_2.bag"))
        parts[1].unlink()
        _refused(tmp_path / "split", r"part 1 of the split recording run_0.bag, run_2.bag is missing")

    def test_parts_that_overlap_in_time(self, tmp_path, whole):
        run, _ = whole
        (tmp_path / "two").mkdir()
        write_ros1(tmp_path / "two" / "x_0.bag", run)
        write_ros1(tmp_path / "two" / "x_1.bag", run)
        _refused(
            tmp_path / "two", r"x_1.bag starts .* s before x_0.bag ends: not the parts of one split recording"
        )
