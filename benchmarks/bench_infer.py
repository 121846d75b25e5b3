"""Headline figure: latency of one PolicyRunner control step vs the tutorial ONNX loader and PyTorch.

Usage: python benchmarks/bench_infer.py [robot] [hidden, e.g. 256,128,64]
Same as: sim2real bench infer --robot R --json (which uses the training preset's network size)
"""

from __future__ import annotations

import json
import sys

from sim2real.bench.infer import run

if __name__ == "__main__":
    args = sys.argv[1:]
    hidden = tuple(int(h) for h in args[1].split(",")) if len(args) > 1 else None
    print(json.dumps(run(robot=args[0] if args else "quadruped", hidden=hidden)))
