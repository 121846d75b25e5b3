"""The state checks of the safety layer: is this reading usable, and is the robot inside its limits?

:func:`check_reading` judges one reading at loop time ``now`` (the rows ``nan_state`` to ``estop``
of the table in :mod:`sim2real.deploy.safety`) and returns the events and the state they call for:

- ``safe_stop``: non-finite values (or a zero quaternion), a reading older than ``stale_timeout``,
  no usable reading for longer than ``stale_timeout`` (the watchdog), the loop clock going
  backwards or not finite, a measured position, speed or torque beyond its limit, tilt or base
  height beyond its limit (or missing although the spec limits it), an e-stop request;
- ``hold``: one unusable reading (missing, marked invalid, wrong number of joints, time going
  backwards, time ahead of ``now``) that the watchdog still tolerates;
- ``ok``: a usable reading inside every limit.

Pure functions of the reading and of what the monitor remembers (passed in); the monitor counts,
logs and latches.  This module needs numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from sim2real.deploy.safety_events import EventKind, MonitorState, SafetyEvent, Severity, new_event
from sim2real.real.protocol import Reading
from sim2real.real.rotations import quat_multiply
from sim2real.robots.spec import RobotSpec

__all__ = ["base_tilt", "check_limits", "check_reading"]

SAFE_STOP, HOLD = Severity.SAFE_STOP, Severity.HOLD

QUAT_NORM_TOLERANCE = 0.1
"""How far from 1 an orientation quaternion's norm may be: an estimator's output is a unit
quaternion to within rounding, so a norm of 0.5 or 100 is no orientation, and the tilt it would
give is not to be trusted (a stop, as for NaN)."""


def base_tilt(quat: np.ndarray) -> float:
    """Angle between the base z axis and the world z axis [rad], from a (w, x, y, z) quaternion.

    The quaternion need not be normalized; NaN for a zero or non-finite quaternion.
    """
    w, x, y, z = (float(v) for v in quat)
    if not all(math.isfinite(v) for v in (w, x, y, z)) or w * w + x * x + y * y + z * z < 1e-18:
        return math.nan
    # R_zz = (w^2 + z^2) - (x^2 + y^2) = cos(tilt) for a unit quaternion.
    return 2.0 * math.atan2(math.hypot(x, y), math.hypot(w, z))


def check_reading(
    spec: RobotSpec,
    reading: Reading | None,
    now: float,
    *,
    last_now: float | None,
    last_t: float | None,
    watchdog_since: float | None,
    estop_reason: str | None,
    imu_to_base: np.ndarray | None = None,
) -> tuple[list[SafetyEvent], MonitorState]:
    """The state events of one tick and the state they call for (no side effects).

    Args:
        spec: The robot.
        reading: The newest reading, or None when none arrived.
        now: Loop time [s], on the clock of ``reading.t``.
        last_now: The latest loop time checked before [s], or None.
        last_t: The time of the latest accepted reading [s], or None.
        watchdog_since: Time of the newest usable reading (else of the first check) [s]; None: now.
        estop_reason: A pending e-stop request, or None.
        imu_to_base: The IMU's mount (:func:`~sim2real.deploy.body_geometry.imu_to_base`): the
            reading's quaternion is the IMU's orientation; times this, the base's.  None: square.

    Returns:
        (events, ``ok`` / ``hold`` / ``safe_stop``).
    """
    ev: list[SafetyEvent] = []
    timeout = float(spec.safety.stale_timeout)
    if not math.isfinite(now):
        ev.append(new_event(now, EventKind.STALE, SAFE_STOP, f"loop time now={now} is not finite"))
        return ev, "safe_stop"
    if last_now is not None and now < last_now:
        ev.append(
            new_event(
                now,
                EventKind.STALE,
                SAFE_STOP,
                f"loop clock went backwards: now={now} after {last_now}",
                value=now,
                limit=last_now,
            )
        )
    if estop_reason is not None:
        ev.append(new_event(now, EventKind.ESTOP, SAFE_STOP, f"e-stop: {estop_reason}"))

    usable = False
    n = spec.n_joints
    if reading is None:
        ev.append(new_event(now, EventKind.STALE, HOLD, "no reading this tick"))
    elif not isinstance(reading, Reading):
        ev.append(new_event(now, EventKind.STALE, HOLD, f"not a Reading: {type(reading).__name__}"))
    elif not reading.valid:
        ev.append(new_event(now, EventKind.STALE, HOLD, "reading marked invalid (dropped or incomplete)"))
    elif (
        reading.q.shape != (n,)
        or reading.qd.shape != (n,)
        or (reading.tau is not None and reading.tau.shape != (n,))
    ):
        ev.append(
            new_event(now, EventKind.STALE, HOLD, f"reading has {reading.q.shape[0]} joints, the spec has {n}")
        )
    elif not math.isfinite(reading.t):
        ev.append(new_event(now, EventKind.NAN_STATE, SAFE_STOP, f"reading time t={reading.t} is not finite"))
    elif reading.t > now:
        ev.append(
            new_event(
                now,
                EventKind.STALE,
                HOLD,
                f"reading time {reading.t} is ahead of now={now}: clocks disagree",
                value=reading.t,
                limit=now,
            )
        )
    elif last_t is not None and reading.t < last_t:
        ev.append(
            new_event(
                now,
                EventKind.STALE,
                HOLD,
                f"reading time went backwards: {reading.t} after {last_t}",
                value=reading.t,
                limit=last_t,
            )
        )
    else:
        age = now - reading.t
        content = check_limits(spec, reading, now, imu_to_base)
        ev.extend(content)
        if age > timeout:
            ev.append(
                new_event(
                    now,
                    EventKind.STALE,
                    SAFE_STOP,
                    f"reading is {age:.4g} s old (stale_timeout {timeout} s)",
                    value=age,
                    limit=timeout,
                )
            )
        usable = not content and age <= timeout

    if not usable and not any(e.kind == EventKind.STALE and e.severity == SAFE_STOP for e in ev):
        gap = now - (watchdog_since if watchdog_since is not None else now)
        if gap > timeout:
            ev.append(
                new_event(
                    now,
                    EventKind.STALE,
                    SAFE_STOP,
                    f"watchdog: no usable reading for {gap:.4g} s (stale_timeout {timeout} s)",
                    value=gap,
                    limit=timeout,
                )
            )
    if any(e.severity == SAFE_STOP for e in ev):
        return ev, "safe_stop"
    if not usable:
        return ev, "hold"
    return ev, "ok"


def check_limits(
    spec: RobotSpec, reading: Reading, now: float, imu_to_base: np.ndarray | None = None
) -> list[SafetyEvent]:
    """NaN and limit checks of a timely reading of the right shape (every event a safe_stop); the
    tilt is the base's (``imu_to_base``: see :func:`check_reading`)."""
    ev: list[SafetyEvent] = []
    lim = spec.safety
    joints = spec.joints
    # a torque is checked where it is measured (a joint without an effort sensor gives NaN)
    measured = np.ones(spec.n_joints, bool) if reading.tau_measured is None else reading.tau_measured
    per_joint = {"q": reading.q, "qd": reading.qd, "tau": reading.tau}
    for name, arr in per_joint.items():
        broken = np.zeros(spec.n_joints, bool) if arr is None else ~np.isfinite(arr)
        if name == "tau":
            broken &= measured
        if broken.any():
            bad = [joints[i] for i in np.flatnonzero(broken)]
            ev.append(
                new_event(
                    now, EventKind.NAN_STATE, SAFE_STOP, f"non-finite {name} at joint(s) {', '.join(bad)}", joint=bad[0]
                )
            )
    for name in ("gyro", "accel", "quat"):
        arr = getattr(reading, name)
        if arr is not None and not np.all(np.isfinite(arr)):
            ev.append(new_event(now, EventKind.NAN_STATE, SAFE_STOP, f"non-finite {name}: {arr.tolist()}"))
    if reading.base_height is not None and not math.isfinite(reading.base_height):
        ev.append(
            new_event(now, EventKind.NAN_STATE, SAFE_STOP, f"non-finite base_height {reading.base_height}")
        )

    with np.errstate(invalid="ignore"):
        # NaN compares False here: non-finite values were reported above
        suspect = (
            (reading.q < lim.position_low) | (reading.q > lim.position_high) | (np.abs(reading.qd) > lim.velocity)
        )
        if reading.tau is not None:
            suspect |= (np.abs(reading.tau) > lim.torque) & measured
        for i in np.flatnonzero(suspect):
            ev.extend(_joint_limit_events(spec, reading, i, now))
    ev.extend(_base_events(spec, reading, now, imu_to_base))
    return ev


def _joint_limit_events(spec: RobotSpec, reading: Reading, i: int, now: float) -> list[SafetyEvent]:
    """Position, speed and torque of joint ``i`` against its limits."""
    ev: list[SafetyEvent] = []
    lim = spec.safety
    j = spec.joints[i]
    pos_unit, speed_unit, effort_unit = spec.units(j)
    qi = float(reading.q[i])
    lo, hi = float(lim.position_low[i]), float(lim.position_high[i])
    if math.isfinite(qi) and not lo <= qi <= hi:
        ev.append(
            new_event(
                now,
                EventKind.POSITION_LIMIT,
                SAFE_STOP,
                f"{j}: position {qi:.4g} {pos_unit} outside [{lo}, {hi}]",
                joint=j,
                value=qi,
                limit=lo if qi < lo else hi,
            )
        )
    vi = float(reading.qd[i])
    vmax = float(lim.velocity[i])
    if math.isfinite(vi) and abs(vi) > vmax:
        ev.append(
            new_event(
                now,
                EventKind.VELOCITY_LIMIT,
                SAFE_STOP,
                f"{j}: speed {abs(vi):.4g} {speed_unit} above {vmax}",
                joint=j,
                value=vi,
                limit=vmax,
            )
        )
    if reading.tau is not None and (reading.tau_measured is None or reading.tau_measured[i]):
        ti = float(reading.tau[i])
        tmax = float(lim.torque[i])
        if math.isfinite(ti) and abs(ti) > tmax:
            ev.append(
                new_event(
                    now,
                    EventKind.TORQUE_LIMIT,
                    SAFE_STOP,
                    f"{j}: measured {'force' if effort_unit == 'N' else 'torque'} {abs(ti):.4g} {effort_unit} above {tmax}",
                    joint=j,
                    value=ti,
                    limit=tmax,
                )
            )
    return ev


def _base_events(
    spec: RobotSpec, reading: Reading, now: float, imu_to_base: np.ndarray | None
) -> list[SafetyEvent]:
    """Tilt of the base (the IMU's orientation through its mount) and base height against their
    limits (when the spec limits them)."""
    ev: list[SafetyEvent] = []
    lim = spec.safety
    if lim.tilt is not None:
        if reading.quat is None:
            ev.append(
                new_event(
                    now,
                    EventKind.TILT,
                    SAFE_STOP,
                    "the reading has no base orientation but the spec limits tilt",
                    limit=lim.tilt,
                )
            )
        elif np.all(np.isfinite(reading.quat)):
            norm = float(np.linalg.norm(reading.quat))
            tilt = base_tilt(reading.quat if imu_to_base is None else quat_multiply(reading.quat, imu_to_base))
            if math.isnan(tilt) or abs(norm - 1.0) > QUAT_NORM_TOLERANCE:
                ev.append(
                    new_event(
                        now,
                        EventKind.NAN_STATE,
                        SAFE_STOP,
                        f"base quaternion has norm {norm:.4g}, not 1 (no orientation)",
                        value=norm,
                    )
                )
            elif tilt > lim.tilt:
                ev.append(
                    new_event(
                        now,
                        EventKind.TILT,
                        SAFE_STOP,
                        f"base tilt {tilt:.4g} rad above {lim.tilt}",
                        value=tilt,
                        limit=lim.tilt,
                    )
                )
    if lim.base_height_low is not None and lim.base_height_high is not None:
        h = reading.base_height
        lo, hi = lim.base_height_low, lim.base_height_high
        if h is None:
            ev.append(
                new_event(now, EventKind.HEIGHT, SAFE_STOP, "the reading has no base height but the spec limits it")
            )
        elif math.isfinite(h) and not lo <= h <= hi:
            ev.append(
                new_event(
                    now,
                    EventKind.HEIGHT,
                    SAFE_STOP,
                    f"base height {h:.4g} m outside [{lo}, {hi}]",
                    value=h,
                    limit=lo if h < lo else hi,
                )
            )
    return ev
