"""Actuator networks from logs: samples, groups, fitting, export, evaluation, the CLI, and the
acceptance of issue 17 on the Go2-class twin (legs in the air, backlash, saturation, Stribeck)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim2real.cli import main
from sim2real.errors import LogError, Sim2RealError
from sim2real.logs import Trajectory
from sim2real.robots import load_robot
from sim2real.sim.net_actuator import METADATA_KEYS, ActuatorNet, NetDrives
from sim2real.sysid.actuator_data import drive_torque, evaluate_net, fit_ridge, torque_samples
from sim2real.sysid.actuator_fit import (
    NetFitConfig,
    default_groups,
    fit_actuator_net,
    groups_with_efforts,
    regex_groups,
)

DT = 0.02
KP, KD, PLAY = 25.0, 0.5, 0.004


def drive_log(spec, seconds: float, seed: int, steps: bool = False) -> Trajectory:
    """A synthetic log of the quadruped's drives: a PD with a dead band of PLAY (backlash), the
    command sent right after each reading (so each reading sees the previous command)."""
    rng = np.random.default_rng(seed)
    n, m = int(seconds / DT), spec.n_actions
    t = DT * np.arange(n)
    if steps:  # PRBS-like: targets held for 5 samples
        cmd = spec.default_pose + 0.3 * np.repeat(rng.choice([-1.0, 1.0], (n // 5 + 1, m)), 5, axis=0)[:n]
    else:  # smooth sweep
        phase = 2 * np.pi * (0.3 * t + 0.04 * t**2)[:, None] + rng.uniform(0, 2 * np.pi, m)
        cmd = spec.default_pose + 0.3 * np.sin(phase)
    q = spec.default_pose + 0.25 * np.sin(2 * np.pi * (0.3 * t + 0.04 * t**2)[:, None] - 0.4 + rng.uniform(0, 6, m))
    q += 0.05 * rng.standard_normal((n, m))
    qd = rng.uniform(-5, 5, (n, m))
    error = np.vstack([np.zeros((1, m)), cmd[:-1] - q[1:]])  # previous command
    band = np.sign(error) * np.maximum(np.abs(error) - PLAY / 2, 0.0)
    tau = KP * band - KD * qd + 0.005 * rng.standard_normal((n, m))
    return Trajectory(
        spec_hash=spec.hash,
        joint_names=spec.joints,
        t=t,
        q=q,
        qd=qd,
        tau=tau,
        command_t=t,
        command=cmd,
        meta={"source": f"synthetic-{seed}"},
    )


@pytest.fixture(scope="module")
def spec():
    return load_robot("quadruped")


class TestSamples:
    def test_each_reading_sees_the_command_sent_before_it_and_its_history_dt_apart(self, spec):
        log = drive_log(spec, 2.0, 0)
        s = torque_samples(spec, [log], history=3)
        assert s.dt == pytest.approx(DT) and s.history == 3
        k = 10
        row = int(np.flatnonzero(np.isclose(s.t, log.t[k]))[0])
        j = 4
        for i in range(3):
            expected = log.command[k - i - 1, j] - log.q[k - i, j]
            assert s.x[row, j, 0, i] == pytest.approx(expected)
            assert s.x[row, j, 1, i] == pytest.approx(log.qd[k - i, j])
        assert s.t[0] >= log.t[0] + 2 * DT  # the history reaches into the log

    def test_a_current_column_times_the_torque_constant(self, spec):
        log = drive_log(spec, 1.0, 0)
        a = torque_samples(spec, [log], history=1)
        b = torque_samples(spec, [log], history=1, torque_constant=2.0)
        np.testing.assert_allclose(b.tau, 2.0 * a.tau)

    def test_a_log_without_effort_is_one_clear_error(self, spec):
        log = drive_log(spec, 1.0, 0)
        import dataclasses

        with pytest.raises(LogError, match="no measured effort"):
            torque_samples(spec, [dataclasses.replace(log, tau=None)])

    def test_the_drive_model_reads_the_command_its_delay_ago(self, spec):
        from sim2real.robots.model import build_model
        from sim2real.sysid.actuator_data import drive_model

        log = drive_log(spec, 1.0, 0)
        s = torque_samples(spec, [log], history=1)
        drive = drive_model(spec, build_model(spec), spec.actuated_joints)
        late = drive_model(spec, build_model(spec), spec.actuated_joints)
        object.__setattr__(late, "delay", np.full(spec.n_actions, 1.5 * DT))
        now, before = drive_torque(s, [log], drive), drive_torque(s, [log], late)
        k = np.flatnonzero(np.isclose(s.t, log.t[20]))[0]
        assert now[k, 0] == pytest.approx(KP * (log.command[19, 0] - log.q[20, 0]) - KD * log.qd[20, 0])
        assert before[k, 0] == pytest.approx(KP * (log.command[18, 0] - log.q[20, 0]) - KD * log.qd[20, 0])

    def test_the_ridge_model_of_a_position_drive_regresses_on_its_error(self, spec):
        s = torque_samples(spec, [drive_log(spec, 6.0, 0)], history=1)
        models = fit_ridge(s)
        assert models["FL_hip"].a == pytest.approx(KP, rel=0.05)
        assert models["FL_hip"].b == pytest.approx(-KD, rel=0.05)


def without_effort(log: Trajectory, joint: str) -> Trajectory:
    """``log`` whose ``joint`` has no measured effort (a drive without a torque sensor)."""
    import dataclasses

    partial = log.tau.copy()
    partial[:, log.joint_index(joint)] = np.nan
    return dataclasses.replace(log, tau=None, tau_partial=partial)


class TestPartialEffort:
    def test_a_joint_without_effort_is_left_out_of_the_fit_and_said(self, spec, caplog):
        # before: torque_samples refused the log ('no measured effort'), nothing fitted; the fit's
        # export costs seconds, so its groups are checked (fit_actuator_net fits what this leaves)
        logs = [drive_log(spec, 1.0, 0), without_effort(drive_log(spec, 1.0, 1), "FL_calf")]
        groups = {"hips": ("FL_hip", "RR_hip"), "calves": ("FL_calf",)}
        assert groups_with_efforts(logs, groups) == {"hips": ("FL_hip", "RR_hip")}
        assert "no measured effort of FL_calf in synthetic-1: left out" in caplog.text
        samples = torque_samples(spec, logs, joints=("FL_hip", "RR_hip"))
        mine = samples.tau[samples.log == 1]
        np.testing.assert_array_equal(mine, logs[1].tau_partial[-len(mine) :, [0, 9]])

    def test_a_joint_without_effort_is_left_out_of_the_evaluation(self, fitted, spec):
        _, path = fitted
        figures = evaluate_net(spec, ActuatorNet(path), [without_effort(drive_log(spec, 2.0, 1), "RR_hip")])
        assert set(figures["net_torque_rmse"]) == set(spec.actuated_joints) - {"RR_hip"} | {"overall"}

    def test_the_motor_models_of_the_other_joints_are_fitted(self, spec):
        from sim2real.sysid.motor import fit_motor_models

        models = fit_motor_models(spec, [without_effort(drive_log(spec, 4.0, 0), "FL_hip")])
        assert set(models) == set(spec.actuated_joints) - {"FL_hip"}

    def test_no_joint_with_effort_is_one_error(self, spec):
        log = drive_log(spec, 1.0, 0)
        with pytest.raises(LogError, match="no measured effort of FL_hip: a drive's torque"):
            fit_actuator_net(spec, [without_effort(log, "FL_hip")], "x.onnx", groups={"g": ("FL_hip",)})


class TestGroups:
    def test_by_default_joints_of_one_drive_model_and_torque_limit_share_a_network(self, spec):
        groups = default_groups(spec)
        assert len(groups) == 2
        assert sorted(groups.values(), key=len)[0] == ("FL_calf", "FR_calf", "RL_calf", "RR_calf")

    def test_regular_expressions_group_joints(self, spec):
        groups = regex_groups(spec, [r".*_hip", r".*_(thigh|calf)"])
        assert groups["g0"] == ("FL_hip", "FR_hip", "RL_hip", "RR_hip")
        with pytest.raises(Sim2RealError, match="in none"):
            regex_groups(spec, [r".*_hip"])
        with pytest.raises(Sim2RealError, match="in several"):
            regex_groups(spec, [r".*", r".*_hip"])
        with pytest.raises(Sim2RealError, match="matches no actuated joint"):
            regex_groups(spec, [r"elbow", r".*"])


@pytest.fixture(scope="module")
def fitted(spec, tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "drive.onnx"
    logs = [drive_log(spec, 40.0, 0)]
    result = fit_actuator_net(spec, logs, path, config=NetFitConfig(epochs=40, seed=0))
    return result, path


class TestFit:
    def test_the_network_beats_the_pd_model_on_held_out_samples(self, fitted):
        result, _ = fitted
        # the dead band costs the PD model kp * play / 2 = 0.05 N m on every loaded sample
        assert result.pd_torque_rmse["overall"] > 0.04
        assert result.net_torque_rmse["overall"] < 0.5 * result.pd_torque_rmse["overall"]
        assert set(result.net_torque_rmse) == {*load_robot("quadruped").actuated_joints, "overall"}

    def test_the_file_runs_in_onnxruntime_with_its_metadata(self, fitted, spec):
        _, path = fitted
        net = ActuatorNet(path)
        props = net.session.get_modelmeta().custom_metadata_map
        assert set(METADATA_KEYS) <= set(props)
        assert net.meta.history == 3 and net.meta.dt == pytest.approx(DT)
        assert net.meta.spec_hash == spec.hash and net.meta.inputs == ("position_error", "velocity")
        assert set(net.meta.joints) == set(spec.actuated_joints)
        # the simulator's batched evaluation gives the torques the fit scored
        drives = NetDrives(net, list(spec.actuated_joints), ["pd"] * 12, DT / 4, 3)
        assert drives.spacing == 4
        drives.reset(np.arange(3), np.zeros((3, 12, 2)))
        assert np.isfinite(drives.torque(np.arange(3), np.zeros((3, 12, 2)))).all()

    def test_the_file_records_the_range_of_its_training_inputs(self, fitted, spec):
        _, path = fitted
        ranges = ActuatorNet(path).meta.extra["input_range"]
        assert set(ranges) == set(ActuatorNet(path).meta.groups)
        for group in ranges.values():
            assert set(group) == {"position_error", "velocity"}
            for lo, hi in group.values():
                assert lo < 0.0 < hi  # a chirp about the default pose swings both ways

    def test_evaluation_on_another_log_reports_the_three_models(self, fitted, spec):
        _, path = fitted
        figures = evaluate_net(spec, ActuatorNet(path), [drive_log(spec, 10.0, 1, steps=True)])
        for key in ("net_torque_rmse", "pd_torque_rmse", "ridge_torque_rmse"):
            assert set(figures[key]) == {*spec.actuated_joints, "overall"}
        assert figures["net_torque_rmse"]["overall"] < 0.5 * figures["pd_torque_rmse"]["overall"]

    def test_a_gru_fits_and_steps_in_the_simulator(self, spec, tmp_path):
        path = tmp_path / "gru.onnx"
        result = fit_actuator_net(
            spec, [drive_log(spec, 5.0, 0)], path, config=NetFitConfig(kind="gru", epochs=3, seed=0)
        )
        net = ActuatorNet(path)
        assert net.meta.kind == "gru" and net.meta.hidden > 0
        assert np.isfinite(result.net_torque_rmse["overall"])
        drives = NetDrives(net, list(spec.actuated_joints), ["pd"] * 12, DT / 4, 2)
        drives.reset(np.arange(2), np.zeros((2, 12, 2)))
        assert drives.torque(np.arange(2), np.ones((2, 12, 2))).shape == (2, 12)

    def test_seeded_fits_are_identical(self, spec, tmp_path):
        logs = [drive_log(spec, 10.0, 0)]
        cfg = NetFitConfig(epochs=2, seed=3)
        a = fit_actuator_net(spec, logs, tmp_path / "a.onnx", config=cfg)
        b = fit_actuator_net(spec, logs, tmp_path / "b.onnx", config=cfg)
        assert a.net_torque_rmse == b.net_torque_rmse


@pytest.fixture(scope="module")
def hung_log(tmp_path_factory):
    from sim2real.bench.scenarios import record_scenario

    folder = tmp_path_factory.mktemp("hung")
    record_scenario("quadruped_actuator", folder / "log", seconds=8.0)
    return folder / "log"


class TestCommand:
    def test_fit_then_eval_through_the_cli(self, hung_log, tmp_path, capsys):
        out = tmp_path / "a.onnx"
        args = ["actuator", "fit", str(hung_log), "--robot", "quadruped", "--out", str(out), "--epochs", "5"]
        assert main([*args, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["out"] == str(out) and len(summary["groups"]) == 2
        args = ["actuator", "eval", str(hung_log), "--robot", "quadruped", "--net", str(out), "--json"]
        assert main(args) == 0
        figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert {"net_torque_rmse", "pd_torque_rmse", "ridge_torque_rmse"} <= set(figures)
        assert "FL_calf" in figures["pd_torque_rmse"]

    def test_bad_input_is_one_line_and_an_exit_code(self, hung_log, tmp_path, capsys):
        assert main(["actuator", "fit", str(hung_log), "--robot", "quadruped"]) == 1
        assert "writes --out" in capsys.readouterr().err
        args = ["actuator", "eval", str(hung_log), "--robot", "quadruped", "--net", str(tmp_path / "none.onnx")]
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "not found" in err and "Traceback" not in err
        args = ["actuator", "fit", str(hung_log), "--robot", "quadruped", "--out", "x.onnx", "--group", "("]
        assert main(args) == 1
        assert "not a regular expression" in capsys.readouterr().err

    def test_a_log_whose_effort_is_its_command_column_is_refused(self, tmp_path, capsys):
        # the DFKI pendulum's map reads 'torque' as both effort and command: no measured torque
        t = 0.005 * np.arange(200)
        rows = "\n".join(f"{a:.3f},{0.1 * np.sin(a):.5f},{0.1 * np.cos(a):.5f},{np.sin(3 * a):.5f}" for a in t)
        log = tmp_path / "pend.csv"
        log.write_text("time,position,velocity,torque\n" + rows + "\n")
        out = tmp_path / "x.onnx"
        args = ["actuator", "fit", str(log), "--robot", "pendulum", "--csv-map", "pendulum", "--out", str(out)]
        assert main(args) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and "no measured torque separate from the command" in err[0]
        assert "hinge" in err[0] and "torque" in err[0] and not out.exists()


@pytest.mark.slow(seconds=140)
class TestAcceptance:
    """60 s of chirp hung by the base -> identify --fixed-base and actuator fit; a fresh 20 s PRBS
    recording (another seed) -> the network's torque RMSE <= 0.5x the identified PD model's."""

    def test_the_network_predicts_a_fresh_prbs_recording_at_half_the_pd_error(self, tmp_path, capsys):
        from sim2real.bench.scenarios import record_scenario

        record_scenario("quadruped_actuator", tmp_path / "chirp", seed=0)
        record_scenario("quadruped_actuator", tmp_path / "prbs", seed=1, seconds=20.0, kind="prbs")
        calib, net = tmp_path / "calib.yaml", tmp_path / "drive.onnx"
        base = ["--robot", "quadruped"]
        ident = ["identify", str(tmp_path / "chirp"), *base, "--fixed-base", "--max-windows", "80"]
        assert main([*ident, "--out", str(calib), "--json"]) == 0
        fit = ["actuator", "fit", str(tmp_path / "chirp"), *base, "--calib", str(calib), "--out", str(net)]
        assert main([*fit, "--json"]) == 0
        capsys.readouterr()
        assert main(["actuator", "eval", str(tmp_path / "prbs"), *base, "--calib", str(calib), "--net", str(net), "--json"]) == 0
        figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        net_rmse, pd_rmse = figures["net_torque_rmse"]["overall"], figures["pd_torque_rmse"]["overall"]
        print(f"PRBS torque RMSE: network {net_rmse:.4f} N m, identified PD {pd_rmse:.4f} N m")
        assert net_rmse <= 0.5 * pd_rmse


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("validation", 0.0, "held-out share"),  # was a reshape traceback with nothing held out
        ("validation", 1.0, "held-out share"),
        ("validation", float("nan"), "held-out share"),
        ("history", 0, "history must be at least 1"),
    ],
)
def test_a_fit_config_that_cannot_fit_is_refused_at_construction(field, value, words):
    with pytest.raises(Sim2RealError, match=words):
        NetFitConfig(**{field: value})
