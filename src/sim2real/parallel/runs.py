"""Executors of independent runs: the protocol, the in-process and worker-process backends.

Every executor returns ``[func(item) for item in items]``: the same values in the same order as a
plain loop, each run's result delivered once to ``on_result`` in completion order.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, runtime_checkable

from sim2real.errors import Sim2RealError

__all__ = ["Executor", "ProcessExecutor", "ResultBook", "SerialExecutor", "run_all"]

log = logging.getLogger(__name__)

OnResult = Callable[[int, Any], None]
"""``on_result(index, result)``: called once per run, in completion order, in the calling process."""


@runtime_checkable
class Executor(Protocol):
    """Runs ``func(item)`` for every item; results in the items' order, each exactly once."""

    name: str
    """Backend name for logs and summaries (``serial``, ``processes``, ``ray``)."""
    ships_objects: bool
    """Whether items may hold any object (specs, tasks with their functions): passed as they are
    in this process, or cloudpickled by Ray.  False: plain data and importable names only."""

    def map(
        self, func: Callable[[Any], Any], items: Sequence[Any], on_result: OnResult | None = None
    ) -> list:
        """``[func(item) for item in items]``, computed by this backend."""
        ...

    def close(self) -> None:
        """Release workers or cluster connections this executor opened."""
        ...


class ResultBook:
    """The results of ``n`` runs by index: each index is recorded once; a second result for an
    index already recorded (a resubmitted run that had in fact finished) is dropped, never counted.

    Args:
        n: Number of runs.
        on_result: Called once per newly recorded index.
    """

    def __init__(self, n: int, on_result: OnResult | None = None) -> None:
        self._results: dict[int, Any] = {}
        self.n = n
        self.on_result = on_result
        self.duplicates = 0
        """Results dropped because their index was already recorded."""

    def record(self, index: int, value: Any) -> bool:
        """Record the result of run ``index``; False (and nothing recorded) when it already was."""
        if not 0 <= index < self.n:
            raise IndexError(f"run index {index} out of range 0..{self.n - 1}")
        if index in self._results:
            self.duplicates += 1
            log.debug("run %d: duplicate result dropped", index)
            return False
        self._results[index] = value
        if self.on_result is not None:
            self.on_result(index, value)
        return True

    def __contains__(self, index: int) -> bool:
        return index in self._results

    @property
    def complete(self) -> bool:
        """Whether every run has its result."""
        return len(self._results) == self.n

    def ordered(self) -> list:
        """The results in index order.

        Raises:
            Sim2RealError: a run has no result.
        """
        missing = [i for i in range(self.n) if i not in self._results]
        if missing:
            raise Sim2RealError(f"{len(missing)} of {self.n} runs have no result (first: run {missing[0]})")
        return [self._results[i] for i in range(self.n)]


class _Closing:
    """Context-manager support for executors: ``with make_executor(...) as ex: ...``."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(_Closing):
    """Runs one after the other in this process (the reference every other backend must match)."""

    name = "serial"
    ships_objects = True

    def map(
        self, func: Callable[[Any], Any], items: Sequence[Any], on_result: OnResult | None = None
    ) -> list:
        book = ResultBook(len(items), on_result)
        for i, item in enumerate(items):
            book.record(i, func(item))
        return book.ordered()


class ProcessExecutor(_Closing):
    """Runs in a pool of ``workers`` spawned processes on this machine (``func`` and the items must
    pickle: module-level functions, plain data).

    Args:
        workers: Worker processes (0: one per CPU).
    """

    name = "processes"
    ships_objects = False

    def __init__(self, workers: int = 0) -> None:
        if workers < 0:
            raise Sim2RealError(f"workers must be 0 (one per CPU) or positive, got {workers}")
        self.workers = workers or (os.cpu_count() or 1)

    def map(
        self, func: Callable[[Any], Any], items: Sequence[Any], on_result: OnResult | None = None
    ) -> list:
        book = ResultBook(len(items), on_result)
        if not items:
            return []
        n = max(1, min(self.workers, len(items)))
        with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(func, item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                book.record(futures[fut], fut.result())
        return book.ordered()


def run_all(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    executor: Executor | None = None,
    on_result: OnResult | None = None,
) -> list:
    """``[func(item) for item in items]`` on ``executor`` (default: serial, in this process)."""
    return (executor or SerialExecutor()).map(func, list(items), on_result)
