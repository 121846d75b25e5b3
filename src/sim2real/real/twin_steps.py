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
PD's damping; a robot whose gains need more than :data:`MAX_SUBSTEP_FACTOR` fine steps is one error
line (give its joints armature, the drives' reflected rotor inertia, which MJCF files often lack).
"""

from __future__ import annotations

import logging
import math

import mujoco
import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.robots.actuation import ActuatorArrays
from sim2real.robots.model import default_qpos

__all__ = ["DAMPING_LIMIT", "MAX_SUBSTEP_FACTOR", "STIFFNESS_LIMIT", "divergence_hint", "stable_steps"]

log = logging.getLogger(__name__)

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
    kd = np.maximum(kd, damping)
    with np.errstate(divide="ignore"):
        h_max = np.minimum(
            DAMPING_LIMIT * inertia / np.maximum(kd, 1e-300), STIFFNESS_LIMIT / np.sqrt(kp / inertia)
        )
    dt = float(spec.physics_dt)
    need = math.ceil(dt / float(np.min(h_max)) - 1e-9) if np.isfinite(np.min(h_max)) else 1
    factor = requested
    if need > requested:
        j = int(np.argmin(h_max))
        if need > MAX_SUBSTEP_FACTOR:
            safe_mode = not explicit or (kp[j] == 0.0 and kd[j] == damping[j])
            what = f"safe mode's damping {damping[j]:.3g}" if safe_mode else f"kp {kp[j]:.3g}, kd {kd[j]:.3g}"
            other = (
                "a lower safety.damping"
                if safe_mode
                else "effects.explicit_actuators: false in the twin file"
            )
            raise Sim2RealError(
                f"the twin cannot compute {spec.actuators[j].joint}'s torque itself: {what} on a joint of "
                f"{inertia[j]:.3g} kg m^2 needs {need} fine steps per physics step (at most {MAX_SUBSTEP_FACTOR}): "
                f"give the joints armature (robot init --armature, the drives' reflected rotor inertia), or {other}"
            )
        factor = need
        log.info(
            "%s",
            f"twin substep_factor {requested} -> {factor}: {spec.actuators[j].joint} (inertia {inertia[j]:.3g} "
            f"kg m^2, kp {kp[j]:.3g}, kd {kd[j]:.3g}) needs a step of at most {h_max[j] * 1e3:.3g} ms",
        )
    return factor


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
