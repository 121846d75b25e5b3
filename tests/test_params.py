"""Named parameters: names, patterns, get/set on MjSpec, MjModel and batches, files."""

from __future__ import annotations

import re

import mujoco
import mujoco.batch
import numpy as np
import pytest

from sim2real.errors import ParameterError
from sim2real.param_files import load_values, save_values
from sim2real.param_kinds import split_name
from sim2real.params import Parameters
from sim2real.robots import load_robot
from sim2real.robots.model import build_mjspec, build_model


@pytest.fixture(scope="module")
def furuta():
    spec = load_robot("furuta")
    model = build_model(spec)
    return spec, model, Parameters(spec, model)


class TestNames:
    def test_namespace_kinds_present(self, furuta):
        _, _, params = furuta
        names = params.names
        for expected in (
            "body.arm.mass",
            "body.pendulum.com",
            "joint.arm.damping",
            "joint.pendulum.frictionloss",
            "joint.arm.armature",
            "actuator.motor.strength",
            "actuator.motor.delay",
            "motor.motor.resistance",
            "motor.motor.kt",
            "motor.motor.ke",
            "sensor.arm_pos.bias",
            "world.gravity",
        ):
            assert expected in names
        # pd-only quantities do not exist on a DC motor
        assert "actuator.motor.kp" not in names

    def test_wildcards_expand_in_registry_order(self, furuta):
        _, _, params = furuta
        assert params.resolve("body.*.mass") == ["body.arm.mass", "body.pendulum.mass"]
        assert params.resolve(["joint.*.damping", "body.arm.mass"]) == [
            "joint.arm.damping",
            "joint.pendulum.damping",
            "body.arm.mass",
        ]

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("body.nope.mass", "matches no parameter"),
            ("body.arm.colour", "unknown parameter"),
            ("mass", "group.element.quantity"),
        ],
    )
    def test_bad_names_are_rejected(self, furuta, name, message):
        _, _, params = furuta
        with pytest.raises(ParameterError, match=message):
            params.resolve([name])

    def test_split_name_keeps_dotted_elements(self):
        assert split_name("body.leg.upper.mass") == ("body", "leg.upper", "mass")


class TestGetSet:
    def test_model_spec_and_batch_agree(self, furuta):
        spec, _, params = furuta
        values = {
            "body.pendulum.mass": 0.03,
            "joint.arm.damping": 0.002,
            "motor.motor.resistance": 9.0,
            "actuator.motor.strength": 0.8,
            "world.gravity": [0.0, 0.5, -9.7],
        }
        model = build_model(spec)
        params.set(model, values)
        mjspec = build_mjspec(spec)
        params.set(mjspec, values)
        from_spec = mjspec.compile()
        batch = mujoco.batch.Batch(build_model(spec), 3, 1)
        params.set(batch, values)
        for name, value in values.items():
            np.testing.assert_allclose(params.get(model, name), value)
            np.testing.assert_allclose(params.get(from_spec, name), value)
            np.testing.assert_allclose(params.get(batch, name), np.tile(value, (3, 1)))
        np.testing.assert_allclose(model.actuator_gainprm[0, 0], from_spec.actuator_gainprm[0, 0])
        np.testing.assert_allclose(model.actuator_biasprm[0, :3], from_spec.actuator_biasprm[0, :3])
        np.testing.assert_allclose(model.body_inertia, from_spec.body_inertia, rtol=1e-9)

    def test_batch_rows_are_per_simulation(self, furuta):
        spec, _, params = furuta
        batch = mujoco.batch.Batch(build_model(spec), 3, 1)
        params.set(batch, {"body.arm.mass": [[0.08], [0.09], [0.1]]})
        params.set(batch, {"body.arm.mass": 0.2}, ids=np.array([1]))
        np.testing.assert_allclose(params.get(batch, "body.arm.mass")[:, 0], [0.08, 0.2, 0.1])

    def test_mass_scales_inertia_along(self, furuta):
        spec, nominal, params = furuta
        model = build_model(spec)
        b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "arm")
        params.set(model, {"body.arm.mass": 2 * nominal.body_mass[b]})
        np.testing.assert_allclose(model.body_inertia[b], 2 * nominal.body_inertia[b])

    @pytest.mark.parametrize(
        ("values", "message"),
        [
            ({"body.arm.mass": -1.0}, "must be positive"),
            ({"joint.arm.damping": -0.1}, "must not be negative"),
            ({"body.arm.com": [1.0, 2.0]}, "expected 3 value"),
            ({"body.arm.mass": float("nan")}, "finite"),
            ({"actuator.motor.delay": 10.0}, "delay capacity"),
        ],
    )
    def test_bad_values_are_rejected(self, furuta, values, message):
        spec, _, params = furuta
        with pytest.raises(ParameterError, match=message):
            params.set(build_model(spec), values)


def test_parameter_files_round_trip(tmp_path):
    values = {"body.arm.mass": np.array([0.1]), "world.gravity": np.array([0.0, 0.0, -9.8])}
    path = tmp_path / "p.yaml"
    save_values(path, values, header="test")
    loaded = load_values(path)
    assert set(loaded) == set(values)
    for name in values:
        np.testing.assert_allclose(loaded[name], values[name])


def test_bad_parameter_files(tmp_path):
    with pytest.raises(ParameterError, match="not found"):
        load_values(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("body.arm.mass: heavy\n")
    with pytest.raises(ParameterError, match="not a number"):
        load_values(bad)


def test_describe_lists_every_parameter_with_bounds(furuta):
    _, _, params = furuta
    rows = params.describe()
    assert [r["name"] for r in rows] == params.names
    for row in rows:
        low, high = np.atleast_1d(row["low"]), np.atleast_1d(row["high"])
        assert np.all(low <= high), row
        assert row["unit"]


class TestBoundsCheck:
    def test_values_and_ranges_inside_the_bounds_pass(self):
        spec = load_robot("furuta")
        params = Parameters(spec, build_model(spec))
        assert params.check_bounds({"body.pendulum.mass": 0.025}, "f.yaml") == []
        assert (
            params.check_bounds({"body.arm.mass": (np.array([0.08]), np.array([0.09]))}, "f", what="range")
            == []
        )

    def test_the_first_offender_is_named_with_its_bounds_and_the_fix(self, caplog):
        spec = load_robot("furuta")
        params = Parameters(spec, build_model(spec))
        values = {"body.pendulum.mass": 10.0, "motor.motor.resistance": 100.0}
        with pytest.raises(ParameterError) as info:
            params.check_bounds(values, "twin.yaml")
        assert str(info.value) == (
            "twin.yaml: body.pendulum.mass value 10 kg is outside its plausible bounds [0.019 .. 0.029] of robot "
            "'furuta' (and 1 more); fix it, or pass --allow-out-of-bounds"
        )
        assert params.check_bounds(values, "twin.yaml", allow=True) == list(values)
        assert "allowed by --allow-out-of-bounds" in caplog.text

    @pytest.mark.parametrize(
        ("value", "words"),
        [
            ([0.025, 0.026], "body.pendulum.mass has 1 component, but the value [0.025, 0.026] has 2"),
            (float("nan"), "body.pendulum.mass: [nan] is not a finite number"),
            ([[0.025]], "body.pendulum.mass has 1 component, but the value [[0.025]] has shape (1, 1)"),
        ],
    )
    def test_a_value_of_another_size_or_not_finite_is_refused_even_when_allowed(self, value, words):
        spec = load_robot("furuta")
        params = Parameters(spec, build_model(spec))
        for allow in (False, True):
            with pytest.raises(ParameterError, match=re.escape(f"twin.yaml: {words}")):
                params.check_bounds({"body.pendulum.mass": value}, "twin.yaml", allow=allow)


class TestDomainsAndSetConst:
    """The registry owns each quantity's physical domain and which writes need set_const."""

    @pytest.mark.parametrize(
        ("name", "needed"),
        [
            ("body.base.mass", True),
            ("body.base.com", True),
            ("body.base.inertia", True),
            ("joint.FL_hip.armature", True),
            ("joint.FL_hip.damping", False),
            ("actuator.FL_hip.kp", False),
            ("geom.floor.friction", False),
            ("world.gravity", False),
        ],
    )
    def test_which_writes_need_set_const(self, name, needed):
        from sim2real.params import needs_set_const

        assert needs_set_const(name) is needed

    def test_set_const_of_an_unknown_kind_is_an_error(self):
        from sim2real.params import needs_set_const

        with pytest.raises(ParameterError, match="unknown parameter"):
            needs_set_const("body.base.colour")

    def test_every_kind_with_a_domain_is_a_parameter_kind(self):
        from sim2real.param_kinds import NONNEGATIVE, POSITIVE, UNITS

        quantities = {q for _, q in UNITS}
        assert quantities >= POSITIVE | NONNEGATIVE and not POSITIVE & NONNEGATIVE

    def test_writes_outside_the_domain_are_refused(self, furuta):
        from sim2real.param_kinds import NONNEGATIVE, POSITIVE

        _, model, params = furuta
        for name in params.names:
            quantity = params.info(name).quantity
            if quantity in POSITIVE:
                with pytest.raises(ParameterError, match="positive"):
                    params.set(model, {name: np.zeros(params.info(name).size)})
            elif quantity in NONNEGATIVE:
                with pytest.raises(ParameterError, match="negative"):
                    params.set(model, {name: -np.ones(params.info(name).size)})

    def test_randomization_domains_extend_the_registrys(self):
        from sim2real.param_kinds import NONNEGATIVE, POSITIVE
        from sim2real.randomize import namespace

        assert POSITIVE | {"length"} == namespace.POSITIVE
        assert NONNEGATIVE | {"noise_density"} == namespace.NONNEGATIVE


def test_a_slide_joints_parameters_are_in_metres_and_newtons(tmp_path):
    """mjlab's YAM: its finger (a slide joint) was listed with kg m^2, N m/rad, rad and N m, and its
    target offset bounded by +-0.1 (rad for a hinge: 10 cm for a finger of a 4 cm stroke)."""
    from sim2real.robots.init import InitOptions, init_robot

    (tmp_path / "arm.xml").write_text(
        "<mujoco><worldbody><body name='link'><joint name='wrist' axis='0 1 0' range='-2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0.3 0 0' size='0.02' mass='0.5'/>"
        "<body name='finger' pos='0.3 0 0'><joint name='finger' type='slide' axis='1 0 0' range='0 0.04'/>"
        "<geom type='box' size='0.01 0.01 0.01' mass='0.05'/></body></body></worldbody></mujoco>"
    )
    opts = InitOptions(kp={"wrist": 5.0, "finger": 100.0}, kd={"wrist": 0.1, "finger": 10.0}, torque_limit=10.0)
    spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml", opts)
    params = Parameters(spec, build_model(spec))
    units = {q: (params.info(f"{g}.wrist.{q}").unit, params.info(f"{g}.finger.{q}").unit) for g, q in (
        ("joint", "damping"), ("joint", "frictionloss"), ("joint", "armature"), ("joint", "stribeck_velocity"),
        ("actuator", "kp"), ("actuator", "kd"), ("actuator", "offset"), ("actuator", "torque_limit"),
    )}
    assert units == {
        "damping": ("N m s/rad", "N s/m"),
        "frictionloss": ("N m", "N"),
        "armature": ("kg m^2", "kg"),
        "stribeck_velocity": ("rad/s", "m/s"),
        "kp": ("N m/rad", "N/m"),
        "kd": ("N m s/rad", "N s/m"),
        "offset": ("rad", "m"),
        "torque_limit": ("N m", "N"),
    }
    assert params.info("actuator.finger.offset").high[0] == pytest.approx(0.01)
    assert params.info("actuator.wrist.offset").high[0] == pytest.approx(0.1)
    assert {d["name"]: d["unit"] for d in params.describe()}["joint.finger.armature"] == "kg"
