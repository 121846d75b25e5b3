"""Isaac Lab's own run parameters, ``params/env.yaml``, read as the deploy.yaml they imply.

A policy trained with Isaac Lab's own scripts (``scripts/reinforcement_learning/rsl_rl/train.py``)
leaves ``exported/policy.onnx`` (no metadata) and ``params/env.yaml``: the whole environment config,
dumped with Python tags (tuples, slices, ``module:function`` strings).  What an import needs, as
facts of that format:

- ``decimation`` x ``sim.dt`` is the policy period, ``sim.dt`` the physics timestep;
- ``actions.<term>``: a ``JointPositionAction`` (``class_type``) over ``joint_names`` (regular
  expressions matched against the articulation's joints in their order, or in the list's order
  with ``preserve_order``), target = offset + scale x action, the offset being the default pose
  with ``use_default_offset``; ``scale``, ``offset`` and ``clip`` are one value or a map from a
  regular expression to a value;
- ``scene.robot.init_state.joint_pos`` (map from a regular expression to a position) is the
  default pose (a value or a map); ``scene.robot.actuators.<group>`` give ``stiffness``, ``damping``,
  ``effort_limit_sim`` (else ``effort_limit``)
  and ``armature`` to the joints their ``joint_names_expr`` match (one value or a map);
- ``observations.policy``: the terms in order (a term set to null is not there), each with its
  ``func`` (``module:function``), ``scale``, ``clip``, ``history_length`` (the group's, when set,
  applies to every term) and ``params``; ``commands.<name>.ranges`` bound the velocity command;
- a ``height_scan`` term (``mdp.height_scan``: ``sensor z - hit z - offset``, ``offset`` 0.5 unless
  its params set it) names its ray caster in ``params.sensor_cfg.name``; ``scene.<that name>`` is a
  ``RayCasterCfg``: ``prim_path`` ending in the body it is on, ``offset.pos`` (x, y shift the grid
  in the base's frame; z is how high above it the rays start, which does not enter the value),
  ``offset.rot``, the alignment (``ray_alignment``: ``yaw``/``base``/``world``; before Isaac Lab
  2.1 ``attach_yaw_only``, True meaning yaw) and ``pattern_cfg`` (``GridPatternCfg``:
  ``resolution``, ``size`` = (length along x, width along y), ``direction``, ``ordering``: ``xy``
  by default, x varying fastest; its points are ``arange(-size/2, size/2 + 1e-9, resolution)`` per
  axis).  Only a downward, yaw-aligned grid is imported (what the rough velocity tasks use).

The articulation's joint order is the model's joints breadth first (what Isaac Lab makes of the
same robot description), as the deploy.yaml import assumes too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from sim2real.errors import PolicyError


def is_env_yaml(cfg: Any) -> bool:
    """Whether a loaded YAML is Isaac Lab's ``env.yaml`` (not a deploy.yaml)."""
    return isinstance(cfg, Mapping) and all(
        k in cfg for k in ("scene", "observations", "actions", "decimation")
    )


def _by_regex(value: Any, joint: str, what: str) -> Any:
    """A per-joint value of an Isaac Lab config: the value itself, or the first regular expression
    of a map that matches the joint in full (None when none does)."""
    if not isinstance(value, Mapping):
        return value
    for pattern, v in value.items():
        try:
            if re.fullmatch(str(pattern), joint):
                return v
        except re.error as exc:
            raise PolicyError(f"{what}: '{pattern}' is not a regular expression ({exc})") from None
    return None


def _fallback(value: Any, default: float) -> Any:
    """``value``, or ``default`` where a map matched nothing (None)."""
    return default if value is None else value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{what} must be a number, got {value!r}")
    return float(value)


def _action_joints(patterns: Any, articulation: Sequence[str], preserve_order: bool, where: str) -> list[str]:
    """The joints an action term drives, in the policy's order."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns or [".*"])
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(str(p)))
        except re.error as exc:
            raise PolicyError(
                f"{where}: action joint_names '{p}' is not a regular expression ({exc})"
            ) from None
    if preserve_order:
        joints = [j for c in compiled for j in articulation if c.fullmatch(j)]
    else:
        joints = [j for j in articulation if any(c.fullmatch(j) for c in compiled)]
    if not joints:
        raise PolicyError(f"{where}: the action's joint_names {patterns} match no joint of the model")
    return list(dict.fromkeys(joints))


def _actuator_values(actuators: Mapping[str, Any], joints: Sequence[str], key: str, where: str) -> list[Any]:
    """Per joint, ``key`` of the first actuator group whose ``joint_names_expr`` matches it (None: none)."""
    out: list[Any] = []
    for joint in joints:
        found = None
        for group, cfg in actuators.items():
            exprs = (cfg or {}).get("joint_names_expr") or []
            if any(re.fullmatch(str(e), joint) for e in ([exprs] if isinstance(exprs, str) else exprs)):
                found = _by_regex(cfg.get(key), joint, f"{where}: scene.robot.actuators.{group}.{key}")
                break
        out.append(found)
    return out


def _func_name(term: Mapping[str, Any]) -> str:
    """The name of an observation term's function (``isaaclab.envs.mdp.observations:joint_pos_rel``
    -> ``joint_pos_rel``)."""
    return str(term.get("func") or "").rpartition(":")[2].rpartition(".")[2]


_PER_JOINT = ("joint_pos", "joint_pos_rel", "joint_vel", "joint_vel_rel")
"""Isaac Lab observation functions with a value per joint (in articulation order by default)."""


def _axis(length: float, resolution: float) -> list[float]:
    """One axis of Isaac Lab's grid pattern: ``arange(-length/2, length/2 + 1e-9, resolution)`` [m]."""
    values = np.arange(-length / 2.0, length / 2.0 + 1e-9, resolution)
    return [float(v) for v in np.round(values, 9)]


def _scan_grid(
    params: Mapping[str, Any], scene: Mapping[str, Any], label: str, assumed: list[str]
) -> dict[str, Any]:
    """sim2real's ``height_scan`` parameters (``points_x``, ``points_y``, ``order``, ``offset``) and
    the body the ray caster is on (``body``), from the term's params and its ``RayCasterCfg`` in the
    env.yaml's scene (module docstring).

    Raises:
        PolicyError: the sensor is missing, not a downward grid, or not aligned to the base's yaw.
    """
    sensor_cfg = params.get("sensor_cfg")
    name = sensor_cfg.get("name") if isinstance(sensor_cfg, Mapping) else None
    sensor = scene.get(name) if name is not None else None
    if not isinstance(sensor, Mapping):
        raise PolicyError(f"{label}: its ray caster (params.sensor_cfg.name {name!r}) is not in the env.yaml's scene")
    what = f"{label}: ray caster scene.{name}"
    yaw_only = sensor.get("attach_yaw_only")
    alignment = ("yaw" if yaw_only else "base") if yaw_only is not None else sensor.get("ray_alignment")
    if alignment != "yaw":
        raise PolicyError(
            f"{what} has ray_alignment {alignment!r}; sim2real casts a grid turned by the base's yaw only "
            "(ray_alignment: yaw, or attach_yaw_only: true)"
        )
    pattern = sensor.get("pattern_cfg") or {}
    if not isinstance(pattern, Mapping) or "resolution" not in pattern or "size" not in pattern:
        raise PolicyError(f"{what}: its pattern_cfg is not a grid (resolution and size); sim2real imports a GridPatternCfg")
    direction = [float(v) for v in (pattern.get("direction") or (0.0, 0.0, -1.0))]
    offset_cfg = sensor.get("offset") or {}
    rot = [float(v) for v in (offset_cfg.get("rot") or (1.0, 0.0, 0.0, 0.0))]
    if direction != [0.0, 0.0, -1.0] or rot != [1.0, 0.0, 0.0, 0.0]:
        raise PolicyError(f"{what}: its rays do not point straight down (direction {direction}, offset.rot {rot})")
    resolution = _number(pattern["resolution"], f"{what}: pattern_cfg.resolution")
    size = pattern["size"]
    if not isinstance(size, Sequence) or len(size) != 2 or not resolution > 0:
        raise PolicyError(f"{what}: pattern_cfg needs a positive resolution and size [length, width]")
    length, width = (_number(v, f"{what}: pattern_cfg.size") for v in size)
    pos = [float(v) for v in (offset_cfg.get("pos") or (0.0, 0.0, 0.0))]
    order = str(pattern.get("ordering", "xy"))
    if order not in ("xy", "yx"):
        raise PolicyError(f"{what}: pattern_cfg.ordering must be xy or yx, got {order!r}")
    if "offset" in params:
        offset = _number(params["offset"], f"{label}: params.offset")
    else:
        offset = 0.5
        assumed.append(f"{label}: height scan offset 0.5 m (mdp.height_scan's default; its params do not set one)")
    return {
        "points_x": [round(x + pos[0], 9) for x in _axis(length, resolution)],
        "points_y": [round(y + pos[1], 9) for y in _axis(width, resolution)],
        "order": order,
        "offset": offset,
        "body": str(sensor.get("prim_path") or "").rpartition("/")[2],
    }


def _observations(
    group: Mapping[str, Any],
    where: str,
    known: Collection[str],
    articulation: Sequence[str],
    joints: Sequence[str],
    scene: Mapping[str, Any],
    assumed: list[str],
) -> dict[str, Any]:
    """The policy group's terms as a deploy.yaml's ``observations`` (keyed by a name the importer
    knows, ``known``: the term's function's name when it knows it, else the term's key; Isaac Lab's
    absolute ``joint_pos`` is ``joint_pos_absolute``).  A joint selection (``asset_cfg.joint_names``)
    that selects the policy's ``joints`` in their order is every policy joint."""
    history = group.get("history_length")
    out: dict[str, Any] = {}
    for key, term in group.items():
        if not isinstance(term, Mapping) or "func" not in term:
            continue  # a group setting (concatenate_terms, concatenate_dim, ...) or a term set to null
        func = _func_name(term)
        func = "joint_pos_absolute" if func == "joint_pos" else func
        name = func if func in known else key
        if name in out:
            raise PolicyError(f"{where}: observations.policy has two '{name}' terms")
        if term.get("modifiers"):
            raise PolicyError(f"{where}: observation '{key}' has modifiers, which sim2real does not apply")
        params = dict(term.get("params") or {})
        asset = params.get("asset_cfg")
        if isinstance(asset, Mapping) and asset.get("joint_names") not in (None, ".*", [".*"]):
            chosen = _action_joints(asset["joint_names"], articulation, bool(asset.get("preserve_order")), where)
            if chosen == list(joints):  # the policy's joints, in its order: every joint to sim2real
                params["asset_cfg"] = {k: v for k, v in asset.items() if k not in ("joint_names", "joint_ids")}
        if func == "height_scan":
            params["grid"] = _scan_grid(params, scene, f"{where}: observation '{key}'", assumed)
        out[name] = {
            "params": params,
            "clip": term.get("clip"),
            "scale": term.get("scale"),
            "history_length": history if history else term.get("history_length"),
            "flatten_history_dim": term.get("flatten_history_dim", True),
        }
    if not out:
        raise PolicyError(f"{where}: observations.policy has no terms")
    return out


def deploy_from_env(
    cfg: Mapping[str, Any],
    articulation: Sequence[str],
    where: str,
    assumed: list[str],
    known: Collection[str],
    observed: Sequence[str] | None = None,
    order: str = "the model's joints breadth first (Isaac Lab's articulation order)",
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """The deploy.yaml an Isaac Lab ``env.yaml`` implies (module docstring).

    Args:
        cfg: The loaded env.yaml.
        articulation: The articulation's joints in its order (the model's breadth first unless a
            file of the run names them).
        where: The file's name, for messages.
        assumed: Gets what was assumed.
        known: Observation term names the importer knows (a term whose key is not one is named by
            its function).
        observed: The policy joints when its joint observations cover more joints than its action
            drives (the articulation's, in its order: Isaac Lab's joint terms without a joint
            selection): the deploy.yaml then lists them all and the action's ``joint_ids`` name the
            driven ones; None: the action's joints.

    Returns:
        (the deploy.yaml as a mapping, the policy joints in order, extras: ``physics_dt`` [s] and,
        where the config states them, ``torque_limit`` and ``armature`` per policy joint with
        ``torque_limit_from`` / ``armature_from`` naming the file and keys they were read from).

    Raises:
        PolicyError: one line naming what the config lacks or sim2real cannot follow.
    """
    actions = {k: v for k, v in (cfg.get("actions") or {}).items() if v is not None}
    if len(actions) != 1:
        raise PolicyError(
            f"{where}: {len(actions)} action terms ({', '.join(actions) or 'none'}); sim2real imports one JointPositionAction"
        )
    ((term_name, action),) = actions.items()
    kind = re.split(r"[:.]", str(action.get("class_type", "")))[-1]
    if kind != "JointPositionAction":  # RelativeJointPositionAction: current position + scale x action
        raise PolicyError(
            f"{where}: action '{term_name}' is {action.get('class_type')}; sim2real imports a JointPositionAction "
            "(targets about the default pose)"
        )
    driven = _action_joints(
        action.get("joint_names"), articulation, bool(action.get("preserve_order")), where
    )
    joints = list(observed) if observed is not None else driven
    robot = ((cfg.get("scene") or {}).get("robot")) or {}
    init = (robot.get("init_state") or {}).get("joint_pos") or {}
    default = [
        _number(
            _by_regex(init, j, f"{where}: init_state.joint_pos") or 0.0,
            f"{where}: init_state.joint_pos of {j}",
        )
        for j in joints
    ]
    actuators = robot.get("actuators") or {}
    gains = {}
    for key in ("stiffness", "damping"):
        values = _actuator_values(actuators, joints, key, where)
        missing = [j for j, v in zip(joints, values, strict=True) if v is None]
        if missing:
            kinds = _actuator_values(actuators, missing[:1], "class_type", where)
            if "ActuatorNet" in str(kinds[0] or ""):
                raise PolicyError(
                    f"{where}: joint '{missing[0]}' was trained behind an actuator network ({str(kinds[0]).rpartition(':')[2]}), "
                    "which has no stiffness or damping; sim2real imports policies of PD-driven joints"
                )
            raise PolicyError(
                f"{where}: no actuator group states the {key} of joint '{missing[0]}' (the USD's own values are not in env.yaml)"
            )
        gains[key] = [_number(v, f"{where}: {key} of {j}") for j, v in zip(joints, values, strict=True)]
    extras: dict[str, Any] = {}
    for keys, ours in ((("effort_limit_sim", "effort_limit"), "torque_limit"), (("armature",), "armature")):
        # Isaac Lab 2.x states the simulated limit as effort_limit_sim (null: the robot's own)
        per_key = [_actuator_values(actuators, joints, key, where) for key in keys]
        values = [next((v for v in options if v is not None), None) for options in zip(*per_key, strict=True)]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            extras[ours] = tuple(float(v) for v in values)
            used = [k for k, vs in zip(keys, per_key, strict=True) if any(v is not None for v in vs)]
            extras[f"{ours}_from"] = f"the policy's {where} ({' / '.join(used)})"
    scale = [  # a map leaves the joints it does not match at 1.0, as Isaac Lab's JointAction does
        _number(
            _fallback(_by_regex(action.get("scale", 1.0), j, f"{where}: action scale"), 1.0),
            f"{where}: action scale of {j}",
        )
        for j in driven
    ]
    if action.get("use_default_offset", True):
        offset = [default[joints.index(j)] for j in driven]
    else:
        offset = [
            _number(
                _by_regex(action.get("offset", 0.0), j, f"{where}: action offset") or 0.0,
                f"{where}: action offset of {j}",
            )
            for j in driven
        ]
    clip = action.get("clip")
    clips = (
        None
        if clip is None
        else [
            list(_by_regex(clip, j, f"{where}: action clip") or [float("-inf"), float("inf")]) for j in driven
        ]
    )
    sim = cfg.get("sim") or {}
    dt = _number(sim.get("dt"), f"{where}: sim.dt")
    decimation = _number(cfg.get("decimation"), f"{where}: decimation")
    if not dt > 0 or not decimation >= 1:
        raise PolicyError(f"{where}: sim.dt must be positive and decimation at least 1")
    extras["physics_dt"] = dt
    group = (cfg.get("observations") or {}).get("policy")
    if not isinstance(group, Mapping):
        raise PolicyError(f"{where}: no observations.policy group")
    ordered = [j for j in articulation if j in set(driven)]
    per_joint = [
        str(k) for k, t in group.items()
        if isinstance(t, Mapping) and _func_name(t) in _PER_JOINT
        and not ((t.get("params") or {}).get("asset_cfg") or {}).get("joint_names")
    ]  # fmt: skip
    if driven != ordered and per_joint:
        raise PolicyError(
            f"{where}: the action lists its joints in its own order (preserve_order) while the joint observations "
            f"({', '.join(per_joint)}) follow the articulation order; sim2real keeps one joint order for both"
        )
    deploy = {
        "joint_ids_map": list(range(len(joints))),
        "step_dt": dt * decimation,
        "stiffness": gains["stiffness"],
        "damping": gains["damping"],
        "default_joint_pos": default,
        "commands": cfg.get("commands") or {},
        "actions": {
            "JointPositionAction": {
                "scale": scale,
                "offset": offset,
                "clip": clips,
                "joint_ids": None if driven == joints else [joints.index(j) for j in driven],
            }
        },
        "observations": _observations(
            group, where, known, articulation, joints, cfg.get("scene") or {}, assumed
        ),
    }
    assumed.append(
        f"policy joint order: {order}, which the joint "
        "observations cover; the action drives those its joint_names match"
        if observed is not None
        else f"policy joint order: the action's joint_names over {order}"
    )
    return deploy, joints, extras
