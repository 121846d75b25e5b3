"""Live telemetry: a run served on a Foxglove WebSocket while it runs (``--live [PORT]``).

``deploy``, ``record`` and ``twin-node`` take ``--live [PORT]`` (8765 by default, Foxglove's own
default; 0 picks a free port).  The loop's log goes to the live view as it goes to the bag, on the
same topics, with the same ROS 2 message types (CDR-encoded, ``ros2msg`` schemas) and the same
times: a Foxglove layout made for a bag works live, and the other way round.

====================  ================================  ==============================================
topic                 type                              what
====================  ================================  ==============================================
/joint_states         sensor_msgs/msg/JointState        every new valid reading (position, velocity,
                                                        effort), stamped with its sample time
/imu/data             sensor_msgs/msg/Imu               robots with an IMU
/joint_commands       std_msgs/msg/Float64MultiArray    the command written, every tick
/sim2real/events      std_msgs/msg/String (JSON)        safety events, stage changes, mode changes,
                                                        missed deadlines, start and end of the run
/sim2real/meta        std_msgs/msg/String (JSON)        spec hash, robot, joints (first message only)
/sim2real/status      JSON (schema ``sim2real.Status``) live only: safety state, command mode, speed
                                                        stage and fraction, timing, counters
====================  ================================  ==============================================

The layout ``foxglove_layout.json`` ships with the package (:data:`LAYOUT`; docs/safety.md).

**Never in the way of the control loop.**  A message is built and serialized only for a topic a
client is subscribed to (without one, a topic costs one call to the channel's ``has_sinks``); the
SDK queues what it sends per client (``message_backlog_size``) and drops the oldest message when a
client does not keep up, so publishing never waits on the network.  The cost per tick, with and
without a client, is measured by ``sim2real bench live`` (benchmarks/BENCHMARKS.md).

This module needs the ``live`` extra (``foxglove-sdk``); without it, :class:`LiveTelemetry` raises
one :class:`~sim2real.errors.MissingExtraError` naming the extra.  No torch.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

from sim2real.deploy.loop_log import TOPIC_STATUS, json_safe
from sim2real.errors import MissingExtraError, Sim2RealError
from sim2real.logs.bag import (
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_IMU,
    TOPIC_JOINT_STATES,
    TOPIC_META,
    BagWriter,
)
from sim2real.logs.bag_ros2 import ROS2_TYPESTORE
from sim2real.robots.spec import RobotSpec

__all__ = ["DEFAULT_PORT", "LAYOUT", "STATUS_SCHEMA", "TOPIC_STATUS", "LiveTelemetry", "live_telemetry"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
"""Port of ``--live`` without a value (the Foxglove app's default connection)."""
LAYOUT = Path(__file__).with_name("foxglove_layout.json")
"""The Foxglove layout that ships with the package (import it in the app: Layouts -> Import)."""
BACKLOG = 1024
"""Messages the server queues per client before it drops the oldest."""

STATUS_SCHEMA: dict[str, Any] = {
    "title": "sim2real.Status",
    "type": "object",
    "properties": {
        "t": {"type": "number", "description": "loop time [s]"},
        "state": {"type": "string", "description": "safety monitor: ok, hold or safe_stop"},
        "mode": {"type": "string", "description": "command written: normal, hold or safe"},
        "stage": {"type": "integer", "description": "speed stage index"},
        "fraction": {"type": "number", "description": "speed fraction of the stage"},
        "compute_ms": {"type": "number", "description": "controller time of the tick [ms]"},
        "tick_ms": {"type": "number", "description": "whole tick, robot I/O and logging included [ms]"},
        "ticks": {"type": "integer"},
        "missed_deadlines": {"type": "integer"},
        "events": {"type": "integer", "description": "safety events so far"},
        "policy_ran": {"type": "boolean"},
    },
}
"""JSON schema of ``/sim2real/status`` (the twin node publishes its own fields: mode, steps, ...)."""


def _foxglove() -> Any:
    """The ``foxglove`` package, or a MissingExtraError naming the ``live`` extra."""
    try:
        return importlib.import_module("foxglove")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name == "foxglove" or exc.name.startswith("foxglove."):
            raise MissingExtraError("live", "foxglove-sdk") from None
        raise


class _Sink:
    """What :class:`~sim2real.logs.bag.BagWriter` writes through (the face of a rosbags ``Writer``:
    ``add_connection`` and ``write``), publishing on Foxglove channels instead of a file."""

    def __init__(self, foxglove: Any, context: Any) -> None:
        self.foxglove = foxglove
        self.context = context

    def add_connection(self, topic: str, msgtype: str, typestore: Any = ROS2_TYPESTORE) -> Any:
        text, _ = typestore.generate_msgdef(msgtype, ros_version=2)
        schema = self.foxglove.Schema(name=msgtype, encoding="ros2msg", data=text.encode())
        return self.foxglove.Channel(topic, schema=schema, message_encoding="cdr", context=self.context)

    def write(self, channel: Any, ns: int, data: Any) -> None:
        channel.log(bytes(data), log_time=int(ns))

    def close(self) -> None:
        pass


class LiveTelemetry(BagWriter):
    """A Foxglove WebSocket server carrying a run's log live (see the module docstring).

    It writes like a :class:`~sim2real.logs.bag.BagWriter` (``write_state``, ``write_imu``,
    ``write_command``, ``write_event``; the loop writes to it what it writes to the bag), plus
    :meth:`write_status`.  Thread-safe.  Use as a context manager, or :meth:`open` / :meth:`close`.

    Args:
        spec: The robot (joint names, command joints, hash).
        port: TCP port; 0 picks a free one (see :attr:`port`).
        host: Interface to listen on (``0.0.0.0``: every interface, for a viewer on another machine).
        name: Server name shown by the Foxglove app.

    Raises:
        MissingExtraError: without the ``live`` extra (at construction).
    """

    def __init__(self, spec: RobotSpec, port: int = DEFAULT_PORT, host: str = "127.0.0.1", name: str | None = None) -> None:
        self._fox = _foxglove()
        if not 0 <= int(port) <= 65535:
            raise Sim2RealError(f"--live: port {port} is not a TCP port (0..65535; 0 picks a free one)")
        super().__init__(
            f"ws://{host}:{port}",
            spec.hash,
            spec.joints,
            robot=spec.name,
            command_joints=spec.actuated_joints,
        )
        self.host = host
        self.requested_port = int(port)
        self.server_name = name or f"sim2real {spec.name}"
        self.topics = [TOPIC_JOINT_STATES, TOPIC_COMMANDS, TOPIC_EVENTS, TOPIC_META]
        if spec.imu is not None:
            self.topics.insert(1, TOPIC_IMU)
        self.server: Any = None
        self._port: int | None = None
        self._status: Any = None
        self._lock = threading.Lock()
        self.failed = False
        """Whether publishing failed (it then stopped; the run goes on)."""

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> Self:
        """Start the server and advertise every topic."""
        if self.server is not None:
            raise Sim2RealError("live telemetry already open")
        fox = self._fox
        context = fox.Context()
        try:
            self.server = fox.start_server(
                name=self.server_name,
                host=self.host,
                port=self.requested_port,
                context=context,
                message_backlog_size=BACKLOG,
            )
        except Exception as exc:  # the SDK raises its own error types (e.g. the port is taken)
            raise Sim2RealError(f"--live: cannot serve on {self.host}:{self.requested_port} ({exc})") from None
        self._port = int(self.server.port)
        sink = _Sink(fox, context)
        self._writer = sink  # type: ignore[assignment]  # BagWriter writes through it
        for topic in self.topics:
            self._connection(sink, topic)  # type: ignore[arg-type]
        self._status = fox.Channel(TOPIC_STATUS, schema=STATUS_SCHEMA, context=context)
        log.info("live telemetry on %s (Foxglove: Open connection -> %s; layout %s)", self.url, self.url, LAYOUT)
        return self

    @property
    def banner(self) -> str:
        """The line a command shows its user: where to connect, and the layout file."""
        return f"live telemetry on {self.url} (Foxglove: Open connection -> {self.url}; layout {LAYOUT})"

    def _write_metadata_yaml(self) -> None:
        """Nothing: a live stream has no bag directory (the run's own log writes its metadata)."""

    def close(self) -> None:
        """Stop the server (idempotent)."""
        with self._lock:
            self._writer = None
        server, self.server = self.server, None
        if server is not None:
            server.stop()
            log.info("live telemetry stopped after %d messages", self.message_count)

    def __enter__(self) -> Self:
        return self.open()

    @property
    def port(self) -> int:
        """The port the server listens (or listened) on: the one picked when 0 was asked."""
        if self._port is None:
            raise Sim2RealError("live telemetry was never opened")
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port``."""
        return f"ws://{self.host}:{self.port}"

    # ------------------------------------------------------------------ writing

    def subscribed(self, topic: str) -> bool:
        """Whether a client is subscribed to ``topic`` now."""
        channel = self._status if topic == TOPIC_STATUS else self._connections.get(topic)
        return channel is not None and self._writer is not None and bool(channel.has_sinks())

    def _safely(self, write: Any, *args: Any) -> None:
        """Write under the lock; a failure is logged once and ends the live view, never the run."""
        with self._lock:
            if self._writer is None or self.failed:
                return
            try:
                write(*args)
            except Exception:
                self.failed = True
                log.exception("live telemetry failed; it stops publishing (the run and its log go on)")

    def write_state(self, t: float, q: Any, qd: Any, tau: Any = None) -> None:
        if self.subscribed(TOPIC_JOINT_STATES):
            self._safely(super().write_state, t, q, qd, tau)

    def write_imu(self, t: float, gyro: Any, accel: Any, quat: Any = None) -> None:
        if self.subscribed(TOPIC_IMU):
            self._safely(super().write_imu, t, gyro, accel, quat)

    def write_command(self, t: float, command: Any) -> None:
        if self.subscribed(TOPIC_COMMANDS):
            self._safely(super().write_command, t, command)

    def write_event(self, t: float, kind: str, detail: Any = None) -> None:
        if self.subscribed(TOPIC_EVENTS):
            self._safely(super().write_event, t, kind, detail)

    def write_status(self, t: float, values: dict[str, Any]) -> None:
        """One ``/sim2real/status`` message at loop time ``t`` [s] (skipped without a subscriber)."""
        if self.subscribed(TOPIC_STATUS):
            ns = round(t * 1e9) if math.isfinite(t) and t >= 0 else 0
            self._safely(self._log_status, json_safe({"t": t, **values}), ns)

    def _log_status(self, values: dict[str, Any], ns: int) -> None:
        self._status.log(values, log_time=ns)
        self.message_count += 1


@contextlib.contextmanager
def live_telemetry(
    spec: RobotSpec,
    port: int | None,
    host: str = "127.0.0.1",
    announce: Callable[[str], None] | None = None,
) -> Iterator[LiveTelemetry | None]:
    """A command's ``--live PORT``: the live telemetry, open for the ``with`` block and closed when it
    ends (error or not); None when not asked for.

    Args:
        spec: The robot.
        port: The ``--live`` port (None: no live view; 0: a free port).
        host: Interface to listen on.
        announce: Called with :attr:`LiveTelemetry.banner` once the server listens (a command
            shows it to its user).
    """
    if port is None:
        yield None
        return
    with LiveTelemetry(spec, port, host) as live:
        if announce is not None:
            announce(live.banner)
        yield live
