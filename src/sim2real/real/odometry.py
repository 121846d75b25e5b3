"""What a legged robot's log records about its base: the on-board estimate and, on the twin, the truth.

The control loop (:class:`~sim2real.deploy.loop.ControlLoop`) calls :meth:`BaseStateLog.write`
with every reading it logs.  The estimate (:class:`~sim2real.real.estimator.BaseStateEstimator`
fed with the reading, as the robot's computer runs it) goes to ``/odom``; a simulated twin's true
base state at the same reading (``TwinRobot.read_base``) goes to ``/ground_truth/odom``, marked as
ground truth, so that replays start from the truth and the estimate's error can be measured (see
:mod:`sim2real.logs.bag`).  A robot hung by its base logs neither (its base does not move).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sim2real.real.estimator import BaseStateEstimator, EstimatorConfig
from sim2real.real.legs import LegKinematics
from sim2real.real.protocol import Reading

if TYPE_CHECKING:
    from sim2real.logs.bag import BagWriter
    from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

__all__ = ["BaseStateLog", "base_state_log"]


class BaseStateLog:
    """Writes the base state tracks of a floating-base robot's log, reading by reading.

    Args:
        estimator: The on-board estimator (its output goes to ``/odom``).
        robot: The robot; when it exposes its true base state at the last reading
            (``read_base``, as :class:`~sim2real.real.twin.TwinRobot` does), that goes to
            ``/ground_truth/odom``.
    """

    def __init__(self, estimator: BaseStateEstimator, robot: Any = None) -> None:
        self.estimator = estimator
        self.robot = robot
        self.estimates = 0
        """Estimates written so far."""

    @property
    def logs_truth(self) -> bool:
        """Whether the robot exposes its true base state (a twin), which :meth:`write` logs too."""
        return hasattr(self.robot, "read_base")

    def write(self, bag: BagWriter, reading: Reading) -> None:
        """Fold a logged reading into the estimator and write the estimate (and the truth)."""
        est = self.estimator.update(reading)
        if est is not None:
            bag.write_base(
                est.t,
                est.position,
                est.quat,
                est.lin_vel,
                est.ang_vel,
                pose_covariance=est.pose_covariance(),
                twist_covariance=est.twist_covariance(),
            )
            self.estimates += 1
        truth = getattr(self.robot, "read_base", None)
        if truth is not None and abs(truth.t - reading.t) < 1e-9:
            bag.write_base(truth.t, truth.position, truth.quat, truth.lin_vel, truth.ang_vel, ground_truth=True)


def base_state_log(
    spec: RobotSpec, robot: Any = None, config: EstimatorConfig | None = None
) -> BaseStateLog | None:
    """The base-state log of a robot: None unless its base floats (and it is not hung by it).

    Builds the leg kinematics from the robot's MuJoCo model (host side).
    """
    if spec.base_body is None or getattr(robot, "fixed_base", False):
        return None
    kinematics = LegKinematics.from_model(spec)
    return BaseStateLog(BaseStateEstimator(kinematics, config), robot)
