"""The package's own exception types.

Every error a user can cause by bad input derives from :class:`Sim2RealError`; the CLI turns
those into one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class Sim2RealError(Exception):
    """Base class of every error sim2real raises on purpose."""


class SpecError(Sim2RealError):
    """A robot spec file is missing, malformed or contradicts itself or its MJCF."""


class SpecMismatchError(Sim2RealError):
    """An artifact (policy, log, calibration) was made for a robot spec with another hash."""

    def __init__(
        self,
        what: str,
        expected: str,
        found: str,
        changed: Sequence[str] = (),
        *,
        expected_robot: str | None = None,
        found_robot: str | None = None,
        detail: str | None = None,
    ) -> None:
        made = f" ('{found_robot}')" if found_robot else ""
        this = f" ('{expected_robot}')" if expected_robot else ""
        message = f"{what} was made for robot spec {found[:12]}{made}, but this robot's spec is {expected[:12]}{this}"
        if changed:
            message += f"; changed since: {', '.join(changed)}"
        if detail:
            message += f"; {detail}"
        super().__init__(message)
        self.expected = expected
        self.found = found
        self.expected_robot = expected_robot
        self.found_robot = found_robot
        self.changed = tuple(changed)
        """Files of the robot (spec YAML, MJCF, meshes...) that changed since the artifact was made,
        when the artifact recorded their digests."""


class ParameterError(Sim2RealError):
    """A parameter name is unknown, malformed, or its value has the wrong size."""


class SimulationError(Sim2RealError):
    """The simulator could not be built or failed while stepping."""


class MissingExtraError(Sim2RealError):
    """An optional dependency group is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"'{module}' is not installed: install the '{extra}' extra, e.g. pip install 'sim2real[{extra}]'"
        )
        self.extra = extra
        self.module = module


class LogError(Sim2RealError):
    """A robot log (rosbag2/MCAP directory or CSV file) is missing, malformed or incomplete."""


class PolicyError(Sim2RealError):
    """A policy file is missing, unreadable, corrupted or lacks sim2real metadata, or a policy input
    has the wrong size."""
