"""Headline figure: what live telemetry (`--live`) costs the control loop per tick, without a client
and with one watching every topic, against the loop without it.

Usage: python benchmarks/bench_live.py [robot ...]     (default: furuta quadruped)
Same as: sim2real bench live --robot R --json
"""

from __future__ import annotations

import json
import sys

from sim2real.bench.live import run

if __name__ == "__main__":
    for robot in sys.argv[1:] or ["furuta", "quadruped"]:
        print(json.dumps(run(robot=robot)))
