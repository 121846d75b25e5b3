"""A policy that observes a terrain height scan: fine-tuning refuses it at once, in one line.

It failed after reading every log (or after a round of twin episodes) with the term's "needs a
terrain height scan" from deep inside: a deploy log holds no scan and no terrain to cast one on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim2real.cli import main
from sim2real.policy.linear import write_linear_policy
from sim2real.robots import DATA_DIR, load_robot

SCAN = {
    "name": "height_scan",
    "size": 4,
    "params": {"points_x": [-0.1, 0.1], "points_y": [-0.1, 0.1], "order": "xy", "offset": 0.5},
}


@pytest.fixture(scope="module")
def scan_policy(tmp_path_factory) -> tuple[Path, Path]:
    """(spec YAML, policy file) of the quadruped observing a 2 x 2 height scan (a hand-made linear
    policy: the refusal reads the metadata only, and comes before the network is rebuilt)."""
    folder = tmp_path_factory.mktemp("scan")
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "quadruped_scan", str(DATA_DIR / "quadruped.xml")
    raw["observation"].append(SCAN)
    (folder / "robot.yaml").write_text(yaml.safe_dump(raw))
    spec = load_robot(folder / "robot.yaml")
    return folder / "robot.yaml", write_linear_policy(spec, folder / "scan.onnx")


def _one_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


def test_from_logs_is_refused_before_a_log_is_read(scan_policy, tmp_path, capsys):
    robot, policy = scan_policy
    log = tmp_path / "not_a_bag"  # never read: the refusal comes first
    log.mkdir()
    code = main(
        [
            "finetune",
            str(log),
            "--policy",
            str(policy),
            "--robot",
            str(robot),
            "--out",
            str(tmp_path / "p2.onnx"),
        ]
    )
    line = _one_line(capsys)
    assert code == 1 and line.startswith("sim2real: error: scan.onnx observes a terrain height scan"), line
    assert "no terrain" in line and "deploy logs" in line, line
    assert not (tmp_path / "p2.onnx").exists()


def test_iterative_mode_is_refused_before_a_twin_episode(scan_policy, tmp_path, capsys):
    robot, policy = scan_policy
    twin = tmp_path / "twin.yaml"
    twin.write_text("effects:\n  seed: 1\n")
    out = tmp_path / "rounds"
    args = [
        "finetune",
        "--policy",
        str(policy),
        "--robot",
        str(robot),
        "--twin",
        str(twin),
        "--rounds",
        "1",
        "--out",
        str(out),
    ]
    code = main(args)
    line = _one_line(capsys)
    assert code == 1 and "observes a terrain height scan" in line, line
    assert not out.exists() or not any(out.iterdir())


class TestLibrary:
    """The library's own doors refuse it too, before a log is read or a twin episode is run."""

    def test_finetune_files_and_iterate(self, scan_policy, tmp_path):
        from sim2real.errors import Sim2RealError
        from sim2real.finetune.iterate import iterate
        from sim2real.finetune.pipeline import finetune_files
        from sim2real.real.twin import TwinConfig

        robot, policy = scan_policy
        spec = load_robot(robot)
        with pytest.raises(Sim2RealError, match="observes a terrain height scan"):
            finetune_files(policy, [tmp_path / "never_read"], spec, tmp_path / "p2.onnx")
        with pytest.raises(Sim2RealError, match="observes a terrain height scan"):
            iterate(policy, spec, TwinConfig(), tmp_path / "rounds")
        assert not (tmp_path / "rounds").exists() and not (tmp_path / "p2.onnx").exists()

    def test_the_base_linear_velocity_is_refused_as_well(self, scan_policy):
        import dataclasses

        from sim2real.errors import Sim2RealError
        from sim2real.finetune.data import check_observation_from_logs
        from sim2real.policy.metadata import read_metadata
        from sim2real.robots import ObservationTerm

        meta = read_metadata(scan_policy[1])
        plain = [t for t in meta.observation if t.name != "height_scan"]
        layout = (*plain, ObservationTerm("base_lin_vel", 3))
        with pytest.raises(Sim2RealError, match=r"base linear velocity .* \(term base_lin_vel\)"):
            check_observation_from_logs(dataclasses.replace(meta, observation=layout), "p.onnx")
        check_observation_from_logs(
            dataclasses.replace(meta, observation=layout[:-1]), "p.onnx"
        )  # the rest: fine
