"""The preflight checklist's results and their record: what ``deploy --ros2`` looks up.

A run of the checklist (:mod:`sim2real.deploy.preflight`) is a :class:`PreflightResult` of one
:class:`Item` per checklist item, appended as one JSON line to the per-user record
(:func:`record_path`, flushed and fsynced).  ``deploy --ros2`` starts only on a passing run of the
same policy file (sha256), spec hash and ROS 2 settings on a robot within :data:`MAX_AGE_S`
(:func:`find_passing`): a checklist that passed with one command order or topic says nothing about
another.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import Sim2RealError

__all__ = [
    "ITEMS",
    "MAX_AGE_S",
    "Item",
    "PreflightResult",
    "append_record",
    "file_hash",
    "find_passing",
    "record_path",
    "robot_settings",
    "robot_target",
    "settings_difference",
    "state_dir",
    "user",
]

ITEMS = (
    "estop",
    "limits",
    "contract",
    "zero_action_hold",
    "joint_signs",
    "reduced_speed",
    "fallback",
    "collision_detection",
    "perimeter",
)
"""The checklist's item names, in the order they are reported."""
MAX_AGE_S = 24 * 3600.0
"""How long a passing preflight lets ``deploy --ros2`` start [s]."""


@dataclass
class Item:
    """One checklist item."""

    name: str
    status: str
    """``pass`` or ``fail``."""
    evidence: str
    """What was checked and measured, in one line."""
    figures: dict[str, Any] = field(default_factory=dict)
    """Measured figures (e.g. ``ms``, ``limit_ms``)."""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "evidence": self.evidence, **self.figures}


@dataclass
class PreflightResult:
    """The checklist's outcome."""

    robot: str
    spec_hash: str
    policy: str
    policy_hash: str
    target: str
    """``twin`` or ``robot`` (a ROS 2 robot)."""
    items: list[Item]
    fixed_base: bool = False
    """The robot was hung by its base (legs in the air) for the checklist."""
    ros2_config: dict[str, Any] | None = None
    """The ROS 2 settings the checklist ran with (:meth:`~sim2real.real.ros2.config.Ros2Config.to_mapping`:
    topics, message types, joint names, command order); None on the twin."""
    time: float = field(default_factory=time.time)
    """Unix time of the run [s]."""
    operator: str = field(default_factory=lambda: user())

    @property
    def passed(self) -> bool:
        return len(self.items) == len(ITEMS) and all(i.status == "pass" for i in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "robot": self.robot,
            "spec_hash": self.spec_hash,
            "policy": self.policy,
            "policy_hash": self.policy_hash,
            "target": self.target,
            "fixed_base": self.fixed_base,
            "ros2_config": self.ros2_config,
            "time": self.time,
            "time_iso": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.time)),
            "operator": self.operator,
            "items": [i.as_dict() for i in self.items],
        }


def user() -> str:
    """The operator: the login name, else ``unknown``."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# ------------------------------------------------------------------------------------------ record


def state_dir() -> Path:
    """Per-user state directory: ``$SIM2REAL_STATE_DIR``, else ``$XDG_STATE_HOME/sim2real``, else
    ``~/.local/state/sim2real`` (created when missing)."""
    if os.environ.get("SIM2REAL_STATE_DIR"):
        path = Path(os.environ["SIM2REAL_STATE_DIR"])
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(base) / "sim2real"
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_path() -> Path:
    """The preflight record: ``<state_dir>/preflight.jsonl``, one JSON object per run (appended,
    flushed and fsynced)."""
    return state_dir() / "preflight.jsonl"


def file_hash(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes: the policy hash the gate compares."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ros_domain(domain_id: int | None) -> int:
    """The ROS domain a robot run talks on: ``--domain-id``, else ``ROS_DOMAIN_ID``, else 0.

    Raises:
        Sim2RealError: ``ROS_DOMAIN_ID`` is no integer.
    """
    if domain_id is not None:
        return int(domain_id)
    raw = os.environ.get("ROS_DOMAIN_ID", "").strip() or "0"
    try:
        return int(raw)
    except ValueError:
        raise Sim2RealError(f"ROS_DOMAIN_ID={raw!r} is no integer (0 to 232)") from None


def robot_settings(ros2_config: Mapping[str, Any], domain_id: int | None) -> dict[str, Any]:
    """The settings a robot's preflight is recorded with and ``deploy --ros2`` must match: the ROS 2
    config's mapping and the ROS domain (a second unit of the same model on another domain is another
    robot, whose checklist has not run)."""
    return {**ros2_config, "domain_id": ros_domain(domain_id)}


def robot_target(domain_id: int | None) -> str:
    """The stage ledger's target of a ROS 2 robot: ``robot`` and its ROS domain (a second unit on
    another domain does not start at the first one's stage)."""
    return f"robot (ROS domain {ros_domain(domain_id)})"


def append_record(result: PreflightResult, path: Path | None = None) -> Path:
    """Append a result to the record (one line, fsynced)."""
    path = path or record_path()
    line = json.dumps(result.as_dict(), default=_plain) + "\n"
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as f:  # a run killed while writing left a partial line: end it
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def find_passing(
    spec_hash: str,
    policy_hash: str,
    *,
    target: str = "robot",
    max_age_s: float = MAX_AGE_S,
    now: float | None = None,
    path: Path | None = None,
    ros2_config: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The newest passing preflight of this spec and policy on ``target`` within ``max_age_s``, or None;
    with ``ros2_config``, only one that ran with exactly these ROS 2 settings.

    Lines that are not valid JSON (a run killed while writing) are skipped.
    """
    wanted = None if ros2_config is None else _normal(ros2_config)
    path = path or record_path()
    if not path.is_file():
        return None
    now = time.time() if now is None else now
    best = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict):
            continue
        if (
            entry.get("passed") is True
            and entry.get("spec_hash") == spec_hash
            and entry.get("policy_hash") == policy_hash
            and entry.get("target") == target
            and isinstance(entry.get("time"), int | float)
            and 0 <= now - entry["time"] <= max_age_s
            and (wanted is None or entry.get("ros2_config") == wanted)
            and (best is None or entry["time"] > best["time"])
        ):
            best = entry
    return best


def _normal(mapping: Mapping[str, Any]) -> Any:
    """A mapping as a record line holds it (JSON types: lists, not tuples)."""
    return json.loads(json.dumps(mapping, default=_plain))


def settings_difference(recorded: Any, settings: Mapping[str, Any]) -> list[str]:
    """The keys of ``settings`` a record's ``ros2_config`` does not match (all of them when it has none)."""
    if not isinstance(recorded, Mapping):
        return sorted(settings)
    now = _normal(settings)
    return sorted(k for k in set(now) | set(recorded) if recorded.get(k) != now.get(k))
