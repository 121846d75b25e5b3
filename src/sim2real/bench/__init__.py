"""Benchmarks behind ``sim2real bench``: each ``run(...)`` returns the JSON summary of one headline figure.

================  ==================================================================================
module            owns
================  ==================================================================================
sim               our batched environment against a bare ``mujoco.batch`` loop
train             wall-clock time until a policy succeeds, ours against Stable-Baselines3
infer             latency of one control step of the policy runtime, against two baselines
sysid             our identification against the seeds' recipe, on the same data
finetune          what a few real (twin) episodes of fine-tuning buy
distributed       data-parallel PPO over processes against one process, same total samples
sim2sim           an imported legged_gym policy in our sim2sim against the upstream MuJoCo recipe
live              what live telemetry costs the control loop per tick
collision         what the collision observer costs the control loop per tick
actuator          actuator networks against the identified drive model (torque prediction)
friction          the joint friction model on the real recordings (pendulum, QUBE-Servo 2), on
                  recordings held out of the fit
scenarios         twins with hidden values: the identification scenarios behind the figures
live_client       a Foxglove WebSocket client (what ``bench live`` and the live telemetry tests
                  connect with)
timing            timing helpers shared by the benchmarks
================  ==================================================================================
"""
