"""The twin's fine step is fine enough for the torques it computes itself: stiff gains on a light link
(Menagerie's Spot: kd 40 N m s/rad on a 0.015 kg m^2 knee) raise the substep factor instead of
diverging; the embedded robots keep theirs."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.real.twin_steps import DAMPING_LIMIT, divergence_hint
from sim2real.robots import load_robot
from sim2real.robots.init import InitOptions, init_robot

LINK = """<mujoco><compiler angle='radian'/><worldbody><body name='link'><joint name='knee' axis='0 1 0' range='-2 2'/>
<geom type='capsule' fromto='0 0 0 0 0 -0.3' size='0.02' mass='0.2'/></body></worldbody></mujoco>"""


@pytest.fixture
def stiff(tmp_path):
    (tmp_path / "link.xml").write_text(LINK)
    spec, _ = init_robot(tmp_path / "link.xml", tmp_path / "robot.yaml", InitOptions(kp=500.0, kd=40.0, torque_limit=100.0))
    return spec


class TestStableSubsteps:
    def test_stiff_gains_on_a_light_link_get_a_finer_step_and_hold_still(self, stiff, caplog):
        with caplog.at_level(logging.INFO, logger="sim2real.real.twin_steps"):
            twin = TwinRobot(stiff)
        inertia = 0.2 * 0.3**2 / 3  # a rod about its end (the capsule's caps add a little)
        h = stiff.physics_dt / twin.substep_factor
        assert twin.substep_factor > 4 and 40.0 * h / inertia <= DAMPING_LIMIT * 1.1
        assert any("twin substep_factor 4 ->" in r.message and "knee" in r.message for r in caplog.records)
        twin.reset(np.array([0.3]))
        for _ in range(200):  # PD to 0 from 0.3 rad for 4 s: no divergence, settled
            twin.read()
            twin.write(Command(t=twin.now(), values=np.array([0.0])))
        q = twin.read().q[0]
        assert abs(q) < 0.01 and np.isfinite(q)

    def test_gains_beyond_any_reasonable_step_are_one_error_line(self, tmp_path):
        # Menagerie's Kinova Gen3 without armature: kd 100 on a 0.00067 kg m^2 wrist needs 742
        (tmp_path / "link.xml").write_text(LINK)
        spec, _ = init_robot(tmp_path / "link.xml", tmp_path / "robot.yaml", InitOptions(kp=500.0, kd=2000.0, torque_limit=100.0))
        with pytest.raises(Sim2RealError, match=r"the twin cannot compute knee's torque itself: kp 500, kd 2e\+03 .* --armature"):
            TwinRobot(spec)
        with pytest.raises(Sim2RealError, match=r"safe mode's damping 2e\+03 .* or a lower safety.damping"):
            TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))  # sim2sim: only safe mode is the twin's
        armed, _ = init_robot(
            tmp_path / "link.xml", tmp_path / "armed.yaml", InitOptions(kp=500.0, kd=2000.0, torque_limit=100.0, armature=1.0)
        )
        assert TwinRobot(armed).substep_factor <= 64

    @pytest.mark.parametrize("name", ["quadruped", "furuta", "pendulum"])
    def test_the_embedded_robots_keep_their_steps(self, name):
        spec = load_robot(name)
        assert TwinRobot(spec).substep_factor == TwinEffects().substep_factor == 4
        assert TwinRobot(spec, TwinConfig(effects=TwinEffects.none())).substep_factor == 1

    def test_safe_mode_damping_counts_in_sim2sim_too(self, stiff):
        """sim2sim keeps the model's own (implicit) PD, but safe mode's damping (40 here) is computed
        by the twin: the step is made fine enough for it, and a safe stop from a swing settles."""
        twin = TwinRobot(stiff, TwinConfig(effects=TwinEffects.none()))
        h = stiff.physics_dt / twin.substep_factor
        assert twin.substep_factor > 1 and 40.0 * h / (0.2 * 0.3**2 / 3) <= DAMPING_LIMIT * 1.1
        twin.reset(np.array([0.3]))
        twin.set_state(joint_vel={"knee": 5.0})
        for _ in range(50):  # 1 s of safe mode from a swinging start
            twin.write(Command(t=twin.now(), values=np.array([0.0]), mode="safe"))
        reading = twin.read()
        assert np.isfinite(reading.q[0]) and abs(reading.qd[0]) < 0.5

    def test_safe_mode_damps_each_joint_with_its_own_gain(self, tmp_path):
        """A hip (kd 4) and a finger of about 1.6e-5 kg m^2 (kd 0.002): one safe-mode gain for both
        (the hip's, as robot init wrote before) needed about 1,500 fine steps per physics step and
        refused every twin; each joint's own kd keeps the embedded step."""
        arm = LINK.replace(
            "</body></worldbody>",
            "<body name='finger' pos='0 0 -0.3'><joint name='finger' axis='0 1 0' range='-1 1'/>"
            "<geom type='capsule' fromto='0 0 0 0 0 -0.03' size='0.004' mass='0.05'/></body></body></worldbody>",
        )
        (tmp_path / "hand.xml").write_text(arm)
        spec, _ = init_robot(
            tmp_path / "hand.xml", tmp_path / "robot.yaml",
            InitOptions(kp={"knee": 50.0, "finger": 0.05}, kd={"knee": 4.0, "finger": 0.002}, torque_limit=20.0),
        )
        assert dict(zip(spec.joints, spec.safety.damping, strict=True)) == {"knee": 4.0, "finger": 0.002}
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        assert twin.substep_factor <= 4
        twin.reset(np.array([0.3, 0.2]))
        twin.set_state(joint_vel={"knee": 3.0, "finger": 3.0})
        for _ in range(50):  # 1 s of safe mode from a swing
            twin.write(Command(t=twin.now(), values=np.zeros(2), mode="safe"))
        reading = twin.read()
        assert np.all(np.isfinite(reading.q)) and np.all(np.abs(reading.qd) < 0.5), reading.qd

    def test_a_twin_that_diverges_anyway_stops_with_its_own_settings_in_the_line(self, tmp_path):
        """A spring far too stiff for any step (nothing the twin computes: the factor stays 1)."""
        (tmp_path / "spring.xml").write_text(LINK.replace("range='-2 2'/>", "range='-2 2' stiffness='1e9' springref='0.3'/>"))
        spec, _ = init_robot(tmp_path / "spring.xml", tmp_path / "robot.yaml", InitOptions(kp=1.0, kd=0.01, torque_limit=5.0))
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        with pytest.raises(Sim2RealError, match=r"the twin's implicitfast at 5 ms is unstable .*substep_factor \(now 1\)"):
            for _ in range(50):
                twin.write(Command(t=twin.now(), values=np.array([0.0])))

    def test_the_divergence_hint_says_what_is_left_to_try(self):
        assert "effects.integrator: implicitfast" in divergence_hint("RK4", 0.00125, 4)
        hint = divergence_hint("implicitfast", 0.005, 1)
        assert "integrator" not in hint.split(":")[0] and "implicitfast, or" not in hint
        assert "substep_factor (now 1)" in hint

    def test_the_error_names_the_pds_kd_and_safe_modes_damping_apart(self, tmp_path):
        # an imported G1: kd 1 on a 0.000366 kg m^2 wrist, safety.damping 5 (the legs' kd): "kd 5" misled
        import yaml

        from sim2real.robots.load import load_spec

        (tmp_path / "link.xml").write_text(LINK)
        init_robot(tmp_path / "link.xml", tmp_path / "robot.yaml", InitOptions(kp=500.0, kd=1.0, torque_limit=100.0))
        raw = yaml.safe_load((tmp_path / "robot.yaml").read_text())
        raw["safety"]["damping"] = 2000.0
        (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
        spec = load_spec(tmp_path / "robot.yaml")
        with pytest.raises(Sim2RealError) as info:
            TwinRobot(spec)
        text = str(info.value)
        assert "kp 500, kd 1 and safe mode's damping 2e+03 (safety.damping) on a joint of" in text
        assert "sim2real import --armature or robot init --armature" in text and text.endswith("or a lower safety.damping")


class TestOwnDamping:
    def test_rk4_gets_a_step_fine_enough_for_a_joints_own_damping(self, tmp_path, caplog):
        """Gymnasium Robotics' kitchen Franka (damping 10 on a 0.003 kg m^2 wrist) diverged in the
        twin's RK4 at 1.25 ms within 0.011 s: its substep factor counted the PD's damping only."""
        (tmp_path / "link.xml").write_text(LINK.replace("range='-2 2'", "range='-2 2' damping='15'"))
        spec, _ = init_robot(tmp_path / "link.xml", tmp_path / "robot.yaml", InitOptions(kp=5.0, kd=0.05, torque_limit=10.0))
        inertia = 0.2 * 0.3**2 / 3
        with caplog.at_level(logging.INFO, logger="sim2real.real.twin_steps"):
            twin = TwinRobot(spec, TwinConfig(effects=TwinEffects(integrator="RK4")))
        assert 15.0 * spec.physics_dt / twin.substep_factor / inertia <= DAMPING_LIMIT * 1.1
        assert any("own damping" in r.message and "knee" in r.message for r in caplog.records)
        implicit = TwinRobot(spec, TwinConfig(effects=TwinEffects(integrator="implicitfast")))
        assert implicit.substep_factor == 4  # the implicit integrators take the damping implicitly
        for robot in (twin, implicit):
            robot.reset(np.array([0.3]))
            for _ in range(50):  # PD to 0 from 0.3 rad for 1 s, slowed by the damping
                robot.read()
                robot.write(Command(t=robot.now(), values=np.array([0.0])))
        # RK4 at the old 1.25 ms ended at -1.13 rad (its own damping overshooting at every step)
        assert twin.read().q[0] == pytest.approx(implicit.read().q[0], abs=0.01)
