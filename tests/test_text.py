"""Text to and from people (:mod:`sim2real.text`): one owner of "a, b, ... k more", and of reading
a text file a user saved in any Unicode encoding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim2real.errors import SpecError
from sim2real.text import and_more, few, read_text

SRC = Path(__file__).resolve().parents[1] / "src" / "sim2real"


class TestFew:
    @pytest.mark.parametrize(
        ("items", "n", "text"),
        [
            ([], 4, ""),
            (["a"], 4, "a"),
            (["a", "b", "c", "d"], 4, "a, b, c, d"),
            (["a", "b", "c", "d", "e"], 4, "a, b, c, d, ... 1 more"),
            (list("abcdefghij"), 3, "a, b, c, ... 7 more"),
            (list("abcdefghij"), 8, "a, b, c, d, e, f, g, h, ... 2 more"),
            ((1, 2.5), 1, "1, ... 1 more"),
        ],
    )
    def test_shows_the_first_n_and_counts_the_rest(self, items, n, text):
        assert few(items, n) == text

    def test_and_more_counts_the_others_of_one_named_in_full(self):
        assert and_more(0) == ""
        assert and_more(1) == " (and 1 more)"
        assert and_more(12) == " (and 12 more)"


def test_no_module_writes_the_more_text_by_hand():
    """Every "... k more" of a message comes from sim2real.text (logs/ has its own helper)."""
    by_hand = re.compile(r"\{[^{}]*\} more\)?[\"']")
    found = [
        f"{path.relative_to(SRC)}:{i}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "text.py" and "logs" not in path.relative_to(SRC).parts[:1]
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if by_hand.search(line)
    ]
    assert found == []


class TestReadText:
    TEXT = "name: pendulum  # \u00b0 and \u03c4\nmass: 0.5\n"

    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
    def test_an_editor_s_unicode_encodings_read_as_the_same_text(self, tmp_path, encoding):
        data = self.TEXT.encode(encoding)
        if encoding == "utf-16-be":  # the BE codec writes no byte-order mark: add the one an editor writes
            data = b"\xfe\xff" + data
        (tmp_path / "f.yaml").write_bytes(data)
        assert read_text(tmp_path / "f.yaml", SpecError) == self.TEXT

    @pytest.mark.parametrize(
        "data",
        [bytes(range(256)), b"\x08\x01\x12\x07pytorch\xc3\x28", b"abc\x00def"],
        ids=["binary", "onnx", "nul"],
    )
    def test_a_binary_file_is_the_caller_s_error_naming_the_file(self, tmp_path, data):
        (tmp_path / "model.onnx").write_bytes(data)
        with pytest.raises(SpecError, match=r"model\.onnx: not a text robot spec .*binary file"):
            read_text(tmp_path / "model.onnx", SpecError, "robot spec")
