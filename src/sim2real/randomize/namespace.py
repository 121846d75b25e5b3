"""The names a randomization config may randomize on one robot, and their physical domains.

The parameters of :mod:`sim2real.params` (:mod:`sim2real.param_kinds` owns their domains: :data:`~sim2real.param_kinds.POSITIVE`,
:data:`~sim2real.param_kinds.NONNEGATIVE`), plus two names derived here: ``link.<body>.length`` (a
scale of the link, positive) and ``sensor.<s>.noise_density`` (sensor units/sqrt(Hz), >= 0).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from sim2real.errors import ParameterError
from sim2real.param_kinds import NONNEGATIVE as PARAM_NONNEGATIVE
from sim2real.param_kinds import POSITIVE as PARAM_POSITIVE
from sim2real.params import Parameters, ParamInfo, delay_capacity
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec

__all__ = ["NONNEGATIVE", "POSITIVE", "Namespace", "namespace"]

POSITIVE: frozenset[str] = PARAM_POSITIVE | {"length"}
"""Quantities whose values must stay > 0: the registry's, and link length scales."""
NONNEGATIVE: frozenset[str] = PARAM_NONNEGATIVE | {"noise_density"}
"""Quantities whose values must stay >= 0: the registry's, and noise densities."""


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
        return delay_capacity(self.model, self.info[name])


_NAMESPACES: dict[tuple[str, str], Namespace] = {}


def namespace(spec: RobotSpec) -> Namespace:
    """The (cached) namespace of a robot's nominal model."""
    key = (str(spec.path), spec.hash)
    if key not in _NAMESPACES:
        _NAMESPACES[key] = Namespace(spec)
    return _NAMESPACES[key]
