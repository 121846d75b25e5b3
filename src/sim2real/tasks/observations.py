"""Observation terms: pure functions of what the robot's sensors report, batched.

Training builds observations from simulated sensor readings and deployment builds them from a
robot's readings with these same functions (``build_observation``), so the two can never drift
apart.  Every term takes an :class:`ObsInputs` (and its parameters as keywords, see
:data:`sim2real.robots.spec.TERM_PARAMS`) and returns one frame, shape (N, size).

A layout term turns frames into its block of the observation vector (:func:`build_observation`):
the frame is clipped (``clip``, in the term's units), scaled (``scale``, one number or one per
value), and the term's last ``history`` frames are concatenated oldest first; an
:class:`ObservationHistory` keeps them per simulation and fills every slot with the first frame
after a reset (Isaac Lab's layout: each term's history, then the next term).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.robots.spec import OBSERVATION_SIZES, TERM_PARAMS, ObservationTerm, term_params


@dataclass(frozen=True, eq=False)
class ObsInputs:
    """What observation terms may read.  Batched over N robots; absent sensors are None."""

    joint_pos: np.ndarray
    """Measured joint positions, shape (N, n_joints) [rad]."""
    joint_vel: np.ndarray
    """Measured joint velocities, shape (N, n_joints) [rad/s]."""
    default_pose: np.ndarray
    """Default joint positions, shape (n_joints,) [rad]."""
    last_action: np.ndarray
    """Previous (filtered) policy action, shape (N, n_actions), in [-1, 1]."""
    base_ang_vel: np.ndarray | None = None
    """Gyro reading in the base frame, shape (N, 3) [rad/s]."""
    base_quat: np.ndarray | None = None
    """Base orientation (w, x, y, z), shape (N, 4)."""
    velocity_command: np.ndarray | None = None
    """Commanded base velocity (vx [m/s], vy [m/s], yaw rate [rad/s]), shape (N, 3)."""
    base_lin_vel: np.ndarray | None = None
    """Base linear velocity in the base frame, shape (N, 3) [m/s] (simulator; an estimator on a robot)."""
    episode_time: np.ndarray | None = None
    """Time of this control step since the episode (policy) started, shape (N,) [s]: k * control_dt."""


def _need(value: np.ndarray | None, what: str) -> np.ndarray:
    if value is None:
        raise Sim2RealError(f"observation term needs {what}, which this robot does not provide")
    return value


def joint_pos(inp: ObsInputs) -> np.ndarray:
    """Joint positions [rad], (N, n)."""
    return inp.joint_pos


def joint_pos_rel(inp: ObsInputs) -> np.ndarray:
    """Joint positions relative to the default pose [rad], (N, n)."""
    return inp.joint_pos - inp.default_pose


def joint_pos_sincos(inp: ObsInputs) -> np.ndarray:
    """sin and cos of each joint angle, (N, 2n): [sin q_0, cos q_0, sin q_1, cos q_1, ...]."""
    q = inp.joint_pos
    out = np.empty((q.shape[0], 2 * q.shape[1]))
    out[:, 0::2] = np.sin(q)
    out[:, 1::2] = np.cos(q)
    return out


def joint_vel(inp: ObsInputs) -> np.ndarray:
    """Joint velocities [rad/s], (N, n)."""
    return inp.joint_vel


def last_action(inp: ObsInputs) -> np.ndarray:
    """Previous policy action, (N, n_actions)."""
    return inp.last_action


def base_ang_vel(inp: ObsInputs) -> np.ndarray:
    """Base angular velocity from the gyro [rad/s], (N, 3)."""
    return _need(inp.base_ang_vel, "an IMU gyro")


def quat_rotate_inverse(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate world vectors into the body frame: R(q)^T v.  quat (N, 4) w-first, vec (N, 3) or (3,)."""
    w = quat[:, 0:1]
    xyz = quat[:, 1:4]
    vec = np.broadcast_to(vec, xyz.shape)
    t = 2.0 * np.cross(xyz, vec)
    return vec - w * t + np.cross(xyz, t)


def projected_gravity(inp: ObsInputs) -> np.ndarray:
    """Unit gravity direction in the base frame, (N, 3); (0, 0, -1) when upright."""
    quat = _need(inp.base_quat, "a base orientation (IMU)")
    return quat_rotate_inverse(quat, np.array([0.0, 0.0, -1.0]))


def velocity_command(inp: ObsInputs) -> np.ndarray:
    """Commanded base velocity (vx, vy, yaw rate), (N, 3)."""
    return _need(inp.velocity_command, "a velocity command")


def base_lin_vel(inp: ObsInputs) -> np.ndarray:
    """Base linear velocity in the base frame [m/s], (N, 3)."""
    return _need(inp.base_lin_vel, "the base linear velocity (a state estimator on a robot)")


def base_quat(inp: ObsInputs, order: str = "wxyz", unique: bool = False) -> np.ndarray:
    """Unit base orientation quaternion, (N, 4), components in ``order``; ``unique``: w >= 0."""
    quat = _need(inp.base_quat, "a base orientation (IMU)")
    quat = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    if unique:
        quat = np.where(quat[:, :1] < 0.0, -quat, quat)
    return quat if order == "wxyz" else quat[:, [1, 2, 3, 0]]


def gait_phase(inp: ObsInputs, period: float, offset: float = 0.0) -> np.ndarray:
    """(sin 2 pi p, cos 2 pi p), (N, 2), with p = (t / period + offset) mod 1 and t the episode time."""
    t = _need(inp.episode_time, "the time since the episode started")
    angle = 2.0 * np.pi * np.mod(np.asarray(t, dtype=float) / period + offset, 1.0)
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


OBSERVATION_TERMS: dict[str, Callable[..., np.ndarray]] = {
    "joint_pos": joint_pos,
    "joint_pos_rel": joint_pos_rel,
    "joint_pos_sincos": joint_pos_sincos,
    "joint_vel": joint_vel,
    "last_action": last_action,
    "base_ang_vel": base_ang_vel,
    "projected_gravity": projected_gravity,
    "velocity_command": velocity_command,
    "base_lin_vel": base_lin_vel,
    "base_quat": base_quat,
    "gait_phase": gait_phase,
}
"""Every observation term by the name used in robot specs and policy metadata (their sizes on a
robot: :data:`sim2real.robots.spec.OBSERVATION_SIZES`, checked when a spec loads)."""

if set(OBSERVATION_TERMS) != set(OBSERVATION_SIZES):  # a term added in one place only
    raise ImportError(
        "observation terms and their sizes disagree: "
        f"{sorted(set(OBSERVATION_TERMS) ^ set(OBSERVATION_SIZES))} (sim2real.robots.spec.OBSERVATION_SIZES)"
    )
for _name, _func in OBSERVATION_TERMS.items():  # term parameters: the table and the signatures agree
    _keywords = [k for k in inspect.signature(_func).parameters if k != "inp"]
    if sorted(_keywords) != sorted(TERM_PARAMS.get(_name, {})):
        raise ImportError(
            f"observation term '{_name}' takes {_keywords}, TERM_PARAMS says {sorted(TERM_PARAMS.get(_name, {}))}"
        )


def term_frame(term: ObservationTerm, inp: ObsInputs) -> np.ndarray:
    """One frame of a layout term, clipped and scaled, shape (N, size).

    Raises:
        Sim2RealError: the term is unknown, or returns another size than the layout states.
    """
    func = OBSERVATION_TERMS.get(term.name)
    if func is None:
        check_layout([term])
    assert func is not None
    value = np.asarray(func(inp, **term_params(term.name, term.params)), dtype=float)
    if value.ndim != 2 or value.shape[1] != term.size:
        raise Sim2RealError(
            f"observation term '{term.name}' has size {value.shape[-1]}, layout says {term.size}"
        )
    if term.clip is not None:
        value = np.clip(value, np.asarray(term.clip[0], dtype=float), np.asarray(term.clip[1], dtype=float))
    return value * np.asarray(term.scale, dtype=float)


class ObservationHistory:
    """The last ``history`` frames of every term of a layout, per simulation (N of them).

    :meth:`push` appends one step's frames; a simulation marked by :meth:`reset` (all at first) gets
    every slot filled with its next frame.

    Args:
        layout: The observation layout.
        num_envs: N.
    """

    def __init__(self, layout: Sequence[ObservationTerm], num_envs: int) -> None:
        self.layout = tuple(layout)
        self.num_envs = int(num_envs)
        self.buffers = [np.zeros((self.num_envs, t.history, t.size)) for t in self.layout]
        """Per term: frames (N, history, size), oldest first."""
        self._fresh = np.ones(self.num_envs, dtype=bool)

    def reset(self, ids: np.ndarray | None = None) -> None:
        """Mark simulations (all when None) as reset: their next frame fills every slot."""
        if ids is None:
            self._fresh[:] = True
        else:
            self._fresh[np.asarray(ids, dtype=np.int64)] = True

    def push(self, frames: Sequence[np.ndarray]) -> None:
        """Append one frame (N, size) per term."""
        fresh = self._fresh
        for buf, frame in zip(self.buffers, frames, strict=True):
            if buf.shape[1] > 1:
                buf[:, :-1] = buf[:, 1:].copy()
            buf[:, -1] = frame
            if fresh.any():
                buf[fresh] = frame[fresh][:, None, :]
        fresh[:] = False


def check_layout(layout: Sequence[ObservationTerm]) -> None:
    """Raise when a layout names a term that does not exist, or a term's history or parameters are wrong."""
    for term in layout:
        if term.name not in OBSERVATION_TERMS:
            raise Sim2RealError(
                f"unknown observation term '{term.name}' (known: {', '.join(OBSERVATION_TERMS)})"
            )
        if isinstance(term.history, bool) or not isinstance(term.history, int) or term.history < 1:
            raise Sim2RealError(f"observation term '{term.name}': history must be a positive number of frames")
        term_params(term.name, term.params)


def build_observation(
    layout: Sequence[ObservationTerm],
    inp: ObsInputs,
    out: np.ndarray | None = None,
    history: ObservationHistory | None = None,
) -> np.ndarray:
    """Concatenate the blocks of a layout (each term's frames clipped, scaled, history oldest first).

    Args:
        layout: Ordered terms, as in the spec and the policy metadata.
        inp: Sensor-derived inputs, batched over N.
        out: Optional preallocated (N, n_obs) array to fill.
        history: The per-simulation frame history; needed when a term has ``history > 1`` (this
            call pushes the frames into it).  None: every term's history is its current frame
            repeated (what a history holds right after a reset).

    Returns:
        Shape (N, n_obs).

    Raises:
        Sim2RealError: a term is unknown or returns another size than the layout states.
    """
    n = inp.joint_pos.shape[0]
    total = sum(t.width for t in layout)
    if out is None:
        out = np.empty((n, total))
    frames = [term_frame(term, inp) for term in layout]
    if history is not None:
        history.push(frames)
    col = 0
    for k, (term, frame) in enumerate(zip(layout, frames, strict=True)):
        block = out[:, col : col + term.width]
        if history is not None:
            block[:] = history.buffers[k].reshape(n, term.width)
        else:
            block[:] = np.tile(frame, (1, term.history))
        col += term.width
    return out
