"""Topics of bags from other recorders: ros2_control's command topics, IMU drivers' names,
trajectories as commands, and the choice by the user where several topics could serve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sim2real.errors import LogError
from sim2real.logs import read_bag
from sim2real.logs.bag_topics import choose_topics, parse_topics

STORE = get_typestore(Stores.ROS2_HUMBLE)
_T = STORE.types
JS, HEADER, TIME = (
    _T["sensor_msgs/msg/JointState"],
    _T["std_msgs/msg/Header"],
    _T["builtin_interfaces/msg/Time"],
)
ARRAY, LAYOUT = _T["std_msgs/msg/Float64MultiArray"], _T["std_msgs/msg/MultiArrayLayout"]
IMU, QUAT, VEC = (
    _T["sensor_msgs/msg/Imu"],
    _T["geometry_msgs/msg/Quaternion"],
    _T["geometry_msgs/msg/Vector3"],
)
TRAJ, POINT, DURATION = (
    _T["trajectory_msgs/msg/JointTrajectory"],
    _T["trajectory_msgs/msg/JointTrajectoryPoint"],
    _T["builtin_interfaces/msg/Duration"],
)
EPOCH = 1_733_450_000_000_000_000
STEP = 10_000_000
N = 20


def _header(ns: int) -> object:
    return HEADER(stamp=TIME(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")


def _state(ns: int, i: int) -> object:
    return JS(
        header=_header(ns),
        name=["a", "b"],
        position=np.array([0.1 * i, -0.2 * i]),
        velocity=np.array([10.0, -20.0]),
        effort=np.zeros(0),
    )


def _imu(ns: int, i: int) -> object:
    return IMU(
        header=_header(ns),
        orientation=QUAT(x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9),
        angular_velocity=VEC(x=float(i), y=0.0, z=0.0),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=VEC(x=0.0, y=0.0, z=9.81),
        linear_acceleration_covariance=np.zeros(9),
    )


def _array(i: int) -> object:
    return ARRAY(layout=LAYOUT(dim=[], data_offset=0), data=np.array([float(i), -float(i)]))


def _trajectory(i: int, names=("b", "a")) -> object:
    point = POINT(
        positions=np.array([-float(i), float(i)]),
        velocities=np.zeros(0),
        accelerations=np.zeros(0),
        effort=np.zeros(0),
        time_from_start=DURATION(sec=0, nanosec=0),
    )
    return TRAJ(header=_header(0), joint_names=list(names), points=[point])


def _trajectories(names: tuple[str, ...]) -> tuple[str, object]:
    """A trajectory topic's type and message maker: one point per message, for ``names``."""
    return "trajectory_msgs/msg/JointTrajectory", lambda ns, i: _trajectory(i, names)


def _bag(path: Path, topics: dict[str, tuple[str, object]]) -> Path:
    """A bag of another recorder: topic -> (type, i -> message), N messages each, STEP apart."""
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {t: writer.add_connection(t, typ, typestore=STORE) for t, (typ, _) in topics.items()}
        for i in range(N):
            ns = EPOCH + i * STEP
            for topic, (typ, make) in topics.items():
                writer.write(conns[topic], ns, STORE.serialize_cdr(make(ns, i), typ))
    return path


STATES = ("sensor_msgs/msg/JointState", _state)
FORWARD = ("std_msgs/msg/Float64MultiArray", lambda ns, i: _array(i))
RAW_IMU = ("sensor_msgs/msg/Imu", _imu)


class TestRos2ControlBags:
    def test_forward_controller_commands_and_a_raw_imu_are_found_by_type(self, tmp_path, caplog):
        bag = _bag(
            tmp_path / "bag",
            {
                "/joint_states": STATES,
                "/forward_position_controller/commands": FORWARD,
                "/imu/data_raw": RAW_IMU,
            },
        )
        with caplog.at_level("INFO", logger="sim2real.logs.bag_topics"):
            back = read_bag(bag, require_commands=True, command_joints=("a", "b"))
        np.testing.assert_array_equal(back.command[:, 0], np.arange(N))
        np.testing.assert_array_equal(back.command[:, 1], -np.arange(N))
        np.testing.assert_array_equal(back.gyro[:, 0], np.arange(N))
        said = " ".join(r.getMessage() for r in caplog.records)
        assert "commands read from /forward_position_controller/commands" in said
        assert "imu read from /imu/data_raw" in said

    def test_the_imu_frame_is_kept_for_the_robot_to_judge(self, tmp_path, caplog):
        def imu_in(frame):
            def make(ns, i):
                msg = _imu(ns, i)
                msg.header.frame_id = frame if i < N - 1 else "/other_link"
                return msg

            return ("sensor_msgs/msg/Imu", make)

        back = read_bag(_bag(tmp_path / "bag", {"/joint_states": STATES, "/imu": imu_in("imu_link")}))
        assert back.meta["imu_frame"] == "imu_link"  # before: not read (taken for the spec's IMU site)
        assert "IMU messages name 2 frames (imu_link, other_link): all read in imu_link's" in caplog.text

    def test_a_trajectory_command_names_its_joints_in_its_own_order(self, tmp_path):
        bag = _bag(
            tmp_path / "bag",
            {
                "/joint_states": STATES,
                "/joint_trajectory_controller/joint_trajectory": _trajectories(("b", "a")),
            },
        )
        back = read_bag(bag, require_commands=True)
        assert back.command_joints == ("b", "a")
        np.testing.assert_array_equal(back.command[:, 1], np.arange(N))  # a's position

    def test_trajectories_naming_the_same_joints_in_another_order_each_are_read_in_the_first_order(self, tmp_path):
        # before: 'commands name different joints from one message to the next' refused the log
        make = lambda ns, i: _trajectory(i, ("b", "a") if i % 2 == 0 else ("a", "b"))  # noqa: E731
        bag = _bag(tmp_path / "bag", {"/joint_states": STATES, "/arm_controller/joint_trajectory": (TRAJ.__msgtype__, make)})
        back = read_bag(bag, require_commands=True)
        assert back.command_joints == ("b", "a")
        even = np.arange(N) % 2 == 0
        # the point's values are (-i, i) in the message's own order: b/a = -i/i when named (b, a), i/-i when (a, b)
        np.testing.assert_array_equal(back.command[even], np.stack([-np.arange(N), np.arange(N)], 1)[even])
        np.testing.assert_array_equal(back.command[~even], np.stack([np.arange(N), -np.arange(N)], 1)[~even])

    def test_trajectories_per_joint_group_on_one_topic_hold_each_joints_last_command(self, tmp_path, caplog):
        # before: 'commands name different joints from one message to the next' refused the log
        def one_joint(ns, i):  # a's set-point on even messages, b's on odd ones
            name = "a" if i % 2 == 0 else "b"
            point = POINT(positions=np.array([float(i)]), velocities=np.zeros(0), accelerations=np.zeros(0),
                          effort=np.zeros(0), time_from_start=DURATION(sec=0, nanosec=0))
            return TRAJ(header=_header(0), joint_names=[name], points=[point])

        bag = _bag(tmp_path / "bag", {"/joint_states": STATES, "/legs/joint_trajectory": (TRAJ.__msgtype__, one_joint)})
        with caplog.at_level("WARNING"):
            back = read_bag(bag, require_commands=True)
        assert back.command_joints == ("a", "b") and len(back.command_t) == N - 1  # message 0: b has none yet
        np.testing.assert_array_equal(back.command[:, 0], [i - i % 2 for i in range(1, N)])
        np.testing.assert_array_equal(back.command[:, 1], [i - (i + 1) % 2 for i in range(1, N)])
        assert any("name 2 different sets of joints" in r.getMessage() for r in caplog.records)

    def test_a_trajectory_naming_a_joint_without_states_is_refused(self, tmp_path):
        bag = _bag(
            tmp_path / "bag",
            {
                "/joint_states": STATES,
                "/arm/joint_trajectory": _trajectories(("a", "z")),
            },
        )
        with pytest.raises(LogError, match=r"commanded joints \['z'\] have no joint states"):
            read_bag(bag)

    def test_two_command_topics_are_one_error_naming_both_and_the_option(self, tmp_path):
        bag = _bag(
            tmp_path / "bag",
            {
                "/joint_states": STATES,
                "/forward_position_controller/commands": FORWARD,
                "/forward_effort_controller/commands": FORWARD,
            },
        )
        with pytest.raises(LogError) as exc:
            read_bag(bag, require_commands=True)
        text = str(exc.value)
        assert "\n" not in text and "--topic commands=TOPIC" in text
        assert (
            "/forward_effort_controller/commands" in text and "/forward_position_controller/commands" in text
        )
        chosen = read_bag(
            bag, topics={"commands": "/forward_effort_controller/commands"}, command_joints=("a", "b")
        )
        assert chosen.command.shape == (N, 2)

    def test_two_imus_are_read_as_none_with_a_warning(self, tmp_path, caplog):
        bag = _bag(
            tmp_path / "bag", {"/joint_states": STATES, "/imu/data_raw": RAW_IMU, "/camera/imu": RAW_IMU}
        )
        with caplog.at_level("WARNING"):
            back = read_bag(bag)
        assert back.gyro is None
        assert any("--topic imu=TOPIC" in r.getMessage() for r in caplog.records)
        assert read_bag(bag, topics={"imu": "/camera/imu"}).gyro.shape == (N, 3)

    def test_joint_states_under_another_name_are_found_but_not_a_command_topic(self, tmp_path):
        bag = _bag(tmp_path / "bag", {"/robot/joint_states": STATES, "/joint_command": STATES})
        back = read_bag(bag, require_commands=True)
        assert back.joint_names == ("a", "b") and back.command_joints == ("a", "b")
        np.testing.assert_allclose(back.q[:, 0], 0.1 * np.arange(N))

    def test_a_sim2real_topic_of_another_type_is_named(self, tmp_path):
        bag = _bag(tmp_path / "bag", {"/joint_states": STATES, "/imu/data": FORWARD})
        with pytest.raises(
            LogError,
            match=r"topic /imu/data has type std_msgs/msg/Float64MultiArray, expected "
            r"sensor_msgs/msg/Imu \(.*--topic imu=TOPIC\)",
        ):
            read_bag(bag)


class TestAmbiguousCommands:
    def test_a_planners_trajectory_of_many_points_is_refused(self, tmp_path):
        def planned(ns, i):
            msg = _trajectory(i)
            msg.points = [msg.points[0], msg.points[0]]
            return msg

        bag = _bag(
            tmp_path / "bag",
            {
                "/joint_states": STATES,
                "/arm/joint_trajectory": ("trajectory_msgs/msg/JointTrajectory", planned),
            },
        )
        with pytest.raises(LogError, match=r"bag: a command trajectory of 2 points \(a planner's motion"):
            read_bag(bag)

    def test_a_command_filling_positions_and_efforts_is_refused(self, tmp_path):
        def both(ns, i):
            return JS(
                header=_header(ns),
                name=["a", "b"],
                position=np.zeros(2),
                velocity=np.zeros(0),
                effort=np.ones(2),
            )

        bag = _bag(
            tmp_path / "bag",
            {"/joint_states": STATES, "/joint_command": ("sensor_msgs/msg/JointState", both)},
        )
        with pytest.raises(LogError, match="commands fill both positions and efforts"):
            read_bag(bag)

    def test_one_topic_for_two_roles_is_refused(self, tmp_path):
        bag = _bag(tmp_path / "bag", {"/joint_states": STATES})
        with pytest.raises(
            LogError, match="/joint_states cannot hold both the joint_states and the commands"
        ):
            read_bag(bag, topics={"commands": "/joint_states"})


class TestChoice:
    CONNECTIONS = (
        ("/joint_states", "sensor_msgs/msg/JointState"),
        ("/a/commands", "std_msgs/msg/Float64MultiArray"),
        ("/b/commands", "std_msgs/msg/Float32MultiArray"),
        ("/tf", "tf2_msgs/msg/TFMessage"),
    )

    def test_the_users_choice_wins_and_must_exist_with_a_usable_type(self):
        (states, commands) = choose_topics("bag", self.CONNECTIONS, {"commands": "/b/commands"})
        assert (states.topic, commands.topic, commands.msgtype) == (
            "/joint_states",
            "/b/commands",
            "std_msgs/msg/Float32MultiArray",
        )
        with pytest.raises(
            LogError, match=r"--topic commands=/c/commands: the bag has no such topic .*/a/commands"
        ):
            choose_topics("bag", self.CONNECTIONS, {"commands": "/c/commands"})
        with pytest.raises(
            LogError, match=r"topic /tf has type tf2_msgs/msg/TFMessage, expected .*--topic imu=/tf"
        ):
            choose_topics("bag", self.CONNECTIONS, {"commands": "/a/commands", "imu": "/tf"})

    @pytest.mark.parametrize(
        ("items", "words"),
        [
            (["commands"], "expected ROLE=TOPIC"),
            (["cmd=/x"], "unknown role 'cmd'"),
            (["imu=/a", "imu=/b"], "gives imu twice"),
        ],
    )
    def test_bad_items_are_one_line(self, items, words):
        with pytest.raises(LogError, match=words):
            parse_topics(items)

    def test_items_parse_and_a_missing_slash_is_added(self):
        assert parse_topics(["commands=/x/commands", "imu = imu/data_raw"]) == {
            "commands": "/x/commands",
            "imu": "/imu/data_raw",
        }


def test_short_list_names_the_first_ones_and_counts_the_rest():
    from sim2real.logs.bag_topics import short_list

    assert short_list(["a", "b"], 3) == "a, b"
    assert short_list(["a", "b", "c", "d", "e"], 3) == "a, b, c and 2 more"
    assert short_list([f"/t{i:02d}" for i in range(14)]).endswith("/t11 and 2 more")


class TestNoCommands:
    """A log read where commands are required (gap, identify, actuator, finetune) that has none under
    sim2real's name: one line saying which topic could hold them, or that none can."""

    def test_a_command_topic_of_another_name_is_named_with_the_option(self, tmp_path):
        bag = _bag(tmp_path / "bag", {"/joint_states": STATES, "/legs/target_positions": FORWARD})
        with pytest.raises(LogError) as info:
            read_bag(bag, require_commands=True)
        said = str(info.value)
        assert "/legs/target_positions (std_msgs/msg/Float64MultiArray) could hold them" in said
        assert "--topic commands=TOPIC" in said and "\n" not in said
        back = read_bag(bag, require_commands=True, topics={"commands": "/legs/target_positions"})
        np.testing.assert_array_equal(back.command[:, 1], -np.arange(N))

    def test_a_log_without_any_command_topic_says_commands_are_needed(self, tmp_path):
        bag = _bag(tmp_path / "bag", {"/joint_states": STATES, "/imu/data_raw": RAW_IMU})
        with pytest.raises(
            LogError,
            match=r"no commands: no /joint_commands and no other topic of a command type \(.*JointTrajectory.*\) among "
            r"its topics \(/imu/data_raw, /joint_states\); commands are needed here",
        ):
            read_bag(bag, require_commands=True)
        assert not read_bag(bag).has_commands  # where they are not needed, the log reads

    def test_commands_of_velocities_only_are_said_to_be_so(self, tmp_path):
        # before: 'no messages on /joint_command' for a topic of 20 messages
        def velocity_command(ns, i):
            return JS(header=_header(ns), name=["a"], position=np.zeros(0), velocity=np.array([1.0]), effort=np.zeros(0))

        bag = _bag(tmp_path / "bag", {"/joint_states": STATES, "/joint_command": (JS.__msgtype__, velocity_command)})
        with pytest.raises(LogError, match=r"the 20 messages on /joint_command command no positions or efforts"):
            read_bag(bag, require_commands=True)
