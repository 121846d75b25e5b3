"""Observation terms of Isaac Lab, unitree_rl_lab, unitree_rl_mjlab and mjlab exports in sim2real's
terms: their names, the size of one frame, and a term's scale and clip as a deploy.yaml or mjlab's
ONNX metadata states them (one value, or one per value of the frame); the velocity commands of a
deploy.yaml and the clip of the velocity command term they imply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import per_joint

FOREIGN_TERMS: dict[str, str] = {
    "base_lin_vel": "base_lin_vel",
    "base_ang_vel": "base_ang_vel",
    "projected_gravity": "projected_gravity",
    "velocity_commands": "velocity_command",
    "velocity_command": "velocity_command",
    "generated_commands": "velocity_command",
    "command": "velocity_command",
    "commands": "velocity_command",
    "base_velocity": "velocity_command",
    "twist": "velocity_command",
    "joint_pos_rel": "joint_pos_rel",
    "joint_pos": "joint_pos_rel",
    "joint_pos_absolute": "joint_pos",
    "joint_vel_rel": "joint_vel",
    "joint_vel": "joint_vel",
    "last_action": "last_action",
    "actions": "last_action",
    "action": "last_action",
    "gait_phase": "gait_phase",
    "phase": "gait_phase",
    "root_quat_w": "base_quat",
    "base_quat": "base_quat",
    "height_scan": "height_scan",
}
"""Observation term names of Isaac Lab, unitree_rl_lab, unitree_rl_mjlab and mjlab -> sim2real's (a
deploy.yaml's ``joint_pos`` is relative to the default pose, as those exporters write it; an
env.yaml term whose function is Isaac Lab's absolute ``mdp.joint_pos`` becomes ``joint_pos_absolute``)."""

REFUSED: dict[str, str] = {
    "foot_contact": "foot contact sensing, which sim2real's runtime does not read",
    "foot_height": "foot height above the terrain, which sim2real's runtime does not read",
}
"""Terms refused with a reason."""


def frame_size(term: str, n_joints: int, n_actions: int | None = None) -> int:
    if term == "last_action":
        return n_joints if n_actions is None else n_actions
    return {"gait_phase": 2, "base_quat": 4}.get(
        term, n_joints if term in ("joint_pos", "joint_pos_rel", "joint_vel") else 3
    )


def term_scale(value: Any, size: int, what: str) -> float | tuple[float, ...]:
    if value is None:
        return 1.0
    values = per_joint(value, size, what)
    return values[0] if len(set(values)) == 1 else values


def term_clip(value: Any, size: int, what: str) -> tuple[Any, Any] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise PolicyError(f"{what} must be [low, high] or null")
    low, high = (per_joint(v, size, what, infinite_ok=True) for v in value)
    if not all(np.isfinite(low)) and not all(np.isfinite(high)):
        return None
    return (low[0] if len(set(low)) == 1 else low, high[0] if len(set(high)) == 1 else high)


def our_term(foreign: str) -> str:
    if foreign in REFUSED:
        raise PolicyError(f"observation term '{foreign}' needs {REFUSED[foreign]}")
    if foreign not in FOREIGN_TERMS:
        raise PolicyError(
            f"unknown observation term '{foreign}' (sim2real imports: {', '.join(sorted(FOREIGN_TERMS))})"
        )
    return FOREIGN_TERMS[foreign]


def velocity_commands(cfg: Mapping[str, Any]) -> dict[str, dict[str, tuple[float, float]]]:
    """The velocity commands of a deploy.yaml (``commands.<name>`` with ``ranges.lin_vel_x``): name ->
    vx / vy / yaw ranges.  A curriculum command's ``limit_ranges`` (unitree_rl_lab's
    ``UniformLevelVelocityCommandCfg``: ``ranges`` is its first level) win: they are what the policy
    was trained up to."""
    out = {}
    for name, command in (cfg.get("commands") or {}).items():
        ranges = None
        if isinstance(command, Mapping):
            limits = command.get("limit_ranges")
            ranges = (
                limits if isinstance(limits, Mapping) and "lin_vel_x" in limits else command.get("ranges")
            )
        if isinstance(ranges, Mapping) and "lin_vel_x" in ranges:
            try:
                out[str(name)] = {
                    key: (float(ranges[src][0]), float(ranges[src][1]))
                    for key, src in (("vx", "lin_vel_x"), ("vy", "lin_vel_y"), ("yaw", "ang_vel_z"))
                }
            except (KeyError, TypeError, IndexError, ValueError):
                raise PolicyError(
                    "deploy.yaml: commands ranges need lin_vel_x, lin_vel_y and ang_vel_z [low, high]"
                ) from None
    return out


def trained_commands(
    observations: Mapping[str, Any], commands: Mapping[str, Mapping[str, tuple[float, float]]]
) -> Mapping[str, tuple[float, float]] | None:
    """The ranges of the velocity command the policy observes (the one a term's ``command_name``
    names, else the first), for the spec's task."""
    for raw in observations.values():
        params = raw.get("params") if isinstance(raw, Mapping) else None
        if isinstance(params, Mapping) and params.get("command_name") in commands:
            return commands[params["command_name"]]
    return next(iter(commands.values()), None)


def command_clip(
    clip: tuple[Any, Any] | None, commands: Mapping[str, tuple[float, float]], label: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The velocity command's clip: the command ranges of training and the term's own clip both
    (their intersection, per value: vx, vy, yaw rate).

    Raises:
        PolicyError: the two leave no command.
    """
    low = [commands[k][0] for k in ("vx", "vy", "yaw")]
    high = [commands[k][1] for k in ("vx", "vy", "yaw")]
    if clip is not None:
        low = [
            max(a, b)
            for a, b in zip(low, np.broadcast_to(np.asarray(clip[0], dtype=float), (3,)), strict=True)
        ]
        high = [
            min(a, b)
            for a, b in zip(high, np.broadcast_to(np.asarray(clip[1], dtype=float), (3,)), strict=True)
        ]
    if any(lo > hi for lo, hi in zip(low, high, strict=True)):
        raise PolicyError(
            f"{label}: its clip {list(clip or [])} leaves none of the command ranges {dict(commands)}"
        )
    return tuple(float(v) for v in low), tuple(float(v) for v in high)
