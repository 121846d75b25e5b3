"""PPO training configuration, one tuned preset per embedded task.

Configs are frozen dataclasses; variants are made with :func:`dataclasses.replace`.  The preset
values were chosen by measurement on a 2-core CPU (see benchmarks/BENCHMARKS.md): on a CPU the
PPO update costs about as much as the simulation, so the networks are narrow and the epochs few.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from sim2real.errors import Sim2RealError


def _check_type(name: str, kind: str, value: Any) -> None:
    """Raise unless ``value`` is of the field's annotated kind (``kind``: its annotation as text):
    bool, int, a finite float, a non-empty tuple of layer widths >= 1, or None where allowed."""
    if value is None and "None" in kind:
        return
    if kind.startswith("bool"):
        ok = isinstance(value, bool)
    elif kind.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind.startswith("float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind.startswith("tuple"):
        ok = (
            isinstance(value, tuple | list)
            and len(value) > 0
            and all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in value)
        )
    else:
        ok = True
    if not ok:
        want = {"bool": "true or false", "int": "a whole number", "float": "a finite number"}.get(
            kind.split()[0].split("[")[0], "a list of layer widths >= 1"
        )
        raise Sim2RealError(f"PPOConfig.{name} must be {want}, got {value!r}")


@dataclass(frozen=True)
class PPOConfig:
    """Everything that shapes a PPO run (besides the robot, task, randomization and seed)."""

    num_envs: int = 128
    """Parallel simulations."""
    steps_per_env: int = 32
    """Policy decisions per simulation per iteration (rollout length)."""
    action_repeat: int = 1
    """Control steps each training decision is held for (1: none).  The policy stays a
    per-control-step feedback: evaluation and deployment query it at every control step."""
    hidden: tuple[int, ...] = (64, 64)
    """Actor (TransferPolicy) hidden layer widths."""
    critic_hidden: tuple[int, ...] = (64, 64)
    """Critic hidden layer widths."""
    learning_epochs: int = 4
    """Passes over each rollout."""
    mini_batches: int = 4
    """Mini-batches per pass."""
    learning_rate: float = 1e-3
    """Initial Adam step size (adapted to the KL target)."""
    desired_kl: float | None = 0.01
    """KL target of the adaptive learning-rate schedule (None: fixed learning rate)."""
    gamma: float = 0.99
    """Discount per control step."""
    lam: float = 0.95
    """GAE lambda."""
    clip_param: float = 0.2
    """PPO ratio clip."""
    entropy_coef: float = 0.0
    """Entropy bonus."""
    value_loss_coef: float = 1.0
    """Value loss weight."""
    max_grad_norm: float = 1.0
    """Gradient norm clip."""
    init_std: float = 0.5
    """Initial exploration standard deviation (actions in [-1, 1])."""
    min_std: float = 0.02
    """Floor of the exploration standard deviation."""
    torch_threads: int = 1
    """Torch intra-op threads while collecting rollouts and evaluating (MuJoCo's threads are
    separate and step the simulations; a policy forward pass gains nothing from more)."""
    update_threads: int = 1
    """Torch intra-op threads of the PPO update (0: this process's share of the CPUs).  The
    simulations are idle during the update, so their cores can take its matrix products."""
    random_episode_start: bool = True
    """Start the first episodes at random times so that resets spread over iterations."""
    exploring_starts: bool = False
    """Train from the task's exploring start distribution (``reset_exploring`` of the task module:
    e.g. the pendulum anywhere, not only hanging).  Evaluation always uses the task's own reset."""
    eval_every: int = 50
    """Iterations between quick deterministic evaluations on the task itself (0: none).  Their
    success rate is the run's progress metric (shown, logged, fed to a curriculum) when training
    episodes differ from the task's (exploring starts, other length)."""
    eval_episodes: int = 16
    """Episodes of each quick evaluation."""
    train_episode_s: float | None = None
    """Episode length of training episodes [s] (None: the task's).  Time limits are bootstrapped
    with the value function, so short episodes only change which states training sees."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # a sweep YAML's "fast" or [[0, 5]] fails here, not in torch
            _check_type(f.name, str(f.type), getattr(self, f.name))
        for name in (
            "num_envs",
            "steps_per_env",
            "action_repeat",
            "learning_epochs",
            "mini_batches",
            "torch_threads",
        ):
            if getattr(self, name) < 1:
                raise Sim2RealError(f"PPOConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.update_threads < 0:
            raise Sim2RealError(f"PPOConfig.update_threads must be >= 0, got {self.update_threads}")
        if not 0 < self.gamma <= 1 or not 0 <= self.lam <= 1:
            raise Sim2RealError(f"PPOConfig: gamma {self.gamma} / lam {self.lam} out of range")
        if self.train_episode_s is not None and self.train_episode_s <= 0:
            raise Sim2RealError(f"PPOConfig.train_episode_s must be positive, got {self.train_episode_s}")
        if self.learning_rate <= 0 or self.clip_param <= 0 or self.max_grad_norm <= 0:
            raise Sim2RealError(
                "PPOConfig: learning_rate, clip_param and max_grad_norm must be positive, got "
                f"{self.learning_rate}, {self.clip_param}, {self.max_grad_norm}"
            )
        if not 0 < self.min_std <= self.init_std:
            raise Sim2RealError(
                f"PPOConfig: need 0 < min_std <= init_std, got {self.min_std}, {self.init_std}"
            )
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "critic_hidden", tuple(int(h) for h in self.critic_hidden))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view (stored in checkpoints)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PPOConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise Sim2RealError(f"unknown PPO config keys: {', '.join(sorted(unknown))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def runner_cfg(self) -> dict[str, Any]:
        """The configuration dict rsl_rl's ``OnPolicyRunner`` expects."""
        return {
            "num_steps_per_env": self.steps_per_env,
            "save_interval": 10**9,
            "check_for_nan": True,
            "obs_groups": {"actor": ["policy"], "critic": ["critic"]},
            "logger": "tensorboard",
            "actor": {
                "class_name": "sim2real.train.models:TransferActor",
                "hidden_dims": list(self.hidden),
                "init_std": self.init_std,
                "std_range": [self.min_std, 2.0],
            },
            "critic": {
                "class_name": "rsl_rl.models:MLPModel",
                "hidden_dims": list(self.critic_hidden),
                "activation": "elu",
                "obs_normalization": True,
            },
            "algorithm": {
                "class_name": "sim2real.train.ppo:StepNormalizedPPO",
                "num_learning_epochs": self.learning_epochs,
                "num_mini_batches": self.mini_batches,
                "clip_param": self.clip_param,
                "gamma": self.gamma,
                "lam": self.lam,
                "value_loss_coef": self.value_loss_coef,
                "entropy_coef": self.entropy_coef,
                "learning_rate": self.learning_rate,
                "max_grad_norm": self.max_grad_norm,
                "use_clipped_value_loss": True,
                "schedule": "fixed" if self.desired_kl is None else "adaptive",
                "desired_kl": self.desired_kl,
            },
        }


_PRESETS: dict[str, PPOConfig] = {
    # 200 Hz control: decisions at 100 Hz, 3 s training episodes from exploring starts.
    "pendulum": PPOConfig(
        num_envs=64,
        steps_per_env=32,
        action_repeat=2,
        init_std=0.3,
        entropy_coef=0.005,
        exploring_starts=True,
        train_episode_s=3.0,
    ),
    # 500 Hz control: decisions at 100 Hz (gamma 0.99 is a 1 s horizon), 2 s training episodes
    # from exploring starts (hanging, anywhere, near upright), so that balancing is learnt at once.
    # Learning is update-bound: 8 epochs and a KL target of 0.02 halve the time to success
    # against rsl_rl's 5 epochs / 0.01 (measured over seeds; see BENCHMARKS.md).
    "furuta": PPOConfig(
        num_envs=128,
        steps_per_env=32,
        action_repeat=5,
        learning_epochs=8,
        desired_kl=0.02,
        init_std=0.3,
        entropy_coef=0.005,
        exploring_starts=True,
        train_episode_s=2.0,
    ),
    # 50 Hz control; the Isaac Lab flat-ground recipe with narrower networks for the CPU.  The
    # initial std is 0.5 (Isaac Lab's 1.0 is in units of its 0.25 rad action scale; ours are in
    # units of a tanh-bounded 0.5 rad scale, so 0.5 is the same 0.25 rad of exploration): with
    # 1.0 most samples were clipped at the bounds and walking came only after 6-7 M steps of
    # standing (see BENCHMARKS.md, issue 21).
    "quadruped": PPOConfig(
        num_envs=1024,
        steps_per_env=24,
        hidden=(128, 128, 128),
        critic_hidden=(128, 128, 128),
        learning_epochs=5,
        mini_batches=4,
        gamma=0.99,
        entropy_coef=0.01,
        init_std=0.5,
        min_std=0.05,
        update_threads=0,  # the update on every CPU: 1.14x per iteration on 2 idle cores (BENCHMARKS.md)
    ),
}


_KIND_PRESETS: dict[str, str] = {"locomotion": "quadruped"}
"""Preset of a task kind for robots without a preset of their own (any legged robot walks with
the quadruped's)."""


def preset_key(task: Any) -> str:
    """Preset name of a task: a name, a TaskConfig or a RobotSpec (its own preset, else its kind's)."""
    if isinstance(task, str):
        return task
    name = str(task.name)
    kind = getattr(task, "kind", "") or getattr(getattr(task, "task", None), "kind", "")
    return name if name in _PRESETS else _KIND_PRESETS.get(kind, name)


def default_config(task: Any) -> PPOConfig:
    """The tuned preset of a task (name, TaskConfig or RobotSpec; a generic config for others)."""
    return _PRESETS.get(preset_key(task), PPOConfig())


_STEPS: dict[str, int] = {"pendulum": 3_000_000, "furuta": 20_000_000, "quadruped": 40_000_000}


def default_steps(task: Any) -> int:
    """Default environment-step budget of a training run of a task (name, TaskConfig or RobotSpec)."""
    return _STEPS.get(preset_key(task), 10_000_000)
