"""rsl_rl training checkpoints (``model_<iteration>.pt``) rebuilt as ONNX graphs (needs torch).

rsl_rl's ``OnPolicyRunner.save`` writes a ``torch.save``'d dict every ``save_interval`` iterations
(legged_gym / unitree_rl_gym: ``logs/<exp>/<run>/model_1500.pt``; Isaac Lab:
``logs/rsl_rl/<exp>/<run>/model_1500.pt`` beside ``params/env.yaml`` and ``params/agent.yaml``).
What it holds, by version (facts of leggedrobotics/rsl_rl):

- 1.x (legged_gym), 2.x and 3.x (Isaac Lab): ``model_state_dict``, the ActorCritic's state:
  ``actor.{i}.weight/bias`` (Linear layers at even i, the activation between them, none after the
  last), ``std`` or ``log_std`` (the action noise), ``critic.*``; a recurrent actor adds
  ``memory_a.rnn.*`` (an LSTM or GRU before the actor MLP; the critic's is ``memory_c``); 3.x keeps
  the actor's ``EmpiricalNormalization`` in the model (``actor_obs_normalizer._mean/_var/_std/count``)
  and, with a state-dependent std, gives a (2, n) output (mean first) and no ``std``; 2.x keeps it
  beside the model: ``obs_norm_state_dict`` (``_mean``, ``_var``, ``_std``), with
  ``critic_obs_norm_state_dict``;
- 4.x and 5.x: ``actor_state_dict`` and ``critic_state_dict``, an ``MLPModel`` (``mlp.{i}.*``,
  ``obs_normalizer.*``) or ``RNNModel`` (also ``rnn.rnn.*``) with its distribution's parameters:
  ``std`` / ``log_std`` (4.x), ``distribution.std_param`` / ``distribution.log_std_param`` (5.x's
  Gaussian); a state-dependent Gaussian and a Beta both give a (2, n) output and keep no parameter, so
  the run's agent config tells them apart (``actor.distribution_cfg.class_name``, the Beta's
  ``action_range``; 4.x: ``actor.state_dependent_std``);
- every version: ``optimizer_state_dict``, ``iter``, ``infos``, and RND's ``rnd_state_dict`` when used.

The action is the actor's mean, as rsl_rl's inference policy gives it: ``(obs - _mean) / (_std +
0.01)`` (EmpiricalNormalization's eps) when there is a normalizer, the memory, the MLP, then the
distribution's mean (the output itself; row 0 of a (2, n) output; a Beta's ``alpha / (alpha + beta)``
in its action range with ``alpha, beta = softplus(.) + 1``).  The layer sizes come from the weights;
the activation is not in the file: the run's agent config (``params/agent.yaml``, found next to the
checkpoint: ``policy.activation`` for rsl_rl <= 3, ``actor.activation`` for >= 4), else
``--activation``, else ``elu`` (legged_gym's default; an assumption, printed).  Weights in the file
that the rebuild would not use and that could change the action (an unknown normalizer or part, a
second actor) stop the import with one line naming them; the critic, the action noise, the optimizer
and RND do not act.  The file is read with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import PolicyError
from sim2real.policy.imports.config_files import load_config
from sim2real.policy.imports.torchscript import (
    _torch,
    describe,
    export_rebuilt,
    load_torchscript,
    rebuilt_policy,
    rebuilt_reference,
    reference_function,
    torchscript_to_onnx,
)
from sim2real.policy.metadata import RecurrentState
from sim2real.text import few

ACTIVATIONS = {
    "elu": "ELU",
    "selu": "SELU",
    "relu": "ReLU",
    "celu": "CELU",
    "lrelu": "LeakyReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "softplus": "Softplus",
    "gelu": "GELU",
    "swish": "SiLU",
    "silu": "SiLU",
    "mish": "Mish",
    "identity": "Identity",
}
"""rsl_rl's activation names -> the torch.nn layer (its defaults, as rsl_rl builds them)."""

DEFAULT_ACTIVATION = "elu"
"""legged_gym's and rsl_rl's default activation."""

NORMALIZER_EPS = 1e-2
"""EmpiricalNormalization's eps (rsl_rl's default; not in the state dict)."""


@dataclass(frozen=True)
class TorchPolicy:
    """A torch policy file (TorchScript or an rsl_rl checkpoint) as an ONNX graph and its reference."""

    graph: Any
    """ModelProto: ``obs`` (batch, n_obs) -> ``action`` (batch, n_act), recurrent state pairs."""
    recurrent: tuple[RecurrentState, ...]
    """The graph's recurrent state."""
    network: Mapping[str, Any]
    """Description of the network (policy metadata)."""
    reference: Callable[[np.ndarray], np.ndarray]
    """The original policy in torch: observations from a reset (T, n_obs) -> actions (T, n_act)."""
    assumptions: tuple[str, ...] = ()
    """What was assumed where the file is silent (the activation)."""
    files: Mapping[str, Path] = field(default_factory=dict)
    """Further files read (role -> path: the run's agent.yaml)."""


@dataclass(frozen=True)
class _Layout:
    """Where one generation of rsl_rl keeps the actor's parts in a checkpoint."""

    name: str
    state: str
    """Top-level key of the actor's state dict."""
    mlp: str
    normalizer: str
    memory: str
    noise: tuple[str, ...]
    """Keys of the action noise (not used by the mean)."""
    critic: tuple[str, ...]
    """Prefixes of the critic's parts in the same state dict."""
    config: str
    """The agent config's section of the actor (params/agent.yaml)."""


_V1 = _Layout(
    "rsl_rl 1.x-3.x ActorCritic",
    "model_state_dict",
    "actor.",
    "actor_obs_normalizer.",
    "memory_a.rnn.",
    ("std", "log_std"),
    ("critic.", "critic_obs_normalizer.", "memory_c."),
    "policy",
)
_V4 = _Layout(
    "rsl_rl >= 4 actor model",
    "actor_state_dict",
    "mlp.",
    "obs_normalizer.",
    "rnn.rnn.",
    ("std", "log_std", "distribution.std_param", "distribution.log_std_param"),
    (),
    "actor",
)
_NOT_ACTING = (
    "optimizer_state_dict",
    "iter",
    "infos",
    "rnd_state_dict",
    "rnd_optimizer_state_dict",
    "critic_state_dict",
    "critic_obs_norm_state_dict",
    "privileged_obs_norm_state_dict",
)
"""Top-level keys of a checkpoint that never change the action."""


def load_torch_policy(
    path: str | Path, *, activation: str | None = None, deploy: str | Path | None = None
) -> TorchPolicy:
    """A TorchScript policy or an rsl_rl training checkpoint as an ONNX graph (module docstring).

    Args:
        path: ``policy.pt`` / ``motion.pt`` (TorchScript) or ``model_<N>.pt`` (a checkpoint).
        activation: rsl_rl's name of the actor's activation (checkpoints only; the run's agent.yaml
            wins, a different name is an error); default elu.
        deploy: The run's deploy.yaml / env.yaml, whose folder may hold its agent.yaml.

    Raises:
        PolicyError: one line: missing file, neither TorchScript nor an rsl_rl checkpoint, or a
            network the importer cannot rebuild whole.
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file not found: {path}")
    try:
        module = load_torchscript(path)
    except PolicyError:  # not TorchScript: a torch.save'd checkpoint, or one line saying what it is
        data = _load_saved(path)
        agent = find_agent(path, None if deploy is None else Path(deploy))
        return checkpoint_policy(data, path.name, activation=activation, agent=agent)
    if activation is not None:
        raise PolicyError(
            f"--activation is for training checkpoints (model_<N>.pt); {path.name} is a TorchScript policy, "
            "whose layers name their activation"
        )
    try:
        graph, recurrent, network = torchscript_to_onnx(module)
    except PolicyError as exc:  # what the structure lacks, said of this file
        raise PolicyError(f"{path.name}: {exc}") from None
    return TorchPolicy(graph, recurrent, network, reference_function(module))


def _load_saved(path: Path) -> Any:
    """The object a ``torch.save``'d file holds, read without running pickled code."""
    torch = _torch()
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, KeyError... for foreign files
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise PolicyError(
                f"{path.name}: a torch.save'd file holding a Python object ({found.group(1)}) besides tensors, "
                "numbers and containers; sim2real does not run pickled code: save rsl_rl's state dicts only"
            ) from None
        what = "a zip archive of neither" if zipfile.is_zipfile(path) else "neither"
        raise PolicyError(
            f"{path.name}: {what} a TorchScript policy nor a torch.save'd checkpoint (rsl_rl's model_<N>.pt)"
        ) from None


def find_agent(policy: Path, deploy: Path | None) -> Path | None:
    """The run's ``params/agent.yaml``: beside the deploy.yaml / env.yaml given, else in ``params/``
    next to the checkpoint (Isaac Lab's run folder) or one folder up."""
    candidates = [deploy.parent / "agent.yaml"] if deploy is not None else []
    candidates += [policy.parent / "params" / "agent.yaml", policy.parent.parent / "params" / "agent.yaml"]
    return next((c for c in candidates if c.is_file()), None)


def checkpoint_policy(
    data: Any, where: str, *, activation: str | None = None, agent: Path | None = None
) -> TorchPolicy:
    """The deterministic actor of an rsl_rl checkpoint as an ONNX graph (module docstring).

    Args:
        data: What ``torch.load`` returned.
        where: The file's name, for messages.
        activation: rsl_rl's activation name given by the user (``--activation``), or None.
        agent: The run's agent.yaml, or None.

    Raises:
        PolicyError: one line naming what is not an rsl_rl actor or would be left out.
    """
    torch = _torch()
    layout = _layout(data, where)
    state = _tensors(data[layout.state], layout.state, where)
    parts = _split(state, layout, where)
    if layout is _V1 and "obs_norm_state_dict" in data:  # rsl_rl 2.x: the runner's normalizer
        if parts["normalizer"]:
            raise PolicyError(
                f"{where} has two actor normalizers: 'obs_norm_state_dict' and '{layout.normalizer}*'"
            )
        parts["normalizer"] = _tensors(data["obs_norm_state_dict"], "obs_norm_state_dict", where)
    whole, section, config = _agent_config(agent, layout)
    assumed: list[str] = []
    name = _activation(activation, config, agent, section, assumed)
    memory = _memory(parts["memory"], layout.memory, where)
    linears = _linears(parts["mlp"], layout.mlp, where)
    n_in = int(memory.hidden_size) if memory is not None else linears[0].in_features
    sizes = [n_in] + [layer.out_features for layer in linears]
    for prev, layer in itertools.pairwise(linears):
        if layer.in_features != prev.out_features:
            raise PolicyError(
                f"{where}: the actor's layers do not chain ({prev.out_features} -> {layer.in_features})"
            )
    if linears[0].in_features != n_in:
        raise PolicyError(
            f"{where}: the actor MLP takes {linears[0].in_features} inputs, its memory gives {n_in}"
        )
    _check_config(whole, config, agent, section, sizes, bool(parts["normalizer"]))
    n_obs = int(memory.input_size) if memory is not None else n_in
    norm = _normalizer(parts["normalizer"], n_obs, where)
    head = _head(parts["noise"], sizes[-1], config, agent, layout, where)
    nn = torch.nn
    layers: list[Any] = []
    for k, layer in enumerate(linears):
        layers.append(layer)
        if k < len(linears) - 1:
            layers.append(getattr(nn, ACTIVATIONS[name])())
    if head is not None:
        layers.append(nn.Unflatten(-1, (2, sizes[-1] // 2)))
    policy = rebuilt_policy(nn.Sequential(*layers), memory, norm, head, "checkpoint")
    graph, recurrent = export_rebuilt(policy)
    iteration = data.get("iter")
    network = {
        "type": f"rsl_rl checkpoint ({layout.name})",
        **describe(policy),
        "sizes": sizes,
        "activation": name,
        "iteration": int(iteration) if isinstance(iteration, int | float) else None,
    }
    files = {"agent": agent} if config is not None and agent is not None else {}
    return TorchPolicy(graph, recurrent, network, rebuilt_reference(policy), tuple(assumed), files)


# ------------------------------------------------------------------------------------ reading
def _layout(data: Any, where: str) -> _Layout:
    torch = _torch()
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: a torch.save'd {type(data).__name__}: not an rsl_rl checkpoint")
    keys = [str(k) for k in data]
    if "student_state_dict" in data or "teacher_state_dict" in data:
        raise PolicyError(
            f"{where}: a distillation checkpoint (student and teacher): import the student's export "
            "(exported/policy.pt or policy.onnx)"
        )
    if "actor_state_dict" in data and "model_state_dict" in data:
        raise PolicyError(f"{where} has two actors: 'model_state_dict' and 'actor_state_dict'")
    if "actor_state_dict" not in data and "model_state_dict" not in data:
        raise PolicyError(
            f"{where}: a torch.save'd dict with keys {few(keys, 8) or 'none'}: not an rsl_rl checkpoint "
            "(rsl_rl writes 'model_state_dict' (1.x-3.x) or 'actor_state_dict' (4.x and later))"
        )
    layout = _V4 if "actor_state_dict" in data else _V1
    used = {layout.state} | ({"obs_norm_state_dict"} if layout is _V1 else set())
    extra = [k for k in data if k not in used and k not in _NOT_ACTING and _holds_tensors(data[k], torch)]
    if extra:
        raise PolicyError(
            f"{where} has '{extra[0]}' beside the actor ({layout.state}), which the rebuild would not use; "
            "it may change the policy's actions: not imported"
        )
    return layout


def _holds_tensors(value: Any, torch: Any) -> bool:
    if torch.is_tensor(value):
        return True
    if isinstance(value, Mapping):
        return any(_holds_tensors(v, torch) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_tensors(v, torch) for v in value)
    return False


def _tensors(value: Any, what: str, where: str) -> dict[str, Any]:
    torch = _torch()
    if not isinstance(value, Mapping) or not all(torch.is_tensor(v) for v in value.values()):
        raise PolicyError(f"{where}: '{what}' is not a state dict of tensors")
    return {str(k): v for k, v in value.items()}


def _split(state: Mapping[str, Any], layout: _Layout, where: str) -> dict[str, Any]:
    """The actor's state by part: mlp, normalizer, memory (keys without their prefix), noise; one
    error naming the keys of no known part."""
    parts: dict[str, Any] = {"mlp": {}, "normalizer": {}, "memory": {}, "noise": None}
    unknown = []
    for key, value in state.items():
        key = str(key)
        if key in layout.noise:
            parts["noise"] = value
        elif layout.critic and key.startswith(layout.critic):
            continue
        else:
            for part in ("mlp", "normalizer", "memory"):
                prefix = getattr(layout, part)
                if key.startswith(prefix):
                    parts[part][key[len(prefix) :]] = value
                    break
            else:
                unknown.append(key)
    if unknown:
        raise PolicyError(
            f"{where}: the actor ({layout.state}) has weights the rebuild would not use: {few(unknown)} "
            f"(it rebuilds {layout.normalizer}* -> {layout.memory}* -> {layout.mlp}*)"
        )
    if not parts["mlp"]:
        raise PolicyError(f"{where}: '{layout.state}' has no actor layers ({layout.mlp}<i>.weight)")
    return parts


def _linears(weights: Mapping[str, Any], prefix: str, where: str) -> list[Any]:
    """The actor's Linear layers from ``{i}.weight`` / ``{i}.bias`` at even i = 0, 2, 4, ..."""
    nn = _torch().nn
    by_index: dict[int, dict[str, Any]] = {}
    for key, value in weights.items():
        found = re.fullmatch(r"(\d+)\.(weight|bias)", key)
        if not found:
            raise PolicyError(f"{where}: '{prefix}{key}' is not a Linear layer's weight or bias")
        by_index.setdefault(int(found.group(1)), {})[found.group(2)] = value
    indices = sorted(by_index)
    if indices != list(range(0, 2 * len(indices), 2)):
        raise PolicyError(
            f"{where}: the actor's layers with weights are at {prefix}{indices}; rsl_rl's MLP alternates "
            "Linear layers (0, 2, 4, ...) and activations"
        )
    out = []
    for i in indices:
        weight, bias = by_index[i].get("weight"), by_index[i].get("bias")
        if (
            weight is None
            or weight.dim() != 2
            or (bias is not None and tuple(bias.shape) != (weight.shape[0],))
        ):
            raise PolicyError(
                f"{where}: '{prefix}{i}' is not a Linear layer (weight {tuple(getattr(weight, 'shape', ()))})"
            )
        layer = nn.Linear(int(weight.shape[1]), int(weight.shape[0]), bias=bias is not None)
        layer.weight.data.copy_(weight.float())
        if bias is not None:
            layer.bias.data.copy_(bias.float())
        out.append(layer)
    return out


def _memory(weights: Mapping[str, Any], prefix: str, where: str) -> Any:
    """The actor's LSTM or GRU (rsl_rl's ``Memory`` / ``RNN``: one step per call), or None."""
    if not weights:
        return None
    nn = _torch().nn
    for key in weights:
        if not re.fullmatch(r"(weight|bias)_(ih|hh)_l\d+", key):
            raise PolicyError(
                f"{where}: '{prefix}{key}': a bidirectional or projected recurrent memory; this importer rebuilds "
                "rsl_rl's LSTM and GRU"
            )
    if "weight_ih_l0" not in weights or "weight_hh_l0" not in weights:
        raise PolicyError(f"{where}: the actor's memory ({prefix}*) has no weight_ih_l0 / weight_hh_l0")
    hidden = int(weights["weight_hh_l0"].shape[1])
    gates = int(weights["weight_hh_l0"].shape[0]) // max(hidden, 1)
    kinds = {4: nn.LSTM, 3: nn.GRU}
    if gates not in kinds:
        raise PolicyError(
            f"{where}: the actor's memory ({prefix}*) is neither an LSTM nor a GRU ({gates} gates)"
        )
    layers = len([k for k in weights if k.startswith("weight_ih_l")])
    cell = kinds[gates](int(weights["weight_ih_l0"].shape[1]), hidden, layers, bias="bias_ih_l0" in weights)
    try:
        cell.load_state_dict({k: v.float() for k, v in weights.items()})
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or ["?"])[-1].strip()
        raise PolicyError(
            f"{where}: the actor's memory ({prefix}*) does not load as an {type(cell).__name__}: {first[:160]}"
        ) from None
    return cell


def _normalizer(stats: Mapping[str, Any], n_obs: int, where: str) -> tuple[Any, Any, float] | None:
    """(mean, std, eps) of an EmpiricalNormalization state (``_mean``, ``_var``, ``_std``, ``count``)."""
    if not stats:
        return None
    unknown = [k for k in stats if k not in ("_mean", "_var", "_std", "count")]
    if unknown or "_mean" not in stats or "_std" not in stats:
        raise PolicyError(
            f"{where}: the actor's observation normalizer has {', '.join(stats)}; this importer reads rsl_rl's "
            "EmpiricalNormalization (_mean, _var, _std, count)"
        )
    mean, std = stats["_mean"].float().reshape(-1), stats["_std"].float().reshape(-1)
    if len(mean) != n_obs or len(std) != n_obs:
        raise PolicyError(
            f"{where}: the observation normalizer has {len(mean)} means and {len(std)} stds for {n_obs} observations"
        )
    return mean.clone(), std.clone(), NORMALIZER_EPS


# ------------------------------------------------------------------------- the run's config
def _agent_config(
    agent: Path | None, layout: _Layout
) -> tuple[Mapping[str, Any], str, Mapping[str, Any] | None]:
    """The agent config, the name of its section of the actor and that section (None when it has
    none): ``policy`` for rsl_rl <= 3, ``actor`` for >= 4 (an agent.yaml that still states the
    actor as ``policy``, Isaac Lab's deprecated form, is read as such)."""
    if agent is None:
        return {}, layout.config, None
    whole = load_config(agent, "agent.yaml")
    for name in (layout.config, "policy"):
        section = whole.get(name)
        if isinstance(section, Mapping):
            return whole, name, section
    return whole, layout.config, None


def _activation(
    given: str | None,
    config: Mapping[str, Any] | None,
    agent: Path | None,
    section: str,
    assumed: list[str],
) -> str:
    """rsl_rl's activation name of the actor: the agent config's, else the user's, else elu."""
    trained = config.get("activation") if config is not None else None
    if trained is not None:
        name = str(trained).lower()
        name = "celu" if name == "crelu" else name  # rsl_rl >= 2 (Isaac Lab) builds 'crelu' as CELU
        if name not in ACTIVATIONS:
            raise PolicyError(
                f"{agent}: {section}.activation '{trained}' is not one of rsl_rl's ({', '.join(ACTIVATIONS)})"
            )
        if given is not None and _given(given) != name:
            raise PolicyError(
                f"--activation {given}, but the run's {agent} says {section}.activation {trained}"
            )
        return name
    if given is not None:
        return _given(given)
    assumed.append(
        f"activation: {DEFAULT_ACTIVATION} between the actor's layers (legged_gym's and rsl_rl's default; "
        "the checkpoint does not say: --activation names another)"
    )
    return DEFAULT_ACTIVATION


def _given(name: str) -> str:
    name = name.lower()
    if name == "crelu":
        raise PolicyError("--activation crelu is ReLU in rsl_rl 1.x and CELU from 2.x: give relu or celu")
    if name not in ACTIVATIONS:
        raise PolicyError(f"--activation '{name}' is not one of rsl_rl's ({', '.join(ACTIVATIONS)})")
    return name


def _check_config(
    whole: Mapping[str, Any],
    config: Mapping[str, Any] | None,
    agent: Path | None,
    section: str,
    sizes: list[int],
    normalized: bool,
) -> None:
    """The agent config's hidden sizes and observation normalization against the checkpoint's."""
    if config is None:
        return
    for key in ("actor_hidden_dims", "hidden_dims"):  # rsl_rl <= 3's policy, >= 4's actor
        hidden = config.get(key)
        if isinstance(hidden, list | tuple) and [int(h) for h in hidden] != sizes[1:-1]:
            raise PolicyError(
                f"{agent}: {section}.{key} {list(hidden)}, but the checkpoint's actor has hidden layers "
                f"{sizes[1:-1]}: not this checkpoint's run"
            )
    said = {  # rsl_rl 2.x: the runner's empirical_normalization; 3.x: the policy's; >= 4: the actor model's
        "empirical_normalization": whole.get("empirical_normalization"),
        f"{section}.actor_obs_normalization": config.get("actor_obs_normalization"),
        f"{section}.obs_normalization": config.get("obs_normalization"),
    }
    for key, value in said.items():
        if value is True and not normalized:
            raise PolicyError(
                f"{agent}: {key} is true, but the checkpoint has no observation normalizer statistics"
            )


def _head(
    noise: Any,
    n_out: int,
    config: Mapping[str, Any] | None,
    agent: Path | None,
    layout: _Layout,
    where: str,
) -> tuple[str, float, float] | None:
    """The actor's deterministic output: None (the output is the mean), ``first`` (row 0 of a
    (2, n) output) or ``beta`` (scale, offset of its action range)."""
    if noise is not None:
        n_act = int(noise.numel())
        if n_act != n_out:
            raise PolicyError(f"{where}: the actor gives {n_out} outputs for {n_act} action noise values")
        return None
    if layout is _V1:  # rsl_rl 3.x's state-dependent std: (2, n), no std parameter
        if n_out % 2 or (config or {}).get("state_dependent_std") is False:
            raise PolicyError(
                f"{where}: the actor has no action noise (std) and {n_out} outputs, not rsl_rl 3.x's state-dependent "
                "std (a mean and a std per action)"
                + (
                    f": {agent} says state_dependent_std false"
                    if (config or {}).get("state_dependent_std") is False
                    else ""
                )
            )
        return ("first", 1.0, 0.0)
    if n_out % 2:
        return None  # no (2, n) output: the actor's output is the action
    dist = (config or {}).get("distribution_cfg", "absent")
    if isinstance(dist, Mapping):
        kind = str(dist.get("class_name", "")).replace(":", ".").split(".")[-1]
        if kind == "HeteroscedasticGaussianDistribution" or (
            kind == "GaussianDistribution" and dist.get("state_dependent_std") is True  # rsl_rl 5.0's form
        ):
            return ("first", 1.0, 0.0)
        if kind == "BetaDistribution":
            low, high = (float(v) for v in dist.get("action_range", (-1.0, 1.0)))
            return ("beta", high - low, low)
        raise PolicyError(
            f"{agent}: actor.distribution_cfg {kind or '?'} without its parameters in the checkpoint; this importer "
            "rebuilds Gaussian (std_param), heteroscedastic Gaussian and Beta actors"
        )
    if config is not None and (dist is None or config.get("stochastic") is False):
        return None  # a deterministic actor
    if config is not None and config.get("state_dependent_std") is True:
        return ("first", 1.0, 0.0)  # rsl_rl 4.x
    raise PolicyError(
        f"{where}: the actor ({n_out} outputs) keeps no action noise: rsl_rl >= 4 writes none for a state-dependent "
        "Gaussian and for a Beta distribution, whose actions differ; the run's params/agent.yaml "
        "(actor.distribution_cfg) says which: put it in params/ next to the checkpoint"
    )
