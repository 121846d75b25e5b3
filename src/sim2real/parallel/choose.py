"""Choose the executor the command-line options ask for (serial, worker processes, or Ray)."""

from __future__ import annotations

from sim2real.parallel.runs import Executor, ProcessExecutor, SerialExecutor


def make_executor(ray: str | None = None, workers: int = 1, cpus_per_run: float = 1.0) -> Executor:
    """The executor the command-line options ask for.

    Args:
        ray: ``None``: no Ray; ``"local"``: start a Ray cluster on this machine; otherwise the
            address of a running cluster (``host:port``, ``auto``, or ``ray://host:10001``).
        workers: Without Ray: 1 runs in this process, 0 one worker process per CPU, N N processes.
        cpus_per_run: With Ray: CPUs each run reserves on its node.

    Raises:
        MissingExtraError: ``ray`` given without the ``ray`` extra installed.
    """
    if ray is not None:
        from sim2real.parallel.ray_cluster import RayExecutor

        return RayExecutor(ray, cpus_per_run=cpus_per_run)
    if workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
