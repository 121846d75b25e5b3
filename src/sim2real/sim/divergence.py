"""Saying when a simulation diverged.

When positions, velocities or accelerations turn non-finite or huge, ``mj_step`` warns
(``mjWARN_BADQPOS``, ``mjWARN_BADQVEL``, ``mjWARN_BADQACC``: :data:`~sim2real.robots.model.RESET_WARNINGS`) and resets the
data to the model's reference state, time zero: a caller that keeps stepping goes on from there
as if nothing happened (a twin's clock then runs backwards).  :func:`checked_step` raises instead.
``mujoco.batch`` stops such a simulation and repeats its last records (``BatchSim.diverged`` lists
them); :func:`refuse_diverged` is the one error line of a replay that did.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.errors import SimulationError
from sim2real.robots.model import resets

__all__ = ["checked_step", "refuse_diverged"]


def checked_step(model: mujoco.MjModel, data: mujoco.MjData, hint: str) -> None:
    """``mj_step``; raise when MuJoCo reset a diverged simulation in it.

    Args:
        model: The model.
        data: Its data (stepped in place).
        hint: What to try, appended to the message (e.g. another integrator or timestep).

    Raises:
        SimulationError: one line naming the simulated time at which it diverged.
    """
    before, t = resets(data), float(data.time)
    mujoco.mj_step(model, data)
    if resets(data) > before:
        raise SimulationError(f"the simulation diverged at t = {t:.3f} s (MuJoCo reset it): {hint}")


def refuse_diverged(diverged: np.ndarray, t0: np.ndarray, n_windows: int, what: str) -> None:
    """One error line when replay windows diverged (their records are of a frozen simulation).

    Args:
        diverged: Indices of the windows that diverged (``Replayer.diverged``), shape (d,).
        t0: Start time of every window in the log [s], shape (n_windows,).
        n_windows: Number of windows replayed.
        what: What this means for the caller (e.g. "no gap measured").

    Raises:
        SimulationError: when ``diverged`` is not empty.
    """
    if len(diverged):
        raise SimulationError(
            f"{what}: the replay diverged in {len(diverged)} of {n_windows} windows (the first from "
            f"t = {float(t0[diverged[0]]):.3f} s of the log; MuJoCo stopped them): the log or the model is "
            "unstable (a record whose twin diverged?): check the model's gains, armature, solver settings and timestep"
        )
