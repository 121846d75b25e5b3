"""The ``sim2real`` command.

Every subcommand is a typed function in :mod:`sim2real.commands`; ``tyro`` turns its signature
into options and its docstring into ``--help``.  Errors a user can cause are one line on stderr
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence

from sim2real.errors import Sim2RealError

log = logging.getLogger("sim2real")


def _commands() -> dict[str, Callable[..., int]]:
    from sim2real.commands import robots

    table: dict[str, Callable[..., int]] = {
        "robots": robots.robots,
        "params": robots.params,
    }
    for name, module, func in _OPTIONAL:
        try:
            mod = __import__(f"sim2real.commands.{module}", fromlist=[func])
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("sim2real.commands"):
                continue  # command not built yet
            raise
        if hasattr(mod, func):  # a module may land before all of its commands
            table[name] = getattr(mod, func)
    return table


# (subcommand, module in sim2real.commands, function): wired when the module exists.
_OPTIONAL: tuple[tuple[str, str, str], ...] = (
    ("robot", "robot", "robot"),
    ("randomize", "randomize", "randomize"),
    ("train", "train", "train"),
    ("evaluate", "train", "evaluate"),
    ("export", "export", "export"),
    ("record", "record", "record"),
    ("deploy", "deploy", "deploy"),
    ("faults", "deploy", "faults"),
    ("preflight", "preflight", "preflight"),
    ("stages", "preflight", "stages"),
    ("identify", "identify", "identify"),
    ("actuator", "actuator", "actuator"),
    ("gap", "gap", "gap"),
    ("envelope", "gap", "envelope"),
    ("finetune", "finetune", "finetune"),
    ("twin-node", "ros2", "twin_node"),
    ("ros2", "ros2", "ros2"),
    ("bench", "bench", "bench"),
    ("sweep", "sweep", "sweep"),
    ("demo", "demo", "demo"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sim2real`` console script."""
    import tyro

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("OpenGL").setLevel(logging.WARNING)  # PyOpenGL's import notice is not an error line
    try:
        code = tyro.extras.subcommand_cli_from_dict(
            _commands(),
            prog="sim2real",
            description="From MuJoCo simulation to a real robot, and back.",
            args=argv,
        )
    except Sim2RealError as exc:
        print(f"sim2real: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sim2real: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
