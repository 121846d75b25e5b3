"""Joint states published on several topics (one driver per leg or bus) joined by joint."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from logs_testdata import EPOCH, JS, STEP, STORE, foreign_state
from rosbags.rosbag2 import Writer

from sim2real.errors import LogError
from sim2real.logs import read_bag
from sim2real.logs.bag_topics import parse_topics

N = 20


def _bag(path: Path, topics: dict[str, dict[str, float]], delay: dict[str, int] | None = None) -> Path:
    """``topics``: topic -> {joint: offset}; sample i of a joint is ``i + offset``, stamped
    ``EPOCH + i STEP`` and recorded ``delay[topic]`` ns later."""
    delay = delay or {}
    with Writer(path, version=9) as writer:
        conns = {t: writer.add_connection(t, JS.__msgtype__, typestore=STORE) for t in topics}
        for i in range(N):
            ns = EPOCH + i * STEP
            for topic, joints in topics.items():
                msg = foreign_state(
                    ns, list(joints), [i + off for off in joints.values()], [1.0] * len(joints)
                )
                writer.write(conns[topic], ns + delay.get(topic, 0), STORE.serialize_cdr(msg, JS.__msgtype__))
    return path


LEGS = {
    "/left_leg/joint_states": {"l_hip": 0.0, "l_knee": 100.0},
    "/right_leg/joint_states": {"r_hip": 200.0},
}


class TestJoined:
    def test_one_topic_per_leg_is_read_as_one_robot(self, tmp_path):
        # the right leg's driver is 0.3 ms later to the recorder: one sender clock, so the stamps hold
        bag = _bag(tmp_path / "bag", LEGS, {"/right_leg/joint_states": 300_000})
        back = read_bag(bag)  # before: "2 topics could hold the joint_states ... choose one"
        assert set(back.joint_names) == {"l_hip", "l_knee", "r_hip"}
        assert len(back.t) == N
        for joint, offset in {**LEGS["/left_leg/joint_states"], **LEGS["/right_leg/joint_states"]}.items():
            np.testing.assert_array_equal(back.q[:, back.joint_names.index(joint)], np.arange(N) + offset)

    def test_a_joint_on_two_topics_with_other_values_is_one_error_line(self, tmp_path):
        topics = {**LEGS, "/right_leg/joint_states": {"r_hip": 200.0, "l_knee": 100.5}}
        with pytest.raises(LogError) as exc:
            read_bag(_bag(tmp_path / "bag", topics))
        text = str(exc.value)
        assert (
            "\n" not in text
            and "'l_knee'" in text
            and "/left_leg/joint_states" in text
            and "0.5 apart" in text
        )
        assert "--topic joint_states=" in text

    def test_a_joint_republished_with_the_same_values_is_read_once(self, tmp_path):
        topics = {**LEGS, "/right_leg/joint_states": {"r_hip": 200.0, "l_knee": 100.0}}
        back = read_bag(_bag(tmp_path / "bag", topics))
        np.testing.assert_array_equal(back.q[:, back.joint_names.index("l_knee")], np.arange(N) + 100.0)

    def test_joints_missing_from_joint_states_are_taken_from_another_topic(self, tmp_path, caplog):
        topics = {"/joint_states": {"a": 0.0, "b": 10.0}, "/gripper/joint_states": {"finger": 5.0, "b": 10.0}}
        with caplog.at_level(logging.INFO):
            back = read_bag(_bag(tmp_path / "bag", topics))  # before: the finger was not read
        np.testing.assert_array_equal(back.q[:, back.joint_names.index("finger")], np.arange(N) + 5.0)
        assert (
            "joints b are on /joint_states and /gripper/joint_states: read from /joint_states" in caplog.text
        )

    def test_topic_option_names_several_topics_or_one(self, tmp_path):
        bag = _bag(tmp_path / "bag", LEGS)
        assert parse_topics(["joint_states=left_leg/joint_states, /right_leg/joint_states"]) == {
            "joint_states": "/left_leg/joint_states,/right_leg/joint_states"
        }
        back = read_bag(bag, topics=parse_topics(["joint_states=/left_leg/joint_states"]))
        assert back.joint_names == ("l_hip", "l_knee")
        with pytest.raises(LogError, match="has no such topic /legs"):
            read_bag(bag, topics={"joint_states": "/left_leg/joint_states,/legs"})
        with pytest.raises(LogError, match="listed twice"):
            parse_topics(["joint_states=/a,/a"])

    def test_senders_on_other_clocks_are_each_put_on_the_recording_clock(self, tmp_path, caplog):
        bag = _bag(tmp_path / "bag", LEGS)
        # rewrite the right leg's stamps 5 s later (another computer's clock)
        with Writer(tmp_path / "clocks", version=9) as writer:
            conns = {t: writer.add_connection(t, JS.__msgtype__, typestore=STORE) for t in LEGS}
            for i in range(N):
                ns = EPOCH + i * STEP
                for topic, joints in LEGS.items():
                    stamp = ns + (5_000_000_000 if topic.startswith("/right") else 0)
                    msg = foreign_state(
                        stamp, list(joints), [i + off for off in joints.values()], [1.0] * len(joints)
                    )
                    writer.write(conns[topic], ns, STORE.serialize_cdr(msg, JS.__msgtype__))
        back = read_bag(tmp_path / "clocks")
        assert "senders on other clocks" in caplog.text
        np.testing.assert_array_equal(back.q, read_bag(bag).q)

    def test_topics_without_stamps_are_timed_by_their_recording_time(self, tmp_path, caplog):
        with Writer(tmp_path / "bag", version=9) as writer:
            conns = {t: writer.add_connection(t, JS.__msgtype__, typestore=STORE) for t in LEGS}
            for i in range(N):
                for topic, joints in LEGS.items():
                    msg = foreign_state(
                        0, list(joints), [i + off for off in joints.values()], [1.0] * len(joints)
                    )
                    writer.write(conns[topic], EPOCH + i * STEP, STORE.serialize_cdr(msg, JS.__msgtype__))
        back = read_bag(tmp_path / "bag")
        assert len(back.t) == N and "other clocks" not in caplog.text
        assert (
            "/left_leg/joint_states, /right_leg/joint_states: 40 of 40 messages have header stamp 0"
            in caplog.text
        )

    def test_a_robot_joint_on_no_topic_names_the_topics_read(self, tmp_path):
        with pytest.raises(LogError) as exc:  # before: 'commanded joints [...] have no /joint_states data'
            read_bag(_bag(tmp_path / "bag", LEGS), command_joints=("l_hip", "r_hip", "r_knee"))
        text = str(exc.value)
        assert (
            "joints ['r_knee'] are on none of the joint-state topics read (/left_leg/joint_states, " in text
        )
        assert "--topic joint_states=/left_leg/joint_states,/right_leg/joint_states,TOPIC" in text


class TestSameJointOnTwoTopics:
    """Two topics carrying one joint at other stamps are compared with b interpolated at a's times;
    the allowance was the largest step of a anywhere in the log, so one jump (a wrap, a re-homing)
    let a follower 0.3 rad off pass, read from the first topic with an INFO line."""

    @staticmethod
    def _owners(qa, qb):
        from sim2real.logs.bag_joined import joint_owners

        n, dt = len(qa), 20_000_000
        t = np.concatenate([np.arange(n) * dt, np.arange(n) * dt + dt // 2])
        sources = ["/leader/joint_states"] * n + ["/follower/joint_states"] * n
        return joint_owners("bag", "/joint_states", sources, t, [("joint1",)] * (2 * n), [np.array([x]) for x in [*qa, *qb]])

    def test_an_offset_follower_is_refused_whatever_jumps_elsewhere(self):
        qa = 0.3 * np.sin(np.arange(200) * 0.05)
        qa[100:] += 1.0  # one 1 rad step
        with pytest.raises(LogError, match="other values"):
            self._owners(qa, qa + 0.3)

    def test_the_same_motion_sampled_at_other_times_is_one_joint(self):
        t = np.arange(200) * 0.02
        motion = lambda s: 0.8 * np.sin(3.0 * s) + 0.1 * np.sin(11.0 * s)  # noqa: E731
        assert self._owners(motion(t), motion(t + 0.01)) == {"joint1": "/leader/joint_states"}

    def test_a_series_of_no_numbers_is_refused(self):
        with pytest.raises(LogError, match="other values"):
            self._owners(np.full(50, np.nan), np.full(50, np.nan))

