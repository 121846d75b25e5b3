"""The speed stages' cap on the robot's own speed, for velocity-tracking policies.

A speed stage slows a velocity-tracking policy by scaling its velocity command (10 % of the
commanded speed at the first stage); the joint targets are shaped at full speed so that a walking
robot keeps its balance.  That slows the robot only if the policy follows its command: a policy
that ignores it (an import with the wrong command scale, a policy trained on one speed) would run as
fast at 10 % as at 100 %.  :class:`StageSpeedGuard` measures what the stage is meant to limit:

- the base's horizontal speed (``Reading.base_lin_vel``, turned from the base frame into the
  world's by the base's orientation, x and y) against the stage's commanded speed plus a margin,
  ``|v_cmd,xy| + speed_margin``;
- the base's yaw rate (the IMU's angular velocity turned into the base frame, then the world's:
  its z component) against ``|w_cmd| + yaw_margin``;

the base's orientation being the reading's (the IMU's, through its mount); without one, the base
frame's x-y plane and z axis stand in (a base tilted by 1 rad would show 54 % of its speed);

both low-pass filtered (time constant ``filter_s``) against the spikes of an estimator.  Above a
cap, one ``stage_speed`` event of severity ``info`` says so; still above it ``timeout`` seconds
later, a ``stage_speed`` safe stop (each measure on its own timer, which a reading without the
measure neither restarts nor runs out: the monitor does not judge a base velocity, so an estimate
that drops out now and then must not hide a robot that runs).  After the cap drops (a stage goes
down, the operator slows the command, the ledger steps back from 100 %) the robot gets
``settle_s`` to slow down: it is held to the highest cap in effect within the last ``settle_s``
(a command that keeps dropping, a joystick jittering down and up, never holds the check off: the
robot stays held to the cap it had).  A non-finite command (the policy's input check holds the
robot) leaves the caps as they were.  The guard checks stages below 100 % only: at 100 % the
operator has accepted the policy's full speed.  A robot that gives no finite base velocity has
only its yaw rate checked (one without a gyro only its speed); each gap is said once (an ``info``
event, and a warning in the log); a measure the robot has given that then stays non-finite for
``timeout`` (an estimator gone NaN) is a ``stage_speed`` safe stop: the cap cannot be checked: :class:`~sim2real.real.ros2.robot.Ros2Robot` reads the base
velocity only from an odometry topic (``Ros2Config.odometry_topic``); without one, on a ROS 2
robot only the yaw rate is checked.

Numpy (and MuJoCo, once, for the IMU's mount).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim2real.deploy.body_geometry import imu_to_base
from sim2real.deploy.safety_events import EventKind, SafetyConfigError, SafetyEvent, Severity, new_event
from sim2real.errors import Sim2RealError
from sim2real.logs.trajectory import rotate
from sim2real.real.protocol import Reading
from sim2real.real.rotations import quat_multiply
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

_MEASURES = (("speed", "speed", "m/s"), ("yaw rate", "yaw_rate", "rad/s"))
"""What the guard measures: (name in its messages, key in :attr:`StageSpeedGuard.speeds`, unit)."""

__all__ = ["StageSpeedConfig", "StageSpeedGuard", "stage_caps", "stage_speed_guard"]


@dataclass(frozen=True)
class StageSpeedConfig:
    """How the speed stages cap the robot's own speed (velocity-tracking policies, stages below 100 %)."""

    enabled: bool = True
    """Check the robot's speed against its stage (off: the velocity command alone is scaled)."""
    speed_margin: float = 0.3
    """Allowance above the stage's commanded horizontal speed [m/s]; positive."""
    yaw_margin: float = 0.5
    """Allowance above the stage's commanded yaw rate [rad/s]; positive."""
    filter_s: float = 0.25
    """Time constant of the first-order low-pass on the measured speeds [s]; 0: unfiltered."""
    timeout: float = 0.5
    """Time above a cap before the safe stop [s]; positive."""
    settle_s: float = 1.0
    """Extra time the robot gets to slow down after its cap dropped [s]; non-negative."""

    def __post_init__(self) -> None:
        for name in ("speed_margin", "yaw_margin", "timeout"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SafetyConfigError(f"stage_speed.{name} must be a positive number, got {value!r}")
        for name in ("filter_s", "settle_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise SafetyConfigError(f"stage_speed.{name} must be a non-negative number, got {value!r}")


def stage_caps(
    config: StageSpeedConfig, fraction: float, command: np.ndarray | None
) -> tuple[float, float] | None:
    """The caps of a stage: (horizontal speed [m/s], yaw rate [rad/s]), or None when unchecked.

    Args:
        config: The allowances.
        fraction: The stage's speed fraction in (0, 1]; 1 (the last stage) is not capped.
        command: The velocity command the policy gets at this stage (already scaled by ``fraction``),
            shape (3,): vx, vy [m/s], yaw rate [rad/s]; None: no velocity command, nothing capped.
    """
    if not config.enabled or command is None or fraction >= 1.0:
        return None
    c = np.asarray(command, dtype=float)
    if c.shape != (3,) or not np.all(np.isfinite(c)):  # the policy's own input check holds on it
        return None
    return float(np.hypot(c[0], c[1])) + config.speed_margin, abs(float(c[2])) + config.yaw_margin


def stage_command(
    scaled: np.ndarray | None, clip: tuple[object, object] | None
) -> tuple[np.ndarray | None, str | None]:
    """The velocity command a stage's cap is built from, and a note when the policy sees more.

    The policy's observation clips its command into its trained ranges.  Clipped down (a command
    above them), the policy walks slower: the cap takes the clipped value.  Clipped UP (a range that
    excludes slow commands, e.g. vx in [0.5, 1.0] at the 10 % stage), the policy walks faster than
    the stage intends: the cap keeps the stage's own scaled value, so the guard stops a robot that
    walks at the clipped speed, and the note says so.

    Args:
        scaled: The stage's command, shape (3,): vx, vy [m/s], yaw rate [rad/s]; None: no command.
        clip: The ``velocity_command`` term's (low, high) clip (scalars or shape (3,)), or None.

    Returns:
        (per axis the smaller in magnitude of the scaled and the clipped command, or None; a one-line
        note naming the axes clipped up, or None).
    """
    if scaled is None or clip is None:
        return scaled, None
    seen = np.clip(scaled, clip[0], clip[1])
    up = np.abs(seen) > np.abs(scaled) + 1e-9
    if not up.any():
        return seen, None
    axes = ", ".join(
        f"{axis} {v:g} -> {w:g}" for axis, v, w, u in zip(("vx", "vy", "yaw rate"), scaled, seen, up, strict=True) if u
    )
    note = (
        f"the stage's velocity command lies below the policy's trained ranges ({axes}: its observation clips it "
        "up): the policy may move faster than the stage intends, and the stage's speed cap keeps the stage's value"
    )
    return np.where(up, scaled, seen), note


class StageSpeedGuard:
    """Checks each reading's base speed and yaw rate against the current stage's caps.

    Args:
        config: The allowances and times.
        stage: Called at every check: (the stage's speed fraction, the velocity command the policy
            gets at it, already scaled; None without one).
        imu_to_base: The IMU's mount (:func:`~sim2real.deploy.body_geometry.imu_to_base`), a
            (w, x, y, z) quaternion, or None when the IMU is square to the base.
        yaw: Check the yaw rate (False: the IMU's frame does not tell the base's).
    """

    def __init__(
        self,
        config: StageSpeedConfig,
        stage: Callable[[], tuple[float, np.ndarray | None]],
        imu_to_base: np.ndarray | None = None,
        yaw: bool = True,
    ) -> None:
        self.config = config
        self._yaw = yaw
        self._stage = stage
        # the IMU's angular velocity in the base frame: turned by the site's orientation on the base
        self._mount = None if imu_to_base is None else np.asarray(imu_to_base, float)
        self._site_in_base = None if self._mount is None else self._mount * [1, -1, -1, -1]
        self._caps: tuple[float, float] | None = None
        self._seen = False
        # per cap, the caps replaced within the last settle_s: (replaced at [s], cap), caps falling
        # from the oldest to the newest (a cap below a newer one can never be the highest)
        self._replaced: tuple[deque[tuple[float, float]], deque[tuple[float, float]]] = (deque(), deque())
        self._filtered: dict[str, float] = {}
        self._last_t: float | None = None
        # per measure (speed, yaw_rate): since when it has been above its cap [s] (loop time)
        self._over_since: dict[str, float] = {}
        self._unmeasured_said: set[str] = set()
        # per measure: loop time of its last finite value [s], for a measure the robot has given
        # (after a restart, of the first check); a measure that stops stops the robot
        self._measured_at: dict[str, float | None] = {}

    def restart(self) -> None:
        """Forget the measures and the time above a cap (after an accepted safety reset: the monitor
        does not run the guard while a safe stop is latched, so what it had measured is old)."""
        self._filtered.clear()
        self._over_since.clear()
        self._last_t = None
        self._measured_at = dict.fromkeys(self._measured_at)  # once given, a measure's clock starts again

    @property
    def caps(self) -> tuple[float, float] | None:
        """The caps of the last check: (speed [m/s], yaw rate [rad/s]), or None when unchecked."""
        return self._caps

    def _allowed(self, caps: tuple[float, float] | None, now: float) -> tuple[float, float] | None:
        """The caps the robot is held to: each the highest of the stage's now and those replaced
        within the last ``settle_s`` (the time it gets to slow down to a lower one; from 100 %,
        unchecked, too)."""
        if self._seen and caps != self._caps:
            replaced = (math.inf, math.inf) if self._caps is None else self._caps
            for queue, old in zip(self._replaced, replaced, strict=True):
                while queue and queue[-1][1] <= old:
                    queue.pop()
                queue.append((now, old))
        self._seen = True
        self._caps = caps
        for queue in self._replaced:
            while queue and not now - queue[0][0] < self.config.settle_s:
                queue.popleft()
        if caps is None:
            return None
        speed, yaw = (
            max([cap, *(old for _, old in queue)]) for cap, queue in zip(caps, self._replaced, strict=True)
        )
        return speed, yaw

    @property
    def speeds(self) -> dict[str, float]:
        """The filtered speeds of the last check: ``speed`` [m/s] and ``yaw_rate`` [rad/s], when measured."""
        return dict(self._filtered)

    def _measure(self, reading: Reading) -> dict[str, float]:
        """Horizontal speed and yaw rate in the world frame when the reading's IMU tells the base's
        orientation (a tilted base's own x-y plane and z axis are not the world's), else in the
        base frame."""
        out: dict[str, float] = {}
        imu = reading.quat if self._yaw else None  # the IMU's orientation in the world, when it tells
        if imu is not None:
            norm = float(np.linalg.norm(imu)) if np.all(np.isfinite(imu)) else 0.0
            imu = np.asarray(imu, dtype=float) / norm if norm > 1e-9 else None
        if reading.base_lin_vel is not None and np.all(np.isfinite(reading.base_lin_vel)):
            v = np.asarray(reading.base_lin_vel, dtype=float)
            if imu is not None:  # the base's orientation: the IMU's through its mount
                v = rotate(imu if self._mount is None else quat_multiply(imu, self._mount), v)
            out["speed"] = float(np.hypot(v[0], v[1]))
        if self._yaw and reading.gyro is not None and np.all(np.isfinite(reading.gyro)):
            gyro = np.asarray(reading.gyro, dtype=float)  # in the IMU's frame
            if imu is not None:
                gyro = rotate(imu, gyro)
            elif self._site_in_base is not None:
                gyro = rotate(self._site_in_base, gyro)
            out["yaw_rate"] = abs(float(gyro[2]))
        return out

    def _filter(self, measured: dict[str, float], t: float) -> None:
        dt = 0.0 if self._last_t is None else max(t - self._last_t, 0.0)
        tau = self.config.filter_s
        alpha = 1.0 if tau <= 0 else 1.0 - math.exp(-dt / tau)
        for key in ("speed", "yaw_rate"):
            value, old = measured.get(key), self._filtered.get(key)
            if value is None:  # not measured now: an old value says nothing (the check says it is off)
                self._filtered.pop(key, None)
            else:
                self._filtered[key] = value if old is None else old + alpha * (value - old)
        self._last_t = t

    def check(self, reading: Reading | None, now: float) -> list[SafetyEvent]:
        """The events of one reading (a valid, timely one; others are the monitor's business).

        Returns:
            ``stage_speed`` events: info when a cap is first exceeded (and once when the robot gives
            no base velocity), safe_stop when it is still exceeded ``timeout`` later.
        """
        fraction, command = self._stage()
        if self._seen and command is not None and not np.all(np.isfinite(command)):
            caps = self._caps  # the policy's input check holds the robot; the caps stay what they were
        else:
            caps = stage_caps(self.config, fraction, command)
        caps = self._allowed(caps, now)
        if not isinstance(reading, Reading) or not reading.valid or not math.isfinite(reading.t):
            return []
        if self._last_t is not None and reading.t == self._last_t:
            return []  # the same sample again
        if self._last_t is not None and reading.t < self._last_t:
            # the robot's clock went back (the monitor holds, and stops, unless a reset took the new
            # clock): filter afresh, not wait for its time to pass the old one
            self._filtered.clear()
            self._last_t = None
        measured = self._measure(reading)
        self._filter(measured, reading.t)
        for key, stamp in self._measured_at.items():
            if stamp is None:
                self._measured_at[key] = now
        self._measured_at.update(dict.fromkeys(measured, now))
        if caps is None:
            self._over_since.clear()
            return []
        events = []
        for key, what in (("speed", "base velocity"), ("yaw_rate", "yaw rate (gyro)")):
            if key not in self._filtered and key not in self._unmeasured_said:
                self._unmeasured_said.add(key)
                name = "speed" if key == "speed" else "yaw-rate"
                message = f"the robot gives no finite {what}: the stage's {name} cap is not checked"
                # an info event is logged at debug level: a check that is off must be seen on the console
                log.warning("stage speed: %s", message)
                events.append(new_event(now, EventKind.STAGE_SPEED, Severity.INFO, message))
            stamp = self._measured_at.get(key)
            if key not in self._filtered and stamp is not None and now - stamp >= self.config.timeout:
                message = (
                    f"the robot's {what} has given no finite value for {now - stamp:.3g} s after it had "
                    f"(speed {100 * fraction:g} %): the stage's cap cannot be checked"
                )
                events.append(new_event(now, EventKind.STAGE_SPEED, Severity.SAFE_STOP, message))
        assert self._caps is not None
        for (name, key, unit), cap, stage_cap in zip(_MEASURES, caps, self._caps, strict=True):
            value = self._filtered.get(key)
            if value is None:  # not measured now: its timer neither runs out nor restarts
                continue
            if value <= cap:
                self._over_since.pop(key, None)
                continue
            what = f"base {name} {value:.3g} {unit} above the stage's cap {cap:.3g} {unit}"
            if cap > stage_cap:  # still the time to slow down to a lower one
                what += f" of the last {self.config.settle_s:g} s (now {stage_cap:.3g} {unit})"
            what += f" (speed {100 * fraction:g} %)"
            since = self._over_since.get(key)
            if since is None:
                self._over_since[key] = now
                message = f"{what}: safe stop unless it slows within {self.config.timeout:g} s"
                events.append(
                    new_event(now, EventKind.STAGE_SPEED, Severity.INFO, message, value=value, limit=cap)
                )
            elif now - since >= self.config.timeout:
                message = f"{what} for {self.config.timeout:g} s: the policy does not slow down with its velocity command"
                events.append(
                    new_event(now, EventKind.STAGE_SPEED, Severity.SAFE_STOP, message, value=value, limit=cap)
                )
        return events


def stage_speed_guard(
    spec: RobotSpec, config: StageSpeedConfig, stage: Callable[[], tuple[float, np.ndarray | None]]
) -> StageSpeedGuard | None:
    """The guard of a floating-base robot (None for a fixed base, or when ``config`` turns it off),
    its yaw rate read through the IMU's mount (not checked when the IMU moves against the base).

    Args:
        spec: The robot.
        config: The allowances and times.
        stage: See :class:`StageSpeedGuard`.
    """
    if not config.enabled or not spec.floating_base:
        return None
    try:
        mount, yaw = imu_to_base(spec), spec.imu is not None
    except Sim2RealError:  # an IMU on a moving link: its angular velocity is not the base's
        mount, yaw = None, False
    return StageSpeedGuard(config, stage, mount, yaw)
