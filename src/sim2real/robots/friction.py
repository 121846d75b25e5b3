"""Joint friction: Coulomb + viscous + Stribeck, and how the simulator applies the Stribeck part.

The friction torque of a joint turning at ``qd`` [rad/s] (the classic Stribeck curve)::

    tau_f(qd) = -( (Fc + Fs exp(-(qd / vs)^2)) sign(qd) + b qd )

- ``Fc`` Coulomb friction [N m]: MuJoCo's ``frictionloss``, parameter ``joint.<j>.frictionloss``;
- ``b`` viscous friction [N m s/rad]: MuJoCo's ``damping``, parameter ``joint.<j>.damping``;
- ``Fs`` Stribeck friction [N m]: the static friction above the Coulomb level, so that a joint at
  rest breaks away at ``Fc + Fs`` and the friction falls to ``Fc`` as it speeds up (parameter
  ``joint.<j>.stribeck``);
- ``vs`` Stribeck velocity [rad/s]: the speed over which it falls (``joint.<j>.stribeck_velocity``).

MuJoCo's friction loss is a constraint of constant size ``Fc``: it holds a joint at rest against
up to ``Fc`` (stiction) and resists motion with ``Fc``, solved implicitly with the rest of the
dynamics.  The Stribeck curve is that constraint with a size that depends on speed: before each
physics step the joint's ``dof_frictionloss`` is set to ``Fc + Fs exp(-(qd / vs)^2)`` at the
present speed (per simulation), and set back after it.  So breakaway, sticking and the fall of
friction with speed all come out of MuJoCo's own friction solver, stable at any ``Fs`` and ``vs``
(an explicit torque with a regularized sign would need a step far below 1 ms to stick).  The
values live in the compiled model's ``jnt_user`` columns (:data:`JOINT_USER`), so a model, a
batch of models and a parameter file all carry them, per simulation.

Numpy only (the twin and the batched simulator both use it).
"""

from __future__ import annotations

import numpy as np

JOINT_USER: tuple[str, ...] = ("stribeck", "stribeck_velocity")
"""Columns of ``jnt_user``: Stribeck friction [N m] and Stribeck velocity [rad/s]."""

DEFAULT_STRIBECK_VELOCITY = 0.1
"""Stribeck velocity of a joint whose spec states none [rad/s] (geared robot joints: 0.01-0.2)."""


def stribeck_friction(qd: np.ndarray, stribeck: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    """The friction above the Coulomb level at joint speed ``qd`` [N m] (>= 0).

    Args:
        qd: Joint velocities, shape (..., k) [rad/s].
        stribeck: Stribeck friction ``Fs`` of each joint, broadcast against ``qd`` [N m].
        velocity: Stribeck velocity ``vs`` of each joint, broadcast against ``qd`` [rad/s] (> 0).

    Returns:
        ``Fs exp(-(qd / vs)^2)``, shape of ``qd``: what the friction loss grows by.
    """
    x = np.asarray(qd, dtype=float) / np.maximum(np.asarray(velocity, dtype=float), 1e-9)
    return np.asarray(stribeck, dtype=float) * np.exp(-x * x)


def friction_torque(
    qd: np.ndarray,
    coulomb: np.ndarray | float = 0.0,
    viscous: np.ndarray | float = 0.0,
    stribeck: np.ndarray | float = 0.0,
    velocity: np.ndarray | float = DEFAULT_STRIBECK_VELOCITY,
) -> np.ndarray:
    """The friction torque of the module docstring on a moving joint [N m] (sign(0) = 0: at rest
    the friction is whatever holds the joint, up to ``coulomb + stribeck``).

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
    level = coulomb + stribeck_friction(qd, stribeck, velocity)
    return -(np.sign(qd) * level + np.asarray(viscous) * qd)
