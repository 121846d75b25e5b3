"""``sim2real bench collision``: what the collision observer costs the control loop per tick.

Two deployment loops of the same robot run side by side in one process, taking turns in blocks of
ticks (lockstep on their own twins, the zero-action policy, no log): ``with`` runs the deployment
monitor with the spec's collision detection (:func:`~sim2real.deploy.monitor.deployment_monitor`),
``without`` the same monitor without it.  Reported per variant, as the median over the rounds of
the mean per tick [us]: ``cpu_us_per_tick`` (CPU time of the loop's thread, robust on a loaded
machine) and ``us_per_tick`` (wall time), with their ratios and the added CPU time; and the
controller's own time per tick (``compute``: safety checks, observation, policy; robot I/O
excluded; wall clock) with and without.  The
loop's tick includes the twin's physics, which a robot does not run: the compute figures are the
robot computer's share.
"""

from __future__ import annotations

import numpy as np

from sim2real.bench.timing import interleaved_summary, interleaved_ticks, machine


def run(robot: str = "quadruped", block: int = 50, rounds: int = 40) -> dict:
    """Measure and return the figures (see the module docstring)."""
    import tempfile
    from pathlib import Path

    from sim2real.deploy.loop import ControlLoop, LoopConfig
    from sim2real.deploy.monitor import deployment_monitor
    from sim2real.deploy.safety import SafetyMonitor
    from sim2real.policy.linear import write_linear_policy
    from sim2real.policy.runtime import PolicyRunner
    from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    quiet = TwinConfig(effects=TwinEffects(drop_probability=0.0, seed=1))
    compute: dict[str, list[float]] = {"with": [], "without": []}
    with tempfile.TemporaryDirectory(prefix="sim2real-bench-collision-") as tmp:
        policy = write_linear_policy(spec, Path(tmp) / "zero.onnx")
        loops = {}
        for name, monitor in (("with", deployment_monitor(spec)), ("without", SafetyMonitor(spec))):
            assert (monitor.collision is not None) == (name == "with")

            def collect(result, name=name):
                compute[name].append(result.compute_s * 1e6)

            loops[name] = ControlLoop(TwinRobot(spec, quiet), PolicyRunner(policy, spec), monitor=monitor,
                                      config=LoopConfig(episode_return=False), on_tick=collect).open()
        times = interleaved_ticks(loops, block, rounds)
        events = {name: sum(loop.monitor.counters.values()) for name, loop in loops.items()}
        for loop in loops.values():
            loop.close()
    skip = block  # the warm-up round
    comp = {k: float(np.median(v[skip:])) for k, v in compute.items()}
    return {
        "robot": spec.name,
        "control_hz": 1.0 / spec.control_dt,
        "ticks_per_variant": block * rounds,
        **interleaved_summary(times, "without", {"with": ""}),
        "compute_us": comp,
        "compute_ratio": comp["with"] / comp["without"],
        "safety_events": events,
        "machine": machine(),
    }
