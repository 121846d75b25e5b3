"""sim2real: from MuJoCo simulation to a real robot, and back.

One folder per stage of the loop (``docs/architecture.md`` has the picture and the import
ladder; each package's ``__init__`` lists its modules); the packages and top-level modules:

=============  =====================================================================================
module         owns
=============  =====================================================================================
errors         the package's exception types (what the CLI turns into one line and an exit code)
text           short lists in messages: ``few`` ("a, b, ... k more"), ``and_more``
robots         RobotSpec (the one source of truth about a robot), MJCF models, actuator equations
params         named physical parameters: resolved against a robot, read/write on models
param_kinds    the kinds of parameters: units (a slide joint's in m and N), physical domains, default
               bounds
param_files    parameter files (YAML name -> value; a calibration file reads as one)
calibration    calibration files: identified values with intervals, bound to a spec hash; the
               calibrated model
logs           the Trajectory model, rosbag2/MCAP read and write, CSV import
parallel       independent runs (envelope cells, seeds, multi-starts, sweep trials) here, in worker
               processes or on Ray
sim            batched simulation on ``mujoco.batch``, sensor models, disturbances
randomize      randomization configs over the parameters, the hooks that apply them, curricula
tasks          task kinds as terms over one typed state (rewards, terminations, observations)
envs           TaskEnv (simulation + task) and its rsl_rl and Gymnasium adapters
train          PPO through rsl_rl, the transferable network, checkpoints (torch)
policy         ONNX export with metadata, the real-time runtime (no torch), hand-made policies
real           the Robot protocol: the twin, the kinematic robot, ROS 2 robots and hardware node
deploy         the control loop, the safety monitor, speed stages, fault injection, recording,
               the ROS 2 deployment node
sysid          system identification from logs: values with intervals, delays, motor models,
               actuator networks
gap            reality-gap measurement, failure analysis, transfer envelope
finetune       residual adapters fine-tuned from real logs
report         HTML reports and figures
pipeline       the demo: the whole loop on an embedded robot with the twin as the robot
bench          the benchmarks behind ``sim2real bench``
commands       the ``sim2real`` subcommands, one module each
cli            the ``sim2real`` command: the subcommand table, logging, one-line errors, exit codes
__main__       ``python -m sim2real``
=============  =====================================================================================
"""

__version__ = "0.1.0"
