"""The collision observer models the robot the policy was trained on: the calibration its metadata
carries (train --calib), not the nominal model; the thresholds stay the nominal spec's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mujoco
import numpy as np
import pytest
from deploy_testdata import QUIET

from sim2real.cli import main
from sim2real.deploy.collision import CollisionDetector
from sim2real.deploy.collision_model import ObserverModel
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.speed import SpeedConfig
from sim2real.errors import PolicyError
from sim2real.policy.linear import write_linear_policy
from sim2real.policy.metadata import read_metadata, stamp_metadata
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot

CALIBRATED = {"body.pole.mass": 1.2 * 0.6755, "joint.hinge.damping": 0.6}
"""The pendulum as calibrated: a pole 20 % heavier than nominal, damping 0.6 N m s/rad (nominal 0.35)."""


@pytest.fixture(scope="module")
def pendulum():
    return load_robot("pendulum")


def _pump_policy(spec, path: Path, calibration: dict | None) -> Path:
    """A linear policy pumping energy into the pendulum (torque along its velocity, saturated), its
    metadata carrying ``calibration`` as export writes a ``train --calib`` run's record."""
    gain = np.zeros((1, spec.n_obs))
    gain[0, 2] = 100.0  # the joint_vel entry
    write_linear_policy(spec, path, gain)
    if calibration is not None:
        import onnx

        meta = dataclasses.replace(read_metadata(path), training={"calibration": calibration})
        path.write_bytes(stamp_metadata(onnx.load(path), meta))
    return path


def _record(values: dict, spec_hash: str | None = None) -> dict:
    return {
        "spec_hash": spec_hash if spec_hash is not None else load_robot("pendulum").hash,
        "path": "/lab/calib.yaml",
        "created": "2026-12-01T10:00:00+00:00",
        "values": {k: [v] for k, v in values.items()},
    }


def _swing(spec, policy: Path, ticks: int):
    """``ticks`` of the policy on the quiet twin of the calibrated pendulum, at full speed; the loop."""
    robot = TwinRobot(spec, TwinConfig(params=CALIBRATED, effects=QUIET))
    robot.reset(np.array([0.3]), np.zeros(1))
    loop = ControlLoop(
        robot,
        PolicyRunner(policy, spec, providers="cpu"),
        config=LoopConfig(mode="lockstep", speed=SpeedConfig(start_stage=4), episode_return=False),
    )
    with loop:
        loop.run(max_ticks=ticks)
    return loop


class TestObservedModel:
    def test_a_policy_trained_on_the_calibration_swings_the_calibrated_robot_without_a_false_alarm(
        self, pendulum, tmp_path
    ):
        nominal = _swing(pendulum, _pump_policy(pendulum, tmp_path / "nominal.onnx", None), 300)
        calibrated = _swing(
            pendulum, _pump_policy(pendulum, tmp_path / "calib.onnx", _record(CALIBRATED)), 300
        )
        # the nominal observer reads the heavier, more damped pole as an external torque
        assert nominal.monitor.counters["collision"] > 0
        assert nominal.monitor.collision.peak > 1.0
        det = calibrated.monitor.collision
        assert calibrated.monitor.counters["collision"] == 0
        assert calibrated.state == "ok"
        assert det.peak < 0.05  # the quiet twin is the calibrated model: nothing left unexplained
        np.testing.assert_array_equal(det.thresholds, nominal.monitor.collision.thresholds)

    def test_a_push_on_the_calibrated_robot_is_still_detected(self, pendulum):
        """A torque at 1.5 x the threshold on the calibrated robot at rest: the calibrated observer sees it."""
        observed = ObserverModel({k: np.atleast_1d(v) for k, v in CALIBRATED.items()}, "calibration")
        det = CollisionDetector(pendulum, observed=observed)
        robot = TwinRobot(pendulum, TwinConfig(params=CALIBRATED, effects=QUIET))
        robot.reset(np.array([0.5]), np.zeros(1))
        push = 1.5 * float(det.thresholds[0])
        command = np.zeros(1)
        fired = []
        for k in range(60):
            if k == 30:
                robot.data.qfrc_applied[robot.model.joint("hinge").dofadr[0]] = push
            robot.write(Command(t=robot.now(), values=command))
            reading = robot.read()
            fired.append(bool(det.check(reading, reading.t, command)))
        assert not any(fired[:30])
        assert any(fired[30:])

    def test_the_model_is_the_policys_and_said_on_the_startup_line(self, pendulum, tmp_path):
        policy = PolicyRunner(
            _pump_policy(pendulum, tmp_path / "c.onnx", _record(CALIBRATED)), pendulum, providers="cpu"
        )
        observed = ObserverModel.of_policy(policy, pendulum)
        assert set(observed.values) == set(CALIBRATED)
        assert "calib.yaml" in observed.describe()
        det = CollisionDetector(pendulum, observed=observed)
        model = det.observer.model
        assert model.body("pole").mass[0] == pytest.approx(CALIBRATED["body.pole.mass"])
        assert model.dof_damping[model.joint("hinge").dofadr[0]] == pytest.approx(0.6)
        plain = PolicyRunner(_pump_policy(pendulum, tmp_path / "n.onnx", None), pendulum, providers="cpu")
        assert ObserverModel.of_policy(plain, pendulum).describe() == "the nominal model"

    def test_a_record_of_another_robot_out_of_bounds_or_naming_what_the_model_lacks_is_refused(self, pendulum, tmp_path):
        """A hand-made record (all-zero spec hash, strength 0.05, a quadruped's thigh mass) was taken
        as it came, and the deploy line counted it as the calibrated model."""
        from sim2real.errors import ParameterError, SpecMismatchError

        def observed(record):
            path = _pump_policy(pendulum, tmp_path / "p.onnx", record)
            return ObserverModel.of_policy(PolicyRunner(path, pendulum, providers="cpu"), pendulum)

        with pytest.raises(SpecMismatchError, match="was made for robot spec 000000000000"):
            observed(_record(CALIBRATED, "0" * 64))
        with pytest.raises(ParameterError, match=r"actuator\.motor\.strength"):
            observed(_record({"actuator.motor.strength": 0.05}))
        with pytest.raises(ParameterError):
            CollisionDetector(pendulum, observed=ObserverModel({"body.FL_thigh.mass": np.array([1.0])}, "calibration"))

    def test_a_calibrated_drive_cannot_hide_a_push_it_resists(self, pendulum):
        """Without a torque reading the observer implies the torque from the command: a calibrated
        strength of 0.5 (inside its bounds) scaled what it saw, and a 1.5 x threshold push never
        fired.  It implies torques with the spec's drives."""
        observed = ObserverModel({"actuator.motor.strength": np.array([0.5])}, "calibration")
        det = CollisionDetector(pendulum, observed=observed)
        nominal = CollisionDetector(pendulum)
        assert observed.describe() == "the nominal model"
        np.testing.assert_array_equal(det.observer.model.actuator_gainprm, nominal.observer.model.actuator_gainprm)
        np.testing.assert_array_equal(det.observer._actuation.strength, nominal.observer._actuation.strength)

    def test_sensor_and_delay_values_are_left_out(self, pendulum):
        observed = ObserverModel(
            {"sensor.hinge_pos.bias": np.array([0.1]), "actuator.motor.delay": np.array([0.01])},
            "calibration",
        )
        det = CollisionDetector(pendulum, observed=observed)
        nominal = CollisionDetector(pendulum)
        assert mujoco.mj_sizeModel(det.observer.model) == mujoco.mj_sizeModel(nominal.observer.model)
        np.testing.assert_array_equal(
            det.observer.model.actuator_delay, nominal.observer.model.actuator_delay
        )


class TestMetadata:
    def test_a_malformed_calibration_record_is_refused_at_load(self, pendulum, tmp_path):
        path = _pump_policy(
            pendulum, tmp_path / "bad.onnx", {"path": "x", "values": {"body.pole.mass": "heavy"}}
        )
        with pytest.raises(PolicyError, match=r"training\.calibration values of body\.pole\.mass"):
            read_metadata(path)

    def test_the_deploy_startup_line_names_the_observers_model(self, pendulum, tmp_path, capsys, monkeypatch):
        policy = _pump_policy(pendulum, tmp_path / "c.onnx", _record(CALIBRATED))
        calls = []
        of_policy = ObserverModel.of_policy.__func__

        def counted(cls, policy, spec):
            calls.append(spec.name)
            return of_policy(cls, policy, spec)

        monkeypatch.setattr(ObserverModel, "of_policy", classmethod(counted))
        twin = tmp_path / "twin.yaml"
        twin.write_text("params:\n  body.pole.mass: 0.8106\n")
        code = main(
            ["deploy", "--robot", "pendulum", "--policy", str(policy), "--twin", str(twin),
             "--seconds", "0.05", "--out", str(tmp_path / "log")]
        )  # fmt: skip
        assert code == 0
        out = capsys.readouterr().out
        assert (
            "collision observer on the calibrated model the policy was trained on (calibration calib.yaml"
            in out
        )
        # the calibration is checked (and the model compiled for it) once per run: the line's and the monitor's
        assert calls == ["pendulum"]


def test_sim2sim_simulates_the_robot_the_policy_was_trained_on(pendulum, tmp_path, monkeypatch):
    """sim2sim ran the nominal pendulum under a calibrated policy, while the loop's observer predicts
    with the calibration: the difference read as a collision.  Now the simulator is the calibrated
    robot, as the observer, and says so."""
    import sim2real.gap.sim2sim as sim2sim

    built = []
    real_twin = sim2sim.TwinRobot
    monkeypatch.setattr(sim2sim, "TwinRobot", lambda spec, config: built.append(config) or real_twin(spec, config))
    policy = _pump_policy(pendulum, tmp_path / "calibrated.onnx", _record(CALIBRATED))
    out = sim2sim.run_sim2sim(pendulum, policy, seconds=0.5)
    assert out["simulator"]["parameters"].startswith("2 set") and not out["safety"]["latched"]
    assert {k: float(v[0]) for k, v in built[-1].params.items()} == pytest.approx(CALIBRATED)
    out = sim2sim.run_sim2sim(pendulum, _pump_policy(pendulum, tmp_path / "nominal.onnx", None), seconds=0.5)
    assert out["simulator"]["parameters"] == "nominal" and dict(built[-1].params) == {}
