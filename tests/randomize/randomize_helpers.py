"""Helpers of the randomization tests: environments with hooks, a still task, parameter reads."""

from __future__ import annotations

import dataclasses

import numpy as np

from sim2real.envs.core import TaskEnv
from sim2real.randomize import build_hooks, load_randomization
from sim2real.tasks import get_task


def still_task(spec):
    """The robot's task, starting every episode at the default pose at rest, actions unfiltered and
    unscaled (command = action), so a test can read its own action back from the command."""

    def reset(env, ids, rng):
        n = len(ids)
        return np.tile(spec.default_pose, (n, 1)), np.zeros((n, spec.n_joints))

    task = get_task(spec.name)
    return dataclasses.replace(task, reset=reset, action_filter=1.0, action_scale=(1.0,) * len(task.action_scale))


def make_env(spec, config, num_envs, seed=0, task=None, nthread=2):
    """A TaskEnv with the hooks of a config (name, file or mapping); returns (env, randomizer)."""
    rnd = load_randomization(spec, config)
    hooks = build_hooks(spec, rnd, seed=seed)
    env = TaskEnv(spec, task or get_task(spec.name), num_envs, seed=seed, nthread=nthread, hooks=hooks)
    return env, (hooks[0] if hooks else None)


def get(env, name):
    """Per-simulation values of a parameter, (N, size)."""
    return env.sim.params.get(env.sim.batch, name)
