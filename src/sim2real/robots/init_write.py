"""``robot init``: the inferred spec written as commented YAML (:func:`write_spec`).

A header says what was inferred, what to check and what sim2real changes in the compiled model; a
comment stands above each section; small values are written in flow style, one line each.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from sim2real.robots.init_options import InitResult

__all__ = ["section_comments", "write_spec"]


def section_comments(result: InitResult) -> dict[str, str]:
    """The comment above each top-level key of an inferred spec."""
    return {
        "joints": "policy order = model order",
        "default_pose": "rad",
        "control": "50 Hz policy; physics substeps (sim2real overrides the model's timestep and integrator)",
        "initial_base": "reset pose of the floating base [m], feet on the floor",
        "feet": "bodies touching the floor in the default pose",
        "floor": "ground plane sim2real adds at z = 0: the model has none of its own",
        "actuators": "sim2real replaces the model's actuators with these models (torques at the joint, N m)",
        "action": "command = offset (default pose for pd) + scale * action, action in [-1, 1]",
        "observation": "sizes follow from the robot",
        "safety": "joint ranges less a margin; CHECK velocity, torque, tilt and height limits",
        "parameters": "plausible bounds around the model's own values (randomization, identification)",
        "task": "velocity tracking (sim2real.tasks.locomotion); parameters have defaults",
    }


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
    return text.removesuffix("\n...").strip()


def _dump(key: str, value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return "\n".join([f"{key}:", *(f"  - {_flow(x)}" for x in value)])
    text = _flow(value)
    return f"{key}: {text[:-4] if text.endswith(' ...') else text}"


def write_spec(result: InitResult, out: str | Path, overrides: tuple[str, ...] = ()) -> Path:
    """Write the spec with a header (what was inferred, what to check, the model overrides) and a
    comment per section."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# sim2real robot spec written by `sim2real robot init` (docs/robots.md has every key).",
        "#",
        "# Inferred:",
    ]
    lines += [f"#   - {x}" for x in result.inferred]
    lines += ["#", "# Check before trusting it on hardware:"]
    lines += [f"#   - {x}" for x in result.check]
    if overrides:
        lines += [
            "#",
            "# sim2real changes the compiled model (your files stay as they are; `robot show` lists these):",
        ]
        lines += [f"#   - {x}" for x in overrides]
    lines.append("")
    for key, value in result.spec.items():
        if key in result.comments:
            lines.append(f"# {result.comments[key]}")
        if key in ("default_pose", "actuators", "parameters", "safety"):
            lines.append(_flow_children(key, value))
        else:
            lines.append(_dump(key, value))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out)
    return out


def _flow_children(key: str, value: dict[str, Any]) -> str:
    lines = [f"{key}:"]
    for k, v in value.items():
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            lines.append(f"  {_flow(k)}:")
            lines += [f"    {_flow(kk)}: {_flow(vv)}" for kk, vv in v.items()]
        else:
            lines.append(f"  {_flow(k)}: {_flow(v)}")
    return "\n".join(lines)
