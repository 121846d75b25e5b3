"""Reality gap: replay logged commands in simulation (windowed or open loop) and measure how
simulation and robot differ: prediction errors, divergence, distribution distances."""

from sim2real.gap.core import DEFAULT_THRESHOLD, GapResult, compare, measure_gap
from sim2real.gap.io import CSV_MAPS, load_logs
from sim2real.sim.replay import Prediction, Replayer, Windows, build_windows, local_slope

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
