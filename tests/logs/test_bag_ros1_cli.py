"""``sim2real gap`` and ``identify`` on a ROS 1 bag, end to end: a hung quadruped twin run re-written as
another recorder's ROS 1 bag (JointState, Imu, Float64MultiArray) gives the figures of the same run's
sim2real rosbag2 bag; a bad ``.bag`` file is one error line and a non-zero exit."""

from __future__ import annotations

import json
import random
import struct

import pytest
import yaml
from ros1_testdata import (
    chunk_layout,
    unindexed,
    with_open_last_chunk,
    write_ros1,
    write_ros1_parts,
    write_unitree_ros1,
)
from unitree_testdata import GO2_ORDER, float32

from sim2real.cli import main
from sim2real.logs import read_bag
from sim2real.logs.bag_ros2 import ROS2_TYPESTORE as TYPESTORE

PARAMS = "joint.FL_calf.damping,joint.FR_calf.damping"
FIGURES = ("position_rmse", "velocity_rmse", "position_rmse_per_joint", "velocity_rmse_per_joint")


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    """(sim2real rosbag2 bag, ROS 1 bag, unitree_legged_msgs ROS 1 bag) of one hung twin run."""
    folder = tmp_path_factory.mktemp("ros1")
    (folder / "twin.yaml").write_text(yaml.safe_dump({"params": {"joint.FL_calf.damping": 0.3}}))
    args = ["record", "--robot", "quadruped", "--twin", str(folder / "twin.yaml"), "--fixed-base"]
    assert main([*args, "--excite", "chirp", "--seconds", "4", "--out", str(folder / "rec"), "--json"]) == 0
    run = read_bag(folder / "rec")
    ros1 = write_ros1(folder / "run.bag", run)
    unitree = write_unitree_ros1(folder / "go1.bag", float32(run), GO2_ORDER, start_ns=0)
    return folder / "rec", ros1, unitree


def _json(capsys, args):
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_gap_gives_the_figures_of_the_rosbag2_bag(bags, capsys):
    ref, ros1, _ = bags
    want = _json(capsys, ["gap", str(ref), "--robot", "quadruped"])
    got = _json(capsys, ["gap", str(ros1), "--robot", "quadruped", "--fixed-base"])
    assert got["samples"] == want["samples"] and got["fixed_base"]
    for key in FIGURES:
        assert got[key] == want[key]  # the same trajectory: the same figures, bit for bit


def test_identify_gives_the_figures_of_the_rosbag2_bag(bags, capsys, tmp_path):
    ref, ros1, _ = bags
    args = ["--robot", "quadruped", "--params", PARAMS, "--horizon", "1.0"]
    want = _json(capsys, ["identify", str(ref), *args, "--out", str(tmp_path / "ref.yaml")])
    got = _json(capsys, ["identify", str(ros1), *args, "--fixed-base", "--out", str(tmp_path / "ros1.yaml")])
    for name in PARAMS.split(","):
        assert got["params"][name] == want["params"][name]
    assert got["params"]["joint.FL_calf.damping"]["identifiable"]


def test_unitree_legged_msgs_give_the_gap_of_the_joint_state_bag(bags, capsys):
    ref, _, unitree = bags
    want = _json(capsys, ["gap", str(ref), "--robot", "quadruped"])
    got = _json(
        capsys,
        ["gap", str(unitree), "--robot", "quadruped", "--fixed-base", "--motor-order", ",".join(GO2_ORDER)],
    )
    assert got["samples"] == want["samples"]
    for key in FIGURES:
        assert got[key] == pytest.approx(want[key], rel=1e-6)  # float32 values


def test_gap_on_the_folder_of_a_split_recording_gives_the_figures_of_the_whole_bag(bags, capsys, tmp_path):
    """rosbag record --split's parts, given as their folder (was one error line)."""
    ref, ros1, _ = bags
    write_ros1_parts(tmp_path / "split", read_bag(ref), ("run_0.bag", "run_1.bag", "run_2.bag"))
    want = _json(capsys, ["gap", str(ros1), "--robot", "quadruped", "--fixed-base"])
    got = _json(capsys, ["gap", str(tmp_path / "split"), "--robot", "quadruped", "--fixed-base"])
    assert got["samples"] == want["samples"]
    for key in FIGURES:
        assert got[key] == want[key]


def test_gap_on_a_rosbag2_bag_split_and_compressed_without_its_metadata(bags, capsys, tmp_path):
    """ros2 bag record --max-bag-size --compression-mode file, metadata.yaml lost: the .mcap.zstd parts."""
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer
    from rosbags.rosbag2.enums import CompressionFormat, CompressionMode

    ref, _, _ = bags
    with Reader(ref) as reader:
        msgs = [(c.topic, c.msgtype, ns, raw) for c, ns, raw in reader.messages()]
    run = tmp_path / "run"
    run.mkdir()
    for k in range(3):
        writer = Writer(tmp_path / f"part{k}", version=9, storage_plugin=StoragePlugin.MCAP)
        writer.set_compression(CompressionMode.FILE, CompressionFormat.ZSTD)
        with writer:
            conns = {}
            for topic, msgtype, ns, raw in msgs[len(msgs) * k // 3 : len(msgs) * (k + 1) // 3]:
                if topic not in conns:
                    conns[topic] = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
                writer.write(conns[topic], ns, raw)
        (file,) = (tmp_path / f"part{k}").glob("*.zstd")
        file.rename(run / f"run_{k}.mcap.zstd")
    want = _json(capsys, ["gap", str(ref), "--robot", "quadruped"])
    got = _json(capsys, ["gap", str(run), "--robot", "quadruped"])
    assert got["samples"] == want["samples"]
    for key in FIGURES:
        assert got[key] == want[key]


def _header_end(data: bytes) -> int:
    (hlen,) = struct.unpack_from("<I", data, 13)
    (dlen,) = struct.unpack_from("<I", data, 17 + hlen)
    return 21 + hlen + dlen


def _bad(folder, good):
    data = unindexed(good.read_bytes())
    files = {
        "text.bag": b"time,q\n0,1\n",
        "garbage.bag.active": data[: _header_end(data)] + random.Random(0).randbytes(5000),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return {
        "text.bag": "not a ROS 1 bag",
        "garbage.bag.active": "damaged ROS 1 bag at byte",
        "missing.bag": "no such log",
    }


def test_gap_runs_on_a_bag_whose_recorder_was_killed(bags, capsys, tmp_path):
    """No index, its last chunk left open and cut inside a message record: the gap of the messages
    before the cut, as of the indexed bag holding just those."""
    _, ros1, _ = bags
    killed = tmp_path / "run.bag.active"
    _, datapos, _, msgs = chunk_layout(ros1)[-1]
    killed.write_bytes(
        unindexed(with_open_last_chunk(ros1.read_bytes(), ros1))[: datapos + msgs[len(msgs) // 2][0] + 9]
    )
    args = ["--robot", "quadruped", "--fixed-base", "--json"]
    capsys.readouterr()
    assert main(["gap", str(killed), *args]) == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    run = read_bag(killed)
    assert len(run.t) < len(read_bag(ros1).t) and not run.meta["complete"]
    assert "no index (its recorder did not close it): read by scanning" in err
    want = _json(capsys, ["gap", str(write_ros1(tmp_path / "reference.bag", run)), *args[:-1]])
    for key in ("samples", *FIGURES):
        assert got[key] == want[key]
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["gap", "identify"])
def test_bad_files_are_one_error_line(bags, capsys, tmp_path, command):
    _, ros1, _ = bags
    expected = _bad(tmp_path, ros1)
    expected["no_states.bag"] = "no messages on /joint_states"
    write_ros1(tmp_path / "no_states.bag", read_bag(ros1), skip=("state",))
    for name, text in expected.items():
        capsys.readouterr()
        args = [command, str(tmp_path / name), "--robot", "quadruped", "--fixed-base"]
        if command == "identify":
            args += ["--params", PARAMS, "--out", str(tmp_path / "c.yaml")]
        assert main(args) != 0
        err = capsys.readouterr().err.strip().splitlines()
        errors = [line for line in err if line.startswith("sim2real: error:")]
        assert len(errors) == 1 and text in errors[0], (name, err)
        assert "Traceback" not in "\n".join(err)
