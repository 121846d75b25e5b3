"""Actuator models as MuJoCo affine actuators.

Every model is written into MuJoCo's native affine actuator, so that the force is computed
inside ``mj_step`` at every physics substep (and MuJoCo's ``implicitfast`` integrator treats the
velocity term implicitly):

    force = gain * ctrl + bias0 + bias1 * q + bias2 * qdot,   clipped to +-torque_limit

with, for a strength scale ``s``:

- ``pd``:        tau = s * (kp * (ctrl + offset - q) - kd * qdot)       ctrl: joint target [rad]
- ``torque``:    tau = s * ctrl                                        ctrl: joint torque [N m]
- ``dc_motor``:  tau = s * kt / R * (ctrl - ke * qdot)                 ctrl: voltage [V]
- ``net``:       tau = s * ctrl                                        ctrl: the torque an actuator
  network computed before the physics step (:mod:`sim2real.sim.net_actuator`) [N m]

The raw physical values live in the compiled model's ``actuator_user`` columns (see
:data:`ACTUATOR_USER`), so that a model, a batch of models and a parameter file all carry them
and the coefficients can be recomputed after any one of them changes.

Outside MuJoCo (numpy only: the robot-side code uses it), :func:`implied_torque` is the one
function that computes the torque a command implies and :func:`command_for_torque` its inverse,
over an :class:`ActuatorArrays` view of a spec's actuators.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

ACTUATOR_USER: tuple[str, ...] = ("kp", "kd", "strength", "offset", "resistance", "kt", "ke", "model")
"""Columns of ``actuator_user``: the physical values behind the affine coefficients."""

MODEL_CODES: dict[str, int] = {"pd": 0, "torque": 1, "dc_motor": 2, "net": 3}
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
    gain0 = np.where(torque | (code == MODEL_CODES["net"]), s, gain0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(dc, s * kt / np.where(dc, resistance, 1.0), 0.0)
    gain0 = np.where(dc, k, gain0)
    bias[..., 2] = np.where(dc, -k * ke, bias[..., 2])
    return gain0, bias


@dataclass(frozen=True, eq=False)
class ActuatorArrays:
    """A robot's actuator models and constants as read-only arrays, one entry per actuator.

    Every array broadcasts against the actuator axis (the last axis) of a command; an entry that
    does not apply to an actuator's model (``kp`` of a ``dc_motor``) is never used.  Build it with
    :meth:`from_spec` (the spec's nominal constants, strength 1, offset 0) or :meth:`of_model`.
    """

    pd: np.ndarray
    """True for ``pd`` actuators: the command is a joint target [rad]."""
    torque: np.ndarray
    """True for ``torque`` actuators: the command is a joint torque [N m]."""
    dc_motor: np.ndarray
    """True for ``dc_motor`` actuators: the command is a voltage [V]."""
    kp: np.ndarray
    """Proportional gain of the PD model [N m/rad]."""
    kd: np.ndarray
    """Derivative gain of the PD model [N m s/rad]."""
    resistance: np.ndarray
    """DC motor winding resistance [Ohm]."""
    kt: np.ndarray
    """DC motor torque constant [N m/A]."""
    ke: np.ndarray
    """DC motor back-EMF constant [V s/rad]."""
    strength: np.ndarray | float = 1.0
    """Scale of the produced torque [-] (``actuator.<a>.strength``)."""
    offset: np.ndarray | float = 0.0
    """Offset added to a pd target [rad] (``actuator.<a>.offset``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = np.array(getattr(self, f.name), dtype=bool if f.name in _MODELS else float)
            value.setflags(write=False)
            object.__setattr__(self, f.name, value)
        # denominators with 1 where a model does not divide by them (no warnings, no NaN)
        object.__setattr__(self, "_kp", np.where(self.pd, self.kp, 1.0))
        object.__setattr__(self, "_kt", np.where(self.dc_motor, self.kt, 1.0))
        object.__setattr__(self, "_resistance", np.where(self.dc_motor, self.resistance, 1.0))
        object.__setattr__(self, "_present", {m: bool(np.any(getattr(self, m))) for m in _MODELS})

    def _select(self, branches: dict[str, np.ndarray], like: np.ndarray) -> np.ndarray:
        """Each actuator's value from the branch of its model (the branches of absent models are
        not computed: one model alone is returned as it is)."""
        if len(branches) == 1:
            (value,) = branches.values()
            return value
        if not branches:
            return np.zeros_like(like)
        return np.where(
            self.pd,
            branches.get("pd", 0.0),
            np.where(self.dc_motor, branches.get("dc_motor", 0.0), branches.get("torque", 0.0)),
        )

    @classmethod
    def from_spec(cls, spec: Any) -> ActuatorArrays:
        """The nominal actuators of a ``RobotSpec`` (``spec.actuators`` order)."""
        acts = spec.actuators

        def col(name: str) -> np.ndarray:
            return np.array([float(getattr(a, name)) for a in acts])

        return cls(
            pd=np.array([a.model == "pd" for a in acts], dtype=bool),
            torque=np.array([a.model == "torque" for a in acts], dtype=bool),
            dc_motor=np.array([a.model == "dc_motor" for a in acts], dtype=bool),
            kp=col("kp"),
            kd=col("kd"),
            resistance=col("resistance"),
            kt=col("kt"),
            ke=col("ke"),
        )

    @classmethod
    def from_user(cls, spec: Any, user: np.ndarray) -> ActuatorArrays:
        """A spec's actuators with the physical values of a compiled model (e.g. identified ones).

        Args:
            spec: The ``RobotSpec`` (which models; ``spec.actuators`` order).
            user: Their ``actuator_user`` rows, shape (n_actions, len(ACTUATOR_USER)).
        """
        nominal = cls.from_spec(spec)
        col = {name: np.asarray(user, dtype=float)[:, ACTUATOR_USER.index(name)] for name in ACTUATOR_USER}
        return cls(
            pd=nominal.pd,
            torque=nominal.torque,
            dc_motor=nominal.dc_motor,
            **{k: col[k] for k in ("kp", "kd", "resistance", "kt", "ke", "strength", "offset")},
        )

    def take(self, columns: Any) -> ActuatorArrays:
        """The actuators at ``columns`` (indices into the actuator axis)."""
        cols = np.asarray(columns, dtype=np.int64)
        n = self.pd.shape[-1]
        return ActuatorArrays(
            **{f.name: np.broadcast_to(getattr(self, f.name), (n,))[cols] for f in fields(self)}
        )

    @classmethod
    def of_model(cls, model: str, **values: Any) -> ActuatorArrays:
        """Actuators all of one model (``pd``, ``torque`` or ``dc_motor``); constants not given are 0."""
        if model not in MODEL_CODES:
            raise ValueError(f"actuator model must be one of {', '.join(MODEL_CODES)}, got {model!r}")
        constants = {k: values.pop(k, 0.0) for k in ("kp", "kd", "resistance", "kt", "ke")}
        return cls(
            pd=np.array(model == "pd"),
            torque=np.array(model == "torque"),
            dc_motor=np.array(model == "dc_motor"),
            **constants,
            **values,
        )


_MODELS = ("pd", "torque", "dc_motor")


def implied_torque(
    act: ActuatorArrays, command: np.ndarray, q: np.ndarray, qd: np.ndarray, backlash: float | np.ndarray = 0.0
) -> np.ndarray:
    """Joint torque each command implies at the state of its joint [N m], before any torque limit.

    The one place this equation is written (safety clamps and checks, fault audit, twin, recording)::

        pd:        tau = s (kp e - kd qd),   e = command + offset - q   (e shrunk by backlash / 2)
        torque:    tau = s command
        dc_motor:  tau = s kt (command - ke qd) / R

    Args:
        act: The actuators.
        command: Shape (..., n_act): commands in actuator units (rad, N m or V).
        q: Shape (..., n_act): position of each actuator's joint [rad].
        qd: Shape (..., n_act): velocity of each actuator's joint [rad/s].
        backlash: Play of pd transmissions [rad; m on slide joints], one value or shape (n_act,): no
            torque until the error exceeds half of it.

    Returns:
        Shape (..., n_act): joint torques [N m].
    """
    command = np.asarray(command, dtype=float)
    branches: dict[str, np.ndarray] = {}
    if act._present["pd"]:
        error = command + act.offset - q
        if np.any(backlash):
            error = np.copysign(np.maximum(np.abs(error) - 0.5 * backlash, 0.0), error)
        branches["pd"] = act.strength * (act.kp * error - act.kd * qd)
    if act._present["dc_motor"]:
        branches["dc_motor"] = act.strength * act.kt * (command - act.ke * qd) / act._resistance
    if act._present["torque"]:
        branches["torque"] = act.strength * command
    return act._select(branches, command)


def command_for_torque(act: ActuatorArrays, tau: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """The command that implies joint torque ``tau`` at (q, qd): the inverse of :func:`implied_torque`
    (without backlash).  Each implied torque increases with its command, so the commands for
    ``-limit`` and ``+limit`` bound the commands within a torque limit.

    Args:
        act: The actuators.
        tau: Shape (..., n_act): joint torques [N m].
        q: Shape (..., n_act): position of each actuator's joint [rad].
        qd: Shape (..., n_act): velocity of each actuator's joint [rad/s].

    Returns:
        Shape (..., n_act): commands in actuator units (rad, N m or V).
    """
    torque = np.asarray(tau, dtype=float) / act.strength
    branches: dict[str, np.ndarray] = {}
    if act._present["pd"]:
        branches["pd"] = q + (torque + act.kd * qd) / act._kp - act.offset
    if act._present["dc_motor"]:
        branches["dc_motor"] = act.ke * qd + torque * act._resistance / act._kt
    if act._present["torque"]:
        branches["torque"] = torque
    return act._select(branches, torque)


def pd_torque(
    target: np.ndarray, q: np.ndarray, qd: np.ndarray, kp, kd, strength=1.0, offset=0.0, limit=np.inf
) -> np.ndarray:
    """Joint torque of the PD model [N m], clipped to +-limit, broadcast over any batch shape."""
    act = ActuatorArrays.of_model("pd", kp=kp, kd=kd, strength=strength, offset=offset)
    return np.clip(implied_torque(act, target, q, qd), -limit, limit)


def dc_motor_torque(
    voltage: np.ndarray, qd: np.ndarray, resistance, kt, ke, strength=1.0, limit=np.inf
) -> np.ndarray:
    """Joint torque of the DC-motor model [N m], clipped to +-limit, broadcast over any batch shape."""
    act = ActuatorArrays.of_model("dc_motor", resistance=resistance, kt=kt, ke=ke, strength=strength)
    return np.clip(implied_torque(act, voltage, np.zeros_like(voltage), qd), -limit, limit)
