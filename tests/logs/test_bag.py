"""rosbag2/MCAP logs: exact round trips, other readers, spec hashes, bad input."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from logs_testdata import SPEC_HASH, make_trajectory
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sim2real.errors import LogError, SpecMismatchError
from sim2real.logs import BagWriter, Trajectory, read_bag, write_bag

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # mcap_ros2.reader warns on import
    from mcap_ros2.reader import read_ros2_messages


def _assert_same(a: Trajectory, b: Trajectory) -> None:
    assert a.joint_names == b.joint_names
    assert a.command_joints == b.command_joints
    assert a.spec_hash == b.spec_hash
    for name in ("t", "q", "qd", "tau", "command_t", "command", "imu_t", "gyro", "accel", "quat"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.events == b.events


def _mcap(bag: Path) -> Path:
    (file,) = bag.glob("*.mcap")
    return file


class TestRoundTrip:
    def test_write_then_read_gives_identical_trajectory(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        back = read_bag(tmp_path / "run")
        _assert_same(back, trajectory)
        assert back.meta["robot"] == "testbot"
        assert back.meta["operator"] == "ci"
        assert back.meta["complete"] is True

    def test_round_trip_without_imu_tau_or_commands(self, tmp_path):
        tr = make_trajectory(seed=3, with_imu=False)
        tr = Trajectory(tr.spec_hash, tr.joint_names, tr.t, tr.q, tr.qd, meta={"robot": "x"})
        write_bag(tmp_path / "run", tr)
        back = read_bag(tmp_path / "run")
        _assert_same(back, tr)
        assert back.tau is None and back.imu_t is None and not back.has_commands

    def test_partial_efforts_survive_the_round_trip(self, tmp_path):
        """write_bag wrote no efforts for a log whose efforts leave a joint out (tau_partial)."""
        tr = make_trajectory(seed=4, with_imu=False)
        partial = np.array(tr.tau, copy=True)
        partial[:, 1] = np.nan
        tr = Trajectory(tr.spec_hash, tr.joint_names, tr.t, tr.q, tr.qd, tau_partial=partial, meta={"robot": "x"})
        write_bag(tmp_path / "run", tr)
        back = read_bag(tmp_path / "run")
        assert back.tau is None and back.effort_missing() == (tr.joint_names[1],)
        np.testing.assert_array_equal(back.tau_partial, partial)

    def test_imu_without_orientation_reads_back_as_none(self, tmp_path):
        with BagWriter(tmp_path / "run", None, ["a"]) as bag:
            for i in range(3):
                bag.write_state(i * 0.1, [i], [0.0])
                bag.write_imu(i * 0.1, [1, 2, 3], [4, 5, 9.81])
        back = read_bag(tmp_path / "run")
        assert back.quat is None
        np.testing.assert_array_equal(back.accel, [[4, 5, 9.81]] * 3)

    def test_imu_with_orientation_in_some_messages_reads_none_and_says_so(self, tmp_path, caplog):
        """It was dropped without a word."""
        with BagWriter(tmp_path / "run", None, ["a"]) as bag:
            for i in range(4):
                bag.write_state(i * 0.1, [i], [0.0])
                bag.write_imu(i * 0.1, [1, 2, 3], [4, 5, 9.81], None if i == 2 else [1, 0, 0, 0])
        with caplog.at_level("WARNING"):
            back = read_bag(tmp_path / "run")
        assert back.quat is None
        assert any("1 of 4 messages give no orientation" in r.getMessage() for r in caplog.records)

    def test_bag_is_readable_by_rosbags_anyreader(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        with AnyReader([tmp_path / "run"]) as reader:
            counts = Counter(c.topic for c, _, _ in reader.messages())
            conn = next(c for c in reader.connections if c.topic == "/joint_states")
            first = reader.deserialize(next(reader.messages([conn]))[2], conn.msgtype)
        assert counts == {
            "/joint_states": trajectory.n_samples,
            "/joint_commands": trajectory.command_t.size,
            "/imu/data": trajectory.imu_t.size,
            "/sim2real/events": 2,
            "/sim2real/meta": 1,
        }
        assert list(first.name) == ["hip", "knee", "wheel"]
        np.testing.assert_array_equal(first.position, trajectory.q[0])

    def test_bag_is_readable_by_mcap_ros2(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        messages = list(read_ros2_messages(str(_mcap(tmp_path / "run"))))
        states = [m.ros_msg for m in messages if m.channel.topic == "/joint_states"]
        commands = [m for m in messages if m.channel.topic == "/joint_commands"]
        imu = [m.ros_msg for m in messages if m.channel.topic == "/imu/data"]
        assert len(states) == trajectory.n_samples
        np.testing.assert_array_equal([s.position for s in states], trajectory.q)
        np.testing.assert_array_equal([s.effort for s in states], trajectory.tau)
        stamps = [s.header.stamp.sec * 10**9 + s.header.stamp.nanosec for s in states]
        np.testing.assert_array_equal(stamps, np.round(trajectory.t * 1e9).astype(np.int64))
        np.testing.assert_array_equal([m.ros_msg.data for m in commands], trajectory.command)
        np.testing.assert_array_equal([m.log_time_ns for m in commands], np.round(trajectory.command_t * 1e9))
        q0 = imu[0].orientation
        np.testing.assert_array_equal([q0.w, q0.x, q0.y, q0.z], trajectory.quat[0])

    def test_bag_time_never_decreases_and_header_keeps_true_stamp(self, tmp_path):
        with BagWriter(tmp_path / "run", None, ["a"]) as bag:
            bag.write_state(1.0, [0.0], [0.0])
            bag.write_imu(0.9, [0, 0, 0], [0, 0, 0])  # an IMU sample that arrives late
            bag.write_state(1.1, [0.0], [0.0])
        log_times = [m.log_time_ns for m in read_ros2_messages(str(_mcap(tmp_path / "run")))]
        assert log_times == sorted(log_times)
        assert read_bag(tmp_path / "run").imu_t.tolist() == [0.9]

    def test_existing_path_is_never_overwritten(self, tmp_path, trajectory):
        (tmp_path / "run").mkdir()
        with pytest.raises(LogError, match="exists already"):
            write_bag(tmp_path / "run", trajectory)

    def test_bag_is_finalized_when_the_block_raises(self, tmp_path):
        with pytest.raises(RuntimeError), BagWriter(tmp_path / "run", SPEC_HASH, ["a"]) as bag:
            bag.write_state(0.0, [1.0], [2.0])
            raise RuntimeError("controller crashed")
        assert (tmp_path / "run" / "metadata.yaml").is_file()
        assert read_bag(tmp_path / "run").q.tolist() == [[1.0]]

    def test_writer_rejects_wrong_shapes_and_bad_times(self, tmp_path):
        with BagWriter(tmp_path / "run", None, ["a", "b"], command_joints=["b"]) as bag:
            with pytest.raises(LogError, match=r"write_state: q: expected shape \(2,\)"):
                bag.write_state(0.0, [1.0], [0.0, 0.0])
            with pytest.raises(LogError, match=r"write_command: command: expected shape \(1,\)"):
                bag.write_command(0.0, [1.0, 2.0])
            with pytest.raises(LogError, match="time must be a finite number of seconds >= 0"):
                bag.write_state(-1.0, [0.0, 0.0], [0.0, 0.0])
            with pytest.raises(LogError, match="JSON-serializable"):
                bag.write_event(0.0, "x", {"obj": object()})


class TestSpecHash:
    def test_hash_is_in_metadata_yaml_custom_data(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        with Reader(tmp_path / "run") as reader:
            custom = reader.storage.metadata.custom
        assert custom["sim2real.spec_hash"] == SPEC_HASH
        assert json.loads(custom["sim2real.meta"])["command_joints"] == ["knee", "hip"]

    def test_hash_is_found_from_meta_topic_without_metadata_yaml(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        (tmp_path / "run" / "metadata.yaml").unlink()
        back = read_bag(tmp_path / "run", expected_hash=SPEC_HASH)
        assert back.spec_hash == SPEC_HASH
        assert back.command_joints == ("knee", "hip")
        assert back.meta["complete"] is False

    def test_hash_is_found_from_custom_data_alone(self, tmp_path):
        """A bag from another recorder (rosbags' own chunked MCAP writer), no meta topic, no velocities."""
        store = get_typestore(Stores.ROS2_HUMBLE)
        js, header, stamp = (
            store.types[n]
            for n in ("sensor_msgs/msg/JointState", "std_msgs/msg/Header", "builtin_interfaces/msg/Time")
        )
        with Writer(tmp_path / "foreign", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            writer.set_custom_data("sim2real.spec_hash", SPEC_HASH)
            conn = writer.add_connection("/joint_states", js.__msgtype__, typestore=store)
            for i in range(5):
                msg = js(
                    header=header(stamp=stamp(sec=1, nanosec=i * 10_000_000), frame_id=""),
                    name=["b", "a"],
                    position=np.array([2.0 * i, -1.0 * i]),
                    velocity=np.zeros(0),
                    effort=np.zeros(0),
                )
                writer.write(conn, 10**9 + i * 10_000_000, store.serialize_cdr(msg, js.__msgtype__))
        back = read_bag(tmp_path / "foreign", expected_hash=SPEC_HASH)
        assert back.joint_names == ("b", "a")
        np.testing.assert_allclose(back.qd, [[200.0, -100.0]] * 5)
        assert "central differences" in back.meta["qd_source"]

    def test_mismatched_hash_raises_naming_both(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        other = "f00d" * 16
        with pytest.raises(SpecMismatchError) as info:
            read_bag(tmp_path / "run", expected_hash=other)
        assert info.value.expected == other and info.value.found == SPEC_HASH
        assert other[:12] in str(info.value) and SPEC_HASH[:12] in str(info.value)

    def test_a_bag_from_another_recorder_is_read_with_a_warning(self, tmp_path, caplog):
        # ros2 bag record's default storage (sqlite3), no sim2real metadata: no hash to check, and
        # commands that do not name their joints (as wide as the robot's actuated joints)
        store = get_typestore(Stores.ROS2_HUMBLE)
        js, header, stamp, array, layout = (
            store.types[n]
            for n in (
                "sensor_msgs/msg/JointState",
                "std_msgs/msg/Header",
                "builtin_interfaces/msg/Time",
                "std_msgs/msg/Float64MultiArray",
                "std_msgs/msg/MultiArrayLayout",
            )
        )
        with Writer(tmp_path / "ros2", version=8, storage_plugin=StoragePlugin.SQLITE3) as writer:
            conn = writer.add_connection("/joint_states", js.__msgtype__, typestore=store)
            cmd = writer.add_connection("/joint_commands", array.__msgtype__, typestore=store)
            for i in range(5):
                msg = js(
                    header=header(stamp=stamp(sec=1, nanosec=i * 10_000_000), frame_id=""),
                    name=["a", "b"],
                    position=np.array([1.0 * i, 2.0 * i]),
                    velocity=np.zeros(0),
                    effort=np.zeros(0),
                )
                writer.write(conn, 10**9 + i * 10_000_000, store.serialize_cdr(msg, js.__msgtype__))
                command = array(layout=layout(dim=[], data_offset=0), data=np.array([0.5 * i]))
                writer.write(cmd, 10**9 + i * 10_000_000, store.serialize_cdr(command, array.__msgtype__))
        with caplog.at_level("WARNING", logger="sim2real.logs.bag"):
            back = read_bag(tmp_path / "ros2", expected_hash=SPEC_HASH, command_joints=("b",))
        assert back.spec_hash is None and back.joint_names == ("a", "b") and back.command_joints == ("b",)
        np.testing.assert_allclose(back.q[:, 1], [0.0, 2.0, 4.0, 6.0, 8.0])
        messages = " ".join(r.getMessage() for r in caplog.records)
        assert "recorded by another tool" in messages and "actuator order" in messages
        with pytest.raises(LogError, match="does not say which joints they drive"):
            read_bag(tmp_path / "ros2")  # without the robot's joints the commands stay ambiguous
        with pytest.raises(LogError, match=r"commanded joints \['c'\] have no /joint_states data"):
            read_bag(tmp_path / "ros2", command_joints=("c",))

    def test_expected_hash_but_a_sim2real_bag_has_none(self, tmp_path):
        with BagWriter(tmp_path / "run", None, ["a"]) as bag:
            bag.write_state(0.0, [0.0], [0.0])
        with pytest.raises(LogError, match=r"records no robot spec hash; expected 5a1b5a1b5a1b"):
            read_bag(tmp_path / "run", expected_hash=SPEC_HASH)


class TestBadInput:
    def _one_line(self, exc: pytest.ExceptionInfo) -> str:
        text = str(exc.value)
        assert "\n" not in text
        return text

    def test_missing_path(self, tmp_path):
        with pytest.raises(LogError, match="no such bag") as info:
            read_bag(tmp_path / "nope")
        assert str(tmp_path / "nope") in self._one_line(info)

    def test_directory_that_is_not_a_bag(self, tmp_path):
        (tmp_path / "notes.txt").write_text("hello")
        with pytest.raises(
            LogError,
            match=r"not a rosbag2 bag \(no metadata.yaml and no .mcap or .db3 file; contains \['notes.txt'\]\)",
        ) as info:
            read_bag(tmp_path)
        self._one_line(info)

    def test_file_that_is_not_mcap(self, tmp_path):
        (tmp_path / "x.mcap").write_bytes(b"not an mcap file at all")
        with pytest.raises(LogError, match="not an MCAP file") as info:
            read_bag(tmp_path / "x.mcap")
        self._one_line(info)

    def test_bag_without_joint_states(self, tmp_path):
        with BagWriter(tmp_path / "run", None, ["a"]) as bag:
            bag.write_command(0.0, [1.0])
        with pytest.raises(LogError, match="no messages on /joint_states") as info:
            read_bag(tmp_path / "run")
        self._one_line(info)

    def test_commands_required_but_absent(self, tmp_path):
        with BagWriter(tmp_path / "run", None, ["a"]) as bag:
            bag.write_state(0.0, [1.0], [0.0])
        assert not read_bag(tmp_path / "run").has_commands
        with pytest.raises(
            LogError, match=r"no commands: no /joint_commands and no other .* among its topics \(/joint_states, /sim2real/meta\)"
        ) as info:
            read_bag(tmp_path / "run", require_commands=True)
        self._one_line(info)

    def test_metadata_yaml_with_broken_storage(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        _mcap(tmp_path / "run").write_bytes(b"")
        with pytest.raises(LogError, match=r"run_0.mcap: not an MCAP file \(0 bytes\)") as info:
            read_bag(tmp_path / "run")
        self._one_line(info)

    def test_metadata_yaml_without_storage(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        _mcap(tmp_path / "run").unlink()
        with pytest.raises(LogError, match="cannot read rosbag2 bag") as info:
            read_bag(tmp_path / "run")
        self._one_line(info)

    def test_topic_with_an_unexpected_type(self, tmp_path):
        store = get_typestore(Stores.ROS2_JAZZY)
        with Writer(tmp_path / "odd", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            conn = writer.add_connection("/joint_states", "std_msgs/msg/String", typestore=store)
            writer.write(
                conn, 1, store.serialize_cdr(store.types["std_msgs/msg/String"](data="x"), conn.msgtype)
            )
        with pytest.raises(
            LogError, match=r"topic /joint_states has type std_msgs/msg/String, expected sensor_msgs"
        ):
            read_bag(tmp_path / "odd")

    def test_metadata_yaml_with_cut_storage_is_recovered(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        file = _mcap(tmp_path / "run")
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
        back = read_bag(tmp_path / "run")
        assert 0 < back.n_samples < trajectory.n_samples
        np.testing.assert_array_equal(back.q, trajectory.q[: back.n_samples])

    def test_reading_the_mcap_file_directly(self, tmp_path, trajectory):
        write_bag(tmp_path / "run", trajectory)
        shutil.copy(_mcap(tmp_path / "run"), tmp_path / "copy.mcap")
        _assert_same(read_bag(tmp_path / "copy.mcap"), trajectory)
