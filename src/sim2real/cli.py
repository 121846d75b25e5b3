"""The ``sim2real`` command.

Every subcommand is a typed function in :mod:`sim2real.commands`, listed in :data:`COMMANDS`;
``tyro`` turns its signature into options and its docstring into ``--help``.  A command module
that fails to import is an error of the installation (one line, exit 1), never a command that
quietly disappears.

Exit codes: 0 success; 1 bad input (a file, a value) or a failed check; 2 a usage error (an
unknown option or command, a missing or malformed argument, a number outside its range: see
:mod:`sim2real.commands.arguments`); 130 interrupted.  Every error is one
line on stderr, never a traceback.

Global options (anywhere before ``--``): ``-v`` logs at INFO, ``-vv`` at DEBUG (default: warnings
and errors only); ``--version`` prints the version.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sim2real.commands.arguments import RANGE_ERROR
from sim2real.errors import Sim2RealError

log = logging.getLogger("sim2real")

PROG = "sim2real"

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("robots", "robots", "robots"),
    ("robot", "robot", "robot"),
    ("params", "robots", "params"),
    ("twin", "twin", "twin"),
    ("import", "import_policy", "import_policy"),
    ("sim2sim", "sim2sim", "sim2sim"),
    ("randomize", "randomize", "randomize"),
    ("train", "train", "train"),
    ("evaluate", "train", "evaluate"),
    ("export", "export", "export"),
    ("record", "record", "record"),
    ("deploy", "deploy", "deploy"),
    ("faults", "faults", "faults"),
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
"""(subcommand, module in ``sim2real.commands``, function), in the order ``--help`` lists them."""

EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

_VERBOSE = {"-v": 1, "--verbose": 1, "-vv": 2, "-vvv": 2}


class CommandLoadError(Sim2RealError):
    """A command's module could not be imported: the installation is broken."""


class UsageError(Exception):
    """The command line does not parse (raised from tyro's parse-error hook)."""

    def __init__(self, message: str, command: str | None) -> None:
        super().__init__(message)
        self.command = command


def commands() -> dict[str, Callable[..., int]]:
    """Subcommand name -> function, for every entry of :data:`COMMANDS`.

    Raises:
        CommandLoadError: a command module does not import, or lacks its function.
    """
    table: dict[str, Callable[..., int]] = {}
    for name, module, func in COMMANDS:
        try:
            mod = importlib.import_module(f"sim2real.commands.{module}")
        except Exception as exc:  # the command exists: its import failing is a broken install
            raise CommandLoadError(
                f"command '{name}' cannot be loaded ({type(exc).__name__}: {exc}); "
                "the installation is broken: reinstall sim2real"
            ) from exc
        if not hasattr(mod, func):
            raise CommandLoadError(f"command '{name}': sim2real.commands.{module} has no {func}()")
        table[name] = getattr(mod, func)
    return table


DESCRIPTION = (
    "From MuJoCo simulation to a real robot, and back.  Global options: -v (INFO "
    "logging), -vv (DEBUG), --version.  Exit codes: 1 bad input, 2 usage error."
)


def parse(argv: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The subcommand of a command line (global options and ``--version`` aside) and the arguments
    its function is called with, without calling it: what :func:`main` runs, and what the README's
    commands are checked with.

    Raises:
        UsageError: the command line does not parse, in the one line :func:`main` prints.
        CommandLoadError: a command module does not import.
    """
    import functools

    import tyro
    from tyro import _errors as tyro_errors

    args = _split_globals(list(argv))[0]

    def bound(name: str, func: Callable[..., int]) -> Callable[..., Any]:
        @functools.wraps(func)
        def arguments(**kwargs: Any) -> tuple[str, dict[str, Any]]:
            return name, kwargs

        return arguments

    def on_parse_error(event: Any) -> None:
        raise UsageError(_describe(event, args), _command_of(args))

    table = {name: bound(name, func) for name, func in commands().items()}
    with tyro_errors.on_parse_error(on_parse_error):
        return tyro.extras.subcommand_cli_from_dict(
            table, prog=PROG, description=DESCRIPTION, args=_optional_values(args)
        )


def version() -> str:
    """The installed package version (the source tree's when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("sim2real")
    except PackageNotFoundError:
        return "0+unknown (not installed)"


# ---------------------------------------------------------------------------------- usage errors
def _flag(argument: Any) -> str:
    lowered = argument.lowered
    if argument.is_positional():
        return str(lowered.metavar or argument.field.extern_name).upper()
    return "/".join(lowered.name_or_flags)


def _metavar(argument: Any) -> str:
    text = str(argument.lowered.metavar or "")
    text = text.replace("{None}|", "").replace("|{None}", "")
    if text.startswith("{") and text.endswith("}") and "|" not in text and "," not in text:
        text = text[1:-1]
    return text


def _command_of(argv: Sequence[str]) -> str | None:
    names = {name for name, _, _ in COMMANDS}
    return argv[0] if argv and argv[0] in names else None


def _describe(event: Any, argv: Sequence[str]) -> str:
    """One line for a tyro parse-error event."""
    from tyro import _errors as te

    names = [name for name, _, _ in COMMANDS]
    if isinstance(event, te.MissingArgs):
        missing = ", ".join(_flag(a.arg) for a in event.missing_arguments)
        text = f"missing {missing}"
        if event.unrecognized_tokens:
            text += f"; unrecognized {' '.join(event.unrecognized_tokens)}"
        return text
    if isinstance(event, te.MissingSubcommand):
        return f"give a command: {', '.join(names)}"
    if isinstance(event, te.UnrecognizedArgs):
        tokens = list(event.tokens)
        if _command_of(argv) is None and tokens and not tokens[0].startswith("-"):
            return f"unknown command '{tokens[0]}' (commands: {', '.join(names)})"
        return f"unrecognized argument{'s' if len(tokens) > 1 else ''} {' '.join(tokens)}"
    if isinstance(event, te.InvalidChoice):
        choices = ", ".join(c for c in event.choices if c != "None")
        return f"{_flag(event.argument)}: '{event.value}' is not one of {choices}"
    if isinstance(event, te.BadValue):
        if event.reason == "too_few_values":
            return f"{_flag(event.argument)} needs a value ({_metavar(event.argument)})"
        return f"{_flag(event.argument)} takes no value, got '{event.offending_value}'"
    if isinstance(event, te.InstantiationFailure):
        lines = event.message.strip().splitlines() or [""]
        ranged = RANGE_ERROR.search(lines[-1])
        if ranged and event.argument is not None:  # a typed number of commands.arguments
            return f"{_flag(event.argument)}: {ranged.group(1)}"
        found = re.search(r"from (\[.*?\])", event.message)
        given = " ".join(_quoted(found.group(1))) if found else ""
        if event.argument is None:
            return event.message.splitlines()[0]
        return f"{_flag(event.argument)}: invalid value '{given}' (expected {_metavar(event.argument)})"
    if isinstance(event, te.MutexConflict):
        return f"{event.first_token} and {event.second_token} exclude each other"
    return f"the command line does not parse ({type(event).__name__})"


def _quoted(text: str) -> list[str]:
    """``"['1', 'x']"`` -> ``['1', 'x']`` (the tokens tyro quotes in its messages)."""
    return re.findall(r"'((?:[^'\\]|\\.)*)'", text)


# ------------------------------------------------------------------------------------------ main
def _split_globals(argv: Sequence[str]) -> tuple[list[str], int]:
    """The arguments without ``-v``/``-vv``/``--verbose`` (before ``--``), and the verbosity."""
    rest: list[str] = []
    verbosity = 0
    for i, arg in enumerate(argv):
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in _VERBOSE:
            verbosity = max(verbosity, _VERBOSE[arg])
        else:
            rest.append(arg)
    return rest, verbosity


def configure_logging(verbosity: int) -> None:
    """Warnings and errors by default; ``-v`` sim2real's INFO lines, ``-vv`` DEBUG.

    Other libraries' loggers stay at WARNING.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    log.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG))
    logging.getLogger("OpenGL").setLevel(logging.WARNING)  # PyOpenGL's import notice is not an error line
    route_mujoco_warnings()


def route_mujoco_warnings() -> None:
    """MuJoCo's warnings go to the ``sim2real.mujoco`` logger, each kind once per run, instead of
    stderr and a ``MUJOCO_LOG.TXT`` in the user's folder (a replay of thousands of diverging
    windows printed thousands of lines).  sim2real reads what it needs from the counters in
    ``MjData.warning``, which this does not touch."""
    import mujoco

    mujoco_log = log.getChild("mujoco")
    seen: set[str] = set()

    def warn(message: str) -> None:
        kind = re.sub(r"[\d.]+", "#", message.strip())
        if kind not in seen:
            seen.add(kind)
            mujoco_log.warning("%s", message.strip())

    mujoco.set_mju_user_warning(warn)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def _optional_values(argv: Sequence[str]) -> list[str]:
    """``--live`` without a value (the last option, or followed by another option) gets the
    default port: ``deploy --live`` serves on 8765, ``deploy --live 9000`` on 9000."""
    argv = list(argv)
    if "--live" not in argv:
        return argv
    from sim2real.deploy.live import DEFAULT_PORT

    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg == "--live" and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            out.append(str(DEFAULT_PORT))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sim2real`` console script; returns the exit code."""
    args, verbosity = _split_globals(list(sys.argv[1:] if argv is None else argv))
    if args[:1] in (["--version"], ["-V"]):
        print(f"{PROG} {version()}")
        return 0
    configure_logging(verbosity)

    try:
        name, kwargs = parse(args)
        code = commands()[name](**kwargs)
    except UsageError as exc:
        hint = f"{PROG} {exc.command} --help" if exc.command else f"{PROG} --help"
        _error(f"{exc} (usage: {hint})")
        return EXIT_USAGE
    except Sim2RealError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # a file the user named cannot be read or written
        detail = exc.strerror or str(exc)
        _error(f"{exc.filename}: {detail}" if exc.filename else detail)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
