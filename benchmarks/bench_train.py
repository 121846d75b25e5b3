"""Headline figure: wall-clock time to a successful policy, ours vs Stable-Baselines3 (see BENCHMARKS.md).

Usage: python benchmarks/bench_train.py [robot] [randomize]
Same as: sim2real bench train --robot R [--randomize CFG] --json

       python benchmarks/bench_train.py --update-threads [robot]
The PPO update with every CPU against one torch thread, interleaved in one run (a throughput ratio).
"""

from __future__ import annotations

import json
import logging
import sys

from sim2real.bench.train import run, update_threads_ratio

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args = sys.argv[1:]
    if args[:1] == ["--update-threads"]:
        print(json.dumps(update_threads_ratio(args[1] if len(args) > 1 else "quadruped")))
        sys.exit(0)
    result = run(robot=args[0] if len(args) > 0 else "furuta", randomize=args[1] if len(args) > 1 else None)
    print(json.dumps(result))
