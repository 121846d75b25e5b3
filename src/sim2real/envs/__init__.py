"""Environments: a batched simulation plus a task, and adapters for training libraries.

================  ==================================================================================
module            owns
================  ==================================================================================
core              :class:`TaskEnv`: simulation + task stepped with policy actions (numpy, no torch)
rsl               rsl_rl ``VecEnv`` over a TaskEnv (needs the ``train`` extra)
gym               Gymnasium ``Env`` of one simulation of any task (and Stable-Baselines3)
================  ==================================================================================
"""
