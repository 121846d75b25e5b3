"""The velocity commands a policy was trained on, and one warning line for a command outside them.

The ranges are, in this order: the clip of the policy's ``velocity_command`` observation term (an
imported policy's training command ranges, which its observation clips the command to), else the
spec's task commands (what sim2real's own training samples).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim2real.errors import PolicyError
from sim2real.robots.spec import ObservationTerm, RobotSpec

log = logging.getLogger(__name__)

AXES = (("vx", "m/s"), ("vy", "m/s"), ("yaw rate", "rad/s"))
"""The velocity command's values, in order, with units."""


def trained_ranges(
    spec: RobotSpec, layout: Sequence[ObservationTerm]
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(low (3,), high (3,), clipped) of the velocity commands the policy was trained on; ``clipped``:
    the policy's observation clips a command to them.  None: the policy takes no velocity command
    or no range is known."""
    term = next((t for t in layout if t.name == "velocity_command"), None)
    if term is None:
        return None
    if term.clip is not None:
        low, high = (np.broadcast_to(np.asarray(c, dtype=float), (3,)).copy() for c in term.clip)
        if np.isfinite(low).any() or np.isfinite(high).any():
            return low, high, True
    if spec.task is None:
        return None
    from sim2real.tasks import get_task

    commands = get_task(spec).commands
    if commands is None:
        return None
    ranges = (commands.vx, commands.vy, commands.yaw)
    return np.array([r[0] for r in ranges], float), np.array([r[1] for r in ranges], float), False


def command_warning(spec: RobotSpec, layout: Sequence[ObservationTerm], command: Any) -> str | None:
    """One line naming the values of ``command`` (vx [m/s], vy [m/s], yaw rate [rad/s]) outside the
    ranges the policy was trained on (:func:`trained_ranges`); None when it lies inside them."""
    if command is None:
        return None
    found = trained_ranges(spec, layout)
    if found is None:
        return None
    low, high, clipped = found
    values = np.asarray(command, dtype=float)
    outside = [
        f"{axis} {v:g} {unit} not in [{lo:g}, {hi:g}]"
        for (axis, unit), v, lo, hi in zip(AXES, values, low, high, strict=True)
        if not lo - 1e-9 <= v <= hi + 1e-9
    ]
    if not outside:
        return None
    if clipped:
        seen = np.clip(values, low, high)
        return (
            f"--velocity-command lies outside the ranges the policy was trained on: {'; '.join(outside)} "
            f"(the policy sees it clipped to {' '.join(f'{v:g}' for v in seen)})"
        )
    # the spec's task's ranges: what sim2real trains with; a policy trained elsewhere states none here
    return (
        f"--velocity-command lies outside the command ranges of the spec's task: {'; '.join(outside)} (a policy "
        "trained with them never saw such a command; the spec's task: commands state them)"
    )


def warn_command(spec: RobotSpec, layout: Sequence[ObservationTerm], command: Any) -> str | None:
    """Log :func:`command_warning`'s line as a warning (and return it).

    Raises:
        PolicyError: a command for a policy that observes none (it would be dropped in silence).
    """
    if command is not None and not any(t.name == "velocity_command" for t in layout):
        raise PolicyError(
            f"--velocity-command: the policy takes no velocity command (it observes {', '.join(t.name for t in layout)}); "
            "drop --velocity-command"
        )
    line = command_warning(spec, layout, command)
    if line is not None:
        log.warning("%s", line)
    return line
