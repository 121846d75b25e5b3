"""The spec's ``action`` section: scale, offset, filter, clip, limit and the held joints
(``action.hold``), per actuator (the schema: :mod:`sim2real.robots.spec`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.parse_values import check_keys as _check_keys
from sim2real.robots.parse_values import joint_names as _joint_names
from sim2real.robots.parse_values import number as _number
from sim2real.robots.parse_values import require_mapping as _require_mapping
from sim2real.robots.spec import ActuatorSpec, frozen_array

__all__ = ["Action", "parse_action"]


def _per_actuator(value: Any, actuated: tuple[str, ...], where: str, default: list[float]) -> list[float]:
    """One number for every actuated joint, or a mapping with exactly the actuated joints."""
    if value is None:
        return default
    if isinstance(value, dict):
        unknown = [k for k in value if k not in actuated]
        if unknown:
            raise SpecError(
                f"{where}: '{unknown[0]}' is not an actuated joint (actuated: {', '.join(actuated)})"
            )
        missing = [j for j in actuated if j not in value]
        if missing:
            raise SpecError(f"{where}: missing actuated joint '{missing[0]}'")
        return [_number(value[j], f"{where}.{j}") for j in actuated]
    x = _number(value, where)
    return [x] * len(actuated)


@dataclass(frozen=True, eq=False)
class Action:
    """The parsed ``action`` section, one entry per actuator."""

    scale: np.ndarray
    offset: np.ndarray
    alpha: float
    clip_low: np.ndarray
    clip_high: np.ndarray
    limit: float | None
    hold: tuple[str, ...] = ()


def parse_action(
    raw: Any, joints: tuple[str, ...], default_pose: list[float], actuators: tuple[ActuatorSpec, ...]
) -> Action:
    raw = _require_mapping(raw or {}, "action")
    _check_keys(raw, {"scale", "offset", "filter", "clip", "limit", "hold"}, "action")
    actuated = tuple(a.joint for a in actuators)
    hold = _parse_hold(raw.get("hold"), actuators)
    driven = tuple(j for j in actuated if j not in hold)
    if isinstance(raw.get("scale"), dict) and (named := [j for j in hold if j in raw["scale"]]):
        raise SpecError(f"action.scale: '{named[0]}' is held (action.hold): no action moves it")
    by_joint = dict(
        zip(driven, _per_actuator(raw.get("scale"), driven, "action.scale", [1.0] * len(driven)), strict=True)
    )
    if any(not x > 0 for x in by_joint.values()):
        raise SpecError("action.scale must be positive")
    scale = [by_joint.get(j, 0.0) for j in actuated]  # a held actuator's action entry moves nothing
    default_offset = [default_pose[joints.index(a.joint)] if a.model == "pd" else 0.0 for a in actuators]
    offset = _per_actuator(raw.get("offset"), actuated, "action.offset", default_offset)
    alpha = _number(raw.get("filter", 1.0), "action.filter")
    if not 0.0 < alpha <= 1.0:
        raise SpecError(f"action.filter must be in (0, 1], got {alpha}")
    low = [-math.inf] * len(actuated)
    high = [math.inf] * len(actuated)
    clip = raw.get("clip")
    if clip is not None:
        clip = _require_mapping(clip, "action.clip")
        unknown = [k for k in clip if k not in actuated]
        if unknown:
            raise SpecError(
                f"action.clip: '{unknown[0]}' is not an actuated joint (actuated: {', '.join(actuated)})"
            )
        for joint, pair in clip.items():
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise SpecError(f"action.clip.{joint} must be [low, high] (command units)")
            lo = _number(pair[0], f"action.clip.{joint}[0]")
            hi = _number(pair[1], f"action.clip.{joint}[1]")
            if not lo < hi:
                raise SpecError(f"action.clip.{joint}: low {lo} is not below high {hi}")
            i = actuated.index(joint)
            low[i], high[i] = lo, hi
    limit = raw.get("limit", 1.0)
    if limit is not None:
        limit = _number(limit, "action.limit", positive=True)
    return Action(
        frozen_array(scale), frozen_array(offset), alpha, frozen_array(low), frozen_array(high), limit, hold
    )


def _parse_hold(raw: Any, actuators: tuple[ActuatorSpec, ...]) -> tuple[str, ...]:
    """``action.hold``: pd actuators held at their action offset, not driven by the policy (in policy order)."""
    if raw is None:
        return ()
    models = {a.joint: a.model for a in actuators}
    what = "distinct joint names (actuated joints the policy does not drive)"
    held = _joint_names(raw, tuple(models), "action.hold", what)
    for joint in held:
        if models[joint] != "pd":
            raise SpecError(
                f"action.hold: '{joint}' is a {models[joint]} actuator; a held joint needs a pd actuator (its "
                "target: the offset)"
            )
    if len(held) == len(actuators):
        raise SpecError("action.hold: every actuator is held; the policy must drive at least one")
    return tuple(a.joint for a in actuators if a.joint in held)
