"""The control loop's rosbag2 log: what one run writes, and the kinds of its events.

A run is a rosbag2/MCAP directory (:class:`~sim2real.logs.bag.BagWriter`): ``/joint_states`` and
``/imu/data`` from every new valid reading, ``/joint_commands`` every tick, and
``/sim2real/events`` (the ``EVENT_*`` kinds below) with JSON details; the loop's settings and the
policy are in the bag's metadata.  A live view (:class:`~sim2real.deploy.live.LiveTelemetry`, or
anything that writes like a BagWriter) gets every message the bag gets, and a status per tick on
:data:`TOPIC_STATUS`.  Numpy and rosbags only.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.safety import SafetyEvent, Severity
from sim2real.deploy.speed import StageChange
from sim2real.logs.bag import (
    TOPIC_BASE_ESTIMATE,
    TOPIC_BASE_TRUTH,
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_IMU,
    TOPIC_JOINT_STATES,
    BagWriter,
)
from sim2real.real.odometry import BaseStateLog
from sim2real.real.protocol import Command, Reading
from sim2real.robots.spec import RobotSpec

__all__ = [
    "EVENT_DEADLINE",
    "EVENT_END",
    "EVENT_ERROR",
    "EVENT_ESTOP",
    "EVENT_MODE",
    "EVENT_POLICY",
    "EVENT_RESET",
    "EVENT_SAFETY",
    "EVENT_STAGE",
    "EVENT_START",
    "EVENT_VELOCITY",
    "HOLD_OR_SAFE_STOP",
    "TOPIC_STATUS",
    "LoopLog",
    "describe_policy",
    "finite",
    "json_safe",
]

log = logging.getLogger("sim2real.deploy.loop")

# kinds of the /sim2real/events messages the loop writes
EVENT_START = "start"
"""First event of a run: loop settings."""
EVENT_VELOCITY = "velocity_command"
"""The velocity command the policy sees changed, speed stage scaling included (detail:
velocity_command, [vx m/s, vy m/s, yaw rate rad/s]); the first at the first tick.  Fine-tuning
rebuilds the policy's observations from these."""
EVENT_SAFETY = "safety"
"""A :class:`~sim2real.deploy.safety.SafetyEvent` (detail: its ``as_dict``)."""
EVENT_STAGE = "stage"
"""A speed stage change (detail: previous_stage, stage, fraction, reason)."""
EVENT_MODE = "mode"
"""The command mode changed (normal / hold / safe)."""
EVENT_DEADLINE = "deadline_miss"
"""A missed deadline (detail: tick, overrun_ms, total)."""
EVENT_POLICY = "policy"
"""The policy reported non-finite input or raised (detail: what)."""
EVENT_RESET = "reset"
"""An explicit safety reset, accepted or refused."""
EVENT_ESTOP = "estop_request"
"""An e-stop was requested (detail: reason)."""
EVENT_ERROR = "error"
"""An exception inside the loop (or an interrupt): the robot was put in safe mode."""
EVENT_END = "end"
"""Last event of a run: the summary."""

TOPIC_STATUS = "/sim2real/status"
"""Live-only topic of the loop: one status per tick (:meth:`LoopLog.status`; not in the bag)."""

HOLD_OR_SAFE_STOP = (Severity.HOLD, Severity.SAFE_STOP)
"""Severities after which a tick's reading is not used (and the command is not the policy's)."""


def json_safe(value: Any) -> Any:
    """JSON-friendly copy: non-finite floats become None, numpy values plain Python."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def finite(*arrays: np.ndarray | None) -> bool:
    """Whether every given array (None: skipped) holds finite values only."""
    return all(a is None or bool(np.all(np.isfinite(a))) for a in arrays)


def describe_policy(policy: Any) -> dict[str, Any]:
    """Type, file, spec hash and task of a policy (for the log's metadata and start event)."""
    out: dict[str, Any] = {"type": type(policy).__name__}
    path = getattr(policy, "path", None)
    if path is not None:
        out["path"] = str(path)
    meta = getattr(policy, "metadata", None)
    if meta is not None and hasattr(meta, "spec_hash"):
        out["spec_hash"] = meta.spec_hash
        out["task"] = getattr(meta, "task", "")
    describe = getattr(policy, "describe", None)
    if callable(describe):
        out.update(describe())
    return out


class LoopLog:
    """The log of one control loop run: the bag (when logging) and the command-mode changes.

    Args:
        spec: The robot (its hash and joint names go into the bag).
        log_imu: Write ``/imu/data`` for robots with an IMU.
        live: Also write every message to this live view (it writes like a BagWriter, plus
            ``write_status``); its owner opens and closes it.
    """

    def __init__(self, spec: RobotSpec, log_imu: bool = True, live: Any = None) -> None:
        self.spec = spec
        self.log_imu = log_imu
        self.live = live
        """The live view, or None."""
        self.bag: BagWriter | _Tee | None = _Tee(None, live) if live is not None else None
        """Where the messages go: the open bag (and the live view), or None when neither."""
        self.mode: str | None = None
        """Mode of the last command written (normal, hold, safe), None before the first."""
        self._last_logged_t: float | None = None
        self.base_log: BaseStateLog | None = None
        """Writes the base state (odometry) of a floating-base robot with each reading, or None."""

    def open(
        self,
        path: str | Path,
        meta: Mapping[str, Any],
        flush_period: float = 0.0,
        base_log: BaseStateLog | None = None,
    ) -> None:
        """Create the bag at ``path`` (must not exist) with ``meta`` in its metadata; ``base_log``
        adds the base state of a floating-base robot (see :mod:`sim2real.real.odometry`)."""
        spec = self.spec
        self.base_log = base_log
        self.bag = BagWriter(
            path,
            spec.hash,
            spec.joints,
            robot=spec.name,
            command_joints=spec.actuated_joints,
            meta=json_safe(meta),
            flush_period=flush_period,
        ).open()
        warm_up_log(spec)
        topics = [TOPIC_JOINT_STATES, TOPIC_COMMANDS, TOPIC_EVENTS]
        if self.log_imu and spec.imu is not None:
            topics.append(TOPIC_IMU)
        if base_log is not None:
            topics.append(TOPIC_BASE_ESTIMATE)
            if base_log.logs_truth:
                topics.append(TOPIC_BASE_TRUTH)
        self.bag.declare(*topics)
        if self.live is not None:
            self.bag = _Tee(self.bag, self.live)

    def close(self, t: float, summary: Mapping[str, Any]) -> None:
        """Write the run's summary as the last event and close the bag (harmless when not open)."""
        bag, self.bag = self.bag, None
        if bag is not None:
            try:
                bag.write_event(t, EVENT_END, json_safe(summary))
            finally:
                bag.close()

    def event(self, t: float, kind: str, detail: Mapping[str, Any], last_now: float | None) -> None:
        """Write one event (at ``last_now``, else 0, when ``t`` is not a finite time >= 0)."""
        if self.bag is None:
            return
        if not (math.isfinite(t) and t >= 0):
            t = last_now if last_now is not None and math.isfinite(last_now) else 0.0
            t = max(t, 0.0)
        self.bag.write_event(t, kind, json_safe(detail))

    def tick(
        self,
        reading: Any,
        now: float,
        command: Command,
        events: list[SafetyEvent],
        change: StageChange | None,
        mode: str,
        last_now: float | None,
    ) -> None:
        """Log one tick: the mode change, the reading (state, IMU), the events, the stage change
        and the command written."""
        bag = self.bag
        if mode != self.mode:
            if self.mode is not None or mode != "normal":
                reason = next((e.message for e in events if e.severity in HOLD_OR_SAFE_STOP), None)
                # a held tick (one dropped reading) is routine and the monitor logs its event: debug only
                log.log(
                    logging.WARNING if mode == "safe" else logging.DEBUG,
                    "command mode %s -> %s at t=%.3f s%s",
                    self.mode,
                    mode,
                    now,
                    f": {reason}" if reason else "",
                )
                self.event(now, EVENT_MODE, {"from": self.mode, "to": mode, "reason": reason}, last_now)
            self.mode = mode
        if bag is None:
            return
        if (
            isinstance(reading, Reading)
            and reading.valid
            and math.isfinite(reading.t)
            and reading.t >= 0
            and (self._last_logged_t is None or reading.t > self._last_logged_t)
            and finite(reading.q, reading.qd)
        ):
            tau = reading.tau if reading.tau is not None and finite(reading.tau) else None
            bag.write_state(reading.t, reading.q, reading.qd, tau)
            if (
                self.log_imu
                and reading.gyro is not None
                and reading.accel is not None
                and finite(reading.gyro, reading.accel, reading.quat)
            ):
                bag.write_imu(reading.t, reading.gyro, reading.accel, reading.quat)
            if self.base_log is not None:
                self.base_log.write(bag, reading)
            self._last_logged_t = reading.t
        for event in events:
            self.event(now, EVENT_SAFETY, event.as_dict(), last_now)
        if change is not None:
            self.event(
                now,
                EVENT_STAGE,
                {
                    "previous_stage": change.previous_stage,
                    "stage": change.stage,
                    "fraction": change.fraction,
                    "message": change.message,
                },
                last_now,
            )
        t = now if math.isfinite(now) and now >= 0 else (last_now or 0.0)
        bag.write_command(t, command.values)

    def status(self, result: Any, missed_deadlines: int, events: int) -> None:
        """The live view's ``/sim2real/status`` of one tick (a :class:`TickResult`), when watched."""
        live = self.live
        if live is None or not live.subscribed(TOPIC_STATUS):
            return
        live.write_status(
            result.now,
            {
                "state": result.state,
                "mode": result.command.mode,
                "stage": result.stage,
                "fraction": result.fraction,
                "compute_ms": 1e3 * result.compute_s,
                "tick_ms": 1e3 * result.tick_s,
                "ticks": result.index + 1,
                "missed_deadlines": missed_deadlines,
                "events": events,
                "policy_ran": result.policy_ran,
            },
        )


class _Tee:
    """The bag (or nothing) and the live view as one writer: every ``write_*`` goes to both;
    :meth:`close` closes the bag only (the live view's owner closes it)."""

    def __init__(self, bag: BagWriter | None, live: Any) -> None:
        self.writers = [w for w in (bag, live) if w is not None]
        self.bag = bag

    def __getattr__(self, name: str) -> Any:  # write_state, write_imu, write_command, write_event, ...
        methods = [getattr(w, name) for w in self.writers]

        def write(*args: Any, **kwargs: Any) -> None:
            for method in methods:
                method(*args, **kwargs)

        return write

    def close(self) -> None:
        if self.bag is not None:
            self.bag.close()


_warmed = False


def warm_up_log(spec: RobotSpec) -> None:
    """Write and delete a throwaway log with one message of every kind, so that the serializers a
    run's log needs are generated now and not in the first control ticks (rosbags compiles each
    message type's CDR code on first use: about 150 ms, which would trip a 10 ms stale timeout).
    Once per process: the compiled code is kept."""
    global _warmed
    if _warmed:
        return
    n = spec.n_joints
    with (
        tempfile.TemporaryDirectory(prefix="sim2real-warmup-") as tmp,
        BagWriter(
            Path(tmp) / "warmup", spec.hash, spec.joints, robot=spec.name, command_joints=spec.actuated_joints
        ) as bag,
    ):
        bag.write_state(0.0, np.zeros(n), np.zeros(n), np.zeros(n))
        bag.write_imu(0.0, np.zeros(3), np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]))
        bag.write_command(0.0, np.zeros(spec.n_actions))
        bag.write_event(0.0, "warmup", {"x": 1.0})
        pose = (np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]), np.zeros(3), np.zeros(3))
        bag.write_base(0.0, *pose)
        bag.write_base(0.0, *pose, ground_truth=True)
    _warmed = True
