"""Joint couplings of a model (``<equality><joint>``: a URDF's ``<mimic>`` joints, coupled gears)
as directions of force the collision observer solves for.

A joint equality constraint holds ``q1 = c0 + c1 q2 + c2 q2^2 + c3 q2^3 + c4 q2^4`` (``q2`` absent:
``q1 = c0``).  Its force acts along the constraint's Jacobian, ``+1`` at joint 1's dof and
``-dq1/dq2`` at joint 2's: the observer explains that direction like a contact force of unknown
size, so the torque that keeps a mimic follower with its leader is not read as a collision.
Needs MuJoCo and numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

__all__ = ["Coupling", "coupling_column", "joint_couplings"]


@dataclass(frozen=True)
class Coupling:
    """One joint equality constraint of a model."""

    dof1: int
    """dof of the coupled joint (joint 1)."""
    dof2: int | None
    """dof of the joint it follows (joint 2), or None (held at ``c0``)."""
    qpos2: int | None
    """qpos address of joint 2, or None."""
    poly: tuple[float, ...]
    """The polynomial's coefficients c0..c4."""


def joint_couplings(model: mujoco.MjModel) -> list[Coupling]:
    """The model's joint equality constraints that are active at its start (``eq_active0``)."""
    out = []
    for e in range(model.neq):
        if int(model.eq_type[e]) != int(mujoco.mjtEq.mjEQ_JOINT) or not model.eq_active0[e]:
            continue
        j1, j2 = int(model.eq_obj1id[e]), int(model.eq_obj2id[e])
        out.append(
            Coupling(
                dof1=int(model.jnt_dofadr[j1]),
                dof2=int(model.jnt_dofadr[j2]) if j2 >= 0 else None,
                qpos2=int(model.jnt_qposadr[j2]) if j2 >= 0 else None,
                poly=tuple(float(c) for c in model.eq_data[e, :5]),
            )
        )
    return out


def coupling_column(nv: int, coupling: Coupling, qpos: np.ndarray) -> np.ndarray:
    """The direction of a coupling's force in joint space at ``qpos``, shape (nv, 1)."""
    column = np.zeros((nv, 1))
    column[coupling.dof1] = 1.0
    if coupling.dof2 is not None and coupling.qpos2 is not None:
        q2 = float(qpos[coupling.qpos2])
        c = coupling.poly
        column[coupling.dof2] -= c[1] + 2 * c[2] * q2 + 3 * c[3] * q2**2 + 4 * c[4] * q2**3
    return column
