"""Task kinds whose terms read robot facts from the spec; one typed state protocol for the terms.

A robot's task is its spec's ``task: {kind: ..., <parameters>}``: :func:`task_for` builds it.

================  ==================================================================================
module            owns
================  ==================================================================================
base              :class:`TaskConfig`, :class:`Term`, :class:`SuccessRule`, :class:`CommandConfig`
terms             reward, termination and success terms: ``(env, **params) -> (num_envs,)``
observations      observation terms: pure functions of what the robot's sensors report (training
                  and deployment share them)
state             the :class:`TermEnv` protocol (what terms read) and :class:`MeasuredState`
params            a kind's parameters from the spec's ``task:`` mapping
locomotion        velocity tracking for any legged robot (quadrupeds and bipeds)
swing_up          swing-up and balance of a pendulum joint (pendulum, Furuta)
================  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim2real.errors import Sim2RealError, SpecError
from sim2real.robots.spec import RobotSpec
from sim2real.tasks.base import CommandConfig, SuccessRule, TaskConfig, Term


def _kinds() -> dict[str, tuple[type, Callable[[RobotSpec, Any], TaskConfig]]]:
    from sim2real.tasks import locomotion, swing_up  # the kinds import MuJoCo

    return {
        "locomotion": (locomotion.LocomotionConfig, locomotion.make),
        "swing_up": (swing_up.SwingUpConfig, swing_up.make),
    }


def task_kinds() -> list[str]:
    """Names of the task kinds a spec's ``task:`` may name."""
    return list(_kinds())


def kind_config(spec: RobotSpec) -> Any:
    """The spec's task parameters as its kind's config dataclass.

    Raises:
        Sim2RealError: the robot has no task; SpecError: unknown kind, unknown key or bad value.
    """
    if spec.task is None:
        raise Sim2RealError(
            f"robot {spec.name} has no task: add a 'task:' section to {spec.path.name} (kinds: locomotion, a "
            "floating base with feet tracking a velocity; swing_up, one passive pole swung up by driven joints; "
            "robot init says why it inferred none)"
        )
    from sim2real.tasks.params import config_from_mapping

    kinds = _kinds()
    if spec.task.kind not in kinds:
        raise SpecError(f"{spec.path.name}: task kind '{spec.task.kind}' is unknown (kinds: {', '.join(kinds)})")
    cls, _ = kinds[spec.task.kind]
    try:
        return config_from_mapping(cls, spec.task.params)
    except SpecError as exc:
        raise SpecError(f"{spec.path.name}: {exc}") from None


def task_for(spec: RobotSpec) -> TaskConfig:
    """The robot's task, built from its spec's ``task:`` section."""
    cfg = kind_config(spec)
    _, make = _kinds()[spec.task.kind]  # type: ignore[union-attr]
    try:
        return make(spec, cfg)
    except SpecError as exc:
        raise SpecError(f"{spec.path.name}: {exc}") from None


def get_task(robot: RobotSpec | str | Path) -> TaskConfig:
    """The task of a robot: a spec, an embedded robot's name or a spec YAML path."""
    if not isinstance(robot, RobotSpec):
        from sim2real.robots import load_robot

        try:
            robot = load_robot(robot)
        except SpecError:
            raise Sim2RealError(f"no task '{robot}': no such robot") from None
    return task_for(robot)


def has_task(spec: RobotSpec) -> bool:
    """Whether the robot's spec names a task."""
    return spec.task is not None


__all__ = [
    "CommandConfig",
    "SuccessRule",
    "TaskConfig",
    "Term",
    "get_task",
    "has_task",
    "kind_config",
    "task_for",
    "task_kinds",
]
