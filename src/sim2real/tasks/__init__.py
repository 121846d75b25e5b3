"""Tasks as terms over batched state, one registry entry per task."""

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
