"""Motor model of torque-sensing robots: the delivered effort as a linear function of the drive's
input and the joint velocity, ``tau = a * u + b * qd + c``, by ridge regression.

For an actuator whose log records both the command and the measured joint effort, a linear model
of the effort the drive actually delivers, whose input ``u`` is what the spec's actuator model
(:mod:`sim2real.robots.actuation`) makes the torque proportional to:

- ``pd``: the position error ``u = target - q`` [rad]: ``tau = s kp (target + offset - q) - s kd qd``,
  so ``a`` is the effective stiffness ``s kp``, ``-b`` the effective damping ``s kd`` and ``c / a``
  the target offset (a position target alone says nothing about the torque);
- ``torque``: the commanded torque: ``a`` is the strength ``s`` (1 for an ideal torque actuator),
  ``-b`` a viscous loss, ``c`` a constant offset;
- ``dc_motor``: the voltage: ``a = s kt / R``, ``b = -s kt ke / R`` (back-EMF), so ``ke = -b / a``.

Ridge regression on standardized regressors (a small ``ridge`` keeps nearly constant logs well
posed), the intercept unpenalized.  Samples are the joint-state samples, each with the command in
force when its effort was measured: the last one sent strictly before ``t - delay`` (a control loop
reads, then sends: the command stamped with a reading's own time was computed from it, and acts
only after the drive's delay).  A slide joint's model is in N and m where a hinge's is in N m and rad.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.logs.trajectory import Trajectory
from sim2real.param_kinds import slides
from sim2real.robots.spec import RobotSpec
from sim2real.sim.net_actuator import DRIVE_INPUTS

__all__ = ["MIN_SAMPLES", "SATURATED", "MotorModel", "command_before", "fit_motor_models", "ridge_motor_model"]


@dataclass(frozen=True)
class MotorModel:
    """``tau_actual = a * u + b * qd + c`` for one actuated joint (``u``: the drive's input)."""

    joint: str
    """Actuated joint."""
    a: float
    """Gain on the input [N m per input unit: N m/rad for a pd drive's position error]."""
    b: float
    """Velocity coefficient [N m s/rad; N s/m for a slide]."""
    c: float
    """Constant [N m; N for a slide]."""
    r2: float
    """Coefficient of determination of the fit."""
    samples: int
    """Number of samples used."""
    drive: str = "torque"
    """The spec's actuator model (``pd``, ``torque``, ``dc_motor``), which says what the input ``u``
    is (``pd``: the position error ``target - q``; else the command) and what the fit means."""
    slide: bool = False
    """Whether the joint slides (its position in m, its effort in N) rather than turns."""

    def predict(self, u: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """Delivered effort [N m, or N for a slide] for inputs ``u`` (a ``pd`` drive's position
        error ``target - q``, else the command) and joint velocities of the same shape."""
        return self.a * np.asarray(u) + self.b * np.asarray(qd) + self.c

    def meaning(self) -> dict[str, float]:
        """The fit read as the physical constants of its drive model (see the module docstring):
        ``pd``: ``stiffness`` (s kp), ``damping`` (s kd), ``offset``; ``dc_motor``: ``gain``
        (s kt / R), ``ke``; ``torque``: ``strength``, ``viscous``, ``offset`` (a torque)."""
        if self.drive == "pd":
            return {"stiffness": self.a, "damping": -self.b, "offset": self.c / self.a if self.a else 0.0}
        if self.drive == "dc_motor":
            return {"gain": self.a, "ke": -self.b / self.a if self.a else 0.0}
        return {"strength": self.a, "viscous": -self.b, "offset": self.c}

    def implausible(self) -> str | None:
        """Why the fit is no law of its drive, or None: the gain that makes the drive's torque follow
        its input (a pd drive's stiffness ``s kp``, a dc motor's ``s kt / R``, a torque actuator's
        strength) fitted zero or negative, which no working drive has: the samples did not determine
        it (too few, too little excitation, or a delay the fit did not know)."""
        name = {"pd": "stiffness", "dc_motor": "gain"}.get(self.drive, "strength")
        if self.a > 0:
            return None
        return (
            f"implausible: a {self.drive} drive's {name} is positive; {self.samples} samples did not "
            "determine it (a longer or richer excitation, or the drive's delay)"
        )

    def describe(self) -> str:
        """One line for people: the fitted equation and what it means for the drive's model (and why
        it is implausible, :meth:`implausible`, when it is)."""
        force, length = ("N", "m") if self.slide else ("N m", "rad")
        m = self.meaning()
        if self.drive == "pd":
            equation = f"tau = {self.a:.4g} * (target - q) {self.b:+.4g} * qd {self.c:+.4g}"
            means = (
                f"stiffness s*kp {m['stiffness']:.4g} {force}/{length}, damping s*kd {m['damping']:.4g} "
                f"{force} s/{length}, target offset {m['offset']:.3g} {length}"
            )
        elif self.drive == "dc_motor":
            equation = f"tau = {self.a:.4g} * voltage {self.b:+.4g} * qd {self.c:+.4g}"
            means = f"s*kt/R {m['gain']:.4g} {force}/V, back-EMF ke {m['ke']:.4g} V s/{length}"
        else:
            equation = f"tau = {self.a:.4g} * command {self.b:+.4g} * qd {self.c:+.4g}"
            means = (
                f"strength {m['strength']:.4g}, viscous loss {m['viscous']:.4g} {force} s/{length}, "
                f"offset {m['offset']:.3g} {force}"
            )
        caveat = self.implausible()
        return f"{equation} {force} (R^2 {self.r2:.3f}; {self.drive}: {means})" + (f"; {caveat}" if caveat else "")

    def as_dict(self) -> dict:
        """JSON-ready form (``meaning``: :meth:`meaning`)."""
        return {
            "a": self.a,
            "b": self.b,
            "c": self.c,
            "r2": self.r2,
            "samples": self.samples,
            "drive": self.drive,
            "input": "position_error" if self.drive == "pd" else "command",
            "meaning": self.meaning(),
            "implausible": self.implausible(),
        }


SATURATED = 0.98
"""Share of its torque limit at and above which a measured effort counts as saturated: such samples
are left out of a motor model (the drive's torque is its limit there, not the linear law)."""

MIN_SAMPLES = 3
"""Fewest unsaturated samples a joint's motor model is fitted on (three coefficients)."""


def command_before(traj: Trajectory, times: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The command sent last strictly before each time (the first command before it), shape (N, m).

    Args:
        traj: A log with commands.
        times: Shape (N,) [s].
        cols: Columns of ``traj.command`` to return, shape (m,).
    """
    idx = np.searchsorted(traj.command_t, np.asarray(times) - 1e-9, side="left") - 1
    return traj.command[np.maximum(idx, 0)][:, cols]


def fit_motor_models(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    ridge: float = 1e-6,
    model: mujoco.MjModel | None = None,
    delays: Mapping[str, float] | None = None,
) -> dict[str, MotorModel]:
    """Fit one motor model per actuated joint over all logs that measure effort.

    Each joint's input is its drive's (:data:`~sim2real.sim.net_actuator.DRIVE_INPUTS`): the
    position error ``target - q`` for a ``pd`` drive, the command for ``torque`` and ``dc_motor``.
    Logs without effort, and logs whose effort column is the command itself (e.g. a CSV whose only
    torque column is the commanded torque), are skipped, and so are samples whose effort is at the
    drive's torque limit (:data:`SATURATED`); joints with no usable log get no model.

    Args:
        spec: The robot.
        trajectories: Logs.
        ridge: Ridge penalty, relative to the number of samples, on standardized regressors.
        model: The robot's compiled model, which says which joints slide (None: every joint turns).
        delays: Actuated joint -> its drive's delay [s] (e.g. identified); absent joints: 0.

    Returns:
        Joint name -> motor model.
    """
    out: dict[str, MotorModel] = {}
    for act in spec.actuators:
        joint = act.joint
        error_input = DRIVE_INPUTS[act.model][0] == "position_error"
        us, vs, ys = [], [], []
        for traj in trajectories:
            if not traj.has_commands or joint not in (traj.command_joints or ()):
                continue
            efforts = traj.efforts_of([joint])  # None: not measured (for this joint, or any)
            if efforts is None:
                continue
            j, c = traj.joint_index(joint), traj.command_joints.index(joint)
            y = efforts[:, 0]
            sent = traj.command_at(traj.t, before_first=float(traj.command[0, c]))[:, c]
            if np.allclose(y, sent, rtol=0, atol=1e-12):
                continue  # the effort column echoes the command stamped with each reading
            delay = float((delays or {}).get(joint, 0.0))
            u = command_before(traj, traj.t - delay, np.array([c]))[:, 0]
            if error_input:
                u = u - traj.q[:, j]
            linear = np.abs(y) < SATURATED * act.torque_limit  # at the limit the torque is the limit's
            us.append(u[linear])
            vs.append(traj.qd[linear, j])
            ys.append(y[linear])
        if sum(y.size for y in ys) < MIN_SAMPLES:
            continue
        fit = ridge_motor_model(joint, np.concatenate(us), np.concatenate(vs), np.concatenate(ys), ridge)
        slide = model is not None and slides(model, "joint", model.joint(joint).id)
        out[joint] = dataclasses.replace(fit, drive=act.model, slide=slide)
    return out


def ridge_motor_model(
    joint: str, u: np.ndarray, v: np.ndarray, y: np.ndarray, ridge: float = 1e-6
) -> MotorModel:
    """``y = a u + b v + c`` by ridge regression on standardized regressors (intercept unpenalized).

    Args:
        joint: The joint it describes.
        u: Commands (or the drive's input), shape (n,).
        v: Joint velocities, shape (n,) [rad/s].
        y: Measured efforts, shape (n,) [N m].
        ridge: Penalty relative to the number of samples.
    """
    X = np.stack([u, v], axis=1)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Z = (X - mu) / sd
    yc = y - y.mean()
    n = Z.shape[0]
    beta = np.linalg.solve(Z.T @ Z + ridge * n * np.eye(2), Z.T @ yc)
    coef = beta / sd
    c = float(y.mean() - mu @ coef)
    pred = X @ coef + c
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - pred) ** 2)) / ss if ss > 0 else 1.0
    return MotorModel(joint, float(coef[0]), float(coef[1]), c, r2, int(n))
