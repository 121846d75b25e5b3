"""The log records of a deliberate e-stop (a check's own: the preflight's, the ROS 2 selftest's):
demoted to INFO and saying why, while every other safe stop keeps its level."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

ESTOP_LOGGERS = ("sim2real.deploy.safety", "sim2real.deploy.loop", "sim2real.deploy.ros2.node")
"""The loggers that report an e-stop (the event, the latch, the switch to safe mode)."""


SETTLING = tuple(
    f"safety {kind} (" for kind in ("position_limit", "velocity_limit", "torque_limit", "tilt", "height", "collision")
)
"""How the monitor's records of limits a robot crosses as it settles in safe mode begin."""


class _Deliberate(logging.Filter):
    """Demotes the records of one deliberate e-stop (their text holds ``reason``) to INFO, saying so,
    and the limit events that follow it while the check lasts (:data:`SETTLING`: a legged robot
    settling in its safe mode crosses its height and joint limits, the check's consequence); every
    other record (stale or non-finite data, errors, anything before the e-stop) passes unchanged."""

    def __init__(self, reason: str, why: str) -> None:
        super().__init__()
        self.reason, self.why = reason, why
        self.stopped = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO and self.reason in record.getMessage():
            self.stopped = True
            return self._demote(record, f"deliberate: {self.why}")
        if self.stopped and record.levelno == logging.WARNING and record.getMessage().startswith(SETTLING):
            return self._demote(record, f"in safe mode after the deliberate e-stop: {self.why}")
        return True

    @staticmethod
    def _demote(record: logging.LogRecord, note: str) -> bool:
        record.msg, record.args = f"{record.getMessage()} ({note})", ()
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)  # the level was checked before


@contextmanager
def deliberate_estop(reason: str, why: str) -> Iterator[None]:
    """While inside, the log records of an e-stop whose reason contains ``reason`` are INFO and say
    ``why`` (a check's own e-stop is no error: shown with -v, not on a quiet stderr); records of any
    other safe stop keep their level."""
    f = _Deliberate(reason, why)
    loggers = [logging.getLogger(name) for name in ESTOP_LOGGERS]
    for lg in loggers:
        lg.addFilter(f)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(f)
