"""Bridge to :mod:`sim2real.randomize`: environment hooks, curriculum and a summary for checkpoints.

Training never builds randomization itself: it asks ``sim2real.randomize`` for hooks
(``build_hooks``), for a curriculum (``Curriculum``) and for a description of what is randomized
(``load_randomization(spec, name).summary()``), and records that description in the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim2real.errors import Sim2RealError
from sim2real.robots.spec import RobotSpec


def _randomize_api(*names: str) -> Any:
    import sim2real.randomize as module

    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise Sim2RealError(
            f"domain randomization is not available in this version of sim2real "
            f"(sim2real.randomize lacks {', '.join(missing)}); train without --randomize/--curriculum"
        )
    return module


def _plain(value: Any) -> Any:
    """A JSON-friendly copy (summaries may hold numpy values or dataclasses)."""
    import dataclasses
    from collections.abc import Mapping

    import numpy as np

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Randomization:
    """What a training (or evaluation) run randomizes."""

    hooks: tuple[Any, ...] = ()
    """TaskEnv hooks."""
    curriculum: Any = None
    """The ``sim2real.randomize.Curriculum`` when a curriculum was asked for."""
    randomize: Any = None
    """Randomization config name or file as given, or a loaded ``sim2real.randomize.Randomization``
    (e.g. one centred on a calibration)."""
    curriculum_name: str | None = None
    """Curriculum name, as given."""
    summary: dict[str, Any] = field(default_factory=dict)
    """Description stored in checkpoints."""

    @property
    def stage(self) -> str | None:
        """Current curriculum stage (None without a curriculum)."""
        if self.curriculum is None:
            return None
        return str(self.curriculum.stage)

    def update(self, step: int, metric: float | None) -> bool:
        """Tell the curriculum how training goes (env steps so far, recent success rate or None);
        returns whether the stage changed."""
        if self.curriculum is None:
            return False
        return bool(self.curriculum.update(step, metric))

    def restore(self, record: dict[str, Any], step: int) -> None:
        """Put a resumed run's curriculum back at its recorded stage."""
        if self.curriculum is not None and record.get("stage") is not None:
            self.curriculum.set_stage(record["stage"], step)

    def eval_hooks(self, spec: RobotSpec, seed: int) -> tuple[Any, ...]:
        """Fresh hooks for an evaluation environment that randomize as training does now (the
        current curriculum stage, or the ``randomize`` config)."""
        if self.curriculum is not None:
            return tuple(_randomize_api("build_hooks").build_hooks(spec, self.curriculum.randomization, seed))
        if self.randomize is not None:
            return tuple(_randomize_api("build_hooks").build_hooks(spec, self.randomize, seed))
        return ()

    def record(self) -> dict[str, Any]:
        """The checkpoint's ``randomization`` entry.

        A loaded config (not a name or file) is recorded by name, with its mapping under
        ``config`` so that a resumed run rebuilds it.
        """
        if self.curriculum is not None:
            self.summary = _plain(self.curriculum.summary())
        out: dict[str, Any] = {
            "randomize": self.randomize,
            "curriculum": self.curriculum_name,
            "stage": self.stage,
            "summary": self.summary,
        }
        if self.randomize is not None and not isinstance(self.randomize, str):
            out["randomize"] = str(self.randomize.name)
            out["config"] = _plain(dict(self.randomize.raw))
        return out


def resolve_randomization(
    spec: RobotSpec, randomize: Any = None, curriculum: str | None = None, seed: int = 0
) -> Randomization:
    """Hooks (and curriculum) for a run.

    Args:
        spec: The robot.
        randomize: Randomization config name (e.g. ``default``), YAML file, mapping or loaded
            ``sim2real.randomize.Randomization``, or None.
        curriculum: Curriculum name, or None.  A curriculum stages its own randomization, so it
            cannot be combined with ``randomize``.
        seed: Seed of the randomization's random draws.

    Raises:
        Sim2RealError: randomization is not available, or both options were given.
    """
    if randomize is None and curriculum is None:
        return Randomization(summary={"randomize": None})
    if randomize is not None and curriculum is not None:
        raise Sim2RealError("give --randomize or --curriculum, not both (a curriculum stages its own ranges)")
    if curriculum is not None:
        api = _randomize_api("Curriculum")
        cur = api.Curriculum(spec, curriculum, seed)
        return Randomization(tuple(cur.hooks), cur, None, curriculum, _plain(cur.summary()))
    api = _randomize_api("build_hooks", "load_randomization")
    loaded = api.load_randomization(spec, randomize)
    hooks = tuple(api.build_hooks(spec, loaded, seed))
    summary = _plain(loaded.summary())
    given = randomize if isinstance(randomize, str) else loaded
    return Randomization(hooks, None, given, None, summary)


def randomization_available() -> bool:
    """Whether ``sim2real.randomize`` provides what training uses."""
    import sim2real.randomize as module

    return all(hasattr(module, n) for n in ("build_hooks", "load_randomization", "Curriculum"))
