"""The serial tests' file list `make test` hands from its first pytest run to its second."""

from __future__ import annotations

from serial_files import record


def test_two_workers_recording_the_same_files_leave_each_once_sorted(tmp_path):
    path = tmp_path / "serial.txt"
    record(path, {"tests/ros2/test_node.py", "tests/deploy/test_loop.py"})
    record(path, {"tests/deploy/test_loop.py", "tests/ros2/test_node.py"})  # the other worker
    assert path.read_text().split("\n") == ["tests/deploy/test_loop.py", "tests/ros2/test_node.py", ""]
    assert [p.name for p in tmp_path.iterdir()] == ["serial.txt"]  # no partial file left behind


def test_files_recorded_later_are_added_to_the_list(tmp_path):
    path = tmp_path / "serial.txt"
    record(path, ["tests/real/test_twin.py"])
    record(path, ["tests/deploy/test_loop.py"])
    assert path.read_text().split() == ["tests/deploy/test_loop.py", "tests/real/test_twin.py"]
