"""CSV logs of legged robots: IMU columns and a floating-base track through the column map, and a
quadruped's CSV that gap and identify read as they read its bag."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from csv_legged_testdata import DECIMALS, legged_csv_map, write_legged_csv

from sim2real.bench.scenarios import record_scenario
from sim2real.calibration import load_calibration
from sim2real.cli import main
from sim2real.errors import LogError
from sim2real.logs import ColumnMap, read_csv
from sim2real.logs.csv_floating_base import body_rate
from sim2real.logs.csv_map_file import load_column_map
from sim2real.robots import load_robot

IMU = """\
gyro: {x: gx, y: gy, z: gz}
accel: {x: ax, y: ay, z: az}
quat: {x: qx, y: qy, z: qz, w: qw}
"""
BASE = """\
base_position: {x: px, y: py, z: pz}
base_quat: {w: bw, x: bx, y: by, z: bz}
base_lin_vel: {x: vx, y: vy, z: vz}
base_lin_vel_frame: world
"""
HEADER = ["t", "pos", "gx", "gy", "gz", "ax", "ay", "az", "qx", "qy", "qz", "qw"]
HEADER += ["px", "py", "pz", "bw", "bx", "by", "bz", "vx", "vy", "vz"]


def _yaw_quat(yaw: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], axis=1)


def _rows(n: int = 50, dt: float = 0.01, yaw_rate: float = 0.5) -> dict[str, np.ndarray]:
    """A base turning at ``yaw_rate`` [rad/s] and moving along world x at 1 m/s."""
    t = dt * np.arange(n)
    q = _yaw_quat(yaw_rate * t)
    cols = {"t": t, "pos": 0.1 * np.sin(t)}
    cols |= {"gx": 0 * t, "gy": 0 * t, "gz": 0 * t + yaw_rate, "ax": 0 * t, "ay": 0 * t, "az": 0 * t + 9.81}
    cols |= {"qx": q[:, 1], "qy": q[:, 2], "qz": q[:, 3], "qw": q[:, 0]}
    cols |= {
        "px": t,
        "py": 0 * t,
        "pz": 0 * t + 0.3,
        "bw": q[:, 0],
        "bx": q[:, 1],
        "by": q[:, 2],
        "bz": q[:, 3],
    }
    cols |= {"vx": 0 * t + 1.0, "vy": 0 * t, "vz": 0 * t}
    return cols


def _write(tmp_path, cols: dict[str, np.ndarray], edit=None):
    lines = [",".join(cols)] + [
        ",".join(repr(float(v)) for v in row) for row in np.stack(list(cols.values()), 1)
    ]
    if edit is not None:
        lines = edit(lines)
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _map(tmp_path, text: str):
    path = tmp_path / "map.yaml"
    path.write_text("time: t\nposition: {hinge: pos}\n" + text)
    return load_column_map(path)


class TestImuColumns:
    def test_imu_columns_become_the_trajectorys_imu_samples_in_wxyz_order(self, tmp_path):
        cols = _rows()
        traj = read_csv(_write(tmp_path, cols), _map(tmp_path, IMU))
        np.testing.assert_array_equal(traj.imu_t, traj.t)
        np.testing.assert_allclose(traj.gyro[:, 2], 0.5)
        np.testing.assert_allclose(traj.accel[:, 2], 9.81)
        np.testing.assert_allclose(traj.quat, _yaw_quat(0.5 * cols["t"]), atol=1e-12)
        assert traj.base is None

    def test_imu_quaternions_are_normalised_and_a_scale_converts_degrees(self, tmp_path, caplog):
        cols = _rows()
        for k in ("qx", "qy", "qz", "qw"):
            cols[k] = cols[k] * 2.0
        cols["gz"] = np.full_like(cols["t"], 30.0)  # deg/s
        traj = read_csv(_write(tmp_path, cols), _map(tmp_path, IMU + f"scale: {{gz: {math.pi / 180!r}}}\n"))
        np.testing.assert_allclose(np.linalg.norm(traj.quat, axis=1), 1.0)
        np.testing.assert_allclose(traj.gyro[:, 2], math.radians(30.0))
        assert "normalised" in caplog.text

    def test_no_orientation_column_gives_an_imu_without_quaternions(self, tmp_path):
        text = IMU.split("quat")[0]
        traj = read_csv(_write(tmp_path, _rows()), _map(tmp_path, text))
        assert traj.has_imu and traj.quat is None


class TestBaseColumns:
    def test_a_world_frame_velocity_is_rotated_into_the_base_frame(self, tmp_path):
        cols = _rows()
        traj = read_csv(_write(tmp_path, cols), _map(tmp_path, BASE))
        base = traj.base_estimate
        assert base is not None and traj.base_truth is None and base.source == "estimate"
        yaw = 0.5 * cols["t"]
        np.testing.assert_allclose(base.lin_vel[:, 0], np.cos(yaw), atol=1e-12)
        np.testing.assert_allclose(base.lin_vel[:, 1], -np.sin(yaw), atol=1e-12)
        np.testing.assert_allclose(base.lin_vel_world, np.tile([1.0, 0.0, 0.0], (len(yaw), 1)), atol=1e-12)
        np.testing.assert_allclose(base.position[:, 2], 0.3)

    def test_a_base_frame_velocity_is_kept_and_truth_goes_to_base_truth(self, tmp_path):
        text = BASE.replace("frame: world", "frame: base") + "base_source: truth\n"
        traj = read_csv(_write(tmp_path, _rows()), _map(tmp_path, text))
        assert traj.base_estimate is None and traj.base_truth.source == "ground_truth"
        np.testing.assert_allclose(traj.base_truth.lin_vel[:, 0], 1.0)

    def test_without_angular_velocity_columns_it_is_the_orientations_derivative(self, tmp_path):
        traj = read_csv(_write(tmp_path, _rows()), _map(tmp_path, BASE))
        np.testing.assert_allclose(
            traj.base.ang_vel, np.tile([0.0, 0.0, 0.5], (traj.n_samples, 1)), atol=1e-4
        )
        assert "base_quat" in traj.meta["base_ang_vel_source"]

    def test_without_linear_velocity_columns_it_is_the_positions_derivative_in_the_base_frame(self, tmp_path):
        # motion capture exporting poses only: the base moves along world x at 1 m/s while turning
        cols = _rows()
        traj = read_csv(_write(tmp_path, cols), _map(tmp_path, BASE.split("base_lin_vel:")[0]))
        yaw = 0.5 * cols["t"]
        np.testing.assert_allclose(traj.base.lin_vel[:, 0], np.cos(yaw), atol=1e-9)
        np.testing.assert_allclose(traj.base.lin_vel[:, 1], -np.sin(yaw), atol=1e-9)
        np.testing.assert_allclose(
            traj.base.lin_vel_world, np.tile([1.0, 0.0, 0.0], (len(yaw), 1)), atol=1e-9
        )
        assert "base_position" in traj.meta["base_lin_vel_source"]

    def test_mapped_angular_velocity_columns_are_used_in_their_frame(self, tmp_path):
        text = BASE + "base_ang_vel: {x: gx, y: gy, z: gz}\nbase_ang_vel_frame: base\n"
        traj = read_csv(_write(tmp_path, _rows()), _map(tmp_path, text))
        np.testing.assert_allclose(traj.base.ang_vel[:, 2], 0.5)
        assert "base_ang_vel_source" not in traj.meta

    def test_the_body_rate_of_a_tilted_spinning_base_is_in_the_body_frame(self):
        t = 0.005 * np.arange(200)
        tilt = np.array([math.cos(0.3), math.sin(0.3), 0.0, 0.0])  # 0.6 rad about x
        axis = np.array([0.0, 0.6, 0.8])  # body axis of the spin, 2 rad/s
        half = 0.5 * 2.0 * t
        spin = np.concatenate([np.cos(half)[:, None], np.sin(half)[:, None] * axis], axis=1)
        w0, v0 = tilt[0], tilt[1:]
        quat = np.concatenate(
            [
                (w0 * spin[:, 0] - spin[:, 1:] @ v0)[:, None],
                w0 * spin[:, 1:] + spin[:, :1] * v0 + np.cross(v0, spin[:, 1:]),
            ],
            axis=1,
        )
        quat[::2] *= -1  # a logger's sign flips do not matter
        np.testing.assert_allclose(body_rate(t, quat)[1:-1], np.tile(2.0 * axis, (198, 1)), atol=1e-4)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("gyro: {x: gx, y: gy}\naccel: {x: ax, y: ay, z: az}\n", ["gyro", "missing ['z']"]),
        (IMU.replace("w: qw", "q0: qw"), ["quat", "unknown ['q0']", "missing ['w']"]),
        ("gyro: {x: gx, y: gy, z: gz}\n", ["accel", "both gyro and accel"]),
        ("quat: {x: qx, y: qy, z: qz, w: qw}\n", ["quat", "gyro and accel"]),
        ("gyro: [gx, gy, gz]\naccel: {x: ax, y: ay, z: az}\n", ["'gyro' must map components"]),
        (BASE.split("base_quat:")[0], ["base_quat", "needs base_position and base_quat"]),
        (BASE.replace("base_lin_vel_frame: world\n", ""), ["base_lin_vel_frame", "'base'", "'world'"]),
        (BASE.replace("frame: world", "frame: body"), ["base_lin_vel_frame", "base, world", "'body'"]),
        (BASE + "base_ang_vel_frame: base\n", ["base_ang_vel_frame", "without base_ang_vel"]),
        (BASE + "base_source: mocap\n", ["base_source", "estimate, truth", "'mocap'"]),
        (IMU + "base_source: truth\n", ["base_source", "no base track"]),
        (IMU + "scale: {nowhere: 2}\n", ["scale", "['nowhere']", "not mapped"]),
    ],
)
def test_each_problem_of_a_legged_map_is_one_line_naming_the_file_and_key(tmp_path, text, words):
    with pytest.raises(LogError) as err:
        _map(tmp_path, text)
    message = str(err.value)
    assert "\n" not in message and "map.yaml" in message, message
    for word in words:
        assert word in message, message


class TestProblemsInTheFile:
    def test_a_mapped_column_not_in_the_header_names_its_role(self, tmp_path):
        cols = _rows()
        del cols["az"]
        with pytest.raises(LogError, match=r"log.csv: column 'az' \(accel z\) is not in the file"):
            read_csv(_write(tmp_path, cols), _map(tmp_path, IMU))

    def test_a_nan_in_an_imu_column_is_an_error_naming_line_and_column(self, tmp_path):
        def edit(lines):
            fields = lines[10].split(",")
            fields[HEADER.index("gy")] = "nan"
            lines[10] = ",".join(fields)
            return lines

        with pytest.raises(LogError, match=r"log.csv:11: column 'gy': non-finite value 'nan'"):
            read_csv(_write(tmp_path, _rows(), edit), _map(tmp_path, IMU))

    def test_a_last_line_cut_in_the_base_columns_is_dropped_as_the_joint_columns_are(self, tmp_path, caplog):
        traj = read_csv(
            _write(tmp_path, _rows(), lambda lines: [*lines[:-1], lines[-1][:-40]]), _map(tmp_path, BASE)
        )
        assert traj.n_samples == 49 and traj.base.n_samples == 49
        assert "dropping the last line" in caplog.text

    def test_a_zero_quaternion_is_an_error_naming_its_line(self, tmp_path):
        cols = _rows()
        for k in ("bw", "bx", "by", "bz"):
            cols[k][7] = 0.0
        with pytest.raises(LogError, match=r"log.csv:9: base_quat: zero quaternion \(columns w='bw'"):
            read_csv(_write(tmp_path, cols), _map(tmp_path, BASE))

    def test_a_column_map_built_in_code_is_checked_too(self):
        with pytest.raises(LogError, match=r"ColumnMap\.base_quat: a base track needs"):
            ColumnMap(time="t", position={"hinge": "p"}, base_position={"x": "a", "y": "b", "z": "c"})


# ---------------------------------------------------------------------------------- acceptance


@pytest.fixture(scope="module")
def quadruped(tmp_path_factory):
    """3 s of the standing quadruped twin (25 % heavier trunk) as a bag, the same run as another
    lab's CSV with its column map, and the bag's trunk mass from identify."""
    folder = tmp_path_factory.mktemp("quadruped")
    traj = record_scenario("quadruped_standing", folder / "bag", seconds=3.0)
    csv = write_legged_csv(folder / "run.csv", traj)
    (folder / "map.yaml").write_text(legged_csv_map(traj))
    identify = ["identify", "--robot", "quadruped", "--params", "body.base.mass", "--json"]
    assert main([*identify, str(folder / "bag"), "--out", str(folder / "bag_calib.yaml")]) == 0
    return {"traj": traj, "csv": csv, "map": folder / "map.yaml", "folder": folder}


def _last_json(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out)


class TestAQuadrupedsCsvReadsAsItsBag:
    def test_every_array_equals_the_bags_within_the_printed_precision(self, quadruped):
        bag = quadruped["traj"]
        csv = read_csv(quadruped["csv"], load_column_map(quadruped["map"]), bag.joint_names)
        unit = 0.5 * 10.0**-DECIMALS  # half the last printed digit, in the file's unit
        deg = math.pi / 180
        close = {
            "t": (csv.t, bag.t, unit * 1e-3 + 1e-12),
            "q": (csv.q, bag.q, unit * deg + 1e-12),
            "qd": (csv.qd, bag.qd, unit + 1e-12),
            "tau": (csv.tau, bag.tau, unit + 1e-12),
            "command": (csv.command, bag.command, unit * deg + 1e-12),
            "gyro": (csv.gyro, bag.gyro, unit + 1e-12),
            "accel": (csv.accel, bag.accel, unit + 1e-12),
            "quat": (csv.quat, bag.quat, 4 * unit),  # rounded, then normalised
            "base.position": (csv.base_truth.position, bag.base_truth.position, unit + 1e-12),
            "base.quat": (csv.base_truth.quat, bag.base_truth.quat, 4 * unit),
            "base.lin_vel": (
                csv.base_truth.lin_vel,
                bag.base_truth.lin_vel,
                4 * unit * (1 + np.abs(bag.base_truth.lin_vel).max()),
            ),
            "base.ang_vel": (csv.base_truth.ang_vel, bag.base_truth.ang_vel, unit + 1e-12),
        }
        for name, (got, want, atol) in close.items():
            np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=name)
        assert csv.command_joints == bag.command_joints
        np.testing.assert_allclose(csv.imu_t, bag.imu_t, atol=unit * 1e-3 + 1e-12)
        assert csv.base_estimate is None and csv.base_truth.n_samples == bag.base_truth.n_samples

    def test_gap_on_the_csv_gives_the_bags_position_rmse_within_1_percent(self, quadruped, capsys):

        gap = ["gap", "--robot", "quadruped", "--json"]
        capsys.readouterr()
        assert main([*gap, str(quadruped["folder"] / "bag")]) == 0
        bag = _last_json(capsys)
        assert main([*gap, str(quadruped["csv"]), "--csv-map", str(quadruped["map"])]) == 0
        csv = _last_json(capsys)
        assert csv["position_rmse"] == pytest.approx(bag["position_rmse"], rel=0.01)
        assert csv["base_position_rmse"] == pytest.approx(bag["base_position_rmse"], rel=0.01)
        assert csv["fixed_base"] is False and csv["samples"] == bag["samples"]

    def test_identify_on_the_csv_gives_the_trunk_mass_within_the_bags_interval(self, quadruped, capsys):
        folder = quadruped["folder"]
        identify = ["identify", "--robot", "quadruped", "--params", "body.base.mass", "--json"]
        args = [
            str(quadruped["csv"]),
            "--csv-map",
            str(quadruped["map"]),
            "--out",
            str(folder / "csv_calib.yaml"),
        ]
        assert main([*identify, *args]) == 0
        spec = load_robot("quadruped")
        bag = load_calibration(folder / "bag_calib.yaml", spec).params["body.base.mass"]
        csv = load_calibration(folder / "csv_calib.yaml", spec).params["body.base.mass"]
        assert bag.ci_low <= csv.value <= bag.ci_high, (csv.value, bag.ci_low, bag.ci_high)
        assert csv.value == pytest.approx(1.25 * 6.921, rel=0.05)  # the hidden trunk mass

    def test_a_csv_with_imu_columns_and_no_base_track_gets_the_estimators_base(self, quadruped, capsys):
        text = quadruped["map"].read_text()
        imu_only = quadruped["folder"] / "imu_only.yaml"
        imu_only.write_text(
            "\n".join(line for line in text.splitlines() if not line.startswith("base_")) + "\n"
        )
        capsys.readouterr()
        assert (
            main(["gap", str(quadruped["csv"]), "--robot", "quadruped", "--csv-map", str(imu_only), "--json"])
            == 0
        )
        out = _last_json(capsys)
        assert out["base_position_rmse"] is not None and out["fixed_base"] is False
