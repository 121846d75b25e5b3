"""``sim2real bench sim``: our batched environment against a bare ``mujoco.batch`` loop.

Figures (physics substeps per second, all on the same model and thread count, in one run):

- ``raw_steps_per_s``: the bare ``Batch.step(nstep=substeps)`` calls, timed on their own inside
  the same run (same states, same contacts, same threads) - the physics the environment cannot
  avoid;
- ``env_steps_per_s``: ``TaskEnv.step`` (actions -> commands -> physics -> rewards,
  terminations, resets, sensor model, observations), plus randomization when asked;
- ``ratio`` = env / raw (target >= 0.8);
- ``gym_loop_steps_per_s``: a one-simulation Python ``mujoco.mj_step`` loop;
- ``raw_standing_steps_per_s``: a separate bare loop of robots standing at the default pose
  with constant controls (for reference: falling and walking robots make more contacts, so
  this is not the same workload as the environment's).
"""

from __future__ import annotations

import logging
import time

import mujoco
import mujoco.batch
import numpy as np

from sim2real.bench.timing import machine, rate
from sim2real.envs.core import TaskEnv
from sim2real.robots import load_robot
from sim2real.robots.model import default_qpos
from sim2real.tasks import get_task

log = logging.getLogger(__name__)


def run(
    robot: str = "quadruped",
    envs: int = 256,
    seconds: float = 10.0,
    randomize: str | None = None,
    nthread: int = 0,
    seed: int = 0,
) -> dict:
    """Measure and return the figures (see module docstring)."""
    spec = load_robot(robot)
    hooks: tuple = ()
    if randomize:
        from sim2real.randomize import build_hooks

        hooks = build_hooks(spec, randomize, seed=seed)
    env = TaskEnv(spec, get_task(spec), envs, seed=seed, nthread=nthread, hooks=hooks)
    model = env.sim.model
    rng = np.random.default_rng(seed)
    actions = rng.normal(0.0, 0.3, (64, envs, spec.n_actions))
    counter = [0]

    def env_step() -> None:
        env.step(actions[counter[0] % 64])
        counter[0] += 1

    raw = mujoco.batch.Batch(model, envs, nthread, persistent=True)
    qpos = raw.bind("qpos")
    qpos[:] = default_qpos(spec, model)
    raw.forward()
    ctrl = raw.bind("ctrl")
    ctrl[:] = env.sim.ctrl

    def raw_step() -> None:
        raw.step(nstep=spec.substeps)

    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)

    def gym_step() -> None:
        mujoco.mj_step(model, data)

    # interleave short windows so that machine load drifts hit both sides alike
    windows = 5
    env_time = physics_time = 0.0
    env_units = 0
    raw_rates = []
    for _ in range(windows):
        raw_rates.append(rate(raw_step, seconds / (2 * windows), envs * spec.substeps))
        before = env.sim.physics_seconds
        start = time.perf_counter()
        calls = 0
        while time.perf_counter() - start < seconds / (2 * windows):
            env_step()
            calls += 1
        env_time += time.perf_counter() - start
        physics_time += env.sim.physics_seconds - before
        env_units += calls * envs * spec.substeps
    gym = rate(gym_step, min(2.0, seconds / 5), 1)
    env_rate = env_units / env_time
    raw_rate = env_units / physics_time
    return {
        "robot": spec.name,
        "envs": envs,
        "randomize": randomize or "none",
        "raw_steps_per_s": raw_rate,
        "env_steps_per_s": env_rate,
        "ratio": env_rate / raw_rate,
        "gym_loop_steps_per_s": gym,
        "raw_standing_steps_per_s": float(np.median(raw_rates)),
        "machine": machine(),
    }
