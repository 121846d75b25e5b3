"""``sim2real robot init MODEL --out DIR/robot.yaml`` and ``sim2real robot show SPEC``."""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Literal

import tyro

from sim2real.commands.arguments import Positive
from sim2real.commands.output import emit, output_file
from sim2real.errors import Sim2RealError


def describe(spec) -> dict:
    """What ``robot show --json`` prints about a loaded spec."""
    return {
        "name": spec.name,
        "path": str(spec.path),
        "hash": spec.hash,
        "files": [{"path": name, "sha256": digest} for name, digest in sorted(spec.files.items())],
        "mjcf": str(spec.mjcf_path),
        "joints": list(spec.joints),
        "actuators": [
            {k: v for k, v in dataclasses.asdict(a).items() if v not in (0.0, False) or k == "torque_limit"}
            for a in spec.actuators
        ],
        "base_body": spec.base_body,
        "feet": list(spec.feet),
        "initial_base": None
        if spec.initial_base is None
        else {"pos": spec.initial_base.pos.tolist(), "quat": spec.initial_base.quat.tolist()},
        "action": {
            "scale": spec.action_scale.tolist(),
            "offset": spec.action_offset.tolist(),
            "filter": spec.action_filter,
            "hold": list(spec.held),
        },
        "observation": [dataclasses.asdict(t) for t in spec.observation],
        "frame_stack": spec.frame_stack,
        "task": None if spec.task is None else {"kind": spec.task.kind, **dict(spec.task.params)},
        "sensors": dict(spec.sensor_names),
        "overrides": list(spec.overrides),
    }


def per_joint_arg(items: tuple[str, ...] | None, what: str, positive: bool = False) -> dict[str, float] | None:
    """``--kp 25`` (every joint: key ``.*``) or ``--kp '.*_calf_joint=40' '.*=25'`` (joint name or
    regular expression = value; the last matching item wins) as an
    :class:`~sim2real.robots.init.InitOptions` map; each value finite (and above 0 if ``positive``)."""
    if not items:
        return None
    values: dict[str, float] = {}
    for item in items:
        key, sep, text = item.rpartition("=")
        try:
            value = float(text)
        except ValueError:
            raise Sim2RealError(f"--{what}: '{item}' is not VALUE or JOINT_REGEX=VALUE") from None
        if not math.isfinite(value) or (positive and value <= 0):
            raise Sim2RealError(f"--{what}: '{item}': the value must be a finite number{' above 0' if positive else ''}")
        values[key if sep else ".*"] = value
    return values


def robot(
    action: Annotated[Literal["init", "show"], tyro.conf.Positional],
    model: Annotated[str, tyro.conf.Positional],
    out: str | None = None,
    name: str | None = None,
    joints: str | None = None,
    keyframe: str | None = None,
    kp: tuple[str, ...] | None = None,
    kd: tuple[str, ...] | None = None,
    torque_limit: tuple[str, ...] | None = None,
    torque: str | None = None,
    armature: tuple[str, ...] | None = None,
    hold: str | None = None,
    default_pose: tuple[str, ...] | None = None,
    imu_site: str | None = None,
    control_dt: Positive = 0.02,
    physics_dt: Positive = 0.005,
    floating_base: bool = False,
    overwrite: bool = False,
    json: bool = False,
) -> int:
    """Make a robot spec from your own MJCF/URDF model (init), or describe a spec (show).

    ``init`` writes a complete, commented spec (it loads with no edits) and prints what it inferred
    and what you must check; ``show`` prints the name, hash, files hashed, joints, actuators, task
    and the overrides sim2real makes to the model.

    Args:
        action: init (MODEL is an MJCF or URDF file) or show (MODEL is a spec YAML or embedded robot).
        model: The model file (init) or the spec (show).
        out: Where init writes the spec (default: robot.yaml next to the model); it must not exist
            (unless --overwrite).
        name: Robot name (init; default: the model's name).
        joints: Regular expression of the joints to use, matched in full (init; default: every hinge/slide).
        keyframe: Keyframe of the default pose (init; default: the first keyframe, else qpos0 lowered to the floor).
        kp: PD stiffness [N m/rad] (init): makes motors and joints without actuators PD-controlled.
            One value for every joint, or JOINT_REGEX=VALUE items (the last matching item wins).
        kd: PD damping [N m s/rad] (init), with --kp; like --kp.
        torque_limit: Effort limit [N m] (init): replaces the model's (printed where they differ); like --kp.
        torque: Regular expression of the joints driven by torque commands (init): a torque actuator
            is added where the model has none (a URDF's joints), their own becomes one.  Without
            gains, joints the model gives no actuator are then passive (an acrobot's shoulder).
        armature: Joint armature [kg m^2] (reflected rotor inertia) set on the model (init); like --kp.
        hold: Regular expression of pd joints held at their default pose, observed but not driven by the
            policy (init; the spec's action.hold): an arm on a walking robot, e.g. 'arm_.*'.
        default_pose: Default joint positions [rad] instead of the keyframe's (init): JOINT_REGEX=VALUE
            items, e.g. '.*_hip_joint=0' 'F._thigh_joint=0.8' 'R._thigh_joint=1.0' '.*_calf_joint=-1.5'.
        imu_site: IMU site (init; default: a site of the base body, else one added).
        control_dt: Control period [s] (init).
        physics_dt: Largest physics timestep [s] (init): control.substeps = ceil(control_dt / physics_dt);
            a model made for a finer step (Cassie's 0.5 ms) may diverge at the default.
        floating_base: URDF: add a free joint to the root link and a floor (init).
        overwrite: Replace an existing --out (init; what was edited in it is lost).
        json: Print a JSON summary on stdout.
    """
    from pathlib import Path

    from sim2real.robots import load_robot

    if action == "show":
        spec = load_robot(model)
        info = describe(spec)
        slide = spec.slide_joints
        if spec.task is not None:  # the task's parameters checked, with the kind's defaults filled in
            from sim2real.tasks import kind_config

            info["task_config"] = dataclasses.asdict(kind_config(spec))
        lines = [
            f"{spec.name}: spec {spec.hash[:12]} ({spec.path})",
            f"files hashed: {', '.join(spec.files)}",
            f"joints ({spec.n_joints}): {', '.join(spec.joints)}",
            "actuators:",
            *(f"  {a.joint}: {_actuator_line(a, a.joint in slide)}" for a in spec.actuators),
            *([f"held at their offset, not driven by the policy (action.hold): {', '.join(spec.held)}"] if spec.held else []),
            f"task: {info['task']}",
            "overrides of the model:",
            *(f"  - {o}" for o in spec.overrides),
        ]
        emit(info, json, "\n".join(lines))
        return 0

    from sim2real.robots.init import InitOptions, init_robot

    options = InitOptions(
        name=name,
        joints=joints,
        keyframe=keyframe,
        kp=per_joint_arg(kp, "kp"),
        kd=per_joint_arg(kd, "kd"),
        torque_limit=per_joint_arg(torque_limit, "torque-limit", positive=True),
        torque=torque,
        armature=per_joint_arg(armature, "armature"),
        hold=hold,
        default_pose=per_joint_arg(default_pose, "default-pose"),
        imu_site=imu_site,
        control_dt=control_dt,
        physics_dt=physics_dt,
        floating_base=floating_base,
    )
    if (options.kp is None) != (options.kd is None):
        raise Sim2RealError("give both --kp and --kd (PD gains), or neither")
    target = output_file(Path(out) if out else Path(model).resolve().parent / "robot.yaml", "--out")
    if target.exists() and not overwrite:  # a spec is edited after init (its "check" list): a second init loses that
        raise Sim2RealError(f"{target} exists already; choose another --out, remove it, or give --overwrite")
    spec, result = init_robot(model, target, options)
    lines = [
        f"wrote {target} (robot {spec.name}, spec {spec.hash[:12]}, {spec.n_joints} joints)",
        "inferred:",
        *(f"  - {x}" for x in result.inferred),
        "check:",
        *(f"  - {x}" for x in result.check),
        "sim2real changes the model (recorded in the spec's overrides):",
        *(f"  - {o}" for o in spec.overrides),
    ]
    summary = {"spec": str(target), **describe(spec), "inferred": result.inferred, "check": result.check}
    emit(summary, json, "\n".join(lines))
    return 0


def _actuator_line(a: Any, slide: bool = False) -> str:
    """One actuator as ``robot show`` prints it: model, gains (pd), torque limit [N m; N, N/m and
    N s/m on a slide joint]."""
    force, length = ("N", "m") if slide else ("N m", "rad")
    gains = f" kp {a.kp:g} {force}/{length}, kd {a.kd:g} {force} s/{length}," if a.model == "pd" else ""
    return f"{a.model}{gains} torque limit {a.torque_limit:g} {force}"
