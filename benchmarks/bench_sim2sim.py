"""Headline figure: an imported legged_gym policy in sim2real's sim2sim vs the upstream MuJoCo recipe.

Usage: python benchmarks/bench_sim2sim.py [policy folder, default ../shared/data/foreign/unitree_h1] [seconds]
Same as: sim2real bench sim2sim --robot FOLDER --seconds 20 --json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim2real.bench.sim2sim import run

if __name__ == "__main__":
    args = sys.argv[1:]
    folder = (
        args[0]
        if args
        else str(Path(__file__).resolve().parents[1].parent / "shared/data/foreign/unitree_h1")
    )
    print(json.dumps(run(robot=folder, seconds=float(args[1]) if len(args) > 1 else 20.0)))
