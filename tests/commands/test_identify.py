"""`sim2real identify`: what the logs do not determine is held at nominal, never at a bound."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sim2real.cli import main


def test_a_parameter_that_ran_to_its_bound_is_held_at_nominal_and_the_others_refitted(tmp_path, capsys):
    # a pendulum logged motionless 0.1 rad off its rest position with no torque: no physical
    # parameter explains it, so the fit runs the dampings to their bounds
    t = np.arange(0.0, 0.6, 0.005)
    log = tmp_path / "still.csv"
    log.write_text("time,position,velocity,torque\n" + "\n".join(f"{x:.3f},0.1,0.0,0.0" for x in t) + "\n")
    out = tmp_path / "calib.yaml"
    assert (
        main(
            [
                "identify",
                str(log),
                "--robot",
                "pendulum",
                "--csv-map",
                "pendulum",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    damping = summary["params"]["joint.hinge.damping"]
    assert damping["value"] is None and "held at its nominal value" in damping["reason"]
    assert damping["held_at"] == pytest.approx(damping["nominal"])
    written = yaml.safe_load(out.read_text())["params"]["joint.hinge.damping"]
    assert written["identifiable"] is False and written["value"] == pytest.approx(
        0.35
    )  # nominal, not a bound
