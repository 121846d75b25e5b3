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

Modules: this one loads configs (built-in, file, mapping) into a :class:`Randomization`;
:mod:`~sim2real.randomize.parse` validates entries, :mod:`~sim2real.randomize.schema` holds the
types, :mod:`~sim2real.randomize.namespace` the names and domains, and
:mod:`~sim2real.randomize.calibrated` the ranges of :meth:`Randomization.from_calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from sim2real.calibration import Calibration
from sim2real.randomize.distributions import Distribution
from sim2real.randomize.namespace import namespace
from sim2real.randomize.parse import TOP_KEYS, check_keys, mapping, parse_parts
from sim2real.randomize.schema import (
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
from sim2real.text import read_text

__all__ = [
    "CONFIG_DIR",
    "Randomization",
    "builtin_names",
    "check_bounds",
    "load_randomization",
    "looks_like_path",
    "parse_randomization",
    "read_yaml",
]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""Folder of the built-in configs: ``<robot>_<name>.yaml`` (and ``<robot>_ladder.yaml`` curricula)."""


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
            **options: ``min_rel_width``, ``fallback_rel`` (see
                :func:`~sim2real.randomize.calibrated.calibrated_entries`), ``name`` (default
                ``calibrated``).

        Raises:
            SpecMismatchError: the calibration was made for another spec.
            RandomizationError: invalid options or entries.
        """
        from sim2real.randomize.calibrated import calibrated_entries
        from sim2real.robots import load_robot

        if not isinstance(calib, Calibration):
            raise RandomizationError(
                f"from_calibration needs a calibration (sim2real.calibration.Calibration), got {type(calib).__name__}"
            )
        if spec is None:
            spec = load_robot(str(calib.robot))
        name = str(options.pop("name", "calibrated"))
        entries = calibrated_entries(spec, calib, widen, **options)
        raw, base_name = _base_mapping(spec, base, set(calib.params))
        for section, items in entries.items():
            if items:
                raw[section] = [*raw.get(section, []), *items]
        over = f" over '{base_name}'" if base_name else ""
        raw["name"] = name
        raw["description"] = (
            f"centred on the calibration of spec {str(calib.spec_hash)[:12]}: {len(calib.params)} parameters, "
            f"{widen:g} x their confidence intervals{over}"
        )
        return parse_randomization(raw, spec, name=name, source="calibration")


def parse_randomization(
    raw: Mapping[str, Any], spec: RobotSpec, *, name: str = "inline", source: str = "inline"
) -> Randomization:
    """Validate a config mapping against a robot.

    Raises:
        RandomizationError: naming the first bad entry.
    """
    if raw is None:
        raw = {}
    raw = mapping(raw, f"randomization '{name}'")
    check_keys(raw, TOP_KEYS, f"randomization '{name}'")
    if "robot" in raw and str(raw["robot"]) != spec.name:
        raise RandomizationError(
            f"randomization '{name}' is written for robot '{raw['robot']}', not '{spec.name}'"
        )
    try:
        parts = parse_parts(raw, spec)
    except RandomizationError as exc:  # "physics[0] ...": say which file
        raise RandomizationError(str(exc) if source == "inline" else f"{source}: {exc}") from None
    return Randomization(
        name=str(raw.get("name", name)),
        robot=spec.name,
        source=source,
        description=str(raw.get("description", "")),
        raw=MappingProxyType(dict(raw)),
        **parts,
    )


def check_bounds(rnd: Randomization, spec: RobotSpec, *, allow: bool = False) -> list[str]:
    """Check a user's randomization against the plausible bounds the robot's spec states.

    Every value a parameter with stated bounds (the spec's ``parameters:`` section) can take must
    lie inside them; parameters without stated bounds are not checked (their default bounds only
    limit identification).  Built-in configs are not checked: the quadruped's ``full`` config
    deliberately goes past the stated payload and friction bounds.

    Returns:
        Names outside their bounds (only with ``allow``; a warning is logged).

    Raises:
        ParameterError: a range outside the bounds (one line naming it and the fix).
    """
    import fnmatch

    if rnd.source.startswith("builtin"):
        return []
    params = namespace(spec).params
    stated = {
        p.name: (p.low, p.high)
        for p in rnd.parameters
        if p.name in params.names and any(fnmatch.fnmatchcase(p.name, b.name) for b in spec.parameter_bounds)
    }
    return params.check_bounds(stated, f"randomization {rnd.source}", allow=allow, what="range")


def _base_mapping(spec: RobotSpec, base: Any, calibrated: set[str]) -> tuple[dict[str, Any], str | None]:
    """The base config's mapping without the entries that touch calibrated parameters only."""
    if base is None:
        return {}, None
    rnd = load_randomization(spec, base)
    raw = {k: v for k, v in dict(rnd.raw).items() if k not in ("name", "robot", "description")}
    keep: dict[str, list[Any]] = {s: [] for s in SECTIONS}
    for entry in rnd.entries:
        section, index = entry.where.split("[")
        if set(entry.names) <= calibrated:
            continue
        keep[section].append(raw[section][int(index.rstrip("]"))])
    for section in SECTIONS:
        raw.pop(section, None)
        if keep[section]:
            raw[section] = keep[section]
    return raw, rnd.name


def builtin_names(robot: str) -> list[str]:
    """Names of the built-in randomization configs of an embedded robot (``none`` always exists)."""
    names = {p.stem.split("_", 1)[1] for p in CONFIG_DIR.glob(f"{robot}_*.yaml")}
    names.discard("ladder")
    return sorted(names | {"none"})


def read_yaml(path: Path) -> Any:
    """A YAML file's content, or a RandomizationError (missing file, invalid YAML)."""
    if not path.is_file():
        raise RandomizationError(f"randomization file not found: {path}")
    try:
        return yaml.safe_load(read_text(path, RandomizationError, "randomization file"))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise RandomizationError(f"{path}: not valid YAML ({first})") from None


def looks_like_path(text: str) -> bool:
    """Whether a config argument names a file rather than a built-in config."""
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text


def load_randomization(
    spec: RobotSpec, name_or_path: str | Path | Mapping[str, Any] | Randomization | None
) -> Randomization:
    """A validated randomization config for a robot.

    Args:
        spec: The robot.
        name_or_path: A built-in name (``none``, ``default``, ``full``; see :func:`builtin_names`;
            ``randomize_<name>.yaml`` next to the spec comes first), a YAML file, a mapping, an already loaded :class:`Randomization`, or None (``none``).

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
    if isinstance(name_or_path, Path) or looks_like_path(text) or Path(text).is_file():
        path = Path(text)
        return parse_randomization(read_yaml(path) or {}, spec, name=path.stem, source=str(path))
    local = spec.path.parent / f"randomize_{text}.yaml"  # a user robot's own, e.g. from `robot init`
    if local.is_file() and spec.path.parent != CONFIG_DIR:
        return parse_randomization(read_yaml(local) or {}, spec, name=text, source=str(local))
    path = CONFIG_DIR / f"{spec.name}_{text}.yaml"
    if path.is_file():
        return parse_randomization(read_yaml(path) or {}, spec, name=text, source=f"builtin:{path.name}")
    if text == "none":
        return parse_randomization({}, spec, name="none", source="builtin")
    available = ", ".join(builtin_names(spec.name))
    raise RandomizationError(
        f"no built-in randomization '{text}' for robot {spec.name} (built-in: {available}); "
        "give a YAML file instead"
    )
