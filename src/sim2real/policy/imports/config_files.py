"""Reading the configuration files other frameworks write (YAML with Python objects in it).

Isaac Lab dumps its configuration with PyYAML's full dumper, so a ``params/deploy.yaml`` can hold
``!!python/tuple``, ``!!python/object/apply:builtins.slice`` and other Python tags.  A safe loader
refuses them; :func:`load_config` reads them as plain data instead (tuples and sets as lists, a
slice as ``{"slice": [start, stop, step]}``, any other Python object as the mapping or list of its
arguments), never importing or calling anything.  :func:`params_next_to` finds a run's
``params/deploy.yaml`` or ``params/env.yaml`` beside its export, :func:`agent_clip` the action
clip of its ``params/agent.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim2real.errors import PolicyError
from sim2real.text import read_text


class _TolerantLoader(yaml.SafeLoader):
    """A safe loader that reads Python-tagged nodes as plain data."""


def _plain_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)


def _python_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    value = _plain_node(loader, node)
    if suffix.endswith("builtins.slice") or suffix.endswith(":slice"):
        args = value if isinstance(value, list) else [value]
        return {"slice": list(args) + [None] * (3 - len(args))}
    if isinstance(value, dict) and set(value) <= {"args", "kwds", "state", "listitems", "dictitems"}:
        return value.get("state") or value.get("kwds") or value.get("args") or value.get("dictitems") or value
    return value


_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)
_TolerantLoader.add_multi_constructor("!!python/", _python_tag)


def load_config(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A YAML mapping from a file written by another framework (Python tags read as data).

    Raises:
        PolicyError: missing file, not YAML, or not a mapping (one line naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"{what} not found: {path}")
    try:
        raw = yaml.load(read_text(path, PolicyError, what), Loader=_TolerantLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise PolicyError(f"{path.name}: not valid YAML ({first})") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{path.name}: expected a mapping of settings, got {type(raw).__name__}")
    return raw


def agent_clip(deploy: Path, assumed: list[str]) -> float | None:
    """``clip_actions`` of the run's ``params/agent.yaml`` beside its deploy.yaml or env.yaml: rsl_rl's
    Isaac Lab wrapper clamps the network's action to it before each step (None: no agent.yaml, or no
    clip)."""
    agent = deploy.parent / "agent.yaml"
    if not agent.is_file():
        return None
    clip = load_config(agent, "agent.yaml").get("clip_actions")
    if clip is None:
        return None
    if isinstance(clip, bool) or not isinstance(clip, int | float) or not clip > 0:
        raise PolicyError(f"{agent.name}: clip_actions must be a positive number, got {clip!r}")
    assumed.append(f"actions clipped to +-{float(clip):g} (clip_actions of {agent})")
    return float(clip)


def params_next_to(policy: Path, assumed: list[str]) -> Path | None:
    """``params/deploy.yaml`` or ``params/env.yaml`` of the run an ``exported/policy.onnx`` came from."""
    for folder in (policy.parent, policy.parent.parent):
        for name in ("deploy.yaml", "env.yaml"):
            path = folder / "params" / name
            if path.is_file():
                assumed.append(f"the run's parameters: {path} (found next to the export)")
                return path
    return None
