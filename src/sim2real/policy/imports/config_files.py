"""Reading the configuration files other frameworks write (YAML with Python objects in it).

Isaac Lab dumps its configuration with PyYAML's full dumper, so a ``params/deploy.yaml`` can hold
``!!python/tuple``, ``!!python/object/apply:builtins.slice`` and other Python tags.  A safe loader
refuses them; :func:`load_config` reads them as plain data instead (tuples and sets as lists, a
slice as ``{"slice": [start, stop, step]}``, any other Python object as the mapping or list of its
arguments), never importing or calling anything.  :func:`params_next_to` finds a run's
``params/deploy.yaml`` or ``params/env.yaml`` beside its export, :func:`agent_clip` the action
clip of its ``params/agent.yaml``, :func:`deploy_clip` that or a deploy.yaml's own.  The clip keys
other frameworks and their forks write (:data:`ACTION_CLIP_KEYS`, :data:`OBSERVATION_CLIP_KEYS`) are
read under any of their names; a key naming another clip is refused (:func:`check_clip_keys`), never
read as no clip.
"""

from __future__ import annotations

import math
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


ACTION_CLIP_KEYS = ("clip_actions", "clip_action", "action_clip", "policy_action_clip")
"""Keys of a bound on the network's action (+-value, before it is scaled; the clipped action is the one
observed): legged_gym's ``normalization.clip_actions``, rsl_rl's Isaac Lab wrapper's ``clip_actions``,
and the names forks' deploy configs give it."""
OBSERVATION_CLIP_KEYS = ("clip_observations", "clip_obs", "clip_observation", "obs_clip", "policy_obs_clip")
"""Keys of legged_gym's ``normalization.clip_observations`` (the whole scaled observation clipped to
+-value) and the names forks' deploy configs give it."""


def check_clip_keys(cfg: dict[str, Any], where: str, known: tuple[str, ...]) -> None:
    """Refuse a top-level key that names a clip the importer does not read (``known``: the ones it reads).

    Raises:
        PolicyError: the first such key, with the ones it reads.
    """
    unknown = next((k for k in cfg if "clip" in str(k).lower() and k not in known and cfg[k] is not None), None)
    if unknown is not None:
        raise PolicyError(
            f"{where}: '{unknown}' is a clip this importer does not know; it reads {', '.join(known)}: "
            "rename it to the one it means"
        )


def stated_bound(cfg: dict[str, Any], keys: tuple[str, ...], where: str) -> float | None:
    """The one positive number the config states under any of ``keys`` (None: none, or null).

    Raises:
        PolicyError: not a positive number, or two keys that disagree.
    """
    values = {}
    for key in keys:
        value = cfg.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise PolicyError(f"{where}: '{key}' must be a finite number, got {value!r}")
        if not value > 0:
            raise PolicyError(f"{where}: '{key}' must be a positive number, got {value:g}")
        values[key] = float(value)
    if len(set(values.values())) > 1:
        raise PolicyError(f"{where}: {' and '.join(values)} differ ({', '.join(f'{v:g}' for v in values.values())})")
    return next(iter(values.values()), None)


def deploy_clip(cfg: dict[str, Any], deploy: Path, assumed: list[str], *, top_level: bool = True) -> float | None:
    """The bound on the network's action of an Isaac Lab run: a deploy.yaml's own top-level clip
    (``top_level``: the file is a deploy.yaml, whose other top-level clip keys are refused), else
    ``clip_actions`` of its ``params/agent.yaml`` (:func:`agent_clip`); the two must agree.

    Raises:
        PolicyError: an unknown clip key, a bound that is not a positive number, or two that differ.
    """
    own = None
    if top_level:
        check_clip_keys(cfg, deploy.name, ACTION_CLIP_KEYS)
        own = stated_bound(cfg, ACTION_CLIP_KEYS, deploy.name)
    agent = agent_clip(deploy, assumed)
    if own is None:
        return agent
    if agent is not None and agent != own:
        raise PolicyError(f"{deploy.name} bounds the action to +-{own:g}, its agent.yaml's clip_actions to +-{agent:g}")
    if agent is None:
        assumed.append(f"actions clipped to +-{own:g} before scaling ({deploy.name})")
    return own


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
