"""ROS 1 bags whose recorder was killed (no index: ``index_pos`` 0, ``.bag.active``), possibly cut
at a record boundary or inside a chunk, or left with an open chunk (``size`` and ``data_len`` 0),
read by scanning: the messages up to the cut, the same trajectory as the indexed bag of those
messages (to the nanosecond), a warning naming what was recovered; garbage is one error line."""

from __future__ import annotations

import heapq
import logging
import random
import struct
from pathlib import Path

import pytest
from logs_testdata import make_trajectory
from ros1_testdata import (
    assert_same_run,
    chunk_layout,
    unindexed,
    with_open_last_chunk,
    write_ros1,
)
from rosbags.rosbag1 import Reader, Writer

from sim2real.errors import LogError
from sim2real.logs import read_bag
from sim2real.logs.bag_ros1 import open_ros1

COMPRESSIONS = {"none": None, "bz2": Writer.CompressionFormat.BZ2, "lz4": Writer.CompressionFormat.LZ4}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """compression -> (the indexed ROS 1 bag of the synthetic run, in many small chunks)."""
    folder = tmp_path_factory.mktemp("scan")
    want = make_trajectory()
    return {
        name: write_ros1(folder / f"{name}.bag", want, compression=c, chunk_bytes=4096)
        for name, c in COMPRESSIONS.items()
    }


def _in_order(messages: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
    """By time, then topic (rosbags orders equal times by connection, the scan by file position)."""
    return sorted(messages, key=lambda m: (m[1], m[0]))


def _kept(good: Path, keep=lambda chunk, offset: True) -> list[tuple[str, int, bytes]]:
    """(topic, time [ns], raw) of the indexed bag's messages whose (chunk position, offset in the
    chunk) ``keep`` accepts."""
    with Reader(good) as reader:
        entries = heapq.merge(*(reader.indexes[c.id] for c in reader.connections))
        return _in_order(
            [
                (conn.topic, ns, bytes(raw))
                for entry, (conn, ns, raw) in zip(entries, reader.messages(), strict=True)
                if keep(entry.chunk_pos, entry.offset)
            ]
        )


def _scanned_messages(bag: Path) -> list[tuple[str, int, bytes]]:
    with open_ros1(bag) as opened:
        assert not opened.complete
        return _in_order([(c.topic, ns, bytes(raw)) for c, ns, raw in opened.messages()])


def _indexed_bag_of(good: Path, messages, path: Path) -> Path:
    """An indexed bag of ``messages`` (those of ``good``), its connections as ``good``'s."""
    with Reader(good) as reader:
        conns = {c.topic: c for c in reader.connections}
    with Writer(path) as writer:
        made = {}
        for topic, ns, raw in messages:
            if topic not in made:
                c = conns[topic]
                made[topic] = writer.add_connection(topic, c.msgtype, msgdef=c.msgdef.data, md5sum=c.digest)
            writer.write(made[topic], ns, raw)
    return path


def _cut_case(good: Path, case: str, compression: str) -> tuple[bytes, object, int]:
    """(bytes of the killed recorder's file, which indexed messages it still holds, bytes ignored)."""
    data = good.read_bytes()
    layout = chunk_layout(good)
    pos, datapos, datasize, msgs = layout[len(layout) // 2]  # a chunk in the middle
    if case == "whole":  # only the index position lost: every record there
        return unindexed(data), lambda c, o: True, 0
    if case == "boundary":  # cut right after a chunk record (before its index records)
        return unindexed(data)[: datapos + datasize], lambda c, o: c <= pos, 0
    if case == "mid_chunk":  # cut 10 bytes into a message record inside a chunk
        offset = msgs[len(msgs) // 2][0]
        if compression == "none":
            return (
                unindexed(data)[: datapos + offset + 10],
                lambda c, o: c < pos or (c == pos and o < offset),
                10,
            )
        cut = datapos + datasize // 2
        return unindexed(data)[:cut], lambda c, o: c < pos, 0
    if case == "open":  # rosbag record killed while writing its last chunk
        return unindexed(with_open_last_chunk(data, good)), lambda c, o: True, 0
    raise AssertionError(case)


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
@pytest.mark.parametrize("case", ["whole", "boundary", "mid_chunk", "open"])
def test_an_unindexed_bag_reads_as_the_indexed_bag_up_to_the_cut(runs, tmp_path, caplog, compression, case):
    good = runs[compression]
    content, keep, ignored = _cut_case(good, case, compression)
    bag = tmp_path / "run.bag.active"
    bag.write_bytes(content)
    want_messages = _kept(good, keep)
    assert 0 < len(want_messages) <= len(_kept(good))
    assert _scanned_messages(bag) == want_messages

    reference = _indexed_bag_of(good, want_messages, tmp_path / "reference.bag")
    want = read_bag(reference, command_joints=("knee", "hip"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        got = read_bag(bag, command_joints=("knee", "hip"))
    assert_same_run(got, want)
    assert got.meta["complete"] is False
    last = max(ns for _, ns, _ in want_messages) / 1e9
    said = [r.getMessage() for r in caplog.records if "read by scanning" in r.getMessage()]
    assert said == [
        f"{bag}: no index (its recorder did not close it): read by scanning, {len(want_messages)} messages, "
        f"up to t = {last:.3f} s ({last - min(ns for _, ns, _ in want_messages) / 1e9:.3f} s of recording)"
        + (f"; a cut final record of {ignored} bytes ignored" if ignored else "")
        + (
            f"; a cut final {compression} chunk of {len(content) - chunk_layout(good)[len(chunk_layout(good)) // 2][1]} "
            "bytes ignored"
            if case == "mid_chunk" and compression != "none"
            else ""
        )
    ]


def test_an_open_chunk_cut_inside_a_record(runs, tmp_path, caplog):
    """rosbag record's open (uncompressed) chunk, the file ending 7 bytes into a message record."""
    good = runs["none"]
    pos, datapos, _, msgs = chunk_layout(good)[-1]
    offset = msgs[-3][0]
    bag = tmp_path / "killed.bag.active"
    bag.write_bytes(unindexed(with_open_last_chunk(good.read_bytes(), good))[: datapos + offset + 7])
    want = _kept(good, lambda c, o: c < pos or o < offset)
    with caplog.at_level(logging.WARNING):
        assert _scanned_messages(bag) == want
    assert "a cut final record of 7 bytes ignored" in caplog.text


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
def test_killed_right_after_opening_a_chunk(runs, tmp_path, caplog, compression):
    """The open chunk's header written, none of its data: the chunks before it read."""
    good = runs[compression]
    pos, datapos, _, _ = chunk_layout(good)[-1]
    bag = tmp_path / "opened.bag.active"
    bag.write_bytes(unindexed(with_open_last_chunk(good.read_bytes(), good))[:datapos])
    with caplog.at_level(logging.WARNING):
        assert _scanned_messages(bag) == _kept(good, lambda c, o: c < pos)
    assert "read by scanning" in caplog.text and "ignored" not in caplog.text


def test_a_tail_of_zeros_after_the_last_record_is_ignored(runs, tmp_path):
    """A power loss can leave the file's last blocks zero-filled."""
    good = runs["none"]
    data = unindexed(with_open_last_chunk(good.read_bytes(), good))
    bag = tmp_path / "zeros.bag.active"
    bag.write_bytes(data + bytes(3000))
    assert _scanned_messages(bag) == _kept(good)


def test_a_bag_cut_before_its_index_is_read_by_scanning(runs, tmp_path, caplog):
    """A closed bag cut short (an interrupted copy): its index lies past the file's end."""
    good = runs["lz4"]
    pos, datapos, datasize, _ = chunk_layout(good)[2]
    bag = tmp_path / "copy.bag"
    bag.write_bytes(good.read_bytes()[: datapos + datasize])
    with caplog.at_level(logging.WARNING):
        assert _scanned_messages(bag) == _kept(good, lambda c, o: c <= pos)
    assert f"{bag}: cut short ({datapos + datasize} bytes, its index starts at byte" in caplog.text


def _header_end(data: bytes) -> int:
    """Where the bag header record (after the magic line) ends."""
    (hlen,) = struct.unpack_from("<I", data, 13)
    (dlen,) = struct.unpack_from("<I", data, 17 + hlen)
    return 21 + hlen + dlen


class TestDamage:
    @staticmethod
    def _refused(path: Path, match: str) -> None:
        with pytest.raises(LogError, match=match) as err:
            read_bag(path)
        text = str(err.value)
        assert "\n" not in text and text.startswith(str(path))

    @pytest.mark.parametrize("seed", range(5))
    def test_garbage_after_the_header_is_one_error_line(self, runs, tmp_path, seed):
        data = unindexed(runs["none"].read_bytes())
        end = _header_end(data)
        garbage = random.Random(seed).randbytes(20_000)
        bag = tmp_path / "garbage.bag.active"
        bag.write_bytes(data[:end] + garbage)
        self._refused(bag, f"damaged ROS 1 bag at byte {end} ")

    def test_a_damaged_chunk_before_the_last_record_is_one_error_line(self, runs, tmp_path):
        good = runs["bz2"]
        pos, datapos, _, _ = chunk_layout(good)[1]
        data = bytearray(unindexed(good.read_bytes()))
        data[datapos + 20 : datapos + 60] = bytes(range(40))
        bag = tmp_path / "bad.bag.active"
        bag.write_bytes(bytes(data))
        self._refused(bag, rf"damaged ROS 1 bag at byte {pos} \(a bz2 chunk that does not decompress")

    def test_a_message_record_damaged_inside_an_uncompressed_chunk(self, runs, tmp_path):
        good = runs["none"]
        pos, datapos, _, msgs = chunk_layout(good)[1]
        data = bytearray(unindexed(good.read_bytes()))
        at = datapos + msgs[1][0]
        data[at : at + 4] = struct.pack("<I", 7)  # a header length that cuts its fields
        bag = tmp_path / "record.bag.active"
        bag.write_bytes(bytes(data))
        self._refused(bag, rf"damaged ROS 1 bag at byte {pos} \(a record header that does not parse\)")

    def test_only_the_header_left_reads_as_a_bag_without_messages(self, runs, tmp_path):
        data = unindexed(runs["none"].read_bytes())
        bag = tmp_path / "empty.bag.active"
        bag.write_bytes(data[: _header_end(data)])
        self._refused(bag, "no messages on /joint_states")


@pytest.mark.parametrize("compression", ["bz2", "lz4"])
def test_each_compressed_chunk_is_decompressed_once(runs, tmp_path, monkeypatch, compression):
    """The scan decompressed every chunk, and reading its messages decompressed each again."""
    import sim2real.logs.bag_ros1_scan as scan_module

    bag = tmp_path / "run.bag.active"
    bag.write_bytes(unindexed(runs[compression].read_bytes()))
    made = []
    real = {"bz2": scan_module.bz2.BZ2Decompressor, "lz4": scan_module.lz4.frame.LZ4FrameDecompressor}[compression]

    def counted():
        made.append(1)
        return real()

    if compression == "bz2":
        monkeypatch.setattr(scan_module.bz2, "BZ2Decompressor", counted)
    else:
        monkeypatch.setattr(scan_module.lz4.frame, "LZ4FrameDecompressor", counted)
    want, chunks = _kept(runs[compression]), len(chunk_layout(runs[compression]))
    made.clear()  # rosbags' reader decompresses with the same class
    assert _scanned_messages(bag) == want
    assert len(made) == chunks
