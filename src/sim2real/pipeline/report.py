"""The demo's HTML report: summary, hidden vs identified parameters, gap before/after,
identification, training curves and deploy traces on the twin."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim2real.pipeline.result import DemoResult

__all__ = ["deploy_figure", "training_figure", "write_report"]

_COLOURS = {"dr": "#1971c2", "nodr": "#d9480f"}
_LABELS = {"dr": "calibrated + randomized", "nodr": "nominal, no randomization"}


def training_figure(
    curves: dict[str, list[dict[str, Any]]], eval_every: dict[str, int] | None = None
) -> Figure:
    """Mean training return and success (training episodes; dots: quick deterministic evaluations)
    against environment steps, one line per run.  ``eval_every`` (iterations, per run) keeps only
    the iterations at which an evaluation was made when a curve repeats the last one."""
    from sim2real.report.figures import new_figure

    fig = new_figure(height=3.6)
    ax_ret, ax_succ = fig.subplots(1, 2)
    for key, curve in curves.items():
        steps = np.array([c["env_steps"] for c in curve]) / 1e6
        ret = np.array([np.nan if c["mean_return"] is None else c["mean_return"] for c in curve])
        succ = np.array([np.nan if c["success_rate"] is None else c["success_rate"] for c in curve])
        ev = np.array([np.nan if c["eval_success"] is None else c["eval_success"] for c in curve])
        every = (eval_every or {}).get(key)
        if every:
            ev[(np.arange(1, ev.size + 1) % every) != 0] = np.nan
        colour, label = _COLOURS.get(key), _LABELS.get(key, key)
        ax_ret.plot(steps, ret, color=colour, label=label)
        ax_succ.plot(steps, succ, color=colour, label=f"{label} (training episodes)")
        if np.isfinite(ev).any():
            ax_succ.plot(steps, ev, "o", color=colour, ms=4, label=f"{label} (evaluation)")
    ax_ret.set(xlabel="environment steps [M]", ylabel="mean episode return", title="return")
    ax_succ.set(xlabel="environment steps [M]", ylabel="success rate", title="success", ylim=(-0.05, 1.05))
    ax_ret.legend(fontsize=8)
    ax_succ.legend(fontsize=7)
    for ax in (ax_ret, ax_succ):
        ax.grid(alpha=0.3)
    return fig


def deploy_figure(spec: Any, deployed: dict[str, Any], max_episodes: int = 3) -> Figure:
    """Pendulum angle and motor command against time on the twin, the first episodes of each
    policy; red crosses: safety events, dotted lines: speed stage changes, shading: success band."""
    from sim2real.report.figures import new_figure

    keys = list(deployed)
    fig = new_figure(height=2.6 * len(keys) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(keys), 2, squeeze=False))
    joint = spec.joints.index("pendulum") if "pendulum" in spec.joints else spec.n_joints - 1
    unit = {"dc_motor": "V", "torque": "N m", "pd": "rad"}.get(spec.actuators[0].model, "")
    for row, key in enumerate(keys):
        ax_q, ax_u = axes[row]
        episodes = deployed[key].episodes[:max_episodes]
        for k, ep in enumerate(episodes):
            t = ep.t
            angle = np.abs(np.angle(np.exp(1j * ep.q[:, joint])))  # distance from upright [0, pi]
            tag = "success" if ep.success else "failure"
            ax_q.plot(t, angle, lw=0.8, label=f"episode {k + 1} ({tag})")
            ax_u.plot(t, ep.command[:, 0], lw=0.6)
            for te, _, severity in ep.events:
                if severity in ("hold", "safe_stop"):
                    ax_q.plot([te], [math.pi * 1.03], "x", color="red", ms=5)
            for ts, stage in ep.stage_changes:
                for ax in (ax_q, ax_u):
                    ax.axvline(ts, color="grey", ls=":", lw=0.8)
                ax_u.text(ts, 0.0, f" stage {stage}", fontsize=7, color="grey", rotation=90, va="bottom")
        ax_q.axhspan(0.0, 0.2, color="green", alpha=0.12)
        ax_q.set(
            ylabel=f"{spec.joints[joint]} from upright [rad]",
            ylim=(0.0, 3.3),
            title=f"{_LABELS.get(key, key)}: success {deployed[key].success_rate:.2f}",
        )
        ax_u.set(ylabel=f"command [{unit}]", title="motor command")
        ax_q.legend(fontsize=7, loc="center right")
        for ax in (ax_q, ax_u):
            ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("loop time [s]")
    return fig


def _plain(v: Any) -> Any:
    a = np.atleast_1d(np.asarray(v, dtype=float))
    return float(a[0]) if a.size == 1 else "[" + ", ".join(f"{x:.4g}" for x in a) + "]"


def _short(v: Any) -> str:
    a = np.atleast_1d(np.asarray(v, dtype=float))
    return f"{a[0]:.4g}" if a.size == 1 else "[" + ", ".join(f"{x:.4g}" for x in a) + "]"


def _event_kinds(summary: dict[str, Any]) -> str:
    counters = (summary.get("safety") or {}).get("counters") or {}
    return ", ".join(f"{k} {v}" for k, v in sorted(counters.items(), key=lambda kv: -kv[1])) or "none"


def write_report(result: DemoResult, path: str | Path) -> Path:
    """Write the demo report (one self-contained HTML file) and return its path."""
    from sim2real.report import Report, add_gap, add_identification

    spec, cfg, budget = result.spec, result.config, result.config.budget
    summary = result.summary()
    rep = Report(
        f"sim2real demo — {spec.name}",
        f"robot {spec.name} (spec {spec.hash[:12]}), seed {cfg.seed}, output {result.out}",
    )
    rep.section(
        "Summary",
        "The whole sim-to-real loop with a twin in the role of the robot: record an excitation on the "
        "twin, measure the reality gap, identify its parameters, train a policy on the calibrated "
        "model with randomization centred on the calibration (and a baseline on the nominal model "
        "without randomization, same budget), export both to ONNX, run both on the twin through "
        "the control loop with the safety monitor and speed progression, and measure the gap again.",
    )
    rep.table(
        [
            {"figure": "simulated success (calibrated + randomized policy)", "value": summary["sim_success"]},
            {"figure": "twin success, calibrated + randomized", "value": summary["twin_success_dr"]},
            {"figure": "twin success, nominal without randomization", "value": summary["twin_success_nodr"]},
            {"figure": "gap before calibration (position RMSE) [rad]", "value": summary["gap_before"]},
            {"figure": "gap after calibration (position RMSE) [rad]", "value": summary["gap_after"]},
            {"figure": "identification: max relative error", "value": summary["sysid_max_rel_error"]},
            {
                "figure": "safety stops on the twin (latched safe stops; clamps are not stops)",
                "value": summary["safety_stops"],
            },
            {"figure": "total wall time [s] (every stage up to this report)", "value": summary["seconds"]},
        ],
        "Every figure was measured in this run. A safety stop is a latched safe stop, which ends an "
        "episode; the safety events counted under Deployment are mostly clamps (a command limited "
        "to the speed stage's rate and speed) and holds on dropped readings, which the policy "
        "rides through.",
    )
    rep.table(
        [{"stage": k, "seconds": round(v, 1)} for k, v in result.stage_seconds.items()],
        f"Wall time per stage (they add up to the total, {summary['seconds']:.1f} s)",
    )
    rep.table(
        [
            {
                "budget": "excitation",
                "value": f"{budget.excite}, {budget.record_s:g} s",
            },
            {"budget": "gap windows", "value": f"{budget.horizon:g} s"},
            {
                "budget": "training steps per policy",
                "value": ", ".join(f"{k}: {v.env_steps:,}" for k, v in result.trained.items())
                + f" (each at most {budget.train_steps:,}, stopping once a quick evaluation in its own "
                f"training simulator succeeds {budget.stop_success})",
            },
            {"budget": "episodes per policy on the twin", "value": budget.episodes},
            {
                "budget": "speed progression",
                "value": f"from stage {budget.start_stage} of 10/25/50/75/100 %, dwell {budget.dwell_s:g} s",
            },
            {
                "budget": "randomization",
                "value": f"calibrated, widen {cfg.widen:g}, base {cfg.base or 'none'}",
            },
        ],
        "Settings",
    )

    rep.section("The twin: hidden versus identified parameters")
    rows = []
    for name, true in result.hidden.items():
        est = result.identification.params.get(name)
        row: dict[str, Any] = {"parameter": name, "hidden (true)": _plain(true)}
        if est is None:
            row["identified"] = "not fitted"
        elif not est.identifiable:
            row["identified"] = f"unidentifiable: {est.reason}"
        else:
            row["identified"] = _plain(est.value)
            row["95 % interval"] = f"[{_short(est.ci_low)}, {_short(est.ci_high)}]"
            row["nominal"] = _plain(est.nominal)
            err = result.sysid_errors.get(name)
            if err is not None:
                row["error"] = (
                    f"{1e3 * err:.2f} ms ({err / spec.physics_dt:.2f} physics steps)"
                    if name.endswith(".delay")
                    else f"{100 * err:.2f} %"
                )
        rows.append(row)
    rep.table(rows, "The twin's hidden values, and what identification found from the recording")
    rep.text(
        "The intervals come from the least-squares covariance at the fit and do not account for the "
        "twin's unmodeled effects, so they can be narrower than the actual error; the calibrated "
        "randomization therefore spans at least +-2 % of each identified value (and the default "
        "config's other tolerances)."
    )
    rep.text(
        "The twin also has effects no model here has: RK4 on a 4x finer timestep, latency jitter, "
        "encoder quantization and noise, velocity noise and dropped readings."
    )

    add_gap(rep, result.gap_before, "before calibration (nominal model)")
    add_gap(rep, result.gap_after, "after calibration (calibrated model)")
    add_identification(rep, result.identification)

    rep.section(
        "Training",
        "Both policies trained under the same budget: the same PPO preset and seed, at most "
        f"{budget.train_steps:,} environment steps, stopping once a quick deterministic evaluation in "
        f"their own training simulator (16 episodes from the hanging start) succeeds {budget.stop_success}. "
        "Training episodes use exploring starts, so their own success stays low; the dots are the quick "
        "evaluations.",
    )
    from sim2real.train.config import default_config

    every = {"dr": budget.eval_every, "nodr": default_config(spec).eval_every}
    rep.figure(
        training_figure({k: v.curve for k, v in result.trained.items()}, every),
        "Mean return and success rate during training",
    )
    rep.table(
        [
            {
                "policy": _LABELS[k],
                "environment steps": v.env_steps,
                "training seconds": v.seconds,
                "simulated success (own training conditions)": v.sim_success,
            }
            for k, v in result.trained.items()
        ]
    )

    rep.section(
        "Deployment on the twin",
        "Each policy ran its episodes on the twin through the control loop: safety monitor active, "
        f"speed progression from stage {budget.start_stage} of 10/25/50/75/100 % (a stage advances after "
        "its dwell time without a safety event; at 10 % the rate limit and speed governor leave no "
        "swing-up). "
        "Episodes start hanging; success is the task's own rule (pendulum upright within 0.2 rad for "
        "the last 2 s, arm within 2.3 rad), judged on the measured angles.",
    )
    rep.table(
        [
            {
                "policy": _LABELS[k],
                "episodes": len(d.episodes),
                "success rate": d.success_rate,
                "safety stops": d.safety_stops,
                "safety events": d.summary.get("safety", {}).get("events"),
                "events by kind": _event_kinds(d.summary),
                "missed deadlines": d.summary.get("missed_deadlines"),
                "stage changes": d.summary.get("stage_changes"),
                "final speed stage": d.summary.get("stage"),
            }
            for k, d in result.deployed.items()
        ],
        "Safety events are every intervention of the safety monitor: clamps (rate_limit, "
        "velocity_limit, torque_limit: the command was limited and passed on), holds (stale: a "
        "dropped reading, the last command held) and safe stops; only a safe stop stops the robot, "
        "and none latched unless counted under safety stops. Missed deadlines: the loop ran in "
        "lockstep (a simulation, as fast as this shared machine computes); a miss means the "
        "controller's own computation of one tick took longer than the control period, which on a "
        "robot would be a late command. It does not change the simulated run: it says the machine "
        "was busy.",
    )
    rep.figure(
        deploy_figure(spec, result.deployed),
        "Pendulum angle from upright (green band: within 0.2 rad, the success zone) and motor command "
        "on the twin, first episodes; "
        "dotted lines mark speed stage changes, red crosses hold or safe-stop events",
    )
    return rep.write(path)
