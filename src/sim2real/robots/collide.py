"""Which geoms of a model take part in contacts: the one predicate every stage uses.

A geom collides when its ``contype`` or ``conaffinity`` bits are set, or when an explicit
``<contact><pair>`` names it: some models switch every geom's bits off and list their contacts as
pairs (Menagerie's Apptronik Apollo: feet against the floor).
"""

from __future__ import annotations

import mujoco

__all__ = ["collides", "robot_geoms"]


def collides(model: mujoco.MjModel, geom: int) -> bool:
    """Whether geom ``geom`` takes part in contacts (bits or a pair)."""
    if model.geom_contype[geom] or model.geom_conaffinity[geom]:
        return True
    return bool(model.npair) and (geom in model.pair_geom1 or geom in model.pair_geom2)


def robot_geoms(model: mujoco.MjModel, body: int) -> list[int]:
    """The geoms that collide (:func:`collides`) of the robot ``body`` belongs to: of every body in
    the tree under the same child of the world (a floating base's free joint sits on such a child),
    in id order; not those of other free objects or of the scene."""
    root = int(model.body_rootid[body])
    return [
        g
        for g in range(model.ngeom)
        if int(model.body_rootid[model.geom_bodyid[g]]) == root and collides(model, g)
    ]
