"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Collection
from typing import Any

import numpy as np


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def rate(step: Callable[[], None], seconds: float, units_per_call: int) -> float:
    """Units per second of calling ``step`` repeatedly for about ``seconds`` of wall time."""
    calls = 0
    start = time.perf_counter()
    while True:
        step()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * units_per_call / elapsed


def interleaved_ticks(
    loops: dict[str, Any], block: int, rounds: int, warmup: int = 1
) -> dict[str, dict[str, list[float]]]:
    """Time per tick [us] of each control loop, in ``rounds`` rounds of ``block`` ticks each, the
    loops taking turns (so that machine noise hits them alike); ``warmup`` rounds first, not
    counted.  Returns, per loop, ``wall`` (wall-clock time) and ``cpu`` (CPU time of the calling
    thread: what the loop itself spent, without the time other processes took the core) per
    counted round."""
    out: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in loops}
    for r in range(warmup + rounds):
        for name, loop in loops.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            loop.run(max_ticks=block)
            if r >= warmup:
                out[name]["wall"].append((time.perf_counter() - wall) / block * 1e6)
                out[name]["cpu"].append((time.thread_time() - cpu) / block * 1e6)
    return out


def interleaved_summary(
    times: dict[str, dict[str, list[float]]],
    baseline: str,
    variants: dict[str, str],
    wall: Collection[str] | None = None,
) -> dict[str, Any]:
    """The figures of :func:`interleaved_ticks` against a baseline loop.

    Per loop, the median over the rounds of the time per tick [us]: ``cpu_us_per_tick`` (CPU time)
    and ``us_per_tick`` (wall time); then per compared loop, against ``baseline``: ``cpu_ratio``,
    ``added_cpu_us`` (CPU time added per tick [us]) and ``wall_ratio``, each key followed by the
    loop's suffix.

    Args:
        times: What :func:`interleaved_ticks` returned.
        baseline: The loop the others are compared with.
        variants: The compared loops, each with the suffix of its keys (``{"with": ""}`` gives
            ``cpu_ratio``; ``{"idle": "_idle"}`` gives ``cpu_ratio_idle``).
        wall: The compared loops that get a ``wall_ratio`` (default: all of them).
    """
    med = {k: float(np.median(v["wall"])) for k, v in times.items()}
    cpu = {k: float(np.median(v["cpu"])) for k, v in times.items()}
    out: dict[str, Any] = {"cpu_us_per_tick": cpu, "us_per_tick": med}
    for name, suffix in variants.items():
        out[f"cpu_ratio{suffix}"] = cpu[name] / cpu[baseline]
    for name, suffix in variants.items():
        out[f"added_cpu_us{suffix}"] = cpu[name] - cpu[baseline]
    for name, suffix in variants.items():
        if wall is None or name in wall:
            out[f"wall_ratio{suffix}"] = med[name] / med[baseline]
    return out
