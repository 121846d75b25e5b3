"""Allocation-free observation building for one robot (N = 1), checked against the term functions.

Training builds observations with :func:`sim2real.tasks.observations.build_observation`, batched
over N simulations.  On the robot N = 1 and every microsecond of the control step counts: the
batched terms allocate their results, and ``projected_gravity`` goes through two ``np.cross``
calls (about 30 us for one robot).  :class:`ObservationBuilder` computes each term's frame in
place with a kernel specialised for a single robot, clips and scales it, keeps the term's history
in a ring of preallocated frames, and assembles the observation vector oldest frame first.

A step is built, then committed: :meth:`ObservationBuilder.build` fills :attr:`out` from the
current inputs without changing the history; :meth:`ObservationBuilder.commit` makes that step's
frames part of the history and advances the phase clock (the time ``k * control_dt`` of step k
since :meth:`ObservationBuilder.reset`).  A step whose inputs were unusable (NaN) is simply not
committed, so it never enters the history.  After a reset every history slot holds the first frame.

A stacked layout (the metadata's ``frame_stack`` F > 1) is built as F whole frames, oldest first:
the terms fill the newest frame (the last block of :attr:`ObservationBuilder.out`), and the F - 1
before it are the frames committed since the last reset, zeros where there are fewer (a ring of
committed frames, copied into place at each build).

The term functions stay the reference: at construction the builder runs seeded random input
sequences (with a reset in the middle) through itself and through ``build_observation`` with an
:class:`~sim2real.tasks.observations.ObservationHistory`, and refuses to run if any term disagrees
(so a change in ``tasks/observations.py`` cannot silently split training and deployment).  A term
without a kernel here is computed by its term function (allocating, but identical).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from sim2real.errors import PolicyError, Sim2RealError
from sim2real.robots.spec import OBSERVATION_SIZES, ObservationTerm, term_size
from sim2real.tasks.observations import (
    OBSERVATION_TERMS,
    ObservationHistory,
    ObservedActions,
    ObsInputs,
    build_observation,
    check_layout,
)

NEEDS: dict[str, str] = {
    "base_ang_vel": "gyro",
    "projected_gravity": "quat",
    "base_quat": "quat",
    "base_euler": "quat",
    "velocity_command": "velocity_command",
    "base_lin_vel": "base_lin_vel",
    "height_scan": "height_scan",
}
"""Optional inputs that a term requires (by term name)."""


class StepInputs:
    """The inputs of one step (1-D arrays; None where absent); the builder's kernels read them
    (``la``: the full action, (n_act,))."""

    __slots__ = ("cmd", "gyro", "la", "lin", "q", "qd", "quat", "scan", "t")

    def __init__(self) -> None:
        self.q: np.ndarray = np.zeros(0)
        self.qd: np.ndarray = np.zeros(0)
        self.la: np.ndarray = np.zeros(0)
        self.gyro: np.ndarray | None = None
        self.quat: np.ndarray | None = None
        self.cmd: np.ndarray | None = None
        self.lin: np.ndarray | None = None
        self.scan: np.ndarray | None = None
        self.t = 0.0


Kernel = Callable[[StepInputs], None]
"""``kernel(inputs)`` writes the term's raw frame (before clip and scale) into its frame buffer."""


def _copy(frame: np.ndarray, field: str) -> Kernel:
    def kernel(inp: StepInputs) -> None:
        np.copyto(frame, getattr(inp, field))

    return kernel


def _last_action(frame: np.ndarray, actions: ObservedActions) -> Kernel:
    def kernel(inp: StepInputs) -> None:
        actions.select(inp.la, out=frame)

    return kernel


def _joint_pos_rel(frame: np.ndarray, default: np.ndarray) -> Kernel:
    def kernel(inp: StepInputs) -> None:
        np.subtract(inp.q, default, out=frame)

    return kernel


def _joint_pos_sincos(frame: np.ndarray) -> Kernel:
    sin, cos = frame[0::2], frame[1::2]

    def kernel(inp: StepInputs) -> None:
        np.sin(inp.q, out=sin)
        np.cos(inp.q, out=cos)

    return kernel


def _projected_gravity(frame: np.ndarray) -> Kernel:
    """R(q)^T (0, 0, -1) from a (not necessarily unit) quaternion (w, x, y, z): minus R's third row.

    The training side normalizes the IMU quaternion before the term; dividing the quadratic
    terms by |q|^2 does the same here.
    """

    def kernel(inp: StepInputs) -> None:
        w, x, y, z = inp.quat.tolist()  # type: ignore[union-attr]
        n2 = w * w + x * x + y * y + z * z
        k = (2.0 / n2) if n2 > 0.0 else math.nan
        frame[0] = k * (w * y - x * z)
        frame[1] = -k * (y * z + w * x)
        frame[2] = k * (x * x + y * y) - 1.0

    return kernel


def _base_quat(frame: np.ndarray, order: str, unique: bool) -> Kernel:
    index = (0, 1, 2, 3) if order == "wxyz" else (3, 0, 1, 2)  # where w, x, y, z go

    def kernel(inp: StepInputs) -> None:
        w, x, y, z = inp.quat.tolist()  # type: ignore[union-attr]
        n = math.sqrt(w * w + x * x + y * y + z * z)
        k = (1.0 / n) if n > 0.0 else math.nan
        if unique and w < 0.0:
            k = -k
        frame[index[0]] = k * w
        frame[index[1]] = k * x
        frame[index[2]] = k * y
        frame[index[3]] = k * z

    return kernel


def _base_euler(frame: np.ndarray) -> Kernel:
    """Roll, pitch, yaw of the normalized quaternion (w, x, y, z), as the ``base_euler`` term
    computes them (the same operations, one robot); NaN for a zero or non-finite quaternion."""
    two_pi = 2.0 * math.pi

    def kernel(inp: StepInputs) -> None:
        w, x, y, z = inp.quat.tolist()  # type: ignore[union-attr]
        n2 = w * w + x * x + y * y + z * z
        if not 0.0 < n2 < math.inf:
            frame.fill(math.nan)
            return
        n = math.sqrt(n2)
        w, x, y, z = w / n, x / n, y / n, z / n
        roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
        pitch = math.asin(min(1.0, max(-1.0, 2.0 * (w * y - z * x))))
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        frame[0] = roll + two_pi if roll <= -math.pi else roll
        frame[1] = pitch
        frame[2] = yaw + two_pi if yaw <= -math.pi else yaw

    return kernel


def _height_scan(frame: np.ndarray, offset: float) -> Kernel:
    def kernel(inp: StepInputs) -> None:
        np.subtract(inp.scan, offset, out=frame)

    return kernel


def _gait_phase(frame: np.ndarray, period: float, offset: float) -> Kernel:
    def kernel(inp: StepInputs) -> None:
        angle = 2.0 * math.pi * ((inp.t / period + offset) % 1.0)
        frame[0] = math.sin(angle)
        frame[1] = math.cos(angle)

    return kernel


_COPIED = {
    "joint_pos": "q",
    "joint_vel": "qd",
    "base_ang_vel": "gyro",
    "velocity_command": "cmd",
    "base_lin_vel": "lin",
}


class _Term:
    """One layout term's buffers: its frame, its history ring and the copies that assemble its block."""

    def __init__(self, term: ObservationTerm, block: np.ndarray) -> None:
        self.term = term
        self.history = term.history
        size = term.size
        scale = np.broadcast_to(np.asarray(term.scale, dtype=float), (size,)).copy()
        self.scale = None if np.all(scale == 1.0) else scale
        self.clip = (
            None
            if term.clip is None
            else tuple(np.broadcast_to(np.asarray(c, dtype=float), (size,)).copy() for c in term.clip)
        )
        if self.history == 1:
            self.ring = block.reshape(1, size)  # the frame is the block itself
        else:
            self.ring = np.zeros((self.history, size))
        self.block = block
        self.head = 0  # ring row of the newest committed frame
        # per candidate newest row n: (destination, source) pairs putting the ring in order, oldest first
        self.copies: list[list[tuple[np.ndarray, np.ndarray]]] = []
        if self.history > 1:
            blocks = block.reshape(self.history, size)
            for newest in range(self.history):
                oldest = (newest + 1) % self.history
                tail = self.history - oldest  # rows oldest..end of the ring
                pairs = [(blocks[:tail], self.ring[oldest:])]
                if oldest > 0:
                    pairs.append((blocks[tail:], self.ring[:oldest]))
                self.copies.append(pairs)

    def frame_row(self, fresh: bool) -> int:
        """Ring row the next frame goes to."""
        return 0 if (fresh or self.history == 1) else (self.head + 1) % self.history

    def finish(self, row: int, fresh: bool) -> None:
        """Clip and scale the frame in ``ring[row]`` and assemble the block."""
        frame = self.ring[row]
        if self.clip is not None:
            np.clip(frame, self.clip[0], self.clip[1], out=frame)
        if self.scale is not None:
            np.multiply(frame, self.scale, out=frame)
        if self.history == 1:
            return
        if fresh:  # a reset: every slot holds the first frame
            for r in range(1, self.history):
                np.copyto(self.ring[r], frame)
        for dst, src in self.copies[row]:
            np.copyto(dst, src)


class _Stack:
    """The F - 1 committed whole frames before the newest of a stacked layout, in a ring.

    Args:
        past: The blocks before the newest frame in the observation, shape ((F - 1) * width,).
        width: One frame's length.
    """

    def __init__(self, past: np.ndarray, width: int) -> None:
        rows = past.size // width
        self.ring = np.zeros((rows, width))
        self.past = past
        self.head = rows - 1  # ring row of the newest committed frame (all zeros after a reset)
        blocks = past.reshape(rows, width)
        self.copies: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for newest in range(rows):  # per newest row: (destination, source) pairs, oldest first
            oldest = (newest + 1) % rows
            tail = rows - oldest
            pairs = [(blocks[:tail], self.ring[oldest:])]
            if oldest > 0:
                pairs.append((blocks[tail:], self.ring[:oldest]))
            self.copies.append(pairs)

    def fill(self, fresh: bool) -> None:
        """Put the committed frames before the newest in place (zeros right after a reset)."""
        if fresh:
            self.past.fill(0.0)
            return
        for dst, src in self.copies[self.head]:
            np.copyto(dst, src)

    def commit(self, frame: np.ndarray, fresh: bool) -> None:
        """Append the newest frame (after a reset: the frames before it are zeros)."""
        if fresh:
            self.ring.fill(0.0)
            self.head = self.ring.shape[0] - 1
        self.head = (self.head + 1) % self.ring.shape[0]
        np.copyto(self.ring[self.head], frame)


class ObservationBuilder:
    """Fills one robot's observation vector in place.

    Args:
        layout: Ordered observation terms (from the policy metadata).
        default_pose: Default joint positions, shape (n_joints,) [rad].
        n_act: Number of actions (the full action :meth:`build` takes, one per actuator).
        control_dt: Control period [s] (the phase clock's step).
        verify: Compare against ``build_observation`` on random input sequences at construction.
        driven: Indices of the actions the ``last_action`` term shows (``PolicyMetadata.action_index``:
            a held actuator's is left out); None: every action.  See
            :class:`~sim2real.tasks.observations.ObservedActions`.
        frames: Whole frames of the layout stacked, oldest first, zeros after a reset
            (``PolicyMetadata.frame_stack``); 1: none.

    Attributes:
        out: The observation, shape (n_obs,) = (frames x width,), float64; overwritten by every
            :meth:`build`.
        width: One frame's length (the layout's).
        actions: The actions the ``last_action`` term shows.
        needs: Optional inputs the layout requires (``gyro``, ``quat``, ``velocity_command``,
            ``base_lin_vel``, ``height_scan``).
        scan_points: Points of the layout's height scan (0: it has none).
    """

    def __init__(
        self,
        layout: Sequence[ObservationTerm],
        default_pose: np.ndarray,
        n_act: int,
        control_dt: float = 0.02,
        verify: bool = True,
        driven: Sequence[int] | np.ndarray | None = None,
        frames: int = 1,
    ) -> None:
        try:
            check_layout(layout)
            self.actions = ObservedActions(n_act, driven)
        except Sim2RealError as exc:
            raise PolicyError(str(exc)) from None
        if isinstance(frames, bool) or not isinstance(frames, int | np.integer) or frames < 1:
            raise PolicyError(f"frame_stack must be a positive number of frames, got {frames!r}")
        self.frames = int(frames)
        self.layout = tuple(layout)
        self.default_pose = np.array(default_pose, dtype=float)
        self.default_pose.setflags(write=False)
        self.n_joints = self.default_pose.size
        self.n_act = n_act
        self.control_dt = float(control_dt)
        self.width = sum(t.width for t in self.layout)
        self.n_obs = self.frames * self.width
        self.out = np.zeros(self.n_obs)
        newest = self.out[self.n_obs - self.width :]
        self._stack = _Stack(self.out[: self.n_obs - self.width], self.width) if self.frames > 1 else None
        self.needs = tuple(sorted({NEEDS[t.name] for t in self.layout if t.name in NEEDS}))
        self.scan_points = next((t.size for t in self.layout if t.name == "height_scan"), 0)
        self.generic: list[str] = []
        self._inp = StepInputs()
        self._terms: list[_Term] = []
        self._kernels: list[Kernel] = []
        col = 0
        for term in self.layout:
            self._check_size(term)
            state = _Term(term, newest[col : col + term.width])
            self._terms.append(state)
            self._kernels.append(self._kernel(term, state))
            col += term.width
        self._rows = [0] * len(self._terms)
        self.steps = 0
        """Committed steps since the last reset (the phase clock reads steps * control_dt)."""
        self._fresh = True
        if verify:
            self.verify()
            self.reset()

    def _check_size(self, term: ObservationTerm) -> None:
        if term.name not in OBSERVATION_SIZES:  # a term registered beside the spec's: its function sizes it
            return
        expected = term_size(term.name, self.n_joints, self.actions.size, term.params)  # the spec's rule
        if expected != term.size:
            raise PolicyError(
                f"observation term '{term.name}' has size {term.size} in the layout, expected {expected}"
            )

    def _kernel(self, term: ObservationTerm, state: _Term) -> Callable[[int], None]:
        """A function of the ring row that computes the raw frame into that row."""
        name, params = term.name, dict(term.params)
        ring = state.ring

        def rowwise(make: Callable[[np.ndarray], Kernel]) -> Callable[[int], None]:
            kernels = [make(ring[r]) for r in range(ring.shape[0])]
            inp = self._inp

            def run(row: int) -> None:
                kernels[row](inp)

            return run

        if name in _COPIED:
            return rowwise(lambda f: _copy(f, _COPIED[name]))
        if name == "last_action":
            return rowwise(lambda f: _last_action(f, self.actions))
        if name == "joint_pos_rel":
            return rowwise(lambda f: _joint_pos_rel(f, self.default_pose))
        if name == "joint_pos_sincos":
            return rowwise(_joint_pos_sincos)
        if name == "projected_gravity":
            return rowwise(_projected_gravity)
        if name == "base_euler":
            return rowwise(_base_euler)
        if name == "base_quat":
            return rowwise(
                lambda f: _base_quat(f, params.get("order", "wxyz"), bool(params.get("unique", False)))
            )
        if name == "height_scan":
            return rowwise(lambda f: _height_scan(f, float(params.get("offset", 0.5))))
        if name == "gait_phase":
            return rowwise(
                lambda f: _gait_phase(f, float(params["period"]), float(params.get("offset", 0.0)))
            )
        self.generic.append(name)
        return rowwise(lambda f: self._generic(term, f))

    def _generic(self, term: ObservationTerm, frame: np.ndarray) -> Kernel:
        func = OBSERVATION_TERMS[term.name]
        default = self.default_pose
        params = dict(term.params)

        def kernel(inp: StepInputs) -> None:
            unit = (
                None if inp.quat is None else inp.quat / np.linalg.norm(inp.quat)
            )  # as the training side does
            value = func(_inputs(default, inp, unit, self.actions), **params)
            if value.shape != (1, term.size):
                raise PolicyError(
                    f"observation term '{term.name}' has shape {value.shape}, expected (1, {term.size})"
                )
            np.copyto(frame, value[0])

        return kernel

    # ------------------------------------------------------------------ stepping
    def reset(self) -> None:
        """Start over: the next committed frame fills every history slot; the phase clock restarts at 0."""
        self._fresh = True
        self.steps = 0
        for state in self._terms:
            state.head = 0

    def build(
        self,
        joint_pos: np.ndarray,
        joint_vel: np.ndarray,
        last_action: np.ndarray,
        gyro: np.ndarray | None = None,
        quat: np.ndarray | None = None,
        velocity_command: np.ndarray | None = None,
        base_lin_vel: np.ndarray | None = None,
        height_scan: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fill and return :attr:`out` (n_obs,) for this step, without changing the history (see
        :meth:`commit`).  Inputs are 1-D: (n_joints,), (n_act,), (3,), (4,), (3,), (3,), (n_points,);
        ``last_action`` is the full action (the ``last_action`` term shows :attr:`actions`' entries).

        The caller checks sizes; a missing input that a term needs fails inside the kernel.
        """
        inp = self._inp
        inp.q, inp.qd, inp.la = joint_pos, joint_vel, last_action
        inp.gyro, inp.quat, inp.cmd, inp.lin = gyro, quat, velocity_command, base_lin_vel
        inp.scan = height_scan
        inp.t = self.steps * self.control_dt
        fresh = self._fresh
        rows = self._rows
        for k, (state, kernel) in enumerate(zip(self._terms, self._kernels, strict=True)):
            row = state.frame_row(fresh)
            rows[k] = row
            kernel(row)
            state.finish(row, fresh)
        if self._stack is not None:
            self._stack.fill(fresh)
        return self.out

    def commit(self) -> None:
        """Make the last :meth:`build`'s frames part of the history and advance the phase clock."""
        for state, row in zip(self._terms, self._rows, strict=True):
            state.head = row
        if self._stack is not None:
            self._stack.commit(self.out[self.n_obs - self.width :], self._fresh)
        self._fresh = False
        self.steps += 1

    # ------------------------------------------------------------------ verification
    def verify(self, sequences: int = 3, steps: int = 7, seed: int = 0, atol: float = 1e-9) -> None:
        """Compare with ``build_observation`` (with an ObservationHistory) on seeded random input
        sequences, each starting from a reset (a stacked layout: long enough to fill the stack);
        PolicyError naming the first term that disagrees."""
        rng = np.random.default_rng(seed)
        reference_history = ObservationHistory(self.layout, 1, self.frames)
        steps = max(steps, self.frames + 2)
        for _ in range(sequences):
            self.reset()
            reference_history.reset()
            for k in range(steps):
                q = self.default_pose + rng.normal(0.0, 1.0, self.n_joints)
                qd = rng.normal(0.0, 5.0, self.n_joints)
                la = rng.uniform(-1.0, 1.0, self.n_act)
                gyro = rng.normal(0.0, 1.0, 3)
                quat = rng.normal(0.0, 1.0, 4)
                quat *= rng.uniform(0.9, 1.1) / np.linalg.norm(quat)  # an IMU's quaternion is only near unit
                cmd = rng.uniform(-1.0, 1.0, 3)
                lin = rng.normal(0.0, 1.0, 3)
                scan = rng.normal(0.5, 0.5, self.scan_points) if self.scan_points else None
                if k == 2:  # an unusable step: built, never committed
                    self.build(q + 1.0, qd, la, gyro, quat, cmd, lin, scan)
                mine = self.build(q, qd, la, gyro, quat, cmd, lin, scan).copy()
                self.commit()
                unit = quat / np.linalg.norm(quat)  # what the training side does before the terms
                inp = StepInputs()
                inp.q, inp.qd, inp.la, inp.gyro, inp.quat, inp.cmd, inp.lin = q, qd, la, gyro, unit, cmd, lin
                inp.scan = scan
                inp.t = k * self.control_dt
                reference = build_observation(
                    self.layout,
                    _inputs(self.default_pose, inp, unit, self.actions),
                    history=reference_history,
                )[0]
                bad = np.abs(mine - reference) > atol * np.maximum(1.0, np.abs(reference))
                if bad.any():
                    col = int(np.flatnonzero(bad)[0]) % self.width
                    for term in self.layout:
                        if col < term.width:
                            break
                        col -= term.width
                    raise PolicyError(
                        f"the runtime observation term '{term.name}' disagrees with sim2real.tasks.observations"
                    )


def _inputs(
    default: np.ndarray, inp: StepInputs, quat: np.ndarray | None, actions: ObservedActions
) -> ObsInputs:
    """The term functions' inputs (N = 1) of one step; ``last_action`` the driven entries of ``inp.la``."""

    def row(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else np.asarray(x, dtype=float).reshape(1, -1)

    return ObsInputs(
        joint_pos=row(inp.q),  # type: ignore[arg-type]
        joint_vel=row(inp.qd),  # type: ignore[arg-type]
        default_pose=default,
        last_action=row(actions.select(inp.la)),  # type: ignore[arg-type]
        base_ang_vel=row(inp.gyro),
        base_quat=row(quat),
        velocity_command=row(inp.cmd),
        base_lin_vel=row(inp.lin),
        height_scan=row(inp.scan),
        episode_time=np.array([inp.t]),
    )
