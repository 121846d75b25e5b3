"""The demo pipeline: the whole sim-to-real loop on an embedded robot, with a twin as the robot.

Stages (each a library call, the same ones the subcommands make)::

    twin      hidden parameters away from nominal + unmodeled effects   -> OUT/twin.yaml
    record    excitation on the twin through the control loop          -> OUT/record (rosbag2)
    gap       before calibration: nominal model, windows of H s         position RMSE
    identify  trajectory matching with intervals                        -> OUT/calib.yaml
    train     calibrated model + calibrated randomization, and a        -> OUT/run_dr, OUT/run_nodr
              baseline on the nominal model without randomization (same budget: the same step
              cap and the same stop rule, success 0.9 in its own training simulator)
    export    both to ONNX with parity checks                           -> OUT/policy_dr.onnx, ...
    deploy    K episodes each on the twin, safety + speed progression   -> OUT/deploy_dr, ...
    gap       after: calibrated model, same recording and windows
    report    one self-contained HTML file                              -> OUT/report.html

Every figure of the summary comes from this run.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.pipeline.config import HIDDEN, DemoConfig
from sim2real.pipeline.episodes import run_episodes_on_twin
from sim2real.pipeline.report import write_report
from sim2real.pipeline.result import ARTIFACTS, STAGES, DemoResult
from sim2real.pipeline.training import calibrated_setup, train_policy
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

__all__ = ["ARTIFACTS", "STAGES", "DemoResult", "hidden_parameters", "run_demo"]

def hidden_parameters(spec: RobotSpec, override: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """The twin's hidden values: ``override``, else :data:`HIDDEN` of the robot, else +20 % on the
    robot's default identification set (delays: 3 physics steps), within the spec's bounds."""
    from sim2real.params import Parameters, is_delay
    from sim2real.robots.model import build_model
    from sim2real.sysid import default_params

    table = override if override is not None else HIDDEN.get(spec.name)
    if table is not None:
        return {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in table.items()}
    params = Parameters(spec, build_model(spec))
    out = {}
    for name in default_params(spec):
        info = params.info(name)
        if is_delay(name):
            value = np.full(info.size, 3 * spec.physics_dt)
        elif np.all(info.nominal == 0):
            value = info.low + 0.3 * (info.high - info.low)
        else:
            value = info.nominal * 1.2
        out[name] = np.clip(value, info.low, info.high)
    return out


def _prepare_out(out: Path) -> None:
    """Create the output folder; a previous demo's artifacts are replaced, anything else is refused."""
    if out.exists() and not out.is_dir():
        raise Sim2RealError(f"--out {out} is a file")
    if out.exists() and any(out.iterdir()):
        if not (out / "demo.json").is_file():
            raise Sim2RealError(f"{out} holds files that are not a previous demo's; choose another --out")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in ARTIFACTS)
        if foreign:
            raise Sim2RealError(
                f"{out} holds files the demo did not write ({', '.join(foreign)}); choose another --out"
            )
        for name in ARTIFACTS:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


Progress = Callable[[str, str, float | None], None]
"""``progress(stage, message, fraction or None)``: stage start/advance/end notices."""


def _quiet(stage: str, message: str, fraction: float | None) -> None:
    log.info("%s: %s", stage, message)


def run_demo(config: DemoConfig, progress: Progress | None = None) -> DemoResult:
    """Run the whole loop (see the module docstring) and write the report.

    Args:
        config: Robot, output folder, seed and budget.
        progress: Stage notices (default: logged).

    Returns:
        The measured figures (``result.summary()`` is the demo's JSON).

    Raises:
        Sim2RealError: a bad output folder or budget; any stage's own errors.
    """
    from sim2real.calibration import calibrated_model
    from sim2real.deploy.record import ExcitationPolicy, initial_state, record
    from sim2real.deploy.speed import SpeedConfig
    from sim2real.gap import load_logs, measure_gap
    from sim2real.params import is_delay
    from sim2real.policy.export import export_policy
    from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
    from sim2real.robots import load_robot
    from sim2real.robots.model import build_model
    from sim2real.sysid import identify, save_calibration
    from sim2real.train.checkpoint import load_policy

    say = progress or _quiet
    start = time.perf_counter()
    spec = load_robot(config.robot)
    budget = config.budget
    out = Path(config.out)
    _prepare_out(out)
    result = DemoResult(spec, config, out)
    clock = {"t": start}  # the stages' times add up to the total

    def done(stage: str, message: str) -> None:
        now = time.perf_counter()
        result.stage_seconds[stage] = now - clock["t"]
        clock["t"] = now
        say(stage, message, 1.0)

    # (a) the twin
    say("twin", "hidden parameters and unmodeled effects", None)
    result.hidden = hidden_parameters(spec, config.hidden)
    twin = TwinConfig(params=result.hidden, effects=TwinEffects(seed=config.seed))
    twin.save(out / "twin.yaml")
    done("twin", ", ".join(f"{k}={_fmt(v)}" for k, v in result.hidden.items()))

    # (b) record an excitation on it
    say("record", f"{budget.excite} excitation for {budget.record_s:g} s", 0.0)
    q0, qd0 = initial_state(spec, config.seed)
    robot = TwinRobot(spec, twin, initial_qpos=q0)
    robot.reset(q0, qd0)
    driver = ExcitationPolicy(spec, budget.excite, budget.record_s, seed=config.seed)
    rec = record(robot, driver, budget.record_s, out / "record", meta={"source": "sim2real demo"})
    robot.close()
    (trajectory,) = load_logs(spec, [out / "record"])
    done("record", f"{rec['ticks']} ticks, {rec['safety']['events']} safety events -> {out / 'record'}")

    # (c) the gap before calibration
    say("gap_before", f"nominal model, windows of {budget.horizon:g} s", None)
    result.gap_before = measure_gap(spec, trajectory, model=build_model(spec), horizon=budget.horizon)
    done("gap_before", f"position RMSE {result.gap_before.position_rmse:.4g} rad")

    # (d) identify
    say("identify", "trajectory matching", None)
    ident = identify(spec, [trajectory], names=["record"])
    result.identification = ident
    calib = ident.calibration()
    save_calibration(out / "calib.yaml", calib, spec)
    for name, true in result.hidden.items():
        est = ident.params.get(name)
        if est is None or not est.identifiable:
            continue
        err = np.abs(np.asarray(est.value, float) - true)
        result.sysid_errors[name] = float(err.max() if is_delay(name) else (err / np.abs(true)).max())
    done("identify", f"max relative error {result.sysid_max_rel_error:.3g} -> {out / 'calib.yaml'}")

    # (e) train: calibrated + randomized, and the nominal baseline without randomization
    model, rnd, record_ = calibrated_setup(spec, calib, config.widen, config.base, path=out / "calib.yaml")
    runs = {
        "dr": {"randomize": rnd, "model": model, "calibration": record_},
        "nodr": {"randomize": None, "model": None, "calibration": None},
    }
    steps = budget.train_steps
    for key, kwargs in runs.items():
        stage = f"train_{key}"
        say(stage, f"up to {steps:,} steps", 0.0)

        def tick(stats: Any, stage: str = stage, steps: int = steps) -> None:
            say(stage, _train_line(stats), min(1.0, stats.env_steps / steps))

        result.trained[key] = train_policy(
            spec,
            out / f"run_{key}",
            steps,
            seed=config.seed,
            num_envs=budget.num_envs,
            hidden=budget.hidden,
            eval_episodes=budget.eval_episodes,
            eval_every=budget.eval_every,
            stop_success=budget.stop_success,
            on_iteration=tick,
            **kwargs,
        )
        trained = result.trained[key]
        done(stage, f"{trained.env_steps:,} steps, simulated success {trained.sim_success:.2f}")

    # (f) export
    say("export", "ONNX with parity checks", None)
    for key in runs:
        policy, meta = load_policy(out / f"run_{key}")
        export_policy(
            policy,
            spec,
            out / f"policy_{key}.onnx",
            metadata=meta,
            n_random=budget.export_checks[0],
            n_recorded=budget.export_checks[1],
            seed=config.seed,
        )
    done("export", f"{out / 'policy_dr.onnx'}, {out / 'policy_nodr.onnx'}")

    # (g) deploy both on the twin
    speed = SpeedConfig(dwell_s=budget.dwell_s, start_stage=budget.start_stage)
    for key in runs:
        stage = f"deploy_{key}"
        total = budget.episodes * round(_episode_s(spec) / spec.control_dt)
        say(stage, f"{budget.episodes} episodes", 0.0)
        count = {"n": 0}

        def on_tick(r: Any, stage: str = stage, total: int = total, count: dict = count) -> None:
            count["n"] += 1
            if count["n"] % 500 == 0:
                say(stage, f"t={r.now:.1f} s, speed stage {r.stage}", count["n"] / total)

        result.deployed[key] = run_episodes_on_twin(
            spec,
            out / f"policy_{key}.onnx",
            twin,
            budget.episodes,
            seed=config.seed + 1,
            log_path=out / f"deploy_{key}",
            speed=speed,
            on_tick=on_tick,
            meta={"source": "sim2real demo", "policy": key},
        )
        d = result.deployed[key]
        done(stage, f"success {d.success_rate:.2f}, {d.safety_stops} safety stops")

    # (h) the gap after calibration
    say("gap_after", "calibrated model, the same recording and windows", None)
    result.gap_after = measure_gap(
        spec, trajectory, model=calibrated_model(spec, calib), horizon=budget.horizon
    )
    done("gap_after", f"position RMSE {result.gap_after.position_rmse:.4g} rad")

    # (i) report

    say("report", "HTML", None)
    # one total for the report, the summary and the CLI: every stage up to the report (which states
    # it, so cannot include its own writing time)
    result.seconds = time.perf_counter() - start
    result.report = write_report(result, out / "report.html")
    done("report", str(result.report))
    (out / "demo.json").write_text(json.dumps(result.summary(), indent=2))
    return result


def _episode_s(spec: RobotSpec) -> float:
    from sim2real.tasks import get_task

    return float(get_task(spec).episode_s)


def _fmt(v: np.ndarray) -> str:
    v = np.atleast_1d(v)
    return f"{v[0]:.4g}" if v.size == 1 else "[" + ", ".join(f"{x:.4g}" for x in v) + "]"


def _train_line(stats: Any) -> str:
    ret = "-" if stats.mean_return is None else f"{stats.mean_return:.3g}"
    succ = "-" if stats.progress is None else f"{stats.progress:.2f}"
    return f"{stats.env_steps:,} steps, return {ret}, success {succ}"
