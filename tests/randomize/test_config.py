"""Configs: built-ins load and comment every line, summaries resolve patterns, bad configs are named."""

from __future__ import annotations

import json
import re

import pytest

from sim2real.cli import main
from sim2real.randomize import Randomization, RandomizationError, builtin_names, load_randomization
from sim2real.randomize.config import CONFIG_DIR
from sim2real.robots import load_robot
from sim2real.robots.model import build_model

ROBOTS = ("pendulum", "furuta", "quadruped")


class TestBuiltins:
    @pytest.mark.parametrize("robot", ROBOTS)
    def test_none_default_full_exist_and_load(self, specs, robot):
        assert builtin_names(robot) == ["default", "full", "none"]
        assert load_randomization(specs[robot], "none").is_empty
        default = load_randomization(specs[robot], "default")
        full = load_randomization(specs[robot], "full")
        assert len(default.parameters) > 5
        # full randomizes everything default does, and more
        assert {p.name for p in default.parameters} <= {p.name for p in full.parameters}
        assert set(default.sections()) < set(full.sections())

    @pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
    def test_every_randomized_line_states_its_distribution(self, path):
        notation = re.compile(r"#.*(U\(|U\{|logU\(|N\(|~)")
        for line in path.read_text().splitlines():
            body = line.split("#", 1)[0]
            if re.search(r"\{param:|^(slope|terrain|action_delay|dropout|pushes|link_pool):", body.strip()):
                assert notation.search(line) or "link_pool" in body, (
                    f"{path.name}: no distribution comment: {line}"
                )

    def test_quadruped_full_has_every_kind(self, specs):
        full = load_randomization(specs["quadruped"], "full")
        names = {p.name for p in full.parameters}
        for expected in (
            "geom.floor.friction",
            "body.base.mass",
            "body.base.com",
            "body.base.inertia",
            "link.FL_calf.length",
            "joint.FL_hip.damping",
            "joint.FL_hip.frictionloss",
            "joint.FL_hip.armature",
            "actuator.FL_hip.kp",
            "actuator.FL_hip.kd",
            "actuator.FL_hip.strength",
            "actuator.FL_hip.offset",
            "actuator.FL_hip.torque_limit",
            "actuator.FL_hip.delay",
            "sensor.imu_gyro.noise_density",
            "sensor.imu_gyro.bias",
            "sensor.imu_accel.bias",
            "sensor.FL_hip_pos.noise",
            "sensor.FL_hip_pos.delay",
        ):
            assert expected in names
        for key in ("slope", "terrain", "action_delay", "dropout", "pushes"):
            assert getattr(full, key) is not None
        assert "motor.motor.resistance" in {
            p.name for p in load_randomization(specs["furuta"], "full").parameters
        }


class TestSummary:
    def test_patterns_resolve_to_every_concrete_parameter_with_its_range(self, specs):
        spec = specs["quadruped"]
        rnd = load_randomization(spec, "default")
        rows = {r["param"]: r for r in rnd.summary()["parameters"]}
        kp = [n for n in rows if n.startswith("actuator.") and n.endswith(".kp")]
        assert len(kp) == 12
        assert rows["actuator.FL_hip.kp"]["range"] == pytest.approx([25.0 * 0.9, 25.0 * 1.1])
        assert rows["actuator.FL_hip.kp"]["draws"][0]["text"] == "U(0.9, 1.1)"
        # composed entries: base mass x U(0.95, 1.05) then + U(-0.5, 1.5) kg
        base = rows["body.base.mass"]
        assert [d["mode"] for d in base["draws"]] == ["scale", "additive"]
        assert base["range"] == pytest.approx([6.921 * 0.95 - 0.5, 6.921 * 1.05 + 1.5])
        assert json.loads(json.dumps(rnd.summary()))["name"] == "default"

    def test_steps_and_densities_are_converted_in_the_range(self, specs):
        spec = specs["quadruped"]
        rows = {r["param"]: r for r in load_randomization(spec, "default").summary()["parameters"]}
        assert rows["actuator.FL_hip.delay"]["range"] == pytest.approx([0.0, 2 * spec.physics_dt])
        assert rows["sensor.imu_gyro.noise_density"]["range"] == pytest.approx([1e-4, 1e-3])

    def test_the_nominal_model_is_untouched_by_loading(self, specs):
        spec = specs["quadruped"]
        before = build_model(spec)
        load_randomization(spec, "full")
        after = build_model(spec)
        assert after.nhfield == before.nhfield == 0
        assert after.ngeom == before.ngeom

    def test_from_calibration_needs_a_calibration(self):
        # implemented in sim2real.randomize.calibrated (tests/randomize/test_from_calibration.py)
        with pytest.raises(RandomizationError, match="needs a calibration"):
            Randomization.from_calibration({}, widen=2.0)


def _entry(**kw):
    base = {"param": "body.pole.mass", "mode": "scale", "dist": "uniform", "low": 0.9, "high": 1.1}
    base.update(kw)
    return base


BAD = [
    ({"physics": [_entry(param="body.nope.mass")]}, r"physics\[0\] 'body.nope.mass'.*matches no parameter"),
    ({"physics": [_entry(param="body.pole.colour")]}, r"physics\[0\] 'body.pole.colour'.*unknown parameter"),
    (
        {"physics": [_entry(), _entry(low=1.2, high=0.8)]},
        r"physics\[1\] 'body.pole.mass'.*low \[1.2\] is above high",
    ),
    (
        {"physics": [_entry(dist="gaussian")]},
        r"physics\[0\] 'body.pole.mass'.*unknown distribution 'gaussian'",
    ),
    (
        {
            "sensors": [
                {
                    "param": "sensor.hinge_pos.noise",
                    "mode": "absolute",
                    "dist": "uniform",
                    "low": -0.01,
                    "high": 0.01,
                }
            ]
        },
        r"sensors\[0\] 'sensor.hinge_pos.noise'.*negative noise",
    ),
    (
        {
            "sensors": [
                {
                    "param": "sensor.hinge_pos.noise",
                    "mode": "additive",
                    "dist": "normal",
                    "mean": -0.1,
                    "std": 0.01,
                    "low": -1,
                    "high": 0,
                }
            ]
        },
        r"sensors\[0\] 'sensor.hinge_pos.noise'.*negative noise",
    ),
    ({"physics": [_entry(mode="multiply")]}, r"physics\[0\] 'body.pole.mass'.*'mode' must be one of"),
    ({"physics": [_entry(low=-0.5)]}, r"physics\[0\] 'body.pole.mass'.*must be positive"),
    ({"physics": [_entry(dist="loguniform", low=0.0)]}, r"physics\[0\] 'body.pole.mass'.*low > 0"),
    ({"physics": [_entry(dist="normal", mean=1.0)]}, r"physics\[0\] 'body.pole.mass'.*needs 'std'"),
    ({"physics": [_entry(colour="red")]}, r"physics\[0\] 'body.pole.mass'.*unknown key\(s\) colour"),
    ({"motors": [_entry()]}, r"motors\[0\] 'body.pole.mass'.*belong in 'physics'"),
    (
        {
            "sensors": [
                {
                    "param": "sensor.hinge_pos.bias",
                    "mode": "scale",
                    "dist": "uniform",
                    "low": 0.9,
                    "high": 1.1,
                }
            ]
        },
        r"sensors\[0\] 'sensor.hinge_pos.bias'.*0 at nominal",
    ),
    (
        {
            "delays": [
                {
                    "param": "actuator.motor.delay",
                    "mode": "absolute",
                    "unit": "physics_steps",
                    "dist": "uniform",
                    "low": 0,
                    "high": 45,
                }
            ]
        },
        r"delays\[0\] 'actuator.motor.delay'.*delay capacity",
    ),
    (
        {
            "delays": [
                {
                    "param": "actuator.motor.delay",
                    "mode": "absolute",
                    "unit": "physics_steps",
                    "dist": "uniform",
                    "low": 0,
                    "high": 1.5,
                }
            ]
        },
        r"delays\[0\] 'actuator.motor.delay'.*whole numbers",
    ),
    (
        {"terrain": {"kind": "rough", "height": {"dist": "uniform", "low": 0, "high": 0.05}}},
        r"terrain: pendulum has a fixed base",
    ),
    ({"pushes": {"body": "nope", "force": [1, 2], "interval": [1, 2]}}, r"pushes: body 'nope'"),
    ({"dropout": {"dist": "uniform", "low": 0.0, "high": 1.5}}, r"dropout: .*\[0, 1\)"),
    (
        {"physics": [_entry(param="body.pole.inertia", low=[0.5, 1.0, 1.0], high=[1.0, 1.5, 1.5])]},
        r"physics\[0\] 'body.pole.inertia'.*A \+ B >= C",
    ),
    ({"colour": 1}, r"unknown key\(s\) colour"),
    ({"robot": "quadruped"}, r"written for robot 'quadruped'"),
]


class TestBadConfigs:
    @pytest.mark.parametrize(("raw", "message"), BAD, ids=[m[:40] for _, m in BAD])
    def test_rejected_with_a_message_naming_the_entry(self, specs, raw, message):
        with pytest.raises(RandomizationError, match=message):
            load_randomization(specs["pendulum"], raw)

    def test_unknown_builtin_and_missing_or_broken_files(self, specs, tmp_path):
        with pytest.raises(
            RandomizationError, match=r"no built-in randomization 'wild'.*default, full, none"
        ):
            load_randomization(specs["pendulum"], "wild")
        with pytest.raises(RandomizationError, match="not found"):
            load_randomization(specs["pendulum"], str(tmp_path / "missing.yaml"))
        broken = tmp_path / "broken.yaml"
        broken.write_text("physics: [ {param: body.pole.mass\n")
        with pytest.raises(RandomizationError, match="not valid YAML"):
            load_randomization(specs["pendulum"], broken)

    def test_a_file_loads_like_a_mapping(self, specs, tmp_path):
        path = tmp_path / "mine.yaml"
        path.write_text(
            "physics:\n  - {param: body.pole.mass, mode: scale, dist: uniform, low: 0.9, high: 1.1}  # x U(0.9, 1.1)\n"
        )
        rnd = load_randomization(specs["pendulum"], path)
        assert rnd.name == "mine" and rnd.source == str(path)
        assert rnd.parameters[0].high == pytest.approx([0.6755 * 1.1])


class TestCommand:
    def test_show_json_lists_every_randomized_parameter(self, capsys):
        assert main(["randomize", "show", "--robot", "furuta", "--config", "full", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        names = {r["param"] for r in out["parameters"]}
        assert {"motor.motor.resistance", "actuator.motor.delay", "link.arm.length"} <= names
        assert out["pushes"]["body"] == "pendulum"
        row = next(r for r in out["parameters"] if r["param"] == "motor.motor.resistance")
        assert row["draws"][0]["dist"] == "uniform" and row["range"] == pytest.approx([8.4 * 0.8, 8.4 * 1.3])

    def test_human_text_and_errors(self, capsys, tmp_path):
        assert main(["randomize", "show", "--robot", "pendulum"]) == 0
        assert "actuator.motor.strength" in capsys.readouterr().out
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            "physics:\n  - {param: body.pole.mass, mode: scale, dist: cauchy, low: 0.9, high: 1.1}\n"
        )
        assert main(["randomize", "show", "--robot", "pendulum", "--config", str(bad)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "physics[0] 'body.pole.mass'" in err[0] and "cauchy" in err[0]


class TestBoundsAtTheDoor:
    """A user's randomization file may not leave the plausible bounds the robot's spec states."""

    def test_a_file_past_the_stated_bounds_is_refused_unless_allowed(self, tmp_path):
        from sim2real.errors import ParameterError
        from sim2real.randomize.config import check_bounds

        spec = load_robot("furuta")
        path = tmp_path / "heavy.yaml"
        path.write_text(
            "physics:\n  - {param: body.pendulum.mass, mode: absolute, dist: uniform, low: 0.02, high: 1.0}\n"
        )
        rnd = load_randomization(spec, str(path))
        with pytest.raises(
            ParameterError,
            match=r"heavy.yaml: body.pendulum.mass range \[0.02 .. 1\] kg .*--allow-out-of-bounds",
        ):
            check_bounds(rnd, spec)
        assert check_bounds(rnd, spec, allow=True) == ["body.pendulum.mass"]

    def test_builtin_configs_and_unstated_bounds_pass(self):
        from sim2real.randomize.config import check_bounds

        quadruped = load_robot("quadruped")
        assert check_bounds(load_randomization(quadruped, "full"), quadruped) == []  # deliberately past them
        furuta = load_robot("furuta")
        assert check_bounds(load_randomization(furuta, "default"), furuta) == []
