"""``sim2real import isaaclab``: Isaac Lab / unitree_rl_lab / unitree_rl_mjlab / mjlab exports.

Isaac Lab's own ``params/env.yaml`` is read as the deploy.yaml it implies
(:mod:`sim2real.policy.imports.isaaclab_env`); without a file given, the run's ``params/`` next to
``exported/`` is looked in.  Facts of the formats (``exported/policy.onnx`` and ``params/deploy.yaml``):

- the graph maps ``obs`` (1, n_obs) to ``actions`` (1, n_act) (recurrent exports add ``h_in``/
  ``c_in`` -> ``h_out``/``c_out``), its weights possibly in a ``.onnx.data`` file next to it;
- ``joint_ids_map[i]`` is the motor slot of policy joint i (its index in the robot's SDK joint
  list); ``stiffness`` and ``damping`` are listed by slot; ``default_joint_pos``, the action
  ``scale``/``offset``/``clip`` and the observation scales are listed by policy joint (per value
  of a term's frame); a fork's ``physics_dt`` is the physics step;
- ``actions.JointPositionAction``: target = clip(offset + scale * a), ``clip`` per joint
  ``[low, high]`` or null, the offset the default pose where none is stated or
  ``use_default_offset`` is true (Isaac Lab then ignores the configured one), over the policy
  joints its ``joint_ids`` name (null: all); the others
  are held by their PD (:mod:`sim2real.policy.imports.held`); ``step_dt`` is the policy period;
- ``observations``, in order: per term ``scale``, ``clip`` (before scaling), ``history_length``
  (frames, oldest first, the first frame repeated after a reset), ``params`` (a gait phase's
  ``period``); the velocity command is clipped to ``commands.<name>.ranges`` as their deploy
  code does;
- mjlab writes its own metadata into the ONNX file (``joint_names``, ``joint_stiffness``,
  ``joint_damping``, ``default_joint_pos``, ``action_scale``, ``observation_names``, numbers as
  comma-separated text): read where present, cross-checked with the deploy.yaml, enough on its own.

What this importer assumes where the files are silent (recorded in the policy's metadata): without
joint names in the ONNX metadata and without a given motor order, the policy joints are the
model's joints breadth first over the kinematic tree (the order of an Isaac Lab articulation made
from the same robot description) or in model order (mjlab's), chosen from evidence
(:mod:`sim2real.policy.imports.joint_order`), and the robot's motor order follows from
``joint_ids_map`` (a deploy.yaml's own ``joint_names``, which forks of the exporters write, name
the joints by motor slot instead; the slots may skip ones without a joint); Isaac Lab's IO
descriptors name the joints themselves (:mod:`sim2real.policy.imports.isaaclab_io`); Isaac Lab's
and mjlab's observation term named ``joint_pos`` (``joint_vel``) is ``joint_pos_rel``
(``joint_vel_rel``), as in their velocity tasks; the physics timestep is a quarter of the policy
period unless given.  A terrain height scan (``height_scan``) is imported
from an env.yaml, whose scene states its ray caster's grid
(:mod:`sim2real.policy.imports.isaaclab_env`), on a caster on the model's floating base; a
deploy.yaml states no grid and is refused for it.  Terms sim2real does not compute (contact
sensing, ...) are refused with one line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from sim2real.errors import PolicyError
from sim2real.policy.imports.common import (
    ForeignPolicy,
    ImportResult,
    given_or_trained,
    hold_positions,
    locked_note,
    model_joints,
    per_joint,
    select_joints,
    write_import,
)
from sim2real.policy.imports.config_files import deploy_clip, load_config, params_next_to
from sim2real.policy.imports.graph import (
    GraphInterface,
    graph_interface,
    load_graph,
    rename_io,
    spread_actions,
)
from sim2real.policy.imports.held import (
    driven_ids,
    observes_undriven,
    per_policy_joint,
    selects_all,
    spread_reference,
)
from sim2real.policy.imports.isaaclab_env import deploy_from_env, is_env_yaml
from sim2real.policy.imports.isaaclab_io import deploy_from_io, is_io_descriptors, run_articulation
from sim2real.policy.imports.isaaclab_terms import (
    FOREIGN_TERMS,
    REFUSED,
    command_clip,
    frame_size,
    our_term,
    term_clip,
    term_scale,
    trained_commands,
    velocity_commands,
)
from sim2real.policy.imports.joint_order import (
    ModelJoints,
    check_default_pose,
    choose_order,
    listed_slots,
    model_joints_of,
    policy_joints,
)
from sim2real.policy.imports.mjlab_meta import check_against, csv_items, from_metadata
from sim2real.policy.imports.rsl_checkpoint import load_torch_policy
from sim2real.robots.init_actuators import PerJoint
from sim2real.robots.load import load_mjcf
from sim2real.robots.spec import NO_JOINT, ObservationTerm
from sim2real.text import few

log = logging.getLogger(__name__)


def _by_motor(values: Any, rank: list[int], index: list[int], what: str, where: str) -> tuple[float, ...]:
    """Per policy joint from a list by motor: one value per policy motor in motor order, or one per
    motor index of a larger robot (one value: every motor).

    Raises:
        PolicyError: another count, or one value per policy joint while ``joint_ids_map`` skips
            slots: listed by motor in order (the gaps closed) or by policy joint, the file cannot say.
    """
    sign = {"positive": what == "stiffness", "non_negative": what == "damping"}
    if not isinstance(values, list):
        return per_joint(values, len(rank), f"{where}: {what}", **sign)
    if len(values) == len(rank) and max(index) >= len(rank):
        raise PolicyError(
            f"{where}: {what} has {len(values)} values, one per policy joint, while joint_ids_map uses motor slots "
            f"up to {max(index)}: list them by motor slot ({max(index) + 1} values, any at a slot without a joint), "
            "as Isaac Lab's exporters do"
        )
    if len(values) == len(rank):
        by_motor = per_joint(values, len(rank), f"{where}: {what}", **sign)
        return tuple(by_motor[r] for r in rank)
    if len(values) > max(index):
        by_index = per_joint(values, len(values), f"{where}: {what}")  # motors without a policy joint: any
        return per_joint([by_index[i] for i in index], len(index), f"{where}: {what} (of the policy's motors)", **sign)
    raise PolicyError(f"{where}: {what} has {len(values)} values, listed by motor for {len(rank)} motors")


def _action_offset(action: Mapping[str, Any], default: tuple[float, ...], where: str) -> tuple[float, ...]:
    """The action's offset per driven joint [rad]: its ``offset``; the default pose where it states
    none, or where ``use_default_offset`` is true (Isaac Lab's JointPositionAction then replaces
    the configured offset, 0.0 unless set, with the default pose; unitree_rl_lab's exporter writes
    that pose as ``offset`` and drops the flag, a hand-made or another fork's file may keep both).

    Args:
        default: The default pose of the driven joints [rad].

    Raises:
        PolicyError: ``use_default_offset`` is not a boolean, or is true beside an offset that is
            neither the configured 0.0 nor the default pose (the file says two things).
    """
    flag = action.get("use_default_offset")
    offset = action.get("offset")
    if flag is not None and not isinstance(flag, bool):
        raise PolicyError(f"{where}: actions use_default_offset must be true or false, got {flag!r}")
    if offset is None:
        return default if flag is not False else (0.0,) * len(default)
    given = per_joint(offset, len(default), f"{where}: actions offset")
    if not flag:
        return given
    if all(x == 0.0 for x in given) or np.allclose(given, default, rtol=5e-3, atol=1e-3):
        return default  # Isaac Lab ignores the configured offset; .3g-rounded copies of the pose agree
    k = int(np.argmax(np.abs(np.subtract(given, default))))
    raise PolicyError(
        f"{where}: actions use_default_offset is true (the offset is the default pose) but offset value {k + 1} "
        f"is {given[k]:g}, the default pose {default[k]:g}: correct the one that is wrong"
    )


def observation_terms(
    observations: Mapping[str, Any],
    n_joints: int,
    commands: Mapping[str, Mapping[str, tuple[float, float]]],
    where: str,
    n_actions: int | None = None,
) -> tuple[ObservationTerm, ...]:
    """sim2real's layout from a deploy.yaml's ``observations`` (in order).

    Args:
        observations: The deploy.yaml's ``observations``.
        n_joints: Policy joints (the joint terms' frame).
        n_actions: Actions the policy drives (the last action's frame); None: ``n_joints``.
        commands: The velocity commands (:func:`velocity_commands`): a term whose
            ``params.command_name`` names one is the velocity command, whatever its own name (a
            fork's ``keyboard_velocity_commands``), clipped to that command's ranges; another
            velocity command term gets the first command's ranges.
        where: The file's name, for messages.

    Raises:
        PolicyError: an unknown or refused term, a scale or clip of the wrong size, a joint selection.
    """
    terms = []
    for foreign, raw in observations.items():
        raw = raw if isinstance(raw, Mapping) else {}
        command_name = (
            (raw.get("params") or {}).get("command_name") if isinstance(raw.get("params"), Mapping) else None
        )
        named = command_name in commands and str(foreign) not in REFUSED
        name = "velocity_command" if named else our_term(str(foreign))
        label = f"{where}: observation '{foreign}'"
        params = dict(raw.get("params") or {})
        grid = params.pop("grid", None) if name == "height_scan" else None
        if name == "height_scan" and not isinstance(grid, Mapping):
            raise PolicyError(
                f"{label} is a terrain height scan whose grid {where} does not state: give the run's "
                "params/env.yaml (its scene states the ray caster)"
            )
        size = (
            len(grid["points_x"]) * len(grid["points_y"])
            if grid is not None
            else frame_size(name, n_joints, n_actions)
        )
        selected = params.get("asset_cfg") if isinstance(params.get("asset_cfg"), Mapping) else {}
        if not selects_all(selected.get("joint_ids"), n_joints) or selected.get("joint_names") not in (
            None,
            ".*",
            [".*"],
        ):
            raise PolicyError(
                f"{label} selects joints (asset_cfg); sim2real's terms cover every policy joint"
            )
        ours: dict[str, Any] = {}
        if grid is not None:
            ours.update({k: grid[k] for k in ("points_x", "points_y", "order", "offset")})
        if name == "base_quat" and params.get("make_quat_unique"):
            ours["unique"] = True  # Isaac Lab's root_quat_w(make_quat_unique=True): w >= 0
        if name == "gait_phase":
            if "period" not in params:
                raise PolicyError(f"{label} needs params.period (the gait clock's period)")
            ours["period"] = float(params["period"])
        scale = raw.get("scale")
        if (
            isinstance(scale, list)
            and len(scale) > size
            and name in ("joint_pos", "joint_pos_rel", "joint_vel")
        ):
            raise PolicyError(
                f"{label} has {len(scale)} scales for the {size} joints of joint_ids_map: it observes joints the file "
                f"does not list, whose default position and gains it does not state; give a deploy.yaml whose "
                "joint_ids_map lists every joint (the action's joint_ids then name the driven ones) or the run's env.yaml"
            )
        if isinstance(scale, list) and len(scale) != size:
            raise PolicyError(f"{label} has {len(scale)} scales, its frame has {size} values")
        clip = term_clip(raw.get("clip"), size, f"{label} clip")
        if name == "velocity_command" and commands:
            ranges = commands[command_name] if named else next(iter(commands.values()))
            clip = command_clip(clip, ranges, label)
        history = int(raw.get("history_length") or 1)
        if not raw.get("flatten_history_dim", True):
            raise PolicyError(f"{label} keeps its history unflattened; sim2real flattens it (oldest first)")
        terms.append(
            ObservationTerm(
                name, size, term_scale(scale, size, f"{label} scale"), max(history, 1), clip, ours
            )
        )
    return tuple(terms)


def _reference(model: Any, interface: GraphInterface) -> Any:
    """The original graph in onnxruntime, one row at a time with its recurrent state from zeros."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    kind = next(i.type for i in session.get_inputs() if i.name == interface.obs)
    dtype = np.float64 if kind == "tensor(double)" else np.float32  # a float64 export

    def run(obs: np.ndarray) -> np.ndarray:
        state = {name: np.zeros(shape, dtype=np.float32) for name, _, shape in interface.states}
        names = [interface.action, *(out for _, out, _ in interface.states)]
        rows = []
        for i in range(len(obs)):
            out = session.run(names, {interface.obs: obs[i : i + 1].astype(dtype), **state})
            rows.append(np.asarray(out[0], dtype=np.float32))
            state = {name: value for (name, _, _), value in zip(interface.states, out[1:], strict=True)}
        return np.concatenate(rows)

    return run


def import_isaaclab(
    policy: str | Path,
    deploy: str | Path | None,
    model: str | Path,
    out: str | Path,
    *,
    joints: str | None = None,
    motor_order: tuple[str, ...] | None = None,
    action_joints: str | None = None,
    armature: PerJoint = None,
    torque_limit: PerJoint = None,
    physics_dt: float | None = None,
    control_dt: float | None = None,
    activation: str | None = None,
    name: str | None = None,
    seed: int = 0,
) -> ImportResult:
    """Import an Isaac Lab / mjlab ONNX policy (module docstring).

    Args:
        policy: ``exported/policy.onnx`` (its ``.onnx.data`` next to it when it has one), Isaac Lab's
            TorchScript ``exported/policy.pt``, or rsl_rl's training checkpoint ``model_<N>.pt``
            (:mod:`~sim2real.policy.imports.rsl_checkpoint`; the run's ``params/`` next to it).
        deploy: ``params/deploy.yaml``; None: the ONNX file's own (mjlab) metadata.
        model: The robot's MJCF, unedited (actuators are added where it has none).
        out: Folder to write ``robot.yaml`` and ``policy.onnx`` to.
        joints: Regular expression choosing the model's motors (matched in full); default every hinge joint.
        motor_order: The robot's joints by motor slot (``-`` for a slot without a joint); default
            the deploy.yaml's ``joint_names``, else the order :func:`choose_order` takes.
        action_joints: Regular expression of the policy joints the action drives (matched in full),
            for mjlab ONNX metadata, which names every joint but not the action's; the others are
            held by their PD.  Default: the deploy.yaml's ``actions.joint_ids``, else every joint.
        armature: Joint armature to set on the policy joints [kg m^2]: one value, or a map by joint
            name or regular expression (matched in full; the last matching key wins); default the
            training config's (env.yaml), else the model's.
        torque_limit: Effort limit [N m] of the policy joints, one value or a map like ``armature``;
            default the policy's training config's (env.yaml), else the model's.  Either replaces
            the model's, printed where they differ.
        physics_dt: Largest physics timestep [s]; default a quarter of the policy period.
        control_dt: Policy period [s] when no deploy.yaml states it (mjlab metadata); default 0.02.
        activation: rsl_rl's name of a checkpoint's activation; default the run's agent.yaml's, else elu.
        name: Robot name; default the model's.
        seed: Seed of the parity check's rollout.

    Raises:
        PolicyError / SpecError: one line naming what does not fit.
    """
    source = Path(policy).name
    scripted = Path(policy).suffix in (".pt", ".jit")  # Isaac Lab's exported/policy.pt, rsl_rl's model_<N>.pt
    if activation is not None and not scripted:
        raise PolicyError(f"--activation is for rsl_rl training checkpoints (model_<N>.pt), not {source}")
    torch_files: dict[str, Path] = {}
    assumed: list[str] = []
    if scripted:
        loaded = load_torch_policy(policy, activation=activation, deploy=deploy)
        original, network, reference = loaded.graph, loaded.network, loaded.reference
        assumed.extend(loaded.assumptions)
        torch_files = dict(loaded.files)
    else:
        original = load_graph(policy)
    interface = graph_interface(original, source)
    meta = {p.key: p.value for p in original.metadata_props}
    facts_model = model_joints_of(model, joints)
    tree = facts_model.breadth
    if motor_order:
        motor_order = tuple(j.strip() for item in motor_order for j in str(item).split(","))  # J1,J2 or J1 J2
        unknown = [j for j in motor_order if j != NO_JOINT and j not in model_joints(model)]
        if unknown:
            raise PolicyError(f"--motor-order: '{unknown[0]}' is not a joint of the model")
    names = csv_items(meta["joint_names"]) if "joint_names" in meta else None
    for listed, what in ((names, f"{source}: the ONNX metadata joint_names"), (motor_order, "--motor-order")):
        twice = next((j for j in listed or () if j != NO_JOINT and list(listed).count(j) > 1), None)
        if twice is not None:
            raise PolicyError(f"{what} names '{twice}' {list(listed).count(twice)} times; each joint once")
    files = {"policy": Path(policy), "model": Path(model), **torch_files}
    if deploy is None and names is None:
        deploy = params_next_to(Path(policy), assumed)
    extras: dict[str, Any] = {}
    env_yaml = False
    if deploy is not None:
        files["deploy"] = Path(deploy)
        raw_cfg = load_config(deploy, "deploy.yaml")
        env_yaml = is_env_yaml(raw_cfg)
        io_yaml = is_io_descriptors(raw_cfg)
        given_names = names
        named = run_articulation(Path(deploy), tree, assumed) if env_yaml else None
        articulation = named or tree
        order = f"the articulation's joints as {Path(deploy).parent.parent.name}/IO_descriptors.yaml names them"

        def read(observed: list[str] | None) -> _Reading:
            """The facts, the joint observations covering the action's joints or ``observed`` (env.yaml)."""
            notes: list[str] = []
            cfg, names_, more = raw_cfg, given_names, {}
            if env_yaml:
                known = set(FOREIGN_TERMS) | set(REFUSED)
                by = {"order": order} if named else {}
                cfg, names_, more = deploy_from_env(
                    cfg, articulation, Path(deploy).name, notes, known, observed=observed, **by
                )
            elif io_yaml:  # the file names the policy joints
                cfg, more = deploy_from_io(cfg, Path(deploy).name, notes)
                names_ = given_names or cfg.pop("joint_names")
            found = _from_deploy(
                cfg,
                Path(deploy).name,
                notes,
                names=names_,
                motor_order=list(motor_order or []) or None,
                model=facts_model,
            )
            return _Reading(found, more, notes)

        limit = deploy_clip(raw_cfg, Path(deploy), assumed, top_level=not (env_yaml or io_yaml))
        reading = _env_reading(read, list(articulation), interface.n_obs) if env_yaml else read(None)
        facts, extras = reading.facts, reading.extras
        assumed.extend(reading.assumed)
        framework = "mjlab" if "observation_names" in meta else "isaaclab"
        if names is not None:
            check_against(meta, facts, Path(deploy).name)
    elif names is not None:
        framework = "mjlab"
        facts = from_metadata(meta, interface, control_dt, assumed, action_joints)
        limit = None
    else:
        raise PolicyError(
            f"{source} carries no joint metadata: give its params/deploy.yaml or params/env.yaml (--deploy)"
        )
    n = len(facts["joints"])
    driven = list(facts.get("driven", facts["joints"]))
    chosen = None if action_joints is None else select_joints(facts["joints"], action_joints)
    if chosen is not None and deploy is not None and driven != chosen:
        raise PolicyError(
            f"--action-joints '{action_joints}' matches {', '.join(chosen) or 'none'}; "
            f"{Path(deploy).name}'s action drives {', '.join(driven)}"
        )
    if interface.n_act != len(driven):
        raise PolicyError(
            f"{source}: the policy gives {interface.n_act} actions for {len(driven)} policy joints "
            f"({Path(deploy).name if deploy else 'its metadata'}): give the deploy.yaml of this policy's run"
        )
    missing = [j for j in facts["joints"] if j not in model_joints(model)]
    if missing:
        raise PolicyError(f"policy joint '{missing[0]}' is not a joint of {Path(model).name}")
    check_default_pose(facts_model.ranges, facts["joints"], facts["default_pose"])
    _check_scan_body(facts.get("scan_body"), model)
    layout = facts["observation"]
    width = sum(t.width for t in layout)
    if width != interface.n_obs:
        text = " + ".join(f"{t.name} {t.size}" + (f"x{t.history}" if t.history > 1 else "") for t in layout)
        if observes_undriven(facts, len(facts_model.breadth), interface.n_obs):
            # Isaac Lab's joint terms cover the whole articulation unless asset_cfg selects joints
            total = len(facts_model.breadth)
            raise PolicyError(
                f"the policy drives {n} of the model's {total} joints and observes the positions and "
                f"velocities of all {total} (it takes {interface.n_obs} observations, {width} with its "
                f"driven joints only), but {Path(deploy).name if deploy else 'its metadata'} states the default "
                f"position and gains of those {n} only: give a deploy.yaml whose joint_ids_map lists every joint "
                "(the action's joint_ids then name the driven ones) or the run's env.yaml"
            )
        raise PolicyError(
            f"{source}: the policy takes {interface.n_obs} observations, the observation layout has {width} "
            f"({Path(deploy).name if deploy else 'its metadata'}): {text}"
        )
    locked = hold_positions(model, [j for j in model_joints(model) if j not in facts["joints"]])
    if locked:
        assumed.append(locked_note(locked))
    graph, recurrent = rename_io(original, interface)
    step = float(facts["control_dt"])
    reference = reference if scripted else _reference(original, interface)
    held = [j for j in facts["joints"] if j not in driven]
    action = per_policy_joint(facts, driven)
    if held:
        columns = [driven.index(j) if j in driven else None for j in facts["joints"]]
        graph = spread_actions(graph, columns)
        reference = spread_reference(reference, columns)
        assumed.append(
            f"the {len(held)} joints the policy observes but does not drive ({few(held)}) are held at their "
            "default positions by their PD (action.hold), in simulation and on the robot"
        )
    foreign = ForeignPolicy(
        framework=framework,
        joints=tuple(facts["joints"]),
        default_pose=facts["default_pose"],
        kp=facts["kp"],
        kd=facts["kd"],
        action_scale=action["scale"],
        action_offset=action["offset"],
        observation=layout,
        control_dt=step,
        physics_dt=physics_dt if physics_dt is not None else extras.get("physics_dt", facts.get("physics_dt", step / 4.0)),
        graph=graph,
        reference=reference,
        recurrent=recurrent,
        held=tuple(held),
        action_clip=action["clip"],
        action_limit=limit,
        locked=locked,
        motor_order=tuple(facts.get("motors", ())),
        armature=given_or_trained(armature, extras.get("armature"), facts["joints"], "--armature"),
        **_torque_limits(torque_limit, extras, facts["joints"]),
        commands=facts.get("commands"),
        files=files,
        assumptions=tuple(assumed),
        network=network
        if scripted
        else {"type": f"imported ONNX ({framework})", "producer": original.producer_name},
    )
    return write_import(foreign, model, out, name=name, seed=seed)


def _check_scan_body(body: str | None, model: str | Path) -> None:
    """A height scan's ray caster must sit on the model's floating base (the body of its free
    joint): sim2real casts the rays from the base, and the value is the caster's height.

    Raises:
        PolicyError: it is on another body, or the model has no floating base.
    """
    if body is None:
        return
    import mujoco

    m = load_mjcf(Path(model)).compile()  # as every other reading of the model: plain_model's fixes applied
    free = [int(m.jnt_bodyid[j]) for j in range(m.njnt) if int(m.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_FREE)]
    base = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, free[0]) if free else None
    if base is None:
        raise PolicyError(f"the policy observes a terrain height scan, which needs a floating base; {Path(model).name} has none")
    if body != base:
        raise PolicyError(
            f"the policy's height scanner is on body '{body}', not on the model's floating base '{base}'; "
            "sim2real casts the scan from the base"
        )


class _Reading(NamedTuple):
    """A deploy.yaml or env.yaml read for one choice of observed joints."""

    facts: dict[str, Any]
    """What :func:`_from_deploy` found."""
    extras: dict[str, Any]
    """What only an env.yaml states (armature, effort limits, physics timestep); empty for a deploy.yaml."""
    assumed: list[str]
    """What reading it assumed."""


def _env_reading(
    read: Callable[[list[str] | None], _Reading], articulation: list[str], n_obs: int
) -> _Reading:
    """An env.yaml read with the joints its joint observation terms cover: the articulation's (Isaac
    Lab's joint terms without a joint selection) when reading it so fits the policy's observation
    width and reading them as the action's joints does not; else the action's joints.  ``read``
    (observed joints, None: the action's) is called at most once per choice.

    Raises:
        PolicyError: reading it as the action's joints fails and the articulation's does not fit.
    """
    own: _Reading | PolicyError
    try:
        own = read(None)
    except PolicyError as exc:  # e.g. a per-joint scale of every joint beside a subset action
        own = exc
    if isinstance(own, _Reading) and (
        len(own.facts["joints"]) == len(articulation)
        or not observes_undriven(own.facts, len(articulation), n_obs)
    ):
        return own
    try:
        every = read(articulation)
    except PolicyError:
        every = None
    if every is not None and sum(t.width for t in every.facts["observation"]) == n_obs:
        return every
    if isinstance(own, PolicyError):
        raise own  # reading it as the action's joints says what is wrong
    return own


def _torque_limits(given: PerJoint, extras: Mapping[str, Any], joints: list[str]) -> dict[str, Any]:
    """The ForeignPolicy's ``torque_limit`` and ``torque_limit_from``: per policy joint the user's
    --torque-limit, else the policy's training config's (either replaces the model's); a
    --torque-limit that differs from what the policy was trained with is a warning."""
    trained = extras.get("torque_limit")
    source = extras.get("torque_limit_from", "--torque-limit")
    limits = given_or_trained(given, trained, joints, "--torque-limit")
    if given is None or limits is None:
        return {"torque_limit": limits, "torque_limit_from": source}
    theirs = dict(zip(joints, trained, strict=True)) if trained is not None else {}
    mine = given_or_trained(given, None, joints, "--torque-limit") or {}
    differ = [j for j in mine if j in theirs and abs(mine[j] - theirs[j]) > 1e-9]
    if differ:
        log.warning(
            "--torque-limit replaces the effort limits the policy was trained with, from %s, on %d joints (%s %g -> %g N m)",
            source,
            len(differ),
            differ[0],
            theirs[differ[0]],
            mine[differ[0]],
        )
    mixed = trained is not None and len(mine) < len(joints)
    return {
        "torque_limit": limits,
        "torque_limit_from": f"--torque-limit and {source}" if mixed else "--torque-limit",
    }


def _from_deploy(
    cfg: Mapping[str, Any],
    where: str,
    assumed: list[str],
    *,
    names: list[str] | None,
    motor_order: list[str] | None,
    model: ModelJoints,
) -> dict[str, Any]:
    for key in (
        "joint_ids_map",
        "step_dt",
        "stiffness",
        "damping",
        "default_joint_pos",
        "actions",
        "observations",
    ):
        if key not in cfg:
            raise PolicyError(f"{where}: missing '{key}' (an Isaac Lab params/deploy.yaml has it)")
    listed = listed_slots(cfg, where, model, assumed) if names is None else None
    if listed is not None and motor_order is not None:
        theirs = policy_joints(cfg["joint_ids_map"], where, motor_order=listed)[0]
        mine = policy_joints(cfg["joint_ids_map"], where, motor_order=motor_order)[0]
        if theirs != mine:
            k = next(k for k, (a, b) in enumerate(zip(theirs, mine, strict=True)) if a != b)
            raise PolicyError(
                f"--motor-order makes policy joint {k} '{mine[k]}', {where}'s joint_names '{theirs[k]}': "
                "correct the one that is wrong"
            )
    motor_order = motor_order if motor_order is not None else listed
    tree, note = choose_order(cfg, model) if names is None and motor_order is None else (model.breadth, "")
    joints, rank, motors, notes = policy_joints(
        cfg["joint_ids_map"], where, names=names, motor_order=motor_order, tree_order=tree, order_note=note
    )
    assumed.extend(notes)
    index = list(cfg["joint_ids_map"])
    n = len(joints)
    actions = cfg["actions"] or {}
    if set(actions) != {"JointPositionAction"}:
        other = ", ".join(sorted(set(actions) - {"JointPositionAction"})) or "none"
        raise PolicyError(f"{where}: action terms {other}: sim2real imports one JointPositionAction")
    action = actions["JointPositionAction"] or {}
    driven = driven_ids(action.get("joint_ids"), n, where)
    m = len(driven)
    default = per_joint(cfg["default_joint_pos"], n, f"{where}: default_joint_pos")
    clip = action.get("clip")
    clips: tuple[tuple[float, float] | None, ...] = ()
    if clip is not None:
        if (
            not isinstance(clip, list)
            or len(clip) != m
            or not all(isinstance(c, list) and len(c) == 2 for c in clip)
        ):
            raise PolicyError(
                f"{where}: actions clip must be {m} [low, high] pairs (one per joint the action drives) or null"
            )
        clips = tuple((float(lo), float(hi)) for lo, hi in clip)
    velocity = velocity_commands(cfg)
    step = cfg["step_dt"]
    if isinstance(step, bool) or not isinstance(step, int | float) or not step > 0:
        raise PolicyError(f"{where}: step_dt must be a positive number of seconds")
    physics = cfg.get("physics_dt")  # forks of unitree_rl_lab's exporter write sim.dt there
    if physics is not None and (
        isinstance(physics, bool) or not isinstance(physics, int | float) or not 0 < physics <= step
    ):
        raise PolicyError(f"{where}: physics_dt must be a positive number of seconds, at most step_dt")
    return {
        **({"physics_dt": float(physics)} if physics is not None else {}),
        "joints": joints,
        "kp": _by_motor(cfg["stiffness"], rank, index, "stiffness", where),
        "kd": _by_motor(cfg["damping"], rank, index, "damping", where),
        "motors": motors,
        "default_pose": default,
        "driven": [joints[i] for i in driven],
        "scale": per_joint(action.get("scale", 1.0), m, f"{where}: actions scale"),
        "offset": _action_offset(action, tuple(default[i] for i in driven), where),
        "clip": clips,
        "observation": observation_terms(cfg["observations"], n, velocity, where, m),
        "scan_body": next(
            (
                str(raw["params"]["grid"].get("body") or "")
                for raw in cfg["observations"].values()
                if isinstance(raw, Mapping)
                and isinstance(raw.get("params"), Mapping)
                and isinstance(raw["params"].get("grid"), Mapping)
            ),
            None,
        ),
        "control_dt": float(step),
        "commands": trained_commands(cfg["observations"], velocity),
    }
