"""The policy joints of a deploy.yaml's ``joint_ids_map`` (``joint_ids_map[i]``: motor index of
policy joint i), and the order of the model's joints they are in when no file names them.

Isaac Lab (unitree_rl_lab) lists an articulation's joints breadth first over the kinematic tree;
mjlab (unitree_rl_mjlab) in the model's own order, depth first.  Where the two differ and neither
the ONNX metadata, the deploy.yaml's own ``joint_names`` (:func:`listed_slots`) nor ``--motor-order``
names the joints, :func:`choose_order` decides from
evidence: the order in which ``default_joint_pos`` lies inside every joint's range; where both do,
the order whose motor order (from ``joint_ids_map``) is the model's actuator order; else breadth
first.  The choice and its reason are recorded as an assumption.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import per_joint, select_joints, tree_joints
from sim2real.robots.load import load_mjcf
from sim2real.robots.spec import NO_JOINT

ORDER_NOTE = "policy joint order: "
"""How the import's assumption about the policy's joint order begins."""
BREADTH_FIRST = "the model's joints breadth first"
MODEL_ORDER = "the model's joints in model order"
BREADTH_NOTE = f"{ORDER_NOTE}{BREADTH_FIRST} (Isaac Lab's articulation order)"
"""The assumption when nothing else decides."""
DEPTH = f"{MODEL_ORDER}, depth first (mjlab's articulation order)"
EVIDENCE_NOTES = (ORDER_NOTE + BREADTH_FIRST, ORDER_NOTE + MODEL_ORDER)
"""How an assumption begins where :func:`choose_order` chose the joint order from evidence (no file
named the joints): what the preflight's contract item looks for in an imported policy's metadata."""
TOLERANCE = 0.05
"""How far [rad] a default position may lie outside its joint's range (MuJoCo's soft limits)."""


@dataclass(frozen=True)
class ModelJoints:
    """The model's (chosen) hinge and slide joints in both orders, their ranges and its actuators."""

    breadth: list[str]
    """Breadth first over the kinematic tree (Isaac Lab's articulation order)."""
    depth: list[str]
    """Model (qpos) order, depth first (mjlab's)."""
    ranges: dict[str, tuple[float, float] | None]
    """Joint -> (low, high) [rad or m], None when unlimited."""
    actuated: list[str]
    """Joints of the model's joint actuators, in actuator order."""


def model_joints_of(model_path: str | Path, pattern: str | None = None) -> ModelJoints:
    """:class:`ModelJoints` of a model, restricted to the joints ``pattern`` matches in full.

    Raises:
        PolicyError: ``pattern`` is not a regular expression.
    """
    compiled = load_mjcf(Path(model_path)).compile()
    breadth = select_joints(tree_joints(model_path), pattern)
    chosen = set(breadth)
    names = [mujoco.mj_id2name(compiled, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(compiled.njnt)]
    depth = [n for n in names if n in chosen]
    ranges = {}
    for j, name in enumerate(names):
        if name in chosen:
            limited = bool(compiled.jnt_limited[j])
            ranges[name] = (float(compiled.jnt_range[j, 0]), float(compiled.jnt_range[j, 1])) if limited else None
    actuated = [
        names[int(compiled.actuator_trnid[a, 0])]
        for a in range(compiled.nu)
        if int(compiled.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT)
        and names[int(compiled.actuator_trnid[a, 0])] in chosen
    ]
    return ModelJoints(breadth, depth, ranges, actuated)


def outside_range(ranges: dict[str, tuple[float, float] | None], joints: list[str], default: Any) -> str | None:
    """The first default position outside its joint's range (more than :data:`TOLERANCE`), as text;
    None when every one lies inside."""
    for name, q in zip(joints, default, strict=True):
        r = ranges.get(name)
        if r is not None and not r[0] - TOLERANCE <= q <= r[1] + TOLERANCE:
            return f"the default position {q:g} of policy joint '{name}' is outside its range [{r[0]:g}, {r[1]:g}]"
    return None


def check_default_pose(ranges: dict[str, tuple[float, float] | None], joints: list[str], default: Any) -> None:
    """A default pose outside a joint's range means the joint order was resolved wrong: one line."""
    found = outside_range(ranges, joints, default)
    if found is not None:
        raise PolicyError(
            f"{found}: the policy's joints are not where the import put them; name the robot's motors with --motor-order"
        )


def choose_order(cfg: Any, facts: ModelJoints) -> tuple[list[str], str]:
    """The order of the model's joints the policy's are in, when no file names them (module
    docstring), and the assumption that says which and why.

    Args:
        cfg: The deploy.yaml (``joint_ids_map``, ``default_joint_pos`` by policy joint).
        facts: The model's joints.
    """
    breadth, depth = facts.breadth, facts.depth
    index = cfg.get("joint_ids_map")
    if breadth == depth or not isinstance(index, list) or len(index) != len(breadth):
        return breadth, BREADTH_NOTE
    try:
        default = per_joint(cfg.get("default_joint_pos"), len(breadth), "default_joint_pos")
        order = sorted(index)
        rank = [order.index(i) for i in index]
    except (PolicyError, TypeError):
        return breadth, BREADTH_NOTE  # policy_joints and the default pose's reader say what is wrong
    fits = {name: outside_range(facts.ranges, joints, default) for name, joints in (("breadth", breadth), ("depth", depth))}
    if fits["breadth"] is None and fits["depth"] is not None:
        return breadth, f"{BREADTH_NOTE}: default_joint_pos does not fit model order ({fits['depth']})"
    if fits["depth"] is None and fits["breadth"] is not None:
        return depth, f"policy joint order: {DEPTH}: default_joint_pos does not fit breadth first ({fits['breadth']})"
    if fits["breadth"] is None:  # both fit: the motor order joint_ids_map implies against the model's actuators
        motors = {
            name: [joints[rank.index(r)] for r in range(len(joints))] for name, joints in (("breadth", breadth), ("depth", depth))
        }
        match = [name for name, m in motors.items() if m == facts.actuated]
        # an identity map gives every order its own motor order: the match then says only how the
        # model lists its actuators, no evidence about the policy (it took mjlab's order for Isaac Lab's)
        if rank != sorted(rank) and match == ["depth"]:
            return depth, (
                f"policy joint order: {DEPTH}: with it joint_ids_map gives the model's actuator order as the motor order"
            )
        if rank != sorted(rank) and match == ["breadth"]:
            return breadth, f"{BREADTH_NOTE}: with it joint_ids_map gives the model's actuator order as the motor order"
        raise PolicyError(
            "default_joint_pos fits both Isaac Lab's joint order (breadth first) and mjlab's (model order), and nothing "
            "else in the files tells them apart: name the robot's motors with --motor-order (its joints by motor slot, "
            f"{NO_JOINT} for a slot without one)"
        )
    return breadth, BREADTH_NOTE  # neither fits: the default pose check names the joint


def policy_joints(
    joint_ids_map: Any,
    where: str,
    *,
    names: list[str] | None = None,
    motor_order: list[str] | None = None,
    tree_order: list[str] | None = None,
    order_note: str = BREADTH_NOTE,
) -> tuple[list[str], list[int], list[str], list[str]]:
    """The policy joints of a ``joint_ids_map`` (``joint_ids_map[i]``: motor index of policy joint i).

    Isaac Lab's exporter (unitree_rl_lab) writes ``joint_ids_map[i]`` as the slot of policy joint i
    in the robot's SDK joint list, which may hold slots without a joint (an H1's motor 9, a 23-joint
    G1's waist and wrist slots of the 29-slot list): the indices are slots, never ranks.  The names
    come from, in this order: the ONNX metadata's ``names``; the robot's ``motor_order`` (joint
    names by motor slot, :data:`NO_JOINT` for a slot without a joint), read by slot where it
    lists every slot the map uses and by rank only where it names exactly the policy's joints and
    no slot (then the slots the map skips are the ones without a joint, the one reading that fits);
    else ``tree_order``, the model's joints in the order :func:`choose_order` chose (``order_note``
    says which and why), the motor order then following from the map.

    Returns:
        The policy joints, the rank of each one's motor among the policy's motors, the motor order
        (policy joints by motor slot, :data:`NO_JOINT` for a slot the map skips) and what was assumed.

    Raises:
        PolicyError: not a list of distinct non-negative integers (not a permutation), names that
            do not fit, a map giving a policy joint a slot the motor order leaves without a joint,
            or one that uses slots beyond a motor order that does not name exactly the policy's joints.
    """
    if not isinstance(joint_ids_map, list) or not joint_ids_map:
        raise PolicyError(f"{where}: joint_ids_map must be a list of motor indices")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in joint_ids_map):
        raise PolicyError(f"{where}: joint_ids_map must hold non-negative integers (motor indices)")
    seen: set[int] = set()
    for i in joint_ids_map:
        if i in seen:
            raise PolicyError(f"{where}: joint_ids_map is not a permutation: motor {i} appears twice")
        seen.add(i)
    n = len(joint_ids_map)
    order = sorted(joint_ids_map)
    rank = [order.index(i) for i in joint_ids_map]
    assumed = []
    if names is not None:
        if len(names) != n:
            raise PolicyError(f"the ONNX metadata names {len(names)} joints, {where}'s joint_ids_map {n}")
        joints = list(names)
    elif motor_order is not None:
        joints = _by_slot(joint_ids_map, list(motor_order), rank, where, assumed)
    else:
        if tree_order is None or len(tree_order) != n:
            have = 0 if tree_order is None else len(tree_order)
            raise PolicyError(
                f"{where}: joint_ids_map has {n} joints, the model {have}: choose them with --joints or name the "
                "robot's motors with --motor-order"
            )
        joints = list(tree_order)
        assumed.append(f"{order_note}; the motor order follows from joint_ids_map")
    by_slot = dict(zip(joint_ids_map, joints, strict=True))
    n_slots = max(max(joint_ids_map) + 1, len(motor_order) if motor_order is not None and names is None else 0)
    motors = [by_slot.get(slot, NO_JOINT) for slot in range(n_slots)]  # a given order's trailing empty slots kept
    if NO_JOINT in motors:
        empty = [k for k, j in enumerate(motors) if j == NO_JOINT]
        assumed.append(
            f"joint_ids_map leaves motor slot(s) {', '.join(map(str, empty))} without a policy joint: the spec's "
            f"motor_order keeps them ({NO_JOINT}), and a ROS 2 command array must then state its layout (command_joints)"
        )
    return joints, rank, motors, assumed


def _by_slot(joint_ids_map: list[int], slots: list[str], rank: list[int], where: str, assumed: list[str]) -> list[str]:
    """The policy joints of a ``joint_ids_map`` against a motor order by slot (:func:`policy_joints`)."""
    n, top = len(joint_ids_map), max(joint_ids_map)
    named = [j for j in slots if j != NO_JOINT]
    if top < len(slots):
        joints = [slots[i] for i in joint_ids_map]
        empty = next((k for k, j in enumerate(joints) if j == NO_JOINT), None)
        if empty is not None:
            raise PolicyError(
                f"{where}: joint_ids_map gives policy joint {empty} motor {joint_ids_map[empty]}, a slot the motor "
                f"order marks as without a joint ({NO_JOINT})"
            )
        return joints
    if len(named) == n and len(slots) == n:
        assumed.append(
            f"joint_ids_map uses motor slots up to {top} for {n} joints, the motor order names {n} joints and no "
            "slot: the slots the map skips taken as the ones without a joint (motors matched by rank)"
        )
        return [slots[r] for r in rank]
    raise PolicyError(
        f"{where}: joint_ids_map uses motor slot {top}, the motor order lists {len(slots)} slots for its {len(named)} "
        f"joints: list every slot up to {top} ({NO_JOINT} for one without a joint), as the robot's SDK numbers them"
    )


def listed_slots(cfg: Mapping[str, Any], where: str, model: ModelJoints, assumed: list[str]) -> list[str] | None:
    """A deploy.yaml's own ``joint_names`` as a motor order by slot (:data:`NO_JOINT` for an empty
    name), or None when it has none or names a joint the model's chosen joints lack (recorded).

    Forks of unitree_rl_lab's exporter write the robot's SDK joint list there (``joint_sdk_names``,
    ``""`` for a slot without a joint), unitree_rl_mjlab's the model's joints with an identity
    ``joint_ids_map``: in both, policy joint i is ``joint_names[joint_ids_map[i]]``.
    """
    listed = cfg.get("joint_names")
    if not isinstance(listed, list) or not listed or not all(isinstance(j, str) for j in listed):
        return None
    slots = [j if j else NO_JOINT for j in listed]
    unknown = [j for j in slots if j != NO_JOINT and j not in model.breadth]
    if unknown:
        assumed.append(
            f"{where}'s joint_names name '{unknown[0]}', not one of the model's chosen joints: not used for the joint order"
        )
        return None
    return slots
