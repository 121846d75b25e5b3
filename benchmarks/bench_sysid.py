"""Headline figure: our identification vs the seeds' L-BFGS-B recipe, same data, one run (see BENCHMARKS.md).

Usage: python benchmarks/bench_sysid.py [robot] [seed]
Same as: sim2real bench sysid --robot R --json
"""

from __future__ import annotations

import json
import sys

from sim2real.bench.sysid import run

if __name__ == "__main__":
    args = sys.argv[1:]
    result = run(robot=args[0] if args else "furuta", seed=int(args[1]) if len(args) > 1 else 0)
    print(json.dumps(result))
