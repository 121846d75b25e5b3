"""Training on a calibrated model: `sim2real train --calib`, its checkpoint record, resume and export."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sim2real.cli import main
from sim2real.errors import SpecMismatchError
from sim2real.params import Parameters
from sim2real.pipeline.training import calibrated_setup
from sim2real.robots import load_robot
from sim2real.sysid import CalibratedParam, Calibration, save_calibration
from sim2real.train.checkpoint import load_checkpoint, load_policy
from sim2real.train.config import default_config
from sim2real.train.runner import Trainer, make_trainer

TRUE_MASS = 0.028
"""Calibrated pendulum mass [kg] (nominal 0.024)."""


def _tiny():
    return dataclasses.replace(
        default_config("furuta"),
        num_envs=16,
        steps_per_env=16,
        hidden=(32, 32),
        critic_hidden=(32, 32),
        eval_every=0,
    )


def _calibration(spec_hash: str) -> Calibration:
    def p(v, lo, hi, nom):
        return CalibratedParam(np.array([v]), np.array([nom]), np.array([lo]), np.array([hi]))

    return Calibration(
        "furuta",
        spec_hash,
        {
            "body.pendulum.mass": p(TRUE_MASS, 0.0278, 0.0282, 0.024),
            "motor.motor.resistance": p(9.5, 9.4, 9.6, 8.4),
        },
    )


@pytest.fixture(scope="module")
def furuta():
    return load_robot("furuta")


@pytest.fixture(scope="module")
def calib_file(furuta, tmp_path_factory):
    path = tmp_path_factory.mktemp("calib") / "calib.yaml"
    save_calibration(path, _calibration(furuta.hash))
    return path


@pytest.fixture(scope="module")
def calibrated_run(furuta, calib_file, tmp_path_factory):
    run = tmp_path_factory.mktemp("run_calib")
    model, rnd, record = calibrated_setup(furuta, calib_file, 2.0, "default")
    trainer = make_trainer(furuta, run, 0, rnd, config=_tiny(), nthread=1, model=model, calibration=record)
    trainer.iterate()
    trainer.save(run / "policy.pt")
    trainer.close()
    return run, trainer


class TestCalibratedTraining:
    def test_simulates_the_calibrated_model(self, calibrated_run, furuta):
        _, trainer = calibrated_run
        params = Parameters(furuta, trainer.env.sim.model)
        assert params.get(trainer.env.sim.model, "body.pendulum.mass")[0] == pytest.approx(TRUE_MASS)

    def test_randomization_is_centred_on_the_calibration_over_the_base(self, calibrated_run):
        _, trainer = calibrated_run
        rows = {r["param"]: r for r in trainer.randomization.summary["parameters"]}
        low, high = rows["body.pendulum.mass"]["range"]
        assert low < TRUE_MASS < high and (low + high) / 2 == pytest.approx(TRUE_MASS, rel=0.02)
        assert "sensor.arm_vel.noise" in rows  # from the base config 'default'

    def test_checkpoint_records_the_calibration(self, calibrated_run, calib_file, furuta):
        run, _ = calibrated_run
        meta = load_checkpoint(run)["metadata"]
        cal = meta["calibration"]
        assert cal["path"] == str(calib_file.resolve()) and cal["spec_hash"] == furuta.hash
        assert cal["values"]["body.pendulum.mass"] == [pytest.approx(TRUE_MASS)]
        assert meta["randomization"]["calibration"]["widen"] == 2.0
        assert meta["randomization"]["config"]["physics"]

    def test_export_carries_it_in_the_randomization_summary(self, calibrated_run, furuta, tmp_path):
        from sim2real.policy.export import export_policy

        run, _ = calibrated_run
        policy, meta = load_policy(run)
        result = export_policy(
            policy, furuta, tmp_path / "p.onnx", metadata=meta, n_random=100, n_recorded=50
        )
        assert result.metadata.randomization["calibration"]["spec_hash"] == furuta.hash

    def test_resume_rebuilds_the_calibrated_model_and_randomization(self, calibrated_run, furuta):
        run, trainer = calibrated_run
        resumed = Trainer.resume(run, nthread=1)
        model = resumed.env.sim.model
        assert Parameters(furuta, model).get(model, "body.pendulum.mass")[0] == pytest.approx(TRUE_MASS)
        assert resumed.randomization.summary["parameters"] == trainer.randomization.summary["parameters"]
        resumed.close()


class TestCommand:
    def test_train_calib_writes_a_calibrated_run(self, calib_file, tmp_path, capsys):
        code = main(
            ["train", "--robot", "furuta", "--out", str(tmp_path / "r"), "--calib", str(calib_file),
             "--steps", "1", "--envs", "16", "--eval-episodes", "0", "--json"]
        )  # fmt: skip
        assert code == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["calib"] == str(calib_file)
        assert load_checkpoint(tmp_path / "r")["metadata"]["calibration"]["values"]

    def test_calibration_of_another_spec_is_one_clear_error(self, tmp_path, capsys):
        path = tmp_path / "other.yaml"
        save_calibration(path, _calibration("f" * 64))
        code = main(["train", "--robot", "furuta", "--out", str(tmp_path / "r"), "--calib", str(path)])
        assert code == 1
        err = capsys.readouterr().err
        assert "ffffffffffff" in err and "Traceback" not in err

    def test_setup_refuses_another_spec(self, furuta):
        with pytest.raises(SpecMismatchError):
            calibrated_setup(furuta, _calibration("0" * 64))


def test_evaluate_uses_the_calibrated_model_of_a_calib_run(calibrated_run, furuta, capsys):
    from sim2real.train.checkpoint import run_model

    run, _ = calibrated_run
    model = run_model(furuta, load_checkpoint(run)["metadata"])
    assert Parameters(furuta, model).get(model, "body.pendulum.mass")[0] == pytest.approx(TRUE_MASS)
    assert main(["evaluate", str(run), "--episodes", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["calibrated"] is True
