"""A chunked MCAP file (``ros2 bag record``, rosbags' writer) cut inside a chunk: the chunk's
complete messages recovered where the compression allows it."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import lz4.frame
import numpy as np
import pytest
from logs_testdata import EPOCH, JS, STORE, foreign_state
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

from sim2real.errors import LogError
from sim2real.logs import read_bag

N = 3000
"""Joint states in the bag: about 0.4 MB, one chunk of several zstd and lz4 blocks."""
STEP = 2_000_000


def _chunk(data: bytes) -> tuple[int, int]:
    """Start and length of the (first) chunk record of an MCAP file's bytes."""
    pos = 8 + 9 + struct.unpack_from("<Q", data, 9)[0]
    while data[pos] != 0x06:
        pos += 9 + struct.unpack_from("<Q", data, pos + 1)[0]
    return pos, struct.unpack_from("<Q", data, pos + 1)[0]


def _as_lz4(data: bytes) -> bytes:
    """The file with its uncompressed chunk's records lz4-compressed (64 KiB blocks), as the MCAP
    C++ writer's lz4 option writes them; what follows the chunk is dropped (it is cut anyway)."""
    pos, length = _chunk(data)
    head = pos + 9 + 8 * 3 + 4
    (name_len,) = struct.unpack_from("<I", data, head)
    assert name_len == 0
    records = data[head + 4 + 8 : pos + 9 + length]
    packed = lz4.frame.compress(records, block_size=lz4.frame.BLOCKSIZE_MAX64KB)
    body = data[pos + 9 : head] + struct.pack("<I", 3) + b"lz4" + struct.pack("<Q", len(packed)) + packed
    return data[:pos] + struct.pack("<BQ", 0x06, len(body)) + body


def _cut_bag(path: Path, compression: str, share: float = 0.6) -> Path:
    """A bag of N joint states (q = i, velocities random: not very compressible) in one chunk, cut ``share`` of the way into the chunk, and no
    metadata.yaml (the recorder was killed)."""
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    if compression == "zstd":
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    velocity = np.random.default_rng(0).normal(size=(N, 8))
    with writer:
        conn = writer.add_connection("/joint_states", JS.__msgtype__, typestore=STORE)
        for i in range(N):
            ns = EPOCH + i * STEP
            msg = foreign_state(ns, [f"j{k}" for k in range(8)], [float(i)] * 8, velocity[i])
            writer.write(conn, ns, STORE.serialize_cdr(msg, JS.__msgtype__))
    (file,) = path.glob("*.mcap")
    data = file.read_bytes()
    if compression == "lz4":
        data = _as_lz4(data)
    pos, length = _chunk(data)
    file.write_bytes(data[: pos + 9 + int(share * length)])
    (path / "metadata.yaml").unlink()
    return path


class TestCutChunk:
    @pytest.mark.parametrize("compression", ["none", "zstd", "lz4"])
    def test_the_complete_messages_of_a_cut_chunk_are_read_and_the_loss_said(
        self, tmp_path, compression, caplog
    ):
        bag = _cut_bag(tmp_path / "bag", compression)
        with caplog.at_level(logging.WARNING):
            back = read_bag(bag)  # before: 'no messages on /joint_states' (the whole chunk dropped)
        n = len(back.t)
        assert 0.2 * N < n < N
        np.testing.assert_array_equal(back.q[:, 0], np.arange(n))
        np.testing.assert_allclose(
            back.t - back.t[0], np.arange(n) * STEP / 1e9, atol=1e-6
        )  # Unix seconds in float
        said = next(r.getMessage() for r in caplog.records if "cut inside its last chunk" in r.getMessage())
        kind = "uncompressed" if compression == "none" else f"{compression}-compressed"
        assert f"({kind}): {n} messages recovered ({(n - 1) * STEP / 1e9:.3f} s), its last " in said
        assert f"{(N - n) * STEP / 1e9:.3f} s lost" in said

    @pytest.mark.parametrize("compression", ["none", "zstd", "lz4"])
    @pytest.mark.parametrize("share", [0.31, 0.47, 0.6, 0.73])
    def test_a_zero_filled_tail_is_no_data(self, tmp_path, compression, share):
        """A crash can leave zeros after the last bytes written: read as records they completed the
        half-written message (its velocities 0 where they are about 1) or refused the whole bag
        (CDR size mismatch)."""
        bag = _cut_bag(tmp_path / "bag", compression, share)
        (file,) = bag.glob("*.mcap")
        file.write_bytes(file.read_bytes() + bytes(4096))
        back = read_bag(bag)
        n = len(back.t)
        assert 0.1 * N < n < N
        np.testing.assert_array_equal(back.q[:, 0], np.arange(n))
        assert np.all(back.qd[-1] != 0.0)  # the last sample is a message as written, not zero-filled

    def test_a_chunk_cut_inside_its_header_is_lost_with_a_clear_line(self, tmp_path):
        bag = _cut_bag(tmp_path / "bag", "none", share=0.0)
        with pytest.raises(LogError, match="no messages on /joint_states"):
            read_bag(bag)


class TestUndecodableMessages:
    """A crash can leave the last message written half done, or bytes that are no message: the bag
    was refused whole ('corrupt message data'), losing everything recorded before it."""

    @staticmethod
    def _bag(path: Path, finished: bool) -> Path:
        with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            conn = writer.add_connection("/joint_states", JS.__msgtype__, typestore=STORE)
            for i in range(50):
                ns = EPOCH + i * STEP
                msg = foreign_state(ns, ["j0"], [float(i)], [1.0])
                writer.write(conn, ns, STORE.serialize_cdr(msg, JS.__msgtype__))
            writer.write(conn, EPOCH + 50 * STEP, b"\x00\x01\x00\x00\xff\xff\xff\x7f")  # no JointState
        if not finished:
            (path / "metadata.yaml").unlink()
        return path

    def test_a_cut_recordings_undecodable_messages_are_left_out_and_said(self, tmp_path, caplog):
        with caplog.at_level(logging.WARNING):
            back = read_bag(self._bag(tmp_path / "cut", finished=False))
        np.testing.assert_array_equal(back.q[:, 0], np.arange(50))
        assert any("its last 1 messages do not decode" in r.getMessage() for r in caplog.records)

    def test_a_finished_bags_undecodable_message_is_still_refused(self, tmp_path):
        with pytest.raises(LogError, match="corrupt message data"):
            read_bag(self._bag(tmp_path / "done", finished=True))

