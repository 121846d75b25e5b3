"""``sim2real demo``: the whole loop on the embedded default robot (furuta)."""

from __future__ import annotations

from sim2real.commands.output import emit, human


def demo(robot: str = "furuta", json: bool = False) -> int:
    """Run the sim-to-real loop on an embedded robot, with no hardware (a twin plays the robot).

    This version runs the stages that exist so far and says which ones are still missing.

    Args:
        robot: Embedded robot name or spec YAML path.
        json: Print a JSON summary on stdout.
    """
    import numpy as np

    from sim2real.envs.core import TaskEnv
    from sim2real.robots import load_robot
    from sim2real.tasks import get_task

    spec = load_robot(robot)
    human(f"demo on '{spec.name}' (spec {spec.hash[:12]})", json)
    env = TaskEnv(spec, get_task(spec.name), 16, seed=0)
    returns = []
    for _ in range(round(2.0 / spec.control_dt)):
        result = env.step(np.zeros((16, spec.n_actions)))
        if result.info:
            returns.extend(result.info["episode_return"].tolist())
    stages = {
        "simulate": "done: 16 simulations stepped for 2 s with a zero policy",
        "record": "not built yet",
        "gap_before": "not built yet",
        "identify": "not built yet",
        "train": "not built yet",
        "export": "not built yet",
        "deploy": "not built yet",
        "gap_after": "not built yet",
        "report": "not built yet",
    }
    text = "\n".join(f"  {k:<11} {v}" for k, v in stages.items())
    emit({"robot": spec.name, "stages": stages, "complete": False}, json, "stages of the loop:\n" + text)
    return 0
