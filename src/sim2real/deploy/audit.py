"""The independent audit of what reaches a robot: the fault suite's oracle.

:func:`audit_command` says why a command written to the robot is unsafe, from the spec's limits
alone (per actuator, with a measurement tolerance), independently of the safety monitor's code:
a ``normal`` or ``hold`` command with a non-finite value, a pd target outside the position
limits, a dc voltage beyond its limit, an implied torque
(:func:`~sim2real.robots.actuation.implied_torque`) beyond the torque limit at the newest valid
reading, or a change faster than the spec's ``command_rate``.  ``safe`` commands are the robot's
own safe mode and are not audited.  :class:`AuditedRobot` audits every command written through it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from sim2real.real.protocol import Command, Reading
from sim2real.robots.actuation import ActuatorArrays, implied_torque
from sim2real.robots.spec import RobotSpec

__all__ = ["AuditedRobot", "RobotWrapper", "audit_command"]

log = logging.getLogger(__name__)

_TOL = 1e-9


def audit_command(
    spec: RobotSpec,
    command: Command,
    reference: Reading | None,
    previous: Command | None,
    *,
    actuators: ActuatorArrays | None = None,
) -> list[str]:
    """Why a command written to the robot is unsafe (empty when it is safe).

    Deliberately independent of the monitor's code: per actuator, from the spec's limits.

    Args:
        spec: The robot.
        command: The command written.
        reference: The newest valid, finite reading (the state the implied torque is computed at).
        previous: The previous ``normal``/``hold`` command, unless a ``safe`` one came in between.
        actuators: ``ActuatorArrays.from_spec(spec)``, when the caller keeps one (computed else).
    """
    if command.mode == "safe":
        return []
    u = np.asarray(command.values, dtype=float)
    if u.shape != (spec.n_actions,):
        return [f"{u.shape[0]} values for {spec.n_actions} actuators"]
    if not np.all(np.isfinite(u)):
        return [f"non-finite values {u.tolist()}"]
    lim = spec.safety
    problems: list[str] = []
    index = [spec.joints.index(act.joint) for act in spec.actuators]
    taus = None
    if reference is not None:
        actuators = actuators if actuators is not None else ActuatorArrays.from_spec(spec)
        taus = implied_torque(actuators, u, reference.q[index], reference.qd[index])
    for i, act in enumerate(spec.actuators):
        j = index[i]
        limit = float(lim.torque[j])
        value = float(u[i])
        if act.model == "pd":
            lo, hi = float(lim.position_low[j]), float(lim.position_high[j])
            if not lo - _TOL <= value <= hi + _TOL:
                problems.append(f"{act.joint}: target {value:.6g} outside [{lo}, {hi}]")
        elif act.model == "dc_motor" and abs(value) > act.voltage_limit * (1 + _TOL):
            problems.append(f"{act.joint}: voltage {value:.6g} beyond +-{act.voltage_limit}")
        if taus is None:
            problems.append(f"{act.joint}: a {command.mode} command without any valid reading to verify it")
        elif abs(taus[i]) > limit * (1 + 1e-6) + _TOL:
            problems.append(f"{act.joint}: implied torque {taus[i]:.6g} beyond +-{limit}")
        if previous is not None:
            dt = max(command.t - previous.t, 0.0)
            step = abs(value - float(previous.values[i]))
            rate = float(lim.command_rate[j])
            allowed = rate * dt
            if step > allowed * (1 + 1e-6) + _TOL:
                problems.append(f"{act.joint}: change {step:.6g} in {dt:.4g} s beyond the rate {rate:g}/s")
    return problems


class RobotWrapper:
    """A Robot that passes every call to ``inner``; subclasses override what they change."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spec: RobotSpec = inner.spec

    def now(self) -> float:
        """The inner robot's clock."""
        return float(self.inner.now())

    def read(self) -> Reading:
        return self.inner.read()

    def write(self, command: Command) -> None:
        self.inner.write(command)

    def stop(self) -> None:
        self.inner.stop()

    def close(self) -> None:
        self.inner.close()


class AuditedRobot(RobotWrapper):
    """A robot wrapper that audits every command written (see :func:`audit_command`).

    Attributes:
        unsafe: ``(t, problems)`` of every unsafe command that reached the inner robot.
        written: Commands written.
    """

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.unsafe: list[tuple[float, list[str]]] = []
        self.written = 0
        self._reference: Reading | None = None
        self._previous: Command | None = None
        self._actuators = ActuatorArrays.from_spec(self.spec)

    def read(self) -> Reading:
        reading = self.inner.read()
        n = self.spec.n_joints
        if (
            isinstance(reading, Reading)
            and reading.valid
            and reading.q.shape == (n,)
            and reading.qd.shape == (n,)
            and math.isfinite(reading.t)
            and np.all(np.isfinite(reading.q))
            and np.all(np.isfinite(reading.qd))
            and (self._reference is None or reading.t >= self._reference.t)
        ):
            self._reference = reading
        return reading

    def write(self, command: Command) -> None:
        problems = audit_command(self.spec, command, self._reference, self._previous, actuators=self._actuators)
        if problems:
            self.unsafe.append((command.t, problems))
            log.error("UNSAFE command reached the robot at t=%.4f: %s", command.t, "; ".join(problems))
        self._previous = None if command.mode == "safe" else command
        self.written += 1
        self.inner.write(command)
