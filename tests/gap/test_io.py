"""Logs for gap and identify: CSV files read through a built-in column map or the user's map file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gap_testdata import foreign_bag, pendulum_log

from sim2real.cli import main
from sim2real.errors import LogError

MAP = """\
time: time
position: {hinge: pos_meas1}
velocity: {hinge: vel_meas1}
effort: {hinge: tau_meas1}
command: {hinge: tau_con1}
"""


def _run(capsys, *args: str) -> tuple[int, str, list[str]]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]


def _dfki_like_csv(tmp_path):
    """A pendulum log with the column names of DFKI's double-pendulum logger (1 s at 200 Hz)."""
    t = np.arange(200) * 0.005
    q = 0.3 * np.sin(2 * np.pi * 0.8 * t)
    qd = 0.3 * 2 * np.pi * 0.8 * np.cos(2 * np.pi * 0.8 * t)
    tau = 0.5 * np.sin(2 * np.pi * 0.8 * t)
    rows = [
        f"{a:.6f},{b:.6f},{c:.6f},{d:.6f},{e:.6f}"
        for a, b, c, d, e in zip(t, q, qd, tau, tau * 1.1, strict=True)
    ]
    path = tmp_path / "trajectory_00.csv"
    path.write_text("time,pos_meas1,vel_meas1,tau_con1,tau_meas1\n" + "\n".join(rows) + "\n")
    return path


def test_gap_reads_a_csv_through_a_column_map_file(capsys, tmp_path):
    (tmp_path / "dfki.yaml").write_text(MAP)
    log = _dfki_like_csv(tmp_path)
    args = (
        "gap",
        str(log),
        "--robot",
        "pendulum",
        "--csv-map",
        str(tmp_path / "dfki.yaml"),
        "--horizon",
        "0.25",
    )
    code, out, err = _run(capsys, *args, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["windows"] == 4 and np.isfinite(summary["position_rmse"])


@pytest.mark.parametrize(
    ("map_text", "words"),
    [
        (None, ["column 'position'", "'pos_meas1'", "--csv-map MAP.yaml"]),
        ("time: time\nposition: {knee: pos_meas1}\n", ["'knee' is not a joint of robot 'pendulum'"]),
        ("time: time\nposition: {hinge: pos_meas1}\nvelocty: {hinge: vel_meas1}\n", ["unknown key"]),
        ("position: {hinge: pos_meas1}\n", ["'time' is missing"]),
        (
            "time: time\nposition: {hinge: angle}\n",
            ["column 'angle'", "available columns", "--csv-map MAP.yaml"],
        ),
    ],
)
def test_map_file_problems_are_one_error_line(capsys, tmp_path, map_text, words):
    log = _dfki_like_csv(tmp_path)
    if map_text is None:  # the built-in map of another logger: the error names the way out
        csv_map = "pendulum"
    else:
        csv_map = str(tmp_path / "m.yaml")
        (tmp_path / "m.yaml").write_text(map_text)
    code, _, err = _run(capsys, "gap", str(log), "--robot", "pendulum", "--csv-map", csv_map)
    assert code == 1 and len(err) == 1 and err[0].startswith("sim2real: error:"), err
    for word in words:
        assert word in err[0], err


def test_an_unknown_map_name_lists_the_built_in_maps_and_the_file_form(capsys, tmp_path):
    code, _, err = _run(
        capsys, "gap", str(_dfki_like_csv(tmp_path)), "--robot", "pendulum", "--csv-map", "dfki"
    )
    assert code == 1 and len(err) == 1
    assert "pendulum, qube" in err[0] and "YAML column map file" in err[0]


class TestUnits:
    def test_time_in_milliseconds_and_angles_in_degrees_are_named(self, tmp_path, caplog):
        from sim2real.gap.io import load_logs
        from sim2real.robots import load_robot

        t = np.arange(400) * 5.0  # ms
        q = np.degrees(1.5 * np.sin(2 * np.pi * 0.8 * t / 1e3))
        qd = np.gradient(q, t / 1e3)  # deg/s
        rows = [f"{a:.6f},{b:.6f},{c:.6f},0.1" for a, b, c in zip(t, q, qd, strict=True)]
        path = tmp_path / "run.csv"
        path.write_text("time,position,velocity,torque\n" + "\n".join(rows) + "\n")
        with caplog.at_level("WARNING", logger="sim2real.gap.io"):
            load_logs(load_robot("pendulum"), [path], csv_map="pendulum")
        text = caplog.text
        assert "samples 5 s apart" in text and "milliseconds" in text
        assert "faster than 5 x their velocity limits: hinge" in text and "degrees" in text

    def test_time_in_nanoseconds_is_refused_and_angles_in_degrees_within_the_speed_limit_are_named(
        self, tmp_path, caplog, spec_variant
    ):
        # a robot SDK's logger: Unix time in ns, slow joints in degrees (too slow to trip the speed
        # check): the time was called milliseconds, the degrees "another zero"; the time in ns,
        # unscaled, is refused when read (a replay of it tried to allocate terabytes)
        from sim2real.gap.io import load_logs
        from sim2real.robots import load_robot

        def narrow(raw):
            raw["safety"]["joint_position"]["hinge"] = [-1.0, 1.0]

        t = np.arange(200) * 0.005
        q = np.degrees(0.3 + 0.2 * np.sin(2 * np.pi * 0.8 * t))
        rows = [f"{int(1.7e18 + a * 1e9)},{b:.6f},0.1,0.1" for a, b in zip(t, q, strict=True)]
        path = tmp_path / "sdk.csv"
        path.write_text("stamp_ns,q_0,tau_est_0,tau_cmd_0\n" + "\n".join(rows) + "\n")
        columns = "time: stamp_ns\nposition: {hinge: q_0}\neffort: {hinge: tau_est_0}\ncommand: {hinge: tau_cmd_0}\n"
        (tmp_path / "map.yaml").write_text(columns)
        robot = load_robot(spec_variant("pendulum", narrow))
        with pytest.raises(LogError, match=r"in nanoseconds\? .*scale: \{stamp_ns: 1e-09\}"):
            load_logs(robot, [path], csv_map=str(tmp_path / "map.yaml"))
        (tmp_path / "map.yaml").write_text(columns + "scale: {stamp_ns: 1.0e-9}\n")
        with caplog.at_level("WARNING", logger="sim2real.gap.io"):
            load_logs(robot, [path], csv_map=str(tmp_path / "map.yaml"))
        text = caplog.text
        assert "fit it in degrees: hinge (median 20.7; 0.362 rad if degrees, range [-1, 1])" in text
        assert "another zero" not in text and "time column in" not in text

    def test_a_log_in_si_units_gets_no_warning(self, tmp_path, caplog):
        from sim2real.gap.io import load_logs
        from sim2real.robots import load_robot

        with caplog.at_level("WARNING", logger="sim2real.gap.io"):
            load_logs(load_robot("pendulum"), [_dfki_like_csv_plain(tmp_path)], csv_map="pendulum")
        assert "milliseconds" not in caplog.text and "degrees" not in caplog.text
        assert "another zero" not in caplog.text

    def test_angles_from_another_zero_are_named(self, tmp_path, caplog, spec_variant):
        """A pendulum whose logger counts the angle from upright (pi from the model's zero, hanging)."""
        from sim2real.gap.io import load_logs
        from sim2real.robots import load_robot

        def narrow(raw):
            raw["safety"]["joint_position"]["hinge"] = [-2.0, 2.0]

        spec = load_robot(spec_variant("pendulum", narrow))
        t = np.arange(200) * 0.005
        q = np.pi + 0.3 * np.sin(2 * np.pi * 0.8 * t)
        qd = 0.3 * 2 * np.pi * 0.8 * np.cos(2 * np.pi * 0.8 * t)
        rows = [f"{a:.6f},{b:.6f},{c:.6f},0.1" for a, b, c in zip(t, q, qd, strict=True)]
        path = tmp_path / "upright_zero.csv"
        path.write_text("time,position,velocity,torque\n" + "\n".join(rows) + "\n")
        with caplog.at_level("WARNING", logger="sim2real.gap.io"):
            load_logs(spec, [path], csv_map="pendulum")
        assert "outside their safety range for most of the log: hinge 100 % (median 3." in caplog.text
        assert "offset, scale: -1" in caplog.text


def _dfki_like_csv_plain(tmp_path):
    """The shared DFKI layout (time, position, velocity, torque), 1 s at 200 Hz, SI units."""
    t = np.arange(200) * 0.005
    q = 0.3 * np.sin(2 * np.pi * 0.8 * t)
    qd = 0.3 * 2 * np.pi * 0.8 * np.cos(2 * np.pi * 0.8 * t)
    rows = [f"{a:.6f},{b:.6f},{c:.6f},0.1" for a, b, c in zip(t, q, qd, strict=True)]
    path = tmp_path / "si.csv"
    path.write_text("time,position,velocity,torque\n" + "\n".join(rows) + "\n")
    return path


class TestSafeMode:
    def _log_stopped_at(self, tmp_path, seconds: float, stop: float):
        """A pendulum bag whose safety layer switched to safe mode at ``stop`` s."""
        import dataclasses

        from sysid_testdata import synthetic_log

        from sim2real.logs import read_bag
        from sim2real.logs.bag import write_bag
        from sim2real.logs.trajectory import Event
        from sim2real.robots import load_robot

        traj = synthetic_log("pendulum", {"body.pole.mass": 0.7}, seconds=seconds)
        t0 = float(traj.t[0])
        mode = Event(t0 + stop, "mode", {"from": "normal", "to": "safe", "reason": "velocity_limit"})
        path = tmp_path / "run"
        write_bag(path, dataclasses.replace(traj, events=(*traj.events, mode)), robot="pendulum")
        return load_robot("pendulum"), path, read_bag(path)

    def test_identification_keeps_only_what_came_before_safe_mode(self, tmp_path, caplog):
        """A record 96-99.9 % in safe mode (a humanoid on the floor) gave confident wrong masses."""
        from sim2real.gap.io import load_logs

        spec, path, whole = self._log_stopped_at(tmp_path, 4.0, 1.5)
        with caplog.at_level("WARNING", logger="sim2real.gap.io"):
            (cut,) = load_logs(spec, [path], before_safe_mode=True)
        assert float(cut.t[-1] - cut.t[0]) == pytest.approx(1.5, abs=0.02)
        assert float(whole.t[-1] - whole.t[0]) == pytest.approx(4.0, abs=0.02)
        assert "only the 1.50 s before it are used" in caplog.text and "velocity_limit" in caplog.text
        (kept,) = load_logs(spec, [path])  # gap: the whole log, with the warning
        assert len(kept.t) == len(whole.t)

    def test_a_log_in_safe_mode_from_the_start_is_one_error_line(self, tmp_path):
        from sim2real.errors import LogError
        from sim2real.gap.io import load_logs

        spec, path, _ = self._log_stopped_at(tmp_path, 1.0, 0.0)
        with pytest.raises(LogError, match="in safe mode from the start"):
            load_logs(spec, [path], before_safe_mode=True)


class TestForeignBagTopics:
    def test_gap_reads_a_ros2_control_bag_and_asks_which_of_two_command_topics(self, capsys, tmp_path):
        one = foreign_bag(tmp_path / "one", pendulum_log(), ["effort_controller"])
        code, out, err = _run(capsys, "gap", str(one), "--robot", "pendulum", "--horizon", "0.25", "--json")
        assert code == 0, err
        assert json.loads(out)["position_rmse"] < 0.05  # the commands drove the replay: it tracks
        two = foreign_bag(tmp_path / "two", pendulum_log(), ["effort_controller", "position_controller"])
        code, _, err = _run(capsys, "gap", str(two), "--robot", "pendulum", "--horizon", "0.25")
        assert code == 1 and len(err) == 1 and "--topic commands=TOPIC" in err[0], err
        code, out, err = _run(
            capsys,
            "gap",
            str(two),
            "--robot",
            "pendulum",
            "--horizon",
            "0.25",
            "--json",
            "--topic",
            "commands=/effort_controller/commands",
        )
        assert code == 0, err
        assert json.loads(out)["position_rmse"] < 0.05


def test_command_order_on_a_csv_is_one_error_line(capsys, tmp_path):
    # a column map names the command joints: an order stated besides it is refused, not ignored
    (tmp_path / "dfki.yaml").write_text(MAP)
    log = _dfki_like_csv(tmp_path)
    args = ("gap", str(log), "--robot", "pendulum", "--csv-map", str(tmp_path / "dfki.yaml"), "--command-order", "states")
    code, _, err = _run(capsys, *args)
    assert code == 1 and len(err) == 1 and "--command-order is for bags" in err[0], err


def test_base_columns_in_the_map_of_a_fixed_base_robot_are_said_unused(tmp_path, caplog):
    # the pendulum has no floating base: a map naming base columns reads them, and nothing uses them
    from sim2real.gap.io import csv_reader
    from sim2real.robots import load_robot

    base = "base_position: {x: pos_meas1, y: pos_meas1, z: pos_meas1}\n"
    base += "base_quat: {w: vel_meas1, x: pos_meas1, y: pos_meas1, z: pos_meas1}\n"
    (tmp_path / "m.yaml").write_text(MAP + base)
    with caplog.at_level("WARNING", logger="sim2real"):
        csv_reader(load_robot("pendulum"), str(tmp_path / "m.yaml"))
    assert "no floating base" in caplog.text and "base_*" in caplog.text


def test_a_free_base_log_without_base_state_says_its_base_is_estimated(tmp_path):
    # before: gap printed "replayed from the logged estimate base state" for a state sim2real estimated
    from sim2real.gap.io import load_logs
    from sim2real.logs import Trajectory, write_bag
    from sim2real.robots import load_robot

    spec = load_robot("quadruped")
    n, names = 50, spec.joints
    t = 0.02 * np.arange(n)
    q = np.tile(spec.default_pose, (n, 1))
    tr = Trajectory(
        spec_hash=spec.hash, joint_names=names, t=t, q=q, qd=np.zeros_like(q), tau=np.zeros_like(q),
        command_t=t, command=q.copy(), command_joints=names,
        imu_t=t, gyro=np.zeros((n, 3)), accel=np.tile([0.0, 0.0, 9.81], (n, 1)),
        quat=np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),
    )
    write_bag(tmp_path / "bag", tr)
    (back,) = load_logs(spec, [tmp_path / "bag"])
    assert back.base_estimate is not None
    assert back.meta["base_estimated"] == "from the IMU, joint encoders and torques"


class TestDrivesOff:
    """A log that starts (or ends) with the drives off: every effort exactly 0 while commanded."""

    @staticmethod
    def _log(zero_command: bool = False, **meta):
        from sim2real.logs import Trajectory

        t = np.arange(200) * 0.01
        tau = np.sin(3 * t)[:, None] + 0.1
        tau[:50] = 0.0  # e-stopped for the first 0.5 s: the driver reports exactly 0
        command = tau.copy() if zero_command else np.cos(t)[:, None]
        return Trajectory(
            spec_hash=None, joint_names=("hinge",), t=t, q=np.zeros((200, 1)), qd=np.zeros((200, 1)), tau=tau,
            command_t=t, command=command, meta=meta,
        )  # fmt: skip

    def test_the_leading_stretch_is_cut_for_fits_and_said_for_replays(self, caplog):
        from sim2real.gap.io import _drives_on, drives_off
        from sim2real.robots import load_robot

        spec = load_robot("pendulum")
        log = self._log()
        assert drives_off(spec, log) == [(0, 50)]
        out = _drives_on(spec, log, "run", cut=True)  # before: fitted as a drive giving 0 N m
        assert out.t[0] == pytest.approx(0.5) and out.t[-1] == pytest.approx(1.99)
        assert "run: every actuated joint's effort is exactly 0 while commanded for 0.49 s (0.00-0.49 s)" in caplog.text
        assert _drives_on(spec, log, "run", cut=False) is log

    def test_zero_commands_or_an_effort_that_is_the_command_are_no_stretch(self):
        from sim2real.gap.io import drives_off
        from sim2real.robots import load_robot

        spec = load_robot("pendulum")
        assert drives_off(spec, self._log(zero_command=True)) == []  # a torque drive told 0 gives 0
        assert drives_off(spec, self._log(effort_is_command={"hinge": "torque"})) == []


def test_a_leg_on_no_joint_state_topic_names_the_topics_read():
    from sim2real.gap.io import _check_joined_joints
    from sim2real.logs import Trajectory
    from sim2real.robots import load_robot

    spec = load_robot("furuta")
    log = Trajectory(
        spec_hash=None, joint_names=(spec.joints[0],), t=[0.0, 0.1], q=np.zeros((2, 1)), qd=np.zeros((2, 1)),
        meta={"joint_state_topics": ["/arm/joint_states", "/base/joint_states"]},
    )  # fmt: skip
    with pytest.raises(LogError, match=r"are on none of the joint-state topics read \(/arm/joint_states, "
                       r"/base/joint_states\).*--topic joint_states=/arm/joint_states,/base/joint_states,TOPIC"):
        _check_joined_joints(spec, log, "run")  # before: 'is this a log of another robot?'
