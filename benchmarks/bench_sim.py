"""Headline figure: environment stepping vs the bare mujoco.batch physics (see BENCHMARKS.md).

Usage: python benchmarks/bench_sim.py [robot] [envs] [seconds] [randomize]
Same as: sim2real bench sim --robot R --envs N --seconds S [--randomize CFG] --json
"""

from __future__ import annotations

import json
import sys

from sim2real.bench.sim import run

if __name__ == "__main__":
    args = sys.argv[1:]
    result = run(
        robot=args[0] if len(args) > 0 else "quadruped",
        envs=int(args[1]) if len(args) > 1 else 256,
        seconds=float(args[2]) if len(args) > 2 else 10.0,
        randomize=args[3] if len(args) > 3 else None,
    )
    print(json.dumps(result))
