"""The ``last_action`` term of a policy that drives some actuators and observes every joint
(``action.hold``: the embedded quadruped with its calves held): one owner,
:class:`sim2real.tasks.observations.ObservedActions`, picks the driven actions, and every builder of
observations (training environment, policy runtime, exploration, fine-tuning data, inference
benchmark) gives it the full action."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim2real.policy.metadata import read_metadata
from sim2real.policy.observation import ObservationBuilder
from sim2real.robots import DATA_DIR, RobotSpec, load_spec
from sim2real.tasks.observations import ObservationHistory, ObservedActions, ObsInputs, build_observation

CALVES = ["FL_calf", "FR_calf", "RL_calf", "RR_calf"]


def held_spec(folder: Path) -> Path:
    """The embedded quadruped's spec with its calves held and a last_action of the 8 driven actions."""
    shutil.copy(DATA_DIR / "quadruped.xml", folder / "quadruped.xml")
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["action"] = {"scale": 0.5, "filter": 0.6, "hold": CALVES}
    for term in raw["observation"]:
        if term["name"] == "last_action":
            term["size"] = 8
    path = folder / "robot.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def driven_by_name(spec: RobotSpec) -> list[int]:
    """The driven actions, worked out here from the joint names (not through the owner)."""
    return [i for i, j in enumerate(spec.actuated_joints) if j not in CALVES]


def last_action_block(spec: RobotSpec, obs: np.ndarray) -> np.ndarray:
    """The last_action term's values (scale 1, history 1) of observations (..., n_obs)."""
    col = 0
    for term in spec.observation:
        if term.name == "last_action":
            return obs[..., col : col + term.size]
        col += term.width
    raise AssertionError("no last_action term")


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    from sim2real.policy.linear import write_linear_policy

    folder = tmp_path_factory.mktemp("held_last_action")
    path = held_spec(folder)
    spec = load_spec(path)
    gain = np.random.default_rng(5).normal(0.0, 0.3, (spec.n_actions, spec.n_obs))
    policy = write_linear_policy(spec, folder / "policy.onnx", gain, action_scale=spec.action_scale)
    return {"path": path, "spec": spec, "policy": policy}


class TestTheBuilderWithADrivenIndex:
    def test_it_gives_the_observation_the_driven_actions_gave_before(self, held):
        spec = held["spec"]
        driven = driven_by_name(spec)
        assert len(driven) == 8
        layout = [
            dataclasses.replace(t, history=3) if t.name == "last_action" else t for t in spec.observation
        ]
        default = np.array(spec.default_pose)
        builder = ObservationBuilder(
            layout, default, spec.n_actions, spec.control_dt, driven=spec.action_index
        )
        by_meta = ObservationBuilder(
            layout,
            default,
            spec.n_actions,
            spec.control_dt,
            driven=read_metadata(held["policy"]).action_index,
        )
        assert builder.actions.index.tolist() == by_meta.actions.index.tolist() == driven
        before = ObservationHistory(layout, 1)  # what the runtime built from the driven actions alone
        rng = np.random.default_rng(1)
        for k in range(6):
            q = default + rng.normal(0.0, 0.3, spec.n_joints)
            qd = rng.normal(0.0, 2.0, spec.n_joints)
            action = rng.uniform(-1.0, 1.0, spec.n_actions)  # the full action, held entries included
            gyro, cmd = rng.normal(0.0, 1.0, 3), rng.uniform(-1.0, 1.0, 3)
            quat = rng.normal(0.0, 1.0, 4)
            quat /= np.linalg.norm(quat)
            mine = builder.build(q, qd, action, gyro, quat, cmd).copy()
            builder.commit()
            np.testing.assert_array_equal(by_meta.build(q, qd, action, gyro, quat, cmd), mine)
            by_meta.commit()
            inputs = ObsInputs(
                joint_pos=q[None],
                joint_vel=qd[None],
                default_pose=default,
                last_action=action[None, driven],
                base_ang_vel=gyro[None],
                base_quat=quat[None],
                velocity_command=cmd[None],
                episode_time=np.array([k * spec.control_dt]),
            )
            expected = build_observation(layout, inputs, history=before)[0]
            np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-12)
            assert mine[-8:].tolist() == [float(a) for a in action[driven]]  # the newest last_action frame

    def test_a_last_action_of_every_action_beside_a_driven_index_is_refused(self, held):
        from sim2real.errors import PolicyError

        spec = held["spec"]
        layout = [dataclasses.replace(t, size=12) if t.name == "last_action" else t for t in spec.observation]
        with pytest.raises(PolicyError, match="'last_action' has size 12 in the layout, expected 8"):
            ObservationBuilder(layout, spec.default_pose, 12, spec.control_dt, driven=spec.action_index)


class TestOneOwner:
    """Each builder of observations calls ObservedActions.select with the full action."""

    @pytest.fixture
    def calls(self, monkeypatch):
        seen: list[tuple[int, ...]] = []
        select = ObservedActions.select

        def counting(self, action, out=None):
            seen.append(np.shape(action))
            return select(self, action, out)

        monkeypatch.setattr(ObservedActions, "select", counting)
        return seen

    def test_the_training_environment(self, held, calls):
        from sim2real.envs.core import TaskEnv
        from sim2real.tasks import get_task

        spec = held["spec"]
        env = TaskEnv(spec, get_task(spec), 2, seed=0, nthread=1)
        env.step(np.linspace(-0.9, 0.9, 24).reshape(2, 12))
        calls.clear()
        inputs = env.obs_inputs()
        assert calls == [(2, 12)]
        np.testing.assert_array_equal(inputs.last_action, env.filtered_action[:, driven_by_name(spec)])

    def test_the_policy_runtime(self, held, calls):
        from sim2real.policy.runtime import PolicyRunner
        from sim2real.real.twin import TwinRobot

        spec = held["spec"]
        runner = PolicyRunner(held["policy"], spec, providers="cpu")
        reading = TwinRobot(spec).read()
        for _ in range(2):
            calls.clear()
            filtered = runner.filtered_action.copy()
            runner.step_reading(reading, np.array([0.3, 0.0, 0.0]))
            assert calls == [(12,)]
            np.testing.assert_allclose(
                last_action_block(spec, runner.observation), filtered[driven_by_name(spec)], atol=1e-6
            )
        assert np.abs(filtered).max() > 0.01  # the second step observed a non-zero action

    def test_exploration(self, held, calls):
        from sim2real.finetune.explore import ExplorationConfig, NoisyPolicy
        from sim2real.real.twin import TwinRobot

        spec = held["spec"]
        policy = NoisyPolicy(held["policy"], spec, ExplorationConfig(std=0.2, seed=1))
        reading = TwinRobot(spec).read()
        policy.step_reading(reading, np.array([0.3, 0.0, 0.0]))
        calls.clear()
        filtered = policy.filtered_action.copy()
        policy.step_reading(reading, np.array([0.3, 0.0, 0.0]))
        assert calls == [(12,)]
        np.testing.assert_allclose(
            last_action_block(spec, policy.observation), filtered[driven_by_name(spec)], atol=1e-6
        )

    def test_fine_tuning_data(self, held, calls):
        from sim2real.finetune.data import episode_from_trajectory
        from sim2real.logs.trajectory import Trajectory

        spec = held["spec"]
        meta = read_metadata(held["policy"])
        k = 30
        t = np.arange(k) * spec.control_dt
        rng = np.random.default_rng(2)
        a_f = rng.uniform(-0.5, 0.5, (k, spec.n_actions))
        command = meta.command_offset + np.asarray(meta.action_scale) * a_f  # the held entries: their offset
        quat = np.tile([1.0, 0.0, 0.0, 0.0], (k, 1))
        traj = Trajectory(
            spec_hash=spec.hash,
            joint_names=tuple(spec.joints),
            t=t,
            q=np.tile(spec.default_pose, (k, 1)) + rng.normal(0.0, 0.05, (k, spec.n_joints)),
            qd=rng.normal(0.0, 0.5, (k, spec.n_joints)),
            command_t=t + 0.001,
            command=command,
            command_joints=tuple(meta.actuated_joints),
            imu_t=t,
            gyro=rng.normal(0.0, 0.1, (k, 3)),
            accel=np.zeros((k, 3)),
            quat=quat,
        )
        from sim2real.tasks import get_task

        task = dataclasses.replace(get_task(spec), rewards={})  # a velocity reward needs base_lin_vel
        calls.clear()
        episode = episode_from_trajectory(traj, spec, meta, task)
        assert (len(episode.tick), spec.n_actions) in calls
        a_prev = np.vstack([np.zeros((1, spec.n_actions)), a_f[:-1]])
        driven = driven_by_name(spec)
        np.testing.assert_allclose(
            last_action_block(spec, episode.obs), a_prev[episode.tick][:, driven], atol=1e-6
        )

    def test_the_inference_benchmark(self, held, calls):
        pytest.importorskip("torch", reason="the benchmark compares against PyTorch (train extra)")
        from sim2real.bench.infer import run

        result = run(robot=str(held["path"]), calls=200, block=100, warmup=100, hidden=(16, 16))
        assert result["max_abs_diff"] <= 1e-5
        assert (12,) in calls  # the seed loader's step


class TestFineTuningDataOfAHeldPolicy:
    def test_held_actions_are_zero_and_the_log_rewards_finite(self, held):
        # a held actuator's action scale is 0 (its command is its offset whatever the action): the
        # executed action recovered from the log was 0 / 0 = NaN there, and every reward reading it
        # (action_rate) NaN: silent NaN targets for fine-tuning
        import dataclasses

        from sim2real.finetune.data import episode_from_trajectory
        from sim2real.logs.trajectory import Trajectory
        from sim2real.tasks import get_task

        spec = held["spec"]
        meta = read_metadata(held["policy"])
        k = 40
        t = np.arange(k) * spec.control_dt
        rng = np.random.default_rng(3)
        a_f = rng.uniform(-0.5, 0.5, (k, spec.n_actions))
        command = meta.command_offset + np.asarray(meta.action_scale) * a_f
        traj = Trajectory(
            spec_hash=spec.hash,
            joint_names=tuple(spec.joints),
            t=t,
            q=np.tile(spec.default_pose, (k, 1)),
            qd=np.zeros((k, spec.n_joints)),
            command_t=t + 0.001,
            command=command,
            command_joints=tuple(meta.actuated_joints),
            imu_t=t,
            gyro=np.zeros((k, 3)),
            accel=np.zeros((k, 3)),
            quat=np.tile([1.0, 0.0, 0.0, 0.0], (k, 1)),
        )
        task = get_task(spec)
        task = dataclasses.replace(task, rewards={n: task.rewards[n] for n in ("action_rate", "joint_limits")})
        with np.errstate(all="raise"):
            episode = episode_from_trajectory(traj, spec, meta, task)
        assert np.isfinite(episode.rewards).all() and np.isfinite(episode.obs).all()
        held_cols = [spec.actuated_joints.index(j) for j in CALVES]
        assert np.all(np.isfinite(episode.actions))
        driven = driven_by_name(spec)
        np.testing.assert_allclose(episode.actions[:, held_cols], 0.0)
        assert np.abs(episode.actions[:, driven]).max() > 0.1  # the driven ones are recovered
