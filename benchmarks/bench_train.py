"""Headline figure: wall-clock time to a successful policy, ours vs Stable-Baselines3 (see BENCHMARKS.md).

Usage: python benchmarks/bench_train.py [robot] [randomize]
Same as: sim2real bench train --robot R [--randomize CFG] --json
"""

from __future__ import annotations

import json
import logging
import sys

from sim2real.bench.train import run

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args = sys.argv[1:]
    result = run(robot=args[0] if len(args) > 0 else "furuta", randomize=args[1] if len(args) > 1 else None)
    print(json.dumps(result))
