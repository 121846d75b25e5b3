"""``sim2real sweep``: a grid of training runs over PPO settings and seeds, here or on Ray Tune."""

from __future__ import annotations

import csv
import json as json_module
from pathlib import Path
from typing import Annotated

import tyro

from sim2real.commands.arguments import Positive
from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError


def sweep(
    space: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="SPACE.yaml")],
    out: str,
    ray: str | None = None,
    cpus_per_trial: Positive = 1.0,
    json: bool = False,
) -> int:
    """Train one run per point of a grid of PPO settings x seeds and tabulate their evaluations.

    SPACE.yaml names the robot, the steps of every trial, the seeds and the settings (a list is
    an axis of the grid, a scalar fixed), e.g.:

        robot: furuta
        steps: 2000000
        seeds: [0, 1]
        space: {learning_rate: [3.0e-4, 1.0e-3]}

    Each trial trains the task's preset with the point's values and reports its deterministic
    evaluation (success rate, mean return).  Writes OUT/sweep.csv (one row per trial),
    OUT/sweep.json (trials and the per-setting means over seeds, best first) and prints the table.

    Args:
        space: Search-space YAML.
        out: Output directory.
        ray: Run the trials with Ray Tune on a cluster: its address (host:port, auto) or "local"
            to start one on this machine (needs the ray extra).  Default: one after the other here.
            The results are the same either way.
        cpus_per_trial: With --ray: CPUs each trial reserves on its node.
        json: Print the JSON summary on stdout.
    """
    from sim2real.train.sweep import load_space, run_trial, summarize

    sweep_space = load_space(space)
    out_dir = Path(out)
    if (out_dir / "sweep.json").exists():
        raise Sim2RealError(f"{out_dir} already holds a sweep; choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    from sim2real.parallel.tune import grid_points

    points = grid_points(sweep_space.axes)
    human(
        f"sweep: {len(points)} trial(s) of {sweep_space.steps:,} steps on '{sweep_space.robot}' "
        f"({' x '.join(f'{len(v)} {k}' for k, v in sweep_space.axes.items())}), "
        + (f"Ray Tune on {ray}" if ray else "in this process"),
        json,
    )
    if ray is not None:
        from sim2real.parallel.tune import tune_grid

        rows = tune_grid(
            run_trial,
            sweep_space.axes,
            sweep_space.settings(),
            ray,
            out_dir / "tune",
            cpus_per_trial=cpus_per_trial,
        )
    else:
        from sim2real.parallel import SerialExecutor

        fixed = sweep_space.settings()
        metrics = SerialExecutor().map(
            run_trial,
            [{**fixed, **p} for p in points],
            lambda i, m: human(f"trial {i + 1}/{len(points)}: success {m['success_rate']:.3f}", json),
        )
        rows = [{"settings": {**fixed, **p}, "metrics": m} for p, m in zip(points, metrics, strict=True)]
    settings = summarize(rows, sweep_space.axes)
    names = list(sweep_space.axes)
    table = [{**{n: r["settings"][n] for n in names}, **r["metrics"]} for r in rows]
    with open(out_dir / "sweep.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    summary = {
        "robot": sweep_space.robot,
        "steps": sweep_space.steps,
        "axes": sweep_space.axes,
        "fixed": sweep_space.fixed,
        "executor": "ray-tune" if ray else "serial",
        "trials": table,
        "settings": settings,
        "best": settings[0],
        "table": str(out_dir / "sweep.csv"),
    }
    (out_dir / "sweep.json").write_text(json_module.dumps(summary, indent=1))
    emit(summary, json, _table_text(table, names, out_dir))
    return 0


def _table_text(table: list[dict], names: list[str], out_dir: Path) -> str:
    """The trials as an aligned text table."""
    cols = [*names, "success_rate", "mean_return", "train_seconds"]
    cells = [[_cell(row[c]) for c in cols] for row in table]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"table: {out_dir / 'sweep.csv'}, summary: {out_dir / 'sweep.json'}")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
