"""legged_gym's own configuration (``LeggedRobotCfg`` and a robot's subclass, written out as YAML
with its sections, as ``class_to_dict`` gives them) read as the flat keys of a unitree_rl_gym deploy
config (:mod:`~sim2real.policy.imports.legged_gym`).

Facts of legged_gym's ``LeggedRobot`` (``legged_robot.py``), section by section:

==============================================  ==================================================
section key                                     read as
==============================================  ==================================================
``env.num_actions``, ``env.num_observations``   ``num_actions``, ``num_obs``
``init_state.default_joint_angles``             ``default_joint_angles`` (by joint name)
``control.stiffness``, ``control.damping``      ``stiffness``, ``damping`` (keys: parts of names)
``control.action_scale``, ``control.decimation``  ``action_scale``, ``control_decimation``
``sim.dt``                                      ``simulation_dt``
``normalization.obs_scales``                    ``lin_vel_scale``, ``ang_vel_scale``,
                                                ``dof_pos_scale``, ``dof_vel_scale``,
                                                ``height_measurements_scale``; ``cmd_scale`` =
                                                (lin_vel, lin_vel, ang_vel), its ``commands_scale``
``normalization.clip_observations`` / ``clip_actions``  the same keys
``terrain.measured_points_x`` / ``_y``          the same keys, when ``terrain.measure_heights``
``env.frame_stack``, ``env.num_single_obs``     the same keys (humanoid-gym's stacked frames)
``env.use_ref_actions``                         the same key (humanoid-gym's; refused when true)
``rewards.cycle_time``                          ``cycle_time`` (humanoid-gym's gait clock period)
``normalization.obs_scales.quat``               ``quat_scale`` (humanoid-gym's Euler angles)
==============================================  ==================================================

``control.control_type`` other than ``P`` (position targets) is refused: sim2real's imported
policies command PD targets.  A section key beside the same flat key with another value is one
error line.  The command ranges (``commands.ranges``) are read where the command term is built
(:func:`~sim2real.policy.imports.legged_gym.command_ranges`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim2real.errors import PolicyError

SECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "env": (
        ("num_actions", "num_actions"),
        ("num_observations", "num_obs"),
        ("frame_stack", "frame_stack"),  # humanoid-gym's (sim2real.policy.imports.humanoid_gym)
        ("num_single_obs", "num_single_obs"),
        ("use_ref_actions", "use_ref_actions"),
    ),
    "rewards": (("cycle_time", "cycle_time"),),
    "init_state": (("default_joint_angles", "default_joint_angles"),),
    "control": (
        ("stiffness", "stiffness"),
        ("damping", "damping"),
        ("action_scale", "action_scale"),
        ("decimation", "control_decimation"),
    ),
    "sim": (("dt", "simulation_dt"),),
    "normalization": (("clip_observations", "clip_observations"), ("clip_actions", "clip_actions")),
}
"""Section -> (its key, the flat key) pairs read one to one."""
OBS_SCALES = (
    ("lin_vel", "lin_vel_scale"),
    ("ang_vel", "ang_vel_scale"),
    ("dof_pos", "dof_pos_scale"),
    ("dof_vel", "dof_vel_scale"),
    ("height_measurements", "height_measurements_scale"),
    ("quat", "quat_scale"),
)
"""``normalization.obs_scales`` key -> flat key."""


def is_sectioned(cfg: Mapping[str, Any]) -> bool:
    """Whether ``cfg`` is legged_gym's own configuration (its ``env`` or ``control`` section)."""
    return any(isinstance(cfg.get(k), Mapping) for k in ("env", "control", "init_state"))


def _put(out: dict[str, Any], key: str, value: Any, source: str, where: str) -> None:
    if key in out and out[key] != value:
        raise PolicyError(f"{where}: {source} is {value!r}, its flat key '{key}' says {out[key]!r}; keep one")
    out[key] = value


def flatten(cfg: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The flat deploy-config keys of legged_gym's sectioned configuration (module docstring); a
    config without sections is returned as it is.

    Raises:
        PolicyError: a control type other than position targets, or a section key that disagrees
            with the same flat key.
    """
    if not is_sectioned(cfg):
        return dict(cfg)
    out = dict(cfg)
    control = cfg.get("control") if isinstance(cfg.get("control"), Mapping) else {}
    kind = control.get("control_type", "P")
    if kind != "P":
        raise PolicyError(
            f"{where}: control.control_type is {kind!r}; sim2real imports policies that command position "
            "targets (legged_gym's 'P')"
        )
    for section, pairs in SECTIONS.items():
        values = cfg.get(section)
        if not isinstance(values, Mapping):
            continue
        for key, flat in pairs:
            if values.get(key) is not None:
                _put(out, flat, values[key], f"{section}.{key}", where)
    normalization = cfg.get("normalization") if isinstance(cfg.get("normalization"), Mapping) else {}
    scales = normalization.get("obs_scales")
    if isinstance(scales, Mapping):
        for key, flat in OBS_SCALES:
            if scales.get(key) is not None:
                _put(out, flat, scales[key], f"normalization.obs_scales.{key}", where)
        if scales.get("lin_vel") is not None and scales.get("ang_vel") is not None:
            command = [scales["lin_vel"], scales["lin_vel"], scales["ang_vel"]]
            _put(out, "cmd_scale", command, "normalization.obs_scales (lin_vel, lin_vel, ang_vel)", where)
    terrain = cfg.get("terrain")
    if isinstance(terrain, Mapping) and terrain.get("measure_heights"):
        for key in ("measured_points_x", "measured_points_y"):
            if terrain.get(key) is not None:
                _put(out, key, terrain[key], f"terrain.{key}", where)
    for section in (*SECTIONS, "terrain"):
        out.pop(section, None)  # read above; their other keys (clip_param, ...) are training settings
    return out
