"""A grid of trials on Ray Tune: each trial is ``func(settings) -> metrics`` for one point.

The grid is the cartesian product of named axes; each point's settings are the fixed settings
plus the point's values.  Tune schedules the trials on the cluster (``resources`` each) and
restarts a trial whose worker or node died (``max_failures`` times: a trial is a pure function
of its settings, so the restart reports what the lost one would have).  The rows come back in
the grid's own order (the first axis slowest), one per point, like
:func:`grid_points` run serially.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim2real.errors import Sim2RealError
from sim2real.parallel.ray_cluster import connect, import_ray

__all__ = ["grid_points", "tune_grid"]

log = logging.getLogger(__name__)


def grid_points(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis slowest."""
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(axes[n] for n in names))]


def _trial(
    config: dict[str, Any], func: Callable[[dict[str, Any]], dict[str, Any]], fixed: dict[str, Any]
) -> None:
    """Tune's function trainable: one point, reported once."""
    from ray import tune

    tune.report(dict(func({**fixed, **config})))


def tune_grid(
    func: Callable[[dict[str, Any]], dict[str, Any]],
    axes: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any],
    address: str,
    storage: str | Path,
    name: str = "sweep",
    cpus_per_trial: float = 1.0,
    max_failures: int = 3,
) -> list[dict[str, Any]]:
    """Run ``func`` over the grid with Ray Tune.

    Args:
        func: Module-level trial function, ``func(settings) -> metrics`` (JSON-ready values).
        axes: Setting name -> values of the grid.
        fixed: Settings every trial shares.
        address: Ray cluster (``local`` or an address, see :func:`~sim2real.parallel.ray_cluster.connect`).
        storage: Directory of Tune's experiment files (a shared filesystem on a multi-node cluster).
        name: Experiment name (a folder under ``storage``).
        cpus_per_trial: CPUs each trial reserves.
        max_failures: Restarts of a trial whose worker or node died.

    Returns:
        One ``{"settings": point, "metrics": metrics}`` per grid point, in :func:`grid_points` order.

    Raises:
        MissingExtraError: no Ray Tune.  Sim2RealError: a trial failed (its error, once).
    """
    ray, started = connect(address)
    tune = import_ray(module="ray.tune")
    points = grid_points(axes)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trial, func=func, fixed=dict(fixed)), {"cpu": cpus_per_trial}
        )
        tuner = tune.Tuner(
            trainable,
            param_space={k: tune.grid_search(list(v)) for k, v in axes.items()},
            tune_config=tune.TuneConfig(num_samples=1),
            run_config=tune.RunConfig(
                name=name,
                storage_path=str(Path(storage).resolve()),
                failure_config=tune.FailureConfig(max_failures=max_failures),
                verbose=0,
            ),
        )
        with contextlib.redirect_stdout(sys.stderr):  # Tune's tables: stdout may carry --json
            grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    rows: dict[int, dict[str, Any]] = {}
    for result in grid:
        if result.error is not None:
            cause = getattr(result.error, "cause", None) or result.error
            if isinstance(cause, Sim2RealError):
                raise cause
            raise Sim2RealError(f"sweep trial {result.config} failed: {str(cause).strip().splitlines()[-1]}")
        point = {k: result.config[k] for k in axes}
        index = points.index(point)
        if index in rows:  # one row per point, whatever Tune restarted
            continue
        metrics = {k: v for k, v in result.metrics.items() if k in _reported_keys(result.metrics)}
        rows[index] = {"settings": {**fixed, **point}, "metrics": metrics}
    missing = [points[i] for i in range(len(points)) if i not in rows]
    if missing:
        raise Sim2RealError(f"{len(missing)} sweep trial(s) reported nothing, first: {missing[0]}")
    return [rows[i] for i in range(len(points))]


_TUNE_KEYS = {
    "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date", "time_this_iter_s",
    "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore", "iterations_since_restore",
    "should_checkpoint", "experiment_tag",
}  # fmt: skip
"""What Tune adds to a trial's reported metrics."""


def _reported_keys(metrics: Mapping[str, Any]) -> set[str]:
    return {k for k in metrics if k not in _TUNE_KEYS}
