"""Randomization around an identified robot: ranges from a calibration's confidence intervals.

For every calibrated parameter one ``absolute`` uniform entry is written::

    value ~ U(v - h, v + h),   h = max(widen * (ci_high - ci_low) / 2,
                                       min_rel_width * |v|,
                                       min_rel_width * (bound_high - bound_low) / 2)

clipped to the parameter's plausible bounds (widened to contain ``v`` when a fit was allowed past
them) and to its physical domain (masses and resistances stay positive, damping and delays
non-negative, delays within the model's delay buffer).  A parameter the logs could not determine
(``identifiable: false`` or no finite interval) falls back to the spec's stated bounds, or to
``v`` +- ``fallback_rel`` |v| when the spec states none.  The entries go after those of an
optional ``base`` config (e.g. ``default``: sensor noise, latencies, masses of parts that were not
calibrated); base entries that only touch calibrated parameters are dropped, and the others are
overridden by the absolute calibrated entries that follow them (that merge, and the validation
of the result like any config, are :meth:`~sim2real.randomize.config.Randomization.from_calibration`'s).

The calibration is the typed :class:`~sim2real.calibration.Calibration` of the base layer (what
``sim2real identify`` writes and :func:`~sim2real.calibration.load_calibration` reads).
"""

from __future__ import annotations

import fnmatch
import logging
from typing import Any

import numpy as np

from sim2real.calibration import CalibratedParam, Calibration
from sim2real.errors import SpecMismatchError
from sim2real.randomize.namespace import NONNEGATIVE, POSITIVE, Namespace, namespace
from sim2real.randomize.schema import SECTIONS, RandomizationError
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_FALLBACK_REL", "DEFAULT_MIN_REL_WIDTH", "calibrated_entries"]

DEFAULT_MIN_REL_WIDTH = 0.02
"""Smallest half-width of a calibrated range, relative to the value (and to half the bounds)."""
DEFAULT_FALLBACK_REL = 0.2
"""Half-width (relative) of an unidentified parameter's range when the spec states no bounds."""
_TINY = 1e-3
"""Lowest value of a positive quantity, as a fraction of its calibrated value."""


def _section(ns: Namespace, name: str) -> str:
    info = ns.info[name]
    if info.quantity == "delay" and info.group == "actuator":
        return "delays"
    for section, groups in SECTIONS.items():
        if section != "delays" and info.group in groups:
            return section
    raise RandomizationError(f"calibrated parameter {name} cannot be randomized")


def _plain(a: np.ndarray) -> float | list[float]:
    a = np.atleast_1d(np.asarray(a, dtype=float))
    return float(a[0]) if a.size == 1 else [float(x) for x in a]


def _finite_ci(p: CalibratedParam) -> bool:
    return (
        bool(getattr(p, "identifiable", True))
        and p.ci_low is not None
        and p.ci_high is not None
        and bool(np.all(np.isfinite(p.ci_low)))
        and bool(np.all(np.isfinite(p.ci_high)))
    )


def _range(
    ns: Namespace,
    spec: RobotSpec,
    name: str,
    p: CalibratedParam,
    widen: float,
    min_rel_width: float,
    fallback_rel: float,
) -> tuple[np.ndarray, np.ndarray, str]:
    """(low, high, how) of one calibrated parameter, shape (size,)."""
    info = ns.info[name]
    value = np.broadcast_to(np.asarray(p.value, dtype=float), (info.size,)).astype(float)
    b_lo = np.minimum(info.low.astype(float), value)
    b_hi = np.maximum(info.high.astype(float), value)
    floor = np.maximum(min_rel_width * np.abs(value), min_rel_width * (b_hi - b_lo) / 2)
    if _finite_ci(p):
        ci_lo = np.broadcast_to(np.asarray(p.ci_low, dtype=float), value.shape)
        ci_hi = np.broadcast_to(np.asarray(p.ci_high, dtype=float), value.shape)
        half = np.maximum(widen * np.abs(ci_hi - ci_lo) / 2, floor)
        lo, hi, how = value - half, value + half, "ci"
    else:
        stated = any(fnmatch.fnmatchcase(name, bound.name) for bound in spec.parameter_bounds)
        if stated:
            lo, hi, how = b_lo.copy(), b_hi.copy(), "spec bounds"
        else:
            half = np.maximum(fallback_rel * np.abs(value), floor)
            lo, hi, how = value - half, value + half, "fallback"
    lo, hi = np.maximum(lo, b_lo), np.minimum(hi, b_hi)
    if info.quantity in POSITIVE:
        lo = np.maximum(lo, _TINY * np.abs(value))
    if info.quantity in NONNEGATIVE:
        lo = np.maximum(lo, 0.0)
    if info.quantity == "delay":
        hi = np.minimum(hi, ns.delay_capacity(name))
        lo = np.minimum(lo, hi)
    return lo, hi, how


def calibrated_entries(
    spec: RobotSpec,
    calib: Calibration,
    widen: float = 2.0,
    *,
    min_rel_width: float = DEFAULT_MIN_REL_WIDTH,
    fallback_rel: float = DEFAULT_FALLBACK_REL,
) -> dict[str, list[dict[str, Any]]]:
    """The config entries centred on a calibration, by section (see the module docstring).

    Args:
        spec: The robot the calibration was made for.
        calib: The calibration.
        widen: Range half-width as a multiple of the confidence interval's half-width (>= 0).
        min_rel_width: Smallest half-width relative to the value and to half the plausible range.
        fallback_rel: Half-width relative to the value of unidentified parameters the spec states
            no bounds for.

    Returns:
        Section name -> one ``absolute`` uniform entry (a config mapping's entry) per calibrated
        parameter of that section.

    Raises:
        SpecMismatchError: the calibration was made for another robot spec.
        RandomizationError: a bad ``widen``/width, or a parameter the robot lacks.
    """
    if not (np.isfinite(widen) and widen >= 0):
        raise RandomizationError(f"widen must be a number >= 0, got {widen!r}")
    if not (min_rel_width >= 0 and fallback_rel > 0):
        raise RandomizationError("min_rel_width must be >= 0 and fallback_rel > 0")
    found = str(getattr(calib, "spec_hash", ""))
    if found != spec.hash:
        from sim2real.robots.files import changed_files

        changed = changed_files(getattr(calib, "spec_files", None), spec.files)
        raise SpecMismatchError("calibration", spec.hash, found, changed)
    ns = namespace(spec)
    entries: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
    for pname, p in calib.params.items():
        if pname not in ns.info:
            raise RandomizationError(f"calibrated parameter '{pname}' is not a parameter of {spec.name}")
        lo, hi, how = _range(ns, spec, pname, p, widen, min_rel_width, fallback_rel)
        entries[_section(ns, pname)].append(
            {"param": pname, "mode": "absolute", "dist": "uniform", "low": _plain(lo), "high": _plain(hi)}
        )
        log.debug("calibrated range of %s (%s): [%s, %s]", pname, how, _plain(lo), _plain(hi))
    return entries
