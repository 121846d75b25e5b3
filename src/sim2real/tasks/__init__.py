"""Tasks as terms over batched state, one registry entry per task.

================  ==================================================================================
module            owns
================  ==================================================================================
base              :class:`TaskConfig`: reward, termination, reset, command and success terms
terms             reward, termination and success terms: ``(env, **params) -> (num_envs,)``
observations      observation terms: pure functions of what the robot's sensors report
pendulum          pendulum swing-up and balance
furuta            Furuta pendulum swing-up and balance with voltage control
quadruped         quadruped velocity tracking on flat ground
================  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable

from sim2real.errors import Sim2RealError
from sim2real.tasks.base import CommandConfig, SuccessRule, TaskConfig, Term


def _registry() -> dict[str, Callable[[], TaskConfig]]:
    from sim2real.tasks import furuta, pendulum, quadruped

    return {"pendulum": pendulum.make_task, "furuta": furuta.make_task, "quadruped": quadruped.make_task}


def task_names() -> list[str]:
    """Names of the registered tasks."""
    return list(_registry())


def get_task(name: str) -> TaskConfig:
    """The task registered under a name (the built-in tasks share their robot's name)."""
    try:
        return _registry()[name]()
    except KeyError:
        raise Sim2RealError(f"no task '{name}' (tasks: {', '.join(task_names())})") from None


__all__ = ["CommandConfig", "SuccessRule", "TaskConfig", "Term", "get_task", "task_names"]
