"""Actuator networks written by hand with onnx.helper (no torch): laws whose torque is known exactly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from sim2real.sim.net_actuator import DRIVE_INPUTS, NetMetadata


def _save(nodes, inputs, outputs, inits, meta: NetMetadata, path: Path) -> Path:
    graph = helper.make_graph(nodes, "actuator", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in meta.as_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def linear_net(
    path: Path,
    groups: Mapping[str, Sequence[str]],
    weights: Sequence[float],
    *,
    bias: float = 0.0,
    history: int = 1,
    dt: float = 0.02,
    drive: str = "pd",
    spec_hash: str = "0" * 64,
    input_range: Mapping[str, Sequence[float]] | None = None,
) -> Path:
    """An MLP-format network whose torque is ``x . weights + bias`` for every group; ``x`` is the
    input row (position error or command, then velocity; each ``history`` samples, newest first).
    ``input_range`` (input channel -> [low, high]) is recorded as every group's fitted range."""
    w = np.asarray(weights, dtype=np.float32).reshape(2 * history, 1)
    nodes, inputs, outputs, inits = [], [], [], []
    for g in groups:
        inputs.append(helper.make_tensor_value_info(f"x_{g}", TensorProto.FLOAT, ["batch", 2 * history]))
        outputs.append(helper.make_tensor_value_info(f"tau_{g}", TensorProto.FLOAT, ["batch", 1]))
        inits += [numpy_helper.from_array(w, f"w_{g}"), numpy_helper.from_array(np.array([bias], np.float32), f"b_{g}")]
        nodes += [
            helper.make_node("MatMul", [f"x_{g}", f"w_{g}"], [f"m_{g}"]),
            helper.make_node("Add", [f"m_{g}", f"b_{g}"], [f"tau_{g}"]),
        ]
    meta = NetMetadata(
        kind="mlp",
        drive=drive,
        inputs=DRIVE_INPUTS[drive],
        history=history,
        dt=dt,
        groups={g: tuple(j) for g, j in groups.items()},
        spec_hash=spec_hash,
        extra={} if input_range is None else {"input_range": {g: dict(input_range) for g in groups}},
    )
    return _save(nodes, inputs, outputs, inits, meta, path)


def accumulator_gru(path: Path, groups: Mapping[str, Sequence[str]], *, dt: float = 0.02) -> Path:
    """A GRU-format network with a 1-unit state: ``h' = h + u`` (u the first input), ``tau = h'``."""
    nodes, inputs, outputs, inits = [], [], [], []
    for g in groups:
        inputs += [
            helper.make_tensor_value_info(f"x_{g}", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info(f"h_{g}", TensorProto.FLOAT, ["batch", 1]),
        ]
        outputs += [
            helper.make_tensor_value_info(f"tau_{g}", TensorProto.FLOAT, ["batch", 1]),
            helper.make_tensor_value_info(f"h_out_{g}", TensorProto.FLOAT, ["batch", 1]),
        ]
        inits += [
            numpy_helper.from_array(np.array([0], np.int64), f"s_{g}"),
            numpy_helper.from_array(np.array([1], np.int64), f"e_{g}"),
            numpy_helper.from_array(np.array([1], np.int64), f"a_{g}"),
        ]
        nodes += [
            helper.make_node("Slice", [f"x_{g}", f"s_{g}", f"e_{g}", f"a_{g}"], [f"u_{g}"]),
            helper.make_node("Add", [f"h_{g}", f"u_{g}"], [f"h_out_{g}"]),
            helper.make_node("Identity", [f"h_out_{g}"], [f"tau_{g}"]),
        ]
    meta = NetMetadata(
        kind="gru",
        drive="torque",
        inputs=DRIVE_INPUTS["torque"],
        history=1,
        dt=dt,
        groups={g: tuple(j) for g, j in groups.items()},
        spec_hash="0" * 64,
        hidden=1,
    )
    return _save(nodes, inputs, outputs, inits, meta, path)

