"""Bad input at every door: exit 1, one line on stderr naming the file and the fix, nothing written.

One table: each row is a command line with a bad file or value, the file the error line must name
and the words of the fix it must give, and the paths that must not exist afterwards.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from deploy_testdata import TWIN_YAML, tiny_policy

from sim2real.calibration import CalibratedParam, Calibration, save_calibration
from sim2real.cli import main
from sim2real.robots import DATA_DIR, load_robot


@dataclass(frozen=True)
class Case:
    """A bad command line; ``{name}`` in an argument is a path in the case's folder."""

    name: str
    args: str
    """The command line, split at spaces (before the paths are put in)."""
    names: str
    """What the error line must name (the bad file or value)."""
    fix: tuple[str, ...]
    """Words of the fix the error line must give."""
    not_written: tuple[str, ...] = ()
    """Paths (in the case folder) that must not exist afterwards."""


def _calibration(path: Path, robot: str, mass: float, spec_robot: str = "furuta") -> None:
    spec = load_robot(spec_robot)
    save_calibration(
        path,
        Calibration(
            robot=robot,
            spec_hash=spec.hash,
            params={
                "body.pendulum.mass": CalibratedParam(
                    value=np.array([mass]),
                    nominal=np.array([0.024]),
                    ci_low=np.array([mass * 0.99]),
                    ci_high=np.array([mass * 1.01]),
                    unit="kg",
                )
            },
        ),
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Good and bad input files shared by the cases."""
    d = tmp_path_factory.mktemp("inputs")
    (d / "twin.yaml").write_text(TWIN_YAML)
    (d / "heavy_twin.yaml").write_text("params:\n  body.pendulum.mass: 10.0\n")
    (d / "typo_twin.yaml").write_text("effects:\n  drop_probabilty: 0.1\n")
    (d / "negative_twin.yaml").write_text("effects:\n  position_noise: -0.001\n")
    _calibration(d / "heavy_calib.yaml", "furuta", 5.0)
    _calibration(d / "renamed_calib.yaml", "pendulum", 0.026)
    good = d / "good_calib.yaml"
    _calibration(good, "furuta", 0.026)
    text = good.read_text()
    assert "value: 0.026" in text and "ci_low: 0.02574" in text
    (d / "list_calib.yaml").write_text(text.replace("value: 0.026", "value: [0.026, 0.03]"))
    (d / "inverted_calib.yaml").write_text(text.replace("ci_low: 0.02574", "ci_low: 0.5"))
    (d / "empty_calib.yaml").write_text(text.split("params:")[0] + "params: {}\n")
    (d / "heavy_rnd.yaml").write_text(
        "physics:\n  - {param: body.pendulum.mass, mode: absolute, dist: uniform, low: 1.0, high: 10.0}\n"
    )
    (d / "inverted_rnd.yaml").write_text(
        "physics:\n  - {param: body.pendulum.mass, mode: scale, dist: uniform, low: 1.1, high: 0.9}\n"
    )
    (d / "heavy_ladder.yaml").write_text(
        "base: heavy_rnd.yaml\nstages:\n  - {name: perfect, sections: [], budget: 1000}\n"
        "  - {name: physics, sections: [physics]}\n"
    )
    t = np.arange(0.0, 0.6, 0.005)
    rows = "\n".join(f"{x:.3f},0.0,0.0,0.0" for x in t)  # hanging at rest: nothing to identify
    (d / "still.csv").write_text("time,position,velocity,torque\n" + rows + "\n")
    stamped = "\n".join(f"{x // 0.05 * 0.05:.2f},{np.sin(x):.4f},0.0,0.1" for x in t)  # 10 rows a stamp
    (d / "stamps.csv").write_text("time,position,velocity,torque\n" + stamped + "\n")
    (d / "two.csv").write_text("time,position,velocity,torque\n0.0,0.1,0.0,0.0\n0.005,0.1,0.0,0.0\n")
    (d / "run").mkdir()
    (d / "run" / "policy.pt").write_bytes(b"\x00 not a checkpoint")
    assert (
        main(
            [
                "record",
                "--robot",
                "furuta",
                "--twin",
                str(d / "twin.yaml"),
                "--excite",
                "chirp",
                "--seconds",
                "0.5",
                "--out",
                str(d / "chirp"),
            ]
        )
        == 0
    )
    (d / "edited").mkdir()  # the furuta's own spec after an edit of its model: another hash, the same name
    (d / "edited" / "furuta.yaml").write_text((DATA_DIR / "furuta.yaml").read_text())
    (d / "edited" / "furuta.xml").write_text((DATA_DIR / "furuta.xml").read_text() + "<!-- edited -->\n")
    for robot in ("furuta", "pendulum"):
        (d / f"{robot}.onnx").write_bytes(tiny_policy(robot).read_bytes())
    foreign = onnx.load(str(d / "furuta.onnx"))
    del foreign.metadata_props[:]  # an ONNX policy as another framework writes it
    onnx.save(foreign, str(d / "foreign.onnx"))
    return d


F = "{files}"
CSV = "--robot pendulum --csv-map pendulum"
"""How the pendulum's CSV files are read."""


def train(option: str, file: str) -> str:
    """Train the furuta with a bad file given to ``option`` (would write ppo)."""
    return f"train --robot furuta {option} {F}/{file} --out {{tmp}}/ppo"


def record(twin: str) -> str:
    """Record a chirp on the furuta twin of a bad twin file (would write r)."""
    return f"record --robot furuta --twin {F}/{twin} --excite chirp --seconds 1 --out {{tmp}}/r"


def deploy(policy: str, twin: str) -> str:
    """Deploy a policy on the furuta twin (would write d)."""
    return f"deploy --robot furuta --policy {F}/{policy} --twin {F}/{twin} --seconds 1 --out {{tmp}}/d"


CASES = [
    Case(
        "calibration outside the bounds (train)",
        train("--calib", "heavy_calib.yaml"),
        "heavy_calib.yaml",
        ("body.pendulum.mass", "[0.019 .. 0.029]", "--allow-out-of-bounds"),
        ("ppo",),
    ),
    Case(
        "calibration outside the bounds (gap)",
        f"gap {F}/chirp --robot furuta --calib {F}/heavy_calib.yaml --report {{tmp}}/g.html",
        "heavy_calib.yaml",
        ("--allow-out-of-bounds",),
        ("g.html",),
    ),
    Case(
        "calibration with a list for a scalar parameter",
        train("--calib", "list_calib.yaml"),
        "list_calib.yaml",
        ("body.pendulum.mass has 1 component", "has 2"),
        ("ppo",),
    ),
    Case(
        "calibration with an inverted interval",
        train("--calib", "inverted_calib.yaml"),
        "inverted_calib.yaml",
        ("interval is inverted", "identify again"),
        ("ppo",),
    ),
    Case(
        "calibration naming no parameter",
        train("--calib", "empty_calib.yaml"),
        "empty_calib.yaml",
        ("names no parameter", "identify again"),
        ("ppo",),
    ),
    Case(
        "calibration that is a binary file",
        train("--calib", "furuta.onnx"),
        "furuta.onnx",
        ("not a text calibration file", "binary file"),
        ("ppo",),
    ),
    Case(
        "robot spec that is a binary file",
        f"params --robot {F}/furuta.onnx",
        "furuta.onnx",
        ("is an ONNX policy (give it as --policy), not a robot spec",),
    ),
    Case(
        "twin file that is a binary file",
        record("furuta.onnx"),
        "furuta.onnx",
        ("not a text twin file",),
        ("r",),
    ),
    Case(
        "calibration of another robot name",
        train("--calib", "renamed_calib.yaml"),
        "renamed_calib.yaml",
        ("'pendulum'", "'furuta'", "identify it again"),
        ("ppo",),
    ),
    Case(
        "randomization outside the bounds",
        train("--randomize", "heavy_rnd.yaml"),
        "heavy_rnd.yaml",
        ("body.pendulum.mass", "--allow-out-of-bounds"),
        ("ppo",),
    ),
    Case(
        "curriculum stage outside the bounds",
        f"train --robot furuta --curriculum {F}/heavy_ladder.yaml --steps 64 --envs 2 --out {{tmp}}/ppo",
        "heavy_rnd.yaml",
        ("body.pendulum.mass", "--allow-out-of-bounds"),
        ("ppo",),
    ),
    Case(
        "randomization outside the bounds (show)",
        f"randomize show --robot furuta --config {F}/heavy_rnd.yaml",
        "heavy_rnd.yaml",
        ("--allow-out-of-bounds",),
    ),
    Case(
        "twin outside the bounds (deploy)",
        deploy("furuta.onnx", "heavy_twin.yaml"),
        "heavy_twin.yaml",
        ("body.pendulum.mass", "10", "--allow-out-of-bounds"),
        ("d",),
    ),
    Case(
        "twin outside the bounds (record)",
        record("heavy_twin.yaml"),
        "heavy_twin.yaml",
        ("--allow-out-of-bounds",),
        ("r",),
    ),
    Case(
        "twin outside the bounds (envelope)",
        f"envelope --robot furuta --policy {F}/furuta.onnx --twin {F}/heavy_twin.yaml"
        " --grid actuator.motor.delay=0:0.01:2 --report {tmp}/e.html",
        "heavy_twin.yaml",
        ("--allow-out-of-bounds",),
        ("e.html",),
    ),
    Case(
        "twin with a misspelt effect",
        record("typo_twin.yaml"),
        "typo_twin.yaml",
        ("drop_probabilty", "drop_probability"),
        ("r",),
    ),
    Case(  # was numpy's allocation error: the excitation signal is computed whole
        "recording too long to compute",
        f"record --robot furuta --twin {F}/twin.yaml --excite chirp --seconds 1e30 --out {{tmp}}/r",
        "1e+30 s",
        ("record at most", "per log"),
        ("r",),
    ),
    Case(  # was: a policy on a real robot with no preflight and no stage ledger (safety review 7)
        "a policy recorded on a ROS 2 robot",
        f"record --robot furuta --ros2 --policy {F}/furuta.onnx --seconds 1 --out {{tmp}}/r",
        "record --ros2",
        ("deploy --ros2", "preflight and stage ledger"),
        ("r",),
    ),
    Case(
        "twin with a negative noise",
        record("negative_twin.yaml"),
        "negative_twin.yaml",
        ("position_noise", ">= 0"),
        ("r",),
    ),
    Case(
        "policy of another robot",
        deploy("pendulum.onnx", "twin.yaml"),
        "pendulum.onnx",
        ("'pendulum'", "'furuta'"),
        ("d",),
    ),
    Case(
        "fine-tuning on an excitation log",
        f"finetune --policy {F}/furuta.onnx {F}/chirp --out {{tmp}}/ft.onnx",
        "chirp",
        ("excitation", "deploy logs"),
        ("ft.onnx",),
    ),
    Case(
        "identify with nothing identifiable",
        f"identify {F}/still.csv {CSV} --out {{tmp}}/c.yaml",
        "still.csv",
        ("nothing written", "longer or richer log", "-v says why"),
        ("c.yaml",),
    ),
    Case(
        "identify on a 2-row CSV",
        f"identify {F}/two.csv {CSV} --out {{tmp}}/c.yaml",
        "two.csv",
        ("too short", "longer log"),
        ("c.yaml",),
    ),
    Case(
        "gap on a 2-row CSV",
        f"gap {F}/two.csv {CSV} --report {{tmp}}/g.html",
        "two.csv",
        ("too short", "longer log"),
        ("g.html",),
    ),
    Case(
        "evaluate given an exported policy",
        f"evaluate {F}/furuta.onnx",
        "furuta.onnx",
        ("training run", "sim2real deploy --policy"),
    ),
    Case("evaluate a corrupt checkpoint", f"evaluate {F}/run", "policy.pt", ("corrupt", "train again")),
    Case(
        "export a corrupt checkpoint",
        f"export {F}/run --out {{tmp}}/p.onnx",
        "policy.pt",
        ("corrupt", "train again"),
        ("p.onnx",),
    ),
    Case(
        "export a file that is not a checkpoint",
        f"export {F}/twin.yaml --out {{tmp}}/p.onnx",
        "twin.yaml",
        ("cannot read checkpoint", "not a PyTorch checkpoint"),
        ("p.onnx",),
    ),
    Case(
        "randomization with an inverted range",
        f"randomize show --robot furuta --config {F}/inverted_rnd.yaml",
        "inverted_rnd.yaml",
        ("physics[0] 'body.pendulum.mass'", "is above high"),
    ),
    Case(
        "envelope of another robot's policy",
        f"envelope --robot furuta --policy {F}/pendulum.onnx --grid actuator.motor.delay=0:0.01:2",
        "pendulum.onnx",
        ("'pendulum'", "'furuta'"),
    ),
    Case(
        "stage ledger that is another file",
        f"stages show --ledger {F}/furuta.onnx",
        "furuta.onnx",
        ("not a stage ledger", "give another --ledger"),
    ),
    Case(
        "identify from one log given twice",
        f"identify {F}/chirp {F}/chirp/ --robot furuta --out {{tmp}}/c.yaml",
        "chirp/: given twice",
        ("give each log once",),
        ("c.yaml",),
    ),
    Case(
        "export to a folder",
        f"export {F}/run --out {F}/run",
        "--out",
        ("is a folder", "path of a file"),
    ),
    Case(
        "report under a file",
        f"gap {F}/chirp --robot furuta --report {F}/twin.yaml/g.html",
        "twin.yaml/g.html",
        ("is a file, not a folder",),
    ),
    Case(
        "identify with duplicated timestamps",
        f"identify {F}/stamps.csv {CSV} --out {{tmp}}/c.yaml",
        "stamps.csv",
        ("time 0.0 repeats line 2's", "two samples at one time"),
        ("c.yaml",),
    ),
    Case(  # the error gave both hashes, no robot names and no fix
        "gap on a log of another robot",
        f"gap {F}/chirp --robot pendulum --report {{tmp}}/g.html",
        "chirp",
        ("('furuta')", "('pendulum')", "--robot furuta"),
        ("g.html",),
    ),
    Case(  # it advised --robot furuta to a user who gave the furuta
        "gap on a log of the same robot before its spec changed",
        f"gap {F}/chirp --robot {F}/edited/furuta.yaml --report {{tmp}}/g.html",
        "chirp",
        ("the robot's spec changed since the log was recorded", "give the spec it was recorded with"),
        ("g.html",),
    ),
    Case(  # the command was dropped in silence
        "sim2sim with a velocity command for a policy that takes none",
        f"sim2sim --robot furuta --policy {F}/furuta.onnx --velocity-command 0.5 0 0 --seconds 0.1",
        "--velocity-command",
        ("takes no velocity command", "drop --velocity-command"),
    ),
    Case(  # no way forward was named
        "sim2sim of a foreign ONNX not imported",
        f"sim2sim --robot furuta --policy {F}/foreign.onnx --seconds 0.1",
        "foreign.onnx",
        ("without sim2real policy metadata", "sim2real import"),
    ),
    Case(
        "twin init over an existing file",
        f"twin init --robot furuta --out {F}/twin.yaml",
        "twin.yaml",
        ("exists", "another --out"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_exit_1_and_nothing_written(case, files, tmp_path, capsys):
    args = [a.replace(F, str(files)).replace("{tmp}", str(tmp_path)) for a in case.args.split()]
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy warning may leak
        code = main(args)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("sim2real: error: ") and len(line) <= 320, line
    assert case.names in line, line
    for word in case.fix:
        assert word in line, (word, line)
    for name in case.not_written:
        assert not (tmp_path / name).exists(), name


class TestUsageErrors:
    """An argument the parser rejects: one line with the usage hint after it, exit 2."""

    @pytest.mark.parametrize(
        ("args", "words"),
        [
            (["train", "--robot", "furuta"], ("missing --out", "sim2real train --help")),
            (["train", "--robot", "furuta", "--out", "x", "--bogus"], ("unrecognized argument --bogus",)),
            (["trian"], ("unknown command 'trian'", "sim2real --help")),
            (["record", "--robot", "furuta", "--out", "x", "--excite", "sine"], ("'sine' is not one of",)),
            (["train", "--robot", "furuta", "--out", "x", "--steps", "many"], ("--steps", "'many' is not an integer")),
            (
                ["deploy", "--robot", "furuta", "--policy", "p.onnx", "--velocity-command", "1"],
                ("--velocity-command", "FLOAT FLOAT FLOAT"),
            ),
            ([], ("give a command",)),
            (["record", "--robot", "furuta", "--out", "x", "--seed", "-1"], ("--seed: -1 is out of range", "0 to")),
            (["train", "--robot", "furuta", "--out", "x", "--seed", "1e30"], ("--seed: '1e30' is not an integer",)),
            (["deploy", "--robot", "furuta", "--policy", "p", "--seconds", "nan"], ("--seconds: nan", "finite")),
            (["sim2sim", "--robot", "furuta", "--policy", "p", "--seconds", "0"], ("--seconds: 0", "above 0")),
            (["train", "--robot", "furuta", "--out", "x", "--envs", "0"], ("--envs: 0", "at least 1")),
            (["gap", "log", "--robot", "furuta", "--horizon", "inf"], ("--horizon: inf", "finite")),
            (["identify", "log", "--robot", "furuta", "--workers", "-1"], ("--workers: -1", "0 or more")),
            (  # was tyro's "invalid value 'nan 0 0'"
                ["sim2sim", "--robot", "quadruped", "--policy", "p", "--velocity-command", "nan", "0", "0"],
                ("--velocity-command: nan is out of range", "three finite numbers", "yaw rate [rad/s]"),
            ),
            (
                ["deploy", "--robot", "quadruped", "--policy", "p", "--velocity-command", "0", "inf", "0"],
                ("--velocity-command: inf is out of range",),
            ),
            (["envelope", "--robot", "quadruped", "--policy", "p", "--grid", "g", "--velocity-command", "0", "x", "0"], ("'x' is not a number",)),
            # each was checked by hand after loading the robot and the logs, or not at all
            (["identify", "log", "--robot", "furuta", "--starts", "0"], ("--starts: 0 is out of range", "at least 1")),
            (["identify", "log", "--robot", "furuta", "--max-windows", "-1"], ("--max-windows: -1", "at least 1")),
            (["train", "--robot", "furuta", "--out", "x", "--eval-episodes", "-1"], ("--eval-episodes: -1", "0 or more")),
            (["train", "--robot", "furuta", "--out", "x", "--widen", "nan"], ("--widen: nan", "finite")),
            (["evaluate", "run", "--episodes", "0"], ("--episodes: 0", "at least 1")),
            (["actuator", "fit", "log", "--robot", "furuta", "--validation", "1"], ("--validation: 1", "below 1")),
            (["deploy", "--robot", "furuta", "--policy", "p", "--rt-priority", "100"], ("--rt-priority: 100", "1 to 99")),
            (["record", "--robot", "furuta", "--out", "x", "--domain-id", "233"], ("--domain-id: 233", "0 to 232")),
            (["deploy", "--robot", "furuta", "--policy", "p", "--live", "70000"], ("--live: 70000", "0 to 65535")),
            (["twin-node", "--robot", "furuta", "--initial-pose", "0", "nan"], ("--initial-pose: nan", "finite")),
            (["twin-node", "--robot", "furuta", "--rate", "inf"], ("--rate: inf", "above 0")),
            (["ros2", "selftest", "--rates", "50", "0"], ("--rates: 0 is out of range", "above 0")),
        ],
    )
    def test_usage_error_is_one_line_and_exit_2(self, args, words, capsys):
        code = main(args)
        captured = capsys.readouterr()
        err = [line for line in captured.err.splitlines() if line.strip()]
        assert code == 2 and len(err) == 1 and err[0].startswith("sim2real: error: "), err
        assert "usage: sim2real" in err[0]
        for word in words:
            assert word in err[0], (word, err[0])
        assert captured.out == ""
