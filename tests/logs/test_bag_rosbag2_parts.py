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
import yaml
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
        assert any(
            "run_2.mcap for run_2.mcap.zstd" in r.getMessage() and "incomplete" in r.getMessage()
            for r in caplog.records
        )

    def test_every_part_is_read_without_metadata_yaml(self, tmp_path):
        bag = self._killed(tmp_path)
        (bag / "metadata.yaml").unlink()
        _check(_read(bag))


def test_a_metadata_version_rosbags_does_not_read_is_read_from_its_listing(tmp_path, caplog):
    """rosbags reads metadata.yaml up to version 9; a newer rosbag2's bag is read from the files it
    lists (each storage file read as itself), as a whole run (it was read as a killed recorder's)."""
    bag = write_split(tmp_path / "run", N, 3, StoragePlugin.MCAP, CompressionMode.FILE)
    meta = bag / "metadata.yaml"
    meta.write_text(meta.read_text().replace("  version: 9", "  version: 10"))
    with caplog.at_level(logging.WARNING):
        back = _read(bag)
    _check(back)
    assert back.meta["complete"] is True
    assert not any("metadata.yaml" in r.getMessage() for r in caplog.records)


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

    @pytest.mark.parametrize("storage", list(STORAGES), ids=list(STORAGES))
    def test_a_missing_last_part_is_read_without_it_under_a_warning_naming_it_and_its_span(
        self, tmp_path, caplog, storage
    ):
        """It read as a shorter run, the only word rosbags' 'Some database files are missing' (not
        shown), and the run marked complete by nothing but a fallback."""
        bag = write_split(tmp_path / "run", N, 3, STORAGES[storage])
        last = next(bag.glob("run_2.*"))
        last.unlink()
        with caplog.at_level(logging.WARNING):
            back = _read(bag)
        _check(back, n=20)
        assert back.meta["complete"] is False
        (line,) = [r.getMessage() for r in caplog.records if last.name in r.getMessage()]
        assert "of the split bag is missing (its 0.090 s and 20 messages from 0.200 s into the recording)" in line
        assert "ends earlier than recorded" in line

    def test_a_missing_first_part_is_read_without_it_starting_later(self, tmp_path, caplog):
        bag = write_split(tmp_path / "run", N, 3)
        (bag / "run_0.mcap").unlink()
        with caplog.at_level(logging.WARNING):
            back = _read(bag)
        _check(back, first=10, n=20)
        assert back.meta["complete"] is False
        assert any("run_0.mcap" in r.getMessage() and "starts later" in r.getMessage() for r in caplog.records)

    def test_no_listed_file_there_is_one_error_line(self, tmp_path):
        bag = write_split(tmp_path / "run", N, 2)
        for file in bag.glob("*.mcap"):
            file.unlink()
        with pytest.raises(LogError, match=r"none of the storage files its metadata.yaml lists is there \(run_0.mcap, run_1.mcap\)"):
            _read(bag)


class TestOrder:
    @pytest.mark.parametrize("files_entries", [True, False], ids=["with-files", "names-only"])
    def test_parts_listed_out_of_time_order_are_read_in_time_order(self, tmp_path, caplog, files_entries):
        """They were read in listed order: commands out of time order, an error; states sorted."""
        bag = write_split(tmp_path / "run", N, 3, StoragePlugin.SQLITE3)
        meta = bag / "metadata.yaml"
        doc = yaml.safe_load(meta.read_text())
        info = doc["rosbag2_bagfile_information"]
        info["relative_file_paths"] = [info["relative_file_paths"][k] for k in (2, 0, 1)]
        info["files"] = [info["files"][k] for k in (2, 0, 1)] if files_entries else []
        meta.write_text(yaml.safe_dump(doc))
        with caplog.at_level(logging.WARNING):
            back = _read(bag)
        _check(back)
        assert back.meta["complete"] is True
        assert any(
            "lists the storage files out of time order (run_2.db3, run_0.db3, run_1.db3)" in r.getMessage()
            for r in caplog.records
        )

    def test_a_missing_part_of_a_listing_out_of_order_is_placed_by_its_start_time(self, tmp_path, caplog):
        """Listed 0, 2, 1: part 2, missing, is the run's end (a shorter run), not a hole."""
        bag = write_split(tmp_path / "run", N, 3)
        meta = bag / "metadata.yaml"
        doc = yaml.safe_load(meta.read_text())
        info = doc["rosbag2_bagfile_information"]
        info["relative_file_paths"] = [info["relative_file_paths"][k] for k in (0, 2, 1)]
        info["files"] = [info["files"][k] for k in (0, 2, 1)]
        meta.write_text(yaml.safe_dump(doc))
        (bag / "run_2.mcap").unlink()
        with caplog.at_level(logging.WARNING):
            _check(_read(bag), n=20)
        assert any("run_2.mcap" in r.getMessage() and "ends earlier" in r.getMessage() for r in caplog.records)

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


@pytest.mark.parametrize("storage", list(STORAGES), ids=list(STORAGES))
def test_qos_profiles_in_metadata_yaml_other_than_the_files_do_not_hide_messages(tmp_path, storage):
    """An older rosbag2 writes ``offered_qos_profiles`` as a YAML string; where it differs from the
    storage file's, rosbags matched no message to the topic: 'no messages on /joint_states'."""
    bag = write_split(tmp_path / "run", N, 1, STORAGES[storage])
    meta = bag / "metadata.yaml"
    doc = yaml.safe_load(meta.read_text())
    for topic in doc["rosbag2_bagfile_information"]["topics_with_message_count"]:
        topic["topic_metadata"]["offered_qos_profiles"] = (
            "- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n    sec: 2147483647\n"
            "    nsec: 4294967295\n  liveliness: 1\n  avoid_ros_namespace_conventions: false\n"
        )
    meta.write_text(yaml.safe_dump(doc))
    back = _read(bag)
    _check(back)
    assert back.meta["complete"] is True


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
