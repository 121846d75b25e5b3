"""mjlab's ONNX metadata (``attach_onnx_metadata``: comma-separated text; some exporters write JSON
lists instead) read as an import's facts: ``joint_names`` (every joint of the robot, in its order),
``joint_stiffness``, ``joint_damping``, ``default_joint_pos`` (per joint), ``action_scale`` (per joint the action drives, or one number),
``observation_names`` and, from mjlab 1.6, each term's scale, clip, history length and flattening.
The metadata does not name the joints the action drives: a policy driving some of its joints needs
them named (``--action-joints``) or its deploy.yaml."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import per_joint, select_joints
from sim2real.policy.imports.graph import GraphInterface
from sim2real.policy.imports.isaaclab_terms import frame_size, our_term, term_clip, term_scale
from sim2real.robots.spec import ObservationTerm


def _entries(text: str) -> list[str]:
    """A metadata list's entries: comma-separated text (mjlab's ``list_to_csv_str``) or a JSON list
    (exporters that ``json.dumps`` each value), a nested list's numbers joined by ';' and a boolean
    as 1 or 0 (mjlab's text forms)."""

    def entry(x: Any) -> str:
        if isinstance(x, list):
            return ";".join(entry(v) for v in x)
        return str(int(x)) if isinstance(x, bool) else str(x)

    if text.strip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            return [entry(x) for x in items]
    return [x.strip() for x in text.split(",")]


def csv_items(text: str) -> list[str]:
    return [x for x in _entries(text) if x]


def _numbers(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in csv_items(text)]
    except ValueError:
        raise PolicyError(f"ONNX metadata '{what}' is not comma-separated numbers: {text[:80]!r}") from None


def _term_list(meta: Mapping[str, str], key: str, n_terms: int) -> list[str]:
    """One entry per observation term of an mjlab metadata list (empty when the key is absent)."""
    if key not in meta:
        return []
    entries = _entries(meta[key])
    if len(entries) != n_terms:
        raise PolicyError(f"ONNX metadata '{key}' has {len(entries)} entries for {n_terms} observation terms")
    return entries


def _sub_numbers(entry: str, what: str) -> float | list[float]:
    """An mjlab metadata entry: one number, or numbers joined by ';' (a per-value scale, a clip range)."""
    try:
        values = [float(x) for x in entry.split(";")]
    except ValueError:
        raise PolicyError(f"{what}: {entry!r} is not a number or numbers joined by ';'") from None
    return values[0] if len(values) == 1 else values


def from_metadata(
    meta: Mapping[str, str],
    interface: GraphInterface,
    control_dt: float | None,
    assumed: list[str],
    action_joints: str | None = None,
) -> dict[str, Any]:
    """The import's facts from mjlab's ONNX metadata (module docstring).

    Args:
        action_joints: Regular expression of the joints the action drives, matched in full against
            ``joint_names`` (taken in that order, mjlab's action order); None: every joint.

    Raises:
        PolicyError: a key is missing or malformed, or ``action_joints`` matches none.
    """
    joints = csv_items(meta["joint_names"])
    n = len(joints)
    if action_joints is None and interface.n_act < n:  # before action_scale: mjlab lists it per driven joint
        raise PolicyError(
            f"the policy gives {interface.n_act} actions for the {n} joints its ONNX metadata names, which does not "
            "say which joints the action drives: give its params/deploy.yaml (--deploy) or name them with --action-joints"
        )
    driven = select_joints(joints, action_joints)
    if not driven:
        raise PolicyError(
            f"--action-joints '{action_joints}' matches none of the policy joints ({', '.join(joints)})"
        )
    m = len(driven)
    if action_joints is not None and m != interface.n_act:
        raise PolicyError(
            f"--action-joints '{action_joints}' matches {m} joints; the policy gives {interface.n_act} actions"
        )
    for key in ("joint_stiffness", "joint_damping", "default_joint_pos", "action_scale", "observation_names"):
        if key not in meta:
            raise PolicyError(
                f"the ONNX metadata has joint_names but no {key}: give its params/deploy.yaml (--deploy)"
            )
    default = per_joint(
        _numbers(meta["default_joint_pos"], "default_joint_pos"), n, "ONNX metadata default_joint_pos"
    )
    scales = _numbers(meta["action_scale"], "action_scale")
    names = csv_items(meta["observation_names"])
    histories = _term_list(meta, "observation_terms_history_length", len(names))
    term_scales = _term_list(meta, "observation_terms_scale", len(names))
    clips = _term_list(meta, "observation_terms_clip", len(names))
    flatten = _term_list(meta, "observation_terms_flatten_history_dim", len(names))
    layout = []
    for k, foreign in enumerate(names):
        name = our_term(foreign)
        if name == "gait_phase":
            raise PolicyError(
                "the ONNX metadata does not state the gait phase's period: give its params/deploy.yaml (--deploy)"
            )
        size = frame_size(name, n, m)
        label = f"ONNX metadata: observation '{foreign}'"
        history = int(float(histories[k])) if histories else 1
        if flatten and flatten[k].lower() in ("0", "0.0", "0.000", "false"):
            raise PolicyError(f"{label} keeps its history unflattened; sim2real flattens it (oldest first)")
        scale = (
            term_scale(_sub_numbers(term_scales[k], label), size, f"{label} scale") if term_scales else 1.0
        )
        clip = term_clip(_sub_numbers(clips[k], label), size, f"{label} clip") if clips else None
        layout.append(ObservationTerm(name, size, scale, max(history, 1), clip))
    if not term_scales:
        assumed.append(
            "observation terms unscaled and unclipped (the ONNX metadata states no scales: mjlab's velocity task)"
        )
    if control_dt is None:
        assumed.append(
            "policy period 0.02 s (mjlab's velocity task: 4 physics steps of 5 ms; the metadata states none)"
        )
    return {
        "joints": joints,
        "kp": per_joint(
            _numbers(meta["joint_stiffness"], "joint_stiffness"), n, "ONNX metadata joint_stiffness", positive=True
        ),
        "kd": per_joint(_numbers(meta["joint_damping"], "joint_damping"), n, "ONNX metadata joint_damping", non_negative=True),
        "default_pose": default,
        "driven": driven,
        "scale": per_joint(scales if len(scales) > 1 else scales[0], m, "ONNX metadata action_scale"),
        "offset": tuple(default[joints.index(j)] for j in driven),
        "observation": tuple(layout),
        "control_dt": control_dt if control_dt is not None else 0.02,
    }


def check_against(meta: Mapping[str, str], facts: Mapping[str, Any], where: str) -> None:
    """mjlab's ONNX metadata agrees with the deploy.yaml read beside it (``facts``: per policy joint,
    the metadata's ``joint_names`` order): the default pose and the PD gains, where the metadata
    states them, within the rounding of both writers (mjlab: 3 decimals; unitree_rl_lab: 3
    significant digits).

    Raises:
        PolicyError: a value differs (the two files are of different runs, or list another order).
    """
    joints = list(facts["joints"])
    for key, ours in (("default_joint_pos", "default_pose"), ("joint_stiffness", "kp"), ("joint_damping", "kd")):
        if key not in meta:
            continue
        theirs = _numbers(meta[key], key)
        if len(theirs) != len(joints):
            raise PolicyError(f"ONNX metadata '{key}' has {len(theirs)} values for its {len(joints)} joint_names")
        mine = np.asarray(facts[ours], dtype=float)
        off = ~np.isclose(mine, theirs, rtol=5e-3, atol=2e-3)
        if off.any():
            k = int(np.flatnonzero(off)[0])
            raise PolicyError(
                f"the ONNX metadata's {key} of '{joints[k]}' is {theirs[k]:g}, {where} says {mine[k]:g}: "
                "give the deploy.yaml of this policy's run"
            )
