"""Robots: the Robot protocol and what implements it.  Never imports torch.

================  ==================================================================================
module            owns
================  ==================================================================================
protocol          the Robot protocol: :class:`Reading`, :class:`Command`, ``read/write/stop``
twin              :class:`TwinRobot`: MuJoCo with hidden parameters and unmodeled effects (the
                  stand-in for the real robot)
base_state        :class:`BaseState`: a simulated floating base's true state (evaluation only)
kinematic         :class:`KinematicRobot`: joints follow pd targets at once (plumbing benchmarks)
ros2              ROS 2: :class:`Ros2Robot` and the hardware node serving a Robot (package; needs
                  the ``ros2`` extra)
================  ==================================================================================
"""
