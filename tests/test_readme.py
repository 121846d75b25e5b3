"""The README's "loop by hand" block, run exactly as printed, in an empty folder, in order.

The commands are parsed from README.md itself, so the page and these tests cannot drift apart.
``make test`` checks that the block is the whole loop and that every command of it parses as the
CLI parses it (options renamed or retyped since fail here).  Running the block takes minutes of
training (about 6 M steps: 2.5 min on a quiet 2-core machine, over 9 min beside the rest of the
suite), which the suite's 15-minute budget leaves to benchmarks: ``make readme`` runs every
command as a real subprocess of the CLI, as a user would type it, and checks its outcome against
what the README says it does (the ``readme`` marker, which ``make test`` deselects).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sim2real.cli import UsageError, parse
from sim2real.logs import read_bag

README = Path(__file__).resolve().parents[1] / "README.md"



def loop_by_hand() -> list[list[str]]:
    """The commands of the README's "The loop by hand" shell block (comments dropped)."""
    text = README.read_text()
    section = text.split("## The loop by hand", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README: no ```sh block under 'The loop by hand'"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]
    assert all(c and c[0] == "sim2real" for c in commands), commands
    return commands


def test_the_readme_block_is_the_whole_loop():
    names = [c[1] for c in loop_by_hand()]
    for step in ("twin", "record", "gap", "identify", "train", "export", "deploy", "envelope", "finetune"):
        assert step in names, step


def test_every_command_of_the_block_parses_as_the_cli_parses_it():
    parsed = [parse(command[1:]) for command in loop_by_hand()]
    assert [name for name, _ in parsed] == [command[1] for command in loop_by_hand()]
    train = next(kwargs for name, kwargs in parsed if name == "train")
    assert train["calib"] == "calib.yaml" and train["randomize"] == "default"
    with pytest.raises(UsageError, match=r"unrecognized arguments --calibration calib\.yaml"):  # the check can fail
        parse(["train", "--robot", "furuta", "--calibration", "calib.yaml", "--out", "runs/ppo"])


@pytest.mark.readme
@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 5 min on a quiet 2-core machine, over 10 min under other jobs' load
def test_every_command_of_the_loop_by_hand_does_what_the_readme_says(tmp_path):
    runs: list[tuple[list[str], subprocess.CompletedProcess, float]] = []
    for command in loop_by_hand():
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "sim2real.cli", *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (shlex.join(command), done.stderr[-2000:])
        assert "Traceback" not in done.stderr, done.stderr
        runs.append((command, done, time.perf_counter() - start))

    def out(sub: str, *having: str) -> str:
        """stdout of the first command ``sim2real SUB`` whose arguments include all of ``having``."""
        return next(d.stdout for c, d, _ in runs if c[1] == sub and all(h in c for h in having))

    assert "furuta" in out("robots")
    assert out("params").splitlines()[1].startswith("parameter")
    twin = yaml.safe_load((tmp_path / "twin.yaml").read_text())
    assert (
        twin["params"]["body.pendulum.mass"] == pytest.approx(0.0288)
        and "drop_probability" in twin["effects"]
    )

    chirp = read_bag(tmp_path / "runs/chirp")
    assert chirp.meta["complete"] and chirp.duration == pytest.approx(30.0, abs=0.01)
    assert (tmp_path / "gap.html").is_file() and (tmp_path / "sysid.html").is_file()
    calib = yaml.safe_load((tmp_path / "calib.yaml").read_text())
    assert calib["params"]["body.pendulum.mass"]["value"] == pytest.approx(0.0288, rel=0.05)

    assert "stopped by the success gate" in out("train"), out("train")
    evaluation = json.loads(out("evaluate"))
    assert evaluation["success_rate"] >= 0.9 and evaluation["calibrated"]
    assert (tmp_path / "policy.onnx").is_file()
    assert re.search(r"\b(\d+)/\1 cases passed", out("faults")), out("faults")  # every case

    for run in ("runs/deploy_1", "runs/deploy_2"):
        assert "task furuta: SUCCESS" in out("deploy", run), out("deploy", run)
        assert read_bag(tmp_path / run).meta["complete"]

    def rmse(text: str) -> float:
        return float(re.search(r"position RMSE ([0-9.]+) rad", text).group(1))

    before, after = rmse(out("gap", "--report")), rmse(out("gap", "--calib"))
    assert after < 0.25 * before, (before, after)  # calibrated on the twin: the gap closes
    assert "success rate over 2 episode(s) per cell" in out("envelope")
    assert (tmp_path / "policy_ft.onnx").is_file()
    print("seconds per command:", [(shlex.join(c[1:3]), round(t, 1)) for c, _, t in runs])
    print("train printed:", out("train"))
    print("deploy printed:", out("deploy", "runs/deploy_1"))
