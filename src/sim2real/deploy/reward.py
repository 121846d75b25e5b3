"""The episode return of a deployment, from what the robot measures (the control loop sums it).

This module needs numpy; the robot's task terms (MuJoCo) are imported when a meter is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading

__all__: list[str] = []


class _RewardMeter:
    """The task's step reward from what the robot measures (no privileged state).

    Raises:
        Sim2RealError: when the robot has no task, or a reward term needs something a robot does not
            measure (e.g. the base linear velocity); the message says which.
    """

    def __init__(self, spec: Any) -> None:
        from sim2real.tasks import get_task  # lazily: the task modules import MuJoCo
        from sim2real.tasks.state import MeasuredState

        self.task = get_task(spec)
        n, m = spec.n_joints, spec.n_actions
        self.state = MeasuredState(
            spec,
            joint_pos=np.zeros((1, n)),
            joint_vel=np.zeros((1, n)),
            filtered_action=np.zeros((1, m)),
            prev_action=np.zeros((1, m)),
            velocity_command=np.zeros((1, 3)),
        )
        for name, term in self.task.rewards.items():
            try:
                value = np.asarray(term(self.state), dtype=float)
            except (AttributeError, KeyError, TypeError, IndexError, ValueError) as exc:
                raise Sim2RealError(
                    f"reward term '{name}' needs what a robot does not measure ({exc})"
                ) from None
            if value.shape != (1,):
                raise Sim2RealError(f"reward term '{name}' has shape {value.shape}")

    def step(
        self, reading: Reading, filtered_action: np.ndarray, velocity_command: np.ndarray | None
    ) -> float:
        state = self.state
        state.update(prev_action=state.filtered_action, joint_pos=reading.q, joint_vel=reading.qd)
        state.update(filtered_action=np.array(filtered_action, dtype=float))
        if velocity_command is not None:
            state.update(velocity_command=velocity_command)
        total = 0.0
        for term in self.task.rewards.values():
            total += term.weight * float(np.asarray(term(state), dtype=float)[0])
        return total * float(state.control_dt)
