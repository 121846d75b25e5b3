"""The one actuator equation outside MuJoCo: the torque a command implies, and its inverse."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim2real.robots import load_robot
from sim2real.robots.actuation import ActuatorArrays, command_for_torque, implied_torque
from sim2real.robots.model import actuator_indices, build_model, joint_dof_indices, joint_qpos_indices

ROBOTS = ("pendulum", "furuta", "quadruped")  # torque, dc_motor, pd


def _state(spec, rng):
    n = spec.n_actions
    index = [spec.joints.index(a.joint) for a in spec.actuators]
    q = np.asarray(spec.default_pose, dtype=float)[index] + rng.uniform(-0.3, 0.3, n)
    qd = rng.uniform(-3.0, 3.0, n)
    scale = np.array([1.0 if a.model == "pd" else a.command_high for a in spec.actuators])
    command = q * (scale == 1.0) + rng.uniform(-0.6, 0.6, n) * scale
    return q, qd, command


class TestAgainstMuJoCo:
    @pytest.mark.parametrize("name", ROBOTS)
    def test_implied_torque_is_the_force_mujoco_applies(self, name, rng):
        """MuJoCo's affine actuators (built from the spec) apply exactly the implied torque,
        clipped to the torque limit."""
        spec = load_robot(name)
        model = build_model(spec)
        data = mujoco.MjData(model)
        act = ActuatorArrays.from_spec(spec)
        qpos, dof = joint_qpos_indices(spec, model), joint_dof_indices(spec, model)
        joint = [spec.joints.index(a.joint) for a in spec.actuators]
        limit = np.array([a.torque_limit for a in spec.actuators])
        ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator) for a in spec.actuators]
        for _ in range(5):
            q, qd, command = _state(spec, rng)
            data.qpos[qpos[joint]] = q
            data.qvel[dof[joint]] = qd
            data.ctrl[actuator_indices(spec, model)] = command
            mujoco.mj_forward(model, data)
            expected = np.clip(implied_torque(act, command, q, qd), -limit, limit)
            np.testing.assert_allclose(data.actuator_force[ids], expected, rtol=1e-12, atol=1e-12)


MIXED = ActuatorArrays(
    pd=[True, False, False],
    torque=[False, True, False],
    dc_motor=[False, False, True],
    kp=[25.0, 0.0, 0.0],
    kd=[0.5, 0.0, 0.0],
    resistance=[0.0, 0.0, 8.4],
    kt=[0.0, 0.0, 0.042],
    ke=[0.0, 0.0, 0.042],
    strength=[1.0, 0.8, 1.3],
    offset=[0.02, 0.0, 0.0],
)
"""One actuator of each model (strength and offset away from 1 and 0)."""


class TestEquation:
    def test_each_model_by_hand(self):
        tau = implied_torque(MIXED, np.array([0.3, 2.0, 6.0]), np.array([0.1, 9.0, 9.0]), np.array([2.0, 9.0, 10.0]))
        assert tau[0] == pytest.approx(1.0 * (25.0 * (0.3 + 0.02 - 0.1) - 0.5 * 2.0))
        assert tau[1] == pytest.approx(0.8 * 2.0)
        assert tau[2] == pytest.approx(1.3 * 0.042 * (6.0 - 0.042 * 10.0) / 8.4)

    def test_backlash_transmits_nothing_within_the_play(self):
        act = ActuatorArrays.of_model("pd", kp=10.0, kd=0.0)
        q = np.zeros(3)
        tau = implied_torque(act, np.array([0.004, -0.004, 0.02]), q, q, backlash=0.01)
        assert tau[0] == 0.0 and tau[1] == 0.0
        assert tau[2] == pytest.approx(10.0 * (0.02 - 0.005))

    def test_batched_commands_broadcast_over_the_actuators(self, rng):
        spec = load_robot("quadruped")
        act = ActuatorArrays.from_spec(spec)
        q, qd, command = (rng.normal(size=(4, 12)) for _ in range(3))
        batched = implied_torque(act, command, q, qd)
        assert batched.shape == (4, 12)
        np.testing.assert_array_equal(batched[2], implied_torque(act, command[2], q[2], qd[2]))

    def test_arrays_are_read_only_and_models_are_checked(self):
        act = ActuatorArrays.from_spec(load_robot("furuta"))
        with pytest.raises(ValueError):
            act.kt[0] = 1.0
        with pytest.raises(ValueError, match="actuator model"):
            ActuatorArrays.of_model("hydraulic")


FINITE = st.floats(-50.0, 50.0, allow_nan=False)


class TestInverse:
    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(st.lists(FINITE, min_size=9, max_size=9))
    def test_command_for_torque_inverts_implied_torque(self, values):
        tau, q, qd = (np.array(values[k : k + 3]) for k in (0, 3, 6))
        command = command_for_torque(MIXED, tau, q, qd)
        np.testing.assert_allclose(implied_torque(MIXED, command, q, qd), tau, rtol=1e-9, atol=1e-9)

    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(st.lists(FINITE, min_size=7, max_size=7))
    def test_the_implied_torque_rises_with_the_command(self, values):
        """Why the commands for -limit and +limit bound the commands within the torque limit."""
        q, qd = np.array(values[0:3]), np.array(values[3:6])
        low = command_for_torque(MIXED, np.full(3, -abs(values[6]) - 1.0), q, qd)
        high = command_for_torque(MIXED, np.full(3, abs(values[6]) + 1.0), q, qd)
        assert np.all(low < high)
        assert np.all(implied_torque(MIXED, low, q, qd) < implied_torque(MIXED, high, q, qd))
