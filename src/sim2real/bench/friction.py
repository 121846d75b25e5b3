"""``sim2real bench friction``: the joint friction model on the real recordings (issue 17).

For each robot with real recordings (``../shared/data/real``: the DFKI pendulum, the QUBE-Servo
2), each split of its recordings into fit and held-out ones:

- **today**: ``identify`` with the robot's default parameters on the fit recordings (the
  calibration of ``tests/sysid/test_real_data.py``);
- **friction**: on top of today's calibrated model (its values held), the friction model of the
  driven joint identified on the same recordings: Coulomb (``frictionloss``), viscous
  (``damping``) and Stribeck friction and velocity (:mod:`sim2real.robots.friction`);
- **together**: every default parameter and the friction model identified at once.

Every calibration predicts every recording in 0.25 s windows from the logged states (position
RMSE at the log's sample times, :func:`sim2real.gap.measure_gap`), the nominal model too.

With ``oracle``, each split also gets an upper bound of what any parameter values can do: the
default parameters, then the default parameters with the friction model, optimized (Nelder-Mead
within their plausible bounds, from today's calibration) directly on the *held-out* recordings'
error. Not a fit (it sees the held-out files): how much of the held-out error friction can explain
at all, whatever identification finds.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim2real.bench.timing import machine
from sim2real.errors import Sim2RealError

if TYPE_CHECKING:
    import mujoco

    from sim2real.logs import Trajectory
    from sim2real.robots import RobotSpec

HORIZON = 0.25
"""Window length of the prediction error [s]."""

ORACLE_EVALUATIONS = 150
"""Held-out error evaluations of each oracle optimization."""

REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "real"
"""The shared recordings (next to the project folder)."""


def _setups(folder: Path) -> list[tuple[str, Any, list, list[tuple[list[int], list[int]]], str, Any]]:
    from sim2real.logs import load_real_pendulum, load_real_qube
    from sim2real.robots import load_robot
    from sim2real.sysid import IdentifyConfig

    pendulum = [load_real_pendulum(folder / "pendulum" / f"{n}.csv") for n in ("pd_excitation", "energy_shaping")]
    qube = [load_real_qube(f) for f in sorted((folder / "qube").glob("*.csv"))]
    return [
        ("pendulum", load_robot("pendulum"), pendulum, [([1], [0]), ([0], [1])], "hinge", IdentifyConfig()),
        (
            "furuta",
            load_robot("furuta"),
            qube,
            [([0, 1], [2, 3]), ([2, 3], [0, 1])],
            "arm",
            IdentifyConfig(horizon=HORIZON, stride=0.5),
        ),
    ]


def held_out_bound(
    spec: RobotSpec, logs: Sequence[Trajectory], model: mujoco.MjModel, names: Sequence[str]
) -> tuple[float, dict[str, float]]:
    """The lowest mean held-out position RMSE over ``names`` within their plausible bounds
    (Nelder-Mead from ``model``'s values, in bound-normalized coordinates), and the values.

    Args:
        spec: The robot.
        logs: The recordings scored (their mean 0.25 s window position RMSE [rad]).
        model: Compiled model the search starts from (not changed).
        names: Scalar parameters searched.

    Returns:
        (lowest error [rad], the values reaching it by name).

    Raises:
        Sim2RealError: a parameter with more than one value (``body.<b>.com``).
    """
    import numpy as np
    from scipy.optimize import minimize

    from sim2real.gap import measure_gap
    from sim2real.params import Parameters

    registry = Parameters(spec, model)
    wide = [n for n in names if registry.info(n).size != 1]
    if wide:
        raise Sim2RealError(f"held_out_bound searches scalar parameters; {wide[0]} has {registry.info(wide[0]).size}")
    low = np.array([float(registry.info(n).low[0]) for n in names])
    high = np.array([float(registry.info(n).high[0]) for n in names])
    start = np.array([float(np.ravel(registry.get(model, n))[0]) for n in names])

    def values(z: np.ndarray) -> dict[str, np.ndarray]:
        return {n: np.array([v]) for n, v in zip(names, low + np.clip(z, 0.0, 1.0) * (high - low), strict=True)}

    def error(z: np.ndarray) -> float:
        trial = copy.copy(model)
        Parameters(spec, trial).set(trial, values(z))
        return float(np.mean([measure_gap(spec, log, model=trial, horizon=HORIZON).position_rmse for log in logs]))

    z0 = np.clip((start - low) / np.maximum(high - low, 1e-12), 0.0, 1.0)
    best = minimize(error, z0, method="Nelder-Mead", options={"maxfev": ORACLE_EVALUATIONS, "xatol": 1e-4})
    return float(best.fun), {n: float(v[0]) for n, v in values(best.x).items()}


def run(folder: str | Path | None = None, oracle: bool = False) -> dict[str, Any]:
    """Measure and return the figures (module docstring).

    Raises:
        Sim2RealError: the recordings are not there.
    """
    from sim2real.gap import measure_gap
    from sim2real.params import Parameters
    from sim2real.sysid import calibrated_model, default_params, identify

    folder = Path(folder) if folder is not None else REAL
    if not (folder / "pendulum").is_dir() or not (folder / "qube").is_dir():
        raise Sim2RealError(f"the real recordings are not at {folder} (pendulum/ and qube/)")
    load = list(os.getloadavg())
    rows = []
    for robot, spec, logs, splits, joint, config in _setups(folder):
        base = default_params(spec)
        friction = [f"joint.{joint}.{q}" for q in ("frictionloss", "damping", "stribeck", "stribeck_velocity")]
        nominal = [measure_gap(spec, log, horizon=HORIZON).position_rmse for log in logs]
        for fit, held in splits:
            chosen = [logs[i] for i in fit]
            start = time.perf_counter()
            today = calibrated_model(spec, identify(spec, chosen, base, config=config).calibration())
            refined = identify(spec, chosen, friction, config=config, model=today)
            with_friction = copy.copy(today)
            Parameters(spec, with_friction).set(with_friction, {k: v.value for k, v in refined.params.items()})
            both = identify(spec, chosen, base + [n for n in friction if n not in base], config=config)
            together = calibrated_model(spec, both.calibration())
            seconds = time.perf_counter() - start
            bound = {}
            if oracle:
                held_logs = [logs[i] for i in held]
                bound["oracle_today"], bound["oracle_today_values"] = held_out_bound(spec, held_logs, today, base)
                extra = [n for n in friction if n not in base]
                bound["oracle_friction"], bound["oracle_friction_values"] = held_out_bound(
                    spec, held_logs, today, base + extra
                )
            for i, log in enumerate(logs):
                rows.append(
                    {
                        "robot": robot,
                        "file": Path(str(log.meta.get("source", i))).name,
                        "fit_on": [Path(str(logs[k].meta.get("source", k))).name for k in fit],
                        "held_out": i in held,
                        "nominal": nominal[i],
                        "today": measure_gap(spec, log, model=today, horizon=HORIZON).position_rmse,
                        "friction": measure_gap(spec, log, model=with_friction, horizon=HORIZON).position_rmse,
                        "together": measure_gap(spec, log, model=together, horizon=HORIZON).position_rmse,
                        "friction_values": {k: v.value.tolist() for k, v in refined.params.items()},
                        "seconds": seconds,
                        **(bound if i in held else {}),
                    }
                )
    return {"horizon": HORIZON, "rows": rows, "load": load + list(os.getloadavg()), "machine": machine()}
