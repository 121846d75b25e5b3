"""Export a trained TransferPolicy to one ONNX file with its metadata, and check it (needs torch).

The graph is the whole actor: observation normalizer (mean and std frozen, clip) -> MLP -> tanh,
input ``obs`` (batch, n_obs) float32, output ``action`` (batch, n_act), dynamic batch axis.  The
metadata (see :mod:`sim2real.policy.metadata`) carries everything deployment needs.

After writing, the file is loaded the way the robot loads it (the runtime's session options,
batch 1 and batched) and compared with PyTorch on 10,000 random observations and 1,000
observations recorded from a simulated rollout driven by the policy; the export fails (and leaves
no file) when the largest absolute difference exceeds the tolerance (1e-5).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import PolicyError, SpecMismatchError
from sim2real.policy.metadata import INPUT_NAME, OUTPUT_NAME, PolicyMetadata, stamp_metadata
from sim2real.policy.runtime import check_io, make_session
from sim2real.robots.spec import RobotSpec
from sim2real.tasks.base import TaskConfig
from sim2real.train.network import TransferPolicy  # a missing torch is a clear MissingExtraError here

log = logging.getLogger(__name__)

TOLERANCE = 1e-5
"""Largest accepted |onnxruntime - PyTorch| over the parity observations."""

# training metadata keys the exporter reads itself or that repeat the spec (the rest goes to "training")
_CONSUMED = (
    "spec_hash",
    "robot",
    "robot_path",
    "task",
    "action_scale",
    "action_filter",
    "randomization",
    "n_obs",
    "n_act",
    "hidden",
    "joints",
    "observation",
    "default_pose",
    "control_dt",
)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_policy` wrote and measured."""

    path: Path
    """The policy file."""
    metadata: PolicyMetadata
    """Its metadata."""
    max_abs_diff_random: float
    """Largest |onnxruntime - PyTorch| on the random observations."""
    max_abs_diff_recorded: float
    """Largest |onnxruntime - PyTorch| on the recorded observations."""
    n_random: int
    """Number of random observations."""
    n_recorded: int
    """Number of recorded observations."""

    @property
    def max_abs_diff(self) -> float:
        """Largest difference over both sets."""
        return max(self.max_abs_diff_random, self.max_abs_diff_recorded)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "path": str(self.path),
            "robot": self.metadata.robot,
            "spec_hash": self.metadata.spec_hash,
            "n_obs": self.metadata.n_obs,
            "n_act": self.metadata.n_act,
            "max_abs_diff": self.max_abs_diff,
            "max_abs_diff_random": self.max_abs_diff_random,
            "max_abs_diff_recorded": self.max_abs_diff_recorded,
            "n_random": self.n_random,
            "n_recorded": self.n_recorded,
        }


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's chatter (warnings about absent torchvision ops, deprecations)."""
    names = ("torch.onnx", "torch.export", "torch._export", "onnxscript", "onnx_ir")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


ONNX_OPSET = 17
"""Opset of the graphs sim2real writes (LayerNormalization is an operator of its own from 17)."""


def onnx_graph(
    module: Any, example: tuple[Any, ...], inputs: list[str], outputs: list[str], batch: Mapping[str, str] | None = None
) -> Any:
    """``module`` traced on ``example`` as an ONNX ModelProto, by torch's TorchScript-based exporter:
    about 0.1 s for a policy, where the ``torch.export`` (dynamo) path took 14-18 s per network
    (walk9: ``sim2real export`` 18 s idle, up to 146 s on a loaded machine).  Every caller checks the
    graph against torch afterwards (the export parity).

    Args:
        module: The torch module (eval mode).
        example: Its example inputs.
        inputs: Input names, in ``forward``'s order.
        outputs: Output names.
        batch: Names of the inputs and outputs whose first axis is a batch -> that axis's name.
    """
    import io

    import onnx
    import torch

    buffer = io.BytesIO()
    axes = {name: {0: dim} for name, dim in (batch or {}).items()}
    with _quiet_exporter(), torch.no_grad():
        torch.onnx.export(
            module,
            example,
            buffer,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes or None,
            opset_version=ONNX_OPSET,
            do_constant_folding=False,  # keep the named weights (finetune rebuilds the network from them)
            dynamo=False,
        )
    return onnx.load_from_string(buffer.getvalue())


def _export_graph(policy: TransferPolicy) -> Any:
    """The network as an ONNX ModelProto (normalizer inside, dynamic batch axis)."""
    import torch

    model = copy.deepcopy(policy).cpu().float().eval()
    example = torch.zeros(1, policy.n_obs)
    return onnx_graph(model, (example,), [INPUT_NAME], [OUTPUT_NAME], {INPUT_NAME: "batch", OUTPUT_NAME: "batch"})


def random_observations(policy: TransferPolicy, n: int, seed: int = 0) -> np.ndarray:
    """Observations around the normalizer's statistics (n, n_obs) float32: half within 1 std, a
    quarter within 5 std, a quarter within 15 std (beyond the clip)."""
    rng = np.random.default_rng(seed)
    mean = policy.normalizer.mean.detach().cpu().double().numpy()
    std = policy.normalizer.std.detach().cpu().double().numpy()
    spread = np.repeat([1.0, 5.0, 15.0], [n - 2 * (n // 4), n // 4, n // 4])[:, None]
    return (mean + std * spread * rng.standard_normal((n, mean.size))).astype(np.float32)


def record_observations(
    policy: TransferPolicy, spec: RobotSpec, task: TaskConfig, n: int = 1000, num_envs: int = 8, seed: int = 0
) -> np.ndarray:
    """Observations (n, n_obs) float32 of a simulated rollout in which the policy acts."""
    import torch

    from sim2real.envs.core import TaskEnv

    env = TaskEnv(spec, task, num_envs, seed=seed, nthread=1)
    obs, _ = env.reset()
    rows = []
    model = copy.deepcopy(policy).cpu().float().eval()
    with torch.no_grad():
        while sum(len(r) for r in rows) < n:
            rows.append(obs.astype(np.float32))
            action = model(torch.as_tensor(obs, dtype=torch.float32)).numpy()
            obs = env.step(action).obs
    return np.concatenate(rows)[:n]


def parity(
    model: bytes | str | Path, policy: TransferPolicy, observations: np.ndarray, row_by_row: bool = True
) -> float:
    """Largest |onnxruntime - PyTorch| over observations (B, n_obs), batched and (optionally) one row at a
    time (the robot runs batch 1), with the runtime's session options on the CPU provider; inf when
    either side produces a non-finite value."""
    import torch

    data = Path(model).read_bytes() if isinstance(model, str | Path) else model
    session = make_session(data, "cpu")
    obs = np.ascontiguousarray(observations, dtype=np.float32)
    if len(obs) == 0:
        return 0.0
    reference_model = copy.deepcopy(policy).cpu().float().eval()
    with torch.no_grad():
        reference = reference_model(torch.from_numpy(obs)).numpy().astype(np.float64)
    outputs = [session.run([OUTPUT_NAME], {INPUT_NAME: obs})[0]]
    if row_by_row:
        outputs.append(
            np.concatenate(
                [session.run([OUTPUT_NAME], {INPUT_NAME: obs[i : i + 1]})[0] for i in range(len(obs))]
            )
        )
    diff = np.abs(np.stack(outputs) - reference)
    if not np.isfinite(diff).all() or not np.isfinite(reference).all():
        return float("inf")
    return float(diff.max())


def export_policy(
    policy: TransferPolicy,
    spec: RobotSpec,
    out: str | Path,
    *,
    task: TaskConfig | None = None,
    metadata: Mapping[str, Any] | None = None,
    recorded: np.ndarray | None = None,
    n_random: int = 10_000,
    n_recorded: int = 1_000,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> ExportResult:
    """Write ``policy`` as an ONNX policy file for ``spec`` and check its parity with PyTorch.

    Args:
        policy: The trained actor (normalizer statistics included).
        spec: The robot it was trained for.
        out: Output ``.onnx`` path (written atomically: nothing is left there when a check fails).
        task: Task of the action mapping; default: the robot's task (its spec's ``task:``).
        metadata: Training metadata (e.g. from ``sim2real.train.load_policy``).  Read: ``spec_hash``
            (checked against ``spec``), ``task``, ``action_scale``, ``action_filter`` (override the
            task's), ``randomization`` (summary); every other JSON-able entry goes to ``training``.
        recorded: Recorded observations (B, n_obs) for the parity check; default: ``n_recorded``
            observations of a simulated rollout driven by the policy.
        n_random: Number of random observations of the parity check.
        n_recorded: Number of recorded observations (when ``recorded`` is not given).
        tolerance: Largest accepted |onnxruntime - PyTorch|.
        seed: Seed of the random observations and of the rollout.

    Raises:
        PolicyError: the network does not fit the spec, or the parity check fails.
        SpecMismatchError: the training metadata names another spec hash.
    """
    from sim2real.tasks import get_task

    metadata = dict(metadata or {})
    out = Path(out)
    if not isinstance(policy, TransferPolicy):
        raise PolicyError(f"expected a TransferPolicy, got {type(policy).__name__}")
    if policy.n_obs != spec.n_obs or policy.n_act != spec.n_actions:
        raise PolicyError(
            f"the network maps {policy.n_obs} observations to {policy.n_act} actions, but robot "
            f"'{spec.name}' has {spec.n_obs} observations and {spec.n_actions} actuators"
        )
    trained_hash = metadata.get("spec_hash")
    if trained_hash is not None and trained_hash != spec.hash:
        raise SpecMismatchError("the training run", expected=spec.hash, found=str(trained_hash))
    if task is None:
        task = get_task(spec)
    action_scale = tuple(float(x) for x in metadata.get("action_scale", task.action_scale))
    action_filter = float(metadata.get("action_filter", task.action_filter))
    training = {k: v for k, v in metadata.items() if k not in _CONSUMED}
    meta = PolicyMetadata.from_spec(
        spec,
        action_scale=action_scale,
        action_filter=action_filter,
        task=task.name,
        randomization=metadata.get("randomization"),
        network=policy.describe_network()
        if hasattr(policy, "describe_network")  # a subclass with more (e.g. a fine-tuning adapter)
        else {
            "type": "TransferPolicy",
            "hidden": list(policy.hidden),
            "layer": "Linear-LayerNorm-ELU",
            "output": "tanh",
            "normalizer": {"eps": policy.normalizer.eps, "clip": policy.normalizer.clip},
        },
        training=training,
    )

    random_obs = random_observations(policy, n_random, seed)
    if recorded is None:
        recorded = record_observations(policy, spec, task, n_recorded, seed=seed)
    recorded = np.asarray(recorded, dtype=np.float32).reshape(-1, spec.n_obs)

    proto = _export_graph(policy)
    data = stamp_metadata(proto, meta)
    session = make_session(data, "cpu", f"exported policy for {spec.name}")
    check_io(session, meta)
    d_random = parity(data, policy, random_obs)
    d_recorded = parity(data, policy, recorded)
    log.info(
        "parity onnxruntime vs PyTorch: max abs diff %.3g on %d random, %.3g on %d recorded observations",
        d_random,
        len(random_obs),
        d_recorded,
        len(recorded),
    )
    worst = max(d_random, d_recorded)
    if not worst <= tolerance:
        raise PolicyError(
            f"export parity check failed: max |onnxruntime - PyTorch| = {worst:.3g} > {tolerance:g} "
            f"(random {d_random:.3g}, recorded {d_recorded:.3g}); no file written"
        )
    meta = replace(
        meta,
        export_check={
            "max_abs_diff_random": d_random,
            "max_abs_diff_recorded": d_recorded,
            "n_random": len(random_obs),
            "n_recorded": len(recorded),
            "tolerance": tolerance,
        },
    )
    data = stamp_metadata(proto, meta)  # same graph, metadata now with the parity figures
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return ExportResult(
        path=out,
        metadata=meta,
        max_abs_diff_random=d_random,
        max_abs_diff_recorded=d_recorded,
        n_random=len(random_obs),
        n_recorded=len(recorded),
    )
