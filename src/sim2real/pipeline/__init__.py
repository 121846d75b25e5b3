"""The demo pipeline: the whole sim-to-real loop on an embedded robot with a twin as the robot.

    from sim2real.pipeline import DemoConfig, run_demo
    result = run_demo(DemoConfig(robot="furuta", out="demo_out"))
    result.summary()   # sim_success, twin_success_dr/nodr, gap_before/after, sysid_max_rel_error, ...

See :mod:`sim2real.pipeline.run` for the stages.

================  ==================================================================================
module            owns
================  ==================================================================================
run               :func:`run_demo`: the stages, in order (twin, record, gap, identify, train, export,
                  deploy, gap, report)
result            :class:`DemoResult`, the stage names and the artifacts
config            :class:`DemoConfig`: what the twin hides, how long each stage works
training          calibrated setups and training runs that keep their learning curves
episodes          episodes of an exported policy on the twin through the control loop
report            the demo's HTML report
================  ==================================================================================
"""

from sim2real.pipeline.config import HIDDEN, TINY_BUDGET, DemoBudget, DemoConfig
from sim2real.pipeline.result import ARTIFACTS, STAGES, SUMMARY_KEYS, DemoResult
from sim2real.pipeline.run import hidden_parameters, run_demo

__all__ = [
    "ARTIFACTS",
    "HIDDEN",
    "STAGES",
    "SUMMARY_KEYS",
    "TINY_BUDGET",
    "DemoBudget",
    "DemoConfig",
    "DemoResult",
    "hidden_parameters",
    "run_demo",
]
