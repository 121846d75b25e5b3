"""Headline figure: data-parallel PPO over processes vs one process, same total samples (see BENCHMARKS.md).

Usage: python benchmarks/bench_distributed.py [robot] [seeds]
Same as: sim2real bench distributed --robot R --seeds S --json
"""

from __future__ import annotations

import json
import logging
import sys

from sim2real.bench.distributed import run

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args = sys.argv[1:]
    result = run(robot=args[0] if args else "furuta", seeds=int(args[1]) if len(args) > 1 else 2)
    print(json.dumps(result))
