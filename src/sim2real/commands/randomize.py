"""``sim2real randomize show --robot R [--config FILE] --json``: the resolved randomization."""

from __future__ import annotations

from typing import Annotated, Literal

import tyro

from sim2real.commands.output import emit


def _fmt(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _pattern(names: list[str]) -> str:
    """``body.*_hip.mass (4)`` for names that differ only in a prefix of their element."""
    group, quantity = names[0].split(".", 1)[0], names[0].rsplit(".", 1)[1]
    elements = [n.split(".", 1)[1].rsplit(".", 1)[0] for n in names]
    suffix = elements[0]
    while suffix and not all(e.endswith(suffix) for e in elements):
        suffix = suffix[1:]
    return f"{group}.*{suffix}.{quantity} ({len(names)})"


def randomize(
    action: Annotated[Literal["show"], tyro.conf.Positional],
    robot: str,
    config: str | None = None,
    allow_out_of_bounds: bool = False,
    json: bool = False,
) -> int:
    """Show what a randomization config randomizes on a robot: every concrete parameter with its
    distribution, mode and resulting range, and the delays, sensors, terrain and pushes.

    Args:
        action: What to do (show).
        robot: Embedded robot name or spec YAML path.
        config: Built-in config name (none, default, full) or YAML file; default: default.
        allow_out_of_bounds: Accept a file whose ranges leave the plausible bounds the robot's spec
            states (built-in configs are not checked).
        json: Print a JSON summary on stdout.
    """
    from sim2real.randomize import load_randomization
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    rnd = load_randomization(spec, config or "default")
    from sim2real.randomize.config import check_bounds

    check_bounds(rnd, spec, allow=allow_out_of_bounds)
    summary = rnd.summary()
    lines = [f"randomization '{rnd.name}' for {spec.name} ({rnd.source}): {rnd.description}".rstrip(": ")]
    groups: dict[tuple[str, str, str], list[str]] = {}
    for row in summary["parameters"]:  # one line per kind of parameter with the same draws and range
        draws = "; ".join(
            f"{d['mode']} {d['text']}" + (" steps" if d.get("unit") == "physics_steps" else "")
            for d in row["draws"]
        )
        low, high = row["range"]
        kind = row["param"].split(".")[0] + ".*." + row["param"].rsplit(".", 1)[1]
        key = (draws or "follows the link length", f"[{_fmt(low)} .. {_fmt(high)}] {row['unit']}", kind)
        groups.setdefault(key, []).append(row["param"])
    for (draws, span, _kind), names in groups.items():
        label = names[0] if len(names) == 1 else _pattern(names)
        lines.append(f"  {label:<34} {draws:<48} -> {span}")
    for key in ("link_pool", "slope", "terrain", "action_delay", "dropout", "pushes"):
        if key in summary:
            value = summary[key]
            text = value if not isinstance(value, dict) else value.get("text", value)
            if key == "terrain":
                text = f"{value['kind']}, height {value['height']['text']} m"
            lines.append(f"  {key:<34} {text}")
    if len(lines) == 1:
        lines.append("  nothing is randomized")
    emit(summary, json, "\n".join(lines))
    return 0
