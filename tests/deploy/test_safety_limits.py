"""The hard limits of the safety layer: named per-actuator limits, the command window at a state
(one named row per limit), the safe-mode command, and their agreement with the final check."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim2real.deploy.safety_limits import (
    LIMIT_ROWS,
    ActuatorLimits,
    assert_safe,
    command_window,
    safe_mode_command,
    zero_torque_command,
)
from sim2real.real.protocol import Reading
from sim2real.robots import load_robot
from sim2real.robots.actuation import implied_torque

ROBOTS = ("pendulum", "furuta", "quadruped")  # torque, dc_motor, pd


@pytest.fixture(scope="module")
def specs():
    return {name: load_robot(name) for name in ROBOTS}


def _actuated_state(spec, rng, speed=2.0):
    limits = ActuatorLimits.from_spec(spec)
    q = np.asarray(spec.default_pose, dtype=float)[limits.index] + rng.uniform(-0.2, 0.2, spec.n_actions)
    qd = rng.uniform(-speed, speed, spec.n_actions)
    return limits, q, qd


class TestActuatorLimits:
    def test_named_fields_come_from_the_spec_in_actuator_order(self, specs):
        spec = specs["quadruped"]
        limits = ActuatorLimits.from_spec(spec)
        assert limits.joints == tuple(a.joint for a in spec.actuators)
        j = spec.joints.index("FL_calf")
        i = limits.joints.index("FL_calf")
        assert limits.torque[i] == spec.safety.torque[j]
        assert limits.position_low[i] == spec.safety.position_low[j]
        assert limits.velocity[i] == spec.safety.velocity[j]
        assert np.all(np.isinf(limits.voltage))  # no dc motors

    def test_a_dc_motor_has_its_supply_voltage(self, specs):
        limits = ActuatorLimits.from_spec(specs["furuta"])
        assert limits.voltage.tolist() == [specs["furuta"].actuators[0].voltage_limit]

    def test_a_pd_target_moves_no_faster_than_its_joint(self, specs):
        spec = specs["quadruped"]
        slow = dataclasses.replace(spec.safety, command_rate=1e6)
        limits = ActuatorLimits.from_spec(dataclasses.replace(spec, safety=slow))
        assert np.all(limits.rate_is_velocity)
        np.testing.assert_array_equal(limits.command_rate, limits.velocity)
        fast = ActuatorLimits.from_spec(dataclasses.replace(spec, safety=dataclasses.replace(slow, command_rate=1.0)))
        assert not np.any(fast.rate_is_velocity) and np.all(fast.command_rate == 1.0)

    def test_limit_arrays_are_read_only(self, specs):
        limits = ActuatorLimits.from_spec(specs["quadruped"])
        for field in ("index", "position_low", "position_high", "velocity", "torque", "voltage", "command_rate"):
            with pytest.raises(ValueError):
                getattr(limits, field)[0] = 0


class TestCommandWindow:
    @pytest.mark.parametrize("name", ROBOTS)
    def test_the_torque_row_implies_exactly_the_torque_limit(self, specs, name, rng):
        limits, q, qd = _actuated_state(specs[name], rng)
        window = command_window(limits, q, qd)
        act = limits.actuation
        np.testing.assert_allclose(implied_torque(act, window.torque_low, q, qd), -limits.torque, rtol=1e-12)
        np.testing.assert_allclose(implied_torque(act, window.torque_high, q, qd), limits.torque, rtol=1e-12)

    def test_rows_are_named_and_apply_to_their_models(self, specs, rng):
        limits, q, qd = _actuated_state(specs["quadruped"], rng)
        window = command_window(limits, q, qd)
        assert [name for name, _, _ in window.rows()] == list(LIMIT_ROWS)
        np.testing.assert_array_equal(window.position_low, limits.position_low)
        assert np.all(np.isinf(window.voltage_high))
        np.testing.assert_array_equal(window.low, np.maximum(window.position_low, window.torque_low))

        limits, q, qd = _actuated_state(specs["furuta"], rng)
        window = command_window(limits, q, qd)
        assert window.voltage_high.tolist() == limits.voltage.tolist()
        assert math.isinf(window.position_high[0])

    def test_back_emf_beyond_the_supply_empties_the_window(self, specs):
        spec = specs["furuta"]
        limits = ActuatorLimits.from_spec(spec)
        act = spec.actuators[0]
        qd = np.array([3.0 * act.voltage_limit / act.ke])  # back-EMF three times the supply
        window = command_window(limits, np.zeros(1), qd)
        assert not window.low[0] <= window.high[0]

    def test_a_non_finite_state_gives_an_empty_window(self, specs):
        limits = ActuatorLimits.from_spec(specs["quadruped"])
        q = np.asarray(specs["quadruped"].default_pose)[limits.index].copy()
        q[3] = math.nan
        window = command_window(limits, q, np.zeros(12))
        assert not window.low[3] <= window.high[3]

    def test_the_zero_torque_command_implies_zero_torque(self, specs, rng):
        for name in ROBOTS:
            limits, q, qd = _actuated_state(specs[name], rng)
            tau = implied_torque(limits.actuation, zero_torque_command(limits, q, qd), q, qd)
            np.testing.assert_allclose(tau, 0.0, atol=1e-12)


class TestSafeModeCommand:
    @pytest.mark.parametrize("name", ("pendulum", "quadruped"))
    def test_damping_equivalent_within_the_limits(self, specs, name, rng):
        spec = specs[name]
        limits, q, qd = _actuated_state(spec, rng, speed=50.0)
        values = safe_mode_command(spec, limits, q, qd)
        tau = implied_torque(limits.actuation, values, q, qd)
        wanted = np.clip(-spec.safety.damping[limits.index] * qd, -limits.torque, limits.torque)
        inside = (values > limits.position_low) & (values < limits.position_high) | ~limits.actuation.pd
        np.testing.assert_allclose(tau[inside], wanted[inside], atol=1e-9)
        assert np.all(values[limits.actuation.pd] >= limits.position_low[limits.actuation.pd])

    @pytest.mark.parametrize("name", ("pendulum", "quadruped"))
    def test_the_implied_torque_is_within_the_limit_even_at_a_position_limit(self, specs, name, rng):
        """A joint past its position limit (the stop a position-limit fault makes): the target clipped
        back to the limit implied more torque than the limit (kp x the overshoot: 31 N m of 20)."""
        spec = specs[name]
        limits, q, qd = _actuated_state(spec, rng, speed=3.0)
        past = np.where(limits.actuation.pd, 2.0 * limits.torque / np.maximum(limits.actuation.kp, 1e-9), 0.25)
        q = np.where(rng.random(len(q)) < 0.5, limits.position_low - past, limits.position_high + past)
        q = np.where(np.isfinite(q), q, 0.0)
        values = safe_mode_command(spec, limits, q, qd)
        tau = implied_torque(limits.actuation, values, q, qd)
        assert np.all(np.abs(tau) <= limits.torque * (1 + 1e-9) + 1e-9), (tau, limits.torque)

    def test_a_dc_motor_stays_within_its_supply(self, specs):
        spec = specs["furuta"]
        limits = ActuatorLimits.from_spec(spec)
        values = safe_mode_command(spec, limits, np.zeros(1), np.array([1e4]))
        assert abs(values[0]) <= limits.voltage[0]

    def test_always_finite(self, specs):
        spec = specs["quadruped"]
        limits = ActuatorLimits.from_spec(spec)
        values = safe_mode_command(spec, limits, np.full(12, math.nan), np.full(12, math.inf))
        assert np.all(np.isfinite(values))

    def test_a_pd_joint_without_a_finite_command_holds_where_it_is_not_at_zero(self, specs):
        """inf damping x a speed of 0 is NaN; the NaN became a target of 0 rad, which pulled the
        quadruped's resting calves (-1.5 rad) toward 0 with the full PD torque."""
        spec = specs["quadruped"]
        limits = ActuatorLimits.from_spec(spec)
        q = np.asarray(spec.default_pose)[limits.index]
        qd = np.zeros(12)
        calf = list(limits.joints).index("FL_calf")
        qd[calf] = math.nan  # this joint's command cannot be computed
        values = safe_mode_command(spec, limits, q, qd)
        assert q[calf] < -1.0 and values[calf] == pytest.approx(q[calf])  # before: 0.0
        assert np.all(np.isfinite(values))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data(), name=st.sampled_from(ROBOTS))
def test_a_command_inside_the_window_passes_the_final_check(specs, data, name):
    """The window (inverse equation) and assert_safe (forward equation) agree: clipping any command
    into a non-empty window gives a command the independent check accepts."""
    spec = specs[name]
    limits = ActuatorLimits.from_spec(spec)
    m, n = spec.n_actions, spec.n_joints
    unit = st.floats(-1.0, 1.0, allow_nan=False)
    q = np.asarray(spec.default_pose, dtype=float) + 0.5 * np.array(data.draw(st.lists(unit, min_size=n, max_size=n)))
    q = np.clip(q, spec.safety.position_low, spec.safety.position_high)
    qd = np.minimum(spec.safety.velocity, 30.0) * np.array(data.draw(st.lists(unit, min_size=n, max_size=n)))
    raw = 100.0 * np.array(data.draw(st.lists(unit, min_size=m, max_size=m)))
    window = command_window(limits, q[limits.index], qd[limits.index])
    assume(np.all(window.low <= window.high))  # else no command is safe: the monitor stops (TestHardConflicts)
    values = np.clip(raw, window.low, window.high)
    assert assert_safe(spec, values, Reading(t=0.0, q=q, qd=qd)) == []
