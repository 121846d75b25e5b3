"""The policy joints of a deploy.yaml's ``joint_ids_map`` (``joint_ids_map[i]``: motor index of
policy joint i), and the order of the model's joints they are in when no file names them.

Isaac Lab (unitree_rl_lab) lists an articulation's joints breadth first over the kinematic tree;
mjlab (unitree_rl_mjlab) in the model's own order, depth first.  Where the two differ and neither
the ONNX metadata nor ``--motor-order`` names the joints, :func:`choose_order` decides from
evidence: the order in which ``default_joint_pos`` lies inside every joint's range; where both do,
the order whose motor order (from ``joint_ids_map``) is the model's actuator order; else breadth
first.  The choice and its reason are recorded as an assumption.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import per_joint, select_joints, tree_joints
from sim2real.robots.load import load_mjcf

BREADTH_NOTE = "policy joint order: the model's joints breadth first (Isaac Lab's articulation order)"
"""The assumption when nothing else decides."""
DEPTH = "the model's joints in model order, depth first (mjlab's articulation order)"
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
        if match == ["depth"]:
            return depth, (
                f"policy joint order: {DEPTH}: with it joint_ids_map gives the model's actuator order as the motor order"
            )
        if match == ["breadth"]:
            return breadth, f"{BREADTH_NOTE}: with it joint_ids_map gives the model's actuator order as the motor order"
        return breadth, (
            f"{BREADTH_NOTE}: default_joint_pos fits model order (mjlab's) too and the model's actuators do not "
            "tell; for a unitree_rl_mjlab policy name the robot's motors with --motor-order"
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

    The names come from, in this order: the ONNX metadata's ``names``; the robot's ``motor_order``
    (joint names by motor index; a map with gaps is matched by rank); else ``tree_order``, the
    model's joints in the order :func:`choose_order` chose (``order_note`` says which and why), the
    motor order then following from the map.

    Returns:
        The policy joints, the rank of each one's motor among the policy's motors, the motor order
        (policy joints by motor index) and what was assumed.

    Raises:
        PolicyError: not a list of distinct non-negative integers (not a permutation), or names
            that do not fit.
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
    if order != list(range(n)):
        assumed.append(
            f"joint_ids_map has gaps (motor indices up to {order[-1]} for {n} joints): motors taken by rank"
        )
    if names is not None:
        if len(names) != n:
            raise PolicyError(f"the ONNX metadata names {len(names)} joints, {where}'s joint_ids_map {n}")
        joints = list(names)
    elif motor_order is not None:
        if len(motor_order) < n:
            raise PolicyError(
                f"{where}: joint_ids_map names {n} motors, the motor order has {len(motor_order)}"
            )
        by_index = order[-1] < len(motor_order)
        joints = [motor_order[i] if by_index else motor_order[rank[k]] for k, i in enumerate(joint_ids_map)]
    else:
        if tree_order is None or len(tree_order) != n:
            have = 0 if tree_order is None else len(tree_order)
            raise PolicyError(
                f"{where}: joint_ids_map has {n} joints, the model {have}: choose them with --joints or name the "
                "robot's motors with --motor-order"
            )
        joints = list(tree_order)
        assumed.append(f"{order_note}; the motor order follows from joint_ids_map")
    motors = [joints[rank.index(r)] for r in range(n)]
    return joints, rank, motors, assumed
