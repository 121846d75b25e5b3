"""The shape of the source tree, read from its syntax (AST) without importing it.

- no import cycle between modules (every import counts: module level, inside functions, and under
  ``TYPE_CHECKING``);
- imports go down the ladder of DESIGN.md (base -> simulation -> learning -> policy -> real ->
  deploy -> analysis -> the CLI and the demo pipeline), never up;
- no module over 700 lines;
- torch stays out of the robot side: no module of ``real/``, ``deploy/`` or the policy runtime
  imports torch, directly or through the sim2real modules it imports (with the packages whose
  ``__init__`` runs on the way);
- under tests/: no two modules share a basename, and the helper modules' folders are exactly the
  pytest ``pythonpath`` of pyproject.toml;
- every package's ``__init__`` docstring has a module table (``module  owns`` between ``====``
  rules) that lists each of its modules and sub-packages exactly once, and nothing else.

What is known to break a rule today is listed in :data:`KNOWN_EXCEPTIONS`, with the issue that
removes it; an exception that no longer occurs fails too, so that the list stays exact.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
TESTS = Path(__file__).resolve().parent
PACKAGE = "sim2real"

MAX_LINES = 700
"""Longest module [lines] (DESIGN.md: small modules with one job)."""

LADDER: tuple[tuple[str, ...], ...] = (
    ("errors", "text", "robots", "params", "param_kinds", "param_files", "calibration", "logs", "parallel"),
    ("sim", "randomize", "tasks", "envs"),
    ("train",),
    ("policy",),
    ("real",),
    ("deploy",),
    ("sysid", "gap", "finetune", "report"),
    ("pipeline", "bench", "commands", "cli", "__main__"),
)
"""The rungs of the import ladder, bottom first: a module imports from its own rung and below."""

TORCH_FREE_ROOTS: tuple[str, ...] = (
    "sim2real.real",
    "sim2real.deploy",
    "sim2real.policy.runtime",
    "sim2real.policy.metadata",
    "sim2real.policy.observation",
    "sim2real.policy.linear",
    "sim2real.sim.net_actuator",
)
"""Modules (and packages: every module in them) a robot computer runs without torch."""

TORCH_MODULES = frozenset({"torch", "rsl_rl", "tensordict", "torchvision"})
"""Top-level distributions that are or import torch."""

KNOWN_EXCEPTIONS: dict[str, frozenset] = {
    "too_long": frozenset(),
    "cycles": frozenset(),
}
"""Every rule break allowed today, each with the issue that removes it (remove the entry then)."""


# ------------------------------------------------------------------------------------------ reading


@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by their __init__)."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _owner(name: str) -> str | None:
    """The module a dotted name is (or is defined in): its longest prefix that is a module."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


@cache
def _imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(sim2real modules, other top-level names) that ``module`` imports anywhere in its file."""
    path = modules()[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            # ``from pkg import name``: the module pkg.name when there is one, else pkg
            names += [f"{source}.{alias.name}" for alias in node.names]
    ours: set[str] = set()
    others: set[str] = set()
    for name in names:
        if name.split(".")[0] == PACKAGE:
            owner = _owner(name)
            if owner is not None and owner != module:
                ours.add(owner)
        else:
            others.add(name.split(".")[0])
    return frozenset(ours), frozenset(others)


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the sim2real modules it imports."""
    return {m: _imports(m)[0] for m in modules()}


def _parents(module: str) -> Iterable[str]:
    """The packages whose ``__init__`` runs before ``module`` is imported."""
    parts = module.split(".")
    for k in range(1, len(parts)):
        yield ".".join(parts[:k])


def find_cycles(g: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one node of a directed graph (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def cycles() -> list[frozenset[str]]:
    """The import cycles of the package."""
    return find_cycles(graph())


def rung(module: str) -> int:
    """Index of the module's rung on :data:`LADDER` (the package itself is the bottom)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    for i, names in enumerate(LADDER):
        if parts[1] in names:
            return i
    raise AssertionError(f"{module}: sim2real.{parts[1]} is on no rung of LADDER in {__file__}; add it")


def import_chains(
    root: str, g: Mapping[str, Iterable[str]], bad: Callable[[str], bool]
) -> list[list[str]]:
    """Import chains from ``root`` to every module ``bad`` is true of (breadth first, shortest)."""
    previous: dict[str, str | None] = {root: None}
    queue = [root]
    chains = []
    while queue:
        m = queue.pop(0)
        if bad(m):
            chain = [m]
            while (before := previous[chain[-1]]) is not None:
                chain.append(before)
            chains.append(chain[::-1])
        for nxt in sorted(g.get(m, ())):
            if nxt not in previous:
                previous[nxt] = m
                queue.append(nxt)
    return chains


def torch_paths(root: str) -> list[list[str]]:
    """Import chains from ``root`` to a module importing torch: through the sim2real modules it
    imports and the packages whose ``__init__`` runs on the way."""
    g = {m: set(targets) | set(_parents(m)) for m, targets in graph().items()}
    return import_chains(root, g, lambda m: bool(_imports(m)[1] & TORCH_MODULES))


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _relative(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def packages() -> list[Path]:
    """Folders of the packages under src/sim2real (the top level first)."""
    return sorted(init.parent for init in (SRC / PACKAGE).rglob("__init__.py"))


def package_contents(folder: Path) -> list[str]:
    """The names of a package's modules (``__init__`` aside) and sub-packages, sorted."""
    return sorted(
        p.stem
        for p in folder.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").is_file())
    )


def table_names(doc: str) -> list[str] | None:
    """The first cells of a module table's rows, in order; None when ``doc`` has no table.

    A table is a reStructuredText simple table: a rule (``====  ====``), the header row, a rule,
    the rows, a rule.  A row starts at column 0; a line that starts with a space continues the row
    above.  The first cell is the text under the first rule's first run of ``=``.
    """
    lines = doc.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("=") and set(line) <= {"=", " "}]
    if len(rules) < 3:
        return None
    width = len(lines[rules[0]].split()[0])
    rows = lines[rules[1] + 1 : rules[2]]
    return [line[:width].strip() for line in rows if line.strip() and not line.startswith(" ")]


# ------------------------------------------------------------------------------------------ tests


class TestImports:
    def test_no_import_cycles_beyond_the_known_ones(self):
        found = set(cycles())
        new = [sorted(c) for c in found - KNOWN_EXCEPTIONS["cycles"]]
        assert not new, f"import cycles: {new}"

    def test_every_known_cycle_still_exists(self):
        gone = [sorted(c) for c in KNOWN_EXCEPTIONS["cycles"] - set(cycles())]
        assert not gone, f"no longer cycles, remove them from KNOWN_EXCEPTIONS: {gone}"

    def test_imports_go_down_the_ladder(self):
        upward = [
            f"{m} -> {target}"
            for m, targets in sorted(graph().items())
            for target in sorted(targets)
            if rung(target) > rung(m)
        ]
        assert not upward, "imports up the ladder:\n" + "\n".join(upward)

    @pytest.mark.parametrize("root", TORCH_FREE_ROOTS)
    def test_the_robot_side_never_imports_torch(self, root):
        starts = [m for m in modules() if m == root or m.startswith(root + ".")]
        assert starts, f"{root} is not a module or package"
        chains = [" -> ".join(chain) for start in starts for chain in torch_paths(start)]
        assert not chains, "torch reached from the robot side:\n" + "\n".join(sorted(set(chains)))


class TestModules:
    def test_no_module_over_the_line_limit_beyond_the_known_ones(self):
        long = {_relative(p): _lines(p) for p in modules().values() if _lines(p) > MAX_LINES}
        new = {k: v for k, v in long.items() if k not in KNOWN_EXCEPTIONS["too_long"]}
        assert not new, f"modules over {MAX_LINES} lines: {new}"

    def test_every_known_long_module_is_still_long(self):
        files = {_relative(p): p for p in modules().values()}
        fixed = [k for k in KNOWN_EXCEPTIONS["too_long"] if k not in files or _lines(files[k]) <= MAX_LINES]
        assert not fixed, f"no longer over {MAX_LINES} lines, remove them from KNOWN_EXCEPTIONS: {fixed}"


class TestModuleTables:
    """Each package's ``__init__`` docstring is the map of the package: a table of its modules and
    sub-packages with what each owns (docs/architecture.md sends maintainers there)."""

    @pytest.mark.parametrize("folder", packages(), ids=lambda f: _relative(f))
    def test_the_table_lists_each_module_once_and_nothing_else(self, folder):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
        names = table_names(doc)
        assert names is not None, f"{_relative(folder)}/__init__.py has no module table"
        contents = package_contents(folder)
        missing = [m for m in contents if m not in names]
        twice = sorted({n for n in names if names.count(n) > 1})
        unknown = [n for n in names if n not in contents]
        assert not (missing or twice or unknown), (
            f"{_relative(folder)}/__init__.py's module table: missing {missing}, listed more than once "
            f"{twice}, not a module or sub-package here {unknown}"
        )


class TestTestsTree:
    """Tests and their helper modules are imported by bare name (pytest's rootdir import: no
    packages under tests/); helpers from the folders the pytest ``pythonpath`` lists."""

    def test_no_two_modules_under_tests_share_a_basename(self):
        seen: dict[str, list[str]] = {}
        for path in TESTS.rglob("*.py"):
            if path.name != "conftest.py":
                seen.setdefault(path.name, []).append(path.relative_to(TESTS).as_posix())
        clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
        assert not clashes, f"rename one of each (pytest imports them by basename): {clashes}"

    def test_the_pytest_pythonpath_lists_exactly_the_folders_with_helpers(self):
        root = TESTS.parent
        config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
        helpers = {
            path.parent.relative_to(root).as_posix()
            for path in TESTS.rglob("*.py")
            if not path.name.startswith("test_") and path.name != "conftest.py"
        }
        assert set(config["pythonpath"]) == helpers, "pyproject [tool.pytest.ini_options] pythonpath"


class TestTheCheckItself:
    """The rules above would see what they look for (they read syntax, so they are tested on it)."""

    def test_function_level_and_type_checking_imports_count(self):
        # deploy/loop_build.py imports the policy runner inside build_loop only
        assert "sim2real.policy.runtime" in graph()["sim2real.deploy.loop_build"]
        # report/sections.py imports the gap results under TYPE_CHECKING only
        assert "sim2real.gap.result" in graph()["sim2real.report.sections"]

    def test_a_torch_import_is_found_through_the_chain(self):
        chains = torch_paths("sim2real.policy.export")
        assert chains and chains[0][0] == "sim2real.policy.export"
        assert any(TORCH_MODULES & _imports(chain[-1])[1] for chain in chains)

    def test_a_cycle_is_found_and_named(self):
        g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
        assert find_cycles(g) == [frozenset({"a", "b", "c"})]
        assert find_cycles({"a": {"b"}, "b": set()}) == []

    def test_an_import_chain_is_the_shortest_way_there(self):
        g = {"a": {"b", "c"}, "b": {"d"}, "c": {"x"}, "d": {"x"}}
        assert import_chains("a", g, lambda m: m == "x") == [["a", "c", "x"]]
        assert import_chains("b", {"b": set()}, lambda m: m == "x") == []

    def test_a_module_table_is_read_by_its_first_column(self):
        doc = """Intro.

====  ====
mod   owns
====  ====
a     one
      more of a
b/    two
====  ====
"""
        assert table_names(doc) == ["a", "b/"]
        assert table_names("- :mod:`a`: a list is not a table") is None

    def test_every_package_is_on_the_ladder(self):
        packages = {m.split(".")[1] for m in modules() if m.count(".") >= 1}
        on_ladder = {name for names in LADDER for name in names}
        assert packages <= on_ladder, sorted(packages - on_ladder)
