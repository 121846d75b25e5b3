"""What every policy importer shares: a :class:`ForeignPolicy` (the facts read from another
framework's files, in sim2real's terms) becomes ``DIR/robot.yaml`` and ``DIR/policy.onnx``.

:func:`write_import`:

1. writes the robot spec with the robot-init machinery (:func:`sim2real.robots.init.init_robot`):
   the model's joints, feet, IMU, safety limits and parameter bounds are inferred as for any
   robot; the policy's joint order, PD gains, effort limits, default pose, observation layout,
   action mapping, motor order and armature replace what robot init would have guessed, and
   actuators the model lacks are added (``add: true``);
2. stamps the policy graph with sim2real's metadata (the one stamping function,
   :func:`sim2real.policy.metadata.stamp_metadata`), recording where it came from and the
   assumptions the importer made;
3. checks parity: the imported graph (onnxruntime, recurrent state carried over) against the
   original (TorchScript or the original ONNX graph) on observation sequences recorded from the
   imported policy acting in the training simulator (:class:`~sim2real.envs.core.TaskEnv`, which
   builds them with the batched terms) and on random ones; more than 1e-5 apart and nothing is
   written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from sim2real.errors import PolicyError, SpecError
from sim2real.policy.metadata import PolicyMetadata, RecurrentState, stamp_metadata
from sim2real.policy.runtime import check_io, make_session, run_sequence
from sim2real.robots.init import InitOptions, InitResult, init_robot
from sim2real.robots.init_actuators import lookup, unmatched
from sim2real.robots.load import load_mjcf
from sim2real.robots.spec import FLOATING_BASE_TERMS, IMU_TERMS, ObservationTerm, RobotSpec
from sim2real.robots.urdf import model_format
from sim2real.text import few

log = logging.getLogger(__name__)

TOLERANCE = 1e-5
"""Largest accepted |imported - original| action over the parity observations."""


@dataclass(frozen=True)
class ForeignPolicy:
    """A policy from another framework, in sim2real's terms.  Sequences are in policy joint order."""

    framework: str
    """Where it was trained (``legged_gym``, ``isaaclab``, ``mjlab``)."""
    joints: tuple[str, ...]
    """Policy joints (model joint names) in the order of the policy's per-joint terms and actions."""
    default_pose: tuple[float, ...]
    """Default joint positions [rad]."""
    kp: tuple[float, ...]
    """PD stiffness [N m/rad]."""
    kd: tuple[float, ...]
    """PD damping [N m s/rad]."""
    action_scale: tuple[float, ...]
    """command = offset + scale * a [rad per unit action] (0 for a held joint)."""
    action_offset: tuple[float, ...]
    """Command at a = 0 [rad]."""
    observation: tuple[ObservationTerm, ...]
    """Observation layout (one frame of the graph's input, in order)."""
    control_dt: float
    """Policy period [s]."""
    physics_dt: float
    """Largest physics timestep [s] (the spec's substeps follow)."""
    graph: Any
    """The ONNX graph with sim2real's names (``obs`` -> ``action``, recurrent state pairs)."""
    reference: Callable[[np.ndarray], np.ndarray]
    """The original policy: a sequence of observations from a reset (T, n_obs) float32 -> actions (T, n_act)."""
    recurrent: tuple[RecurrentState, ...] = ()
    """The graph's recurrent state."""
    action_clip: tuple[tuple[float, float] | None, ...] = ()
    """Per joint: (low, high) of the command, or None; empty: no clip."""
    action_limit: float | None = None
    """Largest |a| (None: no bound)."""
    torque_limit: Mapping[str, float] | None = None
    """Policy joint -> effort limit [N m] the user gave or the policy was trained with: it replaces
    the model's (printed where they differ); a joint not in it (or None): the model's."""
    torque_limit_from: str = "--torque-limit"
    """Where ``torque_limit`` comes from, for messages (``--torque-limit``, a training config's key)."""
    motor_order: tuple[str, ...] = ()
    """The robot's motor order (joint names by motor index); empty: not stated."""
    held: tuple[str, ...] = ()
    """Policy joints the policy observes but does not drive: held at their offset by their PD
    (the spec's ``action.hold``); the graph's action has a zero in their columns."""
    locked: Mapping[str, float] = field(default_factory=dict)
    """Model joints the policy does not drive -> the position they are held at in simulation."""
    locked_gains: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Locked joint -> the PD gains (``kp`` [N m/rad], ``kd`` [N m s/rad]) the training config holds
    it with, and its ``motor`` slot, where it states them: recorded in the metadata
    (``imported.held_joints``) for the robot's own controller, which holds those joints on the robot."""
    command_joints: tuple[str, ...] = ()
    """The robot's command array by motor slot, locked joints included (:data:`NO_JOINT` for a slot
    without a joint): written as the spec's ``ros2.command_joints``, so that a ROS 2 deployment
    sends each locked joint its hold position in its own slot; empty: not stated."""
    armature: Mapping[str, float] | None = None
    """Policy joint -> joint armature to set on the model [kg m^2]; a joint not in it (or None): the model's."""
    commands: Mapping[str, tuple[float, float]] | None = None
    """Velocity command ranges of training (``vx``, ``vy``, ``yaw``), when known."""
    files: Mapping[str, Path] = field(default_factory=dict)
    """The files imported (role -> path); their sha256 goes into the metadata."""
    assumptions: tuple[str, ...] = ()
    """What the importer assumed where the files are silent (printed and recorded)."""
    network: Mapping[str, Any] = field(default_factory=dict)
    """Description of the network (architecture, recurrent cell)."""
    frame_stack: int = 1
    """Whole frames of the layout the graph takes, oldest first, zeros after a reset (the spec's
    ``frame_stack``: humanoid-gym's); 1: the current frame only."""

    @property
    def n_obs(self) -> int:
        """Observation length: :attr:`frame_stack` frames of the layout."""
        return self.frame_stack * sum(t.width for t in self.observation)

    @property
    def graph_n_obs(self) -> int:
        """Observation length the graph takes."""
        for value in self.graph.graph.input:
            if value.name == "obs":
                return int(value.type.tensor_type.shape.dim[1].dim_value)
        raise PolicyError("the graph has no input 'obs'")


@dataclass
class ImportResult:
    """What :func:`write_import` wrote and measured."""

    spec: RobotSpec
    """The robot spec written (``DIR/robot.yaml``), loaded."""
    policy: Path
    """``DIR/policy.onnx``."""
    metadata: PolicyMetadata
    """Its metadata."""
    max_abs_diff: float
    """Largest |imported - original| action over the parity observations."""
    n_recorded: int
    """Recorded observations of the parity check."""
    n_random: int
    """Random observations of the parity check."""
    init: InitResult
    """What robot init inferred and what to check."""
    notes: list[str] = field(default_factory=list)
    """What the importer found worth saying (armature, assumptions)."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "robot": str(self.spec.path),
            "policy": str(self.policy),
            "spec_hash": self.spec.hash,
            "framework": self.metadata.imported.get("framework"),
            "joints": list(self.spec.joints),
            "n_obs": self.metadata.n_obs,
            "n_act": self.metadata.n_act,
            "observation": [t.describe() for t in self.metadata.observation],
            "frame_stack": self.metadata.frame_stack,
            "recurrent": bool(self.metadata.recurrent),
            "control_dt": self.metadata.control_dt,
            "max_abs_diff": self.max_abs_diff,
            "n_recorded": self.n_recorded,
            "n_random": self.n_random,
            "assumptions": list(self.metadata.imported.get("assumptions", [])),
            "notes": self.notes,
            "inferred": self.init.inferred,
            "check": self.init.check,
            "overrides": list(self.spec.overrides),
        }


def model_joints(model_path: str | Path) -> list[str]:
    """Named hinge and slide joints of a model, in model (qpos) order.

    Raises:
        SpecError: the model does not load or compile.
    """
    mjspec = load_mjcf(Path(model_path))
    try:
        model = mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{Path(model_path).name}: MJCF does not compile ({exc})") from None
    kinds = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(model.njnt)]
    return _some_joints([n for j, n in enumerate(names) if int(model.jnt_type[j]) in kinds and n], model_path)


def _some_joints(found: list[str], model_path: str | Path) -> list[str]:
    """``found``, unless it is empty: a model with no joint is not the robot's (one line)."""
    if not found:
        raise SpecError(
            f"{Path(model_path).name}: the model has no named hinge or slide joint (no robot in it?); "
            "give the robot's MJCF or a scene that includes it"
        )
    return found


def select_joints(names: Sequence[str], pattern: str | None) -> list[str]:
    """The ``names`` a ``--joints`` regular expression matches in full (all of them for None).

    Raises:
        PolicyError: ``pattern`` is not a regular expression.
    """
    if pattern is None:
        return list(names)
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise PolicyError(f"--joints '{pattern}' is not a regular expression ({exc})") from None
    return [j for j in names if regex.fullmatch(j)]


def tree_joints(model_path: str | Path) -> list[str]:
    """Named hinge and slide joints breadth first over the kinematic tree (children in model order):
    the joint order of an Isaac Lab articulation built from the same robot description."""
    mjspec = load_mjcf(Path(model_path))
    try:
        model = mjspec.compile()
    except Exception as exc:
        raise SpecError(f"{Path(model_path).name}: MJCF does not compile ({exc})") from None
    kinds = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    children: dict[int, list[int]] = {}
    for body in range(1, model.nbody):
        children.setdefault(int(model.body_parentid[body]), []).append(body)
    out, queue = [], [0]
    while queue:
        body = queue.pop(0)
        start, count = int(model.body_jntadr[body]), int(model.body_jntnum[body])
        for j in range(start, start + count) if start >= 0 else ():
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
            if int(model.jnt_type[j]) in kinds and name:
                out.append(name)
        queue.extend(children.get(body, []))
    return _some_joints(out, model_path)


def hold_positions(model_path: str | Path, joints: Sequence[str]) -> dict[str, float]:
    """Where joints the policy does not drive are held: the model's first keyframe, else qpos0,
    clipped into the joint's range."""
    model = load_mjcf(Path(model_path)).compile()
    qpos = model.key_qpos[0] if model.nkey else model.qpos0
    out = {}
    for name in joints:
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        q = float(qpos[model.jnt_qposadr[j]])
        if model.jnt_limited[j]:
            q = float(np.clip(q, *model.jnt_range[j]))
        out[name] = round(q, 6)
    return out


def locked_note(locked: Mapping[str, float], where: str = "their default positions") -> str:
    """The assumption an importer states when it locks joints (``where``: what their positions are)."""
    names = list(locked)
    return (
        f"the model's {len(names)} joints the policy does not drive ({few(names)}) are held at {where} "
        "in simulation (locked_joints); on the robot its own controller must hold them"
    )


def per_joint(
    values: Any,
    n: int,
    what: str,
    *,
    infinite_ok: bool = False,
    positive: bool = False,
    non_negative: bool = False,
) -> tuple[float, ...]:
    """One number for every policy joint, or a list of exactly ``n`` numbers.

    Args:
        infinite_ok: Accept +-inf (a clip bound); NaN is never accepted.
        positive: Every value must be above zero (a stiffness).
        non_negative: Every value must be zero or more (a damping).

    Raises:
        PolicyError: another count, not numbers, NaN (or infinite, or below the sign asked for).
    """
    items = list(values) if isinstance(values, list | tuple) else [values] * n
    if len(items) != n:
        raise PolicyError(f"{what} has {len(items)} values for {n} policy joints")
    try:
        out = tuple(float(x) for x in items)
    except (TypeError, ValueError):
        raise PolicyError(f"{what} must be numbers, got {values!r}") from None
    for k, x in enumerate(out):
        bad = "NaN" if x != x else "infinite" if not infinite_ok and abs(x) == np.inf else None
        if bad is None and ((positive and not x > 0) or (non_negative and x < 0)):
            bad = "negative" if x < 0 else "zero"
        if bad is not None:
            where = [f"value {k + 1} of {n}"] if n > 1 and isinstance(values, list | tuple) else []
            parts = [f"{x:g}", *where] if bad in ("negative", "zero") else where
            shown = f" ({', '.join(parts)})" if parts else ""
            raise PolicyError(f"{what} is {bad}{shown}; fix the file")
    return out


def given_or_trained(given: Any, trained: Any, joints: Sequence[str], what: str) -> dict[str, float] | None:
    """Per policy joint: the user's value (``given``: one number for every joint, or a map whose keys
    are joint names or regular expressions matched in full, the last matching key winning:
    ``--armature '.*=0.01' '.*_wrist_.*=0.003'``), else the training config's (``trained``: one
    number, or one per policy joint), else none (the model's own).  None when no joint has a value.

    Raises:
        PolicyError: a key of ``given`` that matches no policy joint, or ``trained`` of another count.
    """
    if isinstance(given, Mapping):
        unknown = unmatched(given, list(joints))
        if unknown is not None:
            raise PolicyError(f"{what}: '{unknown}' matches no policy joint ({', '.join(joints)})")
    config = dict(zip(joints, per_joint(trained, len(joints), what), strict=True)) if trained is not None else {}
    out = {}
    for joint in joints:
        value = lookup(given, joint) if isinstance(given, Mapping) else (None if given is None else float(given))
        if value is None:
            value = config.get(joint)
        if value is not None:
            out[joint] = value
    return out or None


def _by_name(values: Mapping[str, float] | None) -> dict[str, float] | None:
    """A map by policy joint as robot init's per-joint option (keys escaped: matched as names)."""
    return None if values is None else {re.escape(j): float(v) for j, v in values.items()}


def file_digest(path: Path) -> str:
    """sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ writing
def check_out(out_dir: str | Path) -> None:
    """Refuse an output folder an import cannot write (before any work is done).

    Raises:
        PolicyError: ``out_dir`` is a file, or holds a ``policy.onnx`` or ``robot.yaml`` already.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise PolicyError(f"--out {out_dir} is a file; give the path of a folder (new or without robot.yaml)")
    if (out_dir / "policy.onnx").exists():
        raise PolicyError(
            f"{out_dir / 'policy.onnx'} exists already; an imported policy is never overwritten: give another --out "
            "(or remove that folder)"
        )
    if (out_dir / "robot.yaml").exists():  # a spec is edited after an import (its "check" list)
        raise PolicyError(
            f"{out_dir / 'robot.yaml'} exists already (a spec, perhaps edited); choose another --out or remove it"
        )


def write_import(
    foreign: ForeignPolicy,
    model: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    seed: int = 0,
    tolerance: float = TOLERANCE,
) -> ImportResult:
    """Write ``out_dir/robot.yaml`` and ``out_dir/policy.onnx`` for a foreign policy (module docstring).

    Raises:
        PolicyError / SpecError: one line: the files disagree with each other or with the model,
            the parity check fails, or ``policy.onnx`` exists already.
    """
    out_dir = Path(out_dir)
    check_out(out_dir)
    if foreign.graph_n_obs != foreign.n_obs:
        raise PolicyError(
            f"the policy takes {foreign.graph_n_obs} observations, but the observation layout has "
            f"{foreign.n_obs}: {_layout_text(foreign.observation)}"
            + (f", {foreign.frame_stack} frames" if foreign.frame_stack > 1 else "")
        )
    foreign, floating = _urdf_base(foreign, Path(model))
    n = len(foreign.joints)
    by_joint = {
        "kp": dict(zip(foreign.joints, foreign.kp, strict=True)),
        "kd": dict(zip(foreign.joints, foreign.kd, strict=True)),
        "default_pose": dict(zip(foreign.joints, foreign.default_pose, strict=True)),
    }
    options = InitOptions(
        name=name,
        joints="|".join(re.escape(j) for j in foreign.joints),
        kp=by_joint["kp"],
        kd=by_joint["kd"],
        torque_limit=_by_name(foreign.torque_limit),
        torque_limit_from=foreign.torque_limit_from,
        armature=_by_name(foreign.armature),
        default_pose=by_joint["default_pose"],
        control_dt=foreign.control_dt,
        physics_dt=foreign.physics_dt,
        hold="|".join(re.escape(j) for j in foreign.held) or None,
        hold_from="the policy",
        floating_base=floating,
    )
    if n != len(set(foreign.joints)):
        twice = next(j for j in foreign.joints if foreign.joints.count(j) > 1)
        raise PolicyError(f"policy joint '{twice}' is named {foreign.joints.count(twice)} times; each joint once")
    before = set(out_dir.iterdir()) if out_dir.is_dir() else None
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _write(foreign, model, out_dir, options, seed=seed, tolerance=tolerance)
    except BaseException:
        _remove_new(out_dir, before)
        raise


def _urdf_base(foreign: ForeignPolicy, model: Path) -> tuple[ForeignPolicy, bool]:
    """Whether the robot init of an import onto ``model`` adds a free joint (``floating_base``), and
    the policy with that said among its assumptions: a URDF's root link is fixed to the world, and a
    policy that observes its base (an IMU's or a floating base's terms: a walking policy) was trained
    on a robot free to move (pybullet's A1 imported as it is: "observation term 'base_lin_vel' needs
    a floating base", of a robot.yaml the user never wrote).  A URDF that declares its own floating
    joint keeps it (robot init then adds only the floor)."""
    base = [t.name for t in foreign.observation if t.name in IMU_TERMS or t.name in FLOATING_BASE_TERMS]
    if not base or not model.is_file() or model_format(model) != "urdf":
        return foreign, False
    note = (
        f"floating base: a free joint on the root link of {model.name} and a floor (a URDF's root is fixed to "
        f"the world; the policy observes its base: {few(base)})"
    )
    return replace(foreign, assumptions=(*foreign.assumptions, note)), True


def _remove_new(out_dir: Path, before: set[Path] | None) -> None:
    """Undo a failed import: the folder when it made it, else the entries it added (none of the
    user's files)."""
    if before is None:
        shutil.rmtree(out_dir, ignore_errors=True)
        return
    for path in set(out_dir.iterdir()) - before:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _write(
    foreign: ForeignPolicy,
    model: str | Path,
    out_dir: Path,
    options: InitOptions,
    *,
    seed: int,
    tolerance: float,
) -> ImportResult:
    """:func:`write_import` once its checks have passed and ``out_dir`` exists."""
    target = out_dir / "policy.onnx"
    spec, init = init_robot(
        model, out_dir / "robot.yaml", options, edit=lambda result: _edit(result, foreign)
    )
    notes = [*init.replaced, *_armature_notes(spec, foreign), *(f"assumed: {a}" for a in foreign.assumptions)]
    meta = PolicyMetadata.from_spec(
        spec,
        action_scale=spec.action_scale,
        action_filter=spec.action_filter,
        task=spec.task.kind if spec.task is not None else "",
        network=dict(foreign.network),
    )
    meta = replace(
        meta,
        recurrent=foreign.recurrent,
        imported={
            "framework": foreign.framework,
            "files": {
                role: {"name": Path(p).name, "sha256": file_digest(Path(p))}
                for role, p in foreign.files.items()
            },
            "assumptions": list(foreign.assumptions),
            **({"held_joints": _held_record(foreign)} if foreign.locked else {}),
        },
    )
    data = stamp_metadata(foreign.graph, meta)
    session = make_session(data, "cpu", f"imported policy for {spec.name}")
    check_io(session, meta, "imported policy")
    sequences, n_recorded = _parity_sequences(spec, session, meta, seed)
    worst = 0.0
    for seq in sequences:
        mine = run_sequence(session, meta, seq)
        theirs = np.asarray(foreign.reference(seq), dtype=np.float64)
        diff = np.abs(mine - theirs)
        worst = max(worst, float(diff.max()) if np.isfinite(diff).all() else np.inf)
    if not worst <= tolerance:
        raise PolicyError(
            f"import parity check failed: max |imported - original| = {worst:.3g} > {tolerance:g}; no policy written"
        )
    meta = replace(
        meta,
        export_check={
            "max_abs_diff": worst,
            "n_recorded": n_recorded,
            "n_random": sum(len(s) for s in sequences) - n_recorded,
            "tolerance": tolerance,
            "reference": f"the original {foreign.framework} policy",
        },
    )
    data = stamp_metadata(foreign.graph, meta)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    log.info(
        "imported %s policy: %s (parity %.2g over %d observations)",
        foreign.framework,
        target,
        worst,
        sum(len(s) for s in sequences),
    )
    return ImportResult(
        spec=spec,
        policy=target,
        metadata=meta,
        max_abs_diff=worst,
        n_recorded=n_recorded,
        n_random=sum(len(s) for s in sequences) - n_recorded,
        init=init,
        notes=notes,
    )


def _held_record(foreign: ForeignPolicy) -> dict[str, dict[str, float]]:
    """Per locked joint: its hold position [rad] and the gains the config holds it with (if stated)."""
    out = {}
    for joint, q in foreign.locked.items():
        stated = foreign.locked_gains.get(joint, {})
        out[joint] = {"position": float(q), **{k: v if k == "motor" else float(v) for k, v in stated.items()}}
    return out


def _layout_text(layout: Sequence[ObservationTerm]) -> str:
    return " + ".join(f"{t.name} {t.size}" + (f"x{t.history}" if t.history > 1 else "") for t in layout)


def _edit(result: InitResult, foreign: ForeignPolicy) -> None:
    """Put the policy's facts into robot init's mapping."""
    spec = result.spec
    joints = list(foreign.joints)
    spec["joints"] = joints
    spec["default_pose"] = {j: spec["default_pose"][j] for j in joints}
    spec["actuators"] = {j: spec["actuators"][j] for j in joints if j in spec["actuators"]}
    action: dict[str, Any] = {
        "scale": {j: s for j, s in zip(joints, foreign.action_scale, strict=True) if j not in foreign.held},
        "offset": dict(zip(joints, foreign.action_offset, strict=True)),
        "filter": 1.0,
        "limit": foreign.action_limit,
    }
    clip = {j: list(c) for j, c in zip(joints, foreign.action_clip, strict=False) if c is not None}
    if clip:
        action["clip"] = clip
    if foreign.held:
        action["hold"] = list(foreign.held)
    spec["action"] = action
    spec["observation"] = [_term_mapping(t) for t in foreign.observation]
    if foreign.frame_stack > 1:
        spec["frame_stack"] = foreign.frame_stack
        result.comments["frame_stack"] = "whole observation frames, oldest first, zeros after a reset"
    if foreign.motor_order and list(foreign.motor_order) != joints:
        spec["motor_order"] = list(foreign.motor_order)
    if foreign.locked:
        spec["locked_joints"] = dict(foreign.locked)
    if foreign.command_joints:
        spec["ros2"] = {**(spec.get("ros2") or {}), "command_joints": list(foreign.command_joints)}
    if spec.get("task") is not None and foreign.commands:
        spec["task"] = {
            "kind": spec["task"]["kind"],
            "commands": {k: list(v) for k, v in foreign.commands.items()},
        }
    result.comments["joints"] = f"policy order ({foreign.framework})"
    result.comments["action"] = (
        "command = offset + scale * action (the policy's own mapping; no tanh, no bound)"
    )
    result.comments["observation"] = f"the {foreign.framework} policy's observation layout"
    result.inferred.append(
        f"imported {foreign.framework} policy: joint order, PD gains, default pose, action mapping and "
        "observation layout from its files"
    )
    result.inferred.extend(f"assumed: {a}" for a in foreign.assumptions)


def _term_mapping(term: ObservationTerm) -> dict[str, Any]:
    out: dict[str, Any] = {"name": term.name, "size": term.size}
    out["scale"] = list(term.scale) if isinstance(term.scale, tuple) else term.scale
    if term.history != 1:
        out["history"] = term.history
    if term.clip is not None:
        out["clip"] = [list(c) if isinstance(c, tuple) else c for c in term.clip]
    if term.params:
        out["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in term.params.items()}
    return out


def _armature_notes(spec: RobotSpec, foreign: ForeignPolicy) -> list[str]:
    from sim2real.robots.model import build_model, joint_dof_indices

    model = build_model(spec)
    values = model.dof_armature[joint_dof_indices(spec, model)]
    where = "set by the import" if foreign.armature is not None else "the model's own"
    text = f"joint armature of the policy joints: {values.min():g}..{values.max():g} kg m^2 ({where})"
    if foreign.armature is None and np.any(values <= 0):
        text += (
            f"; {int(np.sum(values <= 0))} joints have none: training frameworks add armature from their actuator "
            "configuration (Isaac Lab, mjlab) and a policy may walk very differently without it: give --armature"
        )
    return [text]


# ------------------------------------------------------------------------------- parity
def _parity_sequences(
    spec: RobotSpec, session: Any, meta: PolicyMetadata, seed: int, steps: int = 150, random_steps: int = 60
) -> tuple[list[np.ndarray], int]:
    """Observation sequences (each from a reset): recorded from the imported policy acting in the
    training simulator (when the robot has a task), then random ones."""
    rng = np.random.default_rng(seed)
    sequences: list[np.ndarray] = []
    recorded = 0
    if spec.task is not None:
        from sim2real.envs.core import TaskEnv
        from sim2real.tasks import get_task

        env = TaskEnv(spec, get_task(spec), 1, seed=seed, nthread=1)
        obs, _ = env.observe()
        state = {r.input: np.zeros(r.shape, dtype=np.float32) for r in meta.recurrent}
        names = ["action", *(r.output for r in meta.recurrent)]
        current: list[np.ndarray] = []
        for _ in range(steps):
            row = obs.astype(np.float32)
            current.append(row[0])
            out = session.run(names, {"obs": row, **state})
            state = {r.input: v for r, v in zip(meta.recurrent, out[1:], strict=True)}
            result = env.step(np.asarray(out[0], dtype=float))
            obs = result.obs
            if result.done[0]:
                sequences.append(np.array(current))
                current = []
                state = {r.input: np.zeros(r.shape, dtype=np.float32) for r in meta.recurrent}
        if current:
            sequences.append(np.array(current))
        recorded = sum(len(s) for s in sequences)
    sequences.append((0.5 * rng.standard_normal((random_steps, meta.n_obs))).astype(np.float32))
    return sequences, recorded
