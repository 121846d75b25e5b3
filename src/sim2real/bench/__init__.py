"""Benchmarks behind ``sim2real bench``: each ``run(...)`` returns the JSON summary of one headline figure.

================  ==================================================================================
module            owns
================  ==================================================================================
sim               our batched environment against a bare ``mujoco.batch`` loop
train             wall-clock time until a policy succeeds, ours against Stable-Baselines3
infer             latency of one control step of the policy runtime, against two baselines
sysid             our identification against the seeds' recipe, on the same data
finetune          what a few real (twin) episodes of fine-tuning buy
timing            timing helpers shared by the benchmarks
================  ==================================================================================
"""
