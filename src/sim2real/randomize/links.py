"""Link lengths: a pool of compiled model variants, assigned per simulation per episode.

``mujoco.batch.Batch.set_models`` would run each simulation on its own model, but it cannot be
combined with per-simulation fields (``expand``), which every other randomization writes.  So a
variant is assigned the other way round: the pool compiles K MjSpec variants of the robot with
scaled links, finds the model fields (inputs of ``mj_setConst``) in which they differ from the
unscaled model - child body positions, geom positions and sizes - and copies those rows of the
drawn variant into the batch's per-simulation fields.  ``Batch.set_const`` then recomputes what
derives from them (bounding volumes, inverse weights; checked in the tests).  The centre of mass
and inertia of a scaled body are written as named parameters (``body.<b>.com`` x s,
``body.<b>.inertia`` x s^2) by the randomizer, relative to the environment's own model, so a
calibrated model keeps its calibrated inertials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import mujoco
import mujoco.batch
import numpy as np

from sim2real.randomize.schema import ParamEntry, RandomizationError
from sim2real.robots.model import build_mjspec
from sim2real.robots.spec import RobotSpec

_INERTIALS = {"body_mass", "body_inertia", "body_ipos", "body_iquat"}
_COPIED = tuple(
    f for f in mujoco.MjModel._setconst_inputs if f in set(mujoco.batch.MODEL_FIELDS) and f not in _INERTIALS
)


def scale_link(mjspec: mujoco.MjSpec, body: str, s: float) -> None:
    """Lengthen a body's link by ``s``: its child bodies, geoms (``fromto`` or ``pos``) and sites."""
    element = mjspec.body(body)
    for child in element.bodies:
        child.pos = np.asarray(child.pos, dtype=float) * s
    for geom in element.geoms:
        fromto = np.asarray(geom.fromto, dtype=float)
        if np.all(np.isfinite(fromto)):
            geom.fromto = fromto * s
        else:
            geom.pos = np.asarray(geom.pos, dtype=float) * s
    for site in element.sites:
        site.pos = np.asarray(site.pos, dtype=float) * s


class LinkPool:
    """K model variants with link scales drawn from the config's ``link.<b>.length`` entries.

    Args:
        spec: The robot.
        entries: The ``link.*.length`` entries (scale mode), applied in order.
        size: Number of variants K.
        rng: Generator of the scales.
        edit: Extra MjSpec edits the environment's model has (e.g. the terrain), applied first.

    Attributes:
        links: Scaled bodies, in registry order.
        scales: Scale of each link in each variant, shape (K, n_links).
        fields: Copied model field -> (element rows (r,), values (K, r, ...)).
    """

    def __init__(
        self,
        spec: RobotSpec,
        entries: Sequence[ParamEntry],
        size: int,
        rng: np.random.Generator,
        edit: Callable[[mujoco.MjSpec], None] | None = None,
    ) -> None:
        names = [n for e in entries for n in e.names]
        self.links = list(dict.fromkeys(n.split(".", 1)[1].rsplit(".", 1)[0] for n in names))
        scales = np.ones((size, len(self.links)))
        for e in entries:
            if e.shared:
                draw = e.dist.sample(rng, (size, 1))
                for n in e.names:
                    scales[:, self._column(n)] *= draw[:, 0]
            else:
                for n in e.names:
                    scales[:, self._column(n)] *= e.dist.sample(rng, (size, 1))[:, 0]
        self.scales = scales

        def compiled(row: np.ndarray | None) -> mujoco.MjModel:
            mjspec = build_mjspec(spec)
            if edit is not None:
                edit(mjspec)
            if row is not None:
                for body, s in zip(self.links, row, strict=True):
                    scale_link(mjspec, body, float(s))
            return mjspec.compile()

        self.base = compiled(None)
        variants = [compiled(row) for row in scales]
        self.fields: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in _COPIED:
            base = np.asarray(getattr(self.base, name))
            stack = np.stack([np.asarray(getattr(v, name)) for v in variants])
            if base.size == 0:
                continue
            if stack.shape[1:] != base.shape:
                raise RandomizationError(
                    f"link variants change the size of {name}; a link scale must keep the layout"
                )
            differs = np.any((stack != base[None]).reshape(size, base.shape[0], -1), axis=(0, 2))
            rows = np.flatnonzero(differs)
            if rows.size:
                self.fields[name] = (rows, stack[:, rows].copy())

    def _column(self, name: str) -> int:
        return self.links.index(name.split(".", 1)[1].rsplit(".", 1)[0])

    def check_fits(self, model: mujoco.MjModel) -> None:
        """Raise unless the environment's model has the layout the variants were compiled with."""
        for size in ("nbody", "ngeom", "nsite", "njnt"):
            if getattr(model, size) != getattr(self.base, size):
                raise RandomizationError(
                    f"link length variants do not fit the environment's model ({size} {getattr(model, size)} "
                    f"vs {getattr(self.base, size)}): build the environment from the robot spec with these hooks"
                )

    def assign(self, batch: mujoco.batch.Batch, ids: np.ndarray, variant: np.ndarray) -> None:
        """Copy the rows of variant ``variant[i]`` into simulation ``ids[i]`` (set_const must follow)."""
        for name, (rows, values) in self.fields.items():
            arr = batch.expand(name)
            arr[np.ix_(ids, rows)] = values[variant]
