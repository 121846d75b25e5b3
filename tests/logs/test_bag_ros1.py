"""Reading ROS 1 bags (``.bag``): the same run as a sim2real rosbag2 bag, topics found as in rosbag2
bags of other recorders, their clocks, types the bag defines itself, and one error line for each bad
file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from logs_testdata import make_trajectory, write_foreign
from ros1_testdata import (
    ARRAY,
    JS,
    LAYOUT,
    NOETIC,
    _header,
    assert_same_run,
    ros1_messages,
    write_high_state_ros1,
    write_ros1,
    write_unitree_ros1,
)
from rosbags.rosbag1 import Writer
from rosbags.typesys import get_types_from_msg, get_typestore
from rosbags.typesys.stores import Stores
from unitree_testdata import GO2_ORDER, quadruped_run, write_unitree

from sim2real.errors import LogError, SpecMismatchError
from sim2real.logs import read_bag, write_bag


@pytest.fixture
def run(tmp_path):
    """(sim2real rosbag2 bag, the run it holds) of the synthetic three-joint run."""
    bag = tmp_path / "ref"
    write_bag(bag, make_trajectory())
    return bag, read_bag(bag)


class TestSameRun:
    @pytest.mark.parametrize(
        "compression",
        [None, Writer.CompressionFormat.BZ2, Writer.CompressionFormat.LZ4],
        ids=["plain", "bz2", "lz4"],
    )
    def test_a_ros1_bag_reads_as_the_rosbag2_bag_of_the_run(self, tmp_path, run, compression, caplog):
        _, want = run
        bag = write_ros1(tmp_path / "run.bag", want, compression=compression, chunk_bytes=4096)  # many chunks
        with caplog.at_level(logging.WARNING):
            got = read_bag(bag, command_joints=want.command_joints, expected_hash=want.spec_hash)
        assert_same_run(got, want)
        assert got.spec_hash is None and got.meta["complete"] and got.meta["source"] == str(bag)
        assert "recorded by another tool (no spec hash)" in caplog.text  # a foreign recording

    def test_it_reads_as_another_recorders_rosbag2_bag_of_the_same_messages(self, tmp_path, run):
        _, want = run
        offset = 3_000_000_000  # the recorder's clock 3 s after the stamps
        msgs = [
            (ns + offset, topic, typ, msg)
            for ns, topic, typ, msg in ros1_messages(want)
            if topic != "/imu/data"
        ]
        ros1 = tmp_path / "offset.bag"
        with Writer(ros1) as writer:
            conns = {}
            for ns, topic, typ, msg in msgs:
                conn = conns.get(topic) or conns.setdefault(
                    topic, writer.add_connection(topic, typ, typestore=NOETIC)
                )
                writer.write(conn, ns, NOETIC.serialize_ros1(msg, typ))
        states = [(ns, _jazzy_state(m)) for ns, topic, _, m in msgs if topic == "/joint_states"]
        commands = [(ns, list(m.data)) for ns, topic, _, m in msgs if topic == "/joint_commands"]
        rosbag2 = write_foreign(tmp_path / "foreign", states, commands)
        kw = {"command_joints": want.command_joints}
        got, other = read_bag(ros1, **kw), read_bag(rosbag2, **kw)
        assert_same_run(got, other)
        np.testing.assert_array_equal(
            np.round(got.t * 1e9), np.round(want.t * 1e9) + offset
        )  # the recording clock

    def test_a_topic_split_over_two_publishers_reads_whole(self, tmp_path, run):
        _, want = run
        bag = tmp_path / "two.bag"
        with Writer(bag) as writer:
            conns = {}
            for k, (ns, topic, typ, msg) in enumerate(ros1_messages(want)):
                caller = f"/driver{k % 2}" if topic == "/joint_states" else "/node"
                key = (topic, caller)
                if key not in conns:
                    conns[key] = writer.add_connection(topic, typ, typestore=NOETIC, callerid=caller)
                writer.write(conns[key], ns, NOETIC.serialize_ros1(msg, typ))
        assert_same_run(read_bag(bag, command_joints=want.command_joints), want)

    def test_topics_of_other_names_are_found_by_type_or_named(self, tmp_path, run, caplog):
        _, want = run
        topics = {
            "state": "/robot/joint_states",
            "imu": "/imu",
            "command": "/forward_position_controller/commands",
        }
        bag = write_ros1(tmp_path / "named.bag", want, topics=topics)
        with caplog.at_level(logging.INFO):
            got = read_bag(bag, command_joints=want.command_joints)
        assert_same_run(got, want)
        assert "commands read from /forward_position_controller/commands" in caplog.text
        chosen = read_bag(bag, command_joints=want.command_joints, topics={"imu": "/imu"})
        np.testing.assert_array_equal(chosen.gyro, want.gyro)
        with pytest.raises(LogError, match="--topic imu=/imu_raw: the bag has no such topic"):
            read_bag(bag, topics={"imu": "/imu_raw"})

    def test_a_file_of_another_name_starting_like_a_ros1_bag_is_read_as_one(self, tmp_path, run):
        _, want = run
        bag = write_ros1(tmp_path / "run.bag", want)
        plain = bag.rename(tmp_path / "recording")
        assert_same_run(read_bag(plain, command_joints=want.command_joints), want)

    def test_a_converted_sim2real_bag_keeps_its_spec_hash(self, tmp_path, run):
        _, want = run
        bag = tmp_path / "meta.bag"
        string = NOETIC.types["std_msgs/msg/String"]
        meta = json.dumps(
            {
                "format": "sim2real.log/1",
                "spec_hash": want.spec_hash,
                "joint_names": ["hip", "knee", "wheel"],
                "command_joints": ["knee", "hip"],
                "robot": "testbot",
                "meta": {},
            }
        )
        with Writer(bag) as writer:
            conn = writer.add_connection("/sim2real/meta", "std_msgs/msg/String", typestore=NOETIC)
            writer.write(conn, 0, NOETIC.serialize_ros1(string(data=meta), "std_msgs/msg/String"))
            conns = {}
            for ns, topic, typ, msg in ros1_messages(want):
                c = conns.get(topic) or conns.setdefault(
                    topic, writer.add_connection(topic, typ, typestore=NOETIC)
                )
                writer.write(c, ns, NOETIC.serialize_ros1(msg, typ))
        got = read_bag(bag, expected_hash=want.spec_hash)
        assert got.spec_hash == want.spec_hash and got.command_joints == ("knee", "hip")
        with pytest.raises(SpecMismatchError):
            read_bag(bag, expected_hash="0" * 64)


def _jazzy_state(msg):
    """A Noetic JointState as the ROS 2 one (no ``seq``)."""
    from logs_testdata import foreign_state

    stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
    js = foreign_state(stamp, msg.name, msg.position, msg.velocity)
    js.effort = msg.effort
    return js


class TestTypesTheBagDefines:
    OLD_JOINT_STATE = (
        "Header header\nstring[] name\nfloat32[] position\nfloat32[] velocity\nfloat32[] effort\n"
    )
    """A JointState of another definition (float32 values): its MD5 sum is not Noetic's."""

    def test_a_standard_name_of_another_definition_is_decoded_with_the_bags(self, tmp_path, run):
        _, want = run
        store = get_typestore(Stores.EMPTY)
        store.register(get_types_from_msg(self.OLD_JOINT_STATE, "sensor_msgs/msg/JointState"))
        store.register(get_types_from_msg("uint32 seq\ntime stamp\nstring frame_id\n", "std_msgs/msg/Header"))
        old = store.types["sensor_msgs/msg/JointState"]
        header = store.types["std_msgs/msg/Header"]
        time = store.types["builtin_interfaces/msg/Time"]
        bag = tmp_path / "old.bag"
        with Writer(bag) as writer:
            msgdef, md5 = store.generate_msgdef("sensor_msgs/msg/JointState")
            assert md5 != NOETIC.generate_msgdef("sensor_msgs/msg/JointState")[1]
            js = writer.add_connection(
                "/joint_states", "sensor_msgs/msg/JointState", msgdef=msgdef, md5sum=md5
            )
            for i, t in enumerate(want.t):
                ns = round(t * 1e9)
                msg = old(
                    header=header(seq=i, stamp=time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=""),
                    name=list(want.joint_names),
                    position=want.q[i].astype(np.float32),
                    velocity=want.qd[i].astype(np.float32),
                    effort=np.zeros(0, dtype=np.float32),
                )
                writer.write(js, ns, store.serialize_ros1(msg, "sensor_msgs/msg/JointState"))
        got = read_bag(bag)
        np.testing.assert_array_equal(got.q, want.q.astype(np.float32))
        np.testing.assert_array_equal(np.round(got.t * 1e9), np.round(want.t * 1e9))

    def test_a_type_of_another_definition_without_its_text_is_refused(self, tmp_path, run):
        _, want = run
        bag = tmp_path / "nodef.bag"
        with Writer(bag) as writer:
            js = writer.add_connection(
                "/joint_states", "sensor_msgs/msg/JointState", msgdef="", md5sum="0" * 32
            )
            ns, _, typ, msg = ros1_messages(want)[0]
            writer.write(js, ns, NOETIC.serialize_ros1(msg, typ))
        with pytest.raises(LogError, match="whose definition the bag does not carry") as err:
            read_bag(bag)
        assert "\n" not in str(err.value)


class TestBadFiles:
    @pytest.fixture
    def good(self, tmp_path, run) -> Path:
        return write_ros1(tmp_path / "good.bag", run[1])

    @staticmethod
    def _refused(path: Path, match: str) -> str:
        with pytest.raises(LogError, match=match) as err:
            read_bag(path)
        text = str(err.value)
        assert "\n" not in text and text.startswith(str(path))
        return text

    def test_a_text_file_named_bag(self, tmp_path):
        (tmp_path / "notes.bag").write_text("not a bag\n")
        (tmp_path / "empty.bag").write_bytes(b"")
        self._refused(tmp_path / "notes.bag", r"not a ROS 1 bag \(it does not start with '#ROSBAG V2.0'\)")
        self._refused(tmp_path / "empty.bag", r"not a ROS 1 bag \(an empty file\)")

    def test_another_format_version(self, tmp_path):
        (tmp_path / "old.bag").write_bytes(b"#ROSBAG V1.2\n" + bytes(64))
        self._refused(tmp_path / "old.bag", "format 1.2: only format 2.0")

    def test_a_damaged_index(self, tmp_path, good):
        path = tmp_path / "tail.bag"
        path.write_bytes(good.read_bytes()[:-30])
        self._refused(path, "damaged ROS 1 bag")

    def test_a_damaged_chunk(self, tmp_path, good):
        data = bytearray(good.read_bytes())
        first = data.index(b"op=\x05") - 8  # the first chunk record's header
        at = data.index(b"op=\x02", first) - 4  # its first message record's header
        data[at : at + 40] = bytes(40)
        path = tmp_path / "chunk.bag"
        path.write_bytes(bytes(data))
        self._refused(path, "damaged ROS 1 bag data")

    def test_a_folder_of_ros1_bags_of_two_recordings_says_to_give_the_files(self, tmp_path, good):
        """A folder of one recording's parts reads as one run (test_bag_ros1_split.py); of others, not."""
        write_ros1(tmp_path / "other.bag", make_trajectory(seed=1))
        self._refused(tmp_path, r"2 ROS 1 bags that are not the parts of one split recording \(good.bag, other.bag; .*give each .bag file as a log")

    def test_a_bag_without_joint_states(self, tmp_path, run):
        path = write_ros1(tmp_path / "imu.bag", run[1], skip=("state",))
        self._refused(path, "no messages on /joint_states; a robot log needs joint states")

    def test_a_bag_without_messages(self, tmp_path):
        with Writer(tmp_path / "none.bag"):
            pass
        self._refused(tmp_path / "none.bag", "no messages on /joint_states")


def test_command_arrays_without_layout_read(tmp_path, run):
    """``std_msgs/Float64MultiArray`` as a ros_control forward command controller publishes it (no dims)."""
    _, want = run
    bag = tmp_path / "plain.bag"
    with Writer(bag) as writer:
        js = writer.add_connection("/joint_states", JS.__msgtype__, typestore=NOETIC)
        cmd = writer.add_connection("/joint_commands", ARRAY.__msgtype__, typestore=NOETIC)
        for i, t in enumerate(want.t):
            ns = round(t * 1e9)
            msg = JS(
                header=_header(i, ns),
                name=list(want.joint_names),
                position=want.q[i],
                velocity=want.qd[i],
                effort=want.tau[i],
            )
            writer.write(js, ns, NOETIC.serialize_ros1(msg, JS.__msgtype__))
            arr = ARRAY(layout=LAYOUT(dim=[], data_offset=0), data=np.array([1.0, 2.0]))
            writer.write(cmd, ns, NOETIC.serialize_ros1(arr, ARRAY.__msgtype__))
    got = read_bag(bag, command_joints=("knee", "hip"), command_order="robot")
    assert got.command_joints == ("knee", "hip") and got.command.shape == (len(want.t), 2)


class TestUnitreeLeggedMsgs:
    """unitree_legged_msgs LowState / LowCmd (ROS 1) read as the Unitree SDK messages of rosbag2 bags."""

    ORDER = ",".join(GO2_ORDER)

    def test_they_read_as_the_same_run_in_a_unitree_rosbag2_bag(self, tmp_path):
        run = quadruped_run()
        want = read_bag(write_unitree(tmp_path / "go", run, GO2_ORDER), motor_order=self.ORDER)
        got = read_bag(write_unitree_ros1(tmp_path / "go1.bag", run, GO2_ORDER), motor_order=self.ORDER)
        assert_same_run(got, want)
        assert (
            got.meta["command_kind"] == "position" and got.meta["command_gains"] == want.meta["command_gains"]
        )

    def test_without_the_motor_order_one_error_line(self, tmp_path):
        bag = write_unitree_ros1(tmp_path / "go1.bag", quadruped_run(), GO2_ORDER)
        with pytest.raises(LogError, match=r"carry no joint names: .*--motor-order J1,J2") as err:
            read_bag(bag)
        assert "\n" not in str(err.value)

    def test_another_layout_is_refused_naming_the_field(self, tmp_path):
        other = {"MotorState": "uint8 mode\nfloat32 q\nfloat32 dq\nfloat32 torque\n"}
        bag = write_unitree_ros1(tmp_path / "other.bag", quadruped_run(), GO2_ORDER, definitions=other)
        with pytest.raises(
            LogError, match=r"LowState has no motorState.tauEst \(another Unitree SDK's layout\?\)"
        ):
            read_bag(bag, motor_order=self.ORDER)

    def test_high_level_messages_alone_are_one_line_saying_why(self, tmp_path):
        """A bag of HighState / HighCmd (sport mode) said only 'no messages on /joint_states'."""
        bag = write_high_state_ros1(tmp_path / "high.bag")
        with pytest.raises(LogError) as err:
            read_bag(bag)
        line = str(err.value)
        assert "\n" not in line
        assert "no joint states: /high_state holds unitree_legged_msgs/msg/HighState, Unitree's high-level (sport mode)" in line
        assert "record LowState and LowCmd with the robot in low-level mode" in line

    def test_high_level_messages_beside_joint_states_are_left_alone(self, tmp_path, run):
        _, want = run
        got = read_bag(write_high_state_ros1(tmp_path / "both.bag", joint_states=want), command_joints=want.command_joints)
        np.testing.assert_array_equal(got.q, want.q)


def test_joint_trajectory_set_points_are_commands(tmp_path, run):
    """A ros_control joint trajectory controller's ``trajectory_msgs/JointTrajectory`` of one point."""
    _, want = run
    traj_t = NOETIC.types["trajectory_msgs/msg/JointTrajectory"]
    point_t = NOETIC.types["trajectory_msgs/msg/JointTrajectoryPoint"]
    duration = NOETIC.types["builtin_interfaces/msg/Duration"]
    typ = traj_t.__msgtype__
    bag = tmp_path / "traj.bag"
    with Writer(bag) as writer:
        conns = {}
        for ns, topic, msgtype, msg in ros1_messages(want):
            if topic == "/joint_commands":
                point = point_t(
                    positions=np.asarray(msg.data),
                    velocities=np.zeros(0),
                    accelerations=np.zeros(0),
                    effort=np.zeros(0),
                    time_from_start=duration(sec=0, nanosec=0),
                )
                topic, msgtype = "/arm_controller/command", typ
                msg = traj_t(header=_header(0, ns), joint_names=list(want.command_joints), points=[point])
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=NOETIC)
            writer.write(conns[topic], ns, NOETIC.serialize_ros1(msg, msgtype))
    assert_same_run(read_bag(bag), want)
