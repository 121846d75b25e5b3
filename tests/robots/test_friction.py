"""Joint friction: the Stribeck curve, the spec's friction: section, the parameters it becomes."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from sim2real.errors import SpecError
from sim2real.params import Parameters
from sim2real.robots import load_robot
from sim2real.robots.friction import DEFAULT_STRIBECK_VELOCITY, friction_torque, stribeck_friction
from sim2real.robots.model import build_mjspec, build_model
from sim2real.sim.batch import BatchSim


class TestStribeckCurve:
    def test_friction_breaks_away_at_coulomb_plus_stribeck_and_falls_to_coulomb(self):
        assert -friction_torque(1e-9, coulomb=0.3, stribeck=0.2, velocity=0.1) == pytest.approx(0.5)
        assert -friction_torque(0.1, coulomb=0.3, stribeck=0.2, velocity=0.1) == pytest.approx(0.3 + 0.2 / math.e)
        assert -friction_torque(5.0, coulomb=0.3, stribeck=0.2, velocity=0.1) == pytest.approx(0.3, abs=1e-12)
        qd = np.linspace(1e-6, 2.0, 1001)
        assert np.all(np.diff(-friction_torque(qd, 0.3, 0.0, 0.2, 0.1)) <= 0)  # falls with speed

    def test_friction_opposes_motion_and_is_odd(self):
        qd = np.linspace(-3, 3, 601)
        tau = friction_torque(qd, 0.1, 0.05, 0.3, 0.2)
        assert np.all(tau * qd <= 0)
        np.testing.assert_allclose(tau, -friction_torque(-qd, 0.1, 0.05, 0.3, 0.2), atol=1e-15)

    def test_the_stribeck_part_is_never_negative_and_zero_without_stribeck(self):
        qd = np.linspace(-2, 2, 101)
        assert np.all(stribeck_friction(qd, 0.4, 0.1) >= 0)
        assert np.all(stribeck_friction(qd, 0.0, 0.1) == 0)
        assert stribeck_friction(0.0, 0.4, 0.1) == pytest.approx(0.4)


def _with_friction(raw: dict) -> None:
    raw["friction"] = {"hinge": {"coulomb": 0.07, "viscous": 0.02, "stribeck": 0.05, "stribeck_velocity": 0.3}}


class TestSpecSection:
    def test_the_friction_section_sets_the_model(self, spec_variant):
        spec = load_robot(spec_variant("pendulum", _with_friction))
        model = build_model(spec)
        dof = model.jnt_dofadr[0]
        assert model.dof_frictionloss[dof] == pytest.approx(0.07)
        assert model.dof_damping[dof] == pytest.approx(0.02)
        np.testing.assert_allclose(model.jnt_user[0], [0.05, 0.3])
        assert any("friction" in o for o in spec.overrides)

    def test_a_joint_without_an_entry_has_no_stribeck_friction(self):
        model = build_model(load_robot("quadruped"))
        hinge = model.jnt_type == int(mujoco.mjtJoint.mjJNT_HINGE)
        np.testing.assert_allclose(model.jnt_user[hinge], [[0.0, DEFAULT_STRIBECK_VELOCITY]] * int(hinge.sum()))

    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            ({"nope": {"coulomb": 0.1}}, "unknown joint 'nope'"),
            ({"hinge": {"coulomb": -0.1}}, "must not be negative"),
            ({"hinge": {"stribeck_velocity": 0.0}}, "stribeck_velocity must be positive"),
            ({"hinge": {"static": 0.1}}, "unknown key"),
        ],
    )
    def test_bad_entries_are_one_clear_error(self, spec_variant, entry, message):
        path = spec_variant("pendulum", lambda raw: raw.update(friction=entry))
        with pytest.raises(SpecError, match=message):
            load_robot(path)


class TestParameters:
    def test_stribeck_parameters_read_and_write_on_models_specs_and_batches(self, spec_variant):
        spec = load_robot(spec_variant("pendulum", _with_friction))
        params = Parameters(spec, build_model(spec))
        assert params.info("joint.hinge.stribeck").unit == "N m"
        assert params.info("joint.hinge.stribeck_velocity").nominal[0] == pytest.approx(0.3)
        model = build_model(spec)
        params.set(model, {"joint.hinge.stribeck": 0.11, "joint.hinge.stribeck_velocity": 0.2})
        np.testing.assert_allclose(model.jnt_user[0], [0.11, 0.2])
        mjspec = build_mjspec(spec)
        params.set(mjspec, {"joint.hinge.stribeck": 0.09})
        assert params.get(mjspec, "joint.hinge.stribeck")[0] == pytest.approx(0.09)
        sim = BatchSim(spec, 3, nthread=1)
        sim.params.set(sim.batch, {"joint.hinge.stribeck": np.array([[0.0], [0.1], [0.2]])})
        np.testing.assert_allclose(sim.params.get(sim.batch, "joint.hinge.stribeck")[:, 0], [0.0, 0.1, 0.2])

    def test_physical_domains_are_enforced(self):
        spec = load_robot("pendulum")
        model = build_model(spec)
        params = Parameters(spec, model)
        from sim2real.errors import ParameterError

        with pytest.raises(ParameterError, match="must not be negative"):
            params.set(model, {"joint.hinge.stribeck": -0.1})
        with pytest.raises(ParameterError, match="must be positive"):
            params.set(model, {"joint.hinge.stribeck_velocity": 0.0})
