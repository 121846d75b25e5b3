"""Headline figure: what the collision observer costs the control loop per tick, against the same
loop without it.

Usage: python benchmarks/bench_collision.py [robot ...]     (default: furuta quadruped)
Same as: sim2real bench collision --robot R --json
"""

from __future__ import annotations

import json
import sys

from sim2real.bench.collision import run

if __name__ == "__main__":
    for robot in sys.argv[1:] or ["furuta", "quadruped"]:
        print(json.dumps(run(robot=robot)))
