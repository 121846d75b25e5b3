"""Deployment: a policy runs on a robot behind the safety layer, at a fixed rate, logged.

Numpy, onnxruntime and rosbags only (never torch): a robot computer runs this package.

==================  ==================================================================================
module              owns
==================  ==================================================================================
loop                :class:`ControlLoop` (read, check, policy, check, write, log; lockstep or paced)
loop_build          :func:`build_loop` (the deployment loop of a policy file)
loop_config         :class:`LoopConfig`, the :class:`Policy` protocol, :class:`TickResult`
loop_log            the run's rosbag2 log and its ``/sim2real/events`` kinds
reward              the episode return from measured quantities (the task's reward terms)
speed               the speed progression (stages, dwell) and ``--speed`` parsing
stage_speed         the speed stages' cap on a velocity-tracking robot's own speed and yaw rate
safety              :class:`SafetyMonitor`, and the index of every check and its tests
safety_events       event kinds, severities, events, decisions, the monitor's state words
safety_state        the state checks of a reading (staleness, NaN, limits, tilt, height, watchdog)
safety_limits       :class:`ActuatorLimits` (named, with units), the command window at a state, the
                    safe-mode command, and :func:`assert_safe` (the final, independent check)
safety_shape        the command path's clamp and hold events (which limit bound a value), the velocity
                    governor, the command's parsing
safety_motion       whether each joint's position follows its velocity (a frozen or stale stream)
collision           the :class:`CollisionDetector` the monitor runs: the observer's residual against
                    the thresholds, as collision events
collision_observer  the external-torque observer (momentum residual, numpy + MuJoCo)
collision_model     which model the observer predicts torques with: the calibration the policy was
                    trained on (its metadata), else the nominal model
collision_reach     the force the observer needs on a link, and whether a push that hard throws it
                    (preflight's collision item, the collision fault case)
coupling            joint couplings (joint equality constraints, a URDF's ``<mimic>``) and closed
                    chains: the directions of force the collision observer solves for
body_geometry       where a robot's bodies are: a body's front, a site in a body's frame, the sole a
                    body stands on, the gravity torque a joint carries (the collision observer and the
                    collision fault case)
monitor             :func:`deployment_monitor`: the monitor a deployment runs (limits + collision)
preflight           the pre-deployment checklist (``sim2real preflight``)
estop_log           :func:`deliberate_estop`: a check's own e-stop logged as INFO, saying why
preflight_limits    preflight's ``limits`` item: a spec's software limits against its model and the
                    robot's own MJCF
preflight_record    the checklist's results and their record (with the ROS 2 settings), what the
                    gate of ``deploy --ros2`` looks up
ledger              the stage ledger (SQLite): eventless time per speed stage across runs, and the
                    speed progression it gates (:class:`LedgerSpeed`)
live                live telemetry: the loop's log on a Foxglove WebSocket (``--live``; ``live`` extra)
faults              the fault-injection suite on the twin (``sim2real faults``)
stand_in            the suite's stand-in policy (PD to the default pose, slewed)
fault_cases         the faults it injects
fault_verdict       a fault case's outcome and the rules it is judged by (reaction, severity order,
                    the resume of a transient fault)
audit               the independent audit of every command that reaches the robot
excitation          excitation signals (chirp, PRBS, steps) for identification
record              recording runs for identification (``sim2real record``)
centering           the centering PD of torque and voltage joints, and the joint inertia, mobility
                    and sampled-loop gain bounds it is designed from
torque_hold         what a hold sends at torque joints: feedback to the pose the hold began at
ros2                the ROS 2 deployment node and selftest (package; needs the ``ros2`` extra)
==================  ==================================================================================
"""
