"""``/diagnostics`` of the sim2real nodes: statuses (``diagnostic_msgs/DiagnosticStatus``) whose
key/values carry a node's state as plain values, and the way back to a dict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["STATUS_ERROR", "STATUS_HEALTHY", "STATUS_WARN", "diagnostic_values", "key_values", "status"]

STATUS_HEALTHY, STATUS_WARN, STATUS_ERROR = 0, 1, 2
"""DiagnosticStatus levels OK, WARN and ERROR."""


def key_values(values: Mapping[str, Any]) -> list[Any]:
    """``diagnostic_msgs/KeyValue`` entries of plain values (floats at full precision, dicts and lists as JSON)."""
    from diagnostic_msgs.msg import KeyValue

    out = []
    for k, v in values.items():
        if isinstance(v, float):
            text = repr(v)  # full precision: times on the monotonic clock are compared across processes
        elif isinstance(v, dict | list):
            text = json.dumps(v)
        else:
            text = str(v)
        out.append(KeyValue(key=str(k), value=text))
    return out


def status(name: str, hardware_id: str, level: int, message: str, values: Mapping[str, Any]) -> Any:
    """A ``diagnostic_msgs/DiagnosticStatus`` with ``values`` as key/values."""
    from diagnostic_msgs.msg import DiagnosticStatus

    return DiagnosticStatus(
        level=bytes([level]), name=name, message=message, hardware_id=hardware_id, values=key_values(values)
    )


def diagnostic_values(status: Any) -> dict[str, str]:
    """A DiagnosticStatus's key/values as a dict (for tools and tests)."""
    return {kv.key: kv.value for kv in status.values}
