"""The command tests reuse the deploy tests' helpers (deploy_testdata: twin file, tiny policies)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
