"""Base-state tracks of legged robots' logs: nav_msgs/Odometry on /odom and /ground_truth/odom."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from logs_testdata import make_trajectory
from rosbags.highlevel import AnyReader

from sim2real.errors import LogError
from sim2real.logs import BagWriter, read_bag, write_bag
from sim2real.logs.bag import TOPIC_BASE_ESTIMATE, TOPIC_BASE_TRUTH
from sim2real.logs.trajectory import BaseTrack, rotate

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # mcap_ros2.reader warns on import
    from mcap_ros2.reader import read_ros2_messages


def _track(t: np.ndarray, source: str, rng: np.random.Generator) -> BaseTrack:
    quat = rng.normal(size=(t.size, 4))
    return BaseTrack(
        t=t,
        position=rng.normal(size=(t.size, 3)),
        quat=quat / np.linalg.norm(quat, axis=1, keepdims=True),
        lin_vel=rng.normal(size=(t.size, 3)),
        ang_vel=rng.normal(size=(t.size, 3)),
        source=source,
    )


@pytest.fixture
def legged():
    rng = np.random.default_rng(3)
    traj = make_trajectory(seed=3, n_states=120)
    return dataclasses.replace(
        traj,
        base_truth=_track(traj.t, "ground_truth", rng),
        base_estimate=_track(traj.t + 1e-4, "estimate", rng),
    )


class TestRoundTrip:
    def test_both_tracks_read_back_exactly(self, tmp_path, legged):
        write_bag(tmp_path / "bag", legged)
        back = read_bag(tmp_path / "bag")
        for name in ("base_truth", "base_estimate"):
            a, b = getattr(legged, name), getattr(back, name)
            assert b.source == a.source
            for field in ("t", "position", "quat", "lin_vel", "ang_vel"):
                np.testing.assert_allclose(getattr(b, field), getattr(a, field), atol=1e-12, err_msg=field)
        assert back.base is back.base_truth  # replays start from the truth where it exists

    def test_other_readers_see_standard_odometry(self, tmp_path, legged):
        write_bag(tmp_path / "bag", legged)
        with AnyReader([tmp_path / "bag"]) as reader:
            types = {c.topic: c.msgtype for c in reader.connections}
        assert types[TOPIC_BASE_ESTIMATE] == types[TOPIC_BASE_TRUTH] == "nav_msgs/msg/Odometry"
        (mcap,) = (tmp_path / "bag").glob("*.mcap")
        frames = {
            m.channel.topic: (m.ros_msg.header.frame_id, m.ros_msg.child_frame_id)
            for m in read_ros2_messages(str(mcap), topics=[TOPIC_BASE_TRUTH, TOPIC_BASE_ESTIMATE])
        }
        assert frames == {TOPIC_BASE_TRUTH: ("world", "base"), TOPIC_BASE_ESTIMATE: ("odom", "base")}

    def test_covariances_are_written(self, tmp_path):
        with BagWriter(tmp_path / "bag", None, ("j",)) as bag:
            bag.write_state(0.0, [0.0], [0.0])
            cov = np.diag([1.0, 2.0, 3.0, 0.0, 0.0, 0.0]).ravel()
            bag.write_base(0.0, [0, 0, 0.3], [1, 0, 0, 0], [0.1, 0, 0], [0, 0, 0], twist_covariance=cov)
        (mcap,) = (tmp_path / "bag").glob("*.mcap")
        (msg,) = [m.ros_msg for m in read_ros2_messages(str(mcap), topics=[TOPIC_BASE_ESTIMATE])]
        np.testing.assert_array_equal(msg.twist.covariance, cov)

    def test_a_log_without_base_state_has_none(self, tmp_path):
        write_bag(tmp_path / "bag", make_trajectory(seed=1, n_states=20))
        back = read_bag(tmp_path / "bag")
        assert back.base is None and back.base_truth is None and back.base_estimate is None


class TestOtherRecordersOdometry:
    """A legged robot's estimator or robot_localization publishes nav_msgs/Odometry under its own name."""

    def _bag(self, tmp_path, legged, names: tuple[str, ...]):
        """legged's run as sim2real writes it, its estimate's topic renamed to each of ``names``."""
        from rosbags.rosbag2 import Reader, Writer

        from sim2real.logs.bag_ros2 import ROS2_TYPESTORE

        write_bag(tmp_path / "own", dataclasses.replace(legged, base_truth=None))
        with Reader(tmp_path / "own") as reader, Writer(tmp_path / "bag", version=9) as writer:
            out = {}
            for conn in reader.connections:
                renamed = names if conn.topic == TOPIC_BASE_ESTIMATE else (conn.topic,)
                out[conn.id] = [writer.add_connection(t, conn.msgtype, typestore=ROS2_TYPESTORE) for t in renamed]
            for conn, ns, raw in reader.messages():
                for c in out[conn.id]:
                    writer.write(c, ns, raw)
        return tmp_path / "bag"

    def test_the_only_odometry_topic_is_the_base_estimate(self, tmp_path, legged, caplog):
        # before: /odometry/filtered was left unread without a word (gap estimated the base from the IMU)
        with caplog.at_level("INFO", logger="sim2real.logs.bag_topics"):
            back = read_bag(self._bag(tmp_path, legged, ("/odometry/filtered",)))
        np.testing.assert_array_equal(back.base_estimate.position, legged.base_estimate.position)
        assert any("base read from /odometry/filtered" in r.getMessage() for r in caplog.records)

    def test_two_odometry_topics_are_read_as_none_with_a_warning_and_one_is_chosen(self, tmp_path, legged, caplog):
        bag = self._bag(tmp_path, legged, ("/odometry/filtered", "/wheel/odometry"))
        with caplog.at_level("WARNING"):
            assert read_bag(bag).base_estimate is None
        assert any("could hold the base's odometry: none read (choose one with --topic base=TOPIC)" in r.getMessage()
                   for r in caplog.records)
        back = read_bag(bag, topics={"base": "/wheel/odometry"})
        np.testing.assert_array_equal(back.base_estimate.lin_vel, legged.base_estimate.lin_vel)

    def test_ground_truth_alone_is_not_taken_for_the_estimate(self, tmp_path, legged):
        write_bag(tmp_path / "bag", dataclasses.replace(legged, base_estimate=None))
        back = read_bag(tmp_path / "bag")
        assert back.base_estimate is None and back.base_truth is not None


class TestBaseTrack:
    def test_interpolation_and_world_velocity(self):
        half = np.sqrt(0.5)
        track = BaseTrack(
            t=np.array([0.0, 1.0]),
            position=np.array([[0.0, 0.0, 0.3], [1.0, 0.0, 0.3]]),
            quat=np.array([[half, 0.0, 0.0, half], [half, 0.0, 0.0, half]]),  # yawed 90 degrees
            lin_vel=np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]),
            ang_vel=np.zeros((2, 3)),
            source="ground_truth",
        )
        at = track.at(np.array([0.25]))
        np.testing.assert_allclose(at["position"], [[0.25, 0.0, 0.3]])
        np.testing.assert_allclose(track.lin_vel_world, [[0.0, 1.0, 0.0]] * 2, atol=1e-12)

    def test_quaternions_interpolate_the_short_way(self):
        q = np.array([[1.0, 0.0, 0.0, 0.0], [-0.999, 0.0, 0.0, -0.0447]])  # nearly the same rotation
        track = BaseTrack(np.array([0.0, 1.0]), np.zeros((2, 3)), q, np.zeros((2, 3)), np.zeros((2, 3)))
        mid = track.at(np.array([0.5]))["quat"][0]
        assert abs(mid[0]) > 0.99  # not the half-way point through the opposite hemisphere

    def test_rotate_matches_a_rotation_matrix(self, rng):
        quat = rng.normal(size=(5, 4))
        quat /= np.linalg.norm(quat, axis=1, keepdims=True)
        v = rng.normal(size=(5, 3))
        w, x, y, z = quat.T
        R = np.stack(
            [
                np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
            ],
            axis=1,
        )
        np.testing.assert_allclose(rotate(quat, v), np.einsum("nij,nj->ni", R, v), atol=1e-12)

    @pytest.mark.parametrize(
        "changes, message",
        [
            ({"source": "guess"}, "source"),
            ({"quat": np.zeros((2, 4))}, "zero quaternion"),
            ({"lin_vel": np.zeros((3, 3))}, "lin_vel"),
            ({"t": np.array([1.0, 0.0])}, "non-decreasing"),
        ],
    )
    def test_bad_tracks_are_one_clear_error(self, changes, message):
        base = {
            "t": np.array([0.0, 1.0]),
            "position": np.zeros((2, 3)),
            "quat": np.tile([1.0, 0, 0, 0], (2, 1)),
            "lin_vel": np.zeros((2, 3)),
            "ang_vel": np.zeros((2, 3)),
        }
        with pytest.raises(LogError, match=message):
            BaseTrack(**{**base, **changes})

    def test_a_track_in_the_wrong_field_is_refused(self, legged):
        with pytest.raises(LogError, match="base_truth"):
            dataclasses.replace(legged, base_truth=legged.base_estimate)

    def test_slicing_keeps_the_tracks_part(self, legged):
        t0, t1 = float(legged.t[10]), float(legged.t[30])
        part = legged.slice_time(t0, t1)
        assert part.base_truth.n_samples == 21
        assert np.all((part.base_estimate.t >= t0) & (part.base_estimate.t <= t1))
