"""What the control loop is given and what one tick returns: :class:`LoopConfig`, the
:class:`Policy` protocol it drives, and :class:`TickResult`.  Numpy only."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from sim2real.deploy.safety import SafetyEvent
from sim2real.deploy.speed import SpeedConfig, StageChange
from sim2real.deploy.stage_speed import StageSpeedConfig
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command, Reading

log = logging.getLogger(__name__)

__all__ = ["LoopConfig", "LoopMode", "Policy", "TickResult", "stages_slow_targets"]

LoopMode = Literal["lockstep", "paced"]


@runtime_checkable
class Policy(Protocol):
    """What the loop needs from a policy: :class:`~sim2real.policy.runtime.PolicyRunner`'s interface.

    Optional attributes the loop uses when present: ``filtered_action`` (n_act,) for the episode
    return, ``control_dt`` [s] (checked against the spec), ``path`` and ``metadata`` (logged).
    """

    last_input_finite: bool
    """False when the last step's inputs held NaN or inf (it then returned its previous command)."""

    def step_reading(self, reading: Any, velocity_command: np.ndarray | None = None) -> np.ndarray:
        """Actuator commands (n_act,) in actuator units from a reading (and a velocity command)."""
        ...

    def reset(self) -> None:
        """Clear the policy's internal state (action filter)."""
        ...


@dataclass(frozen=True)
class LoopConfig:
    """How the control loop runs."""

    mode: LoopMode = "lockstep"
    """``lockstep`` (no sleeping; for the twin) or ``paced`` (fixed rate on the monotonic clock)."""
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    """Speed stages, dwell time and first stage (``--speed STAGE``)."""
    velocity_command: tuple[float, float, float] | None = None
    """(vx [m/s], vy [m/s], yaw rate [rad/s]) for velocity-tracking policies; None: zero when the
    observation has a velocity command, else none."""
    scale_velocity_command: bool = True
    """Scale the velocity command by the speed stage's fraction."""
    speed_applies_to: Literal["auto", "velocity_command", "joint_targets"] = "auto"
    """What a speed stage slows down: ``velocity_command`` (the command alone; the safety monitor
    shapes joint targets at full speed, so a walking robot can keep its balance), ``joint_targets``
    (the monitor's command rate, pd target speed and velocity governor), or ``auto``: the velocity
    command for a policy that observes one and scales it (``scale_velocity_command``) on a floating
    base whose stage-speed guard is on (it stops a policy that ignores its command), else the joint
    targets; ``velocity_command`` on a policy whose command is absent or unscaled is refused."""
    stage_speed: StageSpeedConfig = field(default_factory=StageSpeedConfig)
    """When the stages scale the velocity command: the cap they put on the robot's own speed and yaw
    rate below 100 % (:mod:`sim2real.deploy.stage_speed`): a policy that ignores its command is stopped."""
    restart_stage: int = 0
    """Stage the progression restarts at after an accepted safety reset, or the stage it was at when
    that is lower: a reset never raises the speed."""
    log_imu: bool = True
    """Write ``/imu/data`` for robots with an IMU."""
    flush_period: float = 0.0
    """BagWriter flush period [s]; 0 writes every message to the file at once (crash-safe)."""
    episode_return: bool = True
    """Sum the task's reward when it can be computed from measured quantities alone."""
    deadline_log_first: int = 5
    """Missed deadlines logged one by one before throttling."""
    deadline_log_every: int = 100
    """After the first ones, log (and write to the bag) every n-th missed deadline."""

    def __post_init__(self) -> None:
        if self.mode not in ("lockstep", "paced"):
            raise Sim2RealError(f"loop mode must be lockstep or paced, got {self.mode!r}")
        if self.velocity_command is not None and len(self.velocity_command) != 3:
            raise Sim2RealError("velocity_command must be (vx, vy, yaw_rate)")
        if self.speed_applies_to not in ("auto", "velocity_command", "joint_targets"):
            raise Sim2RealError(
                f"speed_applies_to must be auto, velocity_command or joint_targets, got {self.speed_applies_to!r}"
            )
        if isinstance(self.restart_stage, bool) or not isinstance(self.restart_stage, numbers.Integral):
            raise Sim2RealError(
                f"restart_stage must be a stage index (an integer), got {self.restart_stage!r}"
            )
        object.__setattr__(self, "restart_stage", int(self.restart_stage))
        if not 0 <= self.restart_stage < len(self.speed.stages):
            raise Sim2RealError(
                f"restart_stage {self.restart_stage} is not a stage of {list(self.speed.stages)}"
            )


@dataclass(frozen=True, eq=False)
class TickResult:
    """What one :meth:`ControlLoop.tick` did."""

    index: int
    """Tick number, from 0."""
    now: float
    """Loop time of the tick [s]."""
    reading: Reading | None
    """The reading of the tick, as the robot returned it."""
    command: Command
    """The command written to the robot."""
    state: str
    """Monitor state after the tick: ``ok``, ``hold`` or ``safe_stop``."""
    events: tuple[SafetyEvent, ...]
    """Safety events reported this tick (state checks and command checks)."""
    stage: int
    """Speed stage index after the tick."""
    fraction: float
    """Speed fraction after the tick."""
    stage_change: StageChange | None
    """The stage change of this tick, if any."""
    policy_ran: bool
    """Whether the policy was stepped (only on a usable reading while not latched)."""
    policy_input_finite: bool
    """False when the policy reported non-finite input (the monitor got a NaN command)."""
    compute_s: float
    """Controller time: from the reading's arrival to the write call [s]."""
    tick_s: float
    """Whole tick, robot I/O and logging included [s]."""
    deadline_missed: bool
    """Whether this tick missed its deadline (see the module docstring)."""
    reward: float | None
    """Task reward of the tick (already times control_dt), or None."""

    @property
    def mode(self) -> str:
        """Mode of the command written: normal, hold or safe."""
        return self.command.mode


def stages_slow_targets(
    config: LoopConfig, stages: Sequence[float], has_velocity_command: bool, guarded: bool
) -> bool:
    """Whether the speed stages slow the joint targets (the monitor's speed fraction), else the
    velocity command alone, by ``config.speed_applies_to``; checks the loop's speed settings
    against the progression it runs (``stages``: its fractions) and its policy.  ``guarded``: a
    stage-speed guard would check that the robot slows with its command (a floating base with
    ``config.stage_speed`` on); without one, ``auto`` slows the joint targets (a legged policy hung
    on a fixed-base model ran at full speed at every stage with nothing said).

    Raises:
        Sim2RealError: ``velocity_command`` while the policy has no velocity command or it is not
            scaled (a stage would slow nothing); a ``restart_stage`` the progression lacks (a reset
            would fail after releasing the latch, at the old speed).
    """
    if not 0 <= config.restart_stage < len(stages):
        raise Sim2RealError(f"restart_stage {config.restart_stage} is not a stage of {list(stages)}")
    scaled = has_velocity_command and config.scale_velocity_command
    if config.speed_applies_to == "velocity_command" and not scaled:
        why = "has no velocity command" if not has_velocity_command else "is not scaled (scale_velocity_command off)"
        raise Sim2RealError(
            f"speed stages cannot apply to the velocity command: the policy {why}, so a stage would slow "
            "nothing (speed_applies_to joint_targets or auto)"
        )
    if config.speed_applies_to == "velocity_command" and not guarded and min(stages) < 1.0:
        log.warning(
            "speed stages apply to the velocity command alone and no stage-speed guard checks that the robot "
            "slows with it (a fixed base, or stage_speed off): a policy that ignores its command runs at full speed"
        )
    if config.speed_applies_to == "auto":
        return not (scaled and guarded)
    return config.speed_applies_to == "joint_targets"
