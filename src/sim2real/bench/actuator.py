"""``sim2real bench actuator``: actuator networks against the identified drive model (issue 17).

``--robot quadruped`` (torque prediction): the Go2-class twin hung by its base with Stribeck
friction, 4 mrad of backlash and torque-speed saturation (scenario ``quadruped_actuator``) is
recorded for 60 s of chirp (seed 0) and 20 s of PRBS (seed 1); ``identify --fixed-base`` and
``actuator fit`` (MLP and GRU) run on the chirp; every model predicts the PRBS recording's torque.

``--robot furuta`` (policies): the furuta twin of scenario ``furuta`` (hidden masses, damping,
motor resistance, 3 ms latency) with Stribeck friction on the arm and torque-speed saturation
(:data:`FURUTA_EFFECTS`) is recorded for 30 s of chirp and 20 s of PRBS
(:data:`FURUTA_EXCITATION`).  Round 1: ``identify`` on both, a first policy trained on that
calibration runs :data:`FIRST_EPISODES` episodes on the twin at full speed, logged (the first
deployment of the loop, once its speed stages are passed: at 10 % the velocity governor keeps the
arm below the swing-up's speeds, and the log would not reach them).  Round 2: ``identify`` and
``actuator fit`` on the three logs; two policies train for the same number of environment steps
on that calibration, one with the identified DC-motor equation and one with the fitted network
as the arm's drive, under the same randomization (the
``default`` one without its motor-constant lines, which a network has no parameters for); each
then runs ``episodes`` episodes on the twin through the control loop (safety monitor, speed
stages), success by the task's own rule.  The deployment log is there because a network is only
as good as the states its logs cover: fitted on the excitation alone (arm speeds to 7 rad/s), the
policy trained through it drove the arm to 20 rad/s where the network extrapolates, and failed
32 of 32 twin episodes.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.bench.scenarios import hidden_values, record_scenario
from sim2real.bench.timing import machine
from sim2real.robots import load_robot

log = logging.getLogger(__name__)

FURUTA_EFFECTS: dict[str, float] = {"no_load_speed": 30.0}
"""Unmodeled drive effect of the furuta twin of the policy comparison (besides the defaults)."""

FURUTA_EXCITATION: tuple[tuple[str, float, int], ...] = (("chirp", 30.0, 0), ("prbs", 20.0, 1))
"""The furuta twin's recordings both drive models are fitted on: (excitation, seconds, seed offset).
The chirp alone reaches 5.2 V and 6.3 rad/s of the arm; the swing-up uses the full 10 V, and a
network fitted on the chirp alone extrapolates there (a policy trained through it failed 32 of 32
twin episodes); the PRBS reaches 10 V."""

FIRST_EPISODES = 16
"""Episodes of the first policy on the twin whose log both drive models are fitted on as well."""

FURUTA_FRICTION: dict[str, float] = {"joint.arm.frictionloss": 1.0e-3, "joint.arm.stribeck": 1.0e-3}
"""Hidden arm friction of that twin [N m] (Stribeck velocity: the default 0.1 rad/s)."""


def run(robot: str = "quadruped", steps: int | None = None, episodes: int = 32, seed: int = 0) -> dict[str, Any]:
    """Measure and return the figures of one robot (module docstring); ``steps`` (default 3 M)
    and ``episodes`` are the furuta policies' training budget and twin episodes."""
    with tempfile.TemporaryDirectory(prefix="bench-actuator-") as folder:
        if robot == "quadruped":
            return _torque(Path(folder))
        if robot == "furuta":
            return _policies(Path(folder), steps or 3_000_000, episodes=episodes, seed=seed)
    from sim2real.errors import Sim2RealError

    raise Sim2RealError(f"bench actuator runs on quadruped (torque) or furuta (policies), not {robot!r}")


def _torque(folder: Path) -> dict[str, Any]:
    from sim2real.calibration import calibrated_model
    from sim2real.sim.net_actuator import ActuatorNet
    from sim2real.sysid import identify
    from sim2real.sysid.actuator_data import drive_model, evaluate_net
    from sim2real.sysid.actuator_fit import NetFitConfig, fit_actuator_net

    spec = load_robot("quadruped")
    load = list(os.getloadavg())
    chirp = record_scenario("quadruped_actuator", folder / "chirp", seed=0)
    prbs = record_scenario("quadruped_actuator", folder / "prbs", seed=1, seconds=20.0, kind="prbs")
    start = time.perf_counter()
    calib = identify(spec, [chirp], fixed_base=True).calibration()
    identify_s = time.perf_counter() - start
    drive = drive_model(spec, calibrated_model(spec, calib), spec.actuated_joints)
    out: dict[str, Any] = {"robot": "quadruped", "identify_seconds": identify_s, "models": {}}
    for kind in ("mlp", "gru"):
        start = time.perf_counter()
        fit = fit_actuator_net(
            spec, [chirp], folder / f"{kind}.onnx", config=NetFitConfig(kind=kind), drive=drive
        )
        seconds = time.perf_counter() - start
        figures = evaluate_net(spec, ActuatorNet(folder / f"{kind}.onnx"), [prbs], drive)
        net, pd = figures["net_torque_rmse"]["overall"], figures["pd_torque_rmse"]["overall"]
        out["models"][kind] = {
            "fit_seconds": seconds,
            "validation_net_torque_rmse": fit.net_torque_rmse["overall"],
            "validation_pd_torque_rmse": fit.pd_torque_rmse["overall"],
            "prbs_net_torque_rmse": net,
            "prbs_pd_torque_rmse": pd,
            "prbs_ridge_torque_rmse": figures["ridge_torque_rmse"]["overall"],
            "prbs_ratio_to_pd": net / pd,
        }
    out["load"] = load + list(os.getloadavg())
    out["machine"] = machine()
    return out


def _policies(folder: Path, steps: int, episodes: int, seed: int) -> dict[str, Any]:
    from sim2real.calibration import calibrated_model
    from sim2real.logs import read_bag
    from sim2real.real.twin import TwinConfig, TwinEffects
    from sim2real.sim.net_actuator import with_actuator_net
    from sim2real.sysid import identify
    from sim2real.sysid.actuator_data import drive_model
    from sim2real.sysid.actuator_fit import NetFitConfig, fit_actuator_net

    spec = load_robot("furuta")
    hidden = {**hidden_values("furuta"), **FURUTA_FRICTION}
    twin = TwinConfig(
        params={k: np.atleast_1d(v) for k, v in hidden.items()},
        effects=TwinEffects(seed=seed, **FURUTA_EFFECTS),
    )
    logs = []
    for kind, seconds, offset in FURUTA_EXCITATION:
        _record(spec, twin, folder / kind, seconds=seconds, seed=seed + offset, kind=kind)
        logs.append(read_bag(folder / kind))
    # round 1: a first policy on the excitation's calibration, deployed on the twin and logged
    first_calib = identify(spec, logs).calibration()
    deployed = folder / "first_deploy"
    first = _train_and_deploy(
        spec, spec, first_calib, folder / "first", steps, FIRST_EPISODES, seed, twin, log=deployed, full_speed=True
    )
    logs.append(read_bag(deployed))
    # round 2: both drive models from the same three logs, a policy through each
    calib = identify(spec, logs).calibration()
    drive = drive_model(spec, calibrated_model(spec, calib), spec.actuated_joints)
    fit = fit_actuator_net(spec, logs, folder / "arm.onnx", config=NetFitConfig(seed=seed), drive=drive)
    net_spec = with_actuator_net(spec, folder / "arm.onnx")
    arms = {
        name: _train_and_deploy(train_spec, spec, calib, folder / name, steps, episodes, seed, twin)
        for name, train_spec in (("identified_dc_motor", spec), ("actuator_network", net_spec))
    }
    return {
        "robot": "furuta",
        "steps": steps,
        "episodes": episodes,
        "logs": {
            "excitation": [f"{kind} {seconds:g} s" for kind, seconds, _ in FURUTA_EXCITATION],
            "first_deployment": f"{FIRST_EPISODES} episodes of the first policy on the twin at full speed",
        },
        "first_policy": first,
        "net_validation": {k: fit.summary()[k]["overall"] for k in ("net_torque_rmse", "pd_torque_rmse")},
        "policies": arms,
        "machine": machine(),
    }


def _train_and_deploy(
    train_spec,
    spec,
    calib,
    folder: Path,
    steps: int,
    episodes: int,
    seed: int,
    twin,
    log: Path | None = None,
    full_speed: bool = False,
) -> dict[str, Any]:
    """Train through ``train_spec``'s drives on the calibrated model, export, and run ``episodes``
    on the twin (its own drive: ``spec``); ``log``: the twin run's bag; ``full_speed``: at the last
    speed stage (else the progression from 10 %)."""
    from sim2real.calibration import calibrated_model
    from sim2real.deploy.speed import SpeedConfig
    from sim2real.params import Parameters
    from sim2real.pipeline.episodes import run_episodes_on_twin
    from sim2real.pipeline.training import train_policy
    from sim2real.policy.export import export_policy
    from sim2real.randomize.config import CONFIG_DIR, read_yaml
    from sim2real.robots.model import build_model
    from sim2real.train.checkpoint import load_policy

    # the default randomization without its motor-constant lines, which a network has no parameters for
    randomization = {k: v for k, v in read_yaml(CONFIG_DIR / "furuta_default.yaml").items() if k != "motors"}
    if train_spec is spec:
        model = calibrated_model(spec, calib)
    else:  # the same calibrated values, minus what the network replaces (motor constants, latency)
        model = build_model(train_spec)
        params = Parameters(train_spec, model)
        params.set(model, {k: v for k, v in calib.values().items() if k in params.names and not k.endswith(".delay")})
    start = time.perf_counter()
    trained = train_policy(train_spec, folder, steps, seed=seed, randomize=randomization, model=model, eval_episodes=16)
    policy = folder / "policy.onnx"
    actor, meta = load_policy(folder / "policy.pt")
    export_policy(actor, train_spec, policy, metadata=meta)
    speed = SpeedConfig(start_stage=len(SpeedConfig().stages) - 1) if full_speed else None
    result = run_episodes_on_twin(
        train_spec, policy, twin, episodes, seed=seed + 1, twin_spec=spec, log_path=log, speed=speed
    )
    return {
        "train_seconds": time.perf_counter() - start,
        "env_steps": trained.env_steps,
        "sim_success": trained.sim_success,
        "best_quick_eval": max((c["eval_success"] or 0.0) for c in trained.curve),
        "final_mean_return": trained.curve[-1]["mean_return"],
        "twin_success": result.success_rate,
        "safety_stops": result.safety_stops,
        "actuator_coverage": trained.actuator_coverage,
    }


def _record(spec, twin, out: Path, seconds: float, seed: int, kind: str = "chirp") -> None:
    """``sim2real record --excite KIND`` on the twin."""
    from sim2real.deploy.record import ExcitationPolicy, initial_state, record
    from sim2real.real.twin import TwinRobot

    q0, qd0 = initial_state(spec, seed)
    robot = TwinRobot(spec, twin, initial_qpos=q0)
    robot.reset(q0, qd0)
    record(
        robot,
        ExcitationPolicy(spec, kind, seconds, seed=seed),
        seconds,
        out,
        meta={"scenario": "furuta_actuator"},
    )
