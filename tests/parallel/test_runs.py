"""Executors of independent runs: identical ordered results on every backend, each run once,
and nothing of Ray or torch.distributed imported without the extras."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim2real.errors import Sim2RealError
from sim2real.parallel import ProcessExecutor, SerialExecutor, make_executor, run_all
from sim2real.parallel.runs import ResultBook

SRC = Path(__file__).resolve().parents[2] / "src"


def cube(x: int) -> int:
    return x**3


class TestExecutors:
    def test_serial_and_processes_give_the_loops_results_in_order(self):
        items = list(range(9))
        expected = [cube(i) for i in items]
        for executor in (SerialExecutor(), ProcessExecutor(2)):
            seen: list[int] = []
            with executor:
                assert executor.map(cube, items, lambda i, r, seen=seen: seen.append(i)) == expected
            assert sorted(seen) == items

    def test_run_all_defaults_to_this_process(self):
        assert run_all(cube, [2, 3]) == [8, 27]

    def test_make_executor_follows_the_options(self):
        assert make_executor().name == "serial"
        assert make_executor(workers=0).name == "processes"
        with pytest.raises(Sim2RealError, match="workers"):
            make_executor(workers=-1)


class TestResultBook:
    def test_a_second_result_for_a_run_is_dropped_not_counted(self):
        calls: list[tuple[int, str]] = []
        book = ResultBook(2, lambda i, r: calls.append((i, r)))
        assert book.record(1, "first")
        assert not book.record(1, "rerun")
        assert book.duplicates == 1 and not book.complete
        with pytest.raises(Sim2RealError, match="1 of 2 runs have no result"):
            book.ordered()
        book.record(0, "zero")
        assert book.ordered() == ["zero", "first"] and calls == [(1, "first"), (0, "zero")]


_BLOCKED_RUN = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys, json
    BLOCK = ("ray", "torch", "rsl_rl", "tensordict")
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCK:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, Block())
    import sim2real
    from sim2real.errors import MissingExtraError
    report = {"ok": [], "extra": {}, "other": {}}
    for mod in pkgutil.walk_packages(sim2real.__path__, "sim2real."):
        try:
            importlib.import_module(mod.name)
            report["ok"].append(mod.name)
        except MissingExtraError as exc:
            report["extra"][mod.name] = exc.extra
        except Exception as exc:
            report["other"][mod.name] = repr(exc)
    from sim2real.parallel import make_executor
    try:
        make_executor(ray="local")
    except MissingExtraError as exc:
        report["ray_error"] = str(exc)
    report["imported"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCK)
    print(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def report():
    """Every sim2real module imported in a fresh interpreter where ray and torch are absent."""
    import json

    env = {**os.environ, "PYTHONPATH": str(SRC), "MUJOCO_GL": "egl"}
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCKED_RUN], capture_output=True, text=True, env=env, timeout=300, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


class TestWithoutTheExtras:
    def test_every_module_imports_or_names_its_extra(self, report):
        assert report["other"] == {}
        assert set(report["extra"].values()) <= {"train"}  # torch-based modules name the train extra
        for base in ("sim2real.parallel", "sim2real.parallel.ray_cluster", "sim2real.parallel.tune",
                     "sim2real.commands.sweep", "sim2real.gap.envelope", "sim2real.cli"):  # fmt: skip
            assert base in report["ok"]
        assert report["imported"] == []  # neither ray nor torch was imported

    def test_asking_for_ray_without_it_is_one_error_naming_the_extra(self, report):
        assert "install the 'ray' extra" in report["ray_error"]

    def test_only_the_distributed_module_uses_torch_distributed_and_ray_is_imported_lazily(self):
        for path in (SRC / "sim2real").rglob("*.py"):
            tree = ast.parse(path.read_text())
            top = {id(n) for n in tree.body}
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    rel = path.relative_to(SRC).as_posix()
                    if name.startswith("torch.distributed"):
                        assert rel == "sim2real/train/distributed.py", rel
                    if name == "ray" or name.startswith("ray."):
                        assert id(node) not in top, f"{rel} imports {name} at module level"
