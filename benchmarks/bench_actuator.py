"""Headline figures of issue 17: actuator networks against the identified drive (see BENCHMARKS.md).

Usage: python benchmarks/bench_actuator.py [quadruped|furuta] [steps] [episodes]
Same as: sim2real bench actuator --robot R [--steps N] --json
(quadruped: torque prediction of a fresh PRBS recording; furuta: policies trained with each model)
"""

from __future__ import annotations

import json
import sys

from sim2real.bench.actuator import run

if __name__ == "__main__":
    args = sys.argv[1:]
    result = run(
        robot=args[0] if args else "quadruped",
        steps=int(args[1]) if len(args) > 1 else None,
        episodes=int(args[2]) if len(args) > 2 else 32,
    )
    print(json.dumps(result))
