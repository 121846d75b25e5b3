"""``sim2real identify``: fit a robot's physical parameters to its logs and write a calibration."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import numpy as np
import tyro

from sim2real.commands.arguments import Count, NonNegativeCount, Positive, Seed
from sim2real.commands.output import emit, human, output_file
from sim2real.errors import ParameterError, Sim2RealError

log = logging.getLogger(__name__)


def _parse_bounds(text: str | None) -> dict[str, tuple[float, float]] | None:
    """``name=low:high,name2=low:high`` -> {name: (low, high)}."""
    if not text:
        return None
    out = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, rng = item.partition("=")
        low, sep2, high = rng.partition(":")
        try:
            if not sep or not sep2:
                raise ValueError
            out[name.strip()] = (float(low), float(high))
        except ValueError:
            raise ParameterError(f"--bounds: '{item}' is not name=low:high") from None
    return out


def _bound_reached(info: Any, p: Any, limits: dict | None) -> np.ndarray | None:
    """The bound a fit drove a parameter onto (one of the spec's, or --bounds; at it as
    :func:`~sim2real.sysid.intervals.bound_side` says: the solver stops strictly inside), away from
    its start and its nominal value, shape (size,); None when it did not (a parameter whose nominal
    value sits on the bound, e.g. a zero delay, is already held there).  ``p`` is not determined:
    its interval says nothing of a bound; ``info`` is its :class:`~sim2real.params.ParamInfo`."""
    from sim2real.sysid.intervals import BOUND_SHARE, bound_side
    from sim2real.sysid.problem import bounds_of

    low, high = bounds_of(info, limits)
    value = np.asarray(p.value, float)
    low = np.broadcast_to(np.asarray(low, float), value.shape)
    high = np.broadcast_to(np.asarray(high, float), value.shape)
    tol = BOUND_SHARE * np.maximum(high - low, 1e-300)
    on_bound = np.array(
        [bound_side(v, lo, hi) is not None for v, lo, hi in zip(value.flat, low.flat, high.flat, strict=True)]
    ).reshape(value.shape)
    moved = np.abs(value - np.asarray(p.start, float)) > tol
    off_nominal = np.abs(value - np.asarray(p.nominal, float)) > tol
    if not np.any(on_bound & moved & off_nominal):
        return None
    return np.clip(value, low, high)


def _hold_runaways(spec: Any, result: Any, limits: dict | None, fit: Any) -> Any:
    """Parameters the logs do not determine whose fit ran to a bound are no estimate: identify the
    others again with those held at their nominal values, and report them as held there.

    ``fit(which, step_shift)`` identifies the parameters ``which``.  The refit keeps the first fit's
    confirmed step-free correction (:attr:`~sim2real.sysid.result.Identification.step_shift`, when
    it extrapolated one) instead of measuring its own: holding a parameter leaves the shift of the
    others as it was up to a coupling term (:func:`~sim2real.sysid.resolution.held_shift`), and a
    second measurement is no better placed (the hung Aliengo, FL_hip's armature held at nominal,
    0.0017 kg m^2 from its fit at the 5 ms step: the refit's shift came out 7 % smaller on the other
    legs, whose problem is the same, its quarter-step check failed, and the CLI reported the biased
    fit at the step).

    When that refit determines none of them and the first fit did (the logs rule the nominal value
    out: a pendulum whose damping they bound to [0, 0.033] with a nominal 0.35 fits nothing with
    it), the first fit stays, the run-aways held at the bound it drove them to (the value its
    other estimates were fitted with)."""
    import dataclasses

    from sim2real.params import Parameters
    from sim2real.robots.model import build_model
    from sim2real.sysid.result import ParamEstimate

    undetermined = {n: p for n, p in result.params.items() if not p.identifiable}
    if not undetermined:
        return result
    registry = Parameters(spec, build_model(spec))  # one nominal model for every bound checked
    bounds = {n: _bound_reached(registry.info(n), p, limits) for n, p in undetermined.items()}
    runaway = {n: b for n, b in bounds.items() if b is not None}
    others = [n for n in result.params if n not in runaway]
    if not runaway or not others:
        return result
    log.info("held at nominal, the fit ran to their bounds: %s; identifying the others again", list(runaway))
    shift = result.step_shift  # None: the first fit extrapolated none, and the refit measures its own
    again = fit(",".join(others), None if shift is None else {n: shift[n] for n in others if n in shift})
    determined = sum(result.params[n].identifiable for n in others)
    redetermined = sum(p.identifiable for p in again.params.values())
    keep_first = redetermined == 0 < determined
    if keep_first:
        log.info(
            "with %s at nominal the logs determine %d of the other %d parameters, against %d with %s at "
            "its bound: keeping the first fit", list(runaway), redetermined, len(others), determined,
            "it" if len(runaway) == 1 else "them",
        )  # fmt: skip
        again = result

    def held(n: str, p: Any) -> Any:
        value = runaway[n] if keep_first else p.nominal
        where = "its nominal value" if not keep_first else (
            f"that bound, {_fmt(_plain(value))}: at its nominal value {_fmt(_plain(p.nominal))} "
            "the logs determine none of the others"
        )  # fmt: skip
        return ParamEstimate(
            name=n,
            value=np.array(value, dtype=float),
            nominal=p.nominal.copy(),
            start=p.start.copy() if keep_first else p.nominal.copy(),
            ci_low=p.ci_low,
            ci_high=p.ci_high,
            unit=p.unit,
            identifiable=False,
            reason=f"{p.reason}; the fit ran to its bound, so it is held at {where}",
        )

    estimates = {n: held(n, p) if n in runaway else again.params[n] for n, p in result.params.items()}
    warnings = [w for w in again.warnings if not any(w.startswith(f"{n}:") for n in runaway)] + [
        f"{n}: not identifiable from these logs ({estimates[n].reason})" for n in runaway
    ]
    return dataclasses.replace(again, params=estimates, warnings=tuple(warnings))


def _plain(value: np.ndarray) -> float | list:
    value = np.atleast_1d(value)
    return float(value[0]) if value.size == 1 else [float(x) for x in value]


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return "[" + ", ".join(f"{x:.4g}" for x in v) + "]"
    return f"{v:.4g}"


def identify(
    logs: Annotated[tuple[str, ...], tyro.conf.Positional, tyro.conf.arg(metavar="LOG")],
    robot: str,
    params: str | None = None,
    out: str | None = None,
    csv_map: str | None = None,
    topic: tuple[str, ...] = (),
    command_order: str = "auto",
    motor_order: tuple[str, ...] | None = None,
    horizon: Positive = 0.25,
    stride: Positive | None = None,
    max_windows: Count | None = 400,
    loss: Literal["soft_l1", "huber", "cauchy", "linear"] = "soft_l1",
    velocity: Literal["auto", "log", "fd"] = "auto",
    bounds: str | None = None,
    report: str | None = None,
    fixed_base: bool = False,
    starts: Count = 1,
    seed: Seed = 0,
    ray: str | None = None,
    workers: NonNegativeCount = 1,
    json: bool = False,
) -> int:
    """Identify physical parameters from robot logs by windowed trajectory matching.

    Prints each parameter with its confidence interval (or why the logs cannot determine it),
    the residual of every log (logs far worse than the others are flagged and down-weighted),
    and writes a calibration file that training, the twin and `sim2real gap --calib` accept.

    Legged robots: logs recorded hung by the base (`sim2real record --fixed-base`) identify with
    --fixed-base, by default each joint's armature, damping and Coulomb friction and each drive's
    kp, kd and delay; logs of the robot standing or walking (they carry its base state) identify
    the base's mass and centre of mass and the floor friction by default (masses, gains: --params).
    Intervals hold under model error (a sandwich over windows plus the simulator's own step
    error); a parameter the logs do not determine says so, with the range they leave open.

    Args:
        logs: rosbag2 directories (split or compressed too), .mcap/.db3 files, ROS 1 .bag files or a split ROS 1
            recording's folder, or CSV files (with --csv-map).
        robot: Embedded robot name or spec YAML path.
        params: Comma-separated parameter names or patterns (e.g. "body.*.mass,joint.*.damping");
            default: the robot's usual set (see `sim2real.sysid.DEFAULT_PARAMS`).
        out: Calibration YAML to write.
        csv_map: Column map of CSV logs: pendulum (DFKI pendulum), qube (Quanser QUBE-Servo 2),
            or a YAML column map file of the log's columns (docs/real_data.md).
        topic: A bag of another recorder: the topic of a role where the bag lacks sim2real's name
            and more than one topic could hold it, as ROLE=TOPIC (roles: joint_states, commands,
            imu, base: odometry), e.g. commands=/forward_position_controller/commands;
            joint_states=T1,T2 joins joint states published per leg or bus.
        command_order: A bag of another recorder whose commands name no joints: which joint each
            value drives: auto (as the bag allows: the actuator order, or the /joint_states order
            where that is the actuator order), robot (the actuator order), states (the order of the
            bag's /joint_states names) or J1,J2,... (the joints, in the order of the values).
        motor_order: A Unitree bag (unitree_go/unitree_hg LowState and LowCmd, which name no
            joints): the joint of motor 0, 1, ... as J1,J2,... or J1 J2 ... ("-" for an unused slot; motors
            beyond the list are not read). Required for such a bag (docs/real_data.md).
        horizon: Window length [s]: each window replays the logged commands from a logged state.
        stride: Time between window starts [s] (default: the horizon).
        max_windows: Use at most this many windows, evenly spread (bounds time and memory).
        loss: Robust loss of the least-squares fit.
        velocity: Initial window velocities: the log's column, a local fit to positions (fd), or
            auto (the column unless it disagrees with the positions' slope).
        bounds: Override plausible bounds, "name=low:high,...".
        report: Write an HTML report (identified vs nominal with intervals, fit overlays, parameter
            correlation, residuals over time) to this file.
        fixed_base: The logs were recorded with the robot hung by its base (legs in the air); a log
            that does not say (a CSV, another recorder's bag) is taken as hung.  sim2real's own
            hung logs (`record --fixed-base`) are identified hung without it.
        starts: Fit from this many start points (the nominal start and points drawn at random
            inside the bounds), keep the best and report how many converged to it.
        seed: Seed of the random start points.
        ray: Run the starts on a Ray cluster: "local" starts one on this machine, else its
            address (host:port, auto); results are those of the serial run.
        workers: Without --ray: worker processes for the starts (1: this process, 0: one per CPU).
        json: Print a JSON summary on stdout.
    """
    from sim2real.calibration import save_calibration
    from sim2real.gap.io import load_logs
    from sim2real.parallel import make_executor
    from sim2real.robots import load_robot
    from sim2real.sysid.identify import IdentifyConfig
    from sim2real.sysid.identify import identify as run_identify

    spec = load_robot(robot)
    for path, option in ((out, "--out"), (report, "--report")):
        if path:
            output_file(path, option)
    trajectories = load_logs(
        spec,
        logs,
        csv_map,
        min_seconds=horizon,
        before_safe_mode=True,
        topics=topic,
        fixed_base=fixed_base,
        command_order=command_order,
        motor_order=motor_order,
    )
    hung = [name for name, t in zip(logs, trajectories, strict=True) if t.meta.get("fixed_base")]
    if spec.base_body is not None and hung and len(hung) < len(logs):
        free = [name for name in logs if name not in hung]
        raise ParameterError(
            f"the logs were recorded hung by the base ({', '.join(hung)}) and free ({', '.join(free)}): "
            "identify each setup on its own"
        )
    if not fixed_base and spec.base_body is not None and all(t.meta.get("fixed_base") for t in trajectories):
        fixed_base = True
        human("the logs were recorded with the robot hung by its base: identifying on the hung model", json)
    human(f"identifying {spec.name} (spec {spec.hash[:12]}) from {len(trajectories)} log(s)", json)
    if starts == 1 and (ray is not None or workers != 1):
        raise ParameterError("--ray and --workers run the starts of a multi-start fit: add --starts N")
    config = IdentifyConfig(
        horizon=horizon, stride=stride, max_windows=max_windows, loss=loss, velocity=velocity
    )
    limits = _parse_bounds(bounds)
    with make_executor(ray, workers) as executor:

        def fit(which: str | None, step_shift: dict | None = None) -> Any:
            with np.errstate(invalid="ignore", divide="ignore"):  # NaN intervals: reported unidentifiable
                return run_identify(
                    spec,
                    trajectories,
                    which,
                    config=config,
                    names=list(logs),
                    bounds=limits,
                    fixed_base=fixed_base,
                    starts=starts,
                    seed=seed,
                    executor=executor,
                    step_shift=step_shift,
                )

        result = fit(params)
        result = _hold_runaways(spec, result, limits, fit)
    if not any(p.identifiable for p in result.params.values()):
        for name, p in result.params.items():
            log.info("%s: %s", name, p.reason)
        raise Sim2RealError(
            f"none of the {len(result.params)} parameters is determined by {', '.join(logs)}, nothing written: "
            "identify from a longer or richer log (sim2real record --excite chirp --seconds 30); -v says why"
        )
    if out:
        save_calibration(out, result.calibration(), spec)
    summary = result.summary()
    summary["out"] = out
    if report:
        from sim2real.report import Report, add_identification

        rep = Report(f"System identification — {spec.name}", f"logs: {', '.join(logs)}")
        add_identification(rep, result)
        summary["report"] = str(rep.write(report))
    lines = [f"{'parameter':<30} {'value':>12} {'95% interval':>27} {'nominal':>12}"]
    for name, p in summary["params"].items():
        if p["value"] is None:
            ci = f"[{_fmt(p['ci_low'])}, {_fmt(p['ci_high'])}]"
            lines.append(f"{name:<30} {'unidentified':>12} {ci:>27} {_fmt(p['nominal']):>12}  {p['reason']}")
        else:
            ci = f"[{_fmt(p['ci_low'])}, {_fmt(p['ci_high'])}]"
            lines.append(f"{name:<30} {_fmt(p['value']):>12} {ci:>27} {_fmt(p['nominal']):>12} {p['unit']}")
    if params:  # a restricted fit: its intervals hold the others fixed
        summary["intervals_assume"] = "the parameters outside --params are right"
        lines.append(
            "the intervals assume every parameter outside --params is right as the model states it: where one "
            "is off, the fitted ones absorb it and their true values can lie outside their intervals"
        )
    lines.append("")
    from sim2real.param_kinds import position_unit
    from sim2real.robots.model import build_model

    pooled = position_unit(build_model(spec), list(spec.joints))
    for r in result.logs:
        flag = "  OUTLIER" if r.outlier else ""
        lines.append(
            f"log {r.name}: {r.windows} windows, position RMSE {r.position_rmse:.4f} {pooled}, "
            f"residual {r.residual_rms:.3f}, weight {r.weight:.2f}{flag}"
        )
        lines.extend(f"    {note}" for note in r.notes)
    for joint, m in result.motor_models.items():
        lines.append(f"motor model {joint}: {m.describe()}")
    other = [w for w in result.warnings if not w.startswith("log ")]
    lines.extend(f"warning: {w}" for w in other)
    if result.starts is not None:
        ms = result.starts
        lines.append(
            f"starts: {ms.n_converged} of {ms.n} converged to the best (start {ms.best}; within "
            f"{100 * ms.tolerance:g} % of each range; seed {ms.seed})"
        )
        best_cost = ms.fits[ms.best].cost
        lines.extend(
            f"    start {f.index}: cost x{f.cost / best_cost if best_cost > 0 else 1.0:.5g}"  # 1.0027 is no 1
            f"{'  converged' if ms.converged[f.index] else ''}"
            for f in ms.fits
        )
    lines.append(f"residual RMS {result.residual_rms:.4f}, {result.seconds:.1f} s")
    if out:
        lines.append(f"calibration written to {out}")
    if report:
        lines.append(f"report written to {report}")
    emit(summary, json, "\n".join(lines))
    return 0
