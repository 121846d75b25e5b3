"""``sim2real bench sim2sim``: an imported legged_gym policy in sim2real's sim2sim against the
upstream MuJoCo recipe, in one run.

The folder given holds a unitree_rl_gym policy as published (``motion.pt``, its MuJoCo deploy
config ``*.yaml``, ``scene.xml`` with the robot; e.g. ``../shared/data/foreign/unitree_h1``).
Measured, in this order:

- ``import``: ``sim2real import legged-gym`` into a temporary folder (wall time, parity);
- ``sim2sim``: :func:`sim2real.gap.sim2sim.run_sim2sim` for ``seconds`` with the config's
  ``cmd_init`` (the deploy loop, the runtime, the safety monitor, the training simulator);
- ``check``: the same on the different simulator of ``sim2sim --check`` (RK4, 4x finer, explicit PD,
  the twin's effects) and the gate's verdict;
- ``upstream``: the baseline, unitree_rl_gym's recipe written from its facts with plain MuJoCo
  and ``torch.jit`` (physics at ``simulation_dt``, PD torques in Python each physics step, the
  policy every ``control_decimation`` steps; the observation as the deploy script builds it).

Figures: mean [vx, vy, wz] over the second half (heading frame) of each, the difference of vx
(ours - upstream), and wall times with the ratio ours / upstream.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import Sim2RealError


def upstream_recipe(folder: Path, config: Path, seconds: float) -> dict[str, Any]:
    """unitree_rl_gym's MuJoCo sim2sim of a humanoid policy (gait clock after the last action)."""
    import mujoco
    import yaml

    from sim2real.gap.sim2sim import heading_velocity
    from sim2real.train.network import torch  # the train extra

    cfg = yaml.safe_load(config.read_text())
    model = mujoco.MjModel.from_xml_path(str(folder / "scene.xml"))
    data = mujoco.MjData(model)
    model.opt.timestep = cfg["simulation_dt"]
    policy = torch.jit.load(str(folder / "motion.pt"))
    kps, kds = np.array(cfg["kps"], dtype=float), np.array(cfg["kds"], dtype=float)
    default = np.array(cfg["default_angles"], dtype=float)
    command = np.array(cfg.get("cmd_init", [0.5, 0.0, 0.0]), dtype=float)
    action, target = np.zeros(cfg["num_actions"]), default.copy()
    with_clock = cfg["num_obs"] == 3 * cfg["num_actions"] + 11
    velocity = []
    start = time.perf_counter()
    for counter in range(1, round(seconds / cfg["simulation_dt"]) + 1):
        data.ctrl[:] = kps * (target - data.qpos[7:]) - kds * data.qvel[6:]
        mujoco.mj_step(model, data)
        if counter % cfg["control_decimation"]:
            continue
        qw, qx, qy, qz = data.qpos[3:7]
        gravity = [2 * (-qz * qx + qw * qy), -2 * (qz * qy + qw * qx), 1 - 2 * (qw * qw + qz * qz)]
        parts = [
            data.qvel[3:6] * cfg["ang_vel_scale"],
            gravity,
            command * np.array(cfg["cmd_scale"]),
            (data.qpos[7:] - default) * cfg["dof_pos_scale"],
            data.qvel[6:] * cfg["dof_vel_scale"],
            action,
        ]
        if with_clock:
            phase = (counter * cfg["simulation_dt"]) % 0.8 / 0.8
            parts.append([math.sin(2 * math.pi * phase), math.cos(2 * math.pi * phase)])
        obs = np.concatenate(parts).astype(np.float32)
        with torch.no_grad():
            action = policy(torch.from_numpy(obs).unsqueeze(0)).numpy().squeeze()
        target = action * cfg["action_scale"] + default
        velocity.append(heading_velocity(data.qpos[3:7], data.qvel[0:3], data.qvel[3:6]))
    wall = time.perf_counter() - start
    velocity = np.array(velocity)
    return {"mean_base_velocity": velocity[len(velocity) // 2 :].mean(axis=0).tolist(), "wall_s": wall}


def run(robot: str, seconds: float = 20.0) -> dict[str, Any]:
    """The figures of the module docstring for the policy folder ``robot``."""
    import yaml

    from sim2real.gap.sim2sim import run_sim2sim, sim2sim_check
    from sim2real.policy.imports.legged_gym import import_legged_gym

    folder = Path(robot)
    configs = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not (folder / "motion.pt").is_file() or not (folder / "scene.xml").is_file() or not configs:
        raise Sim2RealError(
            f"bench sim2sim takes a unitree_rl_gym policy folder (motion.pt, its deploy config, scene.xml), got {robot}"
        )
    command = tuple(float(v) for v in yaml.safe_load(configs[0].read_text()).get("cmd_init", [0.5, 0.0, 0.0]))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        imported = import_legged_gym(
            folder / "motion.pt", configs[0], folder / "scene.xml", Path(tmp) / "imported"
        )
        import_s = time.perf_counter() - start
        start = time.perf_counter()
        ours = run_sim2sim(imported.spec, imported.policy, velocity_command=command, seconds=seconds)
        ours_s = time.perf_counter() - start
        check = sim2sim_check(imported.spec, imported.policy, velocity_command=command, seconds=seconds)
    upstream = upstream_recipe(folder, configs[0], seconds)
    return {
        "policy": str(folder),
        "seconds": seconds,
        "velocity_command": list(command),
        "import_s": import_s,
        "import_parity": imported.max_abs_diff,
        "sim2sim": {
            "mean_base_velocity": ours["mean_base_velocity"],
            "fell": ours["fell"],
            "wall_s": ours_s,
            "safety_events": ours["safety"]["events"],
        },
        "check": {
            "mean_base_velocity": check["check"]["mean_base_velocity"],
            "fell": check["check"]["fell"],
            "gate_passed": check["gate"]["passed"],
        },
        "upstream": upstream,
        "vx_difference": ours["mean_base_velocity"][0] - upstream["mean_base_velocity"][0],
        "wall_ratio_vs_upstream": ours_s / upstream["wall_s"],
    }
