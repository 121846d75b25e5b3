"""ROS 2 on the deployment side (needs the ``ros2`` extra; the robot side is :mod:`sim2real.real.ros2`).

================  ==================================================================================
module            owns
================  ==================================================================================
node              :class:`PolicyDeploymentNode` (the control loop on a ROS 2 timer, e-stop topic and
                  service, reset service, ``/diagnostics``), :func:`run_ros2_deploy`
                  (``sim2real deploy --ros2``)
timing            :class:`LoopTiming`: rate, missed deadlines and latency of the control timer
selftest          :func:`selftest` (``sim2real ros2 selftest``): the deployment path measured against
                  a kinematic hardware node in another process
================  ==================================================================================
"""

from sim2real.deploy.ros2.node import NodeConfig, PolicyDeploymentNode, run_ros2_deploy, warm_up_log
from sim2real.deploy.ros2.selftest import selftest
from sim2real.deploy.ros2.timing import LoopTiming

__all__ = ["LoopTiming", "NodeConfig", "PolicyDeploymentNode", "run_ros2_deploy", "selftest", "warm_up_log"]
