"""``--command-order`` on the commands that read logs: a Go2 bag of another recorder whose
/joint_states and Float64MultiArray commands are in the motor order (FR, FL, RR, RL), replayed on
the embedded quadruped (FL, FR, RL, RR) hung by its base."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from gap_testdata import foreign_bag

from sim2real.cli import main
from sim2real.logs import Trajectory
from sim2real.robots import load_robot

VENDOR = tuple(f"{leg}_{part}" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf"))
"""The Go2's motor order: its driver's /joint_states and its position controller's joint list."""


@cache
def _hung_run(seed: int = 7, steps: int = 50) -> Trajectory:
    """1 s of the hung quadruped under random PD targets about its default pose, in the robot's order;
    its IMU (on the base, which is held level and still) reads gravity alone."""
    from sim2real.sim.batch import BatchSim
    from sim2real.sim.floating import hung_model

    spec = load_robot("quadruped")
    assert spec.actuated_joints == spec.joints  # one command per joint: the orders are of one list
    sim = BatchSim(spec, 1, nthread=1, model=hung_model(spec))
    sim.reset()
    u = spec.default_pose + 0.3 * np.random.default_rng(seed).standard_normal((steps, spec.n_actions))
    q, qd = [sim.joint_pos[0].copy()], [sim.joint_vel[0].copy()]
    for k in range(steps):
        sim.step(u[k][None])
        q.append(sim.joint_pos[0].copy())
        qd.append(sim.joint_vel[0].copy())
    t = spec.control_dt * np.arange(steps + 1)
    return Trajectory(
        spec_hash=None,
        joint_names=spec.joints,
        t=t,
        q=np.array(q),
        qd=np.array(qd),
        tau=None,
        command_t=t[:steps],
        command=u,
        command_joints=spec.actuated_joints,
        meta={},
        imu_t=t,
        gyro=np.zeros((t.size, 3)),
        accel=np.tile([0.0, 0.0, 9.81], (t.size, 1)),
        quat=np.tile([1.0, 0.0, 0.0, 0.0], (t.size, 1)),
    )


def _go2_bag(path: Path, states: tuple[str, ...], commanded: tuple[str, ...]) -> Path:
    """The hung run as ``ros2 bag record`` writes it: /joint_states naming ``states`` in that order,
    unnamed commands on /forward_position_controller/commands with values in the order ``commanded``."""
    run = _hung_run()
    cols = [run.joint_names.index(j) for j in states]
    ucols = [run.command_joints.index(j) for j in commanded]
    log = Trajectory(
        spec_hash=None,
        joint_names=states,
        t=run.t,
        q=np.ascontiguousarray(run.q[:, cols]),
        qd=np.ascontiguousarray(run.qd[:, cols]),
        tau=None,
        command_t=run.command_t,
        command=np.ascontiguousarray(run.command[:, ucols]),
        command_joints=commanded,
        meta={},
        imu_t=run.imu_t,
        gyro=run.gyro,
        accel=run.accel,
        quat=run.quat,
    )
    return foreign_bag(path, log, ["forward_position_controller"])


def _gap(capsys, bag: Path, *args: str) -> tuple[int, dict | None, list[str]]:
    """``gap`` of the hung bag: exit code, JSON summary (None on failure), stderr's error lines."""
    code = main(["gap", str(bag), "--robot", "quadruped", "--fixed-base", "--json", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return (
        code,
        json.loads(out) if code == 0 else None,
        [line for line in err.splitlines() if line.startswith("sim2real: error:")],
    )


def test_a_vendor_ordered_bag_is_refused_by_default_naming_the_option(tmp_path, capsys):
    code, _, errors = _gap(capsys, _go2_bag(tmp_path / "go2", VENDOR, VENDOR))
    assert code == 1 and len(errors) == 1, errors
    assert "ambiguous" in errors[0] and "--command-order states" in errors[0]


def test_states_and_the_explicit_list_replay_the_log_and_robot_does_not(tmp_path, capsys):
    bag = _go2_bag(tmp_path / "go2", VENDOR, VENDOR)
    code, states, _ = _gap(capsys, bag, "--command-order", "states")
    assert code == 0
    code, listed, _ = _gap(capsys, bag, "--command-order", ",".join(VENDOR))
    assert code == 0 and listed["position_rmse"] == states["position_rmse"]
    code, wrong, _ = _gap(capsys, bag, "--command-order", "robot")  # each leg's targets on another leg
    assert code == 0
    assert states["position_rmse"] < 0.03 and wrong["position_rmse"] > 5 * states["position_rmse"], (
        states,
        wrong,
    )


def test_robot_replays_a_bag_whose_controller_lists_the_robots_order(tmp_path, capsys):
    robot_order = load_robot("quadruped").actuated_joints
    bag = _go2_bag(tmp_path / "go2", VENDOR, robot_order)
    code, right, _ = _gap(capsys, bag, "--command-order", "robot")
    assert code == 0
    code, wrong, _ = _gap(capsys, bag, "--command-order", "states")
    assert code == 0
    assert right["position_rmse"] < 0.03 and wrong["position_rmse"] > 5 * right["position_rmse"], (
        right,
        wrong,
    )


@pytest.mark.parametrize("command", ["gap", "identify", "actuator"])
@pytest.mark.parametrize(
    ("order", "says"),
    [
        (",".join(VENDOR[:-1]), "names 11 joints"),
        (",".join((*VENDOR[:-1], "RL_knee")), "['RL_knee']"),
        (",".join((*VENDOR[:-1], "FR_hip")), "more than once"),
    ],
)
def test_a_bad_list_is_one_error_line_and_exit_1(tmp_path, capsys, command, order, says):
    bag = str(_go2_bag(tmp_path / "go2", VENDOR, VENDOR))
    args = {
        "gap": ["gap", bag, "--fixed-base"],
        "identify": ["identify", bag, "--fixed-base", "--out", str(tmp_path / "calib.yaml")],
        "actuator": ["actuator", "fit", bag, "--out", str(tmp_path / "net.onnx")],
    }[command]
    code = main([*args, "--robot", "quadruped", "--command-order", order])
    _, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("sim2real: error:")]
    assert code == 1 and len(errors) == 1 and says in errors[0] and "Traceback" not in err, err
    assert not (tmp_path / "calib.yaml").exists() and not (tmp_path / "net.onnx").exists()


def test_finetune_reads_the_option_too(tmp_path, capsys):
    from deploy_testdata import tiny_policy

    bag = _go2_bag(tmp_path / "go2", VENDOR, VENDOR)
    policy = str(tiny_policy("quadruped"))
    code = main(["finetune", str(bag), "--policy", policy, "--out", str(tmp_path / "p2.onnx")])
    _, err = capsys.readouterr()
    assert code == 1 and "--command-order states" in err and "Traceback" not in err  # auto refuses
    code = main(
        [
            "finetune",
            str(bag),
            "--policy",
            policy,
            "--out",
            str(tmp_path / "p2.onnx"),
            "--command-order",
            "FR_hip",
        ]
    )
    _, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("sim2real: error:")]
    assert code == 1 and len(errors) == 1 and "names 1 joint" in errors[0], err
    assert not (tmp_path / "p2.onnx").exists()
