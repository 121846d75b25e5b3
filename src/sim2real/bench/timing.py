"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any


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
