"""A hold at torque joints: feedback towards the pose the hold began at (a frozen torque before),
fed back only from a fresh reading, with gains capped for a delay of up to the design delay; PD
joints unchanged; the governor runs on held ticks; the pendulum twin pushed during a collision hold
moves less than with the frozen torque."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from deploy_testdata import NO_DROPS

from sim2real.deploy.collision import CollisionDetector
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.monitor import deployment_monitor
from sim2real.deploy.safety import SafetyMonitor
from sim2real.deploy.speed import SpeedConfig
from sim2real.deploy.torque_hold import (
    ASSUMED_DELAY,
    HOLD_RADIUS,
    HoldGains,
    design_delay,
    hold_command,
    hold_omega_dt,
    sampled_radius,
)
from sim2real.policy.linear import write_linear_policy
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Reading
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot
from sim2real.robots.safety_options import CollisionSpec


@pytest.fixture(scope="module")
def pendulum():
    return load_robot("pendulum")


def _reading(spec, t, q=None, qd=None) -> Reading:
    """A reading at rest (upright at 0.3 m for a floating base), at ``q``/``qd`` if given."""
    n = spec.n_joints
    base = {"quat": np.array([1.0, 0.0, 0.0, 0.0]), "base_height": 0.3} if spec.floating_base else {}
    return Reading(
        t=t,
        q=np.zeros(n) if q is None else np.asarray(q, dtype=float),
        qd=np.zeros(n) if qd is None else np.asarray(qd, dtype=float),
        **base,
    )


class TestHoldCommand:
    GAINS = HoldGains(kp=np.array([0.0, 10.0]), kd=np.array([0.0, 2.0]), torque=np.array([False, True]))

    def test_torque_joints_are_pulled_back_and_damped_pd_joints_repeat_their_target(self):
        prev, u_hold, q_hold = np.array([0.3, 5.0]), np.array([0.2, 4.0]), np.array([0.1, 1.0])
        out = hold_command(self.GAINS, prev, u_hold, q_hold, np.array([0.5, 1.1]), np.array([3.0, 0.5]))
        assert out == pytest.approx([0.3, 4.0 + 10.0 * (1.0 - 1.1) - 2.0 * 0.5])

    def test_without_gains_or_a_measured_pose_or_finite_state_it_repeats(self):
        prev, u_hold, q = np.array([0.3, 5.0]), np.array([0.2, 4.0]), np.array([0.5, 1.1])
        assert hold_command(None, prev, u_hold, np.zeros(2), q, np.zeros(2)) == pytest.approx(prev)
        assert hold_command(self.GAINS, prev, u_hold, None, q, np.zeros(2)) == pytest.approx(prev)
        assert hold_command(
            self.GAINS, prev, u_hold, np.zeros(2), q, np.array([0.0, np.nan])
        ) == pytest.approx(prev)

    def test_a_stale_reading_gets_no_feedback(self):
        """Not fresh: the torque joint gets u_hold (no damping of an old speed, no spring pushing on)."""
        prev, u_hold, q_hold = np.array([0.3, 5.0]), np.array([0.2, 4.0]), np.array([0.1, 1.0])
        out = hold_command(self.GAINS, prev, u_hold, q_hold, np.array([0.5, 1.3]), np.array([3.0, 5.0]), fresh=False)
        assert out == pytest.approx([0.3, 4.0])

    def test_the_standing_load_is_added_at_torque_joints_on_a_fresh_reading(self):
        gains = HoldGains(
            kp=np.array([0.0, 10.0]), kd=np.array([0.0, 2.0]), torque=np.array([False, True]), standing=lambda q: 3.0 * q
        )
        load = gains.load_change(np.array([0.5, 1.5]), np.array([0.5, 1.0]))
        assert load == pytest.approx([0.0, 1.5])
        out = hold_command(gains, np.array([0.3, 5.0]), np.array([0.2, 4.0]), np.array([0.5, 1.0]),
                           np.array([0.5, 1.0]), np.zeros(2), load=load)
        assert out == pytest.approx([0.3, 5.5])
        assert HoldGains(kp=gains.kp, kd=gains.kd, torque=gains.torque).load_change(np.zeros(2), np.ones(2)) is None

    def test_gains_exist_for_torque_actuators_only(self, pendulum, furuta, quadruped):
        assert HoldGains.of(quadruped) is None  # every actuator PD: its hold is its target
        assert HoldGains.of(furuta) is None  # a dc motor: its frozen voltage is damped by its back-EMF
        gains = HoldGains.of(pendulum)
        assert np.all(gains.kp > 0) and np.all(gains.kd > 0) and np.all(gains.torque)
        assert not gains.kp.flags.writeable
        assert deployment_monitor(pendulum).hold_gains is not None


class TestMonitorHold:
    def _held(self, spec, gains, readings):
        """A normal command, then unusable ones (a hold) at ``readings`` [(q, qd)]; the outputs."""
        monitor = SafetyMonitor(spec, hold_gains=gains)
        dt = float(spec.control_dt)
        start = _reading(spec, 0.0, *readings[0])
        monitor.check_state(start, 0.0)
        command = (
            [0.05]
            if len(spec.actuators) == 1
            else np.asarray(spec.default_pose)[[spec.joints.index(a.joint) for a in spec.actuators]]
        )
        first = monitor.filter_command(command, start, 0.0)
        assert first.command.mode == "normal"
        out = []
        for k, (q, qd) in enumerate(readings, start=1):
            r = _reading(spec, k * dt, q, qd)
            monitor.check_state(r, k * dt)
            decision = monitor.filter_command([np.nan] * len(spec.actuators), r, k * dt)
            assert decision.command.mode == "hold"
            out.append(float(decision.command.values[0]))
        return first.command.values[0], out

    def test_a_torque_hold_pushes_back_against_the_drift(self, pendulum):
        gains = HoldGains.of(pendulum)
        drift = [([0.0], [0.0]), ([0.05], [1.0]), ([0.1], [1.0])]
        sent, frozen = self._held(pendulum, None, drift)
        assert frozen == pytest.approx([sent] * 3)  # no gains: the frozen torque of old
        sent, held = self._held(pendulum, gains, drift)
        assert held[0] == pytest.approx(sent)  # at the pose the hold began, at rest: the same torque
        assert held[2] < held[1] < sent  # then against the drift, harder as it grows

    def test_no_stale_speed_is_damped(self, pendulum):
        """Safety review 9: a reading at 5 rad/s, then none (or the same one again): the hold damped that
        old speed on every tick, the full 2 N m until the watchdog's stop.  Now the torque before the
        hold, once the rate limit lets it back."""
        monitor = SafetyMonitor(pendulum, hold_gains=HoldGains.of(pendulum))
        dt = float(pendulum.control_dt)
        still = _reading(pendulum, 0.0)
        sent = monitor.filter_command([0.05], still, 0.0).command.values[0]
        moving = _reading(pendulum, dt, [0.0], [5.0])
        first = monitor.filter_command([np.nan], moving, dt)  # an unusable command: a hold, fed back
        assert first.command.mode == "hold" and first.command.values[0] < sent - 0.5
        for k, reading in ((2, None), (3, None), (4, moving)):  # no reading, then the old one again
            held = monitor.filter_command([np.nan], reading, k * dt)
            assert held.command.mode == "hold"
        assert held.command.values[0] == pytest.approx(sent)

    def test_a_pd_hold_repeats_its_target(self, quadruped):
        readings = [(quadruped.default_pose, np.zeros(quadruped.n_joints))] * 3
        sent, held = self._held(quadruped, HoldGains.of(quadruped), readings)
        assert held == pytest.approx([sent] * 3)

    def test_the_stage_governor_runs_on_held_ticks(self, pendulum):
        """At the 10 % stage a joint above its stage speed gets no torque that speeds it up, held or
        not: a hold repeated the torque of the last normal tick into a joint now at 10 rad/s."""
        monitor = SafetyMonitor(pendulum, speed_fraction=0.1)
        dt = float(pendulum.control_dt)
        still = _reading(pendulum, 0.0)
        monitor.check_state(still, 0.0)
        first = monitor.filter_command([0.05 * pendulum.safety.torque[0]], still, 0.0)
        assert first.command.mode == "normal" and first.command.values[0] > 0.0  # at rest: passed
        fast = _reading(pendulum, dt, [0.0], [0.5 * pendulum.safety.velocity[0]])
        monitor.check_state(fast, dt)
        held = monitor.filter_command([np.nan], fast, dt)
        assert held.command.mode == "hold" and held.command.values[0] <= 0.0
        assert any(str(e.kind) == "velocity_limit" for e in held.events)


class TestPushedDuringAHold:
    """A push the collision observer holds for: with the feedback hold the driven joint moves less
    and slower than with the frozen torque of old."""

    def test_the_driven_joint_moves_less(self, pendulum, tmp_path):
        spec, body, force = pendulum, "pole", (2.0, 0.0, 0.0)
        policy = write_linear_policy(spec, tmp_path / "zero.onnx")
        idx = [spec.joints.index(a.joint) for a in spec.actuators]
        figures = {}
        for label, gains in (("frozen", None), ("feedback", HoldGains.of(spec))):
            robot = TwinRobot(spec, TwinConfig(effects=NO_DROPS))
            monitor = SafetyMonitor(
                spec, collision=CollisionDetector(spec, CollisionSpec(hold_timeout=5.0)), hold_gains=gains
            )
            loop = ControlLoop(
                robot,
                PolicyRunner(policy, spec, providers="cpu"),
                monitor=monitor,
                config=LoopConfig(speed=SpeedConfig(start_stage=4), episode_return=False),
            )
            bid = mujoco.mj_name2id(robot.model, mujoco.mjtObj.mjOBJ_BODY, body)
            results = []
            for k in range(120):
                robot.data.xfrc_applied[bid, :3] = force if k >= 20 else (0.0, 0.0, 0.0)
                results.append(loop.tick())
            held = [r for r in results if r.command.mode == "hold"]
            assert len(held) > 80 and not monitor.latched  # held from the push to the end
            q0 = held[0].reading.q[idx]
            figures[label] = (
                max(float(np.max(np.abs(r.reading.q[idx] - q0))) for r in held),
                max(float(np.max(np.abs(r.reading.qd[idx]))) for r in held),
            )
        assert figures["feedback"][0] < 0.8 * figures["frozen"][0]
        assert figures["feedback"][1] < 0.8 * figures["frozen"][1]


class TestLatency:
    """The gains are capped so that the hold's sampled loop does not grow at any delay up to the
    design delay: at the cap without delay (omega dt = 1, kd dt / J = 1.4) it grew beyond 0.3 periods."""

    def test_the_loop_model_matches_an_independent_computation(self):
        # figures of safety review 9's model (matrix exponential of the double integrator, delay < 1 period)
        assert sampled_radius(1.0, 0.0) == pytest.approx(0.316, abs=1e-3)
        assert sampled_radius(1.0, 0.25) == pytest.approx(0.936, abs=1e-3)
        assert sampled_radius(1.0, 1.0) == pytest.approx(1.504, abs=1e-3)
        assert sampled_radius(0.3, 0.5) == pytest.approx(0.753, abs=1e-3)

    def test_the_cap_keeps_every_delay_up_to_the_design_one_from_growing(self):
        for delay in (0.0, 0.5, 1.0, 1.5):
            w = hold_omega_dt(delay, 1.0)
            assert max(sampled_radius(w, d) for d in np.linspace(0.0, delay, 41)) <= HOLD_RADIUS + 1e-3
            if w < 1.0:  # the largest such: a little more grows at some delay
                assert max(sampled_radius(1.05 * w, d) for d in np.linspace(0.0, delay, 41)) > HOLD_RADIUS
        assert hold_omega_dt(1.0, 1.0) == pytest.approx(0.5, abs=0.01)

    def test_the_design_delay_is_the_calibrations_else_one_period(self, pendulum):
        assert design_delay(pendulum)[0] == pytest.approx(ASSUMED_DELAY * pendulum.control_dt)
        calibrated = {"actuator.motor.delay": np.array([0.0]), "body.pole.mass": np.array([1.0])}
        assert design_delay(pendulum, calibrated)[0] == 0.0
        assert HoldGains.of(pendulum).omega_dt == pytest.approx(hold_omega_dt(ASSUMED_DELAY, 1.0))
        assert HoldGains.of(pendulum, calibrated).omega_dt == 1.0
