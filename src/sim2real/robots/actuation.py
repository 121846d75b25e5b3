"""Actuator models as MuJoCo affine actuators.

Every model is written into MuJoCo's native affine actuator, so that the force is computed
inside ``mj_step`` at every physics substep (and MuJoCo's ``implicitfast`` integrator treats the
velocity term implicitly):

    force = gain * ctrl + bias0 + bias1 * q + bias2 * qdot,   clipped to +-torque_limit

with, for a strength scale ``s``:

- ``pd``:        tau = s * (kp * (ctrl + offset - q) - kd * qdot)       ctrl: joint target [rad]
- ``torque``:    tau = s * ctrl                                        ctrl: joint torque [N m]
- ``dc_motor``:  tau = s * kt / R * (ctrl - ke * qdot)                 ctrl: voltage [V]

The raw physical values live in the compiled model's ``actuator_user`` columns (see
:data:`ACTUATOR_USER`), so that a model, a batch of models and a parameter file all carry them
and the coefficients can be recomputed after any one of them changes.
"""

from __future__ import annotations

import numpy as np

ACTUATOR_USER: tuple[str, ...] = ("kp", "kd", "strength", "offset", "resistance", "kt", "ke", "model")
"""Columns of ``actuator_user``: the physical values behind the affine coefficients."""

MODEL_CODES: dict[str, int] = {"pd": 0, "torque": 1, "dc_motor": 2}
"""Numeric code of each actuator model, stored in the ``model`` column."""

SENSOR_USER: tuple[str, ...] = ("bias0", "bias1", "bias2", "bias3")
"""Columns of ``sensor_user``: additive bias of each sensor component (sensor units); a sensor of
dimension d uses the first d columns."""


def user_column(name: str) -> int:
    """Index of a physical quantity in ``actuator_user``."""
    return ACTUATOR_USER.index(name)


def affine_coefficients(user: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Affine gain and bias of actuators from their physical values.

    Args:
        user: Shape (..., len(ACTUATOR_USER)): kp, kd, strength, offset, resistance, kt, ke, model.

    Returns:
        gain0: Shape (...,): the ``gainprm[0]`` of each actuator.
        bias: Shape (..., 3): ``biasprm[0:3]`` of each actuator.
    """
    kp, kd, s, offset, resistance, kt, ke, code = np.moveaxis(np.asarray(user, dtype=float), -1, 0)
    code = np.rint(code)
    gain0 = np.zeros_like(kp)
    bias = np.zeros((*kp.shape, 3))
    pd = code == MODEL_CODES["pd"]
    torque = code == MODEL_CODES["torque"]
    dc = code == MODEL_CODES["dc_motor"]
    gain0 = np.where(pd, s * kp, gain0)
    bias[..., 0] = np.where(pd, s * kp * offset, 0.0)
    bias[..., 1] = np.where(pd, -s * kp, 0.0)
    bias[..., 2] = np.where(pd, -s * kd, 0.0)
    gain0 = np.where(torque, s, gain0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(dc, s * kt / np.where(dc, resistance, 1.0), 0.0)
    gain0 = np.where(dc, k, gain0)
    bias[..., 2] = np.where(dc, -k * ke, bias[..., 2])
    return gain0, bias


def pd_torque(
    target: np.ndarray, q: np.ndarray, qd: np.ndarray, kp, kd, strength=1.0, offset=0.0, limit=np.inf
) -> np.ndarray:
    """Joint torque of the PD model [N m], broadcast over any batch shape (reference equation)."""
    tau = strength * (kp * (target + offset - q) - kd * qd)
    return np.clip(tau, -limit, limit)


def dc_motor_torque(
    voltage: np.ndarray, qd: np.ndarray, resistance, kt, ke, strength=1.0, limit=np.inf
) -> np.ndarray:
    """Joint torque of the DC-motor model [N m]: tau = s kt (V - ke qd) / R, clipped (reference)."""
    tau = strength * kt * (voltage - ke * qd) / resistance
    return np.clip(tau, -limit, limit)
