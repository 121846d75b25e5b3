"""Reference models outside MuJoCo, replayed with the same windows as the simulator.

A lab's own identified model is the figure to beat: :class:`PendulumFit` is the rigid-pendulum
form the DFKI Underactuated Lab publishes (``published_fit.txt`` of the real pendulum recordings)::

    tau = J * qdd + m*cx * g * sin(q) + Fv * qd + Fc * atan(100 * qd) + offset

:func:`replay_reference` integrates any such ``qdd = f(q, qd, command)`` model over the windows of
:func:`sim2real.sim.replay.build_windows` with the same initial states, the same zero-order hold
of the commands on the physics grid and the same interpolation at the log's sample times, by
classic RK4 with ``substeps`` steps per physics step, vectorized over windows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.sim.replay import Windows
from sim2real.text import read_text

__all__ = ["PendulumFit", "replay_reference"]

Acceleration = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``f(q (W, n), qd (W, n), command (W, m)) -> qdd (W, n)``."""


@dataclass(frozen=True)
class PendulumFit:
    """``tau = J qdd + mcx g sin(q) + Fv qd + Fc atan(k qd) + offset`` (one joint, SI units)."""

    J: float
    """Inertia about the joint [kg m^2]."""
    mcx: float
    """Mass times centre-of-mass distance [kg m]."""
    Fv: float
    """Viscous friction [N m s/rad]."""
    Fc: float
    """Coulomb friction [N m]."""
    offset: float
    """Constant torque offset [N m]."""
    g: float = 9.81
    """Gravity [m/s^2]."""
    k: float = 100.0
    """Slope of the smooth Coulomb term [s/rad]."""

    @classmethod
    def from_text(cls, text: str, g: float = 9.81) -> PendulumFit:
        """Parse the lab's text format (lines ``J = +6.259e-02``, ``m*cx = ...``, ...)."""
        found = {}
        for key in ("J", "m*cx", "Fv", "Fc", "offset"):
            m = re.search(rf"^\s*{re.escape(key)}\s*=\s*([-+0-9.eE]+)", text, flags=re.MULTILINE)
            if m is None:
                raise Sim2RealError(f"published fit: no line '{key} = <number>'")
            found[key] = float(m.group(1))
        slope = re.search(r"atan\(\s*([0-9.eE+]+)\s*\*", text)
        return cls(
            J=found["J"],
            mcx=found["m*cx"],
            Fv=found["Fv"],
            Fc=found["Fc"],
            offset=found["offset"],
            g=g,
            k=float(slope.group(1)) if slope else 100.0,
        )

    @classmethod
    def from_file(cls, path: str | Path, g: float = 9.81) -> PendulumFit:
        """Read ``published_fit.txt``."""
        path = Path(path)
        if not path.is_file():
            raise Sim2RealError(f"published fit not found: {path}")
        return cls.from_text(read_text(path, Sim2RealError, "published fit"), g=g)

    def acceleration(self, q: np.ndarray, qd: np.ndarray, command: np.ndarray) -> np.ndarray:
        """Joint acceleration [rad/s^2] under a joint torque command [N m]; shapes (W, 1)."""
        return (
            command
            - self.mcx * self.g * np.sin(q)
            - self.Fv * qd
            - self.Fc * np.arctan(self.k * qd)
            - self.offset
        ) / self.J


def replay_reference(
    windows: Windows, acceleration: Acceleration, substeps: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions of an ODE model at the windows' evaluation samples.

    Args:
        windows: Replay windows (the model's joints are the windows' joints, in order).
        acceleration: ``qdd = f(q, qd, command)`` on (W, n), (W, n), (W, m) arrays.
        substeps: RK4 steps per physics step.

    Returns:
        (positions, velocities), each shape (E, n).
    """
    W, nstep = windows.n_windows, windows.nstep
    h = windows.dt / substeps
    q = windows.q0.astype(float).copy()
    v = windows.qd0.astype(float).copy()
    traj_q = np.empty((nstep + 1, *q.shape))
    traj_v = np.empty_like(traj_q)
    traj_q[0], traj_v[0] = q, v
    for k in range(nstep):
        u = windows.command[:, k, :]
        for _ in range(substeps):
            a1 = acceleration(q, v, u)
            q2, v2 = q + 0.5 * h * v, v + 0.5 * h * a1
            a2 = acceleration(q2, v2, u)
            q3, v3 = q + 0.5 * h * v2, v + 0.5 * h * a2
            a3 = acceleration(q3, v3, u)
            q4, v4 = q + h * v3, v + h * a3
            a4 = acceleration(q4, v4, u)
            q = q + h / 6.0 * (v + 2 * v2 + 2 * v3 + v4)
            v = v + h / 6.0 * (a1 + 2 * a2 + 2 * a3 + a4)
        traj_q[k + 1], traj_v[k + 1] = q, v
    pos = windows.eval_tau / windows.dt
    k = np.clip(np.floor(pos).astype(np.int64), 0, nstep - 1)
    frac = np.clip(pos - k, 0.0, 1.0)[:, None]
    w = windows.eval_window
    del W

    def at(traj: np.ndarray) -> np.ndarray:
        return traj[k, w] + frac * (traj[k + 1, w] - traj[k, w])

    return at(traj_q), at(traj_v)
