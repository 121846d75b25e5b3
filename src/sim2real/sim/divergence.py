"""One MuJoCo step that says when the simulation diverged.

When accelerations turn non-finite or huge, ``mj_step`` warns (``mjWARN_BADQACC``) and resets the
data to the model's reference state, time zero: a caller that keeps stepping goes on from there
as if nothing happened (a twin's clock then runs backwards).  :func:`checked_step` raises instead.
"""

from __future__ import annotations

import mujoco

from sim2real.errors import SimulationError

__all__ = ["checked_step"]


def checked_step(model: mujoco.MjModel, data: mujoco.MjData, hint: str) -> None:
    """``mj_step``; raise when MuJoCo reset a diverged simulation in it.

    Args:
        model: The model.
        data: Its data (stepped in place).
        hint: What to try, appended to the message (e.g. another integrator or timestep).

    Raises:
        SimulationError: one line naming the simulated time at which it diverged.
    """
    warning = data.warning[mujoco.mjtWarning.mjWARN_BADQACC]
    before, t = int(warning.number), float(data.time)
    mujoco.mj_step(model, data)
    if int(warning.number) > before:
        raise SimulationError(f"the simulation diverged at t = {t:.3f} s (MuJoCo reset it): {hint}")
