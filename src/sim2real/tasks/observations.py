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

A layout may also be stacked whole (``frame_stack``, the spec's and the policy metadata's): the
observation is then the last ``frame_stack`` whole observations of the layout (every term's
block), oldest first, and after a reset every frame before the first is zeros (humanoid-gym's
``obs_history``); the :class:`ObservationHistory` keeps those frames too.
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
    """Previous (filtered) policy action, the entries the ``last_action`` term shows: shape
    (N, n_driven), in [-1, 1] (:meth:`ObservedActions.select` of the full action)."""
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
    height_scan: np.ndarray | None = None
    """Height of the base above the terrain under each point of a scan grid, shape (N, n_points) [m]
    (base z minus the terrain's z there, the grid in the ``height_scan`` term's order: MuJoCo ray
    casts on the twin, :mod:`sim2real.sim.terrain_scan`; +inf where no terrain is below)."""


class ObservedActions:
    """Which entries of the action the ``last_action`` term shows: the actions the policy drives.

    An actuator a policy observes but does not drive (``RobotSpec.held``, ``PolicyMetadata.held``)
    is left out.  This is the one place that selects them: the training environment, the policy
    runtime and the fine-tuning data give the full action and call :meth:`select`.

    Args:
        n_act: Size of the full action (one entry per actuator).
        driven: Indices of the driven actions in the full action, increasing (``RobotSpec.action_index``,
            a tuple, or ``PolicyMetadata.action_index``, an array); None: every action.

    Attributes:
        n_act: Size of the full action.
        index: The driven indices, shape (n_driven,), int (read-only).
        size: n_driven, the ``last_action`` term's size.
        every: Every action is driven: :meth:`select` returns the action itself.

    Raises:
        Sim2RealError: an index is not an integer, outside [0, n_act), repeated or out of order, or none is given.
    """

    __slots__ = ("every", "index", "n_act", "size")

    def __init__(self, n_act: int, driven: Sequence[int] | np.ndarray | None = None) -> None:
        self.n_act = int(n_act)
        raw = np.arange(self.n_act) if driven is None else np.asarray(driven)
        if raw.ndim != 1 or (raw.size and not np.issubdtype(raw.dtype, np.integer)):
            raise Sim2RealError(f"the driven actions must be a list of action indices, got {driven!r}")
        index = raw.astype(np.intp)
        if index.size == 0 or index[0] < 0 or index[-1] >= self.n_act or np.any(np.diff(index) <= 0):
            raise Sim2RealError(
                f"the driven actions {index.tolist()} must be increasing indices into {self.n_act} actions"
            )
        index.setflags(write=False)
        self.index = index
        self.size = int(index.size)
        self.every = self.size == self.n_act

    def select(self, action: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The driven entries of ``action``.

        Args:
            action: The full action, shape (..., n_act).
            out: Optional array (..., n_driven) to write them to (no allocation).

        Returns:
            Shape (..., n_driven): ``out`` when given, else ``action`` itself when every action is
            driven, else a new array.

        Raises:
            Sim2RealError: ``action`` has another size than n_act (e.g. the driven entries alone).
        """
        if action.shape[-1] != self.n_act:
            raise Sim2RealError(
                f"last_action selects the driven actions from the full action of {self.n_act}, "
                f"got {action.shape[-1]} values"
            )
        if out is None:
            return action if self.every else np.take(action, self.index, axis=-1)
        if self.every:
            np.copyto(out, action)
        else:
            np.take(action, self.index, axis=-1, out=out, mode="clip")  # checked indices; "raise" buffers
        return out


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


def base_euler(inp: ObsInputs) -> np.ndarray:
    """The base's roll, pitch and yaw [rad], (N, 3), from its orientation quaternion (normalized
    first): the angles of R = Rz(yaw) Ry(pitch) Rx(roll) (x, y, z about the fixed axes: scipy's
    ``Rotation.as_euler("xyz")``, isaacgym's ``get_euler_xyz``), roll and yaw wrapped to (-pi, pi]
    and pitch in [-pi/2, pi/2] (humanoid-gym's ``base_euler_xyz``).  The yaw is the heading in the
    IMU's world frame: on a robot, wherever its estimator put zero."""
    quat = _need(inp.base_quat, "a base orientation (IMU)")
    w, x, y, z = (quat / np.linalg.norm(quat, axis=1, keepdims=True)).T
    roll = np.arctan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2.0 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    angles = np.stack([roll, pitch, yaw], axis=1)
    return np.where(angles <= -np.pi, angles + 2.0 * np.pi, angles)  # atan2 of -0.0 gives -pi


def gait_phase(inp: ObsInputs, period: float, offset: float = 0.0) -> np.ndarray:
    """(sin 2 pi p, cos 2 pi p), (N, 2), with p = (t / period + offset) mod 1 and t the episode time."""
    t = _need(inp.episode_time, "the time since the episode started")
    angle = 2.0 * np.pi * np.mod(np.asarray(t, dtype=float) / period + offset, 1.0)
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def height_scan(
    inp: ObsInputs,
    points_x: Sequence[float],
    points_y: Sequence[float],
    order: str,
    offset: float = 0.5,
) -> np.ndarray:
    """Terrain height scan, (N, len(points_x) * len(points_y)) [m]: the base's height above the
    terrain under each grid point minus ``offset``, in the grid's ``order`` (the points and the
    order: :data:`sim2real.robots.spec.TERM_PARAMS`).

    It is both frameworks' value before clip and scale: Isaac Lab's ``mdp.height_scan`` is
    ``sensor.data.pos_w[:, 2] - ray_hits_w[..., 2] - offset`` (``offset`` 0.5 by default) with the
    sensor on the base (the rays start 20 m above it in the rough velocity tasks, which does not enter
    the value); legged_gym's is ``root_states[:, 2] - 0.5 - measured_heights`` (its
    ``compute_observations``, then clipped to [-1, 1] and scaled by ``obs_scales.height_measurements``).
    """
    heights = _need(inp.height_scan, "a terrain height scan (MuJoCo ray casts on a twin)")
    n = len(points_x) * len(points_y)
    if heights.shape[-1] != n:
        raise Sim2RealError(f"the height scan has {heights.shape[-1]} points, its grid has {n} ({order} order)")
    return heights - offset


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
    "base_euler": base_euler,
    "gait_phase": gait_phase,
    "height_scan": height_scan,
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
    """The last ``history`` frames of every term of a layout, per simulation (N of them), and the
    last ``frames`` whole observation frames when the layout is stacked (``frame_stack`` > 1).

    :meth:`push` appends one step's term frames, :meth:`push_stack` the observation frame they
    make; a simulation marked by :meth:`reset` (all at first) gets every slot of a term's history
    filled with its next frame, and every stacked frame before its next one zeroed.

    Args:
        layout: The observation layout.
        num_envs: N.
        frames: Whole observation frames stacked (the spec's ``frame_stack``; 1: none).

    Raises:
        Sim2RealError: ``frames`` is not a positive whole number.
    """

    def __init__(self, layout: Sequence[ObservationTerm], num_envs: int, frames: int = 1) -> None:
        if isinstance(frames, bool) or not isinstance(frames, int | np.integer) or frames < 1:
            raise Sim2RealError(f"frame_stack must be a positive number of frames, got {frames!r}")
        self.layout = tuple(layout)
        self.num_envs = int(num_envs)
        self.frames = int(frames)
        self.buffers = [np.zeros((self.num_envs, t.history, t.size)) for t in self.layout]
        """Per term: frames (N, history, size), oldest first."""
        self.stack = np.zeros((self.num_envs, self.frames, sum(t.width for t in self.layout)))
        """Whole observation frames (N, frames, width of the layout), oldest first (``frames`` > 1)."""
        self._fresh = np.ones(self.num_envs, dtype=bool)
        self._stack_fresh = np.ones(self.num_envs, dtype=bool)

    def reset(self, ids: np.ndarray | None = None) -> None:
        """Mark simulations (all when None) as reset: their next frame fills every slot of a term's
        history, and the stacked frames before it are zeros."""
        if ids is None:
            self._fresh[:] = True
            self._stack_fresh[:] = True
        else:
            self._fresh[np.asarray(ids, dtype=np.int64)] = True
            self._stack_fresh[np.asarray(ids, dtype=np.int64)] = True

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

    def push_stack(self, observation: np.ndarray) -> None:
        """Append one whole observation frame (N, width of the layout) to the stack; a simulation
        marked by :meth:`reset` gets zeros in every frame before it."""
        stack = self.stack
        if self.frames > 1:
            stack[:, :-1] = stack[:, 1:].copy()
            stack[self._stack_fresh, :-1] = 0.0
        stack[:, -1] = observation
        self._stack_fresh[:] = False


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
    frames: int | None = None,
) -> np.ndarray:
    """Concatenate the blocks of a layout (each term's frames clipped, scaled, history oldest first),
    ``frames`` such observations stacked whole, oldest first.

    Args:
        layout: Ordered terms, as in the spec and the policy metadata.
        inp: Sensor-derived inputs, batched over N.
        out: Optional preallocated (N, n_obs) array to fill.
        history: The per-simulation frame history; needed when a term has ``history > 1`` or the
            layout is stacked (this call pushes the frames into it).  None: every term's history is
            its current frame repeated, and the stacked frames before it are zeros (what a history
            holds right after a reset).
        frames: Whole observation frames stacked (``frame_stack``); default the history's, else 1.

    Returns:
        Shape (N, n_obs), n_obs = frames x the layout's width.

    Raises:
        Sim2RealError: a term is unknown or returns another size than the layout states, or
            ``frames`` is not the history's.
    """
    if history is not None and frames is not None and frames != history.frames:
        raise Sim2RealError(f"the observation stacks {frames} frames, its history {history.frames}")
    stacked = history.frames if history is not None else (1 if frames is None else int(frames))
    n = inp.joint_pos.shape[0]
    width = sum(t.width for t in layout)
    if out is None:
        out = np.empty((n, stacked * width))
    term_frames = [term_frame(term, inp) for term in layout]
    if history is not None:
        history.push(term_frames)
    newest = out[:, (stacked - 1) * width :]
    col = 0
    for k, (term, frame) in enumerate(zip(layout, term_frames, strict=True)):
        block = newest[:, col : col + term.width]
        if history is not None:
            block[:] = history.buffers[k].reshape(n, term.width)
        else:
            block[:] = np.tile(frame, (1, term.history))
        col += term.width
    if stacked > 1:
        if history is not None:
            history.push_stack(newest)
            out[:] = history.stack.reshape(n, stacked * width)
        else:
            out[:, : (stacked - 1) * width] = 0.0
    return out
