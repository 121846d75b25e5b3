"""``python -m sim2real`` is the ``sim2real`` command."""

from __future__ import annotations

import subprocess
import sys


def test_python_dash_m_sim2real_runs_the_command_and_passes_its_exit_code():
    ok = subprocess.run(
        [sys.executable, "-m", "sim2real", "robot", "show", "furuta"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "furuta" in ok.stdout + ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "sim2real", "robot", "show", "no_such_robot"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert (
        bad.stderr.strip().splitlines()[-1].startswith("sim2real: error:") and "Traceback" not in bad.stderr
    )
