"""The Robot protocol: what the control loop reads from a robot and writes to it.

A robot is anything with ``read() -> Reading``, ``write(Command)``, ``stop()`` and ``close()``:
the MuJoCo twin, a ROS 2 robot, a test double.  The deployment loop puts a
:class:`~sim2real.deploy.safety.SafetyMonitor` between the policy and ``write``.

Units: joint positions [rad], velocities [rad/s], torques [N m], time [s], base height [m].
Command values are in each actuator's own units (see :mod:`sim2real.robots.actuation`): a joint
position target [rad] for ``pd``, a joint torque [N m] for ``torque``, a voltage [V] for
``dc_motor``.  This module needs numpy only (no torch, no MuJoCo).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sim2real.robots.spec import RobotSpec

CommandMode = Literal["normal", "hold", "safe"]
COMMAND_MODES: tuple[str, ...] = ("normal", "hold", "safe")
"""The modes a :class:`Command` can carry."""


def _vector(value: object, name: str, size: int | None = None) -> np.ndarray:
    """A read-only float copy of a 1-D array, optionally of a given length."""
    array = np.array(value, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{name} must have {size} entries, got {array.shape[0]}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Reading:
    """One timestamped sample of the robot's state.

    Values are stored as read-only float copies.  Non-finite values are allowed here (a sensor can
    deliver them); the safety monitor is what rejects them.
    """

    t: float
    """Robot clock time of the sample [s]; monotonic, on the same clock as the loop's ``now``."""
    q: np.ndarray
    """Joint positions, shape (n_joints,) [rad], policy joint order."""
    qd: np.ndarray
    """Joint velocities, shape (n_joints,) [rad/s]."""
    tau: np.ndarray | None = None
    """Measured joint torques, shape (n_joints,) [N m], or None when the robot does not measure them."""
    gyro: np.ndarray | None = None
    """Angular velocity in the IMU's frame (the spec's IMU site, on the base), shape (3,) [rad/s], or None."""
    accel: np.ndarray | None = None
    """Linear acceleration (specific force) in the IMU's frame, shape (3,) [m/s^2], or None."""
    quat: np.ndarray | None = None
    """Orientation of the IMU's frame in the world, shape (4,) (w, x, y, z), or None: the base's
    when the IMU is mounted square to it; the safety layer turns it through the mount (the site's
    orientation on the base) before judging the base's tilt."""
    base_height: float | None = None
    """Height of the base above the ground [m], or None when not estimated."""
    base_lin_vel: np.ndarray | None = None
    """Base linear velocity in the base frame, shape (3,) [m/s], from a state estimator (or a
    simulator), or None; only policies that observe it need it."""
    height_scan: np.ndarray | None = None
    """Height of the base above the terrain under each point of the policy's scan grid, shape
    (n_points,) [m] (the ``height_scan`` observation term's input), or None: a MuJoCo twin gives it
    when its spec observes one (``TwinRobot.gives_height_scan``); a ROS 2 robot gives none."""
    valid: bool = True
    """False for a dropped or incomplete sample (e.g. a JointState missing a joint): do not use it."""
    tau_measured: np.ndarray | None = None
    """Which joints' ``tau`` is measured, shape (n_joints,) bool (elsewhere ``tau`` is NaN: no
    measurement, not a fault), or None: every joint's (when ``tau`` is given).  A robot one of whose
    actuated joints has no effort sensor gives the others' this way."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "t", float(self.t))
        q = _vector(self.q, "q")
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "qd", _vector(self.qd, "qd", q.shape[0]))
        if self.tau is not None:
            object.__setattr__(self, "tau", _vector(self.tau, "tau", q.shape[0]))
        for name, size in (("gyro", 3), ("accel", 3), ("quat", 4), ("base_lin_vel", 3)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _vector(value, name, size))
        if self.height_scan is not None:
            object.__setattr__(self, "height_scan", _vector(self.height_scan, "height_scan"))
        if self.base_height is not None:
            object.__setattr__(self, "base_height", float(self.base_height))
        object.__setattr__(self, "valid", bool(self.valid))
        if self.tau_measured is not None:
            if self.tau is None:
                raise ValueError("tau_measured without tau")
            mask = np.array(self.tau_measured, dtype=bool)
            if mask.shape != q.shape:
                raise ValueError(f"tau_measured must have shape {q.shape}, got {mask.shape}")
            mask.setflags(write=False)
            object.__setattr__(self, "tau_measured", None if mask.all() else mask)

    @property
    def tau_complete(self) -> np.ndarray | None:
        """``tau`` when every joint's torque is measured, else None (for a user that needs all of them)."""
        return self.tau if self.tau_measured is None else None

    @property
    def n_joints(self) -> int:
        """Number of joints in the sample."""
        return int(self.q.shape[0])

    @classmethod
    def dropped(cls, t: float, n_joints: int) -> Reading:
        """A placeholder for a sample that did not arrive: ``valid`` is False, the values are NaN."""
        nan = np.full(n_joints, math.nan)
        return cls(t=t, q=nan, qd=nan, valid=False)


@dataclass(frozen=True, eq=False)
class Command:
    """What the loop sends to the robot for one control step.

    Modes:

    - ``normal``: the policy's command, possibly clamped by the safety monitor;
    - ``hold``: the last safe command repeated (projected into the current hard limits), because
      this tick's reading or policy output could not be used; the robot applies the values like a
      normal command;
    - ``safe``: enter the spec's safe mode (joint damping or zero torque).  The robot realizes safe
      mode itself and must not apply ``values`` as targets: they are only the monitor's estimate of
      the equivalent command, for logging.

    Values of ``normal`` and ``hold`` commands must be finite: constructing one with a NaN or an
    infinity raises ``ValueError``, so such a command can never reach a robot.
    """

    t: float
    """Time the command is issued [s], on the loop's clock."""
    values: np.ndarray
    """One value per actuator, shape (n_actions,), in ``spec.actuators`` order and actuator units
    (rad target for pd, N m for torque, V for dc_motor)."""
    mode: CommandMode = "normal"
    """``normal``, ``hold`` or ``safe`` (see the class docstring)."""
    measured: bool = True
    """A ``safe`` command's values rest on a measured joint state.  False: no good reading of the
    robot has come yet, so a pd joint's value is no hold of where it is (it is the default pose);
    a robot that sends safe values as targets must not send them (it would stand the robot up)."""

    def __post_init__(self) -> None:
        if self.mode not in COMMAND_MODES:
            raise ValueError(f"command mode must be one of {', '.join(COMMAND_MODES)}, got {self.mode!r}")
        object.__setattr__(self, "t", float(self.t))
        values = _vector(self.values, "values")
        if self.mode != "safe" and not np.all(np.isfinite(values)):
            raise ValueError(f"a {self.mode} command must have finite values, got {values.tolist()}")
        object.__setattr__(self, "values", values)


@runtime_checkable
class Robot(Protocol):
    """A robot the deployment loop can drive (physical, ROS 2 or simulated)."""

    spec: RobotSpec
    """The robot's spec: joint order, actuators, safety limits."""

    def read(self) -> Reading:
        """The newest state sample.  Never blocks longer than a control period; a sample that did
        not arrive is returned as a Reading with ``valid=False`` (see :meth:`Reading.dropped`)."""
        ...

    def write(self, command: Command) -> None:
        """Send a command.  A ``safe`` command must have the same effect as :meth:`stop`."""
        ...

    def stop(self) -> None:
        """Enter the spec's safe mode (joint damping or zero torque) and stay in it until the next
        normal command."""
        ...

    def close(self) -> None:
        """Enter safe mode and release the connection.  Calling it twice is harmless."""
        ...
