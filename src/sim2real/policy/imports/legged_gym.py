"""``sim2real import legged-gym``: a legged_gym / unitree_rl_gym TorchScript policy (or the rsl_rl
training checkpoint ``model_<N>.pt``, :mod:`~sim2real.policy.imports.rsl_checkpoint`) and its MuJoCo
deploy config (``deploy/deploy_mujoco/configs/*.yaml``) as sim2real's artifact.

What the config states (facts of unitree_rl_gym's ``deploy_mujoco.py``): ``kps``/``kds``/
``default_angles`` per policy joint (or by joint name, as legged_gym's own config states them:
:mod:`~sim2real.policy.imports.config_joints`, which also holds the joints the policy does not
drive; legged_gym's own sectioned configuration: :mod:`~sim2real.policy.imports.legged_gym_cfg`);
the policy every ``control_decimation`` physics steps of ``simulation_dt``; the observation
``ang_vel * ang_vel_scale``, projected gravity, command x ``cmd_scale``, ``(q - default) *
dof_pos_scale``, ``qd * dof_vel_scale``, the previous action;
target = ``action * action_scale + default_angles``, no clipping.  Keys some configs add and this
importer reads: ``clip_observations`` / ``clip_obs`` (legged_gym clips the whole scaled observation
to +-that), ``clip_actions`` (the network's action clipped before it is scaled and observed; forks'
names for both: :mod:`~sim2real.policy.imports.config_files`, any other clip key refused), the
gait clock's ``period`` / ``gait_period`` / ``cycle_time`` (the name some forks use), and the
real-robot configs' (``deploy/deploy_real/configs``) ``control_dt`` in place of ``simulation_dt`` x
``control_decimation``, ``leg_joint2motor_idx`` / ``joint2motor_idx`` (motor index of policy joint
i: the robot's motor order; ``arm_waist_joint2motor_idx``'s slots hold no policy joint) and
``max_cmd`` (the velocity command ranges: its loop commands joystick x max_cmd).

What it does not state, and what this importer assumes (recorded in the policy's metadata):

- the layout beyond those terms follows from ``num_obs`` and ``num_actions`` (n):
  ``num_obs = 3 n + 9``: the terms above; ``3 n + 11``: a gait clock after the last action
  (sin, cos of the phase of a ``period`` s clock, 0.8 s unless the config has ``period``: the
  humanoid policies H1, H1_2, G1); ``3 n + 12``: the base linear velocity x ``lin_vel_scale``
  first (the quadruped policies, e.g. Go2); anything else is refused with one line; a config with
  humanoid-gym's ``frame_stack`` / ``num_single_obs`` has its frames of 3 n + 11, clock first and
  Euler angles last, stacked whole (:mod:`~sim2real.policy.imports.humanoid_gym`), and a count of
  several 3 n + 11 frames without them is refused with a line asking for them;
- a terrain height scan (legged_gym's ``terrain.measure_heights``, e.g. its ANYmal C rough task)
  when the config has ``measured_points_x`` and ``measured_points_y`` (legged_gym's names for the
  grid, in the base's yaw frame [m]): ``len(x) * len(y)`` values at the END of the observation
  (after the action, as legged_gym's ``compute_observations`` appends them), each
  ``clip(base z - 0.5 - terrain height, -1, 1) * height_measurements_scale`` (the config's, else
  legged_gym's ``obs_scales.height_measurements`` default 5.0), y varying fastest (its
  ``torch.meshgrid(x, y)`` in ``ij`` indexing, flattened); the grid turns with the base's yaw only
  (``quat_apply_yaw``);
- the policy joints are the model's first n hinge joints in model order (the deploy script reads
  ``qpos[7:]``), unless ``joints`` (a regular expression) names them;
- the phase clock counts the policy's steps from its start (``t = k * control_dt`` at step k),
  as in training.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import (
    ForeignPolicy,
    ImportResult,
    given_or_trained,
    locked_note,
    model_joints,
    per_joint,
    write_import,
)
from sim2real.policy.imports.config_files import (
    ACTION_CLIP_KEYS,
    OBSERVATION_CLIP_KEYS,
    check_clip_keys,
    load_config,
    stated_bound,
)
from sim2real.policy.imports.config_joints import config_joints
from sim2real.policy.imports.graph import graph_interface
from sim2real.policy.imports.humanoid_gym import (
    CYCLE_TIME,
    QUAT_SCALE,
    frame_size,
    frame_terms,
    refuse,
    stacked_frames,
)
from sim2real.policy.imports.joint_order import check_default_pose, model_joints_of
from sim2real.policy.imports.legged_gym_cfg import flatten
from sim2real.policy.imports.rsl_checkpoint import load_torch_policy
from sim2real.robots.init_actuators import PerJoint
from sim2real.robots.spec import NO_JOINT, ObservationTerm

REQUIRED = (
    "ang_vel_scale",
    "dof_pos_scale",
    "dof_vel_scale",
    "action_scale",
    "cmd_scale",
    "num_actions",
    "num_obs",
)
"""Keys every unitree_rl_gym deploy config has (MuJoCo's and the real robot's), besides its period
(``simulation_dt`` and ``control_decimation`` (deploy_mujoco), or ``control_dt`` (deploy_real)), its
gains and default pose (positional or named: :mod:`~sim2real.policy.imports.config_joints`)."""

DEFAULT_PERIOD = 0.8
"""Gait clock period of unitree_rl_gym's humanoid policies [s]."""


def _number(cfg: dict[str, Any], key: str, where: str) -> float:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"{where}: '{key}' must be a finite number, got {value!r}")
    return float(value)


PERIOD_KEYS = ("period", "gait_period", "cycle_time")
"""Config keys that state the gait clock's period [s] (``cycle_time``: humanoid-gym's
``rewards.cycle_time``, a name some forks use)."""


def _period(cfg: dict[str, Any], where: str, default: float = DEFAULT_PERIOD) -> float:
    """The gait clock's period [s]: the config's (any of :data:`PERIOD_KEYS`), else ``default``.

    Raises:
        PolicyError: not a positive number, or two keys that disagree.
    """
    stated = {key: _number(cfg, key, where) for key in PERIOD_KEYS if key in cfg}
    for key, value in stated.items():
        if not value > 0:
            raise PolicyError(f"{where}: '{key}' (the gait clock's period) must be positive seconds, got {value:g}")
    if len(set(stated.values())) > 1:
        listed = ", ".join(f"{k} {v:g}" for k, v in stated.items())
        raise PolicyError(f"{where}: the gait clock's period is stated twice and differs ({listed}): keep the one trained with")
    return next(iter(stated.values()), default)


HEIGHT_SCALE = 5.0
"""legged_gym's ``obs_scales.height_measurements`` (``LeggedRobotCfg.normalization``)."""


def _height_scan(cfg: dict[str, Any], where: str) -> tuple[ObservationTerm | None, list[str]]:
    """The height scan term a config's ``measured_points_x`` / ``measured_points_y`` state (module
    docstring), or None without them; what was assumed."""
    if "measured_points_x" not in cfg and "measured_points_y" not in cfg:
        return None, []
    points = {}
    for key in ("measured_points_x", "measured_points_y"):
        values = cfg.get(key)
        if not isinstance(values, list) or not values:
            raise PolicyError(f"{where}: '{key}' must be a non-empty list of coordinates [m] (legged_gym's terrain grid)")
        points[key] = per_joint(values, len(values), f"{where}: {key}")
    assumed = []
    if "height_measurements_scale" in cfg:
        scale = _number(cfg, "height_measurements_scale", where)
    else:
        scale = HEIGHT_SCALE
        assumed.append(f"height scan scale {HEIGHT_SCALE:g} (legged_gym's obs_scales.height_measurements)")
    size = len(points["measured_points_x"]) * len(points["measured_points_y"])
    term = ObservationTerm(
        "height_scan",
        size,
        scale,
        clip=(-1.0, 1.0),
        params={
            "points_x": points["measured_points_x"],
            "points_y": points["measured_points_y"],
            "order": "yx",
            "offset": 0.5,
        },
    )
    assumed.append(
        f"a terrain height scan of {size} points after the last action: clip(base z - 0.5 - terrain, -1, 1) x "
        f"{scale:g}, y fastest, turned by the base's yaw (legged_gym's measure_heights), by ray casts in MuJoCo"
    )
    return term, assumed


def layout(cfg: dict[str, Any], where: str) -> tuple[tuple[ObservationTerm, ...], list[str]]:
    """The observation layout (one frame) a deploy config implies, and what was assumed (module
    docstring); the frames it stacks: :func:`frame_stack`.

    Raises:
        PolicyError: ``num_obs`` fits no known layout for ``num_actions``.
    """
    frames = frame_stack(cfg, where)
    if frames is not None:
        terms, assumed = _humanoid_gym(cfg, where, frames)
    else:
        scan, scan_notes = _height_scan(cfg, where)
        n_obs = int(cfg["num_obs"]) - (scan.size if scan is not None else 0)
        terms, assumed = _proprioceptive(cfg, where, n_obs, scan is not None)
        if scan is not None:
            terms, assumed = (*terms, scan), [*assumed, *scan_notes]
    ranges, source = command_ranges(cfg, where)
    if ranges is not None:
        low, high = (tuple(ranges[k][i] for k in ("vx", "vy", "yaw")) for i in (0, 1))
        terms = tuple(dataclasses.replace(t, clip=(low, high)) if t.name == "velocity_command" else t for t in terms)
        shown = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(low, high, strict=True))
        assumed.append(
            f"velocity command (vx, vy, yaw rate) within {shown} ({source}), the command observed clipped there"
        )
    limit = stated_bound(cfg, OBSERVATION_CLIP_KEYS, where)
    if limit is None:
        return terms, assumed
    return tuple(clipped_after_scaling(t, limit) for t in terms), [
        *assumed,
        f"every observation clipped to +-{limit:g} after scaling (legged_gym's clip_observations)",
    ]


def command_ranges(cfg: dict[str, Any], where: str) -> tuple[dict[str, tuple[float, float]] | None, str]:
    """The velocity command ranges (vx [m/s], vy [m/s], yaw rate [rad/s]) the policy was trained or
    is driven with, and where they come from; None without them:

    - a real-robot config's ``max_cmd``: unitree_rl_gym's deploy loop commands joystick x max_cmd,
      the joystick in [-1, 1];
    - legged_gym's ``commands.ranges`` (``lin_vel_x``, ``lin_vel_y``, ``ang_vel_yaw``): the yaw
      rate within [-1, 1] when ``heading_command`` (computed from the heading error and clipped so),
      the forward range widened to +-``max_curriculum`` when ``curriculum``.

    Raises:
        PolicyError: not three positive numbers, or ranges that are not [low, high] pairs.
    """
    if cfg.get("max_cmd") is not None:
        high = per_joint(cfg["max_cmd"], 3, f"{where}: max_cmd", positive=True)
        ranges = {k: (-h, h) for k, h in zip(("vx", "vy", "yaw"), high, strict=True)}
        return ranges, f"max_cmd of {where}: its deploy loop scales the joystick's [-1, 1] by it"
    commands = cfg.get("commands")
    given = commands.get("ranges") if isinstance(commands, dict) else None
    if not isinstance(given, dict) or "lin_vel_x" not in given:
        return None, ""
    ranges = {}
    for ours, theirs in (("vx", "lin_vel_x"), ("vy", "lin_vel_y"), ("yaw", "ang_vel_yaw")):
        low, high = per_joint(given.get(theirs), 2, f"{where}: commands.ranges.{theirs}")
        if not low <= high:
            raise PolicyError(f"{where}: commands.ranges.{theirs} must be [low, high], got [{low:g}, {high:g}]")
        ranges[ours] = (low, high)
    if commands.get("heading_command"):
        ranges["yaw"] = (-1.0, 1.0)
    if commands.get("curriculum") and commands.get("max_curriculum") is not None:
        top = per_joint(commands["max_curriculum"], 1, f"{where}: commands.max_curriculum", positive=True)[0]
        ranges["vx"] = (min(ranges["vx"][0], -top), max(ranges["vx"][1], top))
    return ranges, f"commands.ranges of {where}, as legged_gym samples them"


BOUND_KEYS = ("clip_actions_lower", "clip_actions_upper")
"""Per-joint bounds of the action some deploy configs state (rl_sar's): one symmetric bound is read."""


def frame_stack(cfg: dict[str, Any], where: str) -> int | None:
    """The whole frames a humanoid-gym config stacks (its ``frame_stack``, checked against
    ``num_obs``: :func:`~sim2real.policy.imports.humanoid_gym.stacked_frames`); None for any other
    config (one frame of the layouts of the module docstring)."""
    return stacked_frames(cfg, where, int(cfg["num_actions"]), int(cfg["num_obs"]))


def _humanoid_gym(cfg: dict[str, Any], where: str, frames: int) -> tuple[tuple[ObservationTerm, ...], list[str]]:
    """One frame of humanoid-gym's observation (:mod:`~sim2real.policy.imports.humanoid_gym`) and
    what was assumed."""
    n = int(cfg["num_actions"])
    assumed = []
    if not any(k in cfg for k in PERIOD_KEYS):
        assumed.append(f"gait clock period {CYCLE_TIME:g} s (humanoid-gym's XBotLCfg rewards.cycle_time; {where} states none)")
    period = _period(cfg, where, CYCLE_TIME)
    if "quat_scale" in cfg:
        quat = _number(cfg, "quat_scale", where)
    else:
        quat = QUAT_SCALE
        assumed.append(f"Euler angle scale {QUAT_SCALE:g} (humanoid-gym's obs_scales.quat; {where} states none)")
    if "measured_points_x" in cfg or "measured_points_y" in cfg:
        assumed.append("the terrain height scan is humanoid-gym's critic observation: the policy does not see it")
    cmd = _command_scale(cfg, where)
    terms = frame_terms(
        n,
        period,
        cmd if len(set(cmd)) > 1 else cmd[0],
        _number(cfg, "dof_pos_scale", where),
        _number(cfg, "dof_vel_scale", where),
        _number(cfg, "ang_vel_scale", where),
        quat,
    )
    assumed.append(
        f"layout: humanoid-gym's: {frames} whole frames of {frame_size(n)} = 3 x {n} + 11 (gait clock of a {period:g} s "
        "period, command, joints, velocities, action, base angular velocity, base Euler angles), oldest first, zeros "
        "after a reset (frame_stack)"
    )
    return terms, assumed


def _command_scale(cfg: dict[str, Any], where: str) -> tuple[float, float, float]:
    """The velocity command's (vx, vy, yaw rate) scales: ``cmd_scale``, one number or three."""
    if isinstance(cfg["cmd_scale"], list):
        return per_joint(cfg["cmd_scale"], 3, f"{where}: cmd_scale")  # type: ignore[return-value]
    return (_number(cfg, "cmd_scale", where),) * 3


def clipped_after_scaling(term: ObservationTerm, limit: float) -> ObservationTerm:
    """``term`` with legged_gym's clip of the scaled value to +-``limit`` as sim2real's clip of the
    raw value (before scaling): +-limit / |scale| per value (a zero scale: no bound), within the
    term's own clip."""
    scale = np.broadcast_to(np.asarray(term.scale, dtype=float), (term.size,))
    with np.errstate(divide="ignore"):
        bound = np.where(scale != 0.0, limit / np.abs(scale), np.inf)
    low, high = -bound, bound
    if term.clip is not None:
        low = np.maximum(low, np.broadcast_to(np.asarray(term.clip[0], dtype=float), (term.size,)))
        high = np.minimum(high, np.broadcast_to(np.asarray(term.clip[1], dtype=float), (term.size,)))

    def compact(values: np.ndarray) -> float | tuple[float, ...]:
        return float(values[0]) if np.all(values == values[0]) else tuple(float(v) for v in values)

    return dataclasses.replace(term, clip=(compact(low), compact(high)))


def _proprioceptive(
    cfg: dict[str, Any], where: str, n_obs: int, scan: bool
) -> tuple[tuple[ObservationTerm, ...], list[str]]:
    """The layout of the ``n_obs`` observations before a height scan (all of them without one)."""
    n = int(cfg["num_actions"])
    cmd = _command_scale(cfg, where)
    core = [
        ObservationTerm("base_ang_vel", 3, _number(cfg, "ang_vel_scale", where)),
        ObservationTerm("projected_gravity", 3, 1.0),
        ObservationTerm("velocity_command", 3, cmd if len(set(cmd)) > 1 else cmd[0]),
        ObservationTerm("joint_pos_rel", n, _number(cfg, "dof_pos_scale", where)),
        ObservationTerm("joint_vel", n, _number(cfg, "dof_vel_scale", where)),
        ObservationTerm("last_action", n, 1.0),
    ]
    rest = n_obs - (3 * n + 9)
    if rest == 0:
        return tuple(core), [
            f"layout: num_obs {n_obs} = 3 x {n} + 9 (angular velocity, gravity, command, joints, action)"
        ]
    if rest == 2:
        period = _period(cfg, where)
        return (*core, ObservationTerm("gait_phase", 2, 1.0, params={"period": period})), [
            f"layout: num_obs {n_obs} = 3 x {n} + 11: a gait clock (sin, cos of the phase of a {period:g} s "
            "period) after the last action, counted from the policy's start"
        ]
    if rest == 3:
        scale = _number(cfg, "lin_vel_scale", where) if "lin_vel_scale" in cfg else 2.0
        assumed = [
            f"layout: num_obs {n_obs} = 3 x {n} + 12: the base linear velocity x {scale:g} first "
            "(legged_gym's quadruped observation; on a robot it comes from a state estimator)"
        ]
        return (ObservationTerm("base_lin_vel", 3, scale), *core), assumed
    if not scan and n_obs % frame_size(n) == 0:
        refuse(
            f"num_obs {n_obs} = {n_obs // frame_size(n)} frames of 3 x {n} + 11? State env.frame_stack and "
            "env.num_single_obs (and rewards.cycle_time) to import it as such",
            where,
        )
    scanned = f" besides the {int(cfg['num_obs']) - n_obs} of the height scan" if scan else ""
    raise PolicyError(
        f"{where}: num_obs {n_obs}{scanned} fits no layout this importer knows for num_actions {n} "
        f"({3 * n + 9}: the standard terms; {3 * n + 11}: with a gait clock; {3 * n + 12}: with the base "
        "linear velocity; a height scan adds len(measured_points_x) x len(measured_points_y): give them)"
    )


def _count(cfg: dict[str, Any], key: str, where: str) -> int:
    """A positive whole number of the config (``num_actions``, ``num_obs``, ``control_decimation``).

    Raises:
        PolicyError: anything else.
    """
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or not value >= 1:
        raise PolicyError(f"{where}: '{key}' must be a whole number of at least 1, got {value!r}")
    return int(value)


def _periods(cfg: dict[str, Any], where: str, assumed: list[str]) -> tuple[float, float]:
    """The policy period and the physics timestep [s]: ``simulation_dt`` x ``control_decimation``
    and ``simulation_dt`` (deploy_mujoco's configs), else ``control_dt`` (deploy_real's, which state
    no physics step: a quarter of it, legged_gym's decimation 4, recorded as assumed).

    Raises:
        PolicyError: neither is stated, a value is not positive, or ``control_dt`` beside the other
            two disagrees with them.
    """
    stated = cfg.get("control_dt")
    control = None if stated is None else _number(cfg, "control_dt", where)
    if control is not None and not control > 0:
        raise PolicyError(f"{where}: 'control_dt' must be positive seconds, got {control:g}")
    if "simulation_dt" in cfg or "control_decimation" in cfg:
        missing = next(k for k in ("simulation_dt", "control_decimation", None) if k is None or k not in cfg)
        if missing is not None:
            raise PolicyError(f"{where}: missing '{missing}' (the policy period is simulation_dt x control_decimation)")
        dt = _number(cfg, "simulation_dt", where)
        if not dt > 0:
            raise PolicyError(f"{where}: 'simulation_dt' must be positive seconds, got {dt:g}")
        period = dt * _count(cfg, "control_decimation", where)
        if control is not None and abs(control - period) > 1e-9:
            raise PolicyError(
                f"{where}: control_dt {control:g} s is not simulation_dt x control_decimation ({period:g} s): "
                "keep the one the policy was trained with"
            )
        return period, dt
    if control is None:
        raise PolicyError(
            f"{where}: missing 'simulation_dt' and 'control_decimation' (or 'control_dt'): the policy period"
        )
    assumed.append(
        f"physics timestep {control / 4:g} s, a quarter of control_dt (legged_gym's decimation 4; {where} states none)"
    )
    return control, control / 4


MOTOR_INDEX_KEYS = ("leg_joint2motor_idx", "joint2motor_idx")
"""unitree_rl_gym's real-robot configs: the motor index of each policy joint (``joint2motor_idx``:
configs of a policy that drives every joint)."""


def motor_slots(cfg: dict[str, Any], joints: list[str], where: str, assumed: list[str]) -> tuple[str, ...]:
    """The robot's motor order from unitree_rl_gym's real-robot ``leg_joint2motor_idx`` (the motor
    index of policy joint i: its deploy script reads and commands ``motor_state[idx[i]]``), the slots
    of ``arm_waist_joint2motor_idx`` (joints its own controller holds) and any other left without a
    policy joint (:data:`NO_JOINT`); empty when the config states none.

    Raises:
        PolicyError: not one distinct non-negative integer per policy joint, or a slot in both lists.
    """
    n = len(joints)
    stated = {k: cfg[k] for k in MOTOR_INDEX_KEYS if cfg.get(k) is not None}
    if not stated:
        return ()
    fits = {k: v for k, v in stated.items() if isinstance(v, list) and len(v) == n}
    key = next(iter(fits or stated))  # a policy of every joint: joint2motor_idx beside a 12-leg list
    idx = stated[key]
    if len({tuple(v) for v in fits.values()}) > 1:
        raise PolicyError(f"{where}: {' and '.join(fits)} give the {n} policy joints different motors")
    if (
        not isinstance(idx, list)
        or len(idx) != n
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in idx)
        or len(set(idx)) != n
    ):
        raise PolicyError(f"{where}: {key} must list {n} distinct motor indices, one per policy joint")
    others = cfg.get("arm_waist_joint2motor_idx") or []
    if not isinstance(others, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in others):
        raise PolicyError(f"{where}: arm_waist_joint2motor_idx must list motor indices")
    shared = sorted(set(idx) & set(others))
    if shared:
        raise PolicyError(f"{where}: motor {shared[0]} is in both {key} and arm_waist_joint2motor_idx")
    slots = [NO_JOINT] * (max([*idx, *others]) + 1)
    for joint, i in zip(joints, idx, strict=True):
        slots[i] = joint
    if NO_JOINT in slots:
        assumed.append(
            f"motor slot(s) {', '.join(str(k) for k, j in enumerate(slots) if j == NO_JOINT)} hold no policy joint "
            f"({key} of {where}): the robot's own controller must hold them"
        )
    return tuple(slots)


def command_layout(motors: tuple[str, ...], held: dict[str, dict[str, Any]], assumed: list[str]) -> tuple[str, ...]:
    """The robot's command array by motor slot: the policy joints' slots (``motors``) with each held
    joint in the slot ``arm_waist_joint2motor_idx`` gives it (``held[j]["motor"]``); empty when the
    config states no motor of a held joint."""
    slots = {spec["motor"]: j for j, spec in held.items() if "motor" in spec}
    if not motors or not slots or len(slots) != len(held):
        return ()
    layout = list(motors) + [NO_JOINT] * (max(slots) + 1 - len(motors))
    for slot, joint in slots.items():
        layout[slot] = joint
    assumed.append(
        "the ROS 2 command array holds the joints the policy does not drive in their motor slots "
        "(ros2.command_joints): a deployment sends them their hold positions there"
    )
    return tuple(layout)


def _action_limit(cfg: dict[str, Any], where: str, assumed: list[str]) -> float | None:
    """legged_gym's ``clip_actions`` as the largest |a| (None: the config states none; the deploy
    script does not clip).

    Raises:
        PolicyError: not a positive number, or per-joint bounds (``clip_actions_lower`` /
            ``clip_actions_upper``) that are not one symmetric bound.
    """
    limit = stated_bound(cfg, ACTION_CLIP_KEYS, where)
    if "clip_actions_lower" in cfg or "clip_actions_upper" in cfg:
        n = int(cfg["num_actions"])
        low = per_joint(cfg.get("clip_actions_lower", -np.inf), n, f"{where}: clip_actions_lower", infinite_ok=True)
        high = per_joint(cfg.get("clip_actions_upper", np.inf), n, f"{where}: clip_actions_upper", infinite_ok=True)
        if len(set(high)) != 1 or any(lo != -high[0] for lo in low) or not high[0] > 0:
            raise PolicyError(
                f"{where}: clip_actions_lower / clip_actions_upper bound each joint's action differently; "
                "sim2real bounds every action by one number (clip_actions)"
            )
        if limit is not None and limit != high[0]:
            raise PolicyError(f"{where}: clip_actions {limit:g} and clip_actions_upper {high[0]:g} differ")
        limit = None if high[0] == np.inf else float(high[0])
    if limit is not None:
        assumed.append(
            f"actions clipped to +-{limit:g} before scaling, as the policy observes them (the action clip of {where})"
        )
    return limit


def import_legged_gym(
    policy: str | Path,
    config: str | Path,
    model: str | Path,
    out: str | Path,
    *,
    joints: str | None = None,
    armature: PerJoint = None,
    torque_limit: PerJoint = None,
    activation: str | None = None,
    name: str | None = None,
    seed: int = 0,
) -> ImportResult:
    """Import a legged_gym TorchScript policy or rsl_rl training checkpoint with its MuJoCo deploy
    config (module docstring).

    Args:
        policy: The TorchScript file (``motion.pt``, ``policy.pt``) or rsl_rl's checkpoint
            (``model_<N>.pt``: :mod:`~sim2real.policy.imports.rsl_checkpoint`).
        config: The deploy config YAML.
        model: The robot's MJCF (a scene that includes it is fine), unedited.
        out: Folder to write ``robot.yaml`` and ``policy.onnx`` to.
        joints: Regular expression of the policy joints (matched in full, model order); default the
            model's first ``num_actions`` hinge joints.
        armature: Joint armature to set on the policy joints [kg m^2]: one value, or a map by joint
            name or regular expression (matched in full; the last matching key wins); default the
            config's ``armature``, else the model's.
        torque_limit: Effort limit [N m] of the policy joints, one value or a map like ``armature``:
            replaces the model's (printed where they differ).
        activation: rsl_rl's name of a checkpoint's activation (``elu``, ``tanh``, ...); default the
            run's params/agent.yaml when it is next to the checkpoint, else ``elu`` (legged_gym's).
        name: Robot name; default the model's.
        seed: Seed of the parity check's rollout.

    Raises:
        PolicyError / SpecError: one line naming what does not fit.
    """
    where = Path(config).name
    cfg = flatten(load_config(config, "deploy config"), where)
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise PolicyError(
            f"{where}: missing '{missing[0]}' (a unitree_rl_gym MuJoCo deploy config has {', '.join(REQUIRED)})"
        )
    n = _count(cfg, "num_actions", where)
    _count(cfg, "num_obs", where)
    check_clip_keys(cfg, where, (*OBSERVATION_CLIP_KEYS, *ACTION_CLIP_KEYS, *BOUND_KEYS))
    assumed: list[str] = []
    control_dt, physics_dt = _periods(cfg, where, assumed)
    action_scale = per_joint(cfg["action_scale"], n, f"{where}: action_scale")
    terms, notes = layout(cfg, where)
    assumed.extend(notes)
    limit = _action_limit(cfg, where, assumed)
    available = model_joints(model)
    facts = config_joints(cfg, where, n, model, available, joints)
    chosen, default, kp, kd = list(facts.joints), facts.default, facts.kp, facts.kd
    assumed.extend(facts.notes)
    # default_angles in another order than the model's joints: a pose outside a range (clipped, with
    # the raw value kept as the action offset) meant the joints got one another's gains and targets
    check_default_pose(model_joints_of(model).ranges, chosen, default)
    motors = motor_slots(cfg, chosen, where, assumed)
    locked = facts.held
    if locked:
        assumed.append(locked_note(locked, facts.held_from))
    command = command_layout(motors, facts.held_gains, assumed)
    loaded = load_torch_policy(policy, activation=activation)
    graph, recurrent = loaded.graph, loaded.recurrent
    assumed.extend(loaded.assumptions)
    interface = graph_interface(graph, Path(policy).name)
    if interface.n_obs != int(cfg["num_obs"]):
        raise PolicyError(
            f"{Path(policy).name}: the policy takes {interface.n_obs} observations, {where} says num_obs {cfg['num_obs']}"
        )
    if interface.n_act != n:
        raise PolicyError(f"{Path(policy).name}: the policy gives {interface.n_act} actions, {where} says num_actions {n}")
    foreign = ForeignPolicy(
        framework="legged_gym",
        joints=tuple(chosen),
        default_pose=default,
        kp=kp,
        kd=kd,
        action_scale=action_scale,
        action_offset=default,
        observation=terms,
        frame_stack=frame_stack(cfg, where) or 1,
        control_dt=control_dt,
        physics_dt=physics_dt,
        graph=graph,
        reference=loaded.reference,
        recurrent=recurrent,
        action_limit=limit,
        locked=locked,
        locked_gains=facts.held_gains,
        command_joints=command,
        commands=command_ranges(cfg, where)[0],
        motor_order=motors,
        torque_limit=given_or_trained(torque_limit, None, chosen, "--torque-limit"),
        armature=given_or_trained(armature, cfg.get("armature"), chosen, "--armature"),
        files={"policy": Path(policy), "config": Path(config), "model": Path(model), **loaded.files},
        assumptions=tuple(assumed),
        network=loaded.network,
    )
    return write_import(foreign, model, out, name=name, seed=seed)
