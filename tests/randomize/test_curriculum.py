"""Progressive training: the ladder, advancing on a metric or a budget, logged and queryable;
a new stage reaches each simulation at its next reset."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest
from randomize_helpers import get, still_task

from sim2real.envs.core import TaskEnv
from sim2real.randomize import Curriculum, RandomizationError, Stage, load_randomization
from sim2real.robots import load_robot

MASS = {"physics": [{"param": "body.pole.mass", "mode": "scale", "dist": "uniform", "low": 0.5, "high": 0.7}]}
NOISE = {
    "sensors": [
        {"param": "sensor.hinge_pos.noise", "mode": "absolute", "dist": "uniform", "low": 0.01, "high": 0.02}
    ]
}


@pytest.mark.parametrize("robot", ["pendulum", "furuta", "quadruped"])
def test_builtin_ladder_adds_one_kind_per_stage(specs, robot):
    cur = Curriculum(specs[robot], "ladder", seed=0)
    assert [s.name for s in cur.stages] == [
        "perfect",
        "sensor_noise",
        "actuator_delays",
        "physics",
        "pushes_terrain",
    ]
    assert cur.stages[0].randomization.is_empty
    sections = [set(s.randomization.sections()) for s in cur.stages]
    for before, after in itertools.pairwise(sections):
        assert before < after
    assert {"sensors"} <= sections[1] and "delays" in sections[2] and "physics" in sections[3]
    assert "pushes" in sections[4]
    assert ("terrain" in sections[4]) == (robot == "quadruped")
    full = load_randomization(specs[robot], "full")
    assert {p.name for p in cur.stages[-1].randomization.parameters} == {p.name for p in full.parameters}


def _climbs_to(spec, target: str) -> set[str]:
    """The ladder of a robot without a built-in one: from a perfect simulator, one more kind of
    randomization per gated rung, to all of ``randomize_<target>.yaml``; its last rung's sections."""
    cur = Curriculum(spec, "ladder", seed=0)
    assert cur.stages[0].randomization.is_empty
    sections = [set(s.randomization.sections()) for s in cur.stages]
    for before, after in itertools.pairwise(sections):
        assert before < after
    goal = load_randomization(spec, target)
    assert sections[-1] == set(goal.sections())
    assert {p.name for p in cur.stages[-1].randomization.parameters} == {p.name for p in goal.parameters}
    assert all(s.metric is not None for s in cur.stages[:-1]) and cur.stages[-1].metric is None
    return sections[-1]


def test_a_robot_from_robot_init_climbs_its_own_default_in_a_ladder(tmp_path):
    # no built-in ladder for a user's robot: the ladder climbs the sections of the
    # randomize_default.yaml that robot init writes beside its spec, from a perfect simulator
    import yaml

    from sim2real.randomize.config import CONFIG_DIR
    from sim2real.robots import DATA_DIR, load_robot

    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "my_quadruped", str(DATA_DIR / "quadruped.xml")
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    default = (CONFIG_DIR / "quadruped_default.yaml").read_text()
    (tmp_path / "randomize_default.yaml").write_text(default)
    spec = load_robot(str(tmp_path / "robot.yaml"))
    _climbs_to(spec, "default")
    (tmp_path / "randomize_default.yaml").unlink()
    with pytest.raises(RandomizationError, match=r"no built-in curriculum 'ladder'.*randomize_default\.yaml"):
        Curriculum(load_robot(str(tmp_path / "robot.yaml")), "ladder", seed=0)


def test_a_robot_from_robot_init_climbs_to_its_full_randomization(h1_dir, tmp_path):
    # robot init writes randomize_default.yaml and randomize_full.yaml: the ladder climbs to full,
    # through sensors, delays, physics and motors, then pushes, slopes and rough ground
    from sim2real.robots.init import init_robot

    spec, _ = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml")
    last = _climbs_to(spec, "full")
    assert {"terrain", "slope", "dropout", "action_delay"} <= last
    (tmp_path / "randomize_full.yaml").unlink()  # a spec from before: it climbs to its default
    _climbs_to(load_robot(str(tmp_path / "robot.yaml")), "default")


class TestAdvance:
    def _curriculum(self, specs):
        spec = specs["pendulum"]
        stages = [
            Stage("perfect", load_randomization(spec, "none"), metric=0.8, min_steps=100, budget=1000),
            Stage("noise", load_randomization(spec, NOISE), metric=None, budget=500),
            Stage("mass", load_randomization(spec, MASS)),
        ]
        return Curriculum(spec, stages, seed=0)

    def test_metric_after_min_steps_then_budget_then_never(self, specs, caplog):
        cur = self._curriculum(specs)
        assert cur.stage == "perfect" and cur.stage_index == 0
        assert not cur.update(50, 0.95)  # metric reached, but before min_steps
        assert not cur.update(150, 0.5)  # past min_steps, metric too low
        with caplog.at_level(logging.INFO, logger="sim2real.randomize.curriculum"):
            assert cur.update(200, 0.85)
        assert cur.stage == "noise"
        assert "stage 2/3 'noise'" in caplog.text and "metric 0.850 >= 0.8" in caplog.text
        assert not cur.update(600, 1.0)  # no metric rule: only the budget (500 steps from 200)
        assert cur.update(700, None)
        assert cur.stage == "mass" and cur.stage_index == 2
        assert not cur.update(10**9, 1.0)  # the last stage never ends
        assert [h["to"] for h in cur.history] == ["noise", "mass"]
        assert [h["step"] for h in cur.history] == [200, 700]
        summary = cur.summary()
        assert summary["stage"] == "mass" and summary["current"]["parameters"][0]["param"] == "body.pole.mass"

    def test_a_new_stage_reaches_each_simulation_at_its_next_reset(self, specs):
        spec = specs["pendulum"]
        cur = Curriculum(
            spec,
            [
                Stage("mass", load_randomization(spec, MASS), budget=10),
                Stage("perfect", load_randomization(spec, "none")),
            ],
            seed=1,
        )
        env = TaskEnv(spec, still_task(spec), 6, seed=0, hooks=cur.hooks)
        nominal = env.sim.model.body_mass[1]
        mass = get(env, "body.pole.mass")[:, 0]
        assert np.all(mass <= 0.7 * nominal)
        assert cur.update(10, None) and cur.stage == "perfect"
        env.step(np.zeros((6, 1)))
        np.testing.assert_array_equal(get(env, "body.pole.mass")[:, 0], mass)  # mid-episode: unchanged
        env.reset(np.array([0, 4]))
        after = get(env, "body.pole.mass")[:, 0]
        np.testing.assert_allclose(after[[0, 4]], nominal)  # dropped from the stage: back to nominal
        np.testing.assert_allclose(get(env, "body.pole.inertia")[[0, 4]], env.sim.model.body_inertia[[1, 1]])
        np.testing.assert_array_equal(after[[1, 2, 3, 5]], mass[[1, 2, 3, 5]])

    def test_set_stage_and_bad_curricula(self, specs, tmp_path):
        spec = specs["pendulum"]
        cur = Curriculum(spec, "ladder")
        cur.set_stage("physics", step=1000)
        assert cur.stage == "physics"
        with pytest.raises(RandomizationError, match="no stage 'flying'"):
            cur.set_stage("flying")
        with pytest.raises(RandomizationError, match="unknown section 'gravity'"):
            Curriculum(spec, {"base": "full", "stages": [{"name": "a", "sections": ["gravity"]}]})
        with pytest.raises(RandomizationError, match="stage names repeat"):
            Curriculum(
                spec,
                {"base": "full", "stages": [{"name": "a", "sections": []}, {"name": "a", "sections": []}]},
            )
        with pytest.raises(RandomizationError, match=r"no built-in curriculum 'stairs'.*ladder"):
            Curriculum(spec, "stairs")
        path = tmp_path / "cur.yaml"
        (tmp_path / "mass.yaml").write_text(
            "physics:\n  - {param: body.pole.mass, mode: scale, dist: uniform, low: 0.9, high: 1.1}  # x U(0.9, 1.1)\n"
        )
        path.write_text(
            "stages:\n  - {name: a, randomize: none, budget: 10}\n  - {name: b, randomize: mass.yaml}\n"
        )
        cur = Curriculum(spec, path)
        assert cur.name == "cur" and cur.stages[1].randomization.name == "mass"
