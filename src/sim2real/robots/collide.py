"""Which geoms of a model take part in contacts: the one predicate every stage uses.

A geom collides when its ``contype`` or ``conaffinity`` bits are set, or when an explicit
``<contact><pair>`` names it: some models switch every geom's bits off and list their contacts as
pairs (Menagerie's Apptronik Apollo: feet against the floor).
"""

from __future__ import annotations

import mujoco

__all__ = ["collides"]


def collides(model: mujoco.MjModel, geom: int) -> bool:
    """Whether geom ``geom`` takes part in contacts (bits or a pair)."""
    if model.geom_contype[geom] or model.geom_conaffinity[geom]:
        return True
    return bool(model.npair) and (geom in model.pair_geom1 or geom in model.pair_geom2)
