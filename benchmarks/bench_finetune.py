"""Headline figure: return gain of a residual adapter fine-tuned from at most 20 twin episodes (see BENCHMARKS.md).

Usage: python benchmarks/bench_finetune.py [robot] [seeds]
Same as: sim2real bench finetune --robot R --seeds N --json
"""

from __future__ import annotations

import json
import logging
import sys

from sim2real.bench.finetune import run

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args = sys.argv[1:]
    result = run(robot=args[0] if args else "furuta", seeds=int(args[1]) if len(args) > 1 else 3)
    print(json.dumps(result))
