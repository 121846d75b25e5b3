"""Robots: the Robot protocol and what implements it.  Never imports torch.

================  ==================================================================================
module            owns
================  ==================================================================================
protocol          the Robot protocol: :class:`Reading`, :class:`Command`, ``read/write/stop``
twin              :class:`TwinRobot`: MuJoCo with hidden parameters and unmodeled effects (the
                  stand-in for the real robot)
twin_config       the twin file: hidden parameter values and unmodeled effects, read and checked
twin_template     the twin file template: every key with its unit and meaning
twin_steps        how fine the twin's physics step must be for its own torques to stay stable
estimator         base state estimation for legged robots (IMU, leg kinematics, foot contact)
legs              the legs of a floating-base robot as plain arrays (the estimator's)
odometry          a legged robot's base as its log records it: the estimate and, on the twin, the truth
imu_frame         an IMU recorded in another frame than the spec's IMU site, turned into the site's
imu_gravity       whether an IMU's orientation agrees with its accelerometer about gravity
rotations         quaternions, rotation matrices and cross products as plain numpy
base_state        :class:`BaseState`: a simulated floating base's true state (evaluation only)
kinematic         :class:`KinematicRobot`: joints follow pd targets at once (plumbing benchmarks)
ros2              ROS 2: :class:`Ros2Robot` and the hardware node serving a Robot (package; needs
                  the ``ros2`` extra)
================  ==================================================================================
"""
