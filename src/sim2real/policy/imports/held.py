"""A policy that drives some of the joints it observes (Isaac Lab's and mjlab's joint terms cover
the whole articulation unless ``asset_cfg`` selects joints; a legs-only G1 observes its 29): the
action's joints among the policy joints, and the undriven ones held at their default position by
their PD (the spec's ``action.hold``): per policy joint, a held joint has action scale 0, its
default position as offset and no clip, and a zero column in the imported graph's action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim2real.errors import PolicyError


def selects_all(joint_ids: Any, n: int) -> bool:
    """Whether an ``asset_cfg.joint_ids`` entry means every joint (None, ``slice(None)``, or 0..n-1)."""
    if joint_ids is None or joint_ids == list(range(n)):
        return True
    if isinstance(joint_ids, Mapping) and "slice" in joint_ids:
        start, stop, step = joint_ids["slice"][:3]
        return start in (None, 0) and (stop is None or stop >= n) and step in (None, 1)
    return False


def driven_ids(joint_ids: Any, n: int, where: str) -> list[int]:
    """The policy joints an action's ``joint_ids`` drives (None: every one), in the action's order.

    Raises:
        PolicyError: not distinct indices of policy joints, or not in the policy joints' order (the
            action would list its joints in its own order while the joint observations follow the
            articulation's: sim2real keeps one joint order for both).
    """
    if selects_all(joint_ids, n):
        return list(range(n))
    if (
        not isinstance(joint_ids, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in joint_ids)
        or len(set(joint_ids)) != len(joint_ids)
        or not joint_ids
    ):
        raise PolicyError(
            f"{where}: actions joint_ids must be distinct indices of the {n} policy joints, or null"
        )
    if joint_ids != sorted(joint_ids):
        raise PolicyError(
            f"{where}: the action lists its joints in its own order (joint_ids {joint_ids}) while the joint "
            "observations follow the articulation order; sim2real keeps one joint order for both"
        )
    return list(joint_ids)


def observes_undriven(facts: Mapping[str, Any], n_model: int, n_obs: int) -> bool:
    """Whether the policy's joint observation terms cover the model's ``n_model`` joints while the
    facts hold the action's joints only: the widths fit that and nothing else."""
    layout = facts["observation"]
    width = sum(t.width for t in layout)
    frames = sum(t.history for t in layout if t.name in ("joint_pos", "joint_pos_rel", "joint_vel"))
    undriven = n_model - len(facts["joints"])
    return bool(frames) and undriven > 0 and width != n_obs and width + frames * undriven == n_obs


def per_policy_joint(facts: Mapping[str, Any], driven: list[str]) -> dict[str, tuple[Any, ...]]:
    """The action's scale, offset and clip (per driven joint) per policy joint: a held joint gets
    scale 0, its default position as offset and no clip."""
    default = dict(zip(facts["joints"], facts["default_pose"], strict=True))
    scale = dict(zip(driven, facts["scale"], strict=True))
    offset = dict(zip(driven, facts["offset"], strict=True))
    clip = dict(zip(driven, facts.get("clip") or [None] * len(driven), strict=True))
    joints = facts["joints"]
    return {
        "scale": tuple(scale.get(j, 0.0) for j in joints),
        "offset": tuple(offset.get(j, default[j]) for j in joints),
        "clip": tuple(clip.get(j) for j in joints) if facts.get("clip") else (),
    }


def spread_reference(reference: Any, columns: list[int | None]) -> Any:
    """The original policy's actions spread over every actuator as :func:`spread_actions` does."""
    index = np.array([c or 0 for c in columns])
    mask = np.array([c is not None for c in columns])

    def run(obs: np.ndarray) -> np.ndarray:
        return np.where(mask, np.asarray(reference(obs))[:, index], 0.0).astype(np.float32)

    return run
