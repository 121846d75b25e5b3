"""Reality gap: replay logged commands in simulation (windowed or open loop) and measure how
simulation and robot differ: prediction errors, divergence, distribution distances.

================  ==================================================================================
module            owns
================  ==================================================================================
core              :func:`measure_gap` and :func:`compare`: replay a log and compute the metrics
result            :class:`GapResult` and the failed episodes it carries (:class:`FailureAnalysis`)
metrics           prediction errors, divergence, distribution distances
failure           failure analysis: where a failed episode's replay diverged first
envelope          transfer envelope: success rate on the twin over a parameter grid
sim2sim           a policy through the deploy loop in MuJoCo, its figures, and the sim2sim gate
reference         reference models outside MuJoCo, replayed with the same windows
io                logs for replay and identification (bags, or CSV through a column map)
================  ==================================================================================
"""

from sim2real.gap.core import compare, measure_gap
from sim2real.gap.io import CSV_MAPS, load_logs
from sim2real.gap.result import DEFAULT_THRESHOLD, GapResult
from sim2real.sim.replay import Prediction, Replayer, Windows, build_windows
from sim2real.sim.velocity_source import local_slope

__all__ = [
    "CSV_MAPS",
    "DEFAULT_THRESHOLD",
    "GapResult",
    "Prediction",
    "Replayer",
    "Windows",
    "build_windows",
    "compare",
    "load_logs",
    "local_slope",
    "measure_gap",
]
