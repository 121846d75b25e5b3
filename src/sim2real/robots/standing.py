"""Does the robot stand in its default pose with its actuators?  A quick check of a legged spec.

A floating-base robot is put in its default pose at its initial base pose, its PD actuators hold
the default joint positions (other actuators command zero) and MuJoCo runs for a moment.  Gains
too soft for the pose (a crouched keyframe, ``kp`` copied from a lighter or straighter robot) show
as a base that sinks or tips and joints that sag far from their targets: a policy then spends its
training fighting gravity before it can learn to step.  ``robot init`` reports the result and flags
a pose the gains do not hold, and bodies besides the feet that the robot ends up resting on
(pybullet's Vision60 settles onto its body and hips: the height barely changes, but the deploy
loop's collision observer takes those contacts for collisions).

A fixed-base robot (an arm) gets the same question without a base (:func:`at_rest_check`): does it
hold its default pose with its commands at rest?
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.robots.collide import robot_geoms
from sim2real.robots.geom_extent import collision_geoms, sole_geoms
from sim2real.robots.ground import is_static
from sim2real.robots.model import (
    actuator_indices,
    base_joint,
    build_model,
    default_qpos,
    joint_qpos_indices,
    resets,
    spec_floor_height,
)
from sim2real.robots.spec import RobotSpec

SINK_LIMIT = 0.15
"""Largest fraction of the initial base height the base may sink and still count as holding."""

TILT_LIMIT = 0.1
"""Largest tilt from the initial attitude that still counts as holding [rad]."""

SAG_LIMIT = 0.3
"""A joint further than this from its default position [rad] sags under the load: soft gains."""

LEAN_LIMIT = 0.2
"""A base that sank past :data:`SINK_LIMIT` tilted less than this [rad] has settled on legs its gains
let yield (mjlab's Go1 at its 10 Hz gains: 17 % lower, 6 deg), it has not tipped over."""


@dataclass(frozen=True)
class Standing:
    """How the robot stood after :func:`stand` (heights [m], angles [rad])."""

    seconds: float
    """Simulated time [s]."""
    initial_height: float
    """Base height at the start (the spec's ``initial_base``)."""
    height: float
    """Base height at the end."""
    tilt: float
    """Angle between the base's initial and final up axes."""
    joint: str
    """The actuated joint furthest from its default position at the end (a passive joint, a mimic
    follower or a closed chain's, is no measure of the gains)."""
    deviation: float
    """Its distance from the default position."""
    diverged_at: float | None = None
    """Simulated time [s] at which MuJoCo found the simulation diverged (and reset it), or None."""
    floor: float = 0.0
    """Height of the floor under the robot [m] (:func:`~sim2real.robots.model.spec_floor_height`; the
    heights above are world z)."""
    resting: tuple[str, ...] = ()
    """Bodies other than the feet touching the scene at the end, in model order."""
    beyond: tuple[tuple[str, float, float], ...] = ()
    """Joints resting outside the spec's safety position limits at the end: (joint, position,
    the limit it passed) [rad or m]; deploy and record would stop at once."""
    sagging: tuple[tuple[str, float], ...] = ()
    """Actuated joints further than :data:`SAG_LIMIT` from their default position at the end:
    (joint, distance) [rad or m] (a held arm the base's sink and tilt do not show)."""
    upright_deviation: float | None = None
    """The largest actuated joint's distance from its default position when the base first tilted
    beyond :data:`TILT_LIMIT` (None: it never did).  What the gains let sag while the robot stood: after
    a fall, ``deviation`` is often an arm that hit the ground (a biped's wrist, 1.5 rad)."""
    upright_joint: str | None = None
    """The joint of ``upright_deviation`` (None: the base never tilted that far)."""

    @property
    def sag(self) -> float:
        """The joint deviation that judges the gains: ``upright_deviation`` when the robot tipped over,
        else ``deviation``."""
        return self.deviation if self.upright_deviation is None else self.upright_deviation

    @property
    def sag_joint(self) -> str:
        """The joint of :attr:`sag`."""
        return self.joint if self.upright_joint is None else self.upright_joint

    @property
    def settled(self) -> bool:
        """The base sank past :data:`SINK_LIMIT` of its height but tilted less than :data:`LEAN_LIMIT`:
        it sagged on its legs rather than tipped over (False when it diverged)."""
        return (
            self.diverged_at is None
            and self.height - self.floor < (1.0 - SINK_LIMIT) * (self.initial_height - self.floor)
            and self.tilt < LEAN_LIMIT
        )

    @property
    def holds(self) -> bool:
        """The base sank at most :data:`SINK_LIMIT` of its height and tilted at most :data:`TILT_LIMIT`."""
        return (
            self.diverged_at is None
            and self.height - self.floor >= (1.0 - SINK_LIMIT) * (self.initial_height - self.floor)
            and self.tilt <= TILT_LIMIT
        )

    def summary(self) -> str:
        """One line: heights, tilt and the largest joint deviation (or where it diverged)."""
        if self.diverged_at is not None:
            return f"standing in the default pose: the simulation diverged at t = {self.diverged_at:.3f} s"
        return (
            f"standing in the default pose for {self.seconds:g} s: base {self.initial_height:.3f} -> "
            f"{self.height:.3f} m, tilt {np.degrees(self.tilt):.1f} deg, largest joint deviation "
            f"{self.deviation:.2f} rad ({self.joint})"
        )


def _up(quat: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    return mat.reshape(3, 3)[:, 2]


def stand(spec: RobotSpec, seconds: float = 1.5, model: mujoco.MjModel | None = None) -> Standing | None:
    """Simulate the robot under zero action for ``seconds`` (None: no floating base): the spec's
    command at zero action (``action_offset``: the default pose for PD actuators, else zero);
    actuator networks are not run (their joints get zero torque).

    Args:
        spec: The robot.
        seconds: Simulated time [s].
        model: Its compiled nominal model, if already built.
    """
    model = model if model is not None else build_model(spec)
    base = base_joint(spec, model)
    if base is None or spec.initial_base is None:
        return None
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    net = np.array([a.net is not None for a in spec.actuators], dtype=bool)
    data.ctrl[actuator_indices(spec, model)] = np.where(net, 0.0, spec.action_offset)
    up0 = _up(data.qpos[base.qpos + 3 : base.qpos + 7])
    height0 = float(data.qpos[base.qpos + 2])
    feet = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f) for f in spec.feet}
    mujoco.mj_kinematics(model, data)
    # what each foot stands on at the start: its shin's geom on the same body touching later is no foot (B1's calves)
    soles = {f: set(sole_geoms(model, data, f)) for f in feet if collision_geoms(model, f)}
    diverged_at, upright_deviation, upright_joint = None, None, None
    qpos_of = joint_qpos_indices(spec, model)
    driven = {a.joint for a in spec.actuators}
    measured = np.array([j in driven for j in spec.joints], dtype=bool) if driven else np.ones(spec.n_joints, bool)

    def errors() -> np.ndarray:
        return np.where(measured, np.abs(data.qpos[qpos_of] - spec.default_pose), 0.0)

    for _ in range(max(1, round(seconds / model.opt.timestep))):
        t = float(data.time)
        mujoco.mj_step(model, data)
        if resets(data):  # MuJoCo reset it: what follows is not the robot standing
            diverged_at = t
            break
        if upright_deviation is None and up0 @ _up(data.qpos[base.qpos + 3 : base.qpos + 7]) < np.cos(TILT_LIMIT):
            tipping = errors()
            upright_deviation, upright_joint = float(tipping.max()), spec.joints[int(np.argmax(tipping))]
    up = _up(data.qpos[base.qpos + 3 : base.qpos + 7])
    error = errors()
    worst = int(np.argmax(error))
    q = data.qpos[qpos_of]
    low, high = spec.safety.position_low, spec.safety.position_high
    beyond = tuple(
        (spec.joints[j], float(q[j]), float(low[j] if q[j] < low[j] else high[j]))
        for j in range(spec.n_joints)
        if diverged_at is None and not low[j] <= q[j] <= high[j]
    )
    robot = set(robot_geoms(model, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)))
    touching, shins = set(), set()
    for contact in data.contact[: data.ncon]:
        g1, g2 = int(contact.geom1), int(contact.geom2)
        for g, other in ((g1, g2), (g2, g1)):
            if g in robot and is_static(model, other):  # the robot against the scene (not a free object)
                body = int(model.geom_bodyid[g])
                touching.add(body)
                if body in soles and g not in soles[body]:
                    shins.add(body)
    return Standing(
        seconds=seconds,
        initial_height=height0,
        height=float(data.qpos[base.qpos + 2]),
        tilt=float(np.arccos(np.clip(up0 @ up, -1.0, 1.0))),
        joint=spec.joints[worst],
        deviation=float(error[worst]),
        diverged_at=diverged_at,
        floor=spec_floor_height(spec, model),
        resting=tuple(model.body(b).name or f"#{b}" for b in sorted(touching - feet))
        + tuple(f"{model.body(b).name or f'#{b}'} above its sole" for b in sorted(shins)),
        beyond=beyond,
        sagging=tuple(
            (spec.joints[j], float(error[j])) for j in range(spec.n_joints) if diverged_at is None and error[j] > SAG_LIMIT
        ),
        upright_deviation=upright_deviation,
        upright_joint=upright_joint,
    )


REST_SECONDS = 0.5
"""Simulated time of :func:`at_rest_check` [s]."""


def at_rest_check(spec: RobotSpec, model: mujoco.MjModel, seconds: float = REST_SECONDS) -> list[str]:
    """What to check when a fixed-base robot does not hold its default pose with its commands at
    rest (pd targets at the default pose, zero torque or voltage), as a recording's excitation and
    a deployment start from it: one line naming the first actuated joint that leaves its safety
    limits and when, or the one that sagged furthest past :data:`SAG_LIMIT` (a passive pole may fall); none when it holds (or the robot
    has a floating base: :func:`stand`).  An arm whose motors take torque falls: a torque-controlled
    arm's own controller adds gravity compensation, which sim2real's torque commands do not.

    Args:
        spec: The robot.
        model: Its compiled nominal model.
        seconds: Simulated time [s].
    """
    if base_joint(spec, model) is not None or not spec.actuators:
        return []
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    net = np.array([a.net is not None for a in spec.actuators], dtype=bool)
    data.ctrl[actuator_indices(spec, model)] = np.where(net, 0.0, spec.action_offset)
    qpos_of, dof_of = joint_qpos_indices(spec, model), [int(model.jnt_dofadr[model.joint(j).id]) for j in spec.joints]
    low, high, speed = spec.safety.position_low, spec.safety.position_high, spec.safety.velocity
    driven = np.array([j in {a.joint for a in spec.actuators} for j in spec.joints])  # a passive pole may fall
    for _ in range(max(1, round(seconds / model.opt.timestep))):
        mujoco.mj_step(model, data)
        if resets(data):
            return []  # diverging is the shake check's to say
        q, qd = data.qpos[qpos_of], data.qvel[dof_of]
        out = driven & ((q < low) | (q > high) | (np.abs(qd) > speed))
        if out.any():
            j = int(np.argmax(out))
            inside = low[j] <= q[j] <= high[j]
            what = f"speed {abs(qd[j]):.3g} above {speed[j]:g}" if inside else f"position {q[j]:.3g} outside [{low[j]:g}, {high[j]:g}]"
            return [_rest_line(spec, f"{spec.joints[j]} leaves its safety limits after {data.time:.2f} s ({what})")]
    error = np.where(driven, np.abs(data.qpos[qpos_of] - spec.default_pose), 0.0)
    worst = int(np.argmax(error))
    if error[worst] > SAG_LIMIT:
        return [_rest_line(spec, f"{spec.joints[worst]} sags {error[worst]:.2f} from its default position in {seconds:g} s")]
    return []


def _rest_line(spec: RobotSpec, what: str) -> str:
    torque = [a.joint for a in spec.actuators if a.model != "pd"]
    why = (
        "its torque commands carry no gravity compensation (a torque-controlled arm's own controller adds it): "
        "give --kp and --kd to drive its joints as PD"
        if torque
        else "stiffer --kp, or a default pose the gains hold"
    )
    return (
        f"with its commands at rest (PD targets at the default pose, zero torque) the robot does not hold its "
        f"default pose: {what}; a recording's excitation and a deployment start there and will be safe-stopped: {why}"
    )
