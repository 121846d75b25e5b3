"""``sim2real bench live``: what live telemetry costs the control loop per tick.

Three deployment loops of the same robot run side by side in one process, taking turns in blocks
of ticks (lockstep on their own twins, the zero-action policy, each writing its rosbag2 log as a
deploy does):

- ``baseline``: no live telemetry (``deploy`` without ``--live``);
- ``idle``: live telemetry served, no client connected (``--live``, nobody watching);
- ``watched``: live telemetry with a client subscribed to every topic (a separate process reading
  as fast as it can, as the Foxglove app would).

Reported per variant, as the median over the rounds of the mean per tick [us]: ``cpu_us_per_tick``
(CPU time of the loop's thread: what the loop itself spends, robust on a loaded machine; the
server's own threads are not in it) and ``us_per_tick`` (wall time); the ratios to the baseline
and the added CPU time per tick.  Needs the live
extra (foxglove-sdk) and websockets (dev extra) for the client.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from sim2real.bench.timing import interleaved_ticks, machine


def run(robot: str = "quadruped", block: int = 50, rounds: int = 40) -> dict:
    """Measure and return the figures (see the module docstring)."""
    from sim2real.deploy.live import LiveTelemetry
    from sim2real.deploy.loop import ControlLoop, LoopConfig
    from sim2real.policy.linear import write_linear_policy
    from sim2real.policy.runtime import PolicyRunner
    from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    quiet = TwinConfig(effects=TwinEffects(drop_probability=0.0, seed=1))
    with tempfile.TemporaryDirectory(prefix="sim2real-bench-live-") as tmp:
        policy = write_linear_policy(spec, Path(tmp) / "zero.onnx")
        idle, watched = LiveTelemetry(spec, 0).open(), LiveTelemetry(spec, 0).open()
        client = subprocess.Popen([sys.executable, "-m", "sim2real.bench.live_client", watched.url],
                                  stdout=subprocess.PIPE, text=True)
        try:
            loops = {}
            for name, live in (("baseline", None), ("idle", idle), ("watched", watched)):
                loops[name] = ControlLoop(
                    TwinRobot(spec, quiet), PolicyRunner(policy, spec), config=LoopConfig(episode_return=False),
                    log_path=Path(tmp) / name, live=live,
                ).open()
            # the client has subscribed once the watched server publishes
            while watched.message_count == 0:
                loops["watched"].run(max_ticks=1)
                if client.poll() is not None:
                    raise RuntimeError("the benchmark's client exited before subscribing")
            times = interleaved_ticks(loops, block, rounds)
            for loop in loops.values():
                loop.close()
            published = watched.message_count
        finally:
            idle.close()
            watched.close()
            out, _ = client.communicate(timeout=60)
    med = {k: float(np.median(v["wall"])) for k, v in times.items()}
    cpu = {k: float(np.median(v["cpu"])) for k, v in times.items()}
    return {
        "robot": spec.name,
        "control_hz": 1.0 / spec.control_dt,
        "ticks_per_variant": block * rounds,
        "cpu_us_per_tick": cpu,
        "us_per_tick": med,
        "cpu_ratio_idle": cpu["idle"] / cpu["baseline"],
        "cpu_ratio_watched": cpu["watched"] / cpu["baseline"],
        "added_cpu_us_idle": cpu["idle"] - cpu["baseline"],
        "added_cpu_us_watched": cpu["watched"] - cpu["baseline"],
        "wall_ratio_watched": med["watched"] / med["baseline"],
        "messages_published": published,
        "messages_received": int(out.strip().splitlines()[-1]) if out.strip() else None,
        "machine": machine(),
    }
