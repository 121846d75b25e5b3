"""Calibration files: round trip, hash check, load_values compatibility, calibrated models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from sim2real.calibration import (
    CalibratedParam,
    Calibration,
    calibrated_model,
    load_calibration,
    save_calibration,
)
from sim2real.errors import ParameterError, SpecMismatchError
from sim2real.param_files import load_values
from sim2real.params import Parameters
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def pendulum():
    return load_robot("pendulum")


@pytest.fixture
def calib(pendulum) -> Calibration:
    return Calibration(
        robot="pendulum",
        spec_hash=pendulum.hash,
        params={
            "body.pole.mass": CalibratedParam(
                value=np.array([0.7]),
                nominal=np.array([0.6755]),
                ci_low=np.array([0.69]),
                ci_high=np.array([0.71]),
                unit="kg",
            ),
            "body.pole.com": CalibratedParam(
                value=np.array([0.0, 0.0, -0.45]),
                nominal=np.array([0.0, 0.0, -0.48]),
                ci_low=np.array([-0.01, -0.01, -0.46]),
                ci_high=np.array([0.01, 0.01, -0.44]),
                unit="m",
            ),
            "joint.hinge.armature": CalibratedParam(
                value=np.array([0.0]),
                nominal=np.array([0.0]),
                unit="kg m^2",
                identifiable=False,
                reason="only its combination with body.pole.mass is determined by the data",
            ),
            "actuator.motor.delay": CalibratedParam(
                value=np.array([0.004]),
                nominal=np.array([0.0]),
                ci_low=np.array([0.0035]),
                ci_high=np.array([0.0045]),
                unit="s",
            ),
        },
        residual_rms=0.05,
        logs=("a.csv", "b.csv"),
    )


def test_round_trip_keeps_values_intervals_and_identifiability(tmp_path, pendulum, calib):
    path = tmp_path / "calib.yaml"
    save_calibration(path, calib)
    back = load_calibration(path, pendulum)
    assert back.spec_hash == pendulum.hash and back.logs == ("a.csv", "b.csv")
    for name, p in calib.params.items():
        q = back.params[name]
        np.testing.assert_allclose(q.value, p.value)
        assert q.identifiable == p.identifiable and q.reason == p.reason
        if p.ci_low is None:
            assert q.ci_low is None and q.ci_high is None
        else:
            np.testing.assert_allclose(q.ci_low, p.ci_low)
    raw = yaml.safe_load(path.read_text())
    assert raw["params"]["joint.hinge.armature"]["identifiable"] is False


def test_params_load_values_reads_a_calibration_file(tmp_path, calib):
    path = tmp_path / "calib.yaml"
    save_calibration(path, calib)
    values = load_values(path)
    assert set(values) == set(calib.params)
    np.testing.assert_allclose(values["body.pole.com"], [0.0, 0.0, -0.45])


def test_a_calibration_of_another_robot_spec_is_refused(tmp_path, calib):
    path = tmp_path / "calib.yaml"
    save_calibration(path, calib)
    furuta = load_robot("furuta")
    with pytest.raises(SpecMismatchError, match="calibration"):
        load_calibration(path, furuta)
    with pytest.raises(SpecMismatchError):
        calibrated_model(furuta, path)


def test_a_plain_parameter_file_is_not_a_calibration(tmp_path, pendulum):
    path = tmp_path / "params.yaml"
    path.write_text("body.pole.mass: 0.7\n")
    with pytest.raises(ParameterError, match="not a calibration file"):
        load_calibration(path, pendulum)
    with pytest.raises(ParameterError, match="not found"):
        load_calibration(tmp_path / "missing.yaml", pendulum)


def test_calibrated_model_carries_the_calibrated_values(tmp_path, pendulum, calib):
    path = tmp_path / "calib.yaml"
    save_calibration(path, calib)
    model = calibrated_model(pendulum, path)
    params = Parameters(pendulum, model)
    assert params.get(model, "body.pole.mass")[0] == pytest.approx(0.7)
    np.testing.assert_allclose(params.get(model, "body.pole.com"), [0.0, 0.0, -0.45])
    assert params.get(model, "actuator.motor.delay")[0] == pytest.approx(0.004)
    nominal = calibrated_model(pendulum, None)
    assert Parameters(pendulum, nominal).get(nominal, "body.pole.mass")[0] == pytest.approx(0.6755)


def test_identification_result_becomes_a_loadable_calibration(tmp_path, pendulum, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "sysid"))  # its synthetic-log helper
    from sysid_testdata import synthetic_log

    from sim2real.sysid import identify

    true = {"joint.hinge.damping": 0.25, "body.pole.mass": 0.7}
    result = identify(pendulum, [synthetic_log("pendulum", true, seconds=3.0)], list(true))
    path = tmp_path / "calib.yaml"
    save_calibration(path, result.calibration())
    back = load_calibration(path, pendulum)
    assert back.params["joint.hinge.damping"].value[0] == pytest.approx(0.25, rel=0.05)
    assert back.params["body.pole.mass"].ci_low[0] < 0.7 * 1.05
    summary = result.summary()
    assert {"params", "residual_rms", "seconds"} <= set(summary)
    assert set(summary["params"]["body.pole.mass"]) >= {"value", "ci_low", "ci_high", "nominal"}


class TestDoorChecks:
    """A calibration is matched on robot name and spec hash, and its values on the plausible bounds."""

    def test_a_renamed_robot_with_the_right_hash_is_refused_naming_both(self, tmp_path, calib, pendulum):
        import dataclasses

        path = tmp_path / "calib.yaml"
        save_calibration(path, dataclasses.replace(calib, robot="furuta"))
        with pytest.raises(SpecMismatchError) as info:
            load_calibration(path, pendulum)
        message = str(info.value)
        assert "'furuta'" in message and "'pendulum'" in message and pendulum.hash[:12] in message
        assert len(message) < 250 and "\n" not in message

    def test_values_outside_the_bounds_are_refused_unless_allowed(self, tmp_path, calib, pendulum):
        import dataclasses

        heavy = dict(calib.params)
        heavy["body.pole.mass"] = dataclasses.replace(heavy["body.pole.mass"], value=np.array([5.0]))
        path = tmp_path / "calib.yaml"
        save_calibration(path, dataclasses.replace(calib, params=heavy))
        with pytest.raises(
            ParameterError, match=r"calib.yaml: body.pole.mass value 5 kg is outside .*--allow-out-of-bounds"
        ):
            load_calibration(path, pendulum)
        with pytest.raises(ParameterError, match="--allow-out-of-bounds"):
            calibrated_model(pendulum, path)
        assert (
            load_calibration(path, pendulum, allow_out_of_bounds=True).params["body.pole.mass"].value[0]
            == 5.0
        )
        model = calibrated_model(pendulum, path, allow_out_of_bounds=True)
        assert Parameters(pendulum, model).get(model, "body.pole.mass")[0] == pytest.approx(5.0)

    @pytest.mark.parametrize("extra", ["", ", ci_low: 0.1"])
    def test_a_null_value_is_one_line_with_or_without_an_interval(self, tmp_path, calib, extra):
        """With an interval beside it, ``value: null`` ended in an AttributeError traceback."""
        path = tmp_path / "calib.yaml"
        save_calibration(path, calib)
        raw = yaml.safe_load(path.read_text())
        raw["params"]["body.pole.mass"] = yaml.safe_load("{value: null" + extra + "}")
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(ParameterError, match=r"params.body.pole.mass.value: give a number or a list of numbers"):
            load_calibration(path)
