"""sim2sim: a policy run in MuJoCo through the loop that deploys it, before it meets a robot.

:func:`run_sim2sim` drives a :class:`~sim2real.real.twin.TwinRobot` with no hidden parameter
(but the calibration a policy was trained on: the robot it is for) and no unmodeled effect (``TwinEffects.none``: the training simulator itself, the model's own implicit
PD actuators) through :func:`sim2real.deploy.loop_build.build_loop`: the same observation code
(:class:`~sim2real.policy.runtime.PolicyRunner`), safety monitor and control loop as on a robot,
at the last speed stage, from the default pose.  It reports, from the simulator's true state:

- ``fell``: the base tilted beyond ``safety.tilt`` (1 rad when the spec sets none) or went below
  ``safety.base_height[0]``, or the monitor latched a safe stop;
- ``mean_base_velocity`` [vx, vy, wz] over the second half of the run: the base velocity in the
  heading frame (world velocity rotated by the base yaw; vx forward) and the world yaw rate;
- ``tracking_error``: mean |v_xy - command_xy| [m/s] and |wz - command_wz| [rad/s], second half;
- ``torque_margin``: the smallest 1 - |tau| / torque limit over the run (and its joint);
- ``joint_limit_margin``: the smallest distance to the safety position limits [rad] (and its joint);
- ``safety``: the monitor's events by kind, whether it latched and why.

:func:`sim2sim_check` repeats the run on a deliberately different simulator (the twin's default
effects: a 4x finer timestep, RK4 instead of implicitfast, PD torques computed explicitly each
fine step instead of MuJoCo's implicit actuators, latency jitter, backlash, sensor noise, dropped
readings) and reports how much each figure moves; the gate (:class:`Sim2SimGate`) passes when
neither run falls or stops and the mean velocity moves less than its threshold.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.loop import LoopConfig, TickResult
from sim2real.deploy.loop_build import build_loop
from sim2real.deploy.speed import DEFAULT_STAGES, SpeedConfig
from sim2real.errors import Sim2RealError
from sim2real.policy.metadata import read_metadata
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots.spec import RobotSpec


@dataclass(frozen=True)
class Sim2SimGate:
    """Thresholds of the sim2sim gate: how far the figures may move between the two simulators."""

    velocity: float = 0.1
    """Largest change of the mean vx or vy [m/s] ..."""
    yaw_rate: float = 0.2
    """... and of the mean yaw rate [rad/s] ..."""
    relative: float = 0.2
    """... or this fraction of the commanded value, whichever is larger."""

    def describe(self) -> str:
        """The thresholds in one line."""
        return (
            f"no fall and no safe stop in either simulator; |change of mean vx, vy| <= max({self.velocity:g} m/s, "
            f"{100 * self.relative:g} % of the command), |change of mean wz| <= max({self.yaw_rate:g} rad/s, "
            f"{100 * self.relative:g} % of the command)"
        )


class _Recorder:
    """Samples the twin's true state after every tick."""

    def __init__(self, robot: TwinRobot) -> None:
        self.robot = robot
        self.t: list[float] = []
        self.q: list[np.ndarray] = []
        self.tau: list[np.ndarray] = []
        self.base: list[Any] = []

    def __call__(self, result: TickResult) -> None:
        q, _, tau = self.robot.joint_state()
        self.t.append(float(self.robot.data.time))
        self.q.append(q)
        self.tau.append(tau)
        if self.robot.spec.floating_base:
            self.base.append(self.robot.base_state())


def _yaw(quat: np.ndarray) -> float:
    w, x, y, z = quat
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _rotation(quat: np.ndarray) -> np.ndarray:
    w, x, y, z = quat
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def heading_velocity(quat: np.ndarray, lin_vel_world: np.ndarray, ang_vel_body: np.ndarray) -> np.ndarray:
    """[vx, vy, wz]: the world velocity in the heading frame (rotated by -yaw) and the world yaw rate."""
    yaw = _yaw(quat)
    c, s = math.cos(yaw), math.sin(yaw)
    vx = c * lin_vel_world[0] + s * lin_vel_world[1]
    vy = -s * lin_vel_world[0] + c * lin_vel_world[1]
    wz = float((_rotation(quat) @ ang_vel_body)[2])
    return np.array([vx, vy, wz])


def run_sim2sim(
    spec: RobotSpec,
    policy: str | Path,
    *,
    velocity_command: tuple[float, float, float] | None = None,
    seconds: float = 10.0,
    effects: TwinEffects | None = None,
    params: dict[str, np.ndarray] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run a policy file on a simulated robot through the deployment loop (module docstring).

    Args:
        spec: The robot.
        policy: The ``.onnx`` policy (made for this spec).
        velocity_command: (vx [m/s], vy [m/s], wz [rad/s]) for a velocity-tracking policy.
        seconds: Run length [s].
        effects: The simulator's unmodeled effects; default none (the training simulator).
        params: Hidden parameter values of the simulated robot; default: the calibration the policy
            was trained on (its metadata's, :attr:`PolicyMetadata.calibration`), else none: the
            robot the policy is for, and the model the deploy loop's collision observer predicts
            with (a nominal simulator under a calibrated policy read the difference as a collision).
        seed: Seed of the simulator's random effects.

    Returns:
        The figures (JSON-ready).
    """
    if not (math.isfinite(seconds) and seconds > 0):
        raise Sim2RealError(f"--seconds must be positive, got {seconds}")
    fx = dataclasses.replace(effects or TwinEffects.none(spec.integrator), seed=seed)
    if params is None:
        record = read_metadata(policy).calibration
        params = {str(k): np.atleast_1d(np.asarray(v, dtype=float)) for k, v in (record or {}).get("values", {}).items()}
    robot = TwinRobot(spec, TwinConfig(params=dict(params), effects=fx))
    config = LoopConfig(
        mode="lockstep",
        velocity_command=None if velocity_command is None else tuple(float(v) for v in velocity_command),
        speed=SpeedConfig(start_stage=len(DEFAULT_STAGES) - 1),
        episode_return=False,
    )
    recorder = _Recorder(robot)
    loop = build_loop(spec, robot, policy, config=config, on_tick=recorder)
    try:
        loop.run(seconds)
    finally:
        summary = loop.close()
        robot.close()
    out = _figures(spec, recorder, summary, velocity_command, seconds, fx)
    out["simulator"]["parameters"] = f"{len(params)} set (the policy's calibration or given)" if params else "nominal"
    return out


def _figures(
    spec: RobotSpec,
    rec: _Recorder,
    summary: dict[str, Any],
    command: tuple[float, float, float] | None,
    seconds: float,
    fx: TwinEffects,
) -> dict[str, Any]:
    t = np.array(rec.t)
    q = np.array(rec.q)
    tau = np.array(rec.tau)
    second = t >= t[-1] - 0.5 * (t[-1] - t[0]) - 1e-9 if t.size else np.zeros(0, dtype=bool)
    safety = summary["safety"]
    out: dict[str, Any] = {
        "robot": spec.name,
        "seconds": seconds,
        "ticks": summary["ticks"],
        "velocity_command": None if command is None else [float(v) for v in command],
        "simulator": {
            "integrator": fx.integrator,
            "timestep": spec.physics_dt / rec.robot.substep_factor,
            "actuators": "explicit, each fine step"
            if fx.explicit_actuators
            else "the model's own" + (" (implicit PD)" if any(a.model == "pd" for a in spec.actuators) else ""),
            "effects": {
                k: v
                for k, v in dataclasses.asdict(fx).items()
                if k not in ("integrator", "explicit_actuators")
            }
            | {"substep_factor": rec.robot.substep_factor},
        },
    }
    fell_at = None
    if spec.floating_base and rec.base:
        tilt_limit = spec.safety.tilt if spec.safety.tilt is not None else 1.0
        low = spec.safety.base_height_low
        for k, b in enumerate(rec.base):
            tilt = math.acos(max(-1.0, min(1.0, float(_rotation(b.quat)[2, 2]))))
            if tilt > tilt_limit or (low is not None and b.height < low):
                fell_at = float(t[k])
                break
        velocity = np.array([heading_velocity(b.quat, b.lin_vel_world, b.ang_vel) for b in rec.base])
        mean = velocity[second].mean(axis=0)
        out["mean_base_velocity"] = mean.tolist()
        if command is not None:
            cmd = np.asarray(command, dtype=float)
            out["tracking_error"] = {
                "linear": float(np.linalg.norm(velocity[second, :2] - cmd[:2], axis=1).mean()),
                "yaw_rate": float(np.abs(velocity[second, 2] - cmd[2]).mean()),
            }
        out["base_height"] = {
            "min": float(min(b.height for b in rec.base)),
            "mean_second_half": float(
                np.mean([b.height for b, s in zip(rec.base, second, strict=True) if s])
            ),
        }
    latched = bool(safety["latched"])
    out["fell"] = fell_at is not None or (latched and spec.floating_base)
    out["fell_at_s"] = fell_at
    limits = np.array([a.torque_limit for a in spec.actuators])
    if tau.size:
        use = np.abs(tau) / limits
        k, j = np.unravel_index(int(np.argmax(use)), use.shape)
        out["torque_margin"] = {
            "min_fraction": float(1.0 - use[k, j]),
            "joint": spec.actuators[j].joint,
            "peak_torque": float(tau[k, j]),
            "limit": float(limits[j]),
        }
        lo, hi = spec.safety.position_low, spec.safety.position_high
        margin = np.minimum(q - lo, hi - q)
        k, j = np.unravel_index(int(np.argmin(margin)), margin.shape)
        out["joint_limit_margin"] = {"min_rad": float(margin[k, j]), "joint": spec.joints[j]}
    out["safety"] = {
        "state": safety["state"],
        "latched": latched,
        "latch_reason": safety["latch_reason"],
        "events": safety["events"],
        "counters": safety["counters"],
    }
    out["policy"] = summary["policy"]
    return out


def sim2sim_check(
    spec: RobotSpec,
    policy: str | Path,
    *,
    velocity_command: tuple[float, float, float] | None = None,
    seconds: float = 10.0,
    gate: Sim2SimGate | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The nominal run and the same run on a deliberately different simulator, the changes, and
    the gate's verdict (module docstring)."""
    gate = gate or Sim2SimGate()
    nominal = run_sim2sim(spec, policy, velocity_command=velocity_command, seconds=seconds, seed=seed)
    other = run_sim2sim(
        spec, policy, velocity_command=velocity_command, seconds=seconds, effects=TwinEffects(), seed=seed
    )
    changes: dict[str, Any] = {}
    reasons = []
    for name, run in (("nominal", nominal), ("check", other)):
        if run["fell"]:
            reasons.append(
                f"the {name} run fell" + (f" at {run['fell_at_s']:.2f} s" if run["fell_at_s"] else "")
            )
        elif run["safety"]["latched"]:
            reasons.append(f"the {name} run ended in a safe stop ({run['safety']['latch_reason']})")
    if "mean_base_velocity" in nominal and "mean_base_velocity" in other:
        delta = np.array(other["mean_base_velocity"]) - np.array(nominal["mean_base_velocity"])
        changes["mean_base_velocity"] = delta.tolist()
        cmd = np.zeros(3) if velocity_command is None else np.abs(np.asarray(velocity_command, dtype=float))
        allowed = np.maximum([gate.velocity, gate.velocity, gate.yaw_rate], gate.relative * cmd)
        changes["allowed"] = allowed.tolist()
        for label, d, a in zip(("vx", "vy", "wz"), delta, allowed, strict=True):
            if abs(d) > a:
                reasons.append(f"mean {label} moved by {d:+.3f} (allowed {a:.3f})")
    for key, sub in (
        ("tracking_error", "linear"),
        ("tracking_error", "yaw_rate"),
        ("torque_margin", "min_fraction"),
        ("joint_limit_margin", "min_rad"),
    ):
        if key in nominal and key in other:
            changes[f"{key}.{sub}"] = other[key][sub] - nominal[key][sub]
    return {
        "nominal": nominal,
        "check": other,
        "changes": changes,
        "gate": {"passed": not reasons, "reasons": reasons, "thresholds": gate.describe()},
    }
