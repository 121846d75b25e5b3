"""Runs as Ray tasks: join a cluster (``--ray ADDRESS``) or start one here (``--ray local``).

Ray is the ``ray`` extra and is imported only when a :class:`RayExecutor` connects.  Each run is
one task of the module-level function :func:`sim2real_run` (a worker process executing it shows
as ``ray::sim2real_run``).  Tasks are submitted with Ray's own retries off: the executor watches
every task and

- records the result of a finished task once (a :class:`~sim2real.parallel.runs.ResultBook`:
  a second result for the same run is dropped, never counted);
- resubmits a task whose worker process, node or result object was lost
  (:data:`RETRYABLE`), up to ``max_attempts`` times per run — a run is a pure function of its
  item (seeds travel in the item), so the rerun gives the result the lost one would have;
- re-raises an error the run itself raised (a :class:`~sim2real.errors.Sim2RealError` as the
  same one-line error, anything else as Ray's error with the remote traceback): rerunning a
  deterministic failure would only fail again.

Every node needs sim2real (and what the runs import) installed, and files named in the items
(policies, robot specs, twin files) at the same path: a shared filesystem, or the cluster's image.

``--ray local`` binds the cluster to loopback (127.0.0.1), private to this machine, when Ray is
first imported by this process (Ray's ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` single-machine mode).
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from sim2real.errors import MissingExtraError, Sim2RealError
from sim2real.parallel.runs import OnResult, ResultBook, _Closing

__all__ = ["EXTRA", "LOCAL", "RayExecutor", "import_ray", "sim2real_run"]

log = logging.getLogger(__name__)

EXTRA = "ray"
"""The optional dependency group that brings Ray (``pip install 'sim2real[ray]'``)."""
LOCAL = "local"
"""``--ray local``: start a single-machine cluster in this process instead of joining one."""
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray(local: bool = False, module: str = "ray") -> ModuleType:
    """Import ``ray`` (or a submodule such as ``ray.tune``).

    Args:
        local: The caller starts a local cluster: bind it to loopback (effective when this is the
            process's first import of Ray).
        module: Module to import.

    Raises:
        MissingExtraError: Ray (or the part of it named) is not installed.
    """
    if local and "ray" not in sys.modules:
        os.environ.setdefault(_LOOPBACK_ENV, "0")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == "ray" or exc.name.startswith("ray.")):
            raise MissingExtraError(EXTRA, "ray[tune]" if module != "ray" else "ray") from None
        raise


def connect(address: str) -> tuple[ModuleType, bool]:
    """Connect this process to a Ray cluster.

    Args:
        address: :data:`LOCAL`, ``auto``, ``host:port`` of a head node, or ``ray://host:10001``.

    Returns:
        (ray, started): the module and whether this call initialized Ray (the caller then shuts
        it down); a process already connected keeps its connection.

    Raises:
        MissingExtraError: no Ray.  Sim2RealError: the cluster cannot be reached.
    """
    if not address or not address.strip():
        raise Sim2RealError("--ray needs an address: host:port of a running cluster, 'auto', or 'local'")
    local = address == LOCAL
    ray = import_ray(local=local)
    if ray.is_initialized():
        return ray, False
    if not local and address != "auto":
        _check_reachable(address)
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if local:
        kwargs.update(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False)
    else:
        kwargs["address"] = address
    t0 = time.perf_counter()
    try:
        ray.init(**kwargs)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        raise Sim2RealError(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
    cpus = ray.cluster_resources().get("CPU", 0)
    log.info(
        "ray: %s cluster, %d node(s), %g CPUs (%.1f s to connect)",
        "local" if local else address,
        len([n for n in ray.nodes() if n.get("Alive")]),
        cpus,
        time.perf_counter() - t0,
    )
    return ray, True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Raise unless ``host:port`` (or ``ray://host:port``) accepts a TCP connection: ``ray.init``
    retries an address that does not answer for minutes (a typo hung ``--ray bogus:1``)."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise Sim2RealError(f"--ray {address}: not host:port, ray://host:port, 'auto' or 'local'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise Sim2RealError(
            f"--ray {address}: no Ray head answers there ({exc.strerror or exc}); start one with "
            "`ray start --head` on that machine, or use --ray local"
        ) from None


def sim2real_run(func: Callable[[Any], Any], item: Any) -> Any:
    """The Ray task of every run: ``func(item)`` on a worker."""
    return func(item)


def _retryable(ray: ModuleType) -> tuple[type[BaseException], ...]:
    """Ray errors that mean the run was lost, not that it failed."""
    exc = ray.exceptions
    return (exc.WorkerCrashedError, exc.NodeDiedError, exc.ObjectLostError, exc.OutOfMemoryError)


class RayExecutor(_Closing):
    """Runs as Ray tasks on a cluster (see the module docstring).

    Args:
        address: :data:`LOCAL` or a cluster address (see :func:`connect`).
        cpus_per_run: CPUs each task reserves on its node.
        max_attempts: Submissions of one run before a lost run is an error.
    """

    name = "ray"
    ships_objects = True

    def __init__(self, address: str, cpus_per_run: float = 1.0, max_attempts: int = 4) -> None:
        if not cpus_per_run > 0:
            raise Sim2RealError(f"CPUs per run must be positive, got {cpus_per_run}")
        if max_attempts < 1:
            raise Sim2RealError(f"max_attempts must be at least 1, got {max_attempts}")
        import_ray(local=address == LOCAL)  # without the extra: fail before any work starts
        self.address = address
        self.cpus_per_run = float(cpus_per_run)
        self.max_attempts = int(max_attempts)
        self.retries = 0
        """Runs resubmitted after a lost worker, node or object (over this executor's life)."""
        self._ray: ModuleType | None = None
        self._started = False

    def connect(self) -> ModuleType:
        """Connect (once) and return the ``ray`` module."""
        if self._ray is None:
            self._ray, self._started = connect(self.address)
        return self._ray

    def map(
        self, func: Callable[[Any], Any], items: Sequence[Any], on_result: OnResult | None = None
    ) -> list:
        items = list(items)
        book = ResultBook(len(items), on_result)
        if not items:
            return []
        ray = self.connect()
        retryable = _retryable(ray)
        task = ray.remote(sim2real_run).options(num_cpus=self.cpus_per_run, max_retries=0)
        pending: dict[Any, int] = {}
        attempts = [0] * len(items)

        def submit(i: int) -> None:
            attempts[i] += 1
            pending[task.remote(func, items[i])] = i

        for i in range(len(items)):
            submit(i)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except retryable as exc:
                    if i in book:  # already recorded by an earlier attempt: nothing is lost
                        continue
                    if attempts[i] >= self.max_attempts:
                        raise Sim2RealError(
                            f"run {i} was lost {attempts[i]} times on the Ray cluster: {type(exc).__name__}"
                        ) from None
                    self.retries += 1
                    log.warning(
                        "run %d lost (%s); resubmitting (attempt %d of %d)",
                        i,
                        type(exc).__name__,
                        attempts[i] + 1,
                        self.max_attempts,
                    )
                    submit(i)
                    continue
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, Sim2RealError):
                        raise cause from None
                    raise
                book.record(i, value)
        return book.ordered()

    def close(self) -> None:
        """Disconnect, and stop the cluster when this executor started it (``--ray local``)."""
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray = None
        self._started = False
