"""The report tests reuse the gap tests' helpers (gap_testdata)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gap"))
