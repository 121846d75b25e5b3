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
and the added CPU time per tick.  A whole tick (the twin's physics included) varies by more than
the live view costs, so the publishing itself is also timed on its own: ``publish_cpu_us`` is the
CPU time of one tick's live writes (joint state, IMU, command, status; the loop's own calls,
replayed on the readings and commands of the run) to the idle and to the watched server, in
interleaved blocks.  Needs the live
extra (foxglove-sdk) and websockets (dev extra) for the client.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from sim2real.bench.timing import interleaved_summary, interleaved_ticks, machine


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
        idle, watched, cost = (LiveTelemetry(spec, 0).open() for _ in range(3))
        # the counting client watches the loop's server; the publish-cost burst goes to another
        # watched server (its own client), so a burst faster than any client reads (the server
        # then drops the oldest queued messages) never touches the count
        clients = [
            subprocess.Popen([sys.executable, "-m", "sim2real.bench.live_client", server.url], stdout=subprocess.PIPE, text=True)
            for server in (watched, cost)
        ]
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
                if clients[0].poll() is not None:
                    raise RuntimeError("the benchmark's client exited before subscribing")
            results: list = []
            loops["watched"].on_tick = results.append
            times = interleaved_ticks(loops, block, rounds)
            for loop in loops.values():
                loop.close()
            published = watched.message_count
            publish = _publish_cost(spec, results, {"idle": idle, "watched": cost}, clients[1])
        finally:
            for server in (idle, watched, cost):
                server.close()
            out, _ = clients[0].communicate(timeout=60)
            clients[1].communicate(timeout=60)
    return {
        "robot": spec.name,
        "control_hz": 1.0 / spec.control_dt,
        "ticks_per_variant": block * rounds,
        **interleaved_summary(times, "baseline", {"idle": "_idle", "watched": "_watched"}, wall=("watched",)),
        "publish_cpu_us": publish,
        "messages_published": published,
        "messages_received": int(out.strip().splitlines()[-1]) if out.strip() else None,
        "machine": machine(),
    }


def _publish_cost(spec, results: list, servers: dict, client: subprocess.Popen, repeats: int = 20) -> dict[str, float]:
    """CPU time [us] of one tick's live writes, per server (median over interleaved blocks);
    ``client`` subscribes to the ``watched`` one."""
    import time

    from sim2real.deploy.loop_log import LoopLog

    ticks = [r for r in results if r.reading is not None and r.reading.valid]
    logs = {name: LoopLog(spec, live=live) for name, live in servers.items()}
    while servers["watched"].message_count == 0:  # its client has subscribed once it publishes
        logs["watched"].status(ticks[0], 0, 0)
        if client.poll() is not None:
            raise RuntimeError("the benchmark's second client exited before subscribing")
    samples: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(repeats):
        for name, log in logs.items():
            start = time.thread_time()
            for r in ticks:
                log.bag.write_state(r.reading.t, r.reading.q, r.reading.qd, r.reading.tau)
                if r.reading.gyro is not None:
                    log.bag.write_imu(r.reading.t, r.reading.gyro, r.reading.accel, r.reading.quat)
                log.bag.write_command(r.now, r.command.values)
                log.status(r, 0, 0)
            samples[name].append((time.thread_time() - start) / len(ticks) * 1e6)
    return {name: float(np.median(v)) for name, v in samples.items()}
