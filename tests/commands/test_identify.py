"""`sim2real identify`: what the logs do not determine is held at nominal, never at a bound."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import yaml

from sim2real.cli import main
from sim2real.logs.bag import write_bag
from sim2real.robots import load_robot
from sim2real.sysid.synthetic import excitation_commands, simulate_log


def test_a_parameter_that_ran_to_its_bound_is_held_at_nominal_and_the_others_refitted(tmp_path, capsys):
    # one second of chirp + PRBS excitation read by encoders 0.3 rad off (an uncalibrated zero): no
    # physical parameter explains the offset, and the fit runs the Coulomb friction to its upper
    # bound (0.5 N m) while the pole mass stays determined
    spec = load_robot("pendulum")
    t = spec.control_dt * np.arange(round(1.0 / spec.control_dt))
    u = excitation_commands(spec, t, 3.0, seed=1)
    u[t < 0.1] = 0.0
    log = simulate_log(
        spec, {"joint.hinge.damping": 0.35}, u, seed=101, position_noise=5e-4, velocity_noise=0.01
    )
    bag = tmp_path / "offset"
    write_bag(bag, dataclasses.replace(log, q=log.q + 0.3))
    out = tmp_path / "calib.yaml"
    assert main(["identify", str(bag), "--robot", "pendulum", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    friction = summary["params"]["joint.hinge.frictionloss"]
    assert friction["value"] is None and "held at its nominal value" in friction["reason"]
    assert friction["held_at"] == pytest.approx(friction["nominal"])
    assert summary["params"]["body.pole.mass"]["identifiable"] is True  # refitted without it
    written = yaml.safe_load(out.read_text())["params"]["joint.hinge.frictionloss"]
    assert written["identifiable"] is False and written["value"] == pytest.approx(0.0)  # nominal, not 0.5
