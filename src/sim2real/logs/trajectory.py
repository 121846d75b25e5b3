"""The in-memory form of one robot run: joint states, commands, IMU samples and events.

A :class:`Trajectory` is what every log reader returns (rosbag2/MCAP, CSV) and what system
identification, gap metrics and fine-tuning consume. Each stream has its own time base: joint
states at ``t``, actuator commands at ``command_t`` (zero-order hold in between), IMU samples at
``imu_t``, base states (:class:`BaseTrack`) at their own ``t``. Times are seconds on whatever
clock the recording used (often starting near 0).

A legged robot's log carries the state of its floating base in up to two tracks: ``base_truth``,
the simulator's ground truth (twin recordings only), and ``base_estimate``, what a state estimator
on the robot made of its IMU, joint encoders and foot contacts (:mod:`sim2real.real.estimator`).
Replay windows start from :attr:`Trajectory.base` (the truth where it exists).

Arrays are validated and frozen (read-only copies) at construction; a bad shape, a time going
backwards or a non-finite value raises :class:`~sim2real.errors.LogError` naming the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim2real.errors import LogError

__all__ = ["BASE_SOURCES", "BaseTrack", "Event", "Trajectory"]

BASE_SOURCES = ("ground_truth", "estimate")
"""Where a :class:`BaseTrack` comes from: the simulator's ground truth or an on-board estimator."""


@dataclass(frozen=True)
class Event:
    """Something that happened at one instant of a run (safety stop, stage change, fault)."""

    t: float
    """Time of the event [s], on the trajectory's clock."""
    kind: str
    """Short machine-readable kind, e.g. ``"safety_stop"``, ``"stage"``."""
    detail: dict[str, Any] = field(default_factory=dict)
    """JSON-serializable details (limit that tripped, value, stage name, ...)."""


def _frozen(name: str, value: Any, ndim: int) -> np.ndarray:
    """A read-only float64 copy of ``value`` with ``ndim`` dimensions, all finite."""
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise LogError(f"Trajectory.{name}: not a numeric array ({exc})") from None
    if arr.ndim != ndim:
        raise LogError(f"Trajectory.{name}: expected {ndim}-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise LogError(f"Trajectory.{name}: non-finite value {float(arr[bad])} at index {bad}")
    arr.setflags(write=False)
    return arr


def _partial(name: str, value: Any, rows: int, n: int, alone: bool) -> np.ndarray:
    """A read-only (rows, n) float64 copy of ``value`` whose non-finite values fill whole columns,
    with at least one finite column; ``alone``: ``tau`` is None, as it must be."""
    if not alone:
        raise LogError(f"Trajectory.{name}: given with tau (it stands for a tau some joints lack)")
    arr = np.array(value, dtype=np.float64, copy=True)
    _check_rows(name, arr, rows, n, "joint-state")
    finite = np.isfinite(arr)
    if not (finite.all(axis=0) | ~finite.any(axis=0)).all() or not finite.any():
        raise LogError(f"Trajectory.{name}: values that are not a number must fill whole columns, not all of them")
    arr.setflags(write=False)
    return arr


def _check_times(name: str, t: np.ndarray) -> None:
    """Raise unless ``t`` is non-decreasing and most samples advance it (a sample period)."""
    if t.size > 1:
        steps = np.diff(t)
        if np.any(steps < 0):
            i = int(np.argmax(steps < 0))
            raise LogError(
                f"Trajectory.{name}: times must be non-decreasing, but {name}[{i + 1}]={float(t[i + 1])!r} "
                f"< {name}[{i}]={float(t[i])!r}"
            )
        if t.size > 2 and float(np.median(steps)) <= 0:  # every period, rate and window would be 0
            raise LogError(
                f"Trajectory.{name}: {int(np.sum(steps == 0))} of {steps.size} samples repeat the time of "
                "the one before: the times are too coarse for the sample rate (rounded?) or not times"
            )


def _check_rows(name: str, arr: np.ndarray, rows: int, cols: int, rows_of: str) -> None:
    """Raise unless ``arr`` has shape (rows, cols)."""
    if arr.shape != (rows, cols):
        raise LogError(
            f"Trajectory.{name}: expected shape ({rows}, {cols}) (one row per {rows_of} sample), "
            f"got {arr.shape}"
        )


@dataclass(frozen=True, eq=False)
class BaseTrack:
    """States of a floating base over time (``B`` samples), validated and read-only.

    Frames follow ``nav_msgs/Odometry`` (how the bag stores them): the pose is the base frame in
    the world (or odometry) frame, the velocities are expressed in the base frame.
    """

    t: np.ndarray
    """Sample times, shape (B,) [s], non-decreasing."""
    position: np.ndarray
    """Base position in the world frame, shape (B, 3) [m]; ``position[:, 2]`` is the height above the floor."""
    quat: np.ndarray
    """Base orientation (w, x, y, z) in the world frame, shape (B, 4) (normalized here)."""
    lin_vel: np.ndarray
    """Base linear velocity in the base frame, shape (B, 3) [m/s]."""
    ang_vel: np.ndarray
    """Base angular velocity in the base frame, shape (B, 3) [rad/s]."""
    source: str = "estimate"
    """``ground_truth`` (a simulator's state) or ``estimate`` (an on-board state estimator)."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.source not in BASE_SOURCES:
            raise LogError(f"BaseTrack.source must be one of {BASE_SOURCES}, got {self.source!r}")
        t = _frozen("base.t", self.t, 1)
        _check_times("base.t", t)
        set_(self, "t", t)
        for name, cols in (("position", 3), ("quat", 4), ("lin_vel", 3), ("ang_vel", 3)):
            arr = _frozen(f"base.{name}", getattr(self, name), 2)
            _check_rows(f"base.{name}", arr, t.size, cols, "base-state")
            set_(self, name, arr)
        norm = np.linalg.norm(self.quat, axis=1)
        if np.any(norm < 1e-6):
            raise LogError(f"BaseTrack.quat: zero quaternion at index {int(np.argmin(norm))}")
        quat = self.quat / norm[:, None]
        quat.setflags(write=False)
        set_(self, "quat", quat)

    @property
    def n_samples(self) -> int:
        """Number of samples ``B``."""
        return int(self.t.size)

    @property
    def lin_vel_world(self) -> np.ndarray:
        """Base linear velocity in the world frame, shape (B, 3) [m/s]."""
        return rotate(self.quat, self.lin_vel)

    def at(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """The track linearly interpolated at ``times`` (held at its ends; quaternions renormalized).

        Returns:
            ``position`` (N, 3), ``quat`` (N, 4), ``lin_vel`` (N, 3), ``ang_vel`` (N, 3).
        """
        times = np.asarray(times, dtype=float)
        if self.t.size == 0:
            raise LogError("BaseTrack.at: the track has no samples")
        if self.t.size == 1:
            return {k: np.repeat(getattr(self, k), times.size, axis=0) for k in _TRACK_FIELDS}
        out = {}
        for name in _TRACK_FIELDS:
            arr = getattr(self, name)
            if name == "quat":  # one hemisphere, so that neighbours interpolate the short way
                arr = _same_hemisphere(arr)
            out[name] = np.stack([np.interp(times, self.t, col) for col in arr.T], axis=1)
        out["quat"] /= np.linalg.norm(out["quat"], axis=1, keepdims=True)
        return out

    def slice_time(self, t0: float, t1: float) -> BaseTrack:
        """The samples with ``t0 <= t <= t1``."""
        keep = (self.t >= t0) & (self.t <= t1)
        return BaseTrack(
            t=self.t[keep],
            position=self.position[keep],
            quat=self.quat[keep],
            lin_vel=self.lin_vel[keep],
            ang_vel=self.ang_vel[keep],
            source=self.source,
        )


_TRACK_FIELDS = ("position", "quat", "lin_vel", "ang_vel")


def _same_hemisphere(quat: np.ndarray) -> np.ndarray:
    """Flip quaternions (rows) so that each has a non-negative dot product with its predecessor."""
    signs = np.where(np.sum(quat[1:] * quat[:-1], axis=1) < 0, -1.0, 1.0)
    return quat * np.concatenate([[1.0], np.cumprod(signs)])[:, None]


def rotate(quat: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors by unit quaternions (w, x, y, z), row by row: shapes (N, 4), (N, 3) -> (N, 3)."""
    w = quat[..., :1]
    u = quat[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def _slice_track(track: BaseTrack | None, t0: float, t1: float) -> BaseTrack | None:
    """A track's part within [t0, t1], None when no sample falls in it."""
    if track is None:
        return None
    part = track.slice_time(t0, t1)
    return part if part.n_samples else None


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One robot run, in SI units, validated and read-only.

    ``T`` joint-state samples, ``n`` joints, ``K`` command samples over ``m`` actuated joints,
    ``M`` IMU samples.
    """

    spec_hash: str | None
    """Content hash of the RobotSpec the run was recorded with, or None if unknown (CSV imports)."""
    joint_names: tuple[str, ...]
    """Joint names, in the column order of ``q``, ``qd`` and ``tau``."""
    t: np.ndarray
    """Joint-state sample times, shape (T,) [s], non-decreasing."""
    q: np.ndarray
    """Joint positions, shape (T, n) [rad] (or [m] for prismatic joints)."""
    qd: np.ndarray
    """Joint velocities, shape (T, n) [rad/s]."""
    tau: np.ndarray | None = None
    """Measured or commanded joint effort, shape (T, n) [N m], or None if not recorded."""
    tau_partial: np.ndarray | None = None
    """When ``tau`` is None because some commanded joints' efforts are not measured (a joint without
    an effort interface, a torque sensor that dropped out) while others' are: the efforts, shape
    (T, n) [N m], NaN in the columns of the joints without (whole columns only); else None.  Read
    by the fits that can leave those joints out (actuator networks, motor models): :meth:`efforts_of`."""
    command_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Command times, shape (K,) [s], non-decreasing; may coincide with ``t``. K may be 0."""
    command: np.ndarray | None = None
    """Actuator commands, shape (K, m), in actuator units: position target [rad], torque [N m] or
    voltage [V]. None is normalized to an empty (0, m) array."""
    command_joints: tuple[str, ...] | None = None
    """The joints the command columns drive (the actuated joints), in column order. None at
    construction means all of ``joint_names``; after construction it is always a tuple."""
    imu_t: np.ndarray | None = None
    """IMU sample times, shape (M,) [s], or None if there is no IMU."""
    gyro: np.ndarray | None = None
    """Angular velocity in the IMU frame, shape (M, 3) [rad/s]."""
    accel: np.ndarray | None = None
    """Linear acceleration (specific force) in the IMU frame, shape (M, 3) [m/s^2]."""
    quat: np.ndarray | None = None
    """IMU orientation quaternion (w, x, y, z), shape (M, 4), or None if the IMU gives none."""
    events: tuple[Event, ...] = ()
    """Safety events, stage changes and other marks, sorted by time."""
    base_truth: BaseTrack | None = None
    """Ground-truth floating-base states (a simulator's), or None."""
    base_estimate: BaseTrack | None = None
    """Floating-base states from an on-board state estimator, or None."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Free-form description: robot name, source file, how velocities were obtained, ..."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        names = tuple(str(name) for name in self.joint_names)
        if not names:
            raise LogError("Trajectory.joint_names: at least one joint is required")
        if len(set(names)) != len(names):
            raise LogError(f"Trajectory.joint_names: duplicate names in {names}")
        set_(self, "joint_names", names)
        n = len(names)

        t = _frozen("t", self.t, 1)
        _check_times("t", t)
        set_(self, "t", t)
        for name in ("q", "qd"):
            arr = _frozen(name, getattr(self, name), 2)
            _check_rows(name, arr, t.size, n, "joint-state")
            set_(self, name, arr)
        if self.tau is not None:
            tau = _frozen("tau", self.tau, 2)
            _check_rows("tau", tau, t.size, n, "joint-state")
            set_(self, "tau", tau)
        if self.tau_partial is not None:
            set_(self, "tau_partial", _partial("tau_partial", self.tau_partial, t.size, n, self.tau is None))

        cjoints = names if self.command_joints is None else tuple(str(j) for j in self.command_joints)
        unknown = [j for j in cjoints if j not in names]
        if unknown:
            raise LogError(f"Trajectory.command_joints: {unknown} not in joint_names {list(names)}")
        if len(set(cjoints)) != len(cjoints):
            raise LogError(f"Trajectory.command_joints: duplicate names in {cjoints}")
        set_(self, "command_joints", cjoints)
        command_t = _frozen("command_t", self.command_t, 1)
        _check_times("command_t", command_t)
        set_(self, "command_t", command_t)
        command = np.zeros((0, len(cjoints))) if self.command is None else self.command
        command = _frozen("command", command, 2)
        _check_rows("command", command, command_t.size, len(cjoints), "command")
        set_(self, "command", command)

        self._init_imu()

        events = tuple(self.events)
        for ev in events:
            if not isinstance(ev, Event):
                raise LogError(f"Trajectory.events: expected Event, got {type(ev).__name__}")
            if not np.isfinite(ev.t):
                raise LogError(f"Trajectory.events: event {ev.kind!r} has non-finite time {float(ev.t)}")
        set_(self, "events", tuple(sorted(events, key=lambda ev: ev.t)))
        for name, source in (("base_truth", "ground_truth"), ("base_estimate", "estimate")):
            track = getattr(self, name)
            if track is not None and (not isinstance(track, BaseTrack) or track.source != source):
                raise LogError(f"Trajectory.{name}: expected a BaseTrack with source {source!r}")
        set_(self, "meta", dict(self.meta))

    def _init_imu(self) -> None:
        set_ = object.__setattr__
        if self.imu_t is None:
            stray = [n for n in ("gyro", "accel", "quat") if getattr(self, n) is not None]
            if stray:
                raise LogError(f"Trajectory: {stray} given without imu_t")
            return
        imu_t = _frozen("imu_t", self.imu_t, 1)
        _check_times("imu_t", imu_t)
        set_(self, "imu_t", imu_t)
        for name, cols in (("gyro", 3), ("accel", 3), ("quat", 4)):
            value = getattr(self, name)
            if value is None:
                if name == "quat":
                    continue
                raise LogError(f"Trajectory.{name}: required when imu_t is given")
            arr = _frozen(name, value, 2)
            _check_rows(name, arr, imu_t.size, cols, "IMU")
            set_(self, name, arr)

    # ------------------------------------------------------------------ properties

    @property
    def n_joints(self) -> int:
        """Number of joints ``n``."""
        return len(self.joint_names)

    @property
    def n_samples(self) -> int:
        """Number of joint-state samples ``T``."""
        return int(self.t.size)

    @property
    def duration(self) -> float:
        """Time spanned by the joint states, ``t[-1] - t[0]`` [s] (0 for fewer than 2 samples)."""
        return float(self.t[-1] - self.t[0]) if self.t.size > 1 else 0.0

    @property
    def has_commands(self) -> bool:
        """Whether at least one command was recorded."""
        return self.command_t.size > 0

    @property
    def has_imu(self) -> bool:
        """Whether IMU samples were recorded."""
        return self.imu_t is not None

    @property
    def base(self) -> BaseTrack | None:
        """The best floating-base track: the ground truth when recorded, else the estimate (or None)."""
        return self.base_truth if self.base_truth is not None else self.base_estimate

    def joint_index(self, name: str) -> int:
        """Column of joint ``name`` in ``q``, ``qd`` and ``tau``."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise LogError(f"no joint {name!r} in trajectory; joints: {list(self.joint_names)}") from None

    # ------------------------------------------------------------------ derived views

    def command_at(
        self, times: Sequence[float] | np.ndarray, before_first: float | None = None
    ) -> np.ndarray:
        """Commands in force at ``times`` by zero-order hold (the latest command at or before each time).

        Args:
            times: Query times, shape (N,) [s].
            before_first: Value used for times before the first command; None (default) makes such
                a query an error.

        Returns:
            Commands, shape (N, m), in actuator units.
        """
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1:
            raise LogError(f"command_at: times must be 1-D, got shape {times.shape}")
        m = len(self.command_joints or ())
        if not self.has_commands:
            if before_first is None:
                raise LogError("command_at: the trajectory has no commands")
            return np.full((times.size, m), float(before_first))
        idx = np.searchsorted(self.command_t, times, side="right") - 1
        early = idx < 0
        if np.any(early) and before_first is None:
            raise LogError(
                f"command_at: time {float(times[early][0])!r} is before the first command at "
                f"{float(self.command_t[0])!r}; pass before_first= to fill"
            )
        out = self.command[np.maximum(idx, 0)].copy()
        out[early] = before_first if before_first is not None else 0.0
        return out

    def efforts_of(self, joints: Sequence[str]) -> np.ndarray | None:
        """Measured efforts of ``joints``, shape (T, len(joints)) [N m], from ``tau`` or, where that
        is None, from ``tau_partial`` when it measures every one of them; else None."""
        cols = [self.joint_index(j) for j in joints]
        for arr in (self.tau, self.tau_partial):
            if arr is not None and np.isfinite(arr[:1, cols]).all():
                return arr[:, cols]
        return None

    def effort_missing(self) -> tuple[str, ...]:
        """Joints without measured efforts while others have them (:attr:`tau_partial`)."""
        if self.tau_partial is None:
            return ()
        return tuple(j for j, ok in zip(self.joint_names, np.isfinite(self.tau_partial[0]), strict=True) if not ok)

    def slice_time(self, t0: float, t1: float) -> Trajectory:
        """The part of the run with ``t0 <= t <= t1`` [s], for every stream.

        The command in force at ``t0`` (the latest one before it) is kept, with its original time,
        so that :meth:`command_at` still answers for every state time of the slice.
        """
        if not t0 <= t1:
            raise LogError(f"slice_time: need t0 <= t1, got t0={float(t0)!r}, t1={float(t1)!r}")
        keep = (self.t >= t0) & (self.t <= t1)
        ckeep = (self.command_t >= t0) & (self.command_t <= t1)
        held = int(np.searchsorted(self.command_t, t0, side="left")) - 1
        if held >= 0:
            ckeep[held] = True
        changes: dict[str, Any] = {
            "t": self.t[keep],
            "q": self.q[keep],
            "qd": self.qd[keep],
            "tau": None if self.tau is None else self.tau[keep],
            "tau_partial": None if self.tau_partial is None else self.tau_partial[keep],
            "command_t": self.command_t[ckeep],
            "command": self.command[ckeep],
            "events": tuple(ev for ev in self.events if t0 <= ev.t <= t1),
            "base_truth": _slice_track(self.base_truth, t0, t1),
            "base_estimate": _slice_track(self.base_estimate, t0, t1),
        }
        if self.imu_t is not None:
            ikeep = (self.imu_t >= t0) & (self.imu_t <= t1)
            changes |= {
                "imu_t": self.imu_t[ikeep],
                "gyro": self.gyro[ikeep],
                "accel": self.accel[ikeep],
                "quat": None if self.quat is None else self.quat[ikeep],
            }
        return dataclasses.replace(self, **changes)

    def resample(self, dt: float) -> Trajectory:
        """Joint states linearly interpolated onto the uniform grid ``t[0] + k dt`` [s].

        Only ``t``, ``q``, ``qd`` and ``tau`` change; commands, IMU samples and events keep their
        own times (use :meth:`command_at` for commands on the new grid).
        """
        if not (np.isfinite(dt) and dt > 0):
            raise LogError(f"resample: dt must be a positive number of seconds, got {float(dt)!r}")
        if self.t.size < 2:
            raise LogError("resample: need at least 2 joint-state samples")
        if np.any(np.diff(self.t) == 0):
            raise LogError("resample: joint-state times contain duplicates; cannot interpolate")
        grid = self.t[0] + dt * np.arange(int(np.floor(self.duration / dt + 1e-9)) + 1)

        def interp(arr: np.ndarray) -> np.ndarray:
            return np.stack([np.interp(grid, self.t, col) for col in arr.T], axis=1)

        return dataclasses.replace(
            self,
            t=grid,
            q=interp(self.q),
            qd=interp(self.qd),
            tau=None if self.tau is None else interp(self.tau),
            tau_partial=None if self.tau_partial is None else interp(self.tau_partial),
            meta={**self.meta, "resampled_dt": float(dt)},
        )

    def __repr__(self) -> str:
        return (
            f"Trajectory(joints={list(self.joint_names)}, T={self.n_samples}, "
            f"duration={self.duration:.3f} s, commands={self.command_t.size}, "
            f"imu={0 if self.imu_t is None else self.imu_t.size}, events={len(self.events)}, "
            f"base={'-' if self.base is None else f'{self.base.source} x{self.base.n_samples}'}, "
            f"spec_hash={None if self.spec_hash is None else self.spec_hash[:12]})"
        )
