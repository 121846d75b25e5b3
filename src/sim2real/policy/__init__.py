"""Policy export (ONNX + metadata), the real-time runtime, and hand-made policies.

================  ==================================================================================
module            owns
================  ==================================================================================
metadata          :class:`PolicyMetadata`, reading a policy file, :func:`stamp_metadata` (the one
                  way metadata and checksum are written) (numpy only)
runtime           :class:`PolicyRunner`: a policy file run on a robot, one control step at a time,
                  recurrent state carried (numpy + onnxruntime only)
observation       allocation-free observations of one robot (history, clip, phase clock), checked
                  against the term functions
commands          the velocity command ranges a policy was trained on, and the warning for a
                  command outside them (sim2sim, deploy)
linear            :func:`write_linear_policy`: ``tanh(gain @ obs + bias)`` as a policy file (onnx,
                  no torch)
export            :func:`export_policy`: a TransferPolicy as one ONNX file, checked against PyTorch
                  (needs torch)
imports           importers of policies trained elsewhere (``sim2real import``): legged_gym
                  TorchScript, rsl_rl training checkpoints, Isaac Lab / unitree_rl_lab / mjlab ONNX;
                  each writes a spec through robot init and a stamped policy file (needs onnx; torch
                  for TorchScript and checkpoints)
================  ==================================================================================

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
