"""Crash safety: a writer killed with SIGKILL, or a file cut anywhere, still reads back."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from logs_testdata import SPEC_HASH
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sim2real.errors import LogError
from sim2real.logs import BagWriter, read_bag
from sim2real.logs.mcap_storage import TAIL_SIZE, valid_prefix

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # mcap_ros2.reader warns on import
    from mcap_ros2.reader import read_ros2_messages

CHILD = """
import sys
from sim2real.logs import BagWriter

with BagWriter(sys.argv[1], sys.argv[2], ["a", "b"], command_joints=["a"], robot="killme") as bag:
    for i in range(10**6):
        t = i * 0.001
        bag.write_state(t, [i, -i], [0.5 * i, 1.0], [0.25 * i, 0.0])
        bag.write_command(t, [2.0 * i])
        if i % 10 == 0:
            bag.write_event(t, "tick", {"i": i})
        print(i, flush=True)  # after write_*: the message is in the file
"""


def _topic_counts_rosbags(mcap: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with Reader(mcap) as reader:
        for conn, _, _ in reader.messages():
            counts[conn.topic] = counts.get(conn.topic, 0) + 1
    return counts


def _topic_counts_anyreader(bag: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with AnyReader([bag]) as reader:
        for conn, _, _ in reader.messages():
            counts[conn.topic] = counts.get(conn.topic, 0) + 1
    return counts


def _topic_counts_mcap(mcap: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for msg in read_ros2_messages(str(mcap)):
        counts[msg.channel.topic] = counts.get(msg.channel.topic, 0) + 1
    return counts


class TestSigkill:
    def test_killed_writer_leaves_a_bag_both_readers_read(self, tmp_path):
        bag = tmp_path / "run"
        with (tmp_path / "stderr.txt").open("w") as err:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(bag), SPEC_HASH],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            reported = -1
            try:
                for line in child.stdout:
                    reported = int(line)
                    if reported >= 49:
                        break
            finally:
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=30)
                child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        assert reported >= 49, (tmp_path / "stderr.txt").read_text()
        meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        assert meta["custom_data"]["sim2real.complete"] == "false"  # the writer never got to close

        tr = read_bag(bag, expected_hash=SPEC_HASH, require_commands=True)
        assert tr.meta["complete"] is False and tr.meta["robot"] == "killme"
        assert tr.n_samples >= reported + 1
        i = np.arange(tr.n_samples)
        np.testing.assert_array_equal(tr.q, np.stack([i, -i], axis=1))
        np.testing.assert_array_equal(tr.t, (i * 1_000_000) / 1e9)  # t = i * 1 ms, on the ns grid
        np.testing.assert_array_equal(tr.command[: reported + 1, 0], 2.0 * i[: reported + 1])
        assert [ev.detail["i"] for ev in tr.events[:5]] == [0, 10, 20, 30, 40]

        (mcap,) = bag.glob("*.mcap")
        for counts in (_topic_counts_rosbags(mcap), _topic_counts_mcap(mcap), _topic_counts_anyreader(bag)):
            assert counts["/joint_states"] >= reported + 1
            assert counts["/joint_commands"] >= reported + 1
            assert counts["/sim2real/meta"] == 1


def _open_writer_snapshots(tmp_path: Path, n: int) -> list[bytes]:
    """File contents after each of ``n`` states, copied while the writer is still open."""
    snaps = []
    with BagWriter(tmp_path / "live", SPEC_HASH, ["a"]) as bag:
        (mcap,) = (tmp_path / "live").glob("*.mcap")
        for i in range(n):
            bag.write_state(i * 0.01, [float(i)], [0.0], [1.0])
            snaps.append(mcap.read_bytes())
    return snaps


def _read_cut(tmp_path: Path, data: bytes, name: str):
    bag = tmp_path / name
    bag.mkdir()
    (bag / f"{name}_0.mcap").write_bytes(data)
    return read_bag(bag)


class TestFlushedFile:
    def test_every_message_is_in_the_file_as_soon_as_it_is_written(self, tmp_path):
        for i, snap in enumerate(_open_writer_snapshots(tmp_path, 5)):
            tr = _read_cut(tmp_path, snap, f"s{i}")
            assert tr.q[:, 0].tolist() == [float(k) for k in range(i + 1)]

    def test_flush_period_defers_writes_until_flush(self, tmp_path):
        with BagWriter(tmp_path / "run", None, ["a"], flush_period=3600.0) as bag:
            (mcap,) = (tmp_path / "run").glob("*.mcap")
            bag.write_state(0.0, [1.0], [0.0])
            bag.write_state(0.1, [2.0], [0.0])
            before = mcap.read_bytes()
            bag.flush()
            after = mcap.read_bytes()
        with pytest.raises(LogError, match="no messages on /joint_states"):
            _read_cut(tmp_path, before, "before")
        assert _read_cut(tmp_path, after, "after").q[:, 0].tolist() == [1.0, 2.0]

    def test_interrupted_write_over_the_old_tail_drops_only_the_new_record(self, tmp_path):
        """A kill inside the pwrite that replaces the 50-byte tail: old tail bytes stay behind."""
        old, new = _open_writer_snapshots(tmp_path, 7)[-2:]
        start = len(old) - TAIL_SIZE  # where the new record begins
        record = len(new) - len(old)  # its length
        assert record > TAIL_SIZE
        for k in range(1, len(new) - start):
            cut = new[: start + k] + old[start + k :]  # k bytes of the new write landed
            tr = _read_cut(tmp_path, cut, f"k{k}")
            expected = 7 if k >= record else 6
            assert tr.q[:, 0].tolist() == [float(i) for i in range(expected)], k

    def test_file_cut_anywhere_reads_a_prefix_or_fails_cleanly(self, tmp_path):
        full = _open_writer_snapshots(tmp_path, 30)[-1]
        rng = np.random.default_rng(7)
        kept = []
        for j, cut in enumerate(sorted(rng.choice(len(full), size=60, replace=False))):
            try:
                tr = _read_cut(tmp_path, full[:cut], f"c{j}")
            except LogError as exc:
                assert "not an MCAP file" in str(exc) or "no messages on /joint_states" in str(exc)
                continue
            assert tr.q[:, 0].tolist() == [float(i) for i in range(tr.n_samples)]
            kept.append(tr.n_samples)
        assert kept == sorted(kept) and kept[-1] >= 25

    def test_valid_prefix_of_a_flushed_file_is_intact(self, tmp_path):
        path = tmp_path / "x.mcap"
        path.write_bytes(_open_writer_snapshots(tmp_path, 3)[-1])
        length, intact = valid_prefix(path)
        assert intact and length == path.stat().st_size - TAIL_SIZE
        shutil.copy(path, tmp_path / "y.mcap")
        with (tmp_path / "y.mcap").open("r+b") as fh:
            fh.truncate(path.stat().st_size - 3)
        assert valid_prefix(tmp_path / "y.mcap") == (length, False)

    def test_a_record_followed_by_non_record_bytes_is_dropped_too(self, tmp_path):
        """Stale bytes after a short, partly written record make that record suspect."""
        snap = _open_writer_snapshots(tmp_path, 3)[-1]
        data = snap[:-TAIL_SIZE]
        fake = bytes([0x05]) + (30).to_bytes(8, "little") + bytes(30)  # a complete-looking message record
        path = tmp_path / "g.mcap"
        path.write_bytes(data + fake + b"\x00" * 20)
        assert valid_prefix(path) == (len(data), False)
        tr = _read_cut(tmp_path, path.read_bytes(), "g")
        assert tr.q[:, 0].tolist() == [0.0, 1.0, 2.0]


class TestOtherRecorders:
    def test_chunked_bag_cut_inside_a_chunk_keeps_the_complete_chunks(self, tmp_path):
        """rosbags' stock writer (and ros2 bag record) buffer 1 MiB chunks; a cut keeps the complete
        chunks and the whole messages of the cut one (logs/mcap_chunk.py, test_mcap_chunk)."""
        store = get_typestore(Stores.ROS2_JAZZY)
        js, header, stamp = (
            store.types[n]
            for n in ("sensor_msgs/msg/JointState", "std_msgs/msg/Header", "builtin_interfaces/msg/Time")
        )
        names = [f"joint_{i}" for i in range(12)]
        with Writer(tmp_path / "stock", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            conn = writer.add_connection("/joint_states", js.__msgtype__, typestore=store)
            for i in range(8000):
                ns = 10**9 + i * 2_000_000
                msg = js(
                    header=header(stamp=stamp(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=""),
                    name=names,
                    position=np.full(12, float(i)),
                    velocity=np.zeros(12),
                    effort=np.zeros(12),
                )
                writer.write(conn, ns, store.serialize_cdr(msg, js.__msgtype__))
        mcap = tmp_path / "stock" / "stock.mcap"
        with mcap.open("rb") as fh:
            chunks = make_reader(fh).get_summary().chunk_indexes
        assert len(chunks) >= 3
        assert read_bag(tmp_path / "stock").n_samples == 8000
        cut_at = chunks[2].chunk_start_offset + chunks[2].chunk_length // 2  # inside the third chunk
        tr = _read_cut(tmp_path, mcap.read_bytes()[:cut_at], "cut")
        complete = (chunks[1].message_end_time - 10**9) // 2_000_000 + 1  # all of the first two chunks
        whole = (chunks[2].message_end_time - 10**9) // 2_000_000 + 1  # and the third
        assert complete < tr.n_samples < whole  # the cut chunk's first half too
        np.testing.assert_array_equal(tr.q[:, 0], np.arange(tr.n_samples, dtype=float))
        assert tr.joint_names == tuple(names) and tr.meta["complete"] is False


class TestLiveMetadata:
    """metadata.yaml exists from the first moment, so the directory is a rosbag2 bag at every moment."""

    def _read(self, bag: Path) -> tuple[list[str], int]:
        with AnyReader([bag]) as reader:
            return [conn.topic for conn, _, _ in reader.messages()], reader.message_count

    def test_an_open_bag_reads_as_a_directory_at_every_moment(self, tmp_path):
        bag = tmp_path / "run"
        with BagWriter(bag, SPEC_HASH, ["a"], metadata_period=3600.0) as writer:
            assert self._read(bag) == ([], 0)  # opened: an empty bag
            writer.write_state(0.0, [1.0], [0.0])
            topics, _ = self._read(bag)
            assert topics == ["/sim2real/meta", "/joint_states"]
            writer.write_state(0.01, [2.0], [0.0])
            writer.write_command(0.01, [0.5])  # a new topic is in metadata.yaml before its first message
            topics, counted = self._read(bag)
            assert topics == ["/sim2real/meta", "/joint_states", "/joint_states", "/joint_commands"]
            # counts were last refreshed when the commands topic was added (3 messages then); all 4 read
            assert counted == 3
            meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
            assert meta["custom_data"]["sim2real.complete"] == "false"
        topics, counted = self._read(bag)
        assert counted == len(topics) == 4
        meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        assert meta["custom_data"]["sim2real.complete"] == "true"
        assert read_bag(bag).meta["complete"] is True

    def test_counts_are_refreshed_every_period(self, tmp_path):
        bag = tmp_path / "run"
        with BagWriter(bag, SPEC_HASH, ["a"], metadata_period=0.0) as writer:
            for i in range(5):
                writer.write_state(0.01 * i, [float(i)], [0.0])
            topics, counted = self._read(bag)
            assert counted == len(topics) == 6
            tr = read_bag(bag)
            assert tr.meta["complete"] is False and tr.n_samples == 5
