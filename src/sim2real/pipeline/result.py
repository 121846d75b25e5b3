"""What the demo pipeline produces: its stages, its artifacts and :class:`DemoResult` (everything
it measured; the report and ``sim2real demo --json`` are drawn from it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.pipeline.config import DemoConfig
from sim2real.pipeline.episodes import DeployResult
from sim2real.pipeline.training import TrainedPolicy
from sim2real.robots.spec import RobotSpec

__all__ = ["ARTIFACTS", "STAGES", "SUMMARY_KEYS", "DemoResult"]

STAGES: tuple[str, ...] = (
    "twin",
    "record",
    "gap_before",
    "identify",
    "train_dr",
    "train_nodr",
    "export",
    "deploy_dr",
    "deploy_nodr",
    "gap_after",
    "report",
)
"""Stage names, in order (progress callbacks receive them)."""

ARTIFACTS: tuple[str, ...] = (
    "twin.yaml",
    "record",
    "calib.yaml",
    "run_dr",
    "run_nodr",
    "policy_dr.onnx",
    "policy_nodr.onnx",
    "deploy_dr",
    "deploy_nodr",
    "report.html",
    "demo.json",
)
"""What the pipeline writes in its output folder (a rerun replaces exactly these)."""

SUMMARY_KEYS: tuple[str, ...] = (
    "sim_success",
    "twin_success_dr",
    "twin_success_nodr",
    "gap_before",
    "gap_after",
    "sysid_max_rel_error",
    "safety_stops",
    "report",
    "seconds",
)
"""Keys of :meth:`DemoResult.summary` (``sim2real demo --json``)."""


@dataclass
class DemoResult:
    """Everything the pipeline measured (the report is drawn from it)."""

    spec: RobotSpec
    config: DemoConfig
    out: Path
    hidden: dict[str, np.ndarray] = field(default_factory=dict)
    """Hidden true values of the twin."""
    gap_before: Any = None
    """``GapResult`` with the nominal model."""
    gap_after: Any = None
    """``GapResult`` with the calibrated model."""
    identification: Any = None
    """``sim2real.sysid.Identification``."""
    sysid_errors: dict[str, float] = field(default_factory=dict)
    """Relative error of each identified hidden parameter (delays: absolute error [s])."""
    trained: dict[str, TrainedPolicy] = field(default_factory=dict)
    """``dr`` and ``nodr`` runs."""
    deployed: dict[str, DeployResult] = field(default_factory=dict)
    """``dr`` and ``nodr`` episodes on the twin."""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each stage [s]."""
    report: Path | None = None
    seconds: float = 0.0
    """Total wall time [s]."""

    @property
    def sysid_max_rel_error(self) -> float:
        """Largest relative error of the identified hidden parameters, delays excluded (a delay is
        judged in physics steps: see ``sysid_errors``)."""
        rel = [v for k, v in self.sysid_errors.items() if not k.endswith(".delay")]
        return float(max(rel)) if rel else float("nan")

    def summary(self) -> dict[str, Any]:
        """The JSON summary: :data:`SUMMARY_KEYS`."""
        return {
            "sim_success": self.trained["dr"].sim_success,
            "twin_success_dr": self.deployed["dr"].success_rate,
            "twin_success_nodr": self.deployed["nodr"].success_rate,
            "gap_before": float(self.gap_before.position_rmse),
            "gap_after": float(self.gap_after.position_rmse),
            "sysid_max_rel_error": self.sysid_max_rel_error,
            "safety_stops": self.deployed["dr"].safety_stops + self.deployed["nodr"].safety_stops,
            "report": None if self.report is None else str(self.report),
            "seconds": round(self.seconds, 1),
        }
