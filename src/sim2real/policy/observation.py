"""Allocation-free observation building for one robot (N = 1), checked against the term functions.

Training builds observations with :func:`sim2real.tasks.observations.build_observation`, batched
over N simulations.  On the robot N = 1 and every microsecond of the control step counts: the
batched terms allocate their results, and ``projected_gravity`` goes through two ``np.cross``
calls (about 30 us for one robot).  :class:`ObservationBuilder` computes each term of a layout
in place into one preallocated float64 vector with a kernel specialised for a single robot.

The term functions stay the reference: at construction the builder compares its output with
``build_observation`` on seeded random inputs and refuses to run if any term disagrees (so a
change in ``tasks/observations.py`` cannot silently split training and deployment).  A term
without a kernel here is computed by its term function (allocating, but identical).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from sim2real.errors import PolicyError, Sim2RealError
from sim2real.robots.spec import ObservationTerm
from sim2real.tasks.observations import OBSERVATION_TERMS, ObsInputs, build_observation, check_layout

Kernel = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None], None
]
"""``kernel(joint_pos, joint_vel, last_action, gyro, quat, velocity_command)`` fills its slice."""

NEEDS: dict[str, str] = {
    "base_ang_vel": "gyro",
    "projected_gravity": "quat",
    "velocity_command": "velocity_command",
}
"""Optional inputs that a term requires (by term name)."""


def _scaled(src_index: int, out: np.ndarray, scale: float) -> Kernel:
    """out = scale * (one of the inputs), for the terms that pass an input through."""
    if scale == 1.0:

        def copy(*inputs: np.ndarray | None) -> None:
            np.copyto(out, inputs[src_index])  # type: ignore[arg-type]

        return copy

    def mul(*inputs: np.ndarray | None) -> None:
        np.multiply(inputs[src_index], scale, out=out)

    return mul


def _joint_pos_rel(out: np.ndarray, scale: float, default: np.ndarray) -> Kernel:
    def kernel(q: np.ndarray, *_: np.ndarray | None) -> None:
        np.subtract(q, default, out=out)
        if scale != 1.0:
            np.multiply(out, scale, out=out)

    return kernel


def _joint_pos_sincos(out: np.ndarray, scale: float) -> Kernel:
    sin = out[0::2]
    cos = out[1::2]

    def kernel(q: np.ndarray, *_: np.ndarray | None) -> None:
        np.sin(q, out=sin)
        np.cos(q, out=cos)
        if scale != 1.0:
            np.multiply(out, scale, out=out)

    return kernel


def _projected_gravity(out: np.ndarray, scale: float) -> Kernel:
    """R(q)^T (0, 0, -1) from a (not necessarily unit) quaternion (w, x, y, z): minus R's third row.

    The training side normalizes the IMU quaternion before the term; dividing the quadratic
    terms by |q|^2 does the same here.
    """

    def kernel(
        q: np.ndarray,
        qd: np.ndarray,
        la: np.ndarray,
        gyro: np.ndarray | None,
        quat: np.ndarray | None,
        cmd: np.ndarray | None,
    ) -> None:
        w, x, y, z = quat.tolist()  # type: ignore[union-attr]
        n2 = w * w + x * x + y * y + z * z
        k = (2.0 * scale / n2) if n2 > 0.0 else math.nan
        out[0] = k * (w * y - x * z)
        out[1] = -k * (y * z + w * x)
        out[2] = k * (x * x + y * y) - scale

    return kernel


_INPUT_INDEX = {"joint_pos": 0, "joint_vel": 1, "last_action": 2, "base_ang_vel": 3, "velocity_command": 5}


class ObservationBuilder:
    """Fills one robot's observation vector in place.

    Args:
        layout: Ordered observation terms (from the policy metadata).
        default_pose: Default joint positions, shape (n_joints,) [rad].
        n_act: Number of actions (size of ``last_action``).
        verify: Compare against ``build_observation`` on random inputs at construction.

    Attributes:
        out: The observation, shape (n_obs,), float64; overwritten by every :meth:`build`.
        needs: Optional inputs the layout requires (``gyro``, ``quat``, ``velocity_command``).
    """

    def __init__(
        self,
        layout: Sequence[ObservationTerm],
        default_pose: np.ndarray,
        n_act: int,
        verify: bool = True,
    ) -> None:
        try:
            check_layout(layout)
        except Sim2RealError as exc:
            raise PolicyError(str(exc)) from None
        self.layout = tuple(layout)
        self.default_pose = np.array(default_pose, dtype=float)
        self.default_pose.setflags(write=False)
        self.n_joints = self.default_pose.size
        self.n_act = n_act
        self.n_obs = sum(t.size for t in self.layout)
        self.out = np.zeros(self.n_obs)
        self.needs = tuple(sorted({NEEDS[t.name] for t in self.layout if t.name in NEEDS}))
        self.generic: list[str] = []
        self._kernels: list[Kernel] = []
        col = 0
        for term in self.layout:
            view = self.out[col : col + term.size]
            self._kernels.append(self._kernel(term, view))
            col += term.size
        if verify:
            self.verify()

    def _kernel(self, term: ObservationTerm, out: np.ndarray) -> Kernel:
        name, scale = term.name, float(term.scale)
        expected = {
            "joint_pos": self.n_joints,
            "joint_pos_rel": self.n_joints,
            "joint_pos_sincos": 2 * self.n_joints,
            "joint_vel": self.n_joints,
            "last_action": self.n_act,
            "base_ang_vel": 3,
            "projected_gravity": 3,
            "velocity_command": 3,
        }.get(name)
        if expected is not None and expected != term.size:
            raise PolicyError(
                f"observation term '{name}' has size {term.size} in the layout, expected {expected}"
            )
        if name in _INPUT_INDEX:
            return _scaled(_INPUT_INDEX[name], out, scale)
        if name == "joint_pos_rel":
            return _joint_pos_rel(out, scale, self.default_pose)
        if name == "joint_pos_sincos":
            return _joint_pos_sincos(out, scale)
        if name == "projected_gravity":
            return _projected_gravity(out, scale)
        self.generic.append(name)
        return self._generic(term, out)

    def _generic(self, term: ObservationTerm, out: np.ndarray) -> Kernel:
        func = OBSERVATION_TERMS[term.name]
        default = self.default_pose

        def kernel(
            q: np.ndarray,
            qd: np.ndarray,
            la: np.ndarray,
            gyro: np.ndarray | None,
            quat: np.ndarray | None,
            cmd: np.ndarray | None,
        ) -> None:
            unit = None if quat is None else quat / np.linalg.norm(quat)  # as the training side does
            inp = _inputs(default, q, qd, la, gyro, unit, cmd)
            value = func(inp)
            if value.shape != (1, term.size):
                raise PolicyError(
                    f"observation term '{term.name}' has shape {value.shape}, expected (1, {term.size})"
                )
            np.multiply(value[0], term.scale, out=out)

        return kernel

    def build(
        self,
        joint_pos: np.ndarray,
        joint_vel: np.ndarray,
        last_action: np.ndarray,
        gyro: np.ndarray | None = None,
        quat: np.ndarray | None = None,
        velocity_command: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fill and return :attr:`out` (n_obs,).  Inputs are 1-D: (n_joints,), (n_act,), (3,), (4,), (3,).

        The caller checks sizes; a missing input that a term needs fails inside the kernel.
        """
        for kernel in self._kernels:
            kernel(joint_pos, joint_vel, last_action, gyro, quat, velocity_command)
        return self.out

    def verify(self, samples: int = 8, seed: int = 0, atol: float = 1e-9) -> None:
        """Compare with ``build_observation`` on seeded random inputs; PolicyError naming the term."""
        rng = np.random.default_rng(seed)
        for _ in range(samples):
            q = self.default_pose + rng.normal(0.0, 1.0, self.n_joints)
            qd = rng.normal(0.0, 5.0, self.n_joints)
            la = rng.uniform(-1.0, 1.0, self.n_act)
            gyro = rng.normal(0.0, 1.0, 3)
            quat = rng.normal(0.0, 1.0, 4)
            quat *= rng.uniform(0.9, 1.1) / np.linalg.norm(quat)  # an IMU's quaternion is only near unit
            cmd = rng.uniform(-1.0, 1.0, 3)
            mine = self.build(q, qd, la, gyro, quat, cmd).copy()
            unit = quat / np.linalg.norm(quat)  # what the training side does before the terms
            reference = build_observation(
                self.layout, _inputs(self.default_pose, q, qd, la, gyro, unit, cmd)
            )[0]
            bad = np.abs(mine - reference) > atol * np.maximum(1.0, np.abs(reference))
            if bad.any():
                col = int(np.flatnonzero(bad)[0])
                for term in self.layout:
                    if col < term.size:
                        break
                    col -= term.size
                raise PolicyError(
                    f"the runtime observation term '{term.name}' disagrees with sim2real.tasks.observations"
                )


def _inputs(
    default: np.ndarray,
    q: np.ndarray,
    qd: np.ndarray,
    la: np.ndarray,
    gyro: np.ndarray | None,
    quat: np.ndarray | None,
    cmd: np.ndarray | None,
) -> ObsInputs:
    def row(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else np.asarray(x, dtype=float).reshape(1, -1)

    return ObsInputs(
        joint_pos=row(q),  # type: ignore[arg-type]
        joint_vel=row(qd),  # type: ignore[arg-type]
        default_pose=default,
        last_action=row(la),  # type: ignore[arg-type]
        base_ang_vel=row(gyro),
        base_quat=row(quat),
        velocity_command=row(cmd),
    )
