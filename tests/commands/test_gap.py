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


def test_the_pooled_rmse_of_a_cart_and_its_pole_is_in_both_units(tmp_path, capsys):
    """Gymnasium's inverted double pendulum: 'position RMSE 3.8657 rad' over a cart [m] and its
    poles [rad]; each joint's own line had its unit."""
    (tmp_path / "cart.xml").write_text(
        "<mujoco><worldbody><body name='cart'><joint name='slider' type='slide' axis='1 0 0' range='-1 1'/>"
        "<geom type='box' size='0.1 0.1 0.1' mass='1'/><body name='pole'><joint name='hinge' axis='0 1 0'/>"
        "<geom type='capsule' fromto='0 0 0 0 0 0.5' size='0.02' mass='0.1'/></body></body></worldbody>"
        "<actuator><motor joint='slider' gear='50' ctrlrange='-1 1'/></actuator></mujoco>"
    )
    spec = tmp_path / "robot.yaml"
    assert main(["robot", "init", str(tmp_path / "cart.xml"), "--out", str(spec)]) == 0
    t = 0.02 * np.arange(100)
    rows = "\n".join(f"{a:.3f},{0.1 * np.sin(a):.6f},{3.0 + 0.2 * np.sin(3 * a):.6f},0.0" for a in t)
    log = tmp_path / "cart.csv"
    log.write_text("time,x,theta,force\n" + rows + "\n")
    (tmp_path / "map.yaml").write_text(
        "time: time\nposition: {slider: x, hinge: theta}\ncommand: {slider: force}\n"
    )
    capsys.readouterr()
    assert main(["gap", str(log), "--robot", str(spec), "--csv-map", str(tmp_path / "map.yaml")]) == 0
    out = capsys.readouterr().out
    assert "position RMSE" in out and " rad and m, velocity RMSE " in out and " rad/s and m/s (" in out
    assert "slider       position" in out and " m   velocity" in out
