"""What a file given where a robot spec belongs is instead, and what to do with it.

``sim2real sim2sim --robot r.urdf`` said "the spec file must be a mapping": the user had given the
robot's model, not its spec.  :func:`not_a_spec` recognizes the files a user is likely to give in a
spec's place (a URDF or an MJCF model, a policy, a log, a training run, a twin or calibration file,
a folder) from the name and the first bytes, and :func:`not_a_spec_yaml` the YAML files of another
kind from their top-level keys; each returns the one line to raise, or None for a file that may be
a spec.  :func:`sim2real.robots.parse.read_spec`, which every spec load goes through, asks them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["not_a_spec", "not_a_spec_yaml"]

SPEC_HINT = "a robot is an embedded robot's name (`sim2real robots`) or a spec YAML"
"""What a spec's place takes, said after each recognized file."""

_SNIFF_BYTES = 4096
"""How much of a file is read to recognize it."""

_LOG_MAGIC = {
    b"\x89MCAP": "an MCAP log",
    b"SQLite format 3\x00": "a rosbag2 SQLite log",
    b"#ROSBAG": "a ROS 1 bag",
}
"""First bytes of the log formats sim2real reads."""

_BY_SUFFIX = {
    ".onnx": "an ONNX policy (give it as --policy)",
    ".pt": "a PyTorch file (a policy for `sim2real import`, or a checkpoint)",
    ".pth": "a PyTorch file (a policy for `sim2real import`, or a checkpoint)",
    ".mcap": "an MCAP log",
    ".db3": "a rosbag2 SQLite log",
    ".bag": "a ROS 1 bag",
    ".csv": "a CSV log",
}
"""Files known by their suffix alone."""


def _init_hint(given: str, kind: str, model: Path) -> str:
    return (
        f"{given} is {kind}, not a robot spec: make a spec from the model with "
        f"`sim2real robot init {model} --out robot.yaml` and give robot.yaml"
    )


def _is_spec_text(path: Path) -> bool:
    """Whether a YAML file has a top-level ``mjcf:`` key, as every spec has (read as text)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return any(line.startswith("mjcf:") for line in handle)
    except OSError:
        return False


def _model_kind(path: Path) -> str | None:
    """'a URDF model' / 'an MJCF model' from the file's first bytes (None: neither)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return None
    for magic, kind in _LOG_MAGIC.items():
        if head.startswith(magic):
            return kind
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n").lower()
    if not text.startswith("<"):  # not XML
        return None
    if "<robot" in text:
        return "a URDF model"
    if "<mujoco" in text:
        return "an MJCF model"
    return None


def _folder(path: Path) -> str:
    """The line for a folder given as a spec."""
    if (path / "metadata.yaml").is_file():
        return f"{path} is a rosbag2 log, not a robot spec: {SPEC_HINT} (the one the log was recorded with)"
    if (path / "policy.pt").is_file():
        return f"{path} is a training run, not a robot spec: {SPEC_HINT} (`sim2real export {path}` gives its policy)"
    files = sorted(p for p in path.iterdir() if p.is_file())
    specs = [p.name for p in files if p.suffix in (".yaml", ".yml") and _is_spec_text(p)]
    if specs:
        more = ", ..." if len(specs) > 3 else ""
        return f"{path} is a folder: give the robot spec file in it ({', '.join(specs[:3])}{more})"
    models = [p for p in files if p.suffix.lower() in (".urdf", ".xml", ".mjcf") and _model_kind(p)]
    if models:
        return _init_hint(str(path), f"a folder holding {_model_kind(models[0])}", models[0])
    return f"{path} is a folder, not a robot spec: {SPEC_HINT}"


def not_a_spec(path: str | Path) -> str | None:
    """The error line for ``path`` when it is plainly not a spec YAML (a model, a policy, a log, a
    run, a folder), else None.  Reads at most the first 4 KiB of a file; a missing path is None
    (the caller says it is missing)."""
    path = Path(path)
    if path.is_dir():
        return _folder(path)
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):  # read as YAML: not_a_spec_yaml
        return None
    if suffix == ".urdf":
        return _init_hint(path.name, "a URDF model", path)
    kind = _BY_SUFFIX.get(suffix) or _model_kind(path)
    if kind is None:
        return None
    if kind.endswith("model"):
        return _init_hint(path.name, kind, path)
    return f"{path.name} is {kind}, not a robot spec: {SPEC_HINT}"


def not_a_spec_yaml(path: Path, raw: Any) -> str | None:
    """The error line for a YAML file of another kind (a twin file, a calibration, a log's
    metadata), from its top-level keys, or for one that is no mapping at all (a text file of
    another kind); None when it may be a spec."""
    if not isinstance(raw, dict):
        found = {type(None): "nothing", str: "plain text", list: "a list"}.get(type(raw), type(raw).__name__)
        return f"{path.name} is not a robot spec (its YAML is {found}, a spec's a mapping: mjcf, joints, ...): {SPEC_HINT}"
    if "mjcf" in raw:
        return None
    keys = set(raw)
    if "rosbag2_bagfile_information" in keys:
        kind = "a rosbag2 log's metadata"
    elif {"spec_hash", "params"} <= keys:
        kind = "a calibration (give it as --calib)"
    elif keys and keys <= {"params", "effects"}:
        kind = "a twin file (give it as --twin)"
    else:
        return None
    return f"{path.name} is {kind}, not a robot spec: {SPEC_HINT}"
