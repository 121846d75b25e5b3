"""Domain randomization and progressive training.

What it randomizes, per simulation and per episode (drawn on reset for the resetting simulations
only, from seeded generators, and written into the batch's per-simulation model fields so that
MuJoCo's threads step with them): link masses, added base mass, centre of mass, inertia, ground
friction, joint damping, friction and armature, link lengths (a pool of compiled model variants),
gravity direction (slopes), terrain (a heightfield, floating-base robots), motor strength, offset,
PD gains, torque limit and DC-motor constants, actuator delays in physics steps (MuJoCo's native
delay, optional per-step jitter) and in control steps (ring buffer, per-step jitter), IMU noise
density, per-episode sensor biases, encoder noise, sensor latency, dropped readings, and pushes.
Configs are YAML (format: :mod:`sim2real.randomize.config`); every robot has built-in ``none``,
``default`` and ``full`` configs and a ``ladder`` curriculum in ``randomize/configs``.

API (everything else is internal)::

    from sim2real.randomize import build_hooks, load_randomization, Curriculum

    hooks = build_hooks(spec, "default", seed=0)            # tuple of TaskEnv hooks (() for none)
    env = TaskEnv(spec, task, 1024, hooks=hooks)             # new hooks for every environment

    rnd = load_randomization(spec, "full")                  # or a YAML path / mapping
    rnd.summary()                                           # JSON-ready, for policy metadata

    cur = Curriculum(spec, "ladder", seed=0)                # or a curriculum YAML / [Stage, ...]
    env = TaskEnv(spec, task, 1024, hooks=cur.hooks)
    changed = cur.update(step=env_steps, metric=success_rate)   # -> bool, logs the change
    cur.stage, cur.stage_index, cur.history, cur.summary()

Errors in configs raise :class:`RandomizationError` (a ``Sim2RealError``) naming the entry.
``Randomization.from_calibration(calib, widen=k, base="default")`` builds a config centred on a
system-identification calibration (:mod:`sim2real.randomize.calibrated`).

================  ==================================================================================
module            owns
================  ==================================================================================
config            the config format; loading (built-in, file, mapping) into a :class:`Randomization`;
                  :meth:`Randomization.from_calibration`
schema            the config's data types and constants, :class:`RandomizationError`
parse             validating a config mapping entry by entry
namespace         the names a config may randomize on one robot, and their physical domains
calibrated        ranges from a calibration's confidence intervals
distributions     uniform, log-uniform and clipped normal distributions
hooks             :class:`Randomizer`: the environment hook that draws and applies a config
links             link lengths: a pool of compiled model variants
terrain           heightfield terrain placed per simulation per episode
curriculum        :class:`Curriculum`: stages of randomization advanced on a metric or a budget
================  ==================================================================================
"""

from __future__ import annotations

from sim2real.randomize.config import Randomization, builtin_names, load_randomization
from sim2real.randomize.curriculum import Curriculum, Stage
from sim2real.randomize.distributions import Distribution
from sim2real.randomize.hooks import Randomizer, build_hooks
from sim2real.randomize.schema import ParamEntry, RandomizationError

__all__ = [
    "Curriculum",
    "Distribution",
    "ParamEntry",
    "Randomization",
    "RandomizationError",
    "Randomizer",
    "Stage",
    "build_hooks",
    "builtin_names",
    "load_randomization",
]
