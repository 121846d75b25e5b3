"""Running rclpy nodes: contexts, executors, the steady clock, spinning until a condition, signal
handlers, real-time priority, and message field helpers (shared by the robot-side and the
deployment-side nodes)."""

from __future__ import annotations

import array
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.node import Node

from sim2real.errors import Sim2RealError
from sim2real.real.ros2.config import Ros2ConfigError

__all__ = [
    "ExecutorKind",
    "float_array",
    "install_signal_handlers",
    "make_executor",
    "new_context",
    "node_session",
    "quiet_gc",
    "restore_signal_handlers",
    "set_realtime_priority",
    "spin_until",
    "stamp_seconds",
    "steady_clock",
]

log = logging.getLogger(__name__)

ExecutorKind = Literal["events", "single", "multi"]
"""rclpy executor: ``events`` (EventsExecutor), ``single`` or ``multi`` (threaded)."""


def new_context(domain_id: int | None = None) -> Context:
    """A fresh, initialized rclpy context (its own DDS participant; shut it down when done)."""
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    return context


def make_executor(context: Context, kind: ExecutorKind = "events") -> Any:
    """An executor on ``context``: ``events`` (rclpy's EventsExecutor: the lowest overhead per
    callback, dispatched in arrival order; spin it in the main thread only), ``single``
    (SingleThreadedExecutor) or ``multi`` (MultiThreadedExecutor)."""
    if kind == "events":
        from rclpy.experimental import EventsExecutor

        return EventsExecutor(context=context)
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    if kind == "single":
        return SingleThreadedExecutor(context=context)
    if kind == "multi":
        return MultiThreadedExecutor(context=context)
    raise Ros2ConfigError(f"executor must be events, single or multi, got {kind!r}")


def float_array(values: np.ndarray) -> array.array:
    """A float64 array.array (what rclpy stores float64[] message fields as) from a numpy array."""
    out = array.array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def stamp_seconds(stamp: Any) -> float:
    """A builtin_interfaces/Time as float seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


def set_realtime_priority(priority: int | None) -> bool:
    """Run the calling thread (and the threads it starts later, e.g. DDS's) under SCHED_FIFO.

    Call it before creating the ROS context.  Needs CAP_SYS_NICE (root, or an rtprio limit); without
    it, a warning is logged and the process keeps its normal priority.

    Args:
        priority: 1..99, or None to leave the scheduling alone.

    Returns:
        Whether the priority was set.
    """
    if priority is None:
        return False
    if not 1 <= int(priority) <= 99:
        raise Sim2RealError(f"real-time priority must be in 1..99, got {priority}")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))
    except (PermissionError, OSError, AttributeError) as exc:
        log.warning("cannot set real-time priority %s (%s); running at normal priority", priority, exc)
        return False
    log.info("real-time priority: SCHED_FIFO %d", priority)
    return True


def steady_clock() -> Any:
    """A steady (monotonic) ROS clock for timers: immune to system time jumps."""
    from rclpy.clock import Clock, ClockType

    return Clock(clock_type=ClockType.STEADY_TIME)


def quiet_gc() -> None:
    """Move everything allocated during setup out of the collector's way (fewer, shorter pauses)."""
    gc.collect()
    gc.freeze()


def spin_until(
    executor: Any,
    node: Node,
    done: Callable[[], bool],
    timeout: float | None = None,
    check_period: float = 0.02,
) -> bool:
    """Spin ``executor`` until ``done()`` is true (checked every ``check_period`` by a timer on
    ``node``) or ``timeout`` seconds pass.  Returns ``done()``."""
    from rclpy.task import Future

    deadline = None if timeout is None else time.monotonic() + timeout
    future: Future = Future()

    def check() -> None:
        if not future.done() and (done() or (deadline is not None and time.monotonic() >= deadline)):
            future.set_result(True)

    check()
    if future.done():
        return done()
    timer = node.create_timer(check_period, check, clock=steady_clock())
    try:
        while not future.done() and node.context.ok():
            # rclpy's EventsExecutor never returns from spin_until_future_complete without a timeout
            executor.spin_until_future_complete(future, timeout_sec=1.0)
    finally:
        node.destroy_timer(timer)
    return done()


def install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT and SIGTERM set ``stop`` (main thread only); returns the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def restore_signal_handlers(previous: Mapping[int, Any]) -> None:
    """Put back the handlers :func:`install_signal_handlers` replaced."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@contextmanager
def node_session(
    domain_id: int | None = None, rt_priority: int | None = None, *, signals: bool = True
) -> Iterator[tuple[Context, threading.Event]]:
    """The process around one node run: real-time priority, a fresh context, and SIGINT/SIGTERM
    setting the yielded stop event (main thread only) instead of raising; at exit (after the
    caller cleaned up its node) the handlers are restored and the context is shut down.

    Args:
        domain_id: ROS_DOMAIN_ID; None: from the environment.
        rt_priority: SCHED_FIFO priority (see :func:`set_realtime_priority`); None: unchanged.
        signals: Install the signal handlers.

    Yields:
        (the context, the stop event).
    """
    set_realtime_priority(rt_priority)
    context = new_context(domain_id)
    stop = threading.Event()
    previous = install_signal_handlers(stop) if signals else {}
    try:
        yield context, stop
    finally:
        restore_signal_handlers(previous)
        context.try_shutdown()
