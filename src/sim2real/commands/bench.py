"""``sim2real bench sim|train|infer|sysid|finetune|distributed|sim2sim|live|collision|actuator|friction``: measure a headline figure."""

from __future__ import annotations

import importlib
from typing import Annotated, Literal

import tyro

from sim2real.commands.arguments import Count, Positive
from sim2real.commands.output import emit
from sim2real.errors import Sim2RealError

Which = Literal["sim", "train", "infer", "sysid", "finetune", "distributed", "sim2sim", "live", "collision", "actuator", "friction"]


def bench(
    which: Annotated[Which, tyro.conf.Positional],
    robot: str = "quadruped",
    envs: Count = 256,
    seconds: Positive = 10.0,
    randomize: str | None = None,
    seeds: Count | None = None,
    steps: Count | None = None,
    nproc: Count = 2,
    ray: str | None = None,
    actuator_net: str | None = None,
    oracle: bool = False,
    json: bool = False,
) -> int:
    """Run a benchmark and print its figures (see benchmarks/BENCHMARKS.md).

    Args:
        which: Which benchmark.
        robot: Embedded robot name or spec YAML path (sim2sim: a unitree_rl_gym policy folder).
        envs: Number of parallel simulations (sim).
        seconds: Measurement time (sim); run length (sim2sim).
        randomize: Randomization config name or file (sim).
        seeds: Number of seeds (finetune: default 3; train: 1, with --ray run as Ray tasks;
            distributed: 2).
        steps: Environment steps of every training run (distributed, actuator; default 3,000,000).
        nproc: Processes of the parallel training runs (distributed).
        ray: Run the seeds of `bench train` as tasks on a Ray cluster (address, or "local").
        actuator_net: sim: simulate the actuated joints with this actuator network (ONNX of
            `sim2real actuator fit`) and report its cost against the spec's own actuators.
        oracle: friction: also optimize the parameters directly on the held-out recordings (an
            upper bound of what any values reach; about 10 minutes more).
        json: Print a JSON summary on stdout.
    """
    try:
        module = importlib.import_module(f"sim2real.bench.{which}")
    except ModuleNotFoundError as exc:
        if exc.name == f"sim2real.bench.{which}":
            raise Sim2RealError(f"benchmark '{which}' is not available in this version") from None
        raise
    options = {"robot": robot, "envs": envs, "seconds": seconds, "randomize": randomize, "nproc": nproc, "ray": ray}
    options["actuator_net"] = actuator_net
    options["oracle"] = oracle
    options.update({k: v for k, v in (("seeds", seeds), ("steps", steps)) if v is not None})
    import inspect

    accepted = inspect.signature(module.run).parameters
    if actuator_net is not None and "actuator_net" not in accepted:
        raise Sim2RealError(f"--actuator-net applies to bench sim, not bench {which}")
    if oracle and "oracle" not in accepted:
        raise Sim2RealError(f"--oracle applies to bench friction, not bench {which}")
    result = module.run(**{k: v for k, v in options.items() if k in accepted})
    emit(result, json)
    return 0
