"""``sim2real gap`` on logs that record no policy: no task, so no failure analysis."""

from __future__ import annotations

import json

import numpy as np

from sim2real.cli import main


def test_a_csv_log_without_a_policy_gets_no_failed_episodes(tmp_path, capsys):
    # 2 s of a pendulum swinging with no torque logged: the replay parts from it, but the log
    # records no policy, so there is no task whose success rule it could miss
    t = 0.005 * np.arange(400)
    q, qd = 0.8 * np.sin(4.0 * t), 3.2 * np.cos(4.0 * t)
    rows = "\n".join(f"{a:.3f},{b:.6f},{c:.6f},0.0" for a, b, c in zip(t, q, qd, strict=True))
    log = tmp_path / "swing.csv"
    log.write_text("time,position,velocity,torque\n" + rows + "\n")
    code = main(["gap", str(log), "--robot", "pendulum", "--csv-map", "pendulum"])
    out, err = capsys.readouterr()
    assert code == 0 and "error passes 0.1 rad" in out  # it diverged
    assert "failed episode" not in out + err and "success rule" not in out + err
    assert main(["gap", str(log), "--robot", "pendulum", "--csv-map", "pendulum", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["failures"] == []
