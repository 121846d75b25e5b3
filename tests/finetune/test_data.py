"""Episodes from deploy logs: observations, executed actions and rewards as the robot saw them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from finetune_testdata import EPISODE_S, twin_config

from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.record import initial_state
from sim2real.deploy.speed import SpeedConfig
from sim2real.errors import LogError, Sim2RealError
from sim2real.finetune.data import ReplayBuffer, check_observation_from_logs, load_episodes
from sim2real.finetune.explore import ExplorationConfig, NoisyPolicy
from sim2real.policy.metadata import read_metadata
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.twin import TwinRobot


class Recording(NoisyPolicy):
    """NoisyPolicy that keeps what it saw and did at each step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[float, np.ndarray, np.ndarray]] = []

    def step_reading(self, reading, velocity_command=None):
        out = super().step_reading(reading, velocity_command)
        self.seen.append((reading.t, self.observation.copy(), self.executed_action.copy()))
        return out


def _run(base, policy, path, seed=0, drop=0.0):
    q0, qd0 = initial_state(base.spec, seed)
    robot = TwinRobot(base.spec, twin_config(drop), initial_qpos=q0)
    robot.reset(q0, qd0)
    loop = ControlLoop(robot, policy, config=LoopConfig(speed=SpeedConfig(start_stage=4)), log_path=path)
    with loop:
        loop.run(EPISODE_S)
    return loop.close()


class TestEpisodeFromLog:
    @pytest.mark.parametrize("drop", [0.0, 0.05])
    def test_observations_and_executed_actions_match_what_the_policy_had(self, base, tmp_path, drop):
        policy = Recording(base.path, base.spec, ExplorationConfig(std=0.3, correlation_s=0.01, seed=4))
        summary = _run(base, policy, tmp_path / "log", drop=drop)
        (episode,) = load_episodes([tmp_path / "log"], base.spec, read_metadata(base.path))
        seen_t = np.array([s[0] for s in policy.seen])
        seen_obs = np.stack([s[1] for s in policy.seen])
        seen_act = np.stack([s[2] for s in policy.seen])
        assert episode.length == len(policy.seen) > 200
        if drop:
            assert episode.info["dropped"] > 0
        assert np.allclose(episode.obs, seen_obs, atol=1e-6)
        assert np.allclose(episode.actions, seen_act, atol=1e-6)
        assert np.unique(np.round(seen_act - policy.action, 3)).size > 1  # noise was there to recover
        assert seen_t.size == episode.tick.size
        assert episode.episode_return == pytest.approx(summary["episode_return"], rel=1e-9, abs=1e-12)

    def test_noisy_policy_without_noise_is_the_policy_runner(self, base, tmp_path):
        noisy = NoisyPolicy(base.path, base.spec, ExplorationConfig(std=0.0))
        runner = PolicyRunner(base.path, base.spec, providers="cpu")
        a = _run(base, noisy, tmp_path / "a", seed=2)
        b = _run(base, runner, tmp_path / "b", seed=2)
        ea = load_episodes([tmp_path / "a"], base.spec, read_metadata(base.path))[0]
        eb = load_episodes([tmp_path / "b"], base.spec, read_metadata(base.path))[0]
        assert np.allclose(ea.actions, eb.actions, atol=1e-6)
        assert a["episode_return"] == pytest.approx(b["episode_return"], rel=1e-9)


class TestRos1Log:
    def test_a_ros1_copy_of_a_deploy_log_gives_the_same_episode(self, base, logs, tmp_path):
        # another recorder's ROS 1 bag of the run (rosbag record: no sim2real metadata, no events)
        from ros1_testdata import write_ros1

        from sim2real.logs import read_bag

        meta = read_metadata(base.path)
        (want,) = load_episodes(logs[:1], base.spec, meta)
        bag = write_ros1(tmp_path / "ep0.bag", read_bag(logs[0]))
        (got,) = load_episodes([bag], base.spec, meta)
        assert got.length == want.length > 0
        np.testing.assert_array_equal(got.obs, want.obs)
        np.testing.assert_array_equal(got.actions, want.actions)
        np.testing.assert_array_equal(got.rewards, want.rewards)


class TestBadLogs:
    def test_no_logs(self, base):
        with pytest.raises(Sim2RealError, match="no logs"):
            load_episodes([], base.spec, read_metadata(base.path))

    def test_missing_log(self, base, tmp_path):
        with pytest.raises(LogError):
            load_episodes([tmp_path / "nope"], base.spec, read_metadata(base.path))


    def test_a_policy_that_stacks_frames_is_refused(self, base):
        meta = dataclasses.replace(read_metadata(base.path), frame_stack=3)
        with pytest.raises(Sim2RealError, match=r"does not rebuild observation history .*\(terms 3 stacked frames"):
            check_observation_from_logs(meta, "policy")


class TestReplayBuffer:
    def test_drops_oldest_episodes_beyond_capacity(self, base, logs):
        episodes = load_episodes(logs, base.spec, read_metadata(base.path))
        buffer = ReplayBuffer(capacity=episodes[0].length + episodes[1].length)
        buffer.add(episodes)
        assert buffer.episodes == episodes[1:]
        arrays = buffer.arrays()
        assert arrays["obs"].shape == (buffer.size, base.spec.n_obs)
        assert list(np.unique(arrays["episode"])) == [0, 1]


class TestCommandJoints:
    def test_commands_in_another_joint_order_give_the_same_episode(self):
        # a bag of another recorder read with --command-order states: the Go2's commands in its motor
        # order (FR, FL, RR, RL) are taken by joint name, not by position.  The rewards are the task's
        # joint terms (its velocity-tracking terms need a base velocity no log of this robot holds).
        import dataclasses

        from deploy_testdata import tiny_policy

        from sim2real.finetune.data import episode_from_trajectory
        from sim2real.logs import Trajectory
        from sim2real.logs.trajectory import BaseTrack
        from sim2real.robots import load_robot
        from sim2real.tasks import get_task

        spec = load_robot("quadruped")
        meta = read_metadata(tiny_policy("quadruped"))
        rng = np.random.default_rng(0)
        n = 40
        t = spec.control_dt * np.arange(n)
        still = np.zeros((n, 3))
        common = {
            "spec_hash": spec.hash,
            "joint_names": spec.joints,
            "t": t,
            "q": spec.default_pose + 0.1 * rng.standard_normal((n, 12)),
            "qd": rng.standard_normal((n, 12)),
            "tau": None,
            "command_t": t,
            "imu_t": t,
            "gyro": still,
            "accel": np.tile([0.0, 0.0, 9.81], (n, 1)),
            "quat": np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),
            "base_estimate": BaseTrack(t, np.tile([0.0, 0.0, 0.3], (n, 1)), np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)), still, still),
        }
        u = spec.default_pose + 0.1 * rng.standard_normal((n, 12))
        vendor = [f"{leg}_{part}" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf")]
        cols = [spec.actuated_joints.index(j) for j in vendor]
        robot_order = Trajectory(command=u, command_joints=spec.actuated_joints, **common)
        motor_order = Trajectory(command=np.ascontiguousarray(u[:, cols]), command_joints=tuple(vendor), **common)
        task = get_task(spec)
        task = dataclasses.replace(task, rewards={k: task.rewards[k] for k in ("action_rate", "joint_limits")})
        want = episode_from_trajectory(robot_order, spec, meta, task)
        got = episode_from_trajectory(motor_order, spec, meta, task)
        assert want.length == n
        np.testing.assert_array_equal(got.actions, want.actions)
        np.testing.assert_array_equal(got.obs, want.obs)
        np.testing.assert_array_equal(got.rewards, want.rewards)
        assert got.info["data_sha256"] == want.info["data_sha256"]


def commanded(env):
    """A reward term of the command alone: vx + 10 vy [m/s]."""
    return env.velocity_command[:, 0] + 10.0 * env.velocity_command[:, 1]


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """A quadruped deployed at 50 % with a 0.4 m/s command (0.2 m/s seen), then 0.2 m/s sideways
    (0.1 seen): (log, spec, policy file, a task rewarding the joint terms and the command)."""
    import dataclasses

    from deploy_testdata import tiny_policy

    from sim2real.deploy.loop_build import build_loop
    from sim2real.logs import read_bag
    from sim2real.real.twin import TwinConfig, TwinRobot
    from sim2real.robots import load_robot
    from sim2real.tasks import get_task
    from sim2real.tasks.base import Term

    tmp_path = tmp_path_factory.mktemp("walked")
    spec = load_robot("quadruped")
    policy = tiny_policy("quadruped")
    robot = TwinRobot(spec, TwinConfig())
    config = LoopConfig(mode="lockstep", velocity_command=(0.4, 0.0, 0.0))
    loop = build_loop(spec, robot, policy, config=config, speed_stage="50%", log_path=tmp_path / "run")
    for _ in range(20):
        loop.tick()
    loop.set_velocity_command([0.0, 0.2, 0.0])
    for _ in range(20):
        loop.tick()
    loop.close()
    task = get_task(spec)
    rewards = {k: task.rewards[k] for k in ("action_rate", "joint_limits")}
    task = dataclasses.replace(task, rewards={**rewards, "commanded": Term(commanded, 2.0)})
    return read_bag(tmp_path / "run"), spec, policy, task


class TestVelocityCommand:
    @staticmethod
    def seen_command(episode, spec):
        layout = [(t.name, t.size) for t in spec.observation]
        start = sum(size for name, size in layout[: [n for n, _ in layout].index("velocity_command")])
        scale = next(t.scale for t in spec.observation if t.name == "velocity_command")
        return episode.obs[:, start : start + 3] / np.asarray(scale)

    def test_the_episode_sees_the_command_the_policy_saw_scaled_by_its_stage(self, walked):
        # the fine-tuning observations carry the commands the policy saw, not zeros
        from sim2real.finetune.data import episode_from_trajectory

        traj, spec, policy, task = walked
        changes = [e.detail["velocity_command"] for e in traj.events if e.kind == "velocity_command"]
        assert changes == [[0.2, 0.0, 0.0], [0.0, 0.1, 0.0]]
        seen = self.seen_command(episode_from_trajectory(traj, spec, read_metadata(policy), task), spec)
        np.testing.assert_allclose(seen[0], [0.2, 0.0, 0.0], atol=1e-6)
        np.testing.assert_allclose(seen[-1], [0.0, 0.1, 0.0], atol=1e-6)

    def test_the_reward_reads_the_same_command(self, walked):
        # the rewards were computed against a zero command while the observations held the real one:
        # a velocity-tracking reward then paid a walking robot for standing still
        import dataclasses

        from sim2real.finetune.data import episode_from_trajectory

        traj, spec, policy, task = walked
        meta = read_metadata(policy)
        episode = episode_from_trajectory(traj, spec, meta, task)
        joints_only = dataclasses.replace(task, rewards={k: v for k, v in task.rewards.items() if k != "commanded"})
        without = episode_from_trajectory(traj, spec, meta, joints_only)
        seen = self.seen_command(episode, spec)
        command_part = episode.rewards - without.rewards
        np.testing.assert_allclose(command_part, 2.0 * (seen[:, 0] + 10.0 * seen[:, 1]) * spec.control_dt, atol=1e-9)
        assert command_part[0] == pytest.approx(2.0 * 0.2 * spec.control_dt)
        assert command_part[-1] == pytest.approx(2.0 * 1.0 * spec.control_dt)

    def test_a_log_with_the_command_only_in_its_metadata_uses_it(self, walked):
        # record --policy --velocity-command writes the command into the log's metadata; a log whose
        # events do not name it (another recorder's, an older version's) was fine-tuned at zero
        import dataclasses

        from sim2real.finetune.data import episode_from_trajectory

        traj, spec, policy, task = walked
        events = [e for e in traj.events if e.kind not in ("velocity_command", "start")]
        bare = dataclasses.replace(traj, events=events, meta={**traj.meta, "velocity_command": [0.3, 0.0, 0.1]})
        seen = self.seen_command(episode_from_trajectory(bare, spec, read_metadata(policy), task), spec)
        np.testing.assert_allclose(seen, np.tile([0.3, 0.0, 0.1], (len(seen), 1)), atol=1e-6)

    def test_a_log_that_names_no_command_is_one_warning_line(self, walked, caplog):
        import dataclasses
        import logging

        from sim2real.finetune.data import episode_from_trajectory

        traj, spec, policy, task = walked
        events = [e for e in traj.events if e.kind not in ("velocity_command", "start")]
        bare = dataclasses.replace(traj, events=events, meta={k: v for k, v in traj.meta.items() if k != "velocity_command"})
        with caplog.at_level(logging.WARNING, logger="sim2real.finetune.data"):
            episode_from_trajectory(bare, spec, read_metadata(policy), task, source="walk.mcap")
        (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert line.startswith("walk.mcap: the log names no velocity command") and "\n" not in line
