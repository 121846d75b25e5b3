"""Collision detection: unexpected contacts as safety events, from the momentum observer's residual.

The observer (:class:`~sim2real.deploy.collision_observer.MomentumObserver`, its physics in
:mod:`~sim2real.deploy.collision_observer`) estimates the external generalized forces the expected
contacts cannot explain; the detector here judges them.

**Decision.**  The unexplained residual is divided by the thresholds (per joint from the spec's
``safety.collision.threshold``; on a floating base ``base_torque`` for the three torque rows and
``base_force`` = ``threshold_fraction`` x the robot's weight for the three force rows).  The least-
squares split spreads what the contacts cannot explain over many rows, so the statistic of each
place a force can act (a joint, the base's torque, its force) is its *normalized residual*
(:meth:`CollisionDetector.score`); without contacts each row's |residual| / threshold.  Above 1
anywhere is a collision.

**What it cannot see.**  A force at an expected contact (a foot kicking an obstacle), or one the
contacts could produce within the thresholds.  On a biped on two flat feet with five-joint legs
(the Unitree H1) a foot transmits a sideways force along the hip line with no joint torque, so a
sideways push at the pelvis's height is explained entirely and torques on the pelvis largely.  On
the H1 standing, at its default thresholds, a push at the threshold is about 100 N forward through
the pelvis's centre of mass (0.2 x its weight), 450 N sideways, 1500 N vertically, 180-830 N
forward on a hip or knee link, nothing sideways on the legs.  Lower the thresholds if the robot's
residual allows (the preflight's peak); the tilt and height checks cover the falls.  Needs numpy and MuJoCo only (no torch).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from sim2real.deploy.body_geometry import default_contacts, torque_scale
from sim2real.deploy.collision_model import ObserverModel
from sim2real.deploy.collision_observer import MomentumObserver, Residual
from sim2real.deploy.safety_events import EventKind, SafetyEvent, Severity, new_event
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.robots.model import build_model, joint_dof_indices, joint_qpos_indices
from sim2real.robots.safety_options import CollisionSpec
from sim2real.robots.spec import RobotSpec

__all__ = [
    "ASSUMED_VELOCITY_NOISE",
    "NOISE_SIGMAS",
    "RELEASE_S",
    "CollisionDetector",
    "default_contacts",
    "noise_floor",
]

ASSUMED_VELOCITY_NOISE = 0.01
"""[rad/s] The encoder velocity noise (std) the thresholds allow for when the spec states none
(``sensors.encoder.velocity_noise`` 0): the twin's default; on slide joints times 0.01 m/rad
(the twin's ``slide_travel``), in m/s."""

NOISE_SIGMAS = 6.0
"""A threshold is at least this many standard deviations of the residual that encoder velocity
noise alone makes (:func:`noise_floor`): the filtered residual is near Gaussian, its peak over an
hour at 50 Hz about 4.6 of them."""

RELEASE_S = 0.1
"""A contact is over once its evidence stayed below the threshold this long [s] (at least two
control periods).  One quiet reading used to restart ``hold_timeout``: evidence above 1 on four
readings in five held a robot for 3 s, a new command let through on every fifth tick, with no
safe stop (safety review 8)."""


def noise_floor(spec: RobotSpec, model: mujoco.MjModel, filter_s: float) -> np.ndarray:
    """Standard deviation of the residual that white encoder velocity noise alone makes at rest in
    the default pose [N m, N on slides], shape (n_joints,).

    The observer's ``e / dt = M (v1 - v0) / dt + ...`` differences the measured velocity: noise of
    std ``s_j`` on each joint gives joint ``i`` a raw residual ``sum_j M_ij (n1_j - n0_j) / dt``, and
    the low-pass (``a = exp(-dt / filter_s)``) leaves ``(1 - a) sqrt(2 / (1 + a))`` of
    ``sqrt(sum_j M_ij^2 s_j^2) / dt`` (exact for white noise).  ``s`` is the spec's
    ``sensors.encoder.velocity_noise``, or :data:`ASSUMED_VELOCITY_NOISE` when it states none.  A heavy
    passive root that gravity does not load (gymnasium's swimmer, 107 kg on slides in the
    horizontal plane, 83 kg m^2 about its vertical hinge) had thresholds of 2e-07: its 0.01 rad/s of
    velocity noise made a residual peaking at 70-110 N m in 10 s at rest.  Joint rows only: a floating
    base's gyro and accelerometer noise are not counted.
    """
    data = mujoco.MjData(model)
    data.qpos[joint_qpos_indices(spec, model)] = spec.default_pose
    mujoco.mj_forward(model, data)
    M = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, M)
    dofs = np.asarray(joint_dof_indices(spec, model), dtype=np.int64)
    slide = model.jnt_type[model.dof_jntid[dofs]] == mujoco.mjtJoint.mjJNT_SLIDE
    given = float(spec.encoder.velocity_noise)
    sigma = np.full(len(dofs), given) if given > 0 else np.where(slide, 0.01, 1.0) * ASSUMED_VELOCITY_NOISE
    dt = float(spec.control_dt)
    raw = np.sqrt((M[np.ix_(dofs, dofs)] ** 2) @ sigma**2) / dt
    if filter_s <= 0:
        return raw * math.sqrt(2.0)
    a = math.exp(-dt / filter_s)
    return raw * (1.0 - a) * math.sqrt(2.0 / (1.0 + a))


class CollisionDetector:
    """Unexpected contacts as safety events, from a :class:`MomentumObserver` (numpy + MuJoCo).

    Built from the spec's ``safety.collision`` (:class:`~sim2real.robots.safety_options.CollisionSpec`)
    by :meth:`from_spec`; the :class:`~sim2real.deploy.safety.SafetyMonitor` calls :meth:`check`
    with every reading, after its state checks.  A row of the unexplained residual above its
    threshold is a ``collision`` event: ``hold`` (the monitor repeats its last safe command, and
    resumes when the contact is gone) or ``safe_stop`` (latched) per ``reaction``; a contact held
    longer than ``hold_timeout`` becomes a safe stop.  A contact is gone once its evidence stayed
    below the threshold for :attr:`release_s`; one that returns sooner is the same contact, and until
    then each reading is a ``hold`` event too (a normal command let through on a quiet reading moved
    the pose a torque hold holds: safety review 9).

    Args:
        spec: The robot.
        settings: Default: the spec's ``safety.collision``.
        observed: The model the observer predicts torques with (the calibration the policy was
            trained on); default: the nominal model.  The thresholds are the nominal spec's either way.

    Attributes:
        thresholds: Per policy joint [N m; N on a slide joint], shape (n_joints,): ``threshold_fraction`` x
            the torque scale, at least :data:`NOISE_SIGMAS` x :attr:`noise`, or the spec's value.
        base_torque: Threshold of the unexplained torque on a floating base [N m] (None: fixed base).
    """

    def __init__(
        self, spec: RobotSpec, settings: CollisionSpec | None = None, *, observed: ObserverModel | None = None
    ) -> None:
        self.spec = spec
        self.settings = settings if settings is not None else spec.safety.collision
        s = self.settings
        model = build_model(spec)
        scale = torque_scale(spec, model)
        filter_s = s.filter if s.filter is not None else max(float(spec.control_dt), 0.03)
        self.noise = noise_floor(spec, model, filter_s)
        """Std of the residual encoder velocity noise alone makes at rest, per policy joint [N m]."""
        # a fraction of the torque scale, never within NOISE_SIGMAS of the noise (a passive root
        # gravity does not load has a torque scale of about 0); a value the spec gives stands
        thresholds = np.maximum(s.threshold_fraction * scale, NOISE_SIGMAS * self.noise)
        for name, value in s.threshold.items():
            thresholds[spec.joints.index(name)] = value
        self.thresholds = thresholds
        dofs = joint_dof_indices(spec, model)
        self._units = ["N" if t == mujoco.mjtJoint.mjJNT_SLIDE else "N m" for t in model.jnt_type[model.dof_jntid[dofs]]]
        """Each policy joint's unit of force: a slide joint's is a force."""
        probe = MomentumObserver(spec, contacts=s.contacts, contact_height=s.contact_height)
        self.base_torque: float | None = None
        self.base_force: float | None = None
        weights = np.ones(probe.nv)
        weights[probe._dof_idx] = 1.0 / thresholds
        if spec.floating_base:
            weight = float(np.sum(model.body_mass)) * float(np.linalg.norm(model.opt.gravity))
            self.base_torque = s.base_torque if s.base_torque is not None else self._base_default(probe, model)
            self.base_force = s.base_force if s.base_force is not None else s.threshold_fraction * weight
            if not (self.base_force > 0 and self.base_torque > 0):  # thresholds derived from no weight
                raise Sim2RealError(
                    f"{spec.name}: the model's gravity is {np.linalg.norm(model.opt.gravity):g} m/s^2, so the "
                    "collision observer's base thresholds (a fraction of the weight) are 0: give "
                    "safety.collision.base_force [N] and safety.collision.base_torque [N m], or disable it"
                )
            f = probe._free_dof
            weights[f : f + 3] = 1.0 / self.base_force
            weights[f + 3 : f + 6] = 1.0 / self.base_torque
        self.observer = MomentumObserver(
            spec,
            weights,
            filter_s=filter_s,
            contacts=s.contacts,
            contact_height=s.contact_height,
            use_accel=spec.floating_base,
            observed=observed,
        )
        self._since: float | None = None
        """When the contact under way began (its evidence above 1), or None."""
        self._clear_since: float | None = None
        """When the evidence of the contact under way last fell below 1, or None."""
        self.release_s = max(RELEASE_S, 2.0 * float(spec.control_dt))
        """How long the evidence must stay below 1 before a contact counts as over [s]."""
        self.last: Residual | None = None
        """The newest residual."""
        self.peak = 0.0
        """Largest :meth:`score` seen since :meth:`reset` (0 before any)."""

    def _base_default(self, probe: MomentumObserver, model: mujoco.MjModel) -> float:
        """threshold_fraction x weight x the largest horizontal distance from the base to a foot
        (the default contacts, whatever the settings' contacts are: a hung robot's is its base)."""
        data = mujoco.MjData(model)
        data.qpos[joint_qpos_indices(self.spec, model)] = self.spec.default_pose
        mujoco.mj_kinematics(model, data)
        base = data.xpos[probe._base_body]
        feet = [probe._contact(n) for n in default_contacts(self.spec, model)]
        lever = max(
            [float(np.linalg.norm((data.geom_xpos[c.geom] - base)[:2])) for c in feet if c.body != probe._base_body]
            or [0.1]
        )
        weight = float(np.sum(model.body_mass)) * float(np.linalg.norm(model.opt.gravity))
        return self.settings.threshold_fraction * weight * lever

    @classmethod
    def from_spec(cls, spec: RobotSpec, observed: ObserverModel | None = None) -> CollisionDetector | None:
        """The detector of a spec (observing ``observed``), or None when its ``safety.collision.enabled`` is false."""
        return cls(spec, observed=observed) if spec.safety.collision.enabled else None

    def reset(self) -> None:
        """Restart the observer (after a safe stop or a reset)."""
        self.observer.reset()
        self._since = self._clear_since = None
        self.last = None

    def ratios(self, residual: Residual) -> tuple[np.ndarray, float]:
        """The evidence of a collision at each policy joint (n_joints,), and on a floating base (0
        for a fixed base: the larger of its torque and force blocks), in units of the thresholds
        (see :meth:`score`)."""
        joint, torque, force = self._evidence(residual)
        return joint, max(torque, force)

    def _evidence(self, residual: Residual) -> tuple[np.ndarray, float, float]:
        obs = self.observer
        w = obs.weights
        y = np.zeros(obs.nv)  # the unexplained residual in threshold units
        y[obs._dof_idx] = residual.joint * w[obs._dof_idx]
        if self.spec.floating_base:
            f = obs._free_dof
            y[f : f + 6] = residual.base * w[f : f + 6]
        P = residual.projector

        def block(rows: np.ndarray) -> float:
            sub = P[np.ix_(rows, rows)]
            if not np.max(np.abs(np.diag(sub)), initial=0.0) > 1e-9:
                return 0.0  # wholly explained by the expected contacts: no evidence here
            w, vecs = np.linalg.eigh(sub)  # pinv(sub) by hand: the eigenvalues above rcond 1e-9
            keep = np.abs(w) > 1e-9 * float(np.max(np.abs(w)))
            along = vecs.T @ y[rows]
            return math.sqrt(max(float(np.sum(along[keep] ** 2 / w[keep])), 0.0))

        rows = np.asarray(obs._dof_idx, dtype=np.int64)  # a joint's block is one row: |y_i| / sqrt(P_ii)
        diag = np.diag(P)[rows]
        seen = diag > 1e-9  # else wholly explained by the expected contacts (a projector's P_ii >= 0)
        joint = np.where(seen, np.abs(y[rows]) / np.sqrt(np.where(seen, diag, 1.0)), 0.0)
        if not self.spec.floating_base:
            return joint, 0.0, 0.0
        f = obs._free_dof
        return joint, block(np.arange(f + 3, f + 6)), block(np.arange(f, f + 3))

    def score(self, residual: Residual) -> float:
        """The decision statistic: the largest evidence of a collision over the places one can
        act, above 1 is a collision.  For each place (a joint's row; the base's torque rows; its
        force rows) the unexplained residual ``y`` (in threshold units) on those rows, normalized
        by what the contacts leave of them (``sqrt(y_B^T pinv(P_BB) y_B)``, ``P`` the residual's
        projector): the largest normalized residual.  Without contacts (``P = I``) that is each
        joint's |residual| / threshold and the base's |torque| / ``base_torque``; with contacts it
        is not diluted by the least-squares split, which spreads what the contacts cannot explain
        over many rows (on a humanoid's stance legs a push on the pelvis shows as a little at each
        leg joint, each row far below its threshold)."""
        joint, base = self.ratios(residual)
        return max(float(np.max(joint)) if joint.size else 0.0, base)

    def sensitivity(self, reading: Reading, body: str, point: np.ndarray, direction: np.ndarray) -> float:
        """The :meth:`score` a unit force [N] on ``body`` at ``point`` (in that
        body's frame) along ``direction`` (world frame) produces in the observer's model at
        ``reading``: a force of ``1 / sensitivity`` newtons is at the detection threshold.  0 when it
        is invisible (e.g. at an expected contact).  The point is given in the body's frame because
        the observer places a floating base at the origin (its horizontal position is unmeasured)."""
        obs = self.observer
        qpos, qvel = obs._set_state(reading)
        M, _ = obs._dynamics(qpos, qvel)
        bid = mujoco.mj_name2id(obs.model, mujoco.mjtObj.mjOBJ_BODY, body)
        if bid < 0:
            raise Sim2RealError(f"no body {body!r} in {self.spec.name}")
        world = obs.data.xpos[bid] + obs.data.xmat[bid].reshape(3, 3) @ np.asarray(point, dtype=float)
        jacp = np.zeros((3, obs.nv))
        mujoco.mj_jac(obs.model, obs.data, jacp, None, world, bid)
        d = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
        return self.score(obs._explain(reading, M, jacp.T @ d, obs.measures_base_acceleration(reading)))

    def check(
        self, reading: Reading | None, now: float, command: np.ndarray | None, offset: np.ndarray | None = None
    ) -> list[SafetyEvent]:
        """The collision events of one reading.

        Args:
            reading: The newest reading.
            now: Loop time [s].
            command: The command applied since the previous reading (the monitor's last normal or
                hold output), or None (safe mode, or nothing sent yet): the observer restarts.

        Returns:
            Zero or one ``collision`` event (``hold`` or ``safe_stop`` per the settings).
        """
        residual = self.observer.update(reading, command, offset)
        if residual is None:
            if command is None:
                self._since = self._clear_since = None
            return []
        self.last = residual
        joint, torque, force = self._evidence(residual)
        j = int(np.argmax(joint)) if joint.size else 0
        worst = max(float(joint[j]) if joint.size else 0.0, torque, force)
        self.peak = max(self.peak, worst)
        if not worst > 1.0:
            if self._since is None:
                return []
            self._clear_since = now if self._clear_since is None else self._clear_since
            quiet = now - self._clear_since
            if quiet >= self.release_s - 1e-9:
                self._since = self._clear_since = None
                return []
            # the contact is under way until it has been quiet for release_s: the hold (and the pose
            # it holds) lasts that long; returning nothing here let a normal command through
            return [
                new_event(
                    now,
                    EventKind.COLLISION,
                    Severity.HOLD,
                    f"contact under way: evidence {worst:.2g} of the threshold, below it for {quiet:.3g} s "
                    f"of the {self.release_s:.3g} s that end a contact",
                    value=quiet,
                    limit=self.release_s,
                )
            ]
        self._clear_since = None
        if self._since is None:
            self._since = now
        s = self.settings
        held = now - self._since
        severity = Severity.SAFE_STOP if s.reaction == "safe_stop" or held > s.hold_timeout else Severity.HOLD
        # the place with the most evidence, and the external force there that explains it
        if joint.size and float(joint[j]) >= worst:
            name, limit, unit = self.spec.joints[j], float(self.thresholds[j]), self._units[j]
            what = f"{name}: external {'force' if unit == 'N' else 'torque'}"
        elif torque >= force:
            assert self.base_torque is not None
            name, limit, what, unit = None, self.base_torque, "base: external torque", "N m"
        else:
            assert self.base_force is not None
            name, limit, what, unit = None, self.base_force, "base: external force", "N"
        value = worst * limit
        extra = f", held {held:.3g} s > {s.hold_timeout} s" if held > s.hold_timeout and s.reaction == "hold" else ""
        return [
            new_event(
                now,
                EventKind.COLLISION,
                severity,
                f"{what} of about {value:.3g} {unit} unexplained, above the collision threshold {limit:.3g} {unit}{extra}",
                joint=name,
                value=value,
                limit=limit,
            )
        ]
