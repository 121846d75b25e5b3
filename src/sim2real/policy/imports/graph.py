"""ONNX graphs made elsewhere, turned into sim2real's policy graph (needs the ``onnx`` package).

Isaac Lab and mjlab export ``obs`` (1, n_obs) -> ``actions`` (1, n_act), optionally with the
weights in a ``.onnx.data`` file next to it, and recurrent policies with ``h_in``/``c_in`` ->
``h_out``/``c_out`` state tensors.  sim2real's artifact is one file with input ``obs`` and output
``action`` (:mod:`sim2real.policy.metadata`): :func:`load_graph` reads the model with its external
weights inlined, :func:`graph_interface` names its observation input, action output and
recurrent state pairs, and :func:`rename_io` gives them sim2real's names (and a free batch axis
when the graph allows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from sim2real.errors import PolicyError
from sim2real.policy.metadata import INPUT_NAME, OUTPUT_NAME, RecurrentState


def load_graph(path: str | Path) -> Any:
    """An ONNX model with external weights (``.onnx.data``) read into it.

    Raises:
        PolicyError: missing or unreadable file, or external weights that are not there.
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise PolicyError(f"{path.name}: not an ONNX model ({str(exc).splitlines()[0][:200]})") from None
    missing = sorted(
        {
            entry.value
            for tensor in _tensors(model)
            for entry in tensor.external_data
            if entry.key == "location" and not (path.parent / entry.value).is_file()
        }
    )
    if missing:
        raise PolicyError(f"{path.name}: its weights are in {', '.join(missing)}, which is not next to it")
    try:
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(model, str(path.parent))
    except Exception as exc:
        raise PolicyError(f"{path.name}: cannot read its external weights ({str(exc)[:200]})") from None
    return with_batch_axis(model)


def with_batch_axis(model: Any) -> Any:
    """A stateless graph exported without a batch axis (one input (n_obs,) -> one output (n_act,),
    as ``torch.onnx.export(policy, torch.zeros(n_obs))`` makes it) gets one of size 1: the same
    graph between a Squeeze of the new (1, n_obs) input and an Unsqueeze to a (1, n_act) output.
    Any other graph is returned as it is."""
    init = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    outputs = list(model.graph.output)
    if len(inputs) != 1 or len(outputs) != 1 or len(_shape(inputs[0])) != 1 or len(_shape(outputs[0])) != 1:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inp, outp = graph.input[[i.name for i in graph.input].index(inputs[0].name)], graph.output[0]
    inner_in, inner_out = f"{inp.name}_unbatched", f"{outp.name}_unbatched"
    for node in graph.node:
        node.input[:] = [inner_in if x == inp.name else x for x in node.input]
        node.output[:] = [inner_out if x == outp.name else x for x in node.output]
        node.input[:] = [inner_out if x == outp.name else x for x in node.input]
    opset = max((o.version for o in out.opset_import if o.domain in ("", "ai.onnx")), default=1)
    if opset >= 13:  # axes became an input in opset 13
        axes = f"{inp.name}_batch_axis"
        graph.initializer.append(onnx.numpy_helper.from_array(np.array([0], dtype=np.int64), axes))
        squeeze = onnx.helper.make_node("Squeeze", [inp.name, axes], [inner_in])
        unsqueeze = onnx.helper.make_node("Unsqueeze", [inner_out, axes], [outp.name])
    else:
        squeeze = onnx.helper.make_node("Squeeze", [inp.name], [inner_in], axes=[0])
        unsqueeze = onnx.helper.make_node("Unsqueeze", [inner_out], [outp.name], axes=[0])
    graph.node.insert(0, squeeze)
    graph.node.append(unsqueeze)
    for value in (inp, outp):
        shape = value.type.tensor_type.shape
        last = onnx.TensorShapeProto.Dimension()
        last.CopyFrom(shape.dim[0])
        shape.ClearField("dim")
        shape.dim.add().dim_value = 1
        shape.dim.add().CopyFrom(last)
    return out


def _tensors(model: Any) -> list[Any]:
    out = list(model.graph.initializer)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                out.append(attr.t)
    return out


def _shape(value: Any) -> tuple[int | str, ...]:
    dims = value.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims)


@dataclass(frozen=True)
class GraphInterface:
    """What a foreign policy graph takes and gives."""

    obs: str
    """Name of the observation input."""
    n_obs: int
    """Observation length (the input's last axis)."""
    action: str
    """Name of the action output."""
    n_act: int
    """Action length."""
    states: tuple[tuple[str, str, tuple[int, ...]], ...]
    """Recurrent state pairs (input, output, shape)."""


def graph_interface(model: Any, source: str) -> GraphInterface:
    """The observation input, action output and recurrent state pairs of a policy graph.

    One input must be the observation (rank 2; named ``obs`` or ``policy`` when there are several);
    every other input ``<x>_in`` / ``<x>`` pairs with an output ``<x>_out`` of the same shape (a
    recurrent state); the remaining output is the action.

    Raises:
        PolicyError: the graph does not have that form (one line).
    """
    init = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    outputs = list(model.graph.output)
    if not inputs or not outputs:
        raise PolicyError(f"{source}: the graph has no input or no output")
    rank2 = [i for i in inputs if len(_shape(i)) == 2]
    named = [i for i in rank2 if i.name in ("obs", "policy", "observations", "actor_obs", INPUT_NAME)]
    if len(rank2) == 1:
        obs = rank2[0]
    elif len(named) == 1:
        obs = named[0]
    else:
        raise PolicyError(
            f"{source}: cannot tell the observation input among {', '.join(i.name for i in inputs)} "
            "(expected one (batch, n_obs) input)"
        )
    out_by_name = {o.name: o for o in outputs}
    states = []
    for inp in inputs:
        if inp is obs:
            continue
        stem = inp.name[:-3] if inp.name.endswith("_in") else inp.name
        partner = out_by_name.get(f"{stem}_out")
        if partner is None or _shape(partner) != _shape(inp):
            raise PolicyError(
                f"{source}: input '{inp.name}' is neither the observation nor a recurrent state with an "
                f"output '{stem}_out' of the same shape"
            )
        shape = tuple(int(d) if isinstance(d, int) and d > 0 else 1 for d in _shape(inp))
        states.append((inp.name, partner.name, shape))
    paired = {s[1] for s in states}
    actions = [o for o in outputs if o.name not in paired]
    if len(actions) != 1 or len(_shape(actions[0])) != 2:
        raise PolicyError(
            f"{source}: expected one (batch, n_act) action output besides the recurrent state, got "
            f"{', '.join(o.name for o in actions) or 'none'}"
        )
    n_obs, n_act = _shape(obs)[1], _shape(actions[0])[1]
    if not isinstance(n_obs, int) or not isinstance(n_act, int) or n_obs < 1 or n_act < 1:
        raise PolicyError(
            f"{source}: the graph's observation width is {n_obs!r} and action width {n_act!r}; both must be fixed "
            "and at least 1: export it with a fixed observation width (e.g. a (1, n_obs) example input)"
        )
    return GraphInterface(obs.name, n_obs, actions[0].name, n_act, tuple(states))


def rename_io(model: Any, interface: GraphInterface) -> tuple[Any, tuple[RecurrentState, ...]]:
    """A copy of the graph with sim2real's input/output names (``obs``, ``action``; states
    ``state_<k>_in``/``_out``) and, for a stateless graph whose batch axis is fixed at 1, a free
    batch axis when onnxruntime gives the same actions for a batch as row by row."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    names = {interface.obs: INPUT_NAME, interface.action: OUTPUT_NAME}
    recurrent = []
    for k, (state_in, state_out, shape) in enumerate(interface.states):
        names[state_in], names[state_out] = f"state_{k}_in", f"state_{k}_out"
        recurrent.append(RecurrentState(f"state_{k}_in", f"state_{k}_out", shape))
    graph = out.graph
    for value in (*graph.input, *graph.output, *graph.value_info):
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(x, x) for x in node.input]
        node.output[:] = [names.get(x, x) for x in node.output]
    _float32_edges(graph)
    if not recurrent:
        _free_batch(out, interface)
    return out, tuple(recurrent)


def _float32_edges(graph: Any) -> None:
    """A graph computed in float64 (a policy exported from a double torch module) gets float32
    ``obs``/``action`` with a Cast at each edge: sim2real's artifact is float32 at its interface."""
    double, single = onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT
    for value in graph.input:
        if value.name == INPUT_NAME and value.type.tensor_type.elem_type == double:
            value.type.tensor_type.elem_type = single
            for node in graph.node:
                node.input[:] = [f"{INPUT_NAME}_float64" if x == INPUT_NAME else x for x in node.input]
            graph.node.insert(0, onnx.helper.make_node("Cast", [INPUT_NAME], [f"{INPUT_NAME}_float64"], to=double))
    for value in graph.output:
        if value.name == OUTPUT_NAME and value.type.tensor_type.elem_type == double:
            value.type.tensor_type.elem_type = single
            for node in graph.node:
                node.input[:] = [f"{OUTPUT_NAME}_float64" if x == OUTPUT_NAME else x for x in node.input]
                node.output[:] = [f"{OUTPUT_NAME}_float64" if x == OUTPUT_NAME else x for x in node.output]
            graph.node.append(onnx.helper.make_node("Cast", [f"{OUTPUT_NAME}_float64"], [OUTPUT_NAME], to=single))


def _free_batch(model: Any, interface: GraphInterface) -> None:
    """Make the batch axis of ``obs``/``action`` symbolic when the graph computes batches right."""
    import onnxruntime as ort

    trial = onnx.ModelProto()
    trial.CopyFrom(model)
    for value in (*trial.graph.input, *trial.graph.output):
        if value.name in (INPUT_NAME, OUTPUT_NAME):
            dim = value.type.tensor_type.shape.dim[0]
            dim.Clear()
            dim.dim_param = "batch"
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # a graph with its batch size built in fails here, quietly
        session = ort.InferenceSession(trial.SerializeToString(), options, providers=["CPUExecutionProvider"])
        obs = np.random.default_rng(0).standard_normal((3, interface.n_obs)).astype(np.float32)
        batched = session.run([OUTPUT_NAME], {INPUT_NAME: obs})[0]
        rows = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: obs[i : i + 1]})[0] for i in range(3)])
    except Exception:  # the graph has the batch size built in: keep it fixed
        return
    if batched.shape == rows.shape and np.allclose(batched, rows, rtol=0, atol=1e-6):
        model.CopyFrom(trial)


def spread_actions(model: Any, columns: list[int | None]) -> Any:
    """A copy of a renamed graph (:func:`rename_io`) whose ``action`` (batch, n_driven) is spread
    over every actuator: output column k is the graph's column ``columns[k]``, or 0 where it is None
    (an actuator the policy does not drive, held at its offset: ``RobotSpec.held``)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inner = f"{OUTPUT_NAME}_driven"
    for node in graph.node:
        node.input[:] = [inner if x == OUTPUT_NAME else x for x in node.input]
        node.output[:] = [inner if x == OUTPUT_NAME else x for x in node.output]
    names = (f"{OUTPUT_NAME}_columns", f"{OUTPUT_NAME}_driven_mask", f"{OUTPUT_NAME}_zero", f"{OUTPUT_NAME}_gathered")
    graph.initializer.extend(
        [
            onnx.numpy_helper.from_array(np.array([c or 0 for c in columns], dtype=np.int64), names[0]),
            onnx.numpy_helper.from_array(np.array([c is not None for c in columns], dtype=bool), names[1]),
            onnx.numpy_helper.from_array(np.zeros((), dtype=np.float32), names[2]),
        ]
    )
    graph.node.append(onnx.helper.make_node("Gather", [inner, names[0]], [names[3]], axis=1))
    graph.node.append(onnx.helper.make_node("Where", [names[1], names[3], names[2]], [OUTPUT_NAME]))
    for value in graph.output:
        if value.name == OUTPUT_NAME:
            value.type.tensor_type.shape.dim[1].Clear()
            value.type.tensor_type.shape.dim[1].dim_value = len(columns)
    return out
