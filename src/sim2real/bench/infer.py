"""``sim2real bench infer``: latency of one control step of the policy runtime, against two baselines.

All three are measured in one run, single-threaded, on the same exported network and the same
recorded robot readings, interleaved in blocks of ``block`` calls so that machine noise hits them
alike (at least 20,000 timed calls each, after warm-up):

- ``step``: one full :meth:`PolicyRunner.step` - observation build from the readings, inference
  (IO binding, one-thread session), action filter, scaling, default pose, limits;
- ``seed_loader``: the usual tutorial pattern for the same step - ``InferenceSession(path)`` with
  default options, the observation from ``build_observation`` (allocating), a freshly reshaped
  float32 array into ``session.run``, then the filter and scaling in plain numpy;
- ``torch``: PyTorch eager (``torch.set_num_threads(1)``, inference mode) on the same network,
  inference only.

Inference-only figures of the runner (``runner_infer_*``: the bound ``run_with_iobinding`` call) and
of the seed pattern (``seed_infer_*``: ``session.run`` on a freshly reshaped array) are reported too.
``max_abs_diff`` is the largest |onnxruntime - PyTorch| over the export parity check (10,000 random and
1,000 recorded observations) and over the runner's own observations during the benchmark.

The network is a TransferPolicy of the size training uses for the robot (the hidden widths of
``sim2real.train.config.default_config(robot)``: (128, 128, 128) for the quadruped) unless ``hidden``
is given, its normalizer fitted to the observations of a simulated rollout; the readings replayed in
the timed loop are recorded from that rollout.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sim2real.bench.timing import machine

log = logging.getLogger(__name__)


def _percentiles(samples_ns: np.ndarray) -> tuple[float, float]:
    p50, p99 = np.percentile(samples_ns, [50, 99]) / 1000.0
    return float(p50), float(p99)


def run(
    robot: str = "quadruped",
    calls: int = 24_000,
    block: int = 200,
    warmup: int = 2_000,
    hidden: Sequence[int] | None = None,
    seed: int = 0,
) -> dict:
    """Measure and return the figures (see the module docstring); latencies in microseconds."""
    import onnxruntime as ort
    import torch

    from sim2real.envs.core import TaskEnv
    from sim2real.policy.export import export_policy
    from sim2real.policy.runtime import PolicyRunner
    from sim2real.robots import load_robot
    from sim2real.tasks import get_task
    from sim2real.tasks.observations import ObservedActions, ObsInputs, build_observation
    from sim2real.train.network import TransferPolicy

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    spec = load_robot(robot)
    task = get_task(spec)
    if hidden is None:
        from sim2real.train.config import default_config

        hidden = default_config(task.name).hidden
    policy = TransferPolicy(spec.n_obs, spec.n_actions, tuple(hidden)).eval()

    # readings of a simulated rollout (one robot), in which the policy acts
    env = TaskEnv(spec, task, 1, seed=seed, nthread=1)
    obs, _ = env.reset()
    readings, observations = [], []
    with torch.no_grad():
        for _ in range(1000):
            inp = env.obs_inputs()
            readings.append(
                tuple(
                    None if x is None else np.array(x[0], dtype=float)
                    for x in (
                        inp.joint_pos,
                        inp.joint_vel,
                        inp.base_ang_vel,
                        inp.base_quat,
                        inp.velocity_command,
                    )
                )
            )
            obs = build_observation(spec.observation, inp)
            observations.append(obs[0].astype(np.float32))
            obs = env.step(policy(torch.as_tensor(obs, dtype=torch.float32)).numpy()).obs
    recorded = np.stack(observations)
    policy.normalizer.update(torch.as_tensor(recorded))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{spec.name}.onnx"
        result = export_policy(policy, spec, path, task=task, recorded=recorded, seed=seed)
        runner = PolicyRunner(path, spec)
        seed_session = ort.InferenceSession(str(path))  # the tutorial pattern: default options
    meta = runner.metadata
    layout = meta.observation
    default_pose = np.array(meta.default_pose)
    alpha, scale, offset = meta.action_filter, np.array(meta.action_scale), meta.command_offset
    low, high = meta.command_low, meta.command_high
    seed_state = {"filtered": np.zeros(spec.n_actions)}
    observed = ObservedActions(meta.n_act, meta.action_index)

    def seed_step(i: int) -> None:
        q, qd, gyro, quat, cmd = readings[i]
        inp = ObsInputs(
            joint_pos=q.reshape(1, -1),
            joint_vel=qd.reshape(1, -1),
            default_pose=default_pose,
            last_action=observed.select(seed_state["filtered"]).reshape(1, -1),
            base_ang_vel=None if gyro is None else gyro.reshape(1, -1),
            base_quat=None if quat is None else (quat / np.linalg.norm(quat)).reshape(1, -1),
            velocity_command=None if cmd is None else cmd.reshape(1, -1),
        )
        x = np.asarray(build_observation(layout, inp), dtype=np.float32).reshape(1, -1)
        action = seed_session.run(None, {"obs": x})[0][0]
        seed_state["filtered"] = alpha * action + (1.0 - alpha) * seed_state["filtered"]
        np.clip(scale * seed_state["filtered"] + offset, low, high)

    def runner_step(i: int) -> None:
        q, qd, gyro, quat, cmd = readings[i]
        runner.step(q, qd, gyro, quat, cmd)

    obs_list = [o.tolist() for o in observations]

    def seed_infer(i: int) -> None:
        seed_session.run(None, {"obs": np.array(obs_list[i], dtype=np.float32).reshape(1, -1)})

    bound_run, io = runner.session.run_with_iobinding, runner._io

    def runner_infer(i: int) -> None:
        bound_run(io)

    tensors = [torch.from_numpy(o.reshape(1, -1)) for o in observations]

    def torch_infer(i: int) -> None:
        with torch.inference_mode():
            policy(tensors[i])

    methods: dict[str, Callable[[int], None]] = {
        "step": runner_step,
        "seed_loader": seed_step,
        "torch": torch_infer,
        "runner_infer": runner_infer,
        "seed_infer": seed_infer,
    }
    n = len(readings)
    # the runner's actions on its own observations vs PyTorch (during warm-up)
    diff = 0.0
    for i in range(warmup):
        runner_step(i % n)
        if i < n and runner.last_input_finite:
            with torch.no_grad():
                ref = policy(torch.from_numpy(np.array(runner.observation).reshape(1, -1))).numpy()[0]
            diff = max(diff, float(np.max(np.abs(runner.action - ref))))
    for name, fn in methods.items():
        if name != "step":
            for i in range(warmup):
                fn(i % n)

    blocks = -(-calls // block)
    samples = {name: np.empty(blocks * block) for name in methods}
    pc = time.perf_counter_ns
    names = list(methods)
    for b in range(blocks):
        order = names[b % len(names) :] + names[: b % len(names)]  # rotate who goes first
        for name in order:
            fn, out = methods[name], samples[name]
            base = b * block
            for k in range(block):
                i = (base + k) % n
                t0 = pc()
                fn(i)
                out[base + k] = pc() - t0
    figures = {name: _percentiles(s) for name, s in samples.items()}
    return {
        "robot": spec.name,
        "hidden": list(hidden),
        "n_obs": spec.n_obs,
        "n_act": spec.n_actions,
        "calls": blocks * block,
        "providers": list(runner.providers),
        "step_p50_us": figures["step"][0],
        "step_p99_us": figures["step"][1],
        "seed_loader_p50_us": figures["seed_loader"][0],
        "seed_loader_p99_us": figures["seed_loader"][1],
        "torch_p50_us": figures["torch"][0],
        "torch_p99_us": figures["torch"][1],
        "runner_infer_p50_us": figures["runner_infer"][0],
        "runner_infer_p99_us": figures["runner_infer"][1],
        "seed_infer_p50_us": figures["seed_infer"][0],
        "seed_infer_p99_us": figures["seed_infer"][1],
        "seed_over_step_p99": figures["seed_loader"][1] / figures["step"][1],
        "max_abs_diff": max(result.max_abs_diff, diff),
        "load_average": list(os.getloadavg()),
        "machine": machine(),
    }
