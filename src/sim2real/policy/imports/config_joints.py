"""The joints of a legged_gym / unitree_rl_gym config, positional or named, and the joints the
policy does not drive.

Configs state the policy joints' facts in one of two forms:

- positional (unitree_rl_gym's deploy configs): ``kps``, ``kds``, ``default_angles`` list one value
  per policy joint, the policy joints being the model's first ``num_actions`` (its deploy script
  reads ``qpos[7:]``), or ``joint_names`` (a list of the model's joint names in policy order);
- named (legged_gym's ``LeggedRobotCfg``, written out as YAML): ``default_joint_angles`` (or
  ``default_angles``) a map from joint name to angle, looked up by the exact name
  (``init_state.default_joint_angles[name]``); ``stiffness`` / ``damping`` (or ``kps`` / ``kds``)
  maps whose keys are parts of joint names (legged_gym's ``control`` section: a joint takes the
  value of every key found in its name, ``{'hip': 100, 'knee': 150}``).

A policy joint no key matches (legged_gym would have given it zero gains), a ``joint_names`` entry
that is no joint of the model, and a joint two keys with different values match (legged_gym would
take whichever came last) are each one error line; map keys that match no joint of the model are
named in one note and not used, as legged_gym passes them by (the training asset's joints the model
lacks or has rigid: unitree_rl_gym's H1 config names the torso and arms its MJCF makes rigid).

The model's joints the policy does not drive are held (the spec's ``locked_joints``): at the
targets unitree_rl_gym's real-robot configs give them (``arm_waist_target`` with
``arm_waist_kps`` / ``arm_waist_kds``, listed in the model's order of those joints, e.g. the G1's
waist then left and right arm; matched to the model's joints the policy does not drive, in model
order, when the counts agree), else at a named default pose's values for them, else at the
model's first keyframe (or qpos0).  Their gains, where the config states them, are recorded in
the policy's metadata (``imported.held_joints``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import hold_positions, per_joint, select_joints
from sim2real.policy.imports.joint_order import model_joints_of, outside_range
from sim2real.text import few

JOINT_LIST_KEYS = ("joint_names",)
"""Config keys listing the policy joints by name, in policy order."""
DEFAULT_KEYS = ("default_angles", "default_joint_angles")
"""Config keys of the default pose: a list in policy order, or a map from joint name to angle [rad]."""
GAIN_KEYS = {"kp": ("kps", "stiffness"), "kd": ("kds", "damping")}
"""Config keys of the PD gains: a list in policy order, one number, or a map keyed by parts of joint
names (legged_gym's ``control.stiffness`` / ``control.damping``)."""
HOLD_KEYS = ("arm_waist_target", "arm_waist_kps", "arm_waist_kds")
"""unitree_rl_gym's real-robot keys of the joints its own loop holds (waist and arms)."""


@dataclass(frozen=True)
class ConfigJoints:
    """The policy joints of a config and the facts it states for them (policy order)."""

    joints: tuple[str, ...]
    """Policy joints (model joint names)."""
    default: tuple[float, ...]
    """Default joint positions [rad]."""
    kp: tuple[float, ...]
    """PD stiffness [N m/rad]."""
    kd: tuple[float, ...]
    """PD damping [N m s/rad]."""
    held: dict[str, float] = field(default_factory=dict)
    """The model's joints the policy does not drive -> hold position [rad] (model order)."""
    held_gains: dict[str, dict[str, float]] = field(default_factory=dict)
    """Held joint -> what the config states for it: ``kp`` [N m/rad], ``kd`` [N m s/rad], ``motor``
    (its slot in ``arm_waist_joint2motor_idx``, an int)."""
    held_from: str = "their default positions (the model's first keyframe, else qpos0)"
    """Where the hold positions come from, for the import's notes."""
    notes: tuple[str, ...] = ()
    """What was assumed."""


def _stated(cfg: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: cfg[k] for k in keys if cfg.get(k) is not None}


def _is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def _listed_joints(cfg: Mapping[str, Any], where: str, n: int, available: list[str]) -> list[str] | None:
    """The config's ``joint_names`` (None: it has none).

    Raises:
        PolicyError: not n distinct names of the model's joints.
    """
    listed = _stated(cfg, JOINT_LIST_KEYS)
    if not listed:
        return None
    key, names = next(iter(listed.items()))
    if not isinstance(names, list) or not all(isinstance(j, str) for j in names):
        raise PolicyError(
            f"{where}: '{key}' must be a list of joint names (the policy joints in policy order)"
        )
    if len(names) != n:
        raise PolicyError(f"{where}: '{key}' names {len(names)} joints, num_actions is {n}")
    twice = next((j for j in names if names.count(j) > 1), None)
    if twice is not None:
        raise PolicyError(
            f"{where}: '{key}' names '{twice}' {names.count(twice)} times; each policy joint once"
        )
    unknown = next((j for j in names if j not in available), None)
    if unknown is not None:
        raise PolicyError(f"{where}: {key} names '{unknown}', not a joint of the model ({few(available)})")
    return list(names)


def unmatched_names(cfg: Mapping[str, Any], where: str, available: list[str]) -> str | None:
    """The note naming the keys of the config's maps that match no joint of the model (None: every
    key matches one): names of a map by exact joint name, and gain keys found in no joint name.
    legged_gym itself passes them by (it looks each of its dofs up); they are the training asset's
    joints the model lacks or has rigid (unitree_rl_gym's H1 config names the torso and arms its
    MJCF makes rigid).  A policy joint without a value stays an error."""
    found = []
    for key in DEFAULT_KEYS:
        value = cfg.get(key)
        if _is_map(value):
            missing = [str(j) for j in value if str(j) not in available]
            if missing:
                found.append(f"{key} {few(missing)}")
    for keys in GAIN_KEYS.values():
        for key in keys:
            value = cfg.get(key)
            if _is_map(value):
                missing = [str(k) for k in value if not any(str(k) and str(k) in j for j in available)]
                if missing:
                    found.append(f"{key} keys {few(missing)}")
    if not found:
        return None
    return (
        f"{where}: {'; '.join(found)} match no joint of the model (the training asset's joints it lacks or "
        "has rigid): not used"
    )


def matching_keys(values: Mapping[Any, Any], joint: str) -> list[str]:
    """The keys of a legged_gym gain map found in ``joint``'s name (``key in name``), in file order."""
    return [str(k) for k in values if str(k) and str(k) in joint]


def _by_part(values: Mapping[Any, Any], key: str, where: str, joints: Sequence[str]) -> dict[str, float]:
    """A gain map keyed by parts of joint names (legged_gym's ``control`` section) over ``joints``:
    joint -> value for each joint some key matches.

    Raises:
        PolicyError: a value that is not a number, or a joint two keys with different values match.
    """
    out = {}
    for joint in joints:
        found = matching_keys(values, joint)
        numbers = {k: per_joint(values[k], 1, f"{where}: {key}.{k}")[0] for k in found}
        if len(set(numbers.values())) > 1:
            listed = ", ".join(f"'{k}' {v:g}" for k, v in numbers.items())
            raise PolicyError(
                f"{where}: {key} keys {listed} all match joint '{joint}' with different values; "
                "make one key match it (legged_gym would take the last)"
            )
        if numbers:
            out[joint] = next(iter(numbers.values()))
    return out


def _per_policy_joint(
    cfg: Mapping[str, Any],
    keys: Sequence[str],
    where: str,
    joints: list[str],
    **checks: bool,
) -> tuple[float, ...]:
    """One value per policy joint from whichever of ``keys`` the config states (a list in policy
    order, one number, or a legged_gym map by parts of names); two stated keys must agree.

    Raises:
        PolicyError: none stated, a policy joint without a value, or two keys that disagree.
    """
    stated = _stated(cfg, keys)
    if not stated:
        names = " or ".join(f"'{k}'" for k in keys)
        raise PolicyError(f"{where}: missing {names} (one value per policy joint, or a map by joint name)")
    found: dict[str, tuple[float, ...]] = {}
    for key, value in stated.items():
        if _is_map(value):
            by_joint = _by_part(value, key, where, joints)
            missing = next((j for j in joints if j not in by_joint), None)
            if missing is not None:
                raise PolicyError(
                    f"{where}: no key of {key} ({', '.join(map(str, value))}) is found in policy joint '{missing}' "
                    "(legged_gym would give it zero gains): add one"
                )
            value = [by_joint[j] for j in joints]
        found[key] = per_joint(value, len(joints), f"{where}: {key}", **checks)
    if len(set(found.values())) > 1:
        a, b = list(found)[:2]
        k = next(i for i, (x, y) in enumerate(zip(found[a], found[b], strict=True)) if x != y)
        raise PolicyError(
            f"{where}: {a} and {b} differ for policy joint '{joints[k]}' ({found[a][k]:g}, {found[b][k]:g}); keep one"
        )
    return next(iter(found.values()))


def _default_pose(cfg: Mapping[str, Any], where: str, joints: list[str]) -> tuple[float, ...]:
    """The default pose in policy order: a list, or a map looked up by exact joint name.

    Raises:
        PolicyError: a map key naming no joint of the model, a policy joint the map lacks, two keys
            that disagree.
    """
    stated = _stated(cfg, DEFAULT_KEYS)
    if not stated:
        raise PolicyError(f"{where}: missing 'default_angles' (or legged_gym's 'default_joint_angles')")
    found = {}
    for key, value in stated.items():
        if _is_map(value):
            missing = next((j for j in joints if j not in value), None)
            if missing is not None:
                raise PolicyError(f"{where}: {key} has no angle for policy joint '{missing}'")
            value = [value[j] for j in joints]
        found[key] = per_joint(value, len(joints), f"{where}: {key}")
    if len(set(found.values())) > 1:
        raise PolicyError(f"{where}: {' and '.join(found)} give different default poses; keep one")
    return next(iter(found.values()))


def _chosen(
    cfg: Mapping[str, Any], where: str, n: int, available: list[str], pattern: str | None, notes: list[str]
) -> list[str]:
    """The policy joints: ``--joints``, else the config's ``joint_names``, else the n joints a named
    default pose names (model order), else the model's first n."""
    if pattern is not None:
        chosen = select_joints(available, pattern)
        if len(chosen) != n:
            raise PolicyError(
                f"--joints '{pattern}' matches {len(chosen)} joints of the model, the policy has {n}"
            )
        return chosen
    listed = _listed_joints(cfg, where, n, available)
    if listed is not None:
        return listed
    if len(available) < n:
        raise PolicyError(f"the model has {len(available)} joints, the policy drives {n} (num_actions)")
    named = next((v for v in _stated(cfg, DEFAULT_KEYS).values() if _is_map(v)), None)
    if named is not None:
        chosen = [j for j in available if j in named]
        if len(chosen) == n and len(chosen) < len(available):
            notes.append(
                f"policy joints: the {n} joints of the model the default pose names, in model order "
                "(legged_gym's dof order)"
            )
            return chosen
    chosen = available[:n]
    if len(available) > n:
        notes.append(
            f"policy joints: the model's first {n} of {len(available)} joints ({chosen[0]} .. {chosen[-1]}), "
            "as the deploy script reads qpos[7:]"
        )
    return chosen


def _held(
    cfg: Mapping[str, Any],
    where: str,
    model: str | Path,
    others: list[str],
    notes: list[str],
) -> tuple[dict[str, float], dict[str, dict[str, float]], str]:
    """Hold positions and stated gains of the model's joints the policy does not drive (module
    docstring), and where the positions come from."""
    stated = {k: v for k, v in _stated(cfg, HOLD_KEYS).items() if v != []}
    if not others:
        if stated:  # unitree_rl_gym's H1 MJCF: torso and arms rigid, their motors for the robot's own loop
            target = stated.get("arm_waist_target")
            shown = few(target) if isinstance(target, list) else repr(target)
            notes.append(
                f"{where}'s arm_waist_target ({shown}) holds motors the model has no joints for (rigid in it): "
                "on the robot its own controller must hold them there, with arm_waist_kps / arm_waist_kds"
            )
        return {}, {}, ""
    if stated:
        missing = next((k for k in HOLD_KEYS if k not in stated), None)
        if missing is not None:
            raise PolicyError(
                f"{where}: '{missing}' is missing beside {', '.join(stated)} (the held joints' targets and gains)"
            )
        values = {}
        for key in HOLD_KEYS:
            raw = stated[key]
            if not isinstance(raw, list) or len(raw) != len(others):
                count = len(raw) if isinstance(raw, list) else "no list of"
                raise PolicyError(
                    f"{where}: {key} has {count} values, the model has {len(others)} joints the policy does not "
                    f"drive ({few(others)}): give the model the config was written for (its joints outside "
                    "the policy, in model order, are the ones arm_waist_target holds)"
                )
            checks = {"positive": key == "arm_waist_kps", "non_negative": key == "arm_waist_kds"}
            values[key] = per_joint(raw, len(others), f"{where}: {key}", **checks)
        target = dict(zip(others, values["arm_waist_target"], strict=True))
        bad = outside_range(model_joints_of(model).ranges, others, values["arm_waist_target"])
        if bad is not None:
            raise PolicyError(
                f"{where}: arm_waist_target: {bad}; the held joints are not where the import put them"
            )
        slots = cfg.get("arm_waist_joint2motor_idx")
        if not (isinstance(slots, list) and len(slots) == len(others) and all(type(i) is int for i in slots)):
            slots = [None] * len(others)  # motor_slots says what is wrong with it
        gains = {
            j: {"kp": kp, "kd": kd, **({"motor": m} if m is not None else {})}
            for j, kp, kd, m in zip(
                others, values["arm_waist_kps"], values["arm_waist_kds"], slots, strict=True
            )
        }
        return (
            target,
            gains,
            (
                f"{where}'s arm_waist_target with arm_waist_kps / arm_waist_kds (recorded in the metadata), "
                "taken in the model's order of those joints"
            ),
        )
    named = next((v for v in _stated(cfg, DEFAULT_KEYS).values() if _is_map(v)), {})
    target = {j: per_joint(named[j], 1, f"{where}: default angle of '{j}'")[0] for j in others if j in named}
    ranges = model_joints_of(model).ranges
    for j, q in target.items():  # held there on the robot too: never past the joint's stop
        if (r := ranges.get(j)) is not None and not r[0] - 1e-6 <= q <= r[1] + 1e-6:
            raise PolicyError(
                f"{where}: the default angle {q:g} of '{j}', a joint the policy does not drive and holds there, "
                f"is outside its range [{r[0]:g}, {r[1]:g}]"
            )
    gains: dict[str, dict[str, float]] = {}
    for gain, keys in GAIN_KEYS.items():
        for key, value in _stated(cfg, keys).items():
            if _is_map(value):
                for j, v in _by_part(value, key, where, list(target)).items():
                    gains.setdefault(j, {})[gain] = v
    rest = hold_positions(model, [j for j in others if j not in target])
    held_from = "their default positions (the model's first keyframe, else qpos0)"
    if target:
        held_from = f"the default pose {where} names ({len(target)} of them; the others: {held_from})"
        if len(target) == len(others):
            held_from = f"the default pose {where} names for them"
    return {j: target[j] if j in target else rest[j] for j in others}, gains, held_from


def config_joints(
    cfg: Mapping[str, Any],
    where: str,
    n: int,
    model: str | Path,
    available: list[str],
    pattern: str | None = None,
) -> ConfigJoints:
    """The policy joints of a legged_gym / unitree_rl_gym config and their facts (module docstring).

    Args:
        cfg: The config.
        where: Its file name, for messages.
        n: ``num_actions``.
        model: The model's MJCF.
        available: The model's hinge and slide joints in model order.
        pattern: ``--joints``: a regular expression of the policy joints (model order).

    Raises:
        PolicyError: one line naming what does not fit.
    """
    notes: list[str] = []
    joints = _chosen(cfg, where, n, available, pattern, notes)
    unmatched = unmatched_names(cfg, where, available)
    if unmatched is not None:
        notes.append(unmatched)
    default = _default_pose(cfg, where, joints)
    kp = _per_policy_joint(cfg, GAIN_KEYS["kp"], where, joints, positive=True)
    kd = _per_policy_joint(cfg, GAIN_KEYS["kd"], where, joints, non_negative=True)
    held, gains, held_from = _held(cfg, where, model, [j for j in available if j not in joints], notes)
    return ConfigJoints(tuple(joints), default, kp, kd, held, gains, held_from, tuple(notes))
