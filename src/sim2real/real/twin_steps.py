"""How fine the twin's physics step must be for the torques it computes itself to stay stable.

The twin computes actuator torques once per fine step ``h`` and holds them over it (explicit
actuators, and safe mode's damping at any time).  A torque held over a step is a sampled feedback:
a joint of inertia ``I`` with stiffness ``kp`` and damping ``kd`` (the PD's, a DC motor's back-EMF
``kt ke / R``) is stable only when ``kd h / I`` (below 1, see :data:`DAMPING_LIMIT`) and
``sqrt(kp / I) h`` are small.  A model with stiff gains on light links (Menagerie's Spot: kd 40
N m s/rad on a knee of 0.015 kg m^2) diverged at the default 1.25 ms.  :func:`stable_steps` raises
the twin's substep factor until ``kd h / I`` <= :data:`DAMPING_LIMIT` and ``sqrt(kp / I) h`` <=
:data:`STIFFNESS_LIMIT` for every joint whose PD the twin computes, with the joint inertia of the
model at its default pose (armature included).

Safe mode's damping (``safety.damping``) is computed here too, at any time, so it counts like a
PD's damping; with RK4 (the twin's default), which integrates a joint's own damping explicitly
(Euler and the implicit integrators do not), every joint's ``damping`` counts too (Gymnasium
Robotics' kitchen Franka: damping 10 on a 0.003 kg m^2 wrist diverged at 1.25 ms); a robot whose gains need more than :data:`MAX_SUBSTEP_FACTOR` fine steps is one error
line (give its joints armature, the drives' reflected rotor inertia, which MJCF files often lack).
The limits and the formula are :mod:`sim2real.robots.fine_steps`'s (robot init checks with them too).
"""

from __future__ import annotations

import logging

import mujoco
import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.robots.actuation import ActuatorArrays
from sim2real.robots.fine_steps import (
    DAMPING_LIMIT,
    MAX_SUBSTEP_FACTOR,
    STIFFNESS_LIMIT,
    largest_step,
    steps_needed,
)
from sim2real.robots.model import default_qpos

__all__ = ["DAMPING_LIMIT", "MAX_SUBSTEP_FACTOR", "STIFFNESS_LIMIT", "divergence_hint", "stable_steps"]

log = logging.getLogger(__name__)


def stable_steps(
    spec, model: mujoco.MjModel, act: ActuatorArrays, dofs: np.ndarray, requested: int, explicit: bool
) -> int:
    """The twin's substep factor.

    Args:
        spec: The robot (``physics_dt``, the safe mode's damping).
        model: The twin's model (hidden parameters set).
        act: The hidden actuator values, ``spec.actuators`` order.
        dofs: Shape (n_actions,): the dof of each actuator's joint.
        requested: The factor asked for (``effects.substep_factor``).
        explicit: Whether the twin computes the actuators' PD itself (else only safe mode's damping).

    Returns:
        The factor: ``requested``, or more (logged with the joint that needs it).

    Raises:
        Sim2RealError: the gains need more than :data:`MAX_SUBSTEP_FACTOR`.
    """
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_forward(model, data)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, full)
    inertia = np.maximum(np.diag(full)[dofs], 1e-12)
    strength = np.broadcast_to(act.strength, inertia.shape)
    kp = np.where(act.pd, strength * act.kp, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        back_emf = strength * act.kt * act.ke / np.where(act.dc_motor, act.resistance, 1.0)
    kd = np.where(act.pd, strength * act.kd, np.where(act.dc_motor, back_emf, 0.0))
    if not explicit:
        kp, kd = np.zeros_like(inertia), np.zeros_like(inertia)
    index = [spec.joints.index(a.joint) for a in spec.actuators]
    damping = np.asarray(spec.safety.damping)[index] if spec.safety.safe_mode == "damping" else np.zeros_like(kd)
    h_max = largest_step(inertia, kp, np.maximum(kd, damping))
    dt = float(spec.physics_dt)
    need = steps_needed(dt, h_max)
    factor = requested
    if int(model.opt.integrator) == int(mujoco.mjtIntegrator.mjINT_RK4):  # the joints' own damping, explicit in RK4
        own = largest_step(np.maximum(np.diag(full), 1e-12), np.zeros(model.nv), model.dof_damping)
        if (own_need := steps_needed(dt, own)) > max(need, requested):
            v = int(np.argmin(own))
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, int(model.dof_jntid[v])) or f"dof {v}"
            if own_need > MAX_SUBSTEP_FACTOR:
                raise Sim2RealError(
                    f"the twin's RK4 cannot integrate joint {name}'s damping {model.dof_damping[v]:.3g} N m s/rad on "
                    f"{full[v, v]:.3g} kg m^2: it needs {own_need} fine steps per physics step (at most "
                    f"{MAX_SUBSTEP_FACTOR}): give the joint armature, or effects.integrator: implicitfast"
                )
            log.info("%s", f"twin substep_factor {requested} -> {own_need}: RK4 and {name}'s own damping")
            return own_need
    if need > requested:
        j = int(np.argmin(h_max))
        if need > MAX_SUBSTEP_FACTOR:
            raise Sim2RealError(_too_stiff(spec.actuators[j].joint, inertia[j], kp[j], kd[j], damping[j], dt, need))
        factor = need
        log.info(
            "%s",
            f"twin substep_factor {requested} -> {factor}: {spec.actuators[j].joint} (inertia {inertia[j]:.3g} "
            f"kg m^2, kp {kp[j]:.3g}, kd {kd[j]:.3g}, safe mode's damping {damping[j]:.3g}) needs a step of at most "
            f"{h_max[j] * 1e3:.3g} ms",
        )
    return factor


def _too_stiff(joint: str, inertia: float, kp: float, kd: float, damping: float, dt: float, need: int) -> str:
    """The error line of a joint whose torques need more than MAX_SUBSTEP_FACTOR fine steps: the PD's
    kd and safe mode's damping named apart, and what would help (each alone at that step)."""
    one = np.array([inertia])
    pd_needs = steps_needed(dt, largest_step(one, np.array([kp]), np.array([kd])))
    safe_needs = steps_needed(dt, largest_step(one, np.zeros(1), np.array([damping])))
    parts = [f"kp {kp:.3g}, kd {kd:.3g}"] if kp > 0 or kd > 0 else []
    if damping > kd:
        parts.append(f"safe mode's damping {damping:.3g} (safety.damping)")
    others = [
        *(["a lower safety.damping"] if safe_needs > MAX_SUBSTEP_FACTOR else []),
        *(["effects.explicit_actuators: false in the twin file"] if pd_needs > MAX_SUBSTEP_FACTOR else []),
    ]  # both when each alone is too much
    return (
        f"the twin cannot compute {joint}'s torque itself: {' and '.join(parts)} on a joint of {inertia:.3g} kg m^2 "
        f"needs {need} fine steps per physics step (at most {MAX_SUBSTEP_FACTOR}): give the joints armature "
        "(sim2real import --armature or robot init --armature: the drives' reflected rotor inertia)"
        + (f", or {' and '.join(others)}" if others else "")
    )


def divergence_hint(integrator: str, step: float, factor: int) -> str:
    """What to try when the twin's simulation diverged, from its settings (for the error line)."""
    tries = [f"a larger effects.substep_factor (now {factor})"]
    if integrator != "implicitfast":
        tries.insert(0, "effects.integrator: implicitfast")
    return (
        f"the twin's {integrator} at {step * 1e3:g} ms is unstable for this robot: try "
        + ", or ".join(tries)
        + "; or check the model's gains, armature and solver settings"
    )
