"""rosbag2 bags as ``ros2 bag record`` splits and compresses them: several storage files
(``--max-bag-size``), zstd per file (``.mcap.zstd``, ``.db3.zstd``) or per message, MCAP and sqlite3,
with ``metadata.yaml`` or without it (a killed recorder, a copy of the files alone), read as one run
in time order; a storage file given alone."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from logs_testdata import EPOCH, STEP, write_split
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2.enums import CompressionMode

from sim2real.errors import LogError
from sim2real.logs import read_bag
from sim2real.logs.bag_ros2 import split_number

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
COMPRESSIONS = {"plain": None, "file": CompressionMode.FILE, "message": CompressionMode.MESSAGE}
N = 30


def _check(back, first: int = 0, n: int = N) -> None:
    """Samples ``first`` .. ``first + n - 1`` of :func:`write_split`'s run, in time order."""
    want = np.arange(first, first + n, dtype=float)
    np.testing.assert_array_equal(back.q[:, 0], want)
    np.testing.assert_array_equal(back.command[:, 0], want)
    np.testing.assert_array_equal(np.round(back.t * 1e9), EPOCH + want * STEP)
    np.testing.assert_allclose(back.t - back.command_t, 0.0, atol=1e-9)


def _read(path: Path):
    return read_bag(path, command_joints=("a",))


@pytest.mark.parametrize("compression", list(COMPRESSIONS), ids=list(COMPRESSIONS))
@pytest.mark.parametrize("storage", list(STORAGES), ids=list(STORAGES))
class TestAsRecorded:
    def test_the_parts_read_as_one_run(self, tmp_path, storage, compression):
        bag = write_split(tmp_path / "run", N, 3, STORAGES[storage], COMPRESSIONS[compression])
        back = _read(bag)
        _check(back)
        assert back.meta["complete"] is True

    def test_without_metadata_yaml_the_parts_read_as_one_run(self, tmp_path, storage, compression):
        """Compressed files (``.zstd``) were 'not a rosbag2 bag', compressed messages a traceback."""
        bag = write_split(tmp_path / "run", N, 3, STORAGES[storage], COMPRESSIONS[compression])
        (bag / "metadata.yaml").unlink()
        back = _read(bag)
        _check(back)
        assert back.meta["complete"] is False

    def test_one_storage_file_given_alone(self, tmp_path, storage, compression):
        (file,) = [
            p
            for p in write_split(
                tmp_path / "run", N, 1, STORAGES[storage], COMPRESSIONS[compression]
            ).iterdir()
            if p.name != "metadata.yaml"
        ]
        _check(_read(file))


class TestKilledWhileCompressingFiles:
    """``--compression-mode file`` compresses each part when the next one starts: a recorder killed
    leaves ``NAME_0.mcap.zstd``, ``NAME_1.mcap.zstd`` and the part it was writing, ``NAME_2.mcap``."""

    @staticmethod
    def _killed(tmp_path: Path) -> Path:
        bag = write_split(tmp_path / "run", N, 3, StoragePlugin.MCAP, CompressionMode.FILE)
        from backports import zstd

        last = bag / "run_2.mcap.zstd"
        with zstd.open(last, "rb") as src, (bag / "run_2.mcap").open("wb") as dst:
            shutil.copyfileobj(src, dst)
        last.unlink()
        return bag

    def test_every_part_is_read_when_metadata_yaml_lists_a_name_not_there_yet(self, tmp_path, caplog):
        """Only the last, uncompressed part was read (10 of 30 samples), under a warning that did not
        say so."""
        bag = self._killed(tmp_path)
        with caplog.at_level(logging.WARNING):
            back = _read(bag)
        _check(back)
        assert back.meta["complete"] is False
        assert any("reading its 3 storage files in order" in r.getMessage() for r in caplog.records)

    def test_every_part_is_read_without_metadata_yaml(self, tmp_path):
        bag = self._killed(tmp_path)
        (bag / "metadata.yaml").unlink()
        _check(_read(bag))


def test_a_metadata_version_rosbags_does_not_read_falls_back_to_the_storage_files(tmp_path, caplog):
    """rosbags reads metadata.yaml up to version 9: a newer rosbag2's bag is read from its files, with a
    warning that does not claim metadata.yaml is missing (it said 'no metadata.yaml')."""
    bag = write_split(tmp_path / "run", N, 3, StoragePlugin.MCAP, CompressionMode.FILE)
    meta = bag / "metadata.yaml"
    meta.write_text(meta.read_text().replace("  version: 9", "  version: 10"))
    with caplog.at_level(logging.WARNING):
        _check(_read(bag))
    lines = [r.getMessage() for r in caplog.records]
    assert any("Rosbag2 version 10 not supported" in line for line in lines)
    assert any("metadata.yaml not read; reading its 3 storage files in order" in line for line in lines)
    assert not any("no metadata.yaml" in line for line in lines)


class TestMissingPart:
    """A part not copied: read without it, the run had a hole in time (the other parts were merged
    without a word beyond rosbags' 'Some database files are missing')."""

    @pytest.mark.parametrize("metadata", [True, False], ids=["listed", "numbered"])
    def test_a_missing_middle_part_is_one_error_line(self, tmp_path, metadata):
        bag = write_split(tmp_path / "run", N, 3, StoragePlugin.MCAP, CompressionMode.FILE)
        (bag / "run_1.mcap.zstd").unlink()
        if not metadata:
            (bag / "metadata.yaml").unlink()
        match = "run_1.mcap.zstd" if metadata else "part 1"
        with pytest.raises(LogError, match=rf"{match} of the split bag is missing: .*hole") as err:
            _read(bag)
        assert "\n" not in str(err.value)

    def test_a_missing_last_part_leaves_a_shorter_run(self, tmp_path, caplog):
        bag = write_split(tmp_path / "run", N, 3)
        (bag / "run_2.mcap").unlink()
        with caplog.at_level(logging.WARNING):
            _check(_read(bag), n=20)
        assert any("Some database files are missing" in r.getMessage() for r in caplog.records)


class TestOrder:
    def test_parts_are_merged_in_time_order_whatever_their_names_sort_as(self, tmp_path):
        bag = write_split(tmp_path / "run", 40, 11, StoragePlugin.SQLITE3, CompressionMode.FILE)
        (bag / "metadata.yaml").unlink()
        _check(_read(bag), n=40)  # run_10 after run_9

    @pytest.mark.parametrize(
        ("name", "number"),
        [
            ("run_3.mcap", 3),
            ("run_12.db3.zstd", 12),
            ("r_2024_01_01-10_00_00_7.mcap.zstd", 7),
            ("run.mcap", None),
            ("run_0.bag.active", 0),
        ],
    )
    def test_the_part_number_of_a_file_name(self, name, number):
        assert split_number(name) == number


class TestOnePartGivenAlone:
    def test_it_is_read_with_a_warning_naming_the_folder(self, tmp_path, caplog):
        bag = write_split(tmp_path / "run", N, 3)
        with caplog.at_level(logging.WARNING):
            back = _read(bag / "run_1.mcap")
        _check(back, first=10, n=10)
        assert any(
            "one of the 3 files of the split bag" in r.getMessage() and "give the folder" in r.getMessage()
            for r in caplog.records
        )


class TestBadData:
    def test_a_compressed_file_that_does_not_decompress_is_one_error_line(self, tmp_path):
        bag = write_split(tmp_path / "run", N, 2, StoragePlugin.MCAP, CompressionMode.FILE)
        (bag / "metadata.yaml").unlink()
        (bag / "run_1.mcap.zstd").write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 10)
        with pytest.raises(LogError, match=r"run_1.mcap.zstd does not decompress as zstd") as err:
            _read(bag)
        assert "\n" not in str(err.value)

    def test_a_message_that_is_not_cdr_is_one_error_line(self, tmp_path):
        """rosbags' SerdeError ('Invalid or unsupported CDR encapsulation') was a traceback."""
        bag = write_split(tmp_path / "run", N, 1, StoragePlugin.MCAP, CompressionMode.MESSAGE)
        (bag / "metadata.yaml").unlink()
        (file,) = bag.glob("*.mcap")
        data = bytearray(file.read_bytes())
        at = data.index(b"\x28\xb5\x2f\xfd")  # the first compressed message: no longer a zstd frame
        data[at] = 0x29
        file.write_bytes(bytes(data))
        with pytest.raises(LogError, match="corrupt message data") as err:
            _read(bag)
        assert "\n" not in str(err.value)


class TestKilledWhileCompressingOneFile:
    """A recorder compressing each file, killed after it wrote ``NAME_2.mcap.zstd`` (whole, or cut
    short mid-compression) but before it deleted ``NAME_2.mcap``: both files hold part 2."""

    @staticmethod
    def _both(tmp_path: Path, cut: bool) -> Path:
        bag = write_split(tmp_path / "run", N, 3, StoragePlugin.MCAP, CompressionMode.FILE)
        from backports import zstd

        packed = bag / "run_2.mcap.zstd"
        with zstd.open(packed, "rb") as src, (bag / "run_2.mcap").open("wb") as dst:
            shutil.copyfileobj(src, dst)
        if cut:
            data = packed.read_bytes()
            packed.write_bytes(data[: len(data) // 2])
        return bag

    @pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut"])
    def test_the_part_is_read_once_without_metadata_yaml(self, tmp_path, cut, caplog):
        """Its messages were read twice (40 commands for 30, the last 10 twice), or, the .zstd cut,
        the run refused although the uncompressed part was whole."""
        bag = self._both(tmp_path, cut)
        (bag / "metadata.yaml").unlink()
        with caplog.at_level(logging.WARNING):
            _check(_read(bag))
        assert any(
            "run_2.mcap.zstd" in r.getMessage() and "run_2.mcap " in r.getMessage() for r in caplog.records
        )

    def test_the_uncompressed_part_is_read_when_the_listed_zstd_was_cut(self, tmp_path):
        """rosbags' EOFError ('Compressed file ended before the end-of-stream marker') was a traceback."""
        bag = self._both(tmp_path, cut=True)
        back = _read(bag)
        _check(back)
        assert back.meta["complete"] is False


def test_a_listed_zstd_file_cut_short_is_one_error_line(tmp_path):
    """A copy cut short: rosbags' EOFError from the bag's metadata.yaml read was a traceback."""
    bag = write_split(tmp_path / "run", N, 3, StoragePlugin.MCAP, CompressionMode.FILE)
    packed = bag / "run_2.mcap.zstd"
    data = packed.read_bytes()
    packed.write_bytes(data[: len(data) // 2])
    with pytest.raises(LogError, match=r"run_2.mcap.zstd does not decompress as zstd") as err:
        _read(bag)
    assert "\n" not in str(err.value)


class TestNotOneRecording:
    """Storage files of two recordings in one folder without ``metadata.yaml`` were merged by time as
    one run (a ROS 1 folder of the same is refused, :mod:`~sim2real.logs.bag_ros1`)."""

    @staticmethod
    def _folder(tmp_path: Path, names: tuple[str, str]) -> Path:
        both = tmp_path / "both"
        both.mkdir()
        for k, name in enumerate(names):
            bag = write_split(tmp_path / f"rec{k}", N, 1)
            (file,) = bag.glob("*.mcap")
            shutil.copy(file, both / name)
        return both

    @pytest.mark.parametrize(
        ("names", "why"),
        [
            (("morning_0.mcap", "evening_0.mcap"), "shares its part number"),
            (("morning.mcap", "evening_1.mcap"), "has no part number"),
        ],
        ids=["number twice", "no number"],
    )
    def test_is_one_error_line(self, tmp_path, names, why):
        with pytest.raises(LogError, match=rf"not the parts of one split bag .*{why}.*give each") as err:
            _read(self._folder(tmp_path, names))
        assert "\n" not in str(err.value)
