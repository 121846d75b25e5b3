"""The spec's optional deployment-safety keys: ``safety.collision`` and ``safety.stages``.

Both are optional; without them a robot gets the defaults below (documented in docs/safety.md)::

    safety:
      collision:                  # the external-torque observer (sim2real.deploy.collision)
        enabled: true
        reaction: hold            # hold (until the contact is gone) | safe_stop
        hold_timeout: 0.5         # s: a contact held longer than this ends in a safe stop
        threshold_fraction: 0.2   # default threshold: this fraction of each joint's torque scale
        threshold: {hinge: 0.3}   # N m per joint (any subset; the others from threshold_fraction)
        base_torque: null         # N m, floating base: unexplained torque on the base
        base_force: null          # N, floating base: unexplained force on the base; null: fraction x weight
        filter: null              # s, low-pass time constant of the residual; null: max(dt, 30 ms)
        contacts: null            # bodies where ground contact is expected; null: the feet
        contact_height: 0.03      # m: a contact higher above the ground carries no force
      stages:                     # the stage ledger (sim2real.deploy.ledger): dwell per speed stage
        dwell: [600, 1800, 1800, 1800]   # s of eventless time at each stage before the next one
        on_event: restart_stage          # restart_stage | previous_stage | first_stage

A joint's *torque scale* is its safety torque limit when actuated, and for a passive joint the
largest gravity torque of the bodies it carries (computed from the model by the observer).  The
dwell list has one entry per speed stage but the last (the last stage is "extended testing": it
is never left); the defaults are Lesson A4's table over the five speed stages (10 %: 10+ min,
25 % and 50 %: 30+ min; 75 %, which the lesson does not list, like 50 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from sim2real.errors import SpecError

__all__ = [
    "DEFAULT_DWELL_S",
    "CollisionSpec",
    "StageSpec",
    "parse_collision",
    "parse_stages",
]

CollisionReaction = Literal["hold", "safe_stop"]
StageReset = Literal["restart_stage", "previous_stage", "first_stage"]

DEFAULT_DWELL_S: tuple[float, ...] = (600.0, 1800.0, 1800.0, 1800.0)
"""Eventless time before each promotion [s] (10 % -> 25 % -> 50 % -> 75 % -> 100 %): Lesson A4."""


@dataclass(frozen=True)
class CollisionSpec:
    """``safety.collision``: how unexpected contacts are detected and what happens then."""

    enabled: bool = True
    """Whether the observer runs during deployment."""
    reaction: CollisionReaction = "hold"
    """``hold`` (repeat the last safe command while the contact lasts) or ``safe_stop`` (latched)."""
    hold_timeout: float = 0.5
    """A contact lasting longer than this while held ends in a safe stop [s]."""
    threshold_fraction: float = 0.2
    """Default threshold of a joint: this fraction of its torque scale."""
    threshold: dict[str, float] = field(default_factory=dict)
    """Thresholds given per joint [N m] (the others follow ``threshold_fraction``)."""
    base_torque: float | None = None
    """Threshold of the unexplained torque on a floating base [N m]; None: derived."""
    base_force: float | None = None
    """Threshold of the unexplained force on a floating base [N]; None: ``threshold_fraction`` x the
    robot's weight (which a model without gravity does not have: give it then)."""
    filter: float | None = None
    """Time constant of the residual's low-pass [s]; None: max(control period, 30 ms)."""
    contacts: tuple[str, ...] | None = None
    """Bodies where ground contact is expected; None: the feet (see the observer)."""
    contact_height: float = 0.03
    """A contact whose lowest point is higher above the ground than this carries no force [m]."""


@dataclass(frozen=True)
class StageSpec:
    """``safety.stages``: the stage ledger's dwell per speed stage and its reset rule."""

    dwell: tuple[float, ...] = DEFAULT_DWELL_S
    """Eventless time at each stage before promotion to the next [s] (one per stage but the last)."""
    on_event: StageReset = "restart_stage"
    """After a safety event: ``restart_stage`` (the stage's earned time goes back to 0),
    ``previous_stage`` (demoted one stage, time of both reset), ``first_stage`` (back to the start)."""


def _number(value: Any, where: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise SpecError(f"{where} must be a finite number, got {value!r}")
    x = float(value)
    if positive and not x > 0:
        raise SpecError(f"{where} must be positive, got {x}")
    if nonnegative and x < 0:
        raise SpecError(f"{where} must not be negative, got {x}")
    return x


def parse_collision(raw: Any, joints: tuple[str, ...]) -> CollisionSpec:
    """``safety.collision`` (None: the defaults).

    Raises:
        SpecError: naming the offending entry.
    """
    if raw is None:
        return CollisionSpec()
    where = "safety.collision"
    if not isinstance(raw, dict):
        raise SpecError(f"{where} must be a mapping")
    allowed = set(CollisionSpec.__dataclass_fields__)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    kw: dict[str, Any] = {}
    if "enabled" in raw:
        if not isinstance(raw["enabled"], bool):
            raise SpecError(f"{where}.enabled must be true or false")
        kw["enabled"] = raw["enabled"]
    if "reaction" in raw:
        if raw["reaction"] not in ("hold", "safe_stop"):
            raise SpecError(f"{where}.reaction must be hold or safe_stop, got {raw['reaction']!r}")
        kw["reaction"] = raw["reaction"]
    for key in ("hold_timeout", "threshold_fraction"):
        if key in raw:
            kw[key] = _number(raw[key], f"{where}.{key}", positive=True)
    for key in ("base_torque", "base_force", "filter"):
        if raw.get(key) is not None:
            kw[key] = _number(raw[key], f"{where}.{key}", positive=key != "filter", nonnegative=True)
    if "contact_height" in raw:
        kw["contact_height"] = _number(raw["contact_height"], f"{where}.contact_height", nonnegative=True)
    if raw.get("threshold") is not None:
        th = raw["threshold"]
        if not isinstance(th, dict):
            raise SpecError(f"{where}.threshold must map joint names to N m")
        bad = [k for k in th if k not in joints]
        if bad:
            raise SpecError(f"{where}.threshold: unknown joint '{bad[0]}' (joints: {', '.join(joints)})")
        kw["threshold"] = {str(k): _number(v, f"{where}.threshold.{k}", positive=True) for k, v in th.items()}
    if raw.get("contacts") is not None:
        c = raw["contacts"]
        if not isinstance(c, list) or not all(isinstance(x, str) for x in c):
            raise SpecError(f"{where}.contacts must be a list of body names")
        kw["contacts"] = tuple(c)
    return CollisionSpec(**kw)


def parse_stages(raw: Any) -> StageSpec:
    """``safety.stages`` (None: the defaults).

    Raises:
        SpecError: naming the offending entry.
    """
    if raw is None:
        return StageSpec()
    where = "safety.stages"
    if not isinstance(raw, dict):
        raise SpecError(f"{where} must be a mapping with dwell and on_event")
    unknown = sorted(set(raw) - {"dwell", "on_event"})
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: dwell, on_event")
    kw: dict[str, Any] = {}
    if "dwell" in raw:
        d = raw["dwell"]
        if not isinstance(d, list) or not d:
            raise SpecError(f"{where}.dwell must be a non-empty list of seconds, one per stage but the last")
        kw["dwell"] = tuple(_number(x, f"{where}.dwell[{i}]", positive=True) for i, x in enumerate(d))
    if "on_event" in raw:
        if raw["on_event"] not in ("restart_stage", "previous_stage", "first_stage"):
            raise SpecError(
                f"{where}.on_event must be restart_stage, previous_stage or first_stage, got {raw['on_event']!r}"
            )
        kw["on_event"] = raw["on_event"]
    return StageSpec(**kw)
