"""Independent runs — envelope cells, seeds, multi-starts, sweep trials — in this process, in
worker processes, or on a Ray cluster, with identical results.

A *run* is a module-level function applied to one picklable item (``func(item) -> result``); a
set of runs shares nothing, so they may execute in any order and anywhere.  An
:class:`~sim2real.parallel.runs.Executor` maps the function over the items and returns the results
in the items' order, each exactly once, whichever backend ran them:

- :class:`~sim2real.parallel.runs.SerialExecutor`: one after the other in this process;
- :class:`~sim2real.parallel.runs.ProcessExecutor`: a pool of spawned worker processes;
- :class:`~sim2real.parallel.ray_cluster.RayExecutor`: tasks on a Ray cluster (``--ray ADDRESS``
  joins a running one, ``--ray local`` starts one on this machine); a task whose worker process
  or node dies is resubmitted (the run is a pure function of its item, so a rerun gives the same
  result), an error raised by the run itself is not.

:func:`~sim2real.parallel.choose.make_executor` picks one from the command-line options.  Ray is the
``ray`` extra: nothing here imports it before a Ray executor is used, and using one without the
extra is one :class:`~sim2real.errors.MissingExtraError`.  This is a base package: it imports
nothing from the rest of sim2real but :mod:`sim2real.errors`.

================  ==================================================================================
module            owns
================  ==================================================================================
runs              the :class:`Executor` protocol, serial and process executors, the result book
                  (each run's result recorded once, in the items' order)
ray_cluster       :class:`RayExecutor` (``--ray``), resubmission of runs whose worker died
choose            :func:`make_executor`: the executor the command-line options ask for
tune              grids of training settings on Ray Tune (``sim2real sweep``)
================  ==================================================================================
"""

from __future__ import annotations

from sim2real.parallel.choose import make_executor
from sim2real.parallel.runs import Executor, ProcessExecutor, SerialExecutor, run_all

__all__ = ["Executor", "ProcessExecutor", "SerialExecutor", "make_executor", "run_all"]
