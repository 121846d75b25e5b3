"""The twin file template: every key a twin file accepts, with its unit and meaning.

``sim2real twin init --robot R --out twin.yaml`` writes it.  ``params:`` lists every named
parameter of the robot (absolute SI values, see :mod:`sim2real.params`): the ones given in
``hidden`` are set, the others are commented out at their nominal value with their plausible
bounds.  ``effects:`` lists every field of :class:`~sim2real.real.twin_config.TwinEffects` at its default,
with the field's documentation as the comment, so the template cannot fall behind the code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import math
import textwrap
from collections.abc import Mapping

import numpy as np

from sim2real.params import Parameters
from sim2real.real.twin_config import TwinEffects
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec

__all__ = ["field_docs", "twin_template"]


def field_docs(cls: type) -> dict[str, str]:
    """A dataclass's attribute docstrings (the string literal under each field), by field name."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _number(x: float) -> str:
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    return f"{x:.6g}"


def _value(a: np.ndarray) -> str:
    a = np.atleast_1d(np.asarray(a, dtype=float))
    return _number(float(a[0])) if a.size == 1 else "[" + ", ".join(_number(float(x)) for x in a) + "]"


def _yaml_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    return str(value)


def twin_template(spec: RobotSpec, hidden: Mapping[str, np.ndarray] | None = None) -> str:
    """The text of a commented twin file for a robot.

    Args:
        spec: The robot.
        hidden: Parameter values to set (absolute SI, by concrete name); the other parameters are
            written commented out at their nominal values.  None or empty: a nominal twin.
    """
    hidden = dict(hidden or {})
    params = Parameters(spec, build_model(spec))
    rows = []
    for name in params.names:
        info = params.info(name)
        value = hidden.get(name)
        line = f"{name}: {_value(info.nominal if value is None else value)}"
        bounds = f"bounds [{_value(info.low)} .. {_value(info.high)}]"
        note = (
            f"{info.unit}; {bounds}"
            if value is None
            else f"{info.unit}; nominal {_value(info.nominal)}, {bounds}"
        )
        rows.append((line if value is not None else "# " + line, note))
    unknown = sorted(set(hidden) - set(params.names))
    if unknown:
        params.info(unknown[0])  # raises ParameterError naming the unknown parameter
    width = max(len(r[0]) for r in rows) + 2 if rows else 0
    docs = field_docs(TwinEffects)
    defaults = TwinEffects()
    effects = [
        (f"{f.name}: {_yaml_scalar(getattr(defaults, f.name))}", docs.get(f.name, ""))
        for f in dataclasses.fields(TwinEffects)
    ]
    e_width = max(len(e[0]) for e in effects) + 2
    head = [
        f"# sim2real twin of robot '{spec.name}' (spec {spec.hash[:12]}): a simulated stand-in for the",
        "# real robot, with hidden parameter values and effects no training model has.",
        "# Written by `sim2real twin init`; used by record, deploy, envelope, finetune and twin-node",
        "# (--twin FILE).  Every key is optional.",
        "#",
        "# params: the twin's true parameter values, absolute SI, by name (`sim2real params --robot",
        f"# {spec.name}` lists them).  Uncomment a line to set it; a parameter left out keeps its nominal",
        "# value.  Values outside the plausible bounds are refused unless the command is given",
        "# --allow-out-of-bounds.",
        "params:" if any(name in hidden for name in params.names) else "params: {}",
    ]
    body = [f"  {line:<{width}}# {note}" for line, note in rows]
    tail = [
        "",
        "# effects: what the twin does that the training simulator does not (defaults shown).",
        "# Hanging the robot by its base (legs in the air) is not a key of this file: it is the",
        "# --fixed-base option of `sim2real record`.",
        "effects:",
        *[f"  {line:<{e_width}}# {doc}" for line, doc in effects],
    ]
    return "\n".join(head + body + tail) + "\n"
