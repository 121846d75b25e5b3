"""CSV fields written otherwise than as plain numbers: decimal commas (a spreadsheet in a European
locale) and ISO 8601 date-times in the time column."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.errors import LogError
from sim2real.logs import ColumnMap, read_csv

MAP = ColumnMap(time="t", position={"a": "p"}, command={"a": "u"})


def _write(path, header: str, rows: list[str]):
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


class TestDecimalComma:
    def test_semicolon_fields_with_decimal_commas_are_read_and_said(self, tmp_path, caplog):
        # before: the first data row was taken for a units row, then "'0,01' is not a number"
        rows = [f"{0.01 * i:.2f};{0.5 * i:.3f};-1,5".replace(".", ",") for i in range(20)]
        with caplog.at_level("WARNING"):
            tr = read_csv(_write(tmp_path / "log.csv", "t;p;u", rows), MAP)
        np.testing.assert_allclose(tr.t, 0.01 * np.arange(20))
        np.testing.assert_allclose(tr.q[:, 0], 0.5 * np.arange(20))
        np.testing.assert_array_equal(tr.command[:, 0], -1.5)
        assert any("decimal comma (column 't': '0,00')" in r.getMessage() for r in caplog.records)

    def test_a_units_row_before_them_is_still_read_as_units(self, tmp_path):
        rows = ["ms;rad;N m"] + [f"{10 * i};{i},25;2" for i in range(20)]
        cmap = ColumnMap(time="t", position={"a": "p"}, command={"a": "u"}, scale={"t": 0.001})
        tr = read_csv(_write(tmp_path / "log.csv", "t;p;u", rows), cmap)
        np.testing.assert_allclose(tr.q[:, 0], np.arange(20) + 0.25)
        np.testing.assert_allclose(tr.t, 0.01 * np.arange(20))


class TestIsoTimes:
    @pytest.mark.parametrize(
        "fmt", ["2026-03-01T12:00:{:09.6f}Z", "2026-03-01 12:00:{:09.6f}", "2026-03-01T13:00:{:09.6f}+01:00"]
    )
    def test_date_times_are_seconds_since_the_first(self, tmp_path, caplog, fmt):
        # before: "column 't': '2026-03-01T12:00:00.000000Z' is not a number"
        rows = [f"{fmt.format(0.004 * i)},{0.1 * i},0" for i in range(30)]
        with caplog.at_level("WARNING"):
            tr = read_csv(_write(tmp_path / "log.csv", "t,p,u", rows), MAP)
        np.testing.assert_allclose(tr.t, 0.004 * np.arange(30), atol=1e-9)
        assert any(
            "holds ISO 8601 date-times: read as seconds since the first" in r.getMessage()
            for r in caplog.records
        )

    def test_date_times_with_and_without_a_zone_are_one_error_line(self, tmp_path):
        rows = [
            "2026-03-01T12:00:00Z,0,0",
            "2026-03-01T12:00:00.01Z,0,0",
            "2026-03-01T12:00:00.02,0,0",
            "2026-03-01T12:00:00.03Z,0,0",
        ]
        with pytest.raises(
            LogError, match=r"log.csv:4: column 't': '2026-03-01T12:00:00.02' and the first date-time"
        ):
            read_csv(_write(tmp_path / "log.csv", "t,p,u", rows), MAP)

    def test_a_number_among_date_times_is_named(self, tmp_path):
        rows = ["2026-03-01T12:00:00Z,0,0", "0.01,0,0", "2026-03-01T12:00:00.02Z,0,0"]
        with pytest.raises(LogError, match=r"log.csv:3: column 't': '0.01' is not an ISO 8601 date-time"):
            read_csv(_write(tmp_path / "log.csv", "t,p,u", rows), MAP)
