"""Parsing and validating a randomization config mapping against a robot.

:func:`parse_parts` checks every entry up front and returns the resolved parts of a
:class:`~sim2real.randomize.config.Randomization`; every problem is a
:class:`~sim2real.randomize.schema.RandomizationError` naming the entry (unknown keys,
parameters, modes or distributions, ``low > high``, values leaving a parameter's physical domain,
delays beyond the model's delay buffers, terrain on a fixed-base robot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import mujoco
import numpy as np

from sim2real.errors import ParameterError
from sim2real.randomize.distributions import KINDS, Distribution
from sim2real.randomize.namespace import NONNEGATIVE, POSITIVE, Namespace, namespace
from sim2real.randomize.schema import (
    MODES,
    OTHER_KEYS,
    SECTIONS,
    ActionDelayConfig,
    ParamEntry,
    PushesConfig,
    RandomizationError,
    ResolvedParam,
    TerrainConfig,
)
from sim2real.robots.spec import RobotSpec

__all__ = ["TOP_KEYS", "check_keys", "mapping", "parse_distribution", "parse_parts"]

TOP_KEYS = {"name", "robot", "description", "link_pool", *SECTIONS, *OTHER_KEYS}
"""Keys a config mapping may have."""
_ENTRY_KEYS = {"param", "mode", "dist", "low", "high", "mean", "std", "shared", "unit", "jitter"}
_DIST_KEYS = {"dist", "low", "high", "mean", "std"}


def _numbers(value: Any, where: str, what: str) -> tuple[float, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise RandomizationError(f"{where}: '{what}' is empty")
    out = []
    for x in items:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(float(x)):
            raise RandomizationError(
                f"{where}: '{what}' must be a finite number or a list of them, got {value!r}"
            )
        out.append(float(x))
    return tuple(out)


def mapping(raw: Any, where: str) -> Mapping[str, Any]:
    """``raw`` when it is a mapping, else a RandomizationError naming ``where``."""
    if not isinstance(raw, Mapping):
        raise RandomizationError(f"{where} must be a mapping, got {type(raw).__name__}")
    return raw


def check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """A RandomizationError naming ``where`` and the unknown keys, if any."""
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise RandomizationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def parse_distribution(raw: Mapping[str, Any], where: str, *, integer: bool = False) -> Distribution:
    """A :class:`Distribution` from ``{dist, low, high[, mean, std]}``.

    Raises:
        RandomizationError: naming ``where``.
    """
    kind = raw.get("dist")
    if kind is None:
        raise RandomizationError(f"{where}: missing 'dist' (one of {', '.join(KINDS)})")
    if kind not in KINDS:
        raise RandomizationError(f"{where}: unknown distribution '{kind}' (known: {', '.join(KINDS)})")
    for key in ("low", "high"):
        if key not in raw:
            raise RandomizationError(f"{where}: a {kind} distribution needs '{key}'")
    low = _numbers(raw["low"], where, "low")
    high = _numbers(raw["high"], where, "high")
    if len(low) != len(high) and 1 not in (len(low), len(high)):
        raise RandomizationError(f"{where}: low has {len(low)} values and high {len(high)}")
    lo, hi = np.broadcast_arrays(np.array(low), np.array(high))
    if np.any(lo > hi):
        raise RandomizationError(f"{where}: low {list(low)} is above high {list(high)}")
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    if kind == "normal":
        for key in ("mean", "std"):
            if key not in raw:
                raise RandomizationError(
                    f"{where}: a normal distribution needs '{key}' (and clip bounds low, high)"
                )
        mean = _numbers(raw["mean"], where, "mean")
        std = _numbers(raw["std"], where, "std")
        if any(s <= 0 for s in std):
            raise RandomizationError(f"{where}: std must be positive, got {list(std)}")
    else:
        extra = [k for k in ("mean", "std") if k in raw]
        if extra:
            raise RandomizationError(f"{where}: '{extra[0]}' applies to normal distributions only")
    if kind == "loguniform" and min(low) <= 0:
        raise RandomizationError(f"{where}: a loguniform distribution needs low > 0, got {list(low)}")
    if integer:
        if kind == "loguniform":
            raise RandomizationError(f"{where}: whole steps are drawn from uniform or normal distributions")
        if any(v != round(v) for v in (*low, *high)):
            raise RandomizationError(
                f"{where}: steps must be whole numbers, got low {list(low)}, high {list(high)}"
            )
    return Distribution(kind, low, high, mean, std, integer)


def _compose(lo: np.ndarray, hi: np.ndarray, mode: str, dlo: np.ndarray, dhi: np.ndarray) -> tuple:
    """Range of the value after one entry (exact interval arithmetic: the draws are independent)."""
    if mode == "absolute":
        return dlo.copy(), dhi.copy()
    if mode == "additive":
        return lo + dlo, hi + dhi
    corners = np.stack([lo * dlo, lo * dhi, hi * dlo, hi * dhi])
    return corners.min(axis=0), corners.max(axis=0)


def _check_domain(name: str, quantity: str, lo: np.ndarray, hi: np.ndarray, label: str) -> None:
    if quantity in POSITIVE and np.any(lo <= 0):
        raise RandomizationError(f"{label}: {name} would reach {lo.min():.6g}, but it must be positive")
    if quantity in NONNEGATIVE and np.any(lo < 0):
        what = "a negative noise" if quantity in ("noise", "noise_density") else f"a negative {quantity}"
        raise RandomizationError(f"{label}: {name} would reach {lo.min():.6g}, {what}")


def _parse_entry(raw: Any, section: str, i: int, ns: Namespace) -> ParamEntry:
    where = f"{section}[{i}]"
    raw = mapping(raw, where)
    if "param" not in raw:
        raise RandomizationError(f"{where}: missing 'param' (a parameter name or pattern)")
    param = str(raw["param"])
    label = f"{where} '{param}'"
    check_keys(raw, _ENTRY_KEYS, label)
    try:
        names = ns.resolve(param)
    except ParameterError as exc:
        raise RandomizationError(f"{label}: {exc}") from None
    allowed = SECTIONS[section]
    for name in names:
        group = ns.info[name].group
        if group not in allowed:
            home = next(s for s, groups in SECTIONS.items() if group in groups and s != "delays")
            raise RandomizationError(f"{label}: {group} parameters belong in '{home}', not '{section}'")
        quantity = ns.info[name].quantity
        if section == "delays" and quantity != "delay":
            raise RandomizationError(
                f"{label}: only actuator delays belong in 'delays' ({name} goes in 'motors')"
            )
        if section == "motors" and quantity == "delay":
            raise RandomizationError(f"{label}: actuator delays belong in 'delays'")
    mode = raw.get("mode")
    if mode not in MODES:
        raise RandomizationError(f"{label}: 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
    unit = raw.get("unit", "si")
    if unit not in ("si", "physics_steps"):
        raise RandomizationError(f"{label}: 'unit' must be si or physics_steps, got {unit!r}")
    quantities = {ns.info[n].quantity for n in names}
    if unit == "physics_steps" and quantities != {"delay"}:
        raise RandomizationError(f"{label}: unit physics_steps applies to delays only")
    jitter = raw.get("jitter", 0)
    if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
        raise RandomizationError(f"{label}: 'jitter' must be a whole number of steps >= 0, got {jitter!r}")
    if jitter and (section != "delays" or unit != "physics_steps"):
        raise RandomizationError(f"{label}: 'jitter' applies to actuator delays stated in physics_steps")
    if unit == "physics_steps" and mode == "scale":
        raise RandomizationError(f"{label}: a delay in steps is absolute or additive, not a scale")
    shared = raw.get("shared", False)
    if not isinstance(shared, bool):
        raise RandomizationError(f"{label}: 'shared' must be true or false")
    dist = parse_distribution(raw, label, integer=unit == "physics_steps")
    sizes = {ns.info[n].size for n in names}
    if dist.size != 1 and sizes != {dist.size}:
        raise RandomizationError(
            f"{label}: bounds have {dist.size} components but the parameters have {sorted(sizes)}"
        )
    if shared and len(sizes) != 1:
        raise RandomizationError(f"{label}: 'shared' needs parameters of one size, got sizes {sorted(sizes)}")
    for name in names:
        info = ns.info[name]
        if info.group == "link" and mode != "scale":
            raise RandomizationError(f"{label}: link lengths are randomized as a scale of nominal")
        if mode == "scale" and np.any(info.nominal == 0):
            raise RandomizationError(
                f"{label}: {name} is 0 at nominal, so a scale cannot move it; use absolute or additive"
            )
    return ParamEntry(where, section, param, tuple(names), mode, dist, shared, unit, int(jitter))


def _resolve_parameters(entries: Sequence[ParamEntry], ns: Namespace) -> tuple[ResolvedParam, ...]:
    """Ranges of every randomized parameter; checks domains and delay capacities."""
    by_name: dict[str, list[ParamEntry]] = {}
    for e in entries:
        for name in e.names:
            by_name.setdefault(name, []).append(e)
    dt = ns.model.opt.timestep
    # link scales act on the centre of mass and the inertia of their body
    link_range: dict[str, tuple[float, float]] = {}
    rows: dict[str, ResolvedParam] = {}
    ordered = [n for n in ns.info if n in by_name]
    for name in sorted(ordered, key=lambda n: not n.startswith("link.")):  # links first
        info = ns.info[name]
        lo, hi = info.nominal.astype(float).copy(), info.nominal.astype(float).copy()
        if info.group == "body" and info.element in link_range and info.quantity in ("com", "inertia"):
            s_lo, s_hi = link_range[info.element]
            power = 1 if info.quantity == "com" else 2
            lo, hi = _compose(lo, hi, "scale", np.full_like(lo, s_lo**power), np.full_like(lo, s_hi**power))
        if info.quantity == "inertia" and f"body.{info.element}.mass" in rows:
            mass = rows[f"body.{info.element}.mass"]
            ratio_lo, ratio_hi = mass.low / mass.nominal, mass.high / mass.nominal
            lo, hi = _compose(lo, hi, "scale", ratio_lo * np.ones_like(lo), ratio_hi * np.ones_like(lo))
        jitter = 0
        for e in by_name[name]:
            dlo = np.broadcast_to(np.asarray(e.dist.low, dtype=float), lo.shape).copy()
            dhi = np.broadcast_to(np.asarray(e.dist.high, dtype=float), lo.shape).copy()
            if e.unit == "physics_steps":
                dlo, dhi = dlo * dt, dhi * dt
            lo, hi = _compose(lo, hi, e.mode, dlo, dhi)
            _check_domain(name, info.quantity, lo, hi, e.label)
            jitter = max(jitter, e.jitter)
            if info.quantity == "delay":
                capacity = ns.delay_capacity(name)
                longest = float(hi.max()) + jitter * dt
                if longest > capacity + 1e-12:
                    raise RandomizationError(
                        f"{e.label}: {name} could reach {longest:.6g} s (with jitter), beyond the model's "
                        f"delay capacity {capacity:.6g} s (raise the parameter's bound in the robot spec)"
                    )
        if info.quantity == "inertia" and any(e.dist.size > 1 for e in by_name[name]):
            for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):  # worst case of independent components
                if lo[a] + lo[b] < hi[c]:
                    raise RandomizationError(
                        f"{by_name[name][-1].label}: {name} could break A + B >= C of principal inertias "
                        "(give one scale range for the three, which scales them alike)"
                    )
        if info.group == "link":
            link_range[info.element] = (float(lo[0]), float(hi[0]))
        rows[name] = ResolvedParam(name, info.unit, info.nominal.copy(), tuple(by_name[name]), lo, hi)
    # bodies whose link is scaled carry their scaled centre of mass and inertia even when not randomized
    for element, (s_lo, s_hi) in link_range.items():
        for quantity, power in (("com", 1), ("inertia", 2)):
            name = f"body.{element}.{quantity}"
            if name in rows:
                continue
            info = ns.info[name]
            lo, hi = _compose(
                info.nominal,
                info.nominal,
                "scale",
                np.full(info.size, s_lo**power),
                np.full(info.size, s_hi**power),
            )
            rows[name] = ResolvedParam(name, info.unit, info.nominal.copy(), (), lo, hi)
    for name in list(rows):
        if name.endswith(".noise_density"):
            target = name.removesuffix("_density")
            if target in rows:
                raise RandomizationError(
                    f"{rows[name].entries[0].label}: {target} is randomized both as a noise and as a noise density"
                )
    return tuple(rows[n] for n in ns.info if n in rows)


def _parse_terrain(raw: Any, spec: RobotSpec) -> TerrainConfig:
    raw = mapping(raw, "terrain")
    check_keys(
        raw, {"kind", "height", "size", "resolution", "feature", "pad_radius", "pad_spacing"}, "terrain"
    )
    if not spec.floating_base:
        raise RandomizationError(
            f"terrain: {spec.name} has a fixed base; only floating-base robots walk on terrain"
        )
    kind = raw.get("kind", "rough")
    if kind not in ("rough", "steps"):
        raise RandomizationError(f"terrain: 'kind' must be rough or steps, got {kind!r}")
    if "height" not in raw:
        raise RandomizationError("terrain: missing 'height' (a distribution of the bump height [m])")
    height = parse_distribution(mapping(raw["height"], "terrain.height"), "terrain.height")
    if min(height.low) < 0 or height.size != 1:
        raise RandomizationError("terrain.height: one non-negative range [m] (low >= 0)")
    kwargs: dict[str, float] = {}
    for key in ("size", "resolution", "feature", "pad_radius", "pad_spacing"):
        if key in raw:
            (value,) = _numbers(raw[key], "terrain", key)
            if value <= 0:
                raise RandomizationError(f"terrain.{key} must be positive, got {value}")
            kwargs[key] = value
    cfg = TerrainConfig(kind, height, **kwargs)
    if cfg.resolution * 4 > cfg.size or cfg.pad_radius * 2 > cfg.pad_spacing or cfg.feature < cfg.resolution:
        raise RandomizationError(
            "terrain: need resolution <= size / 4, pad_radius <= pad_spacing / 2 and feature >= resolution"
        )
    if 2 * cfg.size / cfg.resolution > 2000:
        raise RandomizationError(
            "terrain: more than 2000 x 2000 samples; raise the resolution or lower the size"
        )
    return cfg


def _parse_other(key: str, raw: Any, spec: RobotSpec, ns: Namespace) -> Any:
    if key == "slope":
        dist = parse_distribution(mapping(raw, key), key)
        if min(dist.low) < 0 or max(dist.high) >= math.pi / 2 or dist.size != 1:
            raise RandomizationError("slope: the tilt [rad] must lie in [0, pi/2)")
        return dist
    if key == "dropout":
        dist = parse_distribution(mapping(raw, key), key)
        if min(dist.low) < 0 or max(dist.high) >= 1 or dist.size != 1:
            raise RandomizationError("dropout: the drop probability must lie in [0, 1)")
        return dist
    if key == "action_delay":
        raw = mapping(raw, key)
        check_keys(raw, _DIST_KEYS | {"jitter"}, key)
        dist = parse_distribution({k: v for k, v in raw.items() if k != "jitter"}, key, integer=True)
        if min(dist.low) < 0 or dist.size != 1:
            raise RandomizationError("action_delay: the delay [control steps] must be >= 0")
        jitter = raw.get("jitter", 0)
        if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
            raise RandomizationError(
                f"action_delay: 'jitter' must be a whole number of steps >= 0, got {jitter!r}"
            )
        return ActionDelayConfig(dist, jitter)
    if key == "terrain":
        return _parse_terrain(raw, spec)
    raw = mapping(raw, key)  # pushes
    check_keys(raw, {"body", "force", "duration", "interval"}, key)
    for k in ("body", "force", "interval"):
        if k not in raw:
            raise RandomizationError(f"pushes: missing '{k}'")
    body = str(raw["body"])
    if mujoco.mj_name2id(ns.model, mujoco.mjtObj.mjOBJ_BODY, body) < 0:
        raise RandomizationError(f"pushes: body '{body}' is not in {spec.name}'s model")
    force = _numbers(raw["force"], "pushes", "force")
    interval = _numbers(raw["interval"], "pushes", "interval")
    (duration,) = _numbers(raw.get("duration", 0.1), "pushes", "duration")
    if len(force) != 2 or not 0 <= force[0] <= force[1]:
        raise RandomizationError(
            f"pushes.force must be [low, high] with 0 <= low <= high [N], got {list(force)}"
        )
    if len(interval) != 2 or not 0 < interval[0] <= interval[1]:
        raise RandomizationError(
            f"pushes.interval must be [low, high] with 0 < low <= high [s], got {list(interval)}"
        )
    if duration <= 0:
        raise RandomizationError(f"pushes.duration must be positive, got {duration}")
    return PushesConfig(body, force[0], force[1], duration, interval[0], interval[1])


def parse_parts(raw: Mapping[str, Any], spec: RobotSpec) -> dict[str, Any]:
    """The validated parts of a config mapping (already checked for unknown top-level keys).

    Returns:
        ``entries``, ``parameters``, ``link_pool`` and each :data:`OTHER_KEYS` randomization given.

    Raises:
        RandomizationError: naming the first bad entry.
    """
    ns = namespace(spec)
    entries: list[ParamEntry] = []
    for section in SECTIONS:
        items = raw.get(section) or []
        if not isinstance(items, list):
            raise RandomizationError(f"{section} must be a list of entries, got {type(items).__name__}")
        entries.extend(_parse_entry(item, section, i, ns) for i, item in enumerate(items))
    others = {k: _parse_other(k, raw[k], spec, ns) for k in OTHER_KEYS if raw.get(k) is not None}
    parameters = _resolve_parameters(entries, ns)
    if others.get("slope") is not None and "world.gravity" in {p.name for p in parameters}:
        raise RandomizationError("slope: world.gravity is randomized in 'physics' too; use one of them")
    pool = raw.get("link_pool", 16)
    if isinstance(pool, bool) or not isinstance(pool, int) or not 1 <= pool <= 4096:
        raise RandomizationError(f"link_pool must be a whole number in [1, 4096], got {pool!r}")
    return {"entries": tuple(entries), "parameters": parameters, "link_pool": pool, **others}
