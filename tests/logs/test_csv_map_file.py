"""Column map files: the user's own map of a CSV log's columns, every problem one clear line."""

from __future__ import annotations

import pytest

from sim2real.errors import LogError
from sim2real.logs.csv_map_file import check_map_joints, load_column_map

GOOD = """\
time: t_ms
position: {hinge: pos_meas1}
velocity: {hinge: vel_meas1}
effort: {hinge: tau_meas1}
command: {hinge: tau_con1}
scale: {t_ms: 0.001}
velocity_smoothing: 3
delimiter: ";"
"""


def _map(tmp_path, text: str):
    path = tmp_path / "map.yaml"
    path.write_text(text)
    return path


def test_a_map_file_gives_every_field_of_the_column_map(tmp_path):
    m = load_column_map(_map(tmp_path, GOOD))
    assert m.time == "t_ms" and dict(m.position) == {"hinge": "pos_meas1"}
    assert dict(m.effort) == {"hinge": "tau_meas1"} and dict(m.command) == {"hinge": "tau_con1"}
    assert dict(m.scale) == {"t_ms": 0.001} and m.velocity_smoothing == 3 and m.delimiter == ";"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("time: t\nposition: {hinge: p}\ncolums: {}\n", ["unknown key", "colums"]),
        ("position: {hinge: p}\n", ["'time' is missing"]),
        ("time: t\n", ["'position' is missing"]),
        ("time: t\nposition: p\n", ["'position' must map joint names"]),
        ("time: t\nposition: {hinge: p}\nscale: {p: deg}\n", ["scale", "'p'", "number"]),
        ("time: t\nposition: {hinge: p}\nscale: {q: 2}\n", ["scale", "['q']", "not mapped"]),
        ("time: t\nposition: {hinge: p}\nvelocity_smoothing: 2\n", ["velocity_smoothing", "odd"]),
        ("time: t\nposition: {hinge: p}\ndelimiter: ';;'\n", ["delimiter", "one character"]),
        ("- time\n- position\n", ["mapping of keys"]),
        ("time: [t\n", ["not a readable YAML"]),
    ],
)
def test_each_problem_of_a_map_file_is_one_line_naming_it(tmp_path, text, words):
    with pytest.raises(LogError) as err:
        load_column_map(_map(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message and "map.yaml" in message
    for word in words:
        assert word in message


def test_a_missing_map_file_is_named(tmp_path):
    with pytest.raises(LogError, match="no such column map file"):
        load_column_map(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("time: t\nposition: {hinge: p, knee: k}\n", ["'knee' is not a joint of robot 'pendulum'", "hinge"]),
        ("time: t\nposition: {arm: a}\n", ["'arm' is not a joint"]),
        ("time: t\nposition: {a: x, b: y}\nvelocity: {a: v}\n", ["velocity: no column", "['b']"]),
        ("time: t\nposition: {a: x, b: y}\ncommand: {b: u}\n", ["command", "['b']", "no actuator"]),
    ],
)
def test_a_map_is_checked_against_the_robots_joints(tmp_path, text, words):
    column_map = load_column_map(_map(tmp_path, text))
    joints = ("a", "b") if "{a:" in text else ("hinge",)
    robot = "twolink" if "{a:" in text else "pendulum"
    with pytest.raises(LogError) as err:
        check_map_joints(column_map, joints, joints[:1], robot, "map.yaml")
    for word in words:
        assert word in str(err.value)


def test_an_offset_moves_an_angles_zero_after_scaling(tmp_path):
    """A logger whose pendulum angle is 0 hanging, read onto a model whose 0 is upright: offset pi."""
    from sim2real.logs.csv_import import read_csv

    m = load_column_map(_map(tmp_path, "time: t\nposition: {hinge: p}\nscale: {p: -1}\noffset: {p: 3.141593}\n"))
    log = tmp_path / "log.csv"
    log.write_text("t,p\n0.0,0.0\n0.01,0.1\n0.02,0.2\n")
    traj = read_csv(log, m, ("hinge",))
    assert traj.q[:, 0] == pytest.approx([3.141593, 3.041593, 2.941593])
    with pytest.raises(LogError, match=r"offset: column\(s\) \['x'\] are not mapped"):
        load_column_map(_map(tmp_path, "time: t\nposition: {hinge: p}\noffset: {x: 1.0}\n"))


@pytest.mark.parametrize(("written", "factor"), [("1e-9", 1e-9), ("1E-3", 1e-3), ("1.0e-9", 1e-9), ("-1", -1.0)])
def test_a_scale_in_exponent_notation_is_a_number(tmp_path, written, factor):
    # YAML 1.1 (PyYAML) reads 1e-9 without a dot as a string: a nanosecond time column's factor
    m = load_column_map(_map(tmp_path, f"time: stamp_ns\nposition: {{hinge: p}}\nscale: {{stamp_ns: {written}}}\n"))
    assert m.scale["stamp_ns"] == factor


@pytest.mark.parametrize("written", ["nan", "inf", "-inf", ".nan"])
def test_a_scale_that_is_no_finite_number_is_refused(tmp_path, written):
    text = f"time: t\nposition: {{hinge: p}}\nscale: {{p: {written}}}\n"
    with pytest.raises(LogError, match="must be a finite number"):
        load_column_map(_map(tmp_path, text))
