"""The environment hook that applies a randomization: draws per simulation per episode, delays and
pushes every step.

On reset of some simulations (``on_reset(env, ids)``, before ``TaskEnv`` resets their state) the
:class:`Randomizer` draws new values for those simulations only and writes them with one
``Parameters.set(batch, values, ids=ids)`` call into the batch's per-simulation model fields (so
MuJoCo's threads step with them): physics, motors, native delays, sensor bias and noise, gravity
(slope); it also assigns link-length variants and terrain placements, samples the per-episode
command delay and drop probability, and restarts the push timers.  Every control step
(``pre_physics``) it delays the command through a ring buffer (control-step delay with jitter),
re-draws the native delay jitter, and starts or stops pushes.

Random streams are independent per kind (seeded from ``[seed, kind]``), so the same seed gives the
same samples, and adding a kind of randomization leaves the draws of the others unchanged.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from sim2real.params import needs_set_const
from sim2real.randomize.config import Randomization, load_randomization
from sim2real.randomize.links import LinkPool
from sim2real.randomize.schema import RandomizationError
from sim2real.randomize.terrain import NAME as TERRAIN
from sim2real.randomize.terrain import TerrainHook, ground_plane, terrain_floor
from sim2real.robots.spec import RobotSpec
from sim2real.sim.disturbances import PushConfig, PushScheduler

log = logging.getLogger(__name__)

_STREAMS = ("params", "links", "variant", "slope", "terrain", "action_delay", "jitter", "dropout", "pushes")


@dataclass
class _Target:
    """One parameter written on reset: its columns in the value matrix and how its base is made."""

    name: str
    source: str
    base: np.ndarray
    link: int | None = None
    power: int = 0
    mass_of: str | None = None
    factor: float = 1.0
    cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    span: slice = field(default_factory=lambda: slice(0, 0))


def _draw_size(entry: Any, name: str, params: Any) -> int:
    """Numbers drawn per simulation for one parameter: one per component, but one for a noise
    density and one for the three principal inertias of a body under scalar bounds (scaling them
    alike keeps A + B >= C)."""
    if name.endswith("_density"):
        return 1
    info = params.info(name)
    if info.quantity == "inertia" and entry.dist.size == 1:
        return 1
    return info.size


class Randomizer:
    """Applies a :class:`Randomization` to one ``TaskEnv`` (pass it in the env's ``hooks``).

    Args:
        spec: The robot.
        randomization: What to randomize (see :func:`sim2real.randomize.load_randomization`).
        seed: Seed of every draw.
        terrain: The terrain hook that added the heightfield to the model, when one did.

    Attributes:
        randomization: The config in force; :meth:`configure` swaps it (curriculum stages).
        variant: Link-length variant of each simulation, (N,) (when link lengths are randomized).
        action_delay: Per-episode command delay of each simulation [control steps], (N,).
        terrain_height: Height of the tallest terrain bumps of each simulation [m], (N,).
    """

    def __init__(
        self, spec: RobotSpec, randomization: Randomization, seed: int = 0, terrain: TerrainHook | None = None
    ) -> None:
        if randomization.robot != spec.name:
            raise RandomizationError(
                f"randomization '{randomization.name}' is for {randomization.robot}, not {spec.name}"
            )
        self.spec = spec
        self.seed = seed
        self.terrain_hook = terrain
        self.randomization = randomization
        self.rng = {k: np.random.default_rng([seed, i]) for i, k in enumerate(_STREAMS)}
        self.env: Any = None
        self._ready = False
        self._written: set[str] = set()
        self._geometry: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._t = 0

    # ------------------------------------------------------------------ config
    def configure(self, randomization: Randomization) -> None:
        """Use another config from now on; each simulation takes it up at its next reset."""
        if randomization.robot != self.spec.name:
            raise RandomizationError(
                f"randomization '{randomization.name}' is for {randomization.robot}, not {self.spec.name}"
            )
        if randomization.terrain is not None and self.terrain_hook is None:
            raise RandomizationError(
                f"randomization '{randomization.name}' has terrain but the model was built without it "
                "(a curriculum adds the terrain when any stage has one)"
            )
        self.randomization = randomization
        if self.env is not None:
            self._prepare()

    def _bind(self, env: Any) -> None:
        if env.spec.hash != self.spec.hash:
            raise RandomizationError(
                f"randomization hooks were built for robot spec {self.spec.hash[:12]}, the environment runs "
                f"{env.spec.hash[:12]}"
            )
        self.env = env
        self.sim = env.sim
        self.params = env.sim.params
        model = env.sim.model
        n = env.num_envs
        self.terrain_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, TERRAIN)
        if self.terrain_hook is not None and self.terrain_body < 0:
            raise RandomizationError(
                "terrain randomization needs the terrain in the model: let TaskEnv build the model "
                "(no model=...) with these hooks"
            )
        ground = ground_plane(model)
        self.ground_friction = (
            f"geom.{mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, ground)}.friction"
            if ground >= 0
            else None
        )
        self.variant = np.zeros(n, dtype=np.int64)
        self.action_delay = np.zeros(n, dtype=np.int64)
        self.terrain_height = np.zeros(n)
        self.act_rows = np.array(
            [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in self.spec.actuators]
        )
        self._delay_base = np.zeros((n, len(self.act_rows)))
        self._prepare()
        log.info(
            "randomization '%s' on %d simulations of %s: %s",
            self.randomization.name,
            n,
            self.spec.name,
            ", ".join(self.randomization.sections()) or "nothing",
        )

    def _prepare(self) -> None:
        """Plan the writes of the current config against the environment's model."""
        rnd = self.randomization
        env = self.env
        n = env.num_envs
        info = self.params.info
        entries = rnd.entries
        link_entries = [e for e in entries if e.names[0].startswith("link.")]
        self.pool: LinkPool | None = None
        if link_entries:
            edit = self.terrain_hook.edit_spec if self.terrain_body >= 0 and self.terrain_hook else None
            self.pool = LinkPool(self.spec, link_entries, rnd.link_pool, self.rng["links"], edit)
            self.pool.check_fits(self.sim.model)
            for name, (rows, _) in self.pool.fields.items():  # how to undo it (a later config may drop it)
                base = np.asarray(getattr(self.sim.model, name))[rows]
                known = self._geometry.get(name)
                if known is not None:
                    keep = ~np.isin(known[0], rows)
                    rows, base = np.r_[known[0][keep], rows], np.concatenate([known[1][keep], base])
                self._geometry[name] = (rows, base)
        targets: dict[str, _Target] = {}
        dt_sqrt = math.sqrt(self.spec.control_dt)
        for p in rnd.parameters:
            if p.name.startswith("link."):
                continue
            if p.name.endswith(".noise_density"):
                target = p.name.removesuffix("_density")
                base = info(target).nominal * dt_sqrt
                targets[target] = _Target(target, p.name, base, factor=1 / dt_sqrt)
                continue
            t = _Target(p.name, p.name, info(p.name).nominal.copy())
            i = info(p.name)
            linked = self.pool is not None and i.group == "body" and i.element in self.pool.links
            if linked and i.quantity in ("com", "inertia"):
                t.link = self.pool.links.index(i.element)
                t.power = 1 if i.quantity == "com" else 2
            if i.quantity == "inertia" and f"body.{i.element}.mass" in targets:
                t.mass_of = f"body.{i.element}.mass"
            targets[p.name] = t
        self._order = {name: k for k, name in enumerate(self.params.names)}
        self.targets = sorted(targets.values(), key=lambda t: self._order[t.name])
        self._plan_columns()
        # actuator delays re-drawn every control step (jitter)
        jitter = np.zeros(len(self.act_rows), dtype=np.int64)
        for e in entries:
            if e.jitter:
                for name in e.names:
                    a = mujoco.mj_name2id(self.sim.model, mujoco.mjtObj.mjOBJ_ACTUATOR, info(name).element)
                    jitter[list(self.act_rows).index(a)] = max(jitter[list(self.act_rows).index(a)], e.jitter)
        self.jitter = jitter
        # command delay ring buffer
        ad = rnd.action_delay
        depth = int(max(ad.delay.high) + ad.jitter) if ad is not None else 0
        if ad is not None:  # every slot holds the commands in force now
            self._buffer = np.zeros((depth + 1, n, self.spec.n_actions))
            self._buffer[:] = env.command_values
            self._last = np.full(n, self._t, dtype=np.int64)
        # sensor dropout
        if rnd.dropout is not None and env.sensors.drop_prob is None:
            env.sensors.drop_prob = np.zeros(n)
        # pushes
        old = getattr(self, "pushes", None)
        self.pushes: PushScheduler | None = None
        if old is not None:
            self.sim.xfrc_applied[:, old.body_id, :3] = 0.0
        if rnd.pushes is not None:
            p = rnd.pushes
            config = PushConfig(
                p.body, p.force_low, p.force_high, p.duration, p.interval_low, p.interval_high
            )
            self.pushes = PushScheduler(self.sim, config, self.rng["pushes"])
            if self._ready:  # mid-run (a new curriculum stage): the first pushes come one interval from now
                self.pushes.next_start[:] = self.sim.time + self.rng["pushes"].uniform(
                    p.interval_low, p.interval_high, n
                )

    def _plan_columns(self) -> None:
        """Lay every target out as columns of one (n, W) matrix, and every entry as one draw of
        (n, width) applied to its columns: a reset then costs a few numpy calls per entry, not
        per parameter."""
        rnd = self.randomization
        cols: dict[str, np.ndarray] = {}
        start = 0
        for t in self.targets:
            t.cols = np.arange(start, start + t.base.size)
            t.span = slice(start, start + t.base.size)
            cols[t.source] = t.cols
            start += t.base.size
        width = start
        self._base = np.concatenate([t.base for t in self.targets]) if self.targets else np.zeros(0)
        self._factor = (
            np.concatenate([np.full(t.base.size, t.factor) for t in self.targets]) if width else self._base
        )
        linked = [t for t in self.targets if t.link is not None]
        self._link_cols = np.concatenate([t.cols for t in linked]) if linked else np.zeros(0, dtype=np.int64)
        self._link_idx = (
            np.concatenate([np.full(t.base.size, t.link) for t in linked]) if linked else self._link_cols
        )
        self._link_pow = (
            np.concatenate([np.full(t.base.size, t.power) for t in linked]) if linked else self._link_cols
        )
        coupled = [t for t in self.targets if t.mass_of is not None]
        late = np.zeros(width, dtype=bool)
        self._coupled_cols = np.zeros(0, dtype=np.int64)
        if coupled:
            by_name = {t.name: t for t in self.targets}
            self._coupled_cols = np.concatenate([t.cols for t in coupled])
            self._coupled_mass = np.concatenate(
                [np.full(t.base.size, by_name[t.mass_of].cols[0]) for t in coupled]
            )
            self._coupled_nominal = np.concatenate(
                [np.full(t.base.size, by_name[t.mass_of].base[0]) for t in coupled]
            )
            late[self._coupled_cols] = True
        dt = self.sim.model.opt.timestep
        self._ops = []
        for e in rnd.entries:
            if e.names[0].startswith("link."):
                continue
            target_cols, source_cols, offset = [], [], 0
            for name in e.names:
                c = cols[name]
                size = _draw_size(e, name, self.params)
                target_cols.append(c)
                source_cols.append(
                    offset + (np.arange(c.size) if size == c.size else np.zeros(c.size, dtype=np.int64))
                )
                if not e.shared:
                    offset += size
            draw_width = offset if not e.shared else _draw_size(e, e.names[0], self.params)
            dist = e.dist
            if dist.size > 1 and not e.shared:  # per-component bounds, tiled over the names
                reps = len(e.names)
                dist = replace(
                    dist,
                    low=tuple(np.tile(dist.low, reps)),
                    high=tuple(np.tile(dist.high, reps)),
                    mean=tuple(np.tile(dist.mean, reps)) if dist.mean else (),
                    std=tuple(np.tile(dist.std, reps)) if dist.std else (),
                )
            tc, sc = np.concatenate(target_cols), np.concatenate(source_cols)
            step = dt if e.unit == "physics_steps" else 1.0
            phases = tuple((tc[m], sc[m]) for m in (~late[tc], late[tc]))
            self._ops.append((e.mode, dist, draw_width, step, phases))

    # ------------------------------------------------------------------ sampling
    def sample(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Draw new values of every written parameter for simulations ``ids``; name -> (n, size)."""
        rnd = self.randomization
        n = ids.size
        rng = self.rng["params"]
        draws = [dist.sample(rng, (n, w)) * step for _, dist, w, step, _ in self._ops]
        value = np.tile(self._base, (n, 1))
        if self.pool is not None:
            self.variant[ids] = self.rng["variant"].integers(0, len(self.pool.scales), n)
            scales = self.pool.scales[self.variant[ids]]
            value[:, self._link_cols] *= scales[:, self._link_idx] ** self._link_pow
        for phase in (0, 1):
            if phase == 1 and self._coupled_cols.size:  # inertias follow their body's final mass
                value[:, self._coupled_cols] *= value[:, self._coupled_mass] / self._coupled_nominal
            for (mode, _, _, _, phases), d in zip(self._ops, draws, strict=True):
                c, src = phases[phase]
                if not c.size:
                    continue
                if mode == "scale":
                    value[:, c] *= d[:, src]
                elif mode == "additive":
                    value[:, c] += d[:, src]
                else:
                    value[:, c] = d[:, src]
        value *= self._factor
        values: dict[str, np.ndarray] = {t.name: value[:, t.span] for t in self.targets}
        if rnd.slope is not None:
            g = float(np.linalg.norm(self.params.info("world.gravity").nominal))
            tilt = rnd.slope.sample(self.rng["slope"], (n, 1))[:, 0]
            azimuth = self.rng["slope"].uniform(0.0, 2 * np.pi, n)
            values["world.gravity"] = g * np.stack(
                [np.sin(tilt) * np.cos(azimuth), np.sin(tilt) * np.sin(azimuth), -np.cos(tilt)], axis=1
            )
        if self.terrain_body >= 0 and self.ground_friction in values:
            values[f"geom.{TERRAIN}.friction"] = values[self.ground_friction]
        # parameters an earlier config randomized go back to nominal
        for name in self._written - set(values):
            values[name] = np.broadcast_to(
                self.params.info(name).nominal, (n, self.params.info(name).size)
            ).copy()
        # registry order: a mass is written before the inertia of its body (a mass write scales it along)
        return {name: values[name] for name in sorted(values, key=self._order.__getitem__)}

    # --------------------------------------------------------------------- hooks
    def on_reset(self, env: Any, ids: np.ndarray) -> None:
        """Draw new values for the simulations being reset (before their state is reset)."""
        if self.env is None:
            self._bind(env)
        elif env is not self.env:
            raise RandomizationError(
                "these randomization hooks belong to another environment; build new ones per env"
            )
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return
        rnd = self.randomization
        n = ids.size
        batch = self.sim.batch
        values = self.sample(ids)
        for name, (rows, base) in self._geometry.items():  # unscaled links, then this episode's variant
            batch.expand(name)[np.ix_(ids, rows)] = base
        if self.pool is not None:
            self.pool.assign(batch, ids, self.variant[ids])
        if self.terrain_body >= 0 and self.terrain_hook is not None:
            h = (
                np.zeros(n)
                if rnd.terrain is None
                else rnd.terrain.height.sample(self.rng["terrain"], (n, 1))[:, 0]
            )
            self.terrain_height[ids] = h
            self.terrain_hook.place(batch, self.terrain_body, ids, h, self.rng["terrain"])
        if values:
            self.params.set(batch, values, ids=ids)  # runs set_const when an inertial changes
            self._written |= set(values)
        if self._geometry and not any(needs_set_const(n) for n in values):
            batch.set_const(ids)
        if self.jitter.any():
            for j, act in enumerate(self.spec.actuators):
                name = f"actuator.{act.actuator}.delay"
                base = values[name][:, 0] if name in values else self.params.info(name).nominal[0]
                self._delay_base[ids, j] = base
        ad = rnd.action_delay
        if ad is not None:
            self.action_delay[ids] = ad.delay.sample(self.rng["action_delay"], (n, 1))[:, 0].astype(np.int64)
            self._buffer[:, ids] = env.action_to_command(np.zeros((n, self.spec.n_actions)))
            self._last[ids] = self._t - self._buffer.shape[0]
        if env.sensors.drop_prob is not None:
            p = np.zeros(n) if rnd.dropout is None else rnd.dropout.sample(self.rng["dropout"], (n, 1))[:, 0]
            env.sensors.drop_prob[ids] = p
            env.sensors.forget(ids)
        if self.pushes is not None:
            self.pushes.reset(ids)
        self._ready = True

    def pre_physics(self, env: Any, command: np.ndarray) -> np.ndarray:
        """Delay the command (ring buffer), re-draw native delay jitter, start and stop pushes."""
        self._t += 1
        rnd = self.randomization
        if self.jitter.any():
            u = self.rng["jitter"].random(env.num_envs)[:, None]
            steps = np.floor(u * (self.jitter + 1))
            delay = self._delay_base + steps * self.sim.model.opt.timestep
            self.sim.batch.expand("actuator_delay")[:, self.act_rows] = delay
        if self.pushes is not None:
            self.pushes.update()
        ad = rnd.action_delay
        if ad is None:
            return command
        depth = self._buffer.shape[0]
        self._buffer[self._t % depth] = command
        delay = self.action_delay
        if ad.jitter:
            delay = delay + self.rng["jitter"].integers(0, ad.jitter + 1, env.num_envs)
        index = np.maximum(self._t - delay, self._last)
        self._last = index
        return self._buffer[index % depth, np.arange(env.num_envs)]


def build_hooks(
    spec: RobotSpec, name_or_path: str | Path | Randomization | None, seed: int = 0
) -> tuple[Any, ...]:
    """Environment hooks that apply a randomization config (``()`` for ``none``).

    Args:
        spec: The robot.
        name_or_path: Built-in config name (``none``, ``default``, ``full``), YAML file, mapping
            or loaded :class:`Randomization`.
        seed: Seed of every draw (same seed, same samples).

    Returns:
        Hooks for ``TaskEnv(..., hooks=...)``; build new ones for every environment.
    """
    rnd = load_randomization(spec, name_or_path)
    if rnd.is_empty:
        return ()
    terrain = TerrainHook(rnd.terrain, seed, terrain_floor(spec)) if rnd.terrain is not None else None
    randomizer = Randomizer(spec, rnd, seed, terrain)
    return (randomizer, terrain) if terrain is not None else (randomizer,)
