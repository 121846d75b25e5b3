"""Policy export (ONNX + metadata) and the real-time runtime.

- :mod:`sim2real.policy.export` (needs torch): :func:`export_policy` writes a TransferPolicy as one
  ONNX file with its deployment metadata and checks onnxruntime against PyTorch.
- :mod:`sim2real.policy.runtime` (numpy + onnxruntime only): :class:`PolicyRunner` runs a policy
  file on a robot, one control step at a time.
- :mod:`sim2real.policy.metadata` (numpy only): :class:`PolicyMetadata`, :func:`read_metadata`.

Importing this package imports neither torch nor onnxruntime; the names below load on first use.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "PolicyRunner": "sim2real.policy.runtime",
    "PolicyMetadata": "sim2real.policy.metadata",
    "read_metadata": "sim2real.policy.metadata",
    "export_policy": "sim2real.policy.export",
    "ExportResult": "sim2real.policy.export",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sim2real.policy' has no attribute '{name}'")
