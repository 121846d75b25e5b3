"""``robot init``: what the model's physics settings call for, beyond its joints and actuators.

- the constraint solver: a model tuned for MJX (``iterations`` 1-4, Menagerie's ``*_mjx.xml``) gets
  MuJoCo's defaults (:func:`solver_override`, an override in the spec's ``control``);
- what to check (:func:`physics_checks`): equality constraints (closed chains, coupled joints:
  Menagerie's Cassie), and a gravity that is not about 9.81 m/s^2 downwards (a scene that sets
  another one: training randomizes around the spec's bounds, the replay and the twin use the model's).
"""

from __future__ import annotations

import mujoco
import numpy as np

__all__ = ["MIN_SOLVER_ITERATIONS", "physics_checks", "solver_override"]

MIN_SOLVER_ITERATIONS = 10
"""Fewer constraint solver iterations than this (models tuned for MJX set 1-4) are raised to MuJoCo's
defaults: at sim2real's timestep and with its actuators they let the contacts diverge."""


def solver_override(model: mujoco.MjModel, inferred: list[str]) -> dict[str, int]:
    """``control.iterations`` / ``ls_iterations`` when the model's are too few (MuJoCo's defaults),
    said in ``inferred``; empty when the model's are kept."""
    if int(model.opt.iterations) >= MIN_SOLVER_ITERATIONS:
        return {}
    default = mujoco.MjOption()
    out = {"iterations": int(default.iterations)}
    if int(model.opt.ls_iterations) < int(default.ls_iterations):
        out["ls_iterations"] = int(default.ls_iterations)
    inferred.append(
        f"solver iterations {int(model.opt.iterations)} (line search {int(model.opt.ls_iterations)}) are tuned "
        f"for MJX: MuJoCo's defaults {out['iterations']} / {out.get('ls_iterations', int(model.opt.ls_iterations))} "
        "instead (control.iterations, control.ls_iterations; an override)"
    )
    return out


def physics_checks(model: mujoco.MjModel) -> list[str]:
    """Lines for the user to check: equality constraints, an unusual gravity."""
    out = []
    if model.neq:
        kinds = sorted({mujoco.mjtEq(int(t)).name.removeprefix("mjEQ_").lower() for t in model.eq_type})
        out.append(
            f"{model.neq} equality constraints ({', '.join(kinds)}: closed chains or coupled joints): give every joint "
            "they move to --joints if the robot measures it (deploy refuses unmeasured moving joints), and gains "
            "only for the driven ones"
        )
    g = np.asarray(model.opt.gravity, dtype=float)
    norm = float(np.linalg.norm(g))
    if not (9.0 <= norm <= 10.5 and g[2] < -0.9 * norm):
        out.append(
            f"the model's gravity is {g.round(4).tolist()} m/s^2, not about 9.81 downwards: record, gap, identify and "
            "the twin use it as it is, training randomizes world.gravity within the spec's bounds"
        )
    return out
