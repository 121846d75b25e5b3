"""Every file a robot's model compiles from, with its sha256, and naming what changed.

The spec hash covers the spec YAML and each of these files: the MJCF, every MJCF it includes
(recursively), and the meshes, textures, height fields and skins it loads.  Artifacts (policies,
calibrations) store the per-file digests next to the hash, so that an artifact made before a
file changed is refused with a message naming that file (:func:`changed_files`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path

import mujoco

from sim2real.errors import SpecError

log = logging.getLogger(__name__)


def _absolute(path: Path) -> Path:
    """Absolute and normalized, symbolic links kept (a file is named as the model refers to it)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def file_digest(path: Path) -> str:
    """sha256 hex of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _included(path: Path, main_dir: Path, seen: set[Path]) -> Iterator[Path]:
    """``path`` and every MJCF it includes, depth first (MuJoCo resolves an include against the
    main model's folder; the including file's folder is tried first for nested layouts)."""
    path = _absolute(path)
    if path in seen:
        return
    seen.add(path)
    yield path
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SpecError(f"{path.name}: not valid XML ({exc})") from None
    for element in root.iter("include"):
        name = element.get("file")
        if not name:
            continue
        for folder in (path.parent, main_dir):
            candidate = Path(name) if os.path.isabs(name) else folder / name
            if candidate.is_file():
                yield from _included(candidate, main_dir, seen)
                break


def _asset_paths(mjspec: mujoco.MjSpec, main_dir: Path) -> Iterator[Path]:
    """Files of the meshes, skins, height fields and textures of a loaded model."""

    def resolve(folder: str, name: str) -> Path:
        if os.path.isabs(name):
            return Path(name)
        base = Path(folder) if os.path.isabs(folder) else main_dir / folder
        return base / name

    meshdir, texturedir = mjspec.meshdir or "", mjspec.texturedir or ""
    for mesh in mjspec.meshes:
        if mesh.file:
            yield resolve(meshdir, mesh.file)
    for skin in mjspec.skins:
        if skin.file:
            yield resolve(meshdir, skin.file)
    for hfield in mjspec.hfields:
        if hfield.file:
            yield resolve(meshdir, hfield.file)
    for texture in mjspec.textures:
        for name in [texture.file, *list(texture.cubefiles)]:
            if name:
                yield resolve(texturedir, name)


def model_files(mjcf: Path, mjspec: mujoco.MjSpec, root: Path) -> Iterator[tuple[str, str]]:
    """(name, sha256) of every file the model compiles from.

    Args:
        mjcf: The main MJCF file.
        mjspec: It, loaded (for the asset list).
        root: Folder the names are relative to (the spec's folder).
    """
    main_dir = _absolute(mjcf).parent
    paths = list(_included(mjcf, main_dir, set()))
    for path in _asset_paths(mjspec, main_dir):
        if path.is_file():
            paths.append(_absolute(path))
        else:
            log.warning("%s: cannot find %s to hash it; the spec hash does not cover it", mjcf.name, path)
    for path in dict.fromkeys(paths):
        yield os.path.relpath(path, _absolute(root)), file_digest(path)


def changed_files(recorded: Mapping[str, str] | None, current: Mapping[str, str]) -> list[str]:
    """Files whose digest differs between an artifact's record and the robot now (added, removed
    or changed), in name order; empty when the artifact recorded no digests."""
    if not recorded:
        return []
    names = sorted(set(recorded) | set(current))
    return [n for n in names if recorded.get(n) != current.get(n)]
