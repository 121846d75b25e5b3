"""The efforts of a ``sensor_msgs/JointState``, as the measured-torque check may take them.

Efforts are optional: an empty ``effort`` array gives ``Reading.tau = None`` (said once: the
measured-torque check is then off), and so does one that is NaN at every actuated joint that has
never given a finite effort.  A joint that never gave one while others did (ros2_control's
joint_state_broadcaster publishes NaN for a joint without an effort interface) is *unmeasured*:
its effort stays NaN and ``Reading.tau_measured`` says so, while the joints that measure keep
their torque and NaN checks (said once, naming the unchecked joints).  Once a joint has given a
finite effort, its NaN, a message without efforts or one with an array of another length than the
names is a sensor fault, passed on as NaN for the safety monitor to stop on.  A passive joint that
never gave one reads 0 (it has no actuator and no torque limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim2real.robots.spec import RobotSpec

__all__ = ["EffortReader"]


class EffortReader:
    """The spec joints' efforts of a robot's JointState messages, message after message."""

    def __init__(self, spec: RobotSpec, warn_once: Callable[[str, str], None]) -> None:
        self.spec = spec
        self._warn_once = warn_once
        self._effort_seen = np.zeros(spec.n_joints, dtype=bool)  # joints that gave a finite effort
        self._passive = np.array(
            [j not in spec.actuated_joints for j in spec.joints]
        )  # no torque limit to check

    def read(self, effort: Any, index: np.ndarray, n_names: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The spec joints' efforts of a JointState (module docstring): ``(tau, measured)`` with
        ``measured`` the joints whose effort is measured (None: all of them), or None: none is.

        Once a joint has given a finite effort, its NaN (or a message without efforts, or with an
        array of another length) is a fault passed on as NaN for the monitor to stop on: the torque
        check must not go quiet when a driver stops sending them.
        """
        if len(effort) == n_names:
            tau = np.frombuffer(effort, dtype=np.float64)[index]
        else:
            if len(effort):
                self._warn_once(
                    "effort length",
                    f"JointState has {n_names} names and {len(effort)} efforts: efforts not read",
                )
            if not self._effort_seen.any():
                self._warn_once(
                    "no effort",
                    "JointState carries no efforts: the measured-torque check is off (commands are still "
                    "limited to the torque limits through the spec's gains)",
                )
                return None
            tau = np.full(self.spec.n_joints, np.nan)  # measured before: their absence is a fault
        finite = np.isfinite(tau)
        self._effort_seen |= finite
        tau = np.where(self._passive & ~self._effort_seen, 0.0, tau)
        measured = self._effort_seen | self._passive
        if measured.all():
            return tau, None
        if not self._effort_seen.any():
            self._warn_once(
                "effort",
                "JointState effort is NaN at every actuated joint: efforts taken as not measured until one gives one",
            )
            return None
        never = tuple(self.spec.joints[i] for i in np.flatnonzero(~measured))
        self._warn_once(
            f"effort {never}",
            f"JointState effort is NaN at {', '.join(never)}, which never gave one: the measured-torque check is "
            "off at these joints only (commands there are still limited through the spec's gains)",
        )
        return tau, measured
