"""Reading Unitree SDK recordings (unitree_go / unitree_hg LowState and LowCmd) from rosbag2 bags."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin
from unitree_testdata import GO2_ORDER, QUADRUPED, START_NS, STORE, quadruped_run, write_unitree

from sim2real.errors import LogError
from sim2real.logs import read_bag
from sim2real.logs.bag_unitree import (
    POS_STOP_F,
    check_command_kind,
    check_motor_order,
    parse_motor_order,
)

ORDER = ",".join(GO2_ORDER)


def _cols(names, wanted):
    return [list(names).index(j) for j in wanted]


class TestRoundTrip:
    @pytest.mark.parametrize("family", ["unitree_go", "unitree_hg"])
    @pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
    def test_states_imu_and_commands_come_back_by_motor_order(self, tmp_path, family, storage):
        run = quadruped_run()
        bag = write_unitree(tmp_path / "bag", run, GO2_ORDER, family=family, storage=storage)
        back = read_bag(bag, motor_order=ORDER)
        assert back.joint_names == GO2_ORDER and back.command_joints == GO2_ORDER
        cols = _cols(run.joint_names, GO2_ORDER)
        np.testing.assert_array_equal(back.q, run.q[:, cols])
        np.testing.assert_array_equal(back.qd, run.qd[:, cols])
        np.testing.assert_array_equal(back.tau, run.tau[:, cols])
        np.testing.assert_array_equal(back.command, run.command[:, _cols(run.command_joints, GO2_ORDER)])
        np.testing.assert_allclose(back.t, run.t + START_NS / 1e9, rtol=0, atol=1e-12)  # the recording time
        np.testing.assert_allclose(back.command_t, run.command_t + START_NS / 1e9, rtol=0, atol=1e-12)
        np.testing.assert_allclose(back.imu_t, back.t, rtol=0, atol=0)
        np.testing.assert_array_equal(back.gyro, run.gyro)
        np.testing.assert_array_equal(back.accel, run.accel)
        np.testing.assert_allclose(back.quat, run.quat, rtol=0, atol=1e-7)
        assert back.meta["command_kind"] == "position"
        assert back.meta["command_gains"]["kp"] == dict.fromkeys(GO2_ORDER, 25.0)
        assert back.meta["command_gains"]["kd"] == dict.fromkeys(GO2_ORDER, 0.5)

    def test_unused_slots_and_motors_beyond_the_list_are_not_read(self, tmp_path):
        run = quadruped_run()
        slots = ("-", *GO2_ORDER[:6], "-", *GO2_ORDER[6:])  # a G1-like gap; slots 14..34 unused
        bag = write_unitree(tmp_path / "bag", run, slots, family="unitree_hg")
        back = read_bag(bag, motor_order=",".join(slots))
        assert back.joint_names == GO2_ORDER
        np.testing.assert_array_equal(back.q, run.q[:, _cols(run.joint_names, GO2_ORDER)])

    def test_torque_commands_are_read_as_torques(self, tmp_path):
        run = quadruped_run()
        bag = write_unitree(tmp_path / "bag", run, GO2_ORDER, torque=True)
        back = read_bag(bag, motor_order=ORDER)
        assert back.meta["command_kind"] == "torque" and "command_gains" not in back.meta
        np.testing.assert_array_equal(back.command, run.command[:, _cols(run.command_joints, GO2_ORDER)])

    def test_the_sdk_stop_commands_before_the_run_are_left_out(self, tmp_path, caplog):
        run = quadruped_run()
        bag = write_unitree(tmp_path / "bag", run, GO2_ORDER, stop_before=5)
        with caplog.at_level(logging.WARNING):
            back = read_bag(bag, motor_order=ORDER)
        assert back.command.shape == run.command.shape and np.abs(back.command).max() < 10
        assert back.command_t[0] == back.t[0]
        assert "5 messages before" in caplog.text

    def test_lowstate_is_read_beside_the_low_frequency_lf_lowstate(self, tmp_path, caplog):
        run = quadruped_run()
        bag = write_unitree(tmp_path / "bag", run, GO2_ORDER, extra_state_topic="/lf/lowstate")
        back = read_bag(bag, motor_order=ORDER)
        assert back.n_samples == run.n_samples
        with pytest.raises(LogError, match="choose one with --topic"):  # no /lowstate: which is unclear
            read_bag(
                write_unitree(tmp_path / "b2", run, GO2_ORDER, state_topic="/a", extra_state_topic="/b"),
                motor_order=ORDER,
            )


class TestRefused:
    def test_without_a_motor_order_one_line_says_how_to_give_it(self, tmp_path):
        bag = write_unitree(tmp_path / "bag", quadruped_run(), GO2_ORDER)
        with pytest.raises(LogError, match="--motor-order J1,J2") as err:
            read_bag(bag)
        assert "\n" not in str(err.value)

    @pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
    def test_a_bag_without_the_definitions_of_its_types(self, tmp_path, storage):
        bag = write_unitree(tmp_path / "bag", quadruped_run(), GO2_ORDER, storage=storage, definitions=False)
        with pytest.raises(
            LogError, match="unitree_go/msg/LowState, whose definition the bag does not carry"
        ):
            read_bag(bag, motor_order=ORDER)

    def test_more_motors_named_than_the_message_has(self, tmp_path):
        bag = write_unitree(tmp_path / "bag", quadruped_run(), GO2_ORDER)
        order = [*GO2_ORDER, *(f"extra{i}" for i in range(9))]
        with pytest.raises(LogError, match="names 21 motors, but the messages have 20 slots"):
            read_bag(bag, motor_order=order)

    def test_a_motor_order_for_a_bag_that_names_its_joints(self, tmp_path):
        """--motor-order on a bag of JointState messages was silently ignored (a CSV refuses it)."""
        from sim2real.logs import write_bag

        write_bag(tmp_path / "bag", quadruped_run())
        assert read_bag(tmp_path / "bag").joint_names == QUADRUPED
        with pytest.raises(LogError, match="--motor-order is for Unitree bags") as err:
            read_bag(tmp_path / "bag", motor_order=ORDER)
        assert "\n" not in str(err.value)

    def test_states_and_commands_of_two_families(self, tmp_path):
        """A unitree_hg LowState beside a unitree_go LowCmd (two robots' messages) was read as one run."""
        from rosbags.rosbag2 import Reader, Writer

        run = quadruped_run()
        go = write_unitree(tmp_path / "go", run, GO2_ORDER)
        hg = write_unitree(tmp_path / "hg", run, GO2_ORDER, family="unitree_hg")
        picked = []
        for src, topic in ((hg, "/lowstate"), (go, "/lowcmd")):
            with Reader(src) as reader:
                picked += [(ns, c, raw) for c, ns, raw in reader.messages() if c.topic == topic]
        with Writer(tmp_path / "mixed", version=9) as writer:
            conns = {}
            for ns, c, raw in sorted(picked, key=lambda m: m[0]):
                if c.topic not in conns:
                    conns[c.topic] = writer.add_connection(c.topic, c.msgtype, typestore=STORE)
                writer.write(conns[c.topic], ns, raw)
        with pytest.raises(LogError, match="unitree_go and unitree_hg") as err:
            read_bag(tmp_path / "mixed", motor_order=ORDER)
        assert "\n" not in str(err.value)

    def test_two_families_on_separate_topics(self, tmp_path):
        """A bag of a Go2's unitree_go messages on /lowstate and /lowcmd beside a G1's unitree_hg ones on
        /g1/lowstate and /g1/lowcmd was read from /lowstate and /lowcmd without a word: which robot the
        user means, the bag does not say."""
        from rosbags.rosbag2 import Reader, Writer

        go_run, hg_run = quadruped_run(seed=0), quadruped_run(seed=1)
        go = write_unitree(tmp_path / "go", go_run, GO2_ORDER)
        hg = write_unitree(
            tmp_path / "hg",
            hg_run,
            GO2_ORDER,
            family="unitree_hg",
            state_topic="/g1/lowstate",
            command_topic="/g1/lowcmd",
        )
        picked = []
        for src in (go, hg):
            with Reader(src) as reader:
                picked += [(ns, c, raw) for c, ns, raw in reader.messages()]
        with Writer(tmp_path / "both", version=9) as writer:
            conns = {}
            for ns, c, raw in sorted(picked, key=lambda m: (m[0], m[1].topic)):
                if c.topic not in conns:
                    conns[c.topic] = writer.add_connection(c.topic, c.msgtype, typestore=STORE)
                writer.write(conns[c.topic], ns, raw)
        bag = tmp_path / "both"
        with pytest.raises(
            LogError, match="unitree_go on /lowcmd, /lowstate; unitree_hg on /g1/lowcmd, /g1/lowstate"
        ) as err:
            read_bag(bag, motor_order=ORDER)
        line = str(err.value)
        assert "--topic joint_states=TOPIC --topic commands=TOPIC" in line and "\n" not in line
        with pytest.raises(LogError, match="unitree_go on"):  # half a choice leaves the other role to guess
            read_bag(bag, motor_order=ORDER, topics={"joint_states": "/g1/lowstate"})
        for topics, run in (
            ({"joint_states": "/g1/lowstate", "commands": "/g1/lowcmd"}, hg_run),
            ({"joint_states": "/lowstate", "commands": "/lowcmd"}, go_run),
        ):
            back = read_bag(bag, motor_order=ORDER, topics=topics)
            cols = _cols(run.joint_names, GO2_ORDER)
            np.testing.assert_array_equal(back.q, run.q[:, cols].astype(np.float32))
            np.testing.assert_array_equal(back.command, run.command[:, _cols(run.command_joints, GO2_ORDER)])

    @staticmethod
    def _merged(tmp_path, sources):
        """One bag of the messages of ``sources`` ((bag, {topic in it: topic in the new bag}), ...)."""
        from rosbags.rosbag2 import Reader, Writer

        picked = []
        for src, rename in sources:
            with Reader(src) as reader:
                picked += [(ns, rename[c.topic], c.msgtype, raw) for c, ns, raw in reader.messages() if c.topic in rename]
        with Writer(tmp_path / "merged", version=9) as writer:
            conns = {}
            for ns, topic, msgtype, raw in sorted(picked, key=lambda m: (m[0], m[1], m[2])):
                if (topic, msgtype) not in conns:
                    conns[topic, msgtype] = writer.add_connection(topic, msgtype, typestore=STORE)
                writer.write(conns[topic, msgtype], ns, raw)
        return tmp_path / "merged"

    def test_topics_named_of_two_families_say_so_not_to_name_them(self, tmp_path):
        """--topic joint_states=/g1/lowstate --topic commands=/lowcmd (a G1's states, a Go2's commands)
        was told to 'choose the topics of one with --topic': it had."""
        run = quadruped_run()
        go = write_unitree(tmp_path / "go", run, GO2_ORDER)
        hg = write_unitree(tmp_path / "hg", run, GO2_ORDER, family="unitree_hg")
        bag = self._merged(
            tmp_path,
            [(go, {"/lowstate": "/lowstate", "/lowcmd": "/lowcmd"}), (hg, {"/lowstate": "/g1/lowstate", "/lowcmd": "/g1/lowcmd"})],
        )
        with pytest.raises(LogError) as err:
            read_bag(bag, motor_order=ORDER, topics={"joint_states": "/g1/lowstate", "commands": "/lowcmd"})
        line = str(err.value)
        assert (
            "--topic joint_states=/g1/lowstate (unitree_hg) and --topic commands=/lowcmd (unitree_go) are two "
            "robots' messages: name the topics of one robot" in line
        )
        assert "choose" not in line and "\n" not in line

    @pytest.mark.parametrize("named", [False, True], ids=["guessed", "named"])
    def test_one_topic_of_both_families_is_refused_whatever_is_named(self, tmp_path, named):
        """Both families' LowState on /lowstate: naming the topic cannot tell them apart (the
        advice to name it was wrong; named, the first type in sort order was read silently)."""
        run = quadruped_run()
        go = write_unitree(tmp_path / "go", run, GO2_ORDER)
        hg = write_unitree(tmp_path / "hg", quadruped_run(seed=1), GO2_ORDER, family="unitree_hg")
        bag = self._merged(tmp_path, [(go, {"/lowstate": "/lowstate", "/lowcmd": "/lowcmd"}), (hg, {"/lowstate": "/lowstate"})])
        topics = {"joint_states": "/lowstate", "commands": "/lowcmd"} if named else None
        with pytest.raises(LogError, match=r"topic /lowstate carries Unitree LowState of both unitree_go and unitree_hg") as err:
            read_bag(bag, motor_order=ORDER, topics=topics)
        assert "--topic" not in str(err.value) and "\n" not in str(err.value)

    @staticmethod
    def _set(**fields):
        def change(m):
            for name, value in fields.items():
                setattr(m, name, value)

        return change

    @pytest.mark.parametrize(
        ("fields", "match"),
        [
            (
                {"q": POS_STOP_F, "dq": 16000.0, "kp": 0.0, "kd": 0.0},
                "not position-controlled .the stop value PosStopF",
            ),
            ({"q": POS_STOP_F}, "not position-controlled .the stop value PosStopF"),
            ({"tau": 1.5, "kp": 0.0, "kd": 0.0}, "not position-controlled .kp 0"),
            ({"mode": 0}, "not position-controlled .disabled, mode 0"),
            ({"tau": 1.5}, "feed-forward tau 1.5 N m"),
            ({"dq": 2.0}, "feed-forward dq 2 rad/s"),
            ({"kd": float("nan")}, "a non-finite kd .nan."),  # read as a NaN gain, no warning
            ({"kp": float("inf")}, "a non-finite kp .inf."),  # read as a position target
        ],
        ids=[
            "stopped",
            "stop-value-with-kp",
            "torque-beside-positions",
            "disabled",
            "tau-feed-forward",
            "dq-feed-forward",
            "nan-kd",
            "inf-kp",
        ],
    )
    def test_commands_a_position_target_cannot_state(self, tmp_path, fields, match):
        src = write_unitree(tmp_path / "src", quadruped_run(), GO2_ORDER)
        bag = self._with_commands(src, tmp_path / "bag", self._set(**fields), at=30)
        with pytest.raises(LogError, match=match) as err:
            read_bag(bag, motor_order=ORDER)
        assert "FR_hip" in str(err.value) and "\n" not in str(err.value)

    def test_a_final_damping_command_is_left_out(self, tmp_path, caplog):
        run = quadruped_run()
        src = write_unitree(tmp_path / "src", run, GO2_ORDER)

        def damping(msg):
            for m in msg.motor_cmd:
                m.q, m.kp, m.kd = 0.0, 0.0, 8.0

        bag = self._with_messages(src, tmp_path / "bag", "LowCmd", damping, at=range(55, 60))
        with caplog.at_level(logging.WARNING):
            back = read_bag(bag, motor_order=ORDER)
        assert back.command.shape[0] == 55 and "0 messages before and 5 after" in caplog.text
        np.testing.assert_array_equal(back.command, run.command[:55, _cols(run.command_joints, GO2_ORDER)])

    def test_ab_mode_is_refused(self, tmp_path):
        run = quadruped_run()
        src = write_unitree(tmp_path / "src", run, GO2_ORDER, family="unitree_hg")
        bag = self._with_messages(
            src, tmp_path / "bag", "LowState", lambda msg: setattr(msg, "mode_pr", 1), at=[3]
        )
        with pytest.raises(LogError, match=r"mode_pr 1 \(AB mode"):
            read_bag(bag, motor_order=ORDER)

    def test_damping_between_torque_commands_is_refused(self, tmp_path):
        src = write_unitree(tmp_path / "src", quadruped_run(), GO2_ORDER, torque=True)
        bag = self._with_commands(src, tmp_path / "bag", self._set(kd=2.0), at=30)
        with pytest.raises(LogError, match=r"'FR_hip' is not torque-controlled \(kp 0, kd 2\)"):
            read_bag(bag, motor_order=ORDER)

    def test_damping_alone_is_refused(self, tmp_path):
        src = write_unitree(tmp_path / "src", quadruped_run(), GO2_ORDER, torque=True)
        damping = self._set(kd=2.0)
        bag = self._with_messages(
            src, tmp_path / "bag", "LowCmd", lambda msg: [damping(m) for m in msg.motor_cmd]
        )
        with pytest.raises(LogError, match="only damping"):
            read_bag(bag, motor_order=ORDER)

    @staticmethod
    def _with_messages(src, out, kind, change, at=None):
        """``src`` copied to ``out`` with ``change(msg)`` applied to the messages of type ``kind``
        (``LowCmd``, ``LowState``) whose index is in ``at`` (every one when None)."""
        from rosbags.rosbag2 import Reader, Writer

        with Reader(src) as reader, Writer(out, version=9) as writer:
            conns = {
                c.id: writer.add_connection(c.topic, c.msgtype, typestore=STORE) for c in reader.connections
            }
            k = 0
            for conn, ns, raw in reader.messages():
                if conn.msgtype.endswith(kind):
                    msg = STORE.deserialize_cdr(raw, conn.msgtype)
                    if at is None or k in at:
                        change(msg)
                    raw = STORE.serialize_cdr(msg, conn.msgtype)
                    k += 1
                writer.write(conns[conn.id], ns, raw)
        return out

    def _with_commands(self, src, out, change, at=None):
        """``src`` copied to ``out`` with ``change(motor_cmd[0])`` applied to the ``at``-th command."""
        return self._with_messages(
            src, out, "LowCmd", lambda msg: change(msg.motor_cmd[0]), None if at is None else [at]
        )


class TestMotorOrder:
    def test_parse(self):
        assert parse_motor_order(None) is None
        assert parse_motor_order(" a, -, b ") == ("a", "-", "b")
        assert parse_motor_order(["a,b", "-", "c"]) == ("a", "b", "-", "c")
        with pytest.raises(LogError, match="more than once"):
            parse_motor_order("a,b,a")
        with pytest.raises(LogError, match="comma-separated"):
            parse_motor_order("a,,b")
        with pytest.raises(LogError, match="names no joint"):
            parse_motor_order("-,-")

    def test_the_option_must_follow_the_specs_motor_order(self):
        assert check_motor_order(None, GO2_ORDER) is None  # never taken in the option's place
        assert check_motor_order(GO2_ORDER, ()) == GO2_ORDER
        slots = ("-", *GO2_ORDER[:6], "-", *GO2_ORDER[6:])
        assert check_motor_order(slots, GO2_ORDER) == slots
        with pytest.raises(LogError, match="in another order than the robot spec's motor_order"):
            check_motor_order(QUADRUPED, GO2_ORDER)

    def test_a_spec_that_states_empty_slots_is_followed_slot_by_slot(self):
        """Joints in the spec's order but in other slots were accepted: a bag read with FR_thigh's
        values from FR_hip's motor."""
        spec_slots = (*GO2_ORDER[:3], "-", *GO2_ORDER[3:])
        assert check_motor_order(spec_slots, spec_slots) == spec_slots
        assert check_motor_order((*spec_slots, "-", "-"), spec_slots)  # slots beyond the robot's: unread
        with pytest.raises(LogError, match="in other slots than the robot spec's motor_order"):
            check_motor_order((*GO2_ORDER[:2], "-", *GO2_ORDER[2:]), spec_slots)
        with pytest.raises(LogError, match="in other slots"):
            check_motor_order((*spec_slots, "extra"), spec_slots)


class TestCommandKind:
    PD = dict.fromkeys(GO2_ORDER, ("pd", 25.0, 0.5))

    def test_position_targets_need_pd_actuators(self):
        meta = {"command_kind": "position", "command_gains": {"kp": dict.fromkeys(GO2_ORDER, 25.0)}}
        check_command_kind("log", meta, self.PD)
        with pytest.raises(LogError, match="has a torque actuator"):
            check_command_kind("log", meta, {**self.PD, "FL_hip": ("torque", 0.0, 0.0)})
        with pytest.raises(LogError, match="has a pd actuator"):
            check_command_kind("log", {"command_kind": "torque"}, self.PD)

    def test_other_gains_than_the_specs_are_reported(self, caplog):
        meta = {
            "command_kind": "position",
            "command_gains": {"kp": {**dict.fromkeys(GO2_ORDER, 25.0), "FL_hip": 40.0}},
        }
        with caplog.at_level(logging.WARNING):
            check_command_kind("log", meta, self.PD)
        assert "FL_hip kp 40 (robot 25)" in caplog.text

    def test_logs_of_other_kinds_pass(self):
        check_command_kind("log", {}, {"a": ("dc_motor", 0.0, 0.0)})
