"""Headline figure of issue 17: the joint friction model on the shared real recordings (see BENCHMARKS.md).

Usage: python benchmarks/bench_friction.py [folder of the real recordings]
Same as: sim2real bench friction --json
"""

from __future__ import annotations

import json
import sys

from sim2real.bench.friction import run

if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else None)))
