"""Recording runs for identification: excitation signals scaled per actuator, played through the loop.

A record run is a :class:`~sim2real.deploy.loop.ControlLoop` run (safety monitor active, rosbag2 log
flushed as it goes) whose "policy" is either a trained policy or an :class:`ExcitationPolicy`.

Excitation scaling, per actuator model (``amplitude`` A):

- ``dc_motor``: a voltage of ``A * voltage_limit`` times the signal (A is a fraction in (0, 1]);
- ``torque``: a torque of ``A * torque_limit`` times the signal (fraction in (0, 1]);
- ``pd``: a target of ``default pose + A * signal`` [rad] (A in radians).

Torque and voltage joints have no position loop of their own, so a slow signal would drive them
into their position limits (the furuta's arm: a 0.2 Hz chirp at 5 V would turn it by many radians
before the back-EMF stops it).  :class:`CenteringPD` adds a weak PD towards the default pose,
designed from the joint's inertia J (MuJoCo mass matrix at the default pose)::

    kp = A_tau / excursion        so the full excitation torque A_tau holds the joint at most
                                  ``excursion`` from the default pose (quasi-statically),
    kd = 2 zeta sqrt(kp J)        zeta = 0.7, no resonance peak in the chirp band,
    excursion = 0.3 * half the joint's position range, at most 1 rad

(the furuta's arm: A_tau = 0.025 N m at A = 0.5, excursion 0.75 rad, kp = 0.033 N m/rad,
kd = 0.0052 N m s/rad, a 1.4 Hz closed loop).  For dc motors the torque is turned into a voltage
``V = tau R / kt``; the back-EMF adds damping.  The PD acts on the measured state and is part of
the logged command, so identification sees exactly what was applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.excitation import excitation
from sim2real.deploy.loop import ControlLoop, LoopConfig, Policy, TickResult
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading, Robot
from sim2real.robots.actuation import ActuatorArrays, implied_torque
from sim2real.robots.spec import RobotSpec

__all__ = [
    "DEFAULT_AMPLITUDE",
    "EXCURSION_FRACTION",
    "KINDS",
    "CenteringPD",
    "ExcitationPolicy",
    "initial_state",
    "joint_inertia",
    "record",
]

KINDS = ("chirp", "prbs", "steps")
"""Excitation signals (see :mod:`sim2real.deploy.excitation`)."""
DEFAULT_AMPLITUDE = {"dc_motor": 0.5, "torque": 0.3, "pd": 0.1}
"""Default amplitude per actuator model: fraction of the voltage / torque limit, radians for pd."""
EXCURSION_FRACTION = 0.3
"""Centering PD: largest quasi-static excursion as a fraction of half the position range."""
MAX_EXCURSION = 1.0
"""Centering PD: excursion cap [rad] (for continuous joints with wide wind-up guards)."""
ZETA = 0.7
"""Damping ratio of the centering PD."""


def joint_inertia(spec: RobotSpec) -> np.ndarray:
    """Diagonal of the joint-space mass matrix at the default pose for each actuator [kg m^2].

    Shape (n_actions,), in ``spec.actuators`` order (armature included).
    """
    import mujoco

    from sim2real.robots.model import build_model, default_qpos, joint_dof_indices

    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_forward(model, data)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, full)
    dofs = joint_dof_indices(spec, model)
    return np.array(
        [full[dofs[spec.joints.index(a.joint)], dofs[spec.joints.index(a.joint)]] for a in spec.actuators]
    )


def _torque_scale(spec: RobotSpec) -> np.ndarray:
    """Per actuator: joint torque per command unit at rest (1 for torque, kt/R for dc, 0 for pd)."""
    act = ActuatorArrays.from_spec(spec)
    rest = np.zeros(spec.n_actions)
    return np.where(act.pd, 0.0, implied_torque(act, np.ones(spec.n_actions), rest, rest))


def _full_scale(spec: RobotSpec) -> np.ndarray:
    """Per actuator: the command value that an amplitude fraction of 1 means (V or N m; 1 rad for pd)."""
    return np.array(
        [
            a.voltage_limit if a.model == "dc_motor" else (a.torque_limit if a.model == "torque" else 1.0)
            for a in spec.actuators
        ]
    )


class CenteringPD:
    """A weak PD towards the default pose for torque and dc_motor actuators (see module docstring).

    Args:
        spec: The robot.
        torque_amplitude: Per actuator: the torque the PD must balance at the excursion [N m],
            shape (n_actions,); entries of pd actuators are ignored.
        inertia: Per actuator joint inertia [kg m^2]; default: :func:`joint_inertia`.
    """

    def __init__(
        self, spec: RobotSpec, torque_amplitude: np.ndarray, inertia: np.ndarray | None = None
    ) -> None:
        self.spec = spec
        self._index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self._active = np.array([a.model != "pd" for a in spec.actuators])
        lo = np.asarray(spec.safety.position_low)[self._index]
        hi = np.asarray(spec.safety.position_high)[self._index]
        self.excursion = np.minimum(EXCURSION_FRACTION * 0.5 * (hi - lo), MAX_EXCURSION)
        """Per actuator: quasi-static excursion at the full torque amplitude [rad]."""
        inertia = joint_inertia(spec) if inertia is None else np.asarray(inertia, dtype=float)
        amp = np.abs(np.asarray(torque_amplitude, dtype=float))
        self.kp = np.where(self._active, amp / self.excursion, 0.0)
        """Stiffness per actuator [N m/rad]."""
        self.kd = np.where(self._active, 2.0 * ZETA * np.sqrt(self.kp * inertia), 0.0)
        """Damping per actuator [N m s/rad]."""
        self.target = np.asarray(spec.default_pose, dtype=float)[self._index]
        """Centre per actuator [rad] (the default pose)."""
        scale = _torque_scale(spec)
        self._per_unit = np.where(scale > 0, scale, 1.0)

    def torque(self, reading: Reading) -> np.ndarray:
        """The centering torque at the measured state, shape (n_actions,) [N m] (0 for pd joints)."""
        q = reading.q[self._index]
        qd = reading.qd[self._index]
        return -self.kp * (q - self.target) - self.kd * qd

    def to_command(self, torque: np.ndarray) -> np.ndarray:
        """Torque [N m] -> command units (N m for torque actuators, V = tau R / kt for dc motors)."""
        return np.where(self._active, torque / self._per_unit, 0.0)

    def describe(self) -> dict[str, Any]:
        """Gains, for the log."""
        return {"kp": self.kp.tolist(), "kd": self.kd.tolist(), "excursion": self.excursion.tolist()}


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
    """

    def __init__(
        self,
        spec: RobotSpec,
        kind: str,
        seconds: float,
        amplitude: float | None = None,
        seed: int = 0,
        inertia: np.ndarray | None = None,
    ) -> None:
        if kind not in KINDS:
            raise Sim2RealError(f"unknown excitation '{kind}' (choose {', '.join(KINDS)})")
        if not (math.isfinite(seconds) and seconds > 0):
            raise Sim2RealError(f"excitation length must be positive, got {seconds!r}")
        models = [a.model for a in spec.actuators]
        if amplitude is None:
            amp = np.array([DEFAULT_AMPLITUDE[m] for m in models])
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
        t = np.arange(n) * self.control_dt
        self.signal = excitation(kind, t, spec.n_actions, seed=self.seed)
        """The unit signal, shape (T, n_actions) in [-1, 1]."""
        self.is_pd = np.array([m == "pd" for m in models])
        index = np.array([spec.joints.index(a.joint) for a in spec.actuators])
        self.centre = np.where(self.is_pd, np.asarray(spec.default_pose, dtype=float)[index], 0.0)
        self.scale = amp * _full_scale(spec)
        """Per actuator: the signal's amplitude in command units (V, N m or rad)."""
        self.low = np.where(
            self.is_pd, np.asarray(spec.safety.position_low)[index], [a.command_low for a in spec.actuators]
        )
        self.high = np.where(
            self.is_pd, np.asarray(spec.safety.position_high)[index], [a.command_high for a in spec.actuators]
        )
        self.centering: CenteringPD | None = None
        if not np.all(self.is_pd):
            self.centering = CenteringPD(spec, self.scale * _torque_scale(spec), inertia)
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
        u = self.centre + self.scale * s
        if self.centering is not None:
            u = u + self.centering.to_command(self.centering.torque(reading))
        return np.clip(u, self.low, self.high)

    def describe(self) -> dict[str, Any]:
        """Settings, for the log."""
        out: dict[str, Any] = {
            "excitation": self.kind,
            "amplitude": self.amplitude.tolist(),
            "command_amplitude": self.scale.tolist(),
            "seed": self.seed,
        }
        if self.centering is not None:
            out["centering_pd"] = self.centering.describe()
        return out


def initial_state(spec: RobotSpec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Start state of the robot's training task (e.g. the furuta hanging), else the default pose at rest.

    Returns:
        joint positions (n_joints,) [rad] and velocities (n_joints,) [rad/s].
    """
    from sim2real.tasks import get_task
    from sim2real.tasks.state import MeasuredState

    if spec.task is None:
        return np.asarray(spec.default_pose, dtype=float).copy(), np.zeros(spec.n_joints)
    task = get_task(spec)
    q, qd = task.reset(MeasuredState(spec), np.array([0]), np.random.default_rng(seed))
    return np.asarray(q, dtype=float)[0], np.asarray(qd, dtype=float)[0]


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
