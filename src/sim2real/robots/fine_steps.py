"""How fine a step must be for a torque computed once per step and held over it to stay stable.

A torque held over a step ``h`` is a sampled feedback: a joint of inertia ``I`` with stiffness
``kp`` and damping ``kd`` is stable only when ``kd h / I`` (below 1, see :data:`DAMPING_LIMIT`) and
``sqrt(kp / I) h`` are small.  The twin computes such torques itself (explicit actuators, and safe
mode's damping at any time: :mod:`sim2real.real.twin_steps` chooses its substep factor here), and
``robot init`` names, under *check*, a safe-mode damping or gains a light joint cannot take
(:func:`damping_check`, :func:`gains_check`).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from sim2real.text import few

__all__ = [
    "DAMPING_LIMIT",
    "MAX_SUBSTEP_FACTOR",
    "STIFFNESS_LIMIT",
    "damping_check",
    "gains_check",
    "largest_step",
    "steps_needed",
]

DAMPING_LIMIT = 0.8
"""Largest ``kd h / I`` the twin allows.  The twin evaluates its torques at the state half a step
ahead (the velocity plus ``h / 2`` times the last acceleration), which with a damping ``kd`` alone
gives the characteristic polynomial ``z^2 - (1 - 1.5 c) z - c / 2`` (``c = kd h / I``): a root at
-1 for ``c = 1``, a period-two chatter that neither grows nor decays.  0.8 keeps a margin."""
STIFFNESS_LIMIT = 0.5
"""Largest ``sqrt(kp / I) h`` the twin allows."""
MAX_SUBSTEP_FACTOR = 64
"""Largest factor chosen automatically: a model that needs more is one error line (Menagerie's Kinova
Gen3 without armature: kd 50 on a 0.00067 kg m^2 wrist needs 464), not a twin that diverges."""


def largest_step(inertia: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> np.ndarray:
    """The largest stable step [s] per joint (huge where no torque is computed).

    Args:
        inertia: Joint inertia [kg m^2] (armature included), shape (n,).
        kp: Stiffness [N m/rad], shape (n,) (0: none).
        kd: Damping [N m s/rad], shape (n,) (0: none).
    """
    inertia = np.maximum(np.asarray(inertia, dtype=float), 1e-12)
    kp, kd = np.broadcast_to(kp, inertia.shape), np.broadcast_to(kd, inertia.shape)
    with np.errstate(divide="ignore"):
        return np.minimum(DAMPING_LIMIT * inertia / np.maximum(kd, 1e-300), STIFFNESS_LIMIT / np.sqrt(kp / inertia))


def steps_needed(dt: float, h_max: np.ndarray) -> int:
    """Fine steps per step ``dt`` [s] for every joint's ``h_max`` (:func:`largest_step`), at least 1."""
    worst = float(np.min(h_max)) if np.size(h_max) else math.inf
    return max(1, math.ceil(dt / worst - 1e-9)) if math.isfinite(worst) else 1


def _inertia(
    model: mujoco.MjModel, qpos: np.ndarray, dofs: list[int], joints: list[str], armature: dict[str, float]
) -> np.ndarray:
    """Each joint's inertia [kg m^2] at ``qpos`` (the mass matrix's diagonal), with the spec's armature."""
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_forward(model, data)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, full)
    inertia = np.diag(full)[dofs].copy()
    for i, (dof, joint) in enumerate(zip(dofs, joints, strict=True)):
        if joint in armature:
            inertia[i] += armature[joint] - float(model.dof_armature[dof])
    return inertia


def _too_fine(
    inertia: np.ndarray, kp: np.ndarray | float, kd: np.ndarray, dt: float
) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """(fine steps needed, the worst joint, ``inertia``, :func:`largest_step`) when the twin would need
    more than :data:`MAX_SUBSTEP_FACTOR` fine steps per physics step ``dt`` [s]; else None."""
    h_max = largest_step(inertia, kp, kd)
    need = steps_needed(dt, h_max)
    return None if need <= MAX_SUBSTEP_FACTOR else (need, int(np.argmin(h_max)), inertia, h_max)


def gains_check(
    model: mujoco.MjModel,
    qpos: np.ndarray,
    dofs: list[int],
    joints: list[str],
    armature: dict[str, float],
    gains: dict[str, tuple[float, float]],
    dt: float,
) -> str | None:
    """A *check* line when a joint's PD gains are more than it can take at the physics step ``dt`` [s]:
    the twin, which computes them itself, would refuse the spec (example-robot-data's Romeo with kp 200,
    kd 5 on a 0.00039 kg m^2 wrist needs 81 fine steps; it said so only at ``deploy``).

    Args:
        model: The model.
        qpos: The default pose, shape (nq,).
        dofs: The dof of each joint of ``joints``.
        joints: The spec's joints.
        armature: Armature [kg m^2] the spec sets on joints (replacing the model's).
        gains: ``{joint: (kp, kd)}`` of the PD joints [N m/rad, N m s/rad].
        dt: The spec's physics step [s].
    """
    kp = np.array([gains.get(j, (0.0, 0.0))[0] for j in joints], dtype=float)
    kd = np.array([gains.get(j, (0.0, 0.0))[1] for j in joints], dtype=float)
    found = _too_fine(_inertia(model, qpos, dofs, joints, armature), kp, kd, dt)
    if found is None:
        return None
    need, j, inertia, h_max = found
    light = [joints[i] for i in np.flatnonzero(h_max * MAX_SUBSTEP_FACTOR < dt)]
    return (
        f"kp {kp[j]:g}, kd {kd[j]:g} on {joints[j]} ({inertia[j]:.3g} kg m^2) are more than that light joint can "
        f"take: the twin computes PD torques itself and would need {need} fine steps per physics step (at most "
        f"{MAX_SUBSTEP_FACTOR}), so deploy, record and faults refuse it ({len(light)} joints: "
        f"{few(light)}); give the joints armature (--armature) or lower "
        "gains on them (--kp/--kd JOINT_REGEX=VALUE)"
    )


def damping_check(
    model: mujoco.MjModel,
    qpos: np.ndarray,
    dofs: list[int],
    joints: list[str],
    armature: dict[str, float],
    damping: float | dict[str, float],
    dt: float,
) -> str | None:
    """A *check* line when safe mode's ``damping`` [N m s/rad] (one value for every joint, or one per
    joint) is more than a joint can take at the physics step ``dt`` [s] (the twin would refuse it).

    Args:
        model: The model.
        qpos: The default pose, shape (nq,).
        dofs: The dof of each joint of ``joints``.
        joints: The spec's joints.
        armature: Armature [kg m^2] the spec sets on joints (replacing the model's).
        damping: ``safety.damping``.
        dt: The spec's physics step [s].
    """
    gains = np.array([damping.get(j, 0.0) for j in joints] if isinstance(damping, dict) else [damping] * len(joints))
    found = _too_fine(_inertia(model, qpos, dofs, joints, armature), 0.0, gains.astype(float), dt)
    if found is None:
        return None
    need, j, inertia, _ = found
    most = DAMPING_LIMIT * float(inertia[j]) * MAX_SUBSTEP_FACTOR / dt
    return (
        f"safety.damping {gains[j]:g} (safe mode's damping of {joints[j]}) is more than that light joint "
        f"({inertia[j]:.3g} kg m^2) can take: the twin would need {need} fine steps per physics step (at most "
        f"{MAX_SUBSTEP_FACTOR}) and refuses it; give the joints armature (--armature) or lower safety.damping "
        f"(at most {most:.3g})"
    )
