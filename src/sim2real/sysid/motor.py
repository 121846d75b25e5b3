"""Motor model of torque-sensing robots: ``tau_actual = a * tau_cmd + b * qd + c`` by ridge regression.

For an actuator whose log records both the command and the measured joint effort, a linear model
of the effort the motor actually delivers: ``a`` is the gain (1 for an ideal torque actuator,
``kt / R`` for a DC motor driven by voltage), ``b`` the velocity term (back-EMF and viscous loss,
``-kt ke / R`` for a DC motor), ``c`` a constant offset.  Ridge regression on standardized
regressors (a small ``ridge`` keeps nearly constant logs well posed), the intercept unpenalized.
Samples are the joint-state samples, with the command in force at each (zero-order hold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim2real.logs.trajectory import Trajectory
from sim2real.robots.spec import RobotSpec

__all__ = ["MotorModel", "fit_motor_models", "ridge_motor_model"]


@dataclass(frozen=True)
class MotorModel:
    """``tau_actual = a * command + b * qd + c`` for one actuated joint."""

    joint: str
    """Actuated joint."""
    a: float
    """Gain on the command [N m per command unit]."""
    b: float
    """Velocity coefficient [N m s/rad]."""
    c: float
    """Constant [N m]."""
    r2: float
    """Coefficient of determination of the fit."""
    samples: int
    """Number of samples used."""

    def predict(self, command: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """Delivered effort [N m] for commands and joint velocities of the same shape."""
        return self.a * np.asarray(command) + self.b * np.asarray(qd) + self.c

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"a": self.a, "b": self.b, "c": self.c, "r2": self.r2, "samples": self.samples}


def fit_motor_models(
    spec: RobotSpec, trajectories: Sequence[Trajectory], ridge: float = 1e-6
) -> dict[str, MotorModel]:
    """Fit one motor model per actuated joint over all logs that measure effort.

    Logs without effort, and logs whose effort column is the command itself (e.g. a CSV whose only
    torque column is the commanded torque), are skipped; joints with no usable log get no model.

    Args:
        spec: The robot.
        trajectories: Logs.
        ridge: Ridge penalty, relative to the number of samples, on standardized regressors.

    Returns:
        Joint name -> motor model.
    """
    out: dict[str, MotorModel] = {}
    for joint in spec.actuated_joints:
        us, vs, ys = [], [], []
        for traj in trajectories:
            if traj.tau is None or not traj.has_commands or joint not in (traj.command_joints or ()):
                continue
            j = traj.joint_index(joint)
            u = traj.command_at(traj.t, before_first=float(traj.command[0, traj.command_joints.index(joint)]))
            u = u[:, traj.command_joints.index(joint)]
            y = traj.tau[:, j]
            if np.allclose(y, u, rtol=0, atol=1e-12):
                continue
            us.append(u)
            vs.append(traj.qd[:, j])
            ys.append(y)
        if not us:
            continue
        out[joint] = ridge_motor_model(
            joint, np.concatenate(us), np.concatenate(vs), np.concatenate(ys), ridge
        )
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
