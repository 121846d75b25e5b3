"""Hand-made linear policies: ``action = tanh(gain @ obs + bias)`` as a sim2real policy file.

For plumbing tests, benchmarks and hand-made controllers (e.g. LQR gains on the observation
terms): no training and no torch, only ``onnx``.  The file carries the same metadata and checksum
as an exported policy (:func:`~sim2real.policy.metadata.stamp_metadata`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.policy.metadata import INPUT_NAME, OUTPUT_NAME, PolicyMetadata, stamp_metadata
from sim2real.robots.spec import RobotSpec

__all__ = ["write_linear_policy"]


def write_linear_policy(
    spec: RobotSpec,
    path: str | Path,
    gain: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    *,
    action_scale: Sequence[float] | None = None,
    action_filter: float | None = None,
    task: str | None = None,
) -> Path:
    """Write a policy file whose network is ``action = tanh(gain @ obs + bias)`` (no training, no torch).

    For plumbing tests and hand-made controllers (e.g. LQR gains on the observation terms).  The
    file is a regular sim2real policy (metadata from the spec and its task, checksum), loadable by
    :class:`~sim2real.policy.runtime.PolicyRunner`.

    Args:
        spec: The robot.
        path: Output ``.onnx`` file.
        gain: Shape (n_act, n_obs); default zeros (the command stays at the zero action's: the
            default pose for pd actuators, zero effort otherwise).
        bias: Shape (n_act,); default zeros.
        action_scale, action_filter, task: Default: the robot's built-in task's.
    """
    import onnx
    from onnx import TensorProto, helper

    from sim2real.tasks import get_task

    n_obs, n_act = spec.n_obs, spec.n_actions
    gain = np.zeros((n_act, n_obs)) if gain is None else np.asarray(gain, dtype=float)
    bias = np.zeros(n_act) if bias is None else np.asarray(bias, dtype=float)
    if gain.shape != (n_act, n_obs) or bias.shape != (n_act,):
        raise Sim2RealError(f"linear policy: gain must be ({n_act}, {n_obs}) and bias ({n_act},)")
    task_cfg = get_task(task or spec)
    meta = PolicyMetadata.from_spec(
        spec,
        action_scale=action_scale if action_scale is not None else task_cfg.action_scale,
        action_filter=action_filter if action_filter is not None else task_cfg.action_filter,
        task=task_cfg.name,
        network={"type": "linear", "output": "tanh"},
        training={"note": "hand-made linear policy (sim2real.policy.linear.write_linear_policy)"},
    )
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", [INPUT_NAME, "W", "b"], ["z"], transB=1),
            helper.make_node("Tanh", ["z"], [OUTPUT_NAME]),
        ],
        "linear_policy",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", n_obs])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", n_act])],
        [
            helper.make_tensor(
                "W", TensorProto.FLOAT, [n_act, n_obs], gain.astype(np.float32).ravel().tolist()
            ),
            helper.make_tensor("b", TensorProto.FLOAT, [n_act], bias.astype(np.float32).tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sim2real")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stamp_metadata(model, meta))
    return path
