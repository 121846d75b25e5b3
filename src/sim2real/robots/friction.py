"""Joint friction: Coulomb + viscous + Stribeck, and how the simulator applies the Stribeck part.

The friction torque of a joint turning at ``qd`` [rad/s] (a smooth Stribeck curve, the form of
Simscape's rotational friction; Armstrong-Helouvry's breakaway peak without a discontinuity)::

    tau_f(qd) = -( Fc sign(qd) + b qd + Fs sqrt(2 e) (qd / vs) exp(-(qd / vs)^2) )

- ``Fc`` Coulomb friction [N m]: MuJoCo's ``frictionloss`` (a constraint: it also holds a joint at
  rest against up to ``Fc``), parameter ``joint.<j>.frictionloss``;
- ``b`` viscous friction [N m s/rad]: MuJoCo's ``damping``, parameter ``joint.<j>.damping``;
- ``Fs`` Stribeck friction [N m]: the extra friction at low speed, peaking at ``Fc + Fs`` at
  ``|qd| = vs / sqrt(2)`` and fading above ``vs`` (parameter ``joint.<j>.stribeck``);
- ``vs`` Stribeck velocity [rad/s] (parameter ``joint.<j>.stribeck_velocity``).

MuJoCo has no Stribeck term.  It is written as a velocity-dependent damping coefficient
``c(qd) = Fs sqrt(2 e) / vs exp(-(qd / vs)^2) >= 0`` (so that ``tau_s = -c(qd) qd``), added to the
joint's ``dof_damping`` for one physics step at a time: the ``implicitfast``/``implicit``/``Euler``
integrators then treat it implicitly, stable at any ``Fs / vs`` (an explicit torque of slope
``2.3 Fs / vs`` would blow up at a 5 ms step for a Go2 joint).  The values live in the compiled
model's ``jnt_user`` columns (:data:`JOINT_USER`), so a model, a batch of models and a parameter
file all carry them, per simulation.

Numpy only (the twin and the batched simulator both use it).
"""

from __future__ import annotations

import math

import numpy as np

JOINT_USER: tuple[str, ...] = ("stribeck", "stribeck_velocity")
"""Columns of ``jnt_user``: Stribeck friction [N m] and Stribeck velocity [rad/s]."""

DEFAULT_STRIBECK_VELOCITY = 0.1
"""Stribeck velocity of a joint whose spec states none [rad/s] (geared robot joints: 0.01-0.2)."""

PEAK = math.sqrt(2.0 * math.e)
"""``sqrt(2 e)``: scales the Stribeck term so that its peak is exactly ``Fs``."""


def stribeck_damping(qd: np.ndarray, stribeck: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    """Damping coefficient of the Stribeck term at joint speed ``qd`` [N m s/rad] (>= 0).

    Args:
        qd: Joint velocities, shape (..., k) [rad/s].
        stribeck: Stribeck friction ``Fs`` of each joint, broadcast against ``qd`` [N m].
        velocity: Stribeck velocity ``vs`` of each joint, broadcast against ``qd`` [rad/s] (> 0).

    Returns:
        ``c(qd)`` with ``tau_s = -c(qd) qd``, shape of ``qd``.
    """
    vs = np.maximum(np.asarray(velocity, dtype=float), 1e-9)
    x = np.asarray(qd, dtype=float) / vs
    return PEAK * np.asarray(stribeck, dtype=float) / vs * np.exp(-x * x)


def friction_torque(
    qd: np.ndarray,
    coulomb: np.ndarray | float = 0.0,
    viscous: np.ndarray | float = 0.0,
    stribeck: np.ndarray | float = 0.0,
    velocity: np.ndarray | float = DEFAULT_STRIBECK_VELOCITY,
) -> np.ndarray:
    """The friction torque of the module docstring at joint speeds ``qd`` [N m] (sign(0) = 0).

    Args:
        qd: Joint velocities, any shape [rad/s].
        coulomb: Coulomb friction ``Fc`` [N m].
        viscous: Viscous coefficient ``b`` [N m s/rad].
        stribeck: Stribeck friction ``Fs`` [N m].
        velocity: Stribeck velocity ``vs`` [rad/s].

    Returns:
        Torque opposing the motion, shape of ``qd`` [N m].
    """
    qd = np.asarray(qd, dtype=float)
    return -(np.sign(qd) * coulomb + np.asarray(viscous) * qd + stribeck_damping(qd, stribeck, velocity) * qd)
