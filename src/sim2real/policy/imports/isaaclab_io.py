"""Isaac Lab's IO descriptors (``export_io_descriptors``: ``<task>_IO_descriptors.yaml``) read as
the deploy.yaml they imply.

Facts of the format (Isaac Lab 2.2 and later, ``ManagerBasedRLEnv.export_IO_descriptors``):

- ``articulations.<name>``: ``joint_names`` (the articulation's order), and per joint in that order
  ``default_joint_pos``, ``default_joint_stiffness``, ``default_joint_damping`` (zero for joints
  behind an actuator network, as ANYmal's) and ``default_joint_armature``;
- ``actions``: a list of terms, each with ``full_path`` (``...joint_actions.JointPositionAction``),
  ``joint_names`` (the action's joints, in its order), ``scale`` (one value or one per joint),
  ``offset`` (per joint) and ``clip`` (null, or per joint [low, high]);
- ``observations.policy``: the terms in order, each with ``full_path`` (its function), ``shape``
  (one frame), ``overloads`` (``scale``, ``clip``, ``history_length`` (0: none),
  ``flatten_history_dim``) and, for joint terms, ``joint_names`` and ``joint_pos_offsets``;
- ``scene``: ``dt`` (the policy period), ``physics_dt``, ``decimation``.

The file states no command ranges: the velocity command is not clipped (recorded as assumed).
Training with ``--export_io_descriptors`` writes it as ``IO_descriptors.yaml`` in the run's folder,
beside ``params/env.yaml``: :func:`run_articulation` reads the articulation's joint order from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import per_joint
from sim2real.policy.imports.config_files import load_config

_JOINT_TERMS = ("joint_pos", "joint_pos_rel", "joint_vel", "joint_vel_rel")
"""Isaac Lab observation functions with a value per joint (their ``joint_names`` state which)."""


def is_io_descriptors(cfg: Any) -> bool:
    """Whether a loaded YAML is Isaac Lab's IO descriptors (not a deploy.yaml or env.yaml)."""
    return (
        isinstance(cfg, Mapping)
        and isinstance(cfg.get("articulations"), Mapping)
        and isinstance(cfg.get("actions"), list)
    )


def _function(term: Mapping[str, Any]) -> str:
    """``isaaclab.envs.mdp.observations.joint_pos_rel`` -> ``joint_pos_rel``."""
    return str(term.get("full_path") or term.get("name") or "").rpartition(".")[2]


def _articulation(cfg: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    arts = {k: v for k, v in cfg["articulations"].items() if isinstance(v, Mapping)}
    if "robot" in arts:
        return arts["robot"]
    if len(arts) != 1:
        raise PolicyError(
            f"{where}: {len(arts)} articulations ({', '.join(arts) or 'none'}) and none named robot"
        )
    return next(iter(arts.values()))


def deploy_from_io(
    cfg: Mapping[str, Any], where: str, assumed: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The deploy.yaml an IO descriptors file implies (policy joints: the articulation's, named in
    ``joint_names``, motor slots in that order) and extras: ``physics_dt`` [s], ``armature`` per
    policy joint with ``armature_from``.

    Raises:
        PolicyError: one line naming what the file lacks or sim2real cannot follow.
    """
    robot = _articulation(cfg, where)
    names = robot.get("joint_names")
    if not isinstance(names, list) or not names or not all(isinstance(j, str) for j in names):
        raise PolicyError(f"{where}: the articulation states no joint_names")
    n = len(names)
    values = {
        key: per_joint(robot.get(f"default_joint_{key}"), n, f"{where}: default_joint_{key}")
        for key in ("pos", "stiffness", "damping")
    }
    if not any(values["stiffness"]):
        raise PolicyError(
            f"{where}: every joint's stiffness is 0: its actuators are not PD-driven (an actuator network, as "
            "ANYmal's); sim2real imports policies of PD-driven joints"
        )
    actions = [a for a in cfg["actions"] if isinstance(a, Mapping)]
    kind = re.split(r"[:.]", str(actions[0].get("full_path", "")))[-1] if len(actions) == 1 else ""
    if kind != "JointPositionAction":  # RelativeJointPositionAction: current position + scale x action
        kinds = ", ".join(str(a.get("full_path") or a.get("name")) for a in actions) or "none"
        raise PolicyError(f"{where}: action terms {kinds}; sim2real imports one JointPositionAction")
    action = actions[0]
    driven = action.get("joint_names") or names
    unknown = [j for j in driven if j not in names]
    if unknown:
        raise PolicyError(
            f"{where}: the action's joint '{unknown[0]}' is not one of the articulation's joint_names"
        )
    ids = [names.index(j) for j in driven]
    if ids != sorted(ids):
        raise PolicyError(
            f"{where}: the action lists its joints in its own order (preserve_order) while the joint observations "
            "follow the articulation order; sim2real keeps one joint order for both"
        )
    group = (cfg.get("observations") or {}).get("policy")
    if not isinstance(group, list):
        raise PolicyError(f"{where}: no observations.policy list")
    observations: dict[str, Any] = {}
    for term in group:
        if not isinstance(term, Mapping):
            continue
        func = _function(term)
        over = term.get("overloads") or {}
        if func in _JOINT_TERMS and term.get("joint_names") not in (None, names):
            raise PolicyError(
                f"{where}: observation '{term.get('name')}' covers joints {term.get('joint_names')}, not the "
                "articulation's; sim2real's terms cover every policy joint"
            )
        offsets = term.get("joint_pos_offsets")
        if (
            func == "joint_pos_rel"
            and offsets is not None
            and not np.allclose(offsets, values["pos"], atol=1e-6)
        ):
            raise PolicyError(
                f"{where}: observation '{term.get('name')}' is relative to another pose than default_joint_pos"
            )
        observations[func if func not in observations else str(term.get("name"))] = {
            "params": {},
            "scale": over.get("scale"),
            "clip": over.get("clip"),
            "history_length": over.get("history_length") or 1,
            "flatten_history_dim": over.get("flatten_history_dim", True),
        }
    if any(_function(t) == "generated_commands" for t in group if isinstance(t, Mapping)):
        assumed.append(f"{where} states no command ranges: the velocity command is not clipped")
    scene = cfg.get("scene") or {}
    step, physics = scene.get("dt"), scene.get("physics_dt")
    if step is None:
        raise PolicyError(f"{where}: scene.dt (the policy period) is missing")
    deploy = {
        "joint_names": list(names),  # the import's policy joints (not a motor order)
        "joint_ids_map": list(range(n)),
        "step_dt": step,
        **({"physics_dt": physics} if physics is not None else {}),
        "stiffness": list(values["stiffness"]),
        "damping": list(values["damping"]),
        "default_joint_pos": list(values["pos"]),
        "actions": {
            "JointPositionAction": {
                "scale": action.get("scale", 1.0),
                "offset": action.get("offset"),
                "clip": action.get("clip"),
                "joint_ids": None if ids == list(range(n)) else ids,
            }
        },
        "observations": observations,
    }
    extras: dict[str, Any] = {}
    armature = robot.get("default_joint_armature")
    if armature is not None:
        extras["armature"] = per_joint(armature, n, f"{where}: default_joint_armature", non_negative=True)
        extras["armature_from"] = f"the policy's {where} (default_joint_armature)"
    return deploy, extras


def run_articulation(env_yaml: Path, joints: Sequence[str], assumed: list[str]) -> list[str] | None:
    """The articulation's joint order stated by the run's ``IO_descriptors.yaml`` beside the folder
    of its ``params/env.yaml``, when it names exactly ``joints`` (the model's chosen joints); else
    None (a file that names others is recorded as not used).

    Raises:
        PolicyError: the file is there but not YAML.
    """
    path = env_yaml.parent.parent / "IO_descriptors.yaml"
    if not path.is_file():
        return None
    cfg = load_config(path, "IO_descriptors.yaml")
    names = _articulation(cfg, path.name).get("joint_names") if is_io_descriptors(cfg) else None
    if not isinstance(names, list) or sorted(map(str, names)) != sorted(joints):
        assumed.append(f"{path} does not name the model's joints: its articulation order is not used")
        return None
    return [str(j) for j in names]
