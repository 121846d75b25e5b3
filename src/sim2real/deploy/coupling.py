"""Joint couplings and closed chains of a model as directions of force the collision observer
solves for.

A joint equality constraint (``<equality><joint>``: a URDF's ``<mimic>`` joints, coupled gears)
holds ``q1 = c0 + c1 q2 + c2 q2^2 + c3 q2^3 + c4 q2^4`` (``q2`` absent: ``q1 = c0``).  Its force
acts along the constraint's Jacobian, ``+1`` at joint 1's dof and ``-dq1/dq2`` at joint 2's.  A
``connect`` constraint (a closed chain: a four-bar knee, Cassie's heel rods) holds a point of one
body on a point of another: its force acts at that point, along the difference of the two bodies'
translational Jacobians there; a ``weld`` adds the rotational ones.  The observer explains these
directions like a contact force of unknown size, so the torque that keeps a follower with its
leader, or a linkage closed, is not read as a collision.  Needs MuJoCo and numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

__all__ = ["Coupling", "chain_columns", "chain_constraints", "coupling_column", "joint_couplings"]


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


def chain_constraints(model: mujoco.MjModel) -> list[int]:
    """The model's ``connect`` and ``weld`` equality constraints active at its start (ids)."""
    kinds = (int(mujoco.mjtEq.mjEQ_CONNECT), int(mujoco.mjtEq.mjEQ_WELD))
    return [e for e in range(model.neq) if int(model.eq_type[e]) in kinds and model.eq_active0[e]]


def chain_columns(model: mujoco.MjModel, data: mujoco.MjData, constraints: list[int]) -> list[np.ndarray]:
    """The directions of the forces of ``constraints`` (:func:`chain_constraints`) in joint space at
    ``data``'s kinematics: (nv, 3) per connect, (nv, 6) per weld."""
    out = []
    for e in constraints:
        on_sites = int(model.eq_objtype[e]) == int(mujoco.mjtObj.mjOBJ_SITE)
        ends = (int(model.eq_obj1id[e]), int(model.eq_obj2id[e]))
        if on_sites:
            bodies = [int(model.site_bodyid[i]) for i in ends]
            point = data.site_xpos[ends[0]].copy()
        else:
            bodies = list(ends)
            anchor = model.eq_data[e, 0:3]  # a connect's anchor in body 1's frame (a weld's: any point serves)
            point = data.xpos[bodies[0]] + data.xmat[bodies[0]].reshape(3, 3) @ anchor
        jac = []
        for body in bodies:
            jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
            if body > 0:  # the world's Jacobian is zero
                mujoco.mj_jac(model, data, jacp, jacr, point, body)
            jac.append((jacp, jacr))
        column = (jac[0][0] - jac[1][0]).T
        if int(model.eq_type[e]) == int(mujoco.mjtEq.mjEQ_WELD):
            column = np.hstack([column, (jac[0][1] - jac[1][1]).T])
        out.append(column)
    return out
