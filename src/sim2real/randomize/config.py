"""Randomization configs: what is randomized, how it is drawn, validated against a robot.

A config is a YAML mapping (or a dict) with these keys, every one optional::

    name: default                   # defaults to the file stem
    robot: quadruped                # checked against the robot when given
    description: one line
    physics:                        # body.* / geom.* / joint.* / world.* and link.*.length
      - {param: body.*.mass, mode: scale, dist: uniform, low: 0.9, high: 1.1}   # masses x U(0.9, 1.1)
    motors:                         # actuator.* (but delays) / motor.*
      - {param: actuator.*.strength, mode: scale, dist: uniform, low: 0.8, high: 1.2}
    delays:                         # actuator.*.delay, MuJoCo's native delay inside the physics substeps
      - {param: actuator.*.delay, mode: absolute, unit: physics_steps, dist: uniform, low: 0, high: 2, jitter: 1}
    sensors:                        # sensor.*.bias / .noise / .delay and sensor.*.noise_density
      - {param: sensor.imu_gyro.noise_density, mode: absolute, dist: loguniform, low: 1.0e-3, high: 5.0e-3}
    link_pool: 16                   # compiled model variants drawn for link.*.length entries
    slope: {dist: uniform, low: 0.0, high: 0.1}              # gravity tilt [rad], random direction
    terrain: {kind: rough, height: {dist: uniform, low: 0.0, high: 0.05}}   # floating base only
    action_delay: {dist: uniform, low: 0, high: 1, jitter: 1}             # in control steps
    dropout: {dist: uniform, low: 0.0, high: 0.05}           # probability a reading is dropped (held)
    pushes: {body: base, force: [10.0, 40.0], duration: 0.1, interval: [3.0, 6.0]}

Every parameter entry names a parameter or ``*`` pattern of :mod:`sim2real.params`, a ``mode``
(``scale`` of the nominal value, ``absolute`` value, or ``additive`` offset from nominal) and a
distribution (``uniform`` / ``loguniform`` with ``low``, ``high``; ``normal`` with ``mean``,
``std`` and clip bounds ``low``, ``high``).  Options: ``shared: true`` draws one value per
simulation for every parameter the pattern matches (e.g. one friction for all feet); ``unit:
physics_steps`` states a delay in whole physics steps; ``jitter: J`` (actuator delays in physics
steps) adds U{0..J} steps anew at every control step.  Entries apply in file order, each to the
value the previous ones left (so ``body.*.mass`` x scale then ``body.base.mass`` + payload
compose).  A ``body.<b>.inertia`` entry with one range draws one number for the three principal
moments of the body (they scale alike, so A + B >= C holds).  Two names beyond the parameter
namespace:

- ``link.<body>.length`` (scale only): the body's child bodies, geoms and sites move away from
  its origin by the factor, its centre of mass with them, its inertia by the factor squared (the
  mass stays); drawn from a pool of ``link_pool`` compiled model variants;
- ``sensor.<s>.noise_density`` [sensor units/sqrt(Hz)]: white-noise density, written as the
  per-reading standard deviation ``sensor.<s>.noise = density / sqrt(control_dt)``.

Loading validates everything up front and raises :class:`RandomizationError` naming the entry:
unknown keys, parameters, modes or distributions, ``low > high``, values that would leave a
parameter's physical domain (negative noise, non-positive mass), delays beyond the model's delay
buffers, terrain on a fixed-base robot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import mujoco
import numpy as np
import yaml

from sim2real.calibration import Calibration
from sim2real.errors import ParameterError, Sim2RealError
from sim2real.params import Parameters, ParamInfo
from sim2real.randomize.distributions import KINDS, Distribution
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""Folder of the built-in configs: ``<robot>_<name>.yaml`` (and ``<robot>_ladder.yaml`` curricula)."""

Mode = Literal["scale", "absolute", "additive"]
MODES: tuple[str, ...] = ("scale", "absolute", "additive")

SECTIONS: dict[str, tuple[str, ...]] = {
    "physics": ("body", "geom", "joint", "world", "link"),
    "motors": ("actuator", "motor"),
    "delays": ("actuator",),
    "sensors": ("sensor",),
}
"""Parameter sections and the parameter groups each accepts."""

OTHER_KEYS: tuple[str, ...] = ("slope", "terrain", "action_delay", "dropout", "pushes")
"""Randomizations that are not named parameters."""

_TOP_KEYS = {"name", "robot", "description", "link_pool", *SECTIONS, *OTHER_KEYS}
_ENTRY_KEYS = {"param", "mode", "dist", "low", "high", "mean", "std", "shared", "unit", "jitter"}
_DIST_KEYS = {"dist", "low", "high", "mean", "std"}
_POSITIVE = {"mass", "inertia", "resistance", "kt", "torque_limit", "kp", "strength", "length"}
_NONNEGATIVE = {
    "damping",
    "frictionloss",
    "armature",
    "delay",
    "noise",
    "kd",
    "ke",
    "friction",
    "noise_density",
}


class RandomizationError(Sim2RealError):
    """A randomization config is malformed or does not fit the robot; the message names the entry."""


# ---------------------------------------------------------------------------------------- namespace
class Namespace:
    """The names a config may randomize on one robot: its parameters plus ``link.<b>.length`` and
    ``sensor.<s>.noise_density``.

    Args:
        spec: The robot.
        model: Its compiled nominal model (built when None).
    """

    def __init__(self, spec: RobotSpec, model: mujoco.MjModel | None = None) -> None:
        self.spec = spec
        self.model = model if model is not None else build_model(spec)
        self.params = Parameters(spec, self.model)
        self.info: dict[str, ParamInfo] = {}
        m = self.model
        for name in self.params.names:
            info = self.params.info(name)
            self.info[name] = info
            if info.group == "sensor" and info.quantity == "noise":
                dens = info.nominal * math.sqrt(spec.control_dt)
                self.info[f"sensor.{info.element}.noise_density"] = ParamInfo(
                    f"sensor.{info.element}.noise_density",
                    "sensor",
                    info.element,
                    "noise_density",
                    1,
                    "sensor units/sqrt(Hz)",
                    info.index,
                    dens,
                    np.zeros(1),
                    np.full(1, np.inf),
                )
        for b in range(1, m.nbody):
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b)
            if not name or m.body_mass[b] <= 0:
                continue
            children = np.flatnonzero(m.body_parentid == b)
            children = children[children != b]
            offsets = [np.linalg.norm(m.body_pos[c]) for c in children]
            offsets += [np.linalg.norm(m.geom_pos[g]) for g in np.flatnonzero(m.geom_bodyid == b)]
            offsets += [np.linalg.norm(m.site_pos[s]) for s in np.flatnonzero(m.site_bodyid == b)]
            if any(o > 1e-9 for o in offsets):
                one = np.ones(1)
                self.info[f"link.{name}.length"] = ParamInfo(
                    f"link.{name}.length", "link", name, "length", 1, "1", b, one, one * 0.5, one * 1.5
                )

    def resolve(self, pattern: str) -> list[str]:
        """Concrete names matching a name or pattern, in registry order.

        Raises:
            ParameterError: malformed pattern or no match.
        """
        import fnmatch

        pseudo = pattern.startswith("link.") or pattern.endswith(".noise_density")
        if not pseudo:
            return self.params.resolve([pattern])
        hits = [n for n in self.info if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ParameterError(f"'{pattern}' matches no parameter of {self.spec.name}")
        return hits

    def delay_capacity(self, name: str) -> float:
        """Longest delay [s] the model's history buffer of an actuator or sensor can hold."""
        info = self.info[name]
        field_ = "actuator_history" if info.group == "actuator" else "sensor_history"
        return float((getattr(self.model, field_)[info.index, 0] - 2) * self.model.opt.timestep)


_NAMESPACES: dict[tuple[str, str], Namespace] = {}


def namespace(spec: RobotSpec) -> Namespace:
    """The (cached) namespace of a robot's nominal model."""
    key = (str(spec.path), spec.hash)
    if key not in _NAMESPACES:
        _NAMESPACES[key] = Namespace(spec)
    return _NAMESPACES[key]


# ----------------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class ParamEntry:
    """One randomized parameter (or pattern) of a config."""

    where: str
    """Position in the config, e.g. ``physics[2]``, for messages."""
    section: str
    """physics, motors, delays or sensors."""
    param: str
    """Parameter name or pattern as written."""
    names: tuple[str, ...]
    """Concrete names it matched, in registry order."""
    mode: Mode
    """``scale`` (x nominal), ``absolute`` or ``additive`` (+ nominal)."""
    dist: Distribution
    """Distribution of the drawn number (a factor, a value or an offset, by mode)."""
    shared: bool = False
    """One draw per simulation for every matched name, instead of one each."""
    unit: Literal["si", "physics_steps"] = "si"
    """Unit of the drawn number: the parameter's SI unit, or whole physics steps (delays)."""
    jitter: int = 0
    """Extra delay U{0..jitter} physics steps drawn anew every control step (actuator delays)."""

    @property
    def label(self) -> str:
        """``physics[2] 'body.*.mass'``."""
        return f"{self.where} '{self.param}'"


@dataclass(frozen=True)
class TerrainConfig:
    """Uneven ground under a floating-base robot: a heightfield, placed per simulation per episode.

    One heightfield of ``2 size`` x ``2 size`` m is generated once (seeded) with flat spawn pads on
    a grid; each episode a simulation stands on a random pad, with the field turned by a random
    quarter turn and sunk into the floor so that its tallest bumps rise ``height`` above it.
    """

    kind: Literal["rough", "steps"]
    """``rough``: smooth random bumps; ``steps``: square cells of random heights (stepping stones)."""
    height: Distribution
    """Height of the tallest bumps or steps above the floor [m], drawn per simulation per episode."""
    size: float = 8.0
    """Half-width of the terrain [m]."""
    resolution: float = 0.05
    """Grid spacing of the heightfield [m]."""
    feature: float = 0.3
    """Width of a bump (rough) or of a cell (steps) [m]."""
    pad_radius: float = 0.6
    """Radius of the flat spawn pads [m]."""
    pad_spacing: float = 2.5
    """Distance between spawn pads [m]; pads cover the inner half of the terrain."""


@dataclass(frozen=True)
class ActionDelayConfig:
    """Delay of the commands in whole control steps (a ring buffer before the physics)."""

    delay: Distribution
    """Delay [control steps] drawn per simulation per episode (integers)."""
    jitter: int = 0
    """Extra delay U{0..jitter} control steps drawn anew at every step; a command never
    overtakes a newer one (the newest arrived command is held)."""


@dataclass(frozen=True)
class PushesConfig:
    """External pushes (see :class:`sim2real.sim.disturbances.PushConfig`)."""

    body: str
    """Body pushed at its centre of mass."""
    force_low: float
    """Smallest force magnitude [N]."""
    force_high: float
    """Largest force magnitude [N] (uniform in between, random horizontal direction)."""
    duration: float
    """How long each push lasts [s]."""
    interval_low: float
    """Shortest time between push starts [s]."""
    interval_high: float
    """Longest time between push starts [s] (uniform in between)."""


@dataclass(frozen=True, eq=False)
class ResolvedParam:
    """What happens to one concrete parameter (for summaries)."""

    name: str
    """Concrete name (may be a ``link.*.length`` or ``*.noise_density`` name)."""
    unit: str
    """Unit of the value."""
    nominal: np.ndarray
    """Nominal value, shape (size,)."""
    entries: tuple[ParamEntry, ...]
    """Entries applied, in order."""
    low: np.ndarray
    """Lowest value the entries can produce, shape (size,)."""
    high: np.ndarray
    """Highest value, shape (size,)."""


@dataclass(frozen=True, eq=False)
class Randomization:
    """A validated randomization config, resolved against one robot.  Build with
    :func:`load_randomization`."""

    name: str
    """Config name (built-in name or file stem)."""
    robot: str
    """Robot it was resolved against."""
    source: str
    """Where it came from: ``builtin:<file>``, a file path, or ``inline``."""
    entries: tuple[ParamEntry, ...] = ()
    """Parameter entries of physics, motors, delays and sensors, in file order."""
    parameters: tuple[ResolvedParam, ...] = ()
    """Every randomized concrete parameter with its resulting range, in registry order."""
    link_pool: int = 16
    """Number of compiled model variants drawn for link lengths."""
    slope: Distribution | None = None
    """Tilt of gravity from vertical [rad] (random direction), or None."""
    terrain: TerrainConfig | None = None
    """Uneven ground, or None."""
    action_delay: ActionDelayConfig | None = None
    """Command delay in control steps, or None."""
    dropout: Distribution | None = None
    """Probability that a sensor reading is dropped (previous one held), per simulation per episode."""
    pushes: PushesConfig | None = None
    """Pushes, or None."""
    description: str = ""
    """One line about the config."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """The mapping it was parsed from (for sub-configs of curriculum stages)."""

    @property
    def is_empty(self) -> bool:
        """Whether nothing is randomized (a perfect simulator)."""
        return not self.entries and all(getattr(self, k) is None for k in OTHER_KEYS)

    def sections(self) -> tuple[str, ...]:
        """Keys of the config that randomize something, in canonical order."""
        used = {e.section for e in self.entries} | {k for k in OTHER_KEYS if getattr(self, k) is not None}
        return tuple(k for k in (*SECTIONS, *OTHER_KEYS) if k in used)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of everything randomized (stored in policy metadata).

        ``parameters`` lists every randomized concrete parameter with its nominal value, the
        entries applied (mode and distribution) and the range of the resulting value.
        """

        def plain(a: np.ndarray) -> float | list[float]:
            a = np.asarray(a, dtype=float)
            return float(a[0]) if a.size == 1 else [float(x) for x in a]

        rows = []
        for p in self.parameters:
            row: dict[str, Any] = {
                "param": p.name,
                "unit": p.unit,
                "nominal": plain(p.nominal),
                "draws": [
                    {
                        "entry": e.label,
                        "mode": e.mode,
                        **({"unit": e.unit} if e.unit != "si" else {}),
                        **({"jitter_steps": e.jitter} if e.jitter else {}),
                        **({"shared": True} if e.shared else {}),
                        **e.dist.as_dict(),
                    }
                    for e in p.entries
                ],
                "range": [plain(p.low), plain(p.high)],
            }
            rows.append(row)
        out: dict[str, Any] = {
            "name": self.name,
            "robot": self.robot,
            "source": self.source,
            "description": self.description,
            "parameters": rows,
        }
        if any(p.name.startswith("link.") for p in self.parameters):
            out["link_pool"] = self.link_pool
        if self.slope is not None:
            out["slope"] = {"unit": "rad", "direction": "U(0, 2 pi)", **self.slope.as_dict()}
        if self.terrain is not None:
            t = self.terrain
            out["terrain"] = {
                "kind": t.kind,
                "height": {"unit": "m", **t.height.as_dict()},
                "size": t.size,
                "resolution": t.resolution,
                "feature": t.feature,
                "pad_radius": t.pad_radius,
                "pad_spacing": t.pad_spacing,
            }
        if self.action_delay is not None:
            out["action_delay"] = {
                "unit": "control_steps",
                "jitter_steps": self.action_delay.jitter,
                **self.action_delay.delay.as_dict(),
            }
        if self.dropout is not None:
            out["dropout"] = {"unit": "probability per reading", **self.dropout.as_dict()}
        if self.pushes is not None:
            p = self.pushes
            out["pushes"] = {
                "body": p.body,
                "force": [p.force_low, p.force_high],
                "duration": p.duration,
                "interval": [p.interval_low, p.interval_high],
                "text": f"|F| ~ U({p.force_low:g}, {p.force_high:g}) N, horizontal, for {p.duration:g} s "
                f"every U({p.interval_low:g}, {p.interval_high:g}) s",
            }
        return out

    @classmethod
    def from_calibration(
        cls,
        calib: Calibration,
        widen: float = 2.0,
        *,
        spec: RobotSpec | None = None,
        base: str | Path | Mapping[str, Any] | Randomization | None = None,
        **options: Any,
    ) -> Randomization:
        """Randomization around an identified robot.

        One ``absolute`` uniform entry per calibrated parameter, centred on the identified value and
        spanning ``widen`` times its confidence interval (at least ``min_rel_width`` of the value),
        clipped to the parameter's bounds and physical domain; parameters the logs could not
        determine span the spec's bounds (or value +- ``fallback_rel``).  Built as a mapping and
        validated like any config; see :mod:`sim2real.randomize.calibrated`.

        Args:
            calib: A :class:`~sim2real.calibration.Calibration` (e.g. ``load_calibration(path)``).
            widen: Half-width of each range in half-widths of the confidence interval.
            spec: The robot (default: the embedded robot the calibration names).
            base: A config whose other randomizations (noise, delays, pushes...) are kept.
            **options: ``min_rel_width``, ``fallback_rel``, ``name`` (see
                :func:`~sim2real.randomize.calibrated.calibrated_randomization`).

        Raises:
            SpecMismatchError: the calibration was made for another spec.
            RandomizationError: invalid options or entries.
        """
        from sim2real.randomize.calibrated import calibrated_randomization
        from sim2real.robots import load_robot

        if not isinstance(calib, Calibration):
            raise RandomizationError(
                f"from_calibration needs a calibration (sim2real.calibration.Calibration), got {type(calib).__name__}"
            )
        if spec is None:
            spec = load_robot(str(calib.robot))
        return calibrated_randomization(spec, calib, widen, base, **options)


# --------------------------------------------------------------------------------------- parsing
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


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise RandomizationError(f"{where} must be a mapping, got {type(raw).__name__}")
    return raw


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
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
    if quantity in _POSITIVE and np.any(lo <= 0):
        raise RandomizationError(f"{label}: {name} would reach {lo.min():.6g}, but it must be positive")
    if quantity in _NONNEGATIVE and np.any(lo < 0):
        what = "a negative noise" if quantity in ("noise", "noise_density") else f"a negative {quantity}"
        raise RandomizationError(f"{label}: {name} would reach {lo.min():.6g}, {what}")


def _parse_entry(raw: Any, section: str, i: int, ns: Namespace) -> ParamEntry:
    where = f"{section}[{i}]"
    raw = _mapping(raw, where)
    if "param" not in raw:
        raise RandomizationError(f"{where}: missing 'param' (a parameter name or pattern)")
    param = str(raw["param"])
    label = f"{where} '{param}'"
    _check_keys(raw, _ENTRY_KEYS, label)
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
    raw = _mapping(raw, "terrain")
    _check_keys(
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
    height = parse_distribution(_mapping(raw["height"], "terrain.height"), "terrain.height")
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
        dist = parse_distribution(_mapping(raw, key), key)
        if min(dist.low) < 0 or max(dist.high) >= math.pi / 2 or dist.size != 1:
            raise RandomizationError("slope: the tilt [rad] must lie in [0, pi/2)")
        return dist
    if key == "dropout":
        dist = parse_distribution(_mapping(raw, key), key)
        if min(dist.low) < 0 or max(dist.high) >= 1 or dist.size != 1:
            raise RandomizationError("dropout: the drop probability must lie in [0, 1)")
        return dist
    if key == "action_delay":
        raw = _mapping(raw, key)
        _check_keys(raw, _DIST_KEYS | {"jitter"}, key)
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
    raw = _mapping(raw, key)  # pushes
    _check_keys(raw, {"body", "force", "duration", "interval"}, key)
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


def parse_randomization(
    raw: Mapping[str, Any], spec: RobotSpec, *, name: str = "inline", source: str = "inline"
) -> Randomization:
    """Validate a config mapping against a robot.

    Raises:
        RandomizationError: naming the first bad entry.
    """
    if raw is None:
        raw = {}
    raw = _mapping(raw, f"randomization '{name}'")
    _check_keys(raw, _TOP_KEYS, f"randomization '{name}'")
    if "robot" in raw and str(raw["robot"]) != spec.name:
        raise RandomizationError(
            f"randomization '{name}' is written for robot '{raw['robot']}', not '{spec.name}'"
        )
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
    return Randomization(
        name=str(raw.get("name", name)),
        robot=spec.name,
        source=source,
        entries=tuple(entries),
        parameters=parameters,
        link_pool=pool,
        description=str(raw.get("description", "")),
        raw=MappingProxyType(dict(raw)),
        **others,
    )


def builtin_names(robot: str) -> list[str]:
    """Names of the built-in randomization configs of an embedded robot (``none`` always exists)."""
    names = {p.stem.split("_", 1)[1] for p in CONFIG_DIR.glob(f"{robot}_*.yaml")}
    names.discard("ladder")
    return sorted(names | {"none"})


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise RandomizationError(f"randomization file not found: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise RandomizationError(f"{path}: not valid YAML ({first})") from None


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text


def load_randomization(
    spec: RobotSpec, name_or_path: str | Path | Mapping[str, Any] | Randomization | None
) -> Randomization:
    """A validated randomization config for a robot.

    Args:
        spec: The robot.
        name_or_path: A built-in name (``none``, ``default``, ``full``; see :func:`builtin_names`),
            a YAML file, a mapping, an already loaded :class:`Randomization`, or None (``none``).

    Raises:
        RandomizationError: unknown name, missing or malformed file, invalid entries (the message
            names the entry).
    """
    if name_or_path is None:
        name_or_path = "none"
    if isinstance(name_or_path, Randomization):
        if name_or_path.robot != spec.name:
            raise RandomizationError(
                f"randomization '{name_or_path.name}' was resolved for {name_or_path.robot}, not {spec.name}"
            )
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return parse_randomization(name_or_path, spec)
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or _looks_like_path(text) or Path(text).is_file():
        path = Path(text)
        return parse_randomization(_read_yaml(path) or {}, spec, name=path.stem, source=str(path))
    path = CONFIG_DIR / f"{spec.name}_{text}.yaml"
    if path.is_file():
        return parse_randomization(_read_yaml(path) or {}, spec, name=text, source=f"builtin:{path.name}")
    if text == "none":
        return parse_randomization({}, spec, name="none", source="builtin")
    available = ", ".join(builtin_names(spec.name))
    raise RandomizationError(
        f"no built-in randomization '{text}' for robot {spec.name} (built-in: {available}); "
        "give a YAML file instead"
    )
