"""Deployment episodes on the twin: each episode's start is a jump the twin makes, not a sensor fault
(make demo's twin evaluation once took every such jump for a frozen sensor and safe-stopped)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from sim2real.pipeline.episodes import run_episodes_on_twin
from sim2real.policy.linear import write_linear_policy
from sim2real.real.twin import TwinConfig
from sim2real.robots import load_robot


def test_the_jump_to_each_episodes_start_stops_nothing(tmp_path):
    """A policy pumping energy into the pendulum (action along its velocity) leaves it swinging
    fast at each episode's end, so the jump back to a start near rest is large; the motion check
    restarts there and stops nothing (without the restart: a sensor safe stop in the second episode)."""
    spec = load_robot("pendulum")
    gain = np.zeros((spec.n_actions, spec.n_obs))
    start = 0
    for term in spec.observation:
        if term.name == "joint_vel":
            gain[:, start : start + term.size] = 50.0
        start += term.size
    assert gain.any()  # the layout has a velocity term to pump with
    policy = write_linear_policy(spec, tmp_path / "pump.onnx", gain)
    events: Counter[str] = Counter()
    result = run_episodes_on_twin(
        spec, policy, TwinConfig(), 2, seed=0, on_tick=lambda r: events.update(str(e.kind) for e in r.events)
    )
    assert len(result.episodes) == 2
    assert events["velocity_limit"] > 0  # it did swing hard
    assert events["sensor"] == 0, events
