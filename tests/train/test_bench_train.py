"""``sim2real bench train``: every seed's run reports its own figures and the load around it."""

from __future__ import annotations

import pytest

from sim2real.bench.train import run, update_threads_ratio


class TestSeeds:
    def test_each_seed_reports_steps_rate_and_load(self):
        result = run(robot="pendulum", sb3=False, max_seconds=1.0, eval_every_s=0.5, seeds=2, eval_episodes=4)
        assert result["seeds"] == [0, 1] and len(result["runs"]) == 2
        for seed, one in zip((0, 1), result["runs"], strict=True):
            assert one["seed"] == seed
            assert one["env_steps"] > 0 and one["env_steps_per_s"] > 0
            assert one["seconds_to_success"] is None  # one second does not swing the pendulum up
            assert len(one["load_average"]["before"]) == 3 and len(one["load_average"]["after"]) == 3
        assert result["solved"] == 0


class TestUpdateThreadsRatio:
    def test_both_settings_are_measured_in_one_run(self):
        result = update_threads_ratio("pendulum", pairs=2, threads=2)
        assert result["threads"] == 2 and result["iterations_each"] == 2
        for key in ("one_thread", "threads_setting"):
            assert result[key]["collect_s"] > 0 and result[key]["update_s"] > 0
        ratio = result["one_thread"]["update_s"] / result["threads_setting"]["update_s"]
        assert result["update_speedup"] == pytest.approx(ratio, rel=0.05)


def test_a_foreign_legged_robot_benchmarks_with_its_task_kinds_preset(monkeypatch):
    """bench train looked the preset up by the robot's name: a Go2 made by robot init (task kind
    locomotion) got the generic 128-simulation config instead of the quadruped's, and never walked."""
    import dataclasses

    import sim2real.bench.train as bench_train
    from sim2real.robots import load_robot
    from sim2real.train.config import default_config

    spec = dataclasses.replace(load_robot("quadruped"), name="go2_like")
    seen = {}

    class StopError(Exception):
        pass

    def trainer(spec_, config, **kwargs):
        seen["config"] = config
        raise StopError

    monkeypatch.setattr(bench_train, "load_robot", lambda robot: spec)
    monkeypatch.setattr("sim2real.train.runner.Trainer", trainer)
    with pytest.raises(StopError):  # stopped where the trainer is made: its config is what counts
        bench_train.run(robot="go2_like", seed=0)
    assert seen["config"].num_envs == default_config("quadruped").num_envs
    assert seen["config"].hidden == default_config("quadruped").hidden
