"""Settings of the demo pipeline: what the twin hides, how long each stage works."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim2real.errors import Sim2RealError

__all__ = ["HIDDEN", "TINY_BUDGET", "DemoBudget", "DemoConfig"]

HIDDEN: dict[str, dict[str, float]] = {
    # The furuta twin: a heavier pendulum on a worn (10x damped) bearing, a stiffer arm bearing, a
    # warm motor and a slow amplifier, all within the spec's plausible bounds.  Measured on a policy
    # trained on the nominal model without randomization (4 episodes each through the deploy loop):
    # mass, arm damping, resistance and latency alone leave it at 4/4 successes; the pendulum
    # bearing's damping makes it fail every swing-up (0/4).
    "furuta": {
        "body.pendulum.mass": 0.0288,  # nominal 0.024 kg: +20 %
        "joint.arm.damping": 9.0e-4,  # nominal 5e-4 N m s/rad
        "joint.pendulum.damping": 1.0e-4,  # nominal 1e-5 N m s/rad (spec bound 2e-4)
        "motor.motor.resistance": 10.0,  # nominal 8.4 Ohm: +19 %
        "actuator.motor.delay": 0.005,  # nominal 0 s: 5 physics steps
    },
}
"""Hidden true parameter values of the twin per embedded robot (absolute SI)."""


@dataclass(frozen=True)
class DemoBudget:
    """How much work each stage does (the tests use :data:`TINY_BUDGET`)."""

    record_s: float = 30.0
    """Length of the excitation recording [s]."""
    excite: str = "chirp"
    """Excitation signal of the recording: chirp, prbs or steps."""
    horizon: float = 0.25
    """Gap windows [s]: each replays the logged commands from a logged state."""
    train_steps: int = 20_000_000
    """Most environment steps of each training run (the same cap for both policies)."""
    stop_success: float | None = 0.9
    """Each run stops early once a quick evaluation in its own training simulator (calibrated and
    randomized, or nominal) reaches this success rate: both policies get the same budget rule, so
    the baseline is as converged on its simulator as the calibrated policy on its own (None: both
    run ``train_steps``)."""
    eval_every: int = 10
    """Iterations between quick evaluations during training."""
    num_envs: int | None = None
    """Parallel simulations of training (None: the task's preset)."""
    hidden: tuple[int, ...] | None = None
    """Actor and critic hidden widths (None: the preset's)."""
    eval_episodes: int = 32
    """Simulated evaluation episodes of ``sim_success``."""
    episodes: int = 10
    """Episodes of each policy on the twin."""
    dwell_s: float = 1.0
    """Eventless time a speed stage needs before the next one on the twin [s]."""
    start_stage: int = 1
    """First speed stage on the twin (index into 10/25/50/75/100 %).  At 10 % the command-rate limit
    (200 V/s) and the arm speed governor (4 rad/s) leave the 10 V furuta no swing-up: measured, the
    calibrated policy ran into the arm's position limit in 3 of 3 episodes from 10 % and succeeded
    in 3 of 3 from 25 %."""
    export_checks: tuple[int, int] = (10_000, 1_000)
    """Random and recorded observations of the export parity check."""

    def __post_init__(self) -> None:
        for name in ("record_s", "horizon", "dwell_s"):
            if not getattr(self, name) > 0:
                raise Sim2RealError(f"demo budget: {name} must be positive, got {getattr(self, name)}")
        for name in ("train_steps", "eval_episodes", "episodes"):
            if getattr(self, name) < 1:
                raise Sim2RealError(f"demo budget: {name} must be at least 1, got {getattr(self, name)}")


TINY_BUDGET = DemoBudget(
    train_steps=1,
    record_s=3.0,
    num_envs=16,
    hidden=(16, 16),
    eval_episodes=2,
    episodes=1,
    export_checks=(50, 20),
)
"""A budget that runs every stage in seconds (tests): one PPO iteration, one episode each."""


@dataclass(frozen=True)
class DemoConfig:
    """One run of the demo pipeline."""

    robot: str = "furuta"
    """Embedded robot name or spec YAML path."""
    out: str = "demo_out"
    """Output folder: twin file, logs, calibration, runs, policies, report."""
    seed: int = 0
    """Seed of the twin's effects, the recording, training and the start states."""
    budget: DemoBudget = field(default_factory=DemoBudget)
    """Work per stage."""
    widen: float = 2.0
    """Calibrated randomization: half-width in half-widths of each confidence interval."""
    base: str | None = "default"
    """Randomization whose other entries (noise, latency, motor constants...) the calibrated one keeps."""
    hidden: dict[str, Any] | None = None
    """Hidden twin parameters (None: :data:`HIDDEN` of the robot, else +20 % on the identified set)."""
