"""Simulation: N simulations of one robot on ``mujoco.batch``, with sensor and disturbance models.

================  ==================================================================================
module            owns
================  ==================================================================================
batch             :class:`BatchSim`: batched stepping on a thread pool, per-simulation model fields
sensors           sensor models over batched readings: bias, white noise, quantization, drops
disturbances      external pushes on a named body, scheduled per simulation
================  ==================================================================================
"""
