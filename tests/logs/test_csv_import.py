"""CSV import through a column map: the real recordings, and every kind of bad file."""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import pytest
from logs_testdata import real_dir

from sim2real.errors import LogError
from sim2real.logs import (
    PENDULUM_CSV,
    QUBE_CSV,
    ColumnMap,
    load_real_pendulum,
    load_real_qube,
    read_bag,
    read_csv,
    write_bag,
)

SIMPLE = ColumnMap(
    time="t", position={"a": "pa", "b": "pb"}, velocity={"a": "va", "b": "vb"}, command={"b": "u"}
)


def _write(tmp_path, text: str, name: str = "log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.realdata
class TestRealRecordings:
    def test_pendulum_files_import_with_torque_as_effort_and_command(self):
        folder = real_dir("pendulum")
        expected_rows = {
            "pd_excitation.csv": 1170,
            "pd_excitation_desired.csv": 1170,
            "energy_shaping.csv": 4000,
        }
        for name, rows in expected_rows.items():
            tr = load_real_pendulum(folder / name)
            assert tr.joint_names == ("hinge",) and tr.command_joints == ("hinge",)
            assert tr.n_samples == rows
            np.testing.assert_array_equal(tr.tau, tr.command)
            np.testing.assert_array_equal(tr.command_t, tr.t)
            assert tr.meta["qd_source"] == "recorded" and tr.meta["robot"] == "pendulum"
            assert np.all(np.diff(tr.t) > 0)  # irregular but increasing
        first = np.loadtxt(folder / "energy_shaping.csv", delimiter=",", skiprows=1, max_rows=1)
        tr = load_real_pendulum(folder / "energy_shaping.csv")
        np.testing.assert_array_equal([tr.t[0], tr.q[0, 0], tr.qd[0, 0], tr.tau[0, 0]], first)

    def test_pendulum_sampling_is_irregular_around_the_stated_rate(self):
        tr = load_real_pendulum(real_dir("pendulum") / "pd_excitation.csv")
        dt = np.diff(tr.t)
        assert 1 / np.median(dt) == pytest.approx(300, rel=0.05)
        assert dt.max() > 1.01 * dt.min()

    def test_qube_files_import_with_differentiated_velocities(self):
        files = sorted(real_dir("qube").glob("qube_*.csv"))
        assert len(files) == 4
        for path in files:
            tr = load_real_qube(path)
            assert tr.joint_names == ("arm", "pendulum")
            assert tr.command_joints == ("arm",) and tr.command.shape == (10_000, 1)
            assert tr.tau is None
            assert tr.duration == pytest.approx(20.0, abs=0.01)
            assert np.all(np.abs(tr.command) <= 10.0 + 1e-12)  # saturated plant input [V]
            assert "moving average over 5 samples" in tr.meta["qd_source"]
            # the velocities integrate back to the angles (the moving average is symmetric)
            steps = 0.5 * (tr.qd[1:] + tr.qd[:-1]) * np.diff(tr.t)[:, None]
            integral = tr.q[0] + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
            assert np.max(np.abs(integral - tr.q)) < 0.02

    def test_qube_header_with_spaces_names_columns_without_them(self):
        path = sorted(real_dir("qube").glob("qube_*.csv"))[0]
        assert ", theta" in path.read_text()[:200]
        tr = load_real_qube(path)
        row = [float(v) for v in path.read_text().splitlines()[1].split(",")]
        assert tr.q[0].tolist() == [row[3], row[4]] and tr.command[0, 0] == row[7]

    def test_real_csv_round_trips_through_a_bag(self, tmp_path):
        tr = load_real_qube(sorted(real_dir("qube").glob("qube_*.csv"))[0])
        write_bag(tmp_path / "qube", tr)
        back = read_bag(tmp_path / "qube")
        np.testing.assert_array_equal(back.q, tr.q)
        np.testing.assert_array_equal(back.command, tr.command)
        np.testing.assert_allclose(back.t, tr.t, rtol=0, atol=0.6e-9)  # stored as integer ns
        assert back.meta["origin"] == tr.meta["source"] and back.meta["robot"] == "furuta"


class TestColumnMap:
    def test_irregular_sampling_and_scales(self, tmp_path):
        path = _write(tmp_path, "ms,deg,u\n0,0,1\n10,90,2\n25,180,3\n")
        cmap = ColumnMap(
            time="ms", position={"j": "deg"}, command={"j": "u"}, scale={"ms": 1e-3, "deg": math.pi / 180}
        )
        tr = read_csv(path, cmap)
        np.testing.assert_allclose(tr.t, [0.0, 0.01, 0.025])
        np.testing.assert_allclose(tr.q[:, 0], [0.0, math.pi / 2, math.pi])
        # numpy's non-uniform central difference: slopes on both sides weighted by the opposite step
        h1, h2 = 0.01, 0.015
        d1, d2 = (math.pi / 2) / h1, (math.pi / 2) / h2
        assert tr.qd[1, 0] == pytest.approx((h2 * d1 + h1 * d2) / (h1 + h2))

    def test_joint_order_follows_joint_names(self, tmp_path):
        path = _write(tmp_path, "t,pa,pb,va,vb,u\n0,1,2,3,4,5\n1,1,2,3,4,6\n")
        tr = read_csv(path, SIMPLE, ("b", "a"), spec_hash="abc")
        assert tr.joint_names == ("b", "a") and tr.spec_hash == "abc"
        assert tr.q[0].tolist() == [2.0, 1.0] and tr.qd[0].tolist() == [4.0, 3.0]
        assert tr.command_joints == ("b",) and tr.command[:, 0].tolist() == [5.0, 6.0]

    def test_map_is_read_only(self):
        with pytest.raises(TypeError):
            PENDULUM_CSV.position["other"] = "x"  # type: ignore[index]
        assert QUBE_CSV.velocity is None

    def test_an_effort_column_missing_for_one_joint_keeps_the_others(self, tmp_path, caplog):
        # before: 'ColumnMap.effort: must map exactly the joints' refused the file
        path = _write(tmp_path, "t,pa,pb,va,vb,ea,u\n0,1,2,0,0,0.5,5\n1,1,2,0,0,0.7,6\n")
        both = dataclasses.replace(SIMPLE, command={"a": "u", "b": "u"}, effort={"a": "ea"})
        tr = read_csv(path, both)
        assert tr.tau is None and tr.effort_missing() == ("b",)
        assert tr.efforts_of(["a"])[:, 0].tolist() == [0.5, 0.7]
        assert "no effort column for commanded joint(s) b" in caplog.text
        tr = read_csv(path, dataclasses.replace(SIMPLE, command={"a": "u"}, effort={"a": "ea"}))  # b uncommanded: 0
        assert tr.tau[:, 1].tolist() == [0.0, 0.0] and tr.tau_partial is None

    def test_map_must_cover_the_joints(self, tmp_path):
        path = _write(tmp_path, "t,pa,pb,va,vb,u\n0,1,2,3,4,5\n")
        with pytest.raises(LogError, match=r"ColumnMap.position: must map exactly the joints \['a', 'c'\]"):
            read_csv(path, SIMPLE, ("a", "c"))


class TestBadFiles:
    def test_missing_file(self, tmp_path):
        with pytest.raises(LogError, match="no such CSV file"):
            read_csv(tmp_path / "none.csv", SIMPLE)

    def test_empty_file(self, tmp_path):
        with pytest.raises(LogError, match=r"empty CSV file \(no header line\)"):
            read_csv(_write(tmp_path, ""), SIMPLE)

    def test_header_only(self, tmp_path):
        with pytest.raises(LogError, match="has a header but no data rows"):
            read_csv(_write(tmp_path, "t,pa,pb,va,vb,u\n"), SIMPLE)

    def test_missing_column_is_named_with_the_available_ones(self, tmp_path):
        path = _write(tmp_path, "t, pa, pb, va, u\n0,1,2,3,4\n")
        with pytest.raises(LogError) as info:
            read_csv(path, SIMPLE)
        assert str(info.value) == (
            f"{path}: column 'vb' (velocity of b) is not in the file; available columns: ['t', 'pa', 'pb', 'va', 'u']; "
            "name the file's own columns in a column map file (--csv-map MAP.yaml, docs/real_data.md)"
        )

    def test_truncated_last_line_is_dropped_with_a_warning(self, tmp_path, caplog):
        path = _write(tmp_path, "t,pa,pb,va,vb,u\n0,1,2,3,4,5\n1,1,2,3,4,6\n2,1,2,3.")
        with caplog.at_level(logging.WARNING, logger="sim2real.logs.csv_import"):
            tr = read_csv(path, SIMPLE)
        assert tr.t.tolist() == [0.0, 1.0]
        assert "expected 6 fields, found 4; dropping the last line as truncated" in caplog.text

    def test_number_cut_in_the_last_line_is_dropped(self, tmp_path):
        tr = read_csv(_write(tmp_path, "t,pa,pb,va,vb,u\n0,1,2,3,4,5\n1,1,2,3,4,6e"), SIMPLE)
        assert tr.n_samples == 1

    def test_non_numeric_value_names_line_and_column(self, tmp_path):
        path = _write(tmp_path, "t,pa,pb,va,vb,u\n0,1,2,3,4,5\n1,1,oops,3,4,6\n2,1,2,3,4,6\n")
        with pytest.raises(LogError, match=r"log.csv:3: column 'pb': 'oops' is not a number"):
            read_csv(path, SIMPLE)

    def test_short_row_in_the_middle_is_an_error(self, tmp_path):
        path = _write(tmp_path, "t,pa,pb,va,vb,u\n0,1,2,3,4,5\n1,1,2\n2,1,2,3,4,6\n")
        with pytest.raises(LogError, match=r"log.csv:3: expected 6 fields, found 3"):
            read_csv(path, SIMPLE)

    def test_nan_is_an_error(self, tmp_path):
        path = _write(tmp_path, "t,pa,pb,va,vb,u\n0,1,2,3,4,5\n1,nan,2,3,4,6\n2,1,2,3,4,6\n")
        with pytest.raises(LogError, match=r"log.csv:3: column 'pa': non-finite value 'nan'"):
            read_csv(path, SIMPLE)

    def test_time_going_back_names_the_line(self, tmp_path):
        path = _write(tmp_path, "# a comment\nt,pa,pb,va,vb,u\n0,1,2,3,4,5\n\n2,1,2,3,4,6\n1,1,2,3,4,6\n")
        with pytest.raises(LogError, match=r"log.csv:6: time 1.0 goes back from 2.0 \(column 't'\)"):
            read_csv(path, SIMPLE)

    def test_a_repeated_time_with_other_values_names_the_line(self, tmp_path):
        path = _write(tmp_path, "t,p\n0,1\n0,2\n1,3\n")
        with pytest.raises(LogError, match=r"log.csv:3: time 0.0 repeats line 2's with another 'p' \(2, was 1\)"):
            read_csv(path, ColumnMap(time="t", position={"a": "p"}))

    def test_not_utf8(self, tmp_path):
        path = tmp_path / "bin.csv"
        path.write_bytes(b"t,p\n\xff\xfe\n")
        with pytest.raises(LogError, match=r"bin\.csv: not a text CSV file .*saved as UTF-8"):
            read_csv(path, ColumnMap(time="t", position={"a": "p"}))

    def test_bad_map_settings(self):
        with pytest.raises(LogError, match="velocity_smoothing: must be a positive odd number"):
            ColumnMap(time="t", position={"a": "p"}, velocity_smoothing=4)
        with pytest.raises(LogError, match="factor for 'p' must be finite and non-zero"):
            ColumnMap(time="t", position={"a": "p"}, scale={"p": 0.0})


class TestWrappedAngles:
    """A logger that wraps an angle to [-pi, pi) (DECAR's QUBE logger does, for alpha)."""

    def _log(self, tmp_path, unwrap_line: str = ""):
        t = np.arange(0.0, 2.0, 0.002)
        alpha = np.pi + 0.3 * np.sin(2 * np.pi * 1.5 * t)  # swinging around +-pi
        wrapped = (alpha + np.pi) % (2 * np.pi) - np.pi
        text = "t,theta,alpha,plant_input\n" + "\n".join(
            f"{a:.6f},0.0,{b:.9f},0.0" for a, b in zip(t, wrapped, strict=True)
        )
        return _write(tmp_path, text), alpha

    def test_a_wrapped_angle_is_unwrapped_with_a_warning(self, tmp_path, caplog):
        path, alpha = self._log(tmp_path)
        tr = read_csv(path, QUBE_CSV)
        assert np.max(np.abs(np.diff(tr.q[:, 1]))) < 0.01  # continuous
        np.testing.assert_allclose(np.mod(tr.q[:, 1] - alpha + np.pi, 2 * np.pi) - np.pi, 0.0, atol=1e-8)
        assert tr.meta["unwrapped"] == ["pendulum"]
        assert "positions of pendulum wrap at +-pi" in caplog.text

    def test_replay_windows_of_a_wrapped_log_are_all_kept(self, tmp_path, caplog):
        from sim2real.robots import load_robot
        from sim2real.sim.replay import build_windows

        path, _ = self._log(tmp_path)
        windows = build_windows(load_robot("furuta"), [read_csv(path, QUBE_CSV)], 0.25)
        assert windows.n_windows == 8  # every 0.25 s window of the 2 s log
        assert "replay windows span" not in caplog.text

    def test_a_step_the_recorded_speed_explains_is_motion_not_a_wrap(self, tmp_path):
        """A wheel at 60 rad/s logged at 10 Hz moves 6 rad (about 2 pi) between samples."""
        from sim2real.logs.csv_import import ColumnMap

        t = np.arange(0.0, 1.0, 0.1)
        text = "t,p,v\n" + "\n".join(f"{a:.3f},{60.0 * a:.6f},60.0" for a in t)
        wheel = ColumnMap(time="t", position={"wheel": "p"}, velocity={"wheel": "v"})
        tr = read_csv(_write(tmp_path, text), wheel, ("wheel",))
        np.testing.assert_allclose(tr.q[:, 0], 60.0 * t, atol=1e-6)
        assert tr.meta["unwrapped"] == []

    def test_unwrap_can_be_switched_off(self, tmp_path):
        import dataclasses

        path, _ = self._log(tmp_path)
        tr = read_csv(path, dataclasses.replace(QUBE_CSV, unwrap=False))
        assert np.max(np.abs(np.diff(tr.q[:, 1]))) > 6.0 and tr.meta.get("unwrapped") is None

    def test_a_reset_is_not_a_wrap(self, tmp_path):
        t = np.arange(0.0, 1.0, 0.01)
        q = np.where(t < 0.5, 0.1 * t, 4.0)  # put elsewhere by 3.95 rad: no multiple of 2 pi
        path = _write(
            tmp_path, "t,pa,pb,va,vb,u\n" + "\n".join(f"{a},{b},0,0,0,0" for a, b in zip(t, q, strict=True))
        )
        tr = read_csv(path, SIMPLE)
        np.testing.assert_array_equal(tr.q[:, 0], q)


class TestSeparatorsAndQuotes:
    """Other loggers: quoted headers (a QUBE-Servo 3 logger), ';' or tab separators."""

    def test_quoted_names_and_values_lose_their_quotes(self, tmp_path):
        path = _write(tmp_path, '"Time","angle"\n0,0\n"0.004","0.01"\n0.008,0.02\n')
        tr = read_csv(path, ColumnMap(time="Time", position={"pendulum": "angle"}))
        np.testing.assert_allclose(tr.q[:, 0], [0.0, 0.01, 0.02])

    @pytest.mark.parametrize("sep", [";", "\t", "|"])
    def test_the_separator_is_sniffed_from_the_header(self, tmp_path, sep):
        rows = [sep.join(["t", "pa", "pb", "va", "vb", "u"])]
        rows += [sep.join(str(x) for x in (0.01 * k, k, 2 * k, 0, 0, 1)) for k in range(5)]
        tr = read_csv(_write(tmp_path, "\n".join(rows) + "\n"), SIMPLE)
        np.testing.assert_allclose(tr.q[:, 1], 2.0 * np.arange(5))

    def test_a_map_may_name_the_separator(self, tmp_path):
        import dataclasses

        text = "t;pa;pb;va;vb;u\n0;1;2;0;0;0\n0.01;1;2;0;0;0\n"
        tr = read_csv(_write(tmp_path, text), dataclasses.replace(SIMPLE, delimiter=";"))
        assert tr.n_samples == 2
        with pytest.raises(LogError, match=r"column 't' .* is not in the file"):
            read_csv(_write(tmp_path, text, "b.csv"), dataclasses.replace(SIMPLE, delimiter=","))
