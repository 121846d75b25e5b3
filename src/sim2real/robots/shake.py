"""Does the simulation stay finite under the commands an untrained policy gives?  A quick check of a spec.

Early in training a policy's actions are noise: every control step each command jumps anywhere in
``offset +- scale * limit``.  A model whose light joints carry no armature can take a held pose and
diverge under those jumps (example-robot-data's G1 with kp 100, kd 2 on its 0.00037 kg m^2 wrists:
MuJoCo reset it 0.22 s in, and training's episodes returned -7e7).  :func:`shake` runs the spec's
model under such commands for a moment and says when and where it diverged; ``robot init`` names it
under *check*.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.robots.model import actuator_indices, build_model, default_qpos, joint_dof_indices, resets
from sim2real.robots.spec import RobotSpec


@dataclass(frozen=True)
class Shaken:
    """Where :func:`shake` saw the simulation diverge."""

    time: float
    """Simulated time [s] of the divergence (MuJoCo's reset)."""
    joint: str
    """The spec's joint moving fastest one control step before it."""
    speed: float
    """Its speed then [rad/s or m/s]."""


def shake(
    spec: RobotSpec, seconds: float = 1.0, seed: int = 0, model: mujoco.MjModel | None = None
) -> Shaken | None:
    """Simulate the robot from its default pose under uniformly random actions in ``[-limit, limit]``
    (``action.limit``, 1 when unlimited) held for a control step each; None when it stays finite.

    Actuator networks are not run (their joints get zero command).

    Args:
        spec: The robot.
        seconds: Simulated time [s].
        seed: Seed of the random actions.
        model: Its compiled nominal model, if already built.
    """
    model = model if model is not None else build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_forward(model, data)
    acts = actuator_indices(spec, model)
    net = np.array([a.net is not None for a in spec.actuators], dtype=bool)
    qvel_of = joint_dof_indices(spec, model)
    rng = np.random.default_rng(seed)
    limit = spec.action_limit if spec.action_limit is not None else 1.0
    low = spec.action_clip_low if spec.action_clip_low.size else np.full(len(acts), -np.inf)
    high = spec.action_clip_high if spec.action_clip_high.size else np.full(len(acts), np.inf)
    before = np.zeros(len(qvel_of))
    for _ in range(max(1, round(seconds / spec.control_dt))):
        action = rng.uniform(-limit, limit, len(acts))
        command = np.clip(spec.action_offset + spec.action_scale * action, low, high)
        data.ctrl[acts] = np.where(net, 0.0, command)
        for _ in range(spec.substeps):
            t = float(data.time)
            mujoco.mj_step(model, data)
            if resets(data):  # MuJoCo reset it: qvel is the reset's
                worst = int(np.argmax(np.abs(before)))
                return Shaken(t, spec.joints[worst], float(abs(before[worst])))
        before = data.qvel[qvel_of].copy()
    return None
