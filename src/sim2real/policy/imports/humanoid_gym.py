"""humanoid-gym (RobotEra's legged_gym fork for humanoids, its XBot-L policies) read as a legged_gym
config (:mod:`~sim2real.policy.imports.legged_gym`): its observation, whole frames stacked.

Facts of humanoid-gym's ``XBotLCfg`` and ``XBotLFreeEnv.compute_observations``:

- one frame (``env.num_single_obs``, 47 for 12 actions: 3 n + 11) is the gait clock (sin, cos of
  2 pi t / ``rewards.cycle_time``, t the time since the episode started), the velocity command x
  (``lin_vel``, ``lin_vel``, ``ang_vel``) scales, (q - default) x ``dof_pos``, dq x ``dof_vel``,
  the last action, the base angular velocity x ``ang_vel`` and the base's Euler angles (roll, pitch,
  yaw, isaacgym's ``get_euler_xyz`` wrapped to (-pi, pi]) x ``quat`` (``normalization.obs_scales``);
- the policy sees the last ``env.frame_stack`` frames (15), oldest first; a reset zeroes them all
  (``obs_history``), so the first observation of an episode is zeros and then its first frame;
- ``clip_observations`` (18) bounds the whole stacked observation after scaling, ``clip_actions``
  (18) the action; target = action x ``action_scale`` + default pose, as legged_gym;
- its terrain height scan (``measure_heights``) is the critic's (privileged) observation only;
- ``env.use_ref_actions`` adds a reference gait computed from the phase to the action: not built
  here (refused with one line).

sim2real builds the frame from its observation terms (``gait_phase``, ``velocity_command``,
``joint_pos_rel``, ``joint_vel``, ``last_action``, ``base_ang_vel``, ``base_euler``) and the stack
with the metadata's ``frame_stack`` (:mod:`sim2real.tasks.observations`), which training's
simulator, ``sim2sim``, ``deploy`` (twin and ROS 2) all build with the same code.
"""

from __future__ import annotations

from typing import Any, NoReturn

from sim2real.errors import PolicyError
from sim2real.robots.spec import ObservationTerm

FRAME_KEYS = ("frame_stack", "num_single_obs")
"""humanoid-gym's ``env.frame_stack`` and ``env.num_single_obs``: their presence says the config is
humanoid-gym's."""
CYCLE_TIME = 0.64
"""``XBotLCfg.rewards.cycle_time`` [s]: the gait clock's period where a config states none."""
QUAT_SCALE = 1.0
"""``XBotLCfg.normalization.obs_scales.quat``: the Euler angles' scale where a config states none."""


def frame_size(n_actions: int) -> int:
    """Length of one humanoid-gym frame for ``n_actions`` actions: 3 n + 11."""
    return 3 * n_actions + 11


def _whole(cfg: dict[str, Any], key: str, where: str) -> int:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or not value >= 1:
        raise PolicyError(f"{where}: '{key}' must be a whole number of at least 1, got {value!r}")
    return int(value)


def stacked_frames(cfg: dict[str, Any], where: str, n_actions: int, n_obs: int) -> int | None:
    """The frames a humanoid-gym config stacks (its ``frame_stack``), or None for a config that is
    not humanoid-gym's (neither of :data:`FRAME_KEYS`).

    Raises:
        PolicyError: one line naming what does not fit: ``num_obs`` that is not ``frame_stack`` x
            ``num_single_obs``, a frame that is not the 3 n + 11 values sim2real builds (a fork that
            observes more or less), or ``use_ref_actions``.
    """
    stated = [k for k in FRAME_KEYS if cfg.get(k) is not None]
    if not stated:
        return None
    single = _whole(cfg, "num_single_obs", where) if "num_single_obs" in stated else None
    frames = _whole(cfg, "frame_stack", where) if "frame_stack" in stated else None
    if frames is None:
        frames = n_obs // single if single is not None and n_obs % single == 0 else 0
    if single is None:
        single = n_obs // frames if n_obs % frames == 0 else 0
    if frames * single != n_obs:
        shown = ", ".join(f"{k} {cfg[k]}" for k in stated)
        raise PolicyError(f"{where}: num_obs {n_obs} is not frame_stack x num_single_obs ({shown})")
    expected = frame_size(n_actions)
    if single != expected:
        refuse(
            f"a frame of {single} values for {n_actions} actions (humanoid-gym's XBot frame has 3 x {n_actions} + 11 "
            f"= {expected}: gait clock, command, joints, velocities, action, base angular velocity, base Euler "
            "angles; a fork that observes more or less is not built)",
            where,
        )
    if cfg.get("use_ref_actions"):
        refuse(
            "use_ref_actions adds a reference gait computed from the phase to the action, which is not built",
            where,
        )
    return frames


def refuse(what: str, where: str) -> NoReturn:
    """The one line of a humanoid-gym observation sim2real cannot build."""
    raise PolicyError(f"{where}: humanoid-gym's observation: {what}")


def frame_terms(
    n_actions: int,
    period: float,
    command_scale: float | tuple[float, ...],
    dof_pos_scale: float,
    dof_vel_scale: float,
    ang_vel_scale: float,
    quat_scale: float,
) -> tuple[ObservationTerm, ...]:
    """One humanoid-gym frame as sim2real's observation terms, in its order (module docstring).

    Args:
        n_actions: n, the policy joints.
        period: The gait clock's period [s] (``rewards.cycle_time``).
        command_scale: (vx, vy, yaw rate) scales, or one for all three.
        dof_pos_scale: Scale of q - default [1/rad].
        dof_vel_scale: Scale of dq [s/rad].
        ang_vel_scale: Scale of the base angular velocity [s/rad].
        quat_scale: Scale of the Euler angles [1/rad].
    """
    return (
        ObservationTerm("gait_phase", 2, 1.0, params={"period": period}),
        ObservationTerm("velocity_command", 3, command_scale),
        ObservationTerm("joint_pos_rel", n_actions, dof_pos_scale),
        ObservationTerm("joint_vel", n_actions, dof_vel_scale),
        ObservationTerm("last_action", n_actions, 1.0),
        ObservationTerm("base_ang_vel", 3, ang_vel_scale),
        ObservationTerm("base_euler", 3, quat_scale),
    )
