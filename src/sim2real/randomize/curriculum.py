"""Progressive training: named stages of randomization, advanced on a metric or a step budget.

The classic ladder starts from a perfect simulator and adds one kind of randomization per stage:
sensor noise, then actuator delays, then physics, then pushes and terrain.  Each stage is a
:class:`~sim2real.randomize.config.Randomization`; the curriculum owns one
:class:`~sim2real.randomize.hooks.Randomizer` whose config it swaps when a stage ends (each
simulation takes the new stage up at its next reset, so an episode never changes midway).

A curriculum file (built-in: ``<robot>_ladder.yaml``)::

    base: full                    # config the stages take their sections from (name or file)
    stages:
      - {name: perfect, sections: [], metric: 0.8, min_steps: 1000000, budget: 20000000}
      - {name: sensor_noise, sections: [sensors, dropout], metric: 0.8, budget: 20000000}
      - {name: custom, randomize: my_config.yaml}    # or a whole config (name, file or mapping)

A stage ends when the metric given to :meth:`Curriculum.update` (e.g. the recent success rate)
reaches ``metric`` after at least ``min_steps`` environment steps in the stage, or when the stage
has run ``budget`` steps; the last stage never ends.  Stage changes are logged (``logging``,
logger ``sim2real.randomize.curriculum``) and kept in :attr:`Curriculum.history`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim2real.randomize.config import (
    CONFIG_DIR,
    Randomization,
    load_randomization,
    looks_like_path,
    parse_randomization,
    read_yaml,
)
from sim2real.randomize.hooks import Randomizer
from sim2real.randomize.schema import OTHER_KEYS, SECTIONS, RandomizationError
from sim2real.randomize.terrain import TerrainHook, terrain_floor
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

_STAGE_KEYS = {"name", "sections", "randomize", "metric", "min_steps", "budget"}


@dataclass(frozen=True)
class Stage:
    """One stage of a curriculum."""

    name: str
    """Stage name, e.g. ``sensor_noise``."""
    randomization: Randomization
    """What is randomized during the stage."""
    metric: float | None = None
    """Advance when the metric reaches this value (None: only the budget ends the stage)."""
    min_steps: int = 0
    """Environment steps the stage runs at least before the metric can end it."""
    budget: int | None = None
    """Environment steps after which the stage ends whatever the metric (None: no limit)."""


def sections_of(base: Randomization, sections: Sequence[str], spec: RobotSpec, name: str) -> Randomization:
    """The part of a config made of some of its sections (e.g. ``["sensors", "dropout"]``)."""
    allowed = (*SECTIONS, *OTHER_KEYS)
    unknown = [s for s in sections if s not in allowed]
    if unknown:
        raise RandomizationError(
            f"stage '{name}': unknown section '{unknown[0]}' (sections: {', '.join(allowed)})"
        )
    raw = {k: base.raw[k] for k in sections if k in base.raw}
    if "physics" in raw and "link_pool" in base.raw:
        raw["link_pool"] = base.raw["link_pool"]
    rnd = parse_randomization(
        raw, spec, name=name, source=f"{base.source} [{', '.join(sections) or 'nothing'}]"
    )
    return rnd


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise RandomizationError(f"{where} must be a whole number of steps >= 0, got {value!r}")
    return int(value)


LADDER_BASES = ("full", "default")
"""The randomization a robot without a built-in ladder climbs to: the first of these it has beside
its spec (``randomize_full.yaml``, else ``randomize_default.yaml``, as ``robot init`` writes them)."""
LADDER_RUNGS = (
    ("sensor_noise", ("sensors", "dropout")),
    ("actuator_delays", ("delays", "action_delay")),
    ("physics", ("physics", "motors")),
)
"""Sections each rung of :func:`default_ladder` adds, in order; the last rung adds the rest."""
LADDER_GATE = {"metric": 0.7, "min_steps": 2_000_000, "budget": 20_000_000}
"""When a rung ends: the success rate reaches ``metric`` after ``min_steps``, or ``budget`` steps pass."""


def ladder_base(spec: RobotSpec) -> str | None:
    """The randomization the ``ladder`` of a robot without a built-in one climbs to (see
    :data:`LADDER_BASES`); None: the robot has none beside its spec."""
    if spec.path.parent == CONFIG_DIR:
        return None
    return next((b for b in LADDER_BASES if (spec.path.parent / f"randomize_{b}.yaml").is_file()), None)


def default_ladder(spec: RobotSpec, base: str) -> dict[str, Any]:
    """The ``ladder`` curriculum of a robot without a built-in one (a robot from ``robot init``): from
    a perfect simulator, through the sections of its ``randomize_<base>.yaml`` in the embedded
    robots' order (sensors, delays, physics and motors, then pushes, terrain and the rest), to all
    of it; rungs that would add nothing are left out."""
    present = load_randomization(spec, base).sections()
    stages: list[dict[str, Any]] = [{"name": "perfect", "sections": [], **LADDER_GATE}]
    taken: list[str] = []
    for name, sections in LADDER_RUNGS:
        new = [s for s in sections if s in present and s not in taken]
        if new:
            taken += new
            stages.append({"name": name, "sections": list(taken), **LADDER_GATE})
    rest = [s for s in present if s not in taken]
    if rest:
        stages.append({"name": "full", "sections": [*taken, *rest]})
    else:
        stages[-1] = {"name": stages[-1]["name"], "sections": list(taken)}  # the last rung has no gate
    return {"base": base, "stages": stages}


def load_stages(spec: RobotSpec, source: str | Path | Mapping[str, Any]) -> tuple[str, tuple[Stage, ...]]:
    """Name and stages of a curriculum: built-in name (``ladder``), YAML file or mapping."""
    folder = Path.cwd()
    if isinstance(source, Mapping):
        raw, name = source, "inline"
    else:
        text = str(source)
        if isinstance(source, Path) or looks_like_path(text) or Path(text).is_file():
            path = Path(text)
            raw, name, folder = read_yaml(path), path.stem, path.resolve().parent
        else:
            path = CONFIG_DIR / f"{spec.name}_{text}.yaml"
            base = ladder_base(spec) if text == "ladder" and not path.is_file() else None
            if base is not None:  # a user robot's, from `robot init`
                raw, name, folder = default_ladder(spec, base), text, spec.path.parent
            elif not path.is_file():
                known = sorted(p.stem.split("_", 1)[1] for p in CONFIG_DIR.glob(f"{spec.name}_*.yaml"))
                ladders = [
                    k for k in known if "stages" in (read_yaml(CONFIG_DIR / f"{spec.name}_{k}.yaml") or {})
                ]
                raise RandomizationError(
                    f"no built-in curriculum '{text}' for robot {spec.name} (built-in: {', '.join(ladders) or 'none'}; "
                    "a robot with a randomize_full.yaml or randomize_default.yaml beside its spec, as robot init "
                    "writes them, has 'ladder')"
                )
            else:
                raw, name, folder = read_yaml(path), text, CONFIG_DIR
    if not isinstance(raw, Mapping) or not isinstance(raw.get("stages"), list) or not raw["stages"]:
        raise RandomizationError(f"curriculum '{name}' needs a non-empty 'stages' list")
    unknown = sorted(set(raw) - {"base", "stages", "description"})
    if unknown:
        raise RandomizationError(f"curriculum '{name}': unknown key(s) {', '.join(unknown)}")

    def resolve(ref: Any) -> Any:
        if isinstance(ref, str) and looks_like_path(ref) and not Path(ref).is_absolute():
            return folder / ref
        return ref

    base = load_randomization(spec, resolve(raw["base"])) if "base" in raw else None
    stages = []
    for i, item in enumerate(raw["stages"]):
        where = f"curriculum '{name}' stages[{i}]"
        if not isinstance(item, Mapping):
            raise RandomizationError(f"{where} must be a mapping")
        unknown = sorted(set(item) - _STAGE_KEYS)
        if unknown:
            raise RandomizationError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_STAGE_KEYS))}"
            )
        stage_name = str(item.get("name", f"stage{i}"))
        if ("sections" in item) == ("randomize" in item):
            raise RandomizationError(
                f"{where} ('{stage_name}'): give either 'sections' (of base) or 'randomize'"
            )
        if "sections" in item:
            if base is None:
                raise RandomizationError(f"{where} ('{stage_name}'): 'sections' needs a 'base' config")
            sections = item["sections"] or []
            if not isinstance(sections, list):
                raise RandomizationError(f"{where} ('{stage_name}'): 'sections' must be a list")
            rnd = sections_of(base, [str(s) for s in sections], spec, stage_name)
        else:
            rnd = load_randomization(spec, resolve(item["randomize"]))
        metric = item.get("metric")
        if metric is not None and (isinstance(metric, bool) or not isinstance(metric, int | float)):
            raise RandomizationError(f"{where} ('{stage_name}'): 'metric' must be a number")
        budget = item.get("budget")
        stages.append(
            Stage(
                stage_name,
                rnd,
                None if metric is None else float(metric),
                _count(item.get("min_steps", 0), f"{where}.min_steps"),
                None if budget is None else _count(budget, f"{where}.budget"),
            )
        )
    return name, tuple(stages)


class Curriculum:
    """Named stages of randomization for a training run.

    Args:
        spec: The robot.
        stages: A built-in curriculum name (``ladder``), a curriculum YAML file or mapping, or
            a sequence of :class:`Stage`.
        seed: Seed of every draw.

    Attributes:
        hooks: Environment hooks to pass to ``TaskEnv`` (they follow the stages).
        stages: The stages, in order.
        history: Stage changes: ``{"step", "from", "to", "metric"}`` per change.
    """

    def __init__(
        self, spec: RobotSpec, stages: str | Path | Mapping[str, Any] | Sequence[Stage], seed: int = 0
    ) -> None:
        if isinstance(stages, str | Path | Mapping):
            self.name, self.stages = load_stages(spec, stages)
        else:
            self.name, self.stages = "custom", tuple(stages)
        if not self.stages:
            raise RandomizationError("a curriculum needs at least one stage")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise RandomizationError(f"curriculum '{self.name}': stage names repeat: {names}")
        terrains = {s.randomization.terrain for s in self.stages if s.randomization.terrain is not None}
        if len(terrains) > 1:
            raise RandomizationError(
                f"curriculum '{self.name}': stages with terrain must use the same terrain"
            )
        self.spec = spec
        terrain = TerrainHook(terrains.pop(), seed, terrain_floor(spec)) if terrains else None
        self.randomizer = Randomizer(spec, self.stages[0].randomization, seed, terrain)
        self.hooks: tuple[Any, ...] = (
            (self.randomizer, terrain) if terrain is not None else (self.randomizer,)
        )
        self.history: list[dict[str, Any]] = []
        self._index = 0
        self._stage_start = 0
        log.info(
            "curriculum %s: stage 1/%d '%s' (%s)", self.name, len(self.stages), self.stage, self._what(0)
        )

    def _what(self, index: int) -> str:
        return ", ".join(self.stages[index].randomization.sections()) or "nothing randomized"

    @property
    def stage(self) -> str:
        """Name of the current stage."""
        return self.stages[self._index].name

    @property
    def stage_index(self) -> int:
        """Index of the current stage (0-based)."""
        return self._index

    @property
    def randomization(self) -> Randomization:
        """Randomization of the current stage."""
        return self.stages[self._index].randomization

    def set_stage(self, stage: str | int, step: int = 0) -> None:
        """Jump to a stage (e.g. when resuming a run), counting its steps from ``step``."""
        index = (
            stage
            if isinstance(stage, int)
            else next((i for i, s in enumerate(self.stages) if s.name == stage), -1)
        )
        if not 0 <= index < len(self.stages):
            raise RandomizationError(
                f"curriculum '{self.name}' has no stage {stage!r} (stages: {[s.name for s in self.stages]})"
            )
        self._index = index
        self._stage_start = step
        self.randomizer.configure(self.stages[index].randomization)
        log.info("curriculum %s: set to stage %d/%d '%s'", self.name, index + 1, len(self.stages), self.stage)

    def update(self, step: int, metric: float | None = None) -> bool:
        """Report progress; advance to the next stage when the current one is done.

        Args:
            step: Environment steps since the start of training.
            metric: The stage metric, e.g. the success rate of recent episodes (None: unknown).

        Returns:
            Whether the stage changed.
        """
        if self._index == len(self.stages) - 1:
            return False
        current = self.stages[self._index]
        ran = step - self._stage_start
        by_budget = current.budget is not None and ran >= current.budget
        by_metric = (
            current.metric is not None
            and metric is not None
            and metric >= current.metric
            and ran >= current.min_steps
        )
        if not (by_budget or by_metric):
            return False
        self._index += 1
        self._stage_start = step
        self.randomizer.configure(self.stages[self._index].randomization)
        self.history.append({"step": step, "from": current.name, "to": self.stage, "metric": metric})
        log.info(
            "curriculum %s: stage %d/%d '%s' (%s) at step %d (%s)",
            self.name,
            self._index + 1,
            len(self.stages),
            self.stage,
            self._what(self._index),
            step,
            f"metric {metric:.3f} >= {current.metric}" if by_metric else f"budget {current.budget} steps",
        )
        return True

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: the stages, the current stage and its randomization, the changes."""
        return {
            "curriculum": self.name,
            "stage": self.stage,
            "stage_index": self._index,
            "stages": [
                {
                    "name": s.name,
                    "randomization": s.randomization.source,
                    "sections": list(s.randomization.sections()),
                    "metric": s.metric,
                    "min_steps": s.min_steps,
                    "budget": s.budget,
                }
                for s in self.stages
            ],
            "current": self.randomization.summary(),
            "history": list(self.history),
        }
