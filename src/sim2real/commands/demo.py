"""``sim2real demo``: the whole loop on the embedded default robot (furuta), with an HTML report."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from sim2real.commands.arguments import Seed
from sim2real.commands.output import emit, human

_STEPS = {
    "twin": "make the twin",
    "record": "record excitation",
    "gap_before": "gap before calibration",
    "identify": "identify",
    "train_dr": "train calibrated + randomized",
    "train_nodr": "train nominal baseline",
    "export": "export to ONNX",
    "deploy_dr": "deploy calibrated policy on twin",
    "deploy_nodr": "deploy baseline on twin",
    "gap_after": "gap after calibration",
    "report": "write the report",
}


class _Progress:
    """Rich progress on stderr: one bar per stage, with its latest figures."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.bars = Progress(
            TextColumn("[bold]{task.description:<34}"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=self.console,
        )
        self.ids: dict[str, Any] = {}
        self.start = self.last_line = time.perf_counter()

    def __enter__(self) -> _Progress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(*exc)

    def __call__(self, stage: str, message: str, fraction: float | None) -> None:
        if not self.console.is_terminal:  # a log file: a line per stage start and end, else every 10 s
            now = time.perf_counter()
            first, last = stage not in self.ids, fraction == 1.0
            if first:
                self.ids[stage] = now
            if first or last or now - self.last_line > 10.0:
                self.last_line = now
                pct = "" if fraction is None else f" {100 * fraction:3.0f} %"
                line = f"[{now - self.start:6.1f} s] {_STEPS.get(stage, stage)}:{pct} {message}"
                self.console.print(line, soft_wrap=True, markup=False, highlight=False)
            return
        if stage not in self.ids:
            self.ids[stage] = self.bars.add_task(_STEPS.get(stage, stage), total=1.0, note=message)
        task = self.ids[stage]
        if fraction is None:
            self.bars.update(task, note=message)
        else:
            self.bars.update(task, completed=fraction, note=message)


def demo(robot: str = "furuta", out: str = "demo_out", seed: Seed = 0, json: bool = False) -> int:
    """Run the whole sim-to-real loop on an embedded robot, with no hardware (a twin plays the robot).

    Makes a twin with hidden parameters away from nominal, records an excitation on it, measures the
    reality gap, identifies the parameters, trains a policy on the calibrated model with
    randomization centred on the calibration and a baseline on the nominal model without
    randomization (same budget), exports both to ONNX, runs both on the twin through the control
    loop with safety and speed progression, measures the gap again and writes OUT/report.html.

    Args:
        robot: Embedded robot name or spec YAML path.
        out: Output folder (a previous demo's output there is replaced).
        seed: Seed of the twin, the recording, training and the start states.
        json: Print {"sim_success", "twin_success_dr", "twin_success_nodr", "gap_before",
            "gap_after", "sysid_max_rel_error", "safety_stops", "report", "seconds"} on stdout.
    """
    import logging

    from sim2real.pipeline import DemoConfig, run_demo

    # the stages' own per-episode and per-iteration notices would drown the progress display
    # (missed deadlines of the lockstep loop on a busy machine are counted in the report instead)
    for name in ("sim2real.randomize", "sim2real.policy", "sim2real.sysid", "sim2real.pipeline"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("sim2real.deploy").setLevel(logging.ERROR)
    config = DemoConfig(robot=robot, out=out, seed=seed)
    human(f"sim2real demo on '{robot}' -> {out}/ (a twin plays the robot)", json)
    with _Progress() as progress:
        result = run_demo(config, progress)
    summary = result.summary()
    d = dataclasses.asdict(config.budget)
    text = "\n".join(
        [
            f"simulated success (calibrated + randomized): {summary['sim_success']:.2f}",
            f"twin success: calibrated + randomized {summary['twin_success_dr']:.2f}, "
            f"nominal baseline {summary['twin_success_nodr']:.2f} ({d['episodes']} episodes each)",
            f"gap (position RMSE, {d['horizon']:g} s windows): before {summary['gap_before']:.4g} rad, "
            f"after {summary['gap_after']:.4g} rad",
            f"identification: max relative error {summary['sysid_max_rel_error']:.3g}",
            f"safety stops (latched safe stops; clamps are not stops): {summary['safety_stops']}",
            f"report: {summary['report']}",
            f"total: {summary['seconds']:.1f} s (every stage up to the report)",
        ]
    )
    emit(summary, json, text)
    return 0
