"""Simulation: N simulations of one robot on ``mujoco.batch``, with sensor and disturbance models.

================  ==================================================================================
module            owns
================  ==================================================================================
batch             :class:`BatchSim`: batched stepping on a thread pool, per-simulation model fields
divergence        saying when a simulation diverged (:func:`checked_step` raises where ``mj_step``
                  would reset the data and go on)
sensors           sensor models over batched readings: bias, white noise, quantization, drops
disturbances      external pushes on a named body, scheduled per simulation
drives            what runs between physics steps: actuator networks and Stribeck friction
net_actuator      actuator networks at run time (onnxruntime): file, metadata, batched history
floating          the free joint of a floating base, and the robot hung by its base
replay            replay of logged commands in windows started from logged states
velocity_source   a window's initial velocities: a log's velocity column or its positions' slope,
                  whichever the log shows to be the more accurate
continuity        where a log's joint positions jump (resets, angle wraps): what a replay window
                  must not span
terrain_scan      terrain height scans: the grid of points around a base and the MuJoCo ray casts
                  that measure the terrain under it (not through the robot's own geoms)
================  ==================================================================================
"""
