"""The identification problem: residuals of replay windows, scaled coordinates, Jacobians, the solve.

**Residuals.**  Every evaluation sample of every window (:mod:`sim2real.sim.replay`) gives one
residual per channel, each divided by how much that channel moves within a window (RMS of the
logged value minus its value at the window start, with a floor):

- joint positions [rad] and, weighted by ``velocity_weight``, joint velocities;
- ``torque_weight`` x the efforts of pd-actuated joints, when the log measures them (the drive's
  torque, as a real drive reports it from its current): the PD loop's output separates the
  actuator's kp, kd and latency from the joint's passive damping and friction, which the motion
  alone only sees summed;
- floating base: position [m], orientation (rotation vector of ``q_log^-1 q_sim``) [rad], and,
  weighted by ``velocity_weight``, linear and angular velocity.

**Coordinates** are the fitted parameter components divided by their nominal size (at least a
tenth of their plausible range), bounded by the plausible range.

**Jacobians** are forward differences computed in ONE batched replay per evaluation (chunked by
the replayer's ``replicas``).  When the model's kinematic trees are independent (a legged robot
hung by its base: each leg is its own tree, no contact between them), parameters of different
trees perturb disjoint residual channels, so they share a variant: the hung quadruped's 72
per-joint parameters need 18 variants, not 72 (column grouping of a sparse Jacobian).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import mujoco
import numpy as np
import scipy.sparse
from scipy.optimize import least_squares

from sim2real.errors import ParameterError, Sim2RealError
from sim2real.params import Parameters, ParamInfo
from sim2real.robots.model import joint_dof_indices
from sim2real.robots.spec import RobotSpec
from sim2real.sim.replay import Replayer, Windows

log = logging.getLogger(__name__)

Loss = Literal["linear", "soft_l1", "huber", "cauchy"]

Jacobian = np.ndarray | scipy.sparse.csr_matrix
"""A residual Jacobian (N, P): dense, or sparse when parameters act on separate trees."""

EVERY_TREE = -2
"""Tree id of a channel or parameter that concerns every kinematic tree."""

__all__ = [
    "EVERY_TREE",
    "Coords",
    "FitState",
    "Loss",
    "Problem",
    "ProblemSettings",
    "bounds_of",
    "jacobian",
    "jacobian_at",
    "rho",
    "rho1",
    "robust_sigma",
    "solve",
    "weighted_jacobian",
]


# --------------------------------------------------------------------------- robust losses
def rho(z: np.ndarray, loss: str) -> np.ndarray:
    """scipy's loss functions of z = (r / f_scale)^2."""
    if loss == "linear":
        return z
    if loss == "soft_l1":
        return 2.0 * (np.sqrt(1.0 + z) - 1.0)
    if loss == "huber":
        return np.where(z <= 1.0, z, 2.0 * np.sqrt(z) - 1.0)
    if loss == "cauchy":
        return np.log1p(z)
    raise Sim2RealError(f"unknown loss '{loss}' (linear, soft_l1, huber, cauchy)")


def rho1(z: np.ndarray, loss: str) -> np.ndarray:
    """Derivative of the loss, the IRLS weight of each residual."""
    if loss == "linear":
        return np.ones_like(z)
    if loss == "soft_l1":
        return 1.0 / np.sqrt(1.0 + z)
    if loss == "huber":
        return np.where(z <= 1.0, 1.0, 1.0 / np.sqrt(np.maximum(z, 1.0)))
    if loss == "cauchy":
        return 1.0 / (1.0 + z)
    raise Sim2RealError(f"unknown loss '{loss}'")


def robust_sigma(r: np.ndarray) -> float:
    """1.4826 x the median absolute value of the finite entries (RMS when that is 0; 1 when empty)."""
    r = r[np.isfinite(r)]
    if r.size == 0:
        return 1.0
    s = 1.4826 * float(np.median(np.abs(r)))
    return s if s > 0 else float(np.sqrt(np.mean(r**2))) or 1.0


# ------------------------------------------------------------------------------ the problem
@dataclass(frozen=True)
class ProblemSettings:
    """Residual weights and the finite-difference step (from :class:`~sim2real.sysid.IdentifyConfig`)."""

    velocity_weight: float = 0.3
    """Weight of velocity residuals relative to positions (after normalization)."""
    torque_weight: float = 0.3
    """Weight of the measured efforts of pd-actuated joints (0: not used)."""
    fd_step: float = 1e-3
    """Finite-difference step in scaled coordinates."""


def _rotation_error(q_log: np.ndarray, q_sim: np.ndarray) -> np.ndarray:
    """Rotation vector of ``q_log^-1 q_sim`` (small-angle form), shapes (..., 4) -> (..., 3) [rad]."""
    w1, v1 = q_log[..., :1], q_log[..., 1:]
    w2, v2 = q_sim[..., :1], q_sim[..., 1:]
    w = w1 * w2 + np.sum(v1 * v2, axis=-1, keepdims=True)
    v = w1 * v2 - w2 * v1 - np.cross(v1, v2)
    return 2.0 * np.where(w < 0, -v, v)


class Problem:
    """Windows, the batched replayer, the residual definition and the parameter values.

    Args:
        spec: The robot.
        windows: Replay windows (:func:`~sim2real.sim.replay.build_windows`).
        model: The model they replay on (nominal, calibrated or hung).
        names: Fitted parameter names.
        settings: Residual weights.

    The simulations are allocated by :meth:`allocate` (how many parameter variants one rollout
    runs depends on the coordinates).
    """

    def __init__(
        self,
        spec: RobotSpec,
        windows: Windows,
        model: mujoco.MjModel,
        names: list[str],
        settings: ProblemSettings,
    ) -> None:
        self.spec = spec
        self.windows = windows
        self.settings = settings
        self.model = model
        self.params = Parameters(spec, model)
        self._replayer: Replayer | None = None
        self.values: dict[str, np.ndarray] = {n: self.params.get(model, n) for n in names}
        self.start = {n: v.copy() for n, v in self.values.items()}
        self.nfev = 0
        self.subset: np.ndarray | None = None
        self._ev = np.arange(windows.n_eval)
        self.sample_weight = np.ones(windows.n_eval)
        self.last_jacobian: tuple | None = None
        """(coordinates, scaled point, weighted residuals, Jacobian, window subset) of the last solve step."""
        w = windows
        start = w.eval_window
        self.s_q = np.maximum(np.sqrt(np.mean((w.q - w.q0[start]) ** 2, axis=0)), 1e-4)
        self.s_v = np.maximum(np.sqrt(np.mean((w.qd - w.qd0[start]) ** 2, axis=0)), 1e-3)
        # efforts of pd-actuated joints, when measured (and not just the command echoed back)
        pd = [i for i, a in enumerate(spec.actuators) if a.model == "pd"]
        self.torque_cols = np.array(
            pd if (w.tau is not None and settings.torque_weight > 0) else [], dtype=int
        )
        if self.torque_cols.size:
            tau = w.tau[:, self.torque_cols]
            self.s_tau = np.maximum(np.sqrt(np.mean((tau - tau.mean(axis=0)) ** 2, axis=0)), 1e-3)
        else:
            self.s_tau = np.zeros(0)
        if w.floating:
            b0, b = w.base0[start], w.base
            self.s_base = np.concatenate(
                [
                    np.maximum(np.sqrt(np.mean((b[:, :3] - b0[:, :3]) ** 2, axis=0)), 1e-3),
                    np.maximum(np.sqrt(np.mean(_rotation_error(b0[:, 3:7], b[:, 3:7]) ** 2, axis=0)), 1e-3),
                    np.maximum(np.sqrt(np.mean((b[:, 7:] - b0[:, 7:]) ** 2, axis=0)), 1e-2),
                ]
            )
        self.channel_tree = self._channel_trees()
        self.independent = _trees_independent(model) and not w.floating
        """Whether parameters of different kinematic trees may share a finite-difference variant."""

    def allocate(self, variants: int, max_sims: int = 2000, nthread: int = 0) -> None:
        """Create the simulations: up to ``variants`` parameter variants per rollout, at most
        ``max_sims`` simulations in all (larger requests are chunked)."""
        replicas = int(np.clip(variants, 1, max(1, max_sims // self.windows.n_windows)))
        self._replayer = Replayer(
            self.spec, self.windows, model=self.model, replicas=replicas, nthread=nthread
        )

    @property
    def replayer(self) -> Replayer:
        """The batched replayer (after :meth:`allocate`)."""
        if self._replayer is None:
            raise Sim2RealError("Problem.allocate() must run before residuals are computed")
        return self._replayer

    # ------------------------------------------------------------------ layout
    @property
    def n_joints(self) -> int:
        return self.spec.n_joints

    @property
    def n_channels(self) -> int:
        """Residual columns per evaluation sample."""
        return 2 * self.n_joints + self.torque_cols.size + (12 if self.windows.floating else 0)

    def _channel_trees(self) -> np.ndarray:
        m = self.model
        jtree = m.dof_treeid[joint_dof_indices(self.spec, m)].astype(int)
        act_joint = [self.spec.joints.index(a.joint) for a in self.spec.actuators]
        parts = [jtree, jtree, jtree[np.array(act_joint, dtype=int)[self.torque_cols]]]
        if self.windows.floating:
            parts.append(np.full(12, EVERY_TREE))
        return np.concatenate(parts).astype(int)

    def param_trees(self, name: str) -> frozenset[int]:
        """Kinematic trees a parameter acts on ({EVERY_TREE} when it may act on all)."""
        info = self.params.info(name)
        m = self.model
        tree = EVERY_TREE
        if info.group == "joint":
            tree = int(m.dof_treeid[m.jnt_dofadr[info.index]])
        elif info.group in ("actuator", "motor") and int(m.actuator_trntype[info.index]) == int(
            mujoco.mjtTrn.mjTRN_JOINT
        ):
            tree = int(m.dof_treeid[m.jnt_dofadr[m.actuator_trnid[info.index, 0]]])
        elif info.group == "body":
            tree = int(m.body_treeid[info.index])
        return frozenset({tree if tree >= 0 else EVERY_TREE})

    # ------------------------------------------------------------------ residuals
    def use_windows(self, subset: np.ndarray | None) -> None:
        """Fit on some windows only (None: all)."""
        self.subset = None if subset is None else np.asarray(subset, dtype=np.int64)
        if self.subset is None:
            self._ev = np.arange(self.windows.n_eval)
        else:
            mask = np.zeros(self.windows.n_windows, dtype=bool)
            mask[self.subset] = True
            self._ev = np.flatnonzero(mask[self.windows.eval_window])

    @property
    def eval_samples(self) -> np.ndarray:
        """Evaluation samples of the windows in use."""
        return self._ev

    def raw_residuals(self, rows: list[dict[str, np.ndarray]]) -> np.ndarray:
        """Unweighted normalized residuals of each parameter variant, shape (R, E, C)."""
        R = len(rows)
        values = {n: np.stack([row[n] for row in rows]) for n in rows[0]}
        pred = self.replayer.run(
            values, replicas=R, windows=self.subset, record_force=self.torque_cols.size > 0
        )
        self.nfev += 1
        w, ev, vw = self.windows, self._ev, self.settings.velocity_weight
        parts = [(pred.q - w.q[ev][None]) / self.s_q, vw * (pred.qd - w.qd[ev][None]) / self.s_v]
        if self.torque_cols.size:
            tc = self.torque_cols
            parts.append(
                self.settings.torque_weight * (pred.force[..., tc] - w.tau[ev][None][..., tc]) / self.s_tau
            )
        if w.floating:
            b, logged = pred.base, w.base[ev][None]
            s = self.s_base
            parts += [
                (b[..., :3] - logged[..., :3]) / s[:3],
                _rotation_error(logged[..., 3:7], b[..., 3:7]) / s[3:6],
                vw * (b[..., 7:] - logged[..., 7:]) / s[6:],
            ]
        r = np.concatenate(parts, axis=2)
        return np.nan_to_num(r, nan=1e6, posinf=1e6, neginf=-1e6)

    def weighted(self, raw: np.ndarray) -> np.ndarray:
        """Apply the per-sample (per-log) weights and flatten, shape (R, E * C)."""
        return (raw * self.sample_weight[self._ev][None, :, None]).reshape(raw.shape[0], -1)

    def positions(self, raw: np.ndarray) -> np.ndarray:
        """Predicted minus logged joint positions from raw residuals (E, C), shape (E, n) [rad]."""
        return raw[:, : self.n_joints] * self.s_q

    def predictions(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted joint positions and velocities at the evaluation samples from raw residuals (E, C)."""
        n = self.n_joints
        clean = np.where(np.abs(raw) >= 1e6, np.nan, raw)  # failed rollouts: no prediction
        q = self.windows.q + clean[:, :n] * self.s_q
        qd = self.windows.qd + clean[:, n : 2 * n] * self.s_v / self.settings.velocity_weight
        return q, qd


def _trees_independent(model: mujoco.MjModel) -> bool:
    """Whether the model's kinematic trees cannot act on each other (no equality, no tendon, no
    possible contact between geoms of different trees; contacts with the world are fine)."""
    if model.ntree < 2 or model.neq > 0 or model.ntendon > 0:
        return False
    tree = model.body_treeid[model.geom_bodyid]
    moving = np.flatnonzero(tree >= 0)
    ct, ca = model.geom_contype[moving], model.geom_conaffinity[moving]
    collide = ((ct[:, None] & ca[None, :]) | (ca[:, None] & ct[None, :])) != 0
    other = tree[moving][:, None] != tree[moving][None, :]
    return not bool(np.any(collide & other))


@dataclass
class FitState:
    """What the fit stage leaves for the intervals and the report."""

    f_scale: float
    """Inlier scale of the robust loss."""
    weights: np.ndarray
    """Weight of each log's residuals, shape (n_logs,)."""
    held: dict[int, str] = field(default_factory=dict)
    """Coordinates held at their start (not identifiable) -> reason."""
    active: list[int] = field(default_factory=list)
    """Coordinates fitted."""
    shift: np.ndarray | None = None
    """Shift of each coordinate from the replay at ``h`` to ``h / 2`` (scaled; None: not measured)."""
    widen: np.ndarray | None = None
    """Width added to each coordinate's interval where the step's model error was measured but no
    step-free value could be extrapolated (scaled; :mod:`sim2real.sysid.resolution`; None: none)."""


# ------------------------------------------------------------------------------ coordinates
def bounds_of(info: ParamInfo, bounds: Mapping[str, tuple] | None) -> tuple[np.ndarray, np.ndarray]:
    """A parameter's (low, high): the spec's plausible bounds unless overridden."""
    if bounds and info.name in bounds:
        low, high = bounds[info.name]
        low = np.broadcast_to(np.asarray(low, dtype=float), (info.size,))
        high = np.broadcast_to(np.asarray(high, dtype=float), (info.size,))
        if np.any(low > high):
            raise ParameterError(f"{info.name}: bound low {low.tolist()} is above high {high.tolist()}")
        return low, high
    return info.low, info.high


class Coords:
    """The continuous unknowns: components of the fitted parameters, scaled, with their bounds.

    Args:
        problem: The problem whose values they read and write.
        names: Parameter names (every component is a coordinate).
        bounds: Name -> (low, high) replacing the spec's bounds.
        caps: Name -> largest value the replay can hold (delays), applied on top of the bounds.
    """

    def __init__(
        self,
        problem: Problem,
        names: list[str],
        bounds: Mapping[str, tuple] | None = None,
        caps: Mapping[str, float] | None = None,
    ) -> None:
        self.problem = problem
        self.items: list[tuple[str, int]] = []
        scale, lo, hi, trees = [], [], [], []
        for name in names:
            info = problem.params.info(name)
            low, high = bounds_of(info, bounds)
            if caps and name in caps:
                high = np.minimum(high, caps[name])
                low = np.minimum(low, high)
            tree = problem.param_trees(name)
            for c in range(info.size):
                self.items.append((name, c))
                span = float(high[c] - low[c])
                scale.append(max(abs(float(info.nominal[c])), 0.1 * span, 1e-12))
                lo.append(float(low[c]))
                hi.append(float(high[c]))
                trees.append(tree)
        self.scale = np.array(scale)
        self.lo = np.array(lo) / self.scale
        self.hi = np.array(hi) / self.scale
        self.trees = trees

    @property
    def size(self) -> int:
        return len(self.items)

    def get(self) -> np.ndarray:
        """The current values, scaled, shape (P,)."""
        return np.array([self.problem.values[n][c] for n, c in self.items]) / self.scale

    def row(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """All current values with the coordinates replaced by ``z`` (scaled)."""
        out = {n: v.copy() for n, v in self.problem.values.items()}
        for (n, c), zi, s in zip(self.items, z, self.scale, strict=True):
            out[n][c] = zi * s
        return out

    def put(self, z: np.ndarray) -> None:
        """Write scaled values into the problem."""
        for (n, c), zi, s in zip(self.items, z, self.scale, strict=True):
            self.problem.values[n][c] = zi * s

    def label(self, i: int) -> str:
        """Name of coordinate ``i`` (with its component for vector parameters)."""
        n, c = self.items[i]
        return n if self.problem.params.info(n).size == 1 else f"{n}[{c}]"

    def subset(self, active: list[int]) -> Coords:
        """A view of some coordinates (the others held at their values)."""
        view = object.__new__(Coords)
        view.problem = self.problem
        view.items = [self.items[i] for i in active]
        view.scale, view.lo, view.hi = self.scale[active], self.lo[active], self.hi[active]
        view.trees = [self.trees[i] for i in active]
        return view

    def on(self, problem: Problem) -> Coords:
        """The same coordinates reading and writing another problem's values."""
        view = copy.copy(self)
        view.problem = problem
        return view

    def groups(self) -> list[list[int]]:
        """Coordinates that can be perturbed in one variant (disjoint trees; module docstring)."""
        if not self.problem.independent:
            return [[i] for i in range(self.size)]
        out: list[tuple[list[int], set[int]]] = []
        for i, tree in enumerate(self.trees):
            if EVERY_TREE in tree:
                out.append(([i], {EVERY_TREE}))
                continue
            for members, used in out:
                if EVERY_TREE not in used and not (used & tree):
                    members.append(i)
                    used |= tree
                    break
            else:
                out.append(([i], set(tree)))
        return [members for members, _ in out]


# ------------------------------------------------------------------------------ Jacobian, solve
def jacobian(problem: Problem, coords: Coords, z: np.ndarray) -> tuple[np.ndarray, Jacobian]:
    """Weighted residuals at ``z`` and their Jacobian by grouped forward differences.

    Returns:
        residuals (N,) and Jacobian (N, P), N = E' x C over the windows in use; a sparse (CSR)
        matrix when the trees are independent (each parameter touches its own tree's channels).
    """
    h = problem.settings.fd_step
    steps = np.where(z + h <= coords.hi, h, -h)
    groups = coords.groups()
    rows = [coords.row(z)]
    for members in groups:
        zi = z.copy()
        zi[members] += steps[members]
        rows.append(coords.row(zi))
    chunk = problem.replayer.replicas
    out = [problem.weighted(problem.raw_residuals(rows[i : i + chunk])) for i in range(0, len(rows), chunk)]
    r = np.concatenate(out)
    r0 = r[0]
    C = problem.n_channels
    J = np.zeros((r0.size, coords.size))
    for g, members in enumerate(groups):
        diff = r[1 + g] - r0
        if len(members) == 1:
            J[:, members[0]] = diff / steps[members[0]]
            continue
        for i in members:
            mask = np.isin(problem.channel_tree, list(coords.trees[i]))
            J[:, i] = (diff.reshape(-1, C) * mask[None, :]).ravel() / steps[i]
    return r0, (scipy.sparse.csr_matrix(J) if problem.independent else J)


def weighted_jacobian(J: Jacobian, weights: np.ndarray, columns: list[int] | None = None) -> Jacobian:
    """``J`` with row ``k`` times ``weights[k]`` (and only some columns), dense or sparse alike."""
    if scipy.sparse.issparse(J):
        out = scipy.sparse.diags(weights) @ J
        return (out.tocsc()[:, columns] if columns is not None else out).tocsr()
    out = J * weights[:, None]
    return out if columns is None else out[:, columns]


def solve(
    problem: Problem,
    coords: Coords,
    loss: str,
    f_scale: float,
    max_nfev: int,
    *,
    tol: float = 1e-4,
    start: np.ndarray | None = None,
) -> object | None:
    """One bounded robust least-squares solve from ``start`` (scaled; default: the current values).

    The solution is written into the problem's values; returns scipy's result (None without
    coordinates).  ``problem.last_jacobian`` keeps the last Jacobian taken, for the intervals.
    """
    if coords.size == 0:
        return None
    cache: dict[bytes, np.ndarray] = {}
    single = coords.size == 1  # scipy's lsmr step works in a 2-D subspace: one coordinate takes the exact step

    def fun(z: np.ndarray) -> np.ndarray:
        key = z.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = problem.weighted(problem.raw_residuals([coords.row(z)]))[0]
        return cache[key]

    def jac(z: np.ndarray) -> Jacobian:
        r0, J = jacobian(problem, coords, z)
        cache.clear()
        cache[z.tobytes()] = r0
        problem.last_jacobian = (tuple(coords.items), z.copy(), r0, J, problem.subset)
        return J.toarray() if single and scipy.sparse.issparse(J) else J

    z0 = np.clip(coords.get() if start is None else np.asarray(start, dtype=float), coords.lo, coords.hi)
    margin = 1e-3 * (coords.hi - coords.lo)
    z0 = np.clip(z0, coords.lo + margin, coords.hi - margin)
    result = least_squares(
        fun,
        z0,
        jac=jac,
        bounds=(coords.lo, coords.hi),
        loss=loss,
        f_scale=f_scale,
        max_nfev=max_nfev,
        method="trf",
        # small dense problems: the exact trust-region step (an SVD of J); else products with J only
        tr_solver="lsmr" if not single and (problem.independent or coords.size * len(fun(z0)) > 2_000_000) else "exact",
        x_scale=1.0,
        xtol=tol,
        ftol=tol,
        gtol=1e-8,
    )
    coords.put(result.x)
    log.debug(
        "least squares: %d residual and %d Jacobian evaluations, cost %.4g (%s)",
        result.nfev,
        result.njev,
        result.cost,
        result.message,
    )
    return result


def jacobian_at(problem: Problem, coords: Coords) -> tuple[np.ndarray, Jacobian]:
    """Weighted residuals and Jacobian at the current values (reusing the solve's last one)."""
    z = coords.get()
    last = problem.last_jacobian
    if last is not None and last[0] == tuple(coords.items) and last[4] is None and np.array_equal(last[1], z):
        return last[2], last[3]
    return jacobian(problem, coords, z)
