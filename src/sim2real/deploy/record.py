"""Recording runs for identification: excitation signals scaled per actuator, played through the loop.

A record run is a :class:`~sim2real.deploy.loop.ControlLoop` run (safety monitor active, rosbag2 log
flushed as it goes) whose "policy" is either a trained policy or an :class:`ExcitationPolicy`.

Excitation scaling, per actuator model (``amplitude`` A):

- ``dc_motor``: a voltage of ``A * voltage_limit`` times the signal (A is a fraction in (0, 1]);
- ``torque``: a torque of ``A * torque_limit`` times the signal (fraction in (0, 1]); by default at
  most what the centering PD below holds at its excursion (a light link's, whose PD the control
  period limits: 1.5 N m on a 50 g, 5 cm end link threw its arm past its speed limit in one period);
- ``pd``: a target of ``default pose + A * signal`` [rad] (A in radians; by default at most
  :data:`PD_TORQUE_FRACTION` of the torque limit's angle ``torque_limit / kp``, and a chirp's fastest
  target at most :data:`PD_SPEED_FRACTION` of the joint's velocity limit; each half of the
  signal at most :data:`PD_LIMIT_ROOM` of the way to the safety limit on its side, :func:`pd_room`).

Torque and voltage joints have no position loop of their own, so a slow signal would drive them
into their position limits (the furuta's arm: a 0.2 Hz chirp at 5 V would turn it by many radians
before the back-EMF stops it): :class:`~sim2real.deploy.centering.CenteringPD` adds a weak PD
towards the default pose.  The PD acts on the measured state and is part of the logged command, so
identification sees exactly what was applied.

**Legs in the air** (``fixed_base``).  A legged robot is identified hung by its base (the twin
hangs itself, :func:`~sim2real.sim.floating.hung_model`; a real robot hangs from a stand), each
joint with its own excitation: the chirp of every joint sweeps 0.2 -> 5 -> 0.2 Hz, started at a
different point of that sweep (joint ``i`` of ``n`` ``i / n`` of the way through), so that no two
joints move alike and each joint's parameters are seen apart from its neighbours'; pd joints get
:data:`FIXED_BASE_AMPLITUDE` rad.  The safety monitor then checks the joints only (a hung base has
no tilt or height to guard: :func:`fixed_base_spec`), and the log says ``fixed_base: true``.

**Walking** (``trot``).  An open-loop trot for floating-base robots with pd joints: diagonal feet
move together, each foot follows a stance stroke backwards and a lifted swing forwards around its
default position (``TROT_*``), and its joints come from the leg kinematics by damped least squares
(:class:`TrotGait`).  It moves the base, for logs of a walking robot without a trained policy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.centering import CenteringPD, torque_per_unit
from sim2real.deploy.excitation import CHIRP_TOP_HZ, excitation
from sim2real.deploy.loop import ControlLoop, LoopConfig, Policy, TickResult
from sim2real.errors import Sim2RealError
from sim2real.real.legs import LegKinematics
from sim2real.real.protocol import Reading, Robot
from sim2real.robots.spec import RobotSpec

__all__ = [
    "DEFAULT_AMPLITUDE",
    "FIXED_BASE_AMPLITUDE",
    "KINDS",
    "PD_LIMIT_ROOM",
    "PD_SPEED_FRACTION",
    "PD_TORQUE_FRACTION",
    "ExcitationPolicy",
    "TrotGait",
    "fixed_base_spec",
    "initial_state",
    "pd_room",
    "per_joint_chirp",
    "record",
]

KINDS = ("chirp", "prbs", "steps", "trot")
"""Excitation signals (see :mod:`sim2real.deploy.excitation`), and ``trot`` (:class:`TrotGait`)."""
FIXED_BASE_AMPLITUDE = 0.3
"""Default amplitude of pd joints with the robot hung by its base [rad]."""
TROT_PERIOD = 0.4
"""Trot gait cycle [s]."""
TROT_STRIDE = 0.06
"""Trot: fore-aft length of a foot's stroke [m]."""
TROT_LIFT = 0.06
"""Trot: height a swinging foot is lifted [m]."""
DEFAULT_AMPLITUDE = {"dc_motor": 0.5, "torque": 0.3, "pd": 0.1}
"""Default amplitude per actuator model: fraction of the voltage / torque limit, radians for pd."""
PD_TORQUE_FRACTION = 0.5
"""A pd joint's default amplitude is at most the angle at which its PD asks for this fraction of its
torque limit (``0.5 torque_limit / kp``): a stiff arm (Menagerie's UR5e wrist, kp 3000 for a
28 N m limit) saturates at 9 mrad, and a saturated chirp is a poor log and a collision alarm."""
PD_SPEED_FRACTION = 0.5
"""A pd joint's default chirp amplitude is at most the one whose fastest target (``A 2 pi f1``) is this
fraction of the joint's velocity limit: the joint follows its target with some overshoot near its
resonance (example-robot-data's ANYmal C, 7.5 rad/s, hung: the 0.3 rad chirp at 5 Hz asked 9.4 rad/s
and safe-stopped 0.22 s into the recording)."""
PD_LIMIT_ROOM = 0.5
"""A designed signal (an excitation, preflight's joint_signs probe) takes a pd joint's target at most
this fraction of the way from the default pose to each safety position limit: the joint follows its
target past it a little, and robot init keeps a pose near its range's edge only one 0.05 rad margin
from the limit (a GR1T2's hip roll at 0 of [-0.09, 0.79]: a chirp clipped at the limit itself ran the
joint onto it, a safe stop 0.16 s into the recording)."""
MAX_SIGNAL_VALUES = 2**27
"""Most values (ticks x actuators) of an excitation signal, which is computed whole before the
recording starts: 1 GiB of float64 (``record --seconds 1e30`` ended in numpy's allocation error)."""


def pd_room(spec: RobotSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per actuator: how far below and above its default pose a designed pd target may go [rad]
    (:data:`PD_LIMIT_ROOM` of the way to each safety position limit, at least 0); inf for the other
    actuators.  Shapes (n_actions,), (n_actions,)."""
    index = np.array([spec.joints.index(a.joint) for a in spec.actuators], dtype=int)
    pose = np.asarray(spec.default_pose, dtype=float)[index]
    pd = np.array([a.model == "pd" for a in spec.actuators])
    below = PD_LIMIT_ROOM * np.maximum(pose - np.asarray(spec.safety.position_low)[index], 0.0)
    above = PD_LIMIT_ROOM * np.maximum(np.asarray(spec.safety.position_high)[index] - pose, 0.0)
    return np.where(pd, below, np.inf), np.where(pd, above, np.inf)


def _full_scale(spec: RobotSpec) -> np.ndarray:
    """Per actuator: the command value that an amplitude fraction of 1 means (V or N m; 1 rad for pd)."""
    return np.array(
        [
            a.voltage_limit if a.model == "dc_motor" else (a.torque_limit if a.model == "torque" else 1.0)
            for a in spec.actuators
        ]
    )


def per_joint_chirp(t: np.ndarray, n: int, f0: float = 0.2, f1: float = CHIRP_TOP_HZ) -> np.ndarray:
    """One chirp per channel, each starting at another point of a 0.2 -> 5 -> 0.2 Hz sweep.

    Channel ``i``'s instantaneous frequency is ``f0 + (f1 - f0) * tri(t / T + i / n)`` with the
    triangle ``tri(u) = 1 - |2 (u mod 1) - 1|`` over the duration ``T``; the phase is its integral,
    so every channel is smooth.  At any time the channels sit at different frequencies.

    Args:
        t: Times from 0, shape (T,) [s] (uniform).
        n: Number of channels.

    Returns:
        Shape (T, n) in [-1, 1].
    """
    t = np.asarray(t, dtype=float)
    duration = max(float(t[-1]), 1e-9)
    u = t[:, None] / duration + np.arange(n)[None, :] / n
    freq = f0 + (f1 - f0) * (1.0 - np.abs(2.0 * np.mod(u, 1.0) - 1.0))
    dt = np.diff(t, prepend=t[0])[:, None]
    phase = 2.0 * np.pi * np.cumsum(freq * dt, axis=0)
    return np.sin(phase)


def fixed_base_spec(spec: RobotSpec) -> RobotSpec:
    """The spec as the safety monitor sees a robot hung by its base: joint limits only.

    Tilt and base height mean nothing for a base hung from a stand, so those checks are off; every
    joint position, speed, torque and command-rate limit stays.  The collision observer's expected
    contact is the base itself (the stand's force and torque on it), not the feet.  The spec hash is unchanged (it is
    the same robot), so logs recorded this way identify the robot's own spec.
    """
    if spec.base_body is None:
        raise Sim2RealError(f"{spec.name} has no floating base to hang (--fixed-base is for legged robots)")
    # the stand holds the base: its wrench is an expected contact of the collision observer, the
    # feet in the air are not
    collision = dataclasses.replace(spec.safety.collision, contacts=(spec.base_body,))
    safety = dataclasses.replace(
        spec.safety, tilt=None, base_height_low=None, base_height_high=None, collision=collision
    )
    return dataclasses.replace(spec, safety=safety)


class ExcitationPolicy:
    """An excitation signal with the :class:`~sim2real.deploy.loop.Policy` interface.

    The signal (``chirp``, ``prbs`` or ``steps``, values in [-1, 1], one channel per actuator) is
    indexed by the reading time since the first step, so a held tick does not shift it; after
    ``seconds`` it is zero (the centering PD or the default pose remain).

    Args:
        spec: The robot.
        kind: ``chirp``, ``prbs`` or ``steps``.
        seconds: Length of the signal [s] (the chirp sweeps 0.2 -> 5 Hz over it).
        amplitude: See the module docstring; None: :data:`DEFAULT_AMPLITUDE` per actuator model.
        seed: Seed of the random signals.
        inertia: Joint inertia per actuator for the centering PD (default: from the MuJoCo model).
        per_joint: Every joint its own chirp (:func:`per_joint_chirp`), as for a robot hung by
            its base; pd joints then default to :data:`FIXED_BASE_AMPLITUDE`.
    """

    def __init__(
        self,
        spec: RobotSpec,
        kind: str,
        seconds: float,
        amplitude: float | None = None,
        seed: int = 0,
        inertia: np.ndarray | None = None,
        per_joint: bool = False,
    ) -> None:
        if kind not in KINDS or kind == "trot":
            raise Sim2RealError(f"unknown excitation '{kind}' (choose chirp, prbs or steps)")
        if not (math.isfinite(seconds) and seconds > 0):
            raise Sim2RealError(f"excitation length must be positive, got {seconds!r}")
        models = [a.model for a in spec.actuators]
        if amplitude is None:
            table = {**DEFAULT_AMPLITUDE, "pd": FIXED_BASE_AMPLITUDE} if per_joint else DEFAULT_AMPLITUDE
            amp = np.array([table[m] for m in models])
            kp = np.array([a.kp if a.model == "pd" else 0.0 for a in spec.actuators])
            limit = np.array([a.torque_limit for a in spec.actuators])
            with np.errstate(divide="ignore"):
                amp = np.where(kp > 0, np.minimum(amp, PD_TORQUE_FRACTION * limit / kp), amp)
            if kind == "chirp":  # the sweep's fastest target at most a fraction of the joint's speed limit
                index = [spec.joints.index(a.joint) for a in spec.actuators]
                speed = np.asarray(spec.safety.velocity, dtype=float)[index]
                fastest = PD_SPEED_FRACTION * speed / (2.0 * np.pi * CHIRP_TOP_HZ)
                amp = np.where([m == "pd" for m in models], np.minimum(amp, fastest), amp)
        else:
            amplitude = float(amplitude)
            if not (math.isfinite(amplitude) and amplitude > 0):
                raise Sim2RealError(f"amplitude must be positive, got {amplitude}")
            if amplitude > 1.0 and any(m != "pd" for m in models):
                raise Sim2RealError(
                    f"amplitude {amplitude} > 1: for torque and voltage actuators it is a fraction of the limit"
                )
            amp = np.full(len(models), amplitude)
        self.spec = spec
        self.kind = kind
        self.seed = int(seed)
        self.amplitude = amp
        """Per actuator: the amplitude (fraction, or rad for pd)."""
        self.control_dt = float(spec.control_dt)
        n = math.ceil(seconds / self.control_dt) + 1
        if n * spec.n_actions > MAX_SIGNAL_VALUES:
            longest = MAX_SIGNAL_VALUES // spec.n_actions * self.control_dt
            raise Sim2RealError(
                f"an excitation of {seconds:g} s is too long to compute whole: record at most "
                f"{longest:,.0f} s per log (identify takes several logs)"
            )
        t = np.arange(n) * self.control_dt
        self.per_joint = per_joint
        if per_joint and kind == "chirp":
            self.signal = per_joint_chirp(t, spec.n_actions)
        else:
            self.signal = excitation(kind, t, spec.n_actions, seed=self.seed)
        """The unit signal, shape (T, n_actions) in [-1, 1]."""
        self.is_pd = np.array([m == "pd" for m in models])
        index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self.centre = np.where(self.is_pd, np.asarray(spec.default_pose, dtype=float)[index], 0.0)
        self.scale = amp * _full_scale(spec)
        """Per actuator: the signal's amplitude in command units (V, N m or rad)."""
        below, above = pd_room(spec)
        self.scale_low = np.minimum(self.scale, below)
        """Per actuator: the amplitude of the signal's negative half (a pd joint's within
        :func:`pd_room` of its safety limit below the pose)."""
        self.scale_high = np.minimum(self.scale, above)
        """Per actuator: the amplitude of the signal's positive half, likewise."""
        self.low = np.where(
            self.is_pd, np.asarray(spec.safety.position_low)[index], [a.command_low for a in spec.actuators]
        )
        self.high = np.where(
            self.is_pd, np.asarray(spec.safety.position_high)[index], [a.command_high for a in spec.actuators]
        )
        self.centering: CenteringPD | None = None
        if not np.all(self.is_pd):
            per_unit = torque_per_unit(spec)
            self.centering = CenteringPD(spec, self.scale * per_unit, inertia)
            if amplitude is None:  # at most what the centering, stable at the control period, holds at its excursion
                held = self.centering.kp * self.centering.excursion / np.where(per_unit > 0, per_unit, 1.0)
                self.scale = np.where(self.is_pd, self.scale, np.minimum(self.scale, held))
                self.scale_low = np.minimum(self.scale_low, self.scale)
                self.scale_high = np.minimum(self.scale_high, self.scale)
                self.amplitude = np.where(self.is_pd, self.amplitude, self.scale / _full_scale(spec))
        self.last_input_finite = True
        self._t0: float | None = None

    def reset(self) -> None:
        """Restart the signal at the next step."""
        self._t0 = None
        self.last_input_finite = True

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        """The command at the reading's time (n_actions,), actuator units, within the command limits."""
        if not (
            np.all(np.isfinite(reading.q)) and np.all(np.isfinite(reading.qd)) and math.isfinite(reading.t)
        ):
            self.last_input_finite = False
            return np.full(self.spec.n_actions, np.nan)
        self.last_input_finite = True
        if self._t0 is None:
            self._t0 = reading.t
        k = round((reading.t - self._t0) / self.control_dt)
        s = self.signal[k] if 0 <= k < len(self.signal) else np.zeros(self.spec.n_actions)
        u = self.centre + np.where(s < 0, self.scale_low, self.scale_high) * s
        if self.centering is not None:
            u = u + self.centering.to_command(self.centering.torque(reading))
        return np.clip(u, self.low, self.high)

    def describe(self) -> dict[str, Any]:
        """Settings, for the log."""
        out: dict[str, Any] = {
            "excitation": self.kind,
            "per_joint": self.per_joint,
            "amplitude": self.amplitude.tolist(),
            "command_amplitude": self.scale.tolist(),
            "command_amplitude_low": self.scale_low.tolist(),
            "command_amplitude_high": self.scale_high.tolist(),
            "seed": self.seed,
        }
        if self.centering is not None:
            out["centering_pd"] = self.centering.describe()
        return out


class TrotGait:
    """An open-loop trot with the :class:`~sim2real.deploy.loop.Policy` interface (module docstring).

    Feet whose default positions have ``x * y > 0`` (front left, rear right) move together, the
    other pair half a cycle later; in the first half of its cycle a foot strokes backwards on the
    floor, in the second it swings forwards, lifted by ``lift * sin``.  The gait fades in over the
    first cycle.

    Args:
        spec: A floating-base robot whose actuators are all pd.
        period: Gait cycle [s].
        stride: Fore-aft stroke [m].
        lift: Swing height [m].
        kinematics: Its legs (default: from its MuJoCo model).
    """

    def __init__(
        self,
        spec: RobotSpec,
        period: float = TROT_PERIOD,
        stride: float = TROT_STRIDE,
        lift: float = TROT_LIFT,
        kinematics: LegKinematics | None = None,
    ) -> None:
        if spec.base_body is None or any(a.model != "pd" for a in spec.actuators):
            raise Sim2RealError(f"--excite trot needs a legged robot with pd joints; {spec.name} is not one")
        if not (period > 0 and math.isfinite(stride) and lift >= 0):
            raise Sim2RealError("trot: period must be positive and lift non-negative")
        self.spec = spec
        self.kin = kinematics or LegKinematics.from_model(spec)
        self.period, self.stride, self.lift = float(period), float(stride), float(lift)
        self.q0 = np.asarray(spec.default_pose, dtype=float)
        self.feet0, _ = self.kin.feet(self.q0)
        self.offset = np.array([0.0 if f[0] * f[1] > 0 else 0.5 for f in self.feet0])
        self._index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self.low = np.asarray(spec.safety.position_low)[self._index]
        self.high = np.asarray(spec.safety.position_high)[self._index]
        self.last_input_finite = True
        self._t0: float | None = None

    def reset(self) -> None:
        """Restart the gait at the next step."""
        self._t0 = None
        self.last_input_finite = True

    def joint_targets(self, t: float) -> np.ndarray:
        """Joint positions of the gait at time ``t`` since its start, shape (n_joints,) [rad]."""
        q = self.q0.copy()
        fade = min(1.0, t / self.period)
        for i, chain in enumerate(self.kin.chains):
            phase = (t / self.period + self.offset[i]) % 1.0
            if phase < 0.5:
                x, z = self.stride * (0.5 - 2.0 * phase), 0.0
            else:
                s = 2.0 * (phase - 0.5)
                x, z = self.stride * (s - 0.5), self.lift * math.sin(math.pi * s)
            goal = self.feet0[i] + fade * np.array([x, 0.0, z])
            cols = list(chain.joints)
            for _ in range(3):
                foot, J = chain.forward(q)
                Jc = J[:, cols]
                q[cols] += np.linalg.solve(Jc.T @ Jc + 1e-6 * np.eye(len(cols)), Jc.T @ (goal - foot))
        return q

    def step_reading(self, reading: Reading, velocity_command: np.ndarray | None = None) -> np.ndarray:
        """The gait's joint targets at the reading's time (n_actions,) [rad], within the joint limits."""
        if not math.isfinite(reading.t):
            self.last_input_finite = False
            return np.full(self.spec.n_actions, np.nan)
        self.last_input_finite = True
        if self._t0 is None:
            self._t0 = reading.t
        return np.clip(self.joint_targets(reading.t - self._t0)[self._index], self.low, self.high)

    def describe(self) -> dict[str, Any]:
        """Settings, for the log."""
        return {"excitation": "trot", "period": self.period, "stride": self.stride, "lift": self.lift}


def initial_state(spec: RobotSpec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Start state of the robot's training task (e.g. the furuta hanging), else the default pose at rest.

    A joint position the task's reset drew beyond halfway from the default pose to a safety limit
    is moved back to halfway: training's reset clips onto the limit itself (harmless there), where
    the monitor of a run stops at the first reading's encoder noise (gymnasium's Ant, its ankles'
    default pose 0.1 rad inside their limits and scaled by up to 10 %, was safe-stopped at tick 0).

    Returns:
        joint positions (n_joints,) [rad] and velocities (n_joints,) [rad/s].
    """
    from sim2real.tasks import get_task
    from sim2real.tasks.state import MeasuredState

    default = np.asarray(spec.default_pose, dtype=float)
    if spec.task is None:
        return default.copy(), np.zeros(spec.n_joints)
    task = get_task(spec)
    q, qd = task.reset(MeasuredState(spec), np.array([0]), np.random.default_rng(seed))
    low = default - 0.5 * np.maximum(default - np.asarray(spec.safety.position_low, dtype=float), 0.0)
    high = default + 0.5 * np.maximum(np.asarray(spec.safety.position_high, dtype=float) - default, 0.0)
    return np.clip(np.asarray(q, dtype=float)[0], low, high), np.asarray(qd, dtype=float)[0]


def record(
    robot: Robot,
    policy: Policy,
    seconds: float,
    out: str | Path,
    *,
    config: LoopConfig | None = None,
    meta: dict[str, Any] | None = None,
    on_tick: Callable[[TickResult], None] | None = None,
) -> dict[str, Any]:
    """Run ``policy`` (e.g. an :class:`ExcitationPolicy`) on ``robot`` for ``seconds`` and log it.

    Args:
        robot: The robot (twin or real).
        policy: What drives it.
        seconds: Run length [s] of loop time.
        out: Bag directory to write (must not exist).
        config: Loop settings; default: lockstep, at the last (100 %) speed stage, since an
            excitation is a designed signal (the monitor still enforces every hard limit).
        meta: Extra description for the bag metadata.
        on_tick: Called with every :class:`~sim2real.deploy.loop.TickResult`.

    Returns:
        The loop summary (``bag`` is the log directory).
    """
    if config is None:
        from sim2real.deploy.speed import SpeedConfig

        config = LoopConfig(speed=SpeedConfig(start_stage=len(SpeedConfig().stages) - 1))
    loop = ControlLoop(
        robot,
        policy,
        config=config,
        log_path=out,
        log_meta={"source": "sim2real.record", **(meta or {})},
        on_tick=on_tick,
    )
    with loop:
        loop.run(seconds)
    return loop.close()
