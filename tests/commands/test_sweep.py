"""``sim2real sweep``: a grid of tiny training runs, here and on a local Ray cluster (Ray Tune)."""

from __future__ import annotations

import csv
import json

import pytest

from sim2real.cli import main

SPACE = """\
robot: furuta
steps: 1
eval_episodes: 2
seeds: 2
space:
  learning_rate: [3.0e-4, 1.0e-3]
  num_envs: 16
  steps_per_env: 8
  hidden: [16, 16]
  critic_hidden: [16, 16]
  eval_every: 0
"""


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "space.yaml"
    path.write_text(SPACE)
    return path


@pytest.fixture(scope="module")
def one_seed(tmp_path_factory):
    """The space with one seed: the Ray Tune run's (each trial there starts a process of its own)."""
    path = tmp_path_factory.mktemp("sweep_one_seed") / "space.yaml"
    path.write_text(SPACE.replace("seeds: 2", "seeds: 1"))
    out = tmp_path_factory.mktemp("serial_one_seed")
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    return path, json.loads((out / "sweep.json").read_text())


def _sweep(capsys, *args: str) -> dict:
    code = main(["sweep", *args, "--json"])
    assert code == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def serial(space, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert main(["sweep", str(space), "--out", str(out)]) == 0
    return json.loads((out / "sweep.json").read_text())


class TestSweep:
    def test_the_table_has_a_row_per_learning_rate_and_seed(self, serial):
        rows = serial["trials"]
        assert [(r["learning_rate"], r["seed"]) for r in rows] == [(3e-4, 0), (3e-4, 1), (1e-3, 0), (1e-3, 1)]
        assert all(r["env_steps"] == 16 * 8 * 5 for r in rows)  # one iteration of 16 envs x 8 x repeat 5
        assert len(serial["settings"]) == 2 and all(s["seeds"] == 2 for s in serial["settings"])

    @pytest.mark.slow(seconds=70)
    def test_ray_tune_on_a_local_cluster_writes_the_same_table(self, one_seed, tmp_path, capsys):
        pytest.importorskip("ray.tune", reason="needs the ray extra")
        space, serial = one_seed
        assert len(serial["trials"]) == 2  # a trial per learning rate
        summary = _sweep(capsys, str(space), "--out", str(tmp_path), "--ray", "local")
        assert summary["executor"] == "ray-tune"
        with open(tmp_path / "sweep.csv") as f:
            table = list(csv.DictReader(f))
        assert [(float(r["learning_rate"]), int(r["seed"])) for r in table] == [
            (r["learning_rate"], r["seed"]) for r in serial["trials"]
        ]
        for ours, ref in zip(summary["trials"], serial["trials"], strict=True):
            assert ours["success_rate"] == ref["success_rate"]
            assert ours["mean_return"] == ref["mean_return"]  # the same seeds give the same runs

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("robot: furuta\nsteps: 10\nspace: {learnin_rate: [1]}\n", "not a PPO setting"),
            ("robot: furuta\nsteps: 0\n", "steps must be a positive integer"),
            ("robot: furuta\nsteps: 10\nspace: {num_envs: [0]}\n", "num_envs must be at least 1"),
            ("steps: 10\n", "'robot' is required"),
            ("robot: furuta\nsteps: 10\ngrid: {}\n", "unknown key"),
            ("robot: furuta\nsteps: 10\nseeds: [-1]\n", "seeds must be a count or a list of integers in 0"),
            ("robot: furuta\nsteps: 10\nspace: {learning_rate: [fast]}\n", "learning_rate must be a finite number"),
            ("robot: furuta\nsteps: 10\nspace: {learning_rate: [.nan]}\n", "learning_rate must be a finite number"),
            ("robot: furuta\nsteps: 10\nspace: {hidden: [[0, 5]]}\n", "hidden must be a list of layer widths >= 1"),
            ("robot: furuta\nsteps: 10\nspace: []\n", "space must map PPO settings to values"),
        ],
    )
    def test_a_bad_space_is_one_clear_error(self, tmp_path, capsys, text, match):
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 1
        err = capsys.readouterr().err
        assert match in err and "Traceback" not in err
        assert not (tmp_path / "out").exists()


def test_settings_of_a_list_valued_axis_are_summarized_by_value():
    """hidden: [[8], [4, 4]] is an axis of two network shapes (a TypeError before: a list key)."""
    from sim2real.train.sweep import summarize

    axes = {"hidden": [[8], [4, 4]], "seed": [0, 1]}
    rows = [
        {"settings": {"hidden": h, "seed": seed}, "metrics": {"success_rate": rate, "mean_return": ret}}
        for h, seed, rate, ret in [([8], 0, 0.5, 1.0), ([8], 1, 1.0, 3.0), ([4, 4], 0, 0.0, 2.0), ([4, 4], 1, 0.0, 4.0)]
    ]
    assert summarize(rows, axes) == [
        {"hidden": [8], "seeds": 2, "success_rate": 0.75, "mean_return": 2.0},
        {"hidden": [4, 4], "seeds": 2, "success_rate": 0.0, "mean_return": 3.0},
    ]


class TestSpacePaths:
    def test_files_named_relative_to_the_space_yaml_become_absolute(self, spec_variant, tmp_path, monkeypatch):
        """Ray Tune runs each trial in a folder of its own: a relative spec path must not reach it."""
        from sim2real.train.sweep import load_space

        spec = spec_variant("furuta", lambda raw: None)
        (spec.parent / "wide.yaml").write_text("params: {}\n")
        space = spec.parent / "space.yaml"
        space.write_text(f"robot: {spec.name}\nrandomize: wide.yaml\nsteps: 10\n")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        loaded = load_space(space)
        assert loaded.robot == str(spec.resolve()) and loaded.randomize == str((spec.parent / "wide.yaml").resolve())
        monkeypatch.chdir(spec.parent)  # relative to the working directory too
        assert load_space("space.yaml").robot == str(spec.resolve())
        space.write_text("robot: furuta\nrandomize: default\nsteps: 10\n")  # names stay names
        assert (load_space(space).robot, load_space(space).randomize) == ("furuta", "default")
