"""How hard a push on a link the collision observer needs, and whether a push that hard throws it.

The observer's thresholds follow the spec's torque limits (``threshold_fraction`` x the limit): a
URDF's placeholder limits (``effort="1000"``) make thresholds no person or obstacle reaches.  On
Bolt hung by its base they are 200 N m, and the observer needs 746 N on a 31 g shin (61 x the
robot's weight), a force that would swing its hip by about 52 rad in 50 ms.
Two checks say so before a deployment (preflight's ``collision_detection``) and in the fault suite
(the collision case, which pushes at 3 x the threshold force):

- the force at the threshold on a link's centre of mass (along the world axis the observer sees
  best) is at most :data:`FORCE_MULTIPLE` x the robot's weight;
- that force, from rest and free of any other, turns no policy joint by more than
  :data:`MAX_SWING` within the detection deadline :data:`DEADLINE_S` (``0.5 |M^-1 J^T f| t^2``);
  not asked of a link an expected contact holds at the reading (the contact on the link or below
  it: a stance leg's shin, a standing robot's base), which the ground keeps from swinging free.

The links checked are the robot's leaf bodies (the tips of its chains, where a joint's torque
needs the least force) and a floating base; links at an expected contact are invisible to the
observer (a stance foot, a hung base) and left to the checks of what it can see.  When the
expected contacts explain every force on the robot standing in its default pose, the observer sees
nothing at all (:func:`blind_at_rest`: HyQ's feet taken as a force and a torque each, 24 columns for
its 18 degrees of freedom); the deployment's monitor logs that as an error.  Needs numpy and MuJoCo
only.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.deploy.body_geometry import leaf_bodies, site_in_body
from sim2real.deploy.collision import NOISE_SIGMAS, CollisionDetector
from sim2real.real.protocol import Reading
from sim2real.robots.spec import RobotSpec

__all__ = [
    "DEADLINE_S",
    "FORCE_MULTIPLE",
    "MAX_SWING",
    "blind_at_rest",
    "push_problems",
    "swing",
    "swing_fix",
]

MAX_SWING = 1.0
"""Largest turn of a joint [rad] a push at the observer's reach may make, from rest and free of
any other force, within its detection deadline: a push that turns a joint further throws the link
rather than pushing it, into its limits or the robot's other links, where the observer cannot tell
it from the contact stopping it (Bolt hung by its base: 1000 N m URDF torque limits make a 200 N m
threshold, and 3 x that on a 31 g shin would turn its hip by about 140 rad in 50 ms)."""

DEADLINE_S = 0.05
"""Time within which a collision must be detected [s] (the fault suite's collision case)."""

FORCE_MULTIPLE = 2.0
"""Largest force the observer may need on a link's centre of mass, in multiples of the robot's
weight: a push harder than twice the robot's weight is no collision a deployment can wait for."""
BLIND = 1e3
"""Beyond this multiple of the robot's weight the force the observer needs is no figure worth
printing (a 1.7e15 N push): the link is as good as invisible to it in this pose."""


def swing(
    model: mujoco.MjModel,
    qpos: np.ndarray,
    body: int,
    point: np.ndarray,
    force: np.ndarray,
    joints: list[str],
    seconds: float,
) -> tuple[str, float]:
    """The policy joint a force [N] (world frame) at ``point`` (world) on ``body`` turns most from
    rest at ``qpos`` in ``seconds`` with no other force (``0.5 |M^-1 J^T f| t^2``), and that turn
    [rad or m]."""
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_fwdPosition(model, data)
    jacp = np.zeros((3, model.nv))
    mujoco.mj_jac(model, data, jacp, None, np.asarray(point, dtype=float), body)
    qacc = np.zeros((1, model.nv))
    mujoco.mj_solveM(model, data, qacc, (jacp.T @ np.asarray(force, dtype=float)).reshape(1, -1))
    dofs = [int(model.jnt_dofadr[model.joint(name).id]) for name in joints]
    turns = 0.5 * np.abs(qacc[0][dofs]) * seconds**2
    k = int(np.argmax(turns))
    return joints[k], float(turns[k])


def swing_fix(spec: RobotSpec, detector: CollisionDetector, joint: str) -> str:
    """What a joint's threshold comes from and what to change (one clause)."""
    k = spec.joints.index(joint)
    limit, threshold = float(spec.safety.torque[k]), float(detector.thresholds[k])
    noise = NOISE_SIGMAS * float(detector.noise[k])
    if joint not in detector.settings.threshold and threshold <= noise:
        return (
            f"{joint}'s threshold is {threshold:.4g} N m, set by encoder velocity noise ({NOISE_SIGMAS:g} standard "
            "deviations of the residual it makes at rest: docs/safety.md, Thresholds): a quieter velocity "
            "estimate (sensors.encoder.velocity_noise) or a longer safety.collision.filter (later detection) lowers it"
        )
    return (
        f"{joint}'s threshold is {threshold:.4g} N m (torque limit {limit:.4g} N m): give safety.joint_torque "
        "(or the spec's actuator torque limits) the motors' real limits or lower safety.collision.threshold"
    )


def _robot_root(model: mujoco.MjModel, spec: RobotSpec) -> int:
    """The robot's top body (the world's child that carries its first joint)."""
    return int(model.body_rootid[model.jnt_bodyid[model.joint(spec.joints[0]).id]])


def _held(model: mujoco.MjModel, detector: CollisionDetector, reading: Reading) -> set[int]:
    """The bodies an expected contact touching at ``reading`` holds: the contact's body and its
    ancestors up to the robot's root."""
    obs = detector.observer
    qpos, qvel = obs._set_state(reading)
    M, _ = obs._dynamics(qpos, qvel)
    active = set(obs._explain(reading, M, np.zeros(obs.nv), obs.measures_base_acceleration(reading)).contacts)
    out: set[int] = set()
    for c in obs.contacts:
        body = c.body if c.name in active else 0
        while body != 0:
            out.add(body)
            body = int(model.body_parentid[body])
    return out


def push_problems(
    detector: CollisionDetector,
    reading: Reading,
    *,
    multiple: float = FORCE_MULTIPLE,
    seconds: float = DEADLINE_S,
) -> list[str]:
    """One line per link the observer is blind to at ``reading``: the force at its threshold on
    the link's centre of mass exceeds ``multiple`` x the robot's weight, or swings a joint by more
    than :data:`MAX_SWING` within ``seconds``; each line names the link, the force, the swing and
    the fix.  Empty when every checked link (see the module docstring) is within reach."""
    spec = detector.spec
    obs = detector.observer
    model = obs.model
    held = _held(model, detector, reading)
    qpos, _ = obs._set_state(reading)
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    root = _robot_root(model, spec)
    weight = float(model.body_subtreemass[root]) * float(np.linalg.norm(model.opt.gravity))
    bodies = [b for b in leaf_bodies(model) if int(model.body_rootid[b]) == root]
    if spec.floating_base:
        bodies.insert(0, int(model.body(spec.base_body).id))
    out: list[str] = []
    for body in dict.fromkeys(bodies):
        name = model.body(body).name
        local = model.body_ipos[body].copy()
        gains = [detector.sensitivity(reading, name, local, d) for d in np.eye(3)]
        best = int(np.argmax(gains))
        if not gains[best] > 0:
            continue  # at an expected contact: invisible, not unreachable
        force = np.eye(3)[best] / gains[best]
        newtons = float(np.linalg.norm(force))
        point = data.xpos[body] + data.xmat[body].reshape(3, 3) @ local
        joint, turn = swing(model, qpos, body, point, force, spec.joints, seconds)
        thrown = body not in held and turn > MAX_SWING
        if newtons > multiple * weight or thrown:
            swung = (
                f"which would swing {joint} by {turn:.3g} rad in {1e3 * seconds:.0f} ms (at most {MAX_SWING} rad)"
                if body not in held
                else "held by its contact"
            )
            needs = (
                f"the observer needs {newtons:.4g} N at its centre of mass ({newtons / weight:.3g} x the robot's "
                f"weight of {weight:.3g} N; at most {multiple:g} x)"
                if newtons <= BLIND * weight
                else f"the observer all but cannot see a push at its centre of mass (it would need more than "
                f"{BLIND:g} x the robot's weight of {weight:.3g} N: almost none of it reaches a joint it measures "
                "in this pose, the expected contacts carry it)"
            )
            out.append(f"{name}: {needs}, {swung}; " + swing_fix(spec, detector, joint))
    return out


def blind_at_rest(detector: CollisionDetector) -> str | None:
    """Why the observer can see no external force at all on the robot at rest in its default pose
    with every expected contact touching (the accelerometer's reading used), or None when some
    force is left for it to see: one line naming the contacts and what to check."""
    spec = detector.spec
    obs = detector.observer
    if not obs.contacts:
        return None
    n = len(spec.joints)
    quat = gyro = None
    if spec.floating_base and spec.imu is not None:
        model = obs.model
        site = model.site(spec.imu.site).id
        quat = site_in_body(model, site, model.body(spec.base_body).id)[1]  # the base level
        gyro = np.zeros(3)
    reading = Reading(
        t=0.0, q=np.asarray(spec.default_pose, dtype=float), qd=np.zeros(n), quat=quat, gyro=gyro
    )
    qpos, qvel = obs._set_state(reading)
    M, _ = obs._dynamics(qpos, qvel)
    residual = obs._explain(reading, M, np.zeros(obs.nv), spec.floating_base)
    if float(np.trace(residual.projector)) > 0.5:
        return None
    return (
        f"{spec.name}: at the default pose the expected contacts ({', '.join(residual.contacts)}) explain every "
        "external force on the robot, so the collision observer cannot see any collision: check "
        "safety.collision.contacts and the feet's collision geoms (a foot taken as a force and a torque), docs/safety.md"
    )
