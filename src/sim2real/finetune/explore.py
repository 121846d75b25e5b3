"""A deployable policy with exploration noise, for collecting fine-tuning data (numpy + onnxruntime).

Reward-weighted behaviour cloning learns only from actions that differ from the current policy's:
a deterministic policy's own actions carry no information about better ones.  :class:`NoisyPolicy`
runs an exported policy file exactly as :class:`~sim2real.policy.runtime.PolicyRunner` does, but
adds temporally correlated Gaussian noise to the raw action before the low-pass filter::

    a     = network(obs)                                   (n_act,) in [-1, 1]
    eps_k = rho eps_{k-1} + sqrt(1 - rho^2) std xi_k       rho = exp(-control_dt / correlation_s)
    a_x   = clip(a + eps, -1, 1)                            what the robot executes (filtered)
    a_f   = alpha a_x + (1 - alpha) a_f_prev
    command = clip(scale a_f + offset, command limits)

With ``std = 0`` it is the PolicyRunner, step for step.  The logged commands contain the
executed action: :mod:`sim2real.finetune.data` recovers ``a_x`` from them by inverting the filter.
It has the :class:`~sim2real.deploy.loop.Policy` interface, so it runs behind the safety monitor
in a :class:`~sim2real.deploy.loop.ControlLoop` like any policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.policy.metadata import INPUT_NAME, OUTPUT_NAME, load_policy_file
from sim2real.policy.observation import ObservationBuilder
from sim2real.policy.runtime import check_io, make_session
from sim2real.robots.spec import RobotSpec


@dataclass(frozen=True)
class ExplorationConfig:
    """Exploration noise on the raw action."""

    std: float = 0.05
    """Stationary standard deviation of the noise, in normalized action units (actions in [-1, 1])."""
    correlation_s: float = 0.05
    """Correlation time of the noise [s] (an AR(1) process; 0: white noise per control step)."""
    seed: int = 0
    """Seed of the noise."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.std) and 0.0 <= self.std <= 1.0):
            raise Sim2RealError(f"exploration std must be in [0, 1], got {self.std}")
        if not (math.isfinite(self.correlation_s) and self.correlation_s >= 0.0):
            raise Sim2RealError(f"exploration correlation_s must be >= 0, got {self.correlation_s}")


class NoisyPolicy:
    """An exported policy plus exploration noise (see the module docstring).

    Args:
        path: The ``.onnx`` policy file.
        spec: The robot (the policy must have been exported for it).
        config: The noise.

    Raises:
        PolicyError / SpecMismatchError: as :class:`~sim2real.policy.runtime.PolicyRunner`.
    """

    def __init__(self, path: str | Path, spec: RobotSpec, config: ExplorationConfig | None = None) -> None:
        self.path = Path(path)
        source = f"policy {self.path}"
        meta, data = load_policy_file(self.path)
        meta.check_spec(spec, source)
        self.metadata = meta
        self.spec = spec
        self.config = config or ExplorationConfig()
        self.session = make_session(data, "cpu", source)
        check_io(self.session, meta, source)
        self.control_dt = meta.control_dt
        self.n_act = meta.n_act
        self._builder = ObservationBuilder(
            meta.observation,
            np.array(meta.default_pose),
            self.n_act,
            meta.control_dt,
            driven=meta.action_index,  # last_action: a held actuator's (meta.held) is left out
            frames=meta.frame_stack,
        )
        self._alpha = float(meta.action_filter)
        self._scale = np.array(meta.action_scale)
        self._offset = meta.command_offset
        self._low, self._high = meta.command_low, meta.command_high
        c = self.config.correlation_s
        self._rho = math.exp(-self.control_dt / c) if c > 0 else 0.0
        self._rng = np.random.default_rng(self.config.seed)
        self._obs = np.zeros((1, meta.n_obs), dtype=np.float32)
        self.observation = self._obs[0]
        """Last observation (n_obs,) float32."""
        self.action = np.zeros(self.n_act)
        """Last network action (n_act,) in [-1, 1] (before the noise)."""
        self.executed_action = np.zeros(self.n_act)
        """Last executed action a_x (n_act,) (network action plus noise, clipped)."""
        self.noise = np.zeros(self.n_act)
        """Current noise eps (n_act,)."""
        self.filtered_action = np.zeros(self.n_act)
        """Filter state a_f (n_act,): the observation's ``last_action``."""
        self.command = np.zeros(self.n_act)
        """Last actuator command (n_act,) in command units."""
        self.last_input_finite = True
        self.reset()

    def reset(self) -> None:
        """Clear the filter state and draw a fresh noise state."""
        self.filtered_action[:] = 0.0
        self.action[:] = 0.0
        self._builder.reset()
        self.noise[:] = self.config.std * self._rng.standard_normal(self.n_act)
        self._map()
        self.last_input_finite = True

    def _map(self) -> None:
        self.command[:] = np.clip(self._scale * self.filtered_action + self._offset, self._low, self._high)

    def step_reading(self, reading: Any, velocity_command: np.ndarray | None = None) -> np.ndarray:
        """Actuator commands (n_act,) from a robot ``Reading``; on non-finite input the previous
        command and ``last_input_finite = False`` (as PolicyRunner)."""
        obs = self._builder.build(
            np.asarray(reading.q, dtype=float),
            np.asarray(reading.qd, dtype=float),
            self.filtered_action,
            reading.gyro,
            reading.quat,
            velocity_command,
            getattr(reading, "base_lin_vel", None),
        )
        self._obs[0] = obs
        if not np.all(np.isfinite(self._obs)):
            self.last_input_finite = False
            return self.command.copy()
        self.last_input_finite = True
        self._builder.commit()
        self.action[:] = self.session.run([OUTPUT_NAME], {INPUT_NAME: self._obs})[0][0]
        std = self.config.std
        if std > 0:
            rho = self._rho
            self.noise[:] = rho * self.noise + math.sqrt(1.0 - rho * rho) * std * self._rng.standard_normal(
                self.n_act
            )
            self.executed_action[:] = np.clip(self.action + self.noise, -1.0, 1.0)
        else:
            self.executed_action[:] = self.action
        self.filtered_action[:] = (
            self._alpha * self.executed_action + (1.0 - self._alpha) * self.filtered_action
        )
        self._map()
        return self.command.copy()

    def describe(self) -> dict[str, Any]:
        """Settings, for the log's metadata."""
        return {
            "exploration": {
                "std": self.config.std,
                "correlation_s": self.config.correlation_s,
                "seed": self.config.seed,
            }
        }
