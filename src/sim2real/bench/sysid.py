"""``sim2real bench sysid``: our identification against the seeds' recipe, on the same data, in one run.

Data: a 10 s log of the robot with parameters set away from nominal (:data:`TRUTH`), excited open
loop by chirp + PRBS, read by noisy encoders (0.5 mrad, 0.01 rad/s), recorded by
:func:`sim2real.sysid.synthetic.simulate_log`.  Both methods fit the same parameters (the
continuous ones of the robot's default set; the log has no delay, and neither method fits one)
from the nominal values, on the same windows (0.25 s from logged states), with the same
normalized residuals:

- **ours**: :func:`sim2real.sysid.identify` (trust-region least squares with the robust loss,
  Jacobians by finite differences computed in one ``mujoco.batch`` rollout per evaluation, then
  identifiability checks and confidence intervals, all included in the time);
- **seed recipe**: ``scipy.optimize.minimize(method="L-BFGS-B")`` on the sum of squared residuals
  (same scaled coordinates and bounds, gradients by its own finite differences), each evaluation
  a plain Python loop over windows and physics steps calling ``mujoco.mj_step`` on one
  ``MjModel`` whose parameters are written through :class:`sim2real.params.Parameters`.

Ours runs once before and once after the baseline (``seconds`` is the mean of the two), so that a
change of load on a shared machine hits both sides alike, after an untimed warm-up on one second
of the log (first-use imports).

Figures: ``seconds`` and ``seed_lbfgsb_seconds`` (wall time), ``max_rel_error`` and
``seed_lbfgsb_max_rel_error`` (largest relative error over the fitted parameters), ``speedup``.

**Twins and intervals** (``twin``): the robot's scenario of :mod:`sim2real.bench.scenarios` (a
twin with hidden values and every unmodeled effect, recorded through the control loop) identified
with our intervals and with the textbook ones (Gauss-Newton covariance, no step correction; the
baseline), in the same run: how many 95 % intervals hold the truth, the largest relative error.

**Legged** (``--robot quadruped``): the hung Go2-class twin (``record --fixed-base --excite chirp
--seconds 60`` then ``identify --fixed-base``, 72 parameters) with both interval methods, the
standing twin with a 25 % heavier trunk, and the base-state estimator on a 20 s open-loop trot
against leg odometry alone (the same filter with the accelerometer ignored).
"""

from __future__ import annotations

import logging
import time

import mujoco
import numpy as np
from scipy.optimize import minimize

from sim2real.bench.timing import machine
from sim2real.params import Parameters, is_delay
from sim2real.robots import load_robot
from sim2real.robots.model import build_model, joint_dof_indices, joint_qpos_indices
from sim2real.robots.spec import RobotSpec
from sim2real.sim.replay import Windows, build_windows
from sim2real.sysid.identify import IdentifyConfig, default_params, identify
from sim2real.sysid.synthetic import excitation_commands, simulate_log

log = logging.getLogger(__name__)

TRUTH: dict[str, dict[str, float]] = {
    "furuta": {
        "body.pendulum.mass": 0.027,
        "joint.arm.damping": 8.0e-4,
        "joint.pendulum.damping": 2.0e-5,
        "motor.motor.resistance": 9.3,
    },
    "pendulum": {
        "body.pole.mass": 0.75,
        "joint.hinge.damping": 0.3,
        "joint.hinge.frictionloss": 0.1,
        "joint.hinge.armature": 0.02,
    },
}
"""True (hidden) parameter values of the benchmark log, per robot."""

START_POSE = {"furuta": [0.0, np.pi]}
"""Initial joint positions (the furuta starts hanging)."""

DURATION = 10.0
"""Length of the benchmark log [s]."""

HORIZON = 0.25
"""Window length [s]."""


def make_log(spec: RobotSpec, seed: int = 0):
    """The benchmark log and its true values."""
    truth = TRUTH[spec.name]
    t = spec.control_dt * np.arange(round(DURATION / spec.control_dt))
    amplitude = {"furuta": 3.0, "pendulum": 3.0}[spec.name]
    commands = excitation_commands(spec, t, amplitude, seed=seed)
    commands[t < 0.1] = 0.0
    traj = simulate_log(
        spec,
        truth,
        commands,
        position_noise=5e-4,
        velocity_noise=0.01,
        seed=seed + 1,
        initial_qpos=START_POSE.get(spec.name),
        name=f"bench-{spec.name}",
    )
    return traj, truth


class _SeedReplay:
    """The seeds' objective: a Python loop over windows and physics steps with ``mujoco.mj_step``."""

    def __init__(self, spec: RobotSpec, windows: Windows, names: list[str], scale: np.ndarray) -> None:
        self.spec = spec
        self.windows = windows
        self.names = names
        self.scale = scale
        self.model = build_model(spec)
        self.params = Parameters(spec, self.model)
        self.data = mujoco.MjData(self.model)
        self.qadr = joint_qpos_indices(spec, self.model)
        self.vadr = joint_dof_indices(spec, self.model)
        self.act = [
            mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators
        ]
        w = windows
        q_start = w.q0[w.eval_window]
        qd_start = w.qd0[w.eval_window]
        self.s_q = np.maximum(np.sqrt(np.mean((w.q - q_start) ** 2, axis=0)), 1e-4)
        self.s_v = np.maximum(np.sqrt(np.mean((w.qd - qd_start) ** 2, axis=0)), 1e-3)
        self.evaluations = 0

    def objective(self, z: np.ndarray) -> float:
        self.evaluations += 1
        self.params.set(self.model, {n: zi * s for n, zi, s in zip(self.names, z, self.scale, strict=True)})
        w, m, d = self.windows, self.model, self.data
        nstep = w.nstep
        q_traj = np.empty((w.n_windows, nstep + 1, len(self.qadr)))
        v_traj = np.empty_like(q_traj)
        for i in range(w.n_windows):
            mujoco.mj_resetData(m, d)
            d.qpos[self.qadr] = w.q0[i]
            d.qvel[self.vadr] = w.qd0[i]
            q_traj[i, 0], v_traj[i, 0] = w.q0[i], w.qd0[i]
            for k in range(nstep):
                d.ctrl[self.act] = w.command[i, k]
                mujoco.mj_step(m, d)
                q_traj[i, k + 1] = d.qpos[self.qadr]
                v_traj[i, k + 1] = d.qvel[self.vadr]
        pos = w.eval_tau / w.dt
        k = np.clip(np.floor(pos).astype(int), 0, nstep - 1)
        frac = np.clip(pos - k, 0, 1)[:, None]
        q = q_traj[w.eval_window, k] + frac * (q_traj[w.eval_window, k + 1] - q_traj[w.eval_window, k])
        v = v_traj[w.eval_window, k] + frac * (v_traj[w.eval_window, k + 1] - v_traj[w.eval_window, k])
        r = np.concatenate([(q - w.q) / self.s_q, 0.3 * (v - w.qd) / self.s_v], axis=1)
        return 0.5 * float(np.sum(r * r))


def run_seed_recipe(spec: RobotSpec, traj, names: list[str]) -> tuple[dict[str, float], float, int, int]:
    """L-BFGS-B over the Python replay loop; returns (values, seconds, evaluations, physics steps)."""
    start = time.perf_counter()
    windows = build_windows(spec, [traj], HORIZON, velocity="auto")
    params = Parameters(spec, build_model(spec))
    infos = [params.info(n) for n in names]
    scale = np.array([max(abs(float(i.nominal[0])), 0.1 * float(i.high[0] - i.low[0])) for i in infos])
    bounds = [(float(i.low[0]) / s, float(i.high[0]) / s) for i, s in zip(infos, scale, strict=True)]
    replay = _SeedReplay(spec, windows, names, scale)
    z0 = np.array([float(i.nominal[0]) for i in infos]) / scale
    z0 = np.clip(
        z0, [b[0] + 1e-3 * (b[1] - b[0]) for b in bounds], [b[1] - 1e-3 * (b[1] - b[0]) for b in bounds]
    )
    result = minimize(replay.objective, z0, method="L-BFGS-B", bounds=bounds, options={"maxiter": 200})
    values = {n: float(x * s) for n, x, s in zip(names, result.x, scale, strict=True)}
    steps = replay.evaluations * windows.n_windows * windows.nstep
    return values, time.perf_counter() - start, replay.evaluations, steps


def _scenario(name: str, seed: int, fixed_base: bool = False, **config) -> dict:
    """One twin scenario identified with our intervals and with the textbook ones (the baseline)."""
    import tempfile
    from pathlib import Path

    from sim2real.bench.scenarios import SCENARIOS, hidden_values, record_scenario, score

    spec = load_robot(SCENARIOS[name].robot)
    truth = hidden_values(name)
    with tempfile.TemporaryDirectory(prefix="sim2real-bench-") as folder:
        log = record_scenario(name, Path(folder) / "log", seed=seed)
    out: dict = {"scenario": name, "log_seconds": SCENARIOS[name].seconds}
    for label, extra in (
        ("ours", {}),
        ("textbook", {"interval_method": "gauss_newton", "step_check": False}),
    ):
        result = identify(spec, [log], fixed_base=fixed_base, config=IdentifyConfig(**config, **extra))
        rows = score(result, truth, tolerance=0.15)
        out[label] = {
            "seconds": result.seconds,
            "params": len(rows),
            "inside": sum(r["inside"] for r in rows),
            "ok": sum(r["ok"] for r in rows),
            "unidentified": sum(not r["identifiable"] for r in rows),
            "max_rel_error_identified": max(
                (r["rel_error"] for r in rows if r["identifiable"] and r["rel_error"] is not None),
                default=None,
            ),
        }
    out["coverage_ratio"] = out["ours"]["inside"] / max(out["textbook"]["inside"], 1)
    return out


def _estimator(seed: int, seconds: float = 20.0) -> dict:
    """Base velocity RMSE of the estimator on the trotting twin, against leg odometry alone."""
    import tempfile
    from pathlib import Path

    from sim2real.deploy.record import TrotGait, record
    from sim2real.gap.core import base_velocity_estimate_error
    from sim2real.gap.metrics import estimate_rmse
    from sim2real.logs import read_bag
    from sim2real.real.estimator import EstimatorConfig, estimate_track
    from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot

    spec = load_robot("quadruped")
    with tempfile.TemporaryDirectory(prefix="sim2real-bench-") as folder:
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=seed)))
        record(twin, TrotGait(spec), seconds, Path(folder) / "log")
        log = read_bag(Path(folder) / "log")
    legs_only = estimate_track(spec, log, config=EstimatorConfig(accel_noise=1e3))
    truth = log.base_truth
    ours = base_velocity_estimate_error(log)
    baseline = estimate_rmse(legs_only.t, legs_only.lin_vel, truth.t, truth.lin_vel)
    return {
        "log_seconds": seconds,
        "mean_speed": float(np.mean(np.linalg.norm(truth.lin_vel[:, :2], axis=1))),
        "base_velocity_estimate_rmse": ours,
        "leg_odometry_rmse": baseline,
        "ratio": ours / baseline,
    }


def run_legged(seed: int = 0) -> dict:
    """The legged figures (module docstring)."""
    return {
        "robot": "quadruped",
        "hung": _scenario("quadruped_hung", seed, fixed_base=True),
        "hung_80_windows": _scenario("quadruped_hung", seed, fixed_base=True, max_windows=80),
        "standing": _scenario("quadruped_standing", seed),
        "estimator": _estimator(seed),
        "machine": machine(),
    }


def run(robot: str = "furuta", seed: int = 0) -> dict:
    """Measure both methods on the same log, and the robot's twin scenario (module docstring)."""
    if robot == "quadruped":
        return run_legged(seed)
    spec = load_robot(robot)
    if spec.name not in TRUTH:
        raise ValueError(f"bench sysid has presets for {', '.join(TRUTH)}, not '{spec.name}'")
    traj, truth = make_log(spec, seed)
    names = [n for n in default_params(spec) if not is_delay(n)]
    names = [n for n in names if n in truth] + [n for n in truth if n not in names]

    # ours before and after the baseline, so that a change of machine load hits both sides alike;
    # a short warm-up first, so that neither run pays for first-use imports
    config = IdentifyConfig(horizon=HORIZON)
    identify(spec, [traj.slice_time(0.0, 1.0)], names, config=config)
    first = identify(spec, [traj], names, config=config)
    seed_values, seed_seconds, evaluations, steps = run_seed_recipe(spec, traj, names)
    ours = identify(spec, [traj], names, config=config)
    ours_seconds = 0.5 * (first.seconds + ours.seconds)
    ours_values = {n: float(ours.params[n].value[0]) for n in names}

    def max_rel(values: dict[str, float]) -> float:
        return max(abs(values[n] - truth[n]) / abs(truth[n]) for n in names)

    return {
        "robot": spec.name,
        "params": names,
        "seconds": ours_seconds,
        "max_rel_error": max_rel(ours_values),
        "seed_lbfgsb_seconds": seed_seconds,
        "seed_lbfgsb_max_rel_error": max_rel(seed_values),
        "speedup": seed_seconds / ours_seconds,
        "rollouts": ours.nfev,
        "physics_steps": ours.physics_steps,
        "seed_lbfgsb_evaluations": evaluations,
        "seed_lbfgsb_physics_steps": steps,
        "values": ours_values,
        "seed_lbfgsb_values": seed_values,
        "truth": truth,
        "twin": _scenario(spec.name, seed),
        "machine": machine(),
    }
