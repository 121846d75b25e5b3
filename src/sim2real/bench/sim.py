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

With an actuator network (``actuator_net``: an ONNX file of ``sim2real actuator fit``, applied to
every actuated joint it models; or a spec whose actuators are ``model: net``), the environment
with the network and the same environment with the spec's own actuators step in interleaved
windows, with the same actions:

- ``env_steps_per_s`` / ``ratio``: the environment with the network, and its rate over the bare
  ``Batch.step(nstep=substeps)`` calls of the environment without it (the physics it would cost);
- ``native_env_steps_per_s``: the environment without the network;
- ``net_overhead``: the wall time the network adds to an environment step, as a share of the
  step without it (its evaluation, the inputs, and the physics steps run one call each);
- ``net_share``: the share of the network environment's wall time spent evaluating it;
- ``load``: the machine's load average before and after (the machine may be shared).
"""

from __future__ import annotations

import logging
import os
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


def _env(spec, envs: int, seed: int, nthread: int, randomize: str | None) -> TaskEnv:
    hooks: tuple = ()
    if randomize:
        from sim2real.randomize import build_hooks

        hooks = build_hooks(spec, randomize, seed=seed)
    return TaskEnv(spec, get_task(spec), envs, seed=seed, nthread=nthread, hooks=hooks)


def _native(spec):
    """The spec with every actuator computed by MuJoCo (its networks removed)."""
    import dataclasses

    acts = tuple(dataclasses.replace(a, net=None) for a in spec.actuators)
    return dataclasses.replace(spec, actuators=acts)


def run(
    robot: str = "quadruped",
    envs: int = 256,
    seconds: float = 10.0,
    randomize: str | None = None,
    nthread: int = 0,
    seed: int = 0,
    actuator_net: str | None = None,
) -> dict:
    """Measure and return the figures (see module docstring)."""
    spec = load_robot(robot)
    if actuator_net is not None:
        from sim2real.sim.net_actuator import with_actuator_net

        spec = with_actuator_net(spec, actuator_net)
    with_net = any(a.net is not None for a in spec.actuators)
    load_before = os.getloadavg()
    env = _env(spec, envs, seed, nthread, randomize)
    native = _env(_native(spec), envs, seed, nthread, randomize) if with_net else env
    model = native.sim.model
    rng = np.random.default_rng(seed)
    actions = rng.normal(0.0, 0.3, (64, envs, spec.n_actions))

    raw = mujoco.batch.Batch(model, envs, nthread, persistent=True)
    qpos = raw.bind("qpos")
    qpos[:] = default_qpos(spec, model)
    raw.forward()
    ctrl = raw.bind("ctrl")
    ctrl[:] = native.sim.ctrl

    def raw_step() -> None:
        raw.step(nstep=spec.substeps)

    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)

    def gym_step() -> None:
        mujoco.mj_step(model, data)

    # interleave short windows so that machine load drifts hit every side alike
    windows = 5
    runs = [env, native] if with_net else [env]
    wall = {id(e): 0.0 for e in runs}
    units = {id(e): 0 for e in runs}
    physics = {id(e): 0.0 for e in runs}
    net_time = 0.0
    raw_rates = []
    share = seconds / ((len(runs) + 1) * windows)
    for _ in range(windows):
        raw_rates.append(rate(raw_step, share, envs * spec.substeps))
        for e in runs:
            before, nets = e.sim.physics_seconds, e.sim.drives.net_seconds
            start = time.perf_counter()
            calls = 0
            while time.perf_counter() - start < share:
                e.step(actions[calls % 64])
                calls += 1
            wall[id(e)] += time.perf_counter() - start
            physics[id(e)] += e.sim.physics_seconds - before
            units[id(e)] += calls * envs * spec.substeps
            if e is env:
                net_time += e.sim.drives.net_seconds - nets
    gym = rate(gym_step, min(2.0, seconds / 5), 1)
    env_rate = units[id(env)] / wall[id(env)]
    raw_rate = units[id(native)] / physics[id(native)]
    out = {
        "robot": spec.name,
        "envs": envs,
        "randomize": randomize or "none",
        "raw_steps_per_s": raw_rate,
        "env_steps_per_s": env_rate,
        "ratio": env_rate / raw_rate,
        "gym_loop_steps_per_s": gym,
        "raw_standing_steps_per_s": float(np.median(raw_rates)),
        "basis": "steps are physics substeps per second of all simulations; ratio = env / raw, the bare "
        "mujoco.batch steps timed inside the same run (target >= 0.8); gym_loop: one simulation stepped by a "
        "Python mj_step loop, for reference (one robot's workload, not the environment's)",
        "machine": machine(),
    }
    if with_net:
        native_rate = units[id(native)] / wall[id(native)]
        nets = sorted({a.net.name for a in spec.actuators if a.net is not None})
        out |= {
            "actuator_net": nets,
            "native_env_steps_per_s": native_rate,
            "net_overhead": native_rate / env_rate - 1.0,
            "net_share": net_time / wall[id(env)],
            "load": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        }
    return out
