"""A CSV log's units: a units row under the header checked against the column map, repeated rows,
and a time column that cannot be in seconds (nanoseconds read as seconds)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sim2real.errors import LogError
from sim2real.logs import ColumnMap, read_csv

MAP = ColumnMap(time="t", position={"a": "q"}, velocity={"a": "qd"}, command={"a": "u"})


def _csv(tmp_path, rows: list[str], header: str = "t;q;qd;u") -> object:
    path = tmp_path / "log.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _rows(n: int = 20, t_factor: float = 1.0, t0: float = 0.0) -> list[str]:
    """n samples 10 ms apart, q = sin, in seconds times ``t_factor`` (plus ``t0``)."""
    t = np.arange(n) * 0.01
    return [f"{t0 + ti * t_factor:.17g};{np.sin(ti):.9f};{np.cos(ti):.9f};0.1" for ti in t]


class TestUnitsRow:
    def test_a_units_row_agreeing_with_the_map_is_read_past(self, tmp_path):
        """It was 'log.csv:2: column 't': 's' is not a number'."""
        back = read_csv(_csv(tmp_path, ["[s];[rad];[rad/s];[V]", *_rows()]), MAP)
        assert back.t.size == 20
        np.testing.assert_allclose(back.t, np.arange(20) * 0.01)

    @pytest.mark.parametrize(
        ("units", "column", "factor"),
        [
            ("ms;rad;rad/s;V", "t", "0.001"),
            ("s;deg;deg/s;V", "q", "0.0174533"),
            ("s;rad;rpm;V", "qd", "0.10472"),
        ],
    )
    def test_a_unit_the_map_does_not_scale_is_one_error_line(self, tmp_path, units, column, factor):
        with pytest.raises(LogError) as err:
            read_csv(_csv(tmp_path, [units, *_rows()]), MAP)
        text = str(err.value)
        assert "\n" not in text and text.startswith(
            f"{tmp_path / 'log.csv'}:2: the units row gives column {column!r}"
        )
        assert f"scale: {{{column}: {factor}}}" in text

    def test_a_unit_the_map_scales_passes_and_unknown_units_are_named(self, tmp_path, caplog):
        scaled = ColumnMap(
            time="t", position={"a": "q"}, velocity={"a": "qd"}, command={"a": "u"}, scale={"t": 1e-3}
        )
        with caplog.at_level(logging.WARNING):
            back = read_csv(_csv(tmp_path, ["ms;rad;rad/s;percent", *_rows(t_factor=1e3)]), scaled)
        np.testing.assert_allclose(back.t, np.arange(20) * 0.01)
        assert any(
            "units not checked" in r.getMessage() and "u 'percent'" in r.getMessage() for r in caplog.records
        )

    def test_a_map_converting_a_column_itself_is_taken_at_its_word(self, tmp_path):
        # an encoder behind a 6:1 gear: the motor's radians scaled by 1/6 are the joint's (the
        # units row says rad, which was 'set scale: {q: 1}', advice that made the angles 6x wrong)
        geared = ColumnMap(
            time="t", position={"a": "q"}, velocity={"a": "qd"}, command={"a": "u"}, scale={"q": 1 / 6}
        )
        back = read_csv(_csv(tmp_path, ["s;rad;rad/s;V", *_rows()]), geared)
        np.testing.assert_allclose(back.q[:, 0], np.sin(np.arange(20) * 0.01) / 6, atol=1e-9)


class TestRepeatedRows:
    def test_a_row_written_twice_is_dropped_with_a_warning(self, tmp_path, caplog):
        rows = _rows()
        rows.insert(5, rows[4])
        with caplog.at_level(logging.WARNING):
            back = read_csv(_csv(tmp_path, rows), MAP)
        np.testing.assert_allclose(back.t, np.arange(20) * 0.01)
        assert any(
            "1 rows repeat the row before them exactly (first line 7)" in r.getMessage()
            for r in caplog.records
        )


class TestTimeUnit:
    @pytest.mark.parametrize(
        ("factor", "t0", "unit"),
        [(1e9, 1.7e18, "nanoseconds"), (1e9, 0.0, "nanoseconds"), (1e6, 0.0, "microseconds")],
    )
    def test_a_time_column_that_cannot_be_seconds_is_one_error_line(self, tmp_path, factor, t0, unit):
        """Unix time in ns read as seconds: a 'gap' replay of the quadruped tried to allocate 11.6 TiB."""
        with pytest.raises(LogError) as err:
            read_csv(_csv(tmp_path, _rows(t_factor=factor, t0=t0)), MAP)
        text = str(err.value)
        assert "\n" not in text and "cannot be seconds" in text
        assert f"in {unit}? " in text and f"scale: {{t: {1 / factor:g}}}" in text

    def test_nanoseconds_scaled_by_the_map_are_read(self, tmp_path):
        scaled = ColumnMap(
            time="t", position={"a": "q"}, velocity={"a": "qd"}, command={"a": "u"}, scale={"t": 1e-9}
        )
        back = read_csv(_csv(tmp_path, _rows(t_factor=1e9, t0=1.7e18)), scaled)
        np.testing.assert_allclose(np.diff(back.t), 0.01, atol=1e-6)
