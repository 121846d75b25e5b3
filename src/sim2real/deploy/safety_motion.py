"""Does a joint's position follow its velocity?  The check of a sensor stream that looks alive but is not.

A driver that keeps republishing its last ``JointState`` after its motor bus went quiet gives
readings with fresh arrival times, so the staleness check passes; the values themselves are frozen.
When the frozen velocity is not zero, the positions disagree with it: over a window of
:data:`WINDOW` seconds the change of a joint's position must match the integral of its velocity,

    ``r = |(q(t) - q(t - W)) - integral_{t - W}^{t} qd dt|``  (trapezoids over the readings' times)

to within the tolerance ``max(POSITION_TOLERANCE, INTEGRAL_FRACTION * integral |qd| dt) +
VELOCITY_LAG * (max qd - min qd) + 2 * resolution`` (a velocity filtered or taken from differences
lags the position by a few milliseconds: what that lag can hide grows with how much the velocity
changed in the window; an encoder's quantization step moves each end of ``q`` by up to half a step).
Beyond it, where one measure also shows under :data:`MOTION_SHARE` of the other's motion (a frozen
position none of its velocity's; a swing faster than the readings shows in both), the joint's sensor
is frozen, stale or broken: a safe stop naming the joint.

Not caught here: a stream frozen with zero velocity (a joint resting still reads the same, and on a
noise-free twin or behind a quantized encoder every value is bit-identical too; ``docs/safety.md``
says why no check of frozen values is made).  The collision observer sees such a stream once the
commands move the joint's torque (an unexplained torque).

Stateful: :class:`MotionCheck` keeps the readings of the last window; the monitor feeds it every
usable reading and clears it on a reset.  Numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim2real.deploy.safety_events import EventKind, SafetyEvent, Severity, new_event
from sim2real.real.protocol import Reading
from sim2real.robots.spec import RobotSpec

__all__ = [
    "INTEGRAL_FRACTION",
    "MOTION_SHARE",
    "POSITION_TOLERANCE",
    "VELOCITY_LAG",
    "WINDOW",
    "MotionCheck",
    "MotionResidual",
]

WINDOW = 0.1
"""Length of the window [s] over which a position must follow its velocity (or the span of
:data:`MIN_SAMPLES` readings when the control period is longer)."""

MIN_SAMPLES = 5
"""Fewest reading intervals a window spans (a 50 Hz loop: 0.1 s)."""

POSITION_TOLERANCE = 0.05
"""Disagreement [rad] allowed over a window whatever the motion (3 degrees)."""

INTEGRAL_FRACTION = 0.25
"""Part of the distance travelled in the window (``integral |qd| dt``) the disagreement may be
(trapezoids over the control period miss the curvature of a fast swing)."""

MOTION_SHARE = 0.5
"""A disagreement stops only where one measure shows less than this share of the other's motion
over the window: the distance the positions went step by step (``sum |delta q|``) against the one
the velocities say (``integral |qd| dt``).  A frozen position shows none of its velocity's motion
(a velocity stuck at zero none of its position's); a healthy joint whose velocity swings faster
than the readings come (a leg striking the floor: a quadruped's knee read +1.73 then -0.76 rad/s
50 ms apart, having gone -0.055 rad between) shows both, and its trapezoids miss the swing."""

VELOCITY_LAG = 0.02
"""Lag [s] a velocity may have behind its position (a low-pass filter or a difference quotient):
the disagreement may be this times the range of the velocity over the window."""


@dataclass(frozen=True)
class MotionResidual:
    """How far each joint's position strayed from its velocity over the newest window."""

    span: float
    """Length of the window [s]."""
    moved: np.ndarray
    """Shape (n_joints,): ``delta q`` over the window [rad]."""
    integral: np.ndarray
    """Shape (n_joints,): ``integral qd dt`` over the window [rad]."""
    residual: np.ndarray
    """Shape (n_joints,): ``|delta q - integral qd dt|`` [rad] (modulo a turn at joints whose
    limits span one)."""
    tolerance: np.ndarray
    """Shape (n_joints,): what each joint may show [rad]."""

    @property
    def ratio(self) -> np.ndarray:
        """Shape (n_joints,): residual / tolerance (above 1: the check stops)."""
        return self.residual / self.tolerance


class MotionCheck:
    """Feeds on usable readings; reports a joint whose position does not follow its velocity.

    Args:
        spec: The robot: its control period (the window spans at least :data:`MIN_SAMPLES` of
            them), stale timeout (a longer gap between readings restarts the window) and encoder
            resolution.
    """

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        dt = float(spec.control_dt)
        self.window = max(WINDOW, MIN_SAMPLES * dt)
        """Length of the window [s]."""
        self.max_gap = max(float(spec.safety.stale_timeout), 2.0 * dt)
        """Longest interval between two readings [s] the integral bridges (longer: restart)."""
        n = spec.n_joints
        self._quantization = 2.0 * float(spec.encoder.resolution)
        span = np.asarray(spec.safety.position_high, float) - np.asarray(spec.safety.position_low, float)
        self._wraps = ~(span < 2.0 * math.pi)  # a driver may wrap these into one turn
        self._any_wraps = bool(self._wraps.any())
        self._floor = POSITION_TOLERANCE + self._quantization
        # a ring of the readings of the last window, oldest first from ``_first``: time, position,
        # running integrals of qd and |qd| (trapezoids), velocity
        cap = 4 * math.ceil(self.window / dt) + 8
        self._t = np.zeros(cap)
        self._q, self._i, self._a, self._v, self._d = (np.zeros((cap, n)) for _ in range(5))
        self._first = 0
        self._count = 0

    def reset(self) -> None:
        """Forget the readings (after a reset of the monitor, or a gap)."""
        self._count = 0

    def _slot(self, k: int) -> int:
        return (self._first + k) % len(self._t)

    def _advance(self, reading: Reading) -> tuple[int, int] | None:
        """Take a reading into the ring; the slots (oldest, newest) of a full window, or None."""
        t, q, qd = float(reading.t), reading.q, reading.qd
        cap = len(self._t)
        if self._count:
            last = self._slot(self._count - 1)
            dt = t - self._t[last]
            if dt <= 0.0:
                return None  # the same sample again (no new message): nothing new to integrate
            if dt > self.max_gap:
                self._count = 0
        if not self._count:
            self._first, self._count = 0, 1
            self._t[0], self._q[0], self._i[0], self._a[0], self._v[0], self._d[0] = t, q, 0.0, 0.0, qd, 0.0
            return None
        if self._count == cap:  # readings faster than the control period: drop the oldest
            self._first, self._count = (self._first + 1) % cap, self._count - 1
        new = self._slot(self._count)
        self._t[new], self._q[new], self._v[new] = t, q, qd
        self._i[new] = self._i[last] + 0.5 * dt * (self._v[last] + qd)
        self._a[new] = self._a[last] + 0.5 * dt * (np.abs(self._v[last]) + np.abs(qd))
        self._d[new] = self._d[last] + self._turned(q - self._q[last])
        self._count += 1
        while self._count > 2 and t - self._t[self._slot(1)] >= self.window:
            self._first, self._count = (self._first + 1) % cap, self._count - 1
        return (self._first, new) if t - self._t[self._first] >= self.window else None

    def _turned(self, delta: np.ndarray) -> np.ndarray:
        """``|delta|`` of positions, the rest of a turn at joints a driver may wrap [rad]."""
        delta = np.abs(delta)
        if self._any_wraps and delta.max() > math.pi:
            delta = np.where(self._wraps, np.abs(np.remainder(delta + math.pi, 2.0 * math.pi) - math.pi), delta)
        return delta

    def _residual(self, old: int, new: int) -> np.ndarray:
        """Shape (n_joints,): ``|delta q - integral qd dt|`` between two slots [rad]."""
        residual = (self._q[new] - self._q[old]) - (self._i[new] - self._i[old])
        residual = np.abs(residual)
        if self._any_wraps and residual.max() > math.pi:  # the rest of a turn, where a driver may wrap
            turned = np.abs(np.remainder(residual + math.pi, 2.0 * math.pi) - math.pi)
            residual = np.where(self._wraps, turned, residual)
        return residual

    def _result(self, old: int, new: int) -> MotionResidual:
        """The residual and tolerance of the window between two slots."""
        speeds = self._v[(old + np.arange(self._count)) % len(self._t)]
        tolerance = (
            np.maximum(POSITION_TOLERANCE, INTEGRAL_FRACTION * (self._a[new] - self._a[old]))
            + VELOCITY_LAG * (speeds.max(axis=0) - speeds.min(axis=0))
            + self._quantization
        )
        return MotionResidual(
            span=float(self._t[new] - self._t[old]),
            moved=self._q[new] - self._q[old],
            integral=self._i[new] - self._i[old],
            residual=self._residual(old, new),
            tolerance=tolerance,
        )

    def update(self, reading: Reading) -> MotionResidual | None:
        """Take a usable reading (finite, timely, of the spec's joints); the newest window's residual,
        or None until the readings span a window."""
        slots = self._advance(reading)
        return None if slots is None else self._result(*slots)

    def check(self, reading: Reading, now: float) -> list[SafetyEvent]:
        """:meth:`update`, and a safe_stop event per joint whose residual is beyond its tolerance."""
        slots = self._advance(reading)
        if slots is None or np.all(self._residual(*slots) <= self._floor):
            return []  # within the least tolerance: the rest need not be worked out (every tick)
        result = self._result(*slots)
        old, new = slots
        travel = self._d[new] - self._d[old]  # how far the positions went, step by step
        swept = self._a[new] - self._a[old]  # how far the velocities say the joint went
        lopsided = (travel < MOTION_SHARE * swept) | (swept < MOTION_SHARE * travel)
        ev = []
        for i in np.flatnonzero(~(result.residual <= result.tolerance) & lopsided):
            j = self.spec.joints[i]
            unit = self.spec.units(j)[0]
            ev.append(
                new_event(
                    now,
                    EventKind.SENSOR,
                    Severity.SAFE_STOP,
                    f"{j}: position does not follow velocity (stale or frozen sensor): moved "
                    f"{float(result.moved[i]):.4g} {unit} in {result.span:.3g} s, its velocity integrates to "
                    f"{float(result.integral[i]):.4g} {unit} (tolerance {float(result.tolerance[i]):.3g} {unit})",
                    joint=j,
                    value=float(result.residual[i]),
                    limit=float(result.tolerance[i]),
                )
            )
        return ev
